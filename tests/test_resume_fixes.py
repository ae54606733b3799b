"""Fixes from the audit of resume: the wall-clock budget across several waits for a
person, decisions given again, decisions that differ from the journal's, odd
``decisions`` and ``wait`` arguments, a RunStream iterated twice, and submit's docs.

A decision the journal already holds for a call changes nothing, while other calls wait
and once the run has finished; a different one is an error and changes nothing.
"""

from __future__ import annotations

import asyncio
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tether import (
    Agent,
    ApprovalDecided,
    Budget,
    ConfigError,
    Message,
    ModelRequested,
    RunFinished,
    RunStarted,
    StaticAnswer,
    Tool,
    ToolCall,
    ToolCallFinished,
    ToolCallStarted,
    ToolResultMessage,
    UsageError,
    approve,
    edit,
    reject,
)
from tether._events import Event, Reason
from tether.cli import app
from tether.journal import JournalStore, SQLiteStore
from tether.models import ModelParams
from tether.testing import FunctionModel, ScriptedModel

runner = CliRunner()


def _two_sends(store: JournalStore, effects: list[str], **options: Any) -> Agent[None, str]:
    """An agent that sends twice, one call a turn (c1, then c2), each waiting for a
    person's approval."""

    def send(to: str) -> str:
        """Send a message."""
        effects.append(to)
        return "sent " + to

    def brain(messages: Sequence[Message], params: ModelParams) -> Any:
        sent = sum(isinstance(m, ToolResultMessage) for m in messages)
        if sent == 0:
            return ToolCall("send", {"to": "first"}, "c1")
        if sent == 1:
            return ToolCall("send", {"to": "second"}, "c2")
        return "both sent"

    return Agent(
        FunctionModel(brain), tools=[Tool(send, requires_approval=True)], store=store, **options
    )


def _both_at_once(store: JournalStore, effects: list[str]) -> Agent[None, str]:
    """An agent whose one turn asks for two sends (c1, c2), both waiting for approval."""

    def send(to: str) -> str:
        """Send a message."""
        effects.append(to)
        return "sent to " + to

    model = ScriptedModel(
        [[ToolCall("send", {"to": "bob"}, "c1"), ToolCall("send", {"to": "amy"}, "c2")], "done"]
    )
    return Agent(model, tools=[Tool(send, requires_approval=True)], store=store)


def _payer(store: JournalStore, paid: list[int]) -> Agent[None, str]:
    """An agent whose one call, pay (c1), waits for a person's approval."""

    def pay(amount: int) -> str:
        """Pay."""
        paid.append(amount)
        return f"paid {amount}"

    def brain(messages: Sequence[Message], params: ModelParams) -> Any:
        if isinstance(messages[-1], ToolResultMessage):
            return "done: " + messages[-1].content
        return ToolCall("pay", {"amount": 1000}, "c1")

    return Agent(FunctionModel(brain), tools=[Tool(pay, requires_approval=True)], store=store)


async def _decided(store: JournalStore, run_id: str) -> list[tuple[str, str]]:
    return [
        (e.call_id, e.decision) for e in await store.load(run_id) if isinstance(e, ApprovalDecided)
    ]


# 1. The wall-clock budget counts the time the run was alive.


async def test_a_run_that_waits_twice_is_not_charged_the_time_it_waited_for_a_person(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    effects: list[str] = []
    agent = _two_sends(
        store, effects, budget=Budget(max_seconds=1), fallback=StaticAnswer("gave up")
    )
    first = await agent.run("send two")
    assert [c.id for c in first.pending] == ["c1"]
    await asyncio.sleep(1.3)  # the person takes longer than the whole budget to answer
    second = await agent.resume(first.run_id, decisions={"c1": approve()})
    assert [c.id for c in second.pending] == ["c2"]
    done = await agent.resume(first.run_id, decisions={"c2": approve()})  # at once
    assert (done.status, done.output) == ("completed", "both sent"), done.reason
    assert effects == ["first", "second"]


def test_alive_time_leaves_out_the_gaps_after_a_stop_and_before_a_decision() -> None:
    from tether._decisions import (
        alive_seconds as _alive_seconds,  # (private: the rule, without waiting)
    )

    def at(seq: int, when: float, kind: type[Any], **fields: Any) -> Event:
        event: Event = kind(run_id="r", seq=seq, at=when, **fields)
        return event

    call = ToolCall("send", {"to": "bob"}, "c1")
    events = [
        at(0, 0.0, RunStarted, agent="a", prompt="p", model="m"),
        at(1, 1.0, ModelRequested, step=1),
        at(2, 2.0, RunFinished, status="interrupted", reason=Reason("approval_required", "")),
        at(3, 100.0, ApprovalDecided, call_id="c1", decision="approve"),  # dead: 98 s
        at(4, 101.0, ToolCallStarted, step=1, call=call, idempotency_key="r:c1"),
        # a crash; resumed with a decision (which the resume journals first): dead too
        at(5, 500.0, ApprovalDecided, call_id="c1", decision="approve"),
        at(6, 502.0, ToolCallFinished, step=1, call_id="c1", name="send", outcome="ok", content=""),
    ]
    assert _alive_seconds(events) == pytest.approx(5.0)


# 2. A decision given again, while other calls wait, changes nothing.


async def test_approving_an_applied_call_again_while_another_waits_changes_nothing(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    effects: list[str] = []
    agent = _both_at_once(store, effects)
    run_id = (await agent.run("send both")).run_id
    once = await agent.resume(run_id, decisions={"c1": approve()})
    assert ([c.id for c in once.pending], effects) == (["c2"], ["bob"])
    again = await agent.resume(run_id, decisions={"c1": approve()})
    assert (again.status, [c.id for c in again.pending]) == ("interrupted", ["c2"])
    assert effects == ["bob"]
    done = await agent.resume(run_id, decisions={"c1": approve(), "c2": approve()})
    assert (done.status, effects) == ("completed", ["bob", "amy"])
    assert await _decided(store, run_id) == [("c1", "approve"), ("c2", "approve")]


async def test_a_decision_on_a_call_never_asked_about_is_still_a_config_error(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    effects: list[str] = []
    agent = _both_at_once(store, effects)
    run_id = (await agent.run("send both")).run_id
    await agent.resume(run_id, decisions={"c1": approve()})
    with pytest.raises(ConfigError, match=r"no waiting call typo.*c2 \(send\)"):
        await agent.resume(run_id, decisions={"c1": approve(), "typo": approve()})
    await agent.resume(run_id, decisions={"c2": approve()})
    with pytest.raises(ConfigError, match="never asked for a decision on typo"):
        await agent.resume(run_id, decisions={"typo": approve()})
    assert effects == ["bob", "amy"]


_CLI_AGENT = """
from tether import Agent, Tool, ToolCall
from tether.testing import ScriptedModel

def send(to: str) -> str:
    '''Send a message.'''
    return "sent to " + to

agent = Agent(
    ScriptedModel(
        [[ToolCall("send", {"to": "bob"}, "c1"), ToolCall("send", {"to": "amy"}, "c2")], "done"]
    ),
    tools=[Tool(send, requires_approval=True)],
    name="sender",
)
"""


def test_the_cli_takes_every_decision_again_after_a_partial_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "resume_fixes_sender.py").write_text(textwrap.dedent(_CLI_AGENT))
    monkeypatch.chdir(tmp_path)
    base = ["--agent", "resume_fixes_sender:agent", "--store", str(tmp_path / "j.db")]
    started = runner.invoke(app, ["run", "send both", *base, "--json"])
    run_id = started.stdout.split('"run_id": "', 1)[1].split('"', 1)[0]
    partial = runner.invoke(app, ["resume", run_id, *base, "--approve", "c1"])
    assert partial.exit_code == 1, partial.output  # still waiting for c2
    done = runner.invoke(app, ["resume", run_id, *base, "--approve", "c1", "--approve", "c2"])
    assert done.exit_code == 0, done.output


# 3. A decision that differs from the journal's is an error.


async def test_another_edit_or_reject_of_a_finished_run_s_call_is_a_usage_error(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    paid: list[int] = []
    agent = _payer(store, paid)
    edited = (await agent.run("pay")).run_id
    assert (await agent.resume(edited, decisions={"c1": edit({"amount": 10})})).completed
    with pytest.raises(UsageError, match=r"not applied.*c1 was edit\(\{'amount': 10\}\)"):
        await agent.resume(edited, decisions={"c1": edit({"amount": 999999})})
    same = await agent.resume(edited, decisions={"c1": edit({"amount": 10.0})})  # JSON: 10
    assert same.output == "done: paid 10"
    rejected = (await agent.run("pay")).run_id
    assert (await agent.resume(rejected, decisions={"c1": reject("no")})).completed
    with pytest.raises(UsageError, match=r"c1 was reject\('no'\)"):
        await agent.resume(rejected, decisions={"c1": reject("a different message")})
    assert (await agent.resume(rejected, decisions={"c1": reject("no")})).output == "done: no"
    assert paid == [10]
    assert await _decided(store, edited) == [("c1", "edit")]


async def test_another_edit_of_a_call_decided_while_others_wait_is_a_config_error(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    effects: list[str] = []
    agent = _both_at_once(store, effects)
    run_id = (await agent.run("send both")).run_id
    await agent.resume(run_id, decisions={"c1": edit({"to": "bo"})})
    with pytest.raises(ConfigError, match=r"c1 was already decided \(edit\(\{'to': 'bo'\}\)\)"):
        await agent.resume(run_id, decisions={"c1": edit({"to": "eve"}), "c2": approve()})
    assert effects == ["bo"]
    assert await _decided(store, run_id) == [("c1", "edit")]  # c2's approval not journaled


# 4. decisions that are not a mapping of call ids to decisions.


@pytest.mark.parametrize(
    "decisions",
    [[approve()], {None: approve()}, {1: approve()}, "c1", {"c1": "approve"}],
    ids=repr,
)
async def test_decisions_that_are_not_call_ids_to_decisions_are_a_config_error(
    tmp_path: Path, decisions: Any
) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    paid: list[int] = []
    agent = _payer(store, paid)
    run_id = (await agent.run("pay")).run_id
    with pytest.raises(ConfigError, match=r"approve\(\), reject\(\) or edit\(\)"):
        await agent.resume(run_id, decisions=decisions)
    assert await _decided(store, run_id) == []


# 5. wait is checked first.


@pytest.mark.parametrize("wait", [math.nan, -1, True, "1"], ids=repr)
async def test_a_bad_wait_is_refused_before_anything_even_for_a_finished_run(
    tmp_path: Path, wait: Any
) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    paid: list[int] = []
    agent = _payer(store, paid)
    run_id = (await agent.run("pay")).run_id
    await agent.resume(run_id, decisions={"c1": approve()})
    with pytest.raises(ConfigError, match="wait is a finite number of seconds"):
        await agent.resume(run_id, wait=wait)
    no_store: Agent[None, str] = Agent(ScriptedModel(["x"]))
    with pytest.raises(ConfigError, match="wait is a finite number of seconds"):
        await no_store.resume(run_id, wait=wait)


def test_resume_says_that_it_refuses_a_bad_wait() -> None:
    doc = Agent.resume.__doc__ or ""
    assert "``wait`` is not a finite number" in doc.split("Raises:", 1)[1]


# 6. A RunStream is one run.


async def test_iterating_a_run_stream_twice_is_a_usage_error_and_runs_nothing_again() -> None:
    charged: list[int] = []

    def charge(amount: int) -> str:
        """Charge a card."""
        charged.append(amount)
        return "charged"

    def brain(messages: Sequence[Message], params: ModelParams) -> Any:
        if isinstance(messages[-1], ToolResultMessage):
            return "Charged 5."
        return ToolCall("charge", {"amount": 5})

    agent: Agent[None, str] = Agent(FunctionModel(brain), tools=[charge])
    stream = agent.run_stream("charge 5")
    async for _ in stream:
        pass
    first = stream.result.run_id
    with pytest.raises(UsageError, match="a RunStream is one run: iterate it once"):
        async for _ in stream:
            pass
    assert (charged, stream.result.run_id) == ([5], first)


# 7. submit's docs say what it raises.


def test_submit_documents_what_it_raises() -> None:
    doc = Agent.submit.__doc__ or ""
    assert "Raises:" in doc
    assert "tether.scale.submit" in doc.split("Raises:", 1)[1]
