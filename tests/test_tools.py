"""Tools: schemas from type hints, bad calls fed back, timeouts, retries, parallel calls."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from typing import Any

import pytest
from pydantic import BaseModel

from helpers import of_type
from tether import (
    Agent,
    ConfigError,
    ModelRetry,
    RunContext,
    Tool,
    ToolCall,
    ToolCallFinished,
    ToolCallStarted,
    ToolResultMessage,
    tool,
)
from tether.testing import ScriptedModel


def add(a: int, b: int = 1) -> int:
    """Add two integers.

    Args:
        a: the first number.
        b: the second number.
    """
    return a + b


class Point(BaseModel):
    x: float
    y: float


def test_schema_comes_from_type_hints_and_docstring() -> None:
    d = Tool(add).definition
    assert d.name == "add"
    assert d.description == "Add two integers."
    props = d.parameters["properties"]
    assert props["a"] == {"type": "integer", "description": "the first number."}
    assert props["b"]["default"] == 1
    assert d.parameters["required"] == ["a"]
    assert d.parameters["additionalProperties"] is False


def test_context_parameter_is_hidden_from_the_schema() -> None:
    def where(ctx: RunContext[str], p: Point) -> str:
        """Say where."""
        return f"{ctx.deps}:{p.x}"

    d = Tool(where).definition
    assert list(d.parameters["properties"]) == ["p"]
    assert Tool(where).ctx_param == "ctx"


def test_variadic_parameters_are_refused() -> None:
    def bad(*numbers: int) -> int:
        return sum(numbers)

    with pytest.raises(ConfigError, match="named, typed parameters"):
        Tool(bad).check()


def test_decorated_tool_still_works_as_a_function() -> None:
    @tool(timeout=3)
    def double(x: int) -> int:
        """Double it."""
        return 2 * x

    assert double(4) == 8
    assert double.timeout == 3


def _finished(result: Any) -> list[ToolCallFinished]:
    return of_type(result, ToolCallFinished)


async def test_unknown_tool_gets_the_list_and_the_closest_name() -> None:
    model = ScriptedModel([ToolCall("ad", {"a": 1}), ToolCall("add", {"a": 1}), "2"])
    result = await Agent(model, tools=[add]).run("add 1")
    assert result.status == "completed"
    first = _finished(result)[0]
    assert first.outcome == "unknown_tool"
    assert "Did you mean 'add'?" in first.content
    assert "Available tools: add" in first.content
    # The model saw that message as the call's result.
    seen = [m for m in model.requests[1] if isinstance(m, ToolResultMessage)]
    assert seen[0].content == first.content
    assert seen[0].is_error


async def test_malformed_json_arguments_are_fed_back() -> None:
    model = ScriptedModel([ToolCall("add", '{"a": 1,'), "done"])
    result = await Agent(model, tools=[add]).run("x")
    f = _finished(result)[0]
    assert f.outcome == "invalid_arguments"
    assert "Invalid JSON" in f.content
    assert result.status == "completed"


async def test_arguments_failing_validation_get_the_errors() -> None:
    model = ScriptedModel([ToolCall("add", {"a": "ten", "c": 3}), "done"])
    result = await Agent(model, tools=[add]).run("x")
    f = _finished(result)[0]
    assert f.outcome == "invalid_arguments"
    assert "- a: Input should be a valid integer" in f.content
    assert "'ten'" in f.content
    assert "- c: Extra inputs are not permitted" in f.content


async def test_a_tool_that_raises_gets_its_error_back() -> None:
    def explode(n: int) -> int:
        """Fail."""
        raise ValueError(f"no {n}")

    model = ScriptedModel([ToolCall("explode", {"n": 7}), "sorry"])
    result = await Agent(model, tools=[explode]).run("x")
    f = _finished(result)[0]
    assert (f.outcome, f.content) == ("error", "Tool 'explode' failed: ValueError: no 7")
    assert result.status == "completed"
    assert result.output == "sorry"


async def test_retry_signal_sends_the_hint() -> None:
    def date(day: str) -> str:
        """Look up a day."""
        if "-" not in day:
            raise ModelRetry("write the day as YYYY-MM-DD")
        return "sunny"

    model = ScriptedModel(
        [ToolCall("date", {"day": "today"}), ToolCall("date", {"day": "2026-11-30"}), "sunny"]
    )
    result = await Agent(model, tools=[date]).run("x")
    outs = [(f.outcome, f.content) for f in _finished(result)]
    assert outs == [
        ("retry_requested", "Tool 'date' asks you to retry: write the day as YYYY-MM-DD"),
        ("ok", "sunny"),
    ]


async def test_sync_tool_that_never_returns_times_out_and_the_run_goes_on() -> None:
    release = threading.Event()

    @tool(timeout=0.2)
    def hang() -> str:
        """Never returns (until the test ends)."""
        release.wait(30)
        return "late"

    model = ScriptedModel([ToolCall("hang"), "gave up on it"])
    try:
        result = await Agent(model, tools=[hang]).run("x")
    finally:
        release.set()
    f = _finished(result)[0]
    assert f.outcome == "timeout"
    assert "timed out after 0.2 s" in f.content
    assert result.status == "completed"


async def test_async_tool_is_cancelled_on_timeout() -> None:
    state: dict[str, bool] = {}

    @tool(timeout=0.1)
    async def slow() -> str:
        """Sleeps too long."""
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            state["cancelled"] = True
            raise
        return "never"

    model = ScriptedModel([ToolCall("slow"), "ok"])
    result = await Agent(model, tools=[slow]).run("x")
    assert _finished(result)[0].outcome == "timeout"
    assert state == {"cancelled": True}


async def test_per_tool_retries_run_the_call_again() -> None:
    calls: list[int] = []

    @tool(retries=2, retry_delay=0.001)
    def flaky() -> str:
        """Fails twice."""
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("reset")
        return "fine"

    result = await Agent(ScriptedModel([ToolCall("flaky"), "ok"]), tools=[flaky]).run("x")
    f = _finished(result)[0]
    assert (f.outcome, f.content, f.attempts) == ("ok", "fine", 3)
    assert len(calls) == 3


async def test_retries_stop_at_their_cap() -> None:
    calls: list[int] = []

    @tool(retries=1, retry_delay=0.001, retry_on=(ConnectionError,))
    def down() -> str:
        """Always fails."""
        calls.append(1)
        raise ConnectionError("refused")

    result = await Agent(ScriptedModel([ToolCall("down"), "ok"]), tools=[down]).run("x")
    f = _finished(result)[0]
    assert (f.outcome, f.attempts, len(calls)) == ("error", 2, 2)


async def test_long_results_are_cut_with_a_visible_marker() -> None:
    def big() -> str:
        """Returns a lot."""
        return "x" * 5000

    agent = Agent(ScriptedModel([ToolCall("big"), "ok"]), tools=[big], max_result_chars=100)
    result = await agent.run("x")
    f = _finished(result)[0]
    assert f.truncated
    assert f.content.startswith("x" * 100)
    assert "[... 4900 more characters cut by tether ...]" in f.content


async def test_a_timeout_error_the_tool_raises_is_its_own_error_and_retried() -> None:
    calls: list[int] = []

    @tool(retries=2, retry_delay=0.001)
    def fetch() -> str:
        """The socket read times out twice."""
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError("socket read timed out")
        return "data"

    @tool(timeout=5)
    async def gives_up() -> str:
        """Raises TimeoutError long before its own timeout."""
        raise TimeoutError("upstream timed out")

    model = ScriptedModel([[ToolCall("fetch"), ToolCall("gives_up")], "ok"])
    result = await Agent(model, tools=[fetch, gives_up]).run("x")
    ended = {f.name: f for f in _finished(result)}
    fetched, gave_up = ended["fetch"], ended["gives_up"]
    assert (fetched.outcome, fetched.content, fetched.attempts) == ("ok", "data", 3)
    assert gave_up.outcome == "error"
    assert gave_up.content == "Tool 'gives_up' failed: TimeoutError: upstream timed out"


@pytest.mark.parametrize("value", [0, -1, True, 2.5, "100"])
def test_max_result_chars_below_one_or_not_an_int_is_refused(value: Any) -> None:
    with pytest.raises(ConfigError, match="max_result_chars must be an int of at least 1"):
        Agent(ScriptedModel(["ok"]), max_result_chars=value)
    with pytest.raises(ConfigError, match="tool max_result_chars must be an int of at least 1"):
        Tool(add, max_result_chars=value)


async def test_a_tool_limit_of_one_character_cuts_to_one_character() -> None:
    def big() -> str:
        """Returns sixty characters."""
        return "abcdef" * 10

    agent = Agent(ScriptedModel([ToolCall("big"), "ok"]), tools=[Tool(big, max_result_chars=1)])
    f = _finished(await agent.run("x"))[0]
    assert f.content == "a\n[... 59 more characters cut by tether ...]"


async def test_parallel_calls_run_at_the_same_time() -> None:
    barrier = asyncio.Barrier(3)

    async def meet(name: str) -> str:
        """Wait for the others."""
        async with asyncio.timeout(2):
            await barrier.wait()  # passes only if all three calls run concurrently
        return f"met {name}"

    calls = [ToolCall("meet", {"name": n}) for n in ("a", "b", "c")]
    result = await Agent(ScriptedModel([calls, "all met"]), tools=[meet]).run("x")
    outs = sorted((f.call_id, f.outcome, f.content) for f in _finished(result))
    assert outs == [
        ("call_1_0", "ok", "met a"),
        ("call_1_1", "ok", "met b"),
        ("call_1_2", "ok", "met c"),
    ]
    assert len(of_type(result, ToolCallStarted)) == 3


async def test_parallel_sync_tools_run_in_separate_threads() -> None:
    barrier = threading.Barrier(2, timeout=5)

    def meet(name: str) -> str:
        """Wait for the other."""
        barrier.wait()
        return name

    calls = [ToolCall("meet", {"name": "a"}), ToolCall("meet", {"name": "b"})]
    result = await Agent(ScriptedModel([calls, "ok"]), tools=[meet]).run("x")
    assert sorted(f.content for f in _finished(result)) == ["a", "b"]
    # whatever order they finished in, the model sees the results in call order
    assert [m.content for m in result.messages if m.role == "tool"] == ["a", "b"]


async def test_tools_get_the_typed_run_context() -> None:
    seen: dict[str, Any] = {}

    def remember(ctx: RunContext[dict[str, int]], key: str) -> int:
        """Read a dependency."""
        seen["key"] = ctx.idempotency_key
        seen["run_id"] = ctx.run_id
        seen["calls"] = ctx.usage.model_calls
        return ctx.deps[key]

    model = ScriptedModel([ToolCall("remember", {"key": "n"}), "done"])
    result = await Agent(model, tools=[remember]).run("x", deps={"n": 42})
    assert _finished(result)[0].content == "42"
    assert seen["run_id"] == result.run_id
    assert seen["key"] == f"{result.run_id}:call_1_0"
    assert seen["calls"] == 1
    started = of_type(result, ToolCallStarted)[0]
    assert started.idempotency_key == seen["key"]


async def test_pydantic_arguments_and_results() -> None:
    def mirror(p: Point) -> Point:
        """Mirror a point."""
        return Point(x=-p.x, y=p.y)

    model = ScriptedModel([ToolCall("mirror", {"p": {"x": 1, "y": 2}}), "ok"])
    result = await Agent(model, tools=[mirror]).run("x")
    assert json.loads(_finished(result)[0].content) == {"x": -1.0, "y": 2.0}


def test_two_tools_with_one_name_are_refused() -> None:
    with pytest.raises(ConfigError, match="two tools are named 'add'"):
        Agent(ScriptedModel([]), tools=[add, Tool(add)])


@pytest.mark.parametrize("fn", [lambda x: x, "renamed"])
def test_a_tool_without_a_name_providers_accept_must_be_given_one(fn: Any) -> None:
    if fn == "renamed":

        def fn(x: str) -> str:
            """Echo."""
            return x

        fn.__name__ = "get weather"
    with pytest.raises(ConfigError, match=r"pass one with name=\.\.\.") as info:
        Agent(ScriptedModel(["ok"]), tools=[fn])
    assert isinstance(info.value, ValueError)
    with pytest.raises(ConfigError, match="no name a model provider accepts"):
        tool(fn)
    assert Tool(fn, name="echo").name == "echo"


@pytest.mark.parametrize("name", ["", "has space", "a.b", "x" * 65, "café", 3])
def test_an_explicit_tool_name_providers_refuse_is_refused(name: Any) -> None:
    with pytest.raises(ConfigError, match="a tool's name is 1 to 64 letters"):
        Tool(add, name=name)
    with pytest.raises(ConfigError, match="a tool's name is 1 to 64 letters"):
        Tool.from_schema(name=name, description="", parameters={"type": "object"}, fn=_noop)


async def _noop(arguments: dict[str, Any]) -> str:
    return ""


def test_names_providers_accept_are_kept() -> None:
    assert Tool(add, name="x" * 64).name == "x" * 64
    assert Tool(add, name="get-weather_2").name == "get-weather_2"
    assert Tool(add).name == "add"


def slow_writer(path: str, seconds: float) -> str:
    """Write 'started', sleep, then write 'finished' (module level: it must pickle)."""
    import os
    import time

    with open(path, "w") as f:
        f.write(f"started {os.getpid()}\n")
    time.sleep(seconds)
    with open(path, "a") as f:
        f.write("finished\n")
    return "done"


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _ledger(path: str) -> str:
    """A slow_writer ledger, or "" when its child never got to open it."""
    try:
        return _read(path)
    except FileNotFoundError:
        return ""


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _assert_killed(paths: list[str], outlive_s: float) -> None:
    """Each slow_writer child is dead now, and none of them ever finishes its work."""
    for path in paths:
        # No ledger (or an empty one): it was killed before it wrote its first line.
        words = _ledger(path).split()
        if words:
            assert not _alive(int(words[1])), path  # killed, not left running
    await asyncio.sleep(outlive_s)
    for path in paths:
        assert "finished" not in _ledger(path), path


async def test_process_isolated_tool_is_killed_at_its_timeout(tmp_path: Any) -> None:
    path = str(tmp_path / "ledger.txt")
    killable = Tool(slow_writer, timeout=1.5, isolation="process")
    model = ScriptedModel([ToolCall("slow_writer", {"path": path, "seconds": 3}), "ok"])
    result = await Agent(model, tools=[killable]).run("x")
    assert _finished(result)[0].outcome == "timeout", _finished(result)[0].content
    await _assert_killed([path], 2)


def _stress_procs() -> int:
    return int(os.environ.get("TETHER_STRESS_PROCS", "16"))


@pytest.mark.slow
async def test_process_tools_past_their_timeout_are_always_timeouts_and_killed(
    tmp_path: Any,
) -> None:
    """Many process tools at once, each timing out at another stage of its child: while it
    is being started, while it boots, while it runs. Each call is a "timeout" (never an
    error of the clean-up: killing a child once raced with closing its pipe) and no child
    lives on (once, one given up on while being started was never killed).
    TETHER_STRESS_PROCS sets how many (default 16, as CI runs it); raise it to hunt for a flake."""
    timeouts = [0.01, 0.1, 0.3, 0.8]

    async def one(i: int) -> tuple[str, ToolCallFinished]:
        path = str(tmp_path / f"ledger{i}.txt")
        killable = Tool(slow_writer, timeout=timeouts[i % len(timeouts)], isolation="process")
        model = ScriptedModel([ToolCall("slow_writer", {"path": path, "seconds": 2}), "ok"])
        return path, _finished(await Agent(model, tools=[killable]).run("x"))[0]

    done = await asyncio.gather(*(one(i) for i in range(_stress_procs())))
    bad = [f.content for _, f in done if f.outcome != "timeout" or "was stopped" not in f.content]
    assert not bad, bad
    await _assert_killed([path for path, _ in done], 2.5)


async def test_process_isolated_tool_returns_its_result(tmp_path: Any) -> None:
    path = str(tmp_path / "ledger.txt")
    fast = Tool(slow_writer, timeout=30, isolation="process")
    model = ScriptedModel([ToolCall("slow_writer", {"path": path, "seconds": 0}), "ok"])
    result = await Agent(model, tools=[fast]).run("x")
    assert (_finished(result)[0].outcome, _finished(result)[0].content) == ("ok", "done")
    assert _read(path).endswith("finished\n")


def test_process_isolation_refuses_async_tools() -> None:
    async def nap() -> None:
        """Nap."""

    with pytest.raises(ConfigError, match="isolation='process' is for sync tools"):
        Tool(nap, isolation="process").check()
