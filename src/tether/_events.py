"""Typed events: the run journal's vocabulary.

Every run is an append-only list of these events. Streaming, the result's
event list, and (in later layers) durable journals, traces and replays all read
the same events. They are slotted dataclasses so that emitting them costs well
under a microsecond; :func:`dump_event` and :func:`load_event` serialise them
with one pydantic ``TypeAdapter``.

Schema versions (bump :data:`EVENT_SCHEMA_VERSION` and add a line per change):

* 1: first version.
* 2: ``model_requested`` has a ``purpose`` (what the call is for: ``turn`` for a
  tool-loop turn, whose response joins the conversation; a strategy's own purposes
  otherwise); new ``turn_recorded`` (a strategy put a model turn into the
  conversation); ``run_started`` names the run's ``strategy``. Version 1 records
  still load (the new fields have defaults).
* 3: stores encode values so that no user value can be mistaken for a marker: user
  dicts with a key starting with ``$`` are escaped, and blobs hold JSON text (so
  strings with unpaired surrogates round-trip). Events are unchanged; records of
  versions 1 and 2 still load.
* 4: new ``guardrail_checked`` (a guardrail or the injection policy looked at the
  input, a tool call or the final answer); the reason kind ``guardrail_tripped``.
  Records of versions 1 to 3 still load.
* 5: new ``context_compacted`` (working memory replaced the oldest turns of the
  conversation with a summary); ``run_started`` carries the conversation a run
  continues (``session``, ``history``, ``history_summary``, ``history_from``);
  ``model_requested`` carries working memory's estimate of what it sends (``context``);
  ``run_started.parent_call_id`` (the calling run's tool call of a sub-agent) and
  ``handoffs`` (the agents the conversation was handed through); the loop kind
  ``handoff``; new
  ``sub_run_ended`` (a sub-agent's run ended, with its usage) and ``handed_off``.
  Records of versions 1 to 4 still load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from ._errors import JournalError
from ._messages import (
    JSON_DECODE_ERRORS,
    AssistantMessage,
    ModelResponse,
    TokenUsage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from ._usage import Dimension, Usage

__all__ = [
    "EVENT_SCHEMA_VERSION",
    "ApprovalDecided",
    "ApprovalRequested",
    "BudgetExhausted",
    "BudgetWarning",
    "ContextCompacted",
    "Event",
    "GuardrailAction",
    "GuardrailChecked",
    "GuardrailStage",
    "HandedOff",
    "LoopDetected",
    "LoopKind",
    "MemoryRecalled",
    "ModelFailed",
    "ModelRequested",
    "ModelResponded",
    "ModelRetried",
    "ModelSwitched",
    "NoteAdded",
    "OutputInvalid",
    "Reason",
    "ReasonKind",
    "RunFinished",
    "RunStarted",
    "RunStatus",
    "StrategyChanged",
    "StreamEvent",
    "SubRunEnded",
    "TextDelta",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolOutcome",
    "TurnRecorded",
    "dump_event",
    "load_event",
]

EVENT_SCHEMA_VERSION = 5
_READABLE_VERSIONS = frozenset({1, 2, 3, 4, 5})

RunStatus = Literal["completed", "gave_up", "failed", "interrupted"]
LoopKind = Literal["repeated_call", "cycle", "stale_results", "replanning", "handoff"]
ToolOutcome = Literal[
    "ok",
    "error",
    "unknown_tool",
    "invalid_arguments",
    "timeout",
    "retry_requested",
    "not_run",
    "rejected",
]
ReasonKind = Literal[
    "final_answer",
    "budget_exhausted",
    "loop_detected",
    "output_invalid",
    "model_error",
    "cancelled",
    "internal_error",
    "approval_required",
    "needs_decision",
    "guardrail_tripped",
]
GuardrailStage = Literal["input", "output", "tool_call"]
GuardrailAction = Literal["pass", "end", "redirect", "approve", "refuse"]


@dataclass(slots=True)
class Reason:
    """Why a run ended.

    Args:
        kind: machine-readable kind of the ending.
        message: one sentence for a person.
        detail: the specific cause within the kind: the budget dimension
            (``"steps"``, ``"cost_usd"`` ...) or the loop kind (``"cycle"`` ...).
    """

    kind: ReasonKind
    message: str
    detail: str | None = None


@dataclass(slots=True, kw_only=True)
class _EventBase:
    run_id: str
    seq: int
    at: float


@dataclass(slots=True, kw_only=True)
class RunStarted(_EventBase):
    """A run began.

    A run that continues a conversation names its ``session`` (if stored) and carries
    the earlier turns it was given (``history``), the summary of older turns
    (``history_summary``) and how many of the session's turns that summary covers
    (``history_from``): a resumed run rebuilds the same context from them, whatever
    the session holds by then.
    """

    agent: str
    prompt: str
    model: str
    parent_run_id: str | None = None
    parent_call_id: str | None = None
    forked_from: str | None = None
    fork_seq: int | None = None
    strategy: str | None = None
    session: str | None = None
    history: list[UserMessage | AssistantMessage | ToolResultMessage] = field(default_factory=list)
    history_summary: str | None = None
    history_from: int = 0
    handoffs: list[str] = field(default_factory=list)
    untrusted: list[str] = field(default_factory=list)
    """The tools of the calling run whose untrusted output came before this run's prompt
    (a sub-agent's task written by a model that had read a page): the injection policy
    counts the prompt as untrusted content."""
    type: Literal["run_started"] = "run_started"


@dataclass(slots=True, kw_only=True)
class ModelRequested(_EventBase):
    """A model call is about to be made.

    ``context`` is working memory's estimate of the conversation sent (its own tokens
    for a model with a tokenizer, else four bytes a token), when it keeps one; the
    input tokens the response reports correct later estimates.
    """

    step: int
    tools: bool = True
    purpose: str = "turn"
    context: int | None = None
    type: Literal["model_requested"] = "model_requested"


@dataclass(slots=True, kw_only=True)
class ModelResponded(_EventBase):
    """A model answered; the response is the cassette that replay serves back."""

    step: int
    response: ModelResponse
    cost_usd: float
    duration_s: float
    type: Literal["model_responded"] = "model_responded"


@dataclass(slots=True, kw_only=True)
class ModelFailed(_EventBase):
    """A model call raised."""

    step: int
    error: str
    type: Literal["model_failed"] = "model_failed"


@dataclass(slots=True, kw_only=True)
class ModelRetried(_EventBase):
    """A model call failed with a retryable error and will be tried again after a delay."""

    model: str
    attempt: int
    error: str
    delay_s: float
    type: Literal["model_retried"] = "model_retried"


@dataclass(slots=True, kw_only=True)
class ModelSwitched(_EventBase):
    """A fallback chain moved from one model to the next, with the cause."""

    from_model: str
    to_model: str
    cause: str
    type: Literal["model_switched"] = "model_switched"


@dataclass(slots=True, kw_only=True)
class ToolCallStarted(_EventBase):
    """A tool call is about to run (or to be answered with an error)."""

    step: int
    call: ToolCall
    idempotency_key: str
    type: Literal["tool_call_started"] = "tool_call_started"


@dataclass(slots=True, kw_only=True)
class ToolCallFinished(_EventBase):
    """A tool call ended; ``content`` is exactly what the model is shown."""

    step: int
    call_id: str
    name: str
    outcome: ToolOutcome
    content: str
    truncated: bool = False
    attempts: int = 1
    duration_s: float = 0.0
    type: Literal["tool_call_finished"] = "tool_call_finished"


@dataclass(slots=True, kw_only=True)
class BudgetWarning(_EventBase):
    """A budget dimension crossed its warning fraction; the model was told to wrap up."""

    dimension: Dimension
    used: float
    limit: float
    type: Literal["budget_warning"] = "budget_warning"


@dataclass(slots=True, kw_only=True)
class BudgetExhausted(_EventBase):
    """A budget dimension reached its limit; the run gives up."""

    dimension: Dimension
    used: float
    limit: float
    type: Literal["budget_exhausted"] = "budget_exhausted"


@dataclass(slots=True, kw_only=True)
class LoopDetected(_EventBase):
    """The progress monitor saw the run going round in circles.

    ``action`` is what the orchestrator did: ``"correct"`` (a message to the model
    naming what repeats) or ``"give_up"`` (the fallback strategy runs).
    """

    loop: LoopKind
    detail: str
    action: Literal["correct", "give_up"]
    type: Literal["loop_detected"] = "loop_detected"


@dataclass(slots=True, kw_only=True)
class ApprovalRequested(_EventBase):
    """Tool calls wait for a person's decision; the run stops as ``interrupted``.

    ``reason`` says why: ``"approval"`` (the tool needs approval) or ``"in_doubt"``
    (a call that is not idempotent was cut off by a crash and may have happened).
    """

    step: int
    calls: list[ToolCall]
    reason: Literal["approval", "in_doubt"] = "approval"
    type: Literal["approval_requested"] = "approval_requested"


@dataclass(slots=True, kw_only=True)
class ApprovalDecided(_EventBase):
    """A person's decision on a pending call: approve, reject (with a message for the
    model) or edit (approve with changed arguments)."""

    call_id: str
    decision: Literal["approve", "reject", "edit"]
    message: str = ""
    arguments: dict[str, Any] | None = None
    type: Literal["approval_decided"] = "approval_decided"


@dataclass(slots=True, kw_only=True)
class NoteAdded(_EventBase):
    """The orchestrator added a note to the conversation (a budget warning, a loop
    correction, output errors): a user turn the model sees before its next call."""

    content: str
    type: Literal["note_added"] = "note_added"


@dataclass(slots=True, kw_only=True)
class OutputInvalid(_EventBase):
    """The final answer failed validation against the output type."""

    attempt: int
    errors: str
    type: Literal["output_invalid"] = "output_invalid"


@dataclass(slots=True, kw_only=True)
class StrategyChanged(_EventBase):
    """The run switched strategy, for example to its fallback."""

    strategy: str
    cause: str
    type: Literal["strategy_changed"] = "strategy_changed"


@dataclass(slots=True, kw_only=True)
class RunFinished(_EventBase):
    """A run ended, with its status, reason, output and usage."""

    status: RunStatus
    reason: Reason
    output: Any = None
    usage: Usage = field(default_factory=Usage)
    type: Literal["run_finished"] = "run_finished"


@dataclass(slots=True, kw_only=True)
class TurnRecorded(_EventBase):
    """A strategy put a model turn into the conversation: its text, or the calls it runs.

    The tool loop's turns are the model's responses themselves; a strategy that
    checks or repairs what the model said (the guided strategy) records the turn
    it settled on, so the conversation can be rebuilt from the journal.
    """

    step: int
    text: str | None = None
    calls: list[ToolCall] = field(default_factory=list)
    type: Literal["turn_recorded"] = "turn_recorded"


@dataclass(slots=True, kw_only=True)
class GuardrailChecked(_EventBase):
    """A guardrail (or the injection policy) looked at the run's input, a tool call or
    the final answer.

    ``action`` is what followed: ``pass``; ``end`` (the run ends as ``failed`` with the
    reason ``guardrail_tripped``); ``redirect`` (the model is told ``reason`` and goes
    on: a tool call is not run, a final answer is asked for again); ``approve`` (a
    tool call waits for a person); ``refuse`` (a tool call is not run).
    """

    stage: GuardrailStage
    guardrail: str
    tripped: bool
    action: GuardrailAction = "pass"
    reason: str = ""
    call_id: str | None = None
    type: Literal["guardrail_checked"] = "guardrail_checked"


@dataclass(slots=True, kw_only=True)
class ContextCompacted(_EventBase):
    """Working memory made room in the conversation: the messages before position
    ``cut`` (the run's own prompt kept) gave way to ``summary``, which the system
    message carries from now on.

    ``tokens_before`` and ``tokens_after`` are the conversation's size as counted
    before and after; ``usage`` and ``cost_usd`` are the summariser's call (charged
    to the run's budget), ``model`` its name.
    """

    step: int
    cut: int
    summary: str
    tokens_before: int
    tokens_after: int
    model: str = ""
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: float = 0.0
    type: Literal["context_compacted"] = "context_compacted"


@dataclass(slots=True, kw_only=True)
class MemoryRecalled(_EventBase):
    """Long-term memories that match the prompt were put into the system message when
    the run started (``ids`` and ``texts`` in order; both empty when none matched)."""

    namespace: str
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    type: Literal["memory_recalled"] = "memory_recalled"


@dataclass(slots=True, kw_only=True)
class SubRunEnded(_EventBase):
    """A sub-agent's run (an agent called as a tool) ended: which, how, and what it used
    (already charged to this run's budget while it ran; a resumed run takes it back
    from here)."""

    child_run_id: str
    call_id: str
    agent: str
    status: RunStatus
    reason: Reason
    output: Any = None
    usage: Usage = field(default_factory=Usage)
    type: Literal["sub_run_ended"] = "sub_run_ended"


@dataclass(slots=True, kw_only=True)
class HandedOff(_EventBase):
    """The run handed the conversation to another agent, whose run (``child_run_id``)
    goes on with it (``context``: how much of the conversation it was given)."""

    call_id: str
    agent: str
    child_run_id: str
    context: str
    type: Literal["handed_off"] = "handed_off"


@dataclass(slots=True, kw_only=True)
class TextDelta(_EventBase):
    """A piece of streamed model text; streamed only, never journaled."""

    step: int
    delta: str
    type: Literal["text_delta"] = "text_delta"


Event = (
    RunStarted
    | ModelRequested
    | ModelResponded
    | ModelFailed
    | ModelRetried
    | ModelSwitched
    | ToolCallStarted
    | ToolCallFinished
    | BudgetWarning
    | BudgetExhausted
    | LoopDetected
    | ApprovalRequested
    | ApprovalDecided
    | NoteAdded
    | OutputInvalid
    | StrategyChanged
    | TurnRecorded
    | GuardrailChecked
    | ContextCompacted
    | MemoryRecalled
    | SubRunEnded
    | HandedOff
    | RunFinished
)
"""An event of the run journal."""

StreamEvent = Event | TextDelta
"""What :meth:`tether.Agent.run_stream` yields: journal events and text deltas."""


@cache
def _adapter() -> TypeAdapter[Any]:
    # Built lazily: the adapter over all event types costs tens of milliseconds.
    return TypeAdapter(Annotated[StreamEvent, Field(discriminator="type")])


def dump_event(event: StreamEvent) -> dict[str, Any]:
    """The event as a JSON-compatible dict carrying the schema version under ``"v"``."""
    try:
        data: dict[str, Any] = _adapter().dump_python(event, mode="json")
    except UnicodeEncodeError:  # a dict key with an unpaired surrogate: the stdlib takes it
        data = json.loads(json.dumps(_adapter().dump_python(event, mode="python"), default=str))
    data["v"] = EVENT_SCHEMA_VERSION
    return data


def load_event(data: dict[str, Any] | str | bytes) -> StreamEvent:
    """Rebuild an event from :func:`dump_event` output (a dict or its JSON text).

    Raises:
        JournalError: the record is not an event: not JSON, not an object, no schema
            version or one this tether does not know, an unknown type, or fields that
            do not fit its type. The message names the record's type and the problem.
    """
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except JSON_DECODE_ERRORS as exc:  # not JSON, bytes not UTF-8, nested too deep
            if isinstance(exc, RecursionError):
                raise JournalError("an event record is JSON nested too deep to read") from None
            raise JournalError(f"an event record is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise JournalError(
            f"an event record is a JSON object, got {type(data).__name__}: {_clip(data)}"
        )
    record: dict[str, Any] = dict(data)
    kind = record.get("type")
    version = record.pop("v", None)
    if type(version) is not int:  # (a bool is not a version either)
        what = "no schema version" if version is None else f"the schema version {_clip(version)}"
        raise JournalError(
            f'an event record of type {kind!r} has {what} (its "v" is a whole number '
            "in every record tether writes): it is damaged, or was not written by tether"
        )
    if version not in _READABLE_VERSIONS:
        raise JournalError(
            f"event schema version {version!r} is not supported by this tether "
            f"(it reads version {EVENT_SCHEMA_VERSION}); upgrade tether to read this journal"
        )
    try:
        event: StreamEvent = _adapter().validate_python(record)
    except ValidationError as exc:
        raise JournalError(_invalid(kind, exc)) from None
    return event


def _clip(value: object, limit: int = 60) -> str:
    try:
        text = repr(value)
    except Exception:  # nested too deep, or a repr that raises: the error must still be told
        return f"<a {type(value).__name__} that cannot be shown>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _invalid(kind: object, exc: ValidationError) -> str:
    """What is wrong with a record, in a few words (its values left out)."""
    errors = exc.errors(include_url=False, include_input=False)
    if errors[0]["type"] == "union_tag_invalid":
        return f"an event record has an unknown type {kind!r}"
    if errors[0]["type"] == "union_tag_not_found":
        return 'an event record has no "type"'
    said = [f"{'.'.join(str(p) for p in e['loc'][1:]) or 'value'}: {e['msg']}" for e in errors[:3]]
    if len(errors) > 3:
        more = len(errors) - 3
        said.append(f"and {more} more problem{'s' if more > 1 else ''}")
    return f"an event record of type {kind!r} is not valid: {'; '.join(said)}"
