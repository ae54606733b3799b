"""The model interface, prices, and model names.

A :class:`Model` turns a message history into a :class:`~tether.ModelResponse`.
Providers (OpenAI-compatible servers, Anthropic, the embedded local model) and
the testing fakes (:mod:`tether.testing`) implement it; cross-cutting behaviour
(retries, fallback chains, recording) wraps a model in another model.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import warnings
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeGuard

from tether._errors import ConfigError, ModelRequestsBlocked
from tether._messages import Message, ModelResponse, TokenUsage, ToolDefinition
from tether._scope import RunScope, current_scope

__all__ = [
    "Model",
    "ModelParams",
    "Price",
    "WrapperModel",
    "allow_model_requests",
    "check_allow_model_requests",
    "current_run",
]


def is_whole(value: object) -> TypeGuard[int]:
    """An int that is not a bool (``True`` is an int to Python, not a count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite(value: object) -> bool:
    """A real number that is finite as a float: not a bool, a string, NaN or infinity
    (nor an int too large to be a float, which would overflow the arithmetic later)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens.

    Each rate is a finite number of at least 0 (``Price(0, 0)`` for a free model);
    ``cached_input_per_mtok`` is None when cached input costs what fresh input does.

    Raises:
        ConfigError: a rate is not a real number (a bool, a string), is NaN or infinite,
            or is below 0. A NaN rate would make every cost NaN, which no cost budget
            ever stops; a negative one would give money back.
    """

    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None

    def __post_init__(self) -> None:
        for name in ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok"):
            value = getattr(self, name)
            if value is None and name == "cached_input_per_mtok":
                continue
            if not is_finite(value) or value < 0:
                raise ConfigError(
                    f"Price.{name} is US dollars per million tokens, a finite number of at "
                    f"least 0 (0 for a free model); got {value!r}"
                )

    def cost(self, usage: TokenUsage) -> float:
        """The cost of one call's usage, cached input tokens at the cached rate."""
        cached = min(usage.cached_input_tokens, usage.input_tokens)
        cached_rate = (
            self.input_per_mtok
            if self.cached_input_per_mtok is None
            else self.cached_input_per_mtok
        )
        return (
            (usage.input_tokens - cached) * self.input_per_mtok
            + cached * cached_rate
            + usage.output_tokens * self.output_per_mtok
        ) / 1e6


@dataclass(frozen=True, slots=True)
class ModelParams:
    """What a model call may use besides the messages.

    Args:
        tools: the tools the model may call (empty when tools are off).
        output_schema: JSON schema of the final answer, when it is not plain text.
        allow_tools: False for a call that must answer without tools (the fallback).
        tool_choice: ``"auto"`` (the model decides), ``"required"`` (it must call a
            tool), ``"none"``, or a tool's name (it must call that tool).
        json_schema: when set, the response text must be JSON matching this schema;
            models that support constrained decoding enforce it while generating.
    """

    tools: Sequence[ToolDefinition] = field(default_factory=tuple)
    output_schema: dict[str, Any] | None = None
    allow_tools: bool = True
    tool_choice: str = "auto"
    json_schema: dict[str, Any] | None = None


class Model(ABC):
    """A model: one ``request`` (and optionally ``stream``) over a message history.

    Attributes:
        name: the model's name, as journals and traces show it.
        price: its price per token, used to charge the run's cost budget.
        requires_network: True for models that call a server; such calls are
            refused while model requests are blocked (the test suite's default).
    """

    name: str = "model"
    price: Price | None = None
    requires_network: ClassVar[bool] = False

    def secret_values(self) -> frozenset[str]:
        """Values this model holds that must never be journaled (its API key): a run
        redacts them from every event, an error body that echoes the key included."""
        return frozenset()

    @property
    def preferred_strategy(self) -> str | None:
        """The orchestration strategy this model works best with, by name, or None.

        Plain data (``"tool_loop"``, ``"guided"``), resolved by the run layer: an
        :class:`~tether.Agent` without an explicit ``strategy=`` uses it. Small local
        models declare ``"guided"``; wrappers forward their inner model's choice.
        """
        return None

    @property
    def strategy_options(self) -> Mapping[str, Any]:
        """Settings of :attr:`preferred_strategy` measured best for this model (for the
        guided strategy: which of its techniques to switch off), or empty.

        Used only when the agent has no explicit ``strategy=``.
        """
        return {}

    @property
    def context_window(self) -> int | None:
        """The most tokens a request and its answer may hold together, when known.

        An agent on a model that knows its window keeps the conversation under it
        (working memory, :class:`~tether.WorkingMemory`) without being told.
        """
        return None

    def count_tokens(self, text: str) -> int | None:
        """The number of tokens ``text`` takes with this model's own tokenizer, or None
        when the model has none at hand (working memory then estimates, and corrects the
        estimate with the input tokens that responses report)."""
        return None

    async def aclose(self) -> None:
        """Close what the model holds open for the running event loop (an HTTP client's
        connections); nothing by default. ``Agent.run_sync`` calls it before its loop
        ends, so no client is left to a closed loop."""
        return None

    @abstractmethod
    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        """Answer the conversation so far."""

    async def stream(
        self, messages: Sequence[Message], params: ModelParams
    ) -> AsyncIterator[str | ModelResponse]:
        """Answer as a stream: text deltas, then the whole response last.

        The default makes one request and yields its text as a single delta.
        """
        response = await self.request(messages, params)
        if response.text:
            yield response.text
        yield response


def current_run() -> RunScope | None:
    """Deprecated: use :func:`tether.current_scope` (the run's narrow scope).

    Kept for one minor version; it returns the same scope, whose ``record`` and
    ``tracker`` are what wrappers used.
    """
    warnings.warn(
        "tether.models.current_run() is deprecated; use tether.current_scope()",
        DeprecationWarning,
        stacklevel=2,
    )
    return current_scope()


_allowed = True


def check_allow_model_requests() -> None:
    """Raise :class:`~tether.ModelRequestsBlocked` if network model calls are blocked."""
    if not _allowed:
        raise ModelRequestsBlocked(
            "model requests over the network are blocked here (tests block them by default); "
            "mark the test with @pytest.mark.allow_model_requests or use "
            "tether.models.allow_model_requests(True)"
        )


@contextlib.contextmanager
def allow_model_requests(allow: bool) -> Iterator[None]:
    """Allow or block calls of network models inside a ``with`` block."""
    global _allowed
    previous, _allowed = _allowed, allow
    try:
        yield
    finally:
        _allowed = previous


class WrapperModel(Model):
    """A model that wraps another and adds one concern (retries, recording, ...).

    It takes the inner model's name, price and preferred strategy, and passes
    ``request`` and ``stream`` through unless a subclass overrides them.
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self.name = model.name
        self.price = model.price

    @property
    def preferred_strategy(self) -> str | None:
        """The inner model's preferred strategy."""
        return self.model.preferred_strategy

    @property
    def strategy_options(self) -> Mapping[str, Any]:
        """The inner model's strategy options."""
        return self.model.strategy_options

    def secret_values(self) -> frozenset[str]:
        """The inner model's secret values."""
        return self.model.secret_values()

    @property
    def context_window(self) -> int | None:
        """The inner model's context window."""
        return self.model.context_window

    def count_tokens(self, text: str) -> int | None:
        """Counted with the inner model's tokenizer."""
        return self.model.count_tokens(text)

    async def aclose(self) -> None:
        """Close the inner model's connections."""
        await self.model.aclose()

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        """Ask the inner model."""
        return await self.model.request(messages, params)

    async def stream(
        self, messages: Sequence[Message], params: ModelParams
    ) -> AsyncIterator[str | ModelResponse]:
        """Stream from the inner model."""
        async for item in self.model.stream(messages, params):
            yield item
