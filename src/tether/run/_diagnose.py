"""Why a run ended the way it did, read from its events.

:func:`diagnose` turns a run's journal into a :class:`Diagnosis`: one category a
person can act on (the budget, by dimension; a loop, by kind; tool errors; provider
errors; output validation; a guardrail; waiting for a person, with what for), one
sentence, the events that show it, and what else went wrong on the way. The CLI, the
web viewer and traces all show this same reading.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from tether._events import (
    ApprovalRequested,
    BudgetExhausted,
    GuardrailChecked,
    LoopDetected,
    ModelFailed,
    ModelRetried,
    ModelSwitched,
    OutputInvalid,
    RunFinished,
    StreamEvent,
    ToolCallFinished,
)
from tether._messages import ToolCall

__all__ = ["Category", "Diagnosis", "diagnose"]

Category = Literal[
    "completed",
    "running",
    "budget",
    "loop",
    "tool_errors",
    "provider_errors",
    "output_validation",
    "guardrail",
    "waiting_for_approval",
    "needs_decision",
    "cancelled",
    "internal_error",
]

_FAILED_TOOL = frozenset({"error", "timeout", "invalid_arguments", "unknown_tool"})


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """What a run's journal says about how it ended.

    Attributes:
        category: what to look at first (``completed`` and ``running`` for runs that
            did not fail).
        detail: the specific cause within the category: the budget dimension, the
            loop kind, the failing tools, the provider error, the guardrail.
        summary: one sentence for a person.
        evidence: sequence numbers of the events that show it.
        contributing: other things that went wrong on the way (retries, model
            switches, failed tool calls, invalid answers).
        waiting_for: the calls a person must decide on (``waiting_for_approval`` and
            ``needs_decision``).
    """

    category: Category
    detail: str | None
    summary: str
    evidence: tuple[int, ...] = ()
    contributing: tuple[str, ...] = ()
    waiting_for: tuple[ToolCall, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> bool:
        """True when the run ended without a valid answer of its own."""
        return self.category not in ("completed", "running")


def _tool_failures(events: Sequence[StreamEvent]) -> tuple[list[ToolCallFinished], int]:
    finished = [e for e in events if isinstance(e, ToolCallFinished) and e.outcome != "not_run"]
    return [e for e in finished if e.outcome in _FAILED_TOOL], len(finished)


def _contributing(events: Sequence[StreamEvent]) -> tuple[str, ...]:
    notes: list[str] = []
    failed, total = _tool_failures(events)
    if failed:
        by = Counter(f"{e.name}: {e.outcome}" for e in failed)
        parts = ", ".join(f"{k} x{n}" if n > 1 else k for k, n in by.most_common())
        notes.append(f"{len(failed)} of {total} tool calls failed ({parts})")
    retries = sum(1 for e in events if isinstance(e, ModelRetried))
    if retries:
        notes.append(f"{retries} model call(s) retried")
    for e in events:
        if isinstance(e, ModelSwitched):
            notes.append(f"switched from {e.to_model!r} after {e.from_model!r}: {e.cause}")
    invalid = sum(1 for e in events if isinstance(e, OutputInvalid))
    if invalid:
        notes.append(f"{invalid} final answer(s) failed validation")
    loops = [e for e in events if isinstance(e, LoopDetected) and e.action == "correct"]
    if loops:
        notes.append(f"{len(loops)} loop correction(s): " + ", ".join(e.loop for e in loops))
    return tuple(notes)


def _last(events: Sequence[StreamEvent], kind: type) -> StreamEvent | None:
    for e in reversed(events):
        if isinstance(e, kind):
            return e
    return None


def diagnose(events: Sequence[StreamEvent]) -> Diagnosis:
    """Classify how a run ended from its events (a journal, or ``RunResult.events``)."""
    if not events:
        return Diagnosis("running", None, "The run has no events yet.")
    end = _last(events, RunFinished)
    notes = _contributing(events)
    if not isinstance(end, RunFinished):
        return Diagnosis(
            "running",
            None,
            "The run has not ended: it is still going, or its process died and it can be resumed.",
            (events[-1].seq,),
            notes,
        )
    if end.status == "interrupted" and events[-1].seq > end.seq:
        # A resume journals after the run stopped (a decision, the approved call): the
        # run went on and has not ended again.
        return Diagnosis(
            "running",
            None,
            "The run was resumed after it stopped and has not ended since: it is still "
            "going, or its process died and it can be resumed.",
            (end.seq, events[-1].seq),
            notes,
        )
    seq = end.seq
    reason = end.reason
    if end.status == "completed":
        return Diagnosis("completed", None, reason.message, (seq,), notes)
    kind = reason.kind
    if kind == "budget_exhausted":
        hit = _last(events, BudgetExhausted)
        dim = hit.dimension if isinstance(hit, BudgetExhausted) else reason.detail
        return _stopped(
            events, hit, "budget", dim, then=f"the {dim} budget ran out", end=end, notes=notes
        )
    if kind == "loop_detected":
        hit = _last(events, LoopDetected)
        loop = hit.loop if isinstance(hit, LoopDetected) else reason.detail
        return _stopped(
            events, hit, "loop", loop, then=f"the run looped ({loop})", end=end, notes=notes
        )
    if kind == "model_error":
        hit = _last(events, ModelFailed)
        at = (hit.seq, seq) if hit is not None else (seq,)
        return Diagnosis("provider_errors", reason.detail, reason.message, at, notes)
    if kind == "output_invalid":
        bad = tuple(e.seq for e in events if isinstance(e, OutputInvalid))
        return Diagnosis("output_validation", None, reason.message, (*bad, seq), notes)
    if kind == "guardrail_tripped":
        trips = tuple(e.seq for e in events if isinstance(e, GuardrailChecked) and e.tripped)
        return Diagnosis("guardrail", reason.detail, reason.message, (*trips, seq), notes)
    if kind in ("approval_required", "needs_decision"):
        asked = _last(events, ApprovalRequested)
        calls = tuple(asked.calls) if isinstance(asked, ApprovalRequested) else ()
        category: Category = (
            "waiting_for_approval" if kind == "approval_required" else "needs_decision"
        )
        names = ", ".join(c.name for c in calls) or "nothing recorded"
        at = (asked.seq, seq) if asked is not None else (seq,)
        return Diagnosis(category, names, reason.message, at, notes, calls)
    if kind == "cancelled":
        return Diagnosis("cancelled", reason.detail, reason.message, (seq,), notes)
    return Diagnosis("internal_error", reason.detail, reason.message, (seq,), notes)


def _stopped(
    events: Sequence[StreamEvent],
    hit: StreamEvent | None,
    category: Category,
    detail: str | None,
    *,
    then: str,
    end: RunFinished,
    notes: tuple[str, ...],
) -> Diagnosis:
    """A run a limit or a loop stopped: put down to tool errors when most calls failed."""
    failed, total = _tool_failures(events)
    if total >= 2 and len(failed) * 2 > total:
        return _tool_errors(failed, total, end.seq, notes, then)
    at = (hit.seq, end.seq) if hit is not None else (end.seq,)
    return Diagnosis(category, detail, end.reason.message, at, notes)


def _tool_errors(
    failed: list[ToolCallFinished], total: int, seq: int, notes: tuple[str, ...], then: str
) -> Diagnosis:
    tools = Counter(e.name for e in failed)
    names = ", ".join(tools)
    summary = f"{len(failed)} of {total} tool calls failed ({names}), and then {then}."
    return Diagnosis("tool_errors", names, summary, (*(e.seq for e in failed), seq), notes)
