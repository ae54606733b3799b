"""Event outlets: where a run's events go.

Every event a run records is handed to each of its outlets, in order, the moment
it is recorded (``emit``, which must be cheap and must not block); at the run's
durability points the loop awaits ``flush``. The stream to the caller and the
journal store are the first two outlets; a tracer is another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tether._events import Event, StreamEvent, TextDelta
from tether.journal import JournalStore

__all__ = ["JournalOutlet", "Outlet", "StreamOutlet"]


class Outlet:
    """Where a run's events go. Subclass it and override what you need."""

    def emit(self, event: StreamEvent) -> None:
        """Take one event (text deltas included) as it is recorded. Must not block."""

    async def flush(self) -> None:
        """Make what was emitted so far durable (or delivered)."""


class StreamOutlet(Outlet):
    """Hands every event, text deltas included, to a callable (a queue's ``put_nowait``)."""

    __slots__ = ("_sink",)

    def __init__(self, sink: Callable[[StreamEvent], None]) -> None:
        self._sink = sink

    def emit(self, event: StreamEvent) -> None:
        """Pass the event on."""
        self._sink(event)


class JournalOutlet(Outlet):
    """Writes a run's journal events to a store at each flush, in order, each once.

    Text deltas are not journaled. Flushes are serialised, so parallel tool calls
    that flush at once never write an event twice or out of order.
    """

    __slots__ = ("_lock", "_pending", "owner", "run_id", "store")

    def __init__(self, store: JournalStore, run_id: str, owner: str | None = None) -> None:
        self.store = store
        self.run_id = run_id
        self.owner = owner
        """The lease owner writing the run; once set, the store refuses anyone else's writes."""
        self._pending: list[Event] = []
        self._lock: asyncio.Lock | None = None

    def emit(self, event: StreamEvent) -> None:
        """Queue the event for the next flush."""
        if not isinstance(event, TextDelta):
            self._pending.append(event)

    async def flush(self) -> None:
        """Append the queued events to the store."""
        if not self._pending:
            return
        if self._lock is None:  # created here: the lock belongs to the running loop
            self._lock = asyncio.Lock()
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                await self.store.append(self.run_id, batch, owner=self.owner)
            except BaseException:
                self._pending[:0] = batch  # not written: keep them for the next flush
                raise
