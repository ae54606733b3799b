"""Agents working together: an agent as another's tool, and handoffs.

Both run the other agent as a *sub-run*: its own run (journaled, with a store), linked
to the calling run (its parent run and tool call), charged to the caller's budget
while it runs. A sub-run's id comes from the calling tool call's idempotency key, so
a caller resumed after a crash finds the sub-run it had started: a finished one is
not run again, one in flight is resumed.

A handoff ends the calling run with the other agent's answer, so a run hands over at
most once: the first handoff call of a model turn is the one taken, and any other in
the same turn is answered with an error telling the model so. A handoff's summary
(``Handoff(context="summary")``) is a model call of the calling run: checked against
its budget, journaled and charged like its other calls, and read back from the
journal on a resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic_core import to_json, to_jsonable_python

from ._errors import ConfigError, SubRunFailed, UsageError
from ._events import (
    HandedOff,
    LoopDetected,
    ModelRequested,
    ModelResponded,
    Reason,
    RunStatus,
    SubRunEnded,
)
from ._messages import (
    AssistantMessage,
    Message,
    ModelResponse,
    SystemMessage,
    ToolResultMessage,
    UserMessage,
)
from ._scope import current_scope
from ._usage import Budget, Usage
from .models import ModelParams, WrapperModel
from .run import Run, summarise, valid_sequence
from .tools import RunContext, Tool

__all__ = [
    "Continuation",
    "Gate",
    "Handoff",
    "HandoffContext",
    "SubAgent",
    "SubResult",
    "agent_tool",
    "handoff_tool",
    "render_output",
    "sub_run_id",
    "tool_name",
]

HandoffContext = Literal["full", "summary", "none"] | Callable[[list[Message]], list[Message]]
"""How much of the conversation a handoff passes on: all of it, a summary, nothing
but the message, or what your function keeps."""

Turn = UserMessage | AssistantMessage | ToolResultMessage


@dataclass(frozen=True, slots=True)
class Continuation:
    """The conversation a run continues: a stored session's, or a history given."""

    session: str | None
    turns: list[Turn] = field(default_factory=list)
    summary: str | None = None
    summarized: int = 0
    handoffs: tuple[str, ...] = ()
    untrusted: tuple[str, ...] = ()
    """The caller's untrusted tool output that came before this run's prompt was written
    (a sub-agent's task): the prompt is then untrusted content too."""


class SubResult(Protocol):
    """What a sub-run's result gives its caller."""

    run_id: str
    status: RunStatus
    output: Any
    reason: Reason
    usage: Usage


class SubAgent(Protocol):
    """What a calling run needs of an agent it runs as a sub-run."""

    name: str
    instructions: str

    async def _sub_run(
        self,
        prompt: str,
        ctx: RunContext[Any],
        *,
        budget: Budget | None = None,
        earlier: Continuation | None = None,
    ) -> SubResult:
        """Start, resume or read back the sub-run of the call ``ctx``."""
        ...


_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def tool_name(given: str | None, agent_name: str) -> str:
    """A tool's name: the one given (checked), or the agent's made into one (the
    characters providers refuse become ``_``)."""
    if given is None:
        return re.sub(r"[^A-Za-z0-9_-]", "_", agent_name)[:64] or "agent"
    if not isinstance(given, str) or not _TOOL_NAME.fullmatch(given):
        raise ConfigError(
            "a tool's name is 1 to 64 letters, digits, '_' or '-' (providers refuse "
            f"others), got {given!r}"
        )
    return given


def sub_run_id(ctx: RunContext[Any]) -> str:
    """The sub-run's id for a tool call: the calling run's time prefix (so ids still
    sort by time) and a digest of the call's idempotency key (the same after a resume)."""
    key = ctx.idempotency_key or f"{ctx.run_id}:{ctx.tool_call_id}"
    return ctx.run_id[:12] + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:16]


def _calling_run() -> Run | None:
    scope = current_scope()
    return scope if isinstance(scope, Run) else None


def render_output(output: Any) -> str:
    """A run's output as text for another model or a conversation: a string as it is,
    anything else (a pydantic model, a dataclass, a number) as JSON."""
    if isinstance(output, str):
        return output
    return to_json(output, fallback=str).decode()


def _jsonable(output: Any) -> Any:
    """The output as the journal can hold it (a pydantic model as its dict)."""
    return to_jsonable_python(output, fallback=str)


def _ended(run: Run | None, result: SubResult, call_id: str, agent: str) -> None:
    """Journal a sub-run's end in the calling run (once: a call run again after a
    crash finds it already there)."""
    if run is None or run.finished or result.run_id in run.state.sub_runs:
        return
    run.record(
        SubRunEnded,
        child_run_id=result.run_id,
        call_id=call_id,
        agent=agent,
        status=result.status,
        reason=result.reason,
        output=_jsonable(result.output),
        usage=result.usage,
    )


class Gate:
    """At most ``limit`` sub-runs at once per calling run (a supervisor's workers)."""

    def __init__(self, limit: int) -> None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ConfigError(f"max_concurrency must be an int >= 1, got {limit!r}")
        self.limit = limit
        self._open: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def enter(self, run_id: str) -> AsyncIterator[None]:
        """Hold one of the calling run's places while a sub-run goes."""
        sem, users = self._open.get(run_id) or (asyncio.Semaphore(self.limit), 0)
        self._open[run_id] = (sem, users + 1)
        try:
            async with sem:
                yield
        finally:
            sem, users = self._open[run_id]
            if users <= 1:
                del self._open[run_id]
            else:
                self._open[run_id] = (sem, users - 1)


def agent_tool(
    agent: SubAgent,
    name: str,
    description: str,
    budget: Budget | None = None,
    gate: Gate | None = None,
) -> Tool:
    """``agent`` as a tool: the model gives it a task, it answers (see :meth:`Agent.as_tool`).

    Raises:
        ConfigError: ``budget`` is not a :class:`~tether.Budget` or ``gate`` not a gate.
    """
    if budget is not None and not isinstance(budget, Budget):
        raise ConfigError(
            "as_tool(budget=...) is a tether.Budget that caps each sub-run lower than the "
            "agent's own budget, e.g. as_tool(budget=Budget(max_steps=5)), or None for "
            f"the agent's own budget alone; got {budget!r}"
        )
    if gate is not None and not isinstance(gate, Gate):
        raise ConfigError(
            "as_tool(gate=...) is a gate shared by several agent tools (a Supervisor "
            f"makes one from max_concurrency), or None for no bound; got {gate!r}"
        )

    async def call(ctx: RunContext[Any], task: str) -> str:
        if gate is None:
            result = await agent._sub_run(task, ctx, budget=budget)
        else:
            async with gate.enter(ctx.run_id):
                result = await agent._sub_run(task, ctx, budget=budget)
        _ended(_calling_run(), result, ctx.tool_call_id, agent.name)
        if result.status == "completed":
            return render_output(result.output)
        said = f" Its fallback answered: {render_output(result.output)}" if result.output else ""
        raise SubRunFailed(
            f"the agent {agent.name!r} did not finish ({result.status}: "
            f"{result.reason.message}).{said}",
            result.run_id,
            result.status,
            result.reason,
            result.output,
        )

    call.__doc__ = f"""{description}

    Args:
        task: what the agent should do, with everything it needs to know.
    """
    return Tool(call, name=name, description=description, idempotent=True)


@dataclass(frozen=True, slots=True)
class Handoff:
    """A handoff to another agent: the model calls ``transfer_to_<name>`` and that agent
    carries on with the conversation; its answer is the run's answer.

    Args:
        agent: the agent to hand over to.
        context: what it is given: ``"full"`` (the conversation so far, its summary
            included), ``"summary"`` (a summary written by the calling run's model, in
            a model call of that run: checked against its budget, journaled and
            charged; a plain digest of the conversation instead when the budget allows
            no more model calls or the run has notes waiting for its model's next
            turn), ``"none"`` (only the handoff's message), or a function of the
            conversation (without the system message) that returns the turns to pass.
        name: the tool's name (``transfer_to_<agent name>`` by default).
        description: when to hand over, for the model.

    Raises:
        ConfigError: ``agent`` is not an agent, or ``context`` is none of these.
    """

    agent: SubAgent
    context: HandoffContext = "full"
    name: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        agent = self.agent
        if not isinstance(getattr(agent, "name", None), str) or not callable(
            getattr(agent, "_sub_run", None)
        ):
            raise ConfigError(
                "Handoff's agent is the tether.Agent to hand the conversation to, e.g. "
                f"Handoff(billing_agent, context='summary'); got {agent!r}"
            )
        if not (callable(self.context) or self.context in ("full", "summary", "none")):
            raise ConfigError(
                "Handoff.context is 'full', 'summary', 'none' or a function of the "
                f"conversation, got {self.context!r}"
            )


def _passed_on(messages: Sequence[Message], call_id: str) -> list[Turn]:
    """The conversation up to the turn that hands over (that turn's text kept, its calls
    left out: they have no results yet)."""
    out: list[Turn] = []
    for m in messages:
        if isinstance(m, SystemMessage):
            continue
        if isinstance(m, AssistantMessage) and any(c.id == call_id for c in m.tool_calls):
            if m.text:
                out.append(AssistantMessage(m.text))
            break
        out.append(m)
    return out


SUMMARY_PURPOSE = "handoff_summary"
"""The purpose of the model call that writes a handoff's summary, in the journal."""


class _AskedByRun(WrapperModel):
    """The calling run's model, asked through the run (a handoff's summary): the call is
    checked against the run's budget, journaled and charged like the run's own calls,
    and a response already journaled for this turn (a resume) is read back, not asked
    for again.

    Raising here makes :func:`~tether.run.summarise` write a plain digest instead: when
    the budget allows no more model calls, and when orchestrator notes are pending (a
    model call joins them to the conversation, which would put them between this turn's
    tool calls and their results)."""

    def __init__(self, run: Run) -> None:
        super().__init__(run.model)
        self._run = run

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        run = self._run
        journaled = _journaled_summary(run)
        if journaled is not None:
            return journaled
        if run.state.notes:
            raise UsageError("notes are waiting for the model's next turn")
        if run.state.tracker.check("model") is not None:
            raise UsageError("the budget allows no more model calls")
        return await run.call_model(
            messages, params, purpose=SUMMARY_PURPOSE, model=_Unstreamed(self.model)
        )


class _Unstreamed(WrapperModel):
    """A model whose answers are not streamed: a summary is no text for the user."""

    async def stream(
        self, messages: Sequence[Message], params: ModelParams
    ) -> AsyncIterator[str | ModelResponse]:
        yield await self.model.request(messages, params)


def _journaled_summary(run: Run) -> ModelResponse | None:
    """The response of a summary call journaled in the run's current turn, if any (one
    handoff a turn: at most one). The nearest ``ModelRequested`` before a response is
    its request, whatever tool events came between."""
    step = run.state.step
    response: ModelResponded | None = None
    for e in reversed(run.events):
        if type(e) is ModelResponded:
            response = e
        elif type(e) is ModelRequested:
            if e.purpose == SUMMARY_PURPOSE and e.step == step and response is not None:
                return response.response
            if e.step < step or e.purpose == "turn":
                return None
            response = None
    return None


async def _context_for(
    run: Run | None, handoff: Handoff, call_id: str, chain: tuple[str, ...]
) -> Continuation:
    """The conversation the agent handed to continues (``chain``: the agents it was
    handed through, this run's own last)."""
    if run is None or handoff.context == "none":
        return Continuation(None, [], None, 0, chain)
    turns = _passed_on(run.state.messages, call_id)
    if callable(handoff.context):
        kept = list(handoff.context(list(turns)))
        for m in kept:
            if not isinstance(m, UserMessage | AssistantMessage | ToolResultMessage):
                raise ConfigError(f"a handoff's context function returned {m!r}")
        return Continuation(None, kept, None, 0, chain)  # type: ignore[arg-type]
    if handoff.context == "summary":
        left = run.state.tracker.seconds_left()
        text, _, _ = await summarise(
            _AskedByRun(run), run.state.summary, turns, in_time=left is None or left > 0
        )
        return Continuation(None, [], text, 0, chain)
    return Continuation(None, turns, run.state.summary, 0, chain)


_HANDOFF_CALLS: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()
"""The functions of handoff tools, to tell a turn's handoff calls among its calls."""


def _earlier_handoff(run: Run, call_id: str) -> str | None:
    """The tool name of a handoff call that comes before ``call_id`` in the run's
    current turn, if one does."""
    tools = run.config.tools
    for c in run.state.batch:
        if c.id == call_id:
            return None
        tool = tools.get(c.name)
        if tool is not None and tool.fn in _HANDOFF_CALLS:
            return c.name
    return None


def handoff_tool(handoff: Handoff) -> Tool:
    """The tool the model calls to hand the conversation over (see :class:`Handoff`).

    Only the first handoff call of a model turn hands over; a later one in the same
    turn is the call's error (the model is told), and its agent does not run.
    """
    target = handoff.agent
    name = tool_name(handoff.name, f"transfer_to_{target.name}")
    description = handoff.description or (
        f"Hand the conversation over to the {target.name} agent"
        + (f" ({target.instructions.strip()[:200]})" if target.instructions.strip() else "")
        + "; it answers the user from then on."
    )

    async def call(ctx: RunContext[Any], message: str) -> str:
        run = _calling_run()
        chain: tuple[str, ...] = ()
        if run is not None:
            first = _earlier_handoff(run, ctx.tool_call_id)
            if first is not None:
                raise UsageError(
                    f"not handed over: one handoff per turn, and this turn already hands "
                    f"the conversation over with {first}, whose agent answers the user."
                )
            chain = (*run.state.handoffs, run.config.agent_name)
            if target.name in chain:
                return _refuse_loop(run, [*chain, target.name])
        earlier = await _context_for(run, handoff, ctx.tool_call_id, chain)
        why = valid_sequence([SystemMessage(""), *earlier.turns, UserMessage(message)])
        if why is not None:  # a context function's turns that providers would refuse
            raise ConfigError(f"the handoff's context would be refused by providers ({why})")
        child = sub_run_id(ctx)
        if run is not None and run.state.handing_to != child and not run.finished:
            run.record(
                HandedOff,
                call_id=ctx.tool_call_id,
                agent=target.name,
                child_run_id=child,
                context=handoff.context if isinstance(handoff.context, str) else "filtered",
            )
        result = await target._sub_run(message, ctx, earlier=earlier)
        _ended(run, result, ctx.tool_call_id, target.name)
        if result.output is not None:
            return render_output(result.output)
        return f"({result.status}: {result.reason.message})"

    call.__doc__ = f"""{description}

    Args:
        message: what the next agent should do now, in a sentence or two.
    """
    _HANDOFF_CALLS.add(call)
    return Tool(call, name=name, description=description, idempotent=True)


def _refuse_loop(run: Run, chain: list[str]) -> str:
    """A handoff back to an agent already in the chain: a loop, corrected once, then
    given up on like any other loop."""
    path = " -> ".join(chain)
    st = run.state
    action = "correct" if st.corrections < run.config.loop_policy.max_corrections else "give_up"
    run.record(LoopDetected, loop="handoff", detail=f"handoff cycle: {path}", action=action)
    return (
        f"Not handed over: {path} goes round in a circle. Answer the user yourself with "
        "what you know, or use your other tools."
    )
