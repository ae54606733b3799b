"""Usage accounting and the run's one budget.

A :class:`Budget` is a set of limits. A :class:`BudgetTracker` holds what a run
has used and checks it against the limits before every model call and every
tool call. Trackers nest: a sub-agent's tracker charges its parent too, so one
budget can cover a whole tree of agents.

Sub-agents of one tree run in parallel, so a call is not only checked but held for
(:meth:`BudgetTracker.reserve_model`, :meth:`BudgetTracker.reserve_tool`) from the
check until its charge is journaled: siblings see each other's calls in flight. The
holds live only in memory; the journal, and so a resume, knows only the charges.
"""

from __future__ import annotations

import functools
import math
import operator
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ._errors import ConfigError

__all__ = ["NO_ESTIMATE", "Budget", "BudgetTracker", "Dimension", "Estimate", "Exceeded", "Usage"]

Dimension = Literal[
    "steps", "model_calls", "tool_calls", "input_tokens", "output_tokens", "cost_usd", "seconds"
]


@dataclass(slots=True)
class Usage:
    """What a run used: tokens, calls and cost."""

    input_tokens: int = 0
    output_tokens: int = 0
    model_calls: int = 0
    tool_calls: int = 0
    steps: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def copy(self) -> Usage:
        """A snapshot of this usage."""
        return Usage(
            self.input_tokens,
            self.output_tokens,
            self.model_calls,
            self.tool_calls,
            self.steps,
            self.cost_usd,
        )


_COUNTS = (
    "max_steps",
    "max_model_calls",
    "max_tool_calls",
    "max_input_tokens",
    "max_output_tokens",
)
_AMOUNTS = ("max_cost_usd", "max_seconds")


def _is_real(value: object) -> bool:
    """A finite int or float, not a bool (``True`` is an int to Python, not a limit)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


@dataclass(frozen=True, slots=True)
class Budget:
    """Limits of one run; ``None`` means no limit on that dimension.

    Counts (steps, calls, tokens) are whole numbers of at least 1; money and seconds are
    finite numbers above 0.

    One budget covers a whole tree of agents (sub-agents charge it too), parallel
    sub-agents included:

    - steps, model calls and tool calls are exact ceilings: each call is held for from
      its check until it is charged, so calls in flight anywhere in the tree count (an
      agent's call of a sub-agent too, while the sub-agent runs), and the tree never
      makes more than the limit (fallback calls aside, see below). A tree resumed after
      a crash charges what its journals hold; a sub-run that was in flight is charged
      what it used before the crash once its journal is read back, so siblings resumed
      beside it may pass the limit by that much;
    - tokens and cost are known only once a call returns. A run on its own is stopped
      once what it used reaches the limit, so its last call may pass it. In a tree, a
      sub-agent's model call is held while in flight at an estimate (its input at four
      characters a token, the most output one call of the tree has produced so far,
      priced at the model's price, or the most one call has cost when the model has no
      price), and a call is refused once what was used plus the estimates of the calls
      in flight reaches the limit: parallel siblings cannot each start on the same
      remainder, and the tree passes the limit by at most its last call plus what the
      calls in flight use beyond their estimates.

    The fallback's last call (and working memory's summaries) are made without a check
    and charged on top: where a limit must be a hard ceiling, set it lower or use
    :class:`~tether.StaticAnswer`.

    Args:
        max_steps: model turns (a model call and the tool calls it asks for).
        max_model_calls: model calls, retries of invalid output included.
        max_tool_calls: tool executions.
        max_input_tokens: input tokens over all model calls.
        max_output_tokens: output tokens over all model calls.
        max_cost_usd: cost in US dollars.
        max_seconds: wall-clock seconds since the run started.
        warn_at: the fraction of any limit at which a warning event is emitted and
            the model is told to wrap up (in every run of the tree that reaches it).

    Raises:
        ConfigError: a limit is not of its kind (a bool, a string, NaN, infinity) or is
            out of its range.
    """

    max_steps: int | None = 25
    max_model_calls: int | None = None
    max_tool_calls: int | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    max_cost_usd: float | None = None
    max_seconds: float | None = None
    warn_at: float = 0.8

    def __post_init__(self) -> None:
        warn_at = self.warn_at
        if not _is_real(warn_at) or not 0.0 < warn_at <= 1.0:
            raise ConfigError(
                f"Budget.warn_at is a fraction of each limit above 0 and at most 1 (0.8 by "
                f"default), got {warn_at!r}"
            )
        for name in _COUNTS:
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ConfigError(
                    f"Budget.{name} is a whole number of at least 1, or None for no limit; "
                    f"got {value!r}"
                )
        for name in _AMOUNTS:
            value = getattr(self, name)
            if value is not None and (not _is_real(value) or value <= 0):
                raise ConfigError(
                    f"Budget.{name} is a finite number above 0, or None for no limit; got {value!r}"
                )

    def limits(self) -> list[tuple[Dimension, float]]:
        """The dimensions that have a limit, with that limit."""
        pairs: list[tuple[Dimension, float | None]] = [
            ("steps", self.max_steps),
            ("model_calls", self.max_model_calls),
            ("tool_calls", self.max_tool_calls),
            ("input_tokens", self.max_input_tokens),
            ("output_tokens", self.max_output_tokens),
            ("cost_usd", self.max_cost_usd),
            ("seconds", self.max_seconds),
        ]
        return [(d, v) for d, v in pairs if v is not None]


@dataclass(frozen=True, slots=True)
class Exceeded:
    """A limit that was reached: which one, how much was used, and the limit."""

    dimension: Dimension
    used: float
    limit: float


Estimate = tuple[int, int, float]
"""What a model call in flight is held at: input tokens, output tokens, US dollars."""

NO_ESTIMATE: Estimate = (0, 0, 0.0)
"""The hold of a call nothing else can run beside (a run without a parent)."""

_AMOUNTS_HELD = frozenset({"input_tokens", "output_tokens", "cost_usd"})

_HOLDS = threading.Lock()
"""Makes a check and its hold one step, and a release one step, in a tree of trackers.

Within an event loop nothing can come between them (there is no await); the lock is for
a sync tool whose thread runs a sub-agent on the same budget (``parent=ctx``). A tracker
with neither parent nor child (a run on its own, the hot path) does without: only its
own run touches it. The lock is never held across an await, nor with another lock."""


@dataclass(slots=True)
class BudgetTracker:
    """What a run has used, checked against its budget and its parents' budgets.

    The fold charges what the journal says was used (``usage``); the live run also
    holds for its calls in flight (``in_flight``), from their check
    (:meth:`reserve_model`, :meth:`reserve_tool`) until their charge is journaled (or
    they end otherwise). Holds are never journaled: a resumed run's tracker, rebuilt
    from the journal, charges exactly what the journal holds, and holds again only for
    the calls it makes.

    Steps, model calls and tool calls are held one by one, so a count limit is exact
    across parallel sub-runs. A sub-run's model call is also held at an estimate of its
    tokens and cost (see :class:`Budget`): a new call is refused once what was used
    plus what the calls in flight are held at reaches a limit. A run without a parent
    holds its model calls at nothing but their count: none of its tree's calls runs
    beside them, so its checks are exactly those of a run on its own.

    Attributes:
        budget: this run's limits.
        parent: the tracker of the run this one is a sub-run of, charged as well.
        usage: what the run (and its sub-runs) used, as journaled.
        in_flight: what the calls in flight here and below are held at (live only).
        started: when the run started (``time.monotonic``).
        warned: the dimensions the run has warned about (once each: its own limit or
            an ancestor's, whichever it reached first).
        estimates: True when this run's model calls are held at an estimate (a sub-run
            under a token or cost limit).
    """

    budget: Budget
    parent: BudgetTracker | None = None
    usage: Usage = field(default_factory=Usage)
    started: float = field(default_factory=time.monotonic)
    warned: set[str] = field(default_factory=set)
    _limits: tuple[tuple[Dimension, float], ...] = ()
    _before: dict[str, tuple[_Limit, ...]] = field(init=False, repr=False)
    in_flight: Usage = field(init=False, repr=False)
    estimates: bool = field(init=False, repr=False)
    _amounts: bool = field(init=False, repr=False)
    _tree: bool = field(init=False, repr=False)
    _most_output: int = field(init=False, repr=False)
    _most_cost: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Tuples of names and numbers (the garbage collector stops tracking them), and
        # the limits to check before each action, shared by every tracker of the budget.
        self._limits = tuple(self.budget.limits())
        self._before = _limits_before(self._limits)
        self.in_flight = Usage()
        parent = self.parent
        self._amounts = bool(self._before["amounts"]) or (parent is not None and parent._amounts)
        self.estimates = parent is not None and self._amounts
        self._tree = parent is not None  # (and once it has a child)
        self._most_output = 0
        self._most_cost = 0.0

    def child(self, budget: Budget) -> BudgetTracker:
        """A tracker for a sub-run whose usage is charged here as well."""
        with _HOLDS:
            self._tree = True  # its holds are taken under the lock from now on
        return BudgetTracker(budget, parent=self)

    def elapsed(self) -> float:
        """Seconds since this tracker started."""
        return time.monotonic() - self.started

    def charge_step(self) -> None:
        """Count one model turn."""
        t: BudgetTracker | None = self
        while t is not None:
            t.usage.steps += 1
            t = t.parent

    def charge_model(self, input_tokens: int, output_tokens: int, cost_usd: float) -> None:
        """Count one model call and what it used."""
        t: BudgetTracker | None = self
        while t is not None:
            u = t.usage
            u.model_calls += 1
            u.input_tokens += input_tokens
            u.output_tokens += output_tokens
            u.cost_usd += cost_usd
            if t._amounts:  # (what peak() reads: only under a token or cost limit)
                t._most_output = max(t._most_output, output_tokens)
                t._most_cost = max(t._most_cost, cost_usd)
            t = t.parent

    def absorb(self, usage: Usage) -> None:
        """Add another run's usage (a fallback agent's) without checking limits."""
        t: BudgetTracker | None = self
        while t is not None:
            u = t.usage
            u.input_tokens += usage.input_tokens
            u.output_tokens += usage.output_tokens
            u.model_calls += usage.model_calls
            u.tool_calls += usage.tool_calls
            u.cost_usd += usage.cost_usd
            t = t.parent

    def restore(self, usage: Usage) -> None:
        """Add a finished sub-run's whole usage, steps included, without checking limits
        (a resumed run taking back what its finished children used before a crash)."""
        self.absorb(usage)
        t: BudgetTracker | None = self
        while t is not None:
            t.usage.steps += usage.steps
            t = t.parent

    def charge_tool(self) -> None:
        """Count one tool execution."""
        t: BudgetTracker | None = self
        while t is not None:
            t.usage.tool_calls += 1
            t = t.parent

    def check(self, before: Literal["step", "model", "tool"]) -> Exceeded | None:
        """The first limit that forbids the next action, here or in a parent, if any.

        Counters (steps, calls) are exhausted when the next action would pass the
        limit; tokens, cost and time when the amount used has reached it. Only what
        was charged counts (:meth:`reserve_model` and :meth:`reserve_tool` count the
        calls in flight too).
        """
        t: BudgetTracker | None = self
        while t is not None:
            for dim, limit, get in t._before[before]:
                used = t.elapsed() if get is None else get(t.usage)
                if used >= limit:
                    return Exceeded(dim, used, limit)
            t = t.parent
        return None

    def _blocked(self, before: str) -> Exceeded | None:
        """:meth:`check`, with what the calls in flight are held at added to each use."""
        t: BudgetTracker | None = self
        while t is not None:
            held = t.in_flight
            for dim, limit, get in t._before[before]:
                used = t.elapsed() if get is None else get(t.usage) + get(held)
                if used >= limit:
                    return Exceeded(dim, used, limit)
            t = t.parent
        return None

    def reserve_model(
        self, estimate: Estimate = NO_ESTIMATE, *, step: bool = False
    ) -> Exceeded | None:
        """Check a model call (and the step it starts) and, when allowed, hold for it.

        The check counts the calls in flight in the tree (held here and by every other
        run under each budget of the chain) as used. When allowed, the call is held
        for, at its count and ``estimate``, until :meth:`release_model`, which the
        caller makes however the call ends; with ``step``, its step is held too, until
        :meth:`model_requested` (for a run that may wait between the check and the
        request: working memory compacting the conversation first).

        Returns:
            The limit that forbids the call (nothing is held then), or None.
        """
        if not self._tree:  # (the hot path, inlined: only this run's calls count here)
            held = self.in_flight
            for dim, limit, get in self._before["step"]:
                used = self.elapsed() if get is None else get(self.usage) + get(held)
                if used >= limit:
                    return Exceeded(dim, used, limit)
            held.model_calls += 1
            if step:
                held.steps += 1
            return None
        with _HOLDS:
            return self._hold_model(estimate, step)

    def _hold_model(self, estimate: Estimate, step: bool) -> Exceeded | None:
        """:meth:`reserve_model` in a tree of trackers (the caller holds the lock)."""
        ex = self._blocked("step")
        if ex is not None:
            return ex
        inp, out, cost = estimate
        t: BudgetTracker | None = self
        while t is not None:
            h = t.in_flight
            h.model_calls += 1
            if step:
                h.steps += 1
            if estimate is not NO_ESTIMATE:
                h.input_tokens += inp
                h.output_tokens += out
                h.cost_usd += cost
            t = t.parent
        return None

    def model_requested(self) -> None:
        """The model call held with its step was journaled as requested (its step is
        charged now), or never will be: its step is no longer held."""
        if not self._tree:
            self.in_flight.steps -= 1
            return
        with _HOLDS:
            t: BudgetTracker | None = self
            while t is not None:
                t.in_flight.steps -= 1
                t = t.parent

    def release_model(self, estimate: Estimate = NO_ESTIMATE) -> None:
        """End the hold of a model call made by :meth:`reserve_model` (with the same
        ``estimate``): its charge is journaled, or it failed or was cancelled."""
        if not self._tree:
            self.in_flight.model_calls -= 1  # (a lone run's calls hold no estimate)
            return
        inp, out, cost = estimate
        with _HOLDS:
            t: BudgetTracker | None = self
            while t is not None:
                h = t.in_flight
                h.model_calls -= 1
                if estimate is not NO_ESTIMATE:
                    h.input_tokens -= inp
                    h.output_tokens -= out
                    # (no rounding error is left behind once nothing is in flight)
                    h.cost_usd = h.cost_usd - cost if h.model_calls else 0.0
                t = t.parent

    def reserve_tool(self) -> Exceeded | None:
        """Check a tool call, counting the calls in flight in the tree as used, and hold
        for it when allowed, until :meth:`release_tools`.

        Returns:
            The limit that forbids the call (nothing is held then), or None.
        """
        if not self._tree:  # (the hot path, inlined, as in reserve_model)
            held = self.in_flight
            for dim, limit, get in self._before["tool"]:
                used = self.elapsed() if get is None else get(self.usage) + get(held)
                if used >= limit:
                    return Exceeded(dim, used, limit)
            held.tool_calls += 1
            return None
        with _HOLDS:
            ex = self._blocked("tool")
            if ex is None:
                t: BudgetTracker | None = self
                while t is not None:
                    t.in_flight.tool_calls += 1
                    t = t.parent
            return ex

    def release_tools(self, n: int = 1) -> None:
        """End the holds of ``n`` tool calls made by :meth:`reserve_tool`: their ends are
        journaled (and charged if they ran), or they will never run."""
        if not self._tree:
            self.in_flight.tool_calls -= n
            return
        with _HOLDS:
            t: BudgetTracker | None = self
            while t is not None:
                t.in_flight.tool_calls -= n
                t = t.parent

    def peak(self) -> tuple[int, float]:
        """The most output tokens, and the most US dollars, one model call has been
        charged so far under the highest budget of the chain with a token or cost limit
        (its whole tree: what every tracker below it charged)."""
        output, cost = 0, 0.0
        t: BudgetTracker | None = self
        while t is not None:
            output = max(output, t._most_output)
            cost = max(cost, t._most_cost)
            t = t.parent
        return output, cost

    def seconds_left(self) -> float | None:
        """Seconds left before this run's or an ancestor's time limit (None: no limit)."""
        left: float | None = None
        t: BudgetTracker | None = self
        while t is not None:
            limit = t.budget.max_seconds
            if limit is not None:
                mine = limit - t.elapsed()
                left = mine if left is None else min(left, mine)
            t = t.parent
        return left

    def cost_fraction(self) -> float | None:
        """The largest fraction of a cost limit used, here or in an ancestor (None: no limit)."""
        worst: float | None = None
        t: BudgetTracker | None = self
        while t is not None:
            limit = t.budget.max_cost_usd
            if limit is not None:
                frac = t.usage.cost_usd / limit if limit > 0 else 1.0
                worst = frac if worst is None else max(worst, frac)
            t = t.parent
        return worst

    def crossed_warning(self) -> list[tuple[Dimension, float, float]]:
        """Dimensions that have just crossed the warning fraction of a limit, here or in
        an ancestor (at that budget's ``warn_at``), each reported once per run: the run
        that spends a shared budget is the one to tell to wrap up."""
        out: list[tuple[Dimension, float, float]] = []
        warned = self.warned
        t: BudgetTracker | None = self
        while t is not None:
            frac = t.budget.warn_at
            for dim, limit, get in t._before["any"]:
                if dim in warned or limit <= 0:
                    continue
                used = t.elapsed() if get is None else get(t.usage)
                if used >= frac * limit:
                    warned.add(dim)
                    out.append((dim, used, limit))
            t = t.parent
        return out


_Limit = tuple[Dimension, float, Callable[[Usage], float] | None]
"""A limit, with how to read its use from a :class:`Usage` (None: the time elapsed)."""


@functools.lru_cache(maxsize=256)
def _limits_before(limits: tuple[tuple[Dimension, float], ...]) -> dict[str, tuple[_Limit, ...]]:
    """The limits checked before each kind of action (see :meth:`BudgetTracker.check`),
    all of them (``"any"``), and those of tokens and cost (``"amounts"``)."""
    skip = {
        "step": ("tool_calls",),
        "model": ("steps", "tool_calls"),
        "tool": ("steps", "model_calls"),
        "any": (),
    }
    read = {d: None if d == "seconds" else operator.attrgetter(d) for d, _ in limits}
    out: dict[str, tuple[_Limit, ...]] = {
        k: tuple((d, v, read[d]) for d, v in limits if d not in s) for k, s in skip.items()
    }
    out["amounts"] = tuple(x for x in out["any"] if x[0] in _AMOUNTS_HELD)
    return out
