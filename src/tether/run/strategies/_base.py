"""Orchestration strategies: who decides the next step of a run.

A strategy names the nodes a run goes through: where it starts, where it goes
after a batch of tool calls, and where a rebuilt run goes on. Every strategy
shares the run's journal, budget, progress checks, tool execution, output
validation and fallback (the nodes in :mod:`tether.run`); they differ in how much
they trust the model to steer.

* :class:`ToolLoop` (the default for capable models): the model decides each step,
  calling tools natively until it gives a final answer.
* :class:`~tether.GuidedStrategy` (the default for the embedded model): the
  orchestrator decides when to stop.

What a custom strategy may use: the nodes (:class:`~tether.run.ModelTurn`,
:class:`~tether.run.HandleResponse`, :class:`~tether.run.RunTools`,
:class:`~tether.run.GiveUp`, :class:`~tether.run.Finish`) and nodes of its own, each a
dataclass with ``async def run(self, run) -> next node``; :func:`~tether.run.model_step`
for model calls; ``run.record(EventType, ...)`` and ``run.note(text)`` to change the
run; ``run.state`` (read it, never write it: the fold does), ``run.config`` and
``run.prompt``. A strategy whose every decision is journaled resumes for free.
"""

from __future__ import annotations

import warnings
from abc import ABC
from dataclasses import dataclass
from typing import Any

from tether._events import ModelResponded, OutputInvalid
from tether.run._config import RunConfig
from tether.run._nodes import INVALID_NOTE, Finish, HandleResponse, ModelTurn, Node, drive
from tether.run._run import Run

__all__ = ["Strategy", "ToolLoop"]


class Strategy(ABC):  # noqa: B024 - start() is required, but old run()-only strategies still work
    """How a run is orchestrated: the nodes it starts from and goes on from."""

    name: str = "strategy"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "run" in cls.__dict__ and "start" not in cls.__dict__:
            warnings.warn(
                f"{cls.__name__} overrides Strategy.run() only; a strategy now names its "
                "nodes with start() (and after_tools(), resume()). run() is still called "
                "for one minor version, but such a run does not resume as itself",
                DeprecationWarning,
                stacklevel=2,
            )

    def system_prompt(self, config: RunConfig) -> str:
        """The system prompt of a run (the agent's rendered orchestrator prompt by default)."""
        return config.system

    def start(self, run: Run) -> Node:
        """The first node of a new run (a strategy must override it)."""
        if type(self).run is not Strategy.run:  # an old-style strategy: its own run()
            return _Legacy(self)
        raise NotImplementedError(f"{type(self).__name__} must define start()")

    def after_tools(self, run: Run) -> Node:
        """Where a run goes once a turn's tool calls have their results."""
        return self.start(run)

    def resume(self, run: Run) -> Node:
        """Where a run rebuilt from its journal goes on, when no tool call is open and it
        was not giving up (those the run layer handles for every strategy)."""
        return self.start(run)

    async def run(self, run: Run) -> Finish:
        """Drive a new run from :meth:`start` to its end."""
        return await drive(run, self.start(run))


@dataclass(slots=True)
class _Legacy:
    """A strategy of the old interface, which ran the whole run in ``run()``."""

    strategy: Strategy

    async def run(self, r: Run) -> Finish:
        return await self.strategy.run(r)


class ToolLoop(Strategy):
    """The model decides each step: call tools, or give the final answer."""

    name = "tool_loop"

    def start(self, run: Run) -> Node:
        """Ask the model."""
        return ModelTurn()

    def after_tools(self, run: Run) -> Node:
        """Ask the model again, with the results."""
        return ModelTurn()

    def resume(self, run: Run) -> Node:
        """Judge a final answer journaled before the crash; otherwise ask the model."""
        last = run.state.last
        if isinstance(last, OutputInvalid):  # its note may not have been journaled
            run.note(INVALID_NOTE.format(errors=last.errors))
        if (
            isinstance(last, ModelResponded)
            and run.state.last_purpose == "turn"
            and not last.response.tool_calls
        ):
            return HandleResponse(last.response)
        return ModelTurn()
