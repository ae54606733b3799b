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

from tether._errors import ConfigError, ModelError
from tether._messages import (
    AssistantMessage,
    Message,
    ModelResponse,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from tether.models._base import ModelParams, Price, check_allow_model_requests
from tether.models._provider import (
    MalformedAnswer,
    ProviderModel,
    answer_text,
    describe,
    expect,
    token_count,
    tool_name,
    usage_or_estimate,
)
from tether.models._wire import WireIds, body_excerpt, http_error, object_arguments

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
    tether's retry wrapper: the SDK's own are turned off. An answer that is not a
    message of the API (an HTML page, a tool_use block without a name) raises
    :class:`~tether.ModelResponseInvalid`; a token count the server leaves out, or
    gives as null or below 0, is estimated.

    Raises:
        ConfigError: ``max_tokens`` or ``context_window`` is not a whole number of at
            least 1, or ``timeout`` not a finite number above 0.
    """

    _env = "ANTHROPIC"
    _default_host = "api.anthropic.com"
    _sdk_errors = (anthropic.AnthropicError, httpx2.HTTPError)
    _connection_errors = (anthropic.APIConnectionError, httpx2.HTTPError)
    _timeout_errors = (anthropic.APITimeoutError, httpx2.TimeoutException)
    _api = "Anthropic Messages API"
    _answer_kind = "a message of the Messages API"

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
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise ConfigError(
                f"anthropic:{model}: max_tokens is the most tokens one answer may have, a "
                f"whole number of at least 1 (4096 by default); got {max_tokens!r}"
            )
        super().__init__(
            model,
            name=f"anthropic:{model}",
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            price=price,
            http_client=http_client,
            context_window=context_window,
        )
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
        answer = await self._send(self._client().messages.create(**body))
        with self._reading():
            message = expect(answer, anthropic.types.Message)
            text, calls = _read_content(message.content)
        u = message.usage
        cached = token_count(getattr(u, "cache_read_input_tokens", None))
        counts = (_input_tokens(u), token_count(getattr(u, "output_tokens", None)), cached)
        usage = usage_or_estimate(messages, counts, text=text, calls=calls)
        model = message.model if isinstance(message.model, str) else ""
        return ModelResponse(text=text, tool_calls=calls, usage=usage, model=model)

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
        with self._reading():
            response = acc.response(messages)
        yield response

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
        if isinstance(exc, anthropic.APIResponseValidationError):
            return self._invalid(exc.message, exc.body)
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


def _read_content(content: object) -> tuple[str | None, list[ToolCall]]:
    """The text and tool calls of a message's content blocks (MalformedAnswer if bad)."""
    if not isinstance(content, list):
        raise MalformedAnswer(f"content is {describe(content)}, not a list of blocks")
    texts: list[str] = []
    calls: list[ToolCall] = []
    for i, block in enumerate(content):
        kind = getattr(block, "type", None)
        if not isinstance(kind, str):
            raise MalformedAnswer(f"content[{i}] is {describe(block)}, not a typed block")
        if kind == "text":
            texts.append(answer_text(getattr(block, "text", None), f"content[{i}].text") or "")
        elif kind == "tool_use":
            name = tool_name(getattr(block, "name", None), f"content[{i}].name")
            call_id = getattr(block, "id", None)
            call_id = call_id if isinstance(call_id, str) else ""
            calls.append(ToolCall(name, _input(getattr(block, "input", None)), call_id))
    return "".join(texts) or None, calls


def _input_tokens(usage: Any) -> int | None:
    """The input tokens, cached ones included; None when the server gave no count."""
    # Anthropic counts cached prompt tokens apart from input_tokens; a budget counts them all.
    total = token_count(getattr(usage, "input_tokens", None))
    if total is None:
        return None
    for extra in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        total += token_count(getattr(usage, extra, None)) or 0
    return total


def _call_input(call: ToolCall) -> dict[str, Any]:
    # A tool_use input must be an object: anything else is wrapped in one.
    args = call.parsed_arguments()
    if isinstance(args, dict):
        return args
    if args == call.arguments:  # raw text that does not parse (parsed JSON never equals it)
        return {"_unparsed_arguments": args}
    return {"_arguments": args}


def _blocks(m: Message, ids: WireIds | None) -> tuple[str, list[dict[str, Any]]]:
    """The role and content blocks of one message (tool blocks only with ``ids``)."""
    if isinstance(m, UserMessage):
        return "user", [{"type": "text", "text": m.content}] if m.content.strip() else []
    if isinstance(m, AssistantMessage):
        blocks: list[dict[str, Any]] = []
        if m.text and m.text.strip():  # the API refuses empty text blocks
            blocks.append({"type": "text", "text": m.text})
        for c in m.tool_calls:
            if ids is not None:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": ids.call(c.id),
                        "name": c.name,
                        "input": _call_input(c),
                    }
                )
            else:
                blocks.append({"type": "text", "text": f"[called {c.name}({c.arguments_json()})]"})
        return "assistant", blocks
    if isinstance(m, ToolResultMessage):
        if ids is None:
            return "user", [{"type": "text", "text": f"[{m.name} returned: {m.content}]"}]
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": ids.result(m.call_id),
            "content": m.content,
        }
        if m.is_error:
            block["is_error"] = True
        return "user", [block]
    return "system", []


def _turns(messages: Sequence[Message], *, tool_blocks: bool) -> list[dict[str, Any]]:
    """Messages as alternating turns; consecutive user-side messages share one turn.

    Without tool declarations the API refuses tool_use and tool_result blocks, so a
    history with tool calls is then written as text. Call ids go out unique and in the
    characters the API takes (:class:`~tether.models._wire.WireIds`).
    """
    turns: list[dict[str, Any]] = []
    ids = WireIds(safe=True) if tool_blocks else None
    for m in messages:
        role, blocks = _blocks(m, ids)
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
    """Builds one response from stream events: text and tool_use blocks, usage.

    Raises :class:`MalformedAnswer` for an event that breaks the API's form.
    """

    blocks: dict[int, _Block] = field(default_factory=dict)
    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str = ""
    finished: bool = False

    def add(self, event: Any) -> str | None:
        kind = getattr(event, "type", None)
        if kind == "message_start":
            message = getattr(event, "message", None)
            model = getattr(message, "model", None)
            self.model = model if isinstance(model, str) else ""
            self._count(getattr(message, "usage", None), start=True)
        elif kind == "content_block_start":
            cb = getattr(event, "content_block", None)
            index = _index(event)
            block_kind = getattr(cb, "type", None)
            if not isinstance(block_kind, str):
                where = f"content_block_start {index}'s content_block"
                raise MalformedAnswer(f"{where} is {describe(cb)}, not a typed block")
            block = _Block(block_kind, id=_str_or_empty(cb, "id"), name=_str_or_empty(cb, "name"))
            if block_kind == "text":
                text = answer_text(getattr(cb, "text", None), f"text block {index}'s text")
                if text:
                    block.text.append(text)
                self.blocks[index] = block
                return text or None
            self.blocks[index] = block
        elif kind == "content_block_delta":
            return self._delta(_index(event), getattr(event, "delta", None))
        elif kind == "message_delta":
            self._count(getattr(event, "usage", None), start=False)
        elif kind == "message_stop":
            self.finished = True
        elif not isinstance(kind, str):
            raise MalformedAnswer(f"an event of the stream is {describe(event)}, not typed")
        return None

    def _count(self, usage: object, *, start: bool) -> None:
        # message_start holds the input count and a first output count; message_delta
        # the final output count, and an input count that is 0 unless the server
        # counts there. A count not given keeps the one before (none: estimated).
        output_tokens = token_count(getattr(usage, "output_tokens", None))
        if output_tokens is not None:
            self.output_tokens = output_tokens
        input_tokens = _input_tokens(usage)
        if input_tokens is not None and (start or input_tokens > 0):
            self.input_tokens = input_tokens

    def _delta(self, index: int, delta: Any) -> str | None:
        block = self.blocks.setdefault(index, _Block("text"))
        kind = getattr(delta, "type", None)
        if kind == "text_delta":
            text = answer_text(getattr(delta, "text", None), f"text_delta {index}'s text") or ""
            block.text.append(text)
            return text
        if kind == "input_json_delta":
            where = f"input_json_delta {index}'s partial_json"
            block.text.append(answer_text(getattr(delta, "partial_json", None), where) or "")
        return None

    def response(self, messages: Sequence[Message]) -> ModelResponse:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for index, block in sorted(self.blocks.items()):
            joined = "".join(block.text)
            if block.kind == "text":
                texts.append(joined)
            elif block.kind == "tool_use":
                name = tool_name(block.name, f"tool_use block {index}'s name")
                # As the non-streamed form gives: a dict; raw text when it does not parse
                # (an answer cut by max_tokens), so tether reports it to the model.
                raw = joined if joined.strip() else "{}"
                calls.append(object_arguments(ToolCall(name, raw, block.id)))
        text = "".join(texts) or None
        counts = (self.input_tokens, self.output_tokens, None)
        usage = usage_or_estimate(messages, counts, text=text, calls=calls)
        return ModelResponse(text=text, tool_calls=calls, usage=usage, model=self.model)


def _index(event: Any) -> int:
    index = getattr(event, "index", None)
    if not isinstance(index, int) or isinstance(index, bool):
        kind = getattr(event, "type", "an event")
        raise MalformedAnswer(f"{kind}'s index is {describe(index)}, not a number")
    return index


def _str_or_empty(obj: object, attr: str) -> str:
    value = getattr(obj, attr, None)
    return value if isinstance(value, str) else ""
