"""OpenTelemetry tracing (tether.tracing): span trees, GenAI attributes, nesting across
tasks, agents and processes, and secrets kept out of traces."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tether.tracing
from tether import (
    Agent,
    Budget,
    FinalAnswer,
    Message,
    ModelHTTPError,
    ModelResponse,
    RunContext,
    Secret,
    TokenUsage,
    Tool,
    ToolCall,
)
from tether.journal import SQLiteStore
from tether.models import FallbackModel, ModelParams, Price, RetryingModel
from tether.testing import FunctionModel, ScriptedModel

PRICE = Price(1.0, 2.0)


class Traces:
    """The spans exported so far, and ways to walk them."""

    def __init__(self, exporter: InMemorySpanExporter, provider: TracerProvider) -> None:
        self.exporter = exporter
        self.provider = provider

    def spans(self) -> list[ReadableSpan]:
        tether.tracing.flush()
        return list(self.exporter.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name.startswith(prefix)]

    def children(self, span: ReadableSpan) -> list[ReadableSpan]:
        sid = span.context.span_id
        kids = [s for s in self.spans() if s.parent is not None and s.parent.span_id == sid]
        return sorted(kids, key=lambda s: s.start_time or 0)


@pytest.fixture
def traces() -> Iterator[Traces]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tether.tracing.instrument(provider)
    yield Traces(exporter, provider)
    tether.tracing.uninstrument()


def _add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _event_names(span: ReadableSpan) -> list[str]:
    return [e.name for e in span.events]


def _all_spans_below(traces: Traces, root: ReadableSpan) -> list[ReadableSpan]:
    out = []
    for child in traces.children(root):
        out.append(child)
        out.extend(_all_spans_below(traces, child))
    return out


async def test_a_tool_loop_run_is_run_then_steps_then_chat_and_tool_spans(traces: Traces) -> None:
    model = ScriptedModel([ToolCall("_add", {"a": 1, "b": 2}, "c1"), "3"], price=PRICE)
    agent = Agent(model, tools=[_add], name="calc")
    result = await agent.run("add 1 and 2")
    assert result.completed

    (run,) = traces.named("invoke_agent")
    assert run.name == "invoke_agent calc"
    assert run.parent is None
    attrs = _attrs(run)
    assert attrs["gen_ai.operation.name"] == "invoke_agent"
    assert attrs["gen_ai.agent.name"] == "calc"
    assert attrs["gen_ai.request.model"] == "scripted"
    assert attrs["tether.run.id"] == result.run_id
    assert attrs["tether.run.status"] == "completed"
    assert attrs["tether.run.reason"] == "final_answer"
    assert attrs["tether.diagnose"] == "completed"
    assert attrs["tether.cost.usd"] == pytest.approx(result.usage.cost_usd)
    assert attrs["tether.cost.usd"] > 0
    assert attrs["gen_ai.usage.input_tokens"] == result.usage.input_tokens

    steps = traces.children(run)
    assert [s.name for s in steps] == ["step 1", "step 2"]
    first = traces.children(steps[0])
    assert [s.name for s in first] == ["chat scripted", "execute_tool _add"]
    chat, tool = first
    chat_attrs = _attrs(chat)
    assert chat_attrs["gen_ai.operation.name"] == "chat"
    assert chat_attrs["gen_ai.provider.name"] == "_OTHER"
    assert chat_attrs["gen_ai.response.model"] == "scripted"
    assert chat_attrs["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert chat_attrs["gen_ai.usage.input_tokens"] > 0
    assert chat_attrs["gen_ai.usage.output_tokens"] > 0
    assert chat_attrs["tether.cost.usd"] > 0
    tool_attrs = _attrs(tool)
    assert tool_attrs["gen_ai.operation.name"] == "execute_tool"
    assert tool_attrs["gen_ai.tool.name"] == "_add"
    assert tool_attrs["gen_ai.tool.call.id"] == "c1"
    assert tool_attrs["tether.tool.outcome"] == "ok"
    (last_chat,) = traces.children(steps[1])
    assert _attrs(last_chat)["gen_ai.response.finish_reasons"] == ("stop",)
    # Every span of the run is in one trace, and times nest.
    assert {s.context.trace_id for s in traces.spans()} == {run.context.trace_id}
    assert run.start_time is not None
    assert run.end_time is not None
    for span in _all_spans_below(traces, run):
        assert run.start_time <= (span.start_time or 0) <= (span.end_time or 0) <= run.end_time


async def test_a_failing_tool_and_a_failed_run_have_error_status(traces: Traces) -> None:
    def broken() -> str:
        """Always fails."""
        raise RuntimeError("disk on fire")

    # The script runs out after the tool call: the model fails, and so does the run.
    agent = Agent(ScriptedModel([ToolCall("broken", {}, "c1")]), tools=[broken], name="bad")
    result = await agent.run("go")
    assert result.status == "failed"

    (run,) = traces.named("invoke_agent")
    assert run.status.status_code is StatusCode.ERROR
    assert _attrs(run)["tether.run.status"] == "failed"
    assert _attrs(run)["tether.run.reason"] == "model_error"
    assert _attrs(run)["tether.diagnose"] == "provider_errors"
    (tool,) = traces.named("execute_tool")
    assert tool.status.status_code is StatusCode.ERROR
    assert _attrs(tool)["error.type"] == "error"
    chats = traces.named("chat")
    assert chats[-1].status.status_code is StatusCode.ERROR
    assert _attrs(chats[-1])["error.type"] == "ScriptExhausted"


async def test_loop_detections_and_budget_warnings_are_span_events(traces: Traces) -> None:
    same = ToolCall("_add", {"a": 1, "b": 1})
    replies: list[Any] = [ToolCall(same.name, dict(same.arguments), f"c{i}") for i in range(3)]
    agent = Agent(ScriptedModel([*replies, "2"]), tools=[_add], budget=Budget(max_steps=5))
    await agent.run("add")

    events = [n for s in traces.spans() for n in _event_names(s)]
    assert "tether.loop_detected" in events
    assert "tether.budget_warning" in events
    loop = next(e for s in traces.spans() for e in s.events if e.name == "tether.loop_detected")
    assert dict(loop.attributes or {})["tether.loop.kind"] == "repeated_call"
    warning = next(e for s in traces.spans() for e in s.events if e.name == "tether.budget_warning")
    assert dict(warning.attributes or {})["tether.budget.dimension"] == "steps"


async def test_a_compaction_is_an_event_of_the_step_it_made_room_for(
    traces: Traces,
) -> None:
    from tether import ContextCompacted, WorkingMemory

    replies: list[Any] = [ToolCall("_add", {"a": i, "b": 1000 + i}) for i in range(12)]
    wm = WorkingMemory(max_tokens=700, summarizer=ScriptedModel(["sum"] * 10))
    agent = Agent(ScriptedModel([*replies, "done"]), tools=[_add], working_memory=wm)
    result = await agent.run("add them " + "please " * 200)
    assert result.status == "completed"
    compactions = [e for e in result.events if isinstance(e, ContextCompacted)]
    assert compactions
    steps = [s for s in traces.named("step") if "tether.context_compacted" in _event_names(s)]
    assert len(steps) == len(compactions)
    for step, compaction in zip(steps, compactions, strict=True):
        # The step whose model call it made room for, which begins with it.
        assert _attrs(step)["tether.step"] == compaction.step + 1
        assert next(c.name.split()[0] for c in traces.children(step)) == "chat"
        event = next(e for e in step.events if e.name == "tether.context_compacted")
        attrs = dict(event.attributes or {})
        assert attrs["tether.context.tokens_before"] > attrs["tether.context.tokens_after"]
        assert "tether.context.summary" not in attrs  # content capture is off
    assert {_attrs(s)["tether.step"] for s in traces.named("step")} == set(range(1, 14))


async def test_a_run_that_keeps_few_events_is_not_traced_and_says_so(
    traces: Traces, caplog: pytest.LogCaptureFixture
) -> None:
    replies: list[Any] = [ToolCall("_add", {"a": i, "b": 1}) for i in range(30)]
    agent = Agent(
        ScriptedModel([*replies, "done"]),
        tools=[_add],
        keep_events=16,
        budget=Budget(max_steps=40),
    )
    with caplog.at_level(logging.WARNING, logger="tether.tracing"):
        result = await agent.run("add")
    assert result.status == "completed"
    assert traces.spans() == []
    assert "keep_events" in caplog.text
    assert result.run_id in caplog.text


async def test_a_span_made_inside_a_tool_is_a_child_of_the_tool_span(traces: Traces) -> None:
    user = traces.provider.get_tracer("user code")

    async def fetch(url: str) -> str:
        """Fetch a page."""
        with user.start_as_current_span("GET"):
            return "ok"

    agent = Agent(ScriptedModel([ToolCall("fetch", {"url": "u"}), "done"]), tools=[fetch])
    await agent.run("fetch u")

    (tool,) = traces.named("execute_tool")
    (get,) = traces.named("GET")
    assert get.parent is not None
    assert get.parent.span_id == tool.context.span_id
    assert get.context.trace_id == tool.context.trace_id


async def test_a_span_made_inside_a_model_call_is_a_child_of_the_chat_span(
    traces: Traces,
) -> None:
    user = trace.get_tracer("user code", tracer_provider=traces.provider)

    calls: list[int] = []

    def answer(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        calls.append(1)
        with user.start_as_current_span(f"complete {len(calls)}"):
            if len(calls) == 1:
                return ModelResponse(tool_calls=[ToolCall("_add", {"a": 1, "b": 2})])
            return ModelResponse(text="3")

    agent = Agent(FunctionModel(answer), tools=[_add])
    assert (await agent.run("add")).completed

    (run,) = traces.named("invoke_agent")
    steps = traces.children(run)
    assert [s.name for s in steps] == ["step 1", "step 2"]
    for step, name in zip(steps, ["complete 1", "complete 2"], strict=True):
        (chat,) = [c for c in traces.children(step) if c.name.startswith("chat")]
        (mine,) = traces.named(name)
        assert mine.parent is not None
        assert mine.parent.span_id == chat.context.span_id
        assert mine.context.trace_id == run.context.trace_id
        assert traces.children(chat) == [mine]


async def test_a_sync_tool_in_a_worker_thread_nests_its_spans_too(traces: Traces) -> None:
    user = traces.provider.get_tracer("user code")

    def fetch(url: str) -> str:
        """Fetch a page."""
        with user.start_as_current_span("GET"):
            return "ok"

    agent = Agent(ScriptedModel([ToolCall("fetch", {"url": "u"}), "done"]), tools=[fetch])
    await agent.run("fetch u")
    (tool,) = traces.named("execute_tool")
    (get,) = traces.named("GET")
    assert get.parent is not None
    assert get.parent.span_id == tool.context.span_id


async def test_twenty_runs_at_once_each_form_their_own_tree(traces: Traces) -> None:
    user = traces.provider.get_tracer("user code")

    async def tag(n: int) -> str:
        """Tag a number."""
        await asyncio.sleep(0.001 * (n % 3))
        with user.start_as_current_span(f"inner {n}"):
            return f"t{n}"

    async def one(n: int) -> str:
        model = ScriptedModel([ToolCall("tag", {"n": n}), f"done {n}"])
        agent = Agent(model, tools=[tag], name=f"a{n}")
        result = await agent.run(f"tag {n}")
        return result.run_id

    run_ids = await asyncio.gather(*(one(n) for n in range(20)))

    runs = traces.named("invoke_agent")
    assert len(runs) == 20
    assert len({r.context.trace_id for r in runs}) == 20  # each run is its own trace
    for run in runs:
        n = int(_attrs(run)["gen_ai.agent.name"][1:])
        assert _attrs(run)["tether.run.id"] == run_ids[n]
        below = _all_spans_below(traces, run)
        assert {s.context.trace_id for s in below} == {run.context.trace_id}
        names = sorted(s.name for s in below)
        assert names == sorted(
            ["step 1", "step 2", "chat scripted", "chat scripted", "execute_tool tag", f"inner {n}"]
        )
        (inner,) = [s for s in below if s.name.startswith("inner")]
        (tool,) = [s for s in below if s.name.startswith("execute_tool")]
        assert inner.parent is not None
        assert inner.parent.span_id == tool.context.span_id


async def test_parallel_tool_calls_are_siblings_under_their_step(traces: Traces) -> None:
    async def slow(x: str) -> str:
        """Slow."""
        await asyncio.sleep(0.01)
        return x

    calls = [ToolCall("slow", {"x": str(i)}, f"c{i}") for i in range(3)]
    agent = Agent(ScriptedModel([calls, "done"]), tools=[slow])
    await agent.run("go")

    tools = traces.named("execute_tool")
    assert len(tools) == 3
    (step,) = [s for s in traces.named("step") if s.name == "step 1"]
    assert {t.parent.span_id for t in tools if t.parent} == {step.context.span_id}
    assert sorted(_attrs(t)["gen_ai.tool.call.id"] for t in tools) == ["c0", "c1", "c2"]
    # They ran at the same time: each starts before any ends.
    assert max(t.start_time or 0 for t in tools) < min(t.end_time or 0 for t in tools)


async def test_a_nested_agent_nests_under_the_calling_tool_span(traces: Traces) -> None:
    inner = Agent(ScriptedModel(["inner answer"]), name="inner")

    async def ask_inner(ctx: RunContext[None], question: str) -> str:
        """Ask the inner agent."""
        result = await inner.run(question, parent=ctx)
        return result.output or ""

    outer = Agent(
        ScriptedModel([ToolCall("ask_inner", {"question": "q"}), "outer answer"]),
        tools=[ask_inner],
        name="outer",
    )
    await outer.run("go")

    (outer_run,) = [s for s in traces.named("invoke_agent") if s.name == "invoke_agent outer"]
    (inner_run,) = [s for s in traces.named("invoke_agent") if s.name == "invoke_agent inner"]
    (tool,) = traces.named("execute_tool")
    assert inner_run.parent is not None
    assert inner_run.parent.span_id == tool.context.span_id
    assert inner_run.context.trace_id == outer_run.context.trace_id
    assert _attrs(inner_run)["tether.run.parent_id"] == _attrs(outer_run)["tether.run.id"]
    assert [s.name for s in traces.children(inner_run)] == ["step 1"]


async def test_a_run_inside_a_span_of_the_caller_is_its_child(traces: Traces) -> None:
    user = traces.provider.get_tracer("user code")
    agent = Agent(ScriptedModel(["hi"]))
    with user.start_as_current_span("handle request") as request:
        await agent.run("hello")
    (run,) = traces.named("invoke_agent")
    assert run.parent is not None
    assert run.parent.span_id == request.get_span_context().span_id
    assert run.context.trace_id == request.get_span_context().trace_id


async def test_content_is_not_captured_by_default(traces: Traces) -> None:
    agent = Agent(
        ScriptedModel([ToolCall("_add", {"a": 40, "b": 2}), "the answer is forty-two"]),
        tools=[_add],
    )
    await agent.run("what is forty plus two")

    for span in traces.spans():
        text = json.dumps({k: str(v) for k, v in _attrs(span).items()})
        for event in span.events:
            text += json.dumps({k: str(v) for k, v in (event.attributes or {}).items()})
        assert "forty" not in text, span.name
        assert "gen_ai.tool.call.arguments" not in _attrs(span)
        assert "gen_ai.tool.call.result" not in _attrs(span)
        assert "gen_ai.input.messages" not in _attrs(span)
        assert "gen_ai.output.messages" not in _attrs(span)


async def test_content_is_captured_when_asked(traces: Traces) -> None:
    tether.tracing.instrument(traces.provider, capture_content=True)
    agent = Agent(ScriptedModel([ToolCall("_add", {"a": 40, "b": 2}), "forty-two"]), tools=[_add])
    await agent.run("what is forty plus two")

    (run,) = traces.named("invoke_agent")
    assert "what is forty plus two" in _attrs(run)["gen_ai.input.messages"]
    assert "forty-two" in _attrs(run)["gen_ai.output.messages"]
    (tool,) = traces.named("execute_tool")
    assert json.loads(_attrs(tool)["gen_ai.tool.call.arguments"]) == {"a": 40, "b": 2}
    assert _attrs(tool)["gen_ai.tool.call.result"] == "42"


SURROGATE = "\ud800"  # an unpaired surrogate: text UTF-8 cannot encode as it is


def _span_strings(span: ReadableSpan) -> list[str]:
    texts = [span.name, *(t for v in _attrs(span).values() for t in _strings(v))]
    for event in span.events:
        texts.append(event.name)
        texts.extend(t for v in (event.attributes or {}).values() for t in _strings(v))
    if span.status.description:
        texts.append(span.status.description)
    return texts


async def test_a_run_holding_unpaired_surrogates_is_traced_whole_and_encodes(
    traces: Traces, caplog: pytest.LogCaptureFixture
) -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    tether.tracing.instrument(traces.provider, capture_content=True)

    def search(query: str) -> str:
        """Search the docs."""
        return f"found {query} {SURROGATE}"

    model = ScriptedModel([ToolCall("search", {"query": f"q{SURROGATE}"}, "c1"), SURROGATE])
    agent = Agent(model, tools=[search], name="docs")
    result = await agent.run(f"find {SURROGATE} it")
    assert result.completed

    spans = traces.spans()
    names = ["invoke_agent docs", "step 1", "chat scripted", "execute_tool search", "step 2"]
    assert sorted(s.name for s in spans) == sorted([*names, "chat scripted"])
    assert "could not build" not in caplog.text
    for span in spans:
        for text in _span_strings(span):
            text.encode()  # raises UnicodeEncodeError for a surrogate left as it was
    (run,) = traces.named("invoke_agent")
    (prompt,) = json.loads(_attrs(run)["gen_ai.input.messages"])
    assert prompt["parts"][0]["content"] == f"find {SURROGATE} it"  # a JSON escape
    (tool,) = traces.named("execute_tool")
    assert json.loads(_attrs(tool)["gen_ai.tool.call.arguments"]) == {"query": f"q{SURROGATE}"}
    assert _attrs(tool)["gen_ai.tool.call.result"] == "found q\\ud800 \\ud800"
    # The OTLP encoder drops (and logs) an attribute it cannot encode: here none is.
    assert b"gen_ai.tool.call.result" in encode_spans(spans).SerializeToString()


async def test_span_names_are_redacted_like_attributes(traces: Traces) -> None:
    tether.tracing.instrument(
        traces.provider, redact=(*tether.tracing.DEFAULT_PATTERNS, r"hush[\w-]*")
    )

    def hush_tool() -> str:
        """A tool whose name the redaction patterns match."""
        return "ok"

    model = ScriptedModel([ToolCall("hush_tool", {}, "c1"), "done"], name="hush-model")
    agent = Agent(model, tools=[hush_tool], name="sk-abcdefghijklmnop1234")
    assert (await agent.run("go")).completed

    names = sorted(s.name for s in traces.spans())
    assert names == sorted(
        ["invoke_agent ***", "step 1", "chat ***", "execute_tool ***", "step 2", "chat ***"]
    )
    for span in traces.spans():
        assert not [t for t in _span_strings(span) if "hush" in t or "sk-abc" in t], span.name


async def test_a_tool_call_cut_off_by_a_crash_is_an_interrupted_span_beside_its_rerun(
    traces: Traces, tmp_path: Path
) -> None:
    def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        n = sum(m.role == "tool" for m in messages)
        if n < 2:
            return ModelResponse(tool_calls=[ToolCall("count", {"i": n}, f"c{n}")])
        return ModelResponse(text="done")

    def count(i: int) -> str:
        """Count."""
        return f"counted {i}"

    def agent(store: SQLiteStore) -> Agent[Any, Any]:
        tools = [Tool(count, idempotent=True)]
        return Agent(FunctionModel(policy, name="fn"), tools=tools, store=store, name="counter")

    original = await agent(SQLiteStore(tmp_path / "full.db")).run("count")
    assert original.completed
    started = [e for e in original.events if e.type == "tool_call_started"]
    cut = started[1].seq + 1  # the process died while the call c1 ran
    crashed = SQLiteStore(tmp_path / "crashed.db")
    await crashed.append(original.run_id, original.events[:cut])
    traces.spans()
    traces.exporter.clear()  # the uncut run's spans

    resumed = await agent(crashed).resume(original.run_id)
    assert resumed.completed

    c1 = [s for s in traces.named("execute_tool") if _attrs(s)["gen_ai.tool.call.id"] == "c1"]
    assert len(c1) == 2
    cut_off, rerun = sorted(c1, key=lambda s: s.start_time or 0)
    assert cut_off.context.span_id != rerun.context.span_id
    assert cut_off.status.status_code is StatusCode.ERROR
    assert cut_off.status.description == "interrupted"
    assert _attrs(cut_off)["error.type"] == "interrupted"
    assert cut_off.end_time == rerun.start_time  # it ended when the call ran again
    assert rerun.status.status_code is StatusCode.UNSET
    assert _attrs(rerun)["tether.tool.outcome"] == "ok"


CANARIES = {
    "prompt": "sk-canaryprompt0001abcdef",
    "argument": "pwcanary0002",
    "exception": "tokcanary0003xyz",
    "output": "usercanary-4242",
    "env": "envcanary-7731-zz",
    "secret": "secretcanary0005",
}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Sequence):
        for item in value:
            yield from _strings(item)


async def test_no_canary_reaches_a_span_or_a_log_line(
    traces: Traces, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("TETHER_TEST_CANARY", CANARIES["env"])
    tether.tracing.instrument(
        traces.provider,
        capture_content=True,
        redact=(*tether.tracing.DEFAULT_PATTERNS, r"usercanary-\d+"),
        redact_env=("TETHER_TEST_CANARY",),
    )

    def connect(url: str) -> str:
        """Connect to a database."""
        return f"connected to {url}"

    def login(user: str) -> str:
        """Log in."""
        raise PermissionError(f"refused: Authorization: Bearer {CANARIES['exception']}")

    def use_key(api_secret: Secret[str]) -> str:
        """Use the key."""
        return f"used {api_secret} and {os.environ['TETHER_TEST_CANARY']}"

    url = f"postgres://ada:{CANARIES['argument']}@db.local/app"
    final = ModelResponse(
        text=f"all done {CANARIES['env']} {CANARIES['output']}", usage=TokenUsage(5, 5)
    )
    model = ScriptedModel(
        [
            ToolCall("connect", {"url": url}, "c1"),
            ToolCall("login", {"user": "ada"}, "c2"),
            ToolCall("use_key", {}, "c3"),
            final,
        ]
    )
    agent = Agent(model, tools=[connect, login, Tool(use_key)], name="canary")
    prompt = f"connect with key {CANARIES['prompt']} then log in"
    result = await agent.run(prompt, deps={"api_secret": CANARIES["secret"]})
    assert result.completed
    # The run did see them (so the test means something): the journal holds the prompt,
    # the argument and the output as they were.
    journal = json.dumps([str(e) for e in result.events])
    for name in ("prompt", "argument", "exception", "output", "env"):
        assert CANARIES[name] in journal, name

    spans = traces.spans()
    assert traces.named("execute_tool")  # content was captured
    assert any("gen_ai.tool.call.arguments" in _attrs(s) for s in spans)
    found: list[str] = []
    for span in spans:
        texts = [span.name, *(t for v in _attrs(span).values() for t in _strings(v))]
        for event in span.events:
            texts.append(event.name)
            texts.extend(t for v in (event.attributes or {}).values() for t in _strings(v))
        if span.status.description:
            texts.append(span.status.description)
        found.extend(f"{span.name}: {n}" for t in texts for n, c in CANARIES.items() if c in t)
    assert found == []
    assert not [n for n, c in CANARIES.items() if c in caplog.text]


AGENT = """
from tether import Agent, Tool, ToolCall
from tether.journal import SQLiteStore
from tether.testing import ScriptedModel


def refund(order: str) -> str:
    '''Refund an order.'''
    return f"refunded {order}"


def make(path, replies):
    model = ScriptedModel([ToolCall("refund", {"order": "A-17"}, "c1"), "refunded"][replies:])
    tool = Tool(refund, requires_approval=True)
    return Agent(model, tools=[tool], name="refunds", store=SQLiteStore(path))
"""

RESUMER = """
import asyncio, json, sys
import tether, tether.tracing
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from refunds import make


class Lines(SpanExporter):
    def __init__(self, path):
        self.path = path

    def export(self, spans):
        with open(self.path, "a") as f:
            for s in spans:
                f.write(json.dumps({
                    "name": s.name,
                    "trace_id": s.context.trace_id,
                    "span_id": s.context.span_id,
                    "parent_id": s.parent.span_id if s.parent else None,
                    "attributes": {k: str(v) for k, v in s.attributes.items()},
                }) + "\\n")
        return SpanExportResult.SUCCESS


db, run_id, out = sys.argv[1:4]
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(Lines(out)))
tether.tracing.instrument(provider)
result = asyncio.run(make(db, 1).resume(run_id, decisions={"c1": tether.approve()}))
assert result.completed, result.reason
tether.tracing.flush()
"""


@pytest.mark.slow
async def test_a_run_resumed_in_another_process_joins_the_same_trace(
    traces: Traces, tmp_path: Path
) -> None:
    (tmp_path / "refunds.py").write_text(textwrap.dedent(AGENT))
    (tmp_path / "resume.py").write_text(textwrap.dedent(RESUMER))
    sys.path.insert(0, str(tmp_path))
    try:
        from refunds import make  # type: ignore[import-not-found]

        db = str(tmp_path / "journal.db")
        first = await make(db, 0).run("refund A-17")
    finally:
        sys.path.remove(str(tmp_path))
    assert first.status == "interrupted"
    (run,) = traces.named("invoke_agent")
    assert _attrs(run)["tether.run.status"] == "interrupted"
    assert "tether.approval_requested" in [n for s in traces.spans() for n in _event_names(s)]

    out = tmp_path / "spans.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(tmp_path / "resume.py"),
        db,
        first.run_id,
        str(out),
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    resumed = [json.loads(line) for line in out.read_text().splitlines()]
    assert resumed
    assert {s["trace_id"] for s in resumed} == {run.context.trace_id}
    (part,) = [s for s in resumed if s["name"] == "invoke_agent refunds"]
    assert part["parent_id"] == run.context.span_id  # under the same run span
    assert part["attributes"]["tether.run.resumed"] == "True"
    assert part["attributes"]["tether.run.status"] == "completed"
    tools = [s for s in resumed if s["name"] == "execute_tool refund"]
    assert len(tools) == 1
    own = {s["span_id"] for s in resumed} | {run.context.span_id}
    assert all(s["parent_id"] in own for s in resumed if s is not part)


async def test_retries_switches_and_the_run_fallback_are_events_of_their_spans(
    traces: Traces,
) -> None:
    async def no_sleep(seconds: float) -> None:
        return None

    def down(messages: Sequence[Message], params: ModelParams) -> str:
        raise ModelHTTPError("HTTP 503", 503)

    def looping(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        if not params.allow_tools:
            return ModelResponse(text="from the fallback")
        return ModelResponse(tool_calls=[ToolCall("_add", {"a": len(messages), "b": 1})])

    chain = FallbackModel(
        [
            RetryingModel(
                FunctionModel(down, name="a"), max_attempts=3, breaker=False, sleep=no_sleep
            ),
            FunctionModel(looping, name="b"),
        ]
    )
    agent = Agent(chain, tools=[_add], budget=Budget(max_steps=2), fallback=FinalAnswer())
    result = await agent.run("add")
    assert (result.status, result.output) == ("gave_up", "from the fallback")

    (run,) = traces.named("invoke_agent")
    first, second = traces.children(run)
    # The retries and the switch happened inside step 1's model call: events of its span.
    chat, _ = traces.children(first)
    assert chat.name.startswith("chat")
    assert _event_names(chat) == [
        "tether.model_retried",
        "tether.model_retried",
        "tether.model_switched",
    ]
    retried = [dict(e.attributes or {}) for e in chat.events[:2]]
    assert [(a["tether.model"], a["tether.attempt"]) for a in retried] == [("a", 1), ("a", 2)]
    assert {a["error.type"] for a in retried} == {"ModelHTTPError"}
    switched = dict(chat.events[2].attributes or {})
    assert (switched["tether.from_model"], switched["tether.to_model"]) == ("a", "b")
    assert "tether.cause" not in switched  # content capture is off
    # The give-up happened between model calls: an event of the step, not of a call.
    assert "tether.strategy_changed" in _event_names(second)
    change = next(e for e in second.events if e.name == "tether.strategy_changed")
    assert dict(change.attributes or {})["tether.strategy"] == "final_answer"
    calls = [s for s in traces.children(second) if s.name.startswith("chat")]
    assert [_attrs(c)["tether.model.purpose"] for c in calls] == ["turn", "fallback"]
    assert [c.name for c in calls] == ["chat b", "chat b"]
    marked = {
        (s.name, n)
        for s in [run, *_all_spans_below(traces, run)]
        for n in _event_names(s)
        if n in ("tether.model_retried", "tether.model_switched", "tether.strategy_changed")
    }
    assert marked == {
        (chat.name, "tether.model_retried"),
        (chat.name, "tether.model_switched"),
        ("step 2", "tether.strategy_changed"),
    }
