"""Two (or more) versions of tether side by side on the peer harness's W2 and W3.

Each version is a ``src`` directory (for example one extracted with
``git archive db8f7d4 src | tar -x -C /tmp/old``); every measurement is a fresh
process of ``bench/bench_tether.py`` with that directory first on ``PYTHONPATH``,
and the versions alternate within each repetition, so that a busy machine slows
them alike. Prints min / median per cell and writes the raw lines as JSONL.

    .venv/bin/python bench/compare_versions.py old=/tmp/old/src new=$PWD/src \\
        --reps 5 --w3 1000,10000 --out bench/results/layout.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HARNESS = HERE.parent.parent / "shared" / "bench-peers"


def measure(src: str, workload: str, tool: str, concurrency: int) -> dict[str, float]:
    """One process of bench_tether.py on one version; its JSON line."""
    env = dict(os.environ, BENCH_TOOL=tool, PYTHONPATH=f"{src}:{HARNESS}")
    cmd = [sys.executable, str(HERE / "bench_tether.py"), workload]
    if workload == "w3":
        cmd += ["--concurrency", str(concurrency)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("versions", nargs="+", help="label=path/to/src, in the order to alternate")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--w3", default="1000,10000", help="W3 concurrencies (empty: no W3)")
    ap.add_argument("--w2", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--out", default="", help="append the raw JSON lines here")
    a = ap.parse_args()
    versions = [tuple(v.split("=", 1)) for v in a.versions]
    cells: list[tuple[str, str, int]] = []
    if a.w2:
        cells += [("w2", "async", 0), ("w2", "sync", 0)]
    cells += [("w3", t, int(n)) for n in a.w3.split(",") if n for t in ("async", "sync")]
    rows: list[dict[str, object]] = []
    for rep in range(a.reps):
        for workload, tool, n in cells:
            for label, src in versions:
                row = {**measure(src, workload, tool, n), "label": label, "rep": rep, "n": n}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
                if a.out:
                    with open(a.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
    print_table(rows, [label for label, _ in versions])


def print_table(rows: list[dict[str, object]], labels: list[str]) -> None:
    """Min / median per (workload, tool, concurrency) and version."""

    def stat(label: str, wl: str, tool: str, n: int, key: str) -> str:
        vals = [
            float(r[key])  # type: ignore[arg-type]
            for r in rows
            if r["label"] == label and r["workload"] == wl and r["tool"] == tool and r["n"] == n
        ]
        if not vals:
            return "-"
        return f"{min(vals):.3g} / {statistics.median(vals):.3g}"

    print("| workload | tool | runs | " + " | ".join(labels) + " |")
    print("|---" * (3 + len(labels)) + "|")
    seen = sorted({(str(r["workload"]), str(r["tool"]), int(r["n"])) for r in rows})  # type: ignore[call-overload]
    for wl, tool, n in seen:
        keys = ["step_us"] if wl == "w2" else ["wall_s", "peak_rss_mb"]
        for key in keys:
            cells = " | ".join(stat(label, wl, tool, n, key) for label in labels)
            print(f"| {wl} {key} | {tool} | {n or ''} | {cells} |")


if __name__ == "__main__":
    main()
