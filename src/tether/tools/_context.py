"""The typed run context that tools (and fallbacks) can ask for."""

from __future__ import annotations

import warnings
from typing import Any, Generic, TypeVar

from tether._usage import BudgetTracker, Usage

__all__ = ["RunContext"]

DepsT = TypeVar("DepsT")


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
        tracker: the run's budget tracker; give the context to a sub-agent's run
            (``agent.run(..., parent=ctx)``) so that its usage is charged here too.
    """

    __slots__ = ("_agent", "deps", "idempotency_key", "run_id", "step", "tool_call_id", "tracker")

    def __init__(  # noqa: PLR0917 - positional, as the dataclass it was
        self,
        deps: DepsT,
        run_id: str,
        tracker: BudgetTracker,
        agent: Any = None,
        step: int = 0,
        tool_call_id: str = "",
        idempotency_key: str = "",
    ) -> None:
        self.deps = deps
        self.run_id = run_id
        self.tracker = tracker
        self._agent = agent
        self.step = step
        self.tool_call_id = tool_call_id
        self.idempotency_key = idempotency_key

    @property
    def usage(self) -> Usage:
        """What the run has used so far."""
        return self.tracker.usage

    @property
    def agent(self) -> Any:
        """Deprecated: the agent running the tool. Tools should not depend on the agent;
        pass what they need through ``deps``."""
        warnings.warn(
            "RunContext.agent is deprecated and will be removed in tether 0.3; pass what a "
            "tool needs through deps",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._agent

    def __repr__(self) -> str:
        return (
            f"RunContext(run_id={self.run_id!r}, step={self.step}, "
            f"tool_call_id={self.tool_call_id!r})"
        )
