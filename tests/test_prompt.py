"""The orchestrator prompt: stop rules, the output schema, tool failures; overridable."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from tether import Agent, ConfigError, OrchestratorPrompt, SystemMessage
from tether.testing import ScriptedModel


class Out(BaseModel):
    answer: int


def lookup(key: str) -> str:
    """Find a value by key, e.g. lookup(key="a")."""
    return key


async def _system(agent: Agent[None, object], model: ScriptedModel) -> str:
    await agent.run("q")
    first = model.requests[0][0]
    assert isinstance(first, SystemMessage)
    return first.content


async def test_default_prompt_states_stop_rules_schema_and_tool_failures() -> None:
    model = ScriptedModel(['{"answer": 1}'])
    agent = Agent(model, instructions="You count.", tools=[lookup], output_type=Out)
    text = await _system(agent, model)  # type: ignore[arg-type]
    assert text.startswith("You count.")
    assert "When to stop:" in text
    assert "Give your final answer as soon as you can answer the task." in text
    assert "When a tool fails:" in text
    assert '"required":["answer"]' in text
    assert '- lookup: Find a value by key, e.g. lookup(key="a").' in text


async def test_text_output_is_described_as_plain_text() -> None:
    model = ScriptedModel(["x"])
    text = await _system(Agent(model), model)  # type: ignore[arg-type]
    assert "A plain text message, with no tool call." in text
    assert "(none: answer directly)" in text


async def test_users_can_extend_the_default() -> None:
    model = ScriptedModel(["x"])
    agent = Agent(model, prompt=OrchestratorPrompt(extra="Always answer in French."))
    text = await _system(agent, model)  # type: ignore[arg-type]
    assert text.rstrip().endswith("Always answer in French.")


async def test_users_can_replace_the_template() -> None:
    model = ScriptedModel(["x"])
    prompt = OrchestratorPrompt(template="ROLE: {instructions} | TOOLS: {tools}")
    agent = Agent(model, instructions="be brief", tools=[lookup], prompt=prompt)
    text = await _system(agent, model)  # type: ignore[arg-type]
    assert text.startswith("ROLE: be brief | TOOLS: - lookup:")


def test_a_template_with_unknown_fields_is_refused() -> None:
    with pytest.raises(ConfigError, match="may use only the fields"):
        OrchestratorPrompt(template="{instructions} {nonsense}")
