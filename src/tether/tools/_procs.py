"""Sync tools in a child process, killed at their timeout.

A thread cannot be killed, so a sync tool in a worker thread is only abandoned
at its timeout. A tool declared with ``isolation="process"`` runs in a child
process instead (started with ``spawn``, so the function and its arguments must
be picklable: a module-level function). At the timeout the child is killed
(SIGKILL), so its work really stops; a side effect it had already made stays
made.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["run_in_process"]

_CTX = multiprocessing.get_context("spawn")


def _child(fn: Callable[..., Any], kwargs: dict[str, Any], conn: Connection) -> None:
    try:
        result: tuple[bool, Any] = (True, fn(**kwargs))
    except BaseException as exc:
        result = (False, exc)
    try:
        conn.send(result)
    except Exception as exc:  # the result or the exception did not pickle
        conn.send((False, RuntimeError(f"the tool's result could not be sent back: {exc}")))
    finally:
        conn.close()


async def run_in_process(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Run ``fn(**kwargs)`` in a new process; cancelling this kills the process."""
    receiver, sender = _CTX.Pipe(duplex=False)
    proc = _CTX.Process(target=_child, args=(fn, kwargs, sender), daemon=True)
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
    code = proc.exitcode
    with contextlib.suppress(Exception):
        conn.close()
    return False, RuntimeError(f"the tool's process ended without a result (exit code {code})")
