"""Module-level tools for process isolation tests (a spawned child imports them)."""

from __future__ import annotations

import os
import sys
import tempfile


def exits() -> str:
    """Exit the process."""
    sys.exit(3)


def eats_memory(mb: int) -> str:
    """Allocate memory."""
    blocks = [bytearray(1024 * 1024) for _ in range(mb)]
    return f"held {len(blocks)} MiB"


def spins() -> str:
    """Use CPU for ever."""
    n = 0
    while True:
        n += 1


def opens_files(n: int) -> str:
    """Open many files."""
    folder = tempfile.mkdtemp()
    handles = [open(os.path.join(folder, str(i)), "w") for i in range(n)]  # noqa: SIM115
    return f"opened {len(handles)}"
