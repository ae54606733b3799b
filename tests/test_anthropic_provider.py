"""The Anthropic provider, on recorded responses in the Messages API's wire format.

No Anthropic server runs here, so the fixtures in ``fixtures/anthropic/`` (a text
answer, tool_use blocks, an SSE stream, error bodies) are served to the real
``anthropic`` SDK through ``httpx2.MockTransport``: the SDK's own parsing runs, and
the request bodies it sends are checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from llama_server import free_port
from tether import (
    Agent,
    AssistantMessage,
    ContextLengthExceeded,
    Message,
    ModelConnectionError,
    ModelHTTPError,
    ModelRequestsBlocked,
    ModelResponse,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
    tool,
)
from tether.models import ModelParams, resolve_model
from tether.models.anthropic import AnthropicModel

FIXTURES = Path(__file__).parent / "fixtures" / "anthropic"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number.
        b: the second number.
    """
    return a + b


@tool
def lookup_capital(country: str) -> str:
    """The capital of a country."""
    return {"Portugal": "Lisbon"}.get(country, "unknown")


class Recorder:
    """Serves queued responses and keeps the JSON body of every request."""

    def __init__(self, *responses: httpx2.Response | Callable[[], httpx2.Response]) -> None:
        self.responses = list(responses)
        self.requests: list[httpx2.Request] = []

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        item = self.responses.pop(0)
        return item() if callable(item) else item

    def model(self, **kwargs: Any) -> AnthropicModel:
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(self))
        return AnthropicModel("claude-sonnet-4-6", api_key="sk-test", http_client=client, **kwargs)


def json_response(
    name: str, status: int = 200, headers: dict[str, str] | None = None
) -> httpx2.Response:
    return httpx2.Response(
        status,
        content=fixture(name),
        headers={"content-type": "application/json", "request-id": "req_test", **(headers or {})},
    )


def sse_response(content: bytes | AsyncIterator[bytes]) -> httpx2.Response:
    return httpx2.Response(200, content=content, headers={"content-type": "text/event-stream"})


PARAMS = ModelParams(tools=(add.definition,))
HISTORY: list[Message] = [SystemMessage("Be brief."), UserMessage("What is 2+3 and 40+2?")]


async def collect(model: AnthropicModel, messages: list[Message], params: ModelParams) -> list[Any]:
    return [item async for item in model.stream(messages, params)]


@pytest.mark.allow_model_requests
async def test_a_text_answer_is_read_with_its_usage() -> None:
    rec = Recorder(json_response("message_text.json"))
    response = await rec.model().request(HISTORY, ModelParams())
    assert response.text == "Lisbon is the capital of Portugal."
    assert response.tool_calls == []
    assert (response.usage.input_tokens, response.usage.output_tokens) == (31 + 12, 11)
    assert response.model == "claude-sonnet-4-6"
    request = rec.requests[0]
    assert request.url.path == "/v1/messages"
    assert any("sk-test" in value for value in request.headers.values())
    assert "anthropic-version" in request.headers


@pytest.mark.allow_model_requests
async def test_tool_use_blocks_become_tool_calls_with_their_ids() -> None:
    rec = Recorder(json_response("message_tool_use.json"))
    response = await rec.model().request(HISTORY, PARAMS)
    assert response.text == "I will add both pairs."
    assert response.tool_calls == [
        ToolCall("add", {"a": 2, "b": 3}, "toolu_01A8kTq2Vx7NmRb3Yc5LpD9e"),
        ToolCall("add", {"a": 40, "b": 2}, "toolu_01Zf4Hs6Wn1KqPa8Ud2JtB7c"),
    ]
    assert response.usage.output_tokens == 96


@pytest.mark.allow_model_requests
async def test_the_request_carries_the_system_prompt_tools_and_max_tokens() -> None:
    rec = Recorder(json_response("message_text.json"))
    history: list[Message] = [SystemMessage("Be brief."), SystemMessage("Use tools."), HISTORY[1]]
    await rec.model(max_tokens=300).request(history, PARAMS)
    body = rec.bodies[0]
    assert body["model"] == "claude-sonnet-4-6"
    assert body["max_tokens"] == 300
    assert body["system"] == "Be brief.\n\nUse tools."
    assert body["tools"] == [
        {
            "name": "add",
            "description": add.definition.description,
            "input_schema": add.definition.parameters,
        }
    ]
    assert body["tool_choice"] == {"type": "auto"}
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What is 2+3 and 40+2?"}]}
    ]
    assert "stream" not in body


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ("add", {"type": "tool", "name": "add"}),
    ],
)
def test_tool_choice_maps_to_the_api_forms(choice: str, wire: dict[str, str]) -> None:
    body = AnthropicModel("m").request_body(
        HISTORY, ModelParams((add.definition,), tool_choice=choice)
    )
    assert body["tool_choice"] == wire


@pytest.mark.parametrize(
    ("arguments", "wire"),
    [
        ('{"a": 1, "b": 2}', {"a": 1, "b": 2}),
        ("[1, 2]", {"_arguments": [1, 2]}),
        ('"two"', {"_arguments": "two"}),
        ("{oops", {"_unparsed_arguments": "{oops"}),
    ],
)
def test_a_tool_use_input_is_always_an_object(arguments: str, wire: dict[str, Any]) -> None:
    history = [*HISTORY, AssistantMessage(None, [ToolCall("add", arguments, "toolu_1")])]
    body = AnthropicModel("m").request_body(history, PARAMS)
    assert body["messages"][-1]["content"][0]["input"] == wire


def test_a_json_schema_becomes_the_structured_output_format() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    body = AnthropicModel("m").request_body(HISTORY, ModelParams(json_schema=schema))
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "output_config" not in AnthropicModel("m").request_body(HISTORY, ModelParams())


def test_tool_results_share_one_user_turn_after_the_tool_use() -> None:
    calls = [ToolCall("add", {"a": 2, "b": 3}, "toolu_1"), ToolCall("add", '{"a": 40', "toolu_2")]
    history: list[Message] = [
        *HISTORY,
        AssistantMessage("Adding.", calls),
        ToolResultMessage("toolu_1", "add", "5"),
        ToolResultMessage("toolu_2", "add", "Malformed arguments", is_error=True),
        UserMessage("Note from the orchestrator: answer now."),
    ]
    body = AnthropicModel("m").request_body(history, PARAMS)
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Adding."},
                {"type": "tool_use", "id": "toolu_1", "name": "add", "input": {"a": 2, "b": 3}},
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "add",
                    "input": {"_unparsed_arguments": '{"a": 40'},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "5"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": "Malformed arguments",
                    "is_error": True,
                },
                {"type": "text", "text": "Note from the orchestrator: answer now."},
            ],
        },
    ]


def test_tools_stay_declared_but_off_when_not_allowed() -> None:
    params = ModelParams((add.definition,), allow_tools=False)
    body = AnthropicModel("m").request_body(HISTORY, params)
    assert body["tool_choice"] == {"type": "none"}
    assert [t["name"] for t in body["tools"]] == ["add"]


def test_without_tool_declarations_a_tool_history_is_written_as_text() -> None:
    history: list[Message] = [
        *HISTORY,
        AssistantMessage(None, [ToolCall("add", {"a": 2, "b": 3}, "toolu_1")]),
        ToolResultMessage("toolu_1", "add", "5"),
    ]
    body = AnthropicModel("m").request_body(history, ModelParams(allow_tools=False))
    assert "tools" not in body
    assert body["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "text", "text": '[called add({"a":2,"b":3})]'}]},
        {"role": "user", "content": [{"type": "text", "text": "[add returned: 5]"}]},
    ]


def test_empty_assistant_text_is_left_out() -> None:
    history: list[Message] = [*HISTORY, AssistantMessage("  "), UserMessage("Well?")]
    body = AnthropicModel("m").request_body(history, ModelParams())
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is 2+3 and 40+2?"},
                {"type": "text", "text": "Well?"},
            ],
        }
    ]


@pytest.mark.allow_model_requests
async def test_a_stream_yields_text_deltas_and_assembles_the_tool_input() -> None:
    rec = Recorder(sse_response(fixture("stream_tool_use.sse")))
    items = await collect(rec.model(), HISTORY, ModelParams((lookup_capital.definition,)))
    *deltas, final = items
    assert deltas == ["Let me", " look that", " up."]
    assert isinstance(final, ModelResponse)
    assert final.text == "Let me look that up."
    assert final.tool_calls == [
        ToolCall("lookup_capital", {"country": "Portugal"}, "toolu_01Kd5Gw3Xr8Tn2Qb6Ym4Hc1V")
    ]
    assert (final.usage.input_tokens, final.usage.output_tokens) == (389, 57)
    assert rec.bodies[0]["stream"] is True


@pytest.mark.allow_model_requests
async def test_a_stream_cut_before_message_stop_is_a_connection_error() -> None:
    whole = fixture("stream_tool_use.sse")
    cut = whole[: whole.index(b"event: message_delta")]
    rec = Recorder(sse_response(cut))
    with pytest.raises(ModelConnectionError, match="before message_stop"):
        await collect(rec.model(), HISTORY, PARAMS)


@pytest.mark.allow_model_requests
async def test_a_connection_that_breaks_mid_stream_is_a_connection_error() -> None:
    async def broken() -> AsyncIterator[bytes]:
        whole = fixture("stream_tool_use.sse")
        yield whole[:400]
        raise httpx2.ReadError("connection reset by peer")

    rec = Recorder(sse_response(broken()))
    with pytest.raises(ModelConnectionError, match="broke mid-stream"):
        await collect(rec.model(), HISTORY, PARAMS)


@pytest.mark.allow_model_requests
async def test_an_overloaded_error_inside_a_stream_is_a_retryable_529() -> None:
    rec = Recorder(sse_response(fixture("stream_overloaded.sse")))
    with pytest.raises(ModelHTTPError) as info:
        await collect(rec.model(), HISTORY, PARAMS)
    assert info.value.status_code == 529
    assert info.value.retryable
    assert "overloaded_error: Overloaded" in str(info.value)


@pytest.mark.allow_model_requests
async def test_a_429_carries_retry_after() -> None:
    rec = Recorder(json_response("error_rate_limit.json", 429, {"retry-after": "7"}))
    with pytest.raises(ModelHTTPError) as info:
        await rec.model().request(HISTORY, PARAMS)
    err = info.value
    assert (err.status_code, err.retry_after, err.retryable) == (429, 7.0, True)
    assert "rate_limit_error" in str(err)
    assert "retry after 7s" in str(err)
    assert "50 requests per minute" in err.body


@pytest.mark.allow_model_requests
async def test_a_529_overloaded_is_retryable() -> None:
    rec = Recorder(json_response("error_overloaded.json", 529))
    with pytest.raises(ModelHTTPError) as info:
        await rec.model().request(HISTORY, PARAMS)
    assert (info.value.status_code, info.value.retryable) == (529, True)
    assert not isinstance(info.value, ContextLengthExceeded)


@pytest.mark.allow_model_requests
async def test_a_prompt_too_long_400_is_context_length_exceeded() -> None:
    rec = Recorder(json_response("error_prompt_too_long.json", 400))
    with pytest.raises(ContextLengthExceeded, match="longer than the model's context") as info:
        await rec.model().request(HISTORY, PARAMS)
    assert (info.value.status_code, info.value.retryable) == (400, False)


@pytest.mark.allow_model_requests
async def test_a_timeout_is_a_connection_error() -> None:
    def hang() -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out")

    rec = Recorder(hang)
    with pytest.raises(
        ModelConnectionError, match=r"no answer from api\.anthropic\.com within 60s"
    ):
        await rec.model().request(HISTORY, PARAMS)


@pytest.mark.allow_model_requests
async def test_a_refused_connection_is_a_connection_error() -> None:
    model = AnthropicModel("m", api_key="k", base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ModelConnectionError, match=r"could not reach http://127\.0\.0\.1"):
        await model.request(HISTORY, PARAMS)


async def test_requests_are_blocked_without_the_marker() -> None:
    with pytest.raises(ModelRequestsBlocked):
        await Recorder().model().request(HISTORY, PARAMS)


@pytest.mark.allow_model_requests
async def test_a_missing_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with pytest.raises(Exception, match="ANTHROPIC_API_KEY") as info:
        await AnthropicModel("m").request(HISTORY, PARAMS)
    assert type(info.value).__name__ == "ConfigError"


def test_the_model_name_resolves_to_the_provider() -> None:
    model = resolve_model("anthropic:claude-sonnet-4-6")
    assert isinstance(model, AnthropicModel)
    assert (model.model, model.name) == ("claude-sonnet-4-6", "anthropic:claude-sonnet-4-6")


@pytest.mark.allow_model_requests
async def test_an_agent_run_pairs_tool_use_and_tool_result_ids() -> None:
    final = {
        "id": "msg_02",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": "5 and 42"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 500, "output_tokens": 5},
    }
    rec = Recorder(json_response("message_tool_use.json"), httpx2.Response(200, json=final))
    result = await Agent(rec.model(), tools=[add]).run("What is 2+3 and 40+2?")
    assert (result.status, result.output) == ("completed", "5 and 42")
    assert result.usage.input_tokens == 902
    second = rec.bodies[1]["messages"]
    assert second[-1]["role"] == "user"
    results = [b for b in second[-1]["content"] if b["type"] == "tool_result"]
    assert [(b["tool_use_id"], b["content"]) for b in results] == [
        ("toolu_01A8kTq2Vx7NmRb3Yc5LpD9e", "5"),
        ("toolu_01Zf4Hs6Wn1KqPa8Ud2JtB7c", "42"),
    ]
    assert rec.bodies[1]["system"]  # the orchestrator's prompt went to the system field


def _tool_ids(body: dict[str, Any]) -> tuple[list[str], list[str]]:
    uses = [b["id"] for t in body["messages"] for b in t["content"] if b["type"] == "tool_use"]
    results = [
        b["tool_use_id"]
        for t in body["messages"]
        for b in t["content"]
        if b["type"] == "tool_result"
    ]
    return uses, results


def test_a_repeated_call_id_goes_out_unique_with_its_result_paired() -> None:
    # Two earlier runs of a session (on a model that gives no ids) both named their
    # first call call_1_0; the API refuses a repeated tool_use id.
    history: list[Message] = [HISTORY[0]]
    for n in (1, 2):
        history += [
            UserMessage(f"question {n}"),
            AssistantMessage(None, [ToolCall("add", {"a": n, "b": n}, "call_1_0")]),
            ToolResultMessage("call_1_0", "add", str(2 * n)),
            AssistantMessage(f"{2 * n}"),
        ]
    history.append(UserMessage("and now?"))
    body = AnthropicModel("m").request_body(history, PARAMS)
    uses, results = _tool_ids(body)
    assert uses == ["call_1_0", "call_1_0_2"]
    assert results == uses
    contents = [b["content"] for t in body["messages"] for b in t["content"] if "tool_use_id" in b]
    assert contents == ["2", "4"]
    assert history[2].tool_calls[0].id == "call_1_0"  # type: ignore[union-attr]  # unchanged


def test_ids_in_characters_the_api_refuses_are_cleaned_and_stay_paired() -> None:
    calls = [
        ToolCall("add", {"a": 1, "b": 2}, "fc.1|x"),
        ToolCall("add", {"a": 3, "b": 4}, "fc_1_x"),  # what the first one cleans to
        ToolCall("add", {"a": 5, "b": 6}, ""),
        ToolCall("add", {"a": 7, "b": 8}, "é"),
    ]
    history: list[Message] = [
        *HISTORY,
        AssistantMessage(None, calls),
        *(ToolResultMessage(c.id, "add", str(i)) for i, c in enumerate(calls)),
    ]
    uses, results = _tool_ids(AnthropicModel("m").request_body(history, PARAMS))
    assert uses == ["fc_1_x", "fc_1_x_2", "call", "_"]
    assert results == uses
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", u) for u in uses)


def test_two_calls_under_one_id_in_one_turn_get_their_own_results() -> None:
    calls = [ToolCall("add", {"a": 1, "b": 2}, "dup"), ToolCall("add", {"a": 3, "b": 4}, "dup")]
    history: list[Message] = [
        *HISTORY,
        AssistantMessage(None, calls),
        ToolResultMessage("dup", "add", "3"),
        ToolResultMessage("dup", "add", "7"),
    ]
    body = AnthropicModel("m").request_body(history, PARAMS)
    uses, results = _tool_ids(body)
    assert uses == results == ["dup", "dup_2"]


def test_runs_continuing_a_history_reach_the_api_with_unique_ids() -> None:
    from tether.testing import ScriptedModel

    agent = Agent(ScriptedModel([ToolCall("add", {"a": 2, "b": 3}), "5"]), tools=[add])
    first = agent.run_sync("2+3?")
    again = Agent(ScriptedModel([ToolCall("add", {"a": 4, "b": 5}), "9"]), tools=[add])
    second = again.run_sync("4+5?", history=first.messages[1:])
    ids = [c.id for m in second.messages if isinstance(m, AssistantMessage) for c in m.tool_calls]
    assert len(ids) == 2
    assert len(set(ids)) == 1  # tether named both runs' first call the same
    uses, results = _tool_ids(AnthropicModel("m").request_body(second.messages, PARAMS))
    assert len(set(uses)) == 2
    assert results == uses
