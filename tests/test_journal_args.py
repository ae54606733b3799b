"""The journal stores take the same arguments and list the same text: a bad count, age
or time is a ConfigError before anything is read or deleted, a count beyond the stores'
range means every run, and a run's listed text is the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import PG_DSN, _postgres_reachable
from tether import ConfigError, RunStarted
from tether.cli import app
from tether.journal import JournalStore, PostgresStore, SQLiteStore, open_store

StoreFactory = Callable[[], JournalStore]

runner = CliRunner()


def _started(run_id: str, *, agent: str = "a", prompt: str = "q", at: float = 0.0) -> RunStarted:
    return RunStarted(
        run_id=run_id, seq=0, at=at or time.time(), agent=agent, prompt=prompt, model="m"
    )


async def _three_old_runs(store: JournalStore) -> None:
    """Three finished runs, an hour old (prune may take them)."""
    old = time.time() - 3600
    for i in range(3):
        await store.append(f"r{i}", [_started(f"r{i}", at=old + i)])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"keep_last": True},
        {"keep_last": 1.5},
        {"keep_last": 2.0},
        {"keep_last": "2"},
        {"older_than": "5"},
        {"older_than": True},
        {"older_than": math.inf},
        pytest.param({"older_than": 10**400}, id="older_than=10**400"),
    ],
    ids=repr,
)
async def test_prune_refuses_what_is_not_a_count_or_an_age_and_deletes_nothing(
    make_store: StoreFactory, kwargs: dict[str, Any]
) -> None:
    store = make_store()
    await _three_old_runs(store)
    with pytest.raises(ConfigError, match=r"keep_last is a whole number|older_than is an age"):
        await store.prune(**kwargs)
    assert len(await store.list_runs()) == 3


@pytest.mark.parametrize("count", [2**63, 10**30], ids=["2**63", "10**30"])
async def test_a_count_beyond_the_stores_range_keeps_and_lists_every_run(
    make_store: StoreFactory, count: int
) -> None:
    store = make_store()
    await _three_old_runs(store)
    assert await store.prune(keep_last=count) == 0
    assert [r.run_id for r in await store.list_runs(limit=count)] == ["r2", "r1", "r0"]
    assert await store.prune(keep_last=1) == 2  # a count in range still prunes


@pytest.mark.parametrize("which", ["since", "until"])
@pytest.mark.parametrize(
    "value",
    ["yesterday", math.nan, math.inf, -math.inf, True, pytest.param(10**400, id="10**400")],
)
async def test_list_runs_refuses_a_time_that_is_not_a_finite_number(
    make_store: StoreFactory, which: str, value: Any
) -> None:
    store = make_store()
    await _three_old_runs(store)
    with pytest.raises(ValueError, match=f"{which} is a time in epoch seconds"):
        await store.list_runs(**{which: value})


async def test_list_runs_refuses_a_status_or_agent_that_is_not_text(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    await _three_old_runs(store)
    with pytest.raises(ConfigError, match="status is a str"):
        await store.list_runs(status=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="agent is a str"):
        await store.list_runs(agent=b"a")  # type: ignore[arg-type]


async def test_nul_and_surrogates_list_the_same_on_both_stores(make_store: StoreFactory) -> None:
    store = make_store()
    agent, prompt = "a\x00b\ud800", "p \x00 \udcff {}"
    await store.append("r", [_started("r", agent=agent, prompt=prompt)])
    [info] = await store.list_runs()
    assert (info.agent, info.prompt) == ("a\ufffdb\\ud800", "p \ufffd \\udcff {}")
    assert [r.run_id for r in await store.list_runs(agent=agent)] == ["r"]
    [started] = await store.load("r")
    assert isinstance(started, RunStarted)
    assert (started.agent, started.prompt) == (agent, prompt)  # the event keeps them exactly


async def test_a_cancel_reason_with_nul_reads_the_same_on_both_stores(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    await store.append("r", [_started("r")])
    assert await store.request_cancel("r", "stop\x00now \ud800")
    assert await store.cancel_requested("r") == "stop\ufffdnow \\ud800"


async def test_a_nul_an_older_sqlite_journal_kept_lists_as_ufffd(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    store = SQLiteStore(path)
    await store.append("r", [_started("r")])
    await store.request_cancel("r", "why")
    await store.close()
    conn = sqlite3.connect(path)  # as earlier versions wrote a NUL: kept as it was
    conn.execute(
        "UPDATE runs SET prompt = 'x' || char(0) || 'y', agent = char(0), "
        "cancel_reason = 'n' || char(0)"
    )
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    try:
        [info] = await store.list_runs()
        assert (info.agent, info.prompt) == ("\ufffd", "x\ufffdy")
        assert await store.cancel_requested("r") == "n\ufffd"
    finally:
        await store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A journal for the CLI (a SQLite file or a PostgreSQL URL) holding three runs, one
    with a NUL in its prompt."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        where = str(tmp_path / "journal.db")
    else:
        why = _postgres_reachable()
        if why is not None:
            pytest.skip(f"PostgreSQL tests need a server: {why}")
        where = f"{PG_DSN}?tether_schema={schema}"

    async def fill() -> None:
        store = open_store(where)
        try:
            await _three_old_runs(store)
            await store.append("nul", [_started("nul", prompt="a\x00b", at=time.time() - 60)])
        finally:
            await store.close()

    asyncio.run(fill())
    try:
        yield where
    finally:
        if request.param == "postgres":
            asyncio.run(PostgresStore(PG_DSN, schema=schema).drop())


def test_the_cli_takes_counts_beyond_the_stores_range(target: str) -> None:
    huge = "99999999999999999999"
    listed = runner.invoke(app, ["runs", "--store", target, "--json", "--limit", huge])
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["run_id"] for r in rows] == ["nul", "r2", "r1", "r0"]
    assert rows[0]["prompt"] == "a\ufffdb"  # the same on both stores
    pruned = runner.invoke(app, ["prune", "--store", target, "--keep", huge])
    assert pruned.exit_code == 0, pruned.output
    assert "deleted 0 runs" in pruned.stdout
