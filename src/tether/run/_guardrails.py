"""Guardrails: checks on a run's input, its tool calls and its final answer.

A guardrail is a plain function (sync or async) or an agent. It looks at one thing
and either lets it pass or trips:

* an **input** guardrail sees the prompt. It runs at the same time as the run's
  first model call; when it trips, that call is cancelled and no tool has run.
* a **tool-call** guardrail sees each :class:`~tether.ToolCall` before it runs
  (every call of a turn at once).
* an **output** guardrail sees the validated final answer before the run completes,
  and the answer of a run that gave up (its fallback's) before it ends.

A tripped guardrail either **ends** the run (status ``failed``, reason
``guardrail_tripped``) or **redirects** it: the tool call is not run and the model is
told why, or the final answer is asked for again (at most ``output_retries`` times).
Every check is journaled as a :class:`~tether.events.GuardrailChecked` event, so a
resumed run does not check its input twice and a trace shows what was stopped.

A guardrail that raises trips (it fails closed) with the error as its reason; so does
one that tries to exit the process (``SystemExit``). A ``KeyboardInterrupt`` (Ctrl-C)
and the run's own cancellation still stop the run.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, overload

from pydantic import BaseModel

from tether._errors import ConfigError
from tether._events import GuardrailStage
from tether._messages import ToolCall

__all__ = [
    "Guardrail",
    "GuardrailSet",
    "InjectionPolicy",
    "Tripped",
    "Verdict",
    "input_guardrail",
    "output_guardrail",
    "tool_guardrail",
]

TripAction = Literal["end", "redirect"]


@dataclass(frozen=True, slots=True)
class Tripped:
    """What a guardrail returns to stop something.

    Args:
        reason: why, in one sentence (journaled, and shown to the model on a redirect).
        action: ``"end"`` or ``"redirect"``; None takes the guardrail's own.
    """

    reason: str
    action: TripAction | None = None


class Verdict(BaseModel):
    """The output type of an agent used as a guardrail: did it trip, and why."""

    tripped: bool
    reason: str = ""


class _Runs(Protocol):
    """An agent, as a guardrail sees it: something that runs a prompt."""

    name: str

    async def run(self, prompt: str) -> Any: ...


GuardFn = Callable[[Any], Any]


class Guardrail:
    """A check on a run's input, its tool calls or its final answer.

    Args:
        fn: a function (sync or async) of the thing checked: the prompt (``str``) for
            ``input``, the validated output for ``output``, a :class:`~tether.ToolCall`
            for ``tool_call`` (its ``arguments`` a dict when the model's arguments are a
            JSON object, else the raw text the model wrote). It returns None or False to
            let it pass; True, a reason (``str``) or a :class:`Tripped` to trip; when it
            raises, it trips (``SystemExit`` too; a ``KeyboardInterrupt`` is not caught).
            A sync function runs on the event loop: keep it fast, or make it async.
        stage: ``"input"``, ``"output"`` or ``"tool_call"``.
        name: the name in the journal; the function's name by default.
        action: what a trip does: ``"end"`` the run (default) or ``"redirect"`` it (a
            tool call is not run and the model is told why; a final answer is asked
            for again). An input guardrail can only end the run.
    """

    def __init__(
        self,
        fn: GuardFn,
        *,
        stage: GuardrailStage,
        name: str | None = None,
        action: TripAction = "end",
    ) -> None:
        if not callable(fn):
            raise ConfigError(f"a guardrail must be a function, got {fn!r}")
        if stage not in ("input", "output", "tool_call"):
            raise ConfigError(
                f"guardrail stage must be 'input', 'output' or 'tool_call', got {stage!r}"
            )
        if action not in ("end", "redirect"):
            raise ConfigError(f"guardrail action must be 'end' or 'redirect', got {action!r}")
        if stage == "input" and action == "redirect":
            raise ConfigError(
                "an input guardrail can only end the run (action='end'): there is nothing "
                "to redirect before the model has said anything"
            )
        self.fn = fn
        self.stage: GuardrailStage = stage
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__
        self.action: TripAction = action

    @classmethod
    def from_agent(
        cls,
        agent: _Runs,
        *,
        stage: GuardrailStage,
        name: str | None = None,
        action: TripAction = "end",
    ) -> Guardrail:
        """A guardrail that asks an agent: the agent is run with the thing checked as its
        prompt (a tool call as ``name({"arg": ...})``, an output as JSON when it is not
        text) and trips when its output is True or a :class:`Verdict` with ``tripped``.
        A guardrail agent that does not complete trips (it fails closed).
        """

        async def ask(value: Any) -> Tripped | None:
            result = await agent.run(_as_text(value))
            if not getattr(result, "completed", False):
                reason = getattr(getattr(result, "reason", None), "message", "it did not finish")
                return Tripped(f"the guardrail agent {agent.name!r} did not answer: {reason}")
            out = result.output
            if isinstance(out, Verdict):
                return Tripped(out.reason or f"{agent.name} said no") if out.tripped else None
            if isinstance(out, bool):
                return Tripped(f"{agent.name} said no") if out else None
            raise ConfigError(
                f"a guardrail agent's output_type must be bool or tether.Verdict, "
                f"got {type(out).__name__}"
            )

        return cls(ask, stage=stage, name=name or agent.name, action=action)

    async def check(self, value: Any) -> Tripped | None:
        """Run the check; None when it passes."""
        try:
            got = self.fn(value)
            if inspect.isawaitable(got):
                got = await got
        except Exception as exc:  # a broken guardrail must not let things through
            return self._failed(exc)
        except BaseException as exc:  # SystemExit, GeneratorExit, a CancelledError of its own
            if isinstance(exc, KeyboardInterrupt) or _cancelled(exc):
                raise  # the user's Ctrl-C, or the run being cancelled
            return self._failed(exc)
        if got is None or got is False:
            return None
        if got is True:
            return Tripped(f"the guardrail {self.name!r} tripped")
        if isinstance(got, str):
            return Tripped(got or f"the guardrail {self.name!r} tripped")
        if isinstance(got, Tripped):
            return got
        return Tripped(
            f"the guardrail {self.name!r} returned {type(got).__name__}; a guardrail returns "
            "None or False to pass, True, a reason or a Tripped to trip"
        )

    def _failed(self, exc: BaseException) -> Tripped:
        return Tripped(f"the guardrail {self.name!r} failed: {type(exc).__name__}: {exc}")

    def __repr__(self) -> str:
        return f"Guardrail({self.name!r}, stage={self.stage!r}, action={self.action!r})"


def _cancelled(exc: BaseException) -> bool:
    """Whether ``exc`` is the cancellation of the task checking (a CancelledError that a
    guardrail raised of its own accord is only its failure)."""
    if not isinstance(exc, asyncio.CancelledError):
        return False
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, ToolCall):
        args = json.dumps(value.arguments, ensure_ascii=False, default=str)
        return f"{value.name}({args})"
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value, ensure_ascii=False, default=str)


def _decorator(
    stage: GuardrailStage,
) -> Any:
    @overload
    def make(fn: GuardFn, /) -> Guardrail: ...
    @overload
    def make(
        *, name: str | None = None, action: TripAction = "end"
    ) -> Callable[[GuardFn], Guardrail]: ...
    def make(
        fn: GuardFn | None = None, /, *, name: str | None = None, action: TripAction = "end"
    ) -> Guardrail | Callable[[GuardFn], Guardrail]:
        if fn is not None:
            return Guardrail(fn, stage=stage, name=name, action=action)
        return lambda f: Guardrail(f, stage=stage, name=name, action=action)

    make.__name__ = f"{stage}_guardrail"
    make.__doc__ = (
        f"Make a function a {stage.replace('_', '-')} guardrail: ``@{stage}_guardrail`` or "
        f"``@{stage}_guardrail(name=..., action=...)`` (see :class:`Guardrail`)."
    )
    return make


input_guardrail: Callable[..., Any] = _decorator("input")
output_guardrail: Callable[..., Any] = _decorator("output")
tool_guardrail: Callable[..., Any] = _decorator("tool_call")


@dataclass(frozen=True, slots=True)
class GuardrailSet:
    """An agent's guardrails, by stage."""

    input: tuple[Guardrail, ...] = ()
    output: tuple[Guardrail, ...] = ()
    tool_call: tuple[Guardrail, ...] = ()

    @classmethod
    def of(cls, guardrails: Sequence[Guardrail]) -> GuardrailSet:
        """Sort guardrails by stage; names must be unique."""
        seen: set[str] = set()
        for g in guardrails:
            if not isinstance(g, Guardrail):
                raise ConfigError(
                    f"guardrails must be tether.Guardrail objects (use @input_guardrail, "
                    f"@output_guardrail or @tool_guardrail), got {g!r}"
                )
            if g.name in seen:
                raise ConfigError(f"two guardrails are named {g.name!r}; give one another name")
            seen.add(g.name)
        return cls(
            tuple(g for g in guardrails if g.stage == "input"),
            tuple(g for g in guardrails if g.stage == "output"),
            tuple(g for g in guardrails if g.stage == "tool_call"),
        )


@dataclass(frozen=True, slots=True)
class InjectionPolicy:
    """How high-risk tool calls are treated once tool output is in the conversation.

    Args:
        rule: ``"context"`` (any untrusted content since the user's request), or
            ``"arguments"`` (a call's argument value comes from untrusted content), or
            ``"off"``.
        action: ``"approve"`` (the call waits for a person: the run ends
            ``interrupted`` with it pending) or ``"refuse"`` (the call is not run and
            the model is told why).
    """

    rule: Literal["context", "arguments", "off"] = "context"
    action: Literal["approve", "refuse"] = "approve"

    def __post_init__(self) -> None:
        if self.rule not in ("context", "arguments", "off"):
            raise ConfigError(
                f"InjectionPolicy.rule must be 'context', 'arguments' or 'off', got {self.rule!r}"
            )
        if self.action not in ("approve", "refuse"):
            raise ConfigError(
                f"InjectionPolicy.action must be 'approve' or 'refuse', got {self.action!r}"
            )
