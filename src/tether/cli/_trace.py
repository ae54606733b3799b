"""``tether trace RUN_ID``: one run as a tree, and why it ended."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

from tether._errors import TetherError
from tether._events import Event
from tether._text import plain_text
from tether.journal import JournalStore

from ._app import app
from ._runs import StoreOption, _store
from ._tracedata import trace_tree

__all__ = ["trace"]

_EXIT_FAILED = 1
MAX_DEPTH = 8
"""How deep sub-runs are followed (a sub-run's sub-runs ...)."""
_MAX_CHILDREN = 1000


@app.command()
def trace(
    run_id: Annotated[str, typer.Argument(help="The run to show.")],
    store: StoreOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the trace as one JSON object (keys below).")
    ] = False,
) -> None:
    """Show a run as a tree: its steps, model calls, tool calls and sub-runs, with
    timings, tokens and cost, and at the top why it ended.

    --json keys. The run: run_id, agent, model, strategy, prompt, parent_run_id, status
    (completed, gave_up, failed, interrupted or running), reason {kind, message,
    detail} or null, started_at, ended_at (epoch seconds; null while running),
    duration_s, usage {input_tokens, output_tokens, total_tokens, model_calls,
    tool_calls, steps, cost_usd}, output, diagnosis, markers, steps, sub_runs.

    diagnosis: category, detail, summary, failed, evidence (event sequence numbers),
    contributing (list of text), waiting_for [{id, name, arguments}].

    steps[]: step, model_calls, tool_calls, markers. model_calls[]: seq, purpose, tools,
    duration_s, input_tokens, output_tokens, cost_usd, finish (tool_calls, text, failed
    or pending), tool_calls (names), text, error. tool_calls[]: seq, call_id, name,
    arguments, outcome (running until it ends), duration_s, attempts, truncated, error
    (the text the model saw, for failures), started_at, ended_at, sub_runs (traces of
    the runs this call started).

    markers[] (in a step, or at the top before the first step): seq, kind
    (loop_detected, budget_warning, budget_exhausted, model_retried, model_switched,
    fallback, guardrail_tripped, approval_requested, approval_decided,
    output_invalid), text.

    Exit codes: 0 shown, 1 the run or the journal cannot be read.
    """
    try:
        tree = asyncio.run(_load(_store(store, read_only=True), run_id))
    except TetherError as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(_EXIT_FAILED) from None
    if as_json:
        typer.echo(plain_text(json.dumps(tree, ensure_ascii=False, indent=2)))
        return
    console = Console(highlight=False)
    console.print(render(tree))


async def _load(store: JournalStore, run_id: str) -> dict[str, Any]:
    try:
        events = await store.load(run_id)
        return await _trace(store, events, 0)
    finally:
        await store.close()


async def _trace(store: JournalStore, events: list[Event], depth: int) -> dict[str, Any]:
    """The run's trace with its sub-runs' traces nested."""
    first = events[0]
    children: list[dict[str, Any]] = []
    if depth < MAX_DEPTH:
        found = await store.list_runs(since=first.at - 1.0, limit=_MAX_CHILDREN)
        kids = sorted(
            (r for r in found if r.parent_run_id == first.run_id and r.run_id != first.run_id),
            key=lambda r: r.created_at,
        )
        for kid in kids:
            children.append(await _trace(store, await store.load(kid.run_id), depth + 1))
    return trace_tree(events, {first.run_id: children})


def _secs(s: float | None) -> str:
    if s is None:
        return "?"
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def _cost(c: float) -> str:
    return f"${c:.4f}" if c >= 0.0001 or c == 0 else f"${c:.6f}"


def _short(text: str | None, limit: int = 100) -> str:
    flat = " ".join((text or "").split())
    return escape(flat if len(flat) <= limit else flat[: limit - 1] + "…")


_STATUS_COLOUR = {"completed": "green", "running": "cyan", "interrupted": "yellow"}


def _run_label(t: dict[str, Any]) -> str:
    u = t["usage"]
    colour = _STATUS_COLOUR.get(t["status"], "red")
    why = f" ({t['reason']['kind']})" if t["reason"] else ""
    return (
        f"[bold]run {t['run_id']}[/] · agent {escape(repr(t['agent']))} · model "
        f"{escape(repr(t['model']))} · [{colour}]{t['status']}{why}[/] · "
        f"{_secs(t['duration_s'])} · {u['total_tokens']} tokens ({u['input_tokens']} in, "
        f"{u['output_tokens']} out) · {_cost(u['cost_usd'])}"
    )


def _model_label(m: dict[str, Any]) -> str:
    if m["finish"] == "failed":
        what = f"[red]failed[/]: {_short(m['error'])}"
    elif m["finish"] == "tool_calls":
        what = "tool calls: " + escape(", ".join(m["tool_calls"]))
    elif m["finish"] == "text":
        what = f"text: {_short(m['text'], 60)}"
    else:
        what = "[cyan]waiting for the answer[/]"
    tools = "" if m["tools"] else " (without tools)"
    return (
        f"[cyan]model {escape(m['purpose'])}[/]{tools} · {_secs(m['duration_s'])} · "
        f"{m['input_tokens']}+{m['output_tokens']} tokens · {_cost(m['cost_usd'])} → {what}"
    )


def _tool_label(c: dict[str, Any]) -> str:
    outcome = c["outcome"]
    mark = {"ok": "[green]✓[/]", "running": "[cyan]…[/]"}.get(outcome, "[red]✗[/]")
    attempts = c["attempts"]
    extra = f" · {attempts} attempt{'s' if attempts != 1 else ''}"
    if c["truncated"]:
        extra += " · [yellow]truncated[/]"
    error = f": {_short(c['error'], 160)}" if c["error"] else ""
    return f"{mark} [bold]{escape(c['name'])}[/] {outcome} · {_secs(c['duration_s'])}{extra}{error}"


def _marker_label(m: dict[str, Any]) -> str:
    colour = (
        "yellow" if m["kind"] in ("budget_warning", "model_retried", "approval_decided") else "red"
    )
    return f"[{colour}]! {m['kind'].replace('_', ' ')}[/]: {_short(m['text'], 160)}"


def _grow(node: Tree, t: dict[str, Any]) -> None:
    for m in t["markers"]:
        node.add(_marker_label(m))
    for step in t["steps"]:
        branch = node.add(f"[bold]step {step['step']}[/]")
        for m in step["model_calls"]:
            branch.add(_model_label(m))
        for c in step["tool_calls"]:
            leaf = branch.add(_tool_label(c))
            for sub in c["sub_runs"]:
                _grow(leaf.add(_run_label(sub)), sub)
        for m in step["markers"]:
            branch.add(_marker_label(m))
    for sub in t["sub_runs"]:
        _grow(node.add(_run_label(sub)), sub)


def render(t: dict[str, Any]) -> Group:
    """The trace as rich renderables: why the run ended, then the tree."""
    d = t["diagnosis"]
    colour = "red" if d["failed"] else "green"
    detail = f" ({escape(d['detail'])})" if d["detail"] else ""
    lines = [f"[bold]why it ended:[/] [{colour}]{d['category']}[/]{detail}"]
    lines.append(f"  {escape(d['summary'])}")
    for note in d["contributing"]:
        lines.append(f"  [dim]also:[/] {escape(note)}")
    for c in d["waiting_for"]:
        args = json.dumps(c["arguments"], ensure_ascii=False)
        lines.append(f"  waiting for: {escape(c['name'])} ({c['id']}) {_short(args)}")
    root = Tree(_run_label(t))
    _grow(root, t)
    return Group(*(Text.from_markup(line) for line in lines), Text(""), root)
