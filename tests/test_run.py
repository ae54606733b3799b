"""The run: results, the event journal, streaming, errors and cancellation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

import tether
from helpers import types
from tether import (
    Agent,
    JournalError,
    Message,
    ModelRequestsBlocked,
    ModelResponse,
    RunFinished,
    RunResult,
    StreamEvent,
    TextDelta,
    ToolCall,
    UsageError,
    dump_event,
    load_event,
)
from tether.journal import JournalStore, SQLiteStore
from tether.models import Model, ModelParams, check_allow_model_requests
from tether.run import Outlet, add_outlet_factory, remove_outlet_factory
from tether.testing import FunctionModel, ScriptedModel


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def test_a_run_journals_every_step_in_order() -> None:
    model = ScriptedModel([ToolCall("add", {"a": 2, "b": 3}), "5"])
    result = await Agent(model, tools=[add], name="adder").run("2+3?")
    assert (result.status, result.output) == ("completed", "5")
    assert result.reason.kind == "final_answer"
    assert types(result) == [
        "run_started",
        "model_requested",
        "model_responded",
        "tool_call_started",
        "tool_call_finished",
        "model_requested",
        "model_responded",
        "run_finished",
    ]
    assert [e.seq for e in result.events] == list(range(8))
    assert {e.run_id for e in result.events} == {result.run_id}
    start = result.events[0]
    assert start.type == "run_started"
    assert start.agent == "adder"
    assert start.prompt == "2+3?"
    u = result.usage
    assert (u.steps, u.model_calls, u.tool_calls) == (2, 2, 1)
    assert u.input_tokens > 0
    assert u.output_tokens > 0


async def test_events_round_trip_through_json() -> None:
    model = ScriptedModel([ToolCall("add", {"a": 2, "b": 3}), "5"])
    result = await Agent(model, tools=[add]).run("2+3?")
    for event in result.events:
        text = json.dumps(dump_event(event))
        assert load_event(text) == event or event.type == "run_finished"
    finished = load_event(json.dumps(dump_event(result.events[-1])))
    assert isinstance(finished, RunFinished)
    assert finished.status == "completed"
    assert finished.usage == result.usage


def test_unknown_schema_versions_are_refused() -> None:
    record = {
        "type": "run_started",
        "run_id": "r",
        "seq": 0,
        "at": 0.0,
        "agent": "a",
        "prompt": "p",
        "model": "m",
        "v": 99,
    }
    with pytest.raises(JournalError, match="schema version 99 is not supported"):
        load_event(record)


_MODEL_REQUESTED = {"type": "model_requested", "run_id": "r", "seq": 1, "at": 0.0, "step": 1}


@pytest.mark.parametrize(
    ("record", "says"),
    [
        ("x", "an event record is not valid JSON"),
        (b"\xff", "an event record is not valid JSON"),
        ("[1]", "an event record is a JSON object, got list"),
        (5, "an event record is a JSON object, got int"),
        ({"type": "nope"}, "an event record of type 'nope' has no schema version"),
        ({**_MODEL_REQUESTED, "v": True}, "has the schema version True"),
        (
            {**_MODEL_REQUESTED, "type": "nope", "v": 5},
            "an event record has an unknown type 'nope'",
        ),
        ({"v": 5}, 'an event record has no "type"'),
        (
            {**_MODEL_REQUESTED, "step": "two", "v": 5},
            "of type 'model_requested' is not valid: step",
        ),
        ({"type": "model_requested", "v": 5}, "run_id: Field required"),
    ],
)
def test_a_record_that_is_not_an_event_is_a_journal_error_saying_why(
    record: object, says: str
) -> None:
    with pytest.raises(JournalError) as caught:
        load_event(record)  # type: ignore[arg-type]
    assert says in str(caught.value)


async def test_run_stream_yields_events_and_text_deltas() -> None:
    model = ScriptedModel([ToolCall("add", {"a": 1, "b": 1}), "the sum is 2"])
    stream = Agent(model, tools=[add]).run_stream("1+1?")
    seen = [event async for event in stream]
    deltas = [e.delta for e in seen if isinstance(e, TextDelta)]
    assert "".join(deltas) == "the sum is 2"
    assert len(deltas) == 4
    journal = [e for e in seen if not isinstance(e, TextDelta)]
    assert journal == stream.result.events
    assert seen[-1].type == "run_finished"
    assert stream.result.output == "the sum is 2"


async def test_result_is_unavailable_before_the_stream_ends() -> None:
    stream = Agent(ScriptedModel(["x"])).run_stream("q")
    with pytest.raises(UsageError, match="has not finished"):
        _ = stream.result


async def test_a_model_error_fails_the_run_with_a_reason() -> None:
    result = await Agent(ScriptedModel([])).run("q")
    assert result.status == "failed"
    assert (result.reason.kind, result.reason.detail) == ("model_error", "ScriptExhausted")
    assert "served all 0 replies" in result.reason.message
    assert types(result)[-2:] == ["model_failed", "run_finished"]


class NetworkModel(Model):
    name = "network"
    requires_network = True

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        check_allow_model_requests()
        return ModelResponse(text="from the network")


async def test_network_models_are_blocked_in_tests() -> None:
    result = await Agent(NetworkModel()).run("q")
    assert result.status == "failed"
    assert result.reason.detail == ModelRequestsBlocked.__name__


@pytest.mark.allow_model_requests
async def test_a_test_can_opt_in_to_network_models() -> None:
    result = await Agent(NetworkModel()).run("q")
    assert result.output == "from the network"


async def test_cancelling_a_run_journals_it_as_interrupted() -> None:
    started = asyncio.Event()

    async def slow(messages: Sequence[Message], params: ModelParams) -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    seen: list[tether.StreamEvent] = []
    stream = Agent(FunctionModel(slow)).run_stream("q")

    async def consume() -> None:
        async for e in stream:
            seen.append(e)

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen[0].type == "run_started"


async def test_cancelled_run_records_interrupted() -> None:
    started = asyncio.Event()

    async def slow(messages: Sequence[Message], params: ModelParams) -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    agent = Agent(FunctionModel(slow))
    events: list[tether.StreamEvent] = []
    run = agent._new_run("q", None, sink=events.append)
    task = asyncio.create_task(agent._execute(run))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    last = events[-1]
    assert isinstance(last, RunFinished)
    assert (last.status, last.reason.kind) == ("interrupted", "cancelled")


def test_run_sync_works_without_a_loop() -> None:
    result = Agent(ScriptedModel(["hi"])).run_sync("q")
    assert result.output == "hi"


async def test_run_sync_inside_a_loop_says_what_to_do() -> None:
    with pytest.raises(UsageError, match=r"await agent\.run"):
        Agent(ScriptedModel(["hi"])).run_sync("q")


async def test_override_swaps_the_model_in_scope_only() -> None:
    agent = Agent(ScriptedModel(["original"]))
    with agent.override(model=ScriptedModel(["overridden"])):
        assert (await agent.run("q")).output == "overridden"
    assert (await agent.run("q")).output == "original"


async def test_concurrent_runs_of_one_agent_are_independent() -> None:
    def fn(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        results = [m for m in messages if m.role == "tool"]
        if len(results) < 3:
            return ModelResponse(tool_calls=[ToolCall("add", {"a": len(results), "b": 1})])
        return ModelResponse(text=f"done {results[-1].content}")  # type: ignore[union-attr]

    agent = Agent(FunctionModel(fn), tools=[add])
    results = await asyncio.gather(*(agent.run(f"q{i}") for i in range(50)))
    assert {r.output for r in results} == {"done 3"}
    assert len({r.run_id for r in results}) == 50


def test_unknown_model_names_list_the_known_ones() -> None:
    with pytest.raises(tether.ConfigError, match=r"unknown model .gpt-nope.; known model names"):
        Agent("gpt-nope")


async def test_wrappers_can_journal_into_the_current_run() -> None:
    from tether import ModelRetried
    from tether.models import current_run

    class Noting(Model):
        name = "noting"

        async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
            st = current_run()
            assert st is not None
            st.record(ModelRetried, model=self.name, attempt=1, error="429", delay_s=0.0)
            return ModelResponse(text="ok")

    result = await Agent(Noting()).run("q")
    retried = [e for e in result.events if isinstance(e, ModelRetried)]
    assert [(e.model, e.error, e.seq) for e in retried] == [("noting", "429", 2)]
    assert current_run() is None


class _Faulty(Outlet):
    """An outlet (a tracer, an exporter) with a bug in one place."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.seen: list[str] = []

    def emit(self, event: StreamEvent) -> None:
        self.seen.append(event.type)
        if self.where in (event.type, "every"):
            raise RuntimeError("outlet bug")

    async def flush(self) -> None:
        if self.where == "flush":
            raise RuntimeError("outlet bug")

    def around(self, event: StreamEvent) -> AbstractContextManager[object] | None:
        if self.where == "around":
            raise RuntimeError("outlet bug")
        return _FaultyScope(self.where)


class _FaultyScope:
    def __init__(self, where: str) -> None:
        self.where = where

    def __enter__(self) -> None:
        if self.where == "enter":
            raise RuntimeError("outlet bug")

    def __exit__(self, *exc: object) -> bool:
        if self.where == "exit":
            raise RuntimeError("outlet bug")
        return True  # would swallow the work's errors: an observer's return is ignored


async def _run_with_outlet(store: JournalStore, outlet: Outlet) -> RunResult[Any]:
    factory = lambda run: outlet  # noqa: E731
    add_outlet_factory(factory)
    try:
        model = ScriptedModel([ToolCall("add", {"a": 1, "b": 1}), "2"])
        return await Agent(model, tools=[add], store=store).run("1+1?")
    finally:
        remove_outlet_factory(factory)


@pytest.mark.parametrize(
    "where",
    [
        "run_started",
        "model_requested",
        "tool_call_started",
        "run_finished",
        "every",
        "flush",
        "around",
        "enter",
        "exit",
    ],
)
async def test_an_outlet_that_raises_is_logged_once_and_does_not_change_the_run(
    make_store: Callable[[], JournalStore], where: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    outlet = _Faulty(where)
    result = await _run_with_outlet(store, outlet)
    assert (result.status, result.reason.kind, result.output) == ("completed", "final_answer", "2")
    assert outlet.seen == [e.type for e in result.events]  # it kept getting every event
    journaled = await store.load(result.run_id)
    assert [e.type for e in journaled] == [e.type for e in result.events]
    assert journaled[-1].type == "run_finished"
    [info] = await store.list_runs()
    assert info.status == "completed"
    assert await store.acquire_lease(result.run_id, "someone else", 10.0)  # released
    logged = [r for r in caplog.records if "outlet _Faulty failed" in r.getMessage()]
    assert len(logged) == 1  # once per outlet and run, with the exception
    assert logged[0].levelname == "ERROR"
    assert logged[0].exc_info is not None
    assert str(logged[0].exc_info[1]) == "outlet bug"


async def test_a_failing_outlet_factory_is_logged_and_the_run_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def factory(run: object) -> Outlet:
        raise RuntimeError("factory bug")

    add_outlet_factory(factory)
    try:
        result = await Agent(ScriptedModel(["ok"])).run("hi")
    finally:
        remove_outlet_factory(factory)
    assert result.status == "completed"
    assert any("outlet factory" in r.getMessage() for r in caplog.records)


async def test_the_journal_still_fails_the_run_loudly(tmp_path: Path) -> None:
    class Failing(SQLiteStore):
        calls = 0

        async def append(self, run_id: str, events: Any, *, owner: str | None = None) -> None:
            self.calls += 1
            if self.calls > 1:  # the run's row is written; its next events are not
                raise JournalError("the disk is gone")
            await super().append(run_id, events, owner=owner)

    store = Failing(tmp_path / "j.db")
    with pytest.raises(JournalError, match="the disk is gone"):
        await Agent(
            ScriptedModel([ToolCall("add", {"a": 1, "b": 1}), "2"]), tools=[add], store=store
        ).run("1+1?")
    await store.close()
