"""MCP servers with odd lists and odd tool names, and MCP servers made with bad options:
lists that never end are errors, not hangs; tool names that read alike stay apart; a
bad option is a ConfigError when the server is made."""

from __future__ import annotations

import asyncio
import io
import logging
import math
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

import tether.mcp._server
from tether import Agent, ConfigError, ToolCall, ToolResultMessage
from tether.mcp import (
    MCPConnectionError,
    MCPProtocolError,
    MCPServer,
    MCPServerHTTP,
    MCPServerStdio,
)
from tether.testing import ScriptedModel

SERVERS = Path(__file__).with_name("mcp_odd_servers.py")
T = TypeVar("T")
LONG = "fetch_the_quarterly_report_of_every_regional_office_in_the_company"


def _server(kind: str, **options: Any) -> MCPServerStdio:
    options.setdefault("timeout", 10)
    options.setdefault("name", kind)
    return MCPServerStdio(sys.executable, [str(SERVERS), kind], **options)


async def _bounded(what: Awaitable[T]) -> T:
    """``what``, or a failure if it takes more than 30 s (it never would end)."""
    try:
        return await asyncio.wait_for(what, 30)
    except TimeoutError:
        pytest.fail("the request never ended")


# --- lists that never end ----------------------------------------------------------------


LISTS: dict[str, Callable[[MCPServer], Awaitable[object]]] = {
    "the tool list": lambda s: s.list_tools(),
    "the resource list": lambda s: s.list_resources(),
    "the resource template list": lambda s: s.list_resource_templates(),
    "the prompt list": lambda s: s.list_prompts(),
    "the resource tool": lambda s: s.resource_tool(),
}


@pytest.mark.parametrize("what", list(LISTS))
async def test_a_list_whose_cursors_go_round_is_a_protocol_error_naming_server_and_cursor(
    what: str,
) -> None:
    async with _server("circle") as server:
        with pytest.raises(MCPProtocolError) as caught:
            await _bounded(LISTS[what](server))
        # The server is still there to use.
        assert await server.call_tool("item_start") == "called item_start"
    message = str(caught.value)
    assert "MCP server 'circle' sent the cursor 'A'" in message
    assert "go round in a circle" in message


async def test_a_list_that_never_ends_is_given_up_after_a_bound_of_pages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The bound is generous (thousands of pages); a smaller one keeps the test short.
    monkeypatch.setattr(tether.mcp._server, "_PAGES_MAX", 25, raising=False)
    async with _server("endless") as server:
        with pytest.raises(MCPProtocolError) as caught:
            await _bounded(server.list_tools())
    assert str(caught.value) == (
        "MCP server 'endless' did not end the tool list within 25 pages (the last cursor "
        "was 'page-25'); the list was given up"
    )


# --- tool names that read alike ---------------------------------------------------------


async def test_tools_whose_names_read_alike_are_offered_apart_and_each_calls_its_own() -> None:
    async with _server("alike") as server:
        tools = await server.list_tools()
        names = [t.name for t in tools]
        assert len(set(names)) == len(names)
        assert all(len(n) <= 64 for n in names)
        # A name that was already one a model takes keeps it; the others are told apart.
        assert "notes_delete" in names
        renamed = [n for n in names if n.startswith("notes_delete_")]
        long = [n for n in names if n.startswith(LONG[:40])]
        unicode = [n for n in names if n.startswith("tool_")]
        assert (len(renamed), len(long), len(unicode)) == (1, 2, 2)

        calls = [ToolCall(n, {"note": "n1"}, f"c{i}") for i, n in enumerate(names[:-1])]
        agent = Agent(ScriptedModel([*calls, "done"]), tools=tools)  # no two named alike
        result = await agent.run("use every tool")
    assert result.completed
    answers = {m.name: m.content for m in result.messages if isinstance(m, ToolResultMessage)}
    assert answers["notes_delete"] == '{"result":"notes_delete: n1"}'
    assert answers[renamed[0]] == '{"result":"notes.delete: n1"}'
    assert sorted(answers[n] for n in unicode) == [
        '{"result":"删除: n1"}',
        '{"result":"读取: n1"}',
    ]
    assert sorted(answers[n] for n in long) == [
        f'{{"result":"{LONG}.v1: n1"}}',
        f'{{"result":"{LONG}.v2: n1"}}',
    ]


async def test_renamed_tools_keep_their_names_across_listings_and_restarts_and_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tether.mcp")
    async with _server("alike") as server:
        first = [t.name for t in await server.list_tools()]
        with pytest.raises(MCPConnectionError):
            await server.call_tool("die")
        again = [t.name for t in await server.list_tools()]  # listed anew, from a new process
    async with _server("alike") as other:
        elsewhere = [t.name for t in await other.list_tools()]
    assert first == again == elsewhere
    told = [r.getMessage() for r in caplog.records if "'notes.delete' is offered" in r.getMessage()]
    assert len(told) == 2  # once per server, not once per listing
    assert "as 'notes_delete_" in told[0]


async def test_a_tool_listed_twice_is_offered_once() -> None:
    async with _server("twice") as server:
        tools = await server.list_tools()
        assert [t.name for t in tools] == ["add"]
        agent = Agent(ScriptedModel([ToolCall("add", {}), "done"]), tools=tools)
        result = await agent.run("add")
    assert result.completed


# --- options ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, 1.5, "3", True, None])
def test_max_restarts_must_be_a_whole_number_of_at_least_0(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"max_restarts must be a whole number >= 0"):
        _server("alike", max_restarts=bad)


@pytest.mark.parametrize("option", ["timeout", "connect_timeout"])
@pytest.mark.parametrize("bad", ["5", math.inf, True, pytest.param(10**400, id="huge")])
def test_timeouts_must_be_finite_numbers_of_seconds(option: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=rf"MCP server {option} must be > 0 seconds, a finite"):
        _server("alike", **{option: bad})


def test_a_request_bound_cannot_be_switched_off() -> None:
    with pytest.raises(ConfigError, match="cannot hang the run"):
        _server("alike", timeout=None)
    assert _server("alike", connect_timeout=None).connect_timeout == 30


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"prefix": "my server."}, "write 'my_server_', for example"),
        ({"prefix": 3}, "prefix must be True"),
        ({"prefix": "p" * 49}, "at most 48 letters"),
        ({"name": ""}, "name must be a non-empty string"),
        ({"name": 3}, "name must be a non-empty string"),
    ],
)
def test_names_and_prefixes_must_make_tool_names(options: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        _server("alike", **options)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"command": None}, "command must be a string or a path"),
        ({"command": ""}, "command must name the program to run"),
        ({"args": "server.py"}, r"write \['server.py'\], not 'server.py'"),
        ({"args": [1]}, r"args\[0\] must be a string or a path"),
        ({"env": {"PORT": 8080}}, "'PORT' is 8080 \\(int\\); write '8080'"),
        ({"env": ["PORT=8080"]}, "env must be a mapping"),
        ({"cwd": 3}, "cwd must be a string or a path"),
        ({"errlog": io.StringIO()}, "errlog must be an open file with a file descriptor"),
    ],
)
def test_stdio_options_are_checked_when_the_server_is_made(
    options: dict[str, Any], says: str
) -> None:
    options = {"command": sys.executable, **options}
    with pytest.raises(ConfigError, match=says):
        MCPServerStdio(**options)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"url": "localhost:3001/mcp"}, "url must be an http:// or https:// URL"),
        ({"url": "ftp://example.com/mcp"}, "url must be an http:// or https:// URL"),
        ({"url": 3001}, "url must be an http:// or https:// URL"),
        ({"url": "http://[::1/mcp"}, "url must be an http:// or https:// URL"),
        ({"headers": {"X-Retries": 3}}, "'X-Retries' is 3 \\(int\\); write '3'"),
    ],
)
def test_http_options_are_checked_when_the_server_is_made(
    options: dict[str, Any], says: str
) -> None:
    options = {"url": "http://127.0.0.1:3001/mcp", **options}
    with pytest.raises(ConfigError, match=says):
        MCPServerHTTP(**options)


async def test_a_server_may_be_given_its_program_and_arguments_as_paths() -> None:
    server = MCPServerStdio(Path(sys.executable), [SERVERS, "twice"], timeout=10)
    assert server.name == Path(sys.executable).name
    async with server:
        assert await server.call_tool("add") == "called add"
