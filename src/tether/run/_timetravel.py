"""Fork and replay: time travel over run journals.

* :func:`fork` copies a run's journal up to an event into a new run, optionally
  with another prompt or other tool results, so that resuming the new run goes
  on from that point down a different path.
* :class:`JournalModel` serves a journal's model responses back in order: a
  run replayed with it needs no model, and gives the same events when the tools
  behave the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from tether._errors import ConfigError, ReplayMismatch
from tether._events import (
    ApprovalDecided,
    Event,
    ModelRequested,
    ModelResponded,
    RunFinished,
    RunStarted,
    ToolCallFinished,
    ToolCallStarted,
    dump_event,
)
from tether._messages import Message, ModelResponse, ToolCall
from tether.models import Model, ModelParams
from tether.tools import render_result

__all__ = ["JournalModel", "comparable", "fork_events"]

# Fields that differ between two runs that did the same thing.
_VOLATILE = ("run_id", "at", "duration_s")


def fork_events(
    events: Sequence[Event],
    at: int,
    new_run_id: str,
    *,
    prompt: str | None = None,
    tool_results: Mapping[str, Any] | None = None,
) -> list[Event]:
    """The journal of a new run: ``events`` before sequence number ``at``, rewritten.

    Calls that had started but not finished before ``at`` are dropped, so that the
    new run makes them afresh; a ``run_finished`` is dropped, so the run goes on. A
    person's decision (``approval_decided``) on a call that had not finished before
    ``at`` is dropped too: an approval is for one execution, and the original run's
    execution is not the fork's, so a call that needs approval waits for a person
    again when the fork is resumed (a new ``approval_requested``). Decisions on calls
    that finished before ``at`` are kept, with their results. A replaced tool result
    that is not text is shown to the model as a tool's return value would be (``5`` as
    ``5``, None as ``null``, a dict as JSON).

    Raises:
        ConfigError: ``at`` is outside the journal, ``prompt`` is not a str, a replaced
            tool result names a call that did not finish before ``at``, or cannot be
            shown as text.
    """
    if not events or not isinstance(events[0], RunStarted):
        raise ConfigError("a journal to fork must start with run_started")
    if isinstance(at, bool) or not isinstance(at, int):
        raise ConfigError(
            f"a fork point is an event's sequence number, a whole number (1 to "
            f"{len(events)}), got {at!r}"
        )
    if not 1 <= at <= len(events):
        raise ConfigError(f"fork point {at} is outside the journal (1 to {len(events)})")
    if prompt is not None and not isinstance(prompt, str):
        raise ConfigError(
            f"fork(prompt=...) takes the new run's prompt as a str, got {type(prompt).__name__}"
        )
    results = _rendered(tool_results)
    prefix = [e for e in events if e.seq < at and not isinstance(e, RunFinished)]
    finished = {e.call_id for e in prefix if isinstance(e, ToolCallFinished)}
    missing = set(results) - finished
    if missing:
        raise ConfigError(
            f"cannot replace the results of {sorted(missing)}: no such call finished "
            f"before event {at}"
        )
    out: list[Event] = []
    for e in prefix:
        if isinstance(e, ToolCallStarted) and e.call.id not in finished:
            continue
        if isinstance(e, ApprovalDecided) and e.call_id not in finished:
            continue  # its execution was the original run's: a person decides again
        changes: dict[str, Any] = {"run_id": new_run_id, "seq": len(out)}
        if isinstance(e, RunStarted):
            # A fork is another path, not a turn of the conversation it began in.
            changes.update(forked_from=e.run_id, fork_seq=at, session=None)
            if prompt is not None:
                changes["prompt"] = prompt
        elif isinstance(e, ToolCallFinished) and e.call_id in results:
            changes.update(content=results[e.call_id], outcome="ok", truncated=False)
        out.append(dataclasses.replace(e, **changes))
    return out


def _rendered(tool_results: Mapping[str, Any] | None) -> dict[str, str]:
    """Replaced tool results by call id, each as the text the model reads.

    Raises:
        ConfigError: not a mapping of call ids (str) to results, or a result that
            cannot be shown as text.
    """
    if tool_results is None:
        return {}
    if not isinstance(tool_results, Mapping):
        raise ConfigError(
            f"tool_results maps call ids to new results, e.g. {{'call_1_0': '42'}}; "
            f"got {type(tool_results).__name__}"
        )
    out: dict[str, str] = {}
    for call_id, value in tool_results.items():
        if not isinstance(call_id, str):
            raise ConfigError(f"tool_results is keyed by call id (a str), got {call_id!r}")
        try:
            out[call_id] = render_result(value)
        except Exception as exc:  # what a tool could not return either
            raise ConfigError(
                f"the new result of {call_id!r} cannot be shown to the model as text "
                f"({type(exc).__name__}: {exc}); give it as a str"
            ) from None
    return out


class JournalModel(Model):
    """Serves the model responses of a journal, in order, as a model would.

    Raises :class:`~tether.ReplayMismatch` when the replayed run asks for more
    responses than the journal holds, or asks with tools on where the original
    had them off (or the reverse).
    """

    def __init__(self, events: Sequence[Event]) -> None:
        start = next((e for e in events if isinstance(e, RunStarted)), None)
        self.name = start.model if start is not None else "journal"
        self._strategy = start.strategy if start is not None else None
        self._script: list[tuple[bool, ModelResponse]] = []
        tools_on = True
        for e in events:
            if isinstance(e, ModelRequested):
                tools_on = e.tools
            elif isinstance(e, ModelResponded):
                self._script.append((tools_on, e.response))
        self._next = 0

    @property
    def preferred_strategy(self) -> str | None:
        """The strategy the journaled run used, so that a replay takes the same steps."""
        return self._strategy

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        """The next journaled response."""
        if self._next >= len(self._script):
            raise ReplayMismatch(
                f"the replayed run asked for model response {self._next + 1}, but the "
                f"journal holds {len(self._script)}"
            )
        tools_on, response = self._script[self._next]
        if tools_on != params.allow_tools:
            raise ReplayMismatch(
                f"model call {self._next + 1}: the original had tools "
                f"{'on' if tools_on else 'off'}, the replay has them "
                f"{'on' if params.allow_tools else 'off'}"
            )
        self._next += 1
        calls = [ToolCall(c.name, c.arguments, c.id) for c in response.tool_calls]
        return dataclasses.replace(response, tool_calls=calls)


def comparable(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Events without the fields that differ between equal runs (ids, times, durations)."""
    out = []
    for e in events:
        data = dump_event(e)
        for key in _VOLATILE:
            data.pop(key, None)
        if data.get("type") == "tool_call_started":
            data.pop("idempotency_key", None)
        if data.get("type") == "run_started":
            data.pop("model", None)
        out.append(data)
    return out
