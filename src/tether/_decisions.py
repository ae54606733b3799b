"""A person's decisions on a run's waiting calls, checked against its journal, and the
time a resumed run has been alive."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import ConfigError, UsageError
from ._events import ApprovalDecided, ApprovalRequested, Event, RunFinished, dump_event
from .run import Decision, Run

__all__ = ["alive_seconds", "check_finished", "checked_decisions", "record_decisions"]


def alive_seconds(events: Sequence[Event]) -> float:
    """Seconds a journaled run was alive: the gaps between its events, less those in
    which it lay dead.

    A gap after ``run_finished`` is dead (the run stopped to wait for a person, or was
    interrupted, and this gap ends at its resume), and so is a gap before a person's
    decision (``approval_decided`` is journaled only as a resume begins, also one after
    a crash). The gap between the last event and this resume is not counted either.
    Other dead time cannot be told from the journal: a resume after a crash that
    brought no decision journals nothing to mark where it began, so the time that run
    lay dead before it counts as alive.
    """
    alive = 0.0
    before = events[0]
    for event in events:
        if not isinstance(before, RunFinished) and not isinstance(event, ApprovalDecided):
            alive += max(event.at - before.at, 0.0)  # (clocks of two hosts may disagree)
        before = event
    return alive


def checked_decisions(decisions: object) -> dict[str, Decision]:
    """The ``decisions`` given to a resume, checked before anything is read or written."""
    if decisions is None:
        return {}
    if not isinstance(decisions, Mapping) or not all(isinstance(k, str) for k in decisions):
        shown = repr(decisions)
        raise ConfigError(
            "decisions maps call ids (str) to tether.approve(), reject() or edit(), e.g. "
            "decisions={'call_1': approve()} (the ids are in result.pending); got "
            f"{shown if len(shown) <= 80 else shown[:79] + '…'}"
        )
    for call_id, decision in decisions.items():
        if not isinstance(decision, Decision):
            raise ConfigError(
                f"the decision on {call_id} must be tether.approve(), reject() or edit(), "
                f"got {decision!r}"
            )
    return dict(decisions)


def _answered(events: Sequence[Event]) -> tuple[dict[str, ApprovalDecided], set[str]]:
    """Per call, the journaled decision that answers the latest question on it (a call
    asked about again, after a crash cut it off, has none until a person answers
    again), and the ids of the calls a person was ever asked about."""
    answered: dict[str, ApprovalDecided] = {}
    asked: set[str] = set()
    for e in events:
        if isinstance(e, ApprovalDecided):
            answered[e.call_id] = e
        elif isinstance(e, ApprovalRequested):
            for call in e.calls:
                asked.add(call.id)
                answered.pop(call.id, None)
    return answered, asked


def _as_journaled(decision: ApprovalDecided | Decision) -> list[Any]:
    """A decision's kind, message and arguments as the journal holds them (JSON values:
    a tuple is a list, NaN is null ...)."""
    if isinstance(decision, Decision):
        decision = ApprovalDecided(
            run_id="",
            seq=0,
            at=0.0,
            call_id="",
            decision=decision.kind,
            message=decision.message,
            arguments=decision.arguments,
        )
    data = dump_event(decision)
    return [data["decision"], data["message"], data["arguments"]]


def _same_json(a: object, b: object) -> bool:
    """Equal as JSON values: numbers by value (``10`` is ``10.0``), but a bool is not a
    number, and objects and arrays match member by member."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_same_json(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same_json, a, b))
    return not isinstance(b, dict | list) and a == b


def _same_decision(journaled: ApprovalDecided, given: Decision) -> bool:
    """Whether ``given`` is the journaled decision again: the same kind, message and
    arguments (compared as JSON values, as the journal holds them)."""
    try:
        return _same_json(_as_journaled(journaled), _as_journaled(given))
    except Exception:  # arguments no journal could hold: not the journaled ones
        return False


def _said(decision: ApprovalDecided | Decision) -> str:
    """A decision as a person gives it: ``approve()``, ``reject('...')``, ``edit({...})``."""
    if isinstance(decision, ApprovalDecided):
        kind, message, arguments = decision.decision, decision.message, decision.arguments
    else:
        kind, message, arguments = decision.kind, decision.message, decision.arguments
    said = {"approve": "", "reject": repr(message), "edit": repr(arguments)}[kind]
    return f"{kind}({said if len(said) <= 60 else said[:59] + '…'})"


def check_finished(
    run_id: str, status: str, events: Sequence[Event], decisions: Mapping[str, Decision]
) -> None:
    """Decisions on a finished run: those the journal holds change nothing; one on a
    call never asked about is a ConfigError; any other is a UsageError (the run cannot
    act on it any more)."""
    if not decisions:
        return
    answered, asked = _answered(events)
    unknown = sorted(c for c in decisions if c not in answered and c not in asked)
    if unknown:
        raise ConfigError(
            f"run {run_id} has already finished ({status}) and never asked for a "
            f"decision on {', '.join(unknown)}; check the call ids (`tether trace "
            f"{run_id}` shows its calls)"
        )
    wrong = sorted(
        c
        for c, d in decisions.items()
        if (e := answered.get(c)) is None or not _same_decision(e, d)
    )
    if wrong:
        held = "; ".join(
            f"{c} was {_said(e)}" if (e := answered.get(c)) is not None else f"{c} was not decided"
            for c in wrong
        )
        raise UsageError(
            f"run {run_id} has already finished ({status}); the decisions on "
            f"{', '.join(wrong)} were not applied (they were not what the journal holds: "
            f"{held})"
        )


def record_decisions(run: Run, decisions: Mapping[str, Decision], events: Sequence[Event]) -> None:
    """Journal a person's decisions on the run's waiting calls (the lease is held).

    A decision the journal already holds for a call (the same kind, message and
    arguments) is not journaled again: a person may give every decision again while
    other calls still wait. A different one, or one on a call that is neither waiting
    nor decided, is an error. All are checked before any is journaled."""
    if not decisions:
        return
    st = run.state
    answered, _ = _answered(events)
    waiting = {c.id: c for c in st.open_calls()}
    unknown = sorted(c for c in decisions if c not in waiting and c not in answered)
    if unknown:
        listed = ", ".join(f"{c.id} ({c.name})" for c in waiting.values()) or "none"
        raise ConfigError(
            f"run {run.run_id} has no waiting call {', '.join(unknown)}; the calls waiting "
            f"for a decision: {listed}"
        )
    new: list[tuple[str, Decision]] = []
    for call_id, decision in decisions.items():
        earlier = answered.get(call_id)
        if earlier is None:
            if call_id in st.started and call_id not in st.in_doubt:
                # Cut off by a crash without a decision: only the run (its tool's
                # reconcile hook, or a question to a person) decides whether it runs again.
                raise ConfigError(
                    f"call {call_id} started and was cut off before anyone was asked about "
                    "it; resume without a decision to learn whether it needs one"
                )
            new.append((call_id, decision))
        elif not _same_decision(earlier, decision):
            then = (
                " and applied"
                if call_id not in waiting
                else " and started"
                if call_id in st.started
                else ""
            )
            raise ConfigError(
                f"call {call_id} was already decided ({_said(earlier)}){then}; it cannot "
                f"also be {_said(decision)}: give the same decision again, or none"
            )
    for call_id, decision in new:
        run.record(
            ApprovalDecided,
            call_id=call_id,
            decision=decision.kind,
            message=decision.message,
            arguments=decision.arguments,
        )
