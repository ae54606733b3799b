"""Spans from a run's events, built after the fact with the events' own times.

While a run goes, only its run span exists (and the ids of the spans its model and
tool calls will have, made current while they run). When the run (or a resumed part
of it) ends, its events are handed to the builder, which plans the tree

    invoke_agent {agent}            the run, or a resumed part of it
      step {n}                      one per step
        chat {model}                one per model call
        execute_tool {tool}         one per tool call (parallel calls are siblings)

with span events for what happened along the way, then starts and ends the spans
with the times the events carry. Every string (span names included) goes through the
redactor, then :func:`~tether._text.plain_text`: a string with an unpaired surrogate
(which a run may hold) would fail the exporter's UTF-8 encoding.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import (
    Link,
    Span,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    set_span_in_context,
)
from opentelemetry.util.types import AttributeValue
from pydantic_core import PydanticSerializationError, to_json

from tether._events import (
    ApprovalDecided,
    ApprovalRequested,
    BudgetExhausted,
    BudgetWarning,
    ContextCompacted,
    GuardrailChecked,
    LoopDetected,
    ModelFailed,
    ModelRequested,
    ModelResponded,
    ModelRetried,
    ModelSwitched,
    OutputInvalid,
    RunFinished,
    RunStarted,
    StrategyChanged,
    StreamEvent,
    ToolCallFinished,
    ToolCallStarted,
)
from tether._text import plain_text
from tether.run import diagnose

from . import _semconv as sc
from ._ids import CHAT, STEP, TOOL, ChosenIds, span_id

__all__ = ["Job", "build"]

Attrs = dict[str, Any]
_FAILED = frozenset({"error", "timeout", "invalid_arguments", "unknown_tool"})
_IN_CALL = (ModelRetried, ModelSwitched, ModelResponded, ModelFailed)


def _ns(at: float) -> int:
    return int(at * 1e9)


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return to_json(value, fallback=str).decode()
    except PydanticSerializationError:
        # An unpaired surrogate, which pydantic's encoder refuses: Python's keeps it, and
        # plain_text writes it as the JSON escape it stands for.
        text = json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
        return plain_text(text)


@dataclass(slots=True)
class Job:
    """A run, or a resumed part of one, whose spans are to be built.

    Attributes:
        span_id: the id of the part's span (the run span's, or a resumed part's).
        trace: the trace id to give it when it has no parent (else None).
        parent: the context of its parent (the caller's, when the run began).
        links: spans it links to (the resumer's, for a resumed part).
        base: the run span's id, from which the other span ids derive.
        start: the index of the part's first event.
        resumed_at: where a resumed part took the run over (None: a run begun here).
        events: the run's whole journal (a diagnosis reads all of it).
        secrets: the run's secret values when it ended.
    """

    span_id: int
    trace: int | None
    parent: Context
    links: tuple[Link, ...]
    base: int
    start: int
    resumed_at: int | None
    events: Sequence[StreamEvent]
    secrets: frozenset[str]


@dataclass(slots=True)
class _Spec:
    name: str
    kind: SpanKind
    start: float
    span_id: int
    attrs: Attrs
    end: float = 0.0
    events: list[tuple[str, Attrs, float]] = field(default_factory=list)
    status: tuple[StatusCode, str] | None = None
    children: list[_Spec] = field(default_factory=list)


def _run_attrs(first: RunStarted, resumed_at: int | None) -> Attrs:
    provider, model = sc.provider_of(first.model)
    return {
        sc.OPERATION: "invoke_agent",
        sc.AGENT_NAME: first.agent,
        sc.PROVIDER: provider,
        sc.SYSTEM: provider,
        sc.REQUEST_MODEL: model,
        sc.CONVERSATION_ID: first.run_id,
        "tether.run.id": first.run_id,
        "tether.run.resumed": resumed_at is not None,
        "tether.run.resumed_at": resumed_at,
    }


class _Plan:
    """The span tree of one part of a run, planned by walking its events in order."""

    def __init__(self, job: Job, capture: bool) -> None:
        self.job = job
        self.capture = capture
        first = job.events[0]
        assert isinstance(first, RunStarted)
        self.root = _Spec(
            f"invoke_agent {first.agent}",
            SpanKind.INTERNAL,
            job.events[job.start].at,
            job.span_id,
            _run_attrs(first, job.resumed_at),
        )

        self.step: _Spec | None = None
        self.step_no = -1
        self.chat: _Spec | None = None
        self.tools: dict[str, _Spec] = {}
        self.model = first.model
        self.handlers: dict[type, Callable[[Any], None]] = {
            RunStarted: self.run_started,
            ModelRequested: self.model_requested,
            ModelResponded: self.model_responded,
            ModelFailed: self.model_failed,
            ModelRetried: self.model_retried,
            ModelSwitched: self.model_switched,
            ToolCallStarted: self.tool_started,
            ToolCallFinished: self.tool_finished,
            BudgetWarning: self.budget,
            BudgetExhausted: self.budget,
            LoopDetected: self.loop,
            ApprovalRequested: self.approval_requested,
            ApprovalDecided: self.approval_decided,
            GuardrailChecked: self.guardrail,
            StrategyChanged: self.strategy_changed,
            OutputInvalid: self.output_invalid,
            ContextCompacted: self.compacted,
            RunFinished: self.run_finished,
        }

    def walk(self) -> _Spec:
        for event in self.job.events[self.job.start :]:
            if self.chat is not None and not isinstance(event, _IN_CALL):
                # The call raised without a model_failed: the run's time ran out, or it
                # was cancelled.
                timeout = isinstance(event, BudgetExhausted)
                self._end_chat(event.at, "timeout" if timeout else "interrupted")
            handler = self.handlers.get(type(event))
            if handler is not None:
                handler(event)
        return self.root

    # --- where things go ----------------------------------------------------------------

    def _here(self) -> _Spec:
        return self.chat or self.step or self.root

    def _mark(self, name: str, at: float, attrs: Attrs) -> None:
        self._here().events.append((name, attrs, at))

    def _step(self, number: int, seq: int, at: float) -> _Spec:
        if self.step is not None and self.step_no == number:
            return self.step
        self._end_step(at)
        self.step = _Spec(
            f"step {number}", SpanKind.INTERNAL, at, span_id(self.job.base, seq, STEP), {}
        )
        self.step.attrs["tether.step"] = number
        self.step_no = number
        self.root.children.append(self.step)
        return self.step

    def _end_step(self, at: float) -> None:
        if self.step is not None:
            self.step.end = at
            self.step = None

    def _end_chat(self, at: float, error: str | None) -> None:
        chat, self.chat = self.chat, None
        if chat is None:
            return
        chat.end = at
        if error is not None:
            chat.attrs[sc.ERROR_TYPE] = error
            chat.status = (StatusCode.ERROR, error)

    # --- the run ------------------------------------------------------------------------

    def run_started(self, e: RunStarted) -> None:
        attrs = self.root.attrs
        attrs["tether.strategy"] = e.strategy
        attrs["tether.run.parent_id"] = e.parent_run_id
        attrs["tether.run.forked_from"] = e.forked_from
        if self.capture:
            message = {"role": "user", "parts": [{"type": "text", "content": e.prompt}]}
            attrs[sc.INPUT_MESSAGES] = _json([message])

    def run_finished(self, e: RunFinished) -> None:
        for tool in self.tools.values():
            _interrupted(tool, e.at)
        self.tools.clear()
        self._end_step(e.at)
        self.root.end = e.at
        usage = e.usage
        found = diagnose(self.job.events)
        attrs = self.root.attrs
        attrs.update(
            {
                "tether.run.status": e.status,
                "tether.run.reason": e.reason.kind,
                "tether.run.reason.detail": e.reason.detail,
                "tether.diagnose": found.category,
                "tether.diagnose.detail": found.detail,
                sc.INPUT_TOKENS: usage.input_tokens,
                sc.OUTPUT_TOKENS: usage.output_tokens,
                sc.COST: usage.cost_usd,
                "tether.usage.steps": usage.steps,
                "tether.usage.model_calls": usage.model_calls,
                "tether.usage.tool_calls": usage.tool_calls,
            }
        )
        if self.capture:
            attrs["tether.run.reason.message"] = e.reason.message
            attrs["tether.diagnose.summary"] = found.summary
            if e.output is not None:
                answer = {"role": "assistant", "parts": [{"type": "text", "content": e.output}]}
                attrs[sc.OUTPUT_MESSAGES] = _json([answer])
        if e.status == "failed":
            attrs[sc.ERROR_TYPE] = e.reason.kind
            self.root.status = (StatusCode.ERROR, e.reason.kind)

    # --- model calls --------------------------------------------------------------------

    def model_requested(self, e: ModelRequested) -> None:
        step = self._step(e.step, e.seq, e.at)
        provider, name = sc.provider_of(self.model)
        self.chat = _Spec(
            f"chat {name}",
            SpanKind.CLIENT,
            e.at,
            span_id(self.job.base, e.seq, CHAT),
            {
                sc.OPERATION: "chat",
                sc.PROVIDER: provider,
                sc.SYSTEM: provider,
                sc.REQUEST_MODEL: name,
                "tether.model.purpose": e.purpose,
                "tether.model.tools": e.tools,
            },
        )
        step.children.append(self.chat)

    def model_responded(self, e: ModelResponded) -> None:
        chat = self.chat
        if chat is None:
            return
        response = e.response
        reason = "tool_calls" if response.tool_calls else "stop"
        chat.attrs.update(
            {
                sc.RESPONSE_MODEL: response.model or None,
                sc.INPUT_TOKENS: response.usage.input_tokens,
                sc.OUTPUT_TOKENS: response.usage.output_tokens,
                sc.FINISH_REASONS: [reason],
                sc.COST: e.cost_usd,
            }
        )
        if self.capture:
            parts: list[dict[str, Any]] = []
            if response.text:
                parts.append({"type": "text", "content": response.text})
            parts.extend(
                {"type": "tool_call", "id": c.id, "name": c.name, "arguments": c.arguments}
                for c in response.tool_calls
            )
            message = {"role": "assistant", "parts": parts, "finish_reason": reason}
            chat.attrs[sc.OUTPUT_MESSAGES] = _json([message])
        self._end_chat(e.at, None)

    def model_failed(self, e: ModelFailed) -> None:
        chat = self.chat
        if chat is not None and self.capture:
            chat.events.append(("exception", {"exception.message": e.error}, e.at))
        self._end_chat(e.at, e.error.partition(":")[0] or "ModelError")

    def model_retried(self, e: ModelRetried) -> None:
        attrs: Attrs = {"tether.model": e.model, "tether.attempt": e.attempt}
        attrs["tether.delay_s"] = e.delay_s
        attrs[sc.ERROR_TYPE] = e.error.partition(":")[0]
        if self.capture:
            attrs["tether.error"] = e.error
        self._mark("tether.model_retried", e.at, attrs)

    def model_switched(self, e: ModelSwitched) -> None:
        attrs: Attrs = {"tether.from_model": e.from_model, "tether.to_model": e.to_model}
        if self.capture:
            attrs["tether.cause"] = e.cause
        self._mark("tether.model_switched", e.at, attrs)
        self.model = e.to_model

    # --- tool calls ---------------------------------------------------------------------

    def tool_started(self, e: ToolCallStarted) -> None:
        call = e.call
        cut = self.tools.pop(call.id, None)
        if cut is not None:  # the call was cut off (by a crash) and runs again on resume
            _interrupted(cut, e.at)
        self.tools[call.id] = tool = self._tool(call.name, call.id, e.at, e.seq)
        tool.attrs["tether.tool.idempotency_key"] = e.idempotency_key
        if self.capture:
            tool.attrs[sc.TOOL_ARGUMENTS] = _json(call.arguments)
        self._step(e.step, e.seq, e.at).children.append(tool)

    def _tool(self, name: str, call_id: str, at: float, seq: int) -> _Spec:
        return _Spec(
            f"execute_tool {name}",
            SpanKind.INTERNAL,
            at,
            span_id(self.job.base, seq, TOOL),
            {
                sc.OPERATION: "execute_tool",
                sc.TOOL_NAME: name,
                sc.TOOL_CALL_ID: call_id,
                sc.TOOL_TYPE: "function",
            },
        )

    def tool_finished(self, e: ToolCallFinished) -> None:
        tool = self.tools.pop(e.call_id, None)
        if tool is None:  # answered without running (not_run): a span of no length
            tool = self._tool(e.name, e.call_id, e.at, e.seq)
            self._step(e.step, e.seq, e.at).children.append(tool)
        tool.end = e.at
        tool.attrs.update(
            {
                "tether.tool.outcome": e.outcome,
                "tether.tool.attempts": e.attempts,
                "tether.tool.truncated": e.truncated,
            }
        )
        if self.capture:
            tool.attrs[sc.TOOL_RESULT] = e.content
        if e.outcome in _FAILED:
            tool.attrs[sc.ERROR_TYPE] = e.outcome
            tool.status = (StatusCode.ERROR, e.outcome)

    # --- what happened along the way ----------------------------------------------------

    def budget(self, e: BudgetWarning | BudgetExhausted) -> None:
        attrs: Attrs = {"tether.budget.dimension": e.dimension}
        attrs["tether.budget.used"] = float(e.used)
        attrs["tether.budget.limit"] = float(e.limit)
        self._mark(f"tether.{e.type}", e.at, attrs)

    def compacted(self, e: ContextCompacted) -> None:
        # It makes room for the next step's model call: that step's span begins here.
        self._step(e.step + 1, e.seq, e.at)
        attrs: Attrs = {
            "tether.context.tokens_before": e.tokens_before,
            "tether.context.tokens_after": e.tokens_after,
            "tether.context.cut": e.cut,
            "gen_ai.usage.input_tokens": e.usage.input_tokens,
            "gen_ai.usage.output_tokens": e.usage.output_tokens,
        }
        if e.model:
            attrs["tether.context.summarizer"] = e.model
        if self.capture:
            attrs["tether.context.summary"] = e.summary
        self._mark("tether.context_compacted", e.at, attrs)

    def loop(self, e: LoopDetected) -> None:
        attrs: Attrs = {"tether.loop.kind": e.loop, "tether.loop.action": e.action}
        if self.capture:
            attrs["tether.loop.detail"] = e.detail
        self._mark("tether.loop_detected", e.at, attrs)

    def approval_requested(self, e: ApprovalRequested) -> None:
        attrs: Attrs = {"tether.approval.reason": e.reason}
        attrs["tether.approval.call_ids"] = [c.id for c in e.calls]
        attrs["tether.approval.tools"] = [c.name for c in e.calls]
        self._mark("tether.approval_requested", e.at, attrs)

    def approval_decided(self, e: ApprovalDecided) -> None:
        attrs: Attrs = {sc.TOOL_CALL_ID: e.call_id, "tether.approval.decision": e.decision}
        if self.capture:
            attrs["tether.approval.message"] = e.message
        self._mark("tether.approval_decided", e.at, attrs)

    def guardrail(self, e: GuardrailChecked) -> None:
        attrs: Attrs = {
            "tether.guardrail.name": e.guardrail,
            "tether.guardrail.stage": e.stage,
            "tether.guardrail.tripped": e.tripped,
            "tether.guardrail.action": e.action,
            sc.TOOL_CALL_ID: e.call_id,
        }
        if self.capture:
            attrs["tether.guardrail.reason"] = e.reason
        self._mark("tether.guardrail_checked", e.at, attrs)

    def strategy_changed(self, e: StrategyChanged) -> None:
        attrs: Attrs = {"tether.strategy": e.strategy}
        if self.capture:
            attrs["tether.cause"] = e.cause
        self._mark("tether.strategy_changed", e.at, attrs)

    def output_invalid(self, e: OutputInvalid) -> None:
        attrs: Attrs = {"tether.attempt": e.attempt}
        if self.capture:
            attrs["tether.errors"] = e.errors
        self._mark("tether.output_invalid", e.at, attrs)


def _interrupted(tool: _Spec, at: float) -> None:
    """End a tool call's span that never finished (the run ended or crashed first)."""
    tool.end = at
    tool.attrs[sc.ERROR_TYPE] = "interrupted"
    tool.status = (StatusCode.ERROR, "interrupted")


class _Clean:
    """Strings and attributes as the SDK takes them: no None, every string redacted and
    safe to encode as UTF-8."""

    __slots__ = ("_scrub", "memo", "values")

    def __init__(self, scrub: Callable[[str, Sequence[str]], str], values: list[str]) -> None:
        self._scrub = scrub
        self.values = values
        self.memo: dict[str, str] = {}  # a run repeats its strings (names, kinds) often

    def scrub(self, text: str, values: Sequence[str]) -> str:
        done = self.memo.get(text)
        if done is None:
            # Redacted first: a secret value is matched as the run held it.
            done = self.memo[text] = plain_text(self._scrub(text, values))
        return done

    def text(self, text: str) -> str:
        """A span's name, an event's name or a status's description, made safe."""
        return self.scrub(text, self.values)

    def __call__(self, attrs: Attrs) -> dict[str, AttributeValue]:
        out: dict[str, AttributeValue] = {}
        scrub, values = self.scrub, self.values
        for key, value in attrs.items():
            if isinstance(value, str):
                out[key] = scrub(value, values)
            elif isinstance(value, list):
                out[key] = [scrub(v, values) if isinstance(v, str) else v for v in value]
            elif value is not None:
                out[key] = value
        return out


def _start(
    tracer: Tracer,
    ids: ChosenIds | None,
    spec: _Spec,
    parent: Context,
    clean: _Clean,
    *,
    trace: int | None = None,
    links: Sequence[Link] = (),
) -> None:
    if ids is not None:
        ids.choose(spec.span_id, trace)
    try:
        span = tracer.start_span(
            clean.text(spec.name),
            parent,
            spec.kind,
            clean(spec.attrs),
            links,
            start_time=_ns(spec.start),
        )
    finally:
        if ids is not None:
            ids.clear()
    _finish(tracer, ids, span, spec, clean)


def _finish(tracer: Tracer, ids: ChosenIds | None, span: Span, spec: _Spec, clean: _Clean) -> None:
    """Add a started span's events, status and children, then end it."""
    for name, attrs, at in spec.events:
        span.add_event(clean.text(name), clean(attrs), _ns(at))
    if spec.status is not None:
        code, description = spec.status
        span.set_status(Status(code, clean.text(description)))
    context = set_span_in_context(span)
    for child in spec.children:
        _start(tracer, ids, child, context, clean)
    span.end(_ns(max(spec.end, spec.start)))


def build(
    job: Job,
    *,
    tracer: Tracer,
    ids: ChosenIds | None,
    scrub: Callable[[str, Sequence[str]], str],
    values: list[str],
    capture: bool,
) -> None:
    """Plan a part of a run's spans from its events, then start and end them."""
    root = _Plan(job, capture).walk()
    if not root.end:  # handed over before its end (the process is exiting)
        root.end = job.events[-1].at
    clean = _Clean(scrub, values)
    _start(tracer, ids, root, job.parent, clean, trace=job.trace, links=job.links)
