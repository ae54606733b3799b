"""The nodes of the run loop: a small typed state machine whose events are the journal.

::

    ModelTurn ──> HandleResponse ──> RunTools ──> (strategy.after_tools) ...
        │               │  └──> ModelTurn (invalid output, retry)
        │               └──> Finish (valid final answer, or output retries spent)
        └──> GiveUp (budget) ──> Finish (gave_up, fallback output)
    RunTools ──> GiveUp (budget, or a loop that went on after a correction)

Each node is a dataclass whose ``run`` returns the next node; :func:`drive`
runs nodes until one is a :class:`Finish`. Nodes change the run only by
recording events (the fold applies them to the state), so a resumed run and a
live one cannot disagree. Strategies build on these nodes and may add their own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, Protocol

from tether._events import (
    ApprovalRequested,
    BudgetExhausted,
    BudgetWarning,
    LoopDetected,
    ModelFailed,
    OutputInvalid,
    Reason,
    RunStatus,
    StrategyChanged,
    ToolCallFinished,
    ToolCallStarted,
)
from tether._messages import Message, ModelResponse, TokenUsage, ToolCall
from tether._usage import NO_ESTIMATE, Estimate, Exceeded
from tether.models import Model, ModelParams
from tether.models._function import estimate_tokens
from tether.tools import CallOutcome, Tool, run_tool_call
from tether.tools._abandon import CallExpired, run_within
from tether.tools._secrets import plain

from ._detect import Detection
from ._fallback import FallbackContext, written_call
from ._fold import DIM_WORDS
from ._run import Run
from ._screen import check_all, gate

__all__ = [
    "Finish",
    "GiveUp",
    "HandleResponse",
    "ModelTurn",
    "Node",
    "RunTools",
    "detected",
    "drive",
    "exhausted",
    "guardrail_end",
    "judge_answer",
    "model_step",
    "suspend",
]

_WRAP_UP = (
    "Note from the orchestrator: {used:g} of the {limit:g} {dim} allowed for this run are "
    "used. Wrap up: give your final answer now, from what you have."
)
INVALID_NOTE = (
    "Your final answer is not valid: {errors}\nAnswer again with only the final answer, "
    "in the required format."
)


class Node(Protocol):
    """A step of the run loop: does its work and names the next node."""

    async def run(self, r: Run) -> Node | Finish:
        """Do this step's work on the run; return the next node."""
        ...


@dataclass(slots=True)
class Finish:
    """The end of a run."""

    status: RunStatus
    reason: Reason
    output: Any = None
    pending: list[ToolCall] = field(default_factory=list)


# --- shared reactions ------------------------------------------------------------------------


def check_warnings(r: Run) -> None:
    """Warn once per dimension that crossed the warning fraction, and tell the model."""
    for dim, used, limit in r.state.tracker.crossed_warning():
        r.record(BudgetWarning, dimension=dim, used=used, limit=limit)
        r.note(_WRAP_UP.format(used=used, limit=limit, dim=DIM_WORDS[dim]))


def exhausted(r: Run, ex: Exceeded) -> GiveUp:
    """Journal a budget limit and give up because of it."""
    r.record(BudgetExhausted, dimension=ex.dimension, used=ex.used, limit=ex.limit)
    assert r.state.stop is not None
    return GiveUp(r.state.stop)


def detected(r: Run, det: Detection) -> GiveUp | None:
    """React to a loop: a corrective note first, then give up."""
    if r.state.corrections < r.config.loop_policy.max_corrections:
        r.record(LoopDetected, loop=det.kind, detail=det.detail, action="correct")
        r.note(det.message)
        return None
    r.record(LoopDetected, loop=det.kind, detail=det.detail, action="give_up")
    assert r.state.stop is not None
    return GiveUp(r.state.stop)


def judge_answer(r: Run, text: str, reason: Reason) -> Finish | str:
    """The one output-validation path: the final answer parsed into the output type.

    Returns the run's end (completed, or failed once the output retries are spent),
    or the validation errors to show the model for another try (journaled as
    ``output_invalid``).
    """
    ok, value = r.config.spec.parse(text) if text.strip() else (False, "the answer was empty")
    if ok:
        return Finish("completed", reason, value)
    attempt = r.state.output_attempts + 1
    if attempt > r.config.output_retries:
        r.record(OutputInvalid, attempt=attempt, errors=str(value))
        return Finish(
            "failed",
            Reason(
                "output_invalid",
                f"The final answer failed validation {attempt} times; last errors: {value}",
            ),
            None,
        )
    return str(value)


def handed_over(r: Run) -> Finish | GiveUp | None:
    """The end of a run that handed its conversation to another agent: that agent's
    ending (a handoff loop given up on ends the run as any loop does)."""
    st = r.state
    if st.stop is not None and st.stop.kind == "loop_detected" and st.stop.detail == "handoff":
        return GiveUp(st.stop)
    done = st.handoff
    if done is None:
        return None
    output = done.output
    if done.status == "completed" and output is not None:
        ok, value = r.config.spec.accept(output)
        if not ok:
            return Finish(
                "failed",
                Reason(
                    "output_invalid",
                    f"The agent {done.agent!r} answered after the handoff, but its answer "
                    f"is not this agent's output type: {value}",
                ),
                None,
            )
        output = value
    return Finish(done.status, done.reason, output)


def guardrail_end(name: str, reason: str, what: str) -> Finish:
    """The end of a run that a guardrail stopped."""
    return Finish(
        "failed",
        Reason("guardrail_tripped", f"The guardrail {name!r} stopped {what}: {reason}", name),
        None,
    )


def reject_output(r: Run, errors: str) -> None:
    """Journal an invalid final answer (the caller then tells the model why)."""
    r.record(OutputInvalid, attempt=r.state.output_attempts + 1, errors=errors)


async def model_step(
    r: Run,
    params: ModelParams,
    messages: Sequence[Message] | None = None,
    *,
    purpose: str = "turn",
) -> ModelResponse | GiveUp | Finish:
    """One step of a run that asks the model: budget checks, pending notes, the call.

    Shared by every strategy, so each charges and journals its model calls the same
    way. ``messages`` replaces the conversation for this one call (a strategy's
    focused view); ``purpose`` says what the call is for (``"turn"``: a tool-loop
    turn whose response joins the conversation). Returns the response, or the node
    to go to when the budget is used up (:class:`GiveUp`) or the model failed.
    """
    held = _hold_model(r, messages)
    if isinstance(held, GiveUp):
        return held
    tracker = r.state.tracker
    try:
        response = await r.call_model(
            messages, params, purpose=purpose, step=r.state.step + 1, step_held=r.keeper is not None
        )
    except Exception as exc:
        return _model_error(r, exc)
    finally:  # charged by now if it answered: the hold ends with the charge
        tracker.release_model(held)
    check_warnings(r)
    return response


def _hold_model(r: Run, messages: Sequence[Message] | None) -> GiveUp | Estimate:
    """Give up when the budget allows no further model call; else hold for the call
    (the caller releases the hold however the call ends) and return what it is held at."""
    tracker = r.state.tracker
    held = _estimate(r, messages) if tracker.estimates else NO_ESTIMATE
    # Working memory may wait (for a summary) between this check and the request: the
    # step is held too, until the request is journaled (``step_held`` of call_model).
    ex = tracker.reserve_model(held, step=r.keeper is not None)
    return held if ex is None else exhausted(r, ex)


def _estimate(r: Run, messages: Sequence[Message] | None) -> Estimate:
    """What a sub-run's model call is held at while in flight, beside its siblings': its
    input at four characters a token, and the most output one call of the tree has had,
    at the model's price (or the most one call has cost, for a model without a price)."""
    tokens = estimate_tokens(r.state.messages if messages is None else messages)
    output, most = r.state.tracker.peak()
    price = r.model.price
    cost = most if price is None else price.cost(TokenUsage(tokens, output))
    return tokens, output, cost


def _model_error(r: Run, exc: Exception) -> GiveUp | Finish:
    """Where a run goes when its model call raised: the time budget ran out, or it failed."""
    if isinstance(exc, TimeoutError):
        tracker = r.state.tracker
        ex = tracker.check("model")
        seconds = tracker.budget.max_seconds or 0.0
        return exhausted(r, ex or Exceeded("seconds", tracker.elapsed(), seconds))
    r.record(ModelFailed, step=r.state.step, error=f"{type(exc).__name__}: {exc}")
    return Finish(
        "failed",
        Reason(
            "model_error",
            f"The model {r.model.name!r} failed: {exc}",  # secrets are scrubbed when recorded
            type(exc).__name__,
        ),
        None,
    )


# --- the tool loop's nodes -------------------------------------------------------------------


def _cancelling() -> bool:
    """Whether the task running the node is being cancelled (a CancelledError a fallback
    raised of its own accord is only its failure)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


@dataclass(slots=True)
class GiveUp:
    """Stop trying: run the fallback strategy and end as ``gave_up``."""

    reason: Reason

    async def run(self, r: Run) -> Finish:
        if not r.state.giving_up:
            r.record(StrategyChanged, strategy=r.config.fallback.name, cause=self.reason.message)
        vouched: list[Any] = []  # answers ctx.ask_model parsed: valid, not parsed twice

        async def ask(messages: list[Message], model: Model | None) -> tuple[str, Any, bool]:
            text, value, ok = await _ask_without_tools(r, messages, model)
            if ok:
                vouched.append(value)
            return text, value, ok

        ctx = FallbackContext(
            r.prompt, self.reason, list(r.state.messages), r.deps, ask, r.state.tracker.absorb
        )
        name = r.config.fallback.name
        try:
            output = await r.config.fallback.run(ctx)
        except BaseException as exc:  # the fallback must not turn a give-up into a crash,
            # not even by sys.exit; the user's Ctrl-C and the run's cancellation still stop it
            if isinstance(exc, KeyboardInterrupt) or (
                isinstance(exc, asyncio.CancelledError) and _cancelling()
            ):
                raise
            said = str(exc) or type(exc).__name__
            msg = f"{self.reason.message} The fallback {name} failed too: {said}"
            last = r.state.last_text
            output, errors = self._valid_output(
                r, None if last is None or written_call(last) else last
            )
            if errors is not None:
                msg += (
                    f" The model's last text is not a valid {self._type_name(r)} either: {errors}"
                )
            return Finish("gave_up", Reason(self.reason.kind, msg, self.reason.detail), output)
        if any(output is v for v in vouched):
            return Finish("gave_up", self.reason, output)
        output, errors = self._valid_output(r, output)
        if errors is None:
            return Finish("gave_up", self.reason, output)
        msg = (
            f"{self.reason.message} The fallback {name} answered, but its answer is not a "
            f"valid {self._type_name(r)}: {errors}"
        )
        return Finish("gave_up", Reason(self.reason.kind, msg, self.reason.detail), None)

    @staticmethod
    def _valid_output(r: Run, output: Any) -> tuple[Any, str | None]:
        """A fallback's output checked against the output type as any answer from
        elsewhere is (text is parsed as a final answer would be): ``(value, None)``, or
        ``(None, errors)``. None stays None: the fallback had no answer."""
        if output is None:
            return None, None
        ok, value = r.config.spec.accept(output)
        return (value, None) if ok else (None, str(value))

    @staticmethod
    def _type_name(r: Run) -> str:
        t = r.config.spec.output_type
        return getattr(t, "__name__", None) or repr(t)


async def _ask_without_tools(
    r: Run, messages: list[Message], model: Model | None
) -> tuple[str, Any, bool]:
    """A fallback's model call: no tools, journaled and charged to the run."""
    response = await r.call_model(
        messages, r.config.no_tools_params, purpose="fallback", model=model
    )
    text = response.text or ""
    ok, value = r.config.spec.parse(text)
    return text, (value if ok else None), ok


@dataclass(slots=True)
class ModelTurn:
    """Ask the model for its next move; its response joins the conversation."""

    async def run(self, r: Run) -> HandleResponse | GiveUp | Finish:
        # model_step(r, r.config.params), with the call awaited here: under thousands of
        # concurrent runs every coroutine in the chain of a waiting call costs.
        held = _hold_model(r, None)
        if isinstance(held, GiveUp):
            return held
        tracker = r.state.tracker
        try:
            response = await r.call_model(
                None, r.config.params, step=r.state.step + 1, step_held=r.keeper is not None
            )
        except Exception as exc:
            return _model_error(r, exc)
        finally:  # charged by now if it answered: the hold ends with the charge
            tracker.release_model(held)
        check_warnings(r)
        return HandleResponse(response)


@dataclass(slots=True)
class HandleResponse:
    """Decide what the model's response means: tool calls, or a final answer."""

    response: ModelResponse

    async def run(self, r: Run) -> RunTools | ModelTurn | Finish | GiveUp:
        calls = self.response.tool_calls
        if calls:
            det = r.state.plan_check
            if det is not None:
                give_up = detected(r, det)
                if give_up is not None:
                    answer_unrun(r, calls, "Not run: the run is stopping.")
                    return give_up
            return RunTools(list(calls))
        got = judge_answer(
            r, self.response.text or "", Reason("final_answer", "The model gave a final answer.")
        )
        if isinstance(got, Finish):
            return got
        reject_output(r, got)
        r.note(INVALID_NOTE.format(errors=got))
        return ModelTurn()


def answer_unrun(r: Run, calls: Sequence[ToolCall], text: str) -> None:
    """Give each call a result without running it, so the tool-call pairs stay intact."""
    for call in calls:
        if call.id in r.state.outcomes:
            continue
        r.record(
            ToolCallFinished,
            step=r.state.step,
            call_id=call.id,
            name=call.name,
            outcome="not_run",
            content=text,
            attempts=0,
        )


@dataclass(slots=True)
class RunTools:
    """Run the calls of the latest turn, in parallel when there are several.

    Calls already finished (a resumed run) keep their results; calls a person
    decided on get the decision; ``preset`` holds outcomes settled without running
    (a reconciled call after a crash).

    Each call to run is held for in the budget from its check until its end is
    journaled (``held`` counts those not yet released), so the calls of this batch and
    of every other run on the same budget count while they run.
    """

    calls: list[ToolCall]
    preset: dict[str, CallOutcome] = field(default_factory=dict)
    held: int = field(default=0, init=False, repr=False)

    async def run(self, r: Run) -> Node | GiveUp | Finish:
        to_run: list[ToolCall] = []
        blocked: dict[str, str] = {}
        pending: list[ToolCall] = []
        try:
            cut = self._admit(r, to_run, blocked, pending)
            if blocked:  # a call refused before it runs is charged nothing: its hold ends
                self._release(r, len(blocked))
            if cut is not None:
                give_up, i, why = cut
                await self._execute(r, to_run, blocked)
                answer_unrun(r, self.calls[i:], why)
                return give_up
            if r.config.guardrails.tool_call:
                end = await self._screen(r, to_run, pending, blocked)
                if end is not None:
                    return end
            stop = await self._execute(r, to_run, blocked)
        finally:  # calls that never ran (a guardrail ended the run, a cancellation)
            if self.held:
                self._release(r, self.held)
        if pending:
            return suspend(r, pending, "approval")
        return stop or handed_over(r) or r.strategy.after_tools(r)

    def _admit(
        self,
        r: Run,
        to_run: list[ToolCall],
        blocked: dict[str, str],
        pending: list[ToolCall],
    ) -> tuple[GiveUp, int, str] | None:
        """Check each open call and sort it: to run (held for in the budget), refused
        (``blocked``, also in ``to_run``), or waiting for a person (``pending``).

        Returns the give-up, the index of the first call it leaves unrun and what those
        calls are told, when the budget or a loop ends the batch there.
        """
        st = r.state
        tracker = st.tracker
        for i, call in enumerate(self.calls):
            if call.id in st.outcomes:  # finished before a crash
                continue
            ex = tracker.reserve_tool()  # checked and held in one step
            if ex is not None:
                return exhausted(r, ex), i, "Not run: the run's budget is used up."
            self.held += 1
            # A call journaled as started before a crash was dealt with then.
            det = None if call.id in st.started else st.call_checks.get(call.id)
            if det is not None:
                stop = detected(r, det)
                if stop is not None:
                    self._release(r, 1)
                    return stop, i, f"Not run: {det.detail}."
                blocked[call.id] = f"Not run: {det.message}"
            elif self._waits(r, call, blocked):
                self._release(r, 1)  # a call waiting for a person holds nothing
                pending.append(call)
                continue
            to_run.append(call)
        return None

    async def _screen(
        self, r: Run, to_run: list[ToolCall], pending: list[ToolCall], blocked: dict[str, str]
    ) -> Finish | None:
        """The tool-call guardrails (:func:`_screen`); a call to run that they refuse
        ends its hold (one that waited for a person held nothing)."""
        refused, waiting = len(blocked), len(pending)
        end = await _screen(r, to_run, pending, blocked, self.calls)
        if end is None:
            self._release(r, len(blocked) - refused - (waiting - len(pending)))
        return end

    def _release(self, r: Run, n: int) -> None:
        """End the budget's holds of ``n`` calls of this batch."""
        if n:
            self.held -= n
            r.state.tracker.release_tools(n)

    def _waits(self, r: Run, call: ToolCall, blocked: dict[str, str]) -> bool:
        """Whether a call waits for a person; a person's decision is applied, and a call
        the injection policy refuses joins ``blocked``."""
        st = r.state
        if call.id in st.decisions:
            self._apply(r, call)
            return False
        if call.id in st.started:  # a call cut off by a crash passed the gates before
            return False
        gated = _gate(r, call)
        if gated is None:
            return False
        if gated[0] == "approve":
            return True
        blocked[call.id] = gated[1]
        return False

    def _apply(self, r: Run, call: ToolCall) -> None:
        decision = r.state.decisions[call.id]
        if decision.decision == "reject":
            self.preset.setdefault(call.id, CallOutcome("rejected", decision.message, attempts=0))
        elif decision.decision == "edit" and decision.arguments is not None:
            call.arguments = dict(decision.arguments)

    async def _execute(
        self, r: Run, calls: list[ToolCall], blocked: dict[str, str]
    ) -> GiveUp | None:
        st = r.state
        step = st.step
        # The start events, for outlets that give a context around a call (a tracer).
        starts: dict[str, ToolCallStarted] | None = {} if r.scoped else None
        for call in calls:
            # Every execution is journaled as started, a rerun after a crash too; a call
            # settled without running (reconciled after a crash) is not started again.
            if call.id not in st.started or call.id not in self.preset:
                begun = r.record(
                    ToolCallStarted,
                    step=step,
                    call=call,
                    idempotency_key=f"{r.run_id}:{call.id}",
                )
                if starts is not None:
                    starts[call.id] = begun
        # A started call is durable before it runs: a resume knows it may have happened.
        if r.outlets:
            await r.flush()
        runnable = [c for c in calls if c.id not in blocked] if blocked else calls
        if len(runnable) == 1:
            await self._one(r, step, runnable[0], starts)
        elif runnable:
            await asyncio.gather(*(self._one(r, step, c, starts) for c in runnable))
        for call in calls:
            if call.id in blocked:
                r.record(
                    ToolCallFinished,
                    step=step,
                    call_id=call.id,
                    name=call.name,
                    outcome="not_run",
                    content=blocked[call.id],
                    attempts=0,
                )
        give_up: GiveUp | None = None
        if calls:
            det = st.result_check
            if det is not None:
                st.result_check = None
                give_up = detected(r, det)
            check_warnings(r)
        return give_up

    async def _one(
        self, r: Run, step: int, call: ToolCall, starts: dict[str, ToolCallStarted] | None
    ) -> None:
        """Run one call (or take its preset outcome) and journal its end at once."""
        try:
            out = self.preset.get(call.id)
            if out is None:
                tools = r.config.tools
                tool = tools.get(call.name)
                # The context is built only for a tool that takes one (no closure per call).
                make_ctx = (
                    partial(r.tool_context, step, call)
                    if tool is not None and tool.ctx_param is not None
                    else None
                )
                secrets = _secret_values(r, tool) if tool is not None and tool.secrets else None
                if isinstance(secrets, CallOutcome):
                    out = secrets
                else:
                    call_tool = run_tool_call(
                        tools,  # type: ignore[arg-type]
                        call,
                        make_ctx,
                        r.config.max_result_chars,
                        secrets,
                    )
                    left = r.state.tracker.seconds_left()
                    work = call_tool if left is None else _bounded(call_tool, call, left)
                    begun = starts.get(call.id) if starts else None
                    if begun is not None:  # an outlet (a tracer) gives a context for the call
                        with r.during(begun):
                            out = await work
                    else:
                        out = await work
            r.record(
                ToolCallFinished,
                step=step,
                call_id=call.id,
                name=call.name,
                outcome=out.outcome,
                content=out.content,
                truncated=out.truncated,
                attempts=out.attempts,
                duration_s=out.duration_s,
            )
        finally:  # charged by now if it ran: the hold ends with the charge, not later
            self.held -= 1
            r.state.tracker.release_tools()
        if r.outlets:
            await r.flush()  # a finished effect is durable before anything else


async def _bounded(
    call_tool: Coroutine[Any, Any, CallOutcome], call: ToolCall, left: float
) -> CallOutcome:
    """A tool call stopped when the run's wall-clock budget runs out (a sync tool's
    thread is abandoned then: Python cannot stop a thread; so is an async tool that
    does not end soon after it is cancelled)."""
    started = time.perf_counter()
    try:
        return await run_within(call_tool, left, f"tool call {call.name!r} ({call.id})")
    except CallExpired:
        return CallOutcome(
            "timeout",
            f"Tool {call.name!r} was stopped: the run's time budget ran out while it ran.",
            attempts=1,
            duration_s=time.perf_counter() - started,
        )


def _secret_values(r: Run, tool: Tool) -> dict[str, Any] | CallOutcome:
    """The values of a tool's secret parameters, from the run's deps or the environment;
    an error for the model (naming where to put them, never a value) when one is missing."""
    values: dict[str, Any] = {}
    for param in tool.secrets:
        value = param.value(r.deps)
        if value is None:
            return CallOutcome(
                "error",
                f"Tool {tool.name!r} cannot run: its secret parameter {param.name!r} has no "
                f"value (tether looks for it in {param.where()}). Do not retry it; say so.",
                attempts=0,
            )
        text = plain(value)
        if text is not None:
            r.add_secret(text)
        values[param.name] = value
    return values


def _gate(r: Run, call: ToolCall) -> tuple[Literal["approve", "refuse"], str] | None:
    """Whether a call waits for a person (its tool, the approval policy or the injection
    policy says so) or is refused (the injection policy); None when it may run."""
    tool = r.config.tools.get(call.name)
    if tool is None:  # an unknown tool is answered with an error, nothing to approve
        return None
    policy = r.config.approval
    if tool.requires_approval or (policy is not None and policy(call)):
        return ("approve", "")
    return gate(r, call, tool) if tool.effects else None


async def _screen(
    r: Run,
    to_run: list[ToolCall],
    pending: list[ToolCall],
    blocked: dict[str, str],
    everything: Sequence[ToolCall],
) -> Finish | None:
    """The tool-call guardrails on the calls about to run or wait for a person, all at
    once: a redirected call is answered without running; a guardrail that ends the run
    answers every open call unrun."""
    st = r.state
    calls = [c for c in (*to_run, *pending) if c.id not in blocked and c.id not in st.started]
    guards = r.config.guardrails.tool_call
    verdicts = await asyncio.gather(*(check_all(r, guards, c, c.id) for c in calls))
    end: Finish | None = None
    for call, tripped in zip(calls, verdicts, strict=True):
        if tripped is None:
            continue
        g, t = tripped
        if t.action == "redirect":
            blocked[call.id] = f"Not run: the guardrail {g.name!r} refused this call: {t.reason}"
            if call in pending:
                pending.remove(call)
                to_run.append(call)
        elif end is None:
            end = guardrail_end(g.name, t.reason, f"the call {call.name} ({call.id})")
    if end is not None:
        answer_unrun(r, everything, f"Not run: {end.reason.message}")
    return end


def suspend(r: Run, calls: list[ToolCall], why: Literal["approval", "in_doubt"]) -> Finish:
    """Stop the run for a person to decide on some calls (all in the journal)."""
    r.record(ApprovalRequested, step=r.state.step, calls=list(calls), reason=why)
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


async def drive(r: Run, start: Node | Finish) -> Finish:
    """Run the state machine from ``start`` to the end.

    What a node recorded is flushed to every outlet before the next node starts.
    """
    node: Node | Finish = start
    del start  # the first node is not kept alive for the whole run
    while not isinstance(node, Finish):
        node = await node.run(r)
        if r.outlets:  # no outlet, nothing to flush: no coroutine per node
            await r.flush()
    return node
