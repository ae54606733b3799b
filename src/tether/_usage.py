"""Usage accounting and the run's one budget.

A :class:`Budget` is a set of limits. A :class:`BudgetTracker` holds what a run
has used and checks it against the limits before every model call and every
tool call. Trackers nest: a sub-agent's tracker charges its parent too, so one
budget can cover a whole tree of agents.
"""

from __future__ import annotations

import functools
import math
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ._errors import ConfigError

__all__ = ["Budget", "BudgetTracker", "Dimension", "Exceeded", "Usage"]

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

    Args:
        max_steps: model turns (a model call and the tool calls it asks for).
        max_model_calls: model calls, retries of invalid output included.
        max_tool_calls: tool executions.
        max_input_tokens: input tokens over all model calls.
        max_output_tokens: output tokens over all model calls.
        max_cost_usd: cost in US dollars.
        max_seconds: wall-clock seconds since the run started.
        warn_at: the fraction of any limit at which a warning event is emitted and
            the model is told to wrap up.

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


@dataclass(slots=True)
class BudgetTracker:
    """What a run has used, checked against its budget and its parents' budgets."""

    budget: Budget
    parent: BudgetTracker | None = None
    usage: Usage = field(default_factory=Usage)
    started: float = field(default_factory=time.monotonic)
    warned: set[str] = field(default_factory=set)
    _limits: tuple[tuple[Dimension, float], ...] = ()
    _before: dict[str, tuple[_Limit, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Tuples of names and numbers (the garbage collector stops tracking them), and
        # the limits to check before each action, shared by every tracker of the budget.
        self._limits = tuple(self.budget.limits())
        self._before = _limits_before(self._limits)

    def child(self, budget: Budget) -> BudgetTracker:
        """A tracker for a sub-run whose usage is charged here as well."""
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
        limit; tokens, cost and time when the amount used has reached it.
        """
        t: BudgetTracker | None = self
        while t is not None:
            for dim, limit, get in t._before[before]:
                used = t.elapsed() if get is None else get(t.usage)
                if used >= limit:
                    return Exceeded(dim, used, limit)
            t = t.parent
        return None

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
        """Dimensions that have just crossed the warning fraction (each reported once)."""
        out: list[tuple[Dimension, float, float]] = []
        frac = self.budget.warn_at
        for dim, limit, get in self._before["any"]:
            if dim in self.warned or limit <= 0:
                continue
            used = self.elapsed() if get is None else get(self.usage)
            if used >= frac * limit:
                self.warned.add(dim)
                out.append((dim, used, limit))
        return out


_Limit = tuple[Dimension, float, Callable[[Usage], float] | None]
"""A limit, with how to read its use from a :class:`Usage` (None: the time elapsed)."""


@functools.lru_cache(maxsize=256)
def _limits_before(limits: tuple[tuple[Dimension, float], ...]) -> dict[str, tuple[_Limit, ...]]:
    """The limits checked before each kind of action (see :meth:`BudgetTracker.check`),
    and all of them (``"any"``)."""
    skip = {
        "step": ("tool_calls",),
        "model": ("steps", "tool_calls"),
        "tool": ("steps", "model_calls"),
        "any": (),
    }
    read = {d: None if d == "seconds" else operator.attrgetter(d) for d, _ in limits}
    return {k: tuple((d, v, read[d]) for d, v in limits if d not in s) for k, s in skip.items()}
