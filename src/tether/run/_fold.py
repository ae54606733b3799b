"""The one fold: how each event changes a run's state.

The live loop folds every event it records, the moment it records it; a resume
folds the run's journal through the same function. So a resumed run is, by
construction, the run that was journaled, whatever its strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tether._events import (
    ApprovalDecided,
    ApprovalRequested,
    BudgetExhausted,
    BudgetWarning,
    ContextCompacted,
    HandedOff,
    LoopDetected,
    MemoryRecalled,
    ModelRequested,
    ModelResponded,
    NoteAdded,
    OutputInvalid,
    Reason,
    RunFinished,
    StrategyChanged,
    StreamEvent,
    SubRunEnded,
    ToolCallFinished,
    ToolCallStarted,
    TurnRecorded,
)
from tether._messages import (
    AssistantMessage,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from tether.tools._exec import CallOutcome

from ._context import compacted
from ._recall import apply_recall
from ._state import RunState, ToolResult

__all__ = ["fold", "fold_all"]


def _deliver_notes(st: RunState) -> None:
    # Pending notes reach the model as one user turn, before its next call.
    if st.notes:
        st.messages.append(UserMessage("\n\n".join(st.notes)))
        st.notes.clear()


def _open_batch(st: RunState, text: str | None, calls: list[ToolCall]) -> None:
    st.messages.append(AssistantMessage(text, calls))
    if text:
        st.last_text = text
    st.batch = calls
    st.started = set()
    st.outcomes = {}
    st.call_checks = {}
    st.result_check = None
    st.plan_check = None
    if not calls:
        return
    mon = st.monitor
    if text:
        st.plan_check = mon.on_plan(text)
    for call in calls:
        det = mon.on_call(call)
        if det is not None:
            st.call_checks[call.id] = det


def _requested(st: RunState, e: ModelRequested) -> None:
    if e.step > st.step:
        st.step = e.step
        st.tracker.charge_step()
    st.purpose = e.purpose
    st.asked[e.purpose] = st.asked.get(e.purpose, 0) + 1
    st.context_sent = e.context
    if st.notes:
        _deliver_notes(st)


def _responded(st: RunState, e: ModelResponded) -> None:
    r = e.response
    u = r.usage
    st.tracker.charge_model(u.input_tokens, u.output_tokens, e.cost_usd)
    if st.context_sent and u.input_tokens > 0:  # working memory's estimate, corrected
        st.ratio = min(max(u.input_tokens / st.context_sent, 0.5), 4.0)
        st.context_sent = None
    st.last = e
    st.last_purpose = st.purpose
    if st.purpose == "turn":  # a tool-loop turn: the response joins the conversation
        _open_batch(st, r.text, r.tool_calls)
    elif r.text:
        st.last_text = r.text


def _turn(st: RunState, e: TurnRecorded) -> None:
    st.last = e
    _open_batch(st, e.text, e.calls)


def _started(st: RunState, e: ToolCallStarted) -> None:
    st.last = e
    st.started.add(e.call.id)
    # A person's decision allows one execution: this one uses it up.
    st.decisions.pop(e.call.id, None)
    st.in_doubt.discard(e.call.id)


def _finished_call(st: RunState, e: ToolCallFinished) -> None:
    st.last = e
    # A call that ran counts once; so does one a crash cut off whose effect its
    # reconcile hook found done (it ran, in the process that died).
    if e.attempts or e.outcome == "ok":
        st.tracker.charge_tool()
    st.outcomes[e.call_id] = CallOutcome(
        e.outcome, e.content, e.truncated, e.attempts, e.duration_s or 0.0
    )
    batch = st.batch
    for call in batch:
        if call.id == e.call_id:
            break
    else:
        return
    if e.name not in st.output_from:
        st.output_from = st.output_from | {e.name}  # a new set only for a new tool
    results = st.results
    results.append(ToolResult(call, e.content, e.outcome))
    if st.results_cap is not None and len(results) > 2 * st.results_cap:
        del results[: -st.results_cap]
    if e.outcome != "not_run":
        det = st.monitor.on_result(call, e.content)
        if det is not None and st.result_check is None:
            st.result_check = det
    outcomes = st.outcomes
    if len(outcomes) < len(batch):
        return
    for c in batch:
        if c.id not in outcomes:
            return
    # Results join the conversation in call order, once the whole turn has them.
    for c in batch:
        out = outcomes[c.id]
        st.messages.append(ToolResultMessage(c.id, c.name, out.content, out.outcome != "ok"))


def _note(st: RunState, e: NoteAdded) -> None:
    st.notes.append(e.content)


def _loop(st: RunState, e: LoopDetected) -> None:
    if e.action == "correct":
        st.corrections += 1
    else:
        st.stop = Reason(
            "loop_detected",
            f"The run kept looping after a correction ({e.loop}: {e.detail}).",
            e.loop,
        )


def _exhausted(st: RunState, e: BudgetExhausted) -> None:
    st.stop = Reason(
        "budget_exhausted",
        f"The {_DIM_WORDS.get(e.dimension, e.dimension)} budget is used up "
        f"({e.used:g} of {e.limit:g}).",
        e.dimension,
    )


def _invalid(st: RunState, e: OutputInvalid) -> None:
    st.last = e
    st.output_attempts += 1


def _warning(st: RunState, e: BudgetWarning) -> None:
    st.tracker.warned.add(e.dimension)


def _changed(st: RunState, e: StrategyChanged) -> None:
    st.last = e
    st.giving_up = True
    _deliver_notes(st)


def _decided(st: RunState, e: ApprovalDecided) -> None:
    st.decisions[e.call_id] = e
    st.decided[e.call_id] = e.decision


def _asked(st: RunState, e: ApprovalRequested) -> None:
    if e.reason == "in_doubt":
        st.in_doubt.update(c.id for c in e.calls)


def _compacted(st: RunState, e: ContextCompacted) -> None:
    msgs = st.messages
    if st.system_base is None:
        st.system_base = msgs[0].content if isinstance(msgs[0], SystemMessage) else ""
    p = st.prompt_index
    st.history_dropped += e.cut - 1 if e.cut <= p else p - 1  # earlier turns summarised
    st.prompt_index = compacted(msgs, p, st.system_base, e.summary, e.cut)
    st.summary = e.summary
    st.compactions += 1
    u = e.usage
    if u.input_tokens or u.output_tokens or e.cost_usd:  # the summariser's call
        st.tracker.charge_model(u.input_tokens, u.output_tokens, e.cost_usd)


def _handed_off(st: RunState, e: HandedOff) -> None:
    st.handing_to = e.child_run_id


def _sub_run_ended(st: RunState, e: SubRunEnded) -> None:
    st.sub_runs[e.child_run_id] = e
    if e.child_run_id == st.handing_to:
        st.handoff = e


def _run_finished(st: RunState, e: RunFinished) -> None:
    st.finished = e


_DIM_WORDS = {
    "steps": "steps",
    "model_calls": "model calls",
    "tool_calls": "tool calls",
    "input_tokens": "input tokens",
    "output_tokens": "output tokens",
    "cost_usd": "US dollars",
    "seconds": "seconds",
}

_HANDLERS: dict[type[Any], Callable[[RunState, Any], None]] = {
    ModelRequested: _requested,
    ModelResponded: _responded,
    TurnRecorded: _turn,
    ToolCallStarted: _started,
    ToolCallFinished: _finished_call,
    NoteAdded: _note,
    LoopDetected: _loop,
    BudgetExhausted: _exhausted,
    OutputInvalid: _invalid,
    BudgetWarning: _warning,
    StrategyChanged: _changed,
    ApprovalDecided: _decided,
    ApprovalRequested: _asked,
    RunFinished: _run_finished,
    ContextCompacted: _compacted,
    MemoryRecalled: apply_recall,
    HandedOff: _handed_off,
    SubRunEnded: _sub_run_ended,
}


def fold(st: RunState, event: StreamEvent) -> None:
    """Apply one event to a run's state (events that change nothing are ignored)."""
    handler = _HANDLERS.get(type(event))
    if handler is not None:
        handler(st, event)


def fold_all(st: RunState, events: Iterable[StreamEvent]) -> None:
    """Apply a journal's events in order."""
    for event in events:
        fold(st, event)


DIM_WORDS = _DIM_WORDS
"""How each budget dimension is named in messages."""

HANDLERS = _HANDLERS
"""How each event type changes a run's state (:func:`fold` dispatches through it; a live
run looks its handler up directly, once per recorded event)."""
