"""The SQLite journal store: one file, WAL mode; the default.

Writes go through one connection guarded by a lock and run in a worker thread,
so the event loop never blocks on disk. ``synchronous=NORMAL`` in WAL mode
keeps every committed event through a process crash (the case that matters for
resume); ``durable=True`` sets ``FULL`` to keep them through a power cut too.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from tether._errors import JournalError, RunLocked
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

__all__ = ["SQLiteStore", "default_path"]

T = TypeVar("T")

# Versioned migrations; the index + 1 is the schema version they bring the file to.
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
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        events INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_expires REAL
    );
    CREATE INDEX runs_created ON runs (created_at);
    CREATE INDEX runs_status ON runs (status, created_at);
    CREATE TABLE events (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE blobs (
        digest TEXT PRIMARY KEY,
        data TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    """
    ALTER TABLE runs ADD COLUMN cancel_reason TEXT;
    ALTER TABLE runs ADD COLUMN cancel_requested_at REAL;
    """,
    """
    CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        summary TEXT,
        summarized INTEGER NOT NULL DEFAULT 0,
        turns INTEGER NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE session_turns (
        session_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        run_id TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (session_id, n)
    ) WITHOUT ROWID;
    CREATE INDEX session_turns_run ON session_turns (session_id, run_id);
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)
_CANCEL_FROM = 2  # the first schema version with cancel requests
_SESSIONS_FROM = 3  # the first schema version with conversations


def default_path() -> Path:
    """``$TETHER_DB``, else ``tether/journal.db`` under the user's data folder."""
    env = os.environ.get("TETHER_DB")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tether" / "journal.db"


_TABLES = {"runs", "events", "blobs"}


def _check_ours(conn: sqlite3.Connection, path: Path) -> int:
    """The file's tether schema version; refuses a database that is not tether's."""
    # The version and the tables are read in one transaction: another process may be
    # creating the tables and setting the version in between (a new journal's first open).
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    finally:
        if own:
            conn.execute("COMMIT")
    tables = {r[0] for r in rows}
    if (version == 0 and tables) or (version > 0 and not tables >= _TABLES):
        raise JournalError(
            f"{path} is a database of another program, not a tether journal; it was left "
            "as it was. Give tether a journal file of its own (--store or $TETHER_DB)"
        )
    return int(version)


def _to_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL. SQLite answers "locked" at once, without waiting, while
    another process that opens the same new file holds it for a moment: try again."""
    deadline = time.monotonic() + 10.0
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = _check_ours(conn, path)
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"the journal {path} has schema version {version}, newer than this tether "
            f"supports ({SCHEMA_VERSION}); upgrade tether to open it"
        )
    if version == SCHEMA_VERSION:
        return
    # Two processes may open a new (or older) journal at once: each takes the write
    # lock first and reads the version again under it, so one migrates and the other,
    # having waited, finds nothing left to do.
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _check_ours(conn, path)
        for v in range(version, SCHEMA_VERSION):
            for statement in _MIGRATIONS[v].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {v + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class SQLiteStore(JournalStore):
    """Journals in one SQLite file.

    Args:
        path: the database file; :func:`default_path` by default. Its folder is created.
        durable: fsync every commit (survives power loss, slower).
        read_only: open an existing journal for reading only (nothing is changed in
            the file; a journal on a read-only filesystem is opened so by itself).
    """

    def __init__(
        self, path: str | Path | None = None, *, durable: bool = False, read_only: bool = False
    ) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.read_only = False
        try:
            if read_only:
                if not self.path.is_file():
                    raise JournalError(f"there is no journal at {self.path}")
                conn = self._open_read_only()
            else:
                conn = self._open(durable)
        except sqlite3.DatabaseError as exc:
            raise JournalError(
                f"cannot open the journal {self.path}: {exc}. If it is not a tether journal "
                "(or is damaged), give another file with --store or $TETHER_DB"
            ) from None
        self._conn = conn
        self._lock = threading.Lock()
        (self._version,) = conn.execute("PRAGMA user_version").fetchone()

    def _open(self, durable: bool) -> sqlite3.Connection:
        path = self.path
        if path.is_dir():
            raise JournalError(f"the journal {path} is a folder; give the path of a file")
        if not path.exists():
            if not path.parent.exists():
                # Prompts, arguments and results are private: only the user reads them.
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:  # SQLite gives its -wal and -shm files the database file's permissions
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as exc:
                raise JournalError(f"cannot create the journal {path}: {exc.strerror}") from None
        elif not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
            return self._open_read_only()
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=10000")  # first: another process may be here
            _check_ours(conn, path)  # before anything is changed in a foreign file
            _to_wal(conn)
            conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            _migrate(conn, path)
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        """A journal on a read-only filesystem (or without write permission): read only."""
        base = self.path.resolve().as_uri()
        conn = sqlite3.connect(
            f"{base}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
        try:
            version = _check_ours(conn, self.path)
        except sqlite3.OperationalError:  # WAL without a writable -shm: read the file as is
            conn.close()
            conn = sqlite3.connect(
                f"{base}?mode=ro&immutable=1",
                uri=True,
                check_same_thread=False,
                isolation_level=None,
            )
            version = _check_ours(conn, self.path)
        try:  # older versions read as they are: what they lack reads as absent
            if not 1 <= version <= SCHEMA_VERSION:
                raise JournalError(
                    f"the read-only journal {self.path} has schema version {version}; this "
                    f"tether reads versions 1 to {SCHEMA_VERSION}"
                )
        except BaseException:
            conn.close()
            raise
        self.read_only = True
        return conn

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                try:
                    return fn(self._conn)
                except sqlite3.DatabaseError as exc:
                    raise JournalError(f"the journal {self.path} failed: {exc}") from exc

        return await asyncio.to_thread(locked)

    async def append(
        self, run_id: str, events: Sequence[Event], *, owner: str | None = None
    ) -> None:
        """Store events in one transaction; see :meth:`JournalStore.append`."""
        if not events:
            return
        if self.read_only:
            raise JournalError(f"the journal {self.path} is open read-only; nothing was written")
        records, blobs = encode(events)

        def write(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                if owner is not None:
                    row = conn.execute(
                        "SELECT lease_owner FROM runs WHERE run_id = ?", (run_id,)
                    ).fetchone()
                    if row is None or row[0] != owner:
                        raise RunLocked(
                            f"run {run_id} is no longer leased to this process; "
                            "another process holds it, so nothing was written"
                        )
                _write(conn, run_id, events, records, blobs)

        await self._run(write)

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

        def read(conn: sqlite3.Connection) -> tuple[list[Record], dict[str, str]]:
            rows = conn.execute(
                "SELECT seq, type, data FROM events WHERE run_id = ? ORDER BY seq", (run_id,)
            ).fetchall()
            records = [Record(*r) for r in rows]
            refs = blob_refs(records)
            blobs: dict[str, str] = {}
            for digest in refs:
                row = conn.execute("SELECT data FROM blobs WHERE digest = ?", (digest,)).fetchone()
                if row is not None:
                    blobs[digest] = row[0]
            return records, blobs

        records, blobs = await self._run(read)
        if not records:
            raise JournalError(f"no run {run_id!r} in the journal {self.path}")
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
        where, args = run_filters("?", status, agent, since, until)
        sql = (
            "SELECT run_id, agent, status, prompt, created_at, updated_at, events, parent_run_id "
            f"FROM runs {where} ORDER BY created_at DESC, run_id DESC LIMIT ?"
        )
        rows = await self._run(lambda c: c.execute(sql, (*args, limit)).fetchall())
        return [run_info(r) for r in rows]

    async def acquire_lease(self, run_id: str, owner: str, ttl: float) -> bool:
        """Take or renew the lease, atomically."""

        def take(conn: sqlite3.Connection) -> bool:
            now = time.time()
            cur = conn.execute(
                "UPDATE runs SET lease_owner = ?, lease_expires = ? WHERE run_id = ? AND "
                "(lease_owner IS NULL OR lease_owner = ? OR lease_expires < ?)",
                (owner, now + ttl, run_id, owner, now),
            )
            return cur.rowcount == 1

        return await self._run(take)

    async def release_lease(self, run_id: str, owner: str) -> None:
        """Give the lease back."""
        await self._run(
            lambda c: c.execute(
                "UPDATE runs SET lease_owner = NULL, lease_expires = NULL "
                "WHERE run_id = ? AND lease_owner = ?",
                (run_id, owner),
            )
        )

    async def request_cancel(self, run_id: str, reason: str = "") -> bool:
        """Record a cancel request; see :meth:`JournalStore.request_cancel`."""
        if self.read_only:
            raise JournalError(f"the journal {self.path} is open read-only; nothing was written")

        def ask(conn: sqlite3.Connection) -> bool:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                row = conn.execute(
                    "SELECT cancel_reason FROM runs WHERE run_id = ?", (run_id,)
                ).fetchone()
                if row is None:
                    raise JournalError(f"no run {run_id!r} in the journal {self.path}")
                if row[0] is not None:
                    return False
                conn.execute(
                    "UPDATE runs SET cancel_reason = ?, cancel_requested_at = ? WHERE run_id = ?",
                    (summary_text(reason), time.time(), run_id),
                )
                return True

        return await self._run(ask)

    async def cancel_requested(self, run_id: str) -> str | None:
        """The cancel request's reason, or None; see :meth:`JournalStore.cancel_requested`."""
        if self._version < _CANCEL_FROM:  # a read-only journal of an older version
            return None
        row = await self._run(
            lambda c: c.execute(
                "SELECT cancel_reason FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        )
        return None if row is None or row[0] is None else summary_text(row[0])

    async def load_session(self, session_id: str) -> Session:
        """What a new run in the conversation continues from; see
        :meth:`JournalStore.load_session`."""
        check_id(session_id, "session id")
        if self._version < _SESSIONS_FROM:  # a read-only journal of an older version
            return Session(session_id)

        def read(conn: sqlite3.Connection) -> Session:
            row = conn.execute(
                "SELECT summary, summarized, turns FROM sessions WHERE session_id = ?",
                (session_id,),
            ).fetchone()
            if row is None:
                return Session(session_id)
            summary, summarized, total = row
            data = conn.execute(
                "SELECT data FROM session_turns WHERE session_id = ? AND n >= ? ORDER BY n",
                (session_id, summarized),
            ).fetchall()
            text = None if summary is None else json.loads(summary)
            return Session(session_id, decode_turns([d for (d,) in data]), text, summarized, total)

        return await self._run(read)

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
        if self.read_only:
            raise JournalError(f"the journal {self.path} is open read-only; nothing was written")
        check_turns(turns)
        rows = encode_turns(turns)

        def write(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                now = time.time()
                conn.execute(
                    "INSERT INTO sessions (session_id, updated_at) VALUES (?, ?) "
                    "ON CONFLICT (session_id) DO NOTHING",
                    (session_id, now),
                )
                done = conn.execute(
                    "SELECT 1 FROM session_turns WHERE session_id = ? AND run_id = ? LIMIT 1",
                    (session_id, run_id),
                ).fetchone()
                (total, covered) = conn.execute(
                    "SELECT turns, summarized FROM sessions WHERE session_id = ?", (session_id,)
                ).fetchone()
                if done is None:
                    conn.executemany(
                        "INSERT INTO session_turns (session_id, n, run_id, data) "
                        "VALUES (?, ?, ?, ?)",
                        [(session_id, total + i, run_id, r) for i, r in enumerate(rows)],
                    )
                    total += len(rows)
                if summary is not None and covered < summarized <= total:
                    conn.execute(
                        "UPDATE sessions SET summary = ?, summarized = ? WHERE session_id = ?",
                        (json.dumps(summary), summarized, session_id),
                    )
                conn.execute(
                    "UPDATE sessions SET turns = ?, updated_at = ? WHERE session_id = ?",
                    (total, now, session_id),
                )

        await self._run(write)

    async def session_history(self, session_id: str) -> list[Turn]:
        """Every turn of a conversation; see :meth:`JournalStore.session_history`."""
        if self._version < _SESSIONS_FROM:
            return []
        rows = await self._run(
            lambda c: c.execute(
                "SELECT data FROM session_turns WHERE session_id = ? ORDER BY n", (session_id,)
            ).fetchall()
        )
        return decode_turns([d for (d,) in rows])

    async def prune(self, *, older_than: float | None = None, keep_last: int | None = None) -> int:
        """Delete old runs and their events, drop unreferenced blobs, and vacuum.

        Live runs are never deleted; see :meth:`JournalStore.prune`.
        """
        older_than, keep_last = check_prune_args(older_than, keep_last)

        def delete(conn: sqlite3.Connection) -> int:
            doomed: set[str] = set()
            with conn:
                conn.execute("BEGIN IMMEDIATE")  # chosen and deleted in one transaction
                now = time.time()
                if older_than is not None:
                    doomed |= {
                        r[0]
                        for r in conn.execute(
                            "SELECT run_id FROM runs WHERE created_at < ?", (now - older_than,)
                        )
                    }
                if keep_last is not None:
                    doomed |= {
                        r[0]
                        for r in conn.execute(
                            "SELECT run_id FROM runs ORDER BY created_at DESC, run_id DESC "
                            "LIMIT -1 OFFSET ?",
                            (keep_last,),
                        )
                    }
                live = {
                    r[0]
                    for r in conn.execute(
                        "SELECT run_id FROM runs WHERE (lease_owner IS NOT NULL AND "
                        "lease_expires >= ?) OR (status = 'running' AND updated_at >= ?)",
                        (now, now - LIVE_GRACE),
                    )
                }
                doomed -= live
                for run_id in doomed:
                    conn.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
                    conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
                _drop_unreferenced_blobs(conn)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
            return len(doomed)

        return await self._run(delete)

    async def check(self) -> JournalCheck:
        """Look for damage; see :meth:`JournalStore.check`."""

        def look(conn: sqlite3.Connection) -> JournalCheck:
            orphans = [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT run_id FROM events WHERE run_id NOT IN "
                    "(SELECT run_id FROM runs) ORDER BY run_id"
                )
            ]
            empty = [
                r[0]
                for r in conn.execute(
                    "SELECT run_id FROM runs WHERE run_id NOT IN "
                    "(SELECT DISTINCT run_id FROM events) ORDER BY run_id"
                )
            ]
            rows = conn.execute("SELECT seq, type, data FROM events WHERE data LIKE '%\"$blob\"%'")
            used = blob_refs([Record(*r) for r in rows])
            have = {r[0] for r in conn.execute("SELECT digest FROM blobs")}
            return JournalCheck(orphans, empty, sorted(used - have), len(have - used))

        return await self._run(look)

    async def size_bytes(self) -> int:
        """Bytes of the database file and its WAL, after moving the WAL into the file."""

        def measure(conn: sqlite3.Connection) -> int:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return sum(
                os.path.getsize(f"{self.path}{suffix}")
                for suffix in ("", "-wal")
                if os.path.exists(f"{self.path}{suffix}")
            )

        return await self._run(measure)

    async def close(self) -> None:
        """Close the connection."""
        await self._run(lambda c: c.close())


def _write(
    conn: sqlite3.Connection,
    run_id: str,
    events: Sequence[Event],
    records: list[Record],
    blobs: dict[str, str],
) -> None:
    for e in events:
        if e.type == "run_started":
            conn.execute(
                "INSERT OR IGNORE INTO runs (run_id, agent, status, prompt, parent_run_id, "
                "created_at, updated_at) VALUES (?, ?, 'running', ?, ?, ?, ?)",
                (
                    run_id,
                    summary_text(e.agent),
                    summary_text(e.prompt),
                    e.parent_run_id,
                    e.at,
                    e.at,
                ),
            )
    conn.executemany(
        "INSERT OR IGNORE INTO blobs (digest, data) VALUES (?, ?)", list(blobs.items())
    )
    cur = conn.executemany(
        "INSERT OR IGNORE INTO events (run_id, seq, type, data) VALUES (?, ?, ?, ?)",
        [(run_id, r.seq, r.type, r.data) for r in records],
    )
    if cur.rowcount < len(records):  # some were there: the same events, or a conflict
        marks = ",".join("?" * len(records))
        stored = dict(
            conn.execute(
                f"SELECT seq, data FROM events WHERE run_id = ? AND seq IN ({marks})",
                (run_id, *(r.seq for r in records)),
            ).fetchall()
        )
        for r in records:
            if not same_record(stored[r.seq], r.data):
                raise conflict(run_id, r.seq)
    status: Any = None
    for e in events:
        if e.type == "run_finished":
            status = e.status
    last = events[-1].at
    conn.execute(
        "UPDATE runs SET events = events + ?, updated_at = ?, status = COALESCE(?, status) "
        "WHERE run_id = ?",
        (cur.rowcount, last, status, run_id),
    )


def _drop_unreferenced_blobs(conn: sqlite3.Connection) -> None:
    used: set[str] = set()
    rows = conn.execute("SELECT seq, type, data FROM events WHERE data LIKE '%\"$blob\"%'")
    used = blob_refs([Record(*r) for r in rows])
    for (digest,) in conn.execute("SELECT digest FROM blobs").fetchall():
        if digest not in used:
            conn.execute("DELETE FROM blobs WHERE digest = ?", (digest,))
