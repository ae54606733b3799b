"""``tether worker``: execute an agent's queued runs (the ``dbos`` extra)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from tether._errors import TetherError
from tether.journal import open_store

from ._app import _fail, _load_agent, app

__all__: list[str] = []


@app.command()
def worker(
    agent: Annotated[
        str, typer.Option(help="The agent whose runs to execute, as module:attribute.")
    ],
    store: Annotated[
        str | None,
        typer.Option(help="The PostgreSQL journal (postgresql://...); the agent's own by default."),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(help="Runs each worker of the queue executes at once (the latest sets it)."),
    ] = 4,
    global_concurrency: Annotated[
        int | None, typer.Option(help="Runs of the queue at once over all workers.")
    ] = None,
    queue: Annotated[
        str | None, typer.Option(help="The queue (tether.<agent name> by default).")
    ] = None,
    heartbeat_timeout: Annotated[
        float, typer.Option(help="Seconds of silence after which a worker counts as dead.")
    ] = 10.0,
    poll_every: Annotated[
        float, typer.Option(help="Seconds between looks at the queue (a freed slot waits this).")
    ] = 0.1,
) -> None:
    """Take runs of an agent off its queue and execute them, until Ctrl+C or SIGTERM."""
    try:
        from tether.scale import WorkerSettings, serve
    except ImportError as exc:
        raise _fail(
            f"tether worker needs the dbos extra: pip install 'tether[dbos]' ({exc})"
        ) from None
    try:
        served = _load_agent(agent)
        if store is not None:
            served.store = open_store(store)
        settings = WorkerSettings(
            concurrency=concurrency,
            global_concurrency=global_concurrency,
            queue=queue,
            heartbeat_every=min(2.0, heartbeat_timeout / 4),
            heartbeat_timeout=heartbeat_timeout,
            poll_every=poll_every,
        )
    except TetherError as exc:
        raise _fail(str(exc)) from None

    def ready(me: str) -> None:
        typer.echo(f"tether worker {me}: executing runs of {served.name!r}", err=True)

    try:
        asyncio.run(serve(served, settings, ready=ready))
    except TetherError as exc:
        raise _fail(str(exc)) from None
