"""``tether cancel RUN_ID``: stop a run from another process."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from tether._errors import TetherError
from tether.journal import JournalStore
from tether.run import CancelOutcome, cancel_run

from ._app import app
from ._runs import StoreOption, _store

__all__ = ["cancel"]

_EXIT_REFUSED = 1


@app.command()
def cancel(
    run_id: Annotated[str, typer.Argument(help="The run to cancel.")],
    reason: Annotated[
        str, typer.Option(help="Why; journaled in the run's end and shown by tether trace.")
    ] = "",
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for a live run's process to stop it.")
    ] = 10.0,
    store: StoreOption = None,
) -> None:
    """Cancel a run: a live one (its process stops it within about a second) or one that
    waits for a decision (it is ended here). A cancelled run cannot be resumed.

    Exit codes: 0 cancelled (or cancelled before), 1 the run has finished, is unknown,
    or did not stop within --wait (the request stays: its process, or the next resume,
    ends it).
    """
    try:
        done = asyncio.run(_cancel(_store(store), run_id, reason, wait))
    except TetherError as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(_EXIT_REFUSED) from None
    if done == "requested":
        typer.echo(
            f"cancel of run {run_id} requested; it did not stop within {wait:g} s (its "
            "process, or the next resume, ends it)",
            err=True,
        )
        raise typer.Exit(_EXIT_REFUSED)
    if done == "already_cancelled":
        typer.echo(f"run {run_id} was already cancelled")
    else:
        typer.echo(f"run {run_id} cancelled")


async def _cancel(store: JournalStore, run_id: str, reason: str, wait: float) -> CancelOutcome:
    try:
        return await cancel_run(store, run_id, reason=reason, wait=wait)
    finally:
        await store.close()
