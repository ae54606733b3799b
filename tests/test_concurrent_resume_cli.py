"""Two ``tether resume RUN --approve c1`` processes started together: the refund runs
once, and the journal says what happened (both stores)."""

from __future__ import annotations

import json
import os
import textwrap
import uuid
from pathlib import Path

import pytest

from conftest import PG_DSN, _postgres_reachable
from helpers import tether_cli

PAIRS = int(os.environ.get("TETHER_RESUME_PROCESS_PAIRS", "10"))

AGENT = """
import os
from tether import Agent, ModelResponse, RunContext, Tool, ToolCall, ToolResultMessage
from tether.testing import FunctionModel

LEDGER = os.environ["REFUND_LEDGER"]


def refund(ctx: RunContext[None], order: str) -> str:
    '''Refund an order (not idempotent).'''
    fd = os.open(LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (ctx.idempotency_key + "\\n").encode())
    os.close(fd)
    return f"refunded {order}"


def policy(messages, params):
    results = [m for m in messages if isinstance(m, ToolResultMessage)]
    if results:
        return ModelResponse(text=results[-1].content)
    return ModelResponse(tool_calls=[ToolCall("refund", {"order": "A-17"}, "c1")])


agent = Agent(FunctionModel(policy), tools=[Tool(refund, requires_approval=True)], name="refunds")
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_two_resume_processes_refund_once(kind: str, tmp_path: Path) -> None:
    if kind == "postgres":
        why = _postgres_reachable()
        if why is not None:
            pytest.skip(f"PostgreSQL tests need a server: {why}")
        schema = f"cli_{uuid.uuid4().hex[:8]}"
        store = f"{PG_DSN}?options=-csearch_path%3D{schema}"
        import asyncio

        from tether.journal import PostgresStore

        asyncio.run(PostgresStore(PG_DSN, schema=schema).close())
    else:
        store = str(tmp_path / "j.db")
    (tmp_path / "refunds.py").write_text(textwrap.dedent(AGENT))
    ledger = tmp_path / "ledger"
    env = {**os.environ, "REFUND_LEDGER": str(ledger), "PYTHONPATH": str(tmp_path)}
    base = ["--agent", "refunds:agent", "--store", store]
    try:
        for _ in range(PAIRS):
            started = tether_cli(["run", "refund A-17", *base, "--json"], tmp_path, env)
            out, err = started.communicate(timeout=60)
            run_id = json.loads(out)["run_id"]
            pair = [
                tether_cli(["resume", run_id, "--approve", "c1", *base, "--json"], tmp_path, env)
                for _ in range(2)
            ]
            codes = []
            for proc in pair:
                out, err = proc.communicate(timeout=60)
                codes.append(proc.returncode)
                assert "Traceback" not in err, err
            assert 0 in codes, codes  # one went on; the other lost the lease (2) or saw it done (0)
            assert set(codes) <= {0, 2}, codes
            lines = [line for line in ledger.read_text().splitlines() if run_id in line]
            assert lines == [f"{run_id}:c1"], lines
    finally:
        if kind == "postgres":
            import asyncio

            from tether.journal import PostgresStore

            asyncio.run(PostgresStore(PG_DSN, schema=schema).drop())


KILLED_AGENT = """
import os, time
from tether import Agent, ModelResponse, RunContext, Tool, ToolCall, ToolResultMessage
from tether.testing import FunctionModel

LEDGER = os.environ["REFUND_LEDGER"]
ENTERED = os.environ["REFUND_ENTERED"]
RELEASE = os.environ["REFUND_RELEASE"]


def refund(ctx: RunContext[None], order: str) -> str:
    '''Refund an order (not idempotent; reconciled from the ledger after a crash).'''
    open(ENTERED, "a").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(RELEASE) and time.monotonic() < deadline:
        time.sleep(0.01)  # held inside the tool until the test's second process has tried
    fd = os.open(LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (ctx.idempotency_key + "\\n").encode())
    os.close(fd)
    time.sleep(0.3)
    return f"refunded {order}"


def refunded(args, key):
    with open(LEDGER) if os.path.exists(LEDGER) else open(os.devnull) as f:
        if key in f.read().split():
            return f"refunded {args['order']}"
    raise LookupError(key)


def policy(messages, params):
    results = [m for m in messages if isinstance(m, ToolResultMessage)]
    if results:
        return ModelResponse(text=results[-1].content)
    return ModelResponse(tool_calls=[ToolCall("refund", {"order": "A-17"}, "c1")])


tool = Tool(refund, requires_approval=True, reconcile=refunded)
agent = Agent(FunctionModel(policy), tools=[tool], name="refunds", lease_ttl=1.0)
"""

KILL_ROUNDS = int(os.environ.get("TETHER_RESUME_KILL_ROUNDS", "10"))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_second_process_during_the_tool_then_a_kill_refunds_once(
    kind: str, tmp_path: Path
) -> None:
    """Process A resumes with an approval and is inside the refund; process B resumes at
    that moment and must change nothing; A is then killed at a random point; resumes go
    on until the run completes. The ledger holds the refund exactly once, every time."""
    import random
    import signal
    import time

    if kind == "postgres":
        why = _postgres_reachable()
        if why is not None:
            pytest.skip(f"PostgreSQL tests need a server: {why}")
        schema = f"kill_{uuid.uuid4().hex[:8]}"
        store = f"{PG_DSN}?tether_schema={schema}"
    else:
        store = str(tmp_path / "j.db")
    (tmp_path / "killed_refunds.py").write_text(textwrap.dedent(KILLED_AGENT))
    ledger, entered = tmp_path / "ledger", tmp_path / "entered"
    release = tmp_path / "release"
    env = {
        **os.environ,
        "REFUND_LEDGER": str(ledger),
        "REFUND_ENTERED": str(entered),
        "REFUND_RELEASE": str(release),
        "PYTHONPATH": str(tmp_path),
    }
    base = ["--agent", "killed_refunds:agent", "--store", store]
    rng = random.Random(20261204)
    try:
        for _ in range(KILL_ROUNDS):
            entered.unlink(missing_ok=True)
            release.unlink(missing_ok=True)
            out, _err = tether_cli(
                ["run", "refund A-17", *base, "--json"], tmp_path, env
            ).communicate(timeout=60)
            run_id = json.loads(out)["run_id"]
            resume = ["resume", run_id, "--approve", "c1", *base]
            first = tether_cli(resume, tmp_path, env)
            deadline = time.monotonic() + 30
            while not entered.exists() and first.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert entered.exists(), "the first process never reached the tool"
            second = tether_cli(resume, tmp_path, env)  # while the first is inside the refund
            _out, err = second.communicate(timeout=60)
            assert second.returncode == 2, err
            assert "is being executed by another process" in err, err
            release.touch()  # the first process goes on with the refund
            time.sleep(rng.uniform(0.0, 0.7))  # kill anywhere: before, in or after the effect
            first.send_signal(signal.SIGKILL)
            first.wait()
            for _attempt in range(40):  # go on until the run is done
                done = tether_cli(resume, tmp_path, env)
                _out, err = done.communicate(timeout=60)
                assert "Traceback" not in err, err
                if done.returncode == 0:
                    break
                time.sleep(0.3)  # the killed process's lease expires
            else:
                raise AssertionError("the run never completed")
            lines = [line for line in ledger.read_text().splitlines() if run_id in line]
            assert lines == [f"{run_id}:c1"], lines
    finally:
        if kind == "postgres":
            import asyncio

            from tether.journal import PostgresStore

            asyncio.run(PostgresStore(PG_DSN, schema=schema).drop())


CANCEL_ROUNDS = int(os.environ.get("TETHER_CANCEL_RACE_ROUNDS", "8"))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_cancel_racing_a_resume_and_a_kill_never_refunds_twice(kind: str, tmp_path: Path) -> None:
    """A resume with the approval and a cancel start at the same moment from two
    processes; the resumer is then killed at a random point; resumes and cancels go on
    until the run has ended. The refund is in the ledger at most once, and once exactly
    when the run completed."""
    import asyncio
    import random
    import signal
    import time

    from tether.journal import open_store

    if kind == "postgres":
        why = _postgres_reachable()
        if why is not None:
            pytest.skip(f"PostgreSQL tests need a server: {why}")
        schema = f"race_{uuid.uuid4().hex[:8]}"
        store = f"{PG_DSN}?tether_schema={schema}"
    else:
        store = str(tmp_path / "j.db")
    (tmp_path / "killed_refunds.py").write_text(textwrap.dedent(KILLED_AGENT))
    ledger, release = tmp_path / "ledger", tmp_path / "release"
    release.touch()  # the tool does not wait: the race is between the processes
    env = {
        **os.environ,
        "REFUND_LEDGER": str(ledger),
        "REFUND_ENTERED": str(tmp_path / "entered"),
        "REFUND_RELEASE": str(release),
        "PYTHONPATH": str(tmp_path),
    }
    base = ["--agent", "killed_refunds:agent", "--store", store]
    rng = random.Random(4122026)

    async def status(run_id: str) -> str:
        journal = open_store(store)
        try:
            events = await journal.load(run_id)
        finally:
            await journal.close()
        last = events[-1]
        return f"{last.status}:{last.reason.kind}" if last.type == "run_finished" else "open"

    try:
        for _ in range(CANCEL_ROUNDS):
            out, _err = tether_cli(
                ["run", "refund A-17", *base, "--json"], tmp_path, env
            ).communicate(timeout=60)
            run_id = json.loads(out)["run_id"]
            resumer = tether_cli(["resume", run_id, "--approve", "c1", *base], tmp_path, env)
            canceller = tether_cli(["cancel", run_id, "--store", store], tmp_path, env)
            time.sleep(rng.uniform(0.0, 0.8))
            resumer.send_signal(signal.SIGKILL)
            resumer.wait()
            _out, err = canceller.communicate(timeout=60)
            assert "Traceback" not in err, err
            for _attempt in range(60):  # until the run has ended one way or the other
                ended = asyncio.run(status(run_id))
                if ended not in ("open", "interrupted:approval_required"):
                    break
                more = tether_cli(["cancel", run_id, "--store", store], tmp_path, env)
                _out, err = more.communicate(timeout=60)
                assert "Traceback" not in err, err
                time.sleep(0.3)  # the killed resumer's lease expires
            else:
                raise AssertionError(f"run {run_id} never ended")
            done = ledger.read_text().splitlines() if ledger.exists() else []
            refunds = [line for line in done if run_id in line]
            assert len(refunds) <= 1, refunds
            if ended.startswith("completed"):
                assert refunds == [f"{run_id}:c1"]
            else:
                assert ended == "interrupted:cancelled", ended
    finally:
        if kind == "postgres":
            from tether.journal import PostgresStore

            asyncio.run(PostgresStore(PG_DSN, schema=schema).drop())
