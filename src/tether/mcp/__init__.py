"""MCP servers as tether tools: connect to a server over stdio or streamable HTTP, and
give its tools to an agent.

The model sees each tool's JSON schema exactly as the server gives it; arguments are
validated against it before the server is called; a server that crashes, hangs or
answers with garbage is an error the model reads, never one that ends the run, and a
crashed server is started again on the next call. Needs ``pip install 'tether[mcp]'``.

Example:
    ```python
    from tether import Agent
    from tether.mcp import MCPServerStdio

    async with MCPServerStdio("npx", args=["-y", "@modelcontextprotocol/server-everything"]) as s:
        agent = Agent("openai:gpt-4o-mini", tools=[*await s.list_tools(), await s.resource_tool()])
        result = await agent.run("What is 2 + 3? Use the tool.")
    ```
"""

from ._errors import MCPConnectionError, MCPError, MCPProtocolError, MCPTimeoutError, MCPToolError
from ._server import MCPServer
from ._transports import MCPServerHTTP, MCPServerStdio
from ._types import Prompt, PromptArgument, Resource, ResourceTemplate

__all__ = [
    "MCPConnectionError",
    "MCPError",
    "MCPProtocolError",
    "MCPServer",
    "MCPServerHTTP",
    "MCPServerStdio",
    "MCPTimeoutError",
    "MCPToolError",
    "Prompt",
    "PromptArgument",
    "Resource",
    "ResourceTemplate",
]
