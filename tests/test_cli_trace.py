"""`tether trace` and `tether runs` on journals of real runs (SQLite and PostgreSQL):
the tree, its timings, why each run ended, the JSON shapes, and clear errors."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import PG_DSN, _postgres_reachable
from tether import Agent, Budget, RunContext, ToolCall, WorkingMemory
from tether.cli import app
from tether.journal import PostgresStore, open_store
from tether.testing import ScriptedModel

runner = CliRunner()
WIDE = {"COLUMNS": "240"}

RUN_KEYS = {
    "run_id",
    "agent",
    "model",
    "strategy",
    "prompt",
    "parent_run_id",
    "status",
    "reason",
    "started_at",
    "ended_at",
    "duration_s",
    "usage",
    "output",
    "diagnosis",
    "markers",
    "steps",
    "sub_runs",
    "unreadable",
}
DIAGNOSIS_KEYS = {
    "category",
    "detail",
    "summary",
    "failed",
    "evidence",
    "contributing",
    "waiting_for",
}
STEP_KEYS = {"step", "model_calls", "tool_calls", "markers"}
MODEL_CALL_KEYS = {
    "seq",
    "purpose",
    "tools",
    "duration_s",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "finish",
    "tool_calls",
    "text",
    "error",
}
TOOL_CALL_KEYS = {
    "seq",
    "call_id",
    "name",
    "arguments",
    "outcome",
    "duration_s",
    "attempts",
    "truncated",
    "error",
    "started_at",
    "ended_at",
    "sub_runs",
}
MARKER_KEYS = {"seq", "kind", "text"}
UNREADABLE_KEYS = {"seq", "type", "problem"}
USAGE_KEYS = {
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "model_calls",
    "tool_calls",
    "steps",
    "cost_usd",
}
ROW_KEYS = {
    "run_id",
    "agent",
    "status",
    "prompt",
    "created_at",
    "updated_at",
    "events",
    "parent_run_id",
    "duration_s",
    "cost_usd",
    "usage",
    "reason",
    "diagnosis",
}


def echo(x: int) -> int:
    """Echo."""
    return x


def boom(x: int) -> int:
    """Always fails."""
    raise RuntimeError("disk full")


def pay(amount: int) -> str:
    """Pay."""
    return f"paid {amount}"


async def _make_runs(url: str) -> dict[str, str]:
    """One run of each kind in the journal at ``url``; their ids by kind."""
    store = open_store(url)
    helper = Agent(ScriptedModel(["the helper's answer"]), store=store, name="helper")

    async def ask_helper(ctx: RunContext[None], question: str) -> str:
        """Ask the helper agent."""
        answer = await helper.run(question, parent=ctx)
        return str(answer.output)

    agents = {
        "completed": Agent(
            ScriptedModel([ToolCall("echo", {"x": 1}), "one"]), tools=[echo], name="plain"
        ),
        "looped": Agent(
            ScriptedModel([ToolCall("echo", {"x": 1})] * 10 + ["done"]), tools=[echo], name="loop"
        ),
        "budget": Agent(
            ScriptedModel([ToolCall("echo", {"x": i}) for i in range(10)] + ["late"]),
            tools=[echo],
            budget=Budget(max_steps=3),
            name="budget",
        ),
        "approval": Agent(
            ScriptedModel([ToolCall("pay", {"amount": 5})]),
            tools=[pay],
            approval=lambda c: True,
            name="payer",
        ),
        "failing": Agent(
            ScriptedModel([ToolCall("boom", {"x": 1}), "it failed"]), tools=[boom], name="failing"
        ),
        "parent": Agent(
            ScriptedModel([ToolCall("ask_helper", {"question": "why?"}), "because"]),
            tools=[ask_helper],
            name="parent",
        ),
        "lead": Agent(
            ScriptedModel([ToolCall("adviser", {"task": "why?"}), "because"]),
            tools=[Agent(ScriptedModel(["its answer"]), store=store, name="adviser").as_tool()],
            name="lead",
        ),
        "compacted": Agent(
            ScriptedModel([ToolCall("echo", {"x": "y" * 900 + str(i)}) for i in range(6)] + ["ok"]),
            tools=[echo],
            working_memory=WorkingMemory(max_tokens=900, summarizer=ScriptedModel(["s"] * 9)),
            name="compacting",
        ),
    }
    ids = {}
    try:
        for kind, agent in agents.items():
            agent.store = store
            ids[kind] = (await agent.run(f"task {kind}")).run_id
    finally:
        await store.close()
    return ids


@pytest.fixture(params=["sqlite", "postgres"], scope="module")
def journal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    """A journal holding one run of each kind, and their ids."""
    if request.param == "sqlite":
        url = str(tmp_path_factory.mktemp("trace") / "journal.db")
        yield url, asyncio.run(_make_runs(url))
        return
    why = _postgres_reachable()
    if why is not None:
        pytest.skip(f"PostgreSQL tests need a server: {why}")
    schema = f"trace_{uuid.uuid4().hex[:8]}"
    url = f"{PG_DSN}?tether_schema={schema}"
    try:
        yield url, asyncio.run(_make_runs(url))
    finally:
        asyncio.run(PostgresStore(PG_DSN, schema=schema).drop())


def _trace(url: str, run_id: str) -> str:
    out = runner.invoke(app, ["trace", run_id, "--store", url], env=WIDE)
    assert out.exit_code == 0, out.output
    return out.stdout


def _trace_json(url: str, run_id: str) -> dict[str, Any]:
    out = runner.invoke(app, ["trace", run_id, "--store", url, "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)  # type: ignore[no-any-return]


TIMING = re.compile(r"\d+\.\d ms|\d+\.\d\d s")


def test_a_completed_run_shows_its_steps_calls_and_timings(
    journal: tuple[str, dict[str, str]],
) -> None:
    url, ids = journal
    text = _trace(url, ids["completed"])
    assert text.startswith("why it ended: completed")
    assert f"run {ids['completed']} · agent 'plain' · model 'scripted' · completed" in text
    assert "step 1" in text
    assert "step 2" in text
    assert "model turn" in text
    assert "→ tool calls: echo" in text
    assert "→ text: one" in text
    assert "✓ echo ok" in text
    assert "1 attempt" in text
    assert len(TIMING.findall(text)) == 4  # the run, two model calls and the tool call
    assert re.search(r"\d+ tokens \(\d+ in, \d+ out\) · \$0\.0000", text)


def test_a_compacted_run_shows_each_compaction(journal: tuple[str, dict[str, str]]) -> None:
    url, ids = journal
    text = _trace(url, ids["compacted"])
    assert re.search(r"! context compacted: \d+ -> \d+ tokens, summarised by scripted", text)
    data = _trace_json(url, ids["compacted"])
    marks = [m for s in data["steps"] for m in s["markers"] if m["kind"] == "context_compacted"]
    assert marks


def test_a_run_with_a_sub_agent_shows_how_it_ended(journal: tuple[str, dict[str, str]]) -> None:
    url, ids = journal
    text = _trace(url, ids["lead"])
    assert re.search(r"! sub.run ended: adviser \(\w+\): completed, final_answer", text)


def test_a_looped_run_shows_the_detections_and_why(journal: tuple[str, dict[str, str]]) -> None:
    url, ids = journal
    text = _trace(url, ids["looped"])
    assert text.startswith("why it ended: loop (repeated_call)")
    assert "! loop detected: repeated_call (correct)" in text
    assert "! loop detected: repeated_call (give_up)" in text
    assert "! fallback: final_answer" in text
    assert "also: 1 loop correction(s): repeated_call" in text
    assert "✗ echo not_run" in text


def test_a_budget_exhausted_run_shows_the_warning_and_the_end(
    journal: tuple[str, dict[str, str]],
) -> None:
    url, ids = journal
    text = _trace(url, ids["budget"])
    assert text.startswith("why it ended: budget (steps)")
    assert "The steps budget is used up (3 of 3)." in text
    assert "! budget warning: steps" in text
    assert "! budget exhausted: steps 3 of 3" in text
    assert "gave_up (budget_exhausted)" in text


def test_a_run_awaiting_approval_names_the_calls(journal: tuple[str, dict[str, str]]) -> None:
    url, ids = journal
    text = _trace(url, ids["approval"])
    assert text.startswith("why it ended: waiting_for_approval (pay)")
    assert 'waiting for: pay (call_1_0) {"amount": 5}' in text
    assert "! approval requested: pay (call_1_0)" in text
    data = _trace_json(url, ids["approval"])
    assert data["status"] == "interrupted"
    assert data["diagnosis"]["waiting_for"] == [
        {"id": "call_1_0", "name": "pay", "arguments": {"amount": 5}}
    ]


def test_a_failing_tool_shows_its_error(journal: tuple[str, dict[str, str]]) -> None:
    url, ids = journal
    text = _trace(url, ids["failing"])
    assert "✗ boom error" in text
    assert "Tool 'boom' failed: RuntimeError: disk full" in text
    assert "also: 1 of 1 tool calls failed (boom: error)" in text
    [call] = _trace_json(url, ids["failing"])["steps"][0]["tool_calls"]
    assert (call["outcome"], call["attempts"]) == ("error", 1)
    assert "disk full" in call["error"]


def test_a_sub_run_is_nested_under_the_calling_tool(journal: tuple[str, dict[str, str]]) -> None:
    url, ids = journal
    data = _trace_json(url, ids["parent"])
    [call] = data["steps"][0]["tool_calls"]
    assert call["name"] == "ask_helper"
    [sub] = call["sub_runs"]
    assert (sub["agent"], sub["parent_run_id"], sub["status"]) == (
        "helper",
        ids["parent"],
        "completed",
    )
    assert sub["steps"][0]["model_calls"][0]["text"] == "the helper's answer"
    assert data["sub_runs"] == []
    text = _trace(url, ids["parent"])
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "✓ ask_helper ok" in line)
    assert "agent 'helper'" in lines[at + 1]
    assert lines[at + 1].index("run ") > lines[at].index("✓")  # one level deeper


def test_trace_json_has_the_documented_keys(journal: tuple[str, dict[str, str]]) -> None:
    url, ids = journal
    help_text = " ".join(runner.invoke(app, ["trace", "--help"], env=WIDE).stdout.split())
    keys = RUN_KEYS | DIAGNOSIS_KEYS | STEP_KEYS | MODEL_CALL_KEYS | TOOL_CALL_KEYS | USAGE_KEYS
    for key in keys | MARKER_KEYS | UNREADABLE_KEYS | {"journal_unreadable", "not_in_journal"}:
        assert key in help_text, key
    for kind, run_id in ids.items():
        data = _trace_json(url, run_id)
        assert set(data) == RUN_KEYS, kind
        assert data["unreadable"] == []
        assert set(data["diagnosis"]) == DIAGNOSIS_KEYS
        assert set(data["usage"]) == USAGE_KEYS
        for step in data["steps"]:
            assert set(step) == STEP_KEYS
            assert all(set(m) == MODEL_CALL_KEYS for m in step["model_calls"])
            assert all(set(c) == TOOL_CALL_KEYS for c in step["tool_calls"])
            assert all(set(m) == MARKER_KEYS for m in step["markers"])
            assert all(m["duration_s"] >= 0 for m in step["model_calls"])
        assert data["duration_s"] > 0
    looped = _trace_json(url, ids["looped"])
    kinds = [m["kind"] for s in looped["steps"] for m in s["markers"]]
    assert kinds.count("loop_detected") == 2
    assert "fallback" in kinds


def test_runs_json_lists_status_cost_duration_and_reason(
    journal: tuple[str, dict[str, str]],
) -> None:
    url, ids = journal
    out = runner.invoke(app, ["runs", "--store", url, "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["run_id"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert set(ids.values()) < set(rows)  # and the helper's run
    assert all(set(r) == ROW_KEYS for r in rows.values())
    budget = rows[ids["budget"]]
    assert budget["status"] == "gave_up"
    assert budget["reason"]["kind"] == "budget_exhausted"
    assert budget["diagnosis"]["category"] == "budget"
    assert budget["duration_s"] > 0
    assert budget["cost_usd"] == 0.0
    assert budget["usage"]["steps"] == 3
    assert rows[ids["approval"]]["diagnosis"]["category"] == "waiting_for_approval"
    helper = next(r for r in rows.values() if r["agent"] == "helper")
    assert helper["parent_run_id"] == ids["parent"]
    only = runner.invoke(app, ["runs", "--store", url, "--json", "--agent", "loop"])
    [looped] = map(json.loads, only.stdout.splitlines())
    assert looped["diagnosis"]["category"] == "loop"
    table = runner.invoke(app, ["runs", "--store", url, "--status", "gave_up"], env=WIDE).stdout
    assert "budget_exhausted: budget (steps)" in table
    assert "loop_detected: loop (repeated_call)" in table
    assert ids["completed"] not in table


def test_an_unknown_run_is_a_clear_error(journal: tuple[str, dict[str, str]]) -> None:
    url, _ids = journal
    out = runner.invoke(app, ["trace", "nope", "--store", url])
    assert out.exit_code == 1
    assert "Traceback" not in out.output
    assert out.stderr.startswith("error: no run 'nope' in the")
    where = url if not url.startswith("postgresql") else "PostgreSQL journal (trace_"
    assert where in out.stderr


def test_a_missing_journal_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    out = runner.invoke(app, ["trace", "abc", "--store", str(missing)])
    assert out.exit_code == 1
    assert out.stderr.strip() == f"error: there is no journal at {missing}"
    assert not missing.exists()  # trace reads; it creates nothing


def test_a_cancelled_run_traces_as_cancelled(tmp_path: Path) -> None:
    url = str(tmp_path / "j.db")

    async def make() -> str:
        from tether import cancel_run

        store = open_store(url)
        agent = Agent(
            ScriptedModel([ToolCall("pay", {"amount": 1})]),
            tools=[pay],
            approval=lambda c: True,
            store=store,
        )
        run_id = (await agent.run("pay")).run_id
        await cancel_run(store, run_id, reason="changed my mind")
        await store.close()
        return run_id

    run_id = asyncio.run(make())
    text = _trace(url, run_id)
    assert text.startswith("why it ended: cancelled (requested)")
    assert "Cancelled on request: changed my mind" in text


async def _make_damaged(url: str) -> dict[str, str]:
    """Two runs; the second's model_responded record gets a type no tether knows."""
    store = open_store(url)
    try:
        ids = {}
        for name in ("good", "bad"):
            ids[name] = (await Agent(ScriptedModel(["fine"]), store=store).run(name)).run_id
        edit = (
            'UPDATE {t} SET data = replace(data, \'"type":"model_responded"\', '
            '\'"type":"model_exploded"\') WHERE run_id = {p}'
        )
        if isinstance(store, PostgresStore):
            import psycopg

            async with await psycopg.AsyncConnection.connect(store.dsn) as pg:
                await pg.execute(edit.format(t=f"{store.schema}.events", p="%s"), (ids["bad"],))
                await pg.commit()
        else:
            import sqlite3

            conn = sqlite3.connect(url)
            conn.execute(edit.format(t="events", p="?"), (ids["bad"],))
            conn.commit()
            conn.close()
        return ids
    finally:
        await store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def damaged(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A journal with a healthy run and a run with one unreadable record (seq 2)."""
    if request.param == "sqlite":
        url = str(tmp_path / "journal.db")
        yield url, asyncio.run(_make_damaged(url))
        return
    why = _postgres_reachable()
    if why is not None:
        pytest.skip(f"PostgreSQL tests need a server: {why}")
    schema = f"damaged_{uuid.uuid4().hex[:8]}"
    url = f"{PG_DSN}?tether_schema={schema}"
    try:
        yield url, asyncio.run(_make_damaged(url))
    finally:
        asyncio.run(PostgresStore(PG_DSN, schema=schema).drop())


def test_runs_lists_every_run_and_marks_one_with_an_unreadable_record(
    damaged: tuple[str, dict[str, str]],
) -> None:
    url, ids = damaged
    out = runner.invoke(app, ["runs", "--store", url, "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["run_id"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert set(rows) == {ids["good"], ids["bad"]}
    assert rows[ids["good"]]["reason"]["kind"] == "final_answer"
    bad = rows[ids["bad"]]
    assert set(bad) == ROW_KEYS
    assert bad["status"] == "completed"  # as the store has it
    assert (bad["reason"]["kind"], bad["reason"]["detail"]) == ("journal_unreadable", "seq 2")
    assert "unreadable record at seq 2 (model_responded)" in bad["reason"]["message"]
    table = runner.invoke(app, ["runs", "--store", url], env=WIDE)
    assert table.exit_code == 0, table.output
    assert "journal_unreadable (seq 2)" in table.stdout
    assert ids["good"] in table.stdout


def test_trace_of_a_run_with_an_unreadable_record_names_the_record(
    damaged: tuple[str, dict[str, str]],
) -> None:
    url, ids = damaged
    out = runner.invoke(app, ["trace", ids["bad"], "--store", url])
    assert out.exit_code == 1
    assert "Traceback" not in out.output
    assert out.stderr.startswith(
        f"error: event 2 (model_responded) of run {ids['bad']} cannot be read: an event "
        "record has an unknown type 'model_exploded'; the journal is damaged there: "
        "`tether doctor` lists every unreadable record"
    )
    assert _trace(url, ids["good"])  # the other run still traces


def test_doctor_reports_unreadable_records_and_fails(damaged: tuple[str, dict[str, str]]) -> None:
    url, ids = damaged
    out = runner.invoke(app, ["doctor", "--store", url])
    assert out.exit_code == 1
    assert (
        f"unreadable record: run {ids['bad']} seq 2 (model_responded): an event record has "
        "an unknown type 'model_exploded'"
    ) in out.stdout
    assert "the journal is sound" not in out.stdout
    assert ids["good"] not in out.stdout


# -- a tree with a sub-run that cannot be read ------------------------------------------


async def _make_family(url: str) -> dict[str, str]:
    """A lead that asks a checker, then a manager that asks a worker; their run ids."""
    store = open_store(url)
    worker = Agent(ScriptedModel(["the worker's answer"]), store=store, name="worker")
    manager = Agent(
        ScriptedModel([ToolCall("worker", {"task": "dig"}), "the manager's answer"]),
        tools=[worker.as_tool()],
        store=store,
        name="manager",
    )
    checker = Agent(ScriptedModel(["checked"]), store=store, name="checker")
    lead = Agent(
        ScriptedModel(
            [ToolCall("checker", {"task": "check"}), ToolCall("manager", {"task": "go"}), "done"]
        ),
        tools=[checker.as_tool(), manager.as_tool()],
        store=store,
        name="lead",
    )
    try:
        await lead.run("the task")
        return {r.agent: r.run_id for r in await store.list_runs()}
    finally:
        await store.close()


def _sql(url: str, statement: str, *args: Any) -> None:
    """Run one statement on the journal's tables as someone with the file or the
    database would ({events} and {runs} name the tables, ? the arguments)."""
    store = open_store(url)
    if isinstance(store, PostgresStore):
        import psycopg

        tables = {"events": f"{store.schema}.events", "runs": f"{store.schema}.runs"}
        with psycopg.connect(store.dsn) as pg:
            pg.execute(statement.format(**tables).replace("?", "%s"), args)  # type: ignore[arg-type]
    else:
        import sqlite3

        conn = sqlite3.connect(url)
        conn.execute(statement.format(events="events", runs="runs"), args)
        conn.commit()
        conn.close()
    asyncio.run(store.close())


def _explode(url: str, run_id: str, seq: int) -> None:
    """Make one record of a run name an event type no tether knows."""
    _sql(
        url,
        "UPDATE {events} SET data = replace(data, '\"type\":\"' || type || '\"', "
        '\'"type":"exploded"\') WHERE run_id = ? AND seq = ?',
        run_id,
        seq,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def family(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A journal holding a lead, its two sub-runs and the worker two levels down."""
    if request.param == "sqlite":
        url = str(tmp_path / "journal.db")
        yield url, asyncio.run(_make_family(url))
        return
    why = _postgres_reachable()
    if why is not None:
        pytest.skip(f"PostgreSQL tests need a server: {why}")
    schema = f"family_{uuid.uuid4().hex[:8]}"
    url = f"{PG_DSN}?tether_schema={schema}"
    try:
        yield url, asyncio.run(_make_family(url))
    finally:
        asyncio.run(PostgresStore(PG_DSN, schema=schema).drop())


def _call(tree: dict[str, Any], name: str) -> dict[str, Any]:
    """The tool call ``name`` of a run's trace."""
    return next(c for s in tree["steps"] for c in s["tool_calls"] if c["name"] == name)


def test_trace_of_a_parent_shows_a_sub_run_with_an_unreadable_record_in_place(
    family: tuple[str, dict[str, str]],
) -> None:
    url, ids = family
    _explode(url, ids["checker"], 2)
    out = runner.invoke(app, ["trace", ids["lead"], "--store", url], env=WIDE)
    assert out.exit_code == 1
    assert "Traceback" not in out.output
    assert out.stdout.startswith("why it ended: completed")
    lines = out.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "✓ checker ok" in line)
    assert (
        f"run {ids['checker']} · agent 'checker' · completed · journal unreadable" in lines[at + 1]
    )
    assert (
        "✗ unreadable record at seq 2 (model_responded): an event record has an unknown type "
        "'exploded'" in lines[at + 2]
    )
    assert "restore the journal from a backup" in lines[at + 3]
    assert "→ text: the worker's answer" in out.stdout  # the rest is all there
    assert "→ text: the manager's answer" in out.stdout
    assert out.stderr == (
        f"error: the trace is incomplete: event 2 (model_responded) of sub-run "
        f"{ids['checker']} cannot be read: an event record has an unknown type 'exploded'; "
        "`tether doctor` lists every unreadable record; restore the journal from a backup "
        "to read this run (the rest of the trace is shown)\n"
    )
    data = runner.invoke(app, ["trace", ids["lead"], "--store", url, "--json"])
    assert data.exit_code == 1
    tree = json.loads(data.stdout)
    [bad] = _call(tree, "checker")["sub_runs"]
    assert set(bad) == RUN_KEYS
    assert (bad["run_id"], bad["agent"], bad["status"]) == (ids["checker"], "checker", "completed")
    assert (bad["reason"]["kind"], bad["reason"]["detail"]) == ("journal_unreadable", "seq 2")
    [record] = bad["unreadable"]
    assert set(record) == UNREADABLE_KEYS
    assert (record["seq"], record["type"]) == (2, "model_responded")
    assert (bad["diagnosis"], bad["steps"], bad["prompt"]) == (None, [], "check")
    assert (bad["usage"]["model_calls"], bad["output"]) == (1, "checked")  # as the lead saw
    [manager] = _call(tree, "manager")["sub_runs"]
    assert manager["unreadable"] == []
    assert manager["diagnosis"]["category"] == "completed"
    [worker] = _call(manager, "worker")["sub_runs"]
    assert worker["steps"][0]["model_calls"][0]["text"] == "the worker's answer"


def test_a_damaged_sub_run_two_levels_down_is_marked_under_its_parent(
    family: tuple[str, dict[str, str]],
) -> None:
    url, ids = family
    _explode(url, ids["worker"], 3)
    out = runner.invoke(app, ["trace", ids["lead"], "--store", url, "--json"])
    assert out.exit_code == 1
    tree = json.loads(out.stdout)
    [checker] = _call(tree, "checker")["sub_runs"]
    assert checker["status"] == "completed"
    assert checker["unreadable"] == []
    [manager] = _call(tree, "manager")["sub_runs"]
    assert manager["reason"]["kind"] == "final_answer"
    [worker] = _call(manager, "worker")["sub_runs"]
    assert worker["reason"]["kind"] == "journal_unreadable"
    assert [(r["seq"], r["type"]) for r in worker["unreadable"]] == [(3, "run_finished")]
    assert out.stderr.startswith(
        f"error: the trace is incomplete: event 3 (run_finished) of sub-run {ids['worker']}"
    )
    assert _trace(url, ids["checker"])  # a run beside the damage traces as before


def test_a_sub_run_whose_start_is_unreadable_keeps_its_own_sub_runs(tmp_path: Path) -> None:
    url = str(tmp_path / "journal.db")
    ids = asyncio.run(_make_family(url))
    _explode(url, ids["manager"], 0)
    out = runner.invoke(app, ["trace", ids["lead"], "--store", url, "--json"])
    assert out.exit_code == 1
    [manager] = _call(json.loads(out.stdout), "manager")["sub_runs"]
    assert (manager["agent"], manager["prompt"], manager["status"]) == (
        "manager",
        "go",
        "completed",
    )
    assert manager["model"] is None  # only its run_started said it
    assert [(r["seq"], r["type"]) for r in manager["unreadable"]] == [(0, "run_started")]
    [worker] = manager["sub_runs"]  # what reads under it is still shown
    assert (worker["run_id"], worker["status"]) == (ids["worker"], "completed")
    assert worker["steps"][0]["model_calls"][0]["text"] == "the worker's answer"
    text = runner.invoke(app, ["trace", ids["lead"], "--store", url], env=WIDE)
    assert "✗ unreadable record at seq 0 (run_started)" in text.stdout
    assert "→ text: the worker's answer" in text.stdout


def test_a_sub_run_gone_from_the_journal_is_marked_in_place(tmp_path: Path) -> None:
    url = str(tmp_path / "journal.db")
    ids = asyncio.run(_make_family(url))
    for table in ("events", "runs"):  # as if pruned, or journaled to another store
        _sql(url, f"DELETE FROM {{{table}}} WHERE run_id = ?", ids["checker"])
    data = _trace_json(url, ids["lead"])  # the journal is sound: exit 0
    [gone] = _call(data, "checker")["sub_runs"]
    assert set(gone) == RUN_KEYS
    assert (gone["run_id"], gone["agent"], gone["status"]) == (
        ids["checker"],
        "checker",
        "completed",
    )
    assert gone["reason"]["kind"] == "not_in_journal"
    assert "sub_run_ended at seq" in gone["reason"]["message"]
    assert (gone["unreadable"], gone["steps"], gone["output"]) == ([], [], "checked")
    text = _trace(url, ids["lead"])
    assert f"run {ids['checker']} · agent 'checker' · completed · not in journal" in text
    assert f"Run {ids['checker']} is not in this journal: it was pruned" in text


def test_trace_finds_the_sub_runs_of_a_run_in_a_busy_journal(tmp_path: Path) -> None:
    url = str(tmp_path / "journal.db")
    ids = asyncio.run(_make_family(url))
    later = 4_000_000_000.0  # a thousand runs of other users since
    for i in range(1000):
        _sql(
            url,
            "INSERT INTO {runs} (run_id, agent, status, prompt, created_at, updated_at) "
            "VALUES (?, 'other', 'completed', 'x', ?, ?)",
            f"other{i}",
            later + i,
            later + i,
        )
    data = _trace_json(url, ids["lead"])
    [checker] = _call(data, "checker")["sub_runs"]
    [manager] = _call(data, "manager")["sub_runs"]
    assert (checker["run_id"], checker["diagnosis"]["category"]) == (ids["checker"], "completed")
    assert _call(manager, "worker")["sub_runs"][0]["run_id"] == ids["worker"]


def test_a_damaged_sub_run_with_markup_in_its_record_is_shown_as_text(tmp_path: Path) -> None:
    url = str(tmp_path / "journal.db")
    ids = asyncio.run(_make_family(url))
    _sql(
        url,
        "UPDATE {events} SET type = '[/bold]', data = 'not [red]json[/]' "
        "WHERE run_id = ? AND seq = 2",
        ids["checker"],
    )
    out = runner.invoke(app, ["trace", ids["lead"], "--store", url], env=WIDE)
    assert out.exit_code == 1
    assert "Traceback" not in out.output
    assert "✗ unreadable record at seq 2 ([/bold]): it is not valid JSON" in out.stdout
    assert "event 2 ([/bold]) of sub-run" in out.stderr


def test_a_sub_run_with_a_row_but_no_events_is_marked_damaged(tmp_path: Path) -> None:
    url = str(tmp_path / "journal.db")
    ids = asyncio.run(_make_family(url))
    _sql(url, "DELETE FROM {events} WHERE run_id = ?", ids["manager"])  # what doctor calls empty
    out = runner.invoke(app, ["trace", ids["lead"], "--store", url, "--json"])
    assert out.exit_code == 1
    [manager] = _call(json.loads(out.stdout), "manager")["sub_runs"]
    assert (manager["agent"], manager["status"]) == ("manager", "completed")  # its row
    assert manager["reason"]["kind"] == "journal_unreadable"
    assert f"no run {ids['manager']!r} in the journal" in manager["reason"]["message"]
    assert [w["run_id"] for w in manager["sub_runs"]] == [ids["worker"]]
    assert out.stderr.startswith(f"error: the trace is incomplete: sub-run {ids['manager']}: ")
