"""Small helpers shared by the tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from tether import Event, RunResult

E = TypeVar("E")


def of_type(result: RunResult[Any] | Sequence[Event], kind: type[E]) -> list[E]:
    """The events of one type, in order."""
    events = result.events if isinstance(result, RunResult) else result
    return [e for e in events if isinstance(e, kind)]


def types(result: RunResult[Any]) -> list[str]:
    """The event types of a run, in order."""
    return [e.type for e in result.events]


def tether_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """The ``tether`` command in another process, its output captured as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "tether", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
