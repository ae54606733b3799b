"""What sandboxed code may use, and what came of a run."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

from tether._errors import ConfigError

try:
    import resource
except ImportError:  # not a POSIX system: no sandbox runs here, and no hard limits apply
    resource = None  # type: ignore[assignment]

__all__ = ["LimitName", "SandboxLimits", "SandboxResult", "stop_message", "writable_mib"]

LimitName = Literal["cpu_seconds", "memory_mb", "processes", "file_size_mb", "wall_seconds"]
"""The limit that stopped a run."""

_MIB = 1024 * 1024
# The largest value of each limit, and why. An rlimit is a 64-bit count below
# RLIM_INFINITY (2**64 - 1, "unlimited"), past which util-linux prlimit fails.
_LARGEST = {
    # The hard limit is set a second above the soft one; past this it wraps round.
    "cpu_seconds": ((2**64 - 1) // 10**9 - 1, "the kernel counts CPU time in 64-bit ns"),
    "memory_mb": ((2**64 - 2) // _MIB, "RLIMIT_AS is a 64-bit count of bytes"),
    "processes": (2**64 - 2, "RLIMIT_NPROC is a 64-bit count"),
    "file_size_mb": (
        (2**63 - 1) // (2 * _MIB),
        "bwrap makes no tmpfs over 2**63 - 1 bytes, and /sandbox holds twice this",
    ),
    "wall_seconds": (sys.maxsize, "the largest C long"),
    "output_chars": (sys.maxsize, "the largest C long"),
}
# The rlimit each limit sets, its unit in the rlimit's, how far the hard limit is set
# above the value, and the shell command that shows this process's hard limit, which
# the sandbox inherits and cannot raise.
_RLIMITS = {
    "cpu_seconds": ("RLIMIT_CPU", 1, 1, "ulimit -Ht"),
    "memory_mb": ("RLIMIT_AS", _MIB, 0, "ulimit -Hv"),
    "processes": ("RLIMIT_NPROC", 1, 0, "ulimit -Hu"),
    "file_size_mb": ("RLIMIT_FSIZE", _MIB, 0, "ulimit -Hf"),
}


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """What code in a :class:`~tether.sandbox.PythonSandbox` may use; None is no limit.

    Every limit but ``wall_seconds`` and ``output_chars`` is an rlimit set on the
    sandboxed process before the interpreter starts; it cannot raise them again.
    None may pass what the kernel can count, nor this process's own hard limit
    (``ulimit -H``), which the sandbox inherits and cannot raise: a larger value is a
    ConfigError that names the largest (``docs/sandbox.md`` lists them).

    Args:
        cpu_seconds: CPU time of each process (SIGXCPU at the limit, SIGKILL a
            second later).
        memory_mb: address space of each process, in MiB (allocations past it fail).
        processes: processes and threads the sandbox may run at once (a fork bomb
            stops here).
        file_size_mb: the largest file the code may write, in MiB. Everything it
            writes holds at most four times this in all: twice this in its working
            folder ``/sandbox``, once in ``/tmp`` and once in ``/dev/shm`` (with
            None, files have no size limit and those folders hold 128, 64 and 64 MiB).
        wall_seconds: seconds after which the whole sandbox is killed.
        output_chars: characters of stdout and of stderr kept; the rest is cut,
            with a marker.
    """

    cpu_seconds: int | None = 10
    memory_mb: int | None = 512
    processes: int | None = 32
    file_size_mb: int | None = 16
    wall_seconds: int | None = 30
    output_chars: int | None = 20_000

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(
                    f"SandboxLimits.{name} must be a positive int or None, got {_shown(value)}"
                )
            largest, why = _largest(name)
            if value > largest:
                raise ConfigError(
                    f"SandboxLimits.{name} must be at most {largest:,} here ({why}), or None "
                    f"for no limit of tether's; got {_shown(value)}"
                )


def _largest(name: str) -> tuple[int, str]:
    """The largest value of a limit on this machine, and why."""
    largest, why = _LARGEST[name]
    if name in _RLIMITS and resource is not None:
        rlimit, unit, above, command = _RLIMITS[name]
        hard = resource.getrlimit(getattr(resource, rlimit))[1]
        if 0 <= hard != resource.RLIM_INFINITY and hard // unit - above < largest:
            largest = hard // unit - above
            why = f"this process's hard limit, {command}, which the sandbox cannot raise"
    return largest, why


def _shown(value: object) -> str:
    """``value`` for an error message (Python writes no int of over 4,300 digits)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an int of {value.bit_length():,} bits"
    return f"{value:,}" if isinstance(value, int) else repr(value)[:120]


def writable_mib(limits: SandboxLimits) -> dict[str, int]:
    """The MiB each writable folder of the sandbox holds: 4 x ``file_size_mb`` in all
    (64 if None), half of it in the working folder."""
    unit = limits.file_size_mb or 64
    return {"/sandbox": 2 * unit, "/tmp": unit, "/dev/shm": unit}


def stop_message(limit: LimitName, limits: SandboxLimits) -> str:
    """The sentence that tells the model which limit stopped its code."""
    value = getattr(limits, limit)
    folders = writable_mib(limits)
    return {
        "cpu_seconds": f"stopped: used more than {value} CPU seconds",
        "memory_mb": f"stopped: tried to use more than {value} MiB of memory",
        "processes": f"stopped: tried to run more than {value} processes or threads at once",
        "file_size_mb": (
            f"stopped: tried to write more than {value} MiB to a file or more than its "
            f"folders hold ({folders['/sandbox']} MiB in /sandbox, {folders['/tmp']} MiB in "
            f"/tmp, {folders['/dev/shm']} MiB in /dev/shm)"
        ),
        "wall_seconds": f"stopped: still running after {value} seconds",
    }[limit]


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """What came of running code in the sandbox.

    Attributes:
        stdout: what the code printed (cut past ``output_chars``, with a marker).
        stderr: its errors, tracebacks included (cut the same way).
        exit_code: the code's exit status, as it ended (``sys.exit(137)`` is 137);
            negative for the signal that ended it.
        limit: the limit that stopped it, if one did.
        message: the sentence for the model when a limit stopped it, else "".
        duration_s: wall-clock seconds from start to end.
        truncated: True when stdout or stderr was cut.
    """

    stdout: str
    stderr: str
    exit_code: int
    limit: LimitName | None = None
    message: str = ""
    duration_s: float = 0.0
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """True when the code ran to its end with exit status 0."""
        return self.exit_code == 0 and self.limit is None
