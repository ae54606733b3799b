"""The mutable state of one run, changed only by the fold (:mod:`tether.run._fold`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tether._events import (
    ApprovalDecided,
    Reason,
    RunFinished,
    StreamEvent,
    SubRunEnded,
    ToolOutcome,
)
from tether._messages import Message, ToolCall
from tether._usage import BudgetTracker
from tether.tools._exec import CallOutcome

from ._detect import Detection, ProgressMonitor

__all__ = ["RunState", "ToolResult"]


@dataclass(slots=True)
class ToolResult:
    """A finished tool call of the run, as strategies read it."""

    call: ToolCall
    content: str
    outcome: ToolOutcome

    @property
    def ok(self) -> bool:
        """True when the tool returned a result (not an error, a refusal or a skip)."""
        return self.outcome == "ok"


@dataclass(slots=True, eq=False)
class RunState:
    """What a run has become: everything the journal's events have made of it.

    The live loop and a resume build it the same way, by folding events into it
    one by one (:func:`tether.run.fold`); nothing else writes to it.

    Attributes:
        messages: the conversation the model sees (tool-call pairs always intact).
        tracker: usage and limits.
        monitor: the loop detector's memory.
        step: the current model turn.
        corrections: loop corrections sent so far.
        output_attempts: invalid final answers so far.
        last_text: the last text the model wrote into the conversation.
        notes: orchestrator notes journaled but not yet shown to the model.
        batch: the tool calls of the latest turn.
        started: ids of the batch's calls that started.
        outcomes: the batch's finished calls, by id.
        results: every finished call of the run, in journal order.
        decisions: a person's decisions not yet used by an execution, by call id.
        decided: the last decision journaled on each call (used or not).
        in_doubt: calls cut off by a crash that the run stopped to ask a person about.
        plan_check, call_checks, result_check: what the loop detector said about
            the latest plan, each call of the batch, and the batch's results.
        last: the latest event that moved the run on (a response, a turn, a tool
            call's start or end, an invalid output, a give-up); strategies decide
            where a resumed run goes on from it.
        last_purpose: the purpose of the model call whose response is ``last``.
        purpose: the purpose of the latest model call.
        asked: how many model calls of each purpose the run made (a strategy's
            second tries are made once).
        stop: why the run is stopping, once a limit or a loop ended it.
        giving_up: True once the run started its fallback.
        finished: the run's end, once journaled.
        prompt_index: where the run's own prompt is in ``messages`` (after the earlier
            turns of a conversation it continues).
        summary: working memory's running summary of the turns it let go, if any.
        system_base: the system message before a summary was added to it.
        compactions: how many times working memory compacted the conversation.
        session: the stored conversation the run continues, if any.
        history_from: how many of the session's turns were summarised before the run.
        history_dropped: how many of the earlier turns the run's compactions summarised.
        recalled: True once long-term memories were recalled for the run.
        ratio: tokens the provider counted per token working memory estimated, from the
            latest call that reported them (1 until then).
        context_sent: working memory's estimate of the latest call's conversation.
        sub_runs: the sub-agents' runs that ended, by run id (their usage, for a resume).
        handoff: the run this one handed the conversation to, once it ended.
        handing_to: the run this one is handing the conversation to.
        handoffs: the agents the conversation was handed through before this run.
        results_cap: when set (an agent's ``keep_events``), only about the latest this
            many ``results`` are kept.
        output_from: the names of the tools whose output entered the run (kept when
            working memory drops or summarises the results themselves: the injection
            policy reads it).
        untrusted_prompt: True when the run's prompt was written after untrusted tool
            output (a sub-agent's task from a caller that had read a page).
    """

    messages: list[Message]
    tracker: BudgetTracker
    monitor: ProgressMonitor
    step: int = 0
    corrections: int = 0
    output_attempts: int = 0
    last_text: str | None = None
    notes: list[str] = field(default_factory=list)
    batch: list[ToolCall] = field(default_factory=list)
    started: set[str] = field(default_factory=set)
    outcomes: dict[str, CallOutcome] = field(default_factory=dict)
    results: list[ToolResult] = field(default_factory=list)
    decisions: dict[str, ApprovalDecided] = field(default_factory=dict)
    decided: dict[str, str] = field(default_factory=dict)
    in_doubt: set[str] = field(default_factory=set)
    plan_check: Detection | None = None
    call_checks: dict[str, Detection] = field(default_factory=dict)
    result_check: Detection | None = None
    last: StreamEvent | None = None
    last_purpose: str = ""
    purpose: str = ""
    asked: dict[str, int] = field(default_factory=dict)
    stop: Reason | None = None
    giving_up: bool = False
    finished: RunFinished | None = None
    prompt_index: int = 1
    summary: str | None = None
    system_base: str | None = None
    compactions: int = 0
    session: str | None = None
    history_from: int = 0
    history_dropped: int = 0
    recalled: bool = False
    ratio: float = 1.0
    context_sent: int | None = None
    results_cap: int | None = None
    output_from: frozenset[str] = frozenset()
    untrusted_prompt: bool = False
    sub_runs: dict[str, SubRunEnded] = field(default_factory=dict)
    handoff: SubRunEnded | None = None
    handing_to: str | None = None
    handoffs: list[str] = field(default_factory=list)

    def open_calls(self) -> list[ToolCall]:
        """Calls of the latest turn without a result yet."""
        return [c for c in self.batch if c.id not in self.outcomes]
