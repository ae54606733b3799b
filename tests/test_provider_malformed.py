"""Providers that answer something malformed, over real HTTP.

A tiny scripted server on 127.0.0.1 answers with what a broken server, a proxy or a
gateway may send on a 200: an HTML login page, JSON that is not a completion, fields
of the wrong type, impossible token counts. The OpenAI and Anthropic SDKs build their
objects without checking them; tether must still raise one of its own errors, one a
fallback chain moves on from, and never count negative tokens.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tether import (
    Agent,
    Budget,
    ConfigError,
    Message,
    ModelConnectionError,
    ModelResponse,
    ModelSwitched,
    UserMessage,
    tool,
)
from tether._errors import ModelResponseInvalid
from tether.models import FallbackModel, ModelParams, Price, RetryingModel
from tether.models._function import estimate_tokens
from tether.models.anthropic import AnthropicModel
from tether.models.openai import OpenAIModel

pytestmark = pytest.mark.allow_model_requests

HISTORY: list[Message] = [UserMessage("What is 2+3?")]
KEY = "sk-test-0123456789abcdef"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


PARAMS = ModelParams(tools=(add.definition,))


# ---------------------------------------------------------------- a scripted server


@dataclass
class Reply:
    """One scripted answer. Without ``length`` the body ends when the connection closes."""

    body: bytes
    content_type: str = "application/json"
    status: int = 200
    length: bool = True


def json_reply(payload: object) -> Reply:
    return Reply(json.dumps(payload).encode())


def text_reply(text: str, content_type: str = "application/json") -> Reply:
    return Reply(text.encode(), content_type)


def sse_reply(events: Sequence[str]) -> Reply:
    return Reply("".join(events).encode(), "text/event-stream")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        reply = self.server.replies.pop(0)
        self.send_response(reply.status)
        self.send_header("content-type", reply.content_type)
        if reply.length:
            self.send_header("content-length", str(len(reply.body)))
        else:
            self.send_header("connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(reply.body)
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies: list[Reply] = []
        self.bodies: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def openai(self, name: str = "gpt-test", **kwargs: Any) -> OpenAIModel:
        return OpenAIModel(name, base_url=self.url + "/v1", api_key=KEY, **kwargs)

    def anthropic(self, **kwargs: Any) -> AnthropicModel:
        return AnthropicModel("claude-sonnet-4-6", base_url=self.url, api_key=KEY, **kwargs)


def _serve() -> Iterator[Server]:
    server = Server()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    yield from _serve()


@pytest.fixture
def backup() -> Iterator[Server]:
    yield from _serve()


def completion(message: object, usage: object = "default", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-test-2024",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        **extra,
    }
    if usage == "default":
        usage = {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}
    if usage is not None:
        body["usage"] = usage
    return body


def text_message(content: object) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


def call_message(name: object) -> dict[str, Any]:
    function = {"name": name, "arguments": '{"a": 2, "b": 3}'}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": function}],
    }


def chunk(delta: object, finish: str | None = None) -> str:
    data = {
        "id": "chatcmpl-2",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-test-2024",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(data)}\n\n"


def anthropic_message(content: object, usage: object = "default") -> dict[str, Any]:
    if usage == "default":
        usage = {"input_tokens": 30, "output_tokens": 10}
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": content,
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


def anthropic_event(data: dict[str, Any]) -> str:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n"


def anthropic_stream(blocks: Sequence[dict[str, Any]], usage: object) -> list[str]:
    start = {"type": "message_start", "message": {**anthropic_message([], usage)}}
    events = [anthropic_event(start)]
    for index, block in enumerate(blocks):
        events.append(
            anthropic_event({"type": "content_block_start", "index": index, "content_block": block})
        )
        events.append(anthropic_event({"type": "content_block_stop", "index": index}))
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": usage}
    events += [anthropic_event(delta), anthropic_event({"type": "message_stop"})]
    return events


async def collect(model: OpenAIModel | AnthropicModel | FallbackModel) -> list[Any]:
    return [item async for item in model.stream(HISTORY, PARAMS)]


# ---------------------------------------------------------------- bodies that are not the API's


async def test_a_200_html_page_is_model_response_invalid_naming_the_endpoint(
    server: Server,
) -> None:
    server.replies.append(text_reply("<html><body>Sign in to the proxy</body></html>", "text/html"))
    model = server.openai()
    with pytest.raises(ModelResponseInvalid) as info:
        await model.request(HISTORY, PARAMS)
    message = str(info.value)
    assert message.startswith("openai:gpt-test: ")
    assert server.url + "/v1" in message
    assert "an HTML page" in message
    assert "Sign in to the proxy" in message
    assert "check the base URL" in message
    assert info.value.body == "<html><body>Sign in to the proxy</body></html>"


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (text_reply("this is not json{"), "text that is not JSON"),
        (text_reply(""), "an empty body"),
        (text_reply("null"), "the body is JSON null"),
        (json_reply([1, 2, 3]), "the body is a JSON list"),
        (text_reply("plain words", "text/plain"), "text that is not JSON"),
    ],
    ids=["not-json", "empty", "null", "list", "plain-text"],
)
async def test_a_body_that_is_not_a_completion_is_model_response_invalid(
    server: Server, reply: Reply, says: str
) -> None:
    server.replies.append(reply)
    with pytest.raises(ModelResponseInvalid, match=says):
        await server.openai().request(HISTORY, PARAMS)


async def test_the_excerpt_of_a_bad_body_is_short_on_one_line_and_hides_the_key(
    server: Server,
) -> None:
    page = f"<html>\n<p>key {KEY} refused</p>\x00\n" + "x" * 5000 + "</html>"
    server.replies.append(text_reply(page, "text/html"))
    with pytest.raises(ModelResponseInvalid) as info:
        await server.openai().request(HISTORY, PARAMS)
    message = str(info.value)
    assert KEY not in message
    assert KEY not in info.value.body
    assert "key *** refused" in info.value.body
    assert "\n" not in message
    assert "\x00" not in message
    assert len(info.value.body) <= 201
    assert len(message) < 600


async def test_json_cut_off_midway_is_a_connection_error_and_is_retried(server: Server) -> None:
    whole = json.dumps(completion(text_message("Five.")))
    server.replies += [Reply(whole[:60].encode(), length=False), json_reply(json.loads(whole))]
    model = server.openai()
    with pytest.raises(ModelConnectionError, match="ended in the middle of its JSON"):
        await model.request(HISTORY, PARAMS)
    server.replies += [Reply(whole[:60].encode(), length=False), json_reply(json.loads(whole))]
    retrying = RetryingModel(model, breaker=False, base_delay=0)
    response = await retrying.request(HISTORY, PARAMS)
    assert response.text == "Five."


# ---------------------------------------------------------------- fields of the wrong type


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (completion(None), r"choices\[0\]\.message is null"),
        (completion(text_message(123)), r"choices\[0\]\.message\.content is the number 123"),
        (completion(call_message(None)), r"tool_calls\[0\]\.function\.name is null"),
        (completion(call_message("")), r"tool_calls\[0\]\.function\.name is an empty string"),
        (completion(call_message(7)), r"tool_calls\[0\]\.function\.name is the number 7"),
        ({**completion(text_message("hi")), "choices": None}, "choices is null"),
        ({**completion(text_message("hi")), "choices": []}, "choices is an empty list"),
        ({**completion(text_message("hi")), "choices": ["hi"]}, r"choices\[0\] is the text"),
    ],
    ids=[
        "message-null",
        "content-number",
        "name-null",
        "name-empty",
        "name-number",
        "choices-null",
        "no-choices",
        "choice-text",
    ],
)
async def test_a_malformed_field_is_model_response_invalid_naming_it(
    server: Server, body: dict[str, Any], says: str
) -> None:
    server.replies.append(json_reply(body))
    with pytest.raises(ModelResponseInvalid, match=says):
        await server.openai().request(HISTORY, PARAMS)


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": None, "completion_tokens": None, "total_tokens": None},
        {"prompt_tokens": -5, "completion_tokens": -2, "total_tokens": -7},
        {"prompt_tokens": "5", "completion_tokens": True},
        None,
    ],
    ids=["null", "negative", "wrong-type", "missing"],
)
async def test_token_counts_that_are_null_negative_or_missing_are_estimated(
    server: Server, usage: object
) -> None:
    server.replies.append(json_reply(completion(text_message("Five."), usage=usage)))
    response = await server.openai().request(HISTORY, PARAMS)
    assert response.usage.input_tokens == estimate_tokens(HISTORY)
    assert response.usage.output_tokens == len("Five.") // 4 + 1
    assert response.usage.cached_input_tokens == 0


async def test_one_bad_count_is_estimated_and_the_good_ones_kept(server: Server) -> None:
    usage = {
        "prompt_tokens": 50,
        "completion_tokens": -1,
        "prompt_tokens_details": {"cached_tokens": 900},
    }
    server.replies.append(json_reply(completion(text_message("Five."), usage=usage)))
    response = await server.openai().request(HISTORY, PARAMS)
    assert response.usage.input_tokens == 50
    assert response.usage.output_tokens == len("Five.") // 4 + 1
    assert response.usage.cached_input_tokens == 50  # never more than the input


async def test_negative_usage_never_gives_a_run_negative_cost(server: Server) -> None:
    usage = {"prompt_tokens": -1_000_000, "completion_tokens": -1_000_000}
    server.replies.append(json_reply(completion(text_message("Five."), usage=usage)))
    model = server.openai(price=Price(1.0, 2.0))
    result = await Agent(model, budget=Budget(max_cost_usd=1.0)).run("What is 2+3?")
    assert result.status == "completed", result.reason
    assert result.usage.input_tokens > 0
    assert result.usage.output_tokens > 0
    assert result.usage.cost_usd is not None
    assert result.usage.cost_usd > 0


async def test_a_tool_call_without_a_name_fails_the_run_as_a_model_error(server: Server) -> None:
    server.replies.append(json_reply(completion(call_message(None))))
    result = await Agent(server.openai(), tools=[add]).run("What is 2+3?")
    assert result.status == "failed"
    assert result.reason.kind == "model_error", result.reason
    assert "function.name is null" in result.reason.message


# ---------------------------------------------------------------- streams


async def test_a_streamed_chunk_that_is_not_json_is_model_response_invalid(
    server: Server,
) -> None:
    events = ["data: {not json\n\n", chunk({"content": "x"}, "stop"), "data: [DONE]\n\n"]
    server.replies.append(sse_reply(events))
    with pytest.raises(ModelResponseInvalid, match="an event's data is not JSON"):
        await collect(server.openai())


async def test_a_streamed_tool_call_without_a_name_is_model_response_invalid(
    server: Server,
) -> None:
    delta = {"tool_calls": [{"index": 0, "id": "c1", "function": {"arguments": "{}"}}]}
    server.replies.append(sse_reply([chunk(delta, "tool_calls"), "data: [DONE]\n\n"]))
    with pytest.raises(ModelResponseInvalid, match="streamed tool call 0"):
        await collect(server.openai())


async def test_a_streamed_content_that_is_a_number_is_model_response_invalid(
    server: Server,
) -> None:
    server.replies.append(sse_reply([chunk({"content": 5}, "stop"), "data: [DONE]\n\n"]))
    with pytest.raises(ModelResponseInvalid, match=r"delta\.content is the number 5"):
        await collect(server.openai())


async def test_an_html_page_for_a_stream_is_model_response_invalid_not_a_cut(
    server: Server,
) -> None:
    server.replies.append(text_reply("<html>Sign in</html>", "text/html"))
    with pytest.raises(ModelResponseInvalid, match="text/html, not an event stream"):
        await collect(server.openai())


async def test_a_streamed_usage_with_negative_counts_is_estimated(server: Server) -> None:
    usage = {
        "id": "chatcmpl-2",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-test-2024",
        "choices": [],
        "usage": {"prompt_tokens": -9, "completion_tokens": None},
    }
    events = [chunk({"content": "Five."}, "stop"), f"data: {json.dumps(usage)}\n\n"]
    server.replies.append(sse_reply([*events, "data: [DONE]\n\n"]))
    items = await collect(server.openai())
    final = items[-1]
    assert isinstance(final, ModelResponse)
    assert final.usage.input_tokens == estimate_tokens(HISTORY)
    assert final.usage.output_tokens == len("Five.") // 4 + 1


# ---------------------------------------------------------------- Anthropic


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (text_reply("garbage"), "text that is not JSON"),
        (text_reply("<html>login</html>", "text/html"), "an HTML page"),
        (json_reply(anthropic_message(None)), "content is null"),
        (json_reply(anthropic_message({"a": 1})), "content is an object"),
        (json_reply(anthropic_message([{"type": "text", "text": 5}])), r"content\[0\]\.text"),
        (
            json_reply(anthropic_message([{"type": "tool_use", "id": "t", "name": None}])),
            r"content\[0\]\.name is null",
        ),
        (json_reply(anthropic_message(["hi"])), r"content\[0\] is the text"),
    ],
    ids=["not-json", "html", "content-null", "content-object", "text-number", "name-null", "str"],
)
async def test_an_anthropic_answer_that_is_not_a_message_is_model_response_invalid(
    server: Server, reply: Reply, says: str
) -> None:
    server.replies.append(reply)
    with pytest.raises(ModelResponseInvalid, match=says) as info:
        await server.anthropic().request(HISTORY, PARAMS)
    assert str(info.value).startswith(f"anthropic:claude-sonnet-4-6: the answer from {server.url}")


@pytest.mark.parametrize(
    "usage",
    [
        None,
        {"input_tokens": None, "output_tokens": None},
        {"input_tokens": -3, "output_tokens": -1},
    ],
    ids=["null", "null-counts", "negative"],
)
async def test_anthropic_counts_that_are_null_or_negative_are_estimated(
    server: Server, usage: object
) -> None:
    body = anthropic_message([{"type": "text", "text": "Five."}], usage)
    server.replies.append(json_reply(body))
    response = await server.anthropic().request(HISTORY, PARAMS)
    assert response.text == "Five."
    assert response.usage.input_tokens == estimate_tokens(HISTORY)
    assert response.usage.output_tokens == len("Five.") // 4 + 1


async def test_an_anthropic_stream_with_null_usage_is_estimated(server: Server) -> None:
    events = anthropic_stream([{"type": "text", "text": "Five."}], None)
    server.replies.append(sse_reply(events))
    items = await collect(server.anthropic())
    final = items[-1]
    assert isinstance(final, ModelResponse)
    assert final.text == "Five."
    assert final.usage.input_tokens == estimate_tokens(HISTORY)


async def test_an_anthropic_streamed_tool_use_without_a_name_is_model_response_invalid(
    server: Server,
) -> None:
    usage = {"input_tokens": 30, "output_tokens": 10}
    events = anthropic_stream([{"type": "tool_use", "id": "t1", "name": None, "input": {}}], usage)
    server.replies.append(sse_reply(events))
    with pytest.raises(ModelResponseInvalid, match="tool_use block 0's name is an empty string"):
        await collect(server.anthropic())


async def test_an_anthropic_stream_event_that_is_not_json_is_model_response_invalid(
    server: Server,
) -> None:
    server.replies.append(sse_reply(["event: message_start\ndata: {oops\n\n"]))
    with pytest.raises(ModelResponseInvalid, match="an event's data is not JSON"):
        await collect(server.anthropic())


# ---------------------------------------------------------------- retries and fallback


async def test_an_invalid_answer_is_not_retried(server: Server) -> None:
    server.replies += [
        text_reply("<html>login</html>", "text/html"),
        json_reply(completion(text_message("Five."))),
    ]
    model = RetryingModel(server.openai(), breaker=False, base_delay=0)
    with pytest.raises(ModelResponseInvalid):
        await model.request(HISTORY, PARAMS)
    assert len(server.bodies) == 1


async def test_a_fallback_chain_moves_on_from_a_proxys_login_page(
    server: Server, backup: Server
) -> None:
    server.replies.append(text_reply("<html>proxy login</html>", "text/html"))
    backup.replies.append(json_reply(completion(text_message("from the backup"))))
    chain = FallbackModel([server.openai("a"), backup.openai("b")])
    response = await chain.request(HISTORY, PARAMS)
    assert response.text == "from the backup"


async def test_a_fallback_chain_moves_on_from_an_answer_with_no_choices(
    server: Server, backup: Server
) -> None:
    server.replies.append(json_reply({**completion(text_message("hi")), "choices": []}))
    backup.replies.append(json_reply(completion(text_message("from the backup"))))
    chain = FallbackModel([RetryingModel(server.openai("a"), breaker=False), backup.openai("b")])
    result = await Agent(chain).run("What is 2+3?")
    assert result.status == "completed", result.reason
    assert result.output == "from the backup"
    switches = [e for e in result.events if isinstance(e, ModelSwitched)]
    assert [s.cause.split(":")[0] for s in switches] == ["ModelResponseInvalid"]


async def test_a_fallback_stream_moves_on_from_an_html_page_without_retrying_it(
    server: Server, backup: Server
) -> None:
    server.replies += [text_reply("<html>proxy login</html>", "text/html")] * 2
    backup.replies.append(sse_reply([chunk({"content": "Five."}, "stop"), "data: [DONE]\n\n"]))
    first = RetryingModel(server.openai("a"), max_attempts=2, base_delay=0, breaker=False)
    chain = FallbackModel([first, backup.openai("b")])
    items = await collect(chain)
    assert items[0] == "Five."
    assert len(server.bodies) == 1  # a login page is not a cut stream: asked once


# ---------------------------------------------------------------- settings


BAD_SECONDS = [0, -1, math.nan, math.inf, True, "5", 10**400]


@pytest.mark.parametrize(
    "timeout", BAD_SECONDS, ids=["0", "-1", "nan", "inf", "True", "str", "huge-int"]
)
def test_a_timeout_that_is_not_a_finite_number_above_0_is_a_config_error(timeout: Any) -> None:
    with pytest.raises(ConfigError, match="timeout is the seconds to wait"):
        OpenAIModel("m", base_url="http://127.0.0.1:1/v1", timeout=timeout)
    with pytest.raises(ConfigError, match="timeout is the seconds to wait"):
        AnthropicModel("m", api_key=KEY, timeout=timeout)


@pytest.mark.parametrize("window", [0, -1, 1.5, True, "4096"], ids=repr)
def test_a_context_window_that_is_not_a_whole_number_above_0_is_a_config_error(
    window: Any,
) -> None:
    with pytest.raises(ConfigError, match="context_window is the model's context window"):
        OpenAIModel("m", context_window=window)
    with pytest.raises(ConfigError, match="context_window is the model's context window"):
        AnthropicModel("m", context_window=window)


@pytest.mark.parametrize("max_tokens", [0, -1, 1.5, True, "4096", None], ids=repr)
def test_an_anthropic_max_tokens_that_is_not_a_whole_number_above_0_is_a_config_error(
    max_tokens: Any,
) -> None:
    with pytest.raises(ConfigError, match="max_tokens is the most tokens"):
        AnthropicModel("m", max_tokens=max_tokens)
