"""Event outlets: where a run's events go.

Every event a run records is handed to each of its outlets, in order, the moment
it is recorded (``emit``, which must be cheap and must not block); at the run's
durability points the loop awaits ``flush``. The stream to the caller and the
journal store are the first two outlets; a tracer is another.

An outlet may also give a context to enter while the work an event begins runs
(:meth:`Outlet.around`: a tracer makes its span current there), and code that wants
an outlet on every run in the process (``tether.tracing.instrument``) registers a
factory with :func:`add_outlet_factory`. Neither costs anything when unused.

An outlet observes a run; it never changes it. When an outlet (a tracer, a metrics
exporter) raises from ``emit``, ``flush`` or ``around``, or a factory raises, the
error is logged (the first time, per outlet and run) and the run goes on as if the
outlet were not there. Only an :attr:`Outlet.essential` outlet fails the run: the
journal, which is what makes a run durable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from tether._events import Event, StreamEvent, TextDelta
from tether.journal import JournalStore

__all__ = [
    "JournalOutlet",
    "Outlet",
    "OutletFactory",
    "StreamOutlet",
    "add_outlet_factory",
    "factory_outlets",
    "remove_outlet_factory",
]

log = logging.getLogger("tether")


class Outlet:
    """Where a run's events go. Subclass it and override what you need.

    An outlet that raises is logged and left out of the run's outcome (see the module
    docstring), unless it is :attr:`essential`.
    """

    essential: ClassVar[bool] = False
    """True when the run must fail if this outlet does (the journal: without it the run
    is not durable); False (the default) when its failures are logged and the run goes on."""

    def emit(self, event: StreamEvent) -> None:
        """Take one event (text deltas included) as it is recorded. Must not block."""

    async def flush(self) -> None:
        """Make what was emitted so far durable (or delivered)."""

    def around(self, event: StreamEvent) -> AbstractContextManager[object] | None:
        """A context to enter while the work ``event`` began runs, or None (the default).

        The run enters it around its whole execution (``event`` is its ``run_started``,
        journaled earlier on a resume), around each model call (``model_requested``)
        and around each tool call (``tool_call_started``), in the task doing that work:
        a tracer makes the span of that work current there. Must be cheap.
        """
        return None


OutletFactory = Callable[[Any], Outlet | None]
"""Makes an outlet for a new :class:`~tether.run.Run` (its one argument), or None."""

_factories: list[OutletFactory] = []


def add_outlet_factory(factory: OutletFactory) -> None:
    """Give every run created from now on, in this process, an outlet made by ``factory``."""
    if factory not in _factories:
        _factories.append(factory)


def remove_outlet_factory(factory: OutletFactory) -> None:
    """Stop giving new runs ``factory``'s outlets (runs already going keep theirs)."""
    if factory in _factories:
        _factories.remove(factory)


def factory_outlets(run: Any) -> list[Outlet]:
    """The outlets the registered factories make for a new run (none registered: none)."""
    if not _factories:
        return []
    made: list[Outlet] = []
    for factory in tuple(_factories):
        try:
            outlet = factory(run)
        except Exception:
            log.exception(
                "tether: the outlet factory %r failed for run %s; the run goes on without its "
                "outlet",
                factory,
                getattr(run, "run_id", "?"),
            )
            continue
        if outlet is not None:
            made.append(outlet)
    return made


class StreamOutlet(Outlet):
    """Hands every event, text deltas included, to a callable (a queue's ``put_nowait``).

    It is :attr:`~Outlet.essential`: it is how ``run_stream``'s caller sees the run.
    """

    essential = True

    __slots__ = ("_sink",)

    def __init__(self, sink: Callable[[StreamEvent], None]) -> None:
        self._sink = sink

    def emit(self, event: StreamEvent) -> None:
        """Pass the event on."""
        self._sink(event)


class JournalOutlet(Outlet):
    """Writes a run's journal events to a store at each flush, in order, each once.

    Text deltas are not journaled. Flushes are serialised, so parallel tool calls
    that flush at once never write an event twice or out of order. It is
    :attr:`~Outlet.essential`: a run whose journal cannot be written fails.
    """

    essential = True

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
