"""Orchestration fixes: tool guardrails see JSON text arguments as a dict, deep JSON from
a tool or the model does not crash a run, a guardrail's ``SystemExit`` trips it, an int
too long to print in a call's arguments does not break the journal, and ``load_event``
refuses deep JSON with a JournalError."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tether import (
    Agent,
    Budget,
    GuardrailChecked,
    JournalError,
    ToolCall,
    ToolCallFinished,
    ToolCallStarted,
    ToolResultMessage,
    load_event,
    output_guardrail,
    tool_guardrail,
)
from tether._messages import plain_call
from tether.journal import SQLiteStore
from tether.models import ModelParams
from tether.run._fallback import written_call
from tether.run.strategies import _heuristics as h
from tether.testing import FunctionModel, ScriptedModel

DEEP = "[" * 100_000  # what a broken model or a hostile page may hold


def send(to: str, body: str = "") -> str:
    """Send an email."""
    return f"sent to {to}"


@tool_guardrail(action="redirect")
def internal_mail_only(call: ToolCall) -> str | None:  # as docs/safety.md writes it
    to = str(call.arguments.get("to", ""))  # type: ignore[union-attr]
    return None if to.endswith("@corp.example") else f"{to} is outside the company"


def _checks(result: object) -> list[GuardrailChecked]:
    return [e for e in result.events if isinstance(e, GuardrailChecked)]  # type: ignore[attr-defined]


def _finished(result: object) -> list[ToolCallFinished]:
    return [e for e in result.events if isinstance(e, ToolCallFinished)]  # type: ignore[attr-defined]


# --- 1. a tool guardrail sees JSON text arguments as a dict --------------------------------


async def test_a_tool_guardrail_reads_json_text_arguments_as_a_dict() -> None:
    call = ToolCall("send", '{"to": "bob@corp.example", "body": "hi"}', "c1")
    agent = Agent(ScriptedModel([call, "Sent."]), tools=[send], guardrails=[internal_mail_only])
    result = await agent.run("Mail bob")
    assert result.output == "Sent."
    assert [(c.action, c.reason) for c in _checks(result)] == [("pass", "")]
    assert [e.content for e in _finished(result)] == ["sent to bob@corp.example"]
    # The call that ran, and the journal, keep the model's text; the call is not changed.
    started = [e for e in result.events if isinstance(e, ToolCallStarted)]
    assert started[0].call.arguments == '{"to": "bob@corp.example", "body": "hi"}'
    assert call.arguments == '{"to": "bob@corp.example", "body": "hi"}'


async def test_a_tool_guardrail_still_refuses_json_text_arguments_it_rejects() -> None:
    call = ToolCall("send", '{"to": "eve@evil.example"}')
    agent = Agent(ScriptedModel([call, "Done."]), tools=[send], guardrails=[internal_mail_only])
    result = await agent.run("Mail eve")
    assert [(c.action, c.reason) for c in _checks(result)] == [
        ("redirect", "eve@evil.example is outside the company")
    ]
    assert "Not run" in _finished(result)[0].content


async def test_a_tool_guardrail_gets_arguments_that_are_no_json_object_as_text() -> None:
    seen: list[object] = []

    @tool_guardrail
    def look(call: ToolCall) -> None:
        seen.append(call.arguments)

    calls = [ToolCall("send", '{"to": '), ToolCall("send", '["a", "b"]'), ToolCall("send", DEEP)]
    agent = Agent(ScriptedModel([*calls, "Done."]), tools=[send], guardrails=[look])
    result = await agent.run("Mail")
    assert result.status == "completed"
    assert seen == ['{"to": ', '["a", "b"]', DEEP]


# --- 2. deep JSON from a tool or the model does not crash the run --------------------------


def _fetch_then_answer(messages: Sequence[object], params: ModelParams) -> ToolCall | str:
    if any(isinstance(m, ToolResultMessage) for m in messages):
        return "The page is empty."
    return ToolCall("fetch", {"url": "http://example.org"})


def fetch(url: str) -> str:
    """Fetch a web page by its url."""
    return "[" * 1500 + "]" * 1500  # 3 KB of hostile page text


@pytest.mark.parametrize("strategy", ["tool_loop", "guided"])
async def test_a_tool_result_of_deeply_nested_brackets_does_not_crash_the_run(
    strategy: str,
) -> None:
    agent = Agent(
        FunctionModel(_fetch_then_answer),
        tools=[fetch],
        strategy=strategy,
        budget=Budget(max_steps=4),
    )
    result = await agent.run("fetch http://example.org and tell me what is on it")
    assert result.status == "completed", result.reason


async def test_a_fallback_answer_of_deeply_nested_brackets_gives_up_without_crashing() -> None:
    count = itertools.count()

    def get(key: str) -> str:
        """Get a value."""
        return f"value of {key}"

    def model(messages: Sequence[object], params: ModelParams) -> ToolCall | str:
        if not params.tools:  # the fallback's last call, tools off
            return DEEP
        return ToolCall("get", {"key": str(next(count))})

    agent = Agent(FunctionModel(model), tools=[get], budget=Budget(max_steps=2))
    result = await agent.run("go")
    assert (result.status, result.reason.kind) == ("gave_up", "budget_exhausted")


def test_json_helpers_read_deep_brackets_as_not_json() -> None:
    assert written_call(DEEP) is False
    assert written_call('{"name": "f", "arguments": {}} ' + DEEP) is False
    assert h.structured(DEEP) is False
    assert h.json_field(DEEP, "a") is None
    assert h.field_value("It is 5.", "what is it?", DEEP) is None


# --- 3. a guardrail that tries to exit the process trips ------------------------------------


async def test_an_output_guardrail_that_raises_system_exit_trips() -> None:
    @output_guardrail
    def checker(answer: str) -> None:
        raise SystemExit("checker gave up")

    result = await Agent(ScriptedModel(["hello"]), guardrails=[checker]).run("hi")
    assert (result.status, result.reason.kind) == ("failed", "guardrail_tripped")
    assert "SystemExit: checker gave up" in result.reason.message


async def test_a_tool_guardrail_that_raises_system_exit_refuses_the_call() -> None:
    @tool_guardrail(action="redirect")
    def exits(call: ToolCall) -> None:
        raise SystemExit(3)

    agent = Agent(
        ScriptedModel([ToolCall("send", {"to": "a@corp.example"}), "Done."]),
        tools=[send],
        guardrails=[exits],
    )
    result = await agent.run("Mail")
    assert result.output == "Done."
    assert _checks(result)[0].tripped
    assert "SystemExit" in _finished(result)[0].content


async def test_a_guardrail_that_raises_cancelled_error_of_its_own_trips() -> None:
    @output_guardrail
    async def cancels(answer: str) -> None:
        raise asyncio.CancelledError

    result = await Agent(ScriptedModel(["hello"]), guardrails=[cancels]).run("hi")
    assert (result.status, result.reason.kind) == ("failed", "guardrail_tripped")


async def test_a_keyboard_interrupt_in_a_guardrail_is_not_swallowed() -> None:
    @output_guardrail
    def interrupted(answer: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await interrupted.check("hello")


async def test_cancelling_a_check_cancels_it_rather_than_tripping() -> None:
    @output_guardrail
    async def slow(answer: str) -> None:
        await asyncio.sleep(5)

    task = asyncio.ensure_future(slow.check("hello"))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- 4. an int too long to print in a call's arguments --------------------------------------


def add(a: int, b: int) -> int:
    """Add."""
    return a + b


async def test_an_int_too_long_to_print_in_arguments_is_invalid_and_journaled(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "journal.db")
    call = ToolCall("add", {"a": 10**5000, "b": 1})
    result = await Agent(ScriptedModel([call, "done"]), tools=[add], store=store).run("add")
    assert result.status == "completed"
    assert _finished(result)[0].outcome == "invalid_arguments"
    back = await store.load(result.run_id)
    assert [e.type for e in back] == [e.type for e in result.events]
    assert back[-1].type == "run_finished"


def test_plain_call_writes_arguments_holding_an_unprintable_int_as_text() -> None:
    for args in ({"a": 10**5000}, {"a": {"b": [1, 10**5000]}}):
        fit = plain_call(ToolCall("add", args, "c1"))
        assert isinstance(fit.arguments, str)
        assert (fit.name, fit.id) == ("add", "c1")
    call = ToolCall("add", {"a": 10**500, "b": -(10**500), "c": True}, "c2")
    assert plain_call(call) is call  # long ints that print are kept as they are


# --- 5. load_event on deep JSON ---------------------------------------------------------------


@pytest.mark.parametrize(
    "record", [DEEP, '{"type": "run_started", "v": 5, "x": ' + DEEP + "}", DEEP.encode()]
)
def test_load_event_refuses_deeply_nested_json_with_a_journal_error(record: str | bytes) -> None:
    with pytest.raises(JournalError, match="nested too deep"):
        load_event(record)


def test_the_fallback_answers_when_the_time_budget_is_spent() -> None:
    # The default fallback's last model call is made after the limit: it must not run
    # under the 0 s the budget has left (every model that awaits was cut off at once).

    from tether import Budget

    keys = itertools.count()

    def lookup(key: str) -> str:
        """Look a key up."""
        return f"value of {key}"

    async def answer(messages: list[Any], params: Any) -> Any:
        await asyncio.sleep(0.01)  # a model that takes a moment, as any real one does
        if not params.tools:  # the fallback's call: tools off
            return "Best answer so far: value of k0."
        return ToolCall("lookup", {"key": f"k{next(keys)}"})

    agent = Agent(
        FunctionModel(answer), tools=[lookup], budget=Budget(max_steps=None, max_seconds=0.3)
    )
    result = agent.run_sync("go")
    assert (result.status, result.reason.detail) == ("gave_up", "seconds")
    assert result.output == "Best answer so far: value of k0."


def test_a_fallback_that_raises_system_exit_gives_up_instead_of_exiting() -> None:
    from tether import Budget

    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    def exiting_fallback(ctx: Any) -> str:
        raise SystemExit("fallback gave up")

    model = ScriptedModel([ToolCall("add", {"a": i, "b": 1}) for i in range(5)])
    agent = Agent(model, tools=[add], budget=Budget(max_steps=2), fallback=exiting_fallback)
    result = agent.run_sync("go")
    assert result.status == "gave_up"
    assert "failed too: fallback gave up" in result.reason.message
