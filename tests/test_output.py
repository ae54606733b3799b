"""Structured output: validation, retries with the errors, and failure with a reason."""

from __future__ import annotations

import json

from pydantic import BaseModel

from helpers import of_type
from tether import Agent, OutputInvalid, UserMessage
from tether.testing import ScriptedModel


class City(BaseModel):
    name: str
    population: int


async def test_valid_json_becomes_the_output_model() -> None:
    model = ScriptedModel(['{"name": "Oslo", "population": 700000}'])
    result = await Agent(model, output_type=City).run("x")
    assert result.status == "completed"
    assert result.output == City(name="Oslo", population=700000)


async def test_code_fences_are_accepted() -> None:
    model = ScriptedModel(['```json\n{"name": "Rome", "population": 1}\n```'])
    result = await Agent(model, output_type=City).run("x")
    assert result.output == City(name="Rome", population=1)


async def test_invalid_answer_goes_back_with_the_errors_then_succeeds() -> None:
    model = ScriptedModel(['{"name": "Oslo"}', '{"name": "Oslo", "population": 5}'])
    result = await Agent(model, output_type=City).run("x")
    assert result.status == "completed"
    assert result.output == City(name="Oslo", population=5)
    invalid = of_type(result, OutputInvalid)
    assert len(invalid) == 1
    assert "population: Field required" in invalid[0].errors
    retry_note = model.requests[1][-1]
    assert isinstance(retry_note, UserMessage)
    assert "population: Field required" in retry_note.content


async def test_output_retries_run_out_into_a_failed_run() -> None:
    model = ScriptedModel(["not json", "still not", "nope"])
    result = await Agent(model, output_type=City, output_retries=2).run("x")
    assert result.status == "failed"
    assert result.reason.kind == "output_invalid"
    assert "failed validation 3 times" in result.reason.message
    assert result.output is None
    assert [e.attempt for e in of_type(result, OutputInvalid)] == [1, 2, 3]


async def test_plain_types_accept_bare_values() -> None:
    result = await Agent(ScriptedModel(["391"]), output_type=int).run("x")
    assert result.output == 391
    result = await Agent(ScriptedModel(["[1, 2]"]), output_type=list[int]).run("x")
    assert result.output == [1, 2]


async def test_empty_answer_is_invalid() -> None:
    result = await Agent(ScriptedModel(["", "fine"])).run("x")
    assert result.status == "completed"
    assert result.output == "fine"
    assert of_type(result, OutputInvalid)[0].errors == "the answer was empty"


async def test_output_schema_reaches_the_model_and_the_prompt() -> None:
    model = ScriptedModel(['{"name": "a", "population": 1}'])
    await Agent(model, output_type=City).run("x")
    schema = model.params[0].output_schema
    assert schema is not None
    assert schema["required"] == ["name", "population"]
    system = model.requests[0][0]
    assert json.dumps(schema, separators=(",", ":")) in system.content  # type: ignore[union-attr]
