"""The demo tools and the scripted demo model."""

from __future__ import annotations

import pytest

from helpers import of_type
from tether import Agent, Message, ToolCall, ToolCallFinished, ToolResultMessage, UserMessage
from tether.cli._demo import calculator, convert_units, demo_agent, lookup_capital
from tether.models import ModelParams, known_model_names, resolve_model
from tether.models.demo import demo_model, demo_rules
from tether.testing import ScriptedModel


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2+3*4", 14),
        ("(2+3)*4", 20),
        ("2**3**2", 512),
        ("-2**2", -4),
        ("10 - 4 - 3", 3),
        ("7/2", 3.5),
        ("6/3", 2),
        ("7//2", 3),
        ("7 % 4", 3),
        ("+5", 5),
        ("2**-1", 0.5),
        ("53 \u00f7 8", 6.625),  # printed signs: divided by, times, minus
        ("3 \u00d7 4 \u2212 2", 10),
    ],
)
def test_calculator_respects_precedence(expression: str, expected: float) -> None:
    assert calculator(expression) == expected


def test_calculator_returns_ints_for_integral_results() -> None:
    assert type(calculator("6/3")) is int
    assert type(calculator("7/2")) is float


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os')", "not allowed"),
        ("open('/etc/passwd').read()", "not allowed"),
        ("x + 1", "not allowed"),
        ("True + 1", "not allowed"),
        ("'a' * 3", "not allowed"),
        ("[1, 2]", "not allowed"),
        ("2**100000", "too large"),
        ("(9**999)**9", "too large"),
        ("10.0**400", "too large"),
        ("1/0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("(-8)**0.5", "not a real number"),
        ("1 +", "cannot parse"),
        ("1" * 600, "longer than"),
    ],
)
def test_calculator_refuses_what_is_not_safe_arithmetic(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calculator(expression)


@pytest.mark.parametrize(
    ("value", "src", "dst", "expected"),
    [
        (10, "km", "mi", 6.213712),
        (1, "mi", "ft", 5280.0),
        (1, "kg", "lb", 2.204623),
        (100, "c", "f", 212.0),
        (-40, "F", "C", -40.0),
        (0, "celsius", "k", 273.15),
        (1, "gal", "l", 3.785412),
    ],
)
def test_convert_units(value: float, src: str, dst: str, expected: float) -> None:
    assert convert_units(value, src, dst) == pytest.approx(expected)


def test_convert_units_lists_the_known_units_for_an_unknown_unit() -> None:
    with pytest.raises(ValueError, match="unknown unit 'parsec'") as info:
        convert_units(1, "parsec", "km")
    assert "km, ft, mi, kg, lb, l, gal, c, f, k" in str(info.value)


def test_convert_units_refuses_to_mix_quantities() -> None:
    with pytest.raises(ValueError, match=r"cannot convert km \(length\) to kg \(mass\)"):
        convert_units(1, "km", "kg")


def test_lookup_capital_ignores_case() -> None:
    assert lookup_capital("  vALDORIA ") == "Merrowgate"


def test_lookup_capital_lists_the_known_countries() -> None:
    with pytest.raises(ValueError, match="unknown country 'France'") as info:
        lookup_capital("France")
    assert "Valdoria" in str(info.value)
    assert "Osterwick" in str(info.value)


def test_demo_tools_have_examples_in_their_descriptions() -> None:
    agent = demo_agent()
    for tool in agent.tools.values():
        assert "Example:" in tool.description, tool.name


def test_demo_model_is_registered() -> None:
    assert "demo" in known_model_names()
    assert resolve_model("demo").name == "demo"


@pytest.mark.parametrize(
    ("prompt", "call"),
    [
        ("What is 17*23? Use the calculator.", ToolCall("calculator", {"expression": "17*23"})),
        ("compute (2 + 3) x 4.", ToolCall("calculator", {"expression": "(2 + 3)*4"})),
        (
            "Convert 10 km to mi please",
            ToolCall("convert_units", {"value": 10.0, "from_unit": "km", "to_unit": "mi"}),
        ),
        ("What is the capital of Lunaria?", ToolCall("lookup_capital", {"country": "Lunaria"})),
    ],
)
def test_demo_model_picks_the_tool_from_the_prompt(prompt: str, call: ToolCall) -> None:
    params = ModelParams(tuple(t.definition for t in demo_agent().tools.values()))
    assert demo_rules([UserMessage(prompt)], params) == call


def test_demo_model_does_not_call_tools_it_is_not_offered() -> None:
    reply = demo_rules([UserMessage("What is 2+2?")], ModelParams())
    assert isinstance(reply, str)
    assert "demo model" in reply


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        ("What is 17*23? Use the calculator.", "17*23 = 391"),
        ("convert 100 c to f", "100 c = 212.0 f"),
        ("What is the capital of Valdoria?", "The capital of Valdoria is Merrowgate."),
    ],
)
async def test_demo_agent_answers_from_the_tool_result(prompt: str, answer: str) -> None:
    result = await demo_agent().run(prompt)
    assert result.status == "completed"
    assert result.output == answer
    assert len(of_type(result, ToolCallFinished)) == 1


async def test_demo_agent_explains_a_tool_error() -> None:
    result = await demo_agent().run("What is the capital of Atlantis?")
    assert result.output is not None
    assert "could not answer" in result.output
    assert "known countries: Valdoria" in result.output


async def test_demo_agent_answers_plainly_when_no_tool_fits() -> None:
    result = await demo_agent().run("Write me a poem")
    assert result.status == "completed"
    assert "no LLM" in (result.output or "") or "not an LLM" in (result.output or "")
    assert of_type(result, ToolCallFinished) == []


def test_demo_model_uses_the_first_user_message_despite_orchestrator_notes() -> None:
    params = ModelParams(tuple(t.definition for t in demo_agent().tools.values()))
    history = [UserMessage("What is 6*7?"), UserMessage("Note: you have 2 steps left.")]
    assert demo_rules(history, params) == ToolCall("calculator", {"expression": "6*7"})


def test_demo_model_answers_from_the_last_tool_result() -> None:
    history: list[Message] = [
        UserMessage("What is 6*7?"),
        ToolResultMessage("c1", "calculator", "41"),
        ToolResultMessage("c2", "calculator", "42"),
    ]
    assert demo_rules(history, ModelParams()) == "The calculator tool returned: 42"


async def test_demo_agent_takes_another_model() -> None:
    agent: Agent[None, str] = demo_agent(ScriptedModel(["scripted"]))
    assert (await agent.run("What is 2+2?")).output == "scripted"
    assert demo_model().name == "demo"
