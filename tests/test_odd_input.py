"""Odd values at the public API: a clear ConfigError that says what to do, nothing
written and nothing lost (both journal stores where a store is involved)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tether import Agent, ConfigError, Tool, ToolCall, approve, edit, reject
from tether.cli import app
from tether.journal import JournalStore, SQLiteStore
from tether.testing import ScriptedModel

StoreFactory = Callable[[], JournalStore]
BAD_IDS = ["\ud800", "a\x00b", ""]


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_a_run_id_no_store_can_hold_is_refused_clearly(
    make_store: StoreFactory, bad: str
) -> None:
    store = make_store()
    agent = Agent(ScriptedModel(["ok"]), store=store)
    done = await agent.run("hi")
    for call in (agent.resume(bad), agent.replay(bad), agent.fork(bad, 1)):
        with pytest.raises(ConfigError, match="run id"):
            await call
    with pytest.raises(ConfigError, match="session id"):
        await agent.run("hi", session=bad or " ")
    with pytest.raises(ConfigError, match="run id"):
        await store.load(bad)
    assert [r.run_id for r in await store.list_runs()] == [done.run_id]  # nothing written


async def test_a_session_id_with_a_surrogate_is_not_a_crash(make_store: StoreFactory) -> None:
    agent = Agent(ScriptedModel(["ok"]), store=make_store())
    with pytest.raises(ConfigError, match="unpaired surrogate"):
        await agent.run("hi", session="s\ud800")


def pay(amount: int) -> str:
    """Pay an amount."""
    return f"paid {amount}"


async def test_a_decision_that_is_not_one_is_refused_before_anything_is_journaled(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match=r"edit\(\) takes the call's new arguments as a dict"):
        edit("rm -rf")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="dict of argument names"):
        edit({1: "x"})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="message str"):
        reject(42)  # type: ignore[arg-type]
    # A good decision after the refused ones still goes through.
    store = SQLiteStore(tmp_path / "j.db")
    model = ScriptedModel([ToolCall("pay", {"amount": 5}), "done"])
    agent = Agent(model, tools=[Tool(pay, requires_approval=True)], store=store)
    paused = await agent.run("pay 5")
    assert paused.status == "interrupted"
    done = await agent.resume(paused.run_id, decisions={paused.pending[0].id: approve()})
    assert done.output == "done"


@pytest.mark.parametrize("ttl", [0, -5, 0.01, float("nan"), float("inf"), True, "30"])
def test_a_lease_ttl_that_cannot_work_is_refused(ttl: Any) -> None:
    with pytest.raises(ConfigError, match=r"lease_ttl is a number of seconds of at least 0\.1"):
        Agent(ScriptedModel([]), lease_ttl=ttl)
    assert Agent(ScriptedModel([]), lease_ttl=2).lease_ttl == 2.0


@pytest.mark.parametrize("at", [1.5, True, "3", None])
async def test_a_fork_point_is_a_whole_sequence_number(tmp_path: Path, at: Any) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    agent = Agent(ScriptedModel(["ok"]), store=store)
    done = await agent.run("hi")
    with pytest.raises(ConfigError, match="a fork point is an event's sequence number"):
        await agent.fork(done.run_id, at)
    assert [r.run_id for r in await store.list_runs()] == [done.run_id]  # nothing written
    assert await agent.fork(done.run_id, 1) != done.run_id


@pytest.mark.parametrize("limit", [0, -1, True, 2.5])
async def test_a_listing_limit_is_checked_on_both_stores(
    make_store: StoreFactory, limit: Any
) -> None:
    store = make_store()
    await Agent(ScriptedModel(["ok"]), store=store).run("hi")
    with pytest.raises(ConfigError, match="limit is a whole number of runs"):
        await store.list_runs(limit=limit)
    assert len(await store.list_runs(limit=1)) == 1


@pytest.mark.parametrize("command", [["runs"], ["doctor"], ["cancel", "r1"], ["resume", "r1"]])
def test_a_command_on_a_mistyped_journal_path_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "nodir" / "sub" / "x.db"
    out = CliRunner().invoke(app, [*command, "--store", str(path)])
    assert out.exit_code != 0
    assert f"there is no journal at {path}" in " ".join(out.output.split())
    assert not (tmp_path / "nodir").exists()


def test_runs_refuses_a_negative_limit(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    Agent(ScriptedModel(["ok"]), store=SQLiteStore(path)).run_sync("hi")
    out = CliRunner().invoke(app, ["runs", "--limit", "-1", "--store", str(path)])
    assert out.exit_code != 0
    assert "limit is a whole number of runs" in out.output


@pytest.mark.parametrize(
    ("option", "value"),
    [("budget", {"max_steps": 3}), ("budget", 10), ("loop_policy", {}), ("loop_policy", True)],
)
def test_a_budget_or_loop_policy_that_is_not_one_is_refused_when_built(
    option: str, value: Any
) -> None:
    with pytest.raises(ConfigError, match=f"{option} is a tether"):
        Agent(ScriptedModel([]), **{option: value})


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("output_retries", "2", "output_retries is an int"),
        ("output_retries", float("nan"), "output_retries is an int"),
        ("output_retries", 1.5, "output_retries is an int"),
        ("output_retries", True, "output_retries is an int"),
        ("name", None, "name is a non-empty str"),
        ("name", 3, "name is a non-empty str"),
        ("name", "  ", "name is a non-empty str"),
        ("instructions", None, "instructions is a str"),
        ("tools", "add", "tools is a list"),
        ("tools", {"add": print}, "tools is a list"),
        ("approval", "yes", "approval is a function"),
        ("strategy", "fastest", "unknown strategy 'fastest'"),
        ("strategy", 3, "strategy is a tether.Strategy"),
        ("guardrails", "no-pii", "guardrails is a list"),
        ("output_type", None, "output_type is the type"),
        ("injection_policy", "off", "injection_policy is a tether.InjectionPolicy"),
        ("handoffs", "billing", "handoffs is a list"),
        ("prompt", "You are {x}", "prompt is a tether.OrchestratorPrompt"),
        ("store", "runs.db", "store is a tether.journal.JournalStore"),
    ],
)
def test_an_agent_setting_of_the_wrong_kind_is_refused_when_built(
    option: str, value: Any, says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        Agent(ScriptedModel([]), **{option: value})


async def test_a_strategy_by_name_and_empty_lists_as_none_are_accepted() -> None:
    agent = Agent(
        ScriptedModel(["done"]), strategy="tool_loop", tools=None, guardrails=None, handoffs=None
    )
    assert type(agent.strategy).__name__ == "ToolLoop"
    result = await agent.run("q")
    assert (result.status, result.output) == ("completed", "done")
    assert type(Agent(ScriptedModel([]), strategy="guided").strategy).__name__ == "GuidedStrategy"
