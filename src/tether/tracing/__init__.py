"""OpenTelemetry tracing for tether's agent runs.

Turn it on once, for every run in the process::

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tether.tracing.instrument(provider)

**How spans are made.** The tracer is an event outlet (:class:`tether.run.Outlet`):
a run's events are its trace. On the run's path it only starts the run span (so the
sampler decides, and a span of the caller's is its parent), makes a span current
around the run, each model call and each tool call (the one hook in the loop:
``Outlet.around``), and hands the run's events over when the run ends. A thread then
builds the step, model-call and tool-call spans from the events, with the times they
carry (``at``), and a ``BatchSpanProcessor`` exports them. A model call's or a tool
call's span is named before it exists: its id is derived from the run's and the
sequence number of the event that began the call, so the context current during the
call (a ``NonRecordingSpan`` carrying that id) is the parent of any span the call
makes, and the span built later has exactly that id.

**A run resumed in another process joins its trace.** Ids are derived, not journaled:
the trace id of a run begun outside any span is a hash of its run id, and the run
span's id is a hash of the run id too. So a process that resumes the run, knowing
only its id, puts the resumed part (``invoke_agent {agent}`` with
``tether.run.resumed``) under the same run span in the same trace, with no change to
the journal's format and no extra write on the run's path; the resumer's own current
span, if any, is linked. A part of a run cut off by a crash was never traced (spans
are built when a run or part ends); the process that resumes it builds those spans
too, from the journal. The limit: a run begun inside a span of the caller's belongs
to the caller's trace, which the journal does not record, so its resumed part goes
to the run's own trace (under the same run span id) rather than the caller's.

**Secrets stay out.** Content (prompt, output, tool arguments and results, error
and reason texts) is recorded only with ``capture_content=True``; every string put
into a span or span event, content or not, is redacted first (see ``instrument``).
"""

try:
    import opentelemetry.sdk.trace  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "tether.tracing needs the OpenTelemetry SDK: pip install 'tether[tracing]' "
        "(or opentelemetry-sdk, and an exporter such as opentelemetry-exporter-otlp)"
    ) from exc

from ._instrument import Tracing, flush, instrument, uninstrument
from ._outlet import TracingOutlet
from ._redact import DEFAULT_PATTERNS

__all__ = ["DEFAULT_PATTERNS", "Tracing", "TracingOutlet", "flush", "instrument", "uninstrument"]
