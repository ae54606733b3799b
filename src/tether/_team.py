"""A supervisor and its workers: an agent that splits a task, fans the parts out to
worker agents in parallel (a bounded number at a time), and answers from what they
return.

The supervisor is an :class:`~tether.Agent` whose tools are its workers
(:meth:`Agent.as_tool`), so everything an agent does holds for it: one budget for the
whole team, a journal for every worker's run, resume after a crash, loop detection,
and the guided strategy on the embedded model (which then routes one part at a time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def _workers_of(workers: object) -> list[Agent[Any, Any]]:
    """The workers as a list: any iterable of agents (a generator is read once, here)."""
    if isinstance(workers, Agent):
        raise ConfigError(
            "workers is a list of worker agents; put the one agent in a list: "
            "Supervisor(model, [worker])"
        )
    if isinstance(workers, str | bytes | Mapping) or not isinstance(workers, Iterable):
        raise ConfigError(
            "workers is a list of worker agents, e.g. Supervisor(model, [researcher, "
            f"writer]); got {workers!r}"
        )
    listed = list(workers)
    if not listed:
        raise ConfigError("a Supervisor needs a list of at least one worker agent, got none")
    for w in listed:
        if not isinstance(w, Agent):
            raise ConfigError(f"a Supervisor's workers are agents, got {w!r}")
    return listed


class Supervisor(Agent[Any, Any]):
    """An agent that hands parts of its task to worker agents and answers from their results.

    Args:
        model: the supervisor's model (a model or a name, as for :class:`Agent`).
        workers: the worker agents (a list, or any iterable of them); each becomes a
            tool named after it, described by its instructions.
        max_concurrency: at most this many workers run at once for one run of the
            supervisor (parallel calls beyond it wait their turn).
        worker_budget: a lower cap on each worker's run: the worker's own budget and
            this one both hold (per limit the lower wins), within the supervisor's
            budget. None: each worker's own budget alone.
        instructions: more for the supervisor, after the list of its workers (a str).
        **kwargs: anything else an :class:`Agent` takes (``budget``, ``store``,
            ``output_type``, ``tools`` of its own ...).

    A worker that gives up or fails is the call's error, naming its status and reason,
    and the supervisor's model decides what to do about it; the whole team draws on the
    supervisor's budget, and stops cleanly when it runs out.

    Raises:
        ConfigError: no worker, a worker that is not an :class:`Agent`, or a setting of
            the wrong kind (the message says what to write).
    """

    def __init__(
        self,
        model: Model | str,
        workers: Iterable[Agent[Any, Any]],
        *,
        max_concurrency: int = 4,
        worker_budget: Budget | None = None,
        instructions: str = "",
        **kwargs: Any,
    ) -> None:
        listed = _workers_of(workers)
        if worker_budget is not None and not isinstance(worker_budget, Budget):
            raise ConfigError(
                "worker_budget is a tether.Budget that caps each worker's run lower than "
                "its own budget, e.g. worker_budget=Budget(max_steps=5), or None for each "
                f"worker's own budget alone; got {worker_budget!r}"
            )
        if not isinstance(instructions, str):
            raise ConfigError(
                "instructions is a str (more for the supervisor, after the list of its "
                f"workers; '' for none), got {instructions!r}"
            )
        gate = Gate(max_concurrency)
        self.workers = listed
        self.max_concurrency = max_concurrency
        worker_tools = [w.as_tool(budget=worker_budget, gate=gate) for w in listed]
        roster = "\n".join(
            f"- {t.name}: {w.instructions.strip() or 'a worker'}"
            for t, w in zip(worker_tools, listed, strict=True)
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
