"""Durable runs on SQLite: journal, resume from any point, leases, approvals, retention."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

import tether
from tether import (
    Agent,
    ApprovalRequested,
    ConfigError,
    JournalError,
    Message,
    ModelResponse,
    RunContext,
    Tool,
    ToolCall,
    ToolResultMessage,
    approve,
    edit,
    reject,
)
from tether.journal import JournalStore, PostgresStore, RunLocked, SQLiteStore
from tether.models import ModelParams
from tether.testing import FunctionModel

StoreFactory = Callable[[], JournalStore]


class Ledger:
    """Side effects of tools, to count how often each really happened."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []

    def count(self, what: str) -> int:
        return sum(1 for w, _ in self.entries if w == what)


def make_agent(store: JournalStore, ledger: Ledger, *, idempotent: bool = True) -> Agent[Any, str]:
    def pay(ctx: RunContext[None], amount: int) -> str:
        """Pay an amount."""
        ledger.entries.append((f"pay {amount}", ctx.idempotency_key))
        return f"paid {amount}"

    calls = {"n": 0}

    def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        calls["n"] += 1
        done = [m for m in messages if isinstance(m, ToolResultMessage)]
        if len(done) < 3:
            return ModelResponse(
                text=f"paying {len(done) + 1}",
                tool_calls=[ToolCall("pay", {"amount": len(done) + 1})],
            )
        return ModelResponse(text="paid " + ",".join(m.content for m in done))

    agent = Agent(
        FunctionModel(policy), tools=[Tool(pay, idempotent=idempotent)], store=store, name="payer"
    )
    agent.model_calls = calls  # type: ignore[attr-defined]
    return agent


async def test_every_event_is_journaled(make_store: StoreFactory) -> None:
    store = make_store()
    result = await make_agent(store, Ledger()).run("pay three times")
    assert result.status == "completed"
    assert await store.load(result.run_id) == result.events
    (info,) = await store.list_runs()
    assert (info.run_id, info.status, info.agent, info.events) == (
        result.run_id,
        "completed",
        "payer",
        len(result.events),
    )


async def test_resume_from_every_point_gives_the_same_transcript(make_store: StoreFactory) -> None:
    full_store = make_store()
    ledger = Ledger()
    original = await make_agent(full_store, ledger).run("pay three times")
    events = original.events
    for cut in range(1, len(events) - 1):
        store = make_store()
        await store.append(original.run_id, events[:cut])
        resumed_ledger = Ledger()
        agent = make_agent(store, resumed_ledger)
        result = await agent.resume(original.run_id)
        assert result.status == "completed", cut
        assert result.output == original.output, cut
        assert [
            type(m).__name__ + str(getattr(m, "content", getattr(m, "text", "")))
            for m in result.messages
        ] == [
            type(m).__name__ + str(getattr(m, "content", getattr(m, "text", "")))
            for m in original.messages
        ], cut
        # model responses in the journal were not asked for again
        journaled = sum(1 for e in events[:cut] if e.type == "model_responded")
        assert agent.model_calls["n"] == 4 - journaled, cut  # type: ignore[attr-defined]
        # finished tool effects were not done again; only an in-flight idempotent call repeats
        finished = {e.call_id for e in events[:cut] if e.type == "tool_call_finished"}
        started = {e.call.id for e in events[:cut] if e.type == "tool_call_started"}
        in_flight = started - finished
        assert len(resumed_ledger.entries) == 3 - len(finished), cut
        keys = {k for _, k in resumed_ledger.entries}
        for call_id in in_flight:  # rerun with the same idempotency key
            assert f"{original.run_id}:{call_id}" in keys
        await store.close()


async def test_in_flight_call_that_is_not_idempotent_waits_for_a_person(
    make_store: StoreFactory,
) -> None:
    full = make_store()
    original = await make_agent(full, Ledger(), idempotent=False).run("pay")
    cut = next(i for i, e in enumerate(original.events) if e.type == "tool_call_started") + 1
    store = make_store()
    await store.append(original.run_id, original.events[:cut])
    ledger = Ledger()
    agent = make_agent(store, ledger, idempotent=False)
    stopped = await agent.resume(original.run_id)
    assert stopped.status == "interrupted"
    assert stopped.reason.kind == "needs_decision"
    assert [c.name for c in stopped.pending] == ["pay"]
    assert ledger.entries == []
    done = await agent.resume(original.run_id, decisions={stopped.pending[0].id: approve()})
    assert done.status == "completed"
    assert ledger.count("pay 1") == 1


async def test_reconcile_hook_finds_the_effect_and_does_not_rerun(make_store: StoreFactory) -> None:
    outside: dict[str, str] = {}

    def transfer(ctx: RunContext[None], amount: int) -> str:
        """Transfer money."""
        outside[ctx.idempotency_key] = f"sent {amount}"
        return f"sent {amount}"

    def look(args: dict[str, Any], key: str) -> str:
        if key not in outside:
            raise LookupError(key)
        return outside[key]

    def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        if any(isinstance(m, ToolResultMessage) for m in messages):
            return ModelResponse(text="done")
        return ModelResponse(tool_calls=[ToolCall("transfer", {"amount": 5})])

    tool = Tool(transfer, reconcile=look)
    full = make_store()
    original = await Agent(FunctionModel(policy), tools=[tool], store=full).run("x")
    cut = next(i for i, e in enumerate(original.events) if e.type == "tool_call_started") + 1
    store = make_store()
    await store.append(original.run_id, original.events[:cut])
    before = dict(outside)
    result = await Agent(FunctionModel(policy), tools=[tool], store=store).resume(original.run_id)
    assert result.status == "completed"
    assert outside == before  # the effect was found, not repeated
    finished = [e for e in result.events if e.type == "tool_call_finished"]
    assert [(e.outcome, e.content, e.attempts) for e in finished] == [("ok", "sent 5", 0)]


def approval_agent(store: JournalStore, ledger: Ledger) -> Agent[Any, str]:
    def delete(ctx: RunContext[None], path: str) -> str:
        """Delete a file."""
        ledger.entries.append((f"delete {path}", ctx.idempotency_key))
        return f"deleted {path}"

    def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        results = [m for m in messages if isinstance(m, ToolResultMessage)]
        if results:
            return ModelResponse(text="; ".join(m.content for m in results))
        return ModelResponse(
            tool_calls=[ToolCall("delete", {"path": "/a"}), ToolCall("delete", {"path": "/b"})]
        )

    return Agent(FunctionModel(policy), tools=[Tool(delete, requires_approval=True)], store=store)


async def test_approval_suspends_and_each_decision_matches_its_call(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    ledger = Ledger()
    agent = approval_agent(store, ledger)
    stopped = await agent.run("clean up")
    assert (stopped.status, stopped.reason.kind) == ("interrupted", "approval_required")
    a, b = stopped.pending
    assert [a.arguments, b.arguments] == [{"path": "/a"}, {"path": "/b"}]
    assert any(isinstance(e, ApprovalRequested) for e in stopped.events)
    assert ledger.entries == []
    # another process (a new agent object, same store) decides
    other = approval_agent(store, ledger)
    done = await other.resume(stopped.run_id, decisions={a.id: approve(), b.id: reject("keep /b")})
    assert done.status == "completed"
    assert [w for w, _ in ledger.entries] == ["delete /a"]
    assert done.output == "deleted /a; keep /b"
    # approving again runs nothing twice
    again = await other.resume(stopped.run_id, decisions={a.id: approve()})
    assert again.status == "completed"
    assert [w for w, _ in ledger.entries] == ["delete /a"]


async def test_approve_with_edited_arguments(make_store: StoreFactory) -> None:
    store = make_store()
    ledger = Ledger()
    agent = approval_agent(store, ledger)
    stopped = await agent.run("clean up")
    a, b = stopped.pending
    done = await agent.resume(
        stopped.run_id, decisions={a.id: edit({"path": "/tmp/a"}), b.id: reject()}
    )
    assert [w for w, _ in ledger.entries] == ["delete /tmp/a"]
    assert done.status == "completed"


async def test_partial_decisions_keep_the_rest_pending(make_store: StoreFactory) -> None:
    store = make_store()
    ledger = Ledger()
    agent = approval_agent(store, ledger)
    stopped = await agent.run("clean up")
    a, b = stopped.pending
    half = await agent.resume(stopped.run_id, decisions={a.id: approve()})
    assert half.status == "interrupted"
    assert [c.id for c in half.pending] == [b.id]
    assert [w for w, _ in ledger.entries] == ["delete /a"]
    done = await agent.resume(stopped.run_id, decisions={b.id: approve()})
    assert done.status == "completed"
    assert sorted(w for w, _ in ledger.entries) == ["delete /a", "delete /b"]


async def test_two_resumes_at_once_only_one_goes_on(make_store: StoreFactory) -> None:
    store = make_store()
    ledger = Ledger()
    stopped = await approval_agent(store, ledger).run("clean up")
    decisions = {c.id: approve() for c in stopped.pending}
    results = await asyncio.gather(
        approval_agent(store, ledger).resume(stopped.run_id, decisions=decisions),
        approval_agent(store, ledger).resume(stopped.run_id, decisions=decisions),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1
    assert isinstance(errors[0], RunLocked)
    assert sorted(w for w, _ in ledger.entries) == ["delete /a", "delete /b"]


async def test_an_expired_lease_can_be_taken_over(make_store: StoreFactory) -> None:
    store = make_store()
    stopped = await approval_agent(store, Ledger()).run("clean up")
    assert await store.acquire_lease(stopped.run_id, "dead-process", ttl=0.05)
    with pytest.raises(RunLocked):
        await approval_agent(store, Ledger()).resume(stopped.run_id)
    await asyncio.sleep(0.1)  # the dead process's lease expires
    result = await approval_agent(store, Ledger()).resume(
        stopped.run_id, decisions={c.id: reject() for c in stopped.pending}
    )
    assert result.status == "completed"


async def test_large_results_are_stored_once_and_read_back(make_store: StoreFactory) -> None:
    big = "x" * 50_000

    def fetch(n: int) -> str:
        """Fetch a big page."""
        return big

    def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        n = sum(1 for m in messages if isinstance(m, ToolResultMessage))
        if n < 3:
            return ModelResponse(tool_calls=[ToolCall("fetch", {"n": n})])
        return ModelResponse(text="ok")

    store = make_store()
    agent = Agent(FunctionModel(policy), tools=[fetch], store=store, max_result_chars=100_000)
    result = await agent.run("x")
    assert await store.load(result.run_id) == result.events
    # three 50 kB results, stored once
    if isinstance(store, SQLiteStore):
        assert await store.size_bytes() < 120_000
        conn = sqlite3.connect(store.path)
        assert conn.execute("SELECT COUNT(*) FROM blobs").fetchone() == (1,)
        conn.close()
    else:
        assert isinstance(store, PostgresStore)
        async with await psycopg.AsyncConnection.connect(store.dsn) as pg:
            cur = await pg.execute(f"SELECT COUNT(*) FROM {store.schema}.blobs")
            assert await cur.fetchone() == (1,)


async def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    SQLiteStore(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(JournalError, match="schema version 99, newer than this tether"):
        SQLiteStore(path)


async def test_prune_deletes_old_runs_and_gives_space_back(make_store: StoreFactory) -> None:
    store = make_store()
    agent = make_agent(store, Ledger())
    ids = [(await agent.run(f"pay {i} " + "y" * 20_000)).run_id for i in range(5)]
    before = await store.size_bytes()
    assert await store.prune(keep_last=2) == 3
    assert [r.run_id for r in await store.list_runs()] == [ids[4], ids[3]]
    assert await store.size_bytes() < before
    with pytest.raises(JournalError, match="no run"):
        await store.load(ids[0])
    assert await store.prune(older_than=0.0) == 2
    assert await store.list_runs() == []


async def test_list_filters_by_status_and_agent(make_store: StoreFactory) -> None:
    store = make_store()
    await make_agent(store, Ledger()).run("pay")
    await approval_agent(store, Ledger()).run("clean")
    assert [r.status for r in await store.list_runs(status="interrupted")] == ["interrupted"]
    assert [r.agent for r in await store.list_runs(agent="payer")] == ["payer"]
    assert await store.list_runs(since=10**12) == []


async def test_a_finished_run_resumes_to_its_journaled_result(make_store: StoreFactory) -> None:
    store = make_store()
    ledger = Ledger()
    done = await make_agent(store, ledger).run("pay")
    again = await make_agent(store, ledger).resume(done.run_id)
    assert (again.status, again.output) == ("completed", done.output)
    assert len(ledger.entries) == 3


async def test_a_final_answer_journaled_before_a_crash_is_not_asked_again(
    make_store: StoreFactory,
) -> None:
    full = make_store()
    original = await make_agent(full, Ledger()).run("pay")
    # cut right after the final answer was journaled, before the run finished
    cut = max(i for i, e in enumerate(original.events) if e.type == "model_responded") + 1
    store = make_store()
    await store.append(original.run_id, original.events[:cut])
    agent = make_agent(store, Ledger())
    result = await agent.resume(original.run_id)
    assert (result.status, result.output) == ("completed", original.output)
    assert agent.model_calls["n"] == 0  # type: ignore[attr-defined]
    assert len(result.messages) == len(original.messages)


async def test_pending_notes_survive_a_crash(make_store: StoreFactory) -> None:
    calls = {"n": 0}

    def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        calls["n"] += 1
        if calls["n"] == 1:
            return ModelResponse(text="not a number")
        return ModelResponse(text="42")

    store = make_store()
    original = await Agent(FunctionModel(policy), output_type=int, store=store).run("q")
    cut = next(i for i, e in enumerate(original.events) if e.type == "output_invalid") + 2
    assert original.events[cut - 1].type == "note_added"
    resumed_store = make_store()
    await resumed_store.append(original.run_id, original.events[:cut])
    calls["n"] = 1
    agent = Agent(FunctionModel(policy), output_type=int, store=resumed_store)
    result = await agent.resume(original.run_id)
    assert result.output == 42
    assert [getattr(m, "content", getattr(m, "text", None)) for m in result.messages] == [
        getattr(m, "content", getattr(m, "text", None)) for m in original.messages
    ]


async def test_parallel_results_keep_call_order_when_resumed_mid_batch(
    make_store: StoreFactory,
) -> None:
    async def slow(x: str) -> str:
        """Slow."""
        await asyncio.sleep(0.05)
        return f"slow {x}"

    async def fast(x: str) -> str:
        """Fast."""
        return f"fast {x}"

    def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        results = [m.content for m in messages if isinstance(m, ToolResultMessage)]
        if results:
            return ModelResponse(text=" | ".join(results))
        return ModelResponse(
            tool_calls=[ToolCall("slow", {"x": "a"}), ToolCall("fast", {"x": "b"})]
        )

    tools = [Tool(slow, idempotent=True), Tool(fast, idempotent=True)]
    full = make_store()
    original = await Agent(FunctionModel(policy), tools=tools, store=full).run("q")
    finished = [e for e in original.events if e.type == "tool_call_finished"]
    assert [e.name for e in finished] == ["fast", "slow"]  # fast ended first
    cut = finished[0].seq + 1  # the crash came while `slow` still ran
    store = make_store()
    await store.append(original.run_id, original.events[:cut])
    result = await Agent(FunctionModel(policy), tools=tools, store=store).resume(original.run_id)
    assert result.output == original.output == "slow a | fast b"
    again = [e for e in result.events[cut:] if e.type == "tool_call_finished"]
    assert [e.name for e in again] == ["slow"]  # only the call in flight ran again


async def _cut_off_transfer(
    make_store: StoreFactory, reconcile: Callable[[dict[str, Any], str], Any], **options: Any
) -> tuple[Agent[Any, str], str, list[str]]:
    """A run whose non-idempotent transfer a crash cut off, and an agent to resume it
    with ``reconcile`` as the tool's hook (and ``options`` for the tool); also the list
    of transfers really made."""
    sent: list[str] = []

    def transfer(amount: int) -> str:
        """Transfer money."""
        sent.append(f"sent {amount}")
        return f"sent {amount}"

    def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        if any(isinstance(m, ToolResultMessage) for m in messages):
            return ModelResponse(text="done")
        return ModelResponse(tool_calls=[ToolCall("transfer", {"amount": 5})])

    tool = Tool(transfer, reconcile=reconcile, **options)
    original = await Agent(FunctionModel(policy), tools=[tool], store=make_store()).run("x")
    cut = next(i for i, e in enumerate(original.events) if e.type == "tool_call_started") + 1
    store = make_store()
    await store.append(original.run_id, original.events[:cut])
    sent.clear()
    return Agent(FunctionModel(policy), tools=[tool], store=store), original.run_id, sent


async def test_an_async_reconcile_hook_is_awaited(make_store: StoreFactory) -> None:
    async def look(args: dict[str, Any], key: str) -> str:
        await asyncio.sleep(0)
        return f"found {args['amount']}"

    agent, run_id, sent = await _cut_off_transfer(make_store, look)
    result = await agent.resume(run_id)
    assert result.status == "completed"
    assert sent == []
    finished = [e for e in result.events if e.type == "tool_call_finished"]
    assert [(e.outcome, e.content, e.attempts) for e in finished] == [("ok", "found 5", 0)]


async def test_an_async_reconcile_hook_that_finds_nothing_reruns_the_call(
    make_store: StoreFactory,
) -> None:
    async def look(args: dict[str, Any], key: str) -> str:
        raise LookupError(key)

    agent, run_id, sent = await _cut_off_transfer(make_store, look)
    result = await agent.resume(run_id)
    assert (result.status, sent) == ("completed", ["sent 5"])


def _down(args: dict[str, Any], key: str) -> str:
    raise RuntimeError("billing API down")


async def _down_async(args: dict[str, Any], key: str) -> str:
    raise RuntimeError("billing API down")


def _binary(args: dict[str, Any], key: str) -> bytes:
    return b"\xff\xfe"


@pytest.mark.parametrize(
    ("hook", "error"),
    [
        (_down, "RuntimeError: billing API down"),
        (_down_async, "RuntimeError: billing API down"),
        (_binary, "TypeError: it returned 2 bytes of binary data"),
    ],
)
async def test_a_failing_reconcile_hook_leaves_the_call_to_a_person(
    make_store: StoreFactory,
    caplog: pytest.LogCaptureFixture,
    hook: Callable[[dict[str, Any], str], Any],
    error: str,
) -> None:
    agent, run_id, sent = await _cut_off_transfer(make_store, hook)
    stopped = await agent.resume(run_id)
    assert (stopped.status, stopped.reason.kind) == ("interrupted", "needs_decision")
    assert [c.name for c in stopped.pending] == ["transfer"]
    assert f"its reconcile hook failed ({error}" in stopped.reason.message
    assert sent == []
    asked = [e for e in stopped.events if isinstance(e, ApprovalRequested)]
    assert [e.reason for e in asked] == ["in_doubt"]
    journaled = (await agent.store.load(run_id))[-1]  # type: ignore[union-attr]
    assert journaled.type == "run_finished"
    assert error in journaled.reason.message
    assert any(error in r.getMessage() for r in caplog.records)
    done = await agent.resume(run_id, decisions={stopped.pending[0].id: approve()})
    assert (done.status, sent) == ("completed", ["sent 5"])


_RELEASE = threading.Event()
"""Set when a test ends: lets the threads of hung sync hooks end too."""


def _hangs(args: dict[str, Any], key: str) -> str:
    _RELEASE.wait(60)
    return "too late"


async def _hangs_async(args: dict[str, Any], key: str) -> str:
    await asyncio.sleep(60)
    return "too late"


async def _swallows_its_cancel(args: dict[str, Any], key: str) -> str:
    for _ in range(150):  # 15 s: past the 10 s a resume is given
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.1)
    return "too late"


async def _stopped_after_its_bound(
    agent: Agent[Any, str], run_id: str, sent: list[str], caplog: pytest.LogCaptureFixture
) -> tuple[str, str]:
    """Resume a run whose hook hangs and check that the call is left to a person; give
    the reason's message and the log's. The resume is given 10 s: a hook without a
    bound holds it forever."""
    try:
        stopped = await asyncio.wait_for(agent.resume(run_id), 10)
    finally:
        _RELEASE.set()
    assert (stopped.status, stopped.reason.kind) == ("interrupted", "needs_decision")
    assert [c.name for c in stopped.pending] == ["transfer"]
    assert sent == []
    journaled = (await agent.store.load(run_id))[-1]  # type: ignore[union-attr]
    assert journaled.type == "run_finished"
    assert journaled.reason.message == stopped.reason.message
    logged = [r.getMessage() for r in caplog.records if "timed out" in r.getMessage()]
    assert logged, [r.getMessage() for r in caplog.records]
    done = await agent.resume(run_id, decisions={stopped.pending[0].id: approve()})
    assert (done.status, sent) == ("completed", ["sent 5"])
    return stopped.reason.message, logged[0]


@pytest.mark.parametrize(
    "hook", [_hangs, _hangs_async, _swallows_its_cancel], ids=["sync", "async", "deaf"]
)
async def test_a_reconcile_hook_that_hangs_is_stopped_at_the_tools_timeout(
    make_store: StoreFactory,
    caplog: pytest.LogCaptureFixture,
    hook: Callable[[dict[str, Any], str], Any],
) -> None:
    _RELEASE.clear()
    agent, run_id, sent = await _cut_off_transfer(make_store, hook, timeout=0.2)
    began = time.monotonic()
    reason, logged = await _stopped_after_its_bound(agent, run_id, sent, caplog)
    assert "its reconcile hook timed out (no answer within 0.2 s)" in reason
    assert "no answer within 0.2 s" in logged
    assert time.monotonic() - began < 5  # a deaf hook is abandoned after a short grace


async def test_reconcile_timeout_bounds_the_hook_rather_than_the_tools_timeout(
    make_store: StoreFactory, caplog: pytest.LogCaptureFixture
) -> None:
    _RELEASE.clear()
    agent, run_id, sent = await _cut_off_transfer(
        make_store, _hangs, timeout=60, reconcile_timeout=0.1
    )
    reason, _ = await _stopped_after_its_bound(agent, run_id, sent, caplog)
    assert "its reconcile hook timed out (no answer within 0.1 s)" in reason


async def test_a_hook_of_a_tool_without_a_timeout_gets_the_default_bound(
    make_store: StoreFactory, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tether.run import _durable

    monkeypatch.setattr(_durable, "RECONCILE_TIMEOUT", 0.15)
    agent, run_id, sent = await _cut_off_transfer(make_store, _hangs_async)
    reason, _ = await _stopped_after_its_bound(agent, run_id, sent, caplog)
    assert "its reconcile hook timed out (no answer within 0.15 s)" in reason


HUNG_HOOK = '''
import asyncio, sys, threading
from tether import Agent, ModelResponse, Tool, ToolCall, ToolResultMessage
from tether.journal import SQLiteStore
from tether.testing import FunctionModel


def transfer(amount: int) -> str:
    """Transfer money."""
    return f"sent {amount}"


def hangs(args, key):
    threading.Event().wait()  # never set: the billing API never answers


def policy(messages, params):
    if any(isinstance(m, ToolResultMessage) for m in messages):
        return ModelResponse(text="done")
    return ModelResponse(tool_calls=[ToolCall("transfer", {"amount": 5})])


async def main() -> None:
    tool = Tool(transfer, reconcile=hangs, timeout=0.3)
    full, store = SQLiteStore(sys.argv[1] + "/full.db"), SQLiteStore(sys.argv[1] + "/cut.db")
    original = await Agent(FunctionModel(policy), tools=[tool], store=full).run("x")
    cut = next(i for i, e in enumerate(original.events) if e.type == "tool_call_started") + 1
    await store.append(original.run_id, original.events[:cut])
    stopped = await Agent(FunctionModel(policy), tools=[tool], store=store).resume(original.run_id)
    print(stopped.status, stopped.reason.kind, flush=True)
    await full.close()
    await store.close()


asyncio.run(main())
'''


def test_a_hung_sync_reconcile_hook_holds_neither_the_resume_nor_the_exit(
    tmp_path: Path,
) -> None:
    script = tmp_path / "hung_hook.py"
    script.write_text(HUNG_HOOK)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert out.split() == ["interrupted", "needs_decision"], (out, err)


@pytest.mark.parametrize("bound", [0, -1, float("nan"), float("inf"), True, "5"])
def test_a_reconcile_timeout_that_is_not_a_bound_is_refused(bound: Any) -> None:
    with pytest.raises(ConfigError, match="reconcile_timeout must be a finite number"):
        Tool(_down, name="transfer", reconcile=_down, reconcile_timeout=bound)


def test_reconcile_options_that_cannot_work_are_refused() -> None:
    with pytest.raises(ConfigError, match="has none; pass reconcile"):
        Tool(_down, name="transfer", reconcile_timeout=5)
    with pytest.raises(ConfigError, match="reconcile must be a function"):
        Tool(_down, name="transfer", reconcile="ledger")  # type: ignore[arg-type]
    made = tether.tool(name="transfer", reconcile=_down, reconcile_timeout=2)(_down)
    assert (made.reconcile, made.reconcile_timeout) == (_down, 2.0)
