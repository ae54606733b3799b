"""Cancelling a run from any process: a request in the store that the run acts on.

:func:`cancel_run` records the request in the run's row. A live run's process sees it
beside its lease renewal (:class:`~tether.run.Lease` looks every half second), cancels
the run's task, and the run ends ``interrupted`` with the reason kind ``cancelled``,
journaled, its lease released. A run that is not live (stopped to wait for a person,
or left by a process that died) is ended here, by appending its end to the journal
under the run's lease. A cancelled run cannot be resumed: :func:`refuse_cancelled` is
what ``Agent.resume`` asks.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Literal

from tether._errors import ConfigError, UsageError
from tether._events import Event, RunFinished
from tether._usage import Budget, BudgetTracker, Usage
from tether.journal import JournalStore
from tether.journal._store import check_id

from ._detect import LoopPolicy, ProgressMonitor
from ._durable import LEASE_TTL, check_wait, requested_cancel_reason
from ._fold import fold_all
from ._state import RunState

__all__ = ["CancelOutcome", "cancel_run", "refuse_cancelled"]

CancelOutcome = Literal["cancelled", "requested", "already_cancelled"]
"""What :func:`cancel_run` did: ended the run (or saw its process end it), recorded a
request that a live run's process acts on, or found the run cancelled already."""

_LIVE_GRACE = 5.0
"""Seconds after its last event during which an unfinished run without a lease is
taken to be starting (between journaling ``run_started`` and taking its lease), so its
own process is left to end it."""


async def cancel_run(
    store: JournalStore, run_id: str, *, reason: str = "", wait: float = 0.0
) -> CancelOutcome:
    """Cancel a run from any process: one that is running, or one that waits.

    A live run (another process holds its lease) sees the request within about a
    second, ends ``interrupted`` with ``reason.kind == "cancelled"`` (``reason`` in its
    message) and releases its lease. A run that is not live (interrupted and waiting
    for a person's decision, or left by a process that died) is ended here: its end
    is appended to the journal. Either way the run cannot be resumed afterwards.
    Cancelling a run again is harmless.

    Args:
        store: the run's journal store.
        run_id: the run.
        reason: why, for the journal and for whoever reads it (a str; ``""``, the
            default, for none).
        wait: seconds to wait for a live run to end, a finite number of 0 or more (0:
            return once the request is recorded).

    Returns:
        ``"cancelled"`` once the journal shows the run ended cancelled,
        ``"requested"`` when a live run's process will end it (``wait`` ran out),
        ``"already_cancelled"`` when it had been cancelled before.

    Raises:
        ConfigError: ``store`` is not a journal store, ``run_id`` is not a run id (a
            non-empty str), ``reason`` is not a str, or ``wait`` is not a finite number
            of seconds of 0 or more; nothing was recorded.
        JournalError: the run is not in the store.
        UsageError: the run has already finished (completed, gave up or failed), or
            finished before the request reached it.
    """
    seconds = _checked(store, run_id, reason, wait)
    events = await store.load(run_id)
    _refuse_finished(run_id, events)
    fresh = await store.request_cancel(run_id, reason)
    if _ended_cancelled(events):
        return "cancelled" if fresh else "already_cancelled"
    said = await store.cancel_requested(run_id)
    said = reason if said is None else said  # the first request's reason wins
    last = events[-1]
    dead_or_waiting = isinstance(last, RunFinished) or time.time() - last.at > _LIVE_GRACE
    if dead_or_waiting:
        owner = f"cancel:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        if await store.acquire_lease(run_id, owner, LEASE_TTL):
            try:
                events = await store.load(run_id)  # what it says now, under the lease
                _refuse_finished(run_id, events)
                await _append_end(store, run_id, events, said, owner)
            finally:
                await store.release_lease(run_id, owner)
            return "cancelled"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        events = await store.load(run_id)
        if _ended_cancelled(events):
            return "cancelled"
        _refuse_finished(run_id, events, "before the cancel request reached it")
    return "requested"


async def refuse_cancelled(
    store: JournalStore, run_id: str, events: Sequence[Event], owner: str
) -> None:
    """Refuse to go on with a run a person cancelled; end its journal first if the
    process that held it died before it could.

    ``owner`` must hold the run's lease.

    Raises:
        UsageError: the run was cancelled.
    """
    said = await store.cancel_requested(run_id)
    if said is None:
        return
    await _append_end(store, run_id, events, said, owner)
    because = f": {said}" if said else ""
    raise UsageError(
        f"run {run_id} was cancelled{because}; a cancelled run cannot be resumed "
        "(fork it to go on from an earlier point)"
    )


def _checked(store: object, run_id: object, reason: object, wait: object) -> float:
    """``wait`` in seconds, once every argument of :func:`cancel_run` is checked: a bad
    one found after the request is recorded would leave the run cancelled anyway.

    Raises:
        ConfigError: an argument is not what :func:`cancel_run` takes.
    """
    if not isinstance(store, JournalStore):
        raise ConfigError(
            "cancel_run takes the run's journal store first, a tether.journal.JournalStore "
            f"such as open_store('runs.db'); got {store!r}"
        )
    check_id(run_id, "run id")
    if not isinstance(reason, str):
        raise ConfigError(
            "cancel_run(reason=...) is a str saying why, e.g. reason='the customer "
            f"withdrew' (leave it out for none); got {reason!r}"
        )
    return check_wait(wait)


def _refuse_finished(run_id: str, events: Sequence[Event], when: str = "") -> None:
    last = events[-1]
    if isinstance(last, RunFinished) and last.status != "interrupted":
        at = f" {when}" if when else ""
        raise UsageError(
            f"run {run_id} has already finished{at} ({last.status}: {last.reason.kind}); "
            "a finished run cannot be cancelled"
        )


def _ended_cancelled(events: Sequence[Event]) -> bool:
    last = events[-1]
    return isinstance(last, RunFinished) and last.reason.kind == "cancelled"


async def _append_end(
    store: JournalStore, run_id: str, events: Sequence[Event], said: str, owner: str
) -> None:
    """Journal the run's cancelled end, unless it has one."""
    if _ended_cancelled(events):
        return
    last = events[-1]
    end = RunFinished(
        run_id=run_id,
        seq=last.seq + 1,
        at=time.time(),
        status="interrupted",
        reason=requested_cancel_reason(said),
        usage=last.usage if isinstance(last, RunFinished) else _usage_of(events),
    )
    await store.append(run_id, [end], owner=owner)


def _usage_of(events: Sequence[Event]) -> Usage:
    """What a run used, folded from its journal as a resume would."""
    st = RunState([], BudgetTracker(Budget()), ProgressMonitor(LoopPolicy()))
    fold_all(st, events)
    return st.tracker.usage.copy()
