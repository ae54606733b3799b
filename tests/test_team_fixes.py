"""Agents together, the edges: sub-run budgets cap lower, a handoff's summary is a model
call of the run, one handoff a turn, distinct names along handoffs, settings of the wrong
kind, and a sub-run cut off by its caller's time budget."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tether import (
    Agent,
    Budget,
    BudgetExhausted,
    ConfigError,
    HandedOff,
    Handoff,
    Message,
    ModelRequested,
    ModelResponded,
    RunContext,
    RunFinished,
    StaticAnswer,
    SubRunEnded,
    Supervisor,
    Tool,
    ToolCall,
    ToolCallFinished,
)
from tether.journal import SQLiteStore
from tether.models import ModelParams, Price
from tether.run import valid_sequence
from tether.testing import FunctionModel, ScriptedModel

# --- 1. as_tool(budget=...) and worker_budget cap a sub-run lower -------------------------


def echo(x: int) -> str:
    """Echo a number."""
    return f"{x}-{x * 31}"


def looping_worker(budget: Budget) -> Agent[None, str]:
    """A worker that calls ``echo`` with new arguments for as long as it may."""
    n = itertools.count()

    def policy(messages: Sequence[Message], params: ModelParams) -> ToolCall | str:
        return ToolCall("echo", {"x": next(n)}) if params.allow_tools else "worker stopped"

    return Agent(
        FunctionModel(policy),
        name="w",
        tools=[echo],
        budget=budget,
        fallback=StaticAnswer("worker stopped"),
    )


async def worker_steps(lead_tools: list[Any] | None = None, **supervisor: Any) -> int:
    if lead_tools is not None:
        lead: Agent[Any, Any] = Agent(
            ScriptedModel([ToolCall("w", {"task": "t"}), "done"]),
            tools=lead_tools,
            budget=Budget(max_steps=100),
        )
    else:
        lead = Supervisor(ScriptedModel([ToolCall("w", {"task": "t"}), "done"]), **supervisor)
    result = await lead.run("go")
    (ended,) = [e for e in result.events if isinstance(e, SubRunEnded)]
    assert ended.reason.kind == "budget_exhausted"
    return ended.usage.steps


@pytest.mark.parametrize(
    ("cap", "steps"),
    [
        (None, 3),
        (Budget(max_steps=10), 3),  # a looser cap does not lift the agent's own limit
        (Budget(max_cost_usd=5), 3),  # nor does Budget()'s default of 25 steps
        (Budget(max_steps=2), 2),  # a tighter one holds
    ],
)
async def test_as_tool_budget_caps_the_sub_run_lower_never_higher(
    cap: Budget | None, steps: int
) -> None:
    worker = looping_worker(Budget(max_steps=3))
    assert await worker_steps([worker.as_tool(budget=cap)]) == steps


async def test_a_supervisors_worker_budget_caps_each_worker_lower_never_higher() -> None:
    loose = await worker_steps(
        workers=[looping_worker(Budget(max_steps=3))], worker_budget=Budget(max_steps=10)
    )
    tight = await worker_steps(
        workers=[looping_worker(Budget(max_steps=30))], worker_budget=Budget(max_steps=2)
    )
    assert (loose, tight) == (3, 2)


async def test_each_limit_of_a_capped_sub_run_is_the_lower_of_the_two() -> None:
    seen: list[Budget] = []

    async def spy(ctx: RunContext[Any], task: str) -> str:
        seen.append(ctx.tracker.budget)
        return "ok"

    worker = Agent(
        FunctionModel(lambda m, p: ToolCall("spy", {"task": "x"}) if p.allow_tools else "x"),
        name="w",
        tools=[Tool(spy, name="spy")],
        budget=Budget(max_steps=3, max_cost_usd=2.0, warn_at=0.9),
    )
    cap = Budget(max_steps=10, max_cost_usd=1.0, max_tool_calls=1, warn_at=0.5)
    await worker_steps([worker.as_tool(budget=cap)])
    budget = seen[0]
    assert (budget.max_steps, budget.max_cost_usd, budget.max_tool_calls) == (3, 1.0, 1)
    assert budget.warn_at == 0.5


# --- 2. a handoff's summary is a model call of the calling run -----------------------------


def summarising_lead(calls: list[str], **kwargs: Any) -> Agent[None, str]:
    def policy(messages: Sequence[Message], params: ModelParams) -> ToolCall | str:
        calls.append("turn" if params.allow_tools else "summary")
        if not params.allow_tools:
            return "SUMMARY: the user wants help with invoice 17"
        return ToolCall("transfer_to_billing", {"message": "help with invoice 17"})

    billing = kwargs.pop("billing", None) or Agent(
        ScriptedModel(["Billing: done."] * 2), name="billing", instructions="billing"
    )
    return Agent(
        FunctionModel(policy, price=Price(1000, 1000)),
        name="lead",
        handoffs=[Handoff(billing, context="summary")],
        **kwargs,
    )


def summary_calls(events: Sequence[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, ModelRequested) and e.purpose == "handoff_summary"]


async def test_a_handoff_summary_is_journaled_and_charged_to_the_budget() -> None:
    calls: list[str] = []
    result = await summarising_lead(calls).run("I have a question about invoice 17")
    assert result.output == "Billing: done."
    assert calls == ["turn", "summary"]
    # The lead's two calls and billing's one; the summary's call and its cost are journaled.
    assert result.usage.model_calls == 3
    (asked,) = summary_calls(result.events)
    assert asked.tools is False
    (answered,) = [
        e for e in result.events if isinstance(e, ModelResponded) and e.seq == asked.seq + 1
    ]
    assert answered.cost_usd > 0
    lead_cost = sum(e.cost_usd for e in result.events if isinstance(e, ModelResponded))
    assert result.usage.cost_usd == pytest.approx(lead_cost)  # billing's model is free
    assert valid_sequence(result.messages) is None


async def test_a_handoff_summary_is_not_asked_for_when_the_budget_allows_no_more_calls() -> None:
    calls: list[str] = []
    seen: list[Sequence[Message]] = []

    def billing_policy(messages: Sequence[Message], params: ModelParams) -> str:
        seen.append(messages)
        return "Billing: done."

    billing = Agent(FunctionModel(billing_policy), name="billing")
    lead = summarising_lead(
        calls, billing=billing, budget=Budget(max_steps=None, max_model_calls=1)
    )
    result = await lead.run("I have a question about invoice 17")
    assert calls == ["turn"]  # checked before the call: a plain digest instead
    assert not summary_calls(result.events)
    assert result.usage.model_calls <= 2  # at most billing's fallback's one last call
    (handed,) = [e for e in result.events if isinstance(e, HandedOff)]
    assert handed.context == "summary"
    # Billing (its fallback's last call: the budget is spent) was given the digest.
    assert "user: I have a question about invoice 17" in str(seen[0][0].content)


async def test_a_handoff_summary_is_read_back_from_the_journal_on_a_resume(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "runs.db")
    calls: list[str] = []
    lead = summarising_lead(calls, store=store)
    result = await lead.run("I have a question about invoice 17")
    (answered,) = [
        e for e in result.events if isinstance(e, ModelResponded) and not e.response.tool_calls
    ]
    # A crash just after the summary was journaled: the fork stops there.
    crashed = await lead.fork(result.run_id, answered.seq + 1)
    calls.clear()
    resumed = await lead.resume(crashed)
    assert resumed.output == "Billing: done."
    assert calls == []  # the summary was not asked for again
    assert len(summary_calls(resumed.events)) == 1
    assert resumed.usage.model_calls == 3
    await store.close()


async def test_a_handoff_summary_waits_for_no_notes_and_keeps_the_conversation_valid() -> None:
    calls: list[str] = []
    # A budget warning after the first turn leaves a note for the model's next turn.
    lead = summarising_lead(calls, budget=Budget(max_steps=2, warn_at=0.5))
    result = await lead.run("I have a question about invoice 17")
    assert result.output == "Billing: done."
    assert valid_sequence(result.messages) is None
    assert calls == ["turn"]  # a digest: a model call now would put the note mid-turn


# --- 3. a supervisor's workers from any iterable -------------------------------------------


async def test_a_supervisor_takes_its_workers_from_a_generator() -> None:
    def worker(name: str) -> Agent[None, str]:
        return Agent(ScriptedModel([f"{name} done"]), name=name, instructions=f"does {name}")

    boss = Supervisor(
        ScriptedModel([ToolCall("alpha", {"task": "x"}), "final"]),
        (worker(n) for n in ["alpha", "beta"]),
    )
    assert [w.name for w in boss.workers] == ["alpha", "beta"]
    assert {"alpha", "beta"} <= set(boss.tools)
    result = await boss.run("go")
    assert [e.content for e in result.events if isinstance(e, ToolCallFinished)] == ["alpha done"]


# --- 4. agents along handoffs have names of their own -------------------------------------


def test_a_handoff_between_two_agents_of_the_default_name_is_refused_when_built() -> None:
    billing = Agent(ScriptedModel(["B answers."]), instructions="billing")
    with pytest.raises(ConfigError, match=r"both named 'agent'.*name="):
        Agent(ScriptedModel([]), handoffs=[billing])
    named = Agent(ScriptedModel(["B answers."]), name="x")
    with pytest.raises(ConfigError, match="both named 'x'"):
        Agent(ScriptedModel([]), name="x", handoffs=[named])


def test_two_unnamed_agents_further_along_a_handoff_chain_are_refused() -> None:
    last = Agent(ScriptedModel([]))
    middle = Agent(ScriptedModel([]), name="billing", handoffs=[last])
    with pytest.raises(ConfigError, match="default name 'agent'"):
        Agent(ScriptedModel([]), handoffs=[middle])
    assert "transfer_to_billing" in Agent(ScriptedModel([]), name="front", handoffs=[middle]).tools


async def test_a_handoff_to_a_differently_named_agent_goes_through() -> None:
    billing = Agent(ScriptedModel(["B answers."]), name="billing")
    front = Agent(
        ScriptedModel([ToolCall("transfer_to_billing", {"message": "please help"})]),
        handoffs=[billing],
    )
    result = await front.run("hi")
    assert (result.status, result.output) == ("completed", "B answers.")


# --- 5. one handoff a turn ----------------------------------------------------------------


async def test_only_the_first_handoff_of_a_turn_is_taken() -> None:
    ran: list[str] = []

    def slow(name: str, delay: float) -> Agent[None, str]:
        async def answer(messages: Sequence[Message], params: ModelParams) -> str:
            ran.append(name)
            await asyncio.sleep(delay)
            return f"{name} answers"

        return Agent(FunctionModel(answer), name=name, instructions=name)

    lead = Agent(
        ScriptedModel(
            [
                [
                    ToolCall("transfer_to_billing", {"message": "b"}),
                    ToolCall("transfer_to_support", {"message": "s"}),
                ],
                "lead answers",
            ]
        ),
        name="lead",
        handoffs=[slow("billing", 0.2), slow("support", 0.01)],
    )
    result = await lead.run("help")
    assert (result.status, result.output) == ("completed", "billing answers")
    assert ran == ["billing"]
    assert [e.agent for e in result.events if isinstance(e, HandedOff)] == ["billing"]
    assert [e.agent for e in result.events if isinstance(e, SubRunEnded)] == ["billing"]
    refused = next(
        e for e in result.events if isinstance(e, ToolCallFinished) and e.name.endswith("support")
    )
    assert refused.outcome == "error"
    assert "one handoff per turn" in refused.content
    assert "transfer_to_billing" in refused.content


# --- 6. settings of the wrong kind are ConfigErrors that say what to write ------------------


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda w: Agent(ScriptedModel([]), handoffs=[Handoff(None)]), "Handoff's agent"),
        (lambda w: Agent(ScriptedModel([]), handoffs=[Handoff("billing")]), "Handoff's agent"),
        (lambda w: w.as_tool(budget={"max_steps": 1}), r"as_tool\(budget=.*Budget\(max_steps"),
        (lambda w: w.as_tool(budget=0), r"as_tool\(budget=.*got 0"),
        (lambda w: w.as_tool(gate="x"), r"as_tool\(gate=.*got 'x'"),
        (
            lambda w: Supervisor(ScriptedModel([]), [w], worker_budget={"max_steps": 2}),
            r"worker_budget is a tether\.Budget.*got \{'max_steps': 2\}",
        ),
        (lambda w: Supervisor(ScriptedModel([]), [w], worker_budget=5), r"worker_budget.*got 5"),
        (
            lambda w: Supervisor(ScriptedModel([]), [w], instructions=None),
            "instructions is a str.*got None",
        ),
        (lambda w: Supervisor(ScriptedModel([]), w), r"put the one agent in a list"),
        (lambda w: Supervisor(ScriptedModel([]), None), "workers is a list.*got None"),
        (lambda w: Supervisor(ScriptedModel([]), "abc"), "workers is a list.*got 'abc'"),
    ],
)
def test_team_settings_of_the_wrong_kind_are_refused_when_built(
    build: Callable[[Agent[None, str]], object], match: str
) -> None:
    worker = Agent(ScriptedModel(["ok"]), name="w", instructions="does things")
    with pytest.raises(ConfigError, match=match):
        build(worker)


@pytest.mark.parametrize("parent", ["run-123", 5, object()])
def test_a_parent_that_is_not_a_run_context_is_refused(parent: object) -> None:
    agent = Agent(ScriptedModel(["ok"]))
    with pytest.raises(ConfigError, match="parent is the RunContext"):
        agent.run_sync("hi", parent=parent)  # type: ignore[arg-type]


# --- 7. a sub-run cut off by its caller's time budget gave up ------------------------------


async def test_a_sub_run_cut_off_by_the_roots_time_budget_gives_up_with_that_reason(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "runs.db")

    async def never(messages: Sequence[Message], params: ModelParams) -> str:
        await asyncio.sleep(3600)
        return "never"

    child = Agent(FunctionModel(never), name="slow", instructions="hangs", store=store)
    lead = Agent(
        ScriptedModel([ToolCall("slow", {"task": "t"}), "lead done"]),
        tools=[child.as_tool()],
        budget=Budget(max_seconds=0.5),
        store=store,
        fallback=StaticAnswer("out of time"),
    )
    result = await lead.run("go")
    assert (result.status, result.reason.detail) == ("gave_up", "seconds")
    (info,) = [r for r in await store.list_runs(limit=10) if r.agent == "slow"]
    events = await store.load(info.run_id)
    end = events[-1]
    assert isinstance(end, RunFinished)
    assert (end.status, end.reason.kind, end.reason.detail) == (
        "gave_up",
        "budget_exhausted",
        "seconds",
    )
    assert sum(isinstance(e, BudgetExhausted) for e in events) == 1
    again = await child.resume(info.run_id)  # over: read back, not run again
    assert again.status == "gave_up"
    assert len(await store.load(info.run_id)) == len(events)
    await store.close()


async def test_a_run_cancelled_with_time_left_is_still_interrupted(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "runs.db")
    started = asyncio.Event()

    async def never(messages: Sequence[Message], params: ModelParams) -> str:
        started.set()
        await asyncio.sleep(3600)
        return "never"

    agent = Agent(FunctionModel(never), budget=Budget(max_seconds=60), store=store)
    task = asyncio.create_task(agent.run("go"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (info,) = await store.list_runs(limit=10)
    end = (await store.load(info.run_id))[-1]
    assert isinstance(end, RunFinished)
    assert (end.status, end.reason.kind) == ("interrupted", "cancelled")
    await store.close()
