"""Fallback strategies: what a run does when it has to give up.

A run that reaches a budget limit, or that keeps looping after a correction,
never throws its work away: it runs its agent's fallback and ends with
``status="gave_up"``, the fallback's output and a reason naming the cause.

* :class:`FinalAnswer` (the default): one last model call without tools that asks
  for the best answer from what is known; it may use another, cheaper model.
* :class:`AgentFallback`: hand the task and what is known to a simpler agent.
* :class:`StaticAnswer`: a fixed answer.
* any function ``fn(ctx) -> output`` (sync or async), given a :class:`FallbackContext`.
"""

from __future__ import annotations

import inspect
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tether._errors import ConfigError
from tether._events import Reason
from tether._messages import JSON_DECODE_ERRORS, Message, ToolResultMessage, UserMessage
from tether._usage import Usage
from tether.models import Model

__all__ = [
    "AgentFallback",
    "Fallback",
    "FallbackContext",
    "FinalAnswer",
    "FunctionFallback",
    "StaticAnswer",
    "as_fallback",
    "echoes",
    "written_call",
]


@dataclass(slots=True)
class FallbackContext:
    """What a fallback knows about the run that gave up.

    Attributes:
        prompt: the user's prompt.
        reason: why the run gave up.
        messages: the conversation so far (tool-call pairs intact).
        deps: the user's dependencies.
    """

    prompt: str
    reason: Reason
    messages: list[Message]
    deps: Any
    _ask: Callable[[list[Message], Model | None], Awaitable[tuple[str, Any, bool]]]
    _charge: Callable[[Usage], None]

    def tool_results(self) -> list[ToolResultMessage]:
        """The tool results the run obtained, in order."""
        return [m for m in self.messages if isinstance(m, ToolResultMessage)]

    def known_facts(self, limit: int = 20) -> str:
        """The last successful tool results as lines of text, for a prompt."""
        results = [m for m in self.tool_results() if not m.is_error][-limit:]
        return "\n".join(f"- {m.name}: {m.content[:500]}" for m in results)

    async def ask_model(
        self, messages: list[Message], model: Model | None = None
    ) -> tuple[str, Any, bool]:
        """One model call without tools, journaled and charged to the run.

        Returns:
            the answer's text, the parsed output (or None) and whether it was valid.
        """
        return await self._ask(messages, model)

    def charge(self, usage: Usage) -> None:
        """Add usage spent outside the run (another agent's) to the run's budget."""
        self._charge(usage)


class Fallback(ABC):
    """A strategy a run falls back on when it gives up."""

    name: str = "fallback"

    @abstractmethod
    async def run(self, ctx: FallbackContext) -> Any:
        """Produce the run's output from what is known (None if there is none)."""


_FINAL_PROMPT = (
    "The run must stop now: {reason} Do not call any tool. Give your best final answer to "
    "the task from what you know so far; if something is missing, say what."
)


class FinalAnswer(Fallback):
    """One last model call without tools, asking for the best answer from what is known.

    Args:
        model: the model to ask; the agent's own model by default (give a cheaper one here).
        prompt: the message that asks for the answer; ``{reason}`` is replaced by
            the reason the run stopped. Nothing else is filled in: other braces (a JSON
            example of the answer) are sent as written.
    """

    name = "final_answer"

    def __init__(self, model: Model | None = None, prompt: str = _FINAL_PROMPT) -> None:
        self.model = model
        self.prompt = prompt

    async def run(self, ctx: FallbackContext) -> Any:
        """Ask once, without tools."""
        # Not str.format: a prompt may show the answer's JSON, braces and all.
        asked = self.prompt.replace("{reason}", ctx.reason.message)
        messages = [*ctx.messages, UserMessage(asked)]
        text, value, ok = await ctx.ask_model(messages, self.model)
        if not text.strip() or written_call(text):  # tool calls, native or as text
            return None
        if echoes(text, asked):  # the instruction copied back is no answer
            return None
        # An answer that fails the output type is not passed off as output; its text
        # stays in the journal (the ModelResponded event).
        return value if ok else None


def echoes(text: str, asked: str) -> bool:
    """True when an answer only copies the message that asked for it, or a sentence of
    it ("The run must stop now: the steps budget is used up."), as small models do."""
    answer = " ".join(text.split()).strip(" .\"'").casefold()
    return len(answer) >= 12 and answer in " ".join(asked.split()).casefold()


def written_call(text: str) -> bool:
    """True when an answer is a tool call written out as JSON (``{"name": ...,
    "arguments": ...}``), which small models write even when told no tool is left;
    also several such calls one after another, the last one maybe cut off."""
    decoder = json.JSONDecoder()
    rest, calls = text.strip(), 0
    while rest:
        try:
            value, end = decoder.raw_decode(rest)
        except JSON_DECODE_ERRORS:  # cut off (or nested too deep): a call if it began as one
            return calls > 0 and re.match(r"""\{\s*"name"\s*:""", rest) is not None
        if not _is_call(value):
            return False
        calls += 1
        rest = rest[end:].strip()
    return calls > 0


def _is_call(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("name"), str)
        and ("arguments" in value or "parameters" in value)
    )


class StaticAnswer(Fallback):
    """A fixed answer, with no model call."""

    name = "static_answer"

    def __init__(self, output: Any) -> None:
        self.output = output

    async def run(self, ctx: FallbackContext) -> Any:
        """Return the fixed answer."""
        return self.output


class _Result(Protocol):
    output: Any
    usage: Usage


class SubAgent(Protocol):
    """What :class:`AgentFallback` needs of an agent: a name and an async ``run``."""

    name: str

    async def run(self, prompt: str, *, deps: Any = None) -> Any:
        """Run on a prompt; the result has ``output`` and ``usage``."""
        ...


class AgentFallback(Fallback):
    """Hand the task, and what the run found, to another (simpler) agent.

    The other agent runs with its own budget; its usage is added to this run's.
    """

    name = "agent"

    def __init__(self, agent: SubAgent) -> None:
        self.agent = agent
        self.name = f"agent:{agent.name}"

    async def run(self, ctx: FallbackContext) -> Any:
        """Run the other agent on the prompt and the known facts."""
        facts = ctx.known_facts()
        prompt = ctx.prompt if not facts else f"{ctx.prompt}\n\nKnown so far:\n{facts}"
        result = await self.agent.run(prompt, deps=ctx.deps)
        ctx.charge(result.usage)
        return result.output


class FunctionFallback(Fallback):
    """A fallback given as a function ``fn(ctx)``, sync or async."""

    def __init__(self, fn: Callable[[FallbackContext], Any]) -> None:
        self.fn = fn
        self.name = f"function:{getattr(fn, '__name__', 'fallback')}"

    async def run(self, ctx: FallbackContext) -> Any:
        """Call the function."""
        out = self.fn(ctx)
        if inspect.isawaitable(out):
            out = await out
        return out


def as_fallback(
    value: Fallback | SubAgent | Callable[[FallbackContext], Any | Awaitable[Any]] | None,
) -> Fallback:
    """The fallback strategy for an agent's ``fallback=`` argument: a fallback as it is,
    an agent (anything with ``run`` and ``run_sync``) as :class:`AgentFallback`, or a
    function as :class:`FunctionFallback`; :class:`FinalAnswer` when None.

    Raises:
        ConfigError: the value is none of these (checked here, not when the run gives up).
    """
    if value is None:
        return FinalAnswer()
    if isinstance(value, Fallback):
        return value
    if hasattr(value, "run") and hasattr(value, "run_sync"):
        return AgentFallback(value)  # type: ignore[arg-type]
    _check_function(value)
    return FunctionFallback(value)  # type: ignore[arg-type]


_KINDS = (
    "a Fallback (FinalAnswer(), StaticAnswer(output), AgentFallback(agent)), another "
    "Agent, a function fn(ctx) -> output (sync or async), or None for FinalAnswer()"
)


def _check_function(value: object) -> None:
    """Refuse a ``fallback=`` value that cannot be called as ``fn(ctx)``.

    Raises:
        ConfigError: it is not callable, is a fallback class rather than an instance,
            or cannot take the one argument ``ctx``.
    """
    if isinstance(value, type) and issubclass(value, Fallback):
        raise ConfigError(
            f"fallback={value.__name__} is the class: pass an instance, e.g. "
            f"fallback={value.__name__}(...)"
        )
    if not callable(value):
        raise ConfigError(f"fallback must be {_KINDS}; got {value!r}")
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):  # no signature to read (some builtins): trust it
        return
    try:
        signature.bind(None)
    except TypeError as exc:
        raise ConfigError(
            f"fallback={getattr(value, '__name__', value)!r} cannot be called as fn(ctx) "
            f"({exc}); fallback must be {_KINDS}"
        ) from None
