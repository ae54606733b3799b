"""Turning tracing on and off for every agent run in the process."""

from __future__ import annotations

import atexit
import logging
import re
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.trace import Link, SpanKind, TraceFlags, Tracer, TracerProvider, TraceState

from tether.run import Run, add_outlet_factory, remove_outlet_factory

from ._build import Job, build
from ._ids import ChosenIds
from ._outlet import TracingOutlet
from ._redact import DEFAULT_PATTERNS, Redactor
from ._worker import Builder

__all__ = ["Tracing", "flush", "instrument", "uninstrument"]

log = logging.getLogger("tether.tracing")


class Tracing:
    """What :func:`instrument` set up: the tracer, the redactor and the span builder."""

    def __init__(
        self, provider: TracerProvider, tracer: Tracer, redactor: Redactor, capture: bool
    ) -> None:
        self.provider = provider
        self.tracer = tracer
        self.redactor = redactor
        self.capture = capture
        self.ids: ChosenIds | None = None
        if isinstance(tracer, SdkTracer):  # tether's own tracer: its ids can be chosen
            gen = tracer.id_generator
            self.ids = gen if isinstance(gen, ChosenIds) else ChosenIds(gen)
            tracer.id_generator = self.ids
        self.builder = Builder(self.build)

    def outlet(self, run: Run) -> TracingOutlet | None:
        """The outlet that traces ``run`` (the run layer calls this for every new run);
        none for a run that keeps only its latest events (``keep_events``)."""
        if run.keep is not None:
            log.warning(
                "tether.tracing: run %s keeps only its latest %d events (keep_events); "
                "it is not traced",
                run.run_id,
                run.keep,
            )
            return None
        return TracingOutlet(self, run)

    def sample(
        self, parent: Context, trace_id: int, links: Sequence[Link]
    ) -> tuple[TraceFlags, TraceState]:
        """Whether a run's spans are recorded: the provider's sampler decides, once per
        run, when it begins (the spans themselves are made when it ends)."""
        sampler = getattr(self.tracer, "sampler", None)
        if sampler is None:
            return TraceFlags(TraceFlags.SAMPLED), TraceState()
        got = sampler.should_sample(
            parent, trace_id, "invoke_agent", SpanKind.INTERNAL, None, links
        )
        flags = TraceFlags(TraceFlags.SAMPLED if got.decision.is_sampled() else 0)
        return flags, got.trace_state or TraceState()

    def submit(self, job: Job) -> None:
        """Hand a finished run to the builder."""
        self.builder.submit(job)

    def build(self, job: Job) -> None:
        """Build one run's spans (on the builder's thread)."""
        values = self.redactor.values(job.secrets)
        build(
            job,
            tracer=self.tracer,
            ids=self.ids,
            scrub=self.redactor.scrub,
            values=values,
            capture=self.capture,
        )


_current: Tracing | None = None
_exit_hooked = False


def _version() -> str:
    try:
        return version("tether")
    except PackageNotFoundError:  # run from a source tree
        return ""


def instrument(
    tracer_provider: TracerProvider | None = None,
    *,
    capture_content: bool = False,
    redact: Sequence[str | re.Pattern[str]] = DEFAULT_PATTERNS,
    redact_env: Sequence[str] = (),
) -> None:
    """Trace every agent run in this process with OpenTelemetry.

    Each run is an ``invoke_agent {agent}`` span, with a span per step, per model
    call (``chat {model}``) and per tool call (``execute_tool {tool}``), named and
    attributed by the GenAI semantic conventions; budget warnings, loop detections,
    retries, model switches, fallbacks, approvals and guardrail checks are span
    events. A span of yours that is current when a run starts is the run span's
    parent, and spans made inside a tool (an instrumented HTTP client) nest under
    the tool's span.

    Args:
        tracer_provider: where the spans go; the global provider by default. Give it
            a ``BatchSpanProcessor`` so that exporting stays off the runs' path.
        capture_content: also record the prompt, the model's output, tool arguments
            and results, and the text of errors and reasons. Off by default.
        redact: patterns of text never to put into a trace (a group named ``secret``
            limits the replacement to that group); :data:`DEFAULT_PATTERNS` by default.
            Secret tool parameters are always redacted.
        redact_env: names of environment variables whose values are never put into a
            trace (besides those whose names end in ``API_KEY``, ``TOKEN``,
            ``SECRET`` or ``PASSWORD``).
    """
    global _current, _exit_hooked
    uninstrument()
    provider = tracer_provider or trace.get_tracer_provider()
    tracer = provider.get_tracer("tether", _version())
    _current = Tracing(provider, tracer, Redactor(redact, redact_env), capture_content)
    add_outlet_factory(_current.outlet)
    if not _exit_hooked:  # after the provider's own hook was registered, so it runs first
        atexit.register(_at_exit)
        _exit_hooked = True


def uninstrument() -> None:
    """Stop tracing new runs; the spans of runs that already ended are built first."""
    global _current
    current, _current = _current, None
    if current is None:
        return
    remove_outlet_factory(current.outlet)
    current.builder.shutdown()


def flush(timeout: float | None = None) -> bool:
    """Build the spans of every run that has ended, then flush the tracer provider.

    Returns False when ``timeout`` seconds passed before everything was handed over.
    """
    current = _current
    if current is None:
        return True
    done = current.builder.flush(timeout)
    force = getattr(current.provider, "force_flush", None)
    if callable(force):
        done = bool(force()) and done
    return done


def _at_exit() -> None:
    if _current is not None:
        _current.builder.flush(timeout=10.0)
