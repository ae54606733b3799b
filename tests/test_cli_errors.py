"""The command line on bad input: one ``error:`` line and exit 2, naming what to do, and
nothing changed or lost."""

from __future__ import annotations

import json
import os
import sqlite3
import textwrap
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import PG_DSN, _postgres_reachable
from test_cli_runs import AGENT_MODULE
from tether.cli import app
from tether.journal import PostgresStore

runner = CliRunner()


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "cleaner_agent.py").write_text(textwrap.dedent(AGENT_MODULE))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _one_error_line(result: object, *needles: str) -> None:
    out = result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == 2, out  # type: ignore[attr-defined]
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    assert lines[0].startswith("error: "), out
    assert "Traceback" not in out
    for needle in needles:
        assert needle in lines[0], lines[0]


def _foreign(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE runs (id INTEGER)")
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda d: (d / "t.db", (d / "t.db").write_bytes(b"SQLite format 3\x00" + b"\x07" * 40)),
        lambda d: (d / "r.db", (d / "r.db").write_bytes(os.urandom(5000))),
        lambda d: (d / "sub", (d / "sub").mkdir()),
        lambda d: (_foreign(d / "other-app.db"), None),
    ],
    ids=["truncated", "random", "folder", "foreign"],
)
@pytest.mark.parametrize(
    "command",
    [
        ["runs"],
        ["run", "What is 2+2?", "--model", "demo"],
        ["prune", "--keep", "1"],
        ["resume", "x"],
    ],
    ids=["runs", "run", "prune", "resume"],
)
def test_a_bad_journal_file_is_one_error_line(here: Path, make: object, command: list[str]) -> None:
    path, _ = make(here)  # type: ignore[operator]
    before = path.read_bytes() if path.is_file() else None
    result = runner.invoke(app, [*command, "--store", str(path)])
    _one_error_line(result, str(path))
    if before is not None:
        assert path.read_bytes() == before  # refused, never altered


def test_an_event_row_with_invalid_json_is_one_error_line(here: Path) -> None:
    path = here / "j.db"
    done = runner.invoke(app, ["run", "What is 6*7?", "--model", "demo", "--store", str(path)])
    assert done.exit_code == 0
    run_id = json.loads(runner.invoke(app, ["runs", "--store", str(path), "--json"]).stdout)[
        "run_id"
    ]
    conn = sqlite3.connect(path)
    conn.execute("UPDATE events SET data = '{not json' WHERE seq = 1")
    conn.commit()
    conn.close()
    _one_error_line(runner.invoke(app, ["resume", run_id, "--store", str(path)]), run_id)


def test_prune_refuses_a_negative_count_and_deletes_nothing(here: Path) -> None:
    path = here / "j.db"
    runner.invoke(app, ["run", "What is 6*7?", "--model", "demo", "--store", str(path)])
    _one_error_line(runner.invoke(app, ["prune", "--keep", "-5", "--store", str(path)]), "--keep")
    listed = runner.invoke(app, ["runs", "--store", str(path), "--json"])
    assert len(listed.stdout.splitlines()) == 1


@pytest.mark.parametrize("name", ["local:foo", "demo:x", "nosuch"])
def test_model_names_are_checked_the_same_way(here: Path, name: str) -> None:
    result = runner.invoke(app, ["run", "hi", "--model", name, "--store", str(here / "j.db")])
    _one_error_line(result, repr(name.partition(":")[0]) if ":" in name else repr(name))


def test_an_interrupted_run_says_what_waits_and_how_to_go_on(here: Path) -> None:
    path = here / "j.db"
    stopped = runner.invoke(
        app, ["run", "clean", "--agent", "cleaner_agent:agent", "--store", str(path)]
    )
    assert stopped.exit_code == 1
    assert "pending call_1_0: delete(" in stopped.stderr
    assert "to go on: tether resume " in stopped.stderr
    command = stopped.stderr.split("to go on: tether ", 1)[1].split()
    assert "--approve" in command
    done = runner.invoke(app, command)  # the printed command works as it is
    assert done.exit_code == 0, done.stderr
    as_json = runner.invoke(
        app, ["run", "clean", "--agent", "cleaner_agent:agent", "--store", str(path), "--json"]
    )
    record = json.loads(as_json.stdout)
    assert record["pending"] == [
        {"id": "call_1_0", "name": "delete", "arguments": {"path": "/tmp/x"}}
    ]


def _interrupted(path: Path) -> str:
    stopped = runner.invoke(
        app, ["run", "clean", "--agent", "cleaner_agent:agent", "--store", str(path), "--json"]
    )
    return str(json.loads(stopped.stdout)["run_id"])


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (["--approve", "typo"], "no waiting call typo"),
        (["--approve", "call_1_0", "--reject", "call_1_0"], "both approved and rejected"),
    ],
)
def test_bad_decisions_are_errors_and_change_nothing(
    here: Path, options: list[str], needle: str
) -> None:
    path = here / "j.db"
    run_id = _interrupted(path)
    result = runner.invoke(
        app, ["resume", run_id, "--agent", "cleaner_agent:agent", "--store", str(path), *options]
    )
    _one_error_line(result, needle)
    listed = runner.invoke(app, ["runs", "--store", str(path), "--json"])
    assert json.loads(listed.stdout)["status"] == "interrupted"


def test_a_decision_on_a_finished_run_is_an_error(here: Path) -> None:
    path = here / "j.db"
    run_id = _interrupted(path)
    base = ["resume", run_id, "--agent", "cleaner_agent:agent", "--store", str(path)]
    assert runner.invoke(app, [*base, "--approve", "call_1_0"]).exit_code == 0
    _one_error_line(runner.invoke(app, [*base, "--reject", "call_1_0"]), "already finished")


def test_resume_uses_the_model_the_run_was_started_on(here: Path) -> None:
    path = here / "j.db"
    done = runner.invoke(app, ["run", "What is 6*7?", "--model", "demo", "--store", str(path)])
    assert done.exit_code == 0
    run_id = json.loads(runner.invoke(app, ["runs", "--store", str(path), "--json"]).stdout)[
        "run_id"
    ]
    conn = sqlite3.connect(path)  # the journal of a run started on a model not here
    conn.execute(
        'UPDATE events SET data = replace(data, \'"model":"demo"\', \'"model":"nosuch:m"\') '
        "WHERE seq = 0"
    )
    conn.execute("DELETE FROM events WHERE seq > 2")
    conn.execute("UPDATE runs SET status = 'running'")
    conn.commit()
    conn.close()
    result = runner.invoke(app, ["resume", run_id, "--store", str(path)])
    _one_error_line(result, "'nosuch:m'", "not available here")


def test_a_prompt_with_unpaired_surrogates_is_journaled_safely(here: Path) -> None:
    path = here / "j.db"
    result = runner.invoke(
        app, ["run", "What is 6*7? \udcff", "--model", "demo", "--store", str(path), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    listed = runner.invoke(app, ["runs", "--store", str(path), "--json"])
    assert listed.exit_code == 0
    assert "\\udcff" in json.loads(listed.stdout)["prompt"]


def test_a_postgresql_url_is_a_store_for_every_command(here: Path) -> None:
    why = _postgres_reachable()
    if why is not None:
        pytest.skip(f"PostgreSQL tests need a server: {why}")
    import asyncio

    schema = f"cli_{uuid.uuid4().hex[:8]}"
    url = f"{PG_DSN}?tether_schema={schema}"
    try:
        done = runner.invoke(app, ["run", "What is 6*7?", "--model", "demo", "--store", url])
        assert done.exit_code == 0, done.stderr
        assert not any(p.name.startswith("postgres") for p in here.iterdir())
        listed = runner.invoke(app, ["runs", "--store", url, "--json"])
        assert listed.exit_code == 0, listed.stderr
        assert any(
            json.loads(line)["prompt"] == "What is 6*7?" for line in listed.stdout.splitlines()
        )
        assert runner.invoke(app, ["doctor", "--store", url]).exit_code == 0
    finally:
        asyncio.run(PostgresStore(PG_DSN, schema=schema).drop())
