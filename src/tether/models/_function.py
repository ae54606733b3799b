"""The fake models that :mod:`tether.testing` exports (see its docs): scripted replies
and a function of yours, in-process, with token estimates and word-by-word streams."""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import TypeAlias

from tether._errors import ConfigError, ScriptExhausted, UsageError
from tether._messages import (
    AssistantMessage,
    Message,
    ModelResponse,
    TokenUsage,
    ToolCall,
    ToolResultMessage,
)

from ._base import Model, ModelParams, Price, is_whole

__all__ = ["FunctionModel", "Reply", "ScriptedModel", "estimate_tokens"]

Reply: TypeAlias = str | ToolCall | list[ToolCall] | ModelResponse
"""What a fake model may answer: final text, one tool call, parallel calls, or a full response."""


def estimate_tokens(messages: Sequence[Message]) -> int:
    """A rough token count (four characters a token) for fakes that have no tokenizer."""
    chars = 0
    for m in messages:
        if isinstance(m, AssistantMessage):
            chars += len(m.text or "") + sum(len(c.name) + 20 for c in m.tool_calls)
        elif isinstance(m, ToolResultMessage):
            chars += len(m.content) + 8
        else:
            chars += len(m.content)
    return chars // 4 + 1


_REPLY_KINDS = "a str, a ToolCall, a list of ToolCall or a ModelResponse"


def _is_reply(value: object) -> bool:
    if isinstance(value, list):
        return all(isinstance(c, ToolCall) for c in value)
    return isinstance(value, str | ToolCall | ModelResponse)


def _to_response(
    reply: Reply, messages: Sequence[Message], name: str, *, held: bool = False
) -> ModelResponse:
    """The response a fake gives for ``reply``. A ``held`` response (one a script keeps,
    and may hold twice or a test may reuse) is copied with its calls: the run fills in
    usage, model and call ids, which must not stick to it. A function's own response is
    used as it is (it made it for this call)."""
    if isinstance(reply, ModelResponse):
        if held:
            u = reply.usage
            response = ModelResponse(
                reply.text,
                [ToolCall(c.name, c.arguments, c.id) for c in reply.tool_calls],
                TokenUsage(u.input_tokens, u.output_tokens, u.cached_input_tokens),
                reply.model,
                reply.cost_usd,
            )
        else:
            response = reply
    elif isinstance(reply, str):
        response = ModelResponse(text=reply)
    elif isinstance(reply, ToolCall):
        response = ModelResponse(tool_calls=[ToolCall(reply.name, reply.arguments, reply.id)])
    elif _is_reply(reply):  # a list of calls
        response = ModelResponse(tool_calls=[ToolCall(c.name, c.arguments, c.id) for c in reply])
    else:
        raise UsageError(f"a fake model's reply must be {_REPLY_KINDS}, got {reply!r}")
    if response.usage.input_tokens == 0 and response.usage.output_tokens == 0:
        out = len(response.text or "") // 4 + 10 * len(response.tool_calls) + 1
        response.usage = TokenUsage(estimate_tokens(messages), out)
    if not response.model:
        response.model = name
    return response


def _check_settings(kind: str, name: object, price: object, context_window: object) -> None:
    """The settings both fakes take, checked when the fake is made."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{kind}(name=...) is a non-empty str, got {name!r}")
    if price is not None and not isinstance(price, Price):
        raise ConfigError(
            f"{kind}(price=...) is a tether.models.Price or None, got {price!r}; write "
            "Price(input_per_mtok, output_per_mtok)"
        )
    if context_window is not None and (not is_whole(context_window) or context_window < 1):
        raise ConfigError(
            f"{kind}(context_window=...) is a number of tokens, a whole number of at least 1, "
            f"or None; got {context_window!r}"
        )


class _WordStreamingModel(Model):
    """A fake whose stream yields its answer's text word by word, as a provider's would."""

    window: int | None = None

    @property
    def context_window(self) -> int | None:
        """The window given as ``context_window=`` (none by default)."""
        return self.window

    async def stream(
        self, messages: Sequence[Message], params: ModelParams
    ) -> AsyncIterator[str | ModelResponse]:
        """Answer as :meth:`request` does; stream its text word by word, then the response."""
        response = await self.request(messages, params)
        if response.text:
            for piece in re.findall(r"\S+\s*|\s+", response.text):
                yield piece
        yield response


class ScriptedModel(_WordStreamingModel):
    """A model that answers with the given replies, in order, one per call.

    Args:
        replies: each a ``str`` (a final answer), a :class:`~tether.ToolCall`, a list
            of them (parallel calls) or a :class:`~tether.ModelResponse`. A call's
            ``arguments`` may be raw JSON text, malformed on purpose.
        name: the model name shown in events.
        price: a price per token, to test cost budgets.
        context_window: a context window in tokens, to test working memory.

    Attributes:
        requests: the message history of every call made, for assertions.

    Raises:
        ConfigError: ``replies`` is not a list (a str would be played one character a
            call), a reply is not of a kind above, or a setting is not of its kind.
    """

    def __init__(
        self,
        replies: Iterable[Reply],
        *,
        name: str = "scripted",
        price: Price | None = None,
        context_window: int | None = None,
    ) -> None:
        _check_settings("ScriptedModel", name, price, context_window)
        if isinstance(replies, str | bytes | ToolCall | ModelResponse) or not isinstance(
            replies, Iterable
        ):
            example = f"[{replies!r}]" if isinstance(replies, str) else "[reply]"
            raise ConfigError(
                f"ScriptedModel takes a list of replies, one per call, got {replies!r}; "
                f"a single reply goes in a list too: ScriptedModel({example})"
            )
        self._replies = list(replies)
        for i, reply in enumerate(self._replies):
            if not _is_reply(reply):
                raise ConfigError(
                    f"ScriptedModel's reply {i} must be {_REPLY_KINDS}, got {reply!r}"
                )
        self.window = context_window
        self._next = 0
        self.name = name
        self.price = price
        self.requests: list[list[Message]] = []
        self.params: list[ModelParams] = []

    @property
    def remaining(self) -> int:
        """Replies not yet served."""
        return len(self._replies) - self._next

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        """Serve the next reply."""
        self.requests.append(list(messages))
        self.params.append(params)
        if self._next >= len(self._replies):
            raise ScriptExhausted(
                f"ScriptedModel {self.name!r} has served all {len(self._replies)} replies "
                "and was asked for another; add replies to the script"
            )
        reply = self._replies[self._next]
        self._next += 1
        return _to_response(reply, messages, self.name, held=True)


ModelFunction: TypeAlias = Callable[[Sequence[Message], ModelParams], Reply | Awaitable[Reply]]


class FunctionModel(_WordStreamingModel):
    """A model whose answers come from your function.

    Args:
        fn: called with the message history and the call's :class:`ModelParams`
            (tools, output schema); returns a reply (see :data:`Reply`). It may be async.
        name: the model name shown in events.
        price: a price per token, to test cost budgets.
        context_window: a context window in tokens, to test working memory.

    Raises:
        ConfigError: ``fn`` is not callable, or a setting is not of its kind.
    """

    def __init__(
        self,
        fn: ModelFunction,
        *,
        name: str = "function",
        price: Price | None = None,
        context_window: int | None = None,
    ) -> None:
        _check_settings("FunctionModel", name, price, context_window)
        if not callable(fn):
            raise ConfigError(
                f"FunctionModel takes a function fn(messages, params) returning a reply, "
                f"got {fn!r}; for fixed replies use ScriptedModel"
            )
        self.window = context_window
        self.fn = fn
        self.name = name
        self.price = price
        self._is_async = inspect.iscoroutinefunction(fn)

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        """Ask the function."""
        reply = self.fn(messages, params)
        if self._is_async or inspect.isawaitable(reply):
            reply = await reply  # type: ignore[misc]
        return _to_response(reply, messages, self.name)
