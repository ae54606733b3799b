"""The crash test: SIGKILL a running agent at random moments, resume it, repeat.

Every finished tool effect must be in the side-effect ledger exactly once (an
idempotent call in flight at a kill may appear twice, with the same idempotency
key), and the final transcript must equal that of a run never killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from conftest import PG_DSN, _postgres_reachable
from crash_worker import (
    GUIDED_PROMPT,
    MEMORIES,
    MEMORY_PROMPT,
    NEXT_PROMPT,
    PROMPT,
    TREE_PROMPT,
    build_agent,
    ledger_lines,
    memory_store,
    open_store,
    transcript,
)
from tether import ToolCallFinished
from tether.journal import SQLiteStore

WORKER = str(Path(__file__).with_name("crash_worker.py"))
KILLS = int(os.environ.get("TETHER_CRASH_KILLS", "120"))
GUIDED_KILLS = int(os.environ.get("TETHER_CRASH_KILLS_GUIDED", "40"))
MEMORY_KILLS = int(os.environ.get("TETHER_CRASH_KILLS_MEMORY", "40"))
TREE_KILLS = int(os.environ.get("TETHER_CRASH_KILLS_TREE", "40"))


def _reference(tmp_path: Path, kind: str = "tool_loop") -> list[str]:
    async def go() -> list[str]:
        store = SQLiteStore(tmp_path / f"reference-{kind}.db")
        agent = build_agent(store, str(tmp_path / f"reference-{kind}.ledger"), kind)
        prompts = {"guided": GUIDED_PROMPT, "memory": MEMORY_PROMPT, "tree": TREE_PROMPT}
        prompts["guided_next"] = NEXT_PROMPT
        result = await agent.run(prompts.get(kind, PROMPT))
        await store.close()
        if agent.memory is not None:
            await agent.memory.store.close()
        assert result.status == "completed"
        return transcript(result.messages)

    return asyncio.run(go())


def _child(
    spec: str, run_id: str, ledger: str, out: str, kind: str = "tool_loop"
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    return subprocess.Popen([sys.executable, WORKER, spec, run_id, ledger, out, kind], env=env)


def _baseline(spec: str, tmp_path: Path, kind: str = "tool_loop") -> float:
    """Seconds one child takes to do a whole run, start-up included."""
    started = time.perf_counter()
    ledger, out = str(tmp_path / f"b-{kind}.ledger"), str(tmp_path / f"b-{kind}.json")
    code = _child(spec, f"baseline-{kind}", ledger, out, kind).wait()
    assert code == 0
    return time.perf_counter() - started


def _run_until_done(
    spec: str,
    run_id: str,
    ledger: str,
    out: str,
    *,
    rng: random.Random,
    span: float,
    kind: str = "tool_loop",
) -> int:
    """Start or resume the run in child processes, killing them, until one finishes."""
    kills = 0
    for _ in range(200):
        proc = _child(spec, run_id, ledger, out, kind)
        # Kill anywhere from late start-up to the end of a whole run; after eight kills
        # in a row (a loaded machine makes runs slower than measured) let one finish.
        timeout = rng.uniform(0.4 * span, 1.05 * span) if kills < 8 else 120.0
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        if code == 0:
            return kills
        assert code == 4, f"the worker failed with exit code {code}"
        time.sleep(0.35)  # the killed process's lease expires
    raise AssertionError("the run never finished")


def _check_ledger(ledger: str, store_spec: str, run_id: str, calls: int = 7) -> None:
    lines = ledger_lines(ledger)
    by_key: dict[str, set[str]] = {}
    for line in lines:
        by_key.setdefault(line.rsplit(" ", 1)[1], set()).add(line)
    counts = Counter(line.rsplit(" ", 1)[1] for line in lines)
    for variants in by_key.values():
        assert len(variants) == 1, f"one key, two different effects: {variants}"
    for line in lines:
        if line.startswith("ship "):
            assert counts[line.rsplit(" ", 1)[1]] == 1, f"a shipment happened twice: {line}"

    async def finished() -> list[ToolCallFinished]:
        store = open_store(store_spec)
        events = await store.load(run_id)
        await store.close()
        return [e for e in events if isinstance(e, ToolCallFinished)]

    done = asyncio.run(finished())
    assert [e.outcome for e in done] == ["ok"] * calls
    for e in done:  # every finished effect is in the ledger
        if e.name in ("charge", "ship"):
            assert counts[f"{run_id}:{e.call_id}"] >= 1, e


def _journal(kind: str, tmp_path: Path, prefix: str, file: str) -> tuple[str, str]:
    """A fresh journal for one crash test: its PostgreSQL schema (dropped at the end) and
    the store's spec for the child processes."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    if kind == "postgres":
        why = _postgres_reachable()
        if why is not None:
            pytest.skip(f"PostgreSQL tests need a server: {why}")
        return schema, f"postgres:{PG_DSN}|{schema}"
    return schema, f"sqlite:{tmp_path / file}"


def _drop_schema(schema: str) -> None:
    from tether.journal import PostgresStore

    async def drop() -> None:
        store = PostgresStore(PG_DSN, schema=schema)
        await store.drop()
        await store.close()

    asyncio.run(drop())


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_many_kills_lose_nothing_and_do_nothing_twice(kind: str, tmp_path: Path) -> None:
    schema, spec = _journal(kind, tmp_path, "crash", "crash.db")
    reference = _reference(tmp_path)
    span = _baseline(spec, tmp_path)
    rng = random.Random(20261130)
    kills = runs = 0
    while kills < KILLS:
        run_id = f"crash-{runs:04d}"
        ledger, out = str(tmp_path / f"{run_id}.ledger"), str(tmp_path / f"{run_id}.json")
        kills += _run_until_done(spec, run_id, ledger, out, rng=rng, span=span)
        runs += 1
        final = json.loads(Path(out).read_text())
        assert final["status"] == "completed"
        assert final["transcript"] == reference
        _check_ledger(ledger, spec, run_id)
    print(
        f"{kind}: {kills} kills over {runs} runs (a whole run takes {span:.2f} s), every run "
        "completed with the same transcript and ledger checks"
    )
    if kind == "postgres":
        _drop_schema(schema)


@pytest.mark.slow
def test_two_processes_resuming_one_run_only_one_goes_on(tmp_path: Path) -> None:
    spec = f"sqlite:{tmp_path / 'lease.db'}"
    ledger, out_a, out_b = (str(tmp_path / n) for n in ("l", "a.json", "b.json"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "CRASH_STEP_DELAY": "0.2"}

    def start(out: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, WORKER, spec, "shared", ledger, out], env=env)

    first = start(out_a)
    deadline = time.monotonic() + 30
    while not Path(ledger).exists():  # the first process is inside the run, lease held
        assert time.monotonic() < deadline, "the first process never started its run"
        time.sleep(0.02)
    second = start(out_b)
    assert second.wait(timeout=60) == 4  # refused: RunLocked
    assert first.wait(timeout=60) == 0
    _check_ledger(ledger, spec, "shared")
    lines = ledger_lines(ledger)
    assert len(lines) == len(set(lines)) == 7  # every effect once: only one process ran it


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.parametrize(
    ("agent", "prefix", "calls"),
    [
        # One clause at a time, each with its own tool call.
        ("guided", "crashg", 3),
        # The second call is the orchestrator's required next step, killed anywhere in it.
        ("guided_next", "crashn", 2),
    ],
)
def test_a_guided_run_killed_anywhere_resumes_guided_and_ends_as_a_run_never_killed(
    kind: str, agent: str, prefix: str, calls: int, tmp_path: Path
) -> None:
    schema, spec = _journal(kind, tmp_path, prefix, f"{prefix}.db")
    reference = _reference(tmp_path, agent)
    assert sum(line.startswith("tool:") for line in reference) == calls
    span = _baseline(spec, tmp_path, agent)
    rng = random.Random(20261204)
    kills = runs = 0
    while kills < GUIDED_KILLS:
        run_id = f"{prefix}-{runs:04d}"
        ledger, out = str(tmp_path / f"{run_id}.ledger"), str(tmp_path / f"{run_id}.json")
        kills += _run_until_done(spec, run_id, ledger, out, rng=rng, span=span, kind=agent)
        runs += 1
        final = json.loads(Path(out).read_text())
        assert (final["status"], final["output"]) == ("completed", "charged postage 90")
        assert final["transcript"] == reference
        _check_ledger(ledger, spec, run_id, calls=calls)
    print(f"{agent} on {kind}: {kills} kills over {runs} runs, every run ended as the reference")
    if kind == "postgres":
        _drop_schema(schema)


def _ids_out(lines: list[str]) -> list[str]:
    """The transcript with memory ids (random per store) written as <id>."""
    return [re.sub(r"memory [0-9a-f]{32}", "memory <id>", line) for line in lines]


def _memories(ledger: str) -> list[str]:
    async def read() -> list[str]:
        store = memory_store(ledger)
        hits = await store.search("crash", "order book customer parcel", 20, mode="lexical")
        count = await store.count("crash")
        await store.close()
        assert count == len(hits), "a memory the search did not find"
        return sorted(h.memory.text for h in hits)

    return asyncio.run(read())


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_memory_writes_and_compactions_survive_kills_once_each(kind: str, tmp_path: Path) -> None:
    """Killed anywhere, resumed: every memory is written once (the remember calls'
    idempotency keys), and the compacted conversation ends as a run never killed."""
    schema, spec = _journal(kind, tmp_path, "crashm", "crash-memory.db")
    reference = _ids_out(_reference(tmp_path, "memory"))
    assert any("summary of" in line for line in reference[:1]), "the reference was compacted"
    span = _baseline(spec, tmp_path, "memory")
    rng = random.Random(20261205)
    kills = runs = 0
    while kills < MEMORY_KILLS:
        run_id = f"crashm-{runs:04d}"
        ledger, out = str(tmp_path / f"{run_id}.ledger"), str(tmp_path / f"{run_id}.json")
        kills += _run_until_done(spec, run_id, ledger, out, rng=rng, span=span, kind="memory")
        runs += 1
        final = json.loads(Path(out).read_text())
        assert final["status"] == "completed"
        assert _ids_out(final["transcript"]) == reference
        _check_ledger(ledger, spec, run_id, calls=7)
        assert _memories(ledger) == sorted(MEMORIES)
    print(f"memory on {kind}: {kills} kills over {runs} runs, every memory written once")
    if kind == "postgres":
        _drop_schema(schema)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_tree_of_agents_killed_anywhere_resumes_as_one(kind: str, tmp_path: Path) -> None:
    """A lead running two buyer agents at once, killed anywhere and resumed from the
    lead: a buyer that had finished is not run again, one in flight goes on; every
    effect once, and the lead's answer and usage as a run never killed."""
    schema, spec = _journal(kind, tmp_path, "crasht", "crash-tree.db")
    reference = _reference(tmp_path, "tree")
    assert "bought: book: charged book 500, shipped book | pen: " in reference[-1]
    span = _baseline(spec, tmp_path, "tree")
    rng = random.Random(20261206)
    kills = runs = 0
    while kills < TREE_KILLS:
        run_id = f"crasht-{runs:04d}"
        ledger, out = str(tmp_path / f"{run_id}.ledger"), str(tmp_path / f"{run_id}.json")
        kills += _run_until_done(spec, run_id, ledger, out, rng=rng, span=span, kind="tree")
        runs += 1
        final = json.loads(Path(out).read_text())
        assert final["status"] == "completed"
        assert final["transcript"] == reference
        # Model calls, steps, tool calls: the lead's 2, 2, 2 and each buyer's 3, 3, 2.
        assert final["usage"] == [8, 8, 6]
        lines = ledger_lines(ledger)
        ships = [line for line in lines if line.startswith("ship ")]
        assert sorted(line.split()[1] for line in ships) == ["book", "pen"]  # once each
        assert {line.split()[1] for line in lines if line.startswith("charge ")} == {"book", "pen"}
        assert len({line.split()[-1] for line in lines if line.startswith("charge ")}) == 2
        assert _tree_runs(spec, run_id) == 2  # one run per buyer, never a second
    print(f"tree on {kind}: {kills} kills over {runs} runs, every tree ended as the reference")
    if kind == "postgres":
        _drop_schema(schema)


def _tree_runs(spec: str, run_id: str) -> int:
    """How many sub-runs the lead ``run_id`` has in the store."""

    async def count() -> int:
        store = open_store(spec)
        runs = await store.list_runs(limit=10_000)
        await store.close()
        return sum(1 for r in runs if r.parent_run_id == run_id)

    return asyncio.run(count())
