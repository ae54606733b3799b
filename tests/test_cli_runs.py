"""`tether runs`, `tether resume` and `tether prune` on a real journal file."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tether.cli import app
from tether.cli._runs import parse_age

runner = CliRunner()

AGENT_MODULE = """
from tether import Agent, ModelResponse, Tool, ToolCall, ToolResultMessage
from tether.testing import FunctionModel

DONE = []

def delete(path: str) -> str:
    '''Delete a file.'''
    DONE.append(path)
    return f"deleted {path}"

def policy(messages, params):
    results = [m for m in messages if isinstance(m, ToolResultMessage)]
    if results:
        return ModelResponse(text=results[-1].content)
    return ModelResponse(tool_calls=[ToolCall("delete", {"path": "/tmp/x"})])

agent = Agent(FunctionModel(policy), tools=[Tool(delete, requires_approval=True)], name="cleaner")
"""


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "cleaner_agent.py").write_text(textwrap.dedent(AGENT_MODULE))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "journal.db"


def _json(out: str) -> dict[str, object]:
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_runs_lists_what_run_wrote(journal: Path) -> None:
    done = runner.invoke(app, ["run", "What is 6*7?", "--model", "demo", "--store", str(journal)])
    assert done.exit_code == 0, done.output
    listed = runner.invoke(app, ["runs", "--store", str(journal), "--json"])
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["agent"], r["status"], r["prompt"]) for r in rows] == [
        ("demo", "completed", "What is 6*7?")
    ]
    none = runner.invoke(app, ["runs", "--store", str(journal), "--json", "--status", "failed"])
    assert none.stdout.strip() == ""


def test_resume_with_an_approval_from_the_command_line(journal: Path) -> None:
    first = runner.invoke(
        app, ["run", "clean", "--agent", "cleaner_agent:agent", "--store", str(journal), "--json"]
    )
    assert first.exit_code == 1
    stopped = _json(first.stdout)
    assert stopped["status"] == "interrupted"
    run_id = str(stopped["run_id"])
    pending = runner.invoke(app, ["runs", "--store", str(journal), "--status", "interrupted"])
    assert run_id in pending.stdout
    done = runner.invoke(
        app,
        [
            "resume",
            run_id,
            "--agent",
            "cleaner_agent:agent",
            "--store",
            str(journal),
            "--approve",
            "call_1_0",
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    result = _json(done.stdout)
    assert (result["status"], result["output"]) == ("completed", "deleted /tmp/x")


def test_resume_without_an_agent_names_the_missing_option(journal: Path) -> None:
    first = runner.invoke(
        app, ["run", "clean", "--agent", "cleaner_agent:agent", "--store", str(journal), "--json"]
    )
    run_id = str(_json(first.stdout)["run_id"])
    out = runner.invoke(app, ["resume", run_id, "--store", str(journal)])
    assert out.exit_code == 2
    assert "is of agent 'cleaner'" in out.stderr
    assert "--agent" in out.stderr


def test_prune_keeps_the_newest(journal: Path) -> None:
    for q in ("1+1", "2+2", "3+3"):
        runner.invoke(app, ["run", q, "--model", "demo", "--store", str(journal)])
    out = runner.invoke(app, ["prune", "--keep", "1", "--store", str(journal)])
    assert out.exit_code == 0
    assert out.stdout.startswith("deleted 2 runs")
    listed = runner.invoke(app, ["runs", "--store", str(journal), "--json"])
    assert [json.loads(line)["prompt"] for line in listed.stdout.splitlines()] == ["3+3"]


def test_prune_needs_a_rule_and_a_valid_age(journal: Path) -> None:
    assert runner.invoke(app, ["prune", "--store", str(journal)]).exit_code == 2
    bad = runner.invoke(app, ["prune", "--older-than", "3x", "--store", str(journal)])
    assert bad.exit_code == 2
    assert "is not an age" in bad.stderr


def test_ages() -> None:
    assert parse_age("90s") == 90
    assert parse_age("2h") == 7200
    assert parse_age("1.5d") == 129600


@pytest.mark.parametrize("age", ["9" * 400 + "s", "1001w", "99999999999999999999d"])
def test_an_age_beyond_any_run_is_refused_as_an_age(journal: Path, age: str) -> None:
    out = runner.invoke(app, ["runs", "--since", age, "--store", str(journal)])
    assert out.exit_code == 2
    assert "longer than any run could be" in out.stderr
    assert "Traceback" not in out.output
