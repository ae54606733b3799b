"""Tools cannot take the run or the process down, and every odd value gets a clear answer."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import proc_tools
from tether import Agent, Budget, ConfigError, StaticAnswer, Tool, ToolCall
from tether.journal import SQLiteStore
from tether.testing import FunctionModel, ScriptedModel
from tether.tools import ProcessLimits
from tether.tools._abandon import _ABANDONED
from tether.tools._workers import default_pool


def _finished(result: object) -> list[object]:
    return [e for e in result.events if e.type == "tool_call_finished"]  # type: ignore[attr-defined]


def _one(tool: object, arguments: dict[str, object] | None = None, **agent: object) -> object:
    name = tool.name if isinstance(tool, Tool) else tool.__name__  # type: ignore[attr-defined]
    model = ScriptedModel([ToolCall(name, arguments or {}), "done"])
    return Agent(model, tools=[tool], **agent).run_sync("go")  # type: ignore[arg-type,list-item]


def sync_exit() -> str:
    """Exit."""
    sys.exit("bye")


async def async_interrupt() -> str:
    """Interrupt."""
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    "tool",
    [sync_exit, async_interrupt, Tool(async_interrupt, timeout=5)],
    ids=["sync-exit", "async-ctrl-c", "async-ctrl-c-timeout"],
)
def test_a_tool_that_exits_is_an_error_not_the_end_of_the_process(tool: object) -> None:
    result = _one(tool)
    assert result.status == "completed"  # type: ignore[attr-defined]
    (done,) = _finished(result)
    assert done.outcome == "error"  # type: ignore[attr-defined]
    assert "tried to exit the process" in done.content  # type: ignore[attr-defined]


def test_a_process_tool_that_exits_is_an_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    result = _one(Tool(proc_tools.exits, isolation="process"), store=store)
    (done,) = _finished(result)
    assert (result.status, done.outcome) == ("completed", "error")  # type: ignore[attr-defined]
    assert "tried to exit" in done.content  # type: ignore[attr-defined]
    listed = asyncio.run(store.list_runs())
    assert listed[0].status == "completed"  # journaled, lease released


def test_the_wall_clock_budget_stops_a_tool_that_never_returns() -> None:
    def hangs() -> str:
        """Never return."""
        time.sleep(3600)
        return "never"

    async def hangs_async() -> str:
        """Never return."""
        await asyncio.Event().wait()
        return "never"

    for tool in (hangs, hangs_async):
        started = time.monotonic()
        result = _one(tool, budget=Budget(max_seconds=0.3), fallback=StaticAnswer("late"))
        assert time.monotonic() - started < 5
        assert (result.status, result.reason.detail) == ("gave_up", "seconds")  # type: ignore[attr-defined]
        (done,) = _finished(result)
        assert done.outcome == "timeout"  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fn", "args", "limits", "needle"),
    [
        (proc_tools.eats_memory, {"mb": 2000}, ProcessLimits(memory_mb=200), "out of memory"),
        (proc_tools.spins, {}, ProcessLimits(cpu_seconds=1), "CPU time limit"),
        (proc_tools.opens_files, {"n": 200}, ProcessLimits(open_files=40), "Too many open files"),
    ],
    ids=["memory", "cpu", "files"],
)
def test_process_limits_trip_with_a_clear_error(
    fn: object, args: dict[str, object], limits: ProcessLimits, needle: str
) -> None:
    result = _one(Tool(fn, isolation="process", limits=limits, timeout=30), args)  # type: ignore[arg-type]
    (done,) = _finished(result)
    assert done.outcome == "error", done  # type: ignore[attr-defined]
    assert needle in done.content, done.content  # type: ignore[attr-defined]
    assert result.status == "completed"  # type: ignore[attr-defined]


def test_limits_are_for_process_tools_and_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="isolation='process'"):
        Tool(proc_tools.spins, limits=ProcessLimits())
    with pytest.raises(ConfigError, match="memory_mb"):
        ProcessLimits(memory_mb=-1)


class _Unprintable:
    def __str__(self) -> str:
        raise ValueError("no text for you")

    __repr__ = __str__


def text_bytes() -> bytes:
    """UTF-8 bytes."""
    return "héllo".encode()


def binary() -> bytes:
    """Binary data."""
    return b"\xff\xfe\x00\x81"


def unprintable() -> object:
    """An object without text."""
    return _Unprintable()


async def _later() -> str:
    return "awaited"


def returns_coroutine() -> object:
    """A sync function that hands back a coroutine."""
    return _later()


@pytest.mark.parametrize(
    ("tool", "outcome", "needle"),
    [
        (text_bytes, "ok", "héllo"),
        (binary, "error", "4 bytes of binary data"),
        (unprintable, "error", "cannot show as text"),
        (returns_coroutine, "ok", "awaited"),
    ],
)
def test_odd_return_values_get_a_clear_answer(tool: object, outcome: str, needle: str) -> None:
    result = _one(tool)
    assert result.status == "completed"  # type: ignore[attr-defined]
    (done,) = _finished(result)
    assert done.outcome == outcome  # type: ignore[attr-defined]
    assert needle in done.content  # type: ignore[attr-defined]


async def agen() -> AsyncIterator[int]:
    """Items."""
    yield 1


def gen() -> Iterator[int]:
    """Items."""
    yield 1


@pytest.mark.parametrize("fn", [agen, gen])
def test_generators_are_refused_when_the_tool_is_made(fn: object) -> None:
    with pytest.raises(ConfigError, match="generator"):
        Tool(fn)  # type: ignore[arg-type]


def test_a_sync_tool_at_its_timeout_is_said_to_be_abandoned() -> None:
    def slow() -> str:
        """Slow."""
        time.sleep(1)
        return "late"

    async def slow_async() -> str:
        """Slow."""
        await asyncio.sleep(1)
        return "late"

    (sync_done,) = _finished(_one(Tool(slow, timeout=0.05)))
    (async_done,) = _finished(_one(Tool(slow_async, timeout=0.05)))
    assert "abandoned (its work may still be going on)" in sync_done.content  # type: ignore[attr-defined]
    assert "was stopped" in async_done.content  # type: ignore[attr-defined]


def _echo(messages: list[object], params: object) -> object:
    results = [m for m in messages if getattr(m, "role", "") == "tool"]
    if results:
        return results[-1].content  # type: ignore[attr-defined]
    return ToolCall("dive", {})


def _nested_agent(level: int, depth: int) -> Agent[None, str]:
    def dive() -> str:
        """Go one level deeper."""
        if level >= depth:
            return f"bottom {level}"
        return _nested_agent(level + 1, depth).run_sync("dive").output or "none"

    return Agent(FunctionModel(_echo), tools=[dive])  # type: ignore[arg-type]


def test_sync_tools_that_run_agents_nest_past_the_pool_size() -> None:
    started = time.monotonic()
    result = _nested_agent(1, 24).run_sync("dive")  # the worker pool has 16 threads
    assert result.output == "bottom 24"
    assert time.monotonic() - started < 20


def test_runs_nested_too_deep_fail_with_a_clear_error() -> None:
    from tether._agent import MAX_NESTING

    result = _nested_agent(1, MAX_NESTING + 5).run_sync("dive")
    assert result.status == "completed"
    assert "nested more than 32 deep" in (result.output or "")


def test_sync_tools_cut_off_by_the_run_budget_give_their_slot_back() -> None:
    def hangs() -> str:
        """Never return."""
        time.sleep(3600)
        return "never"

    for _ in range(20):  # more than the pool's 16 threads
        result = _one(hangs, budget=Budget(max_seconds=0.05), fallback=StaticAnswer("late"))
        assert result.reason.detail == "seconds"  # type: ignore[attr-defined]
    started = time.monotonic()
    result = _nested_agent(1, 2).run_sync("dive")  # needs a free thread at once
    assert result.output == "bottom 2"
    assert time.monotonic() - started < 5


class _Stop(BaseException):
    """A BaseException of a library's own (neither Exception nor an exit)."""


async def cancels_itself() -> str:
    """A tool whose inner task was cancelled, passing the CancelledError on."""
    raise asyncio.CancelledError


def sync_cancels() -> str:
    """The same, in a worker thread."""
    raise asyncio.CancelledError


def closes() -> str:
    """Raise GeneratorExit."""
    raise GeneratorExit


async def stops() -> str:
    """Raise a BaseException subclass."""
    raise _Stop("halt")


@pytest.mark.parametrize(
    ("tool", "needle"),
    [
        (cancels_itself, "CancelledError"),
        (Tool(cancels_itself, timeout=5), "CancelledError"),
        (sync_cancels, "CancelledError"),
        (closes, "GeneratorExit"),
        (stops, "_Stop: halt"),
    ],
    ids=["async-cancelled", "async-cancelled-timeout", "sync-cancelled", "exit", "custom"],
)
def test_a_tool_raising_a_base_exception_gets_it_back_as_its_error(
    tool: object, needle: str
) -> None:
    result = _one(tool)
    assert (result.status, result.output) == ("completed", "done")  # type: ignore[attr-defined]
    (done,) = _finished(result)
    assert done.outcome == "error"  # type: ignore[attr-defined]
    assert done.content.startswith("Tool ")  # type: ignore[attr-defined]
    assert needle in done.content  # type: ignore[attr-defined]


@pytest.mark.parametrize("limit", [None, 5.0], ids=["direct", "with-timeout"])
async def test_cancelling_a_run_still_cancels_it_while_a_tool_runs(limit: float | None) -> None:
    started = asyncio.Event()
    seen: list[str] = []

    async def waits() -> str:
        """Wait; say when cancelled."""
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return "never"

    model = ScriptedModel([ToolCall("waits", {}), "done"])
    task = asyncio.create_task(Agent(model, tools=[Tool(waits, timeout=limit)]).run("go"))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert seen == ["cancelled"]


def _stubborn(seen: list[str]) -> object:
    async def stubborn() -> str:
        """Swallow cancellation (for 8 s at most, so that a failing test still ends)."""
        end = time.monotonic() + 8
        try:
            while time.monotonic() < end:
                try:
                    await asyncio.sleep(end - time.monotonic())
                except asyncio.CancelledError:
                    seen.append("cancelled")
            return "late"
        finally:
            seen.append("closed")

    return stubborn


@pytest.mark.parametrize("bound", ["timeout", "budget"])
async def test_an_async_tool_that_swallows_cancellation_is_abandoned(
    bound: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    fn = _stubborn(seen)
    if bound == "timeout":
        agent = Agent(
            ScriptedModel([ToolCall("stubborn", {}), "done"]), tools=[Tool(fn, timeout=0.2)]
        )
    else:
        agent = Agent(
            ScriptedModel([ToolCall("stubborn", {}), "done"]),
            tools=[fn],  # type: ignore[list-item]
            budget=Budget(max_seconds=0.2),
            fallback=StaticAnswer("late"),
        )
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        result = await agent.run("go")
        took = time.monotonic() - started
        assert took < 3, took  # its deadline and the grace, not the tool's 8 s
        (done,) = _finished(result)
        assert done.outcome == "timeout"  # type: ignore[attr-defined]
        assert result.status == ("completed" if bound == "timeout" else "gave_up")
        await asyncio.sleep(0.05)  # the abandoned task ends once its coroutine is closed
        gc.collect()
    assert seen == ["cancelled", "closed"]  # cancelled, then closed: it runs no more
    assert not _ABANDONED  # no reference to it is kept
    assert "was abandoned" in caplog.text
    noise = [r for r in caplog.records if r.name == "asyncio"]
    assert not noise, [r.getMessage() for r in noise]


def test_sync_calls_cut_off_by_the_run_budget_leave_the_pool_s_count() -> None:
    release = threading.Event()

    def hangs() -> str:
        """Hang until the test ends."""
        release.wait(30)
        return "late"

    pool = default_pool()
    busy = pool._threads - pool._idle
    try:
        for _ in range(3):
            result = _one(hangs, budget=Budget(max_seconds=0.05), fallback=StaticAnswer("late"))
            assert result.reason.detail == "seconds"  # type: ignore[attr-defined]
        assert pool._threads - pool._idle == busy  # the hung threads were written off
    finally:
        release.set()
