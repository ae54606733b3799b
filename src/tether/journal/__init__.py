"""Durable run journals: the SQLite default and PostgreSQL for production.

Every event of a run is appended to the store before the loop moves on, so a
run can be resumed after a crash, listed, forked and replayed from its journal.
"""

from ._open import open_store
from ._postgres import PostgresStore
from ._sqlite import SQLiteStore, default_path
from ._store import (
    BLOB_THRESHOLD,
    JournalCheck,
    JournalConflict,
    JournalStore,
    RunInfo,
    RunLocked,
    Session,
    Turn,
    UnreadableRecord,
)

__all__ = [
    "BLOB_THRESHOLD",
    "JournalCheck",
    "JournalConflict",
    "JournalStore",
    "PostgresStore",
    "RunInfo",
    "RunLocked",
    "SQLiteStore",
    "Session",
    "Turn",
    "UnreadableRecord",
    "default_path",
    "open_store",
]
