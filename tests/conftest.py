"""Test settings: model requests over the network are blocked unless a test opts in."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from phoenix_server import PhoenixServer, PhoenixUnavailable, ensure_venv, phoenix_server
from tether import models
from tether.journal import JournalStore, PostgresStore, SQLiteStore
from tether.memory import HashEmbedder, MemoryStore, PostgresMemoryStore, SQLiteMemoryStore


@pytest.fixture(autouse=True)
def _block_model_requests(request: pytest.FixtureRequest) -> Iterator[None]:
    allow = request.node.get_closest_marker("allow_model_requests") is not None
    with models.allow_model_requests(allow):
        yield


# Runs the tests make through the CLI go to a journal of their own, not the user's.
os.environ["TETHER_DB"] = str(Path(tempfile.mkdtemp(prefix="tether-tests-")) / "journal.db")

PG_DSN = os.environ.get("TETHER_TEST_PG", "postgresql://127.0.0.1:5432/test")


def _postgres_reachable() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'tether[postgres]')"
    try:
        psycopg.connect(PG_DSN, connect_timeout=3).close()
    except Exception as exc:
        return f"no PostgreSQL at {PG_DSN}: {exc}"
    return None


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def make_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[], JournalStore]]:
    """A factory of fresh, empty journal stores, on SQLite and on PostgreSQL."""
    made: list[JournalStore] = []
    if request.param == "postgres":
        why = _postgres_reachable()
        if why is not None:
            pytest.skip(f"PostgreSQL tests need a server: {why}")

    def factory() -> JournalStore:
        store: JournalStore
        if request.param == "sqlite":
            store = SQLiteStore(tmp_path / f"journal{len(made)}.db")
        else:
            store = PostgresStore(PG_DSN, schema=f"t_{uuid.uuid4().hex[:12]}")
        made.append(store)
        return store

    yield factory
    for store in made:
        if isinstance(store, PostgresStore):
            await store.drop()
        await store.close()


@pytest.fixture(scope="session")
def phoenix() -> Iterator[PhoenixServer]:
    """A real Arize Phoenix, its OTLP/HTTP endpoint and span reader (see phoenix_server.py).

    Its venv is built on first use; where that cannot be done (no PyPI), the tests
    that use it fail in CI and skip elsewhere, saying why.
    """
    try:
        ensure_venv()
    except PhoenixUnavailable as exc:
        why = f"Phoenix's venv could not be built: {exc}"
        if os.environ.get("CI"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    with phoenix_server() as server:
        yield server


MakeStore = Callable[..., MemoryStore]


async def _drop_schema(schema: str) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(PG_DSN, autocommit=True) as conn:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def make_memory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeStore]:
    """A factory of memory stores over one fresh database (SQLite file or PG schema)."""
    made: list[MemoryStore] = []
    schema = f"m_{uuid.uuid4().hex[:12]}"
    if request.param == "postgres" and (why := _postgres_reachable()):
        pytest.skip(f"PostgreSQL tests need a server: {why}")

    def factory(**kw: Any) -> MemoryStore:
        kw.setdefault("embedder", HashEmbedder())
        store: MemoryStore
        if request.param == "sqlite":
            store = SQLiteMemoryStore(tmp_path / "memory.db", **kw)
        else:
            store = PostgresMemoryStore(PG_DSN, schema=schema, **kw)
        made.append(store)
        return store

    yield factory
    for store in made:
        await store.close()
    if request.param == "postgres":
        await _drop_schema(schema)
