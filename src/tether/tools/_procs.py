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
    except Exception as exc:  # the result or the exception did not pickle
        conn.send((False, RuntimeError(f"the tool's result could not be sent back: {exc}")))
    finally:
        conn.close()


async def run_in_process(
    fn: Callable[..., Any], kwargs: dict[str, Any], limits: ProcessLimits | None = None
) -> Any:
    """Run ``fn(**kwargs)`` in a new process; cancelling this kills the process."""
    receiver, sender = _CTX.Pipe(duplex=False)
    proc = _CTX.Process(target=_child, args=(fn, kwargs, sender, limits), daemon=True)
    await asyncio.to_thread(proc.start)
    sender.close()
    try:
        ok, value = await asyncio.to_thread(_receive, receiver, proc)
    finally:
        if proc.is_alive():
            proc.kill()
        await asyncio.to_thread(proc.join, 5)
        receiver.close()
    if ok:
        return value
    if isinstance(value, BaseException) and not isinstance(value, Exception):
        value = ToolLimitExceeded(f"it raised {type(value).__name__}")
    raise value


def _receive(conn: Connection, proc: Any) -> tuple[bool, Any]:
    # Polls, so that a killed child (or a closed pipe) ends the wait.
    while True:
        if conn.poll(0.05):
            try:
                data: tuple[bool, Any] = conn.recv()
            except (EOFError, OSError):
                break
            return data
        if not proc.is_alive() and not conn.poll(0):
            break
    proc.join(2)  # the pipe can close a moment before the exit code is known
    code = proc.exitcode
    with contextlib.suppress(Exception):
        conn.close()
    if code == -signal.SIGXCPU:
        return False, ToolLimitExceeded("it used up its CPU time limit and was killed")
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return False, ToolLimitExceeded(f"its process was killed by {name}")
    return False, ToolLimitExceeded(f"its process ended without a result (exit code {code})")
