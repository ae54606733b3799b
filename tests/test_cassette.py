"""Record a run to a cassette, replay it without the model, and fail loudly on a change."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from helpers import of_type
from tether import (
    Agent,
    AssistantMessage,
    Event,
    JournalError,
    Message,
    ModelHTTPError,
    ModelResponse,
    ReplayMismatch,
    ToolCall,
    ToolCallFinished,
    ToolResultMessage,
    UserMessage,
    dump_event,
)
from tether.models import ModelParams, Price
from tether.models._cassette import (
    CASSETTE_VERSION,
    RecordingModel,
    ReplayModel,
    canonical_request,
)
from tether.testing import FunctionModel

PARAMS = ModelParams()


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def adder(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
    """Adds 1 to the last result until it reaches 3, then answers."""
    results = [m for m in messages if isinstance(m, ToolResultMessage)]
    last = int(results[-1].content) if results else 0
    if last < 3:
        return ModelResponse(text="adding", tool_calls=[ToolCall("add", {"a": last, "b": 1})])
    return ModelResponse(text=f"the total is {last}")


def comparable(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Events without what differs from one run to the next: ids, times, durations."""
    out = []
    for event in events:
        data = dump_event(event)
        for key in ("run_id", "at", "duration_s", "idempotency_key"):
            data.pop(key, None)
        out.append(data)
    return out


def agent_with(model: Any) -> Agent[None, str]:
    return Agent(model, tools=[add], instructions="Add up.")


async def test_a_replayed_run_gives_the_same_events(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    model = FunctionModel(adder, name="adder", price=Price(3.0, 15.0))
    recorded = await agent_with(RecordingModel(model, path)).run("count to three")
    assert recorded.output == "the total is 3"
    assert recorded.usage.cost_usd > 0  # the price travels in the cassette

    replay = ReplayModel(path)
    assert replay.name == "adder"
    assert replay.remaining == 4
    replayed = await agent_with(replay).run("count to three")
    assert replay.remaining == 0
    assert replayed.output == recorded.output
    assert comparable(replayed.events) == comparable(recorded.events)
    assert replayed.usage == recorded.usage


async def test_a_changed_prompt_fails_loudly_naming_the_difference(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    await agent_with(RecordingModel(FunctionModel(adder), path)).run("count to three")
    result = await agent_with(ReplayModel(path)).run("count to four")
    assert result.status == "failed"
    assert result.reason.detail == "ReplayMismatch"
    assert "request.messages[1].content" in result.reason.message
    assert '"count to three"' in result.reason.message
    assert '"count to four"' in result.reason.message


async def test_changed_params_are_a_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    messages = [UserMessage("count")]
    await RecordingModel(FunctionModel(adder), path).request(messages, PARAMS)
    with pytest.raises(ReplayMismatch, match=r"call 1 .* request\.params\.allow_tools"):
        await ReplayModel(path).request(messages, ModelParams(allow_tools=False))


async def test_a_run_longer_than_the_cassette_fails(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    recorder = RecordingModel(FunctionModel(lambda m, p: "hello"), path)
    await recorder.request([], PARAMS)
    replay = ReplayModel(path)
    await replay.request([], PARAMS)
    with pytest.raises(ReplayMismatch, match="holds 1 model calls and call 2 was made"):
        await replay.request([], PARAMS)


def test_json_text_and_dict_arguments_are_the_same_request() -> None:
    as_text = [AssistantMessage(None, [ToolCall("add", '{"b": 2, "a": 1}', "c1")])]
    as_dict = [AssistantMessage(None, [ToolCall("add", {"a": 1, "b": 2}, "c1")])]
    assert canonical_request(as_text, PARAMS) == canonical_request(as_dict, PARAMS)


async def test_errors_are_recorded_and_replayed(tmp_path: Path) -> None:
    path = tmp_path / "err.jsonl"

    def limited(messages: Sequence[Message], params: ModelParams) -> str:
        raise ModelHTTPError("slow down", 429, retry_after=1.5, body="{}")

    recorder = RecordingModel(FunctionModel(limited), path)
    with pytest.raises(ModelHTTPError):
        await recorder.request([], PARAMS)
    with pytest.raises(ModelHTTPError, match="slow down") as info:
        await ReplayModel(path).request([], PARAMS)
    assert (info.value.status_code, info.value.retry_after) == (429, 1.5)


async def test_streams_are_recorded_with_their_deltas(tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl"
    recorder = RecordingModel(FunctionModel(lambda m, p: "one two three"), path)
    live = [i async for i in recorder.stream([], PARAMS)]
    replayed = [i async for i in ReplayModel(path).stream([], PARAMS)]
    assert replayed == live
    assert live[:3] == ["one ", "two ", "three"]


async def test_each_line_is_whole_json_with_the_version(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    await agent_with(RecordingModel(FunctionModel(adder), path)).run("count")
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # ends with a newline
    records = [json.loads(line) for line in lines[:-1]]
    assert all(r["v"] == CASSETTE_VERSION for r in records)
    assert [r["type"] for r in records] == ["header"] + ["exchange"] * 4
    assert [r["seq"] for r in records[1:]] == [0, 1, 2, 3]


async def test_a_new_recording_starts_a_fresh_cassette(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text("old junk\n")
    await RecordingModel(FunctionModel(lambda m, p: "hi"), path).request([], PARAMS)
    assert ReplayModel(path).remaining == 1


def test_an_unknown_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.jsonl"
    path.write_text(json.dumps({"v": 99, "type": "header", "kind": "tether-cassette"}) + "\n")
    with pytest.raises(JournalError, match="format version 99"):
        ReplayModel(path)


def test_a_cut_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    header = {"v": CASSETTE_VERSION, "type": "header", "kind": "tether-cassette"}
    path.write_text(json.dumps(header) + '\n{"v": 1, "type": "exch')
    with pytest.raises(JournalError, match="line 2 is cut short"):
        ReplayModel(path)


def test_a_file_that_is_not_a_cassette_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text(json.dumps({"v": CASSETTE_VERSION, "type": "exchange"}) + "\n")
    with pytest.raises(JournalError, match="not a cassette header"):
        ReplayModel(path)
    path.write_text("")
    with pytest.raises(JournalError, match="empty"):
        ReplayModel(path)


async def test_replay_serves_recorded_tool_calls_to_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    await agent_with(RecordingModel(FunctionModel(adder), path)).run("count")
    result = await agent_with(ReplayModel(path)).run("count")
    assert [e.content for e in of_type(result, ToolCallFinished)] == [
        "1",
        "2",
        "3",
    ]
