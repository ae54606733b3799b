"""Bounded storage: bytes of tether's run journal against the number of steps.

One run of ``--steps`` steps (10,000 by default). A step is one model turn that
asks for one tool call with small arguments, and the tool's result (about 100
bytes); the fake model keeps calling until the last step, then answers. Every
``--every`` steps (250) the model function, before it answers, asks the store for
its bytes on disk (:meth:`JournalStore.size_bytes`; on SQLite that moves the WAL
into the database file first, so the number is the database as it would be read
after a crash) and counts the events and their JSON text with a second
connection. At that moment every event up to the tool result of the step just
done is in the store (tether writes each node's events before it moves on).

Variants (``--variants``):

* ``sqlite``: :class:`SQLiteStore` in a temporary folder.
* ``postgres``: :class:`PostgresStore` at ``$TETHER_BENCH_PG`` (default
  ``postgresql://127.0.0.1:5432/test``) in a schema of its own, dropped afterwards;
  skipped with a message when psycopg is not importable or the server is not there.
* ``sqlite-20k``: SQLite, every tool result 20,000 characters and identical, so
  each is longer than ``BLOB_THRESHOLD`` and stored once as a blob.

    .venv/bin/python bench/bench_storage.py --out bench/results/storage-tether.jsonl

The table goes to stdout, one JSON object per measurement (and one per variant
with ``"summary": true``) to ``--out``. ``bench/bench_storage_langgraph.py`` runs
the same workload on LangGraph; ``bench/plot_storage.py`` draws both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from tether import (
    Agent,
    Budget,
    LoopPolicy,
    Message,
    ModelResponse,
    TokenUsage,
    Tool,
    ToolCall,
    ToolResultMessage,
)
from tether.journal import BLOB_THRESHOLD, JournalStore, PostgresStore, SQLiteStore
from tether.models import ModelParams
from tether.testing import FunctionModel

PG_DSN = os.environ.get("TETHER_BENCH_PG", "postgresql://127.0.0.1:5432/test")
PROMPT = "Look up every item, one at a time, then say you are done."
SMALL_RESULT_CHARS = 100
BIG_RESULT_CHARS = 20_000
USAGE = TokenUsage(10, 5)  # fixed, so the fake does not scan the history every turn
VARIANTS = ("sqlite", "postgres", "sqlite-20k")


# The workload. bench_storage_langgraph.py defines the same tool, arguments and results.
def call_args(i: int) -> dict[str, Any]:
    """The arguments of step ``i``'s call: small, and different at every step."""
    return {"i": i, "key": f"k{i:05d}"}


def small_result(i: int, key: str) -> str:
    """A 100-character result that names its step."""
    head = f"item {i} ({key}): status=ok; "
    return (head + "abcdefghijklmnopqrstuvwxyz" * 4)[:SMALL_RESULT_CHARS]


BIG_RESULT = ("The same long document, returned at every step. " * 500)[:BIG_RESULT_CHARS]


async def lookup(i: int, key: str) -> str:
    """Look up one item by its number and key."""
    return small_result(i, key)


async def lookup_big(i: int, key: str) -> str:
    """Look up one item by its number and key (returns a long document)."""
    return BIG_RESULT


@dataclass
class Probe:
    """Measures a store from inside the run."""

    store: JournalStore
    count: Callable[[], Awaitable[tuple[int, int, int, int]]]
    rows: list[dict[str, Any]] = field(default_factory=list)
    spent: float = 0.0  # seconds spent measuring, left out of the run's time

    async def measure(self, steps: int) -> None:
        t = time.perf_counter()
        size = await self.store.size_bytes()
        events, event_bytes, blobs, blob_bytes = await self.count()
        self.spent += time.perf_counter() - t
        self.rows.append(
            {
                "steps": steps,
                "events": events,
                "bytes": size,
                "event_json_bytes": event_bytes,
                "blobs": blobs,
                "blob_bytes": blob_bytes,
            }
        )


def sqlite_counter(path: Path) -> Callable[[], Awaitable[tuple[int, int, int, int]]]:
    """Counts events and blobs with a read-only connection of its own."""

    async def count() -> tuple[int, int, int, int]:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            e = conn.execute(
                "SELECT count(*), coalesce(sum(length(CAST(data AS BLOB))), 0) FROM events"
            ).fetchone()
            b = conn.execute(
                "SELECT count(*), coalesce(sum(length(CAST(data AS BLOB))), 0) FROM blobs"
            ).fetchone()
        finally:
            conn.close()
        return e[0], e[1], b[0], b[1]

    return count


def postgres_counter(schema: str) -> Callable[[], Awaitable[tuple[int, int, int, int]]]:
    import psycopg

    async def count() -> tuple[int, int, int, int]:
        async with await psycopg.AsyncConnection.connect(PG_DSN) as conn:
            cur = await conn.execute(
                f"SELECT count(*), coalesce(sum(octet_length(data)), 0) FROM {schema}.events"
            )
            e = await cur.fetchone()
            cur = await conn.execute(
                f"SELECT count(*), coalesce(sum(octet_length(data)), 0) FROM {schema}.blobs"
            )
            b = await cur.fetchone()
        assert e is not None
        assert b is not None
        return e[0], e[1], b[0], b[1]

    return count


def make_agent(store: JournalStore, probe: Probe, steps: int, every: int, big: bool) -> Agent:
    turn = 0

    async def model(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        nonlocal turn
        done, turn = turn, turn + 1  # steps whose tool result is in the history
        if done:
            last = messages[-1]
            assert isinstance(last, ToolResultMessage), last
            assert big or last.content.startswith(f"item {done} "), last.content[:40]
        if done % every == 0 or done == steps:
            await probe.measure(done)
        if done >= steps:
            return ModelResponse(text=f"Done: looked up {done} items.", usage=USAGE)
        return ModelResponse(tool_calls=[ToolCall("lookup", call_args(done + 1))], usage=USAGE)

    return Agent(
        FunctionModel(model, name="fake"),
        tools=[Tool(lookup_big, name="lookup") if big else lookup],
        store=store,
        budget=Budget(max_steps=2 * steps + 10),  # well under the 80 % warning: no note
        loop_policy=LoopPolicy(enabled=False),  # the 20 kB results are identical on purpose
        max_result_chars=max(BIG_RESULT_CHARS, SMALL_RESULT_CHARS) * 2,
        name="storage-bench",
    )


def postgres_unavailable() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not importable (pip install 'tether[postgres]')"
    try:
        psycopg.connect(PG_DSN, connect_timeout=3).close()
    except Exception as exc:
        return f"no PostgreSQL at {PG_DSN}: {type(exc).__name__}: {exc}"
    return None


async def run_variant(variant: str, steps: int, every: int) -> dict[str, Any]:
    """One run; returns the summary with the measurement rows under ``"rows"``."""
    big = variant.endswith("-20k")
    with contextlib.ExitStack() as stack:
        store: JournalStore
        if variant.startswith("sqlite"):
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tether-st-")))
            path = folder / "journal.db"
            store = SQLiteStore(path)
            probe = Probe(store, sqlite_counter(path))
        else:
            schema = f"bench_storage_{uuid.uuid4().hex[:10]}"
            pg = PostgresStore(PG_DSN, schema=schema)
            store = pg
            probe = Probe(store, postgres_counter(schema))
        try:
            agent = make_agent(store, probe, steps, every, big)
            t = time.perf_counter()
            result = await agent.run(PROMPT)
            elapsed = time.perf_counter() - t - probe.spent
            assert result.status == "completed", result.reason
            assert result.output == f"Done: looked up {steps} items.", result.output
            final = await store.size_bytes()
            loaded = await store.load(result.run_id)  # the journal reads back whole
            assert len(loaded) == len(result.events) == 4 * steps + 4, len(loaded)
        finally:
            if isinstance(store, PostgresStore):
                await store.drop()
            await store.close()
    return {
        "variant": variant,
        "store": "sqlite" if variant.startswith("sqlite") else "postgresql",
        "result_chars": BIG_RESULT_CHARS if big else SMALL_RESULT_CHARS,
        "steps": steps,
        "events": len(result.events),
        "final_bytes": final,
        "run_seconds": round(elapsed, 2),
        "rows": probe.rows,
    }


def derive(rows: list[dict[str, Any]]) -> None:
    """Adds bytes per step: overall (above the empty store) and over the last interval."""
    base = rows[0]["bytes"]
    prev = rows[0]
    for r in rows:
        n = r["steps"]
        r["bytes_per_step"] = round((r["bytes"] - base) / n, 1) if n else None
        r["json_bytes_per_step"] = (
            round((r["event_json_bytes"] + r["blob_bytes"]) / n, 1) if n else None
        )
        dn = n - prev["steps"]
        r["marginal_bytes_per_step"] = round((r["bytes"] - prev["bytes"]) / dn, 1) if dn else None
        prev = r


def print_table(summary: dict[str, Any], out: Any) -> None:
    print(
        f"\ntether {summary['variant']}: {summary['steps']} steps, "
        f"{summary['result_chars']}-character results, {summary['events']} events, "
        f"{summary['final_bytes']:,} bytes at the end, run {summary['run_seconds']} s",
        file=out,
    )
    head = ("steps", "events", "bytes", "B/step", "marginal B/step", "JSON B/step", "blobs")
    print("{:>7} {:>7} {:>13} {:>8} {:>16} {:>12} {:>6}".format(*head), file=out)
    for r in summary["rows"]:
        print(
            "{:>7} {:>7} {:>13,} {:>8} {:>16} {:>12} {:>6}".format(
                r["steps"],
                r["events"],
                r["bytes"],
                "-" if r["bytes_per_step"] is None else f"{r['bytes_per_step']:.0f}",
                "-"
                if r["marginal_bytes_per_step"] is None
                else f"{r['marginal_bytes_per_step']:.0f}",
                "-" if r["json_bytes_per_step"] is None else f"{r['json_bytes_per_step']:.0f}",
                r["blobs"],
            ),
            file=out,
        )


def meta() -> dict[str, Any]:
    try:
        import psycopg

        pg_version: str | None = psycopg.__version__
    except ImportError:
        pg_version = None
    return {
        "meta": True,
        "system": "tether",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "pydantic": pydantic.VERSION,
        "psycopg": pg_version,
        "blob_threshold": BLOB_THRESHOLD,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=250, help="measure every N steps")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=", ".join(VARIANTS))
    ap.add_argument("--out", type=Path, help="JSON lines file (overwritten)")
    args = ap.parse_args()
    lines: list[dict[str, Any]] = [meta()]
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            ap.error(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
        if variant == "postgres":
            why = postgres_unavailable()
            if why is not None:
                print(f"\ntether postgres: skipped: {why}")
                lines.append({"system": "tether", "variant": variant, "skipped": why})
                continue
        summary = await run_variant(variant, args.steps, args.every)
        derive(summary["rows"])
        print_table(summary, sys.stdout)
        rows = summary.pop("rows")
        common = {"system": "tether", "variant": variant, "store": summary["store"]}
        lines += [{**common, "result_chars": summary["result_chars"], **r} for r in rows]
        lines.append({"system": "tether", "summary": True, **summary})
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(json.dumps(x) + "\n" for x in lines))
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    asyncio.run(main())
