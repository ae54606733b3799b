"""The tracer on a run: an outlet that names the run's spans and hands the events on.

On the run's own path it does three cheap things. When the run begins it decides
the run span's parent (a span of the caller's, if one is current), its ids and
whether it is sampled (the provider's sampler decides). It makes a span current
around the run, each model call and each tool call (:meth:`TracingOutlet.around`):
no span object exists yet, only the id the span will have, derived from the event
that began the work, so a span made inside a tool nests under the tool's span. When
the run ends it hands the run's events to the builder, which makes every span, the
run span included, from the events and their times.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from opentelemetry.context import Context, attach, detach, get_current
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    TraceState,
    get_current_span,
    set_span_in_context,
)

from tether._events import (
    ModelRequested,
    RunFinished,
    RunStarted,
    StreamEvent,
    TextDelta,
    ToolCallStarted,
)
from tether.run import Outlet, Run

from ._build import Job
from ._ids import CHAT, SEGMENT, TOOL, ChosenIds, run_base, span_id, trace_of


class Host(Protocol):
    """What the outlet needs of the tracing set up by ``instrument``."""

    ids: ChosenIds | None

    def sample(
        self, parent: Context, trace_id: int, links: Sequence[Link]
    ) -> tuple[TraceFlags, TraceState]:
        """Whether a run's spans are recorded, decided when it begins."""
        ...

    def submit(self, job: Job) -> None:
        """Hand a finished run to the builder."""
        ...


__all__ = ["Host", "TracingOutlet"]


class _Use:
    """A context made current while some work runs (entered and left in one task)."""

    __slots__ = ("_context", "_token")

    def __init__(self, context: Context) -> None:
        self._context = context
        self._token: object = None

    def __enter__(self) -> None:
        self._token = attach(self._context)

    def __exit__(self, *exc: object) -> None:
        detach(self._token)  # type: ignore[arg-type]


@dataclass(slots=True)
class _Part:
    """The part of a run this process executes: the whole run, or a resumed part."""

    span_id: int
    trace: int | None  # the trace id to give the run span, when it has no parent
    parent: Context  # the run span's parent (the caller's context), or an empty one
    links: tuple[Link, ...]
    context: Context  # the run's span made current, for around
    base: int
    start: int
    resumed_at: int | None
    trace_id: int
    flags: TraceFlags
    state: TraceState


class _Pending(NonRecordingSpan):
    """The span of a model or tool call under way, which the builder makes once the run
    ends. Its id is derived from the event that began the call, when someone asks."""

    def __init__(self, part: _Part, seq: int, kind: int) -> None:
        self._part = part
        self._seq = seq
        self._kind = kind
        self._context: SpanContext | None = None  # type: ignore[assignment]

    def get_span_context(self) -> SpanContext:
        ctx = self._context
        if ctx is None:
            p = self._part
            sid = span_id(p.base, self._seq, self._kind)
            ctx = self._context = SpanContext(p.trace_id, sid, False, p.flags, p.state)
        return ctx


def _after_last_end(events: list[StreamEvent], boundary: int) -> int:
    """Where the part of a run that no process has traced yet begins: after the last
    ``run_finished`` before ``boundary`` (an interrupted run's earlier part was traced
    when it ended; a part cut off by a crash never was, and is traced now)."""
    for i in range(boundary - 1, -1, -1):
        if isinstance(events[i], RunFinished):
            return i + 1
    return 0


class TracingOutlet(Outlet):
    """Traces one run (made for every run by ``tether.tracing.instrument``)."""

    __slots__ = ("_done", "_part", "_run", "_tracing")

    def __init__(self, tracing: Host, run: Run) -> None:
        self._tracing = tracing
        self._run = run
        self._part: _Part | None = None
        self._done = False

    def emit(self, event: StreamEvent) -> None:
        """Open the run's part at its first event; hand the events on at its end."""
        if self._part is None:
            if self._done or type(event) is TextDelta:
                return
            self._open(event.seq, new=type(event) is RunStarted)
        if type(event) is RunFinished:
            self._close()

    def around(self, event: StreamEvent) -> AbstractContextManager[object] | None:
        """The run's span around the run; a model or tool call's span around the call."""
        part = self._part
        if part is None:
            if self._done:
                return None
            part = self._open(len(self._run.events), new=False)  # a resumed run begins
        kind = type(event)
        if kind is ModelRequested:
            which = CHAT
        elif kind is ToolCallStarted:
            which = TOOL
        else:
            return _Use(part.context)
        if self._tracing.ids is None:  # the spans' ids cannot be chosen: nothing to name
            return None
        return _Use(set_span_in_context(_Pending(part, event.seq, which), part.context))

    def _open(self, boundary: int, *, new: bool) -> _Part:
        run = self._run
        run_id = run.run_id
        base = run_base(run_id)
        here = get_current()  # the caller's context
        caller = get_current_span(here).get_span_context()
        links: tuple[Link, ...] = ()
        start, resumed_at, sid = 0, None, base
        if new and caller.is_valid:  # a span of the caller's is the run span's parent
            parent, trace = here, None
        else:
            parent, trace = Context(), trace_of(run_id)
        if not new:
            # A resumed run joins its own trace, whoever resumes it; the resumer's span
            # (a request handler's, say) is linked.
            resumed_at = boundary
            links = (Link(caller),) if caller.is_valid else ()
            start = _after_last_end(run.events, boundary)
            if start > 0:  # the run span was made when the earlier part ended
                sid = span_id(base, start, SEGMENT)
                assert trace is not None
                run_span = SpanContext(trace, base, True, TraceFlags(TraceFlags.SAMPLED))
                parent = set_span_in_context(NonRecordingSpan(run_span), Context())
        trace_id = trace if trace is not None else caller.trace_id
        flags, state = self._tracing.sample(parent, trace_id, links)
        mine = NonRecordingSpan(SpanContext(trace_id, sid, False, flags, state))
        self._part = part = _Part(
            sid,
            trace,
            parent,
            links,
            set_span_in_context(mine, here),
            base,
            start,
            resumed_at,
            trace_id,
            flags,
            state,
        )
        return part

    def _close(self) -> None:
        part, self._part = self._part, None
        self._done = True
        if part is None or not part.flags.sampled:
            return
        run = self._run
        job = Job(
            part.span_id,
            part.trace,
            part.parent,
            part.links,
            part.base,
            part.start,
            part.resumed_at,
            run.events,
            frozenset(run.secrets),
        )
        self._tracing.submit(job)
