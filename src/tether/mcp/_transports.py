"""The two ways to reach an MCP server: a child process over stdio, or a URL over
streamable HTTP."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import httpx2
from mcp import StdioServerParameters, stdio_client
from mcp.client import Transport
from mcp.client._transport import TransportStreams
from mcp.client.streamable_http import streamable_http_client

from ._options import (
    check_command,
    check_cwd,
    check_env,
    check_errlog,
    check_headers,
    check_url,
    strings,
)
from ._server import MCPServer

__all__ = ["MCPServerHTTP", "MCPServerStdio"]

_SSE_READ_TIMEOUT = 300.0
"""Seconds an HTTP response stream may stay silent (a server may hold one open)."""


class MCPServerStdio(MCPServer):
    """An MCP server run as a child process, spoken to over its stdin and stdout.

    The process starts on ``connect()`` (or the first request) and is stopped by
    ``close()``; if it crashes, the next request starts it again.

    Args:
        command: the program to run, such as ``"npx"``, ``"node"`` or ``sys.executable``.
        args: its arguments, a list of strings (or paths).
        env: environment variables for it (strings), added to a safe minimal environment
            (``PATH``, ``HOME`` and a few others; the rest of tether's is not passed on).
        cwd: its working folder.
        name: the server's name; the program's name by default.
        timeout: seconds each request may take.
        connect_timeout: see :class:`MCPServer`.
        prefix: see :class:`MCPServer`.
        max_restarts: see :class:`MCPServer`.
        errlog: where the server's stderr goes, a file with a file descriptor;
            tether's stderr by default.

    Raises:
        ConfigError: an option is not of its kind or out of its range (see
            :class:`MCPServer`), ``args`` is a single string, or ``env`` holds a value
            that is not a string.

    Example:
        ```python
        server = MCPServerStdio("npx", args=["-y", "@modelcontextprotocol/server-everything"])
        async with server:
            agent = Agent(model, tools=await server.list_tools())
            result = await agent.run("Add 2 and 3 with the tool.")
        ```
    """

    def __init__(
        self,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        name: str | None = None,
        timeout: float = 30.0,
        connect_timeout: float | None = None,
        prefix: bool | str = False,
        max_restarts: int = 3,
        errlog: TextIO | None = None,
    ) -> None:
        program = check_command(command)
        super().__init__(
            name=Path(program).name if name is None else name,
            timeout=timeout,
            connect_timeout=connect_timeout,
            prefix=prefix,
            max_restarts=max_restarts,
        )
        self.params = StdioServerParameters(
            command=program, args=strings(args), env=check_env(env) or None, cwd=check_cwd(cwd)
        )
        self.errlog = check_errlog(errlog)

    def _transport(self) -> Transport:
        # sys.stderr is read now, not at import: test runners swap it.
        return stdio_client(self.params, errlog=self.errlog or sys.stderr)


class MCPServerHTTP(MCPServer):
    """An MCP server reached at a URL over streamable HTTP.

    If the connection breaks, the next request connects again (a new MCP session).

    Args:
        url: the server's MCP endpoint, such as ``"http://127.0.0.1:3001/mcp"``.
        headers: HTTP headers sent with every request (an ``Authorization`` header,
            for example), names and values as strings.
        name: the server's name; the URL's host by default.
        timeout: seconds each request may take.
        connect_timeout: see :class:`MCPServer`.
        prefix: see :class:`MCPServer`.
        max_restarts: see :class:`MCPServer`.

    Raises:
        ConfigError: an option is not of its kind or out of its range (see
            :class:`MCPServer`), ``url`` is not an ``http://`` or ``https://`` URL with
            a host, or a header's value is not a string.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        name: str | None = None,
        timeout: float = 30.0,
        connect_timeout: float | None = None,
        prefix: bool | str = False,
        max_restarts: int = 3,
    ) -> None:
        url = check_url(url)
        super().__init__(
            name=(urlsplit(url).hostname or url) if name is None else name,
            timeout=timeout,
            connect_timeout=connect_timeout,
            prefix=prefix,
            max_restarts=max_restarts,
        )
        self.url = url
        self.headers = check_headers(headers)

    def _transport(self) -> Transport:
        return self._connect()

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[TransportStreams]:
        client = httpx2.AsyncClient(
            headers=self.headers, timeout=httpx2.Timeout(self.timeout, read=_SSE_READ_TIMEOUT)
        )
        async with client, streamable_http_client(self.url, http_client=client) as streams:
            yield streams
