"""MCP servers with odd lists and odd tool names, for tests/test_mcp_odd_servers.py.

Run as ``python tests/mcp_odd_servers.py KIND`` over stdio:

- ``circle``: every list (tools, resources, templates, prompts) hands out the cursors
  A, B, A, B, ... and never ends;
- ``endless``: every list hands out a new cursor with each page and never ends;
- ``twice``: lists two tools of the same name;
- ``alike``: tools whose names read the same once made of the characters models take
  (``notes.delete`` and ``notes_delete``, ``读取`` and ``删除``, two long names alike in
  their first 64 characters); ``die`` ends the process.

The first three are hand-written (the SDK's server would not misbehave so); each answers
``tools/call`` with the tool's name.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

LONG = "fetch_the_quarterly_report_of_every_regional_office_in_the_company"
"""Longer than 64 characters: two tools named ``LONG + ".v1"`` and ``LONG + ".v2"``."""

_LISTS = {
    "tools/list": "tools",
    "resources/list": "resources",
    "resources/templates/list": "resourceTemplates",
    "prompts/list": "prompts",
}


def _item(kind: str, at: str) -> dict[str, Any]:
    """One item of a list's page, named after the cursor it was asked for at."""
    name = f"item_{at}"
    if kind == "tools":
        return {"name": name, "inputSchema": {"type": "object"}}
    if kind == "resources":
        return {"uri": f"odd://{name}", "name": name}
    if kind == "resourceTemplates":
        return {"uriTemplate": f"odd://{name}/{{x}}", "name": name}
    return {"name": name}


def _next(kind: str, at: str | None, page: int) -> str:
    if kind == "circle":
        return "B" if at == "A" else "A"
    return f"page-{page}"


def _send(ident: object, result: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": ident, "result": result}) + "\n")
    sys.stdout.flush()


def hand_written(kind: str) -> None:
    """The ``circle``, ``endless`` and ``twice`` servers."""
    capabilities = {"tools": {}, "resources": {}, "prompts": {}}
    pages = 0
    for line in sys.stdin:
        message = json.loads(line)
        method, ident = message.get("method"), message.get("id")
        params = message.get("params") or {}
        if ident is None:  # a notification
            continue
        if method == "initialize":
            info = {"name": kind, "version": "1"}
            version = params["protocolVersion"]
            _send(
                ident,
                {"protocolVersion": version, "capabilities": capabilities, "serverInfo": info},
            )
        elif method == "tools/list" and kind == "twice":
            tool = {"name": "add", "inputSchema": {"type": "object"}}
            _send(ident, {"tools": [tool, {**tool, "description": "the same name again"}]})
        elif method in _LISTS:
            pages += 1
            at = params.get("cursor")
            items = [_item(_LISTS[method], at or "start")]
            _send(ident, {_LISTS[method]: items, "nextCursor": _next(kind, at, pages)})
        elif method == "tools/call":
            _send(ident, {"content": [{"type": "text", "text": f"called {params['name']}"}]})
        else:
            _send(ident, {})


ALIKE = ["notes.delete", "notes_delete", "读取", "删除", f"{LONG}.v1", f"{LONG}.v2"]


def _answering(name: str) -> Any:
    """A tool that answers with its own name and the note it was given."""

    def tool(note: str) -> str:
        return f"{name}: {note}"

    return tool


def alike() -> MCPServer:
    """Tools whose names come out the same in the characters models take."""
    from mcp.server.mcpserver import MCPServer  # here: the hand-written servers start faster

    server = MCPServer("alike", log_level="CRITICAL")
    for name in ALIKE:
        server.add_tool(_answering(name), name=name, description=f"The tool {name}.")

    @server.tool()
    def die() -> str:
        """End the server's process."""
        os._exit(3)

    return server


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "alike":
        alike().run("stdio")
    else:
        hand_written(kind)
