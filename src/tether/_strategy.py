"""Orchestration strategies: who decides the next step of a run.

A strategy turns a prepared :class:`~tether._loop.RunState` into a
:class:`~tether._loop.Finish`. Strategies share the run's journal, budget,
progress monitor and tool execution; they differ in how much they trust the
model to steer.

* :class:`ToolLoop` (the default): the model decides each step, calling tools
  natively until it gives a final answer. Right for capable models.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from ._loop import Finish, RunState, drive

__all__ = ["Strategy", "ToolLoop"]


class Strategy(ABC):
    """How a run is orchestrated."""

    name: str = "strategy"

    @abstractmethod
    async def run(self, st: RunState) -> Finish:
        """Run from the first step to the end, journaling through ``st``."""


class ToolLoop(Strategy):
    """The model decides each step: call tools, or give the final answer."""

    name = "tool_loop"

    async def run(self, st: RunState) -> Finish:
        """Drive the native tool loop."""
        return await drive(st)
