"""One live connection to an MCP server, owned by a task of its own.

The SDK's transports and sessions are anyio context managers: they must be entered
and left by the same task. Tool calls come from the run's tasks, and ``close()`` may
come from yet another, so one owner task enters the transport and the session,
signals that the session is ready, and waits; requests are sent from any task
through the session. Closing cancels the owner's scope, which leaves the contexts in
order: the stdio transport then closes the server's stdin, waits, and kills its
process tree, every wait bounded, so closing works on a hung or dead server too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Callable
from importlib import metadata

import anyio
import mcp_types as mt
from mcp import ClientSession
from mcp.client import IncomingMessage, Transport
from pydantic import ValidationError

from ._errors import MCPConnectionError, MCPError

__all__ = ["Link"]

log = logging.getLogger("tether.mcp")

_CLOSE_GRACE = 10.0
"""Seconds the owner task gets to leave the session and the transport in order (the
stdio transport's own shutdown is bounded at about 7 s) before it is cancelled."""

_CANCEL_GRACE = 5.0
"""Seconds a cancelled owner task gets to unwind."""

_NOISE_KEPT = 3


def _client_info() -> mt.Implementation:
    try:
        version = metadata.version("tether")
    except metadata.PackageNotFoundError:  # a source checkout that is not installed
        version = "0"
    return mt.Implementation(name="tether", version=version)


def _noise_text(exc: Exception) -> str:
    """What a server wrote that is not MCP, shortened for a message."""
    if isinstance(exc, ValidationError):
        for err in exc.errors(include_url=False):
            got = err.get("input")
            if isinstance(got, str | bytes):
                text = got.decode(errors="replace") if isinstance(got, bytes) else got
                return repr(text[:120])
    return f"{type(exc).__name__}: {str(exc)[:120]}"


class Link:
    """The owner task of one connection, and what is known about its health.

    Args:
        name: the server's name, for messages.
        transport: makes the transport context (stdio or streamable HTTP).
        on_tools_changed: called when the server says its tool list changed.
    """

    def __init__(
        self,
        name: str,
        transport: Callable[[], Transport],
        on_tools_changed: Callable[[], None],
    ) -> None:
        self.name = name
        self._transport = transport
        self._on_tools_changed = on_tools_changed
        self.session: ClientSession | None = None
        self.dead = False
        self.suspect = False  # a request timed out: ping before trusting it again
        self.noise: deque[str] = deque(maxlen=_NOISE_KEPT)
        self.noise_count = 0
        self.loop = asyncio.get_running_loop()
        self._ready: asyncio.Future[ClientSession] = self.loop.create_future()
        self._scope: anyio.CancelScope | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._handshake_s = 0.0

    def noise_note(self, since: int = 0) -> str:
        """A clause about the non-MCP output the server wrote after the ``since``-th
        such line (the last few of them), or nothing."""
        fresh = min(self.noise_count - since, len(self.noise))
        if fresh <= 0:
            return ""
        return f"; it wrote output that is not MCP: {', '.join(list(self.noise)[-fresh:])}"

    async def open(self, handshake_s: float) -> ClientSession:
        """Start the transport and the session and complete the MCP handshake.

        Raises:
            MCPConnectionError: the server could not be started or did not complete
                the handshake in time (the transport is closed again).
        """
        self._handshake_s = handshake_s
        self._task = asyncio.create_task(self._own(), name=f"tether-mcp-{self.name}")
        try:
            return await asyncio.shield(self._ready)
        except BaseException:
            await self.close()
            raise

    async def _own(self) -> None:
        try:
            # One scope around everything, its deadline the handshake's: the transport
            # and the session open task groups, which must close inside it.
            with anyio.CancelScope(deadline=anyio.current_time() + self._handshake_s) as scope:
                self._scope = scope
                async with contextlib.AsyncExitStack() as stack:
                    read, write = await stack.enter_async_context(self._transport())
                    session = ClientSession(
                        read, write, message_handler=self._on_message, client_info=_client_info()
                    )
                    await stack.enter_async_context(session)
                    await session.initialize()
                    scope.deadline = math.inf
                    self.session = session
                    self._ready.set_result(session)
                    await self._stop.wait()
            if scope.cancelled_caught and not self._ready.done() and not self._stop.is_set():
                self._ready.set_exception(self._open_error(TimeoutError()))
        except Exception as exc:  # ends the connection; the caller hears of it
            if not self._ready.done():
                self._ready.set_exception(self._open_error(exc))
            else:
                log.debug("MCP server %r: connection ended: %r", self.name, exc)
        finally:
            self.dead = True
            if not self._ready.done():
                self._ready.set_exception(
                    MCPConnectionError(f"MCP server {self.name!r} was closed while connecting")
                )

    def _open_error(self, exc: BaseException) -> MCPConnectionError:
        if isinstance(exc, TimeoutError):
            why = f"did not complete the MCP handshake within {self._handshake_s:g} s"
        elif isinstance(exc, MCPError):
            return MCPConnectionError(str(exc))
        else:
            detail = exc
            while isinstance(detail, BaseExceptionGroup) and len(detail.exceptions) == 1:
                detail = detail.exceptions[0]
            why = f"could not be started or reached ({type(detail).__name__}: {detail})"
        return MCPConnectionError(f"MCP server {self.name!r} {why}{self.noise_note()}")

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, Exception):
            self.noise.append(_noise_text(message))
            self.noise_count += 1
        elif isinstance(message, mt.ToolListChangedNotification):
            self._on_tools_changed()

    async def ping(self, within_s: float) -> bool:
        """True if the server answers a ping within ``within_s`` seconds."""
        if self.session is None or self.dead:
            return False
        try:
            async with asyncio.timeout(within_s):
                await self.session.send_ping()
        except Exception:
            return False
        return True

    async def close(self) -> None:
        """Leave the session and the transport (stopping a stdio server's process).

        Never raises, and returns within about :data:`_CLOSE_GRACE` seconds even when
        the server is hung.
        """
        task = self._task
        if task is not None and not task.done():
            self._stop.set()  # leave the contexts in order: a DELETE for HTTP, stdin EOF for stdio
            await asyncio.wait({task}, timeout=_CLOSE_GRACE if self.session else 0)
            if not task.done() and self._scope is not None:
                self._scope.cancel()
                await asyncio.wait({task}, timeout=_CANCEL_GRACE)
            if not task.done():
                log.warning("MCP server %r: the connection did not close in time", self.name)
                task.cancel()
                await asyncio.wait({task}, timeout=_CANCEL_GRACE)
        self.dead = True
        # Retrieved here: a connection given up on is not an unhandled error.
        if task is not None and task.done() and not task.cancelled():
            task.exception()
        if self._ready.done() and not self._ready.cancelled():
            self._ready.exception()
