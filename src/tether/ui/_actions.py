"""Decisions on pending calls and cancels, from the viewer, each applied once.

A decision goes through :meth:`tether.Agent.resume`, the path ``tether resume``
takes: the resume takes the run's lease, journals the decision and runs the call.
The lease is what makes it exactly once across processes (a second resumer gets
:class:`~tether.RunLocked` and changes nothing). Inside one viewer, a lock per run
and a look at the journal turn a second click, or a second tab, into a clear
"already decided" instead of an error from the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pydantic

from tether._agent import Agent, RunResult
from tether._errors import ConfigError, RunLocked, TetherError, UsageError
from tether._events import ApprovalDecided, ApprovalRequested, Event, RunFinished
from tether._messages import ToolCall
from tether.journal import JournalStore
from tether.run import CancelOutcome, Decision, approve, cancel_run, edit, reject

__all__ = [
    "Actions",
    "AgentFor",
    "Notice",
    "Outcome",
    "parse_decision",
]

AgentFor = Callable[[JournalStore, list[Event]], Agent[Any, Any]]
"""Finds the agent that goes on with a run (``tether resume``'s rule), given the store
it resumes in and the run's events; raises :class:`~tether.ConfigError` with what to do
when it cannot."""

StoreFactory = Callable[[], JournalStore]

SETTLE_S = 3.0
"""Seconds a decision's request waits for the run to go on before the page is shown
(a short run is finished by then; a long one goes on in the background)."""

NOTICE_TTL_S = 300.0

CANCEL_WAIT_S = 3.0
"""Seconds a cancel's request waits for a live run's process to stop it."""

_CANCELLED: dict[CancelOutcome, str] = {
    "cancelled": "Cancelled.",
    "requested": "Cancel requested: the run's process stops it at its next check.",
    "already_cancelled": "Already cancelled.",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a decision or a cancel came to, for the page."""

    ok: bool
    message: str
    status_code: int = 200


@dataclass(frozen=True, slots=True)
class Notice:
    """A message about a run that outlives the request: how a resume in the background ended."""

    level: Literal["info", "error"]
    text: str
    at: float


def _validation_errors(exc: Exception) -> str:
    if isinstance(exc, pydantic.ValidationError):
        parts = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or "arguments"
            parts.append(f"{where}: {err['msg']}")
        return "; ".join(parts)
    return str(exc)


def parse_decision(
    action: str, message: str, arguments: str, agent: Agent[Any, Any] | None, tool_name: str
) -> Decision:
    """The decision a form asks for.

    Raises:
        ValueError: with a sentence saying what is wrong (unknown action, arguments that
            are not a JSON object or that the tool refuses).
    """
    if action == "approve":
        return approve()
    if action == "reject":
        return reject(message.strip()) if message.strip() else reject()
    if action != "edit":
        raise ValueError(f"unknown decision {action!r}: approve, reject or edit")
    try:
        parsed = json.loads(arguments)
    except ValueError as exc:
        raise ValueError(f"the arguments are not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise ValueError(
            f'the arguments must be a JSON object such as {{"name": value}}, '
            f"not {type(parsed).__name__}"
        )
    tool = agent.tools.get(tool_name) if agent is not None else None
    if tool is not None:
        try:
            tool.validate(parsed)
        except Exception as exc:
            raise ValueError(
                f"{tool_name} does not accept these arguments: {_validation_errors(exc)}"
            ) from None
    return edit(parsed)


def _waiting_call(events: Sequence[Event], call_id: str) -> ToolCall | None:
    """The call ``call_id`` if the run stopped to wait for a decision on it."""
    end = events[-1] if events else None
    if not (isinstance(end, RunFinished) and end.status == "interrupted"):
        return None
    asked = next((e for e in reversed(events) if isinstance(e, ApprovalRequested)), None)
    calls = asked.calls if asked is not None else []
    return next((c for c in calls if c.id == call_id), None)


_PAST = {"approve": "approved", "reject": "rejected", "edit": "approved with edits"}


class Actions:
    """Decisions and cancels for one viewer: at most one resume per run at a time."""

    def __init__(
        self, store: JournalStore, open_store: StoreFactory, agent_for: AgentFor | None
    ) -> None:
        self.store = store
        self._open_store = open_store
        self.agent_for = agent_for
        self._locks: dict[str, asyncio.Lock] = {}
        self._active: dict[str, asyncio.Task[None]] = {}
        self._notices: dict[str, Notice] = {}

    def busy(self, run_id: str) -> bool:
        """True while this viewer is going on with the run."""
        task = self._active.get(run_id)
        return task is not None and not task.done()

    def notice(self, run_id: str) -> Notice | None:
        """The latest message about the run, if it is recent."""
        found = self._notices.get(run_id)
        if found is not None and time.time() - found.at > NOTICE_TTL_S:
            return None
        return found

    def agent(self, events: list[Event]) -> tuple[Agent[Any, Any] | None, str | None]:
        """The agent that decides on the run's calls, or None and why there is none."""
        if self.agent_for is None:
            return None, "this viewer was started without a way to load agents"
        try:
            return self.agent_for(self.store, events), None
        except TetherError as exc:
            return None, str(exc)

    async def decide(
        self, run_id: str, call_id: str, form: Callable[[Agent[Any, Any], ToolCall], Decision]
    ) -> Outcome:
        """Apply a person's decision on one pending call, once.

        ``form`` builds the decision from the run's agent and the call (an edit is
        validated against the call's tool); its ``ValueError`` is shown as it is.
        """
        lock = self._locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            if self.busy(run_id):
                return Outcome(False, "Already decided: the run is going on.", 409)
            events = await self.store.load(run_id)
            earlier = next(
                (e for e in events if isinstance(e, ApprovalDecided) and e.call_id == call_id),
                None,
            )
            if earlier is not None:
                when = time.strftime("%H:%M:%S", time.localtime(earlier.at))
                return Outcome(
                    False,
                    f"Already decided: {call_id} was {_PAST[earlier.decision]} at {when}.",
                    409,
                )
            call = _waiting_call(events, call_id)
            if call is None:
                return Outcome(False, f"{call_id} is not waiting for a decision.", 409)
            agent, why = self.agent(events)
            if agent is None:
                return Outcome(False, f"Cannot decide here: {why}", 409)
            try:
                decision = form(agent, call)
            except ValueError as exc:
                return Outcome(False, str(exc), 400)
            journal = self._open_store()
            agent.store = journal
            task = asyncio.create_task(self._resume(agent, journal, run_id, call_id, decision))
            self._active[run_id] = task
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), SETTLE_S)
        said = f"{call_id} {_PAST[decision.kind]}"
        if not task.done():
            self._notices[run_id] = Notice("info", f"{said}; the run goes on.", time.time())
        return Outcome(True, f"{said}.")

    async def _resume(
        self,
        agent: Agent[Any, Any],
        journal: JournalStore,
        run_id: str,
        call_id: str,
        decision: Decision,
    ) -> None:
        try:
            result: RunResult[Any] = await agent.resume(run_id, decisions={call_id: decision})
            text = (
                f"{call_id} {_PAST[decision.kind]}; the run went on and ended "
                f"{result.status}: {result.reason.message}"
            )
            self._notices[run_id] = Notice("info", text, time.time())
        except RunLocked:
            self._notices[run_id] = Notice(
                "error",
                "Not applied: another process is executing this run; what it decides shows "
                "here when it journals it.",
                time.time(),
            )
        except (UsageError, ConfigError) as exc:
            self._notices[run_id] = Notice("error", f"Not applied: {exc}", time.time())
        except asyncio.CancelledError:
            self._notices[run_id] = Notice("info", "The run was cancelled.", time.time())
            raise
        except Exception as exc:
            self._notices[run_id] = Notice(
                "error", f"The resumed run failed: {type(exc).__name__}: {exc}", time.time()
            )
        finally:
            await journal.close()

    async def cancel(self, run_id: str, reason: str) -> Outcome:
        """Cancel a run that has not ended, or one that waits for a decision, with
        :func:`tether.cancel_run` (a live run's own process stops it)."""
        try:
            done = await cancel_run(self.store, run_id, reason=reason, wait=CANCEL_WAIT_S)
        except TetherError as exc:
            return Outcome(False, f"Not cancelled: {exc}", 409)
        self._notices[run_id] = Notice("info", _CANCELLED[done], time.time())
        return Outcome(True, _CANCELLED[done])

    async def aclose(self) -> None:
        """Stop the resumes still going on (their runs journal ``interrupted``)."""
        tasks = [t for t in self._active.values() if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
