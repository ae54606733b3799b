"""Small MCP servers that misbehave on purpose, for tether's MCP client tests.

Run as ``python tests/mcp_servers.py KIND`` over stdio:

- ``basic``: an ``add`` tool, a tool that fails, a resource and a prompt;
- ``crash``: ``die`` kills the server process, ``add`` works;
- ``hang``: ``wait_forever`` never returns, ``add`` works;
- ``garbage``: ``babble`` writes text that is not MCP before its answer, ``garble``
  writes it instead of an answer;
- ``changing``: ``grow`` adds a tool and says that the tool list changed;
- ``frozen``: ``freeze`` blocks the server, ignoring SIGTERM and its stdin;
- ``not_mcp``: not an MCP server at all: it writes text and waits.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import anyio
from mcp.server.mcpserver import Context, MCPServer


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def basic() -> MCPServer:
    """An ordinary server: tools, a resource and a prompt."""
    server = MCPServer("basic", log_level="CRITICAL")
    server.add_tool(add)

    @server.tool()
    def fail(reason: str) -> str:
        """Always fails with the reason given."""
        raise ValueError(f"it failed because {reason}")

    @server.resource("notes://today", mime_type="text/plain")
    def today() -> str:
        """Today's notes."""
        return "Buy milk."

    @server.prompt()
    def greet(name: str) -> str:
        """Greet someone."""
        return f"Say hello to {name}."

    return server


def dotted() -> MCPServer:
    """A server whose tool's name has a dot, as some servers name theirs."""
    server = MCPServer("dotted", log_level="CRITICAL")

    @server.tool(name="notes.count")
    def notes_count(text: str) -> int:
        """Count the words of a note."""
        return len(text.split())

    return server


def crash() -> MCPServer:
    """A server whose ``die`` tool kills its own process."""
    server = MCPServer("crash", log_level="CRITICAL")
    server.add_tool(add)

    @server.tool()
    def die() -> str:
        """Kill the server."""
        os._exit(3)

    @server.tool()
    def pid() -> int:
        """The server's process id."""
        return os.getpid()

    return server


def hang() -> MCPServer:
    """A server whose ``wait_forever`` tool never returns."""
    server = MCPServer("hang", log_level="CRITICAL")
    server.add_tool(add)

    @server.tool()
    async def wait_forever() -> str:
        """Never returns."""
        await anyio.sleep_forever()
        return "unreachable"

    return server


def _send(message: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def garbage() -> None:
    """A hand-written server (the SDK keeps stray output off the wire, so it cannot
    misbehave this way): ``babble`` answers after two lines that are not MCP,
    ``garble`` writes such lines and never answers."""
    schema = {"type": "object", "properties": {}}
    for line in sys.stdin:
        message = json.loads(line)
        method, ident = message.get("method"), message.get("id")
        if method == "initialize":
            _send(
                {
                    "jsonrpc": "2.0",
                    "id": ident,
                    "result": {
                        "protocolVersion": message["params"]["protocolVersion"],
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "garbage", "version": "1"},
                    },
                }
            )
        elif method == "tools/list":
            tools = [{"name": n, "inputSchema": schema} for n in ("babble", "garble")]
            _send({"jsonrpc": "2.0", "id": ident, "result": {"tools": tools}})
        elif method == "tools/call":
            sys.stdout.write("this is not json-rpc\n{broken json\n")
            sys.stdout.flush()
            if message["params"]["name"] == "babble":
                text = {"type": "text", "text": "said it anyway"}
                _send({"jsonrpc": "2.0", "id": ident, "result": {"content": [text]}})
        elif ident is not None:
            _send({"jsonrpc": "2.0", "id": ident, "result": {}})


def changing() -> MCPServer:
    """A server whose tool list grows when ``grow`` is called."""
    server = MCPServer("changing", log_level="CRITICAL")
    server.add_tool(add)

    @server.tool()
    async def grow(ctx: Context) -> str:
        """Add the ``multiply`` tool."""

        def multiply(a: int, b: int) -> int:
            """Multiply two integers."""
            return a * b

        server.add_tool(multiply)
        await ctx.session.send_tool_list_changed()
        return "grown"

    return server


def frozen() -> MCPServer:
    """A server whose ``freeze`` tool makes it ignore SIGTERM and never exit."""
    server = MCPServer("frozen", log_level="CRITICAL")
    server.add_tool(add)

    @server.tool()
    async def freeze() -> str:
        """Ignore SIGTERM and block the server's event loop for an hour."""
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(3600)  # noqa: ASYNC251 - blocking on purpose: the server stops reading
        return "unreachable"

    return server


def not_mcp() -> None:
    """Write a line that is not MCP, then wait for stdin to close."""
    sys.stdout.write("hello, I am not an MCP server\n")
    sys.stdout.flush()
    sys.stdin.read()


KINDS = {
    "basic": basic,
    "dotted": dotted,
    "crash": crash,
    "hang": hang,
    "changing": changing,
    "frozen": frozen,
}

if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "not_mcp":
        not_mcp()
    elif kind == "garbage":
        garbage()
    else:
        KINDS[kind]().run("stdio")
