"""Exactly once under concurrent resumes: two resumers of one run, on both stores.

Each variant is repeated ``TETHER_RESUME_PAIRS`` times (50 by default, in CI too) with a
fresh run, and the ledger of side effects must match the journal exactly.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from tether import (
    Agent,
    ApprovalDecided,
    Message,
    ModelResponse,
    RunContext,
    RunLocked,
    Tool,
    ToolCall,
    ToolCallFinished,
    ToolResultMessage,
    UsageError,
    approve,
    reject,
)
from tether.journal import JournalStore, PostgresStore, SQLiteStore
from tether.models import ModelParams
from tether.testing import FunctionModel

PAIRS = int(os.environ.get("TETHER_RESUME_PAIRS", "50"))
StoreFactory = Callable[[], JournalStore]
_LOSING = (RunLocked, UsageError)


def _twin(store: JournalStore) -> JournalStore:
    """Another connection to the same journal, as another process would have."""
    if isinstance(store, SQLiteStore):
        return SQLiteStore(store.path)
    assert isinstance(store, PostgresStore)
    return PostgresStore(store.dsn, schema=store.schema, max_size=2)


class World:
    """The outside world the tools act on: each effect once per line."""

    def __init__(self) -> None:
        self.refunds: list[str] = []
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()


def refund_agent(store: JournalStore, world: World, *, reconciled: bool = False) -> Agent[Any, str]:
    async def refund(ctx: RunContext[None], order: str) -> str:
        """Refund an order (not idempotent)."""
        world.entered.set()
        if world.gate is not None:
            await world.gate.wait()
        world.refunds.append(ctx.idempotency_key)
        return f"refunded {order}"

    def check(args: dict[str, Any], key: str) -> str:
        if key in world.refunds:
            return f"refunded {args['order']}"
        raise LookupError(key)

    def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        results = [m for m in messages if isinstance(m, ToolResultMessage)]
        if results:
            return ModelResponse(text=results[-1].content)
        return ModelResponse(tool_calls=[ToolCall("refund", {"order": "A-17"}, "c1")])

    tool = Tool(refund, requires_approval=True, reconcile=check if reconciled else None)
    return Agent(FunctionModel(policy), tools=[tool], store=store, lease_ttl=5)


async def _pending_run(store: JournalStore, world: World, **kw: Any) -> str:
    stopped = await refund_agent(store, world, **kw).run("Refund A-17")
    assert stopped.status == "interrupted"
    return stopped.run_id


async def _journal(store: JournalStore, run_id: str) -> tuple[list[str], int]:
    events = await store.load(run_id)
    decisions = [e.decision for e in events if isinstance(e, ApprovalDecided)]
    ran = sum(1 for e in events if isinstance(e, ToolCallFinished) and e.outcome == "ok")
    return decisions, ran


async def _settle(*coros: Any) -> list[Any]:
    return list(await asyncio.gather(*coros, return_exceptions=True))


@pytest.mark.slow
async def test_two_resumers_at_once_run_the_effect_once(make_store: StoreFactory) -> None:
    store = make_store()
    other = _twin(store)
    try:
        for _ in range(PAIRS):
            world = World()
            run_id = await _pending_run(store, world)
            a, b = refund_agent(store, world), refund_agent(other, world)
            got = await _settle(
                a.resume(run_id, decisions={"c1": approve()}),
                b.resume(run_id, decisions={"c1": approve()}),
            )
            completed = [g for g in got if not isinstance(g, BaseException)]
            assert completed, got
            assert all(isinstance(g, _LOSING) for g in got if isinstance(g, BaseException)), got
            assert all(g.status == "completed" for g in completed)
            decisions, ran = await _journal(store, run_id)
            assert (decisions, ran, len(world.refunds)) == (["approve"], 1, 1)
    finally:
        await other.close()


@pytest.mark.slow
async def test_approve_and_reject_at_once_do_one_and_the_effect_matches(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    other = _twin(store)
    outcomes = set()
    try:
        for i in range(PAIRS):
            world = World()
            run_id = await _pending_run(store, world)
            a, b = refund_agent(store, world), refund_agent(other, world)
            first, second = (approve(), reject("no")) if i % 2 else (reject("no"), approve())
            got = await _settle(
                a.resume(run_id, decisions={"c1": first}),
                b.resume(run_id, decisions={"c1": second}),
            )
            assert any(not isinstance(g, BaseException) for g in got), got
            decisions, ran = await _journal(store, run_id)
            assert len(decisions) == 1, decisions
            assert len(world.refunds) == ran == (1 if decisions == ["approve"] else 0)
            outcomes.add(decisions[0])
    finally:
        await other.close()
    assert outcomes  # the ledger matched the journal every time, whichever won


@pytest.mark.slow
@pytest.mark.parametrize("reconciled", [False, True], ids=["plain", "reconciled"])
async def test_a_second_resumer_during_the_call_changes_nothing(
    make_store: StoreFactory, reconciled: bool
) -> None:
    store = make_store()
    other = _twin(store)
    try:
        for _ in range(PAIRS):
            world = World()
            run_id = await _pending_run(store, world, reconciled=reconciled)
            world.gate = asyncio.Event()
            first = asyncio.create_task(
                refund_agent(store, world, reconciled=reconciled).resume(
                    run_id, decisions={"c1": approve()}
                )
            )
            await world.entered.wait()  # the first is inside the refund
            with pytest.raises(RunLocked):
                await refund_agent(other, world, reconciled=reconciled).resume(
                    run_id, decisions={"c1": approve()}
                )
            world.gate.set()
            assert (await first).status == "completed"
            decisions, ran = await _journal(store, run_id)
            assert (decisions, ran, len(world.refunds)) == (["approve"], 1, 1)
    finally:
        await other.close()


class _SlowLease:
    """A store whose lease is taken only once ``go`` is set: the resumer is paused
    between asking to resume and holding the lease."""

    def __init__(self, inner: JournalStore, go: asyncio.Event) -> None:
        self.inner = inner
        self.go = go

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def acquire_lease(self, run_id: str, owner: str, ttl: float) -> bool:
        await self.go.wait()
        return await self.inner.acquire_lease(run_id, owner, ttl)


@pytest.mark.slow
async def test_a_resumer_paused_before_the_lease_sees_the_run_as_it_is_then(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    other = _twin(store)
    try:
        for _ in range(PAIRS):
            world = World()
            run_id = await _pending_run(store, world)
            go = asyncio.Event()
            slow = refund_agent(_SlowLease(other, go), world)  # type: ignore[arg-type]
            late = asyncio.create_task(slow.resume(run_id, decisions={"c1": approve()}))
            await asyncio.sleep(0)  # it has read the journal and waits for the lease
            done = await refund_agent(store, world).resume(run_id, decisions={"c1": approve()})
            assert done.status == "completed"
            go.set()
            again = await late  # the same decision on a finished run: its result, no effect
            assert again.status == "completed"
            decisions, ran = await _journal(store, run_id)
            assert (decisions, ran, len(world.refunds)) == (["approve"], 1, 1)
    finally:
        await other.close()


async def test_an_approved_call_cut_off_by_a_crash_goes_back_to_a_person(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    world = World()
    run_id = await _pending_run(store, world)
    world.gate = asyncio.Event()  # never set: the refund hangs, as a process about to die
    task = asyncio.create_task(
        refund_agent(store, world).resume(run_id, decisions={"c1": approve()})
    )
    await world.entered.wait()
    events = await store.load(run_id)  # the journal at the moment of the "crash"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    crashed: JournalStore  # a copy of the journal as the crash left it
    if isinstance(store, SQLiteStore):
        crashed = SQLiteStore(store.path.with_name("crashed.db"))
    else:
        assert isinstance(store, PostgresStore)
        crashed = PostgresStore(store.dsn, schema=store.schema + "x")
    try:
        await crashed.append(run_id, events)
        world2 = World()
        again = await refund_agent(crashed, world2).resume(run_id)
        assert (again.status, again.reason.kind) == ("interrupted", "needs_decision")
        assert world2.refunds == []
        # A person decides: one more execution, journaled as started again.
        done = await refund_agent(crashed, world2).resume(run_id, decisions={"c1": approve()})
        assert (done.status, len(world2.refunds)) == ("completed", 1)
    finally:
        if isinstance(crashed, PostgresStore):
            await crashed.drop()
        await crashed.close()


async def test_decisions_on_unknown_calls_or_finished_runs_are_errors(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    world = World()
    run_id = await _pending_run(store, world)
    agent = refund_agent(store, world)
    with pytest.raises(Exception, match=r"no waiting call typo.*c1 \(refund\)"):
        await agent.resume(run_id, decisions={"typo": approve()})
    done = await agent.resume(run_id, decisions={"c1": approve()})
    assert done.status == "completed"
    assert (await agent.resume(run_id, decisions={"c1": approve()})).status == "completed"
    with pytest.raises(UsageError, match="already finished"):
        await agent.resume(run_id, decisions={"c1": reject()})
    assert len(world.refunds) == 1


async def test_releasing_a_lease_never_hangs(make_store: StoreFactory) -> None:
    from tether.run import Lease

    store = make_store()
    run_id = await _pending_run(store, World())
    for _ in range(200):
        lease = await Lease.take(store, run_id, 0.03)
        await asyncio.sleep(0.011)  # a renewal may be in flight
        await asyncio.wait_for(lease.release(), 5)


async def test_resuming_a_finished_run_returns_its_output_as_the_output_type(
    make_store: StoreFactory,
) -> None:
    from pydantic import BaseModel

    class Refund(BaseModel):
        order: str
        cents: int

    store = make_store()
    agent = Agent(
        FunctionModel(lambda m, p: ModelResponse(text='{"order": "A-17", "cents": 1200}')),
        output_type=Refund,
        store=store,
    )
    done = await agent.run("refund")
    again = await agent.resume(done.run_id)
    assert isinstance(again.output, Refund)
    assert again.output == done.output
