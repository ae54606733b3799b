"""Running Python code in a sandbox: start, feed, capture, stop, and say what happened."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from typing import Literal

from tether._errors import ConfigError

from ._bwrap import Bwrap, Launch
from ._errors import SandboxUnavailable
from ._limits import LimitName, SandboxLimits, SandboxResult, stop_message

__all__ = ["PythonSandbox"]

_TAIL_BYTES = 4096
"""How much of the end of stderr is kept apart, to tell which limit stopped the code."""
_CPU_SHARE = 0.5
"""The share of the CPU time that trips RLIMIT_CPU that a process killed by it must have
used by tether's measure. The kernel checks the limit against CPU time sampled at each
tick, but reports a finished process's time as it was scheduled: on a busy machine the
second falls short of the first (by 5% in the suite on 2 shared cores)."""


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

        Code that cannot be a source file (it holds an unpaired surrogate, which UTF-8
        cannot encode) is not run: the result says so in ``stderr`` as a
        ``SyntaxError`` with exit status 1, as Python itself reports a NUL byte.

        Args:
            code: the program's source.
            stdin: text for its standard input (empty if None).

        Raises:
            ConfigError: ``stdin`` holds an unpaired surrogate, which cannot be sent.
        """
        limits = self.limits
        data = _stdin_bytes(stdin)
        started = time.monotonic()
        try:
            launch = self._bwrap.launch(code, limits)
        except UnicodeEncodeError as exc:
            return _unencodable(code, exc)
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
        except BaseException:
            launch.close()
            raise
        launch.started()
        cap = None if limits.output_chars is None else limits.output_chars * 4
        out, err = _Capture(cap), _Capture(cap)
        timed_out = False
        try:
            await asyncio.to_thread(launch.map_ids, time.monotonic() + 10)
            assert proc.stdout is not None
            assert proc.stderr is not None
            readers = asyncio.gather(out.read(proc.stdout), err.read(proc.stderr))
            feeding = asyncio.ensure_future(_feed(proc, data))
            try:
                async with asyncio.timeout(limits.wall_seconds):
                    await proc.wait()
            except TimeoutError:
                timed_out = True
                await _stop(proc, launch)
            # The namespace dies with its first process, closing every pipe it held.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await readers
            readers.cancel()
            feeding.cancel()
            report = launch.report()
        finally:
            if proc.returncode is None:
                _kill(proc)
                with contextlib.suppress(ProcessLookupError):
                    await proc.wait()
            launch.close()
        return _result(
            report,
            proc.returncode or 0,
            timed_out=timed_out,
            out=out,
            err=err,
            limits=limits,
            started=started,
        )


def _stdin_bytes(stdin: str | None) -> bytes:
    if stdin is None:
        return b""
    try:
        return stdin.encode()
    except UnicodeEncodeError as exc:
        raise ConfigError(
            f"stdin must be valid Unicode text: it holds an unpaired surrogate "
            f"({stdin[exc.start : exc.end]!r} at index {exc.start}), which UTF-8 cannot "
            "encode; remove it, or pass stdin.encode(errors='replace').decode()"
        ) from None


def _unencodable(code: str, exc: UnicodeEncodeError) -> SandboxResult:
    """The result for code holding an unpaired surrogate: not run, and told why."""
    line = code.count("\n", 0, exc.start) + 1
    column = exc.start - (code.rfind("\n", 0, exc.start) + 1) + 1
    char = code[exc.start : exc.end]
    escape = ascii(char)[1:-1]
    return SandboxResult(
        stdout="",
        stderr=(
            f'  File "/code/main.py", line {line}\n'
            f"SyntaxError: source code cannot contain an unpaired surrogate ({escape} at "
            f"line {line}, column {column}): UTF-8 cannot encode it, so the program was not "
            f"run. Remove it, or write it as the escape {escape} inside a string literal\n"
        ),
        exit_code=1,
    )


async def _feed(proc: asyncio.subprocess.Process, data: bytes) -> None:
    assert proc.stdin is not None
    try:
        if data:
            proc.stdin.write(data)
            await proc.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        proc.stdin.close()


async def _stop(proc: asyncio.subprocess.Process, launch: Launch) -> None:
    """End a sandbox that outlived its wall time."""
    if launch.kill_init():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await proc.wait()  # bwrap reaps its init and exits with it
    if proc.returncode is None:
        _kill(proc)
        await proc.wait()


def _kill(proc: asyncio.subprocess.Process) -> None:
    # bwrap leads its own process group; its namespace's processes die with it
    # (--die-with-parent), wherever they are.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _result(
    report: tuple[int, float] | None,
    bwrap_code: int,
    *,
    timed_out: bool,
    out: _Capture,
    err: _Capture,
    limits: SandboxLimits,
    started: float,
) -> SandboxResult:
    if report is not None:
        code, cpu = report
    else:
        # No word from the sandbox's init: bwrap failed, or it was killed (the wall time).
        # Then bwrap's status is the init's, and the init exits above 128 only when a
        # signal ended it (bwrap folds signal N into 128 + N).
        code, cpu = bwrap_code, None
        if code > 128 and (code - 128) in signal.valid_signals():
            code = -(code - 128)
    limit = _which_limit(code, cpu, timed_out, err.tail.decode(errors="replace"), limits)
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
    code: int, cpu: float | None, timed_out: bool, stderr_tail: str, limits: SandboxLimits
) -> LimitName | None:
    """Which limit stopped the code, from how it ended; used to tell the model.

    The wall time is known (tether killed the code). The CPU time is when the signal is
    one RLIMIT_CPU sends and the code's process had used about the CPU time that sends
    it (SIGXCPU at ``cpu_seconds``, SIGKILL a second later): a process that kills itself
    early is not stopped by a limit. The others are a best effort read from stderr (the
    code can print what it likes).
    """
    if timed_out:
        return "wall_seconds"
    if limits.cpu_seconds is not None and cpu is not None:
        trips = {-signal.SIGXCPU: limits.cpu_seconds, -signal.SIGKILL: limits.cpu_seconds + 1}
        if code in trips and cpu >= trips[code] * _CPU_SHARE:
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
