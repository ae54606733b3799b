"""Loop and progress detection: each kind is corrected once, then the run gives up."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from helpers import of_type
from tether import (
    Agent,
    ConfigError,
    LoopDetected,
    LoopPolicy,
    Message,
    ModelResponse,
    StaticAnswer,
    StrategyChanged,
    ToolCall,
    ToolResultMessage,
    UserMessage,
    tool,
)
from tether.models import ModelParams
from tether.run import ProgressMonitor
from tether.run._detect import similarity
from tether.testing import FunctionModel, ScriptedModel


def weather(city: str) -> str:
    """Weather of a city."""
    return f"sunny in {city}"


def news(topic: str) -> str:
    """News on a topic."""
    return f"nothing new on {topic}"


def same_answer(q: str) -> str:
    """Always the same answer."""
    return "42"


def _notes(messages: Sequence[Message]) -> list[str]:
    return [m.content for m in messages if isinstance(m, UserMessage)][1:]


async def test_repeated_call_is_corrected_then_gives_up() -> None:
    call = ToolCall("weather", {"city": "Oslo"})
    model = ScriptedModel([call] * 4 + ["final"])
    result = await Agent(model, tools=[weather]).run("weather?")
    loops = of_type(result, LoopDetected)
    assert [(d.loop, d.action) for d in loops] == [
        ("repeated_call", "correct"),
        ("repeated_call", "give_up"),
    ]
    assert 'weather({"city":"Oslo"}) called 3 times' in loops[0].detail
    assert result.status == "gave_up"
    assert (result.reason.kind, result.reason.detail) == ("loop_detected", "repeated_call")
    assert result.output == "final"  # the default fallback's answer
    correction = [n for n in _notes(result.messages) if "same arguments" in n]
    assert correction
    assert "sunny in Oslo" in correction[0]
    # the third and fourth identical calls were not run: their results say so
    outcomes = [e.outcome for e in result.events if e.type == "tool_call_finished"]
    assert outcomes == ["ok", "ok", "not_run", "not_run"]


async def test_argument_order_does_not_hide_a_repeat() -> None:
    calls = [
        ToolCall("news", {"topic": "x"}),
        ToolCall("news", '{"topic": "x"}'),
        ToolCall("news", {"topic": "x"}),
    ]
    policy = LoopPolicy(max_corrections=0)
    result = await Agent(ScriptedModel([*calls, "f"]), tools=[news], loop_policy=policy).run("q")
    assert result.reason.detail == "repeated_call"


async def test_cycle_of_two_calls_is_detected() -> None:
    a, b = ToolCall("weather", {"city": "Oslo"}), ToolCall("news", {"topic": "oslo"})
    model = ScriptedModel([a, b, a, b, a, b, a, b, "final"])
    policy = LoopPolicy(repeat_threshold=10)
    result = await Agent(model, tools=[weather, news], loop_policy=policy).run("q")
    loops = of_type(result, LoopDetected)
    assert [(d.loop, d.action) for d in loops] == [("cycle", "correct"), ("cycle", "give_up")]
    assert loops[0].detail == "cycle of period 2: weather -> news"
    assert result.reason.detail == "cycle"
    assert any("going round in a cycle" in n for n in _notes(result.messages))


async def test_results_that_bring_nothing_new_are_detected() -> None:
    model = ScriptedModel([ToolCall("same_answer", {"q": f"v{i}"}) for i in range(8)] + ["f"])
    result = await Agent(model, tools=[same_answer]).run("q")
    loops = of_type(result, LoopDetected)
    assert [(d.loop, d.action) for d in loops] == [
        ("stale_results", "correct"),
        ("stale_results", "give_up"),
    ]
    assert result.reason.detail == "stale_results"
    # 1 new result, then 3 stale ones trigger the correction, then 1 more the give-up
    assert sum(1 for e in result.events if e.type == "tool_call_finished") == 5


async def test_replanning_without_new_results_is_detected() -> None:
    plan = "Plan: first I will look up the weather in Oslo, then check the news for Oslo."
    counter = {"n": 0}

    def fn(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        if not params.allow_tools:
            return ModelResponse(text="final")
        counter["n"] += 1
        last = [m for m in messages if isinstance(m, ToolResultMessage)]
        # the same plan, restated with slightly different words, and a call whose
        # result is always the same
        text = plan if counter["n"] % 2 else plan.replace("first", "to start")
        return ModelResponse(text=text, tool_calls=[ToolCall("same_answer", {"q": str(len(last))})])

    policy = LoopPolicy(stale_threshold=100)
    result = await Agent(FunctionModel(fn), tools=[same_answer], loop_policy=policy).run("q")
    loops = of_type(result, LoopDetected)
    assert [(d.loop, d.action) for d in loops] == [
        ("replanning", "correct"),
        ("replanning", "give_up"),
    ]
    assert result.reason.detail == "replanning"
    assert any("restating the same plan" in n for n in _notes(result.messages))


async def test_a_new_result_resets_replanning() -> None:
    plan = "I will check the weather and then answer."
    cities = iter(["Oslo", "Rome", "Lima", "Kyiv", "Baku", "Doha"])

    def fn(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        city = next(cities, None)
        if city is None:
            return ModelResponse(text="done")
        return ModelResponse(text=plan, tool_calls=[ToolCall("weather", {"city": city})])

    result = await Agent(FunctionModel(fn), tools=[weather]).run("q")
    assert result.status == "completed"
    assert of_type(result, LoopDetected) == []


async def test_detection_can_be_turned_off() -> None:
    call = ToolCall("weather", {"city": "Oslo"})
    model = ScriptedModel([call] * 6 + ["final"])
    agent = Agent(model, tools=[weather], loop_policy=LoopPolicy(enabled=False))
    result = await agent.run("q")
    assert result.status == "completed"
    assert of_type(result, LoopDetected) == []


async def test_loop_give_up_runs_a_custom_fallback() -> None:
    call = ToolCall("weather", {"city": "Oslo"})
    agent = Agent(
        ScriptedModel([call] * 6),
        tools=[weather],
        fallback=StaticAnswer("could not finish"),
    )
    result = await agent.run("q")
    assert (result.status, result.output) == ("gave_up", "could not finish")
    assert [c.strategy for c in of_type(result, StrategyChanged)] == ["static_answer"]


def test_similarity_ignores_case_punctuation_and_filler_words() -> None:
    assert similarity("First, check the WEATHER.", "check weather first") == 1.0
    assert similarity("check the weather", "book a flight") == 0.0


def test_the_monitor_stays_bounded_over_a_very_long_run() -> None:
    from tether.run._detect import _REMEMBERED

    mon = ProgressMonitor(LoopPolicy())
    for i in range(3 * _REMEMBERED):
        call = ToolCall("lookup", {"key": i}, f"c{i}")
        assert mon.on_call(call) is None
        assert mon.on_result(call, f"value {i}") is None
    assert len(mon._counts) <= 2 * _REMEMBERED
    assert len(mon._seen_results) <= 2 * _REMEMBERED
    assert len(mon._last_result) <= 2 * _REMEMBERED
    assert len(mon._sequence) <= 64
    # Repeats among the latest calls are still caught.
    repeat = ToolCall("lookup", {"key": 3 * _REMEMBERED - 1}, "again1")
    mon.on_result(repeat, "value again")
    again = [
        mon.on_call(ToolCall("lookup", {"key": 3 * _REMEMBERED - 1}, f"r{j}")) for j in range(3)
    ]
    assert any(d is not None and d.kind == "repeated_call" for d in again)


async def test_distinct_calls_with_the_same_confirmation_are_progress() -> None:
    saved: dict[str, str] = {}

    def save(key: str, value: str) -> str:
        """Save a value under a key."""
        saved[key] = value
        return "saved"

    calls = [ToolCall("save", {"key": f"k{i}", "value": f"v{i}"}) for i in range(8)]
    result = await Agent(ScriptedModel([*calls, "all saved"]), tools=[save]).run("q")
    assert (result.status, result.output) == ("completed", "all saved")
    assert of_type(result, LoopDetected) == []
    assert sorted(saved) == [f"k{i}" for i in range(8)]


async def test_distinct_calls_of_a_tool_with_effects_are_progress_whatever_they_return() -> None:
    written: dict[str, str] = {}

    @tool(effects=["writes"], trusted_output=True)
    def write_file(path: str, text: str) -> str:
        """Write a file."""
        written[path] = text
        return f"HTTP 201 ({len(text)} bytes)"  # the same for every file of one length

    calls = [ToolCall("write_file", {"path": f"f{i}.txt", "text": "hello"}) for i in range(8)]
    result = await Agent(ScriptedModel([*calls, "all written"]), tools=[write_file]).run("q")
    assert (result.status, result.output) == ("completed", "all written")
    assert of_type(result, LoopDetected) == []
    assert sorted(written) == [f"f{i}.txt" for i in range(8)]


async def test_the_same_result_from_distinct_calls_of_a_tool_without_effects_is_stale() -> None:
    def lookup(path: str) -> str:
        """Look a file up."""
        return "HTTP 201 (5 bytes)"

    calls = [ToolCall("lookup", {"path": f"f{i}.txt"}) for i in range(8)]
    result = await Agent(ScriptedModel([*calls, "done"]), tools=[lookup]).run("q")
    assert result.reason.detail == "stale_results"


def test_the_same_call_of_a_tool_with_effects_is_still_a_repeat_and_stale() -> None:
    mon = ProgressMonitor(LoopPolicy(repeat_threshold=3), acting=frozenset({"send"}))
    found = []
    for i in range(3):
        call = ToolCall("send", {"to": "a@b.c"}, f"c{i}")
        found.append(mon.on_call(call))
        if found[-1] is None:
            found.append(mon.on_result(call, "queued as 7"))
    assert [d.kind if d else None for d in found] == [None, None, None, None, "repeated_call"]


def test_the_same_confirmation_from_the_same_call_is_still_stale() -> None:
    mon = ProgressMonitor(LoopPolicy(repeat_threshold=100))
    found = []
    for i in range(4):
        call = ToolCall("save", {"key": "k", "value": "v"}, f"c{i}")
        assert mon.on_call(call) is None
        found.append(mon.on_result(call, "saved"))
    assert [d.kind if d else None for d in found] == [None, None, None, "stale_results"]


def _poller(statuses: list[str]) -> Any:
    replies: Iterator[str] = iter(statuses)

    def status(job: str) -> str:
        """A job's status."""
        return f"{job}: {next(replies)}"

    return status


async def test_a_polled_call_whose_result_changes_is_progress() -> None:
    status = _poller(["queued", "running", "running", "done"])
    model = ScriptedModel([ToolCall("status", {"job": "j"})] * 4 + ["finished"])
    result = await Agent(model, tools=[status]).run("poll")
    assert (result.status, result.output) == ("completed", "finished")
    assert of_type(result, LoopDetected) == []


async def test_a_poll_whose_result_stops_changing_is_still_a_loop() -> None:
    status = _poller(["queued"] + ["running"] * 20)
    model = ScriptedModel([ToolCall("status", {"job": "j"})] * 20 + ["final"])
    result = await Agent(model, tools=[status]).run("poll")
    assert result.status == "gave_up"
    assert result.reason.kind == "loop_detected"
    assert result.usage.tool_calls < 8


async def test_alternating_calls_whose_results_change_are_not_a_cycle() -> None:
    jobs = {"a": iter(["queued", "running", "done"]), "b": iter(["queued", "running", "done"])}

    def status(job: str) -> str:
        """A job's status."""
        return f"{job}: {next(jobs[job])}"

    a, b = ToolCall("status", {"job": "a"}), ToolCall("status", {"job": "b"})
    result = await Agent(ScriptedModel([a, b] * 3 + ["both done"]), tools=[status]).run("q")
    assert (result.status, result.output) == ("completed", "both done")
    assert of_type(result, LoopDetected) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("enabled", "yes"),
        ("repeat_threshold", -1),
        ("repeat_threshold", 0),
        ("repeat_threshold", 1),
        ("repeat_threshold", 2.5),
        ("repeat_threshold", True),
        ("max_cycle_period", 0),
        ("stale_threshold", 0),
        ("stale_threshold", "3"),
        ("replan_threshold", 0),
        ("replan_similarity", 0),
        ("replan_similarity", 1.5),
        ("replan_similarity", float("nan")),
        ("max_corrections", -1),
        ("max_corrections", None),
    ],
)
def test_a_loop_policy_value_out_of_range_is_a_config_error(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"LoopPolicy.{field}") as info:
        LoopPolicy(**{field: value})  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_loop_policy_edges_in_range_are_accepted() -> None:
    LoopPolicy(repeat_threshold=2, max_cycle_period=1, stale_threshold=1, replan_threshold=1)
    LoopPolicy(replan_similarity=1, max_corrections=0)
