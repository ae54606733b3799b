"""What the viewer shows, read from a run's events: its row in the list, its waterfall,
the conversation a model call was sent, and the calls waiting for a person.

Everything here is a pure function of the journal, so the pages, the JSON endpoints
and the tests all read a run the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from tether._events import (
    ApprovalDecided,
    ApprovalRequested,
    BudgetExhausted,
    BudgetWarning,
    ContextCompacted,
    GuardrailChecked,
    HandedOff,
    LoopDetected,
    MemoryRecalled,
    ModelFailed,
    ModelRequested,
    ModelResponded,
    ModelRetried,
    ModelSwitched,
    NoteAdded,
    OutputInvalid,
    RunFinished,
    RunStarted,
    StrategyChanged,
    StreamEvent,
    SubRunEnded,
    ToolCallFinished,
    ToolCallStarted,
    TurnRecorded,
)
from tether._messages import ModelResponse, ToolCall
from tether.journal import RunInfo, UnreadableRecord
from tether.run import Diagnosis, diagnose

__all__ = [
    "Bar",
    "Mark",
    "Message",
    "ModelCallDetail",
    "PendingCall",
    "RunRow",
    "RunView",
    "ToolCallDetail",
    "describe",
    "model_call_detail",
    "pretty_json",
    "run_view",
    "summarize",
    "tool_call_detail",
]


def pretty_json(value: Any) -> str:
    """A value as indented JSON (raw argument text that is not JSON is shown as it is)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _started(events: Sequence[StreamEvent]) -> RunStarted | None:
    first = events[0] if events else None
    return first if isinstance(first, RunStarted) else None


def _finished(events: Sequence[StreamEvent]) -> RunFinished | None:
    last = events[-1] if events else None
    return last if isinstance(last, RunFinished) else None


def _cost(events: Sequence[StreamEvent]) -> float:
    end = _finished(events)
    if end is not None:
        return end.usage.cost_usd
    return sum(e.cost_usd for e in events if isinstance(e, ModelResponded))


@dataclass(frozen=True, slots=True)
class RunRow:
    """One run as the list shows it."""

    run_id: str
    agent: str
    status: str
    prompt: str
    started_at: float
    duration_s: float
    cost_usd: float
    events: int
    reason_kind: str | None
    reason_message: str
    category: str
    detail: str | None
    summary: str

    def as_json(self) -> dict[str, Any]:
        """The row for the JSON endpoint."""
        return {
            "run_id": self.run_id,
            "agent": self.agent,
            "status": self.status,
            "prompt": self.prompt,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "cost_usd": self.cost_usd,
            "events": self.events,
            "reason": self.reason_kind,
            "category": self.category,
            "detail": self.detail,
            "summary": self.summary,
        }


def damage_message(unreadable: Sequence[UnreadableRecord]) -> str:
    """What a run with unreadable journal records shows, and what to do about it."""
    first = unreadable[0]
    more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
    return (
        f"Its journal has an unreadable record at seq {first.seq} ({first.type}){more}: "
        f"{first.problem}. `tether doctor` lists them; restore the journal from a backup "
        "to read this run."
    )


def summarize(info: RunInfo, events: Sequence[StreamEvent]) -> RunRow:
    """The list row of a run from its metadata and its events."""
    found = diagnose(events)
    end = _finished(events)
    last_at = events[-1].at if events else info.updated_at
    return RunRow(
        run_id=info.run_id,
        agent=info.agent,
        status=info.status,
        prompt=info.prompt,
        started_at=info.created_at,
        duration_s=max(last_at - info.created_at, 0.0),
        cost_usd=_cost(events),
        events=len(events),
        reason_kind=end.reason.kind if end is not None else None,
        reason_message=end.reason.message if end is not None else "",
        category=found.category,
        detail=found.detail,
        summary=found.summary,
    )


@dataclass(frozen=True, slots=True)
class Bar:
    """A model call or a tool call on the waterfall, placed by its timestamps.

    ``seq`` (the event that began it) is the key the page asks for its details with.
    """

    seq: int
    kind: Literal["model", "tool"]
    label: str
    note: str
    state: str
    start_s: float
    end_s: float
    left_pct: float
    width_pct: float
    is_bar: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Mark:
    """Something that happened at one instant: a loop, a budget warning, a retry..."""

    seq: int
    kind: str
    label: str
    text: str
    at_s: float
    left_pct: float
    is_bar: ClassVar[bool] = False


# A mark's kind, and the words the waterfall labels it with.
_MARK_LABELS = {
    "loop": "loop detected",
    "budget_warning": "budget warning",
    "budget_exhausted": "budget exhausted",
    "retry": "model retry",
    "switch": "model switched",
    "fallback": "fallback",
    "guardrail": "guardrail tripped",
    "approval": "waiting for approval",
    "decision": "decision",
    "output_invalid": "invalid answer",
    "compacted": "context compacted",
    "recalled": "memories recalled",
    "sub_run": "sub-agent ended",
    "handoff": "handed off",
}


def _mark_of(e: StreamEvent) -> tuple[str, str] | None:
    """The kind and text of an event the waterfall marks, or None."""
    if isinstance(e, LoopDetected):
        then = "correction sent" if e.action == "correct" else "gave up"
        return "loop", f"{e.loop}: {e.detail} ({then})"
    if isinstance(e, BudgetWarning):
        return "budget_warning", f"{e.dimension}: {e.used:g} of {e.limit:g} used"
    if isinstance(e, BudgetExhausted):
        return "budget_exhausted", f"{e.dimension}: {e.used:g} of {e.limit:g} used"
    if isinstance(e, ModelRetried):
        return "retry", f"{e.model}, attempt {e.attempt}: {e.error} (again in {e.delay_s:g} s)"
    if isinstance(e, ModelSwitched):
        return "switch", f"{e.from_model} -> {e.to_model}: {e.cause}"
    if isinstance(e, StrategyChanged):
        return "fallback", f"{e.strategy}: {e.cause}"
    if isinstance(e, GuardrailChecked) and e.tripped:
        return "guardrail", f"{e.guardrail} ({e.stage}, {e.action}): {e.reason}"
    if isinstance(e, ApprovalRequested):
        names = ", ".join(f"{c.name} ({c.id})" for c in e.calls)
        return "approval", f"{e.reason}: {names}"
    if isinstance(e, ApprovalDecided):
        said = f": {e.message}" if e.message else ""
        return "decision", f"{e.decision} {e.call_id}{said}"
    if isinstance(e, OutputInvalid):
        return "output_invalid", f"attempt {e.attempt}: {e.errors}"
    return _memory_mark_of(e)


def _memory_mark_of(e: StreamEvent) -> tuple[str, str] | None:
    """The marks of working and long-term memory."""
    if isinstance(e, ContextCompacted):
        by = f"by {e.model}" if e.model else "a digest (the summariser failed)"
        return "compacted", f"{e.tokens_before} -> {e.tokens_after} tokens, summarised {by}"
    if isinstance(e, MemoryRecalled) and e.ids:
        return "recalled", f"{len(e.ids)} from {e.namespace}"
    if isinstance(e, SubRunEnded):
        return "sub_run", f"{e.agent} ({e.child_run_id}): {e.status}, {e.reason.kind}"
    if isinstance(e, HandedOff):
        return "handoff", f"to {e.agent} ({e.child_run_id}), context {e.context}"
    return None


@dataclass(frozen=True, slots=True)
class PendingCall:
    """A call waiting for a person, with its arguments shown as JSON."""

    call: ToolCall
    arguments_json: str


@dataclass(frozen=True, slots=True)
class RunView:
    """Everything the run page shows."""

    run_id: str
    started: RunStarted | None
    finished: RunFinished | None
    diagnosis: Diagnosis
    duration_s: float
    cost_usd: float
    rows: list[Bar | Mark]
    pending: list[PendingCall]
    waiting_reason: str | None
    events: Sequence[StreamEvent]
    output_json: str | None = None
    scale: list[tuple[float, str]] = field(default_factory=list)

    @property
    def live(self) -> bool:
        """True while the run has no ending in its journal."""
        return self.finished is None

    @property
    def status(self) -> str:
        """The run's status (``running`` when it has not ended)."""
        return self.finished.status if self.finished is not None else "running"


def _pct(offset: float, total: float) -> float:
    return round(100.0 * offset / total, 3) if total > 0 else 0.0


def _spans(events: Sequence[StreamEvent]) -> list[tuple[StreamEvent, StreamEvent | None]]:
    """Each model call and tool call: the event that began it and the one that ended it."""
    spans: list[tuple[StreamEvent, StreamEvent | None]] = []
    open_model: int | None = None
    open_tools: dict[str, int] = {}
    for e in events:
        if isinstance(e, ModelRequested):
            open_model = len(spans)
            spans.append((e, None))
        elif isinstance(e, ModelResponded | ModelFailed) and open_model is not None:
            spans[open_model] = (spans[open_model][0], e)
            open_model = None
        elif isinstance(e, ToolCallStarted):
            open_tools[e.call.id] = len(spans)
            spans.append((e, None))
        elif isinstance(e, ToolCallFinished):
            if e.call_id in open_tools:
                i = open_tools.pop(e.call_id)
                spans[i] = (spans[i][0], e)
            else:  # answered without running (a loop, a spent budget): no start event
                spans.append((e, e))
    return spans


def _bar(
    begin: StreamEvent, end: StreamEvent | None, t0: float, total: float, live_until: float | None
) -> Bar:
    """The bar of one call; an open call of a live run reaches ``live_until``."""
    live = live_until is not None
    stop = end.at if end is not None else (live_until or begin.at)
    if isinstance(begin, ModelRequested):
        kind: Literal["model", "tool"] = "model"
        label = f"model · step {begin.step}"
        note = begin.purpose if begin.purpose != "turn" else "turn"
        if isinstance(end, ModelResponded):
            said = len(end.response.tool_calls)
            note += f" · {said} call{'s' * (said != 1)}" if said else " · answer"
            state = "ok"
        else:
            state = "error" if isinstance(end, ModelFailed) else ("open" if live else "cut")
    else:
        assert isinstance(begin, ToolCallStarted | ToolCallFinished)
        kind = "tool"
        label = begin.call.name if isinstance(begin, ToolCallStarted) else begin.name
        if isinstance(end, ToolCallFinished):
            note = end.outcome
            state = (
                "ok"
                if end.outcome == "ok"
                else (
                    "skipped"
                    if end.outcome
                    in (
                        "not_run",
                        "rejected",
                    )
                    else "error"
                )
            )
        else:
            note = "running" if live else "cut off"
            state = "open" if live else "cut"
    start = begin.at - t0
    width = max(_pct(stop - begin.at, total), 0.6)
    left = min(_pct(start, total), 100.0 - width)
    return Bar(begin.seq, kind, label, note, state, start, stop - t0, left, width)


def _scale(total: float) -> list[tuple[float, str]]:
    """Four ticks along the time axis."""
    if total <= 0:
        return [(0.0, "0 s")]
    unit, factor = ("ms", 1000.0) if total < 2 else ("s", 1.0)
    return [(25.0 * i, f"{total * i / 4 * factor:.3g} {unit}") for i in range(5)]


def run_view(run_id: str, events: Sequence[StreamEvent], now: float | None = None) -> RunView:
    """The run page's content, read from the run's events.

    ``now`` is the time to draw a live run up to: its open calls reach it.
    """
    started = _started(events)
    finished = _finished(events)
    t0 = events[0].at if events else 0.0
    last = events[-1].at if events else 0.0
    live = finished is None
    end_at = max(last, now) if live and now is not None else last
    total = end_at - t0
    rows: list[Bar | Mark] = [
        _bar(begin, end, t0, total, end_at if live else None) for begin, end in _spans(events)
    ]
    for e in events:
        mark = _mark_of(e)
        if mark is not None:
            kind, text = mark
            at = e.at - t0
            rows.append(Mark(e.seq, kind, _MARK_LABELS[kind], text, at, _pct(at, total)))
    rows.sort(key=lambda r: r.seq)
    found = diagnose(events)
    decided = {e.call_id for e in events if isinstance(e, ApprovalDecided)}
    pending = [
        PendingCall(c, pretty_json(c.arguments)) for c in found.waiting_for if c.id not in decided
    ]
    asked = next((e for e in reversed(events) if isinstance(e, ApprovalRequested)), None)
    output = finished.output if finished is not None else None
    return RunView(
        run_id=run_id,
        started=started,
        finished=finished,
        diagnosis=found,
        duration_s=total,
        cost_usd=_cost(events),
        rows=rows,
        pending=pending if finished is not None else [],
        waiting_reason=asked.reason if asked is not None else None,
        events=events,
        output_json=None if output is None or isinstance(output, str) else pretty_json(output),
        scale=_scale(total),
    )


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a rebuilt conversation."""

    role: Literal["user", "assistant", "tool", "note"]
    text: str | None = None
    calls: list[ToolCall] = field(default_factory=list)
    name: str = ""
    call_id: str = ""
    outcome: str = ""


class _Conversation:
    """The conversation as the journal builds it, one event at a time.

    Tool results join in the order of the calls that asked for them once the next
    model call is made, as the run's fold puts them.
    """

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._order: list[str] = []
        self._results: dict[str, Message] = {}
        self._turn = False

    def _flush(self) -> None:
        for call_id in self._order:
            if call_id in self._results:
                self.messages.append(self._results.pop(call_id))
        self._order = [c for c in self._order if c in self._results]

    def add(self, e: StreamEvent) -> None:
        if isinstance(e, RunStarted):
            self.messages.append(Message("user", e.prompt))
        elif isinstance(e, ModelRequested):
            self._flush()
            self._turn = e.purpose == "turn"
        elif isinstance(e, ModelResponded) and self._turn:
            self._assistant(e.response.text, e.response.tool_calls)
        elif isinstance(e, TurnRecorded):
            self._assistant(e.text, e.calls)
        elif isinstance(e, ToolCallFinished):
            self._results[e.call_id] = Message(
                "tool", e.content, name=e.name, call_id=e.call_id, outcome=e.outcome
            )
        elif isinstance(e, NoteAdded):
            self.messages.append(Message("note", e.content))

    def _assistant(self, text: str | None, calls: list[ToolCall]) -> None:
        self.messages.append(Message("assistant", text, list(calls)))
        self._order = [c.id for c in calls]


@dataclass(frozen=True, slots=True)
class ModelCallDetail:
    """A model call: what it was sent (rebuilt from the journal) and what came back."""

    request: ModelRequested
    messages: list[Message]
    response: ModelResponse | None
    error: str | None
    duration_s: float | None
    cost_usd: float | None


@dataclass(frozen=True, slots=True)
class ToolCallDetail:
    """A tool call: its arguments, its result and any decision on it.

    ``idempotency_key`` is None for a call answered without being run (no start event).
    """

    call: ToolCall
    step: int
    idempotency_key: str | None
    arguments_json: str
    finished: ToolCallFinished | None
    decision: ApprovalDecided | None
    guardrails: list[GuardrailChecked]


def model_call_detail(events: Sequence[StreamEvent], seq: int) -> ModelCallDetail | None:
    """The model call that began at event ``seq``, or None if there is none."""
    talk = _Conversation()
    request: ModelRequested | None = None
    sent: list[Message] = []
    for e in events:
        if request is None:
            talk.add(e)
            if isinstance(e, ModelRequested) and e.seq == seq:
                request = e
                sent = list(talk.messages)
        elif isinstance(e, ModelResponded):
            return ModelCallDetail(request, sent, e.response, None, e.duration_s, e.cost_usd)
        elif isinstance(e, ModelFailed):
            return ModelCallDetail(request, sent, None, e.error, None, None)
    if request is None:
        return None
    return ModelCallDetail(request, sent, None, None, None, None)


def _asked_for(events: Sequence[StreamEvent], before: int, call_id: str) -> ToolCall | None:
    """The call ``call_id`` as the model asked for it, last before event ``before``."""
    for e in reversed(events[:before]):
        if isinstance(e, ModelResponded | TurnRecorded):
            calls = e.response.tool_calls if isinstance(e, ModelResponded) else e.calls
            found = next((c for c in calls if c.id == call_id), None)
            if found is not None:
                return found
    return None


def tool_call_detail(events: Sequence[StreamEvent], seq: int) -> ToolCallDetail | None:
    """The tool call whose first event is ``seq`` (its start, or the result of a call
    that was never run), or None if there is none."""
    at = next((i for i, e in enumerate(events) if e.seq == seq), None)
    first = events[at] if at is not None else None
    if isinstance(first, ToolCallStarted):
        call, key = first.call, first.idempotency_key
    elif isinstance(first, ToolCallFinished) and at is not None:
        asked = _asked_for(events, at, first.call_id)
        call, key = asked or ToolCall(first.name, {}, first.call_id), None
    else:
        return None
    finished = next(
        (e for e in events if isinstance(e, ToolCallFinished) and e.call_id == call.id), None
    )
    decision = next(
        (e for e in events if isinstance(e, ApprovalDecided) and e.call_id == call.id), None
    )
    checks = [e for e in events if isinstance(e, GuardrailChecked) and e.call_id == call.id]
    return ToolCallDetail(
        call, first.step, key, pretty_json(call.arguments), finished, decision, checks
    )


def describe(e: StreamEvent) -> str:
    """One line about an event, for the journal table."""
    if isinstance(e, RunStarted):
        return f"{e.agent} on {e.model} ({e.strategy or 'tool_loop'})"
    if isinstance(e, ModelRequested):
        return f"step {e.step}, {e.purpose}" + ("" if e.tools else ", tools off")
    if isinstance(e, ModelResponded):
        calls = ", ".join(c.name for c in e.response.tool_calls)
        said = f"calls {calls}" if calls else repr((e.response.text or "")[:80])
        return f"step {e.step}: {said} in {e.duration_s * 1000:.0f} ms"
    if isinstance(e, ToolCallStarted):
        return f"{e.call.name} {e.call.id}: {e.call.arguments_json()[:80]}"
    if isinstance(e, ToolCallFinished):
        return f"{e.name} {e.call_id}: {e.outcome}"
    if isinstance(e, NoteAdded):
        return e.content[:100]
    if isinstance(e, RunFinished):
        return f"{e.status}: {e.reason.message}"
    mark = _mark_of(e)
    if mark is not None:
        return mark[1]
    if isinstance(e, ModelFailed):
        return f"step {e.step}: {e.error}"
    if isinstance(e, TurnRecorded):
        return f"step {e.step}: " + (", ".join(c.name for c in e.calls) or (e.text or "")[:80])
    if isinstance(e, GuardrailChecked):
        return f"{e.guardrail} ({e.stage}): passed"
    return ""
