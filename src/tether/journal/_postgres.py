"""The PostgreSQL journal store, for production: psycopg 3, async, with a pool.

Tables live in one schema (``tether`` by default), so several deployments or
test runs can share a database. Versioned migrations run on first use; a
database whose schema is newer than this tether is refused.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from typing import Any

from tether._errors import ConfigError, JournalError, RunLocked
from tether._events import Event

from ._store import (
    LIVE_GRACE,
    JournalCheck,
    JournalStore,
    Record,
    RunInfo,
    Session,
    Turn,
    UnreadableRecord,
    blob_refs,
    check_id,
    check_limit,
    check_prune_args,
    check_turns,
    conflict,
    decode,
    decode_turns,
    encode,
    encode_turns,
    run_filters,
    run_info,
    same_record,
    summary_text,
)

__all__ = ["PostgresStore"]


# Versioned migrations; the index + 1 is the schema version they bring the schema to.
# 1: runs, events, blobs.
# 2: runs record a person's cancel request (its reason and when it was made).
# 3: conversations (sessions) and their turns.
_MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        status TEXT NOT NULL,
        prompt TEXT NOT NULL,
        parent_run_id TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        events INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_expires DOUBLE PRECISION
    );
    CREATE INDEX runs_created ON runs (created_at);
    CREATE INDEX runs_status ON runs (status, created_at);
    CREATE TABLE events (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    CREATE TABLE blobs (
        digest TEXT PRIMARY KEY,
        data TEXT NOT NULL
    );
    """,
    """
    ALTER TABLE runs ADD COLUMN cancel_reason TEXT,
        ADD COLUMN cancel_requested_at DOUBLE PRECISION;
    """,
    """
    CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        summary TEXT,
        summarized INTEGER NOT NULL DEFAULT 0,
        turns INTEGER NOT NULL DEFAULT 0,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE session_turns (
        session_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        run_id TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (session_id, n)
    );
    CREATE INDEX session_turns_run ON session_turns (session_id, run_id);
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)
_NOW = "extract(epoch from clock_timestamp())"


class PostgresStore(JournalStore):
    """Journals in PostgreSQL.

    Args:
        dsn: a libpq connection string, e.g. ``"postgresql://user@host/db"``.
        schema: the schema holding tether's tables (created if missing).
        min_size: connections the pool keeps open.
        max_size: the most connections the pool opens.
    """

    def __init__(
        self, dsn: str, *, schema: str = "tether", min_size: int = 1, max_size: int = 8
    ) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
            raise ConfigError(f"schema name {schema!r} must be lower-case letters, digits and _")
        try:
            from psycopg_pool import AsyncConnectionPool
        except ImportError as exc:
            raise ConfigError(
                "the PostgreSQL store needs psycopg: pip install 'tether[postgres]'"
            ) from exc
        self.dsn = dsn
        self.schema = schema
        self._pool: Any = AsyncConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            open=False,
            kwargs={"autocommit": True, "options": f"-c search_path={schema}"},
        )
        self._ready = False
        self._opening: asyncio.Lock | None = None

    async def _conn(self) -> Any:
        if not self._ready:
            if self._opening is None:  # created here: the lock belongs to the running loop
                self._opening = asyncio.Lock()
            async with self._opening:  # two first uses at once open the pool once
                if not self._ready:
                    await self._open()
        return self._pool.connection()

    async def _open(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=30)
            async with self._pool.connection() as conn:
                await _migrate(conn, self.schema)
        except JournalError:
            raise
        except Exception as exc:
            raise JournalError(
                f"cannot use the PostgreSQL journal at {_redact(self.dsn)}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        self._ready = True

    async def append(
        self, run_id: str, events: Sequence[Event], *, owner: str | None = None
    ) -> None:
        """Store events in one transaction; see :meth:`JournalStore.append`."""
        if not events:
            return
        records, blobs = encode(events)
        async with await self._conn() as conn, conn.transaction():
            if owner is not None:
                cur = await conn.execute(
                    "SELECT lease_owner FROM runs WHERE run_id = %s FOR UPDATE", (run_id,)
                )
                row = await cur.fetchone()
                if row is None or row[0] != owner:
                    raise RunLocked(
                        f"run {run_id} is no longer leased to this process; another "
                        "process holds it, so nothing was written"
                    )
            for e in events:
                if e.type == "run_started":
                    await conn.execute(
                        "INSERT INTO runs (run_id, agent, status, prompt, parent_run_id, "
                        "created_at, updated_at) VALUES (%s, %s, 'running', %s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING",
                        (
                            run_id,
                            summary_text(e.agent),
                            summary_text(e.prompt),
                            e.parent_run_id,
                            e.at,
                            e.at,
                        ),
                    )
            async with conn.cursor() as cur:
                if blobs:
                    await cur.executemany(
                        "INSERT INTO blobs (digest, data) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                        list(blobs.items()),
                    )
                inserted = 0
                for r in records:
                    await cur.execute(
                        "INSERT INTO events (run_id, seq, type, data) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING",
                        (run_id, r.seq, r.type, r.data),
                    )
                    if cur.rowcount == 1:
                        inserted += 1
                        continue
                    # Already there: the same event again is a no-op, another is a conflict.
                    await cur.execute(
                        "SELECT data FROM events WHERE run_id = %s AND seq = %s", (run_id, r.seq)
                    )
                    row = await cur.fetchone()
                    if row is None or not same_record(row[0], r.data):
                        raise conflict(run_id, r.seq)
            status = next((e.status for e in reversed(events) if e.type == "run_finished"), None)
            await conn.execute(
                "UPDATE runs SET events = events + %s, updated_at = %s, "
                "status = COALESCE(%s, status) WHERE run_id = %s",
                (inserted, events[-1].at, status, run_id),
            )

    async def load(self, run_id: str) -> list[Event]:
        """A run's events in order."""
        return decode(*await self._read(run_id), run_id)

    async def load_readable(self, run_id: str) -> tuple[list[Event], list[UnreadableRecord]]:
        """See :meth:`JournalStore.load_readable`."""
        skipped: list[UnreadableRecord] = []
        return decode(*await self._read(run_id), run_id, skipped), skipped

    async def _read(self, run_id: str) -> tuple[list[Record], dict[str, str]]:
        """A run's stored records and the blobs they refer to."""
        check_id(run_id, "run id")
        async with await self._conn() as conn:
            cur = await conn.execute(
                "SELECT seq, type, data FROM events WHERE run_id = %s ORDER BY seq", (run_id,)
            )
            records = [Record(*r) for r in await cur.fetchall()]
            refs = sorted(blob_refs(records))
            blobs: dict[str, str] = {}
            if refs:
                cur = await conn.execute(
                    "SELECT digest, data FROM blobs WHERE digest = ANY(%s)", (refs,)
                )
                blobs = dict(await cur.fetchall())
        if not records:
            raise JournalError(f"no run {run_id!r} in the PostgreSQL journal ({self.schema})")
        return records, blobs

    async def list_runs(
        self,
        *,
        status: str | None = None,
        agent: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[RunInfo]:
        """Runs, newest first."""
        limit = check_limit(limit)
        where, args = run_filters("%s", status, agent, since, until)
        async with await self._conn() as conn:
            cur = await conn.execute(
                "SELECT run_id, agent, status, prompt, created_at, updated_at, events, "
                f"parent_run_id FROM runs {where} ORDER BY created_at DESC, run_id DESC LIMIT %s",
                (*args, limit),
            )
            return [run_info(r) for r in await cur.fetchall()]

    async def acquire_lease(self, run_id: str, owner: str, ttl: float) -> bool:
        """Take or renew the lease, atomically, by the database's clock."""
        async with await self._conn() as conn:
            cur = await conn.execute(
                f"UPDATE runs SET lease_owner = %s, lease_expires = {_NOW} + %s "
                "WHERE run_id = %s AND (lease_owner IS NULL OR lease_owner = %s "
                f"OR lease_expires < {_NOW})",
                (owner, ttl, run_id, owner),
            )
            return bool(cur.rowcount == 1)

    async def release_lease(self, run_id: str, owner: str) -> None:
        """Give the lease back."""
        async with await self._conn() as conn:
            await conn.execute(
                "UPDATE runs SET lease_owner = NULL, lease_expires = NULL "
                "WHERE run_id = %s AND lease_owner = %s",
                (run_id, owner),
            )

    async def request_cancel(self, run_id: str, reason: str = "") -> bool:
        """Record a cancel request; see :meth:`JournalStore.request_cancel`."""
        async with await self._conn() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT cancel_reason FROM runs WHERE run_id = %s FOR UPDATE", (run_id,)
            )
            row = await cur.fetchone()
            if row is None:
                raise JournalError(f"no run {run_id!r} in the PostgreSQL journal ({self.schema})")
            if row[0] is not None:
                return False
            await conn.execute(
                f"UPDATE runs SET cancel_reason = %s, cancel_requested_at = {_NOW} "
                "WHERE run_id = %s",
                (summary_text(reason), run_id),
            )
            return True

    async def cancel_requested(self, run_id: str) -> str | None:
        """The cancel request's reason, or None; see :meth:`JournalStore.cancel_requested`."""
        async with await self._conn() as conn:
            cur = await conn.execute("SELECT cancel_reason FROM runs WHERE run_id = %s", (run_id,))
            row = await cur.fetchone()
        return None if row is None or row[0] is None else str(row[0])

    async def load_session(self, session_id: str) -> Session:
        """What a new run in the conversation continues from; see
        :meth:`JournalStore.load_session`."""
        check_id(session_id, "session id")
        async with await self._conn() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT summary, summarized, turns FROM sessions WHERE session_id = %s",
                (session_id,),
            )
            row = await cur.fetchone()
            if row is None:
                return Session(session_id)
            summary, summarized, total = row
            cur = await conn.execute(
                "SELECT data FROM session_turns WHERE session_id = %s AND n >= %s ORDER BY n",
                (session_id, summarized),
            )
            data = await cur.fetchall()
        text = None if summary is None else json.loads(summary)
        return Session(session_id, decode_turns([d for (d,) in data]), text, summarized, total)

    async def append_session(
        self,
        session_id: str,
        run_id: str,
        turns: Sequence[Turn],
        *,
        summary: str | None = None,
        summarized: int = 0,
    ) -> None:
        """Add a run's turns to its conversation, once; see :meth:`JournalStore.append_session`."""
        check_turns(turns)
        rows = encode_turns(turns)
        async with await self._conn() as conn, conn.transaction():
            await conn.execute(
                f"INSERT INTO sessions (session_id, updated_at) VALUES (%s, {_NOW}) "
                "ON CONFLICT (session_id) DO NOTHING",
                (session_id,),
            )
            # The session's row, locked: its appenders go one at a time.
            cur = await conn.execute(
                "SELECT turns, summarized FROM sessions WHERE session_id = %s FOR UPDATE",
                (session_id,),
            )
            total, covered = await cur.fetchone()
            cur = await conn.execute(
                "SELECT 1 FROM session_turns WHERE session_id = %s AND run_id = %s LIMIT 1",
                (session_id, run_id),
            )
            if await cur.fetchone() is None:
                async with conn.cursor() as c:
                    await c.executemany(
                        "INSERT INTO session_turns (session_id, n, run_id, data) "
                        "VALUES (%s, %s, %s, %s)",
                        [(session_id, total + i, run_id, r) for i, r in enumerate(rows)],
                    )
                total += len(rows)
            if summary is not None and covered < summarized <= total:
                await conn.execute(
                    "UPDATE sessions SET summary = %s, summarized = %s WHERE session_id = %s",
                    (json.dumps(summary), summarized, session_id),
                )
            await conn.execute(
                f"UPDATE sessions SET turns = %s, updated_at = {_NOW} WHERE session_id = %s",
                (total, session_id),
            )

    async def session_history(self, session_id: str) -> list[Turn]:
        """Every turn of a conversation; see :meth:`JournalStore.session_history`."""
        async with await self._conn() as conn:
            cur = await conn.execute(
                "SELECT data FROM session_turns WHERE session_id = %s ORDER BY n", (session_id,)
            )
            rows = await cur.fetchall()
        return decode_turns([d for (d,) in rows])

    async def prune(self, *, older_than: float | None = None, keep_last: int | None = None) -> int:
        """Delete old runs, their events and unreferenced blobs; vacuum the tables.

        Live runs are never deleted; see :meth:`JournalStore.prune`.
        """
        older_than, keep_last = check_prune_args(older_than, keep_last)
        doomed: set[str] = set()
        async with await self._conn() as conn:
            async with conn.transaction():
                # One pruner at a time; runs are chosen and deleted in one transaction.
                await conn.execute("LOCK TABLE runs IN SHARE ROW EXCLUSIVE MODE")
                if older_than is not None:
                    cur = await conn.execute(
                        f"SELECT run_id FROM runs WHERE created_at < {_NOW} - %s", (older_than,)
                    )
                    doomed |= {r[0] for r in await cur.fetchall()}
                if keep_last is not None:
                    cur = await conn.execute(
                        "SELECT run_id FROM runs ORDER BY created_at DESC, run_id DESC OFFSET %s",
                        (keep_last,),
                    )
                    doomed |= {r[0] for r in await cur.fetchall()}
                cur = await conn.execute(
                    f"SELECT run_id FROM runs WHERE (lease_owner IS NOT NULL AND "
                    f"lease_expires >= {_NOW}) OR (status = 'running' AND "
                    f"updated_at >= {_NOW} - %s)",
                    (LIVE_GRACE,),
                )
                doomed -= {r[0] for r in await cur.fetchall()}
                if doomed:
                    ids = sorted(doomed)
                    await conn.execute("DELETE FROM events WHERE run_id = ANY(%s)", (ids,))
                    await conn.execute("DELETE FROM runs WHERE run_id = ANY(%s)", (ids,))
                    cur = await conn.execute(
                        "SELECT seq, type, data FROM events WHERE data LIKE '%%\"$blob\"%%'"
                    )
                    used = sorted(blob_refs([Record(*r) for r in await cur.fetchall()]))
                    await conn.execute("DELETE FROM blobs WHERE NOT (digest = ANY(%s))", (used,))
            if doomed:
                for table in ("events", "runs", "blobs"):  # FULL gives the space back
                    await conn.execute(f"VACUUM FULL {table}")
        return len(doomed)

    async def check(self) -> JournalCheck:
        """Look for damage; see :meth:`JournalStore.check`."""
        async with await self._conn() as conn:
            cur = await conn.execute(
                "SELECT DISTINCT e.run_id FROM events e LEFT JOIN runs r USING (run_id) "
                "WHERE r.run_id IS NULL ORDER BY 1"
            )
            orphans = [r[0] for r in await cur.fetchall()]
            cur = await conn.execute(
                "SELECT r.run_id FROM runs r WHERE NOT EXISTS "
                "(SELECT 1 FROM events e WHERE e.run_id = r.run_id) ORDER BY 1"
            )
            empty = [r[0] for r in await cur.fetchall()]
            cur = await conn.execute(
                "SELECT seq, type, data FROM events WHERE data LIKE '%%\"$blob\"%%'"
            )
            used = blob_refs([Record(*r) for r in await cur.fetchall()])
            cur = await conn.execute("SELECT digest FROM blobs")
            have = {r[0] for r in await cur.fetchall()}
        return JournalCheck(orphans, empty, sorted(used - have), len(have - used))

    async def size_bytes(self) -> int:
        """Bytes of tether's tables, indexes and TOAST included."""
        async with await self._conn() as conn:
            cur = await conn.execute(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind = 'r'",
                (self.schema,),
            )
            row = await cur.fetchone()
            return int(row[0])

    async def drop(self) -> None:
        """Drop the whole schema (tests use a schema of their own)."""
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        self._ready = False

    async def close(self) -> None:
        """Close the pool (closing twice is harmless)."""
        if not self._pool.closed:
            await self._pool.close()


async def _migrate(conn: Any, schema: str) -> None:
    # One migrator at a time, across processes: a session lock taken before the
    # transaction (two first openings that create the schema inside their transactions
    # at once collide on the catalog even behind a transaction-scoped lock).
    key = (f"tether:{schema}",)
    await conn.execute("SELECT pg_advisory_lock(hashtext(%s))", key)
    try:
        await _migrate_locked(conn, schema)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", key)


async def _migrate_locked(conn: Any, schema: str) -> None:
    async with conn.transaction():
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.schema_version (version INTEGER NOT NULL)"
        )
        cur = await conn.execute(f"SELECT version FROM {schema}.schema_version")
        row = await cur.fetchone()
        version = row[0] if row else 0
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"the PostgreSQL journal (schema {schema}) has schema version {version}, newer "
                f"than this tether supports ({SCHEMA_VERSION}); upgrade tether to open it"
            )
        for v in range(version, SCHEMA_VERSION):
            await conn.execute(f"SET LOCAL search_path = {schema}")
            await conn.execute(_MIGRATIONS[v])
        if version != SCHEMA_VERSION:
            await conn.execute(f"DELETE FROM {schema}.schema_version")
            await conn.execute(
                f"INSERT INTO {schema}.schema_version VALUES (%s)", (SCHEMA_VERSION,)
            )


def _redact(dsn: str) -> str:
    """A connection string without its password."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", re.sub(r"password=\S+", "password=***", dsn))
