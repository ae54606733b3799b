"""``tether ui``: the local web viewer over the journal."""

from __future__ import annotations

import secrets
import socket
from typing import Annotated, Any

import typer

from tether._agent import Agent
from tether._errors import TetherError
from tether._events import Event
from tether.journal import JournalStore

from ._app import _fail, _load_agent, app
from ._runs import StoreOption, _agent_for

__all__: list[str] = []

_MISSING = "tether ui needs its web server: pip install starlette uvicorn jinja2 python-multipart"


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 picks a free one)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


@app.command()
def ui(
    store: StoreOption = None,
    agent: Annotated[
        str | None,
        typer.Option(
            help="The agent that goes on with runs after a decision, as module:attribute "
            "(as for `tether resume`); without it, decisions are off except on demo runs."
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(help="The address to serve on; any but loopback needs a token."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port (0 picks a free one).")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(
            help="A token every request must carry; generated and printed when serving "
            "beyond loopback without one."
        ),
    ] = None,
) -> None:
    """Browse the journal in a web page: why runs ended, their steps, decisions on calls."""
    try:
        import uvicorn

        from tether.ui import create_app, is_loopback, url_host
    except ImportError:
        raise _fail(_MISSING) from None
    if agent is not None:
        try:
            _load_agent(agent)  # a wrong --agent is said now, not at the first click
        except TetherError as exc:
            raise _fail(str(exc)) from None
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)

    def agent_for(journal: JournalStore, events: list[Event]) -> Agent[Any, Any]:
        return _agent_for(journal, events, agent)

    try:
        sock = _listen(host, port)
    except OSError as exc:
        raise _fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    bound = sock.getsockname()[1]
    try:
        viewer = create_app(
            store, agent_for=agent_for, host=host, token=token, cookie=f"tether_ui_{bound}"
        )
    except TetherError as exc:
        sock.close()
        raise _fail(str(exc)) from None
    url = f"http://{url_host(host)}:{bound}/" + (f"?token={token}" if token else "")
    typer.echo(f"tether ui: {url}")
    if token:
        typer.echo("  the token is needed for every request (once in the URL above, or as")
        typer.echo("  the header Authorization: Bearer TOKEN); keep it to yourself")
    typer.echo("  Ctrl+C stops it")
    config = uvicorn.Config(viewer, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
