"""The journal keeps user data exactly, never drops or overwrites an event, and prunes
only what is safe to prune (both stores)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import PG_DSN, _postgres_reachable
from tether import (
    Agent,
    ConfigError,
    JournalError,
    RunLocked,
    RunStarted,
    ToolCall,
    ToolCallStarted,
    dump_event,
)
from tether.journal import JournalConflict, JournalStore, PostgresStore, SQLiteStore
from tether.testing import ScriptedModel

StoreFactory = Callable[[], JournalStore]

_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)  # surrogates too
_json: Any = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            _text | st.sampled_from(["$blob", "$esc", "$ref", "$"]), inner, max_size=4
        )
    ),
    max_leaves=12,
)


def _started(run_id: str, seq: int = 0, prompt: str = "q") -> RunStarted:
    return RunStarted(run_id=run_id, seq=seq, at=time.time(), agent="a", prompt=prompt, model="m")


def _call(run_id: str, seq: int, arguments: Any) -> ToolCallStarted:
    return ToolCallStarted(
        run_id=run_id,
        seq=seq,
        at=1.0,
        step=1,
        call=ToolCall("t", arguments, "c1"),
        idempotency_key="k",
    )


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=_json, big=st.booleans())
def test_any_json_value_round_trips_through_the_sqlite_journal(
    tmp_path_factory: pytest.TempPathFactory, value: Any, big: bool
) -> None:
    store = SQLiteStore(tmp_path_factory.mktemp("j") / "j.db")
    args = {"v": value, "long": "\udc80" + "x" * 5000} if big else {"v": value}
    _round_trip(store, args)


def _round_trip(store: JournalStore, args: dict[str, Any], run: str = "r") -> None:
    async def go() -> None:
        try:
            await store.append(run, [_started(run, prompt="p\udcff"), _call(run, 1, args)])
            events = await store.load(run)
            assert isinstance(events[1], ToolCallStarted)
            assert events[1].call.arguments == args
            assert events[0].prompt == "p\udcff"  # type: ignore[union-attr]
            assert (await store.check()).ok
        finally:
            await store.close()

    asyncio.run(go())


async def test_values_that_look_like_markers_round_trip(make_store: StoreFactory) -> None:
    store = make_store()
    tricky = [
        {"$blob": "cafe"},
        {"$esc": {"$blob": "x"}},
        {"$blob": "0" * 64, "other": 1},
        ["\ud800", {"$": None}],
        "y" * 10_000,
        {"$blob": {"nested": "z" * 6000}},
    ]
    events = [_started("m")] + [_call("m", i + 1, {"v": v}) for i, v in enumerate(tricky)]
    await store.append("m", events)
    # A second run with a string whose blob digest another run's value names.
    await store.append("n", [_started("n"), _call("n", 1, {"v": "y" * 10_000})])
    loaded = await store.load("m")
    assert [e.call.arguments["v"] for e in loaded[1:]] == tricky  # type: ignore[union-attr]
    assert (await store.check()).ok


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    why = _postgres_reachable()
    if why is not None:
        pytest.skip(f"PostgreSQL tests need a server: {why}")
    schema = f"prop_{uuid.uuid4().hex[:10]}"
    yield schema
    store = PostgresStore(PG_DSN, schema=schema)
    asyncio.run(store.drop())


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=_json, big=st.booleans())
def test_any_json_value_round_trips_through_the_postgres_journal(
    pg_schema: str, value: Any, big: bool
) -> None:
    store = PostgresStore(PG_DSN, schema=pg_schema, max_size=1)
    args = {"v": value, "long": "\udc80" + "x" * 5000} if big else {"v": value}
    _round_trip(store, args, f"r{uuid.uuid4().hex[:8]}")


async def test_the_same_event_twice_is_a_no_op(make_store: StoreFactory) -> None:
    store = make_store()
    events = [_started("r"), _call("r", 1, {"a": 1})]
    await store.append("r", events)
    await store.append("r", events)
    assert len(await store.load("r")) == 2
    assert (await store.list_runs())[0].events == 2


async def test_another_event_at_a_taken_place_fails_loudly_and_writes_nothing(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    await store.append("r", [_started("r"), _call("r", 1, {"a": 1})])
    with pytest.raises(JournalConflict, match="sequence number 1"):
        await store.append("r", [_call("r", 1, {"a": 2}), _call("r", 2, {"a": 3})])
    loaded = await store.load("r")
    assert len(loaded) == 2
    assert loaded[1].call.arguments == {"a": 1}  # type: ignore[union-attr]


async def test_only_the_lease_holder_writes(make_store: StoreFactory) -> None:
    store = make_store()
    await store.append("r", [_started("r")])
    assert await store.acquire_lease("r", "me", 30)
    await store.append("r", [_call("r", 1, {})], owner="me")
    with pytest.raises(RunLocked):
        await store.append("r", [_call("r", 2, {})], owner="someone else")
    assert len(await store.load("r")) == 2


async def test_prune_refuses_negative_arguments(make_store: StoreFactory) -> None:
    store = make_store()
    await store.append("r", [_started("r")])
    with pytest.raises(ConfigError):
        await store.prune(keep_last=-5)
    with pytest.raises(ConfigError):
        await store.prune(older_than=-1)
    assert len(await store.list_runs()) == 1


async def test_prune_never_deletes_a_live_run(make_store: StoreFactory) -> None:
    store = make_store()
    old = time.time() - 3600
    await store.append(
        "done", [RunStarted(run_id="done", seq=0, at=old, agent="a", prompt="", model="m")]
    )
    await store.append("live", [_started("live")])
    assert await store.acquire_lease("live", "me", 30)
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(x: int) -> int:
        """A tool that waits."""
        started.set()
        await release.wait()
        return x

    agent = Agent(ScriptedModel([ToolCall("slow", {"x": 1}), "ok"]), tools=[slow], store=store)
    task = asyncio.create_task(agent.run("q"))
    await started.wait()
    assert await store.prune(older_than=0) == 1  # only the finished, old run
    release.set()
    result = await task
    assert result.status == "completed"
    assert {r.run_id for r in await store.list_runs()} == {"live", result.run_id}
    assert (await store.check()).ok


async def test_the_journal_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "private" / "j.db"
    store = SQLiteStore(path)
    await store.append("r", [_started("r")])
    await store.close()
    for f in [path, *path.parent.glob("j.db-*")]:
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_a_foreign_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other-app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE runs (id INTEGER)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(JournalError, match="another program"):
        SQLiteStore(path)
    assert path.read_bytes() == before
    assert not Path(f"{path}-wal").exists()


@pytest.mark.parametrize(
    "content",
    [b"", b"SQLite format 3\x00" + b"\x01" * 50, os.urandom(4096)],
    ids=["empty", "truncated", "random"],
)
def test_a_damaged_or_random_file_is_a_journal_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "j.db"
    path.write_bytes(content)
    if not content:  # an empty file is a new journal
        SQLiteStore(path)
        return
    with pytest.raises(JournalError, match="cannot open the journal"):
        SQLiteStore(path)


def test_a_folder_is_not_a_journal(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="is a folder"):
        SQLiteStore(tmp_path)


def test_a_journal_opened_read_only_is_listed_and_never_written(tmp_path: Path) -> None:
    path = tmp_path / "j.db"

    async def write() -> None:
        store = SQLiteStore(path)
        await store.append("r", [_started("r")])
        await store.close()

    asyncio.run(write())
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    before = path.read_bytes()

    async def read() -> None:
        ro = SQLiteStore(path, read_only=True)
        assert [r.run_id for r in await ro.list_runs()] == ["r"]
        with pytest.raises(JournalError, match="read-only"):
            await ro.append("r", [_call("r", 1, {})])
        await ro.close()

    asyncio.run(read())
    assert path.read_bytes() == before


async def test_check_finds_orphaned_events(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    store = SQLiteStore(path)
    await store.append("r", [_started("r"), _call("r", 1, {"big": "x" * 9000})])
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM runs")
    conn.execute("DELETE FROM blobs")
    conn.commit()
    conn.close()
    found = await store.check()
    assert (found.orphan_runs, len(found.missing_blobs), found.ok) == (["r"], 1, False)
    await store.close()


_OPEN_ROUNDS = int(os.environ.get("TETHER_OPEN_ROUNDS", "12"))
_OPENER = """
import sys, time
from tether.journal import SQLiteStore
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
try:
    SQLiteStore(sys.argv[1])
    print("ok")
except Exception as exc:
    print(type(exc).__name__, exc)
"""


@pytest.mark.parametrize("from_version", [0, 1])
def test_processes_opening_a_new_or_older_journal_at_once_all_get_it(
    tmp_path: Path, from_version: int
) -> None:
    # Each opener migrates under the write lock after reading the version again, so
    # the one that waited finds the work done instead of "table runs already exists".
    import subprocess
    import sys

    from tether.journal._sqlite import _MIGRATIONS, SCHEMA_VERSION

    for i in range(_OPEN_ROUNDS):
        path = tmp_path / f"j{i}.db"
        if from_version:
            with sqlite3.connect(path) as conn:
                conn.executescript(_MIGRATIONS[0] + f"PRAGMA user_version = {from_version};")
        start = time.time() + 1.0  # after every process has imported tether
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _OPENER, str(path), str(start)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        said = [p.communicate(timeout=60)[0].strip() for p in procs]
        assert said == ["ok"] * 3, said
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def _damage(store: JournalStore, run_id: str, seq: int, data: str) -> None:
    """Overwrite one stored record's JSON text, as a bad disk or a hand edit would."""
    if isinstance(store, SQLiteStore):
        conn = sqlite3.connect(store.path)
        conn.execute("UPDATE events SET data = ? WHERE run_id = ? AND seq = ?", (data, run_id, seq))
        conn.commit()
        conn.close()
        return
    import psycopg

    assert isinstance(store, PostgresStore)
    async with await psycopg.AsyncConnection.connect(store.dsn) as pg:
        await pg.execute(
            f"UPDATE {store.schema}.events SET data = %s WHERE run_id = %s AND seq = %s",
            (data, run_id, seq),
        )
        await pg.commit()


async def _two_runs(store: JournalStore) -> tuple[str, str]:
    agent = Agent(ScriptedModel(["fine", "fine"]), store=store)
    good = (await agent.run("a")).run_id
    bad = (await agent.run("b")).run_id
    return good, bad


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda d: d.replace('"model_responded"', '"model_exploded"'), "unknown type"),
        (lambda d: d[:20], "not valid JSON"),
        (lambda d: d.replace('"step":1', '"step":"one"'), "step: Input should be"),
        (lambda d: d.replace(',"v":5', ""), "no schema version"),
        (lambda d: '["$blob"', "not valid JSON"),  # a blob marker in broken JSON
    ],
)
async def test_a_damaged_record_is_a_journal_error_that_names_it(
    make_store: StoreFactory, damage: Callable[[str], str], problem: str
) -> None:
    store = make_store()
    good, bad = await _two_runs(store)
    [record] = [e for e in await store.load(bad) if e.type == "model_responded"]
    await _damage(store, bad, record.seq, damage(_stored(record)))
    with pytest.raises(JournalError) as caught:
        await store.load(bad)
    message = str(caught.value)
    assert f"event {record.seq} (model_responded) of run {bad} cannot be read" in message
    assert problem in message
    assert "`tether doctor` lists every unreadable record" in message
    assert [e.type for e in await store.load(good)][-1] == "run_finished"  # others still read


def _stored(event: Any) -> str:
    return json.dumps(dump_event(event), separators=(",", ":"))


async def test_a_damaged_journal_is_read_past_and_its_bad_records_listed(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    good, bad = await _two_runs(store)
    events = await store.load(bad)
    [record] = [e for e in events if e.type == "model_responded"]
    await _damage(store, bad, record.seq, _stored(record).replace("model_responded", "nope"))
    readable, unreadable = await store.load_readable(bad)
    assert [e.seq for e in readable] == [e.seq for e in events if e.seq != record.seq]
    [found] = unreadable
    assert (found.run_id, found.seq, found.type) == (bad, record.seq, "model_responded")
    assert "unknown type 'nope'" in found.problem
    assert await store.load_readable(good) == (await store.load(good), [])
    assert await store.unreadable_records() == [found]
    with pytest.raises(JournalError, match="cannot be read"):  # load still refuses it
        await store.load(bad)
