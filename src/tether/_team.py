"""A supervisor and its workers: an agent that splits a task, fans the parts out to
worker agents in parallel (a bounded number at a time), and answers from what they
return.

The supervisor is an :class:`~tether.Agent` whose tools are its workers
(:meth:`Agent.as_tool`), so everything an agent does holds for it: one budget for the
whole team, a journal for every worker's run, resume after a crash, loop detection,
and the guided strategy on the embedded model (which then routes one part at a time).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._agent import Agent
from ._errors import ConfigError
from ._subrun import Gate
from ._usage import Budget
from .models import Model, resolve_model
from .run import GuidedStrategy

__all__ = ["Supervisor"]

_LEAD = (
    "You lead a team of workers, each a tool you call with a task:\n{roster}\n"
    "Give each part of the user's task to the worker that fits it; call several workers "
    "at once when their parts do not depend on each other. A worker that fails says why: "
    "give its part to another worker that fits, go on without it if the answer does not "
    "need it, or say what could not be done. Answer the user from the workers' results."
)


class Supervisor(Agent[Any, Any]):
    """An agent that hands parts of its task to worker agents and answers from their results.

    Args:
        model: the supervisor's model (a model or a name, as for :class:`Agent`).
        workers: the worker agents; each becomes a tool named after it, described by
            its instructions.
        max_concurrency: at most this many workers run at once for one run of the
            supervisor (parallel calls beyond it wait their turn).
        worker_budget: limits of each worker's run, within the supervisor's budget.
        instructions: more for the supervisor, after the list of its workers.
        **kwargs: anything else an :class:`Agent` takes (``budget``, ``store``,
            ``output_type``, ``tools`` of its own ...).

    A worker that gives up or fails is the call's error, naming its status and reason,
    and the supervisor's model decides what to do about it; the whole team draws on the
    supervisor's budget, and stops cleanly when it runs out.
    """

    def __init__(
        self,
        model: Model | str,
        workers: Sequence[Agent[Any, Any]],
        *,
        max_concurrency: int = 4,
        worker_budget: Budget | None = None,
        instructions: str = "",
        **kwargs: Any,
    ) -> None:
        if isinstance(workers, Agent) or not workers:
            raise ConfigError("a Supervisor needs a list of at least one worker agent")
        for w in workers:
            if not isinstance(w, Agent):
                raise ConfigError(f"a Supervisor's workers are agents, got {w!r}")
        gate = Gate(max_concurrency)
        self.workers = list(workers)
        self.max_concurrency = max_concurrency
        worker_tools = [w.as_tool(budget=worker_budget, gate=gate) for w in workers]
        roster = "\n".join(
            f"- {t.name}: {w.instructions.strip() or 'a worker'}"
            for t, w in zip(worker_tools, workers, strict=True)
        )
        lead = _LEAD.format(roster=roster)
        kwargs.setdefault("name", "supervisor")
        resolved = model if isinstance(model, Model) else resolve_model(model)
        if kwargs.get("strategy") is None and resolved.preferred_strategy == "guided":
            # A small model routes every task to a worker: a choice among their names.
            options = {**resolved.strategy_options, "delegate_first": True}
            kwargs["strategy"] = GuidedStrategy(**options)
        model = resolved
        tools = [*kwargs.pop("tools", ()), *worker_tools]
        super().__init__(
            model,
            instructions=f"{lead}\n\n{instructions}".strip(),
            tools=tools,
            **kwargs,
        )
