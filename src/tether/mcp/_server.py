"""An MCP server as tether sees it: tools, resources and prompts, over a connection
that is restarted when it breaks.

Every request goes through :meth:`MCPServer._request`, which connects (or restarts a
broken connection, up to ``max_restarts`` times in a row), bounds the request by the
server's ``timeout``, and turns every failure into one of the errors of
:mod:`tether.mcp._errors` with a message that names the server and says what happened.
"""

from __future__ import annotations

import asyncio
import functools
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import anyio
import mcp_types as mt
from mcp import ClientSession
from mcp import MCPError as SDKError
from mcp.client import Transport
from pydantic import ValidationError

from tether._errors import ConfigError, UsageError
from tether._messages import AssistantMessage, UserMessage
from tether.tools import Tool

from ._content import prompt_messages, resource_text, tool_result
from ._errors import MCPConnectionError, MCPError, MCPProtocolError, MCPTimeoutError
from ._link import Link, log
from ._names import clean_name, offered_names, safe_name
from ._options import check_name, check_prefix, check_restarts, check_seconds
from ._types import Prompt, Resource, ResourceTemplate

__all__ = ["MCPServer"]

T = TypeVar("T")
ItemT = TypeVar("ItemT")


class _Page(Protocol[ItemT]):
    """Asks for one page of a list, from a cursor; returns the page and the next cursor."""

    def __call__(
        self, s: ClientSession, *, at: str | None
    ) -> Awaitable[tuple[list[ItemT], str | None]]: ...


_PING_TIMEOUT = 5.0
_CONNECT_TIMEOUT = 30.0
"""The least time a connection gets by default to start the server and shake hands."""
_RESOURCES_LISTED = 50
"""How many resources and templates the resource tool's description names."""
_PAGES_MAX = 10_000
"""The most pages one list may take: far more than any server needs, so that a server
whose cursors never end is an error, not a request that never returns."""


class MCPServer(ABC):
    """An MCP server, its tools, resources and prompts.

    Use :class:`MCPServerStdio` or :class:`MCPServerHTTP`. A server is an async context
    manager (``async with server:``); ``await server.connect()`` and
    ``await server.close()`` do the same explicitly. A request made while it is not
    connected connects it first.

    Args:
        name: the server's name, in messages and in tool names when ``prefix`` is set.
        timeout: seconds each request may take (a finite number above 0).
        connect_timeout: seconds starting the server (or reaching it) and the MCP
            handshake may take; ``None`` (the default) is the larger of ``timeout`` and
            30 s, since a program started with ``npx`` or a fresh interpreter can take
            far longer to come up than a request takes to answer.
        prefix: ``True`` to name its tools ``{name}_{tool}``, a string (letters,
            digits, ``_`` and ``-``, at most 48) to put that string before each tool's
            name, ``False`` to keep the server's names.
        max_restarts: how many times in a row (a whole number, 0 or more) a broken
            connection is restarted (a crashed stdio server started again, an HTTP
            server reconnected) before requests fail at once; a request that succeeds
            resets the count.

    Raises:
        ConfigError: an option is not of its kind (a string for a number, NaN,
            infinity, a bool for a count) or out of its range.
    """

    def __init__(
        self,
        *,
        name: str,
        timeout: float = 30.0,
        connect_timeout: float | None = None,
        prefix: bool | str = False,
        max_restarts: int = 3,
    ) -> None:
        self.name = check_name(name)
        check_seconds("timeout", timeout, default="30 by default")
        if connect_timeout is not None:
            check_seconds("connect_timeout", connect_timeout, default="or None for the default")
        check_restarts(max_restarts)
        check_prefix(prefix)
        self.timeout = timeout
        self.connect_timeout = (
            max(timeout, _CONNECT_TIMEOUT) if connect_timeout is None else connect_timeout
        )
        self.max_restarts = max_restarts
        self.prefix = f"{safe_name(name)}_" if prefix is True else (prefix or "")
        self.tools_version = 0
        """Goes up by one each time the server says its tool list changed (and on a
        restart); :meth:`list_tools` lists the tools again when it has moved."""
        self._link: Link | None = None
        self._lock: asyncio.Lock | None = None
        self._strikes = 0
        self._tools: list[Tool] | None = None
        self._tools_version = -1
        self._renamed: set[str] = set()  # tools whose new name was logged

    @abstractmethod
    def _transport(self) -> Transport:
        """A fresh transport context for one connection."""

    # --- lifecycle ---------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect now (start the server process, or reach the URL) and do the handshake.

        Raises:
            MCPConnectionError: the server could not be started or reached, or did not
                complete the handshake within ``connect_timeout``.
        """
        self._strikes = 0
        await self._live()

    async def close(self) -> None:
        """Close the connection; a stdio server's process (and its children) is stopped.

        Works on a hung or dead server too (a server that ignores its closed stdin is
        terminated, then killed). The server may be connected again afterwards.
        """
        async with self._guard():
            link, self._link = self._link, None
            self._strikes = 0
        if link is not None:
            await link.close()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        """True while a connection is open and not known to be broken."""
        return self._link is not None and not self._link.dead

    def _guard(self) -> asyncio.Lock:
        # Created lazily: the lock must belong to the running loop.
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def _tools_changed(self) -> None:
        self.tools_version += 1

    async def _live(self) -> Link:
        """The open connection: connected now, or restarted if it broke."""
        async with self._guard():
            link = self._link
            if link is not None and link.loop is not asyncio.get_running_loop():
                raise UsageError(
                    f"MCP server {self.name!r} was connected in another event loop; connect "
                    "and use it inside the same one (for example in the coroutine that runs "
                    "the agent)"
                )
            if link is not None and link.suspect and not link.dead:
                link.dead = not await link.ping(min(self.timeout, _PING_TIMEOUT))
                link.suspect = False
            if link is not None and not link.dead:
                return link
            if link is not None:  # it broke: restart it, if it has not broken too often
                self._link = None
                await link.close()
                self._tools_changed()  # a new server process may offer other tools
            if self._strikes > self.max_restarts:
                raise MCPConnectionError(
                    f"MCP server {self.name!r} failed {self._strikes} times in a row and is not "
                    f"restarted again (max_restarts={self.max_restarts}); do not call its "
                    "tools again in this run"
                )
            if self._strikes:
                log.info("MCP server %r: restarting (attempt %d)", self.name, self._strikes)
            new = Link(self.name, self._transport, self._tools_changed)
            try:
                await new.open(self.connect_timeout)
            except MCPError:
                self._strikes += 1
                raise
            self._link = new
            return new

    # --- requests ----------------------------------------------------------------------

    async def _request(self, what: str, op: Callable[[ClientSession], Awaitable[T]]) -> T:
        """Send one request: connect if needed, bound it by ``timeout``, name its failures."""
        link = await self._live()
        assert link.session is not None
        noise = link.noise_count
        try:
            async with asyncio.timeout(self.timeout):
                result = await op(link.session)
        except TimeoutError:
            link.suspect = True
            raise MCPTimeoutError(
                f"MCP server {self.name!r} did not answer {what} within {self.timeout:g} s; "
                f"the request was cancelled{link.noise_note(noise)}"
            ) from None
        except SDKError as exc:
            if exc.code == mt.CONNECTION_CLOSED:
                self._broke(link)
                raise MCPConnectionError(
                    f"MCP server {self.name!r} closed the connection during {what} (it may "
                    f"have crashed){link.noise_note(noise)}; it will be restarted on the next call"
                ) from None
            raise MCPProtocolError(
                f"MCP server {self.name!r} answered {what} with an error: {exc.message} "
                f"(code {exc.code})"
            ) from None
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError) as exc:
            self._broke(link)
            raise MCPConnectionError(
                f"MCP server {self.name!r}: the connection broke during {what} "
                f"({type(exc).__name__}); it will be restarted on the next call"
            ) from None
        except ValidationError as exc:
            raise MCPProtocolError(
                f"MCP server {self.name!r} answered {what} with a message that is not valid "
                f"MCP: {exc.error_count()} problem(s), first: {exc.errors()[0]['msg']}"
            ) from None
        except Exception as exc:  # the SDK's RuntimeErrors and anything it did not foresee
            link.suspect = True
            raise MCPProtocolError(
                f"MCP server {self.name!r}: {what} failed: {type(exc).__name__}: {exc}"
            ) from None
        self._strikes = 0
        return result

    def _broke(self, link: Link) -> None:
        if not link.dead:
            link.dead = True
            self._strikes += 1

    async def ping(self) -> None:
        """Check that the server answers.

        Raises:
            MCPError: it does not (see the error's kind and message).
        """
        await self._request("ping", lambda s: s.send_ping())

    # --- tools -------------------------------------------------------------------------

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        """Call one of the server's tools by its name on the server.

        Returns:
            The tool's structured content when it returns some, else its content as
            text (images, audio and binary resources described in a line each).

        Raises:
            MCPToolError: the tool reported an error; the message is what it said.
            MCPError: the server failed (crashed, timed out, answered with an error).
        """
        result = await self._request(
            f"the call of tool {name!r}", lambda s: s.call_tool(name, arguments or {})
        )
        return tool_result(name, result)

    async def list_tools(self) -> list[Tool]:
        """The server's tools as tether tools, listed again only after the server said
        its tool list changed (see ``tools_version``).

        Each keeps the server's JSON schema exactly, validates the model's arguments
        against it before calling, and reports the server's failures to the model as
        the call's error.
        """
        version = self.tools_version
        if self._tools is not None and self._tools_version == version:
            return list(self._tools)
        listed = self._once(await self._paged("the tool list", _list_tools))
        names = offered_names(self.prefix, [spec.name for spec in listed])
        made = (self._make_tool(spec, name) for spec, name in zip(listed, names, strict=True))
        tools = [t for t in made if t is not None]
        self._tools, self._tools_version = tools, version
        return list(tools)

    def _once(self, listed: list[mt.Tool]) -> list[mt.Tool]:
        """The listed tools, each name once: a second tool of the same name could not be
        called apart from the first (the server is called by name)."""
        seen: set[str] = set()
        kept = []
        for spec in listed:
            if spec.name in seen:
                log.warning(
                    "MCP server %r lists two tools named %r; the second is left out",
                    self.name,
                    spec.name,
                )
                continue
            seen.add(spec.name)
            kept.append(spec)
        return kept

    def _make_tool(self, spec: mt.Tool, name: str) -> Tool | None:
        """A tether tool calling the server's tool ``spec`` by its own name, offered to
        the model as ``name`` (see :mod:`tether.mcp._names`)."""
        remote = spec.name
        if name != clean_name(f"{self.prefix}{remote}") and remote not in self._renamed:
            self._renamed.add(remote)
            log.warning(
                "MCP server %r: tool %r is offered to the model as %r, since another of its "
                "tools would be offered under the same name (models take names of at most 64 "
                "letters, digits, '_' and '-')",
                self.name,
                remote,
                name,
            )

        async def call(arguments: dict[str, Any]) -> Any:
            return await self.call_tool(remote, arguments)

        try:
            return Tool.from_schema(
                name=name,
                description=spec.description or spec.title or "",
                parameters=spec.input_schema,
                fn=call,
            )
        except ConfigError as exc:  # one bad schema must not hide the other tools
            log.warning("MCP server %r: tool %r left out: %s", self.name, remote, exc)
            return None

    async def _paged(self, what: str, page: _Page[T]) -> list[T]:
        """Every page of a list. A server that hands back the cursor it was just given
        has said all it has; one whose cursors come round again, or never end, would
        keep the request going forever (each page answered at once), and is an error."""
        items: list[T] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(_PAGES_MAX):
            at = cursor
            got, cursor = await self._request(what, functools.partial(page, at=at))
            items.extend(got)
            if not cursor or cursor == at:
                return items
            if cursor in seen:
                raise MCPProtocolError(
                    f"MCP server {self.name!r} sent the cursor {_shown(cursor)} for {what} "
                    f"again after {len(seen) + 1} pages: its pages go round in a circle, so "
                    "the list would never end"
                )
            seen.add(cursor)
        raise MCPProtocolError(
            f"MCP server {self.name!r} did not end {what} within {_PAGES_MAX} pages (the "
            f"last cursor was {_shown(cursor)}); the list was given up"
        )

    # --- resources and prompts ---------------------------------------------------------

    async def list_resources(self) -> list[Resource]:
        """The resources the server lists."""
        listed = await self._paged("the resource list", _list_resources)
        return [Resource._from_mcp(r) for r in listed]

    async def list_resource_templates(self) -> list[ResourceTemplate]:
        """The resource templates the server lists (resources read by filling in a URI)."""
        listed = await self._paged("the resource template list", _list_templates)
        return [ResourceTemplate._from_mcp(r) for r in listed]

    async def read_resource(self, uri: str) -> str:
        """A resource's contents as text (binary contents described in a line).

        Raises:
            MCPProtocolError: the server could not read it (an unknown URI, for example).
        """
        result = await self._request(f"the read of {uri!r}", lambda s: s.read_resource(uri))
        return resource_text(result)

    async def list_prompts(self) -> list[Prompt]:
        """The prompts the server offers."""
        listed = await self._paged("the prompt list", _list_prompts)
        return [Prompt._from_mcp(p) for p in listed]

    async def get_prompt(
        self, name: str, arguments: dict[str, str] | None = None
    ) -> list[UserMessage | AssistantMessage]:
        """A prompt filled in with ``arguments``, as tether messages (user and assistant
        turns) to start a conversation with or to pass on.

        Raises:
            MCPProtocolError: the server refused (an unknown prompt, a missing argument).
        """
        result = await self._request(
            f"the prompt {name!r}", lambda s: s.get_prompt(name, arguments or {})
        )
        return prompt_messages(result)

    async def resource_tool(self) -> Tool:
        """A tool that reads one of the server's resources by URI, so a model can use them.

        Its description names the resources and templates the server lists now (up
        to 50 of each).
        """
        resources = await self.list_resources()
        try:
            templates = await self.list_resource_templates()
        except MCPProtocolError:  # a server without templates may not know the method
            templates = []
        lines = [f"Read a resource of MCP server {self.name!r} by its URI; returns its text."]
        if resources:
            lines.append("Resources:")
            lines += [_resource_line(r.uri, r.name, r.description) for r in resources[:50]]
        if templates:
            lines.append("URI templates (fill in the {placeholders}):")
            lines += [
                _resource_line(t.uri_template, t.name, t.description)
                for t in templates[:_RESOURCES_LISTED]
            ]

        async def read(arguments: dict[str, Any]) -> str:
            return await self.read_resource(str(arguments["uri"]))

        return Tool.from_schema(
            name=f"{self.prefix}read_resource",
            description="\n".join(lines),
            parameters={
                "type": "object",
                "properties": {"uri": {"type": "string", "description": "the resource's URI"}},
                "required": ["uri"],
                "additionalProperties": False,
            },
            fn=read,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def _shown(cursor: str | None) -> str:
    """A cursor for a message (a server may make them long)."""
    text = repr(cursor)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _resource_line(uri: str, name: str, description: str | None) -> str:
    return f"- {uri} ({name})" + (f": {description}" if description else "")


def _params(cursor: str | None) -> mt.PaginatedRequestParams | None:
    return mt.PaginatedRequestParams(cursor=cursor) if cursor else None


async def _list_tools(s: ClientSession, *, at: str | None) -> tuple[list[mt.Tool], str | None]:
    r = await s.list_tools(params=_params(at))
    return r.tools, r.next_cursor


async def _list_resources(
    s: ClientSession, *, at: str | None
) -> tuple[list[mt.Resource], str | None]:
    r = await s.list_resources(params=_params(at))
    return r.resources, r.next_cursor


async def _list_templates(
    s: ClientSession, *, at: str | None
) -> tuple[list[mt.ResourceTemplate], str | None]:
    r = await s.list_resource_templates(params=_params(at))
    return r.resource_templates, r.next_cursor


async def _list_prompts(s: ClientSession, *, at: str | None) -> tuple[list[mt.Prompt], str | None]:
    r = await s.list_prompts(params=_params(at))
    return r.prompts, r.next_cursor
