"""Cancelling a run from anywhere: a live run in another process, a run in this one, a
run that waits for a person; finished and unknown runs are refused; twice is harmless;
journals made before cancel requests existed are migrated."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import PG_DSN, _postgres_reachable
from helpers import tether_cli
from tether import (
    Agent,
    JournalError,
    RunFinished,
    ToolCall,
    UsageError,
    UserMessage,
    approve,
    cancel_run,
    diagnose,
)
from tether.cli import app
from tether.journal import JournalStore, PostgresStore, SQLiteStore
from tether.journal._store import encode
from tether.testing import ScriptedModel

StoreFactory = Callable[[], JournalStore]
runner = CliRunner()

SLOW_AGENT = """
import asyncio, os
from tether import Agent, ToolCall
from tether.testing import ScriptedModel


async def wait_for_the_world(seconds: int) -> str:
    '''Wait a long time.'''
    open(os.environ["SLOW_ENTERED"], "w").close()
    await asyncio.sleep(seconds)
    return "the world answered"


agent = Agent(
    ScriptedModel([ToolCall("wait_for_the_world", {"seconds": 60}), "done"]),
    tools=[wait_for_the_world],
    name="slowpoke",
)
"""


async def slow(seconds: int) -> str:
    """Wait."""
    await asyncio.sleep(seconds)
    return "late"


def echo(x: int) -> int:
    """Echo."""
    return x


def slow_agent(store: JournalStore) -> Agent[None, str]:
    return Agent(
        ScriptedModel([ToolCall("slow", {"seconds": 60}), "done"]), tools=[slow], store=store
    )


async def _only_run(store: JournalStore) -> str:
    for _ in range(200):
        found = await store.list_runs()
        if found:
            return found[0].run_id
        await asyncio.sleep(0.02)
    raise AssertionError("the run never appeared in the store")


async def _lease_is_free(store: JournalStore, run_id: str) -> bool:
    probe = f"probe-{uuid.uuid4().hex[:6]}"
    taken = await store.acquire_lease(run_id, probe, 1.0)
    if taken:
        await store.release_lease(run_id, probe)
    return taken


# --- one process -----------------------------------------------------------------


async def test_a_live_run_cancelled_through_the_api_ends_interrupted_with_the_reason(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    task = asyncio.create_task(slow_agent(store).run("wait"))
    run_id = await _only_run(store)
    await asyncio.sleep(0.2)  # inside the tool
    asked = time.monotonic()
    assert await cancel_run(store, run_id, reason="the user left") == "requested"
    result = await asyncio.wait_for(task, 5)  # no CancelledError: the run ended by itself
    assert time.monotonic() - asked < 2.0
    assert (result.status, result.reason.kind) == ("interrupted", "cancelled")
    assert "the user left" in result.reason.message
    events = await store.load(run_id)
    last = events[-1]
    assert isinstance(last, RunFinished)
    assert last.reason.message == result.reason.message
    assert diagnose(events).category == "cancelled"
    assert await _lease_is_free(store, run_id)
    with pytest.raises(UsageError, match="was cancelled: the user left"):
        await slow_agent(store).resume(run_id)


async def test_cancelling_twice_is_harmless(make_store: StoreFactory) -> None:
    store = make_store()
    task = asyncio.create_task(slow_agent(store).run("wait"))
    run_id = await _only_run(store)
    await asyncio.sleep(0.1)
    first = await cancel_run(store, run_id, reason="first")
    second = await cancel_run(store, run_id, reason="second", wait=5)
    assert (first, second) == ("requested", "cancelled")
    result = await task
    assert "first" in result.reason.message  # the first request's reason is kept
    assert await cancel_run(store, run_id, reason="third") == "already_cancelled"
    assert len([e for e in await store.load(run_id) if isinstance(e, RunFinished)]) == 1


async def test_a_waiting_run_is_ended_by_the_cancel_and_cannot_be_resumed(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    ran: list[int] = []

    def pay(x: int) -> int:
        """Pay."""
        ran.append(x)
        return x

    agent = Agent(
        ScriptedModel([ToolCall("pay", {"x": 7}), "paid"]),
        tools=[pay],
        approval=lambda c: True,
        store=store,
    )
    waiting = await agent.run("pay 7")
    assert (waiting.status, waiting.reason.kind) == ("interrupted", "approval_required")
    assert await cancel_run(store, waiting.run_id, reason="not needed") == "cancelled"
    events = await store.load(waiting.run_id)
    end = events[-1]
    assert isinstance(end, RunFinished)
    assert (end.status, end.reason.kind) == ("interrupted", "cancelled")
    assert end.usage.model_calls == 1
    assert diagnose(events).category == "cancelled"
    with pytest.raises(UsageError, match="cancelled: not needed; a cancelled run cannot be"):
        await agent.resume(waiting.run_id, decisions={"call_1_0": approve()})
    assert ran == []
    assert await cancel_run(store, waiting.run_id) == "already_cancelled"


async def test_a_resumed_run_can_be_cancelled_too(make_store: StoreFactory) -> None:
    store = make_store()
    agent = Agent(
        ScriptedModel([ToolCall("slow", {"seconds": 60}), "done"]),
        tools=[slow],
        approval=lambda c: True,
        store=store,
    )
    waiting = await agent.run("wait")
    task = asyncio.create_task(agent.resume(waiting.run_id, decisions={"call_1_0": approve()}))
    await asyncio.sleep(0.3)
    assert await cancel_run(store, waiting.run_id, reason="enough", wait=5) == "cancelled"
    result = await task
    assert (result.status, result.reason.kind) == ("interrupted", "cancelled")


async def test_a_finished_run_cannot_be_cancelled(make_store: StoreFactory) -> None:
    store = make_store()
    done = await Agent(ScriptedModel(["hi"]), store=store).run("x")
    with pytest.raises(UsageError, match="has already finished \\(completed"):
        await cancel_run(store, done.run_id)
    assert await store.cancel_requested(done.run_id) is None  # nothing was recorded


async def test_an_unknown_run_is_an_error(make_store: StoreFactory) -> None:
    store = make_store()
    with pytest.raises(JournalError, match="no run 'nope'"):
        await cancel_run(store, "nope")


async def test_a_task_cancelled_in_its_own_process_still_raises(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    task = asyncio.create_task(slow_agent(store).run("wait"))
    run_id = await _only_run(store)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    last = (await store.load(run_id))[-1]
    assert isinstance(last, RunFinished)
    assert (last.reason.kind, last.reason.detail) == ("cancelled", None)
    await store.close()


# --- the command line ----------------------------------------------------------------


def test_cancel_on_the_command_line_refuses_finished_and_unknown_runs(tmp_path: Path) -> None:
    journal = str(tmp_path / "j.db")
    done = runner.invoke(app, ["run", "What is 6*7?", "--model", "demo", "--store", journal])
    assert done.exit_code == 0
    [row] = [
        json.loads(line)
        for line in runner.invoke(app, ["runs", "--store", journal, "--json"]).stdout.splitlines()
    ]
    finished = runner.invoke(app, ["cancel", row["run_id"], "--store", journal])
    assert finished.exit_code == 1
    assert "has already finished (completed" in finished.stderr
    assert "Traceback" not in finished.output
    unknown = runner.invoke(app, ["cancel", "nope", "--store", journal])
    assert unknown.exit_code == 1
    assert f"no run 'nope' in the journal {journal}" in unknown.stderr


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "j.db")
        return
    why = _postgres_reachable()
    if why is not None:
        pytest.skip(f"PostgreSQL tests need a server: {why}")
    schema = f"cancel_{uuid.uuid4().hex[:8]}"
    yield f"{PG_DSN}?tether_schema={schema}"
    asyncio.run(PostgresStore(PG_DSN, schema=schema).drop())


@pytest.mark.slow
def test_tether_cancel_stops_a_run_in_another_process(store_url: str, tmp_path: Path) -> None:
    (tmp_path / "slowpoke.py").write_text(textwrap.dedent(SLOW_AGENT))
    entered = tmp_path / "entered"
    env = {**os.environ, "SLOW_ENTERED": str(entered), "PYTHONPATH": str(tmp_path)}
    base = ["--store", store_url]
    running = tether_cli(
        ["run", "wait", "--agent", "slowpoke:agent", *base, "--json"], tmp_path, env
    )
    try:
        deadline = time.monotonic() + 30
        while not entered.exists() and running.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert entered.exists(), running.communicate()[1]
        listed = tether_cli(["runs", *base, "--json"], tmp_path, env).communicate(timeout=30)[0]
        [row] = [json.loads(line) for line in listed.splitlines()]
        assert (row["status"], row["diagnosis"]["category"]) == ("running", "running")
        asked = time.monotonic()
        cancel = tether_cli(
            ["cancel", row["run_id"], "--reason", "operator stop", *base], tmp_path, env
        )
        out, err = cancel.communicate(timeout=30)
        assert cancel.returncode == 0, err
        assert f"run {row['run_id']} cancelled" in out
        out, err = running.communicate(timeout=30)
        assert time.monotonic() - asked < 10
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()
    assert running.returncode == 1, err
    assert "Traceback" not in err, err
    result = json.loads(out)
    assert (result["status"], result["reason"]["kind"]) == ("interrupted", "cancelled")
    assert "operator stop" in result["reason"]["message"]

    async def journal_says() -> None:
        from tether.journal import open_store

        store = open_store(store_url)
        try:
            events = await store.load(row["run_id"])
            assert diagnose(events).category == "cancelled"
            assert await _lease_is_free(store, row["run_id"])
        finally:
            await store.close()

    asyncio.run(journal_says())
    again = tether_cli(["cancel", row["run_id"], *base], tmp_path, env)
    out, err = again.communicate(timeout=30)
    assert again.returncode == 0, err
    assert "already cancelled" in out
    resumed = tether_cli(
        ["resume", row["run_id"], "--agent", "slowpoke:agent", *base], tmp_path, env
    )
    _out, err = resumed.communicate(timeout=30)
    assert resumed.returncode == 2
    assert "was cancelled: operator stop" in err


# --- journals made before cancel requests ----------------------------------------------


async def _old_events() -> list[object]:
    """A run that called a tool and then failed (the script ran out)."""
    result = await Agent(ScriptedModel([ToolCall("echo", {"x": 1})]), tools=[echo]).run("x")
    return list(result.events)


def _version_1_sqlite(path: Path, events: list[object]) -> str:
    """A journal as tether wrote it before schema version 2, built by hand."""
    from tether.journal._sqlite import _MIGRATIONS

    records, _ = encode(events)  # type: ignore[arg-type]
    first = events[0]
    conn = sqlite3.connect(path)
    conn.executescript(_MIGRATIONS[0] + "PRAGMA user_version = 1;")
    conn.execute(
        "INSERT INTO runs (run_id, agent, status, prompt, created_at, updated_at, events) "
        "VALUES (?, 'old', 'running', 'x', ?, ?, ?)",
        (first.run_id, first.at, first.at, len(records)),  # type: ignore[attr-defined]
    )
    conn.executemany(
        "INSERT INTO events VALUES (?, ?, ?, ?)",
        [(first.run_id, r.seq, r.type, r.data) for r in records],  # type: ignore[attr-defined]
    )
    conn.commit()
    conn.close()
    return str(first.run_id)  # type: ignore[attr-defined]


async def test_a_version_1_sqlite_journal_is_migrated_and_a_dead_run_in_it_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tether.run._cancel._LIVE_GRACE", 0.0)  # the run's process is gone
    path = tmp_path / "old.db"
    events = await _old_events()
    run_id = _version_1_sqlite(path, events[:-2])  # cut off after the tool call, as by a crash
    read_only = SQLiteStore(path, read_only=True)  # read as it is, without migrating
    assert await read_only.cancel_requested(run_id) is None
    assert len(await read_only.load(run_id)) == len(events) - 2
    assert (await read_only.load_session("chat")).turns == []  # no sessions table yet
    await read_only.close()
    store = SQLiteStore(path)
    try:
        # Migrated to the current version: cancel columns (2), then sessions (3).
        assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (3,)
        await store.append_session("chat", run_id, [UserMessage("hi")])
        assert await store.session_history("chat") == [UserMessage("hi")]
        assert await store.cancel_requested(run_id) is None
        assert await cancel_run(store, run_id, reason="old") == "cancelled"
        end = (await store.load(run_id))[-1]
        assert isinstance(end, RunFinished)
        assert (end.status, end.reason.kind, end.usage.tool_calls) == (
            "interrupted",
            "cancelled",
            1,
        )
    finally:
        await store.close()


async def test_a_version_1_postgres_schema_is_migrated(tmp_path: Path) -> None:
    why = _postgres_reachable()
    if why is not None:
        pytest.skip(f"PostgreSQL tests need a server: {why}")
    import psycopg

    from tether.journal._postgres import _MIGRATIONS

    schema = f"old_{uuid.uuid4().hex[:8]}"
    events = await _old_events()
    records, _ = encode(events)  # type: ignore[arg-type]
    first = events[0]
    async with await psycopg.AsyncConnection.connect(PG_DSN, autocommit=True) as conn:
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(f"SET search_path = {schema}")
        await conn.execute(_MIGRATIONS[0])
        await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        await conn.execute("INSERT INTO schema_version VALUES (1)")
        await conn.execute(
            "INSERT INTO runs (run_id, agent, status, prompt, created_at, updated_at, events) "
            "VALUES (%s, 'old', 'completed', 'x', %s, %s, %s)",
            (first.run_id, first.at, first.at, len(records)),  # type: ignore[attr-defined]
        )
        for r in records:
            await conn.execute(
                "INSERT INTO events VALUES (%s, %s, %s, %s)",
                (first.run_id, r.seq, r.type, r.data),  # type: ignore[attr-defined]
            )
    store = PostgresStore(PG_DSN, schema=schema)
    try:
        assert len(await store.load(first.run_id)) == len(events)  # type: ignore[attr-defined]
        assert await store.cancel_requested(first.run_id) is None  # type: ignore[attr-defined]
        async with await psycopg.AsyncConnection.connect(PG_DSN) as conn:
            cur = await conn.execute(f"SELECT version FROM {schema}.schema_version")
            assert await cur.fetchone() == (3,)  # cancel columns (2), then sessions (3)
        run_id = first.run_id  # type: ignore[attr-defined]
        await store.append_session("chat", run_id, [UserMessage("hi")])
        assert await store.session_history("chat") == [UserMessage("hi")]
    finally:
        await store.drop()
        await store.close()
