"""Why a run failed, read from its events: one category per ending, with its evidence."""

from __future__ import annotations

import asyncio
import contextlib

from tether import (
    Agent,
    Budget,
    ModelRetry,
    ToolCall,
    diagnose,
    input_guardrail,
)
from tether.journal import SQLiteStore
from tether.testing import FunctionModel, ScriptedModel


def boom(x: int) -> int:
    """Always fails."""
    raise RuntimeError("disk full")


def echo(x: int) -> int:
    """Echo."""
    return x


async def test_a_completed_run_is_not_a_failure() -> None:
    result = await Agent(ScriptedModel(["hi"])).run("x")
    d = diagnose(result.events)
    assert d.category == "completed"
    assert not d.failed


async def test_budget_by_dimension() -> None:
    model = ScriptedModel([ToolCall("echo", {"x": i}) for i in range(10)] + ["late"])
    result = await Agent(model, tools=[echo], budget=Budget(max_steps=3)).run("x")
    d = diagnose(result.events)
    assert d.category == "budget"
    assert d.detail == "steps"
    assert d.failed
    assert result.events[d.evidence[-1]].type == "run_finished"


async def test_loop_by_kind() -> None:
    model = ScriptedModel([ToolCall("echo", {"x": 1})] * 10 + ["done"])
    result = await Agent(model, tools=[echo]).run("x")
    d = diagnose(result.events)
    assert d.category == "loop"
    assert d.detail == "repeated_call"
    assert any("loop correction" in c for c in d.contributing)


async def test_tool_errors_when_most_calls_failed() -> None:
    model = ScriptedModel([ToolCall("boom", {"x": i}) for i in range(10)] + ["done"])
    result = await Agent(model, tools=[boom], budget=Budget(max_steps=3)).run("x")
    d = diagnose(result.events)
    assert d.category == "tool_errors"
    assert d.detail == "boom"
    assert "budget ran out" in d.summary
    assert any("boom: error" in c for c in d.contributing)


async def test_provider_errors() -> None:
    def broken(messages: object, params: object) -> object:
        raise ConnectionError("provider down")

    result = await Agent(FunctionModel(broken)).run("x")  # type: ignore[arg-type]
    d = diagnose(result.events)
    assert d.category == "provider_errors"
    assert "provider down" in d.summary


async def test_output_validation() -> None:
    result = await Agent(ScriptedModel(["a", "b", "c"]), output_type=int, output_retries=2).run("n")
    d = diagnose(result.events)
    assert d.category == "output_validation"
    assert len(d.evidence) == 4  # three invalid answers and the end


async def test_guardrail() -> None:
    @input_guardrail
    def deny(prompt: str) -> str:
        return "not today"

    result = await Agent(ScriptedModel(["x"]), guardrails=[deny]).run("x")
    d = diagnose(result.events)
    assert d.category == "guardrail"
    assert d.detail == "deny"


async def test_waiting_for_approval_names_the_calls() -> None:
    model = ScriptedModel([ToolCall("echo", {"x": 7})])
    result = await Agent(model, tools=[echo], approval=lambda c: True).run("x")
    d = diagnose(result.events)
    assert d.category == "waiting_for_approval"
    assert d.detail == "echo"
    assert [c.arguments for c in d.waiting_for] == [{"x": 7}]


async def test_cancelled(tmp_path: object) -> None:
    async def slow(messages: object, params: object) -> object:
        await asyncio.sleep(10)
        raise AssertionError

    store = SQLiteStore(f"{tmp_path}/j.db")
    agent = Agent(FunctionModel(slow), store=store)  # type: ignore[arg-type]
    task = asyncio.ensure_future(agent.run("x"))
    await asyncio.sleep(0.1)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    [run] = await store.list_runs()
    d = diagnose(await store.load(run.run_id))
    assert d.category == "cancelled"
    assert d.failed


def test_no_events_and_unfinished_runs_are_running() -> None:
    assert diagnose([]).category == "running"


async def test_retries_are_contributing() -> None:
    calls = {"n": 0}

    def flaky(x: int) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ModelRetry("try again with a bigger x")
        return x

    model = ScriptedModel([ToolCall("flaky", {"x": 1}), ToolCall("flaky", {"x": 2}), "ok"])
    result = await Agent(model, tools=[flaky]).run("x")
    assert diagnose(result.events).category == "completed"
