"""Spans exported over OTLP/HTTP to a real Arize Phoenix, read back through its REST API.

The first tests send a plain OpenTelemetry SDK span tree and prove the harness:
whatever tether's tracing puts in a span, Phoenix keeps ids, parents, attributes
and statuses. The others run agents under ``tether.tracing.instrument`` and check,
as Phoenix shows them to a user, the tree (run, step, model call, tool call), the
GenAI semantic-convention attributes, the cost, captured content with secrets
redacted, the error status of a failed run, and a run that gave up.
"""

from __future__ import annotations

import importlib.util
import json
import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from helpers import of_type
from phoenix_server import PhoenixServer, Span
from tether import Agent, Budget, ModelResponded, ToolCall, ToolCallStarted
from tether.models import Price
from tether.testing import ScriptedModel

pytestmark = pytest.mark.slow  # one Phoenix per session: about 15 s to start


def _require(*modules: str) -> None:
    """Skip (fail in CI) when a module the export needs is not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    why = (
        f"{', '.join(missing)} not installed: pip install opentelemetry-sdk "
        "opentelemetry-exporter-otlp-proto-http"
    )
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why, allow_module_level=True)


_require("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: E402
from opentelemetry.trace import Status, StatusCode, format_span_id, format_trace_id  # noqa: E402


def provider_for(phoenix: PhoenixServer, project: str) -> TracerProvider:
    """A tracer provider whose spans go to ``project`` in Phoenix, batched as in production."""
    resource = Resource.create(
        {"service.name": "tether-tests", "openinference.project.name": project}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=phoenix.otlp_endpoint, timeout=10))
    )
    return provider


@pytest.fixture
def project() -> str:
    """A Phoenix project of the test's own, so tests sharing the server never mix spans."""
    return f"tether-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def provider(phoenix: PhoenixServer, project: str) -> Iterator[TracerProvider]:
    """The test's tracer provider, shut down (its last batch sent) after the test."""
    tp = provider_for(phoenix, project)
    yield tp
    tp.shutdown()


def by_name(spans: list[Span]) -> dict[str, Span]:
    """The spans by name; the names must be unique."""
    found = {s.name: s for s in spans}
    assert len(found) == len(spans), f"span names repeat: {[s.name for s in spans]}"
    return found


# --------------------------------------------------------------- the harness


def test_an_sdk_span_tree_reaches_phoenix_with_ids_parents_and_attributes(
    phoenix: PhoenixServer, provider: TracerProvider, project: str
) -> None:
    tracer = provider.get_tracer("tether.tests")
    # A key that is also the prefix of another (tether.run.reason and its .detail):
    # Phoenix nests attributes by their dots, and must keep both.
    run_attrs = {
        "gen_ai.operation.name": "invoke_agent",
        "tether.run.reason": "budget_exhausted",
        "tether.run.reason.detail": "steps",
    }
    with (
        tracer.start_as_current_span("invoke_agent demo", attributes=run_attrs) as root,
        tracer.start_as_current_span("step 1") as step,
    ):
        with tracer.start_as_current_span(
            "chat scripted",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "scripted",
                "gen_ai.usage.input_tokens": 12,
                "gen_ai.usage.output_tokens": 3,
                "gen_ai.response.finish_reasons": ("tool_calls",),
                "tether.cost.usd": 0.0125,
                "tether.cached": False,
            },
        ) as chat:
            pass
        with tracer.start_as_current_span(
            "execute_tool add",
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "add"},
            record_exception=False,
            set_status_on_exception=False,
        ) as tool:
            tool.record_exception(ValueError("a must be a number"))
            tool.set_status(Status(StatusCode.ERROR, "ValueError: a must be a number"))
    assert provider.force_flush(10_000)

    spans = by_name(phoenix.spans(project, at_least=4))
    assert set(spans) == {"invoke_agent demo", "step 1", "chat scripted", "execute_tool add"}
    trace_id = format_trace_id(root.get_span_context().trace_id)
    assert {s.trace_id for s in spans.values()} == {trace_id}
    ids = {
        name: format_span_id(sdk.get_span_context().span_id)
        for name, sdk in [
            ("invoke_agent demo", root),
            ("step 1", step),
            ("chat scripted", chat),
            ("execute_tool add", tool),
        ]
    }
    assert {name: s.span_id for name, s in spans.items()} == ids
    assert spans["invoke_agent demo"].parent_id is None
    assert spans["step 1"].parent_id == ids["invoke_agent demo"]
    assert spans["chat scripted"].parent_id == ids["step 1"]
    assert spans["execute_tool add"].parent_id == ids["step 1"]

    assert spans["invoke_agent demo"].attributes == run_attrs
    chat_attrs = spans["chat scripted"].attributes
    assert chat_attrs["gen_ai.operation.name"] == "chat"
    assert chat_attrs["gen_ai.request.model"] == "scripted"
    assert chat_attrs["gen_ai.usage.input_tokens"] == 12
    assert chat_attrs["gen_ai.usage.output_tokens"] == 3
    assert chat_attrs["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert chat_attrs["tether.cost.usd"] == pytest.approx(0.0125)
    assert chat_attrs["tether.cached"] is False
    assert spans["execute_tool add"].attributes["gen_ai.tool.name"] == "add"

    assert spans["chat scripted"].status_code == "UNSET"
    failed = spans["execute_tool add"]
    assert (failed.status_code, failed.status_message) == (
        "ERROR",
        "ValueError: a must be a number",
    )
    [event] = failed.events
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "ValueError"
    assert event["attributes"]["exception.message"] == "a must be a number"


def test_spans_go_to_the_project_their_resource_names(
    phoenix: PhoenixServer, provider: TracerProvider, project: str
) -> None:
    other = f"{project}-other"
    elsewhere = provider_for(phoenix, other)
    provider.get_tracer("t").start_span("here").end()
    elsewhere.get_tracer("t").start_span("there").end()
    elsewhere.shutdown()
    assert provider.force_flush(10_000)
    assert [s.name for s in phoenix.spans(project)] == ["here"]
    assert [s.name for s in phoenix.spans(other)] == ["there"]


# --------------------------------------------------------------- tether's own spans

PRICE = Price(input_per_mtok=3.0, output_per_mtok=15.0)
KEY = "sk-tetherTEST0123456789abcdef"  # shaped like an API key: the redactor knows it


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: the first.
        b: the second.
    """
    return a + b


def calc(model: ScriptedModel, budget: Budget | None = None) -> Agent[None, str]:
    """The agent the tests trace: ``add`` as its one tool."""
    return Agent(model, tools=[add], name="calc", budget=budget)


@pytest.fixture
def instrument(provider: TracerProvider) -> Iterator[Callable[..., None]]:
    """Turns tether's tracing on with the test's provider; off again after the test."""
    from tether import tracing

    def start(*, capture_content: bool = False) -> None:
        tracing.instrument(provider, capture_content=capture_content)

    yield start
    tracing.uninstrument()


def flush() -> None:
    """Build the spans of the runs that ended and send them."""
    from tether import tracing

    assert tracing.flush(10.0)


def root_of(spans: list[Span]) -> Span:
    """The one span without a parent."""
    roots = [s for s in spans if s.parent_id is None]
    assert len(roots) == 1, f"roots: {[s.name for s in roots]}"
    return roots[0]


def named(spans: list[Span], prefix: str) -> list[Span]:
    """The spans whose names start with ``prefix``, oldest first."""
    return [s for s in spans if s.name.startswith(prefix)]


def parent_of(spans: list[Span], child: Span) -> Span:
    """The span that ``child`` names as its parent, which must be in ``spans``."""
    [parent] = [s for s in spans if s.span_id == child.parent_id]
    return parent


def event_names(spans: list[Span]) -> list[str]:
    """The names of the span events of all ``spans``."""
    return [e["name"] for s in spans for e in s.events]


def test_a_run_with_a_tool_reaches_phoenix_as_run_step_chat_and_tool_spans(
    phoenix: PhoenixServer, instrument: Callable[..., None], project: str
) -> None:
    instrument()
    model = ScriptedModel([ToolCall("add", {"a": 2, "b": 3}), "5"], name="scripted", price=PRICE)
    result = calc(model).run_sync(f"What is 2+3? {KEY}")
    assert result.status == "completed"
    flush()

    spans = phoenix.spans(project, at_least=6)  # run, 2 steps, 2 chats, 1 tool
    assert len(spans) == 6, [s.name for s in spans]
    root = root_of(spans)
    assert root.name == "invoke_agent calc"
    assert {s.trace_id for s in spans} == {root.trace_id}
    chats = named(spans, "chat ")
    [tool] = named(spans, "execute_tool ")
    assert [c.name for c in chats] == ["chat scripted", "chat scripted"]
    steps = [parent_of(spans, c) for c in chats]
    assert [s.name for s in steps] == ["step 1", "step 2"]
    assert [s.parent_id for s in steps] == [root.span_id, root.span_id]
    assert tool.name == "execute_tool add"
    assert tool.parent_id == steps[0].span_id

    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.agent.name"] == "calc"
    assert root.attributes["gen_ai.request.model"] == "scripted"
    assert root.attributes["gen_ai.conversation.id"] == result.run_id
    assert root.attributes["tether.run.status"] == "completed"
    assert root.attributes["gen_ai.usage.input_tokens"] == result.usage.input_tokens
    assert root.attributes["gen_ai.usage.output_tokens"] == result.usage.output_tokens
    assert root.attributes["tether.cost.usd"] == pytest.approx(result.usage.cost_usd)
    assert result.usage.cost_usd > 0
    assert [s.status_code for s in spans] == ["UNSET"] * 6

    responded = of_type(result, ModelResponded)
    for chat, event, reason in zip(chats, responded, ["tool_calls", "stop"], strict=True):
        attrs = chat.attributes
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.request.model"] == "scripted"
        assert attrs["gen_ai.usage.input_tokens"] == event.response.usage.input_tokens
        assert attrs["gen_ai.usage.output_tokens"] == event.response.usage.output_tokens
        assert attrs["gen_ai.response.finish_reasons"] == [reason]
        assert attrs["tether.cost.usd"] == pytest.approx(event.cost_usd)
    [call] = of_type(result, ToolCallStarted)
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "add"
    assert tool.attributes["gen_ai.tool.call.id"] == call.call.id
    assert tool.attributes["tether.tool.outcome"] == "ok"

    # Content is not captured unless asked for: no prompt, answer or arguments.
    text = repr([(s.attributes, s.events) for s in spans])
    assert "2+3" not in text
    assert KEY not in text
    assert '"a"' not in text


def test_captured_content_reaches_phoenix_with_secrets_redacted(
    phoenix: PhoenixServer, instrument: Callable[..., None], project: str
) -> None:
    instrument(capture_content=True)
    model = ScriptedModel([ToolCall("add", {"a": 2, "b": 3}), "5"], name="scripted")
    result = calc(model).run_sync(f"What is 2+3? {KEY}")
    assert result.status == "completed"
    flush()

    spans = phoenix.spans(project, at_least=6)
    root = root_of(spans)
    [tool] = named(spans, "execute_tool add")
    [_, answer] = named(spans, "chat ")
    assert "What is 2+3?" in root.attributes["gen_ai.input.messages"]
    assert '"5"' in root.attributes["gen_ai.output.messages"]
    assert json.loads(tool.attributes["gen_ai.tool.call.arguments"]) == {"a": 2, "b": 3}
    assert tool.attributes["gen_ai.tool.call.result"] == "5"
    assert "5" in answer.attributes["gen_ai.output.messages"]
    assert KEY not in repr([(s.attributes, s.events) for s in spans])


def test_a_failed_run_is_an_error_in_phoenix(
    phoenix: PhoenixServer, instrument: Callable[..., None], project: str
) -> None:
    instrument()
    # The script has no reply for the second model call: the run fails.
    model = ScriptedModel([ToolCall("add", {"a": 2, "b": 3})], name="scripted", price=PRICE)
    result = calc(model).run_sync("What is 2+3?")
    assert result.status == "failed"
    flush()

    spans = phoenix.spans(project, at_least=6)
    root = root_of(spans)
    assert root.name == "invoke_agent calc"
    assert (root.status_code, root.status_message) == ("ERROR", "model_error")
    assert root.attributes["error.type"] == "model_error"
    assert root.attributes["tether.run.status"] == "failed"
    assert root.attributes["tether.run.reason"] == "model_error"
    assert root.attributes["tether.run.reason.detail"] == "ScriptExhausted"
    [ok_chat, failed_chat] = named(spans, "chat ")
    assert ok_chat.status_code == "UNSET"
    assert (failed_chat.status_code, failed_chat.status_message) == ("ERROR", "ScriptExhausted")
    assert failed_chat.attributes["error.type"] == "ScriptExhausted"
    step = parent_of(spans, failed_chat)
    assert (step.name, step.parent_id) == ("step 2", root.span_id)
    [tool] = named(spans, "execute_tool add")
    assert tool.status_code == "UNSET"


def test_a_run_out_of_budget_gives_up_in_phoenix_without_an_error(
    phoenix: PhoenixServer, instrument: Callable[..., None], project: str
) -> None:
    instrument()
    # One step: the tool runs, then the fallback asks the model for a last answer.
    model = ScriptedModel(
        [ToolCall("add", {"a": 2, "b": 3}), "best guess"], name="scripted", price=PRICE
    )
    result = calc(model, Budget(max_steps=1)).run_sync("What is 2+3?")
    assert (result.status, result.output) == ("gave_up", "best guess")
    flush()

    spans = phoenix.spans(project, at_least=5)
    root = root_of(spans)
    assert root.status_code == "UNSET"  # it answered: giving up is not an error
    assert root.attributes["tether.run.status"] == "gave_up"
    assert root.attributes["tether.run.reason"] == "budget_exhausted"
    assert root.attributes["tether.run.reason.detail"] == "steps"
    assert root.attributes["tether.usage.steps"] == 1
    assert root.attributes["tether.cost.usd"] == pytest.approx(result.usage.cost_usd)
    assert "tether.budget_exhausted" in event_names(spans)
    assert "tether.strategy_changed" in event_names(spans)
    assert len(named(spans, "chat ")) == 2
    assert len(named(spans, "execute_tool add")) == 1
