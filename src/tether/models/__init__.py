"""The model interface, prices, and model names.

A :class:`Model` turns a message history into a :class:`~tether.ModelResponse`.
Providers (OpenAI-compatible servers, Anthropic, the embedded local model) and
the testing fakes (:mod:`tether.testing`) implement it; cross-cutting behaviour
(retries, fallback chains, recording) wraps a model in another model.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from tether._errors import ConfigError, ModelRequestsBlocked
from tether._messages import Message, ModelResponse, TokenUsage
from tether._tools import ToolDefinition

if TYPE_CHECKING:
    from tether._loop import RunState

_current_run: ContextVar[RunState | None] = ContextVar("tether_current_run", default=None)

__all__ = [
    "PRICES_AS_OF",
    "CircuitBreaker",
    "FallbackModel",
    "Model",
    "ModelParams",
    "Price",
    "RecordingModel",
    "ReplayModel",
    "RetryingModel",
    "allow_model_requests",
    "check_allow_model_requests",
    "current_run",
    "known_model_names",
    "price_for",
    "register_model",
    "register_price",
    "resolve_model",
]


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens."""

    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None

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


def current_run() -> RunState | None:
    """The state of the run calling the model now, if any (for wrappers: events, budget).

    A wrapper model journals what it does with ``current_run().record(EventType, ...)``
    and reads the run's usage from ``current_run().tracker``.
    """
    return _current_run.get()


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


_REGISTRY: dict[str, Callable[[str], Model]] = {}


def register_model(prefix: str, factory: Callable[[str], Model]) -> None:
    """Make ``prefix`` or ``prefix:NAME`` usable as a model name (``--model`` in the CLI)."""
    _REGISTRY[prefix] = factory


def _needs_extra(extra: str, exc: ImportError) -> ConfigError:
    return ConfigError(
        f"this model needs the {extra!r} extra ({exc.name or exc} is not installed); "
        f"install it with: pip install 'tether[{extra}]'"
    )


def _openai(name: str) -> Model:
    try:
        from tether.models.openai import OpenAIModel
    except ImportError as exc:
        raise _needs_extra("openai", exc) from exc
    if not name:
        raise ConfigError("name the model after the prefix, e.g. 'openai:gpt-4o-mini'")
    return OpenAIModel(name)


def _anthropic(name: str) -> Model:
    try:
        from tether.models.anthropic import AnthropicModel
    except ImportError as exc:
        raise _needs_extra("anthropic", exc) from exc
    if not name:
        raise ConfigError("name the model after the prefix, e.g. 'anthropic:claude-sonnet-4-6'")
    return AnthropicModel(name)


def _local(name: str) -> Model:
    try:
        from tether.models.local import LocalModel
    except ImportError as exc:
        raise _needs_extra("local", exc) from exc
    return LocalModel()


_BUILTIN: dict[str, Callable[[str], Model]] = {
    "openai": _openai,
    "anthropic": _anthropic,
    "local": _local,
}


def known_model_names() -> list[str]:
    """The model names and prefixes this installation knows."""
    from tether import _demo  # registers the demo model

    del _demo
    for prefix, factory in _BUILTIN.items():
        _REGISTRY.setdefault(prefix, factory)
    return sorted(_REGISTRY)


def resolve_model(model: Model | str) -> Model:
    """A model instance from an instance or a name such as ``"demo"``.

    Raises:
        ConfigError: the name is unknown; the message lists the known names.
    """
    if isinstance(model, Model):
        return model
    known = known_model_names()
    prefix, _, rest = model.partition(":")
    factory = _REGISTRY.get(prefix)
    if factory is None:
        raise ConfigError(
            f"unknown model {model!r}; known model names: {', '.join(known)}. "
            "Use one of these names (in Python, a tether.models.Model instance works too)."
        )
    return factory(rest)


# Wrappers import Model from this module, so they come last.
from tether.models._cassette import RecordingModel, ReplayModel  # noqa: E402
from tether.models._chain import FallbackModel  # noqa: E402
from tether.models._prices import PRICES_AS_OF, price_for, register_price  # noqa: E402
from tether.models._retry import CircuitBreaker, RetryingModel  # noqa: E402
