"""One budget: warnings, limits on every dimension, and giving up with the fallback."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from helpers import of_type, types
from tether import (
    Agent,
    Budget,
    BudgetExhausted,
    BudgetWarning,
    ConfigError,
    Message,
    ModelResponse,
    RunContext,
    StaticAnswer,
    StrategyChanged,
    TokenUsage,
    ToolCall,
    UserMessage,
)
from tether.models import ModelParams, Price
from tether.testing import FunctionModel, ScriptedModel


def count(n: int) -> int:
    """Count."""
    return n


def counting_model(price: Price | None = None, usage: TokenUsage | None = None) -> FunctionModel:
    """A model that calls `count` forever with new numbers, and answers when tools are off."""

    def fn(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        if not params.allow_tools:
            return ModelResponse(text="best guess", usage=usage or TokenUsage(10, 5))
        n = len(messages)
        return ModelResponse(
            tool_calls=[ToolCall("count", {"n": n})], usage=usage or TokenUsage(10, 5)
        )

    return FunctionModel(fn, price=price)


async def test_step_limit_gives_up_with_the_default_fallback() -> None:
    agent = Agent(counting_model(), tools=[count], budget=Budget(max_steps=5))
    result = await agent.run("count forever")
    assert result.status == "gave_up"
    assert (result.reason.kind, result.reason.detail) == ("budget_exhausted", "steps")
    assert "steps budget is used up (5 of 5)" in result.reason.message
    assert result.output == "best guess"
    assert result.usage.steps == 5
    assert result.usage.model_calls == 6  # five steps and the fallback's one call
    exhausted = of_type(result, BudgetExhausted)
    assert [(e.dimension, e.used, e.limit) for e in exhausted] == [("steps", 5, 5)]
    changed = of_type(result, StrategyChanged)
    assert [c.strategy for c in changed] == ["final_answer"]
    assert types(result)[-1] == "run_finished"


async def test_warning_at_eighty_percent_tells_the_model_to_wrap_up() -> None:
    model = counting_model()
    agent = Agent(model, tools=[count], budget=Budget(max_steps=5))
    result = await agent.run("count forever")
    warnings = of_type(result, BudgetWarning)
    assert [(w.dimension, w.used, w.limit) for w in warnings] == [("steps", 4, 5)]
    notes = [m for m in result.messages if isinstance(m, UserMessage) and "Wrap up" in m.content]
    assert len(notes) == 1
    assert "4 of the 5 steps" in notes[0].content


async def test_warning_fraction_is_configurable() -> None:
    agent = Agent(counting_model(), tools=[count], budget=Budget(max_steps=10, warn_at=0.5))
    result = await agent.run("x")
    assert [w.used for w in of_type(result, BudgetWarning)] == [5]


@pytest.mark.parametrize(
    ("budget", "dimension"),
    [
        (Budget(max_input_tokens=45), "input_tokens"),
        (Budget(max_output_tokens=20), "output_tokens"),
        (Budget(max_model_calls=3), "model_calls"),
        (Budget(max_tool_calls=2), "tool_calls"),
        (Budget(max_cost_usd=0.0005), "cost_usd"),
    ],
)
async def test_each_dimension_gives_up_when_reached(budget: Budget, dimension: str) -> None:
    # Each call uses 10 input and 5 output tokens and costs 10*10 + 5*20 = 200 µUSD.
    model = counting_model(price=Price(10.0, 20.0))
    result = await Agent(model, tools=[count], budget=budget).run("x")
    assert result.status == "gave_up"
    assert (result.reason.kind, result.reason.detail) == ("budget_exhausted", dimension)
    assert of_type(result, BudgetExhausted)[0].dimension == dimension
    assert result.output == "best guess"


async def test_cost_is_charged_from_the_price() -> None:
    model = counting_model(price=Price(10.0, 20.0))
    result = await Agent(model, tools=[count], budget=Budget(max_steps=3)).run("x")
    assert result.usage.model_calls == 4
    assert result.usage.cost_usd == pytest.approx(4 * 200e-6)


async def test_wall_clock_limit_stops_a_slow_model_call() -> None:
    async def slow(messages: Sequence[Message], params: ModelParams) -> str:
        await asyncio.sleep(5)
        return "too late"

    agent = Agent(
        FunctionModel(slow),
        budget=Budget(max_seconds=0.2),
        fallback=StaticAnswer("partial"),
    )
    result = await agent.run("x")
    assert result.status == "gave_up"
    assert (result.reason.kind, result.reason.detail) == ("budget_exhausted", "seconds")
    assert result.output == "partial"


async def test_wall_clock_limit_is_checked_before_tool_calls() -> None:
    async def nap(s: float) -> str:
        """Sleep."""
        await asyncio.sleep(s)
        return "rested"

    model = ScriptedModel([ToolCall("nap", {"s": 0.3}), ToolCall("nap", {"s": 0.01}), "done"])
    agent = Agent(model, tools=[nap], budget=Budget(max_seconds=0.2), fallback=StaticAnswer("x"))
    result = await agent.run("x")
    assert result.reason.detail == "seconds"
    # the first nap was stopped when the budget ran out (it bounds tool calls too);
    # the second was never started
    finished = [f for f in result.events if f.type == "tool_call_finished"]
    assert [f.outcome for f in finished] == ["timeout"]  # type: ignore[union-attr]
    assert "time budget ran out" in finished[0].content  # type: ignore[union-attr]


async def test_tool_calls_cut_off_mid_response_keep_their_pairs() -> None:
    calls = [ToolCall("count", {"n": i}) for i in range(3)]
    model = ScriptedModel([calls, "unused"])
    agent = Agent(model, tools=[count], budget=Budget(max_tool_calls=2))
    result = await agent.run("x")
    assert result.reason.detail == "tool_calls"
    tool_results = [m for m in result.messages if m.role == "tool"]
    assert [m.content for m in tool_results] == ["0", "1", "Not run: the run's budget is used up."]


async def test_sub_agent_usage_is_charged_to_the_parent_budget() -> None:
    child = Agent(counting_model(), tools=[count], budget=Budget(max_steps=100), name="child")

    async def delegate(ctx: RunContext[None], task: str) -> str:
        """Ask the child agent."""
        result = await child.run(task, parent=ctx)
        return f"{result.status}:{result.reason.detail}"

    parent_model = ScriptedModel([ToolCall("delegate", {"task": "count"}), "done"])
    parent = Agent(parent_model, tools=[delegate], budget=Budget(max_model_calls=4))
    result = await parent.run("x")
    # The child stops when the *parent's* model-call limit (4) is reached.
    finished = [e for e in result.events if e.type == "tool_call_finished"]
    assert finished[0].content == "gave_up:model_calls"
    assert result.usage.model_calls >= 4


def test_bad_budget_values_are_refused() -> None:
    with pytest.raises(ValueError, match="warn_at"):
        Budget(warn_at=0)
    with pytest.raises(ValueError, match="max_steps"):
        Budget(max_steps=-1)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_steps", float("nan")),
        ("max_steps", "5"),
        ("max_steps", True),
        ("max_steps", 0),
        ("max_steps", 2.5),
        ("max_model_calls", 0),
        ("max_tool_calls", False),
        ("max_input_tokens", float("inf")),
        ("max_output_tokens", "100"),
        ("max_cost_usd", float("nan")),
        ("max_cost_usd", 0),
        ("max_cost_usd", True),
        ("max_cost_usd", "0.5"),
        ("max_seconds", float("inf")),
        ("max_seconds", -1.0),
        ("max_seconds", 0.0),
        ("warn_at", float("nan")),
        ("warn_at", "0.5"),
        ("warn_at", True),
    ],
)
def test_a_limit_of_the_wrong_kind_or_range_is_a_config_error(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field) as info:
        Budget(**{field: value})  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_whole_counts_positive_amounts_and_none_are_accepted() -> None:
    budget = Budget(
        max_steps=1,
        max_model_calls=None,
        max_tool_calls=3,
        max_input_tokens=10**12,
        max_cost_usd=0.01,
        max_seconds=5,
        warn_at=1,
    )
    assert budget.limits() == [
        ("steps", 1),
        ("tool_calls", 3),
        ("input_tokens", 10**12),
        ("cost_usd", 0.01),
        ("seconds", 5),
    ]
