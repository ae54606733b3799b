"""The ``tether`` command: run an agent on a prompt and watch it work.

``tether run "PROMPT"`` runs the built-in demo agent (or ``--agent module:attribute``)
and prints a live view of its events to stderr, then its output to stdout. The demo
agent runs on the embedded local model with the guided strategy when the local extra
is installed, and on the scripted ``demo`` model otherwise (saying so on stderr).
``--json`` prints one JSON object instead. Exit codes: 0 completed, 1 gave up,
failed or interrupted, 2 a usage error (reported as one ``error:`` line).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from tether._agent import Agent, RunResult
from tether._errors import TetherError
from tether._events import (
    BudgetExhausted,
    BudgetWarning,
    LoopDetected,
    ModelFailed,
    ModelRequested,
    ModelResponded,
    OutputInvalid,
    RunFinished,
    RunStarted,
    StrategyChanged,
    ToolCallFinished,
    ToolCallStarted,
)
from tether.journal import open_store
from tether.models import local, resolve_model

from ._app import _as_json, _fail, _load_agent, _print_output, _print_pending, app
from ._demo import demo_agent

__all__ = ["run"]


def _short(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return escape(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def _model_answer(e: ModelResponded) -> str:
    r = e.response
    what = f"{len(r.tool_calls)} tool call(s)" if r.tool_calls else f"text {_short(r.text or '')}"
    tokens = f"{r.usage.input_tokens}+{r.usage.output_tokens} tokens"
    return f"  [dim]model answered: {what} ({tokens}, {e.duration_s:.2f} s)[/]"


def _tool_done(e: ToolCallFinished) -> str:
    mark = "[green]✓[/]" if e.outcome == "ok" else "[red]✗[/]"
    return f"  {mark} {e.name} [bold]{e.outcome}[/]: {_short(e.content)}"


def _finished(e: RunFinished) -> str:
    colour = "green" if e.status == "completed" else "red"
    u = e.usage
    return (
        f"[bold {colour}]■ {e.status}[/] ({e.reason.kind}): {escape(e.reason.message)}\n"
        f"  [dim]steps {u.steps} · model calls {u.model_calls} · tool calls {u.tool_calls} · "
        f"tokens {u.total_tokens} ({u.input_tokens} in, {u.output_tokens} out) · "
        f"cost ${u.cost_usd:.4f}[/]"
    )


_VIEWS: dict[type[Any], Callable[[Any], str]] = {
    RunStarted: lambda e: f"[bold]▶ run {e.run_id}[/] agent {e.agent!r}, model {e.model!r}",
    ModelRequested: lambda e: (
        f"[cyan]step {e.step}[/] model call" + ("" if e.tools else " (without tools)")
    ),
    ModelResponded: _model_answer,
    ModelFailed: lambda e: f"  [red]model failed:[/] {_short(e.error)}",
    ToolCallStarted: lambda e: (
        f"  [yellow]tool[/] {e.call.name}({_short(e.call.arguments_json())})"
    ),
    ToolCallFinished: _tool_done,
    BudgetWarning: lambda e: f"  [yellow]! budget warning:[/] {e.dimension} {e.used:g}/{e.limit:g}",
    BudgetExhausted: lambda e: (
        f"  [red]! budget exhausted:[/] {e.dimension} {e.used:g}/{e.limit:g}"
    ),
    LoopDetected: lambda e: f"  [red]! loop detected[/] ({e.loop}, {e.action}): {_short(e.detail)}",
    OutputInvalid: lambda e: (
        f"  [yellow]! output invalid[/] (attempt {e.attempt}): " + _short(e.errors)
    ),
    StrategyChanged: lambda e: f"  [magenta]→ strategy {e.strategy}[/]: {_short(e.cause)}",
    RunFinished: _finished,
}


_NO_LOCAL = (
    "note: the embedded model is not installed (pip install 'tether[local]'); "
    "using the scripted demo model"
)


def _demo_agent(model: str | None) -> tuple[Agent[Any, Any], str | None]:
    """The demo agent and a note for stderr: the embedded model by default, when installed.

    The embedded model declares the guided strategy, which a 0.5B model needs.
    """
    if model is None:
        if not local.available():
            return demo_agent("demo"), _NO_LOCAL
        return demo_agent(local.LocalModel()), None
    return demo_agent(resolve_model(model)), None


async def _drive(
    agent: Agent[Any, Any], prompt: str, model: str | None, console: Console | None
) -> RunResult[Any]:
    stream = agent.run_stream(prompt)
    with agent.override(model=resolve_model(model)) if model else contextlib.nullcontext():
        async for event in stream:
            view = _VIEWS.get(type(event))
            if console is not None and view is not None:
                console.print(view(event), highlight=False)
    return stream.result


@app.command()
def run(
    prompt: Annotated[str, typer.Argument(help="The task for the agent.")],
    model: Annotated[
        str | None,
        typer.Option(
            help="A model name, e.g. demo or local. The demo agent uses the embedded local "
            "model when it is installed, else the scripted demo model."
        ),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(help="Your agent as module:attribute (an Agent or a function returning one)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with the result and events.")
    ] = False,
    store: Annotated[
        str | None,
        typer.Option(
            help="The journal: a SQLite file or a postgresql:// URL (default: $TETHER_DB, "
            "else a file in the user's data folder)."
        ),
    ] = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not write the run to the journal.")
    ] = False,
) -> None:
    """Run an agent on PROMPT: the demo agent, or yours with --agent."""
    console = None if as_json else Console(stderr=True, soft_wrap=True)
    try:
        if agent is None:
            the_agent, note = _demo_agent(model)
            if note:
                typer.echo(note, err=True)
            model = None
        else:
            the_agent = _load_agent(agent)
        if the_agent.store is None and not no_store:
            the_agent = copy.copy(the_agent)  # the user's agent object stays as it was
            the_agent.store = open_store(store)
        result = asyncio.run(_drive(the_agent, prompt, model, console))
    except TetherError as exc:
        raise _fail(str(exc)) from None
    except ImportError as exc:
        raise _fail(f"{exc}; install the optional extra that provides it") from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(_as_json(result))
    else:
        _print_pending(result, store, agent)
        _print_output(result.output)
    raise typer.Exit(0 if result.status == "completed" else 1)
