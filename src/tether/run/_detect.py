"""Progress and loop detection: cheap checks, no extra model call.

The monitor watches four ways a run goes round in circles:

* ``repeated_call``: the same tool with the same (canonical) arguments, again and again;
* ``cycle``: a sequence of calls repeating itself (A, B, A, B);
* ``stale_results``: tool results that bring nothing new;
* ``replanning``: the model restating the same plan with no new tool result in between,
  measured as word-set similarity over normalised text.

Each detection names what repeats; the run loop decides what to do about it
(a corrective message first, then the fallback strategy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

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
        repeat_threshold: identical calls (same tool, same arguments) that make a loop.
        max_cycle_period: the longest cycle looked for (A, B, C, A, B, C is period 3).
        stale_threshold: consecutive tool results that bring nothing new.
        replan_threshold: restated plans, with no new tool result between, that make a loop.
        replan_similarity: word-set similarity at which two plans count as the same.
        max_corrections: corrective messages sent before the run gives up.
    """

    enabled: bool = True
    repeat_threshold: int = 3
    max_cycle_period: int = 4
    stale_threshold: int = 3
    replan_threshold: int = 2
    replan_similarity: float = 0.8
    max_corrections: int = 1


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


def _trim(kept: dict[Any, Any]) -> None:
    if len(kept) > 2 * _REMEMBERED:  # amortised: trimmed now and then, not every call
        for key in list(kept)[: len(kept) - _REMEMBERED]:
            del kept[key]


@dataclass(slots=True)
class ProgressMonitor:
    """Keeps what one run has done and says when it stops making progress.

    It remembers the latest thousand or so distinct calls and results: a call repeated
    after that many others is not counted as a repeat.
    """

    policy: LoopPolicy = field(default_factory=LoopPolicy)
    _counts: dict[str, int] = field(default_factory=dict)
    _keys: dict[str, str] = field(default_factory=dict)
    _last_result: dict[str, str] = field(default_factory=dict)
    _sequence: list[str] = field(default_factory=list)
    _seen_results: dict[int, None] = field(default_factory=dict)
    _stale_run: int = 0
    _plans: list[str] = field(default_factory=list)
    _replans: int = 0

    def on_call(self, call: ToolCall) -> Detection | None:
        """Check a call before it runs; a detection means it should not run."""
        if not self.policy.enabled:
            return None
        key = call.key()
        self._keys[call.id] = key
        counts = self._counts
        n = counts.pop(key, 0) + 1  # (re-inserted: the latest calls are kept longest)
        counts[key] = n
        _trim(counts)
        seq = self._sequence
        seq.append(key)
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
        for period in range(2, min(self.policy.max_cycle_period, len(seq) // 2) + 1):
            # The latest call repeats the one a period back (cheap) before whole periods
            # are compared.
            if seq[-1] == seq[-1 - period] and seq[-period:] == seq[-2 * period : -period]:
                names = [k.split(":", 1)[0] for k in seq[-period:]]
                if len(set(seq[-period:])) > 1:
                    pattern = " -> ".join(names)
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
        key = self._keys.pop(call.id, None) or call.key()
        last = self._last_result
        last.pop(key, None)
        last[key] = content
        _trim(last)
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
