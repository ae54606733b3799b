"""A run's journal as a tree of plain data: what ``tether trace`` and ``tether runs`` show.

The tree is built from the events alone (the sub-runs are read by the caller and
handed in), so the text view, ``--json`` and any other reader share one shape. The
keys are stable: they are listed in ``tether trace --help``. A sub-run that cannot be
read (a damaged record) or is not in the journal keeps its place in the tree, as a run
with only what is known of it and a reason that says what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_jsonable_python

from tether._events import (
    ApprovalDecided,
    ApprovalRequested,
    BudgetExhausted,
    BudgetWarning,
    ContextCompacted,
    Event,
    GuardrailChecked,
    HandedOff,
    LoopDetected,
    MemoryRecalled,
    ModelFailed,
    ModelRequested,
    ModelResponded,
    ModelRetried,
    ModelSwitched,
    OutputInvalid,
    RunFinished,
    RunStarted,
    StrategyChanged,
    SubRunEnded,
    ToolCallFinished,
    ToolCallStarted,
)
from tether._text import plain_text
from tether._usage import Usage
from tether.journal import RunInfo
from tether.journal._store import UnreadableRecord
from tether.run import Diagnosis, diagnose

__all__ = [
    "damaged_tree",
    "missing_tree",
    "recorded_sub_runs",
    "run_summary",
    "trace_tree",
    "unreadable_reason",
]

_FAILED = frozenset({"error", "timeout", "invalid_arguments", "unknown_tool", "rejected"})


def _usage(u: Usage) -> dict[str, Any]:
    return {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "total_tokens": u.total_tokens,
        "model_calls": u.model_calls,
        "tool_calls": u.tool_calls,
        "steps": u.steps,
        "cost_usd": u.cost_usd,
    }


def _diagnosis(d: Diagnosis) -> dict[str, Any]:
    return {
        "category": d.category,
        "detail": d.detail,
        "summary": d.summary,
        "failed": d.failed,
        "evidence": list(d.evidence),
        "contributing": list(d.contributing),
        "waiting_for": [
            {"id": c.id, "name": c.name, "arguments": c.parsed_arguments()} for c in d.waiting_for
        ],
    }


def _usage_so_far(events: Sequence[Event]) -> Usage:
    """A run's usage: as its end says, else summed from what it journaled so far."""
    end = _last_end(events)
    if end is not None and end is events[-1]:
        return end.usage
    u = Usage()
    for e in events:
        if isinstance(e, ModelResponded):
            t = e.response.usage
            u.model_calls += 1
            u.input_tokens += t.input_tokens
            u.output_tokens += t.output_tokens
            u.cost_usd += e.cost_usd
        elif isinstance(e, ModelRequested):
            u.steps = max(u.steps, e.step)
        elif isinstance(e, ToolCallFinished) and e.attempts:
            u.tool_calls += 1
    return u


def _last_end(events: Sequence[Event]) -> RunFinished | None:
    for e in reversed(events):
        if isinstance(e, RunFinished):
            return e
    return None


def _ending(events: Sequence[Event]) -> dict[str, Any]:
    """Status, reason, times and usage of a run."""
    first = events[0]
    end = _last_end(events)
    ended = end is not None and end is events[-1]
    status = end.status if end is not None and ended else "running"
    last_at = events[-1].at
    return {
        "status": status,
        "reason": (
            {"kind": end.reason.kind, "message": end.reason.message, "detail": end.reason.detail}
            if end is not None and ended
            else None
        ),
        "started_at": first.at,
        "ended_at": last_at if ended else None,
        "duration_s": max(last_at - first.at, 0.0),
        "usage": _usage(_usage_so_far(events)),
    }


def run_summary(
    info: RunInfo,
    events: Sequence[Event] | None,
    unreadable: Sequence[UnreadableRecord] = (),
) -> dict[str, Any]:
    """One line of ``tether runs --json``: the store's row, how the run ended and why.

    A run with ``unreadable`` records keeps the row's status, with a reason that names
    the first of them: what the rest of its journal says may be incomplete.
    """
    row: dict[str, Any] = {
        "run_id": info.run_id,
        "agent": info.agent,
        "status": info.status,
        "prompt": info.prompt,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
        "events": info.events,
        "parent_run_id": info.parent_run_id,
        "duration_s": None,
        "cost_usd": None,
        "usage": None,
        "reason": None,
        "diagnosis": None,
    }
    if unreadable:
        row["reason"] = unreadable_reason(unreadable)
    elif events:
        ending = _ending(events)
        d = diagnose(events)
        row.update(
            duration_s=ending["duration_s"],
            cost_usd=ending["usage"]["cost_usd"],
            usage=ending["usage"],
            reason=ending["reason"],
            diagnosis={"category": d.category, "detail": d.detail, "summary": d.summary},
        )
    return row


def unreadable_reason(unreadable: Sequence[UnreadableRecord]) -> dict[str, Any]:
    """The reason of a run whose journal has ``unreadable`` records: the first of them,
    and what to do."""
    first = unreadable[0]
    more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
    return {
        "kind": "journal_unreadable",
        "message": f"Its journal has an unreadable record at seq {first.seq} "
        f"({first.type}){more}: {first.problem}. `tether doctor` lists them; restore the "
        "journal from a backup to read this run.",
        "detail": f"seq {first.seq}",
    }


def _model_call(seq: int | None, purpose: str, tools: bool) -> dict[str, Any]:
    return {
        "seq": seq,
        "purpose": purpose,
        "tools": tools,
        "duration_s": None,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "finish": "pending",
        "tool_calls": [],
        "text": None,
        "error": None,
    }


@dataclass(slots=True)
class _Builder:
    """Walks a run's events once, putting each where it belongs in the tree."""

    steps: dict[int, dict[str, Any]] = field(default_factory=dict)
    loose: list[dict[str, Any]] = field(default_factory=list)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    asked_at: dict[int, float] = field(default_factory=dict)
    step: int = 0

    def _step(self, n: int | None = None) -> dict[str, Any]:
        n = self.step if n is None else n
        if n not in self.steps:
            self.steps[n] = {"step": n, "model_calls": [], "tool_calls": [], "markers": []}
        return self.steps[n]

    def mark(self, e: Event, kind: str, text: str) -> None:
        target = self._step()["markers"] if self.step else self.loose
        target.append({"seq": e.seq, "kind": kind, "text": plain_text(text)})

    def add(self, e: Event) -> None:  # noqa: C901, PLR0912 - one branch per event type
        if isinstance(e, ModelRequested):
            self.step = max(self.step, e.step)
            self._step(e.step)["model_calls"].append(_model_call(e.seq, e.purpose, e.tools))
            self.asked_at[e.seq] = e.at
        elif isinstance(e, ModelResponded):
            call = self._open_model_call(e.step)
            r = e.response
            call.update(
                duration_s=e.duration_s,
                input_tokens=r.usage.input_tokens,
                output_tokens=r.usage.output_tokens,
                cost_usd=e.cost_usd,
                finish="tool_calls" if r.tool_calls else "text",
                tool_calls=[c.name for c in r.tool_calls],
                text=plain_text(r.text) if r.text is not None else None,
            )
        elif isinstance(e, ModelFailed):
            call = self._open_model_call(e.step)
            asked = self.asked_at.get(call.get("seq", -1))
            call.update(
                duration_s=max(e.at - asked, 0.0) if asked is not None else None,
                finish="failed",
                error=plain_text(e.error),
            )
        elif isinstance(e, ToolCallStarted):
            self._tool_call(e.step, e.call.id, e.call.name, e.seq, e.at)["arguments"] = (
                e.call.parsed_arguments()
            )
        elif isinstance(e, ToolCallFinished):
            self._finish_tool(e)
        elif isinstance(e, LoopDetected):
            self.mark(e, "loop_detected", f"{e.loop} ({e.action}): {e.detail}")
        elif isinstance(e, BudgetWarning):
            self.mark(e, "budget_warning", f"{e.dimension} {e.used:g} of {e.limit:g}")
        elif isinstance(e, BudgetExhausted):
            self.mark(e, "budget_exhausted", f"{e.dimension} {e.used:g} of {e.limit:g}")
        elif isinstance(e, ModelRetried):
            self.mark(
                e,
                "model_retried",
                f"{e.model} attempt {e.attempt} after {e.delay_s:.2f} s: {e.error}",
            )
        elif isinstance(e, ModelSwitched):
            self.mark(e, "model_switched", f"{e.from_model} -> {e.to_model}: {e.cause}")
        elif isinstance(e, StrategyChanged):
            self.mark(e, "fallback", f"{e.strategy}: {e.cause}")
        elif isinstance(e, GuardrailChecked) and e.tripped:
            self.mark(
                e, "guardrail_tripped", f"{e.guardrail} at {e.stage} ({e.action}): {e.reason}"
            )
        elif isinstance(e, ApprovalRequested):
            names = ", ".join(f"{c.name} ({c.id})" for c in e.calls)
            why = " (cut off by a crash: in doubt)" if e.reason == "in_doubt" else ""
            self.mark(e, "approval_requested", f"{names}{why}")
        elif isinstance(e, ApprovalDecided):
            said = f": {e.message}" if e.message else ""
            self.mark(e, "approval_decided", f"{e.call_id} {e.decision}{said}")
        elif isinstance(e, OutputInvalid):
            self.mark(e, "output_invalid", f"attempt {e.attempt}: {e.errors}")
        elif isinstance(e, ContextCompacted):
            by = f" by {e.model}" if e.model else " (a digest: the summariser failed)"
            self.mark(
                e,
                "context_compacted",
                f"{e.tokens_before} -> {e.tokens_after} tokens, summarised{by}",
            )
        elif isinstance(e, MemoryRecalled) and e.ids:
            self.mark(e, "memory_recalled", f"{len(e.ids)} from {e.namespace}")
        elif isinstance(e, SubRunEnded):
            self.mark(
                e,
                "sub_run_ended",
                f"{e.agent} ({e.child_run_id}): {e.status}, {e.reason.kind}",
            )
        elif isinstance(e, HandedOff):
            self.mark(e, "handed_off", f"to {e.agent} ({e.child_run_id}), context {e.context}")

    def _open_model_call(self, step: int) -> dict[str, Any]:
        calls = self._step(step)["model_calls"]
        for call in reversed(calls):
            if call["finish"] == "pending":
                return call  # type: ignore[no-any-return]
        call = _model_call(None, "turn", True)
        calls.append(call)
        return call

    def _tool_call(self, step: int, call_id: str, name: str, seq: int, at: float) -> dict[str, Any]:
        if call_id not in self.calls:
            call: dict[str, Any] = {
                "seq": seq,
                "call_id": call_id,
                "name": name,
                "arguments": None,
                "outcome": "running",
                "duration_s": None,
                "attempts": 0,
                "truncated": False,
                "error": None,
                "started_at": at,
                "ended_at": None,
                "sub_runs": [],
            }
            self.calls[call_id] = call
            self._step(step)["tool_calls"].append(call)
        return self.calls[call_id]

    def _finish_tool(self, e: ToolCallFinished) -> None:
        call = self._tool_call(e.step, e.call_id, e.name, e.seq, e.at)
        call.update(
            outcome=e.outcome,
            duration_s=e.duration_s,
            attempts=e.attempts,
            truncated=e.truncated,
            ended_at=e.at,
            error=plain_text(e.content) if e.outcome in _FAILED else None,
        )


def trace_tree(
    events: Sequence[Event], children: Mapping[str, Sequence[dict[str, Any]]] | None = None
) -> dict[str, Any]:
    """The trace of one run as plain data (see ``tether trace --help`` for the keys).

    Args:
        events: the run's journal.
        children: the traces of the run's sub-runs (by this run's id); each goes under
            the tool call that was running when it started, else under ``sub_runs``.
    """
    first = events[0]
    assert isinstance(first, RunStarted)
    b = _Builder()
    for e in events:
        b.add(e)
    loose_runs = _place(b, events, (children or {}).get(first.run_id, ()))
    return {
        "run_id": first.run_id,
        "agent": plain_text(first.agent),
        "model": first.model,
        "strategy": first.strategy,
        "prompt": plain_text(first.prompt),
        "parent_run_id": first.parent_run_id,
        **_ending(events),
        "diagnosis": _diagnosis(diagnose(events)),
        "markers": b.loose,
        "steps": [b.steps[n] for n in sorted(b.steps)],
        "sub_runs": loose_runs,
        "output": to_jsonable_python(_output(events), fallback=str),
        "unreadable": [],
    }


def recorded_sub_runs(events: Sequence[Event]) -> dict[str, SubRunEnded | HandedOff]:
    """The sub-runs a run's journal names (agents used as tools, handoffs), by their
    run id, in the order it names them: how each ended when it says so, else the
    handoff that started it."""
    said: dict[str, SubRunEnded | HandedOff] = {}
    for e in events:
        if isinstance(e, SubRunEnded) or (isinstance(e, HandedOff) and e.child_run_id not in said):
            said[e.child_run_id] = e
    return said


def _place(b: _Builder, events: Sequence[Event], children: Sequence[dict[str, Any]]) -> list[Any]:
    """Put each sub-run under the tool call that ran it (the one the journal names, else
    the one running when it started); return those that fit under none."""
    called = {k: e.call_id for k, e in recorded_sub_runs(events).items()}
    loose: list[dict[str, Any]] = []
    for child in children:
        call = b.calls.get(called.get(child["run_id"], ""))
        if call is None and child["started_at"] is not None:
            call = _caller(b.calls.values(), child["started_at"])
        (call["sub_runs"] if call is not None else loose).append(child)
    return loose


def damaged_tree(
    run_id: str,
    parent_run_id: str,
    *,
    info: RunInfo | None,
    said: SubRunEnded | HandedOff | None,
    events: Sequence[Event] = (),
    unreadable: Sequence[UnreadableRecord] = (),
    error: str | None = None,
    sub_runs: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A sub-run whose journal cannot be read, in the tree's shape: what its readable
    ``run_started``, its row in the store (``info``) and its parent (``said``) tell.

    Like ``tether trace`` of the run itself, its steps are not shown from a journal with
    gaps: ``unreadable`` names the records (or ``error`` says why none could be read),
    and the reason says what to do. Its own sub-runs (``sub_runs``) are shown.
    """
    if unreadable:
        reason = unreadable_reason(unreadable)
    else:
        reason = {
            "kind": "journal_unreadable",
            "message": f"Its journal cannot be read: {error}. `tether doctor` checks the "
            "journal; restore it from a backup to read this run.",
            "detail": None,
        }
    started = events[0] if events and isinstance(events[0], RunStarted) else None
    node = _unread_node(run_id, parent_run_id, info, said, reason, list(sub_runs))
    if started is not None:
        node.update(
            agent=plain_text(started.agent),
            model=started.model,
            strategy=started.strategy,
            prompt=plain_text(started.prompt),
            started_at=started.at,
        )
    node["unreadable"] = [
        {"seq": r.seq, "type": plain_text(r.type), "problem": plain_text(r.problem)}
        for r in unreadable
    ]
    return node


def missing_tree(
    run_id: str, parent_run_id: str, said: SubRunEnded | HandedOff | None
) -> dict[str, Any]:
    """A sub-run its parent's journal names but the journal does not hold (pruned, or
    its agent journals to another store or to none), in the tree's shape: what the
    parent recorded of it."""
    what = (
        f"{said.type} at seq {said.seq}: {said.status}, {said.reason.kind}"
        if isinstance(said, SubRunEnded)
        else f"{said.type} at seq {said.seq}"
        if said is not None
        else "its parent_run_id"
    )
    reason = {
        "kind": "not_in_journal",
        "message": f"Run {run_id} is not in this journal: it was pruned, or its agent keeps "
        f"its journal in another store (or none). The parent recorded it ({what}).",
        "detail": None,
    }
    return _unread_node(run_id, parent_run_id, None, said, reason, [])


def _unread_node(
    run_id: str,
    parent_run_id: str,
    info: RunInfo | None,
    said: SubRunEnded | HandedOff | None,
    reason: dict[str, Any],
    sub_runs: list[dict[str, Any]],
) -> dict[str, Any]:
    """A run the tree cannot show from its events: its row, else what its parent said."""
    ended = said if isinstance(said, SubRunEnded) else None
    at: float | None = info.created_at if info is not None else None
    if info is not None:
        agent, status, prompt = info.agent, info.status, info.prompt
    else:
        agent = said.agent if said is not None else ""
        status = ended.status if ended is not None else "unknown"
        prompt, at = "", said.at if said is not None else None
    return {
        "run_id": run_id,
        "agent": plain_text(agent),
        "model": None,
        "strategy": None,
        "prompt": plain_text(prompt),
        "parent_run_id": parent_run_id,
        "status": status,
        "reason": reason,
        "started_at": at,
        "ended_at": None,
        "duration_s": None,
        "usage": _usage(ended.usage) if ended is not None else None,
        "diagnosis": None,
        "markers": [],
        "steps": [],
        "sub_runs": sub_runs,
        "output": to_jsonable_python(ended.output, fallback=str) if ended is not None else None,
        "unreadable": [],
    }


def _output(events: Sequence[Event]) -> Any:
    end = _last_end(events)
    return end.output if end is not None and end is events[-1] else None


def _caller(calls: Any, at: float) -> dict[str, Any] | None:
    """The tool call that was running at ``at`` and started last before it."""
    best: dict[str, Any] | None = None
    for call in calls:
        ended = call["ended_at"]
        running = call["started_at"] <= at and (ended is None or at <= ended)
        if running and (best is None or call["started_at"] >= best["started_at"]):
            best = call
    return best
