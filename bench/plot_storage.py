"""Draws the bounded-storage benchmark: total bytes and bytes per step against steps.

Reads the JSON lines of bench_storage.py (tether) and bench_storage_langgraph.py
(LangGraph), saves ``docs/storage.png`` and prints the markdown tables of
``bench/results/storage.md``. Needs matplotlib (and numpy), which are not tether
dependencies; use a venv of their own:

    python3 -m venv /tmp/plot-venv && /tmp/plot-venv/bin/pip install matplotlib
    /tmp/plot-venv/bin/python bench/plot_storage.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

RESULTS = Path(__file__).parent / "results"
LABELS = {
    ("tether", "sqlite"): "tether, SQLite journal",
    ("tether", "postgres"): "tether, PostgreSQL journal",
    ("tether", "sqlite-20k"): "tether, SQLite, 20 kB identical results",
    ("langgraph", "sqlite-react-v2"): "LangGraph react agent, SqliteSaver",
    ("langgraph", "sqlite-react-v1"): "LangGraph react agent v1, SqliteSaver",
}
STYLE = {
    ("tether", "sqlite"): {"color": "tab:blue", "marker": "o", "zorder": 3},
    ("tether", "postgres"): {"color": "tab:green", "marker": "s"},
    ("tether", "sqlite-20k"): {"color": "tab:purple", "marker": "^", "ls": "--", "mfc": "none"},
    ("langgraph", "sqlite-react-v2"): {"color": "tab:red", "marker": "D"},
    ("langgraph", "sqlite-react-v1"): {"color": "tab:orange", "marker": "v"},
}
TABLE_STEPS = (250, 500, 1000, 2000, 5000, 10000)


def load(paths: list[Path]) -> tuple[dict[tuple[str, str], dict[str, Any]], list[dict[str, Any]]]:
    """Series keyed by (system, variant), each with its rows and summary; and skip notes."""
    series: dict[tuple[str, str], dict[str, Any]] = {}
    skipped: list[dict[str, Any]] = []
    for path in paths:
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("meta"):
                continue
            if "skipped" in rec:
                skipped.append(rec)
                continue
            s = series.setdefault((rec["system"], rec["variant"]), {"rows": [], "summary": {}})
            if rec.get("summary"):
                s["summary"] = rec
            else:
                s["rows"].append(rec)
    return series, skipped


def quadratic_fit(rows: list[dict[str, Any]]) -> np.ndarray:
    n = np.array([r["steps"] for r in rows], dtype=float)
    b = np.array([r["bytes"] for r in rows], dtype=float)
    return np.polyfit(n, b, 2)


def plot(series: dict[tuple[str, str], dict[str, Any]], out: Path) -> None:
    fig, (ax_total, ax_step) = plt.subplots(1, 2, figsize=(13, 5.2))
    max_steps = max(r["steps"] for s in series.values() for r in s["rows"])
    flat: list[str] = []  # the uncapped series' bytes per step at their last point
    for key, s in series.items():
        rows = [r for r in s["rows"] if r["steps"] > 0]
        n = [r["steps"] for r in rows]
        style = STYLE.get(key, {})
        label = LABELS.get(key, " ".join(key))
        cap = s["summary"].get("capped_by")
        if cap:
            label += f" (stopped at {rows[-1]['steps']:,} steps)"
        ax_total.plot(n, [r["bytes"] / 1e6 for r in rows], label=label, ms=3.5, **style)
        ax_step.plot(n, [r["bytes_per_step"] / 1e3 for r in rows], label=label, ms=3.5, **style)
        if not cap:
            flat.append(f"{label}: {rows[-1]['bytes_per_step']:,.0f} B/step")
        if cap:  # where the quadratic would have gone had the run not been stopped
            a, b, c = quadratic_fit(s["rows"])
            x = np.linspace(rows[-1]["steps"], max_steps, 50)
            y = a * x * x + b * x + c
            base = s["rows"][0]["bytes"]
            fit_label = f"quadratic fit, extrapolated: {fmt_bytes(y[-1])} at {max_steps:,} steps"
            ax_total.plot(x, y / 1e6, ls=":", color=style.get("color"), label=fit_label)
            ax_step.plot(x, (y - base) / x / 1e3, ls=":", color=style.get("color"))
    ax_total.set(
        xscale="log",
        yscale="log",
        xlabel="steps (one tool call and one model turn each)",
        ylabel="bytes on disk (MB)",
        title="Total storage of one run",
    )
    ax_step.set(
        xscale="log",
        yscale="log",
        xlabel="steps",
        ylabel="bytes per step (kB), above the empty store",
        title="Bytes per step: flat means linear growth",
    )
    if flat:
        ax_step.text(
            0.98,
            0.2,
            "at the last point:\n" + "\n".join(flat),
            transform=ax_step.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
            bbox={"boxstyle": "round", "fc": "white", "alpha": 0.85, "ec": "0.7"},
        )
    for ax in (ax_total, ax_step):
        ax.grid(True, which="both", alpha=0.3)
    ax_total.legend(fontsize=8, loc="upper left")
    fig.suptitle(
        "One agent run, one tool call per step (100-character results unless noted): "
        "tether's append-only journal vs LangGraph's full-state checkpoints",
        fontsize=11,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"saved {out}")


def at(rows: list[dict[str, Any]], steps: int) -> dict[str, Any] | None:
    return next((r for r in rows if r["steps"] == steps), None)


def fmt_bytes(b: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= size:
            return f"{b / size:.1f} {unit}" if b < 100 * size else f"{b / size:.0f} {unit}"
    return f"{b:.0f} B"


def markdown(series: dict[tuple[str, str], dict[str, Any]], skipped: list[dict[str, Any]]) -> str:
    keys = list(series)
    cols = [LABELS.get(k, " ".join(k)) for k in keys]
    steps = sorted(
        {n for n in TABLE_STEPS if any(at(series[k]["rows"], n) for k in keys)}
        | {s["rows"][-1]["steps"] for s in series.values()}
    )
    lines = ["| steps | " + " | ".join(cols) + " |", "|---:|" + "---:|" * len(cols)]
    for n in steps:
        cells = []
        for k in keys:
            r = at(series[k]["rows"], n)
            if r is None:
                cells.append("")
            else:
                cells.append(
                    f"{fmt_bytes(r['bytes'])}; {r['bytes_per_step']:,.0f} B/step "
                    f"({r['marginal_bytes_per_step']:,.0f} marginal)"
                )
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    for k in keys:
        s = series[k]
        if s["summary"].get("capped_by"):
            a, b, c = quadratic_fit(s["rows"])
            x = 10_000
            lines.append(
                f"\n{LABELS.get(k, k)}: stopped at {s['rows'][-1]['steps']:,} steps by the cap "
                f"`{s['summary']['capped_by']}`; a quadratic fit of its points "
                f"({a:.1f} n² + {b:,.0f} n + {c:,.0f} bytes) gives "
                f"{fmt_bytes(a * x * x + b * x + c)} at {x:,} steps."
            )
    for rec in skipped:
        lines.append(f"\n{rec['system']} {rec['variant']}: skipped ({rec['skipped']}).")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "inputs",
        nargs="*",
        type=Path,
        default=[RESULTS / "storage-tether.jsonl", RESULTS / "storage-langgraph.jsonl"],
    )
    ap.add_argument("--png", type=Path, default=Path(__file__).parent.parent / "docs/storage.png")
    args = ap.parse_args()
    series, skipped = load(args.inputs)
    plot(series, args.png)
    print(markdown(series, skipped))


if __name__ == "__main__":
    main()
