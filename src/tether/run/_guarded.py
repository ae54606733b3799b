"""A run driven behind its guardrails: the input checked beside the first model call,
the final answer checked before the run completes, and so is the answer of a run that
gave up, its fallback's (see :mod:`tether.run._guardrails`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from tether._events import GuardrailChecked, StreamEvent

from ._nodes import Finish, ModelTurn, Node, drive, guardrail_end, reject_output
from ._run import Run
from ._screen import check_all

__all__ = ["CheckInput", "drive_guarded", "driver", "first_node", "resumed_node"]

_REDIRECT_NOTE = (
    "Your final answer was not accepted: {reason}. Answer again without what was not accepted."
)


@dataclass(slots=True)
class CheckInput:
    """The run's first node, with the input guardrails running beside it.

    A first node asks the model and never runs a tool itself, so waiting for the
    guardrails before going to its next node keeps every side effect behind them.
    """

    first: Node
    concurrent: bool = True

    async def run(self, r: Run) -> Node | Finish:
        if not self.concurrent:  # a resumed run: its next node may run tools
            tripped = await check_all(r, r.config.guardrails.input, r.prompt)
            if tripped is None:
                return self.first
            return guardrail_end(tripped[0].name, tripped[1].reason, "the run's input")
        checks = asyncio.ensure_future(check_all(r, r.config.guardrails.input, r.prompt))
        step = asyncio.ensure_future(self.first.run(r))
        try:
            await asyncio.wait({checks, step}, return_when=asyncio.FIRST_COMPLETED)
            tripped = await checks
            if tripped is None:
                return await step
        except BaseException:
            checks.cancel()
            step.cancel()
            raise
        step.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await step  # the model call is cancelled: its answer must not be acted on
        return guardrail_end(tripped[0].name, tripped[1].reason, "the run's input")


def first_node(r: Run, first: Node) -> Node:
    """The first node of a new run, behind the input guardrails when there are any."""
    return CheckInput(first) if r.config.guardrails.input else first


def resumed_node(r: Run, node: Node | Finish, events: Sequence[StreamEvent]) -> Node | Finish:
    """Where a resumed run goes on: first through the input guardrails when a crash cut
    them off before each had journaled its verdict."""
    guards = r.config.guardrails.input
    if not guards or isinstance(node, Finish):
        return node
    seen = {e.guardrail for e in events if isinstance(e, GuardrailChecked) and e.stage == "input"}
    if all(g.name in seen for g in guards):
        return node
    return CheckInput(node, concurrent=False)


async def _check_output(r: Run, end: Finish) -> Node | Finish:
    tripped = await check_all(r, r.config.guardrails.output, end.output)
    if tripped is None:
        return end
    g, t = tripped
    if t.action != "redirect":
        return guardrail_end(g.name, t.reason, "the final answer")
    if r.state.output_attempts >= r.config.output_retries:
        return guardrail_end(g.name, t.reason, "the final answer (the output retries are spent)")
    reject_output(r, f"the guardrail {g.name!r}: {t.reason}")
    r.note(_REDIRECT_NOTE.format(reason=t.reason))
    return ModelTurn()


def driver(r: Run) -> Callable[[Run, Node | Finish], Awaitable[Finish]]:
    """What drives a run: :func:`drive_guarded` with output guardrails, else
    :func:`~tether.run.drive` itself (one coroutine less in every run's chain, which
    thousands of concurrent runs each keep alive)."""
    return drive_guarded if r.config.guardrails.output else drive


async def _check_fallback(r: Run, end: Finish) -> Finish:
    """A give-up's answer through the output guardrails: it goes out as a final answer
    does. A trip ends the run as one on a final answer does (``failed``, no output);
    a redirect cannot apply, the run has stopped asking the model, so it ends too."""
    tripped = await check_all(r, r.config.guardrails.output, end.output)
    if tripped is None:
        return end
    g, t = tripped
    what = (
        f"the answer of the fallback {r.config.fallback.name} (the run gave up: {end.reason.kind})"
    )
    return guardrail_end(g.name, t.reason, what)


async def drive_guarded(r: Run, start: Node | Finish) -> Finish:
    """:func:`~tether.run.drive`, with every answer the run gives through the output
    guardrails: a final answer, and the answer of a run that gave up (its fallback's)."""
    end = await drive(r, start)
    del start
    while r.config.guardrails.output:
        if end.status == "gave_up" and end.output is not None:
            return await _check_fallback(r, end)
        if end.status != "completed":
            break
        nxt = await _check_output(r, end)
        if isinstance(nxt, Finish):
            return nxt
        end = await drive(r, nxt)
    return end
