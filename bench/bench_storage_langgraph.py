"""Bounded storage, LangGraph side: the workload of bench_storage.py on LangGraph's
prebuilt ``create_react_agent`` with its SQLite checkpointer.

Runs in the peer benchmark's LangGraph venv (see ../shared/bench-peers/README.md),
with ``langgraph-checkpoint-sqlite`` added to it:

    ~/.cache/bench-peers-venvs/langgraph/bin/pip install langgraph-checkpoint-sqlite
    ~/.cache/bench-peers-venvs/langgraph/bin/python bench/bench_storage_langgraph.py \\
        --out bench/results/storage-langgraph.jsonl

The workload is the same as tether's: one thread; each step is one model turn
that asks for one ``lookup(i, key)`` call with small arguments, and its result of
100 characters; the model asks again until the last step, then answers. The fake
chat model is a ``BaseChatModel`` whose ``bind_tools`` returns itself, like the
peers' benchmark; it reads the step from the last tool message. The graph is run
with ``durability="sync"``: each super-step's checkpoint is written before the
next one starts, which is what tether does with its journal.

Every ``--every`` steps the fake model, before it answers, moves the WAL into the
database (``PRAGMA wal_checkpoint(TRUNCATE)``, as tether's ``size_bytes`` does) and
takes the file's size, with the rows and bytes of the ``checkpoints`` and
``writes`` tables. A checkpoint holds the whole state, so the bytes grow with the
square of the steps; the run is therefore capped (``--max-steps``, ``--max-bytes``,
``--max-seconds``, whichever comes first): the model answers at the first mark
past a cap, and the output says which cap stopped it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.prebuilt import create_react_agent

warnings.filterwarnings("ignore", category=DeprecationWarning)  # create_react_agent moved

PROMPT = "Look up every item, one at a time, then say you are done."
SMALL_RESULT_CHARS = 100


# The workload: the same tool, arguments and results as bench_storage.py.
def call_args(i: int) -> dict[str, Any]:
    """The arguments of step ``i``'s call: small, and different at every step."""
    return {"i": i, "key": f"k{i:05d}"}


def small_result(i: int, key: str) -> str:
    """A 100-character result that names its step."""
    head = f"item {i} ({key}): status=ok; "
    return (head + "abcdefghijklmnopqrstuvwxyz" * 4)[:SMALL_RESULT_CHARS]


def lookup(i: int, key: str) -> str:
    """Look up one item by its number and key."""
    return small_result(i, key)


class Meter:
    """Measures the checkpoint database from inside the run, and decides when to stop."""

    def __init__(self, saver: SqliteSaver, path: Path, args: argparse.Namespace) -> None:
        self.saver = saver
        self.path = path
        self.steps = args.steps
        self.every = args.every
        self.max_steps = args.max_steps
        self.max_bytes = args.max_bytes
        self.max_seconds = args.max_seconds
        self.rows: list[dict[str, Any]] = []
        self.capped_by: str | None = None
        self.spent = 0.0
        self.started = time.perf_counter()

    def measure(self, steps: int) -> None:
        t = time.perf_counter()
        with self.saver.lock:
            conn = self.saver.conn
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            size = sum(
                os.path.getsize(f"{self.path}{suffix}")
                for suffix in ("", "-wal")
                if os.path.exists(f"{self.path}{suffix}")
            )
            cps, cp_bytes = conn.execute(
                "SELECT count(*), coalesce(sum(length(checkpoint) + length(metadata)), 0) "
                "FROM checkpoints"
            ).fetchone()
            writes, w_bytes, task_bytes = conn.execute(
                "SELECT count(*), coalesce(sum(length(value)), 0), "
                "coalesce(sum(CASE WHEN channel = '__pregel_tasks' THEN length(value) END), 0) "
                "FROM writes"
            ).fetchone()
        self.spent += time.perf_counter() - t
        self.rows.append(
            {
                "steps": steps,
                "bytes": size,
                "checkpoints": cps,
                "checkpoint_bytes": cp_bytes,
                "writes": writes,
                "write_bytes": w_bytes,
                "send_write_bytes": task_bytes,
                "seconds": round(self.elapsed(), 2),
            }
        )

    def elapsed(self) -> float:
        return time.perf_counter() - self.started - self.spent

    def stop_now(self, done: int) -> bool:
        """Called at every turn; measures at the marks; True when the run should end."""
        at_mark = done % self.every == 0
        if at_mark or done >= self.steps:
            self.measure(done)
        if done >= self.steps:
            return True
        if not at_mark or self.capped_by:
            return False
        if done >= self.max_steps:
            self.capped_by = f"max_steps={self.max_steps}"
        elif self.rows[-1]["bytes"] >= self.max_bytes:
            self.capped_by = f"max_bytes={self.max_bytes}"
        elif self.elapsed() >= self.max_seconds:
            self.capped_by = f"max_seconds={self.max_seconds}"
        return self.capped_by is not None


class FakeToolModel(BaseChatModel):
    """Calls ``lookup`` once per turn until the meter says stop, then answers."""

    meter: Any = None

    @property
    def _llm_type(self) -> str:
        return "fake-tool"

    def bind_tools(self, tools: Any, **kwargs: Any) -> FakeToolModel:
        return self

    def _generate(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        last = messages[-1]
        done = 0
        if isinstance(last, ToolMessage):
            done = int(last.tool_call_id.removeprefix("call_"))
            assert last.content.startswith(f"item {done} "), last.content[:40]
        if self.meter.stop_now(done):
            msg = AIMessage(content=f"Done: looked up {done} items.")
        else:
            call = {
                "name": "lookup",
                "args": call_args(done + 1),
                "id": f"call_{done + 1}",
                "type": "tool_call",
            }
            msg = AIMessage(content="", tool_calls=[call])
        return ChatResult(generations=[ChatGeneration(message=msg)])


def derive(rows: list[dict[str, Any]]) -> None:
    """Adds bytes per step: overall (above the empty database) and over the last interval."""
    base = rows[0]["bytes"]
    prev = rows[0]
    for r in rows:
        n = r["steps"]
        r["bytes_per_step"] = round((r["bytes"] - base) / n, 1) if n else None
        dn = n - prev["steps"]
        r["marginal_bytes_per_step"] = round((r["bytes"] - prev["bytes"]) / dn, 1) if dn else None
        prev = r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=10_000, help="the workload's steps")
    ap.add_argument("--every", type=int, default=50, help="measure every N steps")
    ap.add_argument("--max-steps", type=int, default=2_000, help="cap: stop after N steps")
    ap.add_argument("--max-bytes", type=int, default=1_500_000_000, help="cap: database bytes")
    ap.add_argument("--max-seconds", type=float, default=300.0, help="cap: run time")
    ap.add_argument("--react-version", default="v2", help="create_react_agent version")
    ap.add_argument("--out", type=Path, help="JSON lines file (overwritten)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="lg-storage-") as folder:
        path = Path(folder) / "checkpoints.db"
        conn = sqlite3.connect(path, check_same_thread=False)
        saver = SqliteSaver(conn)
        saver.setup()
        meter = Meter(saver, path, args)
        agent = create_react_agent(
            FakeToolModel(meter=meter), [lookup], checkpointer=saver, version=args.react_version
        )
        config = {"configurable": {"thread_id": "storage-bench"}, "recursion_limit": 10**7}
        meter.started = time.perf_counter()
        result = agent.invoke({"messages": [("user", PROMPT)]}, config, durability="sync")
        elapsed = meter.elapsed()
        done = meter.rows[-1]["steps"]
        assert result["messages"][-1].content == f"Done: looked up {done} items."
        with saver.lock:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        final = os.path.getsize(path)
        conn.close()

    rows = meter.rows
    derive(rows)
    capped = meter.capped_by
    print(
        f"\nlanggraph create_react_agent ({args.react_version}) + SqliteSaver: "
        f"{done} of {args.steps} steps, "
        + (f"stopped early by the cap {capped}" if capped else "not capped")
        + f", {final:,} bytes at the end, run {elapsed:.1f} s"
    )
    head = ("steps", "bytes", "B/step", "marginal B/step", "checkpoints", "cp B", "writes B", "s")
    print("{:>6} {:>14} {:>9} {:>16} {:>11} {:>14} {:>14} {:>7}".format(*head))
    for r in rows:
        print(
            "{:>6} {:>14,} {:>9} {:>16} {:>11} {:>14,} {:>14,} {:>7}".format(
                r["steps"],
                r["bytes"],
                "-" if r["bytes_per_step"] is None else f"{r['bytes_per_step']:.0f}",
                "-"
                if r["marginal_bytes_per_step"] is None
                else f"{r['marginal_bytes_per_step']:.0f}",
                r["checkpoints"],
                r["checkpoint_bytes"],
                r["write_bytes"],
                r["seconds"],
            )
        )
    if capped:
        print(
            f"capped: checkpoints hold the whole state, so bytes grow with the square of the "
            f"steps; the run stopped at step {done} ({capped}) instead of {args.steps}"
        )

    if args.out:
        variant = f"sqlite-react-{args.react_version}"
        meta = {
            "meta": True,
            "system": "langgraph",
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            **{
                dist: version(dist)
                for dist in (
                    "langgraph",
                    "langgraph-prebuilt",
                    "langgraph-checkpoint",
                    "langgraph-checkpoint-sqlite",
                    "langchain-core",
                )
            },
            "durability": "sync",
            "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        common = {"system": "langgraph", "variant": variant, "store": "sqlite"}
        lines: list[dict[str, Any]] = [meta]
        lines += [{**common, "result_chars": SMALL_RESULT_CHARS, **r} for r in rows]
        lines.append(
            {
                **common,
                "summary": True,
                "result_chars": SMALL_RESULT_CHARS,
                "steps": done,
                "workload_steps": args.steps,
                "capped_by": capped,
                "final_bytes": final,
                "run_seconds": round(elapsed, 2),
            }
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(json.dumps(x) + "\n" for x in lines))
        print(f"wrote {args.out}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
