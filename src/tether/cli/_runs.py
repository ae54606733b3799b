"""``tether runs``, ``tether resume`` and ``tether prune``: the journal from the terminal."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tether._agent import Agent, RunResult
from tether._errors import ConfigError, TetherError
from tether.journal import SQLiteStore, default_path
from tether.run import Decision, approve, reject

from ._app import _as_json, _fail, _load_agent, _print_output, app
from ._demo import demo_agent

__all__ = ["parse_age"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

StoreOption = Annotated[
    Path | None,
    typer.Option("--store", help="The journal file (default: $TETHER_DB or the data folder)."),
]


def parse_age(text: str) -> float:
    """Seconds in an age such as ``90s``, ``15m``, ``2h``, ``7d`` or ``1w``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if m is None:
        raise ConfigError(
            f"{text!r} is not an age; write a number and a unit: 90s, 15m, 2h, 7d, 1w"
        )
    return float(m.group(1)) * _UNITS[m.group(2)]


def _store(path: Path | None) -> SQLiteStore:
    return SQLiteStore(path or default_path())


@app.command()
def runs(
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    agent: Annotated[
        str | None, typer.Option(help="Only runs of the agent with this name.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only runs newer than this age, e.g. 2h.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs.")] = 50,
    store: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List runs in the journal, newest first."""
    try:
        cutoff = time.time() - parse_age(since) if since else None
        found = asyncio.run(_list(_store(store), status, agent, cutoff, limit))
    except TetherError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        for r in found:
            typer.echo(
                json.dumps(
                    {
                        "run_id": r.run_id,
                        "agent": r.agent,
                        "status": r.status,
                        "prompt": r.prompt,
                        "created_at": r.created_at,
                        "updated_at": r.updated_at,
                        "events": r.events,
                    }
                )
            )
        return
    table = Table("agent", "status", "started", "events", "prompt")
    table.add_column("run id", no_wrap=True)
    for r in found:
        started = dt.datetime.fromtimestamp(r.created_at).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(r.agent, r.status, started, str(r.events), r.prompt[:40], r.run_id)
    Console().print(table)


async def _list(
    store: SQLiteStore, status: str | None, agent: str | None, since: float | None, limit: int
) -> list[Any]:
    try:
        return await store.list_runs(status=status, agent=agent, since=since, limit=limit)
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
    decisions: dict[str, Decision] = {c: approve() for c in approve_ids or []}
    for spec in reject_ids or []:
        call_id, _, message = spec.partition(":")
        decisions[call_id] = reject(message) if message else reject()
    try:
        journal = _store(store)
        the_agent = _agent_for(journal, run_id, agent)
        result: RunResult[Any] = asyncio.run(the_agent.resume(run_id, decisions=decisions))
    except TetherError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(_as_json(result))
    else:
        if result.pending:
            for c in result.pending:
                typer.echo(f"pending {c.id}: {c.name}({c.arguments_json()})", err=True)
        typer.echo(f"{result.status} ({result.reason.kind}): {result.reason.message}", err=True)
        _print_output(result.output)
    raise typer.Exit(0 if result.status == "completed" else 1)


def _agent_for(journal: SQLiteStore, run_id: str, spec: str | None) -> Agent[Any, Any]:
    if spec is not None:
        the_agent = _load_agent(spec)
    else:
        events = asyncio.run(journal.load(run_id))
        name = getattr(events[0], "agent", "")
        if name != "demo":
            raise ConfigError(
                f"run {run_id} is of agent {name!r}: say which with --agent module:attribute"
            )
        the_agent = demo_agent()
    the_agent = copy.copy(the_agent)  # the user's agent object stays as it was
    the_agent.store = journal
    return the_agent


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
    try:
        age = parse_age(older_than) if older_than else None
        journal = _store(store)
        deleted, before, after = asyncio.run(_prune(journal, age, keep))
    except TetherError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"deleted {deleted} runs; journal {before:,} -> {after:,} bytes")


async def _prune(store: SQLiteStore, age: float | None, keep: int | None) -> tuple[int, int, int]:
    try:
        before = await store.size_bytes()
        deleted = await store.prune(older_than=age, keep_last=keep)
        return deleted, before, await store.size_bytes()
    finally:
        await store.close()
