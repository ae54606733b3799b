"""The run scope: the narrow view of a live run that models and tools are given.

Models and wrappers (retries, fallback chains) journal what they do and read the
budget through :func:`current_scope`; tools get the same facts through their
:class:`~tether.RunContext`. Neither sees the run's state or configuration, so
the run layer can change without touching them.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any, Protocol, TypeVar

from ._usage import BudgetTracker

__all__ = ["RunScope", "current_scope", "use_scope"]

E = TypeVar("E")


class RunScope(Protocol):
    """What a model or a wrapper may know and do about the run calling it.

    Attributes:
        run_id: the run's id.
        deps: the user's dependencies for this run.
        tracker: the run's budget tracker (usage so far, limits, time left).
    """

    @property
    def run_id(self) -> str:
        """The run's id."""
        ...

    @property
    def deps(self) -> Any:
        """The user's dependencies for this run."""
        ...

    @property
    def tracker(self) -> BudgetTracker:
        """The run's budget tracker."""
        ...

    @property
    def finished(self) -> bool:
        """True once the run has journaled its end."""
        ...

    def record(self, kind: type[E], /, **fields: Any) -> E:
        """Journal an event of this run (run id, sequence number and time filled in)."""
        ...


_current: ContextVar[RunScope | None] = ContextVar("tether_run_scope", default=None)


def current_scope() -> RunScope | None:
    """The scope of the run calling a model now, if any."""
    return _current.get()


class use_scope:
    """Make ``scope`` current inside a ``with`` block (the run layer does this).

    A small class rather than a generator: one object per run instead of three.
    """

    __slots__ = ("_scope", "_token")

    def __init__(self, scope: RunScope) -> None:
        self._scope = scope
        self._token: Token[RunScope | None] | None = None

    def __enter__(self) -> None:
        self._token = _current.set(self._scope)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
