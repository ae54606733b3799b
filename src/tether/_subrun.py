"""Agents working together: an agent as another's tool, and handoffs.

Both run the other agent as a *sub-run*: its own run (journaled, with a store), linked
to the calling run (its parent run and tool call), charged to the caller's budget
while it runs. A sub-run's id comes from the calling tool call's idempotency key, so
a caller resumed after a crash finds the sub-run it had started: a finished one is
not run again, one in flight is resumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic_core import to_json, to_jsonable_python

from ._errors import ConfigError, SubRunFailed
from ._events import HandedOff, LoopDetected, Reason, RunStatus, SubRunEnded
from ._messages import AssistantMessage, Message, SystemMessage, ToolResultMessage, UserMessage
from ._scope import current_scope
from ._usage import Budget, Usage
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
    """``agent`` as a tool: the model gives it a task, it answers (see :meth:`Agent.as_tool`)."""

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
            included), ``"summary"`` (a summary written by the calling run's model),
            ``"none"`` (only the handoff's message), or a function of the
            conversation (without the system message) that returns the turns to pass.
        name: the tool's name (``transfer_to_<agent name>`` by default).
        description: when to hand over, for the model.
    """

    agent: SubAgent
    context: HandoffContext = "full"
    name: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
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


async def _context_for(run: Run | None, handoff: Handoff, call_id: str) -> Continuation:
    chain = tuple(run.state.handoffs) if run is not None else ()
    mine = run.config.agent_name if run is not None else ""
    handoffs = (*chain, mine)
    if run is None or handoff.context == "none":
        return Continuation(None, [], None, 0, handoffs)
    turns = _passed_on(run.state.messages, call_id)
    if callable(handoff.context):
        kept = list(handoff.context(list(turns)))
        for m in kept:
            if not isinstance(m, UserMessage | AssistantMessage | ToolResultMessage):
                raise ConfigError(f"a handoff's context function returned {m!r}")
        return Continuation(None, kept, None, 0, handoffs)  # type: ignore[arg-type]
    if handoff.context == "summary":
        text, _, _ = await summarise(run.model, run.state.summary, turns)
        return Continuation(None, [], text, 0, handoffs)
    return Continuation(None, turns, run.state.summary, 0, handoffs)


def handoff_tool(handoff: Handoff) -> Tool:
    """The tool the model calls to hand the conversation over (see :class:`Handoff`)."""
    target = handoff.agent
    name = tool_name(handoff.name, f"transfer_to_{target.name}")
    description = handoff.description or (
        f"Hand the conversation over to the {target.name} agent"
        + (f" ({target.instructions.strip()[:200]})" if target.instructions.strip() else "")
        + "; it answers the user from then on."
    )

    async def call(ctx: RunContext[Any], message: str) -> str:
        run = _calling_run()
        earlier = await _context_for(run, handoff, ctx.tool_call_id)
        if run is not None and target.name in earlier.handoffs:
            return _refuse_loop(run, [*earlier.handoffs, target.name])
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
