"""The ids of tether's spans: derived from the run, so any process can name them.

A run's span id is a hash of its run id, and every other span's id mixes that with
the sequence number of the event that began it (a model call's ``model_requested``,
a tool call's ``tool_call_started``). So the span a tool runs under is known the
moment the call starts, before any span object exists, and a process that resumes
the run names the run span exactly as the process that began it did.

The SDK makes span ids itself; :class:`ChosenIds` wraps the provider's id generator
on tether's own tracer and hands out the id tether chose for the span being started
on this thread, and the provider's random ids otherwise.
"""

from __future__ import annotations

import threading
from hashlib import blake2b

from opentelemetry.sdk.trace.id_generator import IdGenerator

__all__ = ["CHAT", "SEGMENT", "STEP", "TOOL", "ChosenIds", "run_base", "span_id", "trace_of"]

_M64 = (1 << 64) - 1
SEGMENT, STEP, CHAT, TOOL = 0, 1, 2, 3
"""What a derived span is for: mixed into its id with the event's sequence number."""


def _hash(text: str, size: int) -> int:
    value = int.from_bytes(blake2b(text.encode(), digest_size=size).digest(), "big")
    return value or 1  # zero is the invalid id


def trace_of(run_id: str) -> int:
    """The trace id of a run that began outside any span (128 bits)."""
    return _hash("tether.trace:" + run_id, 16)


def run_base(run_id: str) -> int:
    """The run span's id (64 bits); every other span id of the run is derived from it."""
    return _hash("tether.run:" + run_id, 8)


def span_id(base: int, seq: int, kind: int) -> int:
    """The id of the span of ``kind`` begun by the event ``seq`` of the run ``base``."""
    x = (base + (seq << 2 | kind) * 0x9E3779B97F4A7C15) & _M64  # splitmix64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return (x ^ (x >> 31)) or 1


class ChosenIds(IdGenerator):
    """The provider's id generator, except for ids tether chose for its next span."""

    def __init__(self, inner: IdGenerator) -> None:
        self.inner = inner
        self._next = threading.local()

    def choose(self, span: int, trace: int | None = None) -> None:
        """Make the next span started on this thread get ``span`` (and, if it is a root,
        ``trace``). Call :meth:`clear` once it is started."""
        self._next.span = span
        self._next.trace = trace

    def clear(self) -> None:
        """Forget ids chosen but not used (the span was not started)."""
        self._next.span = None
        self._next.trace = None

    def generate_span_id(self) -> int:
        chosen: int | None = getattr(self._next, "span", None)
        if chosen is None:
            return self.inner.generate_span_id()
        self._next.span = None
        return chosen

    def generate_trace_id(self) -> int:
        chosen: int | None = getattr(self._next, "trace", None)
        if chosen is None:
            return self.inner.generate_trace_id()
        self._next.trace = None
        return chosen

    def is_trace_id_random(self) -> bool:
        return self.inner.is_trace_id_random()
