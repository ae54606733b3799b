"""Working memory over a very long run: context tokens and RSS against steps.

One run of ``--steps`` steps (10,000 by default). A step is one model turn that asks
for one call of a cheap async tool, whose result (about 200 characters) names the step,
so no two results are alike and loop detection (left on, as by default) stays quiet.
The fake model (:class:`tether.testing.FunctionModel`) calls the tool until the last
step, then answers; it reports no token usage, so the fake estimates it from the
messages (four characters a token) as a provider would report it, and working memory
corrects its own estimate against that. Before it answers, every ``--every`` steps
(100), the model function measures what it was sent: the context in tokens (as the
fake reports them, :func:`tether.testing.estimate_tokens`) and the number of messages,
and the process's current RSS (``/proc/self/statm``, not the peak). With working
memory the context is counted at every step as well, and each sample carries the
largest context since the previous one (the context is then a sawtooth whose peaks a
sample every 100 steps would miss).

Configurations (``--configs``), each in a process of its own so that RSS does not mix:

* ``with``: ``working_memory=WorkingMemory(max_tokens=4000, summarizer=...)`` and
  ``keep_events=64``; the summariser is a FunctionModel that returns a short
  deterministic summary (the range of steps it was shown).
* ``with-store``: the same with an SQLite journal store in a temporary folder: every
  event is written to it, and its size is reported at the end.
* ``compact-only``: the same working memory, every event kept in ``RunResult.events``.
* ``without``: ``working_memory=False`` and every event kept: the whole conversation
  is sent at every step. It runs ``--baseline-steps`` steps (the same as ``--steps``
  by default) when that is too slow.

    .venv/bin/python bench/bench_memory_growth.py --plot docs/img/memory-growth.png

The table goes to stdout, one JSON object per configuration to ``--out``. With
``--plot`` the two panels (context tokens and RSS against steps) are drawn with
matplotlib, which is imported only then. ``--tracemalloc N`` (with ``--one``) prints
the allocations that grew most between step N and the end of the run, to find what
still grows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tether import (
    Agent,
    Budget,
    ContextCompacted,
    LoopDetected,
    Message,
    ModelResponse,
    RunResult,
    ToolCall,
    ToolResultMessage,
    WorkingMemory,
)
from tether.journal import JournalStore, SQLiteStore
from tether.models import ModelParams
from tether.testing import FunctionModel, estimate_tokens

PROMPT = "Look up every item, one at a time, then say you are done."
RESULT_CHARS = 200
MAX_TOKENS = 4000
KEEP_EVENTS = 64
CONFIGS = ("with", "with-store", "compact-only", "without")
LABELS = {
    "with": f"working memory ({MAX_TOKENS:,} tokens) + keep_events={KEEP_EVENTS}",
    "with-store": "the same + an SQLite journal store",
    "compact-only": f"working memory ({MAX_TOKENS:,} tokens), all events kept",
    "without": "no working memory (working_memory=False)",
}
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """The process's resident set size now (not its peak)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:  # not Linux: the peak is the best there is
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def context_tokens(messages: Sequence[Message]) -> int:
    """The request's input tokens as the fake model reports them in its usage (four
    characters a token): what working memory calibrates its own estimate against."""
    return estimate_tokens(messages)


# --- the workload -----------------------------------------------------------------------


def call_args(i: int) -> dict[str, Any]:
    """The arguments of step ``i``'s call: small, and different at every step."""
    return {"i": i, "key": f"k{i:05d}"}


def result_text(i: int, key: str) -> str:
    """A 200-character result that names its step (so every result is new)."""
    head = f"item {i} ({key}): status=ok, shelf={i % 97}, bin={i * 7 % 1009}; notes: "
    return (head + "abcdefghijklmnopqrstuvwxyz" * 8)[:RESULT_CHARS]


async def lookup(i: int, key: str) -> str:
    """Look up one item by its number and key."""
    return result_text(i, key)


def summarise(messages: Sequence[Message], params: ModelParams) -> str:
    """A deterministic summary: the range of items the dropped turns looked up."""
    items = [int(w) for w in messages[-1].content.replace("(", " ").split() if w.isdigit()]
    if not items:
        return "Nothing looked up yet."
    return f"Looked up items {min(items)} to {max(items)}; every status was ok."


class Probe:
    """What the model function measures, every ``every`` steps."""

    def __init__(self, every: int, steps: int, trace_from: int | None, each_step: bool) -> None:
        self.every = every
        self.steps = steps
        self.trace_from = trace_from
        self.each_step = each_step  # count the context at every step, not only at samples
        self.peak = 0  # the largest context since the last sample
        self.rows: list[dict[str, Any]] = []
        self.started = time.perf_counter()
        self.spent = 0.0  # seconds spent measuring, left out of the run's time
        self.snapshots: list[tracemalloc.Snapshot] = []  # at trace_from, at the last step

    def peek(self, messages: Sequence[Message]) -> None:
        """Count a step's context (between samples: a compacted run's context is a
        sawtooth, and a sample every N steps would miss its peaks)."""
        t = time.perf_counter()
        self.peak = max(self.peak, context_tokens(messages))
        self.spent += time.perf_counter() - t

    def measure(self, step: int, messages: Sequence[Message]) -> None:
        t = time.perf_counter()
        tokens = context_tokens(messages)
        peak, self.peak = max(self.peak, tokens), 0
        self.rows.append(
            {
                "step": step,
                "tokens": tokens,
                "peak_tokens": peak,
                "messages": len(messages),
                "rss": rss_bytes(),
                "seconds": round(t - self.started - self.spent, 3),
            }
        )
        if self.trace_from is not None and step in (self.trace_from, self.steps):
            self.snapshots.append(tracemalloc.take_snapshot())  # the run still going
        self.spent += time.perf_counter() - t


def make_agent(
    config: str, steps: int, probe: Probe, store: JournalStore | None = None
) -> Agent[None, str]:
    turn = 0

    def model(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        nonlocal turn
        done, turn = turn, turn + 1  # steps whose tool result is in the history
        if done:
            # The latest result is this step's (a note, such as the budget's warning at
            # 80 %, may follow it).
            last = next(m for m in reversed(messages) if isinstance(m, ToolResultMessage))
            assert last.content.startswith(f"item {done} "), last.content[:40]
        if done % probe.every == 0 or done == steps:
            probe.measure(done, messages)
        elif probe.each_step:
            probe.peek(messages)
        if done >= steps:
            return ModelResponse(text=f"Done: looked up {done} items.")
        return ModelResponse(tool_calls=[ToolCall("lookup", call_args(done + 1))])

    compact = config != "without"
    return Agent(
        FunctionModel(model, name="fake"),
        tools=[lookup],
        budget=Budget(max_steps=steps + 10),
        working_memory=(
            WorkingMemory(
                max_tokens=MAX_TOKENS, summarizer=FunctionModel(summarise, name="summariser")
            )
            if compact
            else False
        ),
        keep_events=KEEP_EVENTS if config in ("with", "with-store") else None,
        store=store,
        name="memory-growth-bench",
    )


def run_one(config: str, steps: int, every: int, trace_from: int | None) -> dict[str, Any]:
    """One configuration in this process; returns its summary and rows."""
    if trace_from is not None:
        tracemalloc.start(8)
    # Without working memory the context only grows: the sample is the peak.
    probe = Probe(every, steps, trace_from, each_step=config != "without")
    journal: dict[str, int] = {}

    async def go(store: JournalStore | None) -> RunResult[str]:
        agent = make_agent(config, steps, probe, store)
        probe.started = time.perf_counter()
        result = await agent.run(PROMPT)
        if store is not None:
            t = time.perf_counter()
            journal["journal_events"] = len(await store.load(result.run_id))
            journal["journal_bytes"] = await store.size_bytes()
            probe.spent += time.perf_counter() - t
            await store.close()
        return result

    rss_start = rss_bytes()
    with tempfile.TemporaryDirectory(prefix="tether-mg-") as folder:
        store = SQLiteStore(Path(folder) / "journal.db") if config == "with-store" else None
        result = asyncio.run(go(store))
    wall = time.perf_counter() - probe.started - probe.spent
    assert result.status == "completed", result.reason
    assert result.output == f"Done: looked up {steps} items.", result.output
    assert not any(isinstance(e, LoopDetected) for e in result.events)
    compactions = [e for e in result.events if isinstance(e, ContextCompacted)]
    last_seq = result.events[-1].seq
    summary = {
        "config": config,
        "label": LABELS[config],
        "steps": steps,
        "every": every,
        "wall_seconds": round(wall, 2),
        "rss_before_run": rss_start,
        "events_kept": len(result.events),
        "events_recorded": last_seq + 1,
        "model_calls": result.usage.model_calls,
        "input_tokens": result.usage.input_tokens,  # the summariser's included
        "compactions_in_kept_events": len(compactions),
        **journal,
        "rows": probe.rows,
    }
    if len(probe.snapshots) == 2:
        print_growth(*probe.snapshots, trace_from or 0, steps)
    return summary


def print_growth(start: tracemalloc.Snapshot, end: tracemalloc.Snapshot, a: int, b: int) -> None:
    keep = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = end.filter_traces(keep).compare_to(start.filter_traces(keep), "traceback")
    total = sum(d.size_diff for d in diff)
    print(f"\ntracemalloc: {total / 1e6:+.2f} MB between step {a} and step {b}", file=sys.stderr)
    for d in diff[:12]:
        print(f"\n{d.size_diff / 1e6:+.2f} MB in {d.count_diff:+,} blocks", file=sys.stderr)
        for line in d.traceback.format(limit=8, most_recent_first=True)[:8]:
            print(f"    {line}", file=sys.stderr)


# --- the parent: one process per configuration, the table, the plot -----------------------


def spawn(config: str, steps: int, every: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--one", config, "--steps", str(steps)]
    cmd += ["--every", str(every)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{config} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def mb(n: float) -> str:
    return f"{n / 2**20:.1f}"


def print_table(runs: list[dict[str, Any]], every_table: int) -> None:
    """Per printed step: the largest context since the previous printed step (tokens),
    and RSS (MB)."""
    by_step: dict[int, dict[str, dict[str, Any]]] = {}
    for r in runs:
        peak = 0
        for row in r["rows"]:
            peak = max(peak, row["peak_tokens"])
            step = row["step"]
            if step % every_table == 0 or step == r["rows"][-1]["step"]:
                by_step.setdefault(step, {})[r["config"]] = {**row, "peak": peak}
                peak = 0
    names = [r["config"] for r in runs]
    head = "{:>7}".format("step") + "".join(f" {n + ' tokens':>19} {n + ' MB':>15}" for n in names)
    print(head)
    for step in sorted(by_step):
        cells = by_step[step]
        line = f"{step:>7}"
        for n in names:
            row = cells.get(n)
            line += (
                f" {row['peak']:>19,} {mb(row['rss']):>15}"
                if row
                else " {:>19} {:>15}".format("-", "-")
            )
        print(line)
    print()
    for r in runs:
        rows = r["rows"]
        first = rows[1] if len(rows) > 1 else rows[0]  # step `every`: the run under way
        print(
            f"{r['config']:>12}: {r['steps']:,} steps in {r['wall_seconds']:.1f} s; "
            f"max context {max(x['peak_tokens'] for x in rows):,} tokens "
            f"(at the last step {rows[-1]['tokens']:,}); RSS {mb(rows[0]['rss'])} MB at "
            f"step 0, {mb(first['rss'])} MB at step {first['step']}, {mb(rows[-1]['rss'])} MB "
            f"at step {rows[-1]['step']}; {r['events_recorded']:,} events recorded, "
            f"{r['events_kept']:,} kept; {r['model_calls']:,} model calls, "
            f"{r['input_tokens'] / 1e6:,.1f} M input tokens in all"
            + (
                f"; journal: {r['journal_events']:,} events, {r['journal_bytes'] / 1e6:.1f} MB"
                if "journal_bytes" in r
                else ""
            )
        )


def plot(runs: list[dict[str, Any]], path: Path, baseline_capped: bool) -> None:
    import matplotlib  # only here: the benchmark itself runs without it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    style = {
        "with": {"color": "tab:blue", "lw": 2.0, "zorder": 3},
        "with-store": {"color": "tab:purple", "lw": 1.5, "ls": "-."},
        "compact-only": {"color": "tab:green", "lw": 1.5, "ls": "--"},
        "without": {"color": "tab:red", "lw": 1.5},
    }
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
    for r in runs:
        xs = [row["step"] for row in r["rows"]]
        label = LABELS[r["config"]]
        if r["config"] in ("compact-only", "with-store"):
            label += " (the same context)"
        if r["config"] == "without" and baseline_capped:
            label += f" (stopped at {r['steps']:,} steps)"
        peaks = [row["peak_tokens"] for row in r["rows"]]
        ax1.plot(xs, peaks, label=label, **style[r["config"]])
        ax2.plot(xs, [row["rss"] / 2**20 for row in r["rows"]], label=label, **style[r["config"]])
    ax1.axhline(MAX_TOKENS, color="gray", ls=":", lw=1, label="working memory's budget")
    ax1.set_yscale("log")
    ax1.set_title(f"Largest context sent to the model in each {runs[0]['every']} steps")
    ax1.set_ylabel("tokens (estimate, log scale)")
    ax2.set_title("Process RSS")
    ax2.set_ylabel("MB")
    ax2.set_ylim(bottom=0)
    for ax in (ax1, ax2):
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    ax1.legend(loc="center right", fontsize=8)
    steps = max(r["steps"] for r in runs)
    fig.suptitle(f"One tether run of {steps:,} tool-calling steps", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nwrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--baseline-steps", type=int, help="steps of `without` (default: --steps)")
    ap.add_argument("--every", type=int, default=100, help="measure every N steps")
    ap.add_argument("--table-every", type=int, default=1000, help="print every N steps")
    ap.add_argument("--configs", default=",".join(CONFIGS), help=", ".join(CONFIGS))
    ap.add_argument("--out", type=Path, help="JSON lines file (overwritten)")
    ap.add_argument("--plot", type=Path, help="draw the PNG here (needs matplotlib)")
    ap.add_argument("--one", choices=CONFIGS, help=argparse.SUPPRESS)
    ap.add_argument(
        "--tracemalloc",
        type=int,
        metavar="STEP",
        help="with --one: print what grew between STEP and the end (slow)",
    )
    args = ap.parse_args()
    if args.one:
        summary = run_one(args.one, args.steps, args.every, args.tracemalloc)
        print(json.dumps(summary))
        return
    configs = args.configs.split(",")
    for c in configs:
        if c not in CONFIGS:
            ap.error(f"unknown configuration {c!r}; choose from {', '.join(CONFIGS)}")
    baseline = args.baseline_steps or args.steps
    runs = []
    for c in configs:
        steps = baseline if c == "without" else args.steps
        print(f"running {c} ({steps:,} steps) ...", file=sys.stderr, flush=True)
        runs.append(spawn(c, steps, args.every))
    capped = baseline < args.steps and "without" in configs
    print(
        f"\ntether, one run per configuration, each in its own process; python "
        f"{platform.python_version()}, {os.cpu_count()} cores"
    )
    if capped:
        print(f"(the run without working memory was stopped at {baseline:,} steps)")
    print()
    print_table(runs, args.table_every)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(json.dumps(r) + "\n" for r in runs))
        print(f"\nwrote {args.out}")
    if args.plot:
        plot(runs, args.plot, capped)


if __name__ == "__main__":
    main()
