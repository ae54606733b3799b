"""Secrets never reach the journal, the stream, the CLI or the logs.

Canaries are planted in a secret tool parameter (from deps), in one read from the
environment, and in an API key that a real HTTP server echoes in its 401 body; then the
journal files of both stores, the result's events, ``--json``, the live view and the
logs are searched: zero hits.
"""

from __future__ import annotations

import json
import logging
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from tether import Agent, Secret, ToolCall, dump_event
from tether.cli import app
from tether.journal import JournalStore, PostgresStore, SQLiteStore
from tether.testing import ScriptedModel

StoreFactory = Callable[[], JournalStore]
CANARY = "canary-" + uuid.uuid4().hex
ENV_CANARY = "envcanary-" + uuid.uuid4().hex
KEY_CANARY = "sk-keycanary-" + uuid.uuid4().hex
received: list[str] = []


def login(user: str, password: Secret[str]) -> str:
    """Log in and say so."""
    received.append(password)
    return f"logged in {user} with {password}"  # a tool that repeats its secret


def fetch(token: Annotated[SecretStr, Secret(env="TETHER_TEST_TOKEN")]) -> str:
    """Fetch with a token."""
    received.append(token.get_secret_value())
    raise RuntimeError(f"server refused token {token.get_secret_value()}")


async def _journal_text(store: JournalStore) -> str:
    if isinstance(store, SQLiteStore):
        await store.close()
        files = [store.path, *store.path.parent.glob(store.path.name + "-*")]
        return "".join(f.read_bytes().decode("latin-1") for f in files)
    assert isinstance(store, PostgresStore)
    async with await store._conn() as conn:
        cur = await conn.execute("SELECT data FROM events UNION ALL SELECT data FROM blobs")
        rows = [r[0] for r in await cur.fetchall()]
        cur = await conn.execute("SELECT prompt FROM runs")
        rows += [r[0] for r in await cur.fetchall()]
    return "\n".join(rows)


async def test_secret_parameters_reach_the_tool_and_nothing_else(
    make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TETHER_TEST_TOKEN", ENV_CANARY)
    caplog.set_level(logging.DEBUG)
    received.clear()
    store = make_store()
    model = ScriptedModel([[ToolCall("login", {"user": "ada"}), ToolCall("fetch", {})], "done"])
    agent = Agent(model, tools=[login, fetch], store=store)
    streamed: list[str] = []
    stream = agent.run_stream("log in", deps={"password": CANARY})
    async for event in stream:
        streamed.append(json.dumps(dump_event(event)))
    result = stream.result
    assert result.status == "completed"
    assert sorted(received) == sorted([CANARY, ENV_CANARY])  # the tools got the real values
    finished = [e for e in result.events if e.type == "tool_call_finished"]
    assert {e.content for e in finished} == {  # type: ignore[union-attr]
        "logged in ada with ***",
        "Tool 'fetch' failed: RuntimeError: server refused token ***",
    }
    everything = "\n".join(
        [
            *streamed,
            *(json.dumps(dump_event(e)) for e in result.events),
            caplog.text,
            repr(result.messages),
            await _journal_text(store),
        ]
    )
    assert CANARY not in everything
    assert ENV_CANARY not in everything


def test_the_model_never_sees_or_sets_a_secret_parameter() -> None:
    agent = Agent(ScriptedModel([ToolCall("login", {"user": "ada", "password": "x"}), "ok"]))
    tool = Agent(agent.model, tools=[login]).tools["login"]
    assert "password" not in json.dumps(tool.definition.parameters)
    result = Agent(
        ScriptedModel([ToolCall("login", {"user": "ada", "password": "mine"}), "ok"]),
        tools=[login],
    ).run_sync("q", deps={"password": CANARY})
    finished = next(e for e in result.events if e.type == "tool_call_finished")
    assert finished.outcome == "invalid_arguments"  # type: ignore[union-attr]


def test_a_missing_secret_is_an_error_that_says_where_to_put_it() -> None:
    result = Agent(
        ScriptedModel([ToolCall("login", {"user": "ada"}), "ok"]), tools=[login]
    ).run_sync("q")
    finished = next(e for e in result.events if e.type == "tool_call_finished")
    assert finished.outcome == "error"  # type: ignore[union-attr]
    assert "deps under 'password'" in finished.content  # type: ignore[union-attr]


class _EchoKey(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that refuses every key, echoing it in the body."""

    def do_POST(self) -> None:
        key = self.headers.get("Authorization", "")
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoKey)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


AGENT = """
from tether import Agent
from tether.models import RetryingModel
from tether.models.openai import OpenAIModel

agent = Agent(RetryingModel(OpenAIModel("gpt-x", base_url="{url}", api_key="{key}")), name="keyed")
"""


@pytest.mark.allow_model_requests
def test_an_api_key_echoed_by_the_server_is_redacted_everywhere(
    echo_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "keyed_agent.py").write_text(
        textwrap.dedent(AGENT.format(url=echo_server, key=KEY_CANARY))
    )
    monkeypatch.chdir(tmp_path)
    journal = tmp_path / "j.db"
    runner = CliRunner()
    live = runner.invoke(
        app, ["run", "hi", "--agent", "keyed_agent:agent", "--store", str(journal)]
    )
    as_json = runner.invoke(
        app, ["run", "hi", "--agent", "keyed_agent:agent", "--store", str(journal), "--json"]
    )
    assert live.exit_code == as_json.exit_code == 1
    record = json.loads(as_json.stdout)
    assert record["reason"]["kind"] == "model_error"
    assert "Incorrect API key provided" in record["reason"]["message"]  # the error is kept
    files = [journal, *tmp_path.glob("j.db-*")]
    text = live.stdout + live.stderr + as_json.stdout + as_json.stderr
    text += "".join(f.read_bytes().decode("latin-1") for f in files)
    assert KEY_CANARY not in text
    assert "***" in record["reason"]["message"]


def _journal_of(tool: Any, deps: dict[str, Any]) -> str:
    model = ScriptedModel([ToolCall(tool.__name__, {}), "ok"])
    result = Agent(model, tools=[tool]).run_sync("go", deps=deps)
    seen = [m.content for m in model.requests[-1] if m.role == "tool"]
    return "\n".join(json.dumps(dump_event(e)) for e in result.events) + repr(seen)


def test_a_secret_that_holds_another_is_hidden_whole() -> None:
    # Two secrets, one a prefix of the other: whichever order they are redacted in,
    # nothing of the longer one is left.
    def both(password: Secret[str], token: Secret[str]) -> str:
        """Log in."""
        return f"with {password} and {token}"

    for _ in range(5):  # a set's order changes with the values
        tail = uuid.uuid4().hex
        text = _journal_of(both, {"password": "hunter2", "token": f"hunter2-{tail}"})
        assert "with *** and ***" in text
        assert tail not in text


@pytest.mark.parametrize("value", ['pa"ss-1a2b', "pa\\ss-1a2b", "päss-wörd-1a2b", "l1\nl2-1a2b"])
def test_a_secret_repeated_as_json_or_repr_is_redacted(value: str) -> None:
    def as_json(password: Secret[str]) -> str:
        """Log in."""
        return json.dumps({"pw": password})

    def as_repr(password: Secret[str]) -> str:
        """Log in."""
        raise ValueError(f"bad password {password!r}")

    for tool in (as_json, as_repr):
        text = _journal_of(tool, {"password": value})
        assert "1a2b" not in text, tool.__name__
        assert "***" in text


def test_a_number_secret_is_redacted() -> None:
    def pin_login(pin: Secret[int]) -> str:
        """Enter a PIN."""
        return f"pin {pin} accepted"

    text = _journal_of(pin_login, {"pin": 987654321})
    assert "987654321" not in text
    assert "pin *** accepted" in text


def test_a_short_secret_is_hidden_as_a_word_not_inside_other_numbers() -> None:
    def pin_login(pin: Secret[str]) -> str:
        """Enter a PIN."""
        return f"pin {pin} accepted for card 14242 in 2024 (pin={pin})"

    text = _journal_of(pin_login, {"pin": "4242"})
    assert "pin *** accepted for card 14242 in 2024 (pin=***)" in text
    assert " 4242" not in text
    assert "=4242" not in text


async def test_a_secret_of_one_digit_leaves_the_answer_s_other_numbers_alone() -> None:
    def count(step: Secret[int]) -> str:
        """Count."""
        return f"step {step} done"

    model = ScriptedModel([ToolCall("count", {}), "done: 1 2 3, 12 and 21"])
    result = await Agent(model, tools=[count]).run("count", deps={"step": 1})
    journaled = [e.output for e in result.events if e.type == "run_finished"]
    assert journaled == ["done: *** 2 3, 12 and 21"]
    finished = [e.content for e in result.events if e.type == "tool_call_finished"]
    assert finished == ["step *** done"]


def test_a_long_secret_is_hidden_even_inside_a_word() -> None:
    def bearer(token: Secret[str]) -> str:
        """Call the API."""
        return f"Authorization: Bearer{token}x"

    text = _journal_of(bearer, {"token": "sk-abcdef0123"})
    assert "abcdef0123" not in text
    assert "Bearer***x" in text
