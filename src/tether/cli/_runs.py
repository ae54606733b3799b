"""``tether runs``, ``resume``, ``prune`` and ``doctor``: the journal from the terminal."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import math
import re
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tether._agent import Agent, RunResult
from tether._errors import ConfigError, JournalError, TetherError
from tether._events import RunStarted
from tether._text import plain_text
from tether.journal import JournalCheck, JournalStore, open_store
from tether.journal._store import UnreadableRecord
from tether.models import resolve_model
from tether.run import Decision, approve, reject

from ._app import _as_json, _fail, _load_agent, _print_output, _print_pending, app
from ._demo import demo_agent
from ._tracedata import run_summary

__all__ = ["parse_age"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="The journal: a SQLite file or a postgresql:// URL (default: $TETHER_DB, "
        "else a file in the user's data folder).",
    ),
]


_LONGEST_AGE = 1000 * 7 * 86400.0


def parse_age(text: str) -> float:
    """Seconds in an age such as ``90s``, ``15m``, ``2h``, ``7d`` or ``1w``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if m is None:
        raise ConfigError(
            f"{text!r} is not an age; write a number and a unit: 90s, 15m, 2h, 7d, 1w"
        )
    seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if not math.isfinite(seconds) or seconds > _LONGEST_AGE:
        raise ConfigError(
            f"{text!r} is longer than any run could be; write an age of at most 1000w"
        )
    return seconds


def _store(target: str | None, *, read_only: bool = False) -> JournalStore:
    """The journal a command acts on: one that exists (a mistyped path is an error, not
    a new empty journal)."""
    return open_store(target, read_only=read_only, create=False)


@app.command()
def runs(
    status: Annotated[
        str | None,
        typer.Option(help="Only runs with this status (completed, gave_up, failed, interrupted)."),
    ] = None,
    agent: Annotated[
        str | None, typer.Option(help="Only runs of the agent with this name.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only runs newer than this age, e.g. 2h.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs.")] = 50,
    store: StoreOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object per run: run_id, agent, status, prompt, created_at, "
            "updated_at, events, parent_run_id, duration_s, cost_usd, usage, reason {kind, "
            "message, detail}, diagnosis {category, detail, summary}. A run whose journal "
            "has a record that cannot be read keeps its status as stored, with the reason "
            "kind journal_unreadable (detail: the record's seq).",
        ),
    ] = False,
) -> None:
    """List runs in the journal, newest first: status, cost, duration, and why each ended."""
    try:
        cutoff = time.time() - parse_age(since) if since else None
        found = asyncio.run(_list(_store(store), status, agent, cutoff, limit))
    except TetherError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        for row in found:
            typer.echo(plain_text(json.dumps(row, ensure_ascii=False)))
        return
    table = Table("agent", "status", "started", "duration", "cost", "reason", "prompt")
    table.add_column("run id", no_wrap=True)
    for r in found:
        started = dt.datetime.fromtimestamp(r["created_at"]).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            r["agent"],
            r["status"],
            started,
            "" if r["duration_s"] is None else f"{r['duration_s']:.2f} s",
            "" if r["cost_usd"] is None else f"${r['cost_usd']:.4f}",
            escape(_why(r)),
            escape(r["prompt"][:40]),
            r["run_id"],
        )
    Console().print(table)


def _why(row: dict[str, Any]) -> str:
    """The reason's kind, and the diagnosis for a run that did not complete."""
    reason, found = row["reason"], row["diagnosis"]
    why = reason["kind"] if reason else ""
    if reason and found is None and reason["detail"]:  # a journal that cannot be read
        return f"{why} ({reason['detail']})"
    if found and found["category"] not in ("completed", "running", why):
        detail = f" ({found['detail']})" if found["detail"] else ""
        why = f"{why}: {found['category']}{detail}" if why else f"{found['category']}{detail}"
    return why


async def _list(
    store: JournalStore, status: str | None, agent: str | None, since: float | None, limit: int
) -> list[dict[str, Any]]:
    try:
        infos = await store.list_runs(status=status, agent=agent, since=since, limit=limit)
        rows = []
        for info in infos:
            try:  # a damaged record must not hide the other runs: the row says what broke
                events, unreadable = await store.load_readable(info.run_id)
            except JournalError:  # a run row without events: listed as the store has it
                rows.append(run_summary(info, None))
                continue
            rows.append(run_summary(info, events, unreadable))
        return rows
    finally:
        await store.close()


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to go on with.")],
    agent: Annotated[
        str | None, typer.Option(help="The run's agent as module:attribute (demo runs need none).")
    ] = None,
    approve_ids: Annotated[
        list[str] | None, typer.Option("--approve", help="Approve this pending call id.")
    ] = None,
    reject_ids: Annotated[
        list[str] | None,
        typer.Option("--reject", help="Reject a pending call: CALL_ID or CALL_ID:message."),
    ] = None,
    store: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Go on with a run from its journal: after a crash, or with decisions on pending calls."""
    try:
        decisions = _decisions(approve_ids or [], reject_ids or [])
        journal = _store(store)
        result: RunResult[Any] = asyncio.run(_resume(journal, run_id, agent, decisions))
    except TetherError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(_as_json(result))
    else:
        _print_pending(result, store, agent)
        typer.echo(f"{result.status} ({result.reason.kind}): {result.reason.message}", err=True)
        _print_output(result.output)
    raise typer.Exit(0 if result.status == "completed" else 1)


def _decisions(approve_ids: list[str], reject_ids: list[str]) -> dict[str, Decision]:
    decisions: dict[str, Decision] = {}
    for call_id in approve_ids:
        decisions[call_id.strip()] = approve()
    for spec in reject_ids:
        call_id, _, message = spec.partition(":")
        call_id = call_id.strip()
        if call_id in decisions:
            raise ConfigError(f"call {call_id} is both approved and rejected; decide once")
        decisions[call_id] = reject(message) if message else reject()
    if any(not c for c in decisions):
        raise ConfigError("an empty call id was given; use the ids `tether runs` shows")
    return decisions


async def _resume(
    journal: JournalStore, run_id: str, spec: str | None, decisions: dict[str, Decision]
) -> RunResult[Any]:
    try:
        events = await journal.load(run_id)
        the_agent = _agent_for(journal, events, spec)
        return await the_agent.resume(run_id, decisions=decisions)
    finally:
        await journal.close()


def _agent_for(journal: JournalStore, events: list[Any], spec: str | None) -> Agent[Any, Any]:
    """The agent that goes on with the run, on the model the run was started with."""
    first = events[0]
    assert isinstance(first, RunStarted)
    if spec is not None:
        the_agent = _load_agent(spec)
        if the_agent.model.name != first.model:
            raise ConfigError(
                f"run {first.run_id} was started on the model {first.model!r}, but {spec} "
                f"uses {the_agent.model.name!r}; resume it with an agent on {first.model!r}"
            )
    elif first.agent == "demo":
        try:
            model = resolve_model(first.model)
        except ConfigError as exc:
            raise ConfigError(
                f"run {first.run_id} was started on the model {first.model!r}, which is not "
                f"available here: {exc}"
            ) from None
        the_agent = demo_agent(model)
    else:
        raise ConfigError(
            f"run {first.run_id} is of agent {first.agent!r}: say which with "
            "--agent module:attribute"
        )
    the_agent = copy.copy(the_agent)  # the user's agent object stays as it was
    the_agent.store = journal
    return the_agent


@app.command()
def doctor(store: StoreOption = None) -> None:
    """Check the journal: events without a run, runs without events, missing blobs,
    records that cannot be read. Exits 1 when anything is wrong."""
    try:
        found, unreadable = asyncio.run(_check(_store(store)))
    except TetherError as exc:
        raise _fail(str(exc)) from None
    for record in unreadable:
        typer.echo(
            f"unreadable record: run {record.run_id} seq {record.seq} ({record.type}): "
            f"{' '.join(record.problem.split())}"
        )
    if unreadable:
        typer.echo(
            "runs with unreadable records cannot be traced, resumed or replayed; restore "
            "the journal from a backup to read them (the other runs are not affected)"
        )
    for run_id in found.orphan_runs:
        typer.echo(f"orphaned events: run {run_id} has events but no run row")
    for run_id in found.empty_runs:
        typer.echo(f"empty run: {run_id} has a run row but no events")
    for digest in found.missing_blobs:
        typer.echo(f"missing blob: {digest}")
    if found.unused_blobs:
        typer.echo(f"{found.unused_blobs} blobs no event uses (prune removes them)")
    sound = found.ok and not unreadable
    if sound:
        typer.echo("the journal is sound")
    raise typer.Exit(0 if sound else 1)


async def _check(store: JournalStore) -> tuple[JournalCheck, list[UnreadableRecord]]:
    try:
        return await store.check(), await store.unreadable_records()
    finally:
        await store.close()


@app.command()
def prune(
    older_than: Annotated[
        str | None, typer.Option(help="Delete runs older than this age, e.g. 30d.")
    ] = None,
    keep: Annotated[int | None, typer.Option(help="Keep only the newest N runs.")] = None,
    store: StoreOption = None,
) -> None:
    """Delete old runs from the journal and give the space back."""
    if older_than is None and keep is None:
        raise _fail("say what to delete: --older-than AGE and/or --keep N")
    if keep is not None and keep < 0:
        raise _fail(f"--keep takes a count of runs to keep, 0 or more; got {keep}")
    try:
        age = parse_age(older_than) if older_than else None
        journal = _store(store)
        deleted, before, after = asyncio.run(_prune(journal, age, keep))
    except TetherError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"deleted {deleted} runs; journal {before:,} -> {after:,} bytes")


async def _prune(store: JournalStore, age: float | None, keep: int | None) -> tuple[int, int, int]:
    try:
        before = await store.size_bytes()
        deleted = await store.prune(older_than=age, keep_last=keep)
        return deleted, before, await store.size_bytes()
    finally:
        await store.close()
