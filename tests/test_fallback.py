"""Fallback strategies on giving up: the default, a cheaper model, an agent, a function."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import BaseModel

from helpers import of_type
from tether import (
    Agent,
    AgentFallback,
    Budget,
    ConfigError,
    FallbackContext,
    FinalAnswer,
    Message,
    ModelResponded,
    ModelResponse,
    RunResult,
    StaticAnswer,
    StrategyChanged,
    ToolCall,
    UserMessage,
)
from tether.models import ModelParams
from tether.testing import FunctionModel, ScriptedModel


def lookup(key: str) -> str:
    """Look something up."""
    return f"value of {key}"


def looping(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
    if not params.allow_tools:
        return ModelResponse(text="from the main model")
    return ModelResponse(tool_calls=[ToolCall("lookup", {"key": f"k{len(messages)}"})])


async def test_default_fallback_asks_once_without_tools() -> None:
    seen: list[ModelParams] = []

    def fn(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        seen.append(params)
        return looping(messages, params)

    result = await Agent(FunctionModel(fn), tools=[lookup], budget=Budget(max_steps=2)).run("q")
    assert result.output == "from the main model"
    assert [p.allow_tools for p in seen] == [True, True, False]
    assert seen[-1].tools == ()
    last_request = [e for e in result.events if e.type == "model_requested"][-1]
    assert last_request.tools is False


def _falling_back_on(cheap: ScriptedModel) -> Agent[None, str]:
    """An agent that loops until its step budget ends, then asks ``cheap``."""
    return Agent(
        FunctionModel(looping),
        tools=[lookup],
        budget=Budget(max_steps=2),
        fallback=FinalAnswer(model=cheap),
    )


async def test_final_answer_can_use_a_cheaper_model() -> None:
    cheap = ScriptedModel(["cheap answer"], name="cheap")
    result = await _falling_back_on(cheap).run("q")
    assert (result.status, result.output) == ("gave_up", "cheap answer")
    last = of_type(result, ModelResponded)[-1]
    assert last.response.model == "cheap"
    # The cheap model saw what the run found, and why it stopped.
    note = cheap.requests[0][-1]
    assert isinstance(note, UserMessage)
    assert "steps budget is used up" in note.content
    assert any(getattr(m, "content", "") == "value of k2" for m in cheap.requests[0])


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ('{"name": "lookup", "arguments": {"key": "k3"}}', False),
        ('{"name": "lookup", "parameters": {"key": "k3"}}', False),
        ('{"name": "Ada", "age": 36}', True),  # JSON, but no call
        ("lookup k3, then answer", True),
    ],
)
async def test_a_call_written_as_the_final_answer_is_not_the_output(text: str, kept: bool) -> None:
    result = await _falling_back_on(ScriptedModel([text], name="cheap")).run("q")
    assert result.status == "gave_up"
    assert result.output == (text if kept else None)
    assert of_type(result, ModelResponded)[-1].response.text == text  # kept in the journal


async def test_agent_fallback_gets_the_known_facts_and_its_usage_is_counted() -> None:
    simple_model = ScriptedModel(["simple answer"])
    simple = Agent(simple_model, name="simple")
    agent = Agent(
        FunctionModel(looping), tools=[lookup], budget=Budget(max_steps=2), fallback=simple
    )
    result = await agent.run("the task")
    assert (result.status, result.output) == ("gave_up", "simple answer")
    assert of_type(result, StrategyChanged)[0].strategy == "agent:simple"
    prompt = simple_model.requests[0][1]
    assert isinstance(prompt, UserMessage)
    assert prompt.content.startswith("the task\n\nKnown so far:\n- lookup: value of k2")
    assert result.usage.model_calls == 3  # two steps and the simple agent's call


async def test_function_fallback_gets_the_context() -> None:
    def give_partial(ctx: FallbackContext) -> str:
        return f"{ctx.reason.detail}: {len(ctx.tool_results())} results"

    agent = Agent(
        FunctionModel(looping), tools=[lookup], budget=Budget(max_steps=3), fallback=give_partial
    )
    result = await agent.run("q")
    assert result.output == "steps: 3 results"
    assert of_type(result, StrategyChanged)[0].strategy == "function:give_partial"


async def test_async_function_fallback() -> None:
    async def fixed(ctx: FallbackContext) -> str:
        return "async fixed"

    agent = Agent(
        FunctionModel(looping), tools=[lookup], budget=Budget(max_steps=1), fallback=fixed
    )
    assert (await agent.run("q")).output == "async fixed"


async def test_a_failing_fallback_still_gives_up_cleanly() -> None:
    def broken(ctx: FallbackContext) -> str:
        raise RuntimeError("fallback down")

    agent = Agent(
        FunctionModel(looping), tools=[lookup], budget=Budget(max_steps=1), fallback=broken
    )
    result = await agent.run("q")
    assert result.status == "gave_up"
    assert result.reason.detail == "steps"
    assert "fallback down" in result.reason.message


class Answer(BaseModel):
    value: int


async def test_fallback_output_is_validated_against_the_output_type() -> None:
    def fn(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        if not params.allow_tools:
            return ModelResponse(text='{"value": 7}')
        return looping(messages, params)

    agent = Agent(FunctionModel(fn), tools=[lookup], budget=Budget(max_steps=1), output_type=Answer)
    result = await agent.run("q")
    assert result.output == Answer(value=7)


async def test_invalid_fallback_answer_is_not_passed_off_as_output() -> None:
    agent = Agent(
        FunctionModel(looping), tools=[lookup], budget=Budget(max_steps=1), output_type=Answer
    )
    result = await agent.run("q")
    assert (result.status, result.output) == ("gave_up", None)
    assert of_type(result, ModelResponded)[-1].response.text == "from the main model"


async def test_static_answer() -> None:
    agent = Agent(
        FunctionModel(looping),
        tools=[lookup],
        budget=Budget(max_steps=1),
        fallback=StaticAnswer("sorry"),
    )
    result = await agent.run("q")
    assert (result.output, result.usage.model_calls) == ("sorry", 1)


async def test_agent_fallback_class_can_be_given_explicitly() -> None:
    simple = Agent(ScriptedModel(["ok"]), name="s")
    agent = Agent(
        FunctionModel(looping),
        tools=[lookup],
        budget=Budget(max_steps=1),
        fallback=AgentFallback(simple),
    )
    assert (await agent.run("q")).output == "ok"


async def test_a_failing_fallback_does_not_pass_off_a_written_call_as_output() -> None:
    written = '{"name": "lookup", "arguments": {"key": "k9"}}'

    def fn(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        # the model writes a call as text beside its native call
        call = ToolCall("lookup", {"key": f"k{len(messages)}"})
        return ModelResponse(text=written, tool_calls=[call])

    def broken(ctx: FallbackContext) -> str:
        raise RuntimeError("no fallback today")

    agent = Agent(FunctionModel(fn), tools=[lookup], budget=Budget(max_steps=2), fallback=broken)
    result = await agent.run("q")
    assert result.status == "gave_up"
    assert "no fallback today" in result.reason.message
    assert result.output is None


@pytest.mark.parametrize(
    "echo",
    [
        "The run must stop now: The steps budget is used up (2 of 2).",
        "  the run must stop now:   the steps budget is used up (2 of 2)  ",
        "Do not call any tool.",
        "The steps budget is used up (2 of 2).",
    ],
)
async def test_the_final_answer_is_not_the_instruction_copied_back(echo: str) -> None:
    def fn(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        if not params.allow_tools:
            return ModelResponse(text=echo)  # a small model copies what it was told
        return ModelResponse(tool_calls=[ToolCall("lookup", {"key": f"k{len(messages)}"})])

    agent = Agent(FunctionModel(fn), tools=[lookup], budget=Budget(max_steps=2))
    result = await agent.run("q")
    assert result.status == "gave_up"
    assert result.output is None
    # the copied text stays in the journal, for whoever debugs the run
    assert any(e.response.text == echo for e in of_type(result.events, ModelResponded))


async def test_an_answer_that_mentions_the_budget_is_still_an_answer() -> None:
    answer = "The steps budget ran out, but the value of k1 is 42."

    def fn(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        if not params.allow_tools:
            return ModelResponse(text=answer)
        return ModelResponse(tool_calls=[ToolCall("lookup", {"key": f"k{len(messages)}"})])

    agent = Agent(FunctionModel(fn), tools=[lookup], budget=Budget(max_steps=2))
    assert (await agent.run("q")).output == answer


@pytest.mark.parametrize(
    ("text", "call"),
    [
        ('{"name": "calculator", "arguments": {"expression": "2+2"}}', True),
        ('{"name": "a", "arguments": {}}\n{"name": "b", "arguments": {"x": 1}}', True),
        ('{"name": "a", "arguments": {}}\n{"name": "b", "argum', True),  # the last cut off
        ('{"name": "a", "arguments": {}}\nThe answer is 4.', False),
        ('{"name": "Ottawa", "population": 1000000}', False),
        ('{"name": "a", "argum', False),  # nothing whole: not known to be a call
        ("The answer is 4.", False),
        ("", False),
    ],
)
def test_written_calls_are_recognised_one_or_several(text: str, call: bool) -> None:
    from tether.run._fallback import written_call

    assert written_call(text) is call


async def _giving_up_with(fallback: object, output_type: object = Answer) -> RunResult[Any]:
    agent: Agent[None, Any] = Agent(
        FunctionModel(looping),
        tools=[lookup],
        budget=Budget(max_steps=1),
        output_type=output_type,  # type: ignore[arg-type]
        fallback=fallback,  # type: ignore[arg-type]
    )
    return await agent.run("q")


@pytest.mark.parametrize(
    "fallback",
    [StaticAnswer("not an answer"), lambda ctx: {"x": 1}, StaticAnswer(7)],
    ids=["static text", "function dict", "static int"],
)
async def test_a_fallback_answer_that_is_not_the_output_type_is_no_output(
    fallback: object,
) -> None:
    result = await _giving_up_with(fallback)
    assert (result.status, result.output) == ("gave_up", None)
    assert (result.reason.kind, result.reason.detail) == ("budget_exhausted", "steps")
    assert "but its answer is not a valid Answer" in result.reason.message


@pytest.mark.parametrize(
    "fallback",
    [StaticAnswer('{"value": 3}'), lambda ctx: {"value": "3"}, StaticAnswer(Answer(value=3))],
    ids=["static json text", "function dict", "static model"],
)
async def test_a_fallback_answer_is_parsed_into_the_output_type(fallback: object) -> None:
    result = await _giving_up_with(fallback)
    assert (result.status, result.output) == ("gave_up", Answer(value=3))
    assert result.reason.message == "The steps budget is used up (1 of 1)."


async def test_a_failing_fallback_does_not_pass_off_invalid_last_text_as_output() -> None:
    def fn(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        call = ToolCall("lookup", {"key": f"k{len(messages)}"})
        return ModelResponse(text="Next I check", tool_calls=[call])

    def broken(ctx: FallbackContext) -> int:
        raise RuntimeError("fallback down")

    agent = Agent(
        FunctionModel(fn),
        tools=[lookup],
        budget=Budget(max_steps=2),
        output_type=int,
        fallback=broken,
    )
    result = await agent.run("q")
    assert (result.status, result.output) == ("gave_up", None)
    assert "fallback down" in result.reason.message
    assert "last text is not a valid int" in result.reason.message


async def test_an_answer_the_fallback_model_gave_is_validated_once() -> None:
    # '"null"' is the string "null": parsed again it would become None
    cheap = ScriptedModel(['"null"'], name="cheap")
    result = await _giving_up_with(FinalAnswer(model=cheap), str | None)
    assert (result.status, result.output) == ("gave_up", "null")


async def test_a_final_answer_prompt_may_hold_braces() -> None:
    cheap = ScriptedModel(['{"value": 5}'], name="cheap")
    prompt = 'Stop: {reason} Answer as {"value": <a number>}, nothing else; {other} stays.'
    result = await _giving_up_with(FinalAnswer(model=cheap, prompt=prompt))
    assert (result.status, result.output) == ("gave_up", Answer(value=5))
    asked = cheap.requests[0][-1]
    assert isinstance(asked, UserMessage)
    assert asked.content == (
        "Stop: The steps budget is used up (1 of 1). Answer as "
        '{"value": <a number>}, nothing else; {other} stays.'
    )


def _no_ctx() -> str:
    return "x"


@pytest.mark.parametrize(
    ("fallback", "says"),
    [
        ("hello", "fallback must be a Fallback"),
        (3, "fallback must be a Fallback"),
        (FinalAnswer, "pass an instance"),
        (_no_ctx, "cannot be called as fn(ctx)"),
    ],
)
def test_a_fallback_that_is_no_strategy_is_refused_when_the_agent_is_built(
    fallback: object, says: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)) as err:
        Agent(ScriptedModel(["x"]), fallback=fallback)  # type: ignore[arg-type]
    assert isinstance(err.value, ValueError)
