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
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageCustomToolCall,
    ChatCompletionMessageFunctionToolCall,
)
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import (
    Choice as ChunkChoice,
)
from openai.types.chat.chat_completion_chunk import (
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
)
from openai.types.chat.chat_completion_message_function_tool_call import Function

from tether._errors import ConfigError, ModelConnectionError, ModelError
from tether._messages import (
    Message,
    ModelResponse,
    TokenUsage,
    ToolCall,
)
from tether.models._base import ModelParams, Price, check_allow_model_requests
from tether.models._provider import (
    Counts,
    MalformedAnswer,
    ProviderModel,
    answer_text,
    describe,
    expect,
    token_count,
    tool_name,
    usage_or_estimate,
)
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

    Retries are left to tether's retry wrapper: the SDK's own are turned off. An
    answer that is not a chat completion (an HTML page, a tool call without a name)
    raises :class:`~tether.ModelResponseInvalid`; a token count the server leaves out,
    or gives as null or below 0, is estimated.

    Raises:
        ConfigError: ``json_mode`` is not one of its two values, ``timeout`` is not a
            finite number above 0, or ``context_window`` not a whole number of at least 1.
    """

    _env = "OPENAI"
    _default_host = "api.openai.com"
    _no_key_hint = ", or pass base_url= for a local server that needs none"
    _sdk_errors = (openai.OpenAIError, httpx2.HTTPError)
    _connection_errors = (openai.APIConnectionError, httpx2.HTTPError)
    _timeout_errors = (openai.APITimeoutError, httpx2.TimeoutException)
    _api = "OpenAI Chat Completions API"
    _answer_kind = "a chat completion"

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
            context_window=context_window,
        )
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
        answer = await self._send(self._client().chat.completions.create(**kwargs))
        with self._reading():
            completion = expect(answer, ChatCompletion)
            text, calls = _read_message(completion)
            counts = _usage_counts(completion.usage)
        usage = usage_or_estimate(messages, counts, text=text, calls=calls)
        model = completion.model if isinstance(completion.model, str) else ""
        return self._finish(text, calls, usage, model, params)

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
        with self._reading():
            text, calls = acc.text(), acc.tool_calls()
        # Some servers (llama-cpp-python's) ignore include_usage: the counts are then
        # estimated, so that token budgets still count something.
        usage = usage_or_estimate(messages, acc.usage, text=text, calls=calls)
        yield self._finish(text, calls, usage, acc.model, params)

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
        if isinstance(exc, openai.APIResponseValidationError):
            return self._invalid(exc.message, exc.body)
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
    """Builds one response from stream chunks: text, tool calls by index, usage.

    Raises :class:`MalformedAnswer` for a chunk that breaks the API's form.
    """

    parts: list[str] = field(default_factory=list)
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    usage: Counts = (None, None, None)
    model: str = ""
    finished: bool = False

    def add(self, chunk: ChatCompletionChunk) -> str | None:
        if not isinstance(chunk, ChatCompletionChunk):
            raise MalformedAnswer(f"a chunk of the stream is {describe(chunk)}, not an object")
        if not self.model and isinstance(chunk.model, str):
            self.model = chunk.model
        if chunk.usage is not None:
            self.usage = _usage_counts(chunk.usage)
        choices = chunk.choices
        if not choices:
            return None
        if not isinstance(choices, list) or not isinstance(choices[0], ChunkChoice):
            raise MalformedAnswer(f"a chunk's choices is {describe(choices)} of no choice")
        choice = choices[0]
        if choice.finish_reason is not None:
            self.finished = True
        delta = choice.delta
        if delta is None:
            return None
        if not isinstance(delta, ChoiceDelta):
            raise MalformedAnswer(f"a chunk's choices[0].delta is {describe(delta)}")
        self._add_calls(delta.tool_calls)
        content = answer_text(delta.content, "a chunk's choices[0].delta.content")
        if content:
            self.parts.append(content)
            return content
        return None

    def _add_calls(self, deltas: object) -> None:
        if deltas is None:
            return
        if not isinstance(deltas, list):
            raise MalformedAnswer(f"a chunk's delta.tool_calls is {describe(deltas)}, not a list")
        for i, tc in enumerate(deltas):
            where = f"a chunk's delta.tool_calls[{i}]"
            if not isinstance(tc, ChoiceDeltaToolCall):
                raise MalformedAnswer(f"{where} is {describe(tc)}, not a tool call")
            index = tc.index if tc.index is not None else i
            if not isinstance(index, int) or isinstance(index, bool):
                raise MalformedAnswer(f"{where}.index is {describe(index)}, not a number")
            call = self.calls.setdefault(index, _PartialCall())
            if tc.id and isinstance(tc.id, str):
                call.id = tc.id
            fn = tc.function
            if fn is None:
                continue
            if not isinstance(fn, ChoiceDeltaToolCallFunction):
                raise MalformedAnswer(f"{where}.function is {describe(fn)}, not an object")
            name = answer_text(fn.name, f"{where}.function.name")
            # OpenAI sends the name once; llama-cpp-python repeats it in every delta.
            if name and name != call.name:
                call.name += name
            arguments = answer_text(fn.arguments, f"{where}.function.arguments")
            if arguments:
                call.arguments.append(arguments)

    def text(self) -> str | None:
        return "".join(self.parts) if self.parts else None

    def tool_calls(self) -> list[ToolCall]:
        return [
            ToolCall(
                tool_name(c.name, f"the name of streamed tool call {index}"),
                "".join(c.arguments) or "{}",
                c.id,
            )
            for index, c in sorted(self.calls.items())
        ]


def _read_message(completion: ChatCompletion) -> tuple[str | None, list[ToolCall]]:
    """The text and tool calls of a completion's first choice (MalformedAnswer if none)."""
    choices = completion.choices
    if not isinstance(choices, list) or not choices:
        raise MalformedAnswer(f"choices is {describe(choices)}; the answer has no choices")
    choice = choices[0]
    if not isinstance(choice, Choice):
        raise MalformedAnswer(f"choices[0] is {describe(choice)}, not a choice")
    msg = choice.message
    if not isinstance(msg, ChatCompletionMessage):
        raise MalformedAnswer(f"choices[0].message is {describe(msg)}, not a message")
    text = answer_text(msg.content, "choices[0].message.content")
    raw_calls: object = msg.tool_calls
    if raw_calls is None:
        return text, []
    if not isinstance(raw_calls, list):
        where = "choices[0].message.tool_calls"
        raise MalformedAnswer(f"{where} is {describe(raw_calls)}, not a list")
    calls = []
    for i, tc in enumerate(raw_calls):
        where = f"choices[0].message.tool_calls[{i}]"
        if isinstance(tc, ChatCompletionMessageCustomToolCall):
            continue  # a custom tool, which tether never offers
        if not isinstance(tc, ChatCompletionMessageFunctionToolCall):
            raise MalformedAnswer(f"{where} is {describe(tc)}, not a tool call")
        fn = tc.function
        if not isinstance(fn, Function):
            raise MalformedAnswer(f"{where}.function is {describe(fn)}, not an object")
        name = tool_name(fn.name, f"{where}.function.name")
        call_id = tc.id if isinstance(tc.id, str) else ""
        calls.append(ToolCall(name, _call_arguments(fn.arguments), call_id))
    return text, calls


def _call_arguments(value: object) -> dict[str, Any] | str:
    # The API sends JSON text; some servers send the object itself. Anything else is
    # kept as JSON text, for the tool layer to report to the model.
    if isinstance(value, str):
        return value or "{}"
    if isinstance(value, dict):
        return value
    return "{}" if value is None else json.dumps(value, default=str)


def _usage_counts(u: object) -> Counts:
    """Input, output and cached input tokens as reported; None for each one not given."""
    if u is None:
        return None, None, None
    details = getattr(u, "prompt_tokens_details", None)
    return (
        token_count(getattr(u, "prompt_tokens", None)),
        token_count(getattr(u, "completion_tokens", None)),
        token_count(getattr(details, "cached_tokens", None)),
    )
