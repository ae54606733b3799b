"""The PostgreSQL memory store: psycopg 3, full-text search, pgvector when present.

Words: a generated ``tsvector`` column (the ``english`` configuration) with a GIN
index, queried with the query's words joined by OR and ranked by ``ts_rank_cd``.
Meaning: when the server has the ``vector`` extension (``CREATE EXTENSION IF NOT
EXISTS vector`` is tried; it fails without pgvector or without the right), the
vectors also go to a ``vector`` column and are ranked in SQL by ``<=>``; without it
(the case on tether's CI) they are ``bytea`` float32 and searched exactly in numpy
over a per-namespace cache that sequence numbers keep up to date, as in the SQLite
store. ``vector_method`` says which ("pgvector" or "numpy").

Every write of a namespace takes a transaction-scoped advisory lock on it before it
looks for a near-duplicate or an idempotency key, so concurrent writers, in one
process or several, neither lose nor duplicate a memory, and a namespace's sequence
numbers commit in order.

The indexes hold a namespace's sha256 digest, never the namespace itself: a btree
refuses an entry over 2,704 bytes, and a namespace of a few long parts of letters
that do not compress (CJK, emoji) is longer, while SQLite takes it. Queries give the
digest, to find the rows, and the namespace, so that only its own rows match.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from tether._errors import ConfigError

from ._embed import Embedder, Vectors
from ._local import LocalEmbedder
from ._rank import LEXICAL_WEIGHT, RRF_K, query_terms
from ._store import MemoryStore, MemoryStoreError, Policy, Write, memory_from_row
from ._types import Memory, NamespaceLike, namespace_key, stored_id
from ._vectors import Row, VectorIndex

__all__ = ["PostgresMemoryStore"]

SCHEMA_VERSION = 2
# Version 1: memories with a tsvector column, the sequence, keys, policies, meta.
# Version 2: namespaces (and keys) indexed by their sha256 digest (_digest), not as text.
_META = "CREATE TABLE IF NOT EXISTS memory_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
_SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS memory_seq;
CREATE TABLE IF NOT EXISTS memories (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    ns_digest BYTEA NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    embedding BYTEA NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    last_used_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION,
    seq BIGINT NOT NULL,
    tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
);
CREATE INDEX IF NOT EXISTS memories_digest_seq ON memories (ns_digest, seq);
CREATE INDEX IF NOT EXISTS memories_digest_used ON memories (ns_digest, last_used_at);
CREATE INDEX IF NOT EXISTS memories_expiry ON memories (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS memories_tsv ON memories USING GIN (tsv);
CREATE TABLE IF NOT EXISTS memory_keys (
    namespace TEXT NOT NULL, key TEXT NOT NULL, memory_id TEXT NOT NULL,
    digest BYTEA PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS memory_policies (
    namespace TEXT NOT NULL, ttl DOUBLE PRECISION, cap INTEGER, ns_digest BYTEA PRIMARY KEY
);
"""
# From version 1: the digests computed in SQL as _digest computes them, then the
# indexes on the namespace text (which long namespaces overflowed) replaced.
_UPGRADE_1 = """
ALTER TABLE memories ADD COLUMN ns_digest BYTEA;
UPDATE memories SET ns_digest = sha256(convert_to(namespace, 'UTF8'));
ALTER TABLE memories ALTER COLUMN ns_digest SET NOT NULL;
DROP INDEX memories_ns_seq, memories_ns_used;
CREATE INDEX memories_digest_seq ON memories (ns_digest, seq);
CREATE INDEX memories_digest_used ON memories (ns_digest, last_used_at);
ALTER TABLE memory_keys ADD COLUMN digest BYTEA;
UPDATE memory_keys SET digest = sha256(convert_to(namespace || chr(10) || key, 'UTF8'));
ALTER TABLE memory_keys ALTER COLUMN digest SET NOT NULL;
ALTER TABLE memory_keys DROP CONSTRAINT memory_keys_pkey, ADD PRIMARY KEY (digest);
ALTER TABLE memory_policies ADD COLUMN ns_digest BYTEA;
UPDATE memory_policies SET ns_digest = sha256(convert_to(namespace, 'UTF8'));
ALTER TABLE memory_policies ALTER COLUMN ns_digest SET NOT NULL;
ALTER TABLE memory_policies DROP CONSTRAINT memory_policies_pkey, ADD PRIMARY KEY (ns_digest);
"""
_COLUMNS = "id, namespace, kind, text, metadata, created_at, updated_at, last_used_at, expires_at"
_LIVE = "(expires_at IS NULL OR expires_at > %s)"
_LOCK_CLASS = 0x7E7E  # advisory lock class of memory namespaces
_NS = "ns_digest = %s AND namespace = %s"


def _digest(*parts: str) -> bytes:
    """The sha256 of a namespace key, or of a namespace key and an idempotency key.

    JSON writes a newline in a namespace as an escape, so the newline that joins the
    parts cannot be part of the namespace: distinct pairs never join alike.
    """
    return hashlib.sha256("\n".join(parts).encode()).digest()


class PostgresMemoryStore(MemoryStore):
    """Long-term memory in PostgreSQL (see :class:`MemoryStore` for the methods).

    Args:
        dsn: a libpq connection string, e.g. ``"postgresql://user@host/db"``.
        embedder: the :class:`LocalEmbedder` by default.
        schema: the schema of the tables (created if missing); the journal's by default.
        vectors: ``"auto"`` uses pgvector when the server has it, ``"numpy"`` never.
        min_size: connections the pool keeps open.
        max_size: the most connections the pool opens.
        merge_threshold: see :class:`MemoryStore`.
        default_ttl: see :class:`MemoryStore`.
        default_cap: see :class:`MemoryStore`.
        rrf_k: see :class:`MemoryStore`.
        lexical_weight: see :class:`MemoryStore`.
    """

    def __init__(
        self,
        dsn: str,
        *,
        embedder: Embedder | None = None,
        schema: str = "tether",
        vectors: str = "auto",
        min_size: int = 1,
        max_size: int = 8,
        merge_threshold: float | None = None,
        default_ttl: float | timedelta | None = None,
        default_cap: int | None = None,
        rrf_k: int = RRF_K,
        lexical_weight: float = LEXICAL_WEIGHT,
    ) -> None:
        super().__init__(
            embedder or LocalEmbedder(),
            merge_threshold=merge_threshold,
            default_ttl=default_ttl,
            default_cap=default_cap,
            rrf_k=rrf_k,
            lexical_weight=lexical_weight,
        )
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
            raise ConfigError(f"schema name {schema!r} must be lower-case letters, digits and _")
        if vectors not in ("auto", "numpy"):
            raise ConfigError(f"vectors={vectors!r}: use 'auto' or 'numpy'")
        try:
            from psycopg_pool import AsyncConnectionPool
        except ImportError as exc:
            raise ConfigError(
                "the PostgreSQL memory store needs psycopg: pip install 'tether[postgres]'"
            ) from exc
        self.dsn = dsn
        self.schema = schema
        self._want_pgvector = vectors == "auto"
        self._pool: Any = AsyncConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            open=False,
            kwargs={"autocommit": True, "options": f"-c search_path={schema},public"},
        )
        self._ready = False
        self._opening = asyncio.Lock()
        self._index_lock = asyncio.Lock()
        self._indexes: dict[str, VectorIndex] = {}

    async def _conn(self) -> Any:
        if not self._ready:
            async with self._opening:
                if not self._ready:
                    await self._open()
        return self._pool.connection()

    async def _open(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=30)
            async with self._pool.connection() as conn:
                await self._migrate(conn)
        except MemoryStoreError:
            raise
        except Exception as exc:
            raise MemoryStoreError(
                f"cannot use the PostgreSQL memory store: {type(exc).__name__}: {exc}"
            ) from exc
        self._ready = True

    async def _migrate(self, conn: Any) -> None:
        if self._want_pgvector:
            # Outside the transaction, so that a failure (no pgvector on the server, or
            # no right to add it) does not abort it.
            with contextlib.suppress(Exception):
                await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        # One migrator at a time, across processes. A session lock taken before the
        # transaction: after waiting on a lock inside it, CREATE SCHEMA IF NOT EXISTS
        # can still miss the schema the other migrator just committed.
        lock = f"tether-memory:{self.schema}"
        await conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (lock,))
        try:
            await self._create(conn)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock,))

    async def _create(self, conn: Any) -> None:
        async with conn.transaction():
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            await conn.execute(_META)
            cur = await conn.execute("SELECT key, value FROM memory_meta")
            meta = dict(await cur.fetchall())
            if "schema" not in meta:
                await conn.execute(_SCHEMA)
                await conn.execute(
                    "INSERT INTO memory_meta VALUES ('schema', %s)", (str(SCHEMA_VERSION),)
                )
            elif int(meta["schema"]) > SCHEMA_VERSION:
                raise MemoryStoreError(
                    f"the PostgreSQL memory store (schema {self.schema}) has version "
                    f"{meta['schema']}, newer than this tether supports ({SCHEMA_VERSION})"
                )
            elif int(meta["schema"]) < SCHEMA_VERSION:
                await conn.execute(_UPGRADE_1)
                await conn.execute(
                    "UPDATE memory_meta SET value = %s WHERE key = 'schema'",
                    (str(SCHEMA_VERSION),),
                )
            mine = f"{self.embedder.name}/{self.embedder.dimension}"
            stored = meta.get("embedder")
            if stored is None:
                await conn.execute("INSERT INTO memory_meta VALUES ('embedder', %s)", (mine,))
            elif stored != mine:
                raise MemoryStoreError(
                    f"the memories in schema {self.schema} were embedded with {stored}, not "
                    f"{mine}; their vectors are not comparable"
                )
            cur = await conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
            if self._want_pgvector and await cur.fetchone():
                await conn.execute("ALTER TABLE memories ADD COLUMN IF NOT EXISTS vec vector")
                self.vector_method = "pgvector"

    async def _index(self, conn: Any, ns: str) -> VectorIndex:
        """The namespace's vectors, brought up to date (the caller holds the index lock)."""
        index = self._indexes.setdefault(ns, VectorIndex(self.embedder.dimension))
        digest = _digest(ns)
        # The digest alone, so that the index answers without reading rows; rows are
        # read with the namespace too, so two namespaces sharing a digest would cost
        # a reread each time, never mix.
        cur = await conn.execute(
            "SELECT coalesce(max(seq), 0), count(*) FROM memories WHERE ns_digest = %s",
            (digest,),
        )
        max_seq, count = await cur.fetchone()
        if index.fresh(max_seq, count):
            return index
        sql = f"SELECT id, kind, expires_at, seq, embedding FROM memories WHERE {_NS}"
        cur = await conn.execute(f"{sql} AND seq > %s", (digest, ns, index.seq))
        index.apply(Row(*r) for r in await cur.fetchall())
        if len(index) != count:
            index.clear()
            cur = await conn.execute(sql, (digest, ns))
            index.apply(Row(*r) for r in await cur.fetchall())
        return index

    async def _nearest(  # noqa: PLR0917
        self, conn: Any, ns: str, vector: Vectors, n: int, kinds: tuple[str, ...] | None, now: float
    ) -> list[tuple[str, float]]:
        if self.vector_method == "pgvector":
            kind_sql = "" if kinds is None else " AND kind = ANY(%s)"
            literal = "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]"
            cur = await conn.execute(
                f"SELECT id, 1 - (vec <=> %s::vector) FROM memories WHERE {_NS} "
                f"AND {_LIVE}{kind_sql} ORDER BY vec <=> %s::vector LIMIT %s",
                (literal, _digest(ns), ns, now, *([list(kinds)] if kinds else []), literal, n),
            )
            return [(r[0], float(r[1])) for r in await cur.fetchall()]
        async with self._index_lock:
            index = await self._index(conn, ns)
            return index.search(vector, n, now=now, kinds=kinds)

    # -- writes ---------------------------------------------------------------

    async def _add(self, w: Write) -> Memory:
        async with await self._conn() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, w.namespace)
            )
            w = w.stamped()  # later than any search that ran while it waited for the lock
            # A key's old form with NUL was never stored here: PostgreSQL refused it.
            for key in [k for k in w.key_lookups() if "\x00" not in k]:
                cur = await conn.execute(
                    "SELECT memory_id FROM memory_keys WHERE digest = %s "
                    "AND namespace = %s AND key = %s",
                    (_digest(w.namespace, key), w.namespace, key),
                )
                row = await cur.fetchone()
                if row is not None:
                    return await self._get(conn, row[0]) or w.memory(row[0], None)
            digest = _digest(w.namespace)
            cur = await conn.execute(
                f"SELECT ttl, cap FROM memory_policies WHERE {_NS}", (digest, w.namespace)
            )
            prow = await cur.fetchone()
            policy = Policy(*prow) if prow else Policy()
            expires = w.expires(policy, self.default_ttl)
            near = await self._nearest(conn, w.namespace, w.vector, 5, (w.kind,), w.now)
            near = [c for c in near if c[1] >= w.threshold]
            cur = await conn.execute(
                "SELECT id, text FROM memories WHERE id = ANY(%s)", ([i for i, _ in near],)
            )
            texts = dict(await cur.fetchall())
            merge_into = w.restated([(i, cos, texts[i]) for i, cos in near if i in texts])
            cur = await conn.execute("SELECT nextval('memory_seq')")
            (seq,) = await cur.fetchone()
            blob = w.vector.astype("float32").tobytes()
            if merge_into is not None:
                memory_id = merge_into
                cur = await conn.execute(
                    "SELECT metadata FROM memories WHERE id = %s", (memory_id,)
                )
                (old,) = await cur.fetchone()
                await conn.execute(
                    "UPDATE memories SET text = %s, metadata = %s, embedding = %s, "
                    "updated_at = %s, last_used_at = %s, expires_at = %s, seq = %s WHERE id = %s",
                    (w.text, w.merged_metadata(old), blob, w.now, w.now, expires, seq, memory_id),
                )
            else:
                memory_id = uuid.uuid4().hex
                await conn.execute(
                    "INSERT INTO memories (id, namespace, ns_digest, kind, text, metadata, "
                    "embedding, created_at, updated_at, last_used_at, expires_at, seq) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        memory_id,
                        w.namespace,
                        digest,
                        w.kind,
                        w.text,
                        w.metadata,
                        blob,
                        w.now,
                        w.now,
                        w.now,
                        expires,
                        seq,
                    ),
                )
            if self.vector_method == "pgvector":
                literal = "[" + ",".join(f"{x:.7g}" for x in w.vector.tolist()) + "]"
                await conn.execute(
                    "UPDATE memories SET vec = %s::vector WHERE id = %s", (literal, memory_id)
                )
            if w.key is not None:
                await conn.execute(
                    "INSERT INTO memory_keys (namespace, key, memory_id, digest) "
                    "VALUES (%s, %s, %s, %s)",
                    (w.namespace, w.key, memory_id, _digest(w.namespace, w.key)),
                )
            cap = policy.cap or self.default_cap
            if cap is not None:
                await self._evict(conn, w.namespace, cap, w.now, memory_id)
            memory = await self._get(conn, memory_id)
            if memory is None:  # raised inside the transaction: the write is rolled back
                raise MemoryStoreError(
                    f"the memory {memory_id} just written to {w.namespace} could not be "
                    "read back; nothing was written"
                )
        return memory

    async def _evict(self, conn: Any, ns: str, cap: int, now: float, written: str) -> None:
        """Delete the least recently used live memories of ``ns`` beyond ``cap``, never
        the memory ``written`` by this add: a search on another connection marks
        memories used without the namespace's lock, by its own machine's clock."""
        digest = _digest(ns)
        cur = await conn.execute(
            f"SELECT count(*) FROM memories WHERE {_NS} AND {_LIVE}", (digest, ns, now)
        )
        (live,) = await cur.fetchone()
        if live > cap:
            await self._delete(
                conn,
                f"id IN (SELECT id FROM memories WHERE {_NS} AND {_LIVE} AND id <> %s "
                "ORDER BY last_used_at, updated_at, seq LIMIT %s)",
                [digest, ns, now, written, live - cap],
            )

    async def _delete(self, conn: Any, where: str, args: Sequence[object]) -> int:
        cur = await conn.execute(
            f"DELETE FROM memories WHERE {where} RETURNING id, namespace", args
        )
        rows = await cur.fetchall()
        for memory_id, ns in rows:
            if ns in self._indexes:
                self._indexes[ns].discard([memory_id])
        return len(rows)

    async def _set_policy(self, ns: str, policy: Policy) -> None:
        async with await self._conn() as conn:
            await conn.execute(
                "INSERT INTO memory_policies (namespace, ttl, cap, ns_digest) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (ns_digest) "
                "DO UPDATE SET ttl = excluded.ttl, cap = excluded.cap",
                (ns, policy.ttl, policy.cap, _digest(ns)),
            )

    async def _forget(
        self, ids: list[str] | None, ns: str | None, kinds: tuple[str, ...] | None
    ) -> int:
        where: list[str] = []
        args: list[object] = []
        if ids is not None:
            if not ids:
                return 0
            where.append("id = ANY(%s)")
            args.append(ids)
        if ns is not None:
            where.append(_NS)
            args += [_digest(ns), ns]
        if kinds is not None:
            where.append("kind = ANY(%s)")
            args.append(list(kinds))
        async with await self._conn() as conn:
            return await self._delete(conn, " AND ".join(where), args)

    async def _prune(self, now: float) -> int:
        async with await self._conn() as conn:
            return await self._delete(conn, "expires_at <= %s", [now])

    async def _touch(self, ids: list[str], now: float) -> dict[str, Memory]:
        if not ids:
            return {}
        async with await self._conn() as conn:
            cur = await conn.execute(
                f"UPDATE memories SET last_used_at = %s WHERE id = ANY(%s) RETURNING {_COLUMNS}",
                (now, ids),
            )
            return {r[0]: memory_from_row(r) for r in await cur.fetchall()}

    # -- reads ----------------------------------------------------------------

    async def _lexical(
        self, ns: str, query: str, n: int, kinds: tuple[str, ...] | None, now: float
    ) -> list[str]:
        terms = query_terms(query)
        if not terms:
            return []
        kind_sql = "" if kinds is None else " AND kind = ANY(%s)"
        async with await self._conn() as conn:
            cur = await conn.execute(
                "SELECT id FROM memories, websearch_to_tsquery('english', %s) q "
                f"WHERE tsv @@ q AND {_NS} AND {_LIVE}{kind_sql} "
                "ORDER BY ts_rank_cd(tsv, q) DESC, seq DESC LIMIT %s",
                (" or ".join(terms), _digest(ns), ns, now, *([list(kinds)] if kinds else []), n),
            )
            return [r[0] for r in await cur.fetchall()]

    async def _vector(
        self, ns: str, vector: Vectors, n: int, kinds: tuple[str, ...] | None, now: float
    ) -> list[tuple[str, float]]:
        async with await self._conn() as conn:
            return await self._nearest(conn, ns, vector, n, kinds, now)

    async def _get(self, conn: Any, memory_id: str) -> Memory | None:
        cur = await conn.execute(f"SELECT {_COLUMNS} FROM memories WHERE id = %s", (memory_id,))
        row = await cur.fetchone()
        return memory_from_row(row) if row else None

    async def get(self, memory_id: str) -> Memory | None:
        """The memory with this id, expired or not, or ``None``.

        Raises:
            ConfigError: the id is not a string.
        """
        found = stored_id(memory_id)
        if found is None:
            return None
        async with await self._conn() as conn:
            return await self._get(conn, found)

    async def count(self, namespace: NamespaceLike) -> int:
        """How many live memories ``namespace`` holds."""
        ns = namespace_key(namespace)
        async with await self._conn() as conn:
            cur = await conn.execute(
                f"SELECT count(*) FROM memories WHERE {_NS} AND {_LIVE}",
                (_digest(ns), ns, time.time()),
            )
            (n,) = await cur.fetchone()
            return int(n)

    async def drop(self) -> None:
        """Drop the memory tables (tests use a schema of their own)."""
        async with await self._conn() as conn:
            await conn.execute(
                "DROP TABLE IF EXISTS memories, memory_keys, memory_policies, memory_meta; "
                "DROP SEQUENCE IF EXISTS memory_seq"
            )
        self._ready = False
        self._indexes.clear()

    async def close(self) -> None:
        """Close the pool (closing twice is harmless)."""
        if not self._pool.closed:
            await self._pool.close()
