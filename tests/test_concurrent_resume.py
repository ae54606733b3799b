"""Exactly once under concurrent resumes: two resumers of one run, on both stores.

Each variant is repeated ``TETHER_RESUME_PAIRS`` times (50 by default, in CI too) with a
fresh run, and the ledger of side effects must match the journal exactly; the variant
with two processes ``TETHER_RESUME_PROCESS_PAIRS`` times (10 by default).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from helpers import tether_cli
from tether import (
    Agent,
    ApprovalDecided,
    Message,
    ModelResponse,
    RunContext,
    RunFinished,
    RunLocked,
    Tool,
    ToolCall,
    ToolCallFinished,
    ToolCallStarted,
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


class Outside:
    """The world a crash left behind: the refunds really made, and each time a
    reconcile hook asked about one."""

    def __init__(self) -> None:
        self.refunds: list[str] = []
        self.asked: list[str] = []
        self.down = False
        """The billing API takes the question and never answers."""


def reconciled_agent(
    store: JournalStore, outside: Outside, timeout: float | None = None
) -> Agent[Any, str]:
    """The refund agent with an async reconcile hook that looks in ``outside``."""

    async def refund(ctx: RunContext[None], order: str) -> str:
        """Refund an order (not idempotent)."""
        await asyncio.sleep(0)
        outside.refunds.append(ctx.idempotency_key)
        return f"refunded {order}"

    async def refunded(args: dict[str, Any], key: str) -> str:
        outside.asked.append(key)
        if outside.down:
            await asyncio.Event().wait()
        await asyncio.sleep(0.002)  # the billing API answers: the other resumer goes on
        if key in outside.refunds:
            return f"found the refund of {args['order']}"
        raise LookupError(key)

    def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        results = [m for m in messages if isinstance(m, ToolResultMessage)]
        if results:
            return ModelResponse(text=results[-1].content)
        return ModelResponse(tool_calls=[ToolCall("refund", {"order": "A-17"}, "c1")])

    tool = Tool(refund, reconcile=refunded, timeout=timeout)
    return Agent(FunctionModel(policy), tools=[tool], store=store, name="refunds", lease_ttl=5)


async def _crashed_mid_refund(store: JournalStore, scratch: JournalStore) -> tuple[str, int]:
    """A run in ``store`` whose refund a crash cut off (started, never finished); its
    id and how many events its journal holds. ``scratch`` holds the run it was cut from."""
    done = await reconciled_agent(scratch, Outside()).run("Refund A-17")
    events = await scratch.load(done.run_id)
    cut = next(i for i, e in enumerate(events) if isinstance(e, ToolCallStarted)) + 1
    await store.append(done.run_id, events[:cut])
    return done.run_id, cut


async def _settled_once(store: JournalStore, run_id: str, cut: int) -> tuple[int, list[Any]]:
    """How many times the run ended, and the refund's ends journaled since the crash."""
    events = await store.load(run_id)
    ended = sum(1 for e in events if isinstance(e, RunFinished))
    refunds = [
        (e.outcome, e.content, e.attempts) for e in events[cut:] if e.type == "tool_call_finished"
    ]
    return ended, refunds


@pytest.mark.slow
@pytest.mark.parametrize("happened", [True, False], ids=["refunded", "not_refunded"])
async def test_two_resumers_of_a_crashed_run_ask_its_async_hook_once(
    make_store: StoreFactory, happened: bool
) -> None:
    """A crash cut off the refund; two resumers go on with the run at once and the
    refund's async reconcile hook says whether it happened. Exactly one asks it, its
    answer is used (the refund found, or made once), and the run ends once."""
    store, scratch = make_store(), make_store()
    other = _twin(store)
    try:
        for _ in range(PAIRS):
            run_id, cut = await _crashed_mid_refund(store, scratch)
            key = f"{run_id}:c1"
            outside = Outside()
            outside.refunds = [key] if happened else []  # the dead process's refund, or none
            got = await _settle(
                reconciled_agent(store, outside).resume(run_id),
                reconciled_agent(other, outside).resume(run_id),
            )
            completed = [g for g in got if not isinstance(g, BaseException)]
            assert completed, got
            assert all(isinstance(g, _LOSING) for g in got if isinstance(g, BaseException)), got
            answer = "found the refund of A-17" if happened else "refunded A-17"
            assert [(g.status, g.output) for g in completed] == [("completed", answer)] * len(
                completed
            )
            assert (outside.refunds, outside.asked) == ([key], [key])
            ended, refunds = await _settled_once(store, run_id, cut)
            assert (ended, refunds) == (1, [("ok", answer, 0 if happened else 1)])
    finally:
        await other.close()


@pytest.mark.slow
async def test_two_resumers_while_the_hook_hangs_leave_the_refund_to_a_person(
    make_store: StoreFactory,
) -> None:
    """Two resumers go on with a run a crash cut off mid-refund, at once, and the
    billing API the async hook asks never answers: the hook is given up at the tool's
    timeout, the run waits for a person (no resumer hangs, none refunds), and the
    person's approval then makes the refund once."""
    store, scratch = make_store(), make_store()
    other = _twin(store)
    try:
        for _ in range(PAIRS):
            run_id, cut = await _crashed_mid_refund(store, scratch)
            outside = Outside()
            outside.down = True
            got = await asyncio.wait_for(
                _settle(
                    reconciled_agent(store, outside, timeout=0.1).resume(run_id),
                    reconciled_agent(other, outside, timeout=0.1).resume(run_id),
                ),
                10,  # a hook without a bound holds its resumer, and the lease, forever
            )
            stopped = [g for g in got if not isinstance(g, BaseException)]
            assert stopped, got
            assert all(isinstance(g, _LOSING) for g in got if isinstance(g, BaseException)), got
            for g in stopped:
                assert (g.status, g.reason.kind) == ("interrupted", "needs_decision")
                assert "timed out (no answer within 0.1 s)" in g.reason.message
            assert outside.refunds == []
            outside.down = False
            done = await reconciled_agent(other, outside).resume(
                run_id, decisions={"c1": approve()}
            )
            assert (done.status, done.output) == ("completed", "refunded A-17")
            assert outside.refunds == [f"{run_id}:c1"]
            events = await store.load(run_id)
            ends = [e.status for e in events if isinstance(e, RunFinished)]
            assert ends[-1] == "completed"
            assert ends.count("completed") == 1
            _, refunds = await _settled_once(store, run_id, cut)
            assert refunds == [("ok", "refunded A-17", 1)]
    finally:
        await other.close()


RECONCILED_AGENT = """
import asyncio, os
from tether import Agent, ModelResponse, RunContext, Tool, ToolCall, ToolResultMessage
from tether.testing import FunctionModel


def _write(path, line):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (line + "\\n").encode())
    os.close(fd)


def _lines(path):
    return open(path).read().split() if os.path.exists(path) else []


async def refund(ctx: RunContext[None], order: str) -> str:
    '''Refund an order (not idempotent).'''
    _write(os.environ["REFUND_LEDGER"], ctx.idempotency_key)
    return f"refunded {order}"


async def refunded(args, key):
    _write(os.environ["REFUND_ASKED"], key)
    await asyncio.sleep(0.05)  # the billing API answers: the other process goes on
    if key in _lines(os.environ["REFUND_LEDGER"]):
        return f"found the refund of {args['order']}"
    raise LookupError(key)


def policy(messages, params):
    results = [m for m in messages if isinstance(m, ToolResultMessage)]
    if results:
        return ModelResponse(text=results[-1].content)
    return ModelResponse(tool_calls=[ToolCall("refund", {"order": "A-17"}, "c1")])


agent = Agent(
    FunctionModel(policy), tools=[Tool(refund, reconcile=refunded)], name="refunds", lease_ttl=5
)
"""

PROCESS_PAIRS = int(os.environ.get("TETHER_RESUME_PROCESS_PAIRS", "10"))


def _spec(store: JournalStore) -> str:
    """The store as ``tether --store`` names it."""
    if isinstance(store, SQLiteStore):
        return str(store.path)
    assert isinstance(store, PostgresStore)
    return f"{store.dsn}?tether_schema={store.schema}"


@pytest.mark.slow
async def test_two_resume_processes_of_a_crashed_run_settle_it_once(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    """Two ``tether resume RUN`` processes go on with a run a crash cut off mid-refund,
    at once; the refund's async reconcile hook reads a ledger file. Rounds alternate
    between a refund the dead process made and one it did not."""
    store, scratch = make_store(), make_store()
    (tmp_path / "reconciled_refunds.py").write_text(RECONCILED_AGENT)
    ledger, asked = tmp_path / "ledger", tmp_path / "asked"
    env = {
        **os.environ,
        "REFUND_LEDGER": str(ledger),
        "REFUND_ASKED": str(asked),
        "PYTHONPATH": str(tmp_path),
    }
    base = ["--agent", "reconciled_refunds:agent", "--store", _spec(store), "--json"]
    for i in range(PROCESS_PAIRS):
        happened = i % 2 == 0
        run_id, cut = await _crashed_mid_refund(store, scratch)
        key = f"{run_id}:c1"
        if happened:  # the dead process made the refund before it died
            with ledger.open("a") as f:
                f.write(key + "\n")
        pair = [tether_cli(["resume", run_id, *base], tmp_path, env) for _ in range(2)]
        codes, outputs = [], []
        for proc in pair:
            out, err = await asyncio.to_thread(proc.communicate, timeout=60)
            assert "Traceback" not in err, err
            codes.append(proc.returncode)
            if proc.returncode == 0:
                outputs.append(json.loads(out)["output"])
        assert 0 in codes, codes
        assert set(codes) <= {0, 2}, codes  # the other lost the lease (2) or saw it done
        answer = "found the refund of A-17" if happened else "refunded A-17"
        assert outputs == [answer] * len(outputs)
        made = [line for line in ledger.read_text().split() if line == key]
        assert made == [key]  # made once: by the dead process, or by one resumer
        assert [line for line in asked.read_text().split() if line == key] == [key]
        ended, refunds = await _settled_once(store, run_id, cut)
        assert (ended, refunds) == (1, [("ok", answer, 0 if happened else 1)])
