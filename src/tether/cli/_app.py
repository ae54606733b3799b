"""The ``tether`` command's application and what its commands share."""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Annotated, Any

import typer
from pydantic_core import to_jsonable_python

from tether import __version__
from tether._agent import Agent, RunResult
from tether._errors import ConfigError, TetherError
from tether._events import dump_event
from tether._text import plain_text

__all__ = ["app"]

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="tether: a runtime for LLM agents."
)
_EXIT_USAGE = 2


def _load_agent(spec: str) -> Agent[Any, Any]:
    """The agent named by ``module:attribute``, importing from the current directory first."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"--agent {spec!r} must look like module:attribute, e.g. myapp:agent")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name or module_name.startswith(f"{exc.name}."):
            raise ConfigError(
                f"cannot find module {module_name!r} for --agent; run tether from the "
                "directory that holds it, or install its package"
            ) from None
        raise ConfigError(f"importing {module_name!r} failed: {exc}; install it") from None
    except Exception as exc:
        raise ConfigError(
            f"importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    if not hasattr(module, attribute):
        found = [n for n, v in vars(module).items() if isinstance(v, Agent)]
        hint = f"; agents in it: {', '.join(found)}" if found else "; it defines no Agent"
        raise ConfigError(f"module {module_name!r} has no attribute {attribute!r}{hint}")
    return _as_agent(getattr(module, attribute), spec)


def _as_agent(value: Any, spec: str) -> Agent[Any, Any]:
    if callable(value) and not isinstance(value, Agent | type):
        try:
            value = value()
        except TetherError:
            raise
        except Exception as exc:
            raise ConfigError(f"calling {spec} failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(value, Agent):
        raise ConfigError(
            f"{spec} is a {type(value).__name__}, not a tether.Agent; point --agent at an "
            "Agent or at a function that takes no arguments and returns one"
        )
    return value


def _as_json(result: RunResult[Any]) -> str:
    reason = result.reason
    record = {
        "run_id": result.run_id,
        "status": result.status,
        "output": to_jsonable_python(result.output, fallback=str),
        "reason": {"kind": reason.kind, "message": reason.message, "detail": reason.detail},
        "usage": to_jsonable_python(result.usage),
        "pending": [
            {"id": c.id, "name": c.name, "arguments": c.parsed_arguments()} for c in result.pending
        ],
        "events": [dump_event(e) for e in result.events],
    }
    return plain_text(json.dumps(record, ensure_ascii=False))


def _print_output(output: Any) -> None:
    if output is None:
        return
    if isinstance(output, str):
        typer.echo(plain_text(output))
    else:
        typer.echo(plain_text(json.dumps(to_jsonable_python(output, fallback=str), indent=2)))


def _print_pending(result: RunResult[Any], store: str | None, agent: str | None) -> None:
    """The calls an interrupted run waits on, and the command that goes on with it."""
    if not result.pending:
        return
    for c in result.pending:
        typer.echo(plain_text(f"pending {c.id}: {c.name}({c.arguments_json()})"), err=True)
    options = "".join(f" --approve {c.id}" for c in result.pending)
    if agent:
        options += f" --agent {agent}"
    if store:
        options += f" --store {store}"
    typer.echo(f"to go on: tether resume {result.run_id}{options}", err=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(_EXIT_USAGE)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tether {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """tether: a runtime for LLM agents."""
