"""Sync tools in a child process, killed at their timeout.

A thread cannot be killed, so a sync tool in a worker thread is only abandoned
at its timeout. A tool declared with ``isolation="process"`` runs in a child
process instead (started with ``spawn``, so the function and its arguments must
be picklable: a module-level function). At the timeout the child is killed
(SIGKILL), so its work really stops; a side effect it had already made stays
made.

:class:`ProcessLimits` bound what the child may use (address space, CPU seconds,
open files), set with ``setrlimit`` in the child before the tool runs; a limit that
trips ends the call with an error that names it, never the run. A tool that calls
``sys.exit`` (or raises ``KeyboardInterrupt``) ends the call, not the parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from tether._errors import ConfigError

__all__ = ["ProcessLimits", "ToolLimitExceeded", "run_in_process"]


@dataclass(frozen=True, slots=True)
class ProcessLimits:
    """What a tool run with ``isolation="process"`` may use; None is no limit.

    Args:
        memory_mb: address space of the child, in MiB (allocations past it fail).
        cpu_seconds: CPU time of the child (it is killed past it).
        open_files: file descriptors the child may hold open.
    """

    memory_mb: int | None = 1024
    cpu_seconds: int | None = 60
    open_files: int | None = 256

    def __post_init__(self) -> None:
        for name in ("memory_mb", "cpu_seconds", "open_files"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ConfigError(
                    f"ProcessLimits.{name} must be a positive int or None, got {value!r}"
                )


class ToolLimitExceeded(RuntimeError):
    """A tool's process passed one of its limits, or tried to exit; the message says which."""


def _apply(limits: ProcessLimits) -> None:
    import resource  # POSIX only: imported in the child, where the limits apply

    def cap(kind: int, value: int, grace: int = 0) -> None:
        _soft, hard = resource.getrlimit(kind)
        top = value + grace if hard == resource.RLIM_INFINITY else min(value + grace, hard)
        resource.setrlimit(kind, (min(value, top), top))

    if limits.memory_mb is not None:
        cap(resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024)
    if limits.cpu_seconds is not None:
        # SIGXCPU at the soft limit (reported as such); SIGKILL a second later.
        cap(resource.RLIMIT_CPU, limits.cpu_seconds, grace=1)
    if limits.open_files is not None:
        cap(resource.RLIMIT_NOFILE, limits.open_files)


_CTX = multiprocessing.get_context("spawn")


def _child(
    fn: Callable[..., Any], kwargs: dict[str, Any], conn: Connection, limits: ProcessLimits | None
) -> None:
    try:
        if limits is not None:
            _apply(limits)
        result: tuple[bool, Any] = (True, fn(**kwargs))
    except MemoryError:
        mb = limits.memory_mb if limits is not None else None
        result = (False, ToolLimitExceeded(f"it ran out of memory (limit {mb} MiB)"))
    except (SystemExit, KeyboardInterrupt) as exc:  # the parent must never receive these
        result = (False, ToolLimitExceeded(f"it tried to exit ({type(exc).__name__}: {exc})"))
    except BaseException as exc:
        result = (False, exc)
    try:
        conn.send(result)
    except OSError:
        pass  # the parent stopped listening (it gave up on the call): nobody to tell
    except Exception as exc:  # the result or the exception did not pickle
        with contextlib.suppress(OSError):
            conn.send((False, RuntimeError(f"the tool's result could not be sent back: {exc}")))
    finally:
        conn.close()


_POLL_S = 0.05
"""How often the supervising thread looks for a result, a dead child or a stop."""

_STOPPED: tuple[bool, Any] = (False, None)
"""What the supervising thread reports once told to stop (nobody reads it)."""


async def run_in_process(
    fn: Callable[..., Any], kwargs: dict[str, Any], limits: ProcessLimits | None = None
) -> Any:
    """Run ``fn(**kwargs)`` in a new process; cancelling this kills the process.

    One thread of its own supervises the child: it starts it, waits for its result
    and, when told to stop, kills and reaps it; it alone touches the process and
    the pipe, and closes them. When this coroutine is cancelled (the tool's timeout,
    the run's budget) it tells that thread to stop and waits until the child is
    dead before it lets the cancellation go on, whatever stage the child was at
    (still being started, running, exiting): the caller only ever sees the
    cancellation (so ``asyncio.timeout`` reports a :class:`TimeoutError`), never an
    error of the clean-up, and no child outlives its call.
    """
    loop = asyncio.get_running_loop()
    receiver, sender = _CTX.Pipe(duplex=False)
    proc = _CTX.Process(target=_child, args=(fn, kwargs, sender, limits), daemon=True)
    stop = threading.Event()
    done: asyncio.Future[tuple[bool, Any]] = loop.create_future()

    def settle(outcome: tuple[bool, Any]) -> None:
        if not done.done():
            done.set_result(outcome)

    def supervise() -> None:
        try:
            outcome = _supervise(proc, sender, receiver, stop)
        except BaseException as exc:  # proc.start failed (no fds, no memory, no pids)
            outcome = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, outcome)

    try:
        threading.Thread(target=supervise, name="tether-process-tool", daemon=True).start()
    except BaseException:
        sender.close()
        receiver.close()
        raise
    try:
        ok, value = await asyncio.shield(done)
    except asyncio.CancelledError:
        stop.set()
        await _outwait(done)
        raise
    if ok:
        return value
    if isinstance(value, BaseException) and not isinstance(value, Exception):
        value = ToolLimitExceeded(f"it raised {type(value).__name__}")
    raise value


async def _outwait(future: asyncio.Future[Any]) -> None:
    """Wait for ``future`` through any further cancellation (the caller re-raises it)."""
    while not future.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(future)


def _supervise(
    proc: Any, sender: Connection, receiver: Connection, stop: threading.Event
) -> tuple[bool, Any]:
    """Start the child, wait for its result, and leave no child and no open pipe behind."""
    try:
        if stop.is_set():  # given up on before it started: never start it
            return _STOPPED
        try:
            proc.start()
        finally:
            sender.close()  # the child holds its own copy; ours would hide its death
        try:
            return _receive(receiver, proc, stop)
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join(5)
            with contextlib.suppress(ValueError):  # still running: unkillable, left to the OS
                proc.close()
    finally:
        receiver.close()


def _receive(conn: Connection, proc: Any, stop: threading.Event) -> tuple[bool, Any]:
    # Polls, so that a dead child (or a closed pipe) ends the wait, and so does a stop.
    while not stop.is_set():
        if conn.poll(_POLL_S):
            try:
                data: tuple[bool, Any] = conn.recv()
            except (EOFError, OSError):
                break
            return data
        if not proc.is_alive() and not conn.poll(0):
            break
    else:
        return _STOPPED
    proc.join(2)  # the pipe can close a moment before the exit code is known
    code = proc.exitcode
    if code == -signal.SIGXCPU:
        return False, ToolLimitExceeded("it used up its CPU time limit and was killed")
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return False, ToolLimitExceeded(f"its process was killed by {name}")
    return False, ToolLimitExceeded(f"its process ended without a result (exit code {code})")
