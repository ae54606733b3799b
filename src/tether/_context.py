"""The typed run context that tools (and fallbacks) can ask for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from ._usage import BudgetTracker, Usage

if TYPE_CHECKING:
    from ._agent import Agent

__all__ = ["RunContext"]

DepsT = TypeVar("DepsT")


@dataclass(slots=True)
class RunContext(Generic[DepsT]):
    """What a tool knows about the run that called it.

    A tool receives it when its first parameter is annotated ``RunContext[...]``.

    Attributes:
        deps: the user's dependencies, as given to ``agent.run(..., deps=...)``.
        run_id: the id of the run.
        step: the model turn that asked for this call.
        tool_call_id: the id of this call.
        idempotency_key: a key that is the same every time this very call is run
            (also after a resume); pass it on to outside APIs that de-duplicate.
        tracker: the run's budget tracker; give it to a sub-agent's run so that
            its usage is charged to this run's budget too.
    """

    deps: DepsT
    run_id: str
    tracker: BudgetTracker
    agent: Agent[DepsT, object] | None = None
    step: int = 0
    tool_call_id: str = ""
    idempotency_key: str = ""

    @property
    def usage(self) -> Usage:
        """What the run has used so far."""
        return self.tracker.usage
