"""The journal store interface: one small abstract class, two implementations.

A store keeps, per run, one row of metadata (for listing, leases and
retention) and the run's events in order. Events are written append-only,
keyed by ``(run_id, seq)``, so writing the same event twice is harmless: a
resumed run that re-appends what it already wrote changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tether._errors import JournalError, RunLocked
from tether._events import EVENT_SCHEMA_VERSION, Event, dump_event, load_event

__all__ = ["BLOB_THRESHOLD", "JournalStore", "Record", "RunInfo", "RunLocked"]

BLOB_THRESHOLD = 4096
"""Strings longer than this (characters) are stored once as blobs and referenced."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run as the store lists it."""

    run_id: str
    agent: str
    status: str
    prompt: str
    created_at: float
    updated_at: float
    events: int
    parent_run_id: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """An event as stored: its sequence number, type and JSON text (blobs referenced)."""

    seq: int
    type: str
    data: str


def run_filters(
    placeholder: str,
    status: str | None,
    agent: str | None,
    since: float | None,
    until: float | None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (with the driver's ``placeholder``) and arguments of a run listing."""
    clauses: list[str] = []
    args: list[Any] = []
    for column, op, value in (
        ("status", "=", status),
        ("agent", "=", agent),
        ("created_at", ">=", since),
        ("created_at", "<=", until),
    ):
        if value is not None:
            clauses.append(f"{column} {op} {placeholder}")
            args.append(value)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args


def _extract_blobs(value: Any, blobs: dict[str, str]) -> Any:
    if isinstance(value, str) and len(value) > BLOB_THRESHOLD:
        digest = hashlib.sha256(value.encode()).hexdigest()
        blobs[digest] = value
        return {"$blob": digest}
    if isinstance(value, dict):
        return {k: _extract_blobs(v, blobs) for k, v in value.items()}
    if isinstance(value, list):
        return [_extract_blobs(v, blobs) for v in value]
    return value


def _inline_blobs(value: Any, blobs: dict[str, str]) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$blob" in value:
            digest = value["$blob"]
            if digest not in blobs:
                raise JournalError(f"the journal refers to blob {digest}, which is missing")
            return blobs[digest]
        return {k: _inline_blobs(v, blobs) for k, v in value.items()}
    if isinstance(value, list):
        return [_inline_blobs(v, blobs) for v in value]
    return value


def encode(events: Sequence[Event]) -> tuple[list[Record], dict[str, str]]:
    """Events as records, with long strings moved out into blobs."""
    blobs: dict[str, str] = {}
    records = []
    for e in events:
        data = _extract_blobs(dump_event(e), blobs)
        records.append(Record(e.seq, e.type, json.dumps(data, separators=(",", ":"))))
    return records, blobs


def decode(records: Sequence[Record], blobs: dict[str, str]) -> list[Event]:
    """Records back into events (refuses unknown schema versions)."""
    events: list[Event] = []
    for r in records:
        data = _inline_blobs(json.loads(r.data), blobs)
        event = load_event(data)
        events.append(event)  # type: ignore[arg-type]
    return events


def blob_refs(records: Sequence[Record]) -> set[str]:
    """The blob digests a set of records refers to."""
    refs: set[str] = set()
    for r in records:
        if '"$blob"' in r.data:
            _collect(json.loads(r.data), refs)
    return refs


def _collect(value: Any, refs: set[str]) -> None:
    if isinstance(value, dict):
        if len(value) == 1 and "$blob" in value:
            refs.add(value["$blob"])
            return
        for v in value.values():
            _collect(v, refs)
    elif isinstance(value, list):
        for v in value:
            _collect(v, refs)


class JournalStore(ABC):
    """Where run journals live. Implementations: SQLite (default) and PostgreSQL.

    All methods are async. Events of one run are appended in ``seq`` order;
    appending an event that is already stored is a no-op.
    """

    schema_version: int = EVENT_SCHEMA_VERSION

    @abstractmethod
    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        """Store events of a run (creating its row at ``run_started``, updating its status
        at ``run_finished``)."""

    @abstractmethod
    async def load(self, run_id: str) -> list[Event]:
        """A run's events in order.

        Raises:
            JournalError: the run is unknown, or a record has an unknown schema version.
        """

    @abstractmethod
    async def list_runs(
        self,
        *,
        status: str | None = None,
        agent: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[RunInfo]:
        """Runs, newest first, filtered by status, agent and creation time (epoch seconds)."""

    @abstractmethod
    async def acquire_lease(self, run_id: str, owner: str, ttl: float) -> bool:
        """Take (or renew) the run's lease for ``ttl`` seconds; False if another owner
        holds a lease that has not expired."""

    @abstractmethod
    async def release_lease(self, run_id: str, owner: str) -> None:
        """Give the lease back, if this owner holds it."""

    @abstractmethod
    async def prune(self, *, older_than: float | None = None, keep_last: int | None = None) -> int:
        """Delete runs created more than ``older_than`` seconds ago, or beyond the newest
        ``keep_last``; reclaim their space; return how many runs were deleted."""

    @abstractmethod
    async def size_bytes(self) -> int:
        """Bytes the store takes on disk (for the storage benchmark)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections."""
