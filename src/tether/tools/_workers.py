"""Worker threads for sync tools, which can be abandoned when a call times out.

Python cannot kill a thread. A sync tool that passes its timeout is therefore
*abandoned*: its result is ignored and the run goes on, while the thread
finishes (or never does) on its own. Abandoned threads are daemons, so they
never keep the process alive, and they do not count against the pool's size,
so a tool that hangs cannot starve the others.

Two things keep the thread hop cheap. Results are handed back to each event
loop in batches (one wake-up of the loop for many finished calls). And when
the loop has nothing else ready to run, the caller waits for a short call's
result directly, for at most :data:`SPIN_WAIT_S`, instead of paying for a
round trip through the loop's self-pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import weakref
from collections import deque
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any

__all__ = ["SPIN_WAIT_S", "Ticket", "WorkerPool", "default_pool"]

SPIN_WAIT_S = 0.001
"""The longest an idle event loop waits in place for a sync tool's result."""
_IDLE_EXIT_S = 60.0


class Ticket:
    """One submitted call: what to run, its result, and whether the caller abandoned it.

    The ticket is also the job in the pool's queue (no tuple per call), and the worker
    drops what it ran as soon as it has run it.
    """

    __slots__ = (
        "abandoned",
        "claimed",
        "ctx",
        "done",
        "finished",
        "fn",
        "future",
        "inbox",
        "kwargs",
        "loop",
        "ok",
        "reserved",
        "value",
        "waiting",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        inbox: _Inbox,
        ctx: contextvars.Context,
        fn: Callable[..., Any],
        kwargs: dict[str, Any],
    ) -> None:
        self.loop = loop
        self.inbox = inbox
        self.ctx = ctx
        self.fn = fn
        self.kwargs = kwargs
        self.future: asyncio.Future[Any] | None = None
        self.abandoned = False
        self.reserved = False  # an idle thread was counted off for it
        self.claimed = False
        self.waiting = False
        self.finished = False
        self.ok = False
        self.value: Any = None
        # Created (held) by a caller that waits in place; the worker releases it.
        self.done: threading.Lock | None = None

    def take(self) -> Any:
        """The result, taken directly by the caller (raises the call's exception)."""
        self.claimed = True
        if self.ok:
            return self.value
        raise self.value


class _Inbox:
    """Finished calls waiting to be handed back to one event loop.

    It refers to its loop weakly: the pool keeps inboxes by loop in a weak-keyed
    dict, whose entries would otherwise keep every loop that ever ran a sync tool.
    A ticket in flight holds its loop, so the loop lives while a call is handed back.
    """

    __slots__ = ("items", "lock", "loop", "pending")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = weakref.ref(loop)
        self.items: deque[Ticket] = deque()
        self.lock = threading.Lock()
        self.pending = False

    def put(self, ticket: Ticket) -> None:
        with self.lock:
            self.items.append(ticket)
            if self.pending:
                return
            self.pending = True
        with contextlib.suppress(RuntimeError):  # the loop closed while the tool ran
            ticket.loop.call_soon_threadsafe(self.drain)

    def drain(self) -> None:
        with self.lock:
            items, self.items = self.items, deque()
            self.pending = False
        for t in items:
            fut = t.future
            # taken directly, or abandoned after a timeout
            if fut is None or t.claimed or fut.done():
                continue
            if t.ok:
                fut.set_result(t.value)
            else:
                fut.set_exception(t.value)


def _loop_is_idle(loop: asyncio.AbstractEventLoop, wait: float) -> bool:
    # Uses the default loop's internals; any other loop (uvloop) takes the plain path.
    ready = getattr(loop, "_ready", None)
    scheduled = getattr(loop, "_scheduled", None)
    if ready is None or scheduled is None or ready:
        return False
    return not scheduled or scheduled[0].when() - loop.time() > wait


class WorkerPool:
    """A pool of daemon threads running sync tools.

    Args:
        max_workers: threads running tools at once; more calls wait their turn.
            Abandoned calls (timed out) do not count.
    """

    def __init__(self, max_workers: int = 16) -> None:
        self.max_workers = max_workers
        self._jobs: SimpleQueue[Ticket] = SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0  # threads serving the queue, abandoned calls left out
        self._idle = 0
        self._inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Inbox] = (
            weakref.WeakKeyDictionary()
        )
        self._last_inbox: _Inbox | None = None

    def _inbox(self, loop: asyncio.AbstractEventLoop) -> _Inbox:
        inbox = self._last_inbox  # nearly always the one loop: no lookup per call
        if inbox is not None and inbox.loop() is loop:
            return inbox
        inbox = self._inboxes.get(loop)
        if inbox is None:
            inbox = self._inboxes[loop] = _Inbox(loop)
        self._last_inbox = inbox
        return inbox

    def submit(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Ticket:
        """Start ``fn(**kwargs)`` in a worker; await :meth:`result` for its outcome."""
        loop = asyncio.get_running_loop()
        ticket = Ticket(loop, self._inbox(loop), contextvars.copy_context(), fn, kwargs)
        self._jobs.put(ticket)
        # A call from inside a sync tool (a nested agent run) must never wait for a slot
        # that its own callers hold: it gets a thread even past max_workers.
        # It gets a thread of its own, not an idle one's promise: a nested call must
        # not depend on the pool's counts being right while its callers wait on it.
        nested = getattr(_in_pool, "pool", None) is self
        with self._lock:
            if self._idle > 0 and not nested:
                self._idle -= 1
                ticket.reserved = True
                return ticket
            if self._threads >= self.max_workers and not nested:
                return ticket
            self._threads += 1
        threading.Thread(target=self._serve, name="tether-tool", daemon=True).start()
        return ticket

    async def result(self, ticket: Ticket) -> Any:
        """The call's return value (or its exception, raised)."""
        loop = ticket.loop
        if _loop_is_idle(loop, SPIN_WAIT_S):
            # While ``waiting`` is set, the worker leaves the result here instead of
            # waking the loop; the lock decides who saw the end of the call first.
            done = threading.Lock()
            done.acquire()
            with self._lock:
                if ticket.finished:
                    return ticket.take()
                ticket.done = done
                ticket.waiting = True
            done.acquire(timeout=SPIN_WAIT_S)
            with self._lock:
                ticket.waiting = False
                taken = ticket.finished
            if taken:
                return ticket.take()
        with self._lock:
            if ticket.finished:  # done before anyone waited: no wake-up was sent
                return ticket.take()
            fut = ticket.future = loop.create_future()
        try:
            return await fut
        except asyncio.CancelledError:
            # Its timeout, the run's wall-clock budget or a cancel: the thread is written
            # off, so a call that never returns cannot hold a slot of the pool for good.
            self.abandon(ticket)
            raise

    def abandon(self, ticket: Ticket) -> None:
        """Give up on a call (it timed out): its thread no longer counts against the pool."""
        with self._lock:
            if ticket.abandoned or ticket.finished:
                return
            ticket.abandoned = True
            self._threads -= 1
            spawn = not self._jobs.empty() and self._threads < self.max_workers
            if spawn:
                self._threads += 1
        if spawn:
            threading.Thread(target=self._serve, name="tether-tool", daemon=True).start()

    def _serve(self) -> None:
        _in_pool.pool = self
        jobs = self._jobs
        counted = False  # whether this thread is one of the pool's idle count
        while True:
            try:
                ticket = jobs.get(timeout=_IDLE_EXIT_S)
            except Empty:
                with self._lock:
                    if not counted:  # started for a job another thread took: leave
                        self._threads -= 1
                        return
                    if self._idle > 0:  # nobody reserved an idle thread: leave
                        self._idle -= 1
                        self._threads -= 1
                        return
                continue  # a job was reserved for an idle thread; it is on its way
            with self._lock:
                # The idle count stays exact: a counted thread taking a job nobody
                # reserved leaves it; a thread started for a job taking one reserved
                # for an idle thread leaves that idle thread counted.
                if counted and not ticket.reserved:
                    self._idle -= 1
                elif not counted and ticket.reserved:
                    self._idle += 1
                counted = False
            ctx, fn, kwargs, inbox = ticket.ctx, ticket.fn, ticket.kwargs, ticket.inbox
            del ticket.ctx, ticket.fn, ticket.kwargs, ticket.inbox  # held only while it runs
            try:
                ticket.value = ctx.run(fn, **kwargs)
                ticket.ok = True
            except BaseException as exc:  # handed to the awaiting task
                ticket.value = exc
            with self._lock:
                ticket.finished = True
                if ticket.done is not None:
                    ticket.done.release()
                direct = ticket.waiting or ticket.future is None
                if ticket.abandoned:  # this thread was written off; it may serve again
                    if self._threads >= self.max_workers:
                        return
                    self._threads += 1
                self._idle += 1
                counted = True
            if not direct:
                inbox.put(ticket)
            del ctx, fn, kwargs, inbox, ticket


_in_pool = threading.local()  # .pool: the pool whose worker this thread is

_DEFAULT: WorkerPool | None = None


def default_pool() -> WorkerPool:
    """The process-wide pool for sync tools."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = WorkerPool()
    return _DEFAULT
