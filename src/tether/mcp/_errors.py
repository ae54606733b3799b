"""What can go wrong with an MCP server, as tether's errors::

    TetherError
    └── MCPError               something went wrong with an MCP server
        ├── MCPConnectionError     it could not be started or reached, or its connection
        │                          broke (a crash); it is restarted on the next call
        ├── MCPTimeoutError        it did not answer within the server's timeout
        ├── MCPProtocolError       it answered with an error, or with something that is not MCP
        └── MCPToolError           the tool ran and reported an error (``isError``)

Called as a tool by a model, each of these becomes a message the model reads
(``Tool 'x' failed: MCPToolError: ...``): the run goes on. Called directly
(``await server.list_tools()``), they are raised.
"""

from __future__ import annotations

from tether._errors import TetherError

__all__ = [
    "MCPConnectionError",
    "MCPError",
    "MCPProtocolError",
    "MCPTimeoutError",
    "MCPToolError",
]


class MCPError(TetherError):
    """Something went wrong with an MCP server; the message names the server."""


class MCPConnectionError(MCPError):
    """The server could not be started or reached, or its connection broke (it crashed).

    The next request starts it again (or reconnects), up to the server's ``max_restarts``.
    """


class MCPTimeoutError(MCPError):
    """The server did not answer within its timeout; the request was cancelled."""


class MCPProtocolError(MCPError):
    """The server answered with a JSON-RPC error, or with a message that is not valid MCP."""


class MCPToolError(MCPError):
    """The tool ran and reported an error (its result had ``isError: true``).

    The message is the text of the tool's result, so the model reads what the tool said.
    """
