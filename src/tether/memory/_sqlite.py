"""The SQLite memory store, the default: one file, FTS5 for words, numpy for vectors.

Full-text search is an FTS5 table (porter stemming, diacritics folded, BM25 order)
whose rowids are the memories' rowids. Vectors are float32 blobs in the memories
table, searched exactly by cosine in numpy over a per-namespace cache kept up to date
by sequence numbers (``_vectors.py`` says why, with the measurements). Writes take
SQLite's write lock (``BEGIN IMMEDIATE``) before they look for a near-duplicate or
an idempotency key, so two tasks or two processes adding at once neither lose nor
duplicate a memory. Calls run in a worker thread; the event loop never waits on disk.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from ._embed import Embedder, Vectors
from ._local import LocalEmbedder
from ._rank import LEXICAL_WEIGHT, RRF_K, query_terms
from ._store import MemoryStore, MemoryStoreError, Policy, Write, memory_from_row
from ._types import Memory, NamespaceLike, namespace_key, stored_id
from ._vectors import Row, VectorIndex

__all__ = ["SQLiteMemoryStore", "default_memory_path"]

T = TypeVar("T")

SCHEMA_VERSION = 1
# Version 1: memories, their FTS5 index, idempotency keys, namespace policies, the counter.
_SCHEMA = """
CREATE TABLE memory_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE memory_counter (id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL);
INSERT INTO memory_counter VALUES (0, 0);
CREATE TABLE memories (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    embedding BLOB NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    last_used_at REAL NOT NULL,
    expires_at REAL,
    seq INTEGER NOT NULL
);
CREATE INDEX memories_ns_seq ON memories (namespace, seq);
CREATE INDEX memories_ns_used ON memories (namespace, last_used_at);
CREATE INDEX memories_expiry ON memories (expires_at) WHERE expires_at IS NOT NULL;
CREATE VIRTUAL TABLE memories_fts USING fts5 (
    text, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE memory_keys (
    namespace TEXT NOT NULL, key TEXT NOT NULL, memory_id TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE TABLE memory_policies (namespace TEXT PRIMARY KEY, ttl REAL, cap INTEGER) WITHOUT ROWID;
"""
_COLUMNS = "id, namespace, kind, text, metadata, created_at, updated_at, last_used_at, expires_at"
_LIVE = "(expires_at IS NULL OR expires_at > ?)"


def default_memory_path() -> Path:
    """``$TETHER_MEMORY_DB``, else ``tether/memory.db`` under the user's data folder."""
    env = os.environ.get("TETHER_MEMORY_DB")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tether" / "memory.db"


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


class SQLiteMemoryStore(MemoryStore):
    """Long-term memory in one SQLite file (see :class:`MemoryStore` for the methods).

    Args:
        path: the database file (:func:`default_memory_path` by default); it may be
            the journal's file, whose tables it leaves alone.
        embedder: the :class:`LocalEmbedder` by default.
        merge_threshold: see :class:`MemoryStore`.
        default_ttl: see :class:`MemoryStore`.
        default_cap: see :class:`MemoryStore`.
        rrf_k: see :class:`MemoryStore`.
        lexical_weight: see :class:`MemoryStore`.

    Raises:
        MemoryStoreError: the file cannot be opened, is newer than this tether, or
            holds memories of another embedder.
    """

    vector_method = "numpy"

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        embedder: Embedder | None = None,
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
        self.path = Path(path) if path is not None else default_memory_path()
        self._lock = threading.Lock()
        self._indexes: dict[str, VectorIndex] = {}
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError as exc:
            raise MemoryStoreError(f"cannot open the memory store {self.path}: {exc}") from None

    def _open(self) -> sqlite3.Connection:
        if not self.path.parent.exists():
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._migrate(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        has_meta = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'memory_meta'"
        ).fetchone()
        if not has_meta:
            # One statement at a time: executescript would commit the open transaction.
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            conn.execute("INSERT INTO memory_meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        meta = dict(conn.execute("SELECT key, value FROM memory_meta").fetchall())
        if int(meta["schema"]) > SCHEMA_VERSION:
            raise MemoryStoreError(
                f"the memory store {self.path} has schema version {meta['schema']}, newer "
                f"than this tether supports ({SCHEMA_VERSION}); upgrade tether"
            )
        check_embedder(conn.execute, meta.get("embedder"), self.embedder, str(self.path))

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        def locked() -> T:
            with self._lock:
                return fn(*args)

        return await asyncio.to_thread(locked)

    def _transaction(self, fn: Callable[..., T], *args: Any, write: bool = True) -> T:
        self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            result = fn(*args)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return result

    def _index(self, ns: str) -> VectorIndex:
        """The namespace's vectors, brought up to date (inside a transaction)."""
        conn = self._conn
        index = self._indexes.setdefault(ns, VectorIndex(self.embedder.dimension))
        max_seq, count = conn.execute(
            "SELECT coalesce(max(seq), 0), count(*) FROM memories WHERE namespace = ?", (ns,)
        ).fetchone()
        if index.fresh(max_seq, count):
            return index
        sql = "SELECT id, kind, expires_at, seq, embedding FROM memories WHERE namespace = ?"
        index.apply(Row(*r) for r in conn.execute(f"{sql} AND seq > ?", (ns, index.seq)))
        if len(index) != count:
            index.clear()
            index.apply(Row(*r) for r in conn.execute(sql, (ns,)))
        return index

    # -- writes ---------------------------------------------------------------

    async def _add(self, write: Write) -> Memory:
        return await self._call(self._transaction, self._add_sync, write)

    def _add_sync(self, w: Write) -> Memory:
        conn = self._conn
        w = w.stamped()  # under the write lock: later than every search that came before
        for key in w.key_lookups():
            row = conn.execute(
                "SELECT memory_id FROM memory_keys WHERE namespace = ? AND key = ?",
                (w.namespace, key),
            ).fetchone()
            if row is not None:
                return self._get_sync(row[0]) or w.memory(row[0], None)
        policy = self._policy(w.namespace)
        expires = w.expires(policy, self.default_ttl)
        index = self._index(w.namespace)
        near = [
            c for c in index.search(w.vector, 5, now=w.now, kinds=(w.kind,)) if c[1] >= w.threshold
        ]
        texts = (
            dict(
                conn.execute(
                    f"SELECT id, text FROM memories WHERE id IN ({_marks(near)})",
                    [i for i, _ in near],
                )
            )
            if near
            else {}
        )
        merge_into = w.restated([(i, cos, texts[i]) for i, cos in near if i in texts])
        (seq,) = conn.execute("UPDATE memory_counter SET seq = seq + 1 RETURNING seq").fetchone()
        blob = w.vector.astype("float32").tobytes()
        if merge_into is not None:
            memory_id = merge_into
            rowid, old = conn.execute(
                "SELECT rowid, metadata FROM memories WHERE id = ?", (memory_id,)
            ).fetchone()
            conn.execute(
                "UPDATE memories SET text = ?, metadata = ?, embedding = ?, updated_at = ?, "
                "last_used_at = ?, expires_at = ?, seq = ? WHERE rowid = ?",
                (w.text, w.merged_metadata(old), blob, w.now, w.now, expires, seq, rowid),
            )
            conn.execute("UPDATE memories_fts SET text = ? WHERE rowid = ?", (w.text, rowid))
        else:
            memory_id = uuid.uuid4().hex
            cur = conn.execute(
                "INSERT INTO memories (id, namespace, kind, text, metadata, embedding, "
                "created_at, updated_at, last_used_at, expires_at, seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    memory_id,
                    w.namespace,
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
            conn.execute(
                "INSERT INTO memories_fts (rowid, text) VALUES (?, ?)", (cur.lastrowid, w.text)
            )
        if w.key is not None:
            conn.execute(
                "INSERT INTO memory_keys VALUES (?, ?, ?)", (w.namespace, w.key, memory_id)
            )
        cap = policy.cap or self.default_cap
        if cap is not None:
            self._evict(w.namespace, cap, w.now, memory_id)
        memory = self._get_sync(memory_id)
        if memory is None:  # raised inside the transaction: the write is rolled back whole
            raise MemoryStoreError(
                f"the memory {memory_id} just written to {w.namespace} could not be read "
                "back; nothing was written"
            )
        return memory

    def _evict(self, ns: str, cap: int, now: float, written: str) -> None:
        """Delete the least recently used live memories of ``ns`` beyond ``cap``, never
        the memory ``written`` by this add (a clock that is behind another's could
        make it look the least recently used)."""
        (live,) = self._conn.execute(
            f"SELECT count(*) FROM memories WHERE namespace = ? AND {_LIVE}", (ns, now)
        ).fetchone()
        if live > cap:
            rows = self._conn.execute(
                f"SELECT rowid FROM memories WHERE namespace = ? AND {_LIVE} AND id != ? "
                "ORDER BY last_used_at, updated_at, rowid LIMIT ?",
                (ns, now, written, live - cap),
            ).fetchall()
            self._delete("rowid IN (" + _marks(rows) + ")", [r[0] for r in rows])

    def _delete(self, where: str, args: Sequence[object]) -> int:
        rows = self._conn.execute(
            f"DELETE FROM memories WHERE {where} RETURNING rowid, id, namespace", args
        ).fetchall()
        for start in range(0, len(rows), 500):
            chunk = [r[0] for r in rows[start : start + 500]]
            self._conn.execute(f"DELETE FROM memories_fts WHERE rowid IN ({_marks(chunk)})", chunk)
        for _, memory_id, ns in rows:
            if ns in self._indexes:
                self._indexes[ns].discard([memory_id])
        return len(rows)

    def _policy(self, ns: str) -> Policy:
        row = self._conn.execute(
            "SELECT ttl, cap FROM memory_policies WHERE namespace = ?", (ns,)
        ).fetchone()
        return Policy(*row) if row else Policy()

    async def _set_policy(self, ns: str, policy: Policy) -> None:
        await self._call(
            self._conn.execute,
            "INSERT INTO memory_policies VALUES (?, ?, ?) ON CONFLICT (namespace) "
            "DO UPDATE SET ttl = excluded.ttl, cap = excluded.cap",
            (ns, policy.ttl, policy.cap),
        )

    async def _forget(
        self, ids: list[str] | None, ns: str | None, kinds: tuple[str, ...] | None
    ) -> int:
        where: list[str] = []
        args: list[object] = []
        if ids is not None:
            if not ids:
                return 0
            where.append(f"id IN ({_marks(ids)})")
            args += ids
        if ns is not None:
            where.append("namespace = ?")
            args.append(ns)
        if kinds is not None:
            where.append(f"kind IN ({_marks(kinds)})")
            args += kinds
        return await self._call(self._transaction, self._delete, " AND ".join(where), args)

    async def _prune(self, now: float) -> int:
        return await self._call(self._transaction, self._delete, "expires_at <= ?", [now])

    async def _touch(self, ids: list[str], now: float) -> dict[str, Memory]:
        def touch() -> dict[str, Memory]:
            if not ids:
                return {}
            marks = _marks(ids)
            self._conn.execute(
                f"UPDATE memories SET last_used_at = ? WHERE id IN ({marks})", (now, *ids)
            )
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM memories WHERE id IN ({marks})", ids
            ).fetchall()
            return {r[0]: memory_from_row(r) for r in rows}

        return await self._call(self._transaction, touch)

    # -- reads ----------------------------------------------------------------

    async def _lexical(
        self, ns: str, query: str, n: int, kinds: tuple[str, ...] | None, now: float
    ) -> list[str]:
        terms = query_terms(query)
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        kind_sql = "" if kinds is None else f" AND m.kind IN ({_marks(kinds)})"
        sql = (
            "SELECT m.id FROM memories_fts f JOIN memories m ON m.rowid = f.rowid "
            "WHERE memories_fts MATCH ? AND m.namespace = ? "
            "AND (m.expires_at IS NULL OR m.expires_at > ?)"
            f"{kind_sql} ORDER BY f.rank LIMIT ?"
        )
        args = (match, ns, now, *(kinds or ()), n)
        rows = await self._call(lambda: self._conn.execute(sql, args).fetchall())
        return [r[0] for r in rows]

    async def _vector(
        self, ns: str, vector: Vectors, n: int, kinds: tuple[str, ...] | None, now: float
    ) -> list[tuple[str, float]]:
        def search() -> list[tuple[str, float]]:
            index = self._transaction(self._index, ns, write=False)
            return index.search(vector, n, now=now, kinds=kinds)

        return await self._call(search)

    def _get_sync(self, memory_id: str) -> Memory | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM memories WHERE id = ?", (memory_id,)
        ).fetchone()
        return memory_from_row(row) if row else None

    async def get(self, memory_id: str) -> Memory | None:
        """The memory with this id, expired or not, or ``None``.

        Raises:
            ConfigError: the id is not a string.
        """
        found = stored_id(memory_id)
        return None if found is None else await self._call(self._get_sync, found)

    async def count(self, namespace: NamespaceLike) -> int:
        """How many live memories ``namespace`` holds."""
        ns = namespace_key(namespace)
        sql = f"SELECT count(*) FROM memories WHERE namespace = ? AND {_LIVE}"
        now = time.time()
        row = await self._call(lambda: self._conn.execute(sql, (ns, now)).fetchone())
        return int(row[0])

    async def close(self) -> None:
        """Close the database file."""
        await self._call(self._conn.close)


def check_embedder(
    execute: Callable[..., Any], stored: str | None, embedder: Embedder, where: str
) -> None:
    """Record the store's embedder on first use; refuse another one later."""
    mine = f"{embedder.name}/{embedder.dimension}"
    if stored is None:
        execute("INSERT INTO memory_meta VALUES ('embedder', ?)", (mine,))
    elif stored != mine:
        raise MemoryStoreError(
            f"the memories in {where} were embedded with {stored}, not {mine}; their "
            "vectors are not comparable. Use that embedder, or a store of its own"
        )
