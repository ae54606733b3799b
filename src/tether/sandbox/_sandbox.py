"""Running Python code in a sandbox: start, feed, capture, stop, and say what happened."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from typing import Literal

from ._bwrap import Bwrap
from ._errors import SandboxUnavailable
from ._limits import LimitName, SandboxLimits, SandboxResult, stop_message

__all__ = ["PythonSandbox"]

_TAIL_BYTES = 4096
"""How much of the end of stderr is kept apart, to tell which limit stopped the code."""


class _Capture:
    """One output stream: the first ``cap`` bytes are kept, the rest counted and dropped
    (the reader keeps draining, so the code never blocks on a full pipe)."""

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.head = bytearray()
        self.tail = b""
        self.total = 0

    async def read(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.total += len(chunk)
            room = len(chunk) if self.cap is None else max(self.cap - len(self.head), 0)
            self.head += chunk[:room]
            self.tail = (self.tail + chunk)[-_TAIL_BYTES:]

    def text(self, chars: int | None) -> tuple[str, bool]:
        text = self.head.decode(errors="replace")
        if chars is None or (len(text) <= chars and self.total == len(self.head)):
            return text, False
        return (
            f"{text[:chars]}\n[... output cut by tether: it went on for {self.total} bytes; "
            f"the first {chars} characters are shown ...]",
            True,
        )


class PythonSandbox:
    """Runs Python code that a model wrote, in a process sandbox.

    The code gets the installed packages (read-only), a private working folder
    (``/sandbox``; and a ``/tmp``; both emptied after each run), no network, no view of
    other processes or of the rest of the filesystem, and the :class:`SandboxLimits`. A limit that
    trips stops the code and is reported in :attr:`SandboxResult.limit`; it never
    raises.

    Args:
        limits: what the code may use; :class:`SandboxLimits` defaults.
        backend: ``"bwrap"`` (bubblewrap) or ``"auto"``, which today is bwrap: no
            other backend is as strict (see ``docs/sandbox.md``).

    Raises:
        SandboxUnavailable: no backend works on this machine; the message says what
            to install. Code is never run unsandboxed instead.
    """

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        backend: Literal["auto", "bwrap"] = "auto",
    ) -> None:
        if backend not in ("auto", "bwrap"):
            raise SandboxUnavailable(
                f"unknown sandbox backend {backend!r}: use 'auto' or 'bwrap' (an 'unshare' "
                "backend is not offered, since it could not be made as strict)"
            )
        self.limits = limits or SandboxLimits()
        self.backend = backend
        self._bwrap = Bwrap.find()

    async def run(self, code: str, *, stdin: str | None = None) -> SandboxResult:
        """Run ``code`` as a program (``python -I -u main.py``) and say what came of it.

        Args:
            code: the program's source.
            stdin: text for its standard input (empty if None).
        """
        limits = self.limits
        launch = self._bwrap.launch(code, limits)
        started = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                *launch.args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=launch.pass_fds,
                env=launch.env,
                start_new_session=True,
            )
        except OSError as exc:
            launch.close()
            raise SandboxUnavailable(f"bwrap could not be started: {exc}") from exc
        launch.started()
        cap = None if limits.output_chars is None else limits.output_chars * 4
        out, err = _Capture(cap), _Capture(cap)
        timed_out = False
        try:
            await asyncio.to_thread(launch.map_ids, time.monotonic() + 10)
            assert proc.stdout is not None
            assert proc.stderr is not None
            readers = asyncio.gather(out.read(proc.stdout), err.read(proc.stderr))
            feeding = asyncio.ensure_future(_feed(proc, stdin))
            try:
                async with asyncio.timeout(limits.wall_seconds):
                    await proc.wait()
            except TimeoutError:
                timed_out = True
                _kill(proc)
                await proc.wait()
            # The namespace dies with its first process, closing every pipe it held.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await readers
            readers.cancel()
            feeding.cancel()
        finally:
            if proc.returncode is None:
                _kill(proc)
                with contextlib.suppress(ProcessLookupError):
                    await proc.wait()
            launch.close()
        return _result(
            proc.returncode or 0,
            timed_out=timed_out,
            out=out,
            err=err,
            limits=limits,
            started=started,
        )


async def _feed(proc: asyncio.subprocess.Process, stdin: str | None) -> None:
    assert proc.stdin is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        if stdin:
            proc.stdin.write(stdin.encode())
            await proc.stdin.drain()
        proc.stdin.close()


def _kill(proc: asyncio.subprocess.Process) -> None:
    # bwrap leads its own process group; its namespace's processes die with it
    # (--die-with-parent), wherever they are.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _result(
    code: int,
    *,
    timed_out: bool,
    out: _Capture,
    err: _Capture,
    limits: SandboxLimits,
    started: float,
) -> SandboxResult:
    # bwrap reports a child killed by signal N as exit status 128 + N.
    if code > 128 and (code - 128) in signal.valid_signals():
        code = -(code - 128)
    limit = _which_limit(code, timed_out, err.tail.decode(errors="replace"), limits)
    stdout, cut_out = out.text(limits.output_chars)
    stderr, cut_err = err.text(limits.output_chars)
    return SandboxResult(
        stdout=stdout,
        stderr=stderr,
        exit_code=code,
        limit=limit,
        message=stop_message(limit, limits) if limit else "",
        duration_s=time.monotonic() - started,
        truncated=cut_out or cut_err,
    )


def _which_limit(
    code: int, timed_out: bool, stderr_tail: str, limits: SandboxLimits
) -> LimitName | None:
    """Which limit stopped the code, from how it ended; a best effort (the code can
    print what it likes), used only to tell the model what happened."""
    if timed_out:
        return "wall_seconds"
    if code == -signal.SIGXCPU or (code == -signal.SIGKILL and limits.cpu_seconds):
        return "cpu_seconds"
    if code == 0:
        return None
    lines = [line for line in stderr_tail.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    if code == -signal.SIGXFSZ or "[Errno 27] File too large" in last or "[Errno 28]" in last:
        return "file_size_mb" if limits.file_size_mb else None
    if last.startswith("MemoryError") or "Cannot allocate memory" in last:
        return "memory_mb" if limits.memory_mb else None
    # Forked processes that fail at once interleave their tracebacks: look at the tail.
    if "[Errno 11] Resource temporarily unavailable" in stderr_tail or (
        "can't start new thread" in stderr_tail
    ):
        return "processes" if limits.processes else None
    return None
