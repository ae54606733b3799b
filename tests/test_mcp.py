"""MCP servers as tools: the reference server over stdio and HTTP, tools built from JSON
schemas, and servers that crash, hang, babble or change their tools."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tether import (
    Agent,
    ConfigError,
    Message,
    ToolCall,
    ToolCallFinished,
    ToolResultMessage,
    UserMessage,
)
from tether.mcp import (
    MCPConnectionError,
    MCPServer,
    MCPServerHTTP,
    MCPServerStdio,
    MCPTimeoutError,
    MCPToolError,
)
from tether.models import ModelParams
from tether.testing import FunctionModel, ScriptedModel
from tether.tools import CallOutcome, InvalidArguments, Tool, run_tool_call

# The reference server, pinned so that its tool names and texts stay the ones tested.
EVERYTHING = "@modelcontextprotocol/server-everything@2026.8.31"
NPM_CACHE = Path(os.environ.get("TETHER_NPM_CACHE", Path.home() / ".cache" / "tether-npm"))
SERVERS = Path(__file__).with_name("mcp_servers.py")


# --- helpers ----------------------------------------------------------------------------


def _children() -> set[int]:
    """The live (not zombie) child processes of this test process."""
    me, found = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[1]) == me:
            found.add(int(entry.name))
    return found


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fails the test if it leaves a child process or a task behind."""
    before = _children()
    yield
    deadline = time.monotonic() + 5
    while _children() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _children() - before == set(), "a server process outlived close()"


def _server(kind: str, **options: Any) -> MCPServerStdio:
    options.setdefault("timeout", 10)
    return MCPServerStdio(sys.executable, [str(SERVERS), kind], name=kind, **options)


async def _run(tools: Sequence[Tool], name: str, args: dict[str, Any]) -> CallOutcome:
    """One call as the run loop makes it: validation, the call, errors as messages."""
    return await run_tool_call({t.name: t for t in tools}, ToolCall(name, args), None, 20_000)


def _tasks_left() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


# --- the reference server: installed with npm, run over stdio and HTTP -------------------


@pytest.fixture(scope="session")
def everything() -> Path:
    """The reference server's entry point, installed into a cache folder once."""
    entry = NPM_CACHE / "node_modules/@modelcontextprotocol/server-everything/dist/index.js"
    package = entry.parent.parent / "package.json"
    version = EVERYTHING.rsplit("@", 1)[1]
    if not (entry.exists() and f'"version": "{version}"' in package.read_text()):
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            pytest.fail(
                "the MCP tests need Node.js and npm to install the reference server "
                f"{EVERYTHING}; install them (apt-get install nodejs npm)"
            )
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(NPM_CACHE), EVERYTHING],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or not entry.exists():
            pytest.fail(f"npm could not install {EVERYTHING}:\n{done.stdout}\n{done.stderr}")
    return entry


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def everything_url(everything: Path) -> Iterator[str]:
    """The reference server over streamable HTTP on 127.0.0.1, for the whole session."""
    port = _free_port()
    proc = subprocess.Popen(
        ["node", str(everything), "streamableHttp"],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the reference server did not start over HTTP")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(timeout=10)


def _stdio(everything: Path) -> MCPServerStdio:
    return MCPServerStdio("node", [str(everything), "stdio"], name="everything", timeout=20)


async def test_the_reference_server_s_tools_keep_their_schemas_exactly(
    everything: Path, no_leaks: None
) -> None:
    async with _stdio(everything) as server:
        tools = {t.name: t for t in await server.list_tools()}
        raw = await server._request("tools/list", lambda s: s.list_tools())
    assert {"echo", "get-sum", "get-structured-content"} <= set(tools)
    for spec in raw.tools:
        assert tools[spec.name].definition.parameters == spec.input_schema
        assert tools[spec.name].description == spec.description
    summed = tools["get-sum"].definition.parameters
    assert summed["properties"]["a"] == {"type": "number", "description": "First number"}
    assert summed["required"] == ["a", "b"]


async def test_a_call_returns_the_server_s_result(everything: Path, no_leaks: None) -> None:
    async with _stdio(everything) as server:
        tools = await server.list_tools()
        summed = await _run(tools, "get-sum", {"a": 2, "b": 3})
        echoed = await _run(tools, "echo", {"message": "hi"})
        weather = await server.call_tool("get-structured-content", {"location": "Chicago"})
        image = await _run(tools, "get-tiny-image", {})
    assert (summed.outcome, summed.content) == ("ok", "The sum of 2 and 3 is 5.")
    assert echoed.content == "Echo: hi"
    assert weather == {"temperature": 36, "conditions": "Light rain / drizzle", "humidity": 82}
    assert "[image: image/png, 4033 bytes]" in image.content  # described, not dropped


async def test_invalid_arguments_are_explained_and_never_reach_the_server(
    everything: Path, no_leaks: None
) -> None:
    async with _stdio(everything) as server:
        calls: list[str] = []
        real = server.call_tool

        async def counted(name: str, arguments: dict[str, Any] | None = None) -> Any:
            calls.append(name)
            return await real(name, arguments)

        server.call_tool = counted  # type: ignore[method-assign]
        tools = await server.list_tools()
        bad = await _run(tools, "get-sum", {"a": "two"})
        good = await _run(tools, "get-sum", {"a": 1, "b": 1})
    assert bad.outcome == "invalid_arguments"
    assert "- (arguments): 'b' is a required property" in bad.content
    assert "- a: 'two' is not of type 'number'" in bad.content
    assert calls == ["get-sum"]
    assert good.outcome == "ok"


async def test_an_error_result_is_a_tool_error_the_model_reads(
    everything: Path, no_leaks: None
) -> None:
    async with _stdio(everything) as server:
        tools = await server.list_tools()
        failed = await _run(tools, "get-resource-reference", {"resourceId": 0})
        with pytest.raises(MCPToolError, match="Invalid resourceId"):
            await server.call_tool("get-resource-reference", {"resourceId": 0})
    assert failed.outcome == "error"
    assert failed.content.startswith("Tool 'get-resource-reference' failed: MCPToolError:")
    assert "Invalid resourceId: 0" in failed.content


async def test_resources_are_listed_read_and_offered_as_a_tool(
    everything: Path, no_leaks: None
) -> None:
    async with _stdio(everything) as server:
        resources = await server.list_resources()
        templates = await server.list_resource_templates()
        doc = next(r for r in resources if r.uri.endswith("/features.md"))
        text = await server.read_resource(doc.uri)
        dynamic = await server.read_resource("demo://resource/dynamic/text/7")
        blob = await server.read_resource("demo://resource/dynamic/blob/7")  # text/plain base64
        reader = await server.resource_tool()
        via_tool = await _run([reader], "read_resource", {"uri": doc.uri})
    assert doc.mime_type == "text/markdown"
    assert "## Tools" in text
    assert dynamic.startswith("Resource 7: This is a plaintext resource")
    assert blob.startswith("Resource 7: This is a base64 blob")
    assert any(t.uri_template.endswith("/text/{resourceId}") for t in templates)
    assert doc.uri in reader.description
    assert "{resourceId}" in reader.description
    assert (via_tool.outcome, via_tool.content) == ("ok", text)


async def test_prompts_are_listed_and_filled_in(everything: Path, no_leaks: None) -> None:
    async with _stdio(everything) as server:
        prompts = {p.name: p for p in await server.list_prompts()}
        simple = await server.get_prompt("simple-prompt")
        filled = await server.get_prompt("args-prompt", {"city": "Paris", "state": "Texas"})
    args = prompts["args-prompt"].arguments
    assert [(a.name, a.required) for a in args] == [("city", True), ("state", False)]
    assert simple == [UserMessage("This is a simple prompt without arguments.")]
    assert filled == [UserMessage("What's weather in Paris, Texas?")]


async def test_the_reference_server_over_streamable_http(everything_url: str) -> None:
    async with MCPServerHTTP(everything_url, name="everything", prefix=True) as server:
        tools = await server.list_tools()
        summed = await _run(tools, "everything_get-sum", {"a": 20, "b": 22})
        text = await server.read_resource("demo://resource/dynamic/text/1")
        prompt = await server.get_prompt("args-prompt", {"city": "Oslo"})
    assert summed.content == "The sum of 20 and 22 is 42."
    assert text.startswith("Resource 1:")
    assert prompt == [UserMessage("What's weather in Oslo?")]


async def test_an_unreachable_http_server_is_a_clear_error() -> None:
    server = MCPServerHTTP(f"http://127.0.0.1:{_free_port()}/mcp", name="nowhere", timeout=5)
    with pytest.raises(MCPConnectionError, match="'nowhere'"):
        await server.connect()
    await server.close()


async def test_an_agent_calls_an_mcp_tool_and_answers_with_its_result(
    everything: Path, no_leaks: None
) -> None:
    seen: list[ModelParams] = []

    def model(messages: Sequence[Message], params: ModelParams) -> str | ToolCall:
        seen.append(params)
        results = [m for m in messages if isinstance(m, ToolResultMessage)]
        if not results:
            return ToolCall("get-sum", {"a": 17, "b": 25})
        return f"The tool says: {results[-1].content}"

    async with _stdio(everything) as server:
        agent = Agent(FunctionModel(model), tools=await server.list_tools())
        result = await agent.run("What is 17 + 25?")
    assert result.status == "completed"
    assert result.output == "The tool says: The sum of 17 and 25 is 42."
    offered = {d.name: d for d in seen[0].tools}
    assert offered["get-sum"].parameters["required"] == ["a", "b"]


async def test_a_tool_name_providers_refuse_is_offered_under_one_they_take(
    no_leaks: None,
) -> None:
    # "notes.count": offered as "notes_count" (OpenAI takes [A-Za-z0-9_-]{1,64}), called
    # on the server by its own name.
    async with _server("dotted") as server:
        tools = {t.name: t for t in await server.list_tools()}
        assert "notes_count" in tools
        assert "notes.count" not in tools
        out = await _run(list(tools.values()), "notes_count", {"text": "buy milk today"})
    assert out.outcome == "ok"
    assert "3" in out.content


# --- servers that misbehave -------------------------------------------------------------


async def test_a_crash_is_a_tool_error_and_the_next_call_restarts_the_server(
    no_leaks: None,
) -> None:
    async with _server("crash") as server:
        tools = await server.list_tools()
        first = await server.call_tool("pid")
        crashed = await _run(tools, "die", {})
        again = await _run(tools, "pid", {})
    assert crashed.outcome == "error"
    assert "MCPConnectionError: MCP server 'crash' closed the connection" in crashed.content
    assert "restarted on the next call" in crashed.content
    assert again.outcome == "ok"
    assert again.value != first


async def test_restarts_are_bounded(no_leaks: None) -> None:
    async with _server("crash", max_restarts=1) as server:
        for _ in range(2):
            with pytest.raises(MCPConnectionError, match="closed the connection"):
                await server.call_tool("die")
        with pytest.raises(MCPConnectionError, match=r"failed 2 times in a row.*max_restarts=1"):
            await server.call_tool("add", {"a": 1, "b": 1})
        await server.connect()  # asked for explicitly: a fresh start
        assert await server.call_tool("add", {"a": 1, "b": 1}) == {"result": 2}


async def test_a_call_that_never_returns_times_out_and_the_run_goes_on(no_leaks: None) -> None:
    model = ScriptedModel(
        [ToolCall("wait_forever", {}), ToolCall("add", {"a": 2, "b": 2}), "It is 4."]
    )
    async with _server("hang", timeout=1) as server:
        result = await Agent(model, tools=await server.list_tools()).run("2 + 2?")
    assert (result.status, result.output) == ("completed", "It is 4.")
    outcomes = [m for m in result.messages if isinstance(m, ToolResultMessage)]
    assert "did not answer the call of tool 'wait_forever' within 1 s" in outcomes[0].content
    assert outcomes[1].content == '{"result":4}'


async def test_output_that_is_not_mcp_is_ignored_or_reported(no_leaks: None) -> None:
    async with _server("garbage", timeout=1) as server:
        tools = await server.list_tools()
        spoke = await _run(tools, "babble", {})
        silent = await _run(tools, "garble", {})
    assert (spoke.outcome, spoke.content) == ("ok", "said it anyway")
    assert silent.outcome == "error"
    assert "did not answer" in silent.content
    assert "it wrote output that is not MCP: 'this is not json-rpc'" in silent.content


async def test_a_program_that_is_not_an_mcp_server_fails_to_connect_clearly(
    no_leaks: None,
) -> None:
    # The start-up gets its own bound: long enough for the interpreter to come up and
    # write its line on a loaded machine, while requests keep their short one.
    server = _server("not_mcp", timeout=1, connect_timeout=6)
    with pytest.raises(MCPConnectionError) as caught:
        await server.connect()
    assert "did not complete the MCP handshake within 6 s" in str(caught.value)
    assert "'hello, I am not an MCP server'" in str(caught.value)
    await server.close()


def test_the_start_up_bound_is_separate_from_the_request_bound() -> None:
    assert _server("basic", timeout=1).connect_timeout == 30  # a slow start is not a hang
    assert _server("basic", timeout=90).connect_timeout == 90
    assert _server("basic", timeout=1, connect_timeout=2).connect_timeout == 2
    for bad in (0, -1, float("nan")):
        with pytest.raises(ConfigError, match="connect_timeout must be > 0"):
            _server("basic", connect_timeout=bad)
    with pytest.raises(ConfigError, match="timeout must be > 0"):
        _server("basic", timeout=float("nan"))


async def test_a_missing_program_fails_to_connect_clearly() -> None:
    server = MCPServerStdio("/nonexistent/mcp-server", name="ghost")
    with pytest.raises(MCPConnectionError, match="'ghost' could not be started"):
        await server.list_tools()


async def test_a_tool_list_change_is_followed(no_leaks: None) -> None:
    async with _server("changing") as server:
        before = await server.list_tools()
        assert await server.list_tools() == before  # cached: nothing changed
        version = server.tools_version
        await server.call_tool("grow")
        for _ in range(500):  # the notification arrives on its own
            if server.tools_version != version:
                break
            await asyncio.sleep(0.01)
        after = await server.list_tools()
        product = await _run(after, "multiply", {"a": 6, "b": 7})
    assert server.tools_version == version + 1
    assert [t.name for t in before] == ["add", "grow"]
    assert [t.name for t in after] == ["add", "grow", "multiply"]
    assert product.content == '{"result":42}'


@pytest.mark.slow
async def test_closing_a_hung_server_stops_its_process(no_leaks: None) -> None:
    server = _server("frozen", timeout=1)
    await server.connect()
    with pytest.raises(MCPTimeoutError):
        await server.call_tool("freeze")
    started = time.monotonic()
    await server.close()
    assert time.monotonic() - started < 15
    assert _tasks_left() == set()


async def test_close_leaves_no_task_and_the_server_can_connect_again(no_leaks: None) -> None:
    server = _server("basic", prefix="notes_")
    async with server:
        assert [t.name for t in await server.list_tools()] == ["notes_add", "notes_fail"]
    assert not server.connected
    assert _tasks_left() == set()
    async with server:
        assert await server.call_tool("add", {"a": 1, "b": 2}) == {"result": 3}


async def test_a_server_used_from_another_event_loop_is_refused() -> None:
    server: MCPServer = _server("basic")
    await server.connect()
    try:
        outcome: list[BaseException] = []

        def elsewhere() -> None:
            try:
                asyncio.run(server.list_tools())
            except BaseException as exc:
                outcome.append(exc)

        await asyncio.to_thread(elsewhere)
        assert "another event loop" in str(outcome[0])
    finally:
        await server.close()


# --- tools from a JSON schema -----------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
    "required": ["city"],
    "additionalProperties": False,
}


async def _forecast(args: dict[str, Any]) -> str:
    return f"{args['city']}: sunny for {args.get('days', 1)} day(s)"


def test_a_schema_tool_shows_its_schema_exactly() -> None:
    t = Tool.from_schema(name="forecast", description="Weather.", parameters=SCHEMA, fn=_forecast)
    assert t.definition.parameters == SCHEMA
    assert t.definition.parameters is not SCHEMA  # a copy: later changes do not leak in
    assert (t.is_async, t.ctx_param, t.secrets) == (True, None, ())


def test_a_schema_tool_validates_against_its_schema() -> None:
    t = Tool.from_schema(name="forecast", description="Weather.", parameters=SCHEMA, fn=_forecast)
    assert t.validate('{"city": "Oslo", "days": 2}') == {"city": "Oslo", "days": 2}
    with pytest.raises(InvalidArguments) as caught:
        t.validate({"days": 0, "extra": True})
    problems = str(caught.value).splitlines()
    assert "- (arguments): 'city' is a required property" in problems
    assert any(p.startswith("- days: 0 is less than the minimum of 1") for p in problems)
    with pytest.raises(InvalidArguments, match="not valid JSON"):
        t.validate("{city")
    with pytest.raises(InvalidArguments, match="expected a JSON object, got list"):
        t.validate("[1]")
    with pytest.raises(ConfigError, match="has no pydantic model"):
        _ = t.args_model


async def test_a_schema_tool_runs_in_an_agent() -> None:
    t = Tool.from_schema(name="forecast", description="Weather.", parameters=SCHEMA, fn=_forecast)
    model = ScriptedModel(
        [ToolCall("forecast", {"days": "two"}), ToolCall("forecast", {"city": "Oslo"}), "ok"]
    )
    result = await Agent(model, tools=[t]).run("Weather in Oslo?")
    results = [m for m in result.messages if isinstance(m, ToolResultMessage)]
    assert results[0].content.startswith("Invalid arguments for tool 'forecast':")
    assert "- days: 'two' is not of type 'integer'" in results[0].content
    assert results[1].content == "Oslo: sunny for 1 day(s)"


def test_an_invalid_schema_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a valid JSON schema"):
        Tool.from_schema(name="bad", description="", parameters={"type": "nonsense"}, fn=_forecast)


# --- the embedded model -----------------------------------------------------------------


@pytest.fixture(scope="session")
def local_model() -> None:
    """Skip (fail in CI) when llama-cpp-python or the model weights are not installed."""
    import importlib.util

    from tether.models.local import _weights

    why = None
    if importlib.util.find_spec("llama_cpp") is None:
        why = "llama-cpp-python is not installed (pip install 'tether[local]')"
    else:
        try:
            _weights._part_files()
        except ConfigError as exc:
            why = str(exc)
    if why is not None:
        if os.environ.get("CI"):  # CI installs the local extra: a missing model is a failure
            pytest.fail(f"the embedded-model MCP test needs the local extra: {why}")
        pytest.skip(f"the embedded-model MCP test needs the local extra: {why}")


@pytest.mark.slow
async def test_the_embedded_model_uses_an_mcp_tool(
    local_model: None, everything: Path, no_leaks: None
) -> None:
    async with _stdio(everything) as server:
        tools = [t for t in await server.list_tools() if t.name in ("get-sum", "echo")]
        agent = Agent("local", tools=tools)
        result = await agent.run("What is 1234 plus 4321?")
    calls = [e for e in result.events if isinstance(e, ToolCallFinished)]
    assert result.completed, result.reason
    assert [(c.name, c.outcome) for c in calls][:1] == [("get-sum", "ok")]
    assert "5555" in str(result.output)
