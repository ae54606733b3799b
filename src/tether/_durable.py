"""Durable runs: leases, rebuilding a run from its journal, and resuming it.

A run with a journal store can die at any instant and be resumed in another
process. :func:`rebuild` replays the journal into a fresh
:class:`~tether._loop.RunState` (messages, usage, loop-detection memory) with no
model call and no tool call, and says where to go on:

* the last model response asked for tools that never started: run them;
* some calls started but never finished (the crash came during them): each
  tool's policy decides. An idempotent tool runs again with the same idempotency
  key; a tool with a ``reconcile`` hook is asked what happened; any other stops
  the run as ``interrupted`` for a person to decide;
* calls wait for approval: the decisions given to ``resume`` are applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ._events import (
    ApprovalDecided,
    BudgetExhausted,
    BudgetWarning,
    Event,
    LoopDetected,
    ModelRequested,
    ModelResponded,
    NoteAdded,
    OutputInvalid,
    Reason,
    RunFinished,
    RunStarted,
    StrategyChanged,
    ToolCallFinished,
    ToolCallStarted,
)
from ._messages import AssistantMessage, ModelResponse, ToolCall, ToolResultMessage, UserMessage
from ._toolexec import CallOutcome
from .journal import RunLocked

if TYPE_CHECKING:
    from ._loop import Finish, GiveUp, HandleResponse, ModelTurn, RunState, RunTools

__all__ = ["Decision", "Lease", "approve", "edit", "rebuild", "reject"]

LEASE_TTL = 30.0
"""Seconds a run's lease lasts without renewal; a dead process's lease expires after it."""


@dataclass(frozen=True, slots=True)
class Decision:
    """A person's decision on a pending tool call."""

    kind: Literal["approve", "reject", "edit"]
    message: str = ""
    arguments: dict[str, Any] | None = None


def approve() -> Decision:
    """Run the call as the model asked."""
    return Decision("approve")


def reject(message: str = "A person rejected this call.") -> Decision:
    """Do not run the call; the model is told ``message`` instead."""
    return Decision("reject", message)


def edit(arguments: dict[str, Any]) -> Decision:
    """Run the call with these arguments instead of the model's."""
    return Decision("edit", arguments=arguments)


class Lease:
    """One live execution per run: a lease in the store, renewed while the run goes."""

    def __init__(self, st: RunState, owner: str, ttl: float) -> None:
        self.st = st
        self.owner = owner
        self.ttl = ttl
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def take(cls, st: RunState, ttl: float = LEASE_TTL) -> Lease:
        """Take the run's lease (writing the journal first, so the run exists)."""
        assert st.store is not None
        await st.flush()
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        if not await st.store.acquire_lease(st.run_id, owner, ttl):
            raise RunLocked(
                f"run {st.run_id} is being executed by another process (its lease has not "
                f"expired); try again after {ttl:g} s if that process died"
            )
        lease = cls(st, owner, ttl)
        lease._task = asyncio.create_task(lease._renew())
        return lease

    async def _renew(self) -> None:
        assert self.st.store is not None
        while True:
            await asyncio.sleep(self.ttl / 3)
            with contextlib.suppress(Exception):  # a missed renewal is retried next time
                await self.st.store.acquire_lease(self.st.run_id, self.owner, self.ttl)

    async def release(self) -> None:
        """Stop renewing and give the lease back."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        assert self.st.store is not None
        with contextlib.suppress(Exception):
            await self.st.store.release_lease(self.st.run_id, self.owner)


@dataclass(slots=True)
class _Fold:
    """What replaying a journal has seen of the latest model response."""

    calls: list[ToolCall]
    started: set[str]
    finished: set[str]
    results: dict[str, ToolResultMessage]
    notes: list[str] = field(default_factory=list)
    outcomes: dict[str, CallOutcome] = field(default_factory=dict)
    last: ModelResponse | None = None
    handled: bool = True


def _on_response(st: RunState, f: _Fold, e: ModelResponded) -> None:
    u = e.response.usage
    st.tracker.charge_model(u.input_tokens, u.output_tokens, e.cost_usd)
    if e.response.text:
        st.last_text = e.response.text
    _close_results(st, f.calls, f.results)
    f.calls = list(e.response.tool_calls)
    f.started, f.finished, f.results, f.outcomes = set(), set(), {}, {}
    f.last, f.handled = e.response, bool(f.calls)
    st.messages.append(AssistantMessage(e.response.text, f.calls))
    if f.calls and e.response.text:
        st.monitor.on_plan(e.response.text)


def _on_finished(st: RunState, f: _Fold, e: ToolCallFinished) -> None:
    f.finished.add(e.call_id)
    if e.attempts:
        st.tracker.charge_tool()
    f.results[e.call_id] = ToolResultMessage(e.call_id, e.name, e.content, e.outcome != "ok")
    f.outcomes[e.call_id] = CallOutcome(e.outcome, e.content, e.truncated, e.attempts)
    call = next((c for c in f.calls if c.id == e.call_id), None)
    if call is not None and e.outcome != "not_run":
        st.monitor.on_result(call, e.content)


def _replay(st: RunState, events: list[Event]) -> _Fold:
    """Fold the journal into ``st``: messages, usage, and loop-detection memory."""
    f = _Fold([], set(), set(), {})
    for e in events:
        if isinstance(e, ModelRequested):
            _close_results(st, f.calls, f.results)
            if f.notes:  # pending notes reached the model with this call
                st.messages.append(UserMessage("\n\n".join(f.notes)))
                f.notes = []
            if e.tools:
                st.step = st.tracker.usage.steps = e.step
        elif isinstance(e, ModelResponded):
            _on_response(st, f, e)
        elif isinstance(e, ToolCallStarted):
            f.started.add(e.call.id)
            st.monitor.on_call(e.call)
        elif isinstance(e, ToolCallFinished):
            _on_finished(st, f, e)
        elif isinstance(e, NoteAdded):
            f.notes.append(e.content)
        elif isinstance(e, LoopDetected) and e.action == "correct":
            st.corrections += 1
        elif isinstance(e, OutputInvalid):
            st.output_attempts += 1
            f.handled = True
        elif isinstance(e, BudgetWarning):
            st.tracker.warned.add(e.dimension)
    _finish_fold(st, f)
    return f


def _finish_fold(st: RunState, f: _Fold) -> None:
    if all(c.id in f.results for c in f.calls):  # else the resumed RunTools adds them in order
        _close_results(st, f.calls, f.results)
    st.notes, st.noted = list(f.notes), len(f.notes)  # journaled, not yet delivered


def _close_results(
    st: RunState, calls: list[ToolCall], results: dict[str, ToolResultMessage]
) -> None:
    # Results go into the history in call order, once per response.
    for call in calls:
        msg = results.pop(call.id, None)
        if msg is not None:
            st.messages.append(msg)


def rebuild(
    st: RunState, events: list[Event], decisions: Mapping[str, Decision]
) -> ModelTurn | HandleResponse | RunTools | GiveUp | Finish:
    """Rebuild ``st`` from a journal; return the node to go on from, or how it ended."""
    from ._loop import Finish, HandleResponse, ModelTurn, RunTools, _suspend

    if not events or not isinstance(events[0], RunStarted):
        raise ValueError("a journal starts with run_started")
    st.events = list(events)
    st.flushed = len(events)
    last = events[-1]
    fold = _replay(st, events)
    if isinstance(last, RunFinished) and last.status != "interrupted":
        return Finish(last.status, last.reason, last.output)
    elapsed = last.at - events[0].at  # time the run was alive, not time it lay dead
    st.tracker.started = time.monotonic() - max(elapsed, 0.0)
    giving_up = _giving_up(events)
    if giving_up is not None:  # the crash came while the fallback ran: run it again
        return giving_up
    if fold.last is not None and not fold.handled:
        # A final answer was journaled but not yet judged: judge it, do not ask again.
        st.messages.pop()
        return HandleResponse(fold.last)
    open_calls = [c for c in fold.calls if c.id not in fold.finished]
    if not open_calls:
        return ModelTurn()
    preset, approved = _apply_decisions(st, events, open_calls, decisions)
    in_doubt: list[ToolCall] = []
    for call in open_calls:
        if call.id in fold.started and call.id not in preset and call.id not in approved:
            outcome = _recover(st, call)
            if outcome is None:
                in_doubt.append(call)
            elif outcome != "rerun":
                preset[call.id] = outcome
    if in_doubt:
        return _suspend(st, in_doubt, "in_doubt")
    # The whole response goes back to RunTools, so every result lands in call order.
    return RunTools(
        fold.calls,
        frozenset(fold.started),
        preset,
        frozenset(approved),
        {c: o for c, o in fold.outcomes.items() if c in fold.finished},
    )


def _apply_decisions(
    st: RunState,
    events: list[Event],
    open_calls: list[ToolCall],
    decisions: Mapping[str, Decision],
) -> tuple[dict[str, CallOutcome], set[str]]:
    """Journal new decisions; return preset outcomes (rejections) and approved call ids."""
    decided = {e.call_id: e for e in events if isinstance(e, ApprovalDecided)}
    preset: dict[str, CallOutcome] = {}
    approved: set[str] = set()
    for call in open_calls:
        earlier = decided.get(call.id)
        decision = (
            Decision(earlier.decision, earlier.message, earlier.arguments)
            if earlier is not None
            else decisions.get(call.id)
        )
        if decision is None:
            continue
        if earlier is None:
            st.record(
                ApprovalDecided,
                call_id=call.id,
                decision=decision.kind,
                message=decision.message,
                arguments=decision.arguments,
            )
        approved.add(call.id)
        if decision.kind == "reject":
            preset[call.id] = CallOutcome("rejected", decision.message, attempts=0)
        elif decision.kind == "edit" and decision.arguments is not None:
            call.arguments = dict(decision.arguments)
    return preset, approved


def _giving_up(events: list[Event]) -> GiveUp | None:
    """The give-up a run was in when it stopped, if it stopped while giving up."""
    from ._loop import GiveUp

    changed = [i for i, e in enumerate(events) if isinstance(e, StrategyChanged)]
    if not changed or any(isinstance(e, RunFinished) for e in events[changed[-1] :]):
        return None
    cause = events[changed[-1]]
    assert isinstance(cause, StrategyChanged)
    for e in reversed(events[: changed[-1]]):
        if isinstance(e, BudgetExhausted):
            return GiveUp(Reason("budget_exhausted", cause.cause, e.dimension))
        if isinstance(e, LoopDetected) and e.action == "give_up":
            return GiveUp(Reason("loop_detected", cause.cause, e.loop))
    return GiveUp(Reason("budget_exhausted", cause.cause))


def _recover(st: RunState, call: ToolCall) -> CallOutcome | Literal["rerun"] | None:
    """What to do with a call a crash cut off: ``"rerun"``, a reconciled outcome, or None
    (a person must decide)."""
    tool = st.tools.get(call.name)
    if tool is None or tool.idempotent:
        return "rerun"
    if tool.reconcile is None:
        return None
    args = call.arguments if isinstance(call.arguments, dict) else {}
    try:
        value = tool.reconcile(args, f"{st.run_id}:{call.id}")
    except LookupError:
        return "rerun"  # it did not happen: run it
    from ._toolexec import render_result, truncate

    content, cut = truncate(render_result(value), st.agent.max_result_chars)
    return CallOutcome("ok", content, cut, attempts=0)
