"""The OpenAI-compatible provider, over real HTTP.

Fast tests talk to a tiny scripted HTTP server on 127.0.0.1 that answers in
OpenAI's wire format (errors, Retry-After, parallel tool calls, cut streams).
Slow tests start a real ``llama_cpp.server`` with the embedded model and run
the provider, and a whole agent, against it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from llama_server import LlamaServer, free_port, llama_server
from tether import (
    Agent,
    AssistantMessage,
    ConfigError,
    ContextLengthExceeded,
    Message,
    ModelConnectionError,
    ModelHTTPError,
    ModelRequestsBlocked,
    ModelResponse,
    SystemMessage,
    TextDelta,
    ToolCall,
    ToolCallFinished,
    ToolResultMessage,
    UserMessage,
    tool,
)
from tether.models import Model, ModelParams, resolve_model
from tether.models._textcalls import parse_tool_calls
from tether.models._wire import parse_retry_after
from tether.models.openai import OpenAIModel


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number.
        b: the second number.
    """
    return a + b


# ---------------------------------------------------------------- a scripted server


@dataclass
class Reply:
    """One scripted HTTP answer. ``cut`` promises more body than is sent, then hangs up."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut: bool = False


def json_reply(payload: object, status: int = 200, delay: float = 0.0, **headers: str) -> Reply:
    headers = {"content-type": "application/json", **headers}
    return Reply(status, json.dumps(payload).encode(), headers, delay=delay)


def sse_reply(chunks: Sequence[object], *, done: bool = True, cut: bool = False) -> Reply:
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks]
    if done:
        lines.append("data: [DONE]\n\n")
    return Reply(200, "".join(lines).encode(), {"content-type": "text/event-stream"}, cut=cut)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedServer

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        reply = self.server.replies.pop(0)
        time.sleep(reply.delay)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body) + (100 if reply.cut else 0)))
        self.end_headers()
        self.wfile.write(reply.body)
        self.wfile.flush()
        self.close_connection = reply.cut

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies: list[Reply] = []
        self.bodies: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out hung up first; that is the test's point

    def model(self, **kwargs: Any) -> OpenAIModel:
        return OpenAIModel("gpt-test", base_url=self.base_url, **kwargs)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-test-2024",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70},
    }


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-test-2024",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def call_delta(
    index: int, *, id: str | None = None, name: str | None = None, args: str = ""
) -> dict[str, Any]:
    tc: dict[str, Any] = {"index": index, "function": {"arguments": args}}
    if id is not None:
        tc.update(id=id, type="function")
        tc["function"]["name"] = name
    return {"tool_calls": [tc]}


USAGE_CHUNK = {
    "id": "chatcmpl-2",
    "object": "chat.completion.chunk",
    "created": 1_700_000_000,
    "model": "gpt-test-2024",
    "choices": [],
    "usage": {"prompt_tokens": 61, "completion_tokens": 33, "total_tokens": 94},
}

PARAMS = ModelParams(tools=(add.definition,))
HISTORY: list[Message] = [SystemMessage("Be brief."), UserMessage("What is 2+3?")]


async def collect(model: Model, messages: Sequence[Message], params: ModelParams) -> list[Any]:
    return [item async for item in model.stream(messages, params)]


# ---------------------------------------------------------------- the request body


def test_a_history_maps_to_chat_messages() -> None:
    history: list[Message] = [
        *HISTORY,
        AssistantMessage(
            "Adding.", [ToolCall("add", {"a": 2, "b": 3}, "c1"), ToolCall("add", "{bad", "c2")]
        ),
        ToolResultMessage("c1", "add", "5"),
        ToolResultMessage("c2", "add", "Malformed arguments", is_error=True),
        AssistantMessage(None),
    ]
    body = OpenAIModel("m").request_body(history, PARAMS)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+3?"},
        {
            "role": "assistant",
            "content": "Adding.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
                },
                {"id": "c2", "type": "function", "function": {"name": "add", "arguments": "{bad"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "5"},
        {"role": "tool", "tool_call_id": "c2", "content": "Malformed arguments"},
        {"role": "assistant", "content": ""},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": add.definition.description,
                "parameters": add.definition.parameters,
            },
        }
    ]


def test_a_call_id_repeated_across_turns_goes_out_unique_with_its_result() -> None:
    # A session's two runs on a model that gives no ids both named a call call_1_0.
    history: list[Message] = [*HISTORY]
    for n in (1, 2):
        history += [
            AssistantMessage(None, [ToolCall("add", {"a": n, "b": n}, "call_1_0")]),
            ToolResultMessage("call_1_0", "add", str(2 * n)),
            AssistantMessage(str(2 * n)),
            UserMessage("again"),
        ]
    sent = OpenAIModel("m").request_body(history, PARAMS)["messages"]
    calls = [c["id"] for m in sent for c in m.get("tool_calls", ())]
    results = [(m["tool_call_id"], m["content"]) for m in sent if m["role"] == "tool"]
    assert calls == ["call_1_0", "call_1_0_2"]
    assert results == [("call_1_0", "2"), ("call_1_0_2", "4")]


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", "auto"),
        ("required", "required"),
        ("none", "none"),
        ("add", {"type": "function", "function": {"name": "add"}}),
    ],
)
def test_tool_choice_maps_to_the_api_forms(choice: str, wire: object) -> None:
    body = OpenAIModel("m").request_body(HISTORY, replace(PARAMS, tool_choice=choice))
    assert body["tool_choice"] == wire


def test_tools_off_sends_no_tools() -> None:
    body = OpenAIModel("m").request_body(HISTORY, replace(PARAMS, allow_tools=False))
    assert "tools" not in body
    assert "tool_choice" not in body


def test_a_json_schema_becomes_the_response_format() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    params = ModelParams(json_schema=schema)
    assert OpenAIModel("m").request_body(HISTORY, params)["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema},
    }
    local = OpenAIModel("m", json_mode="json_object")
    assert local.request_body(HISTORY, params)["response_format"] == {
        "type": "json_object",
        "schema": schema,
    }


# ---------------------------------------------------------------- responses from a scripted server


@pytest.mark.allow_model_requests
async def test_parallel_tool_calls_keep_their_raw_arguments(scripted: ScriptedServer) -> None:
    calls = [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
        },
        {
            "id": "call_b",
            "type": "function",
            "function": {"name": "add", "arguments": '{"a": 40, "b"'},
        },
    ]
    message = {"role": "assistant", "content": None, "tool_calls": calls}
    scripted.replies.append(json_reply(completion(message, "tool_calls")))
    response = await scripted.model(extra_body={"temperature": 0, "seed": 7}).request(
        HISTORY, PARAMS
    )
    assert response.text is None
    assert response.tool_calls == [
        ToolCall("add", '{"a": 2, "b": 3}', "call_a"),
        ToolCall("add", '{"a": 40, "b"', "call_b"),  # malformed: tether reports it to the model
    ]
    assert (response.usage.input_tokens, response.usage.output_tokens) == (50, 20)
    assert response.model == "gpt-test-2024"
    sent = scripted.bodies[0]
    assert (sent["temperature"], sent["seed"], sent["model"]) == (0, 7, "gpt-test")
    assert sent["tool_choice"] == "auto"


@pytest.mark.allow_model_requests
async def test_a_stream_assembles_interleaved_tool_call_deltas(scripted: ScriptedServer) -> None:
    scripted.replies.append(
        sse_reply(
            [
                chunk({"role": "assistant", "content": ""}),
                chunk({"content": "Adding"}),
                chunk({"content": " both."}),
                chunk(call_delta(0, id="call_a", name="add")),
                chunk(call_delta(0, args='{"a": 2')),
                chunk(call_delta(1, id="call_b", name="add", args='{"a": 40,')),
                chunk(call_delta(0, args=', "b": 3}')),
                chunk(call_delta(1, args=' "b": 2}')),
                chunk({}, finish="tool_calls"),
                USAGE_CHUNK,
            ]
        )
    )
    *deltas, final = await collect(scripted.model(), HISTORY, PARAMS)
    assert deltas == ["Adding", " both."]
    assert isinstance(final, ModelResponse)
    assert final.text == "Adding both."
    assert final.tool_calls == [
        ToolCall("add", '{"a": 2, "b": 3}', "call_a"),
        ToolCall("add", '{"a": 40, "b": 2}', "call_b"),
    ]
    assert (final.usage.input_tokens, final.usage.output_tokens) == (61, 33)
    assert scripted.bodies[0]["stream"] is True
    assert scripted.bodies[0]["stream_options"] == {"include_usage": True}


@pytest.mark.allow_model_requests
async def test_a_name_repeated_in_every_delta_is_kept_once(scripted: ScriptedServer) -> None:
    # llama-cpp-python's server repeats the id and name in each tool-call delta.
    pieces = ['{"a"', ": 2, ", '"b": 3}']
    chunks = [chunk(call_delta(0, id="call_x", name="add", args=p)) for p in pieces]
    scripted.replies.append(sse_reply([*chunks, chunk({}, finish="tool_calls")]))
    final = (await collect(scripted.model(), HISTORY, PARAMS))[-1]
    assert final.tool_calls == [ToolCall("add", '{"a": 2, "b": 3}', "call_x")]
    assert final.usage.input_tokens > 0  # no usage chunk: estimated


@pytest.mark.allow_model_requests
async def test_a_stream_that_ends_without_finishing_is_a_connection_error(
    scripted: ScriptedServer,
) -> None:
    scripted.replies.append(sse_reply([chunk({"content": "Par"})], done=False))
    with pytest.raises(ModelConnectionError, match="ended before the model finished"):
        await collect(scripted.model(), HISTORY, PARAMS)


@pytest.mark.allow_model_requests
async def test_a_connection_cut_mid_stream_is_a_connection_error(scripted: ScriptedServer) -> None:
    scripted.replies.append(sse_reply([chunk({"content": "Par"})], done=False, cut=True))
    seen: list[Any] = []

    async def consume() -> None:
        async for item in scripted.model().stream(HISTORY, PARAMS):
            seen.append(item)

    with pytest.raises(ModelConnectionError, match="broke mid-stream"):
        await consume()
    assert seen == ["Par"]


@pytest.mark.allow_model_requests
async def test_text_tool_calls_are_read_when_enabled(scripted: ScriptedServer) -> None:
    text = 'Calling it.\n```json\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n```'
    for _ in range(3):
        scripted.replies.append(json_reply(completion({"role": "assistant", "content": text})))
    on = scripted.model(text_tool_calls=True)
    response = await on.request(HISTORY, PARAMS)
    assert response.tool_calls == [ToolCall("add", {"a": 2, "b": 3})]
    assert response.text == "Calling it."
    no_tools = await on.request(HISTORY, ModelParams())
    assert (no_tools.text, no_tools.tool_calls) == (text, [])
    off = await scripted.model().request(HISTORY, PARAMS)
    assert (off.text, off.tool_calls) == (text, [])


@pytest.mark.allow_model_requests
async def test_text_tool_calls_are_read_from_a_stream(scripted: ScriptedServer) -> None:
    pieces = ["<tool_call>", '{"name": "add", ', '"arguments": {"a": 2, "b": 3}}', "</tool_call>"]
    scripted.replies.append(
        sse_reply([*(chunk({"content": p}) for p in pieces), chunk({}, finish="stop")])
    )
    *deltas, final = await collect(scripted.model(text_tool_calls=True), HISTORY, PARAMS)
    assert "".join(deltas) == "".join(pieces)  # the raw text still streams live
    assert final.text is None
    assert final.tool_calls == [ToolCall("add", {"a": 2, "b": 3})]


# ---------------------------------------------------------------- errors


OPENAI_RATE_LIMIT = {
    "error": {
        "message": "Rate limit reached for gpt-test on requests per min (RPM): Limit 3.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}


@pytest.mark.allow_model_requests
@pytest.mark.parametrize(
    ("headers", "seconds"),
    [({"retry-after": "3"}, 3.0), ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5)],
)
async def test_a_429_carries_retry_after(
    scripted: ScriptedServer, headers: dict[str, str], seconds: float
) -> None:
    scripted.replies.append(json_reply(OPENAI_RATE_LIMIT, 429, **headers))
    with pytest.raises(ModelHTTPError) as info:
        await scripted.model().request(HISTORY, PARAMS)
    err = info.value
    assert (err.status_code, err.retry_after, err.retryable) == (429, seconds, True)
    assert "Rate limit reached for gpt-test" in str(err)
    assert "rate_limit_exceeded" in err.body


@pytest.mark.allow_model_requests
async def test_a_500_is_a_retryable_http_error(scripted: ScriptedServer) -> None:
    scripted.replies.append(Reply(500, b"upstream exploded", {"content-type": "text/plain"}))
    with pytest.raises(ModelHTTPError) as info:
        await collect(scripted.model(), HISTORY, PARAMS)
    err = info.value
    assert (err.status_code, err.retry_after, err.retryable) == (500, None, True)
    assert not isinstance(err, ContextLengthExceeded)
    assert err.body == "upstream exploded"


@pytest.mark.allow_model_requests
async def test_a_context_length_400_is_context_length_exceeded(scripted: ScriptedServer) -> None:
    body = {
        "error": {
            "message": "This model's maximum context length is 128000 tokens. However, your "
            "messages resulted in 130512 tokens. Please reduce the length of the messages.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }
    scripted.replies.append(json_reply(body, 400))
    with pytest.raises(ContextLengthExceeded, match="maximum context length is 128000") as info:
        await scripted.model().request(HISTORY, PARAMS)
    assert (info.value.status_code, info.value.retryable) == (400, False)


@pytest.mark.allow_model_requests
async def test_another_400_is_not_retryable(scripted: ScriptedServer) -> None:
    body = {
        "error": {"message": "Invalid 'tools[0].function.name'", "type": "invalid_request_error"}
    }
    scripted.replies.append(json_reply(body, 400))
    with pytest.raises(ModelHTTPError, match="HTTP 400: Invalid 'tools") as info:
        await scripted.model().request(HISTORY, PARAMS)
    assert not isinstance(info.value, ContextLengthExceeded)
    assert not info.value.retryable


@pytest.mark.allow_model_requests
async def test_a_refused_connection_is_a_connection_error() -> None:
    model = OpenAIModel("m", base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ModelConnectionError, match=r"could not reach http://127\.0\.0\.1"):
        await model.request(HISTORY, PARAMS)


@pytest.mark.allow_model_requests
async def test_a_slow_server_is_a_connection_error(scripted: ScriptedServer) -> None:
    scripted.replies.append(
        json_reply(completion({"role": "assistant", "content": "late"}), delay=1.0)
    )
    with pytest.raises(ModelConnectionError, match=r"no answer from .* within 0.2s"):
        await scripted.model(timeout=0.2).request(HISTORY, PARAMS)


async def test_requests_are_blocked_without_the_marker(scripted: ScriptedServer) -> None:
    with pytest.raises(ModelRequestsBlocked):
        await scripted.model().request(HISTORY, PARAMS)
    with pytest.raises(ModelRequestsBlocked):
        await collect(scripted.model(), HISTORY, PARAMS)
    assert scripted.bodies == []


@pytest.mark.allow_model_requests
async def test_a_missing_key_for_openai_itself_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        await OpenAIModel("gpt-4o-mini").request(HISTORY, PARAMS)


def test_the_model_name_resolves_to_the_provider() -> None:
    model = resolve_model("openai:gpt-4o-mini")
    assert isinstance(model, OpenAIModel)
    assert (model.model, model.name) == ("gpt-4o-mini", "openai:gpt-4o-mini")


# ---------------------------------------------------------------- wire helpers


def test_retry_after_reads_seconds_milliseconds_and_dates() -> None:
    assert parse_retry_after({"retry-after": "12"}) == 12.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    date = "Wed, 21 Oct 2015 07:28:30 GMT"
    assert parse_retry_after({"retry-after": date}, now=1445412480.0) == 30.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


@pytest.mark.parametrize(
    ("text", "rest", "calls"),
    [
        (
            '{"name": "add", "arguments": {"a": 1, "b": 2}}',
            None,
            [ToolCall("add", {"a": 1, "b": 2})],
        ),
        (
            '<tool_call>\n{"name": "add", "arguments": {"a": 1}}\n</tool_call>',
            None,
            [ToolCall("add", {"a": 1})],
        ),
        (
            'I will add.\n<tool_call>{"name": "add", "parameters": {"a": 1}}</tool_call>',
            "I will add.",
            [ToolCall("add", {"a": 1})],
        ),
        (
            '[{"name": "add", "arguments": "{\\"a\\": 1}"}, {"type": "function", '
            '"function": {"name": "add", "arguments": {"a": 2}}}]',
            None,
            [ToolCall("add", '{"a": 1}'), ToolCall("add", {"a": 2})],
        ),
        ('{"answer": 3}', '{"answer": 3}', []),
        ('{"name": "Ada", "age": 36}', '{"name": "Ada", "age": 36}', []),
        ("The sum is 3.", "The sum is 3.", []),
        ("```json\n{not json}\n```", "```json\n{not json}\n```", []),
    ],
)
def test_tool_calls_written_as_text_are_found(
    text: str, rest: str | None, calls: list[ToolCall]
) -> None:
    # As the provider reads them with text_tool_calls=True.
    assert parse_tool_calls(text, PARAMS.tools, as_written=True) == (calls, rest)


def test_a_call_of_a_tool_not_offered_is_read_only_when_it_stands_alone() -> None:
    call = '{"name": "search", "arguments": {"q": "tether"}, "id": "c7"}'
    expected = [ToolCall("search", {"q": "tether"}, "c7")]
    for alone in (call, f"<tool_call>{call}</tool_call>", f"Searching.\n```json\n{call}\n```"):
        calls, _rest = parse_tool_calls(alone, PARAMS.tools, as_written=True)
        assert calls == expected
    among_prose = f"The call would be {call} if search existed."
    assert parse_tool_calls(among_prose, PARAMS.tools, as_written=True) == ([], among_prose)
    assert parse_tool_calls(call, PARAMS.tools) == ([], call)  # the local model's reading


def test_the_client_is_made_once_per_event_loop_and_closed_by_aclose() -> None:
    model = OpenAIModel("gpt-test", base_url="http://127.0.0.1:9/v1")

    async def clients() -> tuple[Any, Any]:
        return model._client(), model._client()

    first, again = asyncio.run(clients())
    assert first is again
    second, _ = asyncio.run(clients())  # run_sync starts a new loop on each call
    assert second is not first
    asyncio.run(model.aclose())
    assert second.is_closed()
    assert model._client_obj is None


# ---------------------------------------------------------------- a real llama.cpp server


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaServer]:
    with llama_server() as server:
        yield server


def local(server: LlamaServer, **kwargs: Any) -> OpenAIModel:
    settings = {"temperature": 0, "seed": 1, "max_tokens": 64}
    return OpenAIModel(
        "qwen2.5-coder-0.5b",
        base_url=server.base_url,
        json_mode="json_object",
        extra_body=settings,
        **kwargs,
    )


CAPITAL: list[Message] = [
    SystemMessage("You are a helpful assistant. Answer in one short sentence."),
    UserMessage("What is the capital of France?"),
]


@pytest.mark.slow
@pytest.mark.allow_model_requests
async def test_a_real_server_gives_a_plain_answer(llama: LlamaServer) -> None:
    response = await local(llama).request(CAPITAL, ModelParams())
    assert response.text is not None
    assert "Paris" in response.text
    assert response.tool_calls == []
    assert response.usage.input_tokens > 10
    assert 0 < response.usage.output_tokens <= 64


@pytest.mark.slow
@pytest.mark.allow_model_requests
async def test_a_real_stream_matches_the_plain_answer(llama: LlamaServer) -> None:
    model = local(llama)
    whole = await model.request(CAPITAL, ModelParams())
    *deltas, final = await collect(model, CAPITAL, ModelParams())
    assert len(deltas) >= 3
    assert all(isinstance(d, str) and d for d in deltas)
    assert isinstance(final, ModelResponse)
    assert "".join(deltas) == final.text == whole.text
    assert final.tool_calls == []
    assert final.usage.input_tokens > 10  # estimated: this server sends no usage chunk


@pytest.mark.slow
@pytest.mark.allow_model_requests
@pytest.mark.parametrize("streamed", [False, True])
async def test_a_forced_tool_gives_native_tool_calls_that_validate(
    llama: LlamaServer, streamed: bool
) -> None:
    params = ModelParams(tools=(add.definition,), tool_choice="add")
    history: list[Message] = [UserMessage("Add 2 and 3.")]
    model = local(llama)
    if streamed:
        final = (await collect(model, history, params))[-1]
    else:
        final = await model.request(history, params)
    assert isinstance(final, ModelResponse)
    assert len(final.tool_calls) == 1
    call = final.tool_calls[0]
    assert call.name == "add"
    assert call.id
    assert add.validate(call.arguments) == {"a": 2, "b": 3}


@pytest.mark.slow
@pytest.mark.allow_model_requests
async def test_a_tool_call_written_as_constrained_json_becomes_a_tool_call(
    llama: LlamaServer,
) -> None:
    call_schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": ["add"]},
            "arguments": add.definition.parameters,
        },
        "required": ["name", "arguments"],
    }
    history: list[Message] = [
        SystemMessage(
            "You can call the tool add(a, b). Reply only with the call as JSON: "
            '{"name": "add", "arguments": {"a": ..., "b": ...}}'
        ),
        UserMessage("Add 7 and 5."),
    ]
    params = ModelParams(tools=(add.definition,), json_schema=call_schema)
    plain = await local(llama).request(history, params)
    assert plain.tool_calls == []
    assert plain.text is not None
    assert json.loads(plain.text)["name"] == "add"
    response = await local(llama, text_tool_calls=True).request(history, params)
    assert response.text is None
    assert [c.name for c in response.tool_calls] == ["add"]
    assert add.validate(response.tool_calls[0].arguments) == {"a": 7, "b": 5}


class FirstStepForced(Model):
    """Forces one tool on the first call, then turns tools off: a guided run for a weak model."""

    requires_network = True

    def __init__(self, inner: Model, tool_name: str) -> None:
        self.inner = inner
        self.tool_name = tool_name
        self.name = inner.name

    def _params(self, messages: Sequence[Message], params: ModelParams) -> ModelParams:
        if any(isinstance(m, ToolResultMessage) for m in messages):
            return replace(params, allow_tools=False)
        return replace(params, tool_choice=self.tool_name)

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        return await self.inner.request(messages, self._params(messages, params))

    async def stream(
        self, messages: Sequence[Message], params: ModelParams
    ) -> AsyncIterator[str | ModelResponse]:
        async for item in self.inner.stream(messages, self._params(messages, params)):
            yield item


@pytest.mark.slow
@pytest.mark.allow_model_requests
@pytest.mark.parametrize("streamed", [False, True])
async def test_an_agent_run_completes_on_a_real_server(llama: LlamaServer, streamed: bool) -> None:
    agent = Agent(FirstStepForced(local(llama), "add"), tools=[add])
    if streamed:
        stream = agent.run_stream("What is 17 + 25?")
        deltas = [e.delta async for e in stream if isinstance(e, TextDelta)]
        result = stream.result
        assert "".join(deltas) == result.output
    else:
        result = await agent.run("What is 17 + 25?")
    assert result.status == "completed", result.reason
    finished = [e for e in result.events if isinstance(e, ToolCallFinished)]
    assert [(e.name, e.content) for e in finished] == [("add", "42")]
    assert "42" in result.output
    assert result.usage.model_calls == 2
    assert result.usage.input_tokens > 0


@pytest.mark.slow
@pytest.mark.allow_model_requests
async def test_a_real_server_reports_a_too_long_prompt_as_context_length_exceeded(
    llama: LlamaServer,
) -> None:
    history: list[Message] = [UserMessage("word " * (llama.n_ctx + 500))]
    with pytest.raises(ContextLengthExceeded, match="maximum context length is 2048") as info:
        await local(llama).request(history, ModelParams())
    assert info.value.status_code == 400


def _record_text(key: int) -> str:
    """A long tool result (about 250 tokens)."""
    return f"record {key}: " + ", ".join(f"entry {key}-{i} is {i * 37 % 101}" for i in range(16))


class _ServerChecked(Model):
    """Scripted turns; every request it is given is first sent to the real server, which
    must accept it (and whose input token count is reported, as a provider's would be)."""

    def __init__(self, server: LlamaServer, steps: int) -> None:
        self.real = local(server, context_window=server.n_ctx)
        self.real.extra_body["max_tokens"] = 1
        self.steps = steps
        self.name = "checked"
        self.sent: list[int] = []

    @property
    def context_window(self) -> int | None:
        return self.real.context_window

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        check = await self.real.request(messages, params)  # raises on a refused request
        self.sent.append(check.usage.input_tokens)
        done = sum(1 for m in messages if isinstance(m, ToolResultMessage))
        last = messages[-1]
        index = int(last.content.split()[1].rstrip(":")) + 1 if done else 0  # type: ignore[union-attr]
        if index >= self.steps:
            return ModelResponse(text="done", usage=check.usage)
        return ModelResponse(tool_calls=[ToolCall("lookup", {"key": index})], usage=check.usage)


@pytest.mark.slow
@pytest.mark.allow_model_requests
async def test_working_memory_keeps_a_long_run_inside_a_real_servers_window(
    llama: LlamaServer,
) -> None:
    """Every compacted request of a long run is one the real server accepts (its chat
    template and tool-call rules), and its summaries are the real model's. The run
    sends about twice its budget in tool results. The estimate (no tokenizer at hand)
    is calibrated by the input tokens the server reports, so after the first call every
    request stays within a tenth of the budget."""
    from tether import ContextCompacted, WorkingMemory

    def lookup(key: int) -> str:
        """Look a record up."""
        return _record_text(key)

    checked = _ServerChecked(llama, steps=6)
    summariser = local(llama, context_window=llama.n_ctx)
    wm = WorkingMemory(max_tokens=700, summarizer=summariser)
    result = await Agent(checked, tools=[lookup], working_memory=wm).run("read six records")
    assert result.status == "completed", result.reason
    compactions = [e for e in result.events if isinstance(e, ContextCompacted)]
    assert compactions
    assert all(e.summary and e.usage.input_tokens > 0 for e in compactions)
    assert max(checked.sent) <= llama.n_ctx
    assert max(checked.sent[1:]) <= 770
    assert all(e.tokens_before > 700 for e in compactions)  # each one was needed
