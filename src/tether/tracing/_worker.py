"""Building spans off the runs' path: a thread that takes finished runs in batches.

A run hands its events over when it ends (a lock and an append). The thread wakes
when a batch of runs is waiting, when the oldest has waited ``delay`` seconds, or
when someone flushes, and builds their spans; the provider's span processor (a
``BatchSpanProcessor``) then exports them on a thread of its own. When runs end
faster than their spans can be built, the backlog is bounded: beyond it a run's
spans are dropped, and a warning says how many.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ._build import Job

__all__ = ["Builder"]

log = logging.getLogger("tether.tracing")


class Builder:
    """Builds the spans of finished runs on a daemon thread.

    Args:
        build: builds one run's spans.
        delay: the longest a finished run waits before its spans are built.
        batch: this many waiting runs wake the thread at once.
        backlog: the most runs that may wait; more are dropped.
    """

    def __init__(
        self,
        build: Callable[[Job], None],
        *,
        delay: float = 1.0,
        batch: int = 512,
        backlog: int = 8192,
    ) -> None:
        self._build = build
        self._delay = delay
        self._batch = batch
        self._backlog = backlog
        self._jobs: list[Job] = []
        self._cond = threading.Condition()
        self._busy = False
        self._hurry = 0
        self._stopped = False
        self._dropped = 0
        self._thread: threading.Thread | None = None

    def submit(self, job: Job) -> None:
        """Queue a finished run (cheap; never blocks on building)."""
        with self._cond:
            if self._stopped:
                inline = True
            elif len(self._jobs) >= self._backlog:
                self._dropped += 1
                if self._dropped == 1 or self._dropped % 1000 == 0:
                    log.warning(
                        "tether.tracing dropped the spans of %d runs: runs end faster than "
                        "their spans can be built",
                        self._dropped,
                    )
                return
            else:
                inline = False
                self._jobs.append(job)
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._loop, name="tether-tracing", daemon=True
                    )
                    self._thread.start()
                elif len(self._jobs) >= self._batch:
                    self._cond.notify_all()
        if inline:  # after shutdown (a run that outlived uninstrument): build here
            self._safe(job)

    def flush(self, timeout: float | None = None) -> bool:
        """Build every waiting run's spans now; False if ``timeout`` passed first."""
        with self._cond:
            self._hurry += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: not self._jobs and not self._busy, timeout)
            finally:
                self._hurry -= 1

    def shutdown(self, timeout: float | None = None) -> None:
        """Build what waits, then stop the thread (later runs are built where they end)."""
        self.flush(timeout)
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._stopped:
                    self._cond.wait()
                if not self._jobs:
                    return  # stopped, nothing left
                if not self._hurry and not self._stopped and len(self._jobs) < self._batch:
                    self._cond.wait(self._delay)  # gather a batch (woken early when asked)
                jobs, self._jobs = self._jobs, []
                self._busy = True
            for job in jobs:
                self._safe(job)
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _safe(self, job: Job) -> None:
        try:
            self._build(job)
        except Exception as exc:  # a bug in tracing must not take the process down
            # The error's type only: its message could hold a value from the run.
            log.warning("tether.tracing could not build a run's spans: %s", type(exc).__name__)
