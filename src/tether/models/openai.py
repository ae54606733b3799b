"""OpenAI-compatible chat models: OpenAI itself, and any server that speaks its API.

One adapter serves OpenAI, vLLM, Ollama and llama.cpp's server (``python -m
llama_cpp.server``): only the base URL, the key and a few wire details differ.

Example:
    ```python
    from tether import Agent
    from tether.models.openai import OpenAIModel

    model = OpenAIModel("gpt-4o-mini")  # key from OPENAI_API_KEY
    local = OpenAIModel("qwen", base_url="http://127.0.0.1:8000/v1", json_mode="json_object")
    agent = Agent(model, tools=[...])
    ```
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx2
import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tether._errors import ConfigError, ModelConnectionError, ModelError
from tether._messages import (
    Message,
    ModelResponse,
    TokenUsage,
    ToolCall,
)
from tether.models._base import ModelParams, Price, check_allow_model_requests
from tether.models._function import estimate_tokens
from tether.models._provider import ProviderModel
from tether.models._textcalls import parse_tool_calls
from tether.models._wire import body_excerpt, chat_messages, http_error

__all__ = ["OpenAIModel"]


class OpenAIModel(ProviderModel[openai.AsyncOpenAI]):
    """A chat model behind the OpenAI Chat Completions API (or a compatible server).

    Args:
        model: the model's name on the server, e.g. ``"gpt-4o-mini"``.
        base_url: the API's base URL (ending in ``/v1``); ``OPENAI_BASE_URL`` or
            OpenAI's own by default.
        api_key: the key; ``OPENAI_API_KEY`` by default. When a base URL is given
            and no key is set, a placeholder is sent: local servers need none.
        timeout: seconds to wait for the server (connecting, or between bytes).
        price: the price per token, to charge the run's cost budget.
        text_tool_calls: also read tool calls the model writes as text
            (``{"name": ..., "arguments": {...}}``, maybe in a code fence or
            ``<tool_call>`` tags; the forms of :mod:`tether.models._textcalls`), for
            servers whose models have no native tool calling. Only when tools were
            offered and none came natively; a stream still yields the call's raw
            text as deltas.
        json_mode: how a required JSON schema is sent: ``"json_schema"`` (OpenAI's
            structured outputs) or ``"json_object"`` with the schema beside it, the
            form llama.cpp's server turns into a grammar.
        extra_body: more fields for every request body, e.g. ``{"temperature": 0}``,
            ``{"max_tokens": 256}`` or a server's own options.
        http_client: an ``httpx2.AsyncClient`` to send requests with (proxies, tests).
        context_window: the model's context window in tokens, when known: the agent's
            working memory then keeps the conversation under it.

    Retries are left to tether's retry wrapper: the SDK's own are turned off.
    """

    _env = "OPENAI"
    _default_host = "api.openai.com"
    _no_key_hint = ", or pass base_url= for a local server that needs none"
    _sdk_errors = (openai.OpenAIError, httpx2.HTTPError)
    _connection_errors = (openai.APIConnectionError, httpx2.HTTPError)
    _timeout_errors = (openai.APITimeoutError, httpx2.TimeoutException)

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        price: Price | None = None,
        text_tool_calls: bool = False,
        json_mode: Literal["json_schema", "json_object"] = "json_schema",
        extra_body: dict[str, Any] | None = None,
        http_client: httpx2.AsyncClient | None = None,
        context_window: int | None = None,
    ) -> None:
        if json_mode not in ("json_schema", "json_object"):
            raise ConfigError(
                f"json_mode must be 'json_schema' or 'json_object', not {json_mode!r}"
            )
        super().__init__(
            model,
            name=f"openai:{model}",
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            price=price,
            http_client=http_client,
        )
        self.window = context_window
        self.text_tool_calls = text_tool_calls
        self.json_mode = json_mode
        self.extra_body = dict(extra_body or {})

    def __repr__(self) -> str:
        where = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"OpenAIModel({self.model!r}{where})"

    def _make_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(**self._client_options())

    def request_body(self, messages: Sequence[Message], params: ModelParams) -> dict[str, Any]:
        """The Chat Completions request this model sends for a history (for tests and debugging)."""
        body: dict[str, Any] = {"model": self.model, "messages": _chat_messages(messages)}
        if params.allow_tools and params.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in params.tools
            ]
            body["tool_choice"] = _tool_choice(params.tool_choice)
        if params.json_schema is not None:
            if self.json_mode == "json_object":
                body["response_format"] = {"type": "json_object", "schema": params.json_schema}
            else:
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "schema": params.json_schema},
                }
        return body

    def _kwargs(self, messages: Sequence[Message], params: ModelParams) -> dict[str, Any]:
        kwargs = self.request_body(messages, params)
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        return kwargs

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        """Send the history; return the model's text and tool calls."""
        check_allow_model_requests()
        kwargs = self._kwargs(messages, params)
        completion: ChatCompletion
        completion = await self._send(self._client().chat.completions.create(**kwargs))
        if not completion.choices:
            raise ModelError(f"{self.name}: the server answered with no choices")
        msg = completion.choices[0].message
        calls = []
        for tc in msg.tool_calls or []:
            fn = getattr(tc, "function", None)
            if fn is not None:
                calls.append(ToolCall(fn.name, fn.arguments or "{}", tc.id or ""))
        usage = TokenUsage()
        if completion.usage is not None:
            usage = _usage(completion.usage)
        return self._finish(msg.content, calls, usage, completion.model, params)

    async def stream(
        self, messages: Sequence[Message], params: ModelParams
    ) -> AsyncIterator[str | ModelResponse]:
        """Stream the answer: text deltas as they come, then the whole response.

        Tool calls are assembled from their deltas; usage comes from the final chunk
        (``stream_options.include_usage``). A stream that ends before the model
        finished raises :class:`~tether.ModelConnectionError`.
        """
        check_allow_model_requests()
        kwargs = self._kwargs(messages, params)
        kwargs["stream"] = True
        kwargs["stream_options"] = {"include_usage": True}
        acc = _StreamAccumulator()
        chunks: Awaitable[openai.AsyncStream[ChatCompletionChunk]]
        chunks = self._client().chat.completions.create(**kwargs)
        end = "the model finished its answer (no finish_reason)"
        async with contextlib.aclosing(self._deltas(chunks, acc, end)) as deltas:
            async for delta in deltas:
                yield delta
        if not acc.usage_seen:
            # Some servers (llama-cpp-python's) ignore include_usage: estimate, so that
            # token budgets still count something.
            acc.usage = TokenUsage(estimate_tokens(messages), acc.estimated_output_tokens())
        yield self._finish(acc.text(), acc.tool_calls(), acc.usage, acc.model, params)

    def _finish(
        self,
        text: str | None,
        calls: list[ToolCall],
        usage: TokenUsage,
        model: str,
        params: ModelParams,
    ) -> ModelResponse:
        if self.text_tool_calls and not calls and text and params.allow_tools and params.tools:
            calls, text = parse_tool_calls(text, params.tools, as_written=True)
        return ModelResponse(text=text or None, tool_calls=calls, usage=usage, model=model)

    def _error(self, exc: Exception, *, mid_stream: bool = False) -> Exception:
        if isinstance(exc, openai.APIStatusError):
            body = exc.body
            message = exc.message
            if isinstance(body, dict) and isinstance(body.get("message"), str):
                message = body["message"]
            try:
                text: str | None = exc.response.text
            except httpx2.ResponseNotRead:
                text = None
            return http_error(
                "OpenAI-compatible",
                self.model,
                exc.status_code,
                message,
                headers=exc.response.headers,
                body=body_excerpt(body, text),
                code=exc.code,
            )
        transport = self._transport_error(exc, mid_stream=mid_stream)
        if transport is not None:
            return transport
        if isinstance(exc, openai.APIError) and mid_stream:
            return ModelConnectionError(
                f"{self.name}: the server ended the stream with an error: {exc.message}"
            )
        return ModelError(f"{self.name}: {type(exc).__name__}: {exc}")


def _tool_choice(choice: str) -> str | dict[str, Any]:
    if choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def _arguments_text(call: ToolCall) -> str:
    if isinstance(call.arguments, str):
        return call.arguments
    return json.dumps(call.arguments, default=str)


def _chat_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return chat_messages(messages, _arguments_text)


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _StreamAccumulator:
    """Builds one response from stream chunks: text, tool calls by index, usage."""

    parts: list[str] = field(default_factory=list)
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    usage: TokenUsage = field(default_factory=TokenUsage)
    usage_seen: bool = False
    model: str = ""
    finished: bool = False

    def add(self, chunk: ChatCompletionChunk) -> str | None:
        self.model = self.model or chunk.model
        if chunk.usage is not None:
            self.usage = _usage(chunk.usage)
            self.usage_seen = True
        if not chunk.choices:
            return None
        choice = chunk.choices[0]
        if choice.finish_reason is not None:
            self.finished = True
        delta = choice.delta
        for i, tc in enumerate(delta.tool_calls or []):
            index = tc.index if tc.index is not None else i
            call = self.calls.setdefault(index, _PartialCall())
            if tc.id:
                call.id = tc.id
            if tc.function is not None:
                name = tc.function.name
                # OpenAI sends the name once; llama-cpp-python repeats it in every delta.
                if name and name != call.name:
                    call.name += name
                if tc.function.arguments:
                    call.arguments.append(tc.function.arguments)
        if delta.content:
            self.parts.append(delta.content)
            return delta.content
        return None

    def text(self) -> str | None:
        return "".join(self.parts) if self.parts else None

    def estimated_output_tokens(self) -> int:
        chars = sum(map(len, self.parts))
        chars += sum(len(c.name) + sum(map(len, c.arguments)) for c in self.calls.values())
        return chars // 4 + 1

    def tool_calls(self) -> list[ToolCall]:
        return [
            ToolCall(c.name, "".join(c.arguments) or "{}", c.id)
            for _, c in sorted(self.calls.items())
        ]


def _usage(u: Any) -> TokenUsage:
    details = getattr(u, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return TokenUsage(u.prompt_tokens, u.completion_tokens, cached)
