"""The run loop: a small typed state machine whose events are the run journal.

::

    ModelTurn ──> HandleResponse ──> RunTools ──> ModelTurn ...
        │               │  └──> ModelTurn (invalid output, retry)
        │               └──> Finish (valid final answer, or output retries spent)
        └──> GiveUp (budget) ──> Finish (gave_up, fallback output)
    RunTools ──> GiveUp (budget, or a loop that went on after a correction)

Each node is a dataclass whose ``run`` returns the next node; :func:`drive`
runs nodes until one is a :class:`Finish`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._context import RunContext
from ._detect import Detection, ProgressMonitor
from ._events import (
    ApprovalRequested,
    BudgetExhausted,
    BudgetWarning,
    LoopDetected,
    ModelFailed,
    ModelRequested,
    ModelResponded,
    NoteAdded,
    OutputInvalid,
    Reason,
    RunStatus,
    StrategyChanged,
    StreamEvent,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from ._fallback import Fallback, FallbackContext
from ._messages import (
    AssistantMessage,
    Message,
    ModelResponse,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from ._output import OutputSpec
from ._toolexec import CallOutcome, run_tool_call
from ._tools import Tool
from ._usage import BudgetTracker, Exceeded
from .models import Model, ModelParams

if TYPE_CHECKING:
    from ._agent import Agent
    from .journal import JournalStore

__all__ = ["Finish", "RunState", "drive"]

E = TypeVar("E")

_WRAP_UP = (
    "Note from the orchestrator: {used:g} of the {limit:g} {dim} allowed for this run are "
    "used. Wrap up: give your final answer now, from what you have."
)
_INVALID = (
    "Your final answer is not valid: {errors}\nAnswer again with only the final answer, "
    "in the required format."
)
_DIM_WORDS = {
    "steps": "steps",
    "model_calls": "model calls",
    "tool_calls": "tool calls",
    "input_tokens": "input tokens",
    "output_tokens": "output tokens",
    "cost_usd": "US dollars",
    "seconds": "seconds",
}


@dataclass(slots=True, eq=False)
class RunState:
    """Everything one run holds while it goes."""

    agent: Agent[Any, Any]
    model: Model
    run_id: str
    prompt: str
    deps: Any
    tracker: BudgetTracker
    spec: OutputSpec[Any]
    params: ModelParams
    no_tools_params: ModelParams
    tools: dict[str, Tool]
    fallback: Fallback
    monitor: ProgressMonitor
    messages: list[Message]
    sink: Callable[[StreamEvent], None] | None = None
    streaming: bool = False
    store: JournalStore | None = None
    flushed: int = 0
    noted: int = 0
    events: list[StreamEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    step: int = 0
    corrections: int = 0
    output_attempts: int = 0
    last_text: str | None = None

    def record(self, kind: type[E], **fields: Any) -> E:
        """Build an event of this run (id, sequence number, time filled in) and emit it."""
        event = kind(run_id=self.run_id, seq=self.seq, at=time.time(), **fields)  # type: ignore[call-arg]
        self.emit(event)  # type: ignore[arg-type]
        return event

    def emit(self, event: StreamEvent) -> None:
        """Append a journal event and hand it to the stream, if any."""
        self.events.append(event)
        if self.sink is not None:
            self.sink(event)

    @property
    def seq(self) -> int:
        """The sequence number of the next event."""
        return len(self.events)

    def flush_notes(self) -> None:
        """Put the orchestrator's pending notes in the history, as one user turn."""
        if self.notes:
            self._journal_notes()
            self.messages.append(UserMessage("\n\n".join(self.notes)))
            self.notes.clear()
            self.noted = 0

    def _journal_notes(self) -> None:
        # Each note is journaled when its node ends, so a resumed run knows the notes
        # that were pending; they reach the model together at its next call.
        while self.noted < len(self.notes):
            self.record(NoteAdded, content=self.notes[self.noted])
            self.noted += 1

    async def flush(self) -> None:
        """Write the events not yet in the journal store, if the run has one."""
        if self.notes:
            self._journal_notes()
        end = len(self.events)
        if self.store is not None and self.flushed < end:
            # Overlapping flushes (parallel tool calls) may write an event twice; the
            # store ignores a (run_id, seq) it already has.
            await self.store.append(self.run_id, self.events[self.flushed : end])  # type: ignore[arg-type]
            self.flushed = max(self.flushed, end)

    async def call_model(
        self, messages: Sequence[Message], params: ModelParams, model: Model | None = None
    ) -> ModelResponse:
        """One model call: journaled, timed, and charged to the budget."""
        model = model or self.model
        self.emit(
            ModelRequested(
                run_id=self.run_id,
                seq=self.seq,
                at=time.time(),
                step=self.step,
                tools=params.allow_tools,
            )
        )
        started = time.perf_counter()
        remaining = self._seconds_left()
        if remaining is None:
            response = await self._ask(model, messages, params)
        else:
            async with asyncio.timeout(max(remaining, 0.0)):
                response = await self._ask(model, messages, params)
        if response.cost_usd is not None:
            cost = response.cost_usd
        elif model.price is not None:
            cost = model.price.cost(response.usage)
        else:
            cost = 0.0
        for i, call in enumerate(response.tool_calls):
            if not call.id:  # deterministic, so a rebuilt run names its calls the same
                call.id = f"call_{self.step}_{i}"
        usage = response.usage
        self.tracker.charge_model(usage.input_tokens, usage.output_tokens, cost)
        self.emit(
            ModelResponded(
                run_id=self.run_id,
                seq=self.seq,
                at=time.time(),
                step=self.step,
                response=response,
                cost_usd=cost,
                duration_s=time.perf_counter() - started,
            )
        )
        return response

    async def _ask(
        self, model: Model, messages: Sequence[Message], params: ModelParams
    ) -> ModelResponse:
        if not self.streaming:
            return await model.request(messages, params)
        final: ModelResponse | None = None
        async for item in model.stream(messages, params):
            if isinstance(item, str):
                if self.sink is not None:
                    self.sink(
                        TextDelta(
                            run_id=self.run_id,
                            seq=self.seq,
                            at=time.time(),
                            step=self.step,
                            delta=item,
                        )
                    )
            else:
                final = item
        if final is None:
            raise RuntimeError(f"model {model.name!r} ended its stream without a response")
        return final

    def _seconds_left(self) -> float | None:
        limit = self.tracker.budget.max_seconds
        t = self.tracker.parent
        left = None if limit is None else limit - self.tracker.elapsed()
        while t is not None:  # a parent's wall clock bounds a sub-run too
            if t.budget.max_seconds is not None:
                parent_left = t.budget.max_seconds - t.elapsed()
                left = parent_left if left is None else min(left, parent_left)
            t = t.parent
        return left

    def check_warnings(self) -> None:
        """Warn once per dimension that crossed the warning fraction, and tell the model."""
        for dim, used, limit in self.tracker.crossed_warning():
            self.record(
                BudgetWarning,
                dimension=dim,
                used=used,
                limit=limit,
            )
            self.notes.append(_WRAP_UP.format(used=used, limit=limit, dim=_DIM_WORDS[dim]))

    def exhausted(self, ex: Exceeded) -> GiveUp:
        """Journal a budget limit and give up because of it."""
        self.record(
            BudgetExhausted,
            dimension=ex.dimension,
            used=ex.used,
            limit=ex.limit,
        )
        return GiveUp(
            Reason(
                "budget_exhausted",
                f"The {_DIM_WORDS[ex.dimension]} budget is used up ({ex.used:g} of {ex.limit:g}).",
                ex.dimension,
            )
        )

    def detected(self, det: Detection) -> GiveUp | None:
        """React to a loop: a corrective note first, then give up."""
        if self.corrections < self.monitor.policy.max_corrections:
            self.corrections += 1
            self.record(
                LoopDetected,
                loop=det.kind,
                detail=det.detail,
                action="correct",
            )
            self.notes.append(det.message)
            return None
        self.record(
            LoopDetected,
            loop=det.kind,
            detail=det.detail,
            action="give_up",
        )
        return GiveUp(
            Reason(
                "loop_detected",
                f"The run kept looping after a correction ({det.kind}: {det.detail}).",
                det.kind,
            )
        )

    def context(self, step: int, call: ToolCall) -> RunContext[Any]:
        """The run context for one tool call."""
        return RunContext(
            deps=self.deps,
            run_id=self.run_id,
            tracker=self.tracker,
            agent=self.agent,
            step=step,
            tool_call_id=call.id,
            idempotency_key=f"{self.run_id}:{call.id}",
        )


@dataclass(slots=True)
class Finish:
    """The end of a run."""

    status: RunStatus
    reason: Reason
    output: Any = None
    pending: list[ToolCall] = field(default_factory=list)


@dataclass(slots=True)
class GiveUp:
    """Stop trying: run the fallback strategy and end as ``gave_up``."""

    reason: Reason

    async def run(self, st: RunState) -> Finish:
        st.record(
            StrategyChanged,
            strategy=st.fallback.name,
            cause=self.reason.message,
        )
        st.flush_notes()
        ctx = FallbackContext(st.prompt, self.reason, list(st.messages), st.deps, st)
        try:
            output = await st.fallback.run(ctx)
        except Exception as exc:  # the fallback must not turn a give-up into a crash
            msg = f"{self.reason.message} The fallback {st.fallback.name} failed too: {exc}"
            return Finish(
                "gave_up", Reason(self.reason.kind, msg, self.reason.detail), st.last_text
            )
        return Finish("gave_up", self.reason, output)


@dataclass(slots=True)
class ModelTurn:
    """Ask the model for its next move."""

    async def run(self, st: RunState) -> HandleResponse | GiveUp | Finish:
        got = await model_step(st, st.params)
        return got if isinstance(got, GiveUp | Finish) else HandleResponse(got)


async def model_step(
    st: RunState, params: ModelParams, messages: Sequence[Message] | None = None
) -> ModelResponse | GiveUp | Finish:
    """One step of a run that asks the model: budget checks, pending notes, the call.

    Shared by the tool loop and other strategies, so every strategy charges and
    journals its model calls the same way. ``messages`` replaces the run's history
    for this one call (a strategy that shows the model a focused view). Returns the
    response, or the node to go to when the budget is used up (:class:`GiveUp`) or
    the model failed (:class:`Finish`).
    """
    ex = st.tracker.check("step") or st.tracker.check("model")
    if ex is not None:
        return st.exhausted(ex)
    st.tracker.charge_step()
    st.step += 1
    st.flush_notes()
    try:
        response = await st.call_model(st.messages if messages is None else messages, params)
    except TimeoutError:
        ex = st.tracker.check("model")
        seconds = st.tracker.budget.max_seconds or 0.0
        return st.exhausted(ex or Exceeded("seconds", st.tracker.elapsed(), seconds))
    except Exception as exc:
        st.record(
            ModelFailed,
            step=st.step,
            error=f"{type(exc).__name__}: {exc}",
        )
        return Finish(
            "failed",
            Reason("model_error", f"The model {st.model.name!r} failed: {exc}", type(exc).__name__),
            None,
        )
    st.check_warnings()
    return response


@dataclass(slots=True)
class HandleResponse:
    """Decide what the model's response means: tool calls, or a final answer."""

    response: ModelResponse

    async def run(self, st: RunState) -> RunTools | ModelTurn | Finish | GiveUp:
        r = self.response
        calls = r.tool_calls
        st.messages.append(AssistantMessage(r.text, calls))
        if r.text:
            st.last_text = r.text
        if calls:
            if r.text:
                det = st.monitor.on_plan(r.text)
                if det is not None:
                    give_up = st.detected(det)
                    if give_up is not None:
                        _answer_unrun(st, calls, "Not run: the run is stopping.")
                        return give_up
            return RunTools(calls)
        text = r.text or ""
        ok, value = st.spec.parse(text) if text.strip() else (False, "the answer was empty")
        if ok:
            return Finish(
                "completed", Reason("final_answer", "The model gave a final answer."), value
            )
        st.output_attempts += 1
        st.record(
            OutputInvalid,
            attempt=st.output_attempts,
            errors=str(value),
        )
        if st.output_attempts > st.agent.output_retries:
            return Finish(
                "failed",
                Reason(
                    "output_invalid",
                    f"The final answer failed validation {st.output_attempts} times; last errors: "
                    f"{value}",
                ),
                None,
            )
        st.notes.append(_INVALID.format(errors=value))
        return ModelTurn()


def _answer_unrun(st: RunState, calls: Sequence[ToolCall], text: str) -> None:
    # Every call in the history keeps its result, so the pairs stay intact.
    for call in calls:
        st.record(
            ToolCallFinished,
            step=st.step,
            call_id=call.id,
            name=call.name,
            outcome="not_run",
            content=text,
            attempts=0,
        )
        st.messages.append(ToolResultMessage(call.id, call.name, text, is_error=True))


@dataclass(slots=True)
class RunTools:
    """Run the tool calls the model asked for, in parallel when there are several."""

    calls: list[ToolCall]
    started: frozenset[str] = frozenset()
    preset: dict[str, CallOutcome] = field(default_factory=dict)
    approved: frozenset[str] = frozenset()
    done: dict[str, CallOutcome] = field(default_factory=dict)
    """Calls whose end is already journaled (a resume): not run, not journaled again."""

    async def run(self, st: RunState) -> ModelTurn | GiveUp | Finish:
        to_run: list[ToolCall] = []
        blocked: dict[str, str] = {}
        pending: list[ToolCall] = []
        for i, call in enumerate(self.calls):
            if call.id in self.done:  # finished before a crash: only its place in line
                to_run.append(call)
                continue
            ex = st.tracker.check("tool")
            if ex is None and st.tracker.budget.max_tool_calls is not None:
                planned = st.tracker.usage.tool_calls + len(to_run)
                if planned >= st.tracker.budget.max_tool_calls:
                    ex = Exceeded("tool_calls", planned, st.tracker.budget.max_tool_calls)
            if ex is not None:
                give_up = st.exhausted(ex)
                await self._execute(st, to_run, blocked)
                _answer_unrun(st, self.calls[i:], "Not run: the run's budget is used up.")
                return give_up
            # A call journaled as started before a crash was already seen by the monitor.
            det = None if call.id in self.started else st.monitor.on_call(call)
            if det is not None:
                stop = st.detected(det)
                if stop is not None:
                    await self._execute(st, to_run, blocked)
                    _answer_unrun(st, self.calls[i:], f"Not run: {det.detail}.")
                    return stop
                blocked[call.id] = f"Not run: {det.message}"
            elif call.id not in self.approved and _needs_approval(st, call):
                pending.append(call)
                continue
            to_run.append(call)
        stop = await self._execute(st, to_run, blocked)
        if pending:
            return _suspend(st, pending, "approval")
        return stop or ModelTurn()

    async def _execute(
        self, st: RunState, calls: list[ToolCall], blocked: dict[str, str]
    ) -> GiveUp | None:
        step = st.step
        for call in calls:
            if call.id in self.started:  # journaled before a crash; not started twice
                continue
            st.emit(
                ToolCallStarted(
                    run_id=st.run_id,
                    seq=st.seq,
                    at=time.time(),
                    step=step,
                    call=call,
                    idempotency_key=f"{st.run_id}:{call.id}",
                )
            )
        # A started call is durable before it runs: a resume knows it may have happened.
        await st.flush()
        runnable = calls
        if blocked or self.done:
            runnable = [c for c in calls if c.id not in blocked and c.id not in self.done]
        if len(runnable) == 1:
            results = [await self._one(st, step, runnable[0])]
        else:
            results = list(await asyncio.gather(*(self._one(st, step, c) for c in runnable)))
        by_id = {c.id: r for c, r in zip(runnable, results, strict=True)}
        give_up: GiveUp | None = None
        for call in calls:
            out = by_id.get(call.id)
            known = out is None and call.id in self.done  # seen by the monitor already
            if known:
                out = self.done[call.id]
            elif out is None:
                out = CallOutcome("not_run", blocked[call.id], attempts=0)
                st.record(
                    ToolCallFinished,
                    step=step,
                    call_id=call.id,
                    name=call.name,
                    outcome="not_run",
                    content=out.content,
                    attempts=0,
                )
            st.messages.append(
                ToolResultMessage(call.id, call.name, out.content, out.outcome != "ok")
            )
            if out.outcome != "not_run" and give_up is None and not known:
                det = st.monitor.on_result(call, out.content)
                if det is not None:
                    give_up = st.detected(det)
        if calls:
            st.check_warnings()
        return give_up

    async def _one(self, st: RunState, step: int, call: ToolCall) -> CallOutcome:
        """Run one call (or take its preset outcome) and journal its end at once."""
        out = self.preset.get(call.id)
        if out is None:
            out = await run_tool_call(
                st.tools, call, _ctx_factory(st, step, call), st.agent.max_result_chars
            )
        if out.attempts:
            st.tracker.charge_tool()
        st.emit(
            ToolCallFinished(
                run_id=st.run_id,
                seq=st.seq,
                at=time.time(),
                step=step,
                call_id=call.id,
                name=call.name,
                outcome=out.outcome,
                content=out.content,
                truncated=out.truncated,
                attempts=out.attempts,
                duration_s=out.duration_s,
            )
        )
        if st.store is not None:  # a finished effect is durable before anything else
            await st.flush()
        return out


def _needs_approval(st: RunState, call: ToolCall) -> bool:
    tool = st.tools.get(call.name)
    if tool is None:  # an unknown tool is answered with an error, nothing to approve
        return False
    policy = st.agent.approval
    return tool.requires_approval or (policy is not None and policy(call))


def _suspend(st: RunState, calls: list[ToolCall], why: Literal["approval", "in_doubt"]) -> Finish:
    """Stop the run for a person to decide on some calls (all in the journal)."""
    st.record(ApprovalRequested, step=st.step, calls=list(calls), reason=why)
    names = ", ".join(f"{c.name} ({c.id})" for c in calls)
    if why == "approval":
        reason = Reason("approval_required", f"Waiting for approval of: {names}.")
    else:
        reason = Reason(
            "needs_decision",
            f"A crash cut off {names}, which is not idempotent and has no reconcile hook: "
            "decide whether to run it again.",
        )
    return Finish("interrupted", reason, None, list(calls))


def _ctx_factory(st: RunState, step: int, call: ToolCall) -> Callable[[], RunContext[Any]]:
    return lambda: st.context(step, call)


async def drive(
    st: RunState, start: ModelTurn | HandleResponse | RunTools | GiveUp | Finish | None = None
) -> Finish:
    """Run the state machine from ``start`` (the first model turn by default) to the end.

    The journal store, if any, is written after every node: what a node did is
    durable before the next one starts.
    """
    node: ModelTurn | HandleResponse | RunTools | GiveUp | Finish = start or ModelTurn()
    while not isinstance(node, Finish):
        node = await node.run(st)
        await st.flush()
    return node
