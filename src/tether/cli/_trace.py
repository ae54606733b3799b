"""``tether trace RUN_ID``: one run as a tree, and why it ended."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

from tether._errors import JournalError, TetherError
from tether._events import Event, HandedOff, RunFinished, SubRunEnded
from tether._text import plain_text
from tether.journal import JournalStore, RunInfo

from ._app import app
from ._runs import StoreOption, _store
from ._tracedata import damaged_tree, missing_tree, recorded_sub_runs, trace_tree

__all__ = ["trace"]

_EXIT_FAILED = 1
MAX_DEPTH = 8
"""How deep sub-runs are followed (a sub-run's sub-runs ...)."""
_MAX_LISTED = 1000
"""How many runs started in a run's lifetime are listed to find its sub-runs (those its
journal names are found without the listing)."""


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
    tool_calls, steps, cost_usd}, output, diagnosis, markers, steps, sub_runs,
    unreadable.

    A sub-run that cannot be shown keeps its place with what is known of it (its row in
    the journal, what its parent recorded; the rest null, no steps): reason kind
    journal_unreadable (detail: the first bad record's seq; unreadable lists them
    [{seq, type, problem}]) or not_in_journal (pruned, or its agent journals
    elsewhere or nowhere; status unknown unless its parent recorded its end).

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

    Exit codes: 0 shown, 1 the run or the journal cannot be read (a sub-run that
    cannot be read: the rest is shown, and stderr names the record).
    """
    try:
        tree = asyncio.run(_load(_store(store, read_only=True), run_id))
    except TetherError as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(_EXIT_FAILED) from None
    if as_json:
        typer.echo(plain_text(json.dumps(tree, ensure_ascii=False, indent=2)))
    else:
        Console(highlight=False).print(render(tree))
    damaged = list(_damaged(tree))
    for sub in damaged:
        typer.echo(f"error: {_damage_note(sub)}", err=True)
    if damaged:
        raise typer.Exit(_EXIT_FAILED)


def _damaged(t: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The sub-runs in the tree whose journal cannot be read, depth first."""
    called = [s for step in t["steps"] for c in step["tool_calls"] for s in c["sub_runs"]]
    for sub in [*called, *t["sub_runs"]]:
        if sub["reason"] is not None and sub["reason"]["kind"] == "journal_unreadable":
            yield sub
        yield from _damaged(sub)


def _damage_note(sub: dict[str, Any]) -> str:
    """One line for stderr: the damaged sub-run, its first bad record, what to do."""
    if not sub["unreadable"]:
        return f"the trace is incomplete: sub-run {sub['run_id']}: {sub['reason']['message']}"
    first = sub["unreadable"][0]
    more = len(sub["unreadable"]) - 1
    also = f" (and {more} more)" if more else ""
    return (
        f"the trace is incomplete: event {first['seq']} ({first['type']}) of sub-run "
        f"{sub['run_id']} cannot be read{also}: {' '.join(first['problem'].split())}; "
        "`tether doctor` lists every unreadable record; restore the journal from a backup "
        "to read this run (the rest of the trace is shown)"
    )


async def _load(store: JournalStore, run_id: str) -> dict[str, Any]:
    try:
        return await _trace(store, await store.load(run_id), 0)
    finally:
        await store.close()


async def _trace(store: JournalStore, events: list[Event], depth: int) -> dict[str, Any]:
    """The run's trace with its sub-runs' traces nested."""
    first, last = events[0], events[-1]
    until = last.at if isinstance(last, RunFinished) else None  # an ended run starts no more
    children = await _children(store, first.run_id, events, first.at, until, depth)
    return trace_tree(events, {first.run_id: children})


async def _children(
    store: JournalStore,
    run_id: str,
    events: list[Event],
    since: float,
    until: float | None,
    depth: int,
) -> list[dict[str, Any]]:
    """The traces of a run's sub-runs: those the store lists with it as their parent
    (started between ``since`` and ``until``), and those its journal names (found even
    when the listing is cut short, or the run is gone)."""
    if depth >= MAX_DEPTH:
        return []
    found = await store.list_runs(
        since=since - 1.0, until=None if until is None else until + 1.0, limit=_MAX_LISTED
    )
    listed = {
        r.run_id: r
        for r in sorted(found, key=lambda r: r.created_at)
        if r.parent_run_id == run_id and r.run_id != run_id
    }
    said = recorded_sub_runs(events)
    ids = [*listed, *(k for k in said if k not in listed and k != run_id)]
    return [await _child(store, k, run_id, listed.get(k), said.get(k), depth + 1) for k in ids]


async def _child(
    store: JournalStore,
    run_id: str,
    parent_id: str,
    info: RunInfo | None,
    said: SubRunEnded | HandedOff | None,
    depth: int,
) -> dict[str, Any]:
    """A sub-run's trace; one that cannot be read, or is gone, marked in its place."""
    error: str | None = None
    try:
        events, unreadable = await store.load_readable(run_id)
    except JournalError as exc:
        if info is None:  # neither a row nor events: pruned, or journaled elsewhere
            return missing_tree(run_id, parent_id, said)
        events, unreadable, error = [], [], " ".join(str(exc).split())
    else:
        if not unreadable:
            return await _trace(store, events, depth)
    # Its journal has gaps: when it started is what its row, its first readable event or
    # its parent says; when it ended is not known, so its sub-runs are looked for since.
    since = info.created_at if info is not None else events[0].at if events else None
    if since is None:
        since = said.at if said is not None else 0.0
    kids = await _children(store, run_id, events, since, None, depth)
    return damaged_tree(
        run_id,
        parent_id,
        info=info,
        said=said,
        events=events,
        unreadable=unreadable,
        error=error,
        sub_runs=kids,
    )


def _secs(s: float | None) -> str:
    if s is None:
        return "?"
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def _cost(c: float) -> str:
    return f"${c:.4f}" if c >= 0.0001 or c == 0 else f"${c:.6f}"


def _short(text: str | None, limit: int = 100) -> str:
    flat = " ".join((text or "").split())
    return escape(flat if len(flat) <= limit else flat[: limit - 1] + "…")


_RESTORE = (
    "`tether doctor` lists every unreadable record; restore the journal from a backup to "
    "read this run."
)

_STATUS_COLOUR = {"completed": "green", "running": "cyan", "interrupted": "yellow"}


def _run_label(t: dict[str, Any]) -> str:
    if t["diagnosis"] is None:  # a sub-run that cannot be read: only what is known
        kind = t["reason"]["kind"]
        colour = "red" if kind == "journal_unreadable" else "yellow"
        return (
            f"[bold]run {t['run_id']}[/] · agent {escape(repr(t['agent']))} · "
            f"{t['status']} · [{colour}]{kind.replace('_', ' ')}[/]"
        )
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
    if t["diagnosis"] is None:  # why it cannot be shown, and what to do
        for r in t["unreadable"]:
            node.add(
                f"[red]✗ unreadable record at seq {r['seq']} ({escape(r['type'])})[/]: "
                f"{_short(r['problem'], 160)}"
            )
        said = _RESTORE if t["unreadable"] else " ".join(t["reason"]["message"].split())
        node.add(f"[dim]{escape(said)}[/]")
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
