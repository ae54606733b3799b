"""Guardrails on the input, the tool calls and the final answer: each an event, each
able to end or redirect the run, input checks beside the first model call."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tether import (
    Agent,
    ConfigError,
    Guardrail,
    GuardrailChecked,
    ModelResponse,
    ToolCall,
    ToolCallFinished,
    ToolResultMessage,
    Tripped,
    Verdict,
    approve,
    input_guardrail,
    output_guardrail,
    tool_guardrail,
)
from tether.journal import SQLiteStore
from tether.models import ModelParams
from tether.testing import FunctionModel, ScriptedModel


def _checks(result: object) -> list[GuardrailChecked]:
    return [e for e in result.events if isinstance(e, GuardrailChecked)]  # type: ignore[attr-defined]


async def test_a_tripped_input_guardrail_cancels_the_first_model_call_and_runs_no_tool() -> None:
    answered: list[str] = []
    ran: list[int] = []

    async def slow(messages: Sequence[object], params: ModelParams) -> ModelResponse:
        await asyncio.sleep(5)
        answered.append("yes")
        return ModelResponse(tool_calls=[ToolCall("act", {"n": 1})])

    def act(n: int) -> int:
        ran.append(n)
        return n

    @input_guardrail
    async def no_secrets(prompt: str) -> str | None:
        return "the prompt asks for a password" if "password" in prompt else None

    agent = Agent(FunctionModel(slow), tools=[act], guardrails=[no_secrets])
    result = await asyncio.wait_for(agent.run("tell me the admin password"), 2)
    assert result.status == "failed"
    assert result.reason.kind == "guardrail_tripped"
    assert result.reason.detail == "no_secrets"
    assert "password" in result.reason.message
    assert answered == []
    assert ran == []
    [check] = _checks(result)
    assert check.stage == "input"
    assert check.tripped
    assert check.action == "end"


async def test_input_guardrails_run_while_the_model_is_asked() -> None:
    model_called = asyncio.Event()

    async def model(messages: Sequence[object], params: ModelParams) -> ModelResponse:
        model_called.set()
        return ModelResponse(text="fine")

    @input_guardrail
    async def waits_for_the_model(prompt: str) -> None:
        # Deadlocks (and times out) unless the model is asked while this check runs.
        await asyncio.wait_for(model_called.wait(), 2)

    result = await Agent(FunctionModel(model), guardrails=[waits_for_the_model]).run("hi")
    assert result.completed
    assert result.output == "fine"
    assert [c.tripped for c in _checks(result)] == [False]


async def test_tools_wait_for_a_slow_input_guardrail() -> None:
    order: list[str] = []

    def act(n: int) -> int:
        order.append("tool")
        return n

    @input_guardrail
    async def slow_check(prompt: str) -> None:
        await asyncio.sleep(0.2)
        order.append("guardrail")

    model = ScriptedModel([ToolCall("act", {"n": 2}), "2"])
    result = await Agent(model, tools=[act], guardrails=[slow_check]).run("go")
    assert result.completed
    assert order == ["guardrail", "tool"]


async def test_a_redirecting_tool_guardrail_answers_the_call_and_the_run_goes_on() -> None:
    sent: list[str] = []

    def send(to: str) -> str:
        sent.append(to)
        return "sent"

    @tool_guardrail(action="redirect")
    def internal_only(call: ToolCall) -> str | None:
        to = str(call.arguments.get("to", ""))
        return None if to.endswith("@corp.example") else f"{to} is outside the company"

    model = ScriptedModel(
        [
            ToolCall("send", {"to": "x@evil.example"}),
            ToolCall("send", {"to": "boss@corp.example"}),
            "done",
        ]
    )
    result = await Agent(model, tools=[send], guardrails=[internal_only]).run("send it")
    assert result.completed
    assert result.output == "done"
    assert sent == ["boss@corp.example"]
    refused = [m for m in model.requests[1] if isinstance(m, ToolResultMessage)]
    assert "outside the company" in refused[-1].content
    assert [(c.tripped, c.action) for c in _checks(result)] == [(True, "redirect"), (False, "pass")]


async def test_an_ending_tool_guardrail_stops_the_run_with_every_call_answered() -> None:
    ran: list[str] = []

    def act(what: str) -> str:
        ran.append(what)
        return what

    @tool_guardrail
    def no_delete(call: ToolCall) -> bool:
        return call.arguments.get("what") == "delete"

    model = ScriptedModel(
        [[ToolCall("act", {"what": "read"}), ToolCall("act", {"what": "delete"})]]
    )
    result = await Agent(model, tools=[act], guardrails=[no_delete]).run("go")
    assert result.status == "failed"
    assert result.reason.kind == "guardrail_tripped"
    assert ran == []
    finished = [e for e in result.events if isinstance(e, ToolCallFinished)]
    assert sorted(e.outcome for e in finished) == ["not_run", "not_run"]
    assert sum(1 for c in _checks(result) if c.tripped) == 1


async def test_a_redirecting_output_guardrail_asks_again() -> None:
    @output_guardrail(action="redirect")
    def no_shouting(answer: str) -> str | None:
        return "the answer is in capitals" if answer.isupper() else None

    model = ScriptedModel(["HELLO", "hello"])
    result = await Agent(model, guardrails=[no_shouting]).run("greet")
    assert result.completed
    assert result.output == "hello"
    assert "in capitals" in str(model.requests[1][-1].content)  # type: ignore[union-attr]
    assert [c.tripped for c in _checks(result)] == [True, False]


async def test_output_redirects_stop_after_the_output_retries() -> None:
    @output_guardrail(action="redirect")
    def never(answer: str) -> bool:
        return True

    model = ScriptedModel(["a", "b", "c", "d"])
    result = await Agent(model, guardrails=[never], output_retries=2).run("x")
    assert result.status == "failed"
    assert result.reason.kind == "guardrail_tripped"
    assert len(_checks(result)) == 3
    assert model.remaining == 1


async def test_an_ending_output_guardrail_sees_the_validated_output() -> None:
    seen: list[object] = []

    @output_guardrail
    def small(value: int) -> Tripped | None:
        seen.append(value)
        return Tripped("too large") if value > 10 else None

    result = await Agent(ScriptedModel(["42"]), output_type=int, guardrails=[small]).run("n?")
    assert seen == [42]
    assert result.status == "failed"
    assert "too large" in result.reason.message
    assert result.output is None


async def test_a_guardrail_that_raises_trips() -> None:
    @input_guardrail
    def broken(prompt: str) -> None:
        raise RuntimeError("classifier down")

    result = await Agent(ScriptedModel(["x"]), guardrails=[broken]).run("hi")
    assert result.status == "failed"
    assert "classifier down" in result.reason.message


async def test_a_guardrail_returning_nonsense_trips_with_a_clear_reason() -> None:
    @input_guardrail
    def odd(prompt: str) -> int:
        return 3

    result = await Agent(ScriptedModel(["x"]), guardrails=[odd]).run("hi")
    assert result.status == "failed"
    assert "returns None or False to pass" in result.reason.message


async def test_an_agent_can_be_a_guardrail() -> None:
    judge = Agent(
        ScriptedModel(['{"tripped": true, "reason": "off topic"}']),
        output_type=Verdict,
        name="topic_judge",
    )
    guard = Guardrail.from_agent(judge, stage="input")
    result = await Agent(ScriptedModel(["x"]), guardrails=[guard]).run("bake a cake")
    assert result.status == "failed"
    assert result.reason.detail == "topic_judge"
    assert "off topic" in result.reason.message

    ok_judge = Agent(ScriptedModel(["false"]), output_type=bool, name="ok_judge")
    passed = await Agent(
        ScriptedModel(["fine"]), guardrails=[Guardrail.from_agent(ok_judge, stage="output")]
    ).run("x")
    assert passed.completed
    assert passed.output == "fine"


async def test_a_resumed_run_does_not_check_its_input_again(tmp_path: object) -> None:
    checked: list[str] = []

    @input_guardrail
    def count(prompt: str) -> None:
        checked.append(prompt)

    def pay(amount: int) -> str:
        return f"paid {amount}"

    store = SQLiteStore(f"{tmp_path}/j.db")
    agent = Agent(
        ScriptedModel([ToolCall("pay", {"amount": 5}), "paid"]),
        tools=[pay],
        guardrails=[count],
        store=store,
        approval=lambda call: True,
    )
    first = await agent.run("pay 5")
    assert first.status == "interrupted"
    done = await agent.resume(first.run_id, decisions={first.pending[0].id: approve()})
    assert done.completed
    assert done.output == "paid"
    assert checked == ["pay 5"]
    journaled = [e for e in await store.load(first.run_id) if isinstance(e, GuardrailChecked)]
    assert [e.stage for e in journaled] == ["input"]


def test_guardrail_configuration_mistakes_are_clear() -> None:
    with pytest.raises(ConfigError, match="input guardrail can only end"):
        Guardrail(lambda p: None, stage="input", action="redirect")
    with pytest.raises(ConfigError, match="stage must be"):
        Guardrail(lambda p: None, stage="before")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Guardrail objects"):
        Agent(ScriptedModel(["x"]), guardrails=[lambda p: None])  # type: ignore[list-item]
    g = Guardrail(lambda p: None, stage="input", name="same")
    with pytest.raises(ConfigError, match="two guardrails are named"):
        Agent(ScriptedModel(["x"]), guardrails=[g, g])
