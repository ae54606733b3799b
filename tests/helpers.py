"""Small helpers shared by the tests."""

from __future__ import annotations

from collections.abc import Sequence
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
