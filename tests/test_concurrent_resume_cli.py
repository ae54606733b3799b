"""Two ``tether resume RUN --approve c1`` processes started together: the refund runs
once, and the journal says what happened (both stores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from conftest import PG_DSN, _postgres_reachable

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


def _tether(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tether", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


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
            started = _tether(["run", "refund A-17", *base, "--json"], tmp_path, env)
            out, err = started.communicate(timeout=60)
            run_id = json.loads(out)["run_id"]
            pair = [
                _tether(["resume", run_id, "--approve", "c1", *base, "--json"], tmp_path, env)
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
            out, _err = _tether(["run", "refund A-17", *base, "--json"], tmp_path, env).communicate(
                timeout=60
            )
            run_id = json.loads(out)["run_id"]
            resume = ["resume", run_id, "--approve", "c1", *base]
            first = _tether(resume, tmp_path, env)
            deadline = time.monotonic() + 30
            while not entered.exists() and first.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert entered.exists(), "the first process never reached the tool"
            second = _tether(resume, tmp_path, env)  # while the first is inside the refund
            _out, err = second.communicate(timeout=60)
            assert second.returncode == 2, err
            assert "is being executed by another process" in err, err
            release.touch()  # the first process goes on with the refund
            time.sleep(rng.uniform(0.0, 0.7))  # kill anywhere: before, in or after the effect
            first.send_signal(signal.SIGKILL)
            first.wait()
            for _attempt in range(40):  # go on until the run is done
                done = _tether(resume, tmp_path, env)
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
