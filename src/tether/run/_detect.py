"""Progress and loop detection: cheap checks, no extra model call.

The monitor watches four ways a run goes round in circles:

* ``repeated_call``: the same tool with the same (canonical) arguments, again and again;
* ``cycle``: a sequence of calls repeating itself (A, B, A, B);
* ``stale_results``: tool results that bring nothing new;
* ``replanning``: the model restating the same plan with no new tool result in between,
  measured as word-set similarity over normalised text.

Progress is judged by results, not by calls alone: a call repeated while its result keeps
changing is polling (queued, running, done), a cycle whose calls brought new results is
not a loop, and a call with new arguments to a tool that acts on the world (one that
declares ``effects``) is an action done, whatever it returns, as is a short confirmation
(``saved``, ``OK``) of any tool's call with new arguments: not a stale result.

Each detection names what repeats; the run loop decides what to do about it
(a corrective message first, then the fallback strategy).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from tether._errors import ConfigError
from tether._events import LoopKind
from tether._messages import ToolCall

__all__ = ["Detection", "LoopPolicy", "ProgressMonitor", "similarity"]

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    """a an and are as at be by do for from i if in is it its let me my now of on or so
    the then this to we will with you""".split()
)


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in _STOP)


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' normalised word sets (0 to 1)."""
    wa, wb = _words(a), _words(b)
    if not wa and not wb:
        return 1.0
    return len(wa & wb) / len(wa | wb)


@dataclass(frozen=True, slots=True)
class LoopPolicy:
    """Thresholds of the progress monitor.

    Args:
        enabled: turn detection off entirely with False.
        repeat_threshold: identical calls (same tool, same arguments) returning the same
            result that make a loop (at least 2; the count starts again when the result
            changes).
        max_cycle_period: the longest cycle looked for (A, B, C, A, B, C is period 3); at
            least 1, and 1 looks for no cycles.
        stale_threshold: consecutive tool results that bring nothing new (at least 1).
        replan_threshold: restated plans, with no new tool result between, that make a
            loop (at least 1).
        replan_similarity: word-set similarity at which two plans count as the same
            (above 0, at most 1).
        max_corrections: corrective messages sent before the run gives up (0 or more).

    Raises:
        ConfigError: a field is not of its type or out of its range.
    """

    enabled: bool = True
    repeat_threshold: int = 3
    max_cycle_period: int = 4
    stale_threshold: int = 3
    replan_threshold: int = 2
    replan_similarity: float = 0.8
    max_corrections: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"LoopPolicy.enabled is True or False, got {self.enabled!r}")
        for name, least, why in (
            ("repeat_threshold", 2, "1 would call every first call a loop"),
            ("max_cycle_period", 1, "1 looks for no cycles"),
            ("stale_threshold", 1, "the stale results in a row that make a loop"),
            ("replan_threshold", 1, "the restated plans that make a loop"),
            ("max_corrections", 0, "0 gives up at the first loop"),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(
                    f"LoopPolicy.{name} is a whole number of at least {least} ({why}), "
                    f"got {value!r}; to turn loop detection off, pass enabled=False"
                )
        sim = self.replan_similarity
        if (
            isinstance(sim, bool)
            or not isinstance(sim, int | float)
            or not math.isfinite(sim)
            or not 0 < sim <= 1
        ):
            raise ConfigError(
                "LoopPolicy.replan_similarity is a number above 0 and at most 1 (0.8 by "
                f"default; 1 means word for word), got {sim!r}"
            )


@dataclass(frozen=True, slots=True)
class Detection:
    """A loop the monitor saw: its kind, what repeats, and the message for the model."""

    kind: LoopKind
    detail: str
    message: str


def _call_text(call: ToolCall) -> str:
    return f"{call.name}({call.arguments_json()})"


_REMEMBERED = 1024
"""Distinct calls and results the monitor keeps (the oldest are let go beyond it), so a
run of many thousands of steps does not grow without bound."""

_ACK_WORDS = frozenset(
    """ok okay done saved stored written wrote created added updated deleted removed sent
    set success succeeded successful successfully true null none acknowledged accepted
    recorded logged complete completed applied committed inserted uploaded posted
    published registered changed moved copied renamed cleared enabled disabled confirmed
    yes""".split()
)
_NOT_ACK = frozenset("no not nothing never cannot unable failed failure error invalid".split())
_ACK_CHARS = 80


def _is_ack(content: str) -> bool:
    """Whether a result is a short confirmation (``saved``, ``OK``, ``{"ok": true}``, or
    nothing): what an action returns, the same for every call, so repeating it across
    calls with new arguments is progress, not staleness."""
    if len(content) > _ACK_CHARS:
        return False
    if not content.strip():
        return True
    words = set(_WORD.findall(content.lower()))
    return bool(words & _ACK_WORDS) and not words & _NOT_ACK


def _trim(kept: dict[Any, Any]) -> None:
    if len(kept) > 2 * _REMEMBERED:  # amortised: trimmed now and then, not every call
        for key in list(kept)[: len(kept) - _REMEMBERED]:
            del kept[key]


@dataclass(slots=True)
class _Made:
    """A call in the recent sequence: its key, and whether its result was news (None
    until it has one)."""

    key: str
    news: bool | None = None


@dataclass(slots=True)
class ProgressMonitor:
    """Keeps what one run has done and says when it stops making progress.

    It remembers the latest thousand or so distinct calls and results: a call repeated
    after that many others is not counted as a repeat.

    ``acting`` names the tools that act on the world (those that declare ``effects``):
    each of their calls with new arguments is progress, whatever its result says (a
    write that answers ``"200"`` for every file), while the same call again is still a
    repeat.
    """

    policy: LoopPolicy = field(default_factory=LoopPolicy)
    _counts: dict[str, int] = field(default_factory=dict)
    """Per call key: the calls made since its result last changed (all, if it never did)."""
    _pending: dict[str, _Made] = field(default_factory=dict)
    _last_result: dict[str, str] = field(default_factory=dict)
    _sequence: list[_Made] = field(default_factory=list)
    _seen_results: dict[int, None] = field(default_factory=dict)
    _stale_run: int = 0
    _plans: list[str] = field(default_factory=list)
    _replans: int = 0
    acting: frozenset[str] = frozenset()

    def on_call(self, call: ToolCall) -> Detection | None:
        """Check a call before it runs; a detection means it should not run."""
        if not self.policy.enabled:
            return None
        key = call.key()
        made = _Made(key)
        self._pending[call.id] = made
        _trim(self._pending)  # calls that were not run never report a result
        counts = self._counts
        n = counts.pop(key, 0) + 1  # (re-inserted: the latest calls are kept longest)
        counts[key] = n
        _trim(counts)
        seq = self._sequence
        seq.append(made)
        if len(seq) > 64:  # cycles are looked for in the latest calls only
            del seq[: -2 * self.policy.max_cycle_period]
        if n >= self.policy.repeat_threshold:
            text = _call_text(call)
            prior = self._last_result.get(key)
            seen = f" It returned: {prior[:200]}." if prior is not None else ""
            return Detection(
                "repeated_call",
                f"{text} called {n} times",
                f"You have called {text} {n} times with the same arguments; it will not "
                f"give anything new.{seen} Do not call it again: use the results you have, "
                "or give your final answer now.",
            )
        return self._cycle()

    def _cycle(self) -> Detection | None:
        """A cycle the latest call closes, if the calls of its latest round that have
        results brought nothing new (a round whose results changed is progress)."""
        seq = self._sequence
        for period in range(2, min(self.policy.max_cycle_period, len(seq) // 2) + 1):
            # The latest call repeats the one a period back (cheap) before whole periods
            # are compared.
            if seq[-1].key != seq[-1 - period].key:
                continue
            keys = [m.key for m in seq[-2 * period :]]
            if keys[period:] != keys[:period] or len(set(keys[period:])) < 2:
                continue
            done = [m.news for m in seq[-period:] if m.news is not None]
            if not done or any(done):
                continue
            pattern = " -> ".join(k.split(":", 1)[0] for k in keys[period:])
            return Detection(
                "cycle",
                f"cycle of period {period}: {pattern}",
                f"Your calls are going round in a cycle ({pattern}, twice over) "
                "without progress. Break the cycle: use the results you have, try "
                "something different, or give your final answer now.",
            )
        return None

    def on_result(self, call: ToolCall, content: str) -> Detection | None:
        """Record a call's result; a detection means results stopped bringing anything new."""
        if not self.policy.enabled:
            return None
        made = self._pending.pop(call.id, None)
        key = made.key if made is not None else call.key()
        last = self._last_result
        prior = last.pop(key, None)
        last[key] = content
        _trim(last)
        if made is not None:
            made.news = prior != content
        if prior is not None and prior != content and key in self._counts:
            # Its result moved (a job polled: queued, running, done): the repeats of this
            # call are counted again from here.
            self._counts[key] = 0
        # An action's result (a tool with effects, or a short confirmation) is news when
        # the call is new (saving another key); any other result is news when no call of
        # this tool returned it before.
        if call.name in self.acting or _is_ack(content):
            h = hash((key, content))
        else:
            h = hash((call.name, content))
        seen = self._seen_results
        if h not in seen:
            seen[h] = None
            _trim(seen)
            self._stale_run = 0
            self._plans.clear()
            self._replans = 0
            return None
        self._stale_run += 1
        if self._stale_run >= self.policy.stale_threshold:
            return Detection(
                "stale_results",
                f"{self._stale_run} tool results in a row brought nothing new",
                f"The last {self._stale_run} tool results repeated what you already had. "
                "More calls like these will not help: give your final answer from what "
                "you know now.",
            )
        return None

    def on_plan(self, text: str) -> Detection | None:
        """Record the plan a model stated beside its tool calls."""
        if not self.policy.enabled or not text.strip():
            return None
        threshold = self.policy.replan_similarity
        if any(similarity(text, p) >= threshold for p in self._plans):
            self._replans += 1
        self._plans.append(text)
        if self._replans >= self.policy.replan_threshold:
            return Detection(
                "replanning",
                f"the same plan restated {self._replans + 1} times with no new result",
                "You keep restating the same plan without new information. Stop "
                "re-planning: act on one step of it now, or give your final answer.",
            )
        return None
