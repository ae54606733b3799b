"""Worker threads for sync tools, which can be abandoned when a call times out.

Python cannot kill a thread. A sync tool that passes its timeout is therefore
*abandoned*: its result is ignored and the run goes on, while the thread
finishes (or never does) on its own. Abandoned threads are daemons, so they
never keep the process alive, and they do not count against the pool's size,
so a tool that hangs cannot starve the others.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections import deque
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

__all__ = ["WorkerPool", "default_pool"]



class Ticket:
    """One submitted call; lets the caller abandon it."""

    __slots__ = ("abandoned", "finished", "started")

    def __init__(self) -> None:
        self.started = False
        self.abandoned = False
        self.finished = False


_Job = tuple[
    contextvars.Context,
    Callable[..., Any],
    dict[str, Any],
    asyncio.AbstractEventLoop,
    "asyncio.Future[Any]",
    Ticket,
]


def _deliver(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.cancelled():  # the caller timed out and abandoned this call
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


class _Worker:
    __slots__ = ("jobs", "pool")

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.jobs: SimpleQueue[_Job | None] = SimpleQueue()
        threading.Thread(target=self._main, name="tether-tool", daemon=True).start()

    def _main(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            ctx, fn, kwargs, loop, fut, ticket = job
            try:
                value = ctx.run(fn, **kwargs)
                ok = True
            except BaseException as exc:  # delivered to the awaiting task
                value, ok = exc, False
            try:
                loop.call_soon_threadsafe(_deliver, fut, ok, value)
            except RuntimeError:  # the loop closed while the tool ran
                pass
            del job, value, fut
            if not self.pool._done(self, ticket):
                return


class WorkerPool:
    """A small pool of daemon threads running sync tools.

    Args:
        max_workers: threads running tools at once; more calls wait their turn.
            Abandoned calls (timed out) do not count.
        max_idle: threads kept alive while idle.
    """

    def __init__(self, max_workers: int = 32, max_idle: int = 8) -> None:
        self.max_workers = max_workers
        self.max_idle = max_idle
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy = 0
        self._waiting: deque[_Job] = deque()

    def submit(
        self, fn: Callable[..., Any], kwargs: dict[str, Any]
    ) -> tuple[asyncio.Future[Any], Ticket]:
        """Run ``fn(**kwargs)`` in a worker; the future resolves on the running loop."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        ticket = Ticket()
        job: _Job = (contextvars.copy_context(), fn, kwargs, loop, fut, ticket)
        with self._lock:
            if self._busy >= self.max_workers:
                self._waiting.append(job)
                return fut, ticket
            self._busy += 1
            ticket.started = True
            worker = self._idle.pop() if self._idle else None
        (worker or _Worker(self)).jobs.put(job)
        return fut, ticket

    def abandon(self, ticket: Ticket) -> None:
        """Give up on a call (it timed out): its thread no longer counts against the pool."""
        with self._lock:
            if ticket.finished or ticket.abandoned:
                return
            ticket.abandoned = True
            if ticket.started:
                self._busy -= 1
                self._start_waiting()

    @property
    def busy(self) -> int:
        """Calls running now, abandoned ones left out."""
        return self._busy

    def _start_waiting(self) -> None:
        # Called with the lock held.
        while self._waiting and self._busy < self.max_workers:
            job = self._waiting.popleft()
            if job[5].abandoned:
                continue
            self._busy += 1
            job[5].started = True
            _Worker(self).jobs.put(job)

    def _done(self, worker: _Worker, ticket: Ticket) -> bool:
        """A worker finished a job; True if it should stay for the next one."""
        with self._lock:
            ticket.finished = True
            if not ticket.abandoned:
                self._busy -= 1
            while self._waiting and self._busy < self.max_workers:
                job = self._waiting.popleft()
                if job[5].abandoned:
                    continue
                self._busy += 1
                job[5].started = True
                worker.jobs.put(job)
                return True
            if len(self._idle) < self.max_idle:
                self._idle.append(worker)
                return True
            return False


_DEFAULT: WorkerPool | None = None


def default_pool() -> WorkerPool:
    """The process-wide pool for sync tools."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = WorkerPool()
    return _DEFAULT
