"""One budget for a tree of agents whose sub-agents run in parallel: count limits are
exact ceilings (calls in flight count), cost and tokens are held at an estimate, a
resume charges what the journals hold, and the warning reaches the run spending."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tether import (
    Agent,
    Budget,
    BudgetExhausted,
    BudgetWarning,
    Guardrail,
    Message,
    ModelRequested,
    ModelResponded,
    ModelResponse,
    RunContext,
    RunFinished,
    StaticAnswer,
    StrategyChanged,
    SubRunEnded,
    Supervisor,
    Tool,
    ToolCall,
    ToolCallFinished,
    ToolResultMessage,
    Usage,
    UserMessage,
    WorkingMemory,
)
from tether.journal import JournalStore, SQLiteStore
from tether.models import ModelParams, Price
from tether.testing import FunctionModel, ScriptedModel

SEEDS = range(4)


def _worker(
    name: str,
    rng: random.Random,
    *,
    store: JournalStore | None = None,
    lookups: int = 1,
    price: Price | None = None,
    memory: WorkingMemory | None = None,
) -> Agent[Any, str]:
    """A worker whose model and tools take a while (a random while, from ``rng``): it
    looks ``lookups`` things up one after the other, then answers."""

    async def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        await asyncio.sleep(rng.uniform(0.005, 0.03))
        done = sum(1 for m in messages if isinstance(m, ToolResultMessage))
        if not params.allow_tools or done >= lookups:
            return ModelResponse(text=f"{name} done")
        tool = "lookup" if rng.random() < 0.5 else "lookup_sync"
        return ModelResponse(tool_calls=[ToolCall(tool, {"q": f"{name}-{done}"})])

    async def lookup(q: str) -> str:
        """Look something up."""
        await asyncio.sleep(rng.uniform(0.005, 0.03))
        return f"found {q} " + "x" * 400

    def lookup_sync(q: str) -> str:
        """Look something up (a sync tool: it runs in a thread)."""
        time.sleep(0.01)
        return f"found {q} " + "y" * 400

    return Agent(
        FunctionModel(policy, name=f"{name}-model", price=price),
        name=name,
        instructions=f"worker {name}",
        tools=[Tool(lookup, idempotent=True), Tool(lookup_sync, idempotent=True)],
        fallback=StaticAnswer(f"{name} gave up"),
        store=store,
        working_memory=memory if memory is not None else False,
    )


def _team(
    n: int,
    budget: Budget,
    rng: random.Random,
    *,
    store: JournalStore | None = None,
    concurrency: int | None = None,
    **worker: Any,
) -> Supervisor:
    names = [f"w{i}" for i in range(n)]

    def lead(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        # (what a resumed supervisor asks next follows from its conversation)
        if any(isinstance(m, ToolResultMessage) for m in messages):
            return ModelResponse(text="all done")
        return ModelResponse(tool_calls=[ToolCall(name, {"task": "part"}) for name in names])

    return Supervisor(
        FunctionModel(lead, name="lead"),
        [_worker(name, rng, store=store, **worker) for name in names],
        max_concurrency=concurrency or n,
        budget=budget,
        fallback=StaticAnswer("boss gave up"),
        store=store,
    )


async def _tree_totals(store: JournalStore) -> Usage:
    """What every run in the store did, counted from the journals' events."""
    total = Usage()
    for info in await store.list_runs(limit=1000):
        for e in await store.load(info.run_id):
            if isinstance(e, ModelRequested):
                total.steps += 1  # (one step per model call here: no fallback calls)
            elif isinstance(e, ModelResponded):
                total.model_calls += 1
                total.input_tokens += e.response.usage.input_tokens
                total.output_tokens += e.response.usage.output_tokens
                total.cost_usd += e.cost_usd
            elif isinstance(e, ToolCallFinished) and (e.attempts or e.outcome == "ok"):
                total.tool_calls += 1
    return total


def _ended_cleanly(events: Sequence[Any]) -> None:
    """Every sub-run completed or gave up because of the budget: no raw error."""
    for e in events:
        if isinstance(e, SubRunEnded):
            assert e.status == "completed" or (
                e.status == "gave_up" and e.reason.kind == "budget_exhausted"
            ), (e.agent, e.status, e.reason)


@pytest.mark.parametrize(("workers", "limit"), [(4, 4), (4, 6), (6, 8), (3, 7)])
async def test_parallel_workers_never_pass_the_trees_tool_call_limit(
    workers: int, limit: int, tmp_path: Path
) -> None:
    for seed in SEEDS:
        store = SQLiteStore(tmp_path / f"tools{seed}.db")
        budget = Budget(max_steps=None, max_tool_calls=limit)
        result = await _team(workers, budget, random.Random(seed), store=store, lookups=2).run("go")
        totals = await _tree_totals(store)
        # The supervisor's own calls count, while their sub-runs run too.
        assert totals.tool_calls <= limit, (seed, totals)
        assert result.usage.tool_calls == totals.tool_calls, seed
        assert result.usage.model_calls == totals.model_calls, seed
        if workers + 2 * workers > limit:  # the limit binds: every unit of it is used
            assert totals.tool_calls == limit, (seed, totals)
        _ended_cleanly(result.events)
        await store.close()


@pytest.mark.parametrize(("workers", "limit"), [(6, 3), (4, 5), (5, 8)])
async def test_parallel_workers_never_pass_the_trees_model_call_limit(
    workers: int, limit: int, tmp_path: Path
) -> None:
    for seed in SEEDS:
        store = SQLiteStore(tmp_path / f"models{seed}.db")
        budget = Budget(max_steps=None, max_model_calls=limit)
        result = await _team(workers, budget, random.Random(seed), store=store).run("go")
        totals = await _tree_totals(store)
        assert totals.model_calls <= limit, (seed, totals)
        assert result.usage.model_calls == totals.model_calls, seed
        assert result.status == "gave_up", seed  # the supervisor's last call is refused too
        assert result.reason.kind == "budget_exhausted", seed
        _ended_cleanly(result.events)
        await store.close()


@pytest.mark.parametrize("limit", [10, 11, 12])
async def test_steps_stay_within_the_limit_while_workers_compact_their_conversation(
    limit: int, tmp_path: Path
) -> None:
    # A worker's third call compacts its conversation first (a slow summariser): the
    # step it is about to take counts from its check on, not from when it is journaled.
    async def summarise(messages: Sequence[Message], params: ModelParams) -> str:
        await asyncio.sleep(0.03)
        return "earlier lookups: found things"

    memory = WorkingMemory(max_tokens=64, summarizer=FunctionModel(summarise))
    for seed in SEEDS:
        store = SQLiteStore(tmp_path / f"steps{seed}.db")
        budget = Budget(max_steps=limit)
        team = _team(4, budget, random.Random(seed), store=store, lookups=2, memory=memory)
        result = await team.run("go")
        totals = await _tree_totals(store)
        assert totals.steps <= limit, (seed, totals)
        assert result.usage.steps == totals.steps, seed
        _ended_cleanly(result.events)
        await store.close()


async def test_parallel_workers_cannot_each_spend_the_same_remaining_money() -> None:
    # Six workers start at once on a $0.60 budget; a call costs about $0.25. Each call in
    # flight is held at its estimate, so once two or three are in flight the rest are
    # refused: the tree passes the limit by at most one call, as a single run may.
    price = Price(1000, 1000)
    for seed in SEEDS:
        result = await _team(
            6, Budget(max_steps=None, max_cost_usd=0.6), random.Random(seed), price=price
        ).run("go")
        ends = [e for e in result.events if isinstance(e, SubRunEnded)]
        most = max(e.usage.cost_usd for e in ends)
        assert result.usage.cost_usd <= 0.6 + most, (seed, result.usage)
        refused = [e for e in ends if e.reason.kind == "budget_exhausted"]
        assert len(refused) >= 3, seed
        _ended_cleanly(result.events)


async def test_parallel_workers_cannot_each_read_the_same_remaining_input_tokens() -> None:
    for seed in SEEDS:
        rng = random.Random(seed)
        limit = 1500
        result = await _team(6, Budget(max_steps=None, max_input_tokens=limit), rng).run("go")
        ends = [e for e in result.events if isinstance(e, SubRunEnded)]
        most = max(e.usage.input_tokens for e in ends)
        assert result.usage.input_tokens <= limit + most, (seed, result.usage)
        _ended_cleanly(result.events)


async def _copy(
    events_by_run: dict[str, list[Any]], until: float, path: Path
) -> tuple[SQLiteStore, dict[str, list[Any]]]:
    """A store as a crash at ``until`` left it (each run's events up to then), and those
    events."""
    store = SQLiteStore(path)
    kept: dict[str, list[Any]] = {}
    for run_id, events in events_by_run.items():
        prefix = []
        for e in events:
            if e.at > until:
                break
            prefix.append(e)
        if prefix:
            kept[run_id] = prefix
            await store.append(run_id, prefix)
    return store, kept


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_tree_resumed_after_a_crash_charges_what_its_journals_hold(
    concurrency: int, tmp_path: Path
) -> None:
    budget = Budget(max_steps=None, max_tool_calls=6, max_model_calls=9)
    store = SQLiteStore(tmp_path / "full.db")
    team = _team(4, budget, random.Random(7), store=store, concurrency=concurrency)
    original = await team.run("go")
    totals = await _tree_totals(store)
    assert original.usage.tool_calls == totals.tool_calls == 6  # the limit, not past it
    events_by_run = {
        info.run_id: await store.load(info.run_id) for info in await store.list_runs(limit=100)
    }
    await store.close()
    moments = sorted(e.at for events in events_by_run.values() for e in events)
    for n, k in enumerate(range(3, len(moments) - 1, max(1, len(moments) // 12))):
        crashed, kept = await _copy(events_by_run, moments[k], tmp_path / f"cut{n}.db")
        team = _team(4, budget, random.Random(n), store=crashed, concurrency=concurrency)
        result = await team.resume(original.run_id)
        assert result.status == original.status, k
        again = await _tree_totals(crashed)
        u = result.usage
        # Holds are never journaled nor folded: nothing is charged twice, nothing lost.
        assert (u.tool_calls, u.model_calls, u.steps) == (
            again.tool_calls,
            again.model_calls,
            again.steps,
        ), k
        if concurrency == 1:
            # One sub-run at a time: each is rebuilt from its journal before it goes on,
            # so the resumed tree stays within the limits and, unless a crash cut a
            # sub-run between its budget's end and its fallback (a resume takes that
            # run on again), charges what the run never cut off did.
            assert u.tool_calls <= 6, k
            assert u.model_calls <= 9, k
            if not _cut_while_giving_up(kept):
                assert (u.tool_calls, u.model_calls) == (
                    original.usage.tool_calls,
                    original.usage.model_calls,
                ), k
        await crashed.close()


def _cut_while_giving_up(kept: dict[str, list[Any]]) -> bool:
    """Whether a crash cut a run after its budget ran out but before its fallback began."""
    for events in kept.values():
        kinds = {type(e) for e in events}
        if BudgetExhausted in kinds and StrategyChanged not in kinds:
            return True
    return False


async def test_the_warning_reaches_the_sub_run_that_spends_the_shared_budget(
    tmp_path: Path,
) -> None:
    told: list[int] = []
    count = iter(range(1000))

    def loop(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        if any(isinstance(m, UserMessage) and "Wrap up" in m.content for m in messages):
            told.append(len(messages))
        if not params.allow_tools:
            return ModelResponse(text="child stopped")
        return ModelResponse(tool_calls=[ToolCall("echo", {"x": next(count)})])

    def echo(x: int) -> str:
        """Echo."""
        return f"{x}-{x * 31}"

    store = SQLiteStore(tmp_path / "warn.db")
    child: Agent[Any, Any] = Agent(
        FunctionModel(loop), name="child", tools=[echo], fallback=StaticAnswer("stop"), store=store
    )
    lead: Agent[Any, Any] = Agent(
        ScriptedModel([ToolCall("child", {"task": "t"}), "done"]),
        tools=[child.as_tool()],
        budget=Budget(max_steps=None, max_model_calls=10, warn_at=0.5),
        fallback=StaticAnswer("lead stop"),
        store=store,
    )
    result = await lead.run("go")
    (ended,) = [e for e in result.events if isinstance(e, SubRunEnded)]
    child_events = await store.load(ended.child_run_id)
    warnings = [
        (e.dimension, e.used, e.limit) for e in child_events if isinstance(e, BudgetWarning)
    ]
    # Once, in the run that spent the budget, at the lead's fraction of the lead's limit.
    assert warnings == [("model_calls", 5, 10)]
    assert told  # and its model was told to wrap up
    await store.close()


async def test_each_parallel_sub_run_that_sees_the_warning_warns_once(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "warnings.db")
    budget = Budget(max_steps=None, max_model_calls=40, warn_at=0.2)
    result = await _team(4, budget, random.Random(3), store=store, lookups=3).run("go")
    assert result.status == "completed", result.reason
    warned = 0
    for e in result.events:
        if isinstance(e, SubRunEnded):
            child = await store.load(e.child_run_id)
            dims = [w.dimension for w in child if isinstance(w, BudgetWarning)]
            assert dims in ([], ["model_calls"]), (e.agent, dims)  # once at most
            warned += len(dims)
    # The lead passes 8 of its 40 model calls while its workers run: those that go on
    # spending are told (each once), not only the lead.
    assert warned >= 1
    await store.close()


async def test_no_hold_outlives_its_call_however_the_call_ends() -> None:
    # Sub-runs whose model fails or outlives its time budget, whose tool fails (after
    # retries) or outlives its time budget; then a tree cancelled mid-way: afterwards
    # only the probe's own call is held.
    seen: list[Usage] = []
    trackers: list[Any] = []

    def failing_model(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        raise RuntimeError("the model is down")

    async def sleepy_model(messages: Sequence[Message], params: ModelParams) -> str:
        await asyncio.sleep(5)
        return "too late"

    async def slow(q: str) -> str:
        """Take a long time."""
        await asyncio.sleep(5)
        return q

    def broken(q: str) -> str:
        """Fail."""
        raise ValueError("broken")

    def tools_model(tool: str) -> ScriptedModel:
        return ScriptedModel([ToolCall(tool, {"q": "a"}), "answered"])

    agents: list[Agent[Any, Any]] = [
        Agent(FunctionModel(failing_model), name="down"),
        Agent(tools_model("broken"), name="breaks", tools=[Tool(broken, retries=2)]),
        Agent(tools_model("slow"), name="slowpoke", tools=[slow], fallback=StaticAnswer("late")),
        Agent(FunctionModel(sleepy_model), name="sleepy", fallback=StaticAnswer("late")),
    ]

    def probe(ctx: RunContext[None]) -> str:
        """Look at the budget."""
        seen.append(ctx.tracker.in_flight.copy())
        trackers.append(ctx.tracker)
        return "looked"

    calls = [ToolCall("down", {"task": "t"}), ToolCall("breaks", {"task": "t"})]
    calls += [ToolCall("slowpoke", {"task": "t"}), ToolCall("sleepy", {"task": "t"})]
    lead: Agent[Any, Any] = Agent(
        ScriptedModel([calls, ToolCall("probe", {}), "done"]),
        tools=[
            agents[0].as_tool(),
            agents[1].as_tool(),
            agents[2].as_tool(budget=Budget(max_seconds=0.2)),
            agents[3].as_tool(budget=Budget(max_seconds=0.2)),
            probe,
        ],
        budget=Budget(max_steps=None, max_tool_calls=10, max_model_calls=20),
    )
    result = await lead.run("go")
    assert result.status == "completed", result.reason
    assert seen == [Usage(tool_calls=1)]  # the probe's own call, nothing else
    assert trackers[0].in_flight == Usage()

    # Cancelled while its workers' tools run: every hold ends with the calls.
    holder: list[Any] = []

    async def hang(ctx: RunContext[None], q: str) -> str:
        """Hang."""
        holder.append(ctx.tracker)
        await asyncio.sleep(5)
        return q

    def hang_first(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        if any(isinstance(m, ToolResultMessage) for m in messages):
            return ModelResponse(text="x")
        return ModelResponse(tool_calls=[ToolCall("hang", {"q": "a"})])

    sleeper: Agent[Any, Any] = Agent(FunctionModel(hang_first), name="s", tools=[hang])
    boss: Agent[Any, Any] = Agent(
        ScriptedModel([[ToolCall("s", {"task": "1"}), ToolCall("s", {"task": "2"})], "x"]),
        tools=[sleeper.as_tool()],
        budget=Budget(max_steps=None, max_tool_calls=10),
    )
    task = asyncio.create_task(boss.run("go"))
    for _ in range(500):  # until both tools hang
        if len(holder) == 2:
            break
        await asyncio.sleep(0.01)
    root = holder[0].parent
    assert root.in_flight.tool_calls == 4  # two agent calls, and a tool call in each
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert root.in_flight == Usage()
    assert all(t.in_flight == Usage() for t in holder)


async def test_a_refused_sub_run_ends_with_its_fallback_not_an_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "refused.db")
    team = _team(4, Budget(max_steps=None, max_tool_calls=4), random.Random(0), store=store)
    result = await team.run("go")
    assert result.status == "completed"  # the supervisor answers from its workers' ends
    ends = [e for e in result.events if isinstance(e, SubRunEnded)]
    assert len(ends) == 4
    for e in ends:  # its own four calls take the whole limit: every worker is refused
        assert (e.status, e.reason.kind) == ("gave_up", "budget_exhausted")
        child = await store.load(e.child_run_id)
        (ex,) = [x for x in child if isinstance(x, BudgetExhausted)]
        assert (ex.dimension, ex.used, ex.limit) == ("tool_calls", 4, 4)
        end = child[-1]
        assert isinstance(end, RunFinished)
        assert end.output == f"{e.agent} gave up"
    assert result.usage.tool_calls == 4
    await store.close()


async def test_a_call_refused_or_waiting_for_a_person_holds_nothing_while_others_run() -> None:
    seen: list[Usage] = []

    def send(to: str) -> str:
        """Send."""
        return "sent"

    def pay(amount: int) -> str:
        """Pay."""
        return "paid"

    def probe(ctx: RunContext[None]) -> str:
        """Look at the budget."""
        seen.append(ctx.tracker.in_flight.copy())
        return "looked"

    def outside(call: ToolCall) -> str | None:
        return "outside the company" if call.name == "send" else None

    internal_only = Guardrail(outside, stage="tool_call", action="redirect")

    batch = [ToolCall("send", {"to": "x@evil.example"}), ToolCall("pay", {"amount": 1})]
    agent: Agent[Any, Any] = Agent(
        ScriptedModel([[*batch, ToolCall("probe", {})], "done"]),
        tools=[send, Tool(pay, requires_approval=True), probe],
        guardrails=[internal_only],
        budget=Budget(max_steps=None, max_tool_calls=5),
    )
    result = await agent.run("go")
    assert result.status == "interrupted"  # the payment waits for a person
    # Only the probe's own call was held while it ran: the refused call's hold ended
    # when the guardrail refused it, and the waiting one never held.
    assert seen == [Usage(tool_calls=1)]
