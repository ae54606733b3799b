"""The journal store interface: one small abstract class, two implementations.

A store keeps, per run, one row of metadata (for listing, leases and
retention) and the run's events in order. Events are written append-only,
keyed by ``(run_id, seq)``. Writing the same event twice is harmless (a no-op);
writing a different event at a sequence number already taken fails loudly with
:class:`JournalConflict` and changes nothing: the writer has lost the run to
another process, and its events must never silently disappear.
"""

from __future__ import annotations

import hashlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from numbers import Integral, Real
from typing import Any

from pydantic import TypeAdapter

from tether._errors import ConfigError, JournalConflict, JournalError, RunLocked
from tether._events import EVENT_SCHEMA_VERSION, Event, dump_event, load_event
from tether._messages import AssistantMessage, ToolResultMessage, UserMessage
from tether._text import plain_text

__all__ = [
    "BLOB_THRESHOLD",
    "JournalCheck",
    "JournalConflict",
    "JournalStore",
    "Record",
    "RunInfo",
    "RunLocked",
    "Session",
    "Turn",
    "UnreadableRecord",
]


def check_id(value: object, what: str) -> str:
    """``value`` if it can be a run's or a session's id in every store: a non-empty str
    with no NUL and no unpaired surrogate (neither SQLite nor PostgreSQL keeps them);
    else a ConfigError that says so."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"a {what} is a non-empty str, got {value!r}")
    if "\x00" in value:
        raise ConfigError(f"a {what} cannot hold a NUL character, got {value!r}")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ConfigError(
            f"a {what} must be valid Unicode text (it holds an unpaired surrogate): {value!r}"
        ) from None
    return value


BLOB_THRESHOLD = 4096
"""Strings longer than this (characters) are stored once as blobs and referenced."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run as the store lists it.

    ``agent`` and ``prompt`` are the same in both stores: a NUL reads as U+FFFD and an
    unpaired surrogate as its escape (``\\udcff``). The run's ``run_started`` event
    keeps them exactly.
    """

    run_id: str
    agent: str
    status: str
    prompt: str
    created_at: float
    updated_at: float
    events: int
    parent_run_id: str | None = None


Turn = UserMessage | AssistantMessage | ToolResultMessage
"""A message of a conversation's history (the system message is the agent's own)."""


@dataclass(frozen=True, slots=True)
class Session:
    """A conversation as the store keeps it: what the next run in it continues from.

    Attributes:
        session_id: the conversation's id.
        turns: the turns a new run sees, oldest first (those after the summary).
        summary: a summary of the turns before ``turns``, once working memory wrote one.
        summarized: how many of the session's turns the summary covers.
        total: how many turns the session has (all of them stay stored).
    """

    session_id: str
    turns: list[Turn] = field(default_factory=list)
    summary: str | None = None
    summarized: int = 0
    total: int = 0


@cache
def _turns() -> TypeAdapter[list[Turn]]:
    return TypeAdapter(list[Turn])


def encode_turns(turns: Sequence[Turn]) -> list[str]:
    """Each turn as JSON text (ASCII, so unpaired surrogates survive any store)."""
    return [
        json.dumps(t, separators=(",", ":"), default=str)
        for t in _turns().dump_python(list(turns), mode="python")
    ]


def decode_turns(rows: Sequence[str]) -> list[Turn]:
    """Turns back from :func:`encode_turns` text."""
    return _turns().validate_python([json.loads(r) for r in rows])


def check_turns(turns: Sequence[object]) -> None:
    """Refuse what is not a turn of a conversation."""
    for t in turns:
        if not isinstance(t, UserMessage | AssistantMessage | ToolResultMessage):
            raise ConfigError(f"a session's turns are user, assistant and tool messages, got {t!r}")


@dataclass(frozen=True, slots=True)
class JournalCheck:
    """What :meth:`JournalStore.check` found.

    Attributes:
        orphan_runs: run ids that have events but no run row.
        empty_runs: run ids that have a row but no events.
        missing_blobs: blob digests that events refer to but the store lacks.
        unused_blobs: blobs no event refers to.
    """

    orphan_runs: list[str]
    empty_runs: list[str]
    missing_blobs: list[str]
    unused_blobs: int

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not (self.orphan_runs or self.empty_runs or self.missing_blobs)


@dataclass(frozen=True, slots=True)
class UnreadableRecord:
    """A journal record that does not read back as an event (damaged, or written by
    another version of tether).

    Attributes:
        run_id: the run whose journal holds it.
        seq: its sequence number.
        type: the event type its row names.
        problem: what is wrong with it.
    """

    run_id: str
    seq: int
    type: str
    problem: str

    def __str__(self) -> str:
        return f"event {self.seq} ({self.type}) of run {self.run_id} cannot be read: {self.problem}"


@dataclass(frozen=True, slots=True)
class Record:
    """An event as stored: its sequence number, type and JSON text (blobs referenced)."""

    seq: int
    type: str
    data: str


_MOST = 2**63 - 1
"""The largest whole number both stores take (SQLite's INTEGER, PostgreSQL's bigint);
a larger count of runs is this one, which no journal reaches."""


def check_limit(limit: object) -> int:
    """A listing's ``limit``: a whole number of at least 1 (a larger one than the stores
    take lists every run)."""
    return _whole(limit, "limit is a whole number of runs to list, at least 1", least=1)


def _whole(value: object, valid: str, *, least: int) -> int:
    """``value`` as an int, if it is a whole number (not a bool) of at least ``least``;
    capped at :data:`_MOST`."""
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < least:
        raise ConfigError(f"{valid}; got {value!r}")
    return min(int(value), _MOST)


def _finite(value: object, valid: str, *, least: float = -math.inf) -> float:
    """``value`` as a float, if it is a finite number (not a bool) of at least ``least``."""
    if not isinstance(value, bool) and isinstance(value, Real):
        try:
            number = float(value)
        except OverflowError:  # an int beyond any float
            number = math.inf
        if math.isfinite(number) and number >= least:
            return number
    raise ConfigError(f"{valid}; got {value!r}")


def summary_text(text: str) -> str:
    """Text for a run's plain columns (its agent, prompt and cancel reason), the same in
    both stores: PostgreSQL text holds neither NUL nor unpaired surrogates, so a NUL
    becomes U+FFFD and a surrogate its escape (``\\udcff``). Only the listing sees
    this; the run's events keep the exact text."""
    return plain_text(text).replace("\x00", "\ufffd")


def run_info(row: Sequence[Any]) -> RunInfo:
    """A listed run from its row (run_id, agent, status, prompt, created_at, updated_at,
    events, parent_run_id), its text as :func:`summary_text` writes it (a NUL that an
    older SQLite journal kept reads as U+FFFD, as it is written now)."""
    run_id, agent, status, prompt, *rest = row
    return RunInfo(run_id, summary_text(agent), status, summary_text(prompt), *rest)


def run_filters(
    placeholder: str,
    status: str | None,
    agent: str | None,
    since: float | None,
    until: float | None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (with the driver's ``placeholder``) and arguments of a run listing.

    Raises:
        ConfigError: a status or agent that is not a str, or a time that is not a
            finite number of epoch seconds.
    """
    clauses: list[str] = []
    args: list[Any] = []
    for column, op, value in (
        ("status", "=", _name(status, "status")),
        ("agent", "=", _name(agent, "agent")),
        ("created_at", ">=", _time(since, "since")),
        ("created_at", "<=", _time(until, "until")),
    ):
        if value is not None:
            clauses.append(f"{column} {op} {placeholder}")
            args.append(value)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args


def _name(value: object, what: str) -> str | None:
    """A status or agent to match, as the stores keep it (see :func:`summary_text`)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{what} is a str to match runs by, got {value!r}")
    return summary_text(value)


def _time(value: object, what: str) -> float | None:
    if value is None:
        return None
    return _finite(
        value,
        f"{what} is a time in epoch seconds, a finite number (such as time.time() - 3600)",
    )


# How values are encoded in a stored record (from event schema version 3 on):
# a string longer than BLOB_THRESHOLD becomes {"$blob": digest}, the digest of its
# JSON text, which the blobs table holds (JSON text is ASCII, so any string, unpaired
# surrogates included, round-trips); a user's dict with a key starting with "$" is
# wrapped as {"$esc": {...}}, so no user value can be mistaken for a marker.
# Records of versions 1 and 2 held blobs as raw text and no escapes; they still load.
_ESCAPING_FROM = 3


def _extract_blobs(value: Any, blobs: dict[str, str]) -> Any:
    if isinstance(value, str):
        if len(value) <= BLOB_THRESHOLD:
            return value
        text = json.dumps(value)
        digest = hashlib.sha256(text.encode()).hexdigest()
        blobs[digest] = text
        return {"$blob": digest}
    if isinstance(value, dict):
        out = {k: _extract_blobs(v, blobs) for k, v in value.items()}
        if any(isinstance(k, str) and k.startswith("$") for k in value):
            return {"$esc": out}
        return out
    if isinstance(value, list):
        return [_extract_blobs(v, blobs) for v in value]
    return value


def _inline_blobs(value: Any, blobs: dict[str, str], escaped: bool) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$blob" in value:
            digest = value["$blob"]
            if digest not in blobs:
                raise JournalError(f"the journal refers to blob {digest}, which is missing")
            text = blobs[digest]
            return json.loads(text) if escaped else text
        if escaped and len(value) == 1 and "$esc" in value:
            return {k: _inline_blobs(v, blobs, escaped) for k, v in value["$esc"].items()}
        return {k: _inline_blobs(v, blobs, escaped) for k, v in value.items()}
    if isinstance(value, list):
        return [_inline_blobs(v, blobs, escaped) for v in value]
    return value


def encode(events: Sequence[Event]) -> tuple[list[Record], dict[str, str]]:
    """Events as records, with long strings moved out into blobs and user dicts that
    look like markers escaped."""
    blobs: dict[str, str] = {}
    records = []
    for e in events:
        data = _extract_blobs(dump_event(e), blobs)
        records.append(Record(e.seq, e.type, json.dumps(data, separators=(",", ":"))))
    return records, blobs


_DAMAGED = (
    "the journal is damaged there: `tether doctor` lists every unreadable record; restore "
    "the journal from a backup to read this run (the journal's other runs are not affected)"
)


def decode(
    records: Sequence[Record],
    blobs: dict[str, str],
    run_id: str = "",
    skipped: list[UnreadableRecord] | None = None,
) -> list[Event]:
    """Records back into events.

    Raises:
        JournalError: a record does not read back as an event (an unknown schema
            version, a damaged record): the message names it and says what to do.
            With ``skipped`` given, such records are added to it and left out instead.
    """
    events: list[Event] = []
    for r in records:
        try:
            raw = json.loads(r.data)
        except ValueError as exc:
            problem = f"it is not valid JSON ({exc})"
            _unreadable(UnreadableRecord(run_id, r.seq, r.type, problem), skipped)
            continue
        version = raw.get("v") if isinstance(raw, dict) else None
        escaped = type(version) is int and version >= _ESCAPING_FROM
        try:
            event = load_event(_inline_blobs(raw, blobs, escaped))
        except JournalError as exc:
            newer = type(version) is int and version > EVENT_SCHEMA_VERSION
            _unreadable(UnreadableRecord(run_id, r.seq, r.type, str(exc)), skipped, newer=newer)
            continue
        except (ValueError, TypeError, AttributeError) as exc:  # markers that do not fit
            problem = f"its blob or escape markers are malformed ({type(exc).__name__}: {exc})"
            _unreadable(UnreadableRecord(run_id, r.seq, r.type, problem), skipped)
            continue
        events.append(event)  # type: ignore[arg-type]
    return events


def _unreadable(
    record: UnreadableRecord, skipped: list[UnreadableRecord] | None, *, newer: bool = False
) -> None:
    """Skip the record when reading past damage, else refuse it with a JournalError."""
    if skipped is None:
        raise JournalError(str(record) if newer else f"{record}; {_DAMAGED}")
    skipped.append(record)


def blob_refs(records: Sequence[Record]) -> set[str]:
    """The blob digests a set of records refers to."""
    refs: set[str] = set()
    for r in records:
        if '"$blob"' in r.data:
            try:
                value = json.loads(r.data)
            except ValueError:  # a damaged record: decode reports it
                continue
            _collect(value, refs)
    return refs


def _collect(value: Any, refs: set[str]) -> None:
    if isinstance(value, dict):
        if len(value) == 1 and "$blob" in value and isinstance(value["$blob"], str):
            refs.add(value["$blob"])
            return
        inner = value["$esc"] if len(value) == 1 and isinstance(value.get("$esc"), dict) else value
        for v in inner.values():
            _collect(v, refs)
    elif isinstance(value, list):
        for v in value:
            _collect(v, refs)


def same_record(stored: str, new: str) -> bool:
    """True when two stored forms of an event are the same event."""
    if stored == new:
        return True
    try:
        return bool(json.loads(stored) == json.loads(new))
    except ValueError:  # a damaged stored record is not the event being written
        return False


class JournalStore(ABC):
    """Where run journals live. Implementations: SQLite (default) and PostgreSQL.

    All methods are async. Events of one run are appended in ``seq`` order;
    appending an event that is already stored is a no-op.
    """

    schema_version: int = EVENT_SCHEMA_VERSION

    @abstractmethod
    async def append(
        self, run_id: str, events: Sequence[Event], *, owner: str | None = None
    ) -> None:
        """Store events of a run in one transaction (creating its row at ``run_started``,
        updating its status at ``run_finished``).

        Args:
            run_id: the run.
            events: its next events.
            owner: the lease owner writing them; when given, the write is refused unless
                this owner holds the run's lease.

        Raises:
            JournalConflict: a different event is stored at one of these sequence numbers.
            RunLocked: ``owner`` does not hold the run's lease.
        """

    @abstractmethod
    async def load(self, run_id: str) -> list[Event]:
        """A run's events in order.

        Raises:
            JournalError: the run is unknown, or a record has an unknown schema version.
        """

    async def load_readable(self, run_id: str) -> tuple[list[Event], list[UnreadableRecord]]:
        """A run's events that can be read, in order, and the records that cannot.

        For tools that show a damaged journal (``tether runs``, ``tether doctor``): the
        unreadable records are skipped, so the events may have gaps. Running, resuming
        and replaying a run use :meth:`load`, which refuses such a journal.

        The built-in stores read past damage; a store of your own that does not
        override this reads as :meth:`load` does (a damaged record raises).

        Raises:
            JournalError: the run is unknown.
        """
        return await self.load(run_id), []

    async def unreadable_records(self) -> list[UnreadableRecord]:
        """Every record of every run that does not read back as an event (what
        ``tether doctor`` reports besides :meth:`check`). Reads the whole journal."""
        found: list[UnreadableRecord] = []
        for info in await self.list_runs(limit=_EVERY_RUN):
            try:
                found += (await self.load_readable(info.run_id))[1]
            except JournalError:  # a run row without events: check() reports it
                continue
        return found

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
        """Runs, newest first, filtered by status, agent and creation time (epoch seconds).

        A ``limit`` larger than the stores take lists every run.

        Raises:
            ConfigError: ``limit`` is not a whole number of at least 1, ``since`` or
                ``until`` not a finite number, ``status`` or ``agent`` not a str.
        """

    @abstractmethod
    async def acquire_lease(self, run_id: str, owner: str, ttl: float) -> bool:
        """Take (or renew) the run's lease for ``ttl`` seconds; False if another owner
        holds a lease that has not expired."""

    @abstractmethod
    async def release_lease(self, run_id: str, owner: str) -> None:
        """Give the lease back, if this owner holds it."""

    @abstractmethod
    async def request_cancel(self, run_id: str, reason: str = "") -> bool:
        """Record that a person asked for the run to be cancelled.

        The process holding the run's lease polls for it and cancels the run; a resume
        refuses the run. The first request's reason is kept: asking again changes
        nothing.

        Returns:
            True when this call recorded the request, False when one was already there.

        Raises:
            JournalError: the run is unknown.
        """

    @abstractmethod
    async def cancel_requested(self, run_id: str) -> str | None:
        """The reason given when the run's cancel was requested (``""`` when none was
        given), or None when nobody asked; cheap enough to poll every half second."""

    @abstractmethod
    async def prune(self, *, older_than: float | None = None, keep_last: int | None = None) -> int:
        """Delete runs created more than ``older_than`` seconds ago, or beyond the newest
        ``keep_last``; reclaim their space; return how many runs were deleted.

        Never deletes a live run (one holding a lease, or just started and about to
        take one). A run, its events and the blobs only it used go in one transaction.

        Raises:
            ConfigError: ``older_than`` is not a finite number of seconds of 0 or more,
                or ``keep_last`` not a whole number of 0 or more (a larger one than the
                stores take keeps every run); nothing is deleted.
        """

    async def load_session(self, session_id: str) -> Session:
        """What a new run in the conversation ``session_id`` continues from (an unknown
        session is an empty one).

        Raises:
            ConfigError: this store does not keep conversations.
        """
        raise ConfigError(f"{type(self).__name__} does not keep conversations (sessions)")

    async def append_session(
        self,
        session_id: str,
        run_id: str,
        turns: Sequence[Turn],
        *,
        summary: str | None = None,
        summarized: int = 0,
    ) -> None:
        """Add a finished run's turns to its conversation, once per run (a second call for
        the same run changes nothing, so a resumed run never adds its turns twice).

        ``summary`` replaces the session's summary when it covers more turns
        (``summarized``) than the one stored, never fewer.

        Raises:
            ConfigError: this store does not keep conversations.
        """
        raise ConfigError(f"{type(self).__name__} does not keep conversations (sessions)")

    async def session_history(self, session_id: str) -> list[Turn]:
        """Every turn of a conversation, oldest first (summarised ones included).

        Raises:
            ConfigError: this store does not keep conversations.
        """
        raise ConfigError(f"{type(self).__name__} does not keep conversations (sessions)")

    @abstractmethod
    async def check(self) -> JournalCheck:
        """Look for damage: events without a run, runs without events, missing blobs."""

    @abstractmethod
    async def size_bytes(self) -> int:
        """Bytes the store takes on disk (for the storage benchmark)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections."""


_EVERY_RUN = 2**62
"""A listing limit no journal reaches."""

LIVE_GRACE = 60.0
"""Seconds after its last write during which a running run without a lease is left
alone by prune (it is between journaling ``run_started`` and taking its lease)."""


def check_prune_args(older_than: object, keep_last: object) -> tuple[float | None, int | None]:
    """``older_than`` and ``keep_last`` as the stores use them, refused (a ConfigError,
    before anything is deleted) unless the age is a finite number of seconds and the count
    a whole number, neither negative (a negative offset would match every run). A count
    larger than the stores take keeps every run."""
    age = None
    if older_than is not None:
        age = _finite(
            older_than,
            "older_than is an age in seconds, a finite number of 0 or more (86400 for a day)",
            least=0,
        )
    keep = None
    if keep_last is not None:
        keep = _whole(keep_last, "keep_last is a whole number of runs to keep, 0 or more", least=0)
    return age, keep


def conflict(run_id: str, seq: int) -> JournalConflict:
    """The error for a different event at a taken sequence number."""
    return JournalConflict(
        f"run {run_id}: another event is already journaled at sequence number {seq}; "
        "another process has written this run (this one lost it) and nothing was written"
    )
