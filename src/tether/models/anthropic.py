"""Anthropic's Claude models, through the Messages API.

Example:
    ```python
    from tether import Agent
    from tether.models.anthropic import AnthropicModel

    agent = Agent(AnthropicModel("claude-sonnet-4-6"), tools=[...])  # key from ANTHROPIC_API_KEY
    ```
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

from tether._errors import ModelError
from tether._messages import (
    AssistantMessage,
    Message,
    ModelResponse,
    SystemMessage,
    TokenUsage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from tether.models._base import ModelParams, Price, check_allow_model_requests
from tether.models._provider import ProviderModel
from tether.models._wire import body_excerpt, http_error, object_arguments

__all__ = ["AnthropicModel"]

# The HTTP status each documented error type comes with; an error sent inside a
# stream arrives on a 200 response, so its type is all that tells them apart.
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class AnthropicModel(ProviderModel[anthropic.AsyncAnthropic]):
    """A Claude model behind Anthropic's Messages API.

    Args:
        model: the model's name, e.g. ``"claude-sonnet-4-6"``.
        api_key: the key; ``ANTHROPIC_API_KEY`` by default.
        base_url: another endpoint (a proxy or gateway); ``ANTHROPIC_BASE_URL`` or
            Anthropic's own by default.
        max_tokens: the most tokens one answer may have (the API requires a limit).
        timeout: seconds to wait for the server (connecting, or between bytes).
        price: the price per token, to charge the run's cost budget.
        http_client: an ``httpx2.AsyncClient`` to send requests with (proxies, tests).
        context_window: the model's context window in tokens, when known: the agent's
            working memory then keeps the conversation under it.

    A JSON schema in :class:`~tether.models.ModelParams` is sent as the API's
    structured output format (``output_config.format``). Retries are left to
    tether's retry wrapper: the SDK's own are turned off.
    """

    _env = "ANTHROPIC"
    _default_host = "api.anthropic.com"
    _sdk_errors = (anthropic.AnthropicError, httpx2.HTTPError)
    _connection_errors = (anthropic.APIConnectionError, httpx2.HTTPError)
    _timeout_errors = (anthropic.APITimeoutError, httpx2.TimeoutException)

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_tokens: int = 4096,
        timeout: float = 60.0,
        price: Price | None = None,
        http_client: httpx2.AsyncClient | None = None,
        context_window: int | None = None,
    ) -> None:
        super().__init__(
            model,
            name=f"anthropic:{model}",
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            price=price,
            http_client=http_client,
        )
        self.window = context_window
        self.max_tokens = max_tokens

    def __repr__(self) -> str:
        return f"AnthropicModel({self.model!r})"

    def _make_client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(**self._client_options())

    def request_body(self, messages: Sequence[Message], params: ModelParams) -> dict[str, Any]:
        """The Messages API request this model sends for a history (for tests and debugging)."""
        body: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens}
        system = "\n\n".join(m.content for m in messages if isinstance(m, SystemMessage))
        if system:
            body["system"] = system
        tools = list(params.tools)
        if tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in tools
            ]
            # Tools stay declared when they are off: the API refuses a history with
            # tool_use blocks and no tools.
            body["tool_choice"] = _tool_choice(params.tool_choice if params.allow_tools else "none")
        if params.json_schema is not None:
            body["output_config"] = {
                "format": {"type": "json_schema", "schema": params.json_schema}
            }
        body["messages"] = _turns(messages, tool_blocks=bool(tools))
        return body

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        """Send the history; return the model's text and tool calls."""
        check_allow_model_requests()
        body = self.request_body(messages, params)
        message: anthropic.types.Message
        message = await self._send(self._client().messages.create(**body))
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in message.content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                calls.append(ToolCall(block.name, _input(block.input), block.id))
        u = message.usage
        usage = TokenUsage(
            _input_tokens(u), u.output_tokens, int(getattr(u, "cache_read_input_tokens", 0) or 0)
        )
        text = "".join(texts)
        return ModelResponse(text=text or None, tool_calls=calls, usage=usage, model=message.model)

    async def stream(
        self, messages: Sequence[Message], params: ModelParams
    ) -> AsyncIterator[str | ModelResponse]:
        """Stream the answer: text deltas as they come, then the whole response.

        Tool inputs are assembled from their ``input_json_delta`` pieces. A stream
        that ends before ``message_stop`` raises :class:`~tether.ModelConnectionError`.
        """
        check_allow_model_requests()
        body = self.request_body(messages, params)
        body["stream"] = True
        acc = _StreamAccumulator()
        events: Awaitable[anthropic.AsyncStream[anthropic.types.RawMessageStreamEvent]]
        events = self._client().messages.create(**body)
        async with contextlib.aclosing(self._deltas(events, acc, "message_stop")) as deltas:
            async for delta in deltas:
                yield delta
        yield acc.response()

    def _error(self, exc: Exception, *, mid_stream: bool = False) -> Exception:
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            kind, message = _error_detail(exc.body, exc.message)
            if status < 400:  # an error event inside a stream that began with 200
                status = _ERROR_STATUS.get(kind or "", 500)
            text: str | None = None
            if not mid_stream:
                try:
                    text = exc.response.text
                except httpx2.ResponseNotRead:
                    text = None
            return http_error(
                "Anthropic",
                self.model,
                status,
                f"{kind}: {message}" if kind else message,
                headers=exc.response.headers,
                body=body_excerpt(exc.body, text),
            )
        transport = self._transport_error(exc, mid_stream=mid_stream)
        if transport is not None:
            return transport
        return ModelError(f"{self.name}: {type(exc).__name__}: {exc}")


def _error_detail(body: object, fallback: str) -> tuple[str | None, str]:
    # The documented error body: {"type": "error", "error": {"type": ..., "message": ...}}
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            kind = err.get("type")
            message = err.get("message")
            return (
                kind if isinstance(kind, str) else None,
                message if isinstance(message, str) else fallback,
            )
    return None, fallback


def _tool_choice(choice: str) -> dict[str, Any]:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    return {"type": "tool", "name": choice}


def _input(value: object) -> dict[str, Any] | str:
    if isinstance(value, dict):
        return value
    return json.dumps(value)


def _input_tokens(usage: Any) -> int:
    # Anthropic counts cached prompt tokens apart from input_tokens; a budget counts them all.
    total = int(usage.input_tokens or 0)
    for extra in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        total += int(getattr(usage, extra, None) or 0)
    return total


def _call_input(call: ToolCall) -> dict[str, Any]:
    # A tool_use input must be an object: anything else is wrapped in one.
    args = call.parsed_arguments()
    if isinstance(args, dict):
        return args
    if args == call.arguments:  # raw text that does not parse (parsed JSON never equals it)
        return {"_unparsed_arguments": args}
    return {"_arguments": args}


def _blocks(m: Message, tool_blocks: bool) -> tuple[str, list[dict[str, Any]]]:
    """The role and content blocks of one message."""
    if isinstance(m, UserMessage):
        return "user", [{"type": "text", "text": m.content}] if m.content.strip() else []
    if isinstance(m, AssistantMessage):
        blocks: list[dict[str, Any]] = []
        if m.text and m.text.strip():  # the API refuses empty text blocks
            blocks.append({"type": "text", "text": m.text})
        for c in m.tool_calls:
            if tool_blocks:
                blocks.append(
                    {"type": "tool_use", "id": c.id, "name": c.name, "input": _call_input(c)}
                )
            else:
                blocks.append({"type": "text", "text": f"[called {c.name}({c.arguments_json()})]"})
        return "assistant", blocks
    if isinstance(m, ToolResultMessage):
        if not tool_blocks:
            return "user", [{"type": "text", "text": f"[{m.name} returned: {m.content}]"}]
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": m.call_id,
            "content": m.content,
        }
        if m.is_error:
            block["is_error"] = True
        return "user", [block]
    return "system", []


def _turns(messages: Sequence[Message], *, tool_blocks: bool) -> list[dict[str, Any]]:
    """Messages as alternating turns; consecutive user-side messages share one turn.

    Without tool declarations the API refuses tool_use and tool_result blocks, so a
    history with tool calls is then written as text.
    """
    turns: list[dict[str, Any]] = []
    for m in messages:
        role, blocks = _blocks(m, tool_blocks)
        if role == "system" or not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return turns


@dataclass(slots=True)
class _Block:
    kind: str
    text: list[str] = field(default_factory=list)
    id: str = ""
    name: str = ""


@dataclass(slots=True)
class _StreamAccumulator:
    """Builds one response from stream events: text and tool_use blocks, usage."""

    blocks: dict[int, _Block] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    model: str = ""
    finished: bool = False

    def add(self, event: Any) -> str | None:
        kind = event.type
        if kind == "message_start":
            self.model = event.message.model
            self.input_tokens = _input_tokens(event.message.usage)
            self.output_tokens = event.message.usage.output_tokens or 0
        elif kind == "content_block_start":
            cb = event.content_block
            block = _Block(cb.type, id=getattr(cb, "id", ""), name=getattr(cb, "name", ""))
            if cb.type == "text" and cb.text:
                block.text.append(cb.text)
            self.blocks[event.index] = block
            return cb.text if cb.type == "text" and cb.text else None
        elif kind == "content_block_delta":
            return self._delta(event.index, event.delta)
        elif kind == "message_delta":
            usage = event.usage
            self.output_tokens = usage.output_tokens or self.output_tokens
            if getattr(usage, "input_tokens", None):
                self.input_tokens = _input_tokens(usage)
        elif kind == "message_stop":
            self.finished = True
        return None

    def _delta(self, index: int, delta: Any) -> str | None:
        block = self.blocks.setdefault(index, _Block("text"))
        if delta.type == "text_delta":
            block.text.append(delta.text)
            return str(delta.text)
        if delta.type == "input_json_delta":
            block.text.append(delta.partial_json)
        return None

    def response(self) -> ModelResponse:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for _, block in sorted(self.blocks.items()):
            joined = "".join(block.text)
            if block.kind == "text":
                texts.append(joined)
            elif block.kind == "tool_use":
                # As the non-streamed form gives: a dict; raw text when it does not parse
                # (an answer cut by max_tokens), so tether reports it to the model.
                raw = joined if joined.strip() else "{}"
                calls.append(object_arguments(ToolCall(block.name, raw, block.id)))
        text = "".join(texts)
        usage = TokenUsage(self.input_tokens, self.output_tokens)
        return ModelResponse(text=text or None, tool_calls=calls, usage=usage, model=self.model)
