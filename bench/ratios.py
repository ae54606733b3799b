"""Ratios of each peer framework to tether, from one run of the peer benchmark.

Usage: python bench/ratios.py bench/results/peers-YYYYMMDD.jsonl
Prints a markdown table: for each workload, the peer's median divided by tether's
(above 1: tether is faster or smaller by that factor).
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict

CELLS = [  # header, workload, tool, key
    ("W1 create", "w1", "sync", "create_us"),
    ("W1 bytes/agent", "w1", "sync", "agent_bytes"),
    ("W2 step (sync tool)", "w2", "sync", "step_us"),
    ("W2 step (async tool)", "w2", "async", "step_us"),
    ("W3 wall (sync tool)", "w3", "sync", "wall_s"),
    ("W3 wall (async tool)", "w3", "async", "wall_s"),
    ("W3 peak RSS", "w3", "sync", "peak_rss_mb"),
    ("W4 result bytes", "w4", "sync", "result_bytes"),
]


def main(path: str, ours: str = "tether") -> None:
    rows: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    with open(path) as f:
        records = [json.loads(line) for line in f if line.startswith("{")]
    for r in records:
        for _, wl, tool, key in CELLS:
            if r["workload"] == wl and r["tool"] == tool and key in r:
                rows[(r["framework"], wl + tool, key)].append(r[key])
    med = {k: statistics.median(v) for k, v in rows.items()}
    peers = sorted({fw for fw, _, _ in rows if fw != ours})
    print("| peer / tether | " + " | ".join(c[0] for c in CELLS) + " |")
    print("|---" * (len(CELLS) + 1) + "|")
    for fw in peers:
        cells = []
        for _, wl, tool, key in CELLS:
            a, b = med.get((fw, wl + tool, key)), med.get((ours, wl + tool, key))
            cells.append(f"{a / b:.1f}x" if a is not None and b else "-")
        print(f"| {fw} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
