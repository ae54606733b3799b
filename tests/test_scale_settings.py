"""The settings and arguments of tether.scale: a value of the wrong kind (a bool as a
count, a str, None, NaN, an infinity, a negative number) is a ConfigError that names
the setting, the value and what to write; a refused submit journals nothing, and a run
the database refuses to queue does not stay "running"."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from conftest import PG_DSN, _postgres_reachable

pytest.importorskip("dbos")

from tether import Agent, ConfigError
from tether.journal import PostgresStore
from tether.scale import RunHandle, WorkerSettings, close, serve, submit
from tether.testing import FunctionModel

NAN = float("nan")
INF = float("inf")


def _agent(name: str = "scaled", store: Any = None) -> Agent[Any, Any]:
    return Agent(FunctionModel(lambda messages, params: "done"), name=name, store=store)


# --- WorkerSettings ----------------------------------------------------------------

BAD_SETTINGS = [
    ("concurrency", True),
    ("concurrency", False),
    ("concurrency", 0),
    ("concurrency", -2),
    ("concurrency", 2.5),
    ("concurrency", "4"),
    ("concurrency", None),
    ("global_concurrency", True),
    ("global_concurrency", 2.5),
    ("global_concurrency", "3"),
    ("global_concurrency", 0),
    ("queue", 5),
    ("queue", "bad name!"),
    ("queue", ""),
    ("queue", "q" * 101),
    ("queue", b"tether.x"),
    ("heartbeat_every", None),
    ("heartbeat_every", "2"),
    ("heartbeat_every", NAN),
    ("heartbeat_every", INF),
    ("heartbeat_every", 0),
    ("heartbeat_every", -1),
    ("heartbeat_every", True),
    ("heartbeat_timeout", None),
    ("heartbeat_timeout", NAN),
    ("heartbeat_timeout", INF),
    ("heartbeat_timeout", True),
    ("heartbeat_timeout", "10"),
    ("poll_every", None),
    ("poll_every", "0.1"),
    ("poll_every", NAN),
    ("poll_every", INF),
    ("poll_every", 0),
    ("poll_every", -0.1),
    ("poll_every", True),
    ("poll_every", 1e12),
]


@pytest.mark.parametrize(("setting", "value"), BAD_SETTINGS, ids=lambda v: repr(v)[:20])
def test_worker_settings_refuse_a_bad_value_naming_it_and_what_to_write(
    setting: str, value: object
) -> None:
    with pytest.raises(ConfigError) as info:
        WorkerSettings(**{setting: value})
    message = str(info.value)
    assert message.startswith(setting), message
    assert f"got {value!r}" in message, message
    assert f"e.g. {setting}=" in message, message  # what to write


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"concurrency": 4, "global_concurrency": 2}, ["global_concurrency=4", "concurrency=2"]),
        ({"heartbeat_every": 10, "heartbeat_timeout": 10}, ["heartbeat_every=2.5"]),
        ({"heartbeat_every": 12}, ["heartbeat_every=2.5"]),
    ],
    ids=["global-below-worker", "beat-as-long-as-timeout", "beat-above-timeout"],
)
def test_worker_settings_refuse_settings_that_contradict_each_other(
    settings: dict[str, Any], names: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        WorkerSettings(**settings)
    for name in names:
        assert name in str(info.value)


def test_worker_settings_take_whole_numbers_as_seconds_and_none_where_documented() -> None:
    s = WorkerSettings(
        concurrency=1,
        global_concurrency=1,
        queue="tether.a:b-c_d",
        heartbeat_every=1,
        heartbeat_timeout=3,
        poll_every=2,
    )
    assert (s.concurrency, s.global_concurrency, s.poll_every) == (1, 1, 2)
    default = WorkerSettings()
    assert (default.global_concurrency, default.queue) == (None, None)


# --- serve() -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"settings": {"concurrency": 2}}, "settings is a tether.scale.WorkerSettings"),
        ({"settings": {}}, "settings is a tether.scale.WorkerSettings"),
        ({"stop": threading.Event()}, "stop is an asyncio.Event"),
        ({"ready": "worker-1"}, "ready is a callable"),
    ],
    ids=["settings-dict", "settings-empty-dict", "stop-threading-event", "ready-str"],
)
async def test_serve_refuses_arguments_of_the_wrong_kind(
    kwargs: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        await serve(_agent(), **kwargs)


async def test_serve_refuses_what_is_not_an_agent() -> None:
    with pytest.raises(ConfigError, match=r"serve takes a tether\.Agent"):
        await serve("module:agent")  # type: ignore[arg-type]


# --- submit() and RunHandle without a database -------------------------------------


async def test_submit_refuses_what_is_not_an_agent() -> None:
    with pytest.raises(ConfigError, match=r"submit takes a tether\.Agent"):
        await submit("module:agent", "hello")  # type: ignore[arg-type]


async def test_submit_says_the_queues_database_cannot_be_reached_before_journaling() -> None:
    store = PostgresStore("postgresql://127.0.0.1:1/nowhere", schema="nowhere")
    with pytest.raises(ConfigError, match="cannot reach the database of the run queues"):
        await submit(_agent(store=store), "hello")
    await store.close()


@pytest.mark.parametrize("run_id", [5, "", None, b"01a2"], ids=["int", "empty", "none", "bytes"])
def test_run_handle_refuses_a_run_id_that_is_not_one(run_id: object) -> None:
    with pytest.raises(ConfigError, match=f"run_id is a submitted run's id.*got {run_id!r}"):
        RunHandle(run_id, _agent())  # type: ignore[arg-type]


def test_run_handle_refuses_an_agent_that_is_not_one() -> None:
    with pytest.raises(ConfigError, match=r"agent is the tether\.Agent whose run it is, got str"):
        RunHandle("01a2", "scaled")  # type: ignore[arg-type]


@pytest.mark.parametrize("poll", [0, -1, NAN, INF, True, "0.2", None], ids=repr)
async def test_run_handle_result_refuses_a_poll_that_is_not_seconds(poll: object) -> None:
    handle = RunHandle("01a2", _agent())
    with pytest.raises(ConfigError) as info:
        await handle.result(poll=poll)  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith("poll is the seconds"), message
    assert "e.g. poll=0.2" in message
    assert f"got {poll!r}" in message or (isinstance(poll, float) and math.isnan(poll))


async def test_run_handle_of_an_agent_without_a_store_says_which_store_to_give() -> None:
    handle = RunHandle("01a2", _agent())
    with pytest.raises(ConfigError, match="has no journal store to read run 01a2 from"):
        await handle.status()


# --- on PostgreSQL: a refused submit journals nothing ------------------------------


async def _drop(schema: str) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(PG_DSN, autocommit=True) as conn:
        for s in (schema, f"{schema}_dbos"):
            await conn.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")


@pytest_asyncio.fixture
async def pg_store() -> AsyncIterator[PostgresStore]:
    """A journal in a fresh schema of the test database (its DBOS schema beside it, as
    in test_scale.py), both dropped afterwards."""
    why = _postgres_reachable()
    if why is not None:
        pytest.skip(f"the scale-out tests need PostgreSQL: {why}")
    store = PostgresStore(PG_DSN, schema=f"scale_{uuid.uuid4().hex[:10]}")
    try:
        yield store
    finally:
        close()  # the DBOS clients of this schema
        await store.close()
        await _drop(store.schema)


def _make_dbos_tables(store: PostgresStore) -> None:
    """DBOS's tables beside the journal, as the first worker makes them."""
    dbos = Path(sys.executable).parent / "dbos"
    if not dbos.exists():
        pytest.skip("the dbos command is not installed beside this Python")
    done = subprocess.run(
        [str(dbos), "migrate", "-s", PG_DSN, "--schema", f"{store.schema}_dbos"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DBOS__CLOUD": ""},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


REFUSED = [
    ("my agent", "hello", {}, r"give the agent a name .* queue='tether\.my_agent'"),
    ("scaled", "hello", {"queue": "bad name!"}, r"queue is a queue's name.*got 'bad name!'"),
    ("scaled", "hello", {"queue": 5}, r"queue is a queue's name.*got 5"),
    ("scaled", "hello", {"queue": ""}, r"queue is a queue's name.*got ''"),
    ("scaled", 5, {}, "the prompt is a str"),
    ("scaled", None, {}, "the prompt is a str"),
    ("scaled", "hello", {}, "no worker has started on this database yet"),
]


@pytest.mark.parametrize(
    ("name", "prompt", "kwargs", "said"),
    REFUSED,
    ids=[
        "agent-name-no-queue",
        "queue-bad-name",
        "queue-int",
        "queue-empty",
        "prompt-int",
        "prompt-none",
        "no-dbos-tables-yet",
    ],
)
async def test_a_refused_submit_leaves_no_run_in_the_journal(
    pg_store: PostgresStore, name: str, prompt: object, kwargs: dict[str, Any], said: str
) -> None:
    agent = _agent(name, pg_store)
    with pytest.raises(ConfigError, match=said):
        await agent.submit(prompt, **kwargs)  # type: ignore[arg-type]
    assert await pg_store.list_runs(limit=1000) == []


async def test_serve_refuses_an_agent_name_that_makes_no_queue_before_touching_the_database(
    pg_store: PostgresStore,
) -> None:
    import psycopg

    with pytest.raises(ConfigError, match=r"WorkerSettings\(queue='tether\.my_agent'\)"):
        await serve(_agent("my agent", pg_store), stop=asyncio.Event())
    async with await psycopg.AsyncConnection.connect(PG_DSN) as conn:
        cur = await conn.execute("SELECT to_regclass(%s)", (f"{pg_store.schema}.runs",))
        assert (await cur.fetchone()) == (None,)  # the journal's schema was not made


@pytest.mark.slow
async def test_a_run_the_database_refuses_to_queue_is_journaled_failed_not_running(
    pg_store: PostgresStore,
) -> None:
    import psycopg

    await asyncio.to_thread(_make_dbos_tables, pg_store)
    dbos = f"{pg_store.schema}_dbos"
    async with await psycopg.AsyncConnection.connect(PG_DSN, autocommit=True) as conn:
        await conn.execute(
            f"CREATE FUNCTION {dbos}.refuse() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RAISE EXCEPTION 'this database takes no new workflows'; END $$"
        )
        await conn.execute(
            f"CREATE TRIGGER refuse BEFORE INSERT ON {dbos}.workflow_status "
            f"FOR EACH ROW EXECUTE FUNCTION {dbos}.refuse()"
        )
    agent = _agent("scaled", pg_store)
    with pytest.raises(ConfigError, match=r"could not be queued.*takes no new workflows") as info:
        await agent.submit("hello")
    assert "journaled as failed" in str(info.value)
    [run] = await pg_store.list_runs(limit=1000)
    assert run.status == "failed"
    assert run.run_id in str(info.value)
    handle = RunHandle(run.run_id, agent)
    assert await handle.status() == "failed"
    async with asyncio.timeout(10):
        result = await handle.result()
    assert (result.status, result.reason.kind) == ("failed", "internal_error")


@pytest.mark.slow
async def test_a_submit_is_journaled_and_queued_once_a_worker_made_the_dbos_tables(
    pg_store: PostgresStore,
) -> None:
    await asyncio.to_thread(_make_dbos_tables, pg_store)
    handle = await _agent("scaled", pg_store).submit("hello")
    assert await handle.status() == "queued"
    [run] = await pg_store.list_runs(limit=1000)
    assert (run.run_id, run.status) == (handle.run_id, "running")
