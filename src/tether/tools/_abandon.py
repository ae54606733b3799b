"""Bounding an async call that may refuse to stop: cancel it, then abandon it.

``asyncio.timeout`` cancels the code it wraps and then waits for it to end, however
long that takes: a tool that catches :class:`asyncio.CancelledError` and goes on
would hold its run forever. :func:`run_within` runs the call in a task of its own
instead. At the deadline the task is cancelled; if it has not ended
:data:`CANCEL_GRACE_S` later it is abandoned: its coroutine is closed (which raises
:class:`GeneratorExit` inside it, where ``except CancelledError`` does not catch it,
so its ``finally`` blocks run) and the caller goes on at once, never awaiting it.

The task costs a little, so only calls that have a deadline (a tool's timeout, the
run's wall-clock budget) go through here; the others are awaited directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["CANCEL_GRACE_S", "CallExpired", "run_within"]

log = logging.getLogger("tether.tools")

T = TypeVar("T")

CANCEL_GRACE_S = 0.5
"""How long a call cancelled at its deadline may take to end before it is abandoned."""

_ABANDONED: set[asyncio.Task[Any]] = set()
"""Abandoned tasks still running: held so that they are not destroyed while pending;
each one leaves the set when it ends."""


class CallExpired(TimeoutError):
    """tether's own deadline for a call passed (internal: never leaves a run).

    A :class:`TimeoutError` that a tool raises itself is that tool's error, not this.
    """


async def _settle(aw: Coroutine[Any, Any, T]) -> tuple[bool, Any]:
    """``aw``'s outcome as a value, so that no exception is left on the task (no
    "exception was never retrieved"), and a ``SystemExit`` raised by a tool does not
    leave the event loop (a task re-raises it there)."""
    try:
        return True, await aw
    except GeneratorExit:  # the coroutine is being closed: let it close
        raise
    except BaseException as exc:  # handed to the caller, which raises it
        return False, exc


async def run_within(aw: Coroutine[Any, Any, T], seconds: float, what: str) -> T:
    """Await ``aw`` for at most ``seconds``.

    Args:
        aw: the call, not started yet.
        seconds: how long it may run.
        what: the call, for the log ("tool 'fetch'").

    Raises:
        CallExpired: the time was up; the call was cancelled (and abandoned when it
            did not end within :data:`CANCEL_GRACE_S`).
        asyncio.CancelledError: the caller was cancelled; so was the call.
        BaseException: what ``aw`` raised.
    """
    task = asyncio.get_running_loop().create_task(_settle(aw), name=f"tether {what}")
    try:
        await asyncio.wait((task,), timeout=max(seconds, 0.0))
    except asyncio.CancelledError:
        await _stop(task, aw, what, "its run was cancelled")
        raise
    except GeneratorExit:  # the caller was abandoned itself: no waiting while closed
        _abandon(task, what, "its caller was abandoned")
        raise
    if not task.done():
        await _stop(task, aw, what, f"its deadline ({seconds:.3g} s) passed")
        raise CallExpired(f"{what} did not end within {seconds:.3g} s")
    ok, value = task.result()
    if ok:
        return value  # type: ignore[no-any-return]
    try:
        raise value
    finally:
        del value  # no cycle through the traceback's frame


async def _stop(task: asyncio.Task[Any], aw: Coroutine[Any, Any, Any], what: str, why: str) -> None:
    """Cancel the call; abandon it when it has not ended within the grace."""
    task.cancel()
    try:
        await asyncio.wait((task,), timeout=CANCEL_GRACE_S)
    finally:  # a second cancel of the caller abandons the call at once
        if task.done():
            aw.close()  # a call cancelled before it started was never awaited: no warning
        else:
            _abandon(task, what, why)


def _abandon(task: asyncio.Task[Any], what: str, why: str) -> None:
    if task.done():
        return
    _ABANDONED.add(task)
    task.add_done_callback(_forget)
    try:
        task.get_coro().close()
    except RuntimeError:  # it caught GeneratorExit too and went on: nothing stops it
        log.warning(
            "tether: %s was cancelled because %s, but it neither ended within %g s nor "
            "let itself be closed; it was abandoned and is still running. Let "
            "asyncio.CancelledError and GeneratorExit propagate out of it.",
            what,
            why,
            CANCEL_GRACE_S,
        )
        return
    task.cancel()  # wakes the task, which then ends: its coroutine is closed
    log.warning(
        "tether: %s was cancelled because %s but did not end within %g s; it was "
        "abandoned. Let asyncio.CancelledError propagate out of it (re-raise it after "
        "cleaning up).",
        what,
        why,
        CANCEL_GRACE_S,
    )


def _forget(task: asyncio.Task[Any]) -> None:
    _ABANDONED.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a closed coroutine's task ends with a RuntimeError
