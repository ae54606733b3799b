"""The guided strategy, driven by fake models: fast and deterministic."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Literal

import pytest
from pydantic import BaseModel

from helpers import of_type, types
from tether import (
    Agent,
    Budget,
    Message,
    ModelRequested,
    ModelResponded,
    ModelResponse,
    NoteAdded,
    OrchestratorPrompt,
    OutputInvalid,
    RunResult,
    StaticAnswer,
    StrategyChanged,
    SystemMessage,
    Tool,
    ToolCall,
    ToolCallFinished,
    ToolCallStarted,
    ToolResultMessage,
    TurnRecorded,
    UserMessage,
)
from tether.cli._demo import calculator, convert_units, lookup_capital
from tether.journal import JournalStore
from tether.models import ModelParams
from tether.models.demo import demo_model
from tether.run.strategies import GUIDED_PROMPT, TECHNIQUES, GuidedStrategy
from tether.run.strategies import _heuristics as h
from tether.testing import FunctionModel, Reply, ScriptedModel

StoreFactory = Callable[[], JournalStore]

TOOLS = [calculator, convert_units, lookup_capital]


def guided(model: ScriptedModel | FunctionModel, **flags: bool) -> Agent[None, str]:
    return Agent(model, tools=TOOLS, strategy=GuidedStrategy(**flags))


def asking(model: ScriptedModel | FunctionModel, **flags: bool) -> Agent[None, str]:
    """A guided agent that asks the model after every result (no question tracking)."""
    return guided(model, track_question=False, **flags)


def calc(expression: str) -> ToolCall:
    return ToolCall("calculator", {"expression": expression})


async def resumed_at_every_cut(
    make_store: StoreFactory,
    agent: Callable[[JournalStore], Agent[None, str]],
    question: str,
    expected: str,
) -> list[RunResult[str]]:
    """Run the question, then resume it from every cut of its journal in a fresh
    store; each resumed run ends with the same answer and keeps the journal's prefix."""
    original = await agent(make_store()).run(question)
    assert original.output == expected
    events = original.events
    out: list[RunResult[str]] = []
    for cut in range(1, len(events) - 1):
        store = make_store()
        await store.append(original.run_id, events[:cut])
        result = await agent(store).resume(original.run_id)
        assert result.output == expected, cut
        assert result.events[:cut] == events[:cut], cut
        out.append(result)
        await store.close()
    return out


async def test_a_text_decision_is_answered_again_in_a_fresh_context_without_tools() -> None:
    model = ScriptedModel(["The capital of France is Paris.", "Paris"])
    # doubt_answers off: the question names lookup_capital; this is the answer's path
    agent = guided(model, sentence_recall=False, doubt_answers=False)
    result = await agent.run("What is the capital of France?")
    assert result.completed
    assert result.output == "Paris"
    assert result.usage.model_calls == 2
    assert result.usage.tool_calls == 0
    assert result.reason.message == "The model gave a final answer."
    assert not model.params[1].allow_tools
    system, question = model.requests[1]
    assert isinstance(system, SystemMessage)
    assert "No tool is available." in system.content
    assert question == UserMessage("What is the capital of France?")


async def test_without_fresh_answers_the_decisions_text_is_the_answer() -> None:
    model = ScriptedModel(["Paris"])
    agent = guided(model, fresh_answers=False, doubt_answers=False)  # see above
    result = await agent.run("What is the capital of France?")
    assert result.output == "Paris"
    assert result.usage.model_calls == 1


async def test_the_decision_is_asked_with_the_tools_and_the_models_own_choice() -> None:
    model = ScriptedModel(["Paris"])
    await guided(model).run("What is the capital of France?")
    params = model.params[0]
    assert params.allow_tools
    assert params.tool_choice == "auto"
    assert [t.name for t in params.tools] == ["calculator", "convert_units", "lookup_capital"]


async def test_a_restated_result_ends_the_run_with_the_tools_result() -> None:
    model = ScriptedModel([calc("17*23"), "17*23 is 391."])
    result = await guided(model).run("What is 17*23?")
    assert result.completed
    assert result.output == "391"
    assert "orchestrator answered with the result of calculator" in result.reason.message


async def test_a_miscopied_name_is_replaced_by_the_tools_result() -> None:
    model = ScriptedModel(
        [ToolCall("lookup_capital", {"country": "Quenland"}), "The capital is Port Haloway."]
    )
    result = await guided(model).run("What is the capital of Quenland?")
    assert result.output == "Port Halloway"


async def test_calling_again_with_the_result_ends_the_run() -> None:
    model = ScriptedModel([calc("17*23"), calc("391")])
    result = await asking(model).run("What is 17*23?")
    assert result.output == "391"
    assert result.usage.tool_calls == 1
    assert result.usage.model_calls == 2


async def test_the_same_call_again_ends_the_run() -> None:
    model = ScriptedModel([calc("17*23"), calc("17 * 23".replace(" ", ""))])
    result = await guided(model).run("What is 17*23?")
    assert result.output == "391"
    assert result.usage.tool_calls == 1


async def test_after_each_result_the_model_is_told_to_answer_if_it_can() -> None:
    model = ScriptedModel([calc("17*23"), "391"])
    result = await asking(model).run("What is 17*23?")
    last = model.requests[1][-1]
    assert isinstance(last, UserMessage)
    assert last.content == "Tool calculator returned 391. If this answers the question, answer now."
    assert [e.content for e in of_type(result, NoteAdded)] == [last.content]


async def test_an_invalid_call_is_generated_again_with_the_tool_forced() -> None:
    model = ScriptedModel(
        [ToolCall("calculator", {"expr": "17*23"}), calc("17*23"), "The answer is 391"]
    )
    result = await guided(model).run("What is 17*23?")
    assert result.output == "391"
    forced = model.params[1]
    assert forced.tool_choice == "calculator"
    assert [t.name for t in forced.tools] == ["calculator"]
    started = of_type(result, ToolCallStarted)
    assert [s.call.arguments for s in started] == [{"expression": "17*23"}]


async def test_a_call_of_an_unknown_tool_is_generated_again_among_all_tools() -> None:
    model = ScriptedModel([ToolCall("calc", "17*23"), calc("17*23"), "391"])
    await guided(model).run("What is 17*23?")
    assert model.params[1].tool_choice == "required"
    assert len(model.params[1].tools) == 3


async def test_without_repair_an_invalid_call_is_run_and_its_error_fed_back() -> None:
    model = ScriptedModel([ToolCall("calculator", {"expr": "17*23"}), calc("17*23"), "391"])
    agent = Agent(model, tools=TOOLS, strategy=GuidedStrategy(repair_calls=False))
    result = await agent.run("What is 17*23?")
    outcomes = [e.outcome for e in of_type(result, ToolCallFinished)]
    assert outcomes == ["invalid_arguments", "ok"]
    note = model.requests[1][-1]
    assert isinstance(note, UserMessage)
    assert note.content.startswith("Tool calculator failed: Invalid arguments")
    assert result.output == "391"


async def test_a_failing_tool_is_reported_and_the_model_may_answer_without_it() -> None:
    model = ScriptedModel(
        [ToolCall("lookup_capital", {"country": "France"}), "The capital of France is Paris."]
    )
    result = await guided(model).run("What is the capital of France?")
    assert [e.outcome for e in of_type(result, ToolCallFinished)] == ["error"]
    assert result.output == "Paris"  # the value alone (short_answers)
    assert of_type(result, TurnRecorded)[-1].text == "The capital of France is Paris."
    results = [m for m in model.requests[1] if isinstance(m, ToolResultMessage)]
    assert results[0].is_error
    assert "unknown country" in results[0].content


async def test_a_result_that_uses_the_whole_question_ends_the_run_at_once() -> None:
    model = ScriptedModel([calc("17*23")])
    result = await guided(model).run("What is 17*23?")
    assert result.output == "391"
    assert result.usage.model_calls == 1
    assert "orchestrator answered with the result of calculator" in result.reason.message


async def test_what_the_question_still_needs_is_named_to_the_model() -> None:
    model = ScriptedModel([calc("48"), calc("48*2")])
    result = await guided(model, complete_steps=False).run("What is 48 times 2?")
    note = model.requests[1][-1]
    assert isinstance(note, UserMessage)
    assert note.content.endswith("Not used yet from the question: 2.")
    assert result.output == "96"


async def test_sequential_clauses_are_asked_one_at_a_time_from_the_last_result() -> None:
    model = ScriptedModel(
        [
            ToolCall("convert_units", {"value": 5, "from_unit": "mi", "to_unit": "km"}),
            calc("8.04672*2"),
        ]
    )
    result = await guided(model).run("Convert 5 miles to km, then double it.")
    assert result.output == "16.09344"
    assert [e.name for e in of_type(result, ToolCallFinished)] == ["convert_units", "calculator"]
    assert result.usage.model_calls == 2
    first, second = (r[1:] for r in model.requests)
    assert first == [UserMessage("Convert 5 miles to km.")]
    assert second == [UserMessage("8.04672, then double it.")]


def test_clauses_split_on_then() -> None:
    from tether.run.strategies._heuristics import clauses as _clauses

    assert _clauses("Add 15 to 27, then convert that many miles to km.") == [
        "Add 15 to 27",
        "convert that many miles to km",
    ]
    assert _clauses("What is 17*23?") == ["What is 17*23?"]


async def test_an_answer_that_combines_several_results_is_kept() -> None:
    model = ScriptedModel(
        [
            ToolCall("lookup_capital", {"country": "Valdoria"}),
            ToolCall("lookup_capital", {"country": "Quenland"}),
            "Merrowgate and Port Halloway",
        ]
    )
    result = await guided(model).run("What are the capitals of Valdoria and Quenland?")
    assert result.output == "Merrowgate and Port Halloway"
    assert result.reason.message == "The model gave a final answer."


async def test_parallel_valid_calls_run_together() -> None:
    model = ScriptedModel(
        [
            [
                ToolCall("lookup_capital", {"country": "Valdoria"}),
                ToolCall("lookup_capital", {"country": "Quenland"}),
            ],
            "Merrowgate and Port Halloway",
        ]
    )
    result = await guided(model).run("What are the capitals of Valdoria and Quenland?")
    assert result.usage.tool_calls == 2
    assert result.usage.model_calls == 2


async def test_the_run_gives_up_through_the_fallback_when_the_budget_is_used() -> None:
    countries = ["Valdoria", "Quenland", "Estrevia", "Norrhaven", "Brisalta"]

    def always_call(messages: Sequence[Message], params: ModelParams) -> Reply:
        n = sum(isinstance(m, ToolResultMessage) for m in messages)
        return ToolCall("lookup_capital", {"country": countries[n]})

    agent = Agent(
        FunctionModel(always_call),
        tools=TOOLS,
        strategy=GuidedStrategy(complete_steps=False, fan_out=False),
        budget=Budget(max_steps=3),
        fallback=StaticAnswer("sorry"),
    )
    result = await agent.run("Tell me about Valdoria, Quenland, Estrevia and Norrhaven")
    assert result.status == "gave_up"
    assert result.reason.kind == "budget_exhausted"
    assert result.output == "sorry"
    assert len(of_type(result, StrategyChanged)) == 1
    assert result.usage.model_calls == 3
    assert result.usage.tool_calls == 3


async def test_without_call_checks_a_loop_is_detected_like_in_the_tool_loop() -> None:
    calls = [calc("3+4"), calc("5+6")] * 4
    agent = Agent(
        ScriptedModel(calls),
        tools=TOOLS,
        strategy=GuidedStrategy(check_calls=False, track_question=False),
        fallback=StaticAnswer("x"),
    )
    result = await agent.run("Loop")
    assert result.status == "gave_up"
    assert result.reason.kind == "loop_detected"


async def test_feeding_the_result_back_into_the_same_tool_ends_the_run() -> None:
    model = ScriptedModel([calc("81 / 9"), calc("9 / 9")])
    result = await guided(model).run("Compute 81 / 9.")
    assert result.output == "9"
    assert result.usage.tool_calls == 1


async def test_a_call_copied_from_the_tools_example_is_not_run() -> None:
    model = ScriptedModel([calc("12*7"), "8"])
    result = await guided(model, plain_reask=False).run("How many legs does a spider have?")
    assert result.output == "8"
    assert result.usage.tool_calls == 0
    assert not model.params[1].allow_tools


async def test_a_copied_call_is_decided_again_once_without_the_examples() -> None:
    model = ScriptedModel([calc("12*7"), calc("12*7"), "8"])
    result = await guided(model).run("How many legs does a spider have?")
    assert result.output == "8"
    assert result.usage.tool_calls == 0
    reask = model.params[1]
    assert reask.allow_tools
    assert reask.tool_choice == "auto"
    described = [t.description for t in reask.tools]
    described += [str(t.parameters) for t in reask.tools]
    assert described
    assert not any("Example" in d or "e.g." in d for d in described)
    assert [r for r in model.requests[1] if isinstance(r, UserMessage)] == [
        UserMessage("How many legs does a spider have?")
    ]
    assert not model.params[2].allow_tools  # the second copy: an answer without tools


async def test_a_number_from_the_example_that_the_task_lacks_is_a_copy() -> None:
    copied = ToolCall("convert_units", {"value": 10, "from_unit": "km", "to_unit": "mi"})
    model = ScriptedModel([copied, copied, "8.04672"])
    result = await guided(model, ground_numbers=False).run("Convert 5 miles to kilometers.")
    assert result.usage.tool_calls == 0
    assert result.output == "8.04672"


async def test_a_number_the_task_lacks_is_replaced_by_the_one_the_question_left() -> None:
    copied = ToolCall("convert_units", {"value": 10, "from_unit": "mi", "to_unit": "km"})
    model = ScriptedModel([copied])
    result = await guided(model).run("Convert 5 miles to kilometers.")
    (started,) = of_type(result, ToolCallStarted)
    assert started.call.parsed_arguments() == {"value": 5, "from_unit": "mi", "to_unit": "km"}
    assert result.output == "8.04672"


def test_renumbered_only_with_one_stray_number_and_one_left() -> None:
    from tether.run.strategies import _heuristics as h

    pens = ToolCall("price", {"item": "pens", "quantity": 5}, "a")
    assert h.renumbered(pens, "What do fifty pens cost?", []) == {"item": "pens", "quantity": 50}
    assert h.renumbered(pens, "What do 5 pens cost?", []) is None  # the number is the task's
    assert h.renumbered(pens, "What do pens cost?", []) is None  # no number left to take
    assert h.renumbered(pens, "Pens: 50 or 60 of them?", []) is None  # two left: which?
    both = ToolCall("f", {"a": 7, "b": 8}, "b")
    assert h.renumbered(both, "f of 3", []) is None  # two stray numbers
    # a number a result holds is the task's
    found = h.Fact(ToolCall("count", {"item": "pens"}, "c"), "5", True)
    assert h.renumbered(pens, "Price of as many pens as in stock, 12 boxes?", [found]) is None


async def test_an_example_value_that_the_task_names_is_not_a_copy() -> None:
    model = ScriptedModel([ToolCall("lookup_capital", {"country": "Valdoria"}), "Merrowgate"])
    result = await guided(model).run("What is the capital of Valdoria?")
    assert result.usage.tool_calls == 1
    assert result.output == "Merrowgate"


async def test_repeating_a_failed_call_makes_the_model_answer_without_tools() -> None:
    country = ToolCall("lookup_capital", {"country": "France"})
    model = ScriptedModel([country, ToolCall("lookup_capital", {"country": "France"}), "Paris"])
    result = await guided(model, complete_steps=False).run("What is the capital of France?")
    assert result.output == "Paris"
    assert result.usage.tool_calls == 1
    assert not model.params[2].allow_tools


async def test_going_back_to_an_earlier_call_makes_the_model_answer_without_tools() -> None:
    model = ScriptedModel([calc("3+4"), calc("5+6"), calc("3+4"), "7 and 11"])
    result = await guided(model).run("What are 3+4 and 5+6?")
    assert result.output == "7 and 11"
    assert result.usage.tool_calls == 2
    assert not model.params[3].allow_tools


async def test_every_step_is_journaled() -> None:
    model = ScriptedModel([calc("17*23"), "391"])
    result = await asking(model).run("What is 17*23?")
    assert types(result) == [
        "run_started",
        "model_requested",
        "model_responded",
        "turn_recorded",  # the call the orchestrator settled on (journal v2)
        "tool_call_started",
        "tool_call_finished",
        "note_added",
        "model_requested",
        "model_responded",
        "run_finished",
    ]
    assert all(e.tools for e in of_type(result, ModelRequested))


async def test_a_numeric_result_becomes_a_typed_output_without_another_call() -> None:
    model = ScriptedModel([calc("17*23"), "391"])
    agent = Agent(model, tools=TOOLS, output_type=int, strategy=GuidedStrategy())
    result = await agent.run("What is 17*23?")
    assert result.output == 391
    assert result.usage.model_calls == 1


async def test_an_answer_not_in_the_output_type_takes_one_constrained_finishing_step() -> None:
    model = ScriptedModel(["about seven", "7"])
    agent = Agent(model, tools=TOOLS, output_type=int, strategy=GuidedStrategy(fresh_answers=False))
    result = await agent.run("How many days are in a week?")
    assert result.output == 7
    assert model.params[1].json_schema == {"type": "integer"}
    assert not model.params[1].allow_tools
    assert len(of_type(result, OutputInvalid)) == 1


async def test_answers_that_stay_invalid_fail_the_run() -> None:
    model = ScriptedModel(["about seven", "seven", "sieben"])
    agent = Agent(
        model,
        tools=TOOLS,
        output_type=int,
        strategy=GuidedStrategy(fresh_answers=False),
        output_retries=2,
    )
    result = await agent.run("How many days are in a week?")
    assert result.status == "failed"
    assert result.reason.kind == "output_invalid"


async def test_without_finishing_with_results_the_models_answer_is_kept() -> None:
    model = ScriptedModel([calc("17*23"), "17*23 is 391."])
    result = await asking(model, finish_with_results=False).run("What is 17*23?")
    assert result.output == "17*23 is 391."


async def test_without_result_notes_the_model_gets_only_the_result() -> None:
    model = ScriptedModel([calc("17*23"), "391"])
    await asking(model, result_notes=False).run("What is 17*23?")
    assert isinstance(model.requests[1][-1], ToolResultMessage)


async def test_a_constrained_decision_picks_a_tool_then_its_arguments() -> None:
    model = ScriptedModel(['{"next": "calculator"}', calc("17*23"), '{"next": "answer"}', "391"])
    result = await asking(model, native_decision=False).run("What is 17*23?")
    assert result.output == "391"
    schema = model.params[0].json_schema
    assert schema is not None
    assert schema["properties"]["next"]["enum"] == [
        "calculator",
        "convert_units",
        "lookup_capital",
        "answer",
    ]
    assert model.params[1].tool_choice == "calculator"
    assert not model.params[3].allow_tools


async def test_the_compact_prompt_replaces_only_the_default_prompt() -> None:
    model = ScriptedModel(["hi", "hi"])
    await guided(model, fresh_answers=False).run("hi")
    system = model.requests[0][0]
    assert isinstance(system, SystemMessage)
    assert system.content.startswith("Use a tool when the question needs one")
    custom = OrchestratorPrompt(extra="Be brief.")
    strategy = GuidedStrategy(fresh_answers=False)
    await Agent(model, tools=TOOLS, prompt=custom, strategy=strategy).run("hi")
    system = model.requests[1][0]
    assert isinstance(system, SystemMessage)
    assert "Be brief." in system.content
    assert GUIDED_PROMPT.template not in system.content


async def test_the_demo_model_drives_the_guided_strategy() -> None:
    agent = Agent(demo_model(), tools=TOOLS, strategy=GuidedStrategy())
    result = await agent.run("What is 17*23? Use the calculator.")
    assert result.output == "391"


def test_repr_names_the_techniques_switched_off() -> None:
    assert repr(GuidedStrategy()) == "GuidedStrategy()"
    assert repr(GuidedStrategy(result_notes=False)) == "GuidedStrategy(result_notes=False)"
    assert set(TECHNIQUES) <= set(vars(GuidedStrategy()))


@pytest.mark.parametrize(
    ("answer", "result", "prompt", "expected"),
    [
        ("The capital of Valdoria is Merowgate.", "Merrowgate", "Capital of Valdoria?", True),
        ("Merrowgate and Port Halloway", "Port Halloway", "Capitals of V and Q?", False),
        ("2,262,000", "2262000", "Combined population?", True),
        ("10 km is 6.21 miles", "6.213712", "Convert 10 km to miles.", True),
        ("Valdoria has more people", "640000", "Which has more people?", False),
        ("", "391", "What is 17*23?", False),
    ],
)
def test_restating_a_result(answer: str, result: str, prompt: str, expected: bool) -> None:
    from tether.run.strategies._heuristics import restates as _restates

    earlier = ["Merrowgate", "812000"]
    assert _restates(answer, result, prompt, earlier) is expected


# --- second tries and checks against the question ----------------------------------------------


def population(country: str) -> int:
    """How many people live in a country.

    Args:
        country: the country's name.
    """
    return {"Valdoria": 812_000, "Quenland": 1_450_000}[country]


def pop(country: str) -> ToolCall:
    return ToolCall("population", {"country": country})


async def test_a_result_that_leaves_the_question_unfinished_forces_the_next_call() -> None:
    model = ScriptedModel([calc("48"), calc("48*2")])
    result = await guided(model).run("What is 48 times 2?")
    assert result.output == "96"
    nxt = model.params[1]
    assert nxt.tool_choice == "required"
    system, question = model.requests[1]  # a fresh context: the question and the facts
    assert isinstance(system, SystemMessage)
    assert isinstance(question, UserMessage)
    assert question.content.startswith("What is 48 times 2?\n\nKnown so far: ")
    assert "Not used yet from the question: 2." in question.content
    requested = of_type(result, ModelRequested)
    assert [e.purpose for e in requested] == ["decide", "next"]


async def test_a_forced_call_that_uses_nothing_new_is_not_run_and_other_tools_are_tried() -> None:
    model = ScriptedModel([calc("15 + 27"), calc("15 + 27"), calc("42 * 3")])
    result = await guided(model).run("What is (15 + 27) * 3?")
    assert result.output == "126"
    assert [p.tool_choice for p in model.params] == ["auto", "required", "convert_units"]
    assert [e.call.arguments for e in of_type(result, ToolCallStarted)] == [
        {"expression": "15 + 27"},
        {"expression": "42 * 3"},
    ]
    # the part already worked out is replaced by its result in the question asked
    assert model.requests[1][-1].content.startswith("What is (42) * 3?")  # type: ignore[union-attr]


async def test_when_no_tool_makes_progress_the_last_result_ends_the_run() -> None:
    model = ScriptedModel([calc("15 + 27"), *[calc("15 + 27")] * 3])
    result = await guided(model).run("What is (15 + 27) * 3?")
    assert result.output == "42"
    assert [p.tool_choice for p in model.params] == [
        "auto",
        "required",
        "convert_units",
        "lookup_capital",
    ]
    assert result.usage.tool_calls == 1


async def test_an_earlier_call_spelled_out_in_an_argument_is_replaced_by_its_result() -> None:
    model = ScriptedModel([calc("15 + 27"), calc("calculator(expression='15 + 27') * 3")])
    result = await guided(model).run("What is (15 + 27) * 3?")
    assert result.output == "126"
    assert of_type(result, ToolCallStarted)[1].call.arguments == {"expression": "42 * 3"}


async def test_complete_steps_off_lets_the_model_decide_freely() -> None:
    model = ScriptedModel([calc("48"), calc("48*2")])
    await guided(model, complete_steps=False).run("What is 48 times 2?")
    assert model.params[1].tool_choice == "auto"


async def test_a_call_with_nothing_from_the_question_is_not_run() -> None:
    model = ScriptedModel([calc("7*24"), "no tool needed", "7"])
    result = await guided(model, sentence_recall=False).run("How many days are in a week?")
    assert result.output == "7"
    assert result.usage.tool_calls == 0
    assert [e.purpose for e in of_type(result, ModelRequested)] == ["decide", "reask", "answer"]


async def test_without_the_relevance_check_such_a_call_runs() -> None:
    model = ScriptedModel([calc("7*24"), "168"])
    result = await guided(model, check_relevance=False).run("How many days are in a week?")
    assert result.usage.tool_calls == 1


async def test_a_sum_done_in_the_head_is_worked_out_again_with_a_tool() -> None:
    model = ScriptedModel([pop("Valdoria"), pop("Quenland"), "2000000", calc("812000+1450000")])
    agent = Agent(model, tools=[calculator, population], strategy=GuidedStrategy(fan_out=False))
    result = await agent.run("What is the combined population of Valdoria and Quenland?")
    assert result.output == "2262000"
    purposes = [e.purpose for e in of_type(result, ModelRequested)]
    assert purposes == ["decide", "next", "answer", "recompute"]
    assert model.params[3].tool_choice == "required"


async def test_a_name_answer_is_not_recomputed() -> None:
    model = ScriptedModel([pop("Valdoria"), pop("Quenland"), "Quenland"])
    strategy = GuidedStrategy(fan_out=False, compare_values=False)
    agent = Agent(model, tools=[calculator, population], strategy=strategy)
    result = await agent.run("Which has more people, Valdoria or Quenland?")
    assert result.output == "Quenland"
    assert result.usage.model_calls == 3


async def test_a_code_the_question_does_not_mean_is_replaced_by_the_one_it_does() -> None:
    wrong = ToolCall("convert_units", {"value": 5, "from_unit": "m", "to_unit": "km"})
    model = ScriptedModel([wrong])
    result = await guided(model).run("Convert 5 miles to kilometers.")
    assert result.output == "8.04672"
    started = of_type(result, ToolCallStarted)
    assert started[0].call.arguments == {"value": 5, "from_unit": "mi", "to_unit": "km"}


async def test_codes_the_question_names_are_kept() -> None:
    call = ToolCall("convert_units", {"value": 3.5, "from_unit": "km", "to_unit": "m"})
    model = ScriptedModel([call])
    result = await guided(model).run("How many meters is 3.5 km?")
    assert of_type(result, ToolCallStarted)[0].call.arguments == call.arguments
    assert float(result.output) == 3500


async def test_without_grounding_the_wrong_code_is_used() -> None:
    wrong = ToolCall("convert_units", {"value": 5, "from_unit": "m", "to_unit": "km"})
    model = ScriptedModel([wrong])
    # (code_words off too: it would see "miles" unused and ask for another call)
    result = await guided(model, ground_codes=False, code_words=False).run(
        "Convert 5 miles to kilometers."
    )
    assert result.output == "0.005"


async def test_a_failed_call_holding_two_names_becomes_two_calls() -> None:
    both = ToolCall("lookup_capital", {"country": "Valdoria and Quenland"})
    model = ScriptedModel([both, "Merrowgate and Port Halloway"])
    result = await guided(model).run("What are the capitals of Valdoria and Quenland?")
    started = [e.call.arguments for e in of_type(result, ToolCallStarted)]
    assert started == [
        {"country": "Valdoria and Quenland"},  # it fails: no such country
        {"country": "Valdoria"},
        {"country": "Quenland"},
    ]
    assert result.output == "Merrowgate and Port Halloway"


async def test_a_name_inside_a_longer_argument_is_not_split() -> None:
    call = ToolCall("lookup_capital", {"country": "Valdoria and Quenland border"})
    model = ScriptedModel([call, "x"])
    result = await guided(model, check_relevance=False).run(
        "What are the capitals of Valdoria and Quenland?"
    )
    started = [e.call.arguments for e in of_type(result, ToolCallStarted)]
    assert started[0] == {"country": "Valdoria and Quenland border"}


# --- techniques a model declares ---------------------------------------------------------------


def test_a_model_declares_the_guided_techniques_it_does_better_without() -> None:
    from tether.models import RetryingModel
    from tether.models.local import LocalModel
    from tether.run.strategies import resolve_strategy

    large = LocalModel(size="large")  # nothing is loaded until the first request
    strategy = Agent(large).strategy
    assert isinstance(strategy, GuidedStrategy)
    assert not strategy.finish_with_results
    assert strategy.complete_steps
    wrapped = Agent(RetryingModel(large)).strategy  # wrappers forward the options
    assert isinstance(wrapped, GuidedStrategy)
    assert not wrapped.finish_with_results
    small = Agent(LocalModel()).strategy
    assert isinstance(small, GuidedStrategy)
    assert small.finish_with_results
    explicit = GuidedStrategy(check_relevance=False)
    assert Agent(large, strategy=explicit).strategy is explicit  # an explicit strategy wins
    with pytest.raises(ValueError, match="known: native_decision"):
        resolve_strategy("guided", {"no_such_technique": False})
    with pytest.raises(ValueError, match="takes no options"):
        resolve_strategy("tool_loop", {"finish_with_results": False})


async def test_repeating_a_failed_call_tries_another_call_for_the_question() -> None:
    model = ScriptedModel([calc("48 x 2"), calc("48 x 2"), calc("48*2")])
    result = await guided(model).run("What is 48 times 2?")
    assert result.output == "96"
    assert [e.outcome for e in of_type(result, ToolCallFinished)] == ["error", "ok"]
    assert model.params[2].tool_choice == "required"
    assert "Use from the question: 48, 2." in str(model.requests[2][-1])


async def test_an_answer_that_is_a_call_in_all_but_name_is_generated_again_as_a_call() -> None:
    text = '{"name": "multiply", "arguments": {"a": 17, "b": 23}}'
    model = ScriptedModel([text, calc("17*23")])
    result = await guided(model).run("What is 17 times 23?")
    assert result.output == "391"
    assert model.params[1].tool_choice == "required"
    assert [e.purpose for e in of_type(result, ModelRequested)] == ["decide", "repair"]


# --- the judgements behind the second tries, as pure functions ---------------------------------


def test_codes_are_read_from_the_tools_own_description() -> None:
    from tether.run.strategies import _heuristics as h

    codes = h.glossary(
        ["Units: m (meters), mi (miles), c, f, k (degrees Celsius, Fahrenheit, Kelvin)."]
    )
    assert codes == {
        "m": {"meters"},
        "mi": {"miles"},
        "c": {"celsius"},
        "f": {"fahrenheit"},
        "k": {"kelvin"},
    }
    args = {"value": 1, "from_unit": "m", "to_unit": "k"}
    assert h.grounded_codes(args, "What is 1 mile in kelvin?", codes)["from_unit"] == "mi"
    ambiguous = {"m": {"meters"}, "mi": {"miles"}, "ml": {"milliliters"}}
    # "m" stays when two explained codes could be meant
    assert h.grounded_codes({"u": "m"}, "miles or milliliters?", ambiguous) == {"u": "m"}


def test_calls_spelled_out_inside_arguments_are_found() -> None:
    from tether.run.strategies import _heuristics as h

    tools = {"lookup": object(), "calculator": object()}
    inner = h.inner_call("lookup(country='Valdoria') + 5", tools, "c1")
    assert inner == ToolCall("lookup", {"country": "Valdoria"}, "c1_inner")
    assert h.inner_call("unknown(x='1') + 5", tools, "c1") is None
    fact = h.Fact(ToolCall("lookup", {"country": "Valdoria"}, "c0"), "812000", True)
    resolved = h.resolve_references('lookup(country="Valdoria") / 100', [fact], list(tools))
    assert resolved == "812000 / 100"
    other = h.resolve_references("lookup(country='Quenland') / 100", [fact], list(tools))
    assert other == "lookup(country='Quenland') / 100"  # not the call that was made


def test_the_question_is_rewritten_with_the_parts_already_worked_out() -> None:
    from tether.run.strategies import _heuristics as h

    fact = h.Fact(calc("15 + 27"), "42", True)
    assert h.rewrite_question("What is (15+27) * 3?", [fact]) == "What is (42) * 3?"
    single = h.Fact(ToolCall("lookup", {"country": "Valdoria"}, "c"), "812000", True)
    question = "What is the population of Valdoria halved?"
    assert h.rewrite_question(question, [single]) == question  # a single name stays
    weird = h.Fact(calc("1 + 1"), "a\\b", True)
    assert h.rewrite_question("What is 1 + 1, then?", [weird]) == "What is a\\b, then?"


def test_json_results_are_records_and_read_as_lines() -> None:
    from tether.run.strategies import _heuristics as h

    assert h.structured('{"status": "shipped", "items": 3}')
    assert not h.structured('{"only": 1}')
    assert not h.structured("812000")
    assert not h.structured("{not json")
    assert h.readable('{"status": "shipped", "items": 3}') == "status: shipped, items: 3"
    assert h.readable('[{"day": 1}, {"day": 2}]') == "\n- day: 1\n- day: 2\n"
    assert h.readable("plain") == "plain"


def test_calls_in_all_but_name_are_recognised() -> None:
    from tether.run.strategies import _heuristics as h

    assert h.looks_like_call('{"name": "count_vowels", "arguments": {"text": "x"}}')
    assert h.looks_like_call("{'text': 'stressed', 'what': 'letters'}")
    assert h.looks_like_call('{name: calculator, arguments: {"expression": "2 + 2"}}')
    assert not h.looks_like_call("Paris")
    assert not h.looks_like_call('{"answer": 42}')
    assert not h.looks_like_call(None)


def test_relevance_takes_numbers_names_and_words_of_the_question() -> None:
    from tether.run.strategies import _heuristics as h

    assert not h.relevant(calc("7*24"), "How many days are in a week?", [])
    assert h.relevant(calc("2**12"), "What is 2 to the power of 12?", [])
    assert h.relevant(
        calc("92000*2"),
        "What is twice the population of Norrhaven?",
        [h.Fact(ToolCall("lookup", {"country": "Norrhaven"}, "c"), "92000", True)],
    )
    washers = ToolCall("stock", {"item": "washers"}, "c")
    assert h.relevant(washers, "How many washer rings are left?", [])  # the same stem
    assert h.relevant(ToolCall("now", {}, "c"), "What time is it?", [])  # nothing to judge
    assert h.relevant(ToolCall("unit", {"u": "km"}, "c"), "Anything?", [])  # codes are not judged


async def test_a_json_result_is_picked_from_by_the_model() -> None:
    def order(order_id: str) -> str:
        """An order as JSON.

        Args:
            order_id: the order's id.
        """
        return '{"order_id": "A-1", "status": "shipped", "items": 3}'

    model = ScriptedModel([ToolCall("order", {"order_id": "A-1"}), "shipped"])
    whole_record = GuidedStrategy(field_values=False)  # not the named field alone
    result = await Agent(model, tools=[order], strategy=whole_record).run(
        "What is the status of order A-1?"
    )
    assert result.output == "shipped"
    question = model.requests[1][-1]
    assert isinstance(question, UserMessage)
    assert "status: shipped, items: 3" in question.content
    whole = ScriptedModel([ToolCall("order", {"order_id": "A-1"})])
    off = await Agent(whole, tools=[order], strategy=GuidedStrategy(pick_fields=False)).run(
        "What is the status of order A-1?"
    )
    assert off.output == order("A-1")


async def test_a_delegated_first_call_is_run_whatever_its_arguments() -> None:
    # Routing: the required first call picks the worker; its wording is the worker's.
    model = ScriptedModel([calc("a sum of numbers"), "done"])
    agent = Agent(model, tools=TOOLS, strategy=GuidedStrategy(delegate_first=True))
    result = await agent.run("How do you say thank you in Japanese?")
    assert [e.call.arguments for e in of_type(result, ToolCallStarted)] == [
        {"expression": "a sum of numbers"}
    ]


# --- numbers the question spells out, and words the tools' codes mean -------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Multiply seventeen by forty-three.", "Multiply 17 by 43."),
        ("How many meters are in one mile?", "How many meters are in 1 mile?"),
        ("one hundred and five people, a dozen eggs", "105 people, 12 eggs"),
        ("It grew by 2.5 million", "It grew by 2500000"),
        ("twenty one or twenty-one", "21 or 21"),
        ("Add 2 and three", "Add 2 and 3"),  # "and" joins only after a hundred or more
        ("two three", "2 3"),
        ("a hundred and twenty", "120"),
        # left alone: pronouns, digits, a lone "a", words that are not numbers
        ("Which one is bigger, one of them or the other one?", None),
        ("No one knows; pick one.", None),
        ("Take 275 away from 2,000.", None),
        ("a quarter of a mile", None),
        ("Someone wrote tenfold", None),
    ],
)
def test_spelled_numbers_are_written_in_digits(text: str, expected: str | None) -> None:
    from tether.run.strategies import _heuristics as h

    assert h.with_digits(text) == (text if expected is None else expected)


def test_words_that_bring_a_number_are_items_of_the_question() -> None:
    from tether.run.strategies import _heuristics as h

    assert h.question_items("If Kethmoor's population doubled, how many?") == ["2", "Kethmoor"]
    assert h.question_items("What is a quarter of Lunaria's population?") == ["4", "Lunaria"]
    assert h.question_items("What is Brisalta's population in thousands?") == [
        "1000",
        "Brisalta",
    ]
    assert h.question_items("What is Brisalta's population in thousands?", spelled=False) == [
        "Brisalta"
    ]
    assert h.question_items("What is a third of 90?") == ["90", "3"]
    assert h.question_items("BRISALTA capital?") == ["BRISALTA"]  # a name in capitals
    assert h.question_items("Reply in JSON: what is 2 + 2?") == ["2"]  # short: no name


@pytest.mark.parametrize(
    ("expression", "left"),
    [("376500 * 1.1", []), ("376500 * 0.10", []), ("376500 + 37650", ["10"])],
)
def test_a_percentage_is_used_as_a_fraction_or_a_factor(expression: str, left: list[str]) -> None:
    from tether.run.strategies import _heuristics as h

    prompt = "If the population of 376500 grew by 10%, how many people would there be?"
    assert h.unused(prompt, [calc(expression)]) == left


async def test_the_model_sees_spelled_numbers_in_digits() -> None:
    model = ScriptedModel([calc("17 * 43")])
    result = await guided(model).run("Multiply seventeen by forty-three.")
    assert result.output == "731"
    assert model.requests[0][-1] == UserMessage("Multiply 17 by 43.")
    # the journal keeps the user's own words
    assert result.messages[1] == UserMessage("Multiply seventeen by forty-three.")


async def test_without_spelled_numbers_the_question_is_shown_as_written() -> None:
    model = ScriptedModel([calc("17 * 43")])
    await guided(model, spelled_numbers=False).run("Multiply seventeen by forty-three.")
    assert model.requests[0][-1] == UserMessage("Multiply seventeen by forty-three.")


async def test_a_word_that_brings_a_number_forces_the_next_step() -> None:
    model = ScriptedModel([pop("Valdoria"), calc("812000 * 2")])
    agent = Agent(model, tools=[population, calculator], strategy=GuidedStrategy())
    result = await agent.run("If Valdoria's population doubled, how many people would live there?")
    assert result.output == "1624000"
    assert "Not used yet from the question: 2." in model.requests[1][-1].content  # type: ignore[union-attr]


async def test_without_spelled_numbers_a_doubling_ends_on_the_lookup() -> None:
    model = ScriptedModel([pop("Valdoria"), calc("812000 * 2")])
    strategy = GuidedStrategy(spelled_numbers=False)
    agent = Agent(model, tools=[population, calculator], strategy=strategy)
    result = await agent.run("If Valdoria's population doubled, how many people would live there?")
    assert result.output == "812000"


async def test_a_unit_word_left_unused_forces_the_conversion() -> None:
    convert = ToolCall("convert_units", {"value": 600, "from_unit": "ft", "to_unit": "m"})
    model = ScriptedModel([calc("15 * 40"), convert])
    result = await guided(model).run("What is 15 * 40 feet in metres?")
    assert float(result.output) == pytest.approx(182.88)
    assert model.params[1].tool_choice == "convert_units"  # its codes mean the words left
    assert "Not used yet from the question: feet, metres." in model.requests[1][-1].content  # type: ignore[union-attr]


async def test_without_code_words_the_multiplication_alone_answers() -> None:
    convert = ToolCall("convert_units", {"value": 600, "from_unit": "ft", "to_unit": "m"})
    model = ScriptedModel([calc("15 * 40"), convert])
    result = await guided(model, code_words=False).run("What is 15 * 40 feet in metres?")
    assert result.output == "600"


async def test_british_spellings_ground_codes() -> None:
    wrong = ToolCall("convert_units", {"value": 5, "from_unit": "m", "to_unit": "km"})
    model = ScriptedModel([wrong])
    result = await guided(model).run("Convert 5 miles to kilometres.")
    assert of_type(result, ToolCallStarted)[0].call.arguments["from_unit"] == "mi"
    assert float(result.output) == pytest.approx(8.04672)


@pytest.mark.parametrize(
    ("question", "short"),
    [
        ("What is the largest ocean on Earth?", True),
        ("how many weeks are in a year", True),
        ("How do I bake bread?", False),
        ("Why is the sky blue?", False),
        ("Write a poem about the sea.", False),
        ("What is 2 + 2? Then explain why.", False),
    ],
)
async def test_a_question_for_one_value_is_answered_with_the_value_alone(
    question: str, short: bool
) -> None:
    model = ScriptedModel(["I know this.", "Pacific"])
    await guided(model, sentence_recall=False).run(question)
    system = model.requests[1][0]
    assert isinstance(system, SystemMessage)
    assert ("not a sentence" in system.content) is short


async def test_without_short_answers_or_with_an_output_type_no_length_is_asked() -> None:
    model = ScriptedModel(["I know this.", "Pacific"])
    await guided(model, short_answers=False).run("What is the largest ocean on Earth?")
    assert "not a sentence" not in model.requests[1][0].content  # type: ignore[union-attr]
    model = ScriptedModel(["I know this.", "8"])
    agent = Agent(model, tools=TOOLS, output_type=int, strategy=GuidedStrategy())
    assert (await agent.run("How many planets are in the solar system?")).output == 8
    assert "not a sentence" not in model.requests[1][0].content  # type: ignore[union-attr]


def test_facts_are_arranged_for_comparing() -> None:
    from tether.run.strategies import _heuristics as h

    found = [
        h.Fact(pop("Quenland"), "1450000", True),
        h.Fact(pop("Valdoria"), "812000", True),
        h.Fact(calc("812000 + 1450000"), "2262000", True),
    ]
    prompt = "Which has fewer people, Valdoria or Quenland?"
    assert h.facts(found, prompt) == (
        'population(country="Valdoria") = 812000 (the smallest of these); '
        'population(country="Quenland") = 1450000 (the largest of these); '
        'calculator(expression="812000 + 1450000") = 2262000'
    )
    assert h.facts(found).startswith('population(country="Quenland") = 1450000; ')


async def test_the_model_compares_from_marked_facts() -> None:
    model = ScriptedModel([pop("Quenland"), pop("Valdoria"), "Valdoria"])
    strategy = GuidedStrategy(fan_out=False, compare_values=False)
    agent = Agent(model, tools=[population], strategy=strategy)
    result = await agent.run("Which has fewer people, Valdoria or Quenland?")
    assert result.output == "Valdoria"
    asked = model.requests[-1][-1].content  # type: ignore[union-attr]
    assert 'Facts: population(country="Valdoria") = 812000 (the smallest of these)' in asked


async def test_without_arranged_facts_they_are_stated_as_found() -> None:
    model = ScriptedModel([pop("Quenland"), pop("Valdoria"), "Valdoria"])
    strategy = GuidedStrategy(arrange_facts=False, fan_out=False, compare_values=False)
    agent = Agent(model, tools=[population], strategy=strategy)
    await agent.run("Which has fewer people, Valdoria or Quenland?")
    asked = model.requests[-1][-1].content  # type: ignore[union-attr]
    assert 'Facts: population(country="Quenland") = 1450000; population' in asked
    assert "smallest" not in asked


@pytest.mark.parametrize(
    ("question", "given", "expected"),
    [
        ("What is 100 kelvin in Celsius?", ("c", "k"), ("k", "c")),
        ("How many feet is 250 metres?", ("ft", "m"), ("m", "ft")),
        ("How many feet is 250 metres?", ("m", "ft"), ("m", "ft")),  # already right
        ("Convert 77°F to C.", ("c", "f"), ("f", "c")),
        ("Convert 5 to kilometers.", ("km", "mi"), ("km", "mi")),  # no unit after 5
    ],
)
def test_codes_the_wrong_way_round_are_swapped(
    question: str, given: tuple[str, str], expected: tuple[str, str]
) -> None:
    from tether.run.strategies import _heuristics as h

    codes = h.glossary([convert_units.__doc__ or ""])
    value = h.numbers(question)[0]
    args = {"value": value, "from_unit": given[0], "to_unit": given[1]}
    out = h.ordered_codes(args, question, codes)
    assert (out["from_unit"], out["to_unit"]) == expected
    # the source argument is found by its name, wherever it is
    reordered = {"to_unit": given[1], "value": value, "from_unit": given[0]}
    out = h.ordered_codes(reordered, question, codes)
    assert (out["from_unit"], out["to_unit"]) == expected


async def test_a_reversed_conversion_runs_the_right_way_round() -> None:
    wrong = ToolCall("convert_units", {"value": 100, "from_unit": "c", "to_unit": "k"})
    result = await guided(ScriptedModel([wrong])).run("What is 100 kelvin in Celsius?")
    assert float(result.output) == pytest.approx(-173.15)
    result = await guided(ScriptedModel([wrong]), ground_codes=False).run(
        "What is 100 kelvin in Celsius?"
    )
    assert float(result.output) == pytest.approx(373.15)


@pytest.mark.parametrize(
    ("answer", "question", "value"),
    [
        (
            "The tallest animal in the world is a giraffe.",
            "What is the tallest animal in the world?",
            "giraffe",
        ),
        ("Frozen water is called ice.", "What is frozen water called?", "ice"),
        ("They make honey.", "What do bees make?", "honey"),
        ("There are 8 planets in our solar system.", "How many planets are there?", "8"),
        ("It has 1,000 pages and 3 parts.", "How many pages does it have?", None),
        ("A spider has eight legs.", "How many legs does a spider have?", "8"),
        ("Hamlet was written by William Shakespeare.", "Who wrote Hamlet?", "William Shakespeare"),
        ("Paris", "What is the capital of France?", "Paris"),
        ("12.5% of 720 is 90.", "What is 12.5% of 720?", "90"),  # the question's numbers
        ("The plural of 'child' is 'children'.", "What is the plural of 'child'?", "children"),
        ("Brazil is located in South America.", "On which continent is Brazil?", "South America"),
        ("German uses the euro.", "What currency does Germany use?", "euro"),  # other forms
        ("Coal is black in colour.", "what color is coal", "black"),  # the other spelling
        ("Coal is a color.", "what colour is coal", None),  # nothing but the question
        ("The plural of box is boxes.", "What is the plural of box?", "boxes"),
        # kept whole: several candidate values, more than one sentence, a long value
        ("Ottawa is the capital city, in Ontario.", "What is the capital of Canada?", None),
        ("It is Ottawa. It is in Ontario.", "What is the capital of Canada?", None),
        ("Its big blue wide deep water", "What is the Pacific like?", None),
    ],
)
def test_the_value_of_a_sentence_answer(answer: str, question: str, value: str | None) -> None:
    from tether.run.strategies import _heuristics as h

    assert h.answer_span(answer, question) == value


async def test_a_sentence_answer_to_a_value_question_ends_with_the_value() -> None:
    model = ScriptedModel(["I know.", "The largest ocean on Earth is the Pacific Ocean."])
    result = await guided(model).run("What is the largest ocean on Earth?")
    assert result.output == "Pacific"
    model = ScriptedModel(["I know.", "The largest ocean on Earth is the Pacific Ocean."])
    result = await guided(model, short_answers=False).run("What is the largest ocean on Earth?")
    assert result.output == "The largest ocean on Earth is the Pacific Ocean."
    model = ScriptedModel(["I know.", "Oceans are big. The Pacific is the largest."])
    result = await guided(model).run("Tell me about oceans.")  # not a value question
    assert result.output == "Oceans are big. The Pacific is the largest."


def test_a_question_names_codes_as_codes_plurals_and_units_after_numbers() -> None:
    from tether.run.strategies import _heuristics as h

    codes = h.glossary([convert_units.__doc__ or ""])
    assert h.question_items("what is 220 lbs in kilograms", (), codes) == [
        "220",
        "lbs",
        "kilograms",
    ]
    assert h.question_items("What is 273.15 K in Celsius?", (), codes) == [
        "273.15",
        "Celsius",
        "k",
    ]
    # a lone letter is a unit only right after a number
    assert h.question_items("Is plan K better than 2 plans?", (), codes) == ["2"]
    calls = [ToolCall("convert_units", {"value": 220, "from_unit": "lb", "to_unit": "kg"})]
    assert h.unused("what is 220 lbs in kilograms", calls, (), codes) == []


def test_a_british_spelling_is_no_copy_of_the_description() -> None:
    from tether.run.strategies import _heuristics as h

    call = ToolCall("convert_units", {"value": 12, "from_unit": "liters", "to_unit": "gal"})
    assert not h.copied_example("l (liters)", call, "How many gallons is 12 litres?", [])
    assert h.copied_example("l (liters)", call, "How many gallons is 12 pints?", [])


def test_words_of_one_name_are_not_split() -> None:
    from tether.run.strategies import _heuristics as h

    question = "Which planet is known as the Red Planet?"
    assert h.split_names("Red Planet", question) == []
    assert h.split_names("Kethmoor and Osterwick", "Compare Kethmoor and Osterwick.") == [
        "Kethmoor",
        "Osterwick",
    ]


async def test_a_reask_forces_the_tool_whose_codes_the_question_names() -> None:
    copied = ToolCall("lookup_capital", {"country": "Valdoria"})
    convert = ToolCall("convert_units", {"value": 220, "from_unit": "lb", "to_unit": "kg"})
    model = ScriptedModel([copied, convert])
    result = await guided(model).run("what is 220 lbs in kilograms")
    assert float(result.output) == pytest.approx(99.790321)
    assert model.params[1].tool_choice == "convert_units"


async def test_a_call_written_as_the_answer_is_answered_again() -> None:
    written = '{"name": "calculator", "arguments": {"expression": "391"}}'
    model = ScriptedModel([calc("17*23"), written, "391"])
    result = await guided(model, repair_calls=False, track_question=False).run("What is 17*23?")
    assert result.output == "391"
    assert [e.purpose for e in of_type(result, ModelRequested)] == ["decide", "decide", "answer"]


def test_a_unit_word_is_used_by_a_call_that_spells_it_another_way() -> None:
    from tether.run.strategies import _heuristics as h

    codes = h.glossary([convert_units.__doc__ or ""])
    args = {"value": 15, "from_unit": "gallons", "to_unit": "liters"}
    question = "How many litres is 15 gallons?"
    assert h.unused(question, [ToolCall("convert_units", args)], (), codes) == []
    args = {"value": 15, "from_unit": "gallons", "to_unit": "ml"}
    assert h.unused(question, [ToolCall("convert_units", args)], (), codes) == ["litres"]


async def test_an_answer_that_is_a_tools_example_calls_that_tool() -> None:
    model = ScriptedModel(["Merrowgate", ToolCall("lookup_capital", {"country": "Lunaria"})])
    result = await guided(model).run("What city is the capital of Lunaria?")
    assert result.output == "Selenport"
    assert model.params[1].tool_choice == "lookup_capital"
    assert [t.name for t in model.params[1].tools] == ["lookup_capital"]


async def test_a_copied_argument_takes_the_one_unused_name_of_the_question() -> None:
    copied = ToolCall("lookup_capital", {"country": "Valdoria"})
    result = await guided(ScriptedModel([copied])).run("BRISALTA capital?")
    assert result.output == "Ondmere"
    assert of_type(result, ToolCallStarted)[0].call.arguments == {"country": "BRISALTA"}


async def test_without_read_copies_a_copied_call_is_asked_again() -> None:
    copied = ToolCall("lookup_capital", {"country": "Valdoria"})
    model = ScriptedModel([copied, copied, "I do not know."])
    result = await guided(model, read_copies=False).run("BRISALTA capital?")
    assert result.output != "Ondmere"
    assert "reask" in [e.purpose for e in of_type(result, ModelRequested)]


def test_an_id_is_one_item_and_its_digits_no_number() -> None:
    from tether.run.strategies import _heuristics as h

    prompt = "How many days after order B-2001's delivery is order #B-2007 expected?"
    assert h.question_items(prompt) == ["B-2001", "B-2007"]
    done = [ToolCall("order_details", {"order_id": "B-2001"}, "a")]
    assert h.unused(prompt, done) == ["B-2007"]


def test_a_number_from_the_example_stands_in_a_call_that_is_otherwise_the_tasks() -> None:
    from tether.run.strategies import _heuristics as h

    doc = 'Example: weather(city="Skarholm", days=1) returns a forecast.'
    ok = ToolCall("weather", {"city": "Fenbridge", "days": 1}, "a")
    assert not h.copied_example(doc, ok, "Conditions in Fenbridge tomorrow?", [])
    # the question's own number left out: the example's number is a copy
    assert h.copied_example(doc, ok, "Fenbridge in 4 days?", [])
    # nothing of the task in the call: a copy
    bare = ToolCall("weather", {"city": "Skarholm", "days": 1}, "b")
    assert h.copied_example(doc, bare, "Conditions in Fenbridge tomorrow?", [])


def test_a_list_of_records_is_digested_for_the_question() -> None:
    from tether.run.strategies import _heuristics as h

    rows = '[{"day": 1, "high_c": 3, "sky": "snow"}, {"day": 2, "high_c": 1, "sky": "snow"},'
    rows += ' {"day": 3, "high_c": 5, "sky": "sun"}]'
    assert h.readable(rows, "The high on day 2?") == "day: 2, high_c: 1, sky: snow"
    highest = h.readable(rows, "What is the highest high over three days?")
    assert "highest high_c: 5 (day 3)" in highest
    assert "sky snow: 2 of the 3 records" in h.readable(rows, "How many days of snow?")
    assert "highest" not in h.readable(rows)  # no question: the records as they are


def test_field_codes_explained_together_are_read_and_a_result_uses_them() -> None:
    from tether.run.strategies import _heuristics as h

    codes = h.glossary(["Each entry has day, high_c and low_c (degrees Celsius)."])
    assert codes["high_c"] == codes["low_c"] == {"celsius"}
    assert h.glossary(['Example: count(item="bolts") returns 3.']) == {}
    prompt = "Highest high in Fenbridge, in Celsius?"
    call = ToolCall("weather", {"city": "Fenbridge"}, "a")
    assert h.unused(prompt, [call], codes=codes) == ["Celsius"]
    assert h.unused(prompt, [call], codes=codes, found=['[{"high_c": 3, "low_c": 1}]']) == []


# --- sentence_recall ---------------------------------------------------------------------------


async def test_a_value_question_is_recalled_in_a_plain_sentence_and_the_value_read_out() -> None:
    model = ScriptedModel(["I know this.", "The capital of Canada is Ottawa."])
    strategy = GuidedStrategy(doubt_answers=False)  # the question names lookup_capital
    agent = Agent(model, instructions="Give only the answer.", tools=TOOLS, strategy=strategy)
    result = await agent.run("What is the capital of Canada?")
    assert result.output == "Ottawa"
    assert [e.purpose for e in of_type(result, ModelRequested)] == ["decide", "recall"]
    system, question = model.requests[1]
    assert isinstance(system, SystemMessage)
    assert "Give only the answer" not in system.content  # the plain context
    assert "one short sentence" in system.content
    assert question == UserMessage("What is the capital of Canada?")
    assert not model.params[1].allow_tools
    assert not model.params[1].tools
    # the journal keeps the model's sentence
    assert of_type(result, TurnRecorded)[-1].text == "The capital of Canada is Ottawa."


async def test_a_sentence_the_value_cannot_be_read_from_is_given_as_a_fact() -> None:
    model = ScriptedModel(["I know this.", "Iron is represented by the symbol Fe.", "Fe"])
    agent = Agent(model, instructions="Answer briskly.", tools=TOOLS, strategy=GuidedStrategy())
    result = await agent.run("What is the chemical symbol for iron?")
    assert result.output == "Fe"
    purposes = [e.purpose for e in of_type(result, ModelRequested)]
    assert purposes == ["decide", "recall", "answer"]
    system, question = model.requests[2]
    assert isinstance(system, SystemMessage)
    assert "Answer briskly." in system.content
    assert question == UserMessage(
        "What is the chemical symbol for iron?\n\nFacts: Iron is represented by the symbol Fe."
    )


async def test_a_call_written_as_the_recalled_sentence_is_not_a_fact() -> None:
    junk = '{"name": "Mercury", "arguments": {"unit": "km"}}'
    model = ScriptedModel(["I know this.", junk, "Mercury"])
    result = await guided(model).run("Which planet is closest to the Sun?")
    assert result.output == "Mercury"
    assert model.requests[2][-1] == UserMessage("Which planet is closest to the Sun?")


@pytest.mark.parametrize(
    ("instructions", "question", "flags", "recalled"),
    [
        # the instructions speak of what is asked: the agent's own facts are kept
        ("The office opens at 9am.", "When does the office open?", {}, False),
        ("You are ACME support. Refunds within 30 days.", "How many days for a refund?", {}, False),
        ("Give only the answer.", "When does the office open?", {}, True),
        ("Give only the answer.", "When does the office open?", {"sentence_recall": False}, False),
        ("Give only the answer.", "When does the office open?", {"short_answers": False}, False),
        ("Give only the answer.", "Why is the sky blue?", {}, False),  # not one value
    ],
)
async def test_when_the_sentence_recall_applies(
    instructions: str, question: str, flags: dict[str, bool], recalled: bool
) -> None:
    model = ScriptedModel(["I know this.", "It opens at 9am.", "9am"])
    agent = Agent(model, instructions=instructions, tools=TOOLS, strategy=GuidedStrategy(**flags))
    result = await agent.run(question)
    purposes = [e.purpose for e in of_type(result, ModelRequested)]
    assert ("recall" in purposes) is recalled


async def test_with_an_output_type_there_is_no_sentence_recall() -> None:
    model = ScriptedModel(["I know this.", '{"city": "Ottawa"}'])

    class City(BaseModel):
        city: str

    strategy = GuidedStrategy(doubt_answers=False)  # the question names lookup_capital
    agent = Agent(model, tools=TOOLS, output_type=City, strategy=strategy)
    result = await agent.run("What is the capital of Canada?")
    assert result.output == City(city="Ottawa")
    assert "recall" not in [e.purpose for e in of_type(result, ModelRequested)]


async def test_a_run_cut_anywhere_in_a_sentence_recall_resumes_to_the_same_answer(
    make_store: StoreFactory,
) -> None:
    def model() -> FunctionModel:  # answers as a model at temperature 0 would: by context
        def reply(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
            system, asked = messages[0], messages[-1]
            if isinstance(system, SystemMessage) and "one short sentence" in system.content:
                return ModelResponse(text="Iron is represented by the symbol Fe.")
            if isinstance(asked, UserMessage) and "Facts:" in asked.content:
                return ModelResponse(text="Fe")
            return ModelResponse(text="I know this.")

        return FunctionModel(reply)

    question = "What is the chemical symbol for iron?"
    original = await Agent(model(), tools=TOOLS, strategy=GuidedStrategy(), store=make_store()).run(
        question
    )
    assert original.output == "Fe"
    purposes = [e.purpose for e in of_type(original, ModelRequested)]
    assert purposes == ["decide", "recall", "answer"]
    events = original.events
    for cut in range(1, len(events) - 1):
        store = make_store()
        await store.append(original.run_id, events[:cut])
        result = await Agent(model(), tools=TOOLS, strategy=GuidedStrategy(), store=store).resume(
            original.run_id
        )
        assert result.output == "Fe", cut
        answered = [e for e in events[:cut] if isinstance(e, ModelResponded)]
        assert result.events[: len(events[:cut])] == events[:cut], cut
        # each response in the journal is used, not asked for again
        assert len(of_type(result, ModelResponded)) == 3, cut
        assert len(answered) <= 3
        await store.close()


async def test_a_call_still_malformed_after_the_plain_reask_and_a_repair_is_not_run() -> None:
    model = ScriptedModel(
        [
            calc("12*7"),  # nothing of the question: asked again without examples
            ToolCall("calculator", '{"expression": "2000000000'),  # cut off
            ToolCall("calculator", '{"expression": "mountain(1000'),  # the repair, cut off
            "The tallest mountain in the world is Mount Everest.",
        ]
    )
    result = await guided(model).run("What is the tallest mountain in the world?")
    assert result.output == "Everest"
    assert result.usage.tool_calls == 0
    purposes = [e.purpose for e in of_type(result, ModelRequested)]
    assert purposes == ["decide", "reask", "repair", "recall"]


def test_an_order_and_another_order_are_two_clauses() -> None:
    from tether.run.strategies import _heuristics as h

    assert h.clauses("Convert 11 miles to km and triple it.") == [
        "Convert 11 miles to km",
        "triple it",
    ]
    assert h.clauses("Take Norrhaven's population and multiply it by 5") == [
        "Take Norrhaven's population",
        "multiply it by 5",
    ]
    assert h.clauses("Add 3 and 4.") == ["Add 3 and 4."]  # one order of two numbers
    assert h.clauses("What is 2 and add 3?") == ["What is 2 and add 3?"]  # not an order first


async def test_a_clause_left_is_not_done_by_restating_the_last_result() -> None:
    model = ScriptedModel(
        [
            ToolCall("convert_units", {"value": 11, "from_unit": "mi", "to_unit": "km"}),
            calc("17.702784"),  # restates the result: the clause "triple it" is left
            calc("17.702784 * 3"),
        ]
    )
    result = await guided(model).run("Convert 11 miles to km and triple it.")
    assert result.output is not None
    assert float(result.output) == pytest.approx(53.108352)
    purposes = [e.purpose for e in of_type(result, ModelRequested)]
    assert purposes == ["decide", "decide", "next"]
    asked = model.requests[2][-1]
    assert isinstance(asked, UserMessage)
    assert asked.content.startswith("17.702784, then triple it.")  # just the clause left
    assert model.params[2].tool_choice == "required"


@pytest.mark.parametrize(
    ("question", "number"),
    [
        ("What's a tenth of Osterwick's population?", "10"),
        ("What is one fifth of 45?", "5"),
        ("Take a hundredth of 7,000.", "100"),
        ("How many thousand people live in Brisalta?", "1000"),
        ("how many million dollars is that", "1000000"),
    ],
)
def test_fractions_and_counts_in_a_scale_bring_their_number(question: str, number: str) -> None:
    from tether.run.strategies import _heuristics as h

    assert number in h.question_items(question)
    assert number not in h.question_items(question, spelled=False)


# --- fan_out and compare_values ----------------------------------------------------------------


def census(country: str) -> int:
    """How many people live in a country.

    Args:
        country: the country's name.
    """
    known = {"Valdoria": 812_000, "Quenland": 1_450_000, "Osterwick": 127_300, "Norrhaven": 92_000}
    if country not in known:
        raise ValueError(f"unknown country {country!r}; known: {', '.join(known)}")
    return known[country]


def counted(country: str) -> ToolCall:
    return ToolCall("census", {"country": country})


def looked_up(result: object) -> list[object]:
    started = of_type(result, ToolCallStarted)
    return [e.call.arguments["country"] for e in started if e.call.name == "census"]


async def test_the_orchestrator_looks_up_each_other_item_of_the_questions_list() -> None:
    model = ScriptedModel([counted("Valdoria")])
    agent = Agent(model, tools=[census], strategy=GuidedStrategy())
    result = await agent.run("Which of Valdoria, Osterwick and Norrhaven has the fewest people?")
    assert looked_up(result) == ["Valdoria", "Osterwick", "Norrhaven"]
    assert result.output == "Norrhaven"
    assert result.usage.model_calls == 1
    assert result.reason.message == "The orchestrator compared the results for each name."


async def test_a_lower_case_list_is_fanned_out_as_the_model_wrote_the_first_name() -> None:
    model = ScriptedModel([counted("Quenland"), "600000", calc("1450000 - 812000")])
    agent = Agent(model, tools=[census, calculator], strategy=GuidedStrategy())
    result = await agent.run("how many more people live in quenland than in valdoria")
    assert looked_up(result)[:2] == ["Quenland", "Valdoria"]
    assert result.output == "638000"
    purposes = [e.purpose for e in of_type(result, ModelRequested)]
    assert purposes == ["decide", "answer", "recompute"]


async def test_without_fan_out_the_model_is_asked_for_the_next_lookup() -> None:
    model = ScriptedModel([counted("Valdoria"), counted("Quenland")])
    agent = Agent(model, tools=[census], strategy=GuidedStrategy(fan_out=False))
    result = await agent.run("Which has more people, Valdoria or Quenland?")
    assert [e.purpose for e in of_type(result, ModelRequested)] == ["decide", "next"]
    assert result.output == "Quenland"  # compare_values still reads it off


async def test_a_fanned_out_item_the_tool_rejects_is_not_called() -> None:
    def enum_census(country: Literal["Valdoria", "Quenland"]) -> int:
        """How many people live in a country.

        Args:
            country: the country's name.
        """
        return census(country)

    model = ScriptedModel([ToolCall("enum_census", {"country": "Valdoria"}), "812000"])
    agent = Agent(model, tools=[enum_census], strategy=GuidedStrategy())
    result = await agent.run("What is the population of Valdoria and Atlantis?")
    assert result.usage.tool_calls == 1  # Atlantis is no value of the enum


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which has more people, Valdoria or Quenland?", "Quenland"),
        ("Which is less populous: Valdoria or Quenland?", "Valdoria"),
        ("Between Osterwick and Quenland, which has the fewest inhabitants?", "Osterwick"),
        ("Quenland or Osterwick: which is bigger?", "Quenland"),
    ],
)
async def test_a_which_question_is_answered_by_comparing_the_results(
    question: str, expected: str
) -> None:
    names = [n for n in ("Valdoria", "Quenland", "Osterwick") if n in question]
    first, second = sorted(names, key=question.index)
    model = ScriptedModel([counted(first), counted(second), "unused"])
    agent = Agent(model, tools=[census], strategy=GuidedStrategy(fan_out=False))
    result = await agent.run(question)
    assert result.output == expected
    assert result.usage.model_calls == 2


async def test_without_compare_values_the_model_compares() -> None:
    model = ScriptedModel([counted("Valdoria"), "Valdoria"])
    agent = Agent(model, tools=[census], strategy=GuidedStrategy(compare_values=False))
    result = await agent.run("Which has more people, Valdoria or Quenland?")
    assert result.output == "Valdoria"  # the model's (wrong) pick stands
    assert looked_up(result) == ["Valdoria", "Quenland"]


@pytest.mark.parametrize(
    ("question", "value", "expected"),
    [
        (
            "Which of Valdoria, Osterwick and Norrhaven is smallest?",
            "Osterwick",
            ["Valdoria", "Norrhaven"],
        ),
        ("how many more live in estrevia than in norrhaven", "Estrevia", ["norrhaven"]),
        ("Weather in New York and Los Angeles?", "New York", ["Los Angeles"]),
        ("Compare Valdoria vs. Quenland.", "Valdoria", ["Quenland"]),
        ("Convert 5 miles to km and double it", "km", []),
        ("What is the capital of Lunaria and then double its population", "Lunaria", []),
        ("By how much does Lunaria's population exceed Osterwick's?", "Lunaria", []),
        ("capitals of valdoria and kethmoor, as 'X and Y'", "Valdoria", ["kethmoor"]),
        ("What is the population of Valdoria and its capital?", "Valdoria", []),
        ("Population of Valdoria?", "Valdoria", []),
        ("Population of Valdoria?", "Atlantis", []),
        ("Add 3 and 4", "3", []),
        ("which has fewer inhabitants, estrevia or lunaria", "estrevia", ["lunaria"]),
        ("how many more people does valdoria have than kethmoor", "Valdoria", ["kethmoor"]),
        ("Population of Valdoria, please", "Valdoria", []),
        ("Valdoria, Osterwick: compare them", "Valdoria", []),  # no "and" or "or" ends it
    ],
)
def test_the_siblings_of_a_value_are_the_other_items_of_its_list(
    question: str, value: str, expected: list[str]
) -> None:
    assert h.siblings(question, value) == expected


def _counts(**people: int) -> list[h.Fact]:
    return [h.Fact(counted(c), str(n), True) for c, n in people.items()]


@pytest.mark.parametrize(
    ("question", "facts", "expected"),
    [
        ("Which is hotter, Aden or Baku?", _counts(Aden=30, Baku=20), "Aden"),
        ("Which is cheaper, Aden or Baku?", _counts(Aden=30, Baku=20), "Baku"),
        ("How many more live in Aden than Baku?", _counts(Aden=30, Baku=20), None),
        ("Which is bigger and which is smaller, Aden or Baku?", _counts(Aden=3, Baku=2), None),
        ("Which is bigger, Aden, Baku or Cork?", _counts(Aden=3, Baku=2), None),  # Cork unknown
        ("Which is bigger, Aden or Baku?", _counts(Aden=3, Baku=3), None),  # a tie
        ("Which one is it, Aden or Baku?", _counts(Aden=3, Baku=2), None),  # no direction
        ("Tell me the bigger of Aden and Baku.", _counts(Aden=3, Baku=2), None),  # no "which"
    ],
)
def test_a_comparison_is_read_off_only_when_the_question_and_results_settle_it(
    question: str, facts: list[h.Fact], expected: str | None
) -> None:
    assert h.compared(question, facts) == expected


async def test_a_run_cut_anywhere_in_a_fan_out_resumes_to_the_same_answer(
    make_store: StoreFactory,
) -> None:
    question = "Which of Valdoria, Osterwick and Norrhaven has the fewest people?"

    def agent(store: JournalStore) -> Agent[None, str]:
        model = ScriptedModel([counted("Valdoria")])
        tools = [Tool(census, idempotent=True)]  # a lookup: run again after a cut
        return Agent(model, tools=tools, strategy=GuidedStrategy(), store=store)

    for result in await resumed_at_every_cut(make_store, agent, question, "Norrhaven"):
        # a lookup cut mid-call is started again; each finishes once
        assert list(dict.fromkeys(looked_up(result))) == ["Valdoria", "Osterwick", "Norrhaven"]
        assert len(of_type(result, ToolCallFinished)) == 3


@pytest.mark.parametrize(
    "question",
    ["norrhaven - what's the capital?", "Quenland's capital: which city?"],
)
async def test_a_copied_example_takes_the_one_word_the_tool_does_not_explain(
    question: str,
) -> None:
    # no capitalised name mid-sentence: the word left once asking words and the tool's
    # own words are set aside fills the copied argument, cased as the example
    model = ScriptedModel([ToolCall("lookup_capital", {"country": "Valdoria"})])
    result = await guided(model).run(question)
    started = of_type(result, ToolCallStarted)
    assert [e.call.arguments for e in started] == [
        {"country": question.split("'", maxsplit=1)[0].split(" ", maxsplit=1)[0].capitalize()}
    ]
    assert result.usage.model_calls == 1


async def test_without_read_copies_the_copied_example_is_asked_again() -> None:
    model = ScriptedModel(
        [
            ToolCall("lookup_capital", {"country": "Valdoria"}),
            ToolCall("lookup_capital", {"country": "Norrhaven"}),
            "x",
        ]
    )
    result = await guided(model, read_copies=False).run("norrhaven - what's the capital?")
    assert [e.purpose for e in of_type(result, ModelRequested)][:2] == ["decide", "reask"]


@pytest.mark.parametrize(
    ("question", "explained", "expected"),
    [
        ("norrhaven - what's the capital?", "Look up the capital city of a country", ["norrhaven"]),
        (
            "Quenland's weather - what is it?",
            "How many people live in a country",
            ["Quenland", "weather"],
        ),
        ("Quenland's population - what is it?", "The population of a country", ["Quenland"]),
        ("What is 2 + 2?", "Evaluate an arithmetic expression", []),
        (
            "Tell me the capitals of Aden and Baku",
            "the capital city of a country",
            ["Aden", "Baku"],
        ),
    ],
)
def test_free_words_are_what_neither_asking_nor_the_tool_explains(
    question: str, explained: str, expected: list[str]
) -> None:
    assert h.free_words(question, explained) == expected


@pytest.mark.parametrize(
    ("question", "flags", "expected"),
    [
        ("What is the difference between 986 and 1240?", {}, "254"),
        ("What is the difference between 986 and 1240?", {"unsigned_gaps": False}, "-254"),
        ("What is 986 - 1240?", {}, "-254"),  # no gap asked for: the sign stands
    ],
)
async def test_a_negative_result_answering_a_gap_question_is_given_as_its_size(
    question: str, flags: dict[str, bool], expected: str
) -> None:
    result = await guided(ScriptedModel([calc("986 - 1240")]), **flags).run(question)
    assert result.output == expected
    assert result.usage.model_calls == 1


@pytest.mark.parametrize(
    ("question", "answer", "expected"),
    [
        ("How many more bolts than nuts are in stock?", "-254", "254"),
        ("By how much does A's population exceed B's?", "-10.5", "10.5"),
        ("how much warmer is it in Aden than in Baku", "-3", "3"),
        ("How many more bolts than nuts are in stock?", "254", None),
        ("What is 3 - 5?", "-2", None),
        ("How many more bolts than nuts are in stock?", "-254 bolts", None),
        ("After we sell 90 gaskets, how many gaskets are left in stock?", "-140", "140"),
        ("how many people remain", "-480000", "480000"),
        ("How much money is left after I spend 50 of 30?", "-20", None),  # money may be
    ],
)
def test_a_gap_question_reads_a_negative_number_as_its_size(
    question: str, answer: str, expected: str | None
) -> None:
    assert h.unsigned_difference(question, answer) == expected


async def test_a_call_written_with_unquoted_keys_is_made_under_the_schema() -> None:
    written = '{name: calculator, arguments: {"expression": "31472 + 8659"}}'
    model = ScriptedModel([written, calc("31472 + 8659")])
    result = await guided(model).run("What do you get when you add 31,472 and 8,659?")
    assert result.output == "40131"
    assert [e.purpose for e in of_type(result, ModelRequested)] == ["decide", "repair"]


async def test_a_word_already_tried_does_not_fill_a_copied_example_again() -> None:
    copied = ToolCall("lookup_capital", {"country": "Valdoria"})
    model = ScriptedModel([copied, copied, "Athens", "Athens", "Athens"])
    result = await guided(model).run("what is the capital of greece?")
    started = of_type(result, ToolCallStarted)
    assert [e.call.arguments for e in started] == [{"country": "Greece"}]  # tried once
    assert result.output == "Athens"


# --- id_lookups and field_values ---------------------------------------------------------------

ORDERS = {
    "A-1042": {"status": "shipped", "items": 3, "total": 47.85, "carrier": "Swiftpost"},
    "B-2001": {"status": "delivered", "items": 7, "total": 213.4, "carrier": "Northline"},
}


def order_details(order_id: str) -> str:
    """An order's details, as a JSON object.

    Args:
        order_id: the order's id, e.g. "A-1042".
    """
    key = order_id.upper()
    if key not in ORDERS:
        raise ValueError(f"no order {order_id!r}")
    return json.dumps({"order_id": key, **ORDERS[key]})


def price(item: Literal["notebook", "backpack"], quantity: int) -> float:
    """What a number of one item costs, in dollars.

    Args:
        item: what is bought.
        quantity: how many.
    """
    return {"notebook": 3.4, "backpack": 34.5}[item] * quantity


def shop(
    model: ScriptedModel | FunctionModel, store: JournalStore | None = None, **flags: bool
) -> Agent[None, str]:
    tools = [Tool(order_details, idempotent=True), price, calculator]
    return Agent(model, tools=tools, strategy=GuidedStrategy(**flags), store=store)


def ordered(result: object) -> list[object]:
    started = of_type(result, ToolCallStarted)
    return [e.call.arguments for e in started if e.call.name == "order_details"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Name the shipping company for order #B-2001.", ["B-2001"]),
        ("What's the item count on order a-1043?", ["A-1043"]),
        ("By how much does order B-2001's total exceed A-1042's?", ["B-2001", "A-1042"]),
        ("Is ORDER B-2001 (b-2001) late?", ["B-2001"]),  # once
        ("What is 3x-2 when x is 4?", []),
        ("How many days from 2024-06-14 to 2024-07-01?", []),  # dates are not ids
        ("What did order 1042 cost?", []),  # digits alone are not the documented shape
    ],
)
def test_a_question_value_shaped_like_a_documented_id_is_found(
    question: str, expected: list[str]
) -> None:
    found = h.shaped_ids(question, {("order_details", "order_id"): ["A-1042"]})
    assert found == [("order_details", "order_id", v) for v in expected]


def test_an_id_shape_two_tools_document_belongs_to_neither() -> None:
    documented = {("order_details", "order_id"): ["A-1042"], ("refund", "ticket"): ["R-77"]}
    assert h.shaped_ids("Refund order B-2001", documented) == []


@pytest.mark.parametrize(
    ("description", "schema", "expected"),
    [
        ("An order.", {"description": 'the order\'s id, e.g. "A-1042".'}, ["A-1042"]),
        ('Example: order_details(order_id="B-7") returns ...', {}, ["B-7"]),
        ("An order.", {"examples": ["ZX-900", "plain"]}, ["ZX-900"]),
        ("A country.", {"description": 'its name, e.g. "Valdoria"'}, []),  # a name
        ("A date.", {"description": 'ISO, e.g. "2024-06-14"'}, []),  # a date
    ],
)
def test_documented_ids_mix_letters_and_digits(
    description: str, schema: dict[str, object], expected: list[str]
) -> None:
    assert h.documented_ids(description, "order_id", schema) == expected


async def test_the_orchestrator_looks_an_id_up_when_the_model_calls_another_tool() -> None:
    model = ScriptedModel([ToolCall("price", {"item": "notebook", "quantity": 1}), "Northline"])
    result = await shop(model).run("Name the shipping company for order #B-2001.")
    assert ordered(result) == [{"order_id": "B-2001"}]
    assert [e.call.name for e in of_type(result, ToolCallStarted)] == ["order_details"]
    assert result.output == "Northline"


async def test_an_id_lookup_replaces_a_call_written_as_text_with_a_made_up_name() -> None:
    written = '{"name": "Amazon", "arguments": {"order_id": "B-2001"}}'
    model = ScriptedModel([written, "Northline"])
    result = await shop(model).run("Name the shipping company for order #B-2001.")
    assert ordered(result) == [{"order_id": "B-2001"}]
    assert [e.purpose for e in of_type(result, ModelRequested)] == ["decide", "answer"]


async def test_the_models_own_id_lookup_is_kept() -> None:
    model = ScriptedModel([ToolCall("order_details", {"order_id": "A-1042"}), "Swiftpost"])
    result = await shop(model).run("Which carrier has order A-1042?")
    assert ordered(result) == [{"order_id": "A-1042"}]
    assert result.output == "Swiftpost"


async def test_without_id_lookups_the_models_call_is_made() -> None:
    model = ScriptedModel([ToolCall("price", {"item": "backpack", "quantity": 2}), "69"])
    question = "What do 2 backpacks for order #B-2001 cost?"
    result = await shop(model, id_lookups=False).run(question)
    assert [e.call.name for e in of_type(result, ToolCallStarted)] == ["price"]
    looked = await shop(
        ScriptedModel([ToolCall("price", {"item": "backpack", "quantity": 2}), "69"])
    ).run(question)
    assert ordered(looked) == [{"order_id": "B-2001"}]


@pytest.mark.parametrize(
    ("answer", "question", "expected"),
    [
        ("The order A-1043 is currently processing.", "Give me A-1043's status.", "processing"),
        ("You paid $213.40 for it.", "How much did I pay for order B-2001?", "213.4"),
        ("Delivered by Northline.", "What about order B-2001?", None),  # two values
        ("Northline", "Which carrier has order B-2001?", None),  # already the value
        ("It is order B-2001.", "Which order is B-2001?", None),  # the question's own
        ("I do not know.", "Which carrier has order B-2001?", None),
    ],
)
def test_a_sentence_answer_gives_the_one_value_of_a_json_result(
    answer: str, question: str, expected: str | None
) -> None:
    result = json.dumps(
        {"order_id": "B-2001", "status": "delivered", "total": 213.4, "carrier": "Northline"}
    )
    if "A-1043" in question:
        result = json.dumps({"order_id": "A-1043", "status": "processing", "carrier": None})
    assert h.field_value(answer, question, result) == expected


async def test_a_sentence_about_a_json_result_ends_with_its_one_value() -> None:
    model = ScriptedModel(
        [ToolCall("order_details", {"order_id": "B-2001"}), "Order B-2001 went with Northline."]
    )
    result = await shop(model).run("Which company carries order B-2001?")
    assert result.output == "Northline"
    plain = await shop(
        ScriptedModel(
            [ToolCall("order_details", {"order_id": "B-2001"}), "Order B-2001 went with Northline."]
        ),
        field_values=False,
    ).run("Which company carries order B-2001?")
    assert plain.output == "Order B-2001 went with Northline."


def test_a_json_result_is_stated_as_the_one_field_the_question_names() -> None:
    fact = h.Fact(
        ToolCall("order_details", {"order_id": "B-2001"}),
        order_details("B-2001"),
        True,
    )
    assert h.named_field(fact.content, "What is order B-2001's total?") == "total: 213.4"
    assert h.named_field(fact.content, "12 bolts for each item in order B-2001") == "items: 7"
    assert h.named_field(fact.content, "The total and the items of B-2001?") is None  # two
    assert h.named_field(fact.content, "Where is B-2001?") is None
    assert h.named_field("812000", "What is the total?") is None
    stated = h.facts([fact], None, asked_fields="What is order B-2001's total?")
    assert stated == 'order_details(order_id="B-2001") = total: 213.4'


@pytest.mark.parametrize(
    ("expression", "fields", "expected"),
    [
        ('order_details(order_id="B-2001")["total"] - 172.5', True, "213.4 - 172.5"),
        ('order_details(order_id="B-2001")[total] - 172.5', True, "213.4 - 172.5"),
        ('order_details(order_id="B-2001").items * 12', True, "7 * 12"),
        ('total - price(item="backpack", quantity=5)', True, "213.4 - 172.5"),
        ("the total is high", True, "the total is high"),  # not arithmetic: as it is
        ("total - carrier", True, "total - carrier"),  # a text field: as it is
        ("items * 12", False, "items * 12"),
    ],
)
def test_a_call_that_refers_to_a_field_of_a_json_result_takes_its_value(
    expression: str, fields: bool, expected: str
) -> None:
    facts = [
        h.Fact(ToolCall("order_details", {"order_id": "B-2001"}), order_details("B-2001"), True),
        h.Fact(ToolCall("price", {"item": "backpack", "quantity": 5}), "172.5", True),
    ]
    names = ["order_details", "price", "calculator"]
    assert h.resolve_references(expression, facts, names, fields=fields) == expected


async def test_a_field_named_in_a_recomputation_is_worked_out_with_its_value() -> None:
    model = ScriptedModel(
        [
            ToolCall("order_details", {"order_id": "B-2001"}),
            ToolCall("price", {"item": "backpack", "quantity": 5}),
            "172.5",  # the answer repeats one fact: it is recomputed
            calc('total - price(item="backpack", quantity=5)'),
            "40.9",
        ]
    )
    question = "By how many dollars does order B-2001's total exceed the cost of 5 backpacks?"
    result = await shop(model).run(question)
    calcs = [
        e.call.arguments for e in of_type(result, ToolCallStarted) if e.call.name == "calculator"
    ]
    assert calcs == [{"expression": "213.4 - 172.5"}]
    assert float(result.output or "nan") == pytest.approx(40.9)


async def test_a_run_cut_anywhere_in_an_id_lookup_resumes_to_the_same_answer(
    make_store: StoreFactory,
) -> None:
    question = "Name the shipping company for order #B-2001."

    def model() -> FunctionModel:  # answers by context, as a model at temperature 0 would
        def reply(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
            if any("Northline" in str(m.content) for m in messages):
                return ModelResponse(text="Northline")
            return ModelResponse(
                tool_calls=[ToolCall("price", {"item": "notebook", "quantity": 1})]
            )

        return FunctionModel(reply)

    def agent(store: JournalStore) -> Agent[None, str]:
        return shop(model(), store)

    for result in await resumed_at_every_cut(make_store, agent, question, "Northline"):
        assert list(dict.fromkeys(str(a) for a in ordered(result))) == ["{'order_id': 'B-2001'}"]
        assert len(of_type(result, ToolCallFinished)) == 1


# --- reroute_calls and codes spelled out -----------------------------------------------------


async def test_a_call_with_another_tools_arguments_is_made_to_that_tool() -> None:
    wrong = ToolCall("calculator", {"expression": "0.6 km", "from_unit": "km", "to_unit": "m"})
    model = ScriptedModel([wrong])
    result = await guided(model).run("0.6 km = how many m?")
    started = of_type(result, ToolCallStarted)
    assert [(e.call.name, e.call.arguments) for e in started] == [
        ("convert_units", {"value": 0.6, "from_unit": "km", "to_unit": "m"})
    ]
    assert result.output == "600.0"


async def test_without_reroute_calls_the_named_tool_is_called() -> None:
    wrong = ToolCall("calculator", {"expression": "0.6 km", "from_unit": "km", "to_unit": "m"})
    model = ScriptedModel([wrong, "600", "600", "600"])
    result = await guided(model, reroute_calls=False).run("0.6 km = how many m?")
    assert "convert_units" not in [e.call.name for e in of_type(result, ToolCallStarted)]


@pytest.mark.parametrize(
    "arguments",
    [
        {"expression": "0.6", "to_unit": "m"},  # one foreign argument: not enough to say
        {"expression": "0.6 or 7", "from_unit": "km", "to_unit": "m"},  # two numbers
        {"expression": "0.6", "from_unit": "km", "colour": "m"},  # not all another tool's
    ],
)
async def test_a_call_is_rerouted_only_when_its_arguments_say_which_tool(
    arguments: dict[str, object],
) -> None:
    model = ScriptedModel([ToolCall("calculator", arguments), "x", "x", "x", "x"])
    result = await guided(model).run("0.6 km = how many m?")
    assert "convert_units" not in [e.call.name for e in of_type(result, ToolCallStarted)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("US gallons", "gal"), ("metric kilometres", "km"), ("big things", "big things")],
)
def test_a_code_spelled_out_in_words_is_the_code_they_mean(value: str, expected: str) -> None:
    codes = h.glossary(["Units: km (kilometers), l (liters), gal (US gallons)."])
    args = {"value": 40, "from_unit": "l", "to_unit": value}
    assert h.grounded_codes(args, "What's 40 litres in US gallons?", codes)["to_unit"] == expected


@pytest.mark.parametrize(
    ("expression", "question", "expected"),
    [
        (
            "2505 - 849",
            "From two thousand five hundred, take away eight hundred and forty-nine.",
            "2500 - 849",
        ),
        ("2500 - 894", "From 2500, take away 849.", "2500 - 849"),  # two digits swapped
        ("1234 + 5678", "What is 1234 + 5687?", "1234 + 5687"),
        ("36 * 3600", "How many seconds are in 36 hours?", None),  # a factor the model knows
        ("2505 - 849", "From 2500 or 2509, take away 849.", None),  # two it could be
        ("2505 - 849", "From 2500, take away 849 and 2505.", None),  # the question's own
    ],
)
def test_a_number_miscopied_into_an_expression_is_put_right(
    expression: str, question: str, expected: str | None
) -> None:
    fixed = h.renumbered(calc(expression), question, [])
    assert (fixed or {}).get("expression") == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Convert five and a half gallons to litres.", "Convert 5.5 gallons to litres."),
        ("How many metres is a mile and a half?", "How many metres is 1.5 miles?"),
        ("an hour and a quarter in minutes", "1.25 hours in minutes"),
        ("I want one and a half cups", "I want 1.5 cups"),
        ("Pay 2,000 and a half", "Pay 2,000 and a half"),  # not a whole number before it
        ("bread and a half loaf", "bread and a half loaf"),
    ],
)
def test_a_number_and_a_fraction_in_words_is_written_as_one_number(
    question: str, expected: str
) -> None:
    assert h.with_digits(question) == expected


def capital_of(country: str) -> str:
    """The capital city of a country.

    Args:
        country: the country's name.
    """
    return {"Valdoria": "Merrowgate", "Quenland": "Port Halloway"}[country]


@pytest.mark.parametrize(
    ("question", "expected", "capitals"),
    [
        (
            "Whichever of Valdoria and Quenland is more populous: what is its capital?",
            "Port Halloway",
            ["Quenland"],
        ),
        ("Which of Valdoria and Quenland has fewer people?", "Valdoria", []),
    ],
)
async def test_what_the_question_asks_of_the_compared_name_is_looked_up(
    question: str, expected: str, capitals: list[str]
) -> None:
    model = ScriptedModel([counted("Valdoria")])
    agent = Agent(model, tools=[census, capital_of], strategy=GuidedStrategy())
    result = await agent.run(question)
    assert result.output == expected
    started = of_type(result, ToolCallStarted)
    assert [e.call.arguments["country"] for e in started if e.call.name == "capital_of"] == capitals
    assert result.usage.model_calls == 1


async def test_without_compare_values_no_name_is_looked_up_for_the_model() -> None:
    model = ScriptedModel([counted("Valdoria"), "Merrowgate", "Merrowgate", "Merrowgate"])
    agent = Agent(model, tools=[census, capital_of], strategy=GuidedStrategy(compare_values=False))
    result = await agent.run(
        "Whichever of Valdoria and Quenland is more populous: what is its capital?"
    )
    assert "capital_of" not in [e.call.name for e in of_type(result, ToolCallStarted)]


async def test_a_run_cut_anywhere_in_a_compare_then_lookup_resumes_to_the_same_answer(
    make_store: StoreFactory,
) -> None:
    question = "Whichever of Valdoria and Quenland is more populous: what is its capital?"

    def agent(store: JournalStore) -> Agent[None, str]:
        tools = [Tool(census, idempotent=True), Tool(capital_of, idempotent=True)]
        model = ScriptedModel([counted("Valdoria")])
        return Agent(model, tools=tools, strategy=GuidedStrategy(), store=store)

    for result in await resumed_at_every_cut(make_store, agent, question, "Port Halloway"):
        assert len(of_type(result, ToolCallFinished)) == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("640000 - 0.25 * 640000 = 400000.", "640000 - 0.25 * 640000"),
        ("3 * (4 + 5) = 27", "3 * (4 + 5)"),
        ("x = 5", "x = 5"),  # no arithmetic before the sign: as it is
        ("7 = 7", "7 = 7"),
        ("2+2", "2+2"),
    ],
)
def test_an_expression_written_with_its_result_is_made_without_it(
    value: str, expected: str
) -> None:
    assert h.without_result(value) == expected


async def test_a_calculation_written_with_the_models_own_result_is_worked_out() -> None:
    model = ScriptedModel([calc("640000 - 0.25 * 640000 = 400000."), "480000"])
    result = await guided(model).run("What is 640000 - 0.25 * 640000?")
    assert [e.call.arguments for e in of_type(result, ToolCallStarted)] == [
        {"expression": "640000 - 0.25 * 640000"}
    ]
    assert result.output == "480000"
    off = await guided(
        ScriptedModel([calc("640000 - 0.25 * 640000 = 400000."), "400000", "400000"]),
        check_arithmetic=False,
    ).run("What is 640000 - 0.25 * 640000?")
    assert [e.outcome for e in of_type(off, ToolCallFinished)][:1] == ["error"]


@pytest.mark.parametrize(
    ("value", "question", "expected"),
    [
        ("245 + 310 + 287 + 198", "mean of 245, 310, 287 and 198?", "(245 + 310 + 287 + 198) / 4"),
        ("12 + 18", "What is the average of twelve and eighteen?", "(12 + 18) / 2"),
        ("245 + 310 + 287", "mean of 245, 310, 287 and 198?", "245 + 310 + 287"),  # one left out
        ("(245 + 310) / 2", "average of 245 and 310", "(245 + 310) / 2"),  # divided already
        ("245 + 310", "sum of 245 and 310", "245 + 310"),  # no mean asked
    ],
)
def test_a_sum_for_a_mean_is_divided_by_the_count(value: str, question: str, expected: str) -> None:
    assert h.averaged(value, question) == expected


def dated_order(order_id: str) -> str:
    """An order's details, as a JSON object with its delivery date (eta).

    Args:
        order_id: the order's id, e.g. "A-1042".
    """
    return json.dumps({"order_id": order_id.upper(), "items": 3, "eta": "2024-06-14"})


def forecast(city: str, days: int = 1) -> str:
    """The weather forecast of a city.

    Example: forecast(city="Merrowgate", days=1).

    Args:
        city: the city.
        days: how many days ahead.
    """
    return "sunny"


def add_days(date: str, days: int) -> str:
    """A date (YYYY-MM-DD) some days later.

    Args:
        date: the date, YYYY-MM-DD.
        days: how many days to add.
    """
    import datetime as dt

    return (dt.date.fromisoformat(date) + dt.timedelta(days=days)).isoformat()


async def test_a_next_step_that_copies_an_example_is_tried_with_the_tool_the_question_names() -> (
    None
):
    model = ScriptedModel(
        [
            ToolCall("forecast", {"city": "Merrowgate", "days": 1}),  # decide: the id wins
            ToolCall("forecast", {"city": "Merrowgate", "days": 1}),  # next: a copy
            ToolCall("add_days", {"date": "2024-06-14", "days": 28}),  # next: add_days
        ]
    )
    agent = Agent(model, tools=[dated_order, forecast, add_days], strategy=GuidedStrategy())
    result = await agent.run("I have 28 days after order A-1042's delivery. What's the last day?")
    assert [e.call.name for e in of_type(result, ToolCallStarted)] == ["dated_order", "add_days"]
    assert result.output == "2024-07-12"
    assert [e.purpose for e in of_type(result, ModelRequested)] == ["decide", "next", "next"]
    assert model.params[2].tool_choice == "add_days"  # forced by the name the question says


def test_a_json_result_a_later_call_takes_a_value_of_is_consumed() -> None:
    order = h.Fact(ToolCall("dated_order", {"order_id": "A-1042"}), dated_order("A-1042"), True)
    later = h.Fact(ToolCall("add_days", {"date": "2024-06-14", "days": 28}), "2024-07-12", True)
    assert h.unconsumed([order, later]) == [later]
    other = h.Fact(ToolCall("add_days", {"date": "2024-01-01", "days": 28}), "2024-01-29", True)
    assert h.unconsumed([order, other]) == [order, other]


def count_text(text: str, what: Literal["letters", "words", "vowels"]) -> int:
    """Count the letters, words or vowels in a text.

    Example: count_text(text="Hello world", what="letters") returns 10.

    Args:
        text: the text to count in.
        what: what to count.
    """
    if what == "words":
        return len(text.split())
    return sum(c.isalpha() for c in text) if what == "letters" else 0


def stock(item: Literal["bolts", "gaskets"]) -> int:
    """How many units of an item are in stock.

    Args:
        item: the item.
    """
    return {"bolts": 1240, "gaskets": 230}[item]


def quote(item: Literal["notebook", "pen"], quantity: int) -> float:
    """What a quantity of an item costs, in dollars.

    Args:
        item: the item.
        quantity: how many.
    """
    return {"notebook": 3.4, "pen": 1.5}[item] * quantity


def test_quoted_text_keeps_its_spelled_numbers() -> None:
    question = "word count: 'bring two spare keys' and two more"
    assert h.with_digits(question) == "word count: 'bring two spare keys' and 2 more"


@pytest.mark.parametrize(
    ("value", "question", "expected"),
    [
        ("letters", "word count: 'bring two spare keys'", "words"),
        ("letters", "How many letters are in 'words words'?", "letters"),  # named already
        ("letters", "count 'abc'", "letters"),  # no choice named: as it is
        ("vowels", "letters or words in 'abc'?", "vowels"),  # two named: as it is
    ],
)
def test_a_choice_the_question_does_not_name_is_the_one_it_names(
    value: str, question: str, expected: str
) -> None:
    enums = {"what": ["letters", "words", "vowels"]}
    assert h.grounded_enums({"what": value}, question, enums)["what"] == expected


async def test_a_choice_taken_from_the_example_is_grounded_and_run() -> None:
    written = ToolCall(
        "count_text", {"text": "bring two spare keys", "what": "letters", "type": "string"}
    )
    model = ScriptedModel([written])
    agent = Agent(model, tools=[count_text, calculator], strategy=GuidedStrategy())
    result = await agent.run("word count: 'bring two spare keys'")
    started = of_type(result, ToolCallStarted)
    assert [e.call.arguments for e in started] == [
        {"text": "bring two spare keys", "what": "words"}
    ]
    assert result.output == "4"


async def test_an_invalid_call_with_another_tools_choice_goes_to_that_tool() -> None:
    model = ScriptedModel([ToolCall("stock", {"item": "notebooks", "quantity": 8})])
    agent = Agent(model, tools=[stock, quote], strategy=GuidedStrategy())
    result = await agent.run("quote me for 8 notebooks")
    started = of_type(result, ToolCallStarted)
    assert [(e.call.name, e.call.arguments) for e in started] == [
        ("quote", {"item": "notebook", "quantity": 8})
    ]
    assert float(result.output or "nan") == pytest.approx(27.2)


@pytest.mark.parametrize(
    ("question", "answer", "expected"),
    [
        (
            "I need the capitals of Valdoria and Quenland.",
            "Port Halloway",
            "Merrowgate and Port Halloway",
        ),
        (
            "I need the capitals of Valdoria and Quenland.",
            "Merrowgate, Port Halloway",
            "Merrowgate, Port Halloway",
        ),
    ],
)
async def test_an_answer_that_gives_one_of_a_lists_results_gives_them_all(
    question: str, answer: str, expected: str
) -> None:
    model = ScriptedModel([ToolCall("capital_of", {"country": "Valdoria"}), answer])
    agent = Agent(model, tools=[capital_of, calculator], strategy=GuidedStrategy())
    result = await agent.run(question)
    assert result.output == expected
    off = Agent(
        ScriptedModel([ToolCall("capital_of", {"country": "Valdoria"}), answer]),
        tools=[capital_of, calculator],
        strategy=GuidedStrategy(fan_out=False),
    )
    assert (await off.run(question)).output != "Merrowgate and Port Halloway"


def test_a_which_question_does_not_ask_for_every_result_of_its_list() -> None:
    facts = [
        h.Fact(ToolCall("capital_of", {"country": c}), capital_of(c), True)
        for c in ("Valdoria", "Quenland")
    ]
    assert h.listed_results("the capitals of Quenland and Valdoria?", facts) == [
        "Port Halloway",
        "Merrowgate",
    ]
    assert h.listed_results("Which of Valdoria and Quenland has a port?", facts) is None
    assert h.listed_results("the capitals of Valdoria, Quenland and Osterwick?", facts) is None


def outlook(city: str, days: int = 3) -> str:
    """The weather of a city, one entry a day.

    Each entry has day (1 is tomorrow) and conditions.
    Example: outlook(city="Skarholm", days=1) returns '[{"day": 1, "conditions": "snow"}]'.

    Args:
        city: the city.
        days: how many days ahead, 1 to 5.
    """
    return json.dumps([{"day": d, "conditions": "sun"} for d in range(1, days + 1)])


def days_between(start: str, end: str) -> int:
    """How many days lie between two dates (YYYY-MM-DD).

    Args:
        start: the first date.
        end: the second date.
    """
    import datetime as dt

    return (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days


async def test_a_question_with_only_its_words_left_ends_on_its_result() -> None:
    # "days" is left (a word the tools explain), but no number: a copied example in
    # the next step does not send the run on to another tool
    model = ScriptedModel(
        [
            ToolCall("days_between", {"start": "2024-02-01", "end": "2024-03-31"}),
            ToolCall("outlook", {"city": "Skarholm", "days": 1}),
            ToolCall("add_days", {"date": "2024-02-01", "days": 59}),
            "59",
        ]
    )
    agent = Agent(model, tools=[days_between, add_days, outlook], strategy=GuidedStrategy())
    result = await agent.run("Number of days from 2024-02-01 to 2024-03-31?")
    assert [e.call.name for e in of_type(result, ToolCallStarted)] == ["days_between"]
    assert result.output == "59"


# --- doubt_answers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "tools", "expected"),
    [
        (
            "Give me the capital of Lunaria.",
            ["lookup_capital", "lookup_population"],
            "lookup_capital",
        ),
        ("How many people live in Quenland?", ["lookup_capital", "lookup_population"], None),
        ("Which is more populous?", ["lookupCapital", "lookupPopulation"], "lookupPopulation"),
        ("Look up Lunaria.", ["lookup_capital", "lookup_population"], None),  # both say "look"
        ("Convert 3 miles.", ["convert_units", "calculator"], "convert_units"),
        (
            "What about the capital and its population?",
            ["lookup_capital", "lookup_population"],
            None,
        ),
        ("Who wrote Hamlet?", ["calculator", "convert_units", "lookup_capital"], None),
    ],
)
def test_the_tool_a_question_names_by_a_word_of_its_name_no_other_tool_has(
    question: str, tools: list[str], expected: str | None
) -> None:
    named = h.named_tools(question, tools)
    assert (named[0] if len(named) == 1 else None) == expected


async def test_a_direct_answer_to_a_question_naming_two_tools_is_made_again_as_any_call() -> None:
    model = ScriptedModel(["Lunaria", calc("2 + 2"), "4"])
    tools = [calculator, lookup_capital, convert_units]
    agent = Agent(model, tools=tools, strategy=GuidedStrategy())
    await agent.run("Which capital's name has more letters: convert them to a count?")
    assert model.params[1].tool_choice == "required"


@pytest.mark.parametrize(
    "text",
    [
        '{{"name": "lookup_temperature", "arguments": {"temperature": 250, "unit": "K"}}}',
        '{{"name": "convert_units", "arguments": {"value": 14 * 2.5, "from_unit": "kg"}}}',
        '{"name": "calculator", "arguments": {"expression": "2+2"}}',
    ],
)
def test_a_call_written_with_doubled_braces_looks_like_a_call(text: str) -> None:
    assert h.looks_like_call(text)


async def test_a_text_call_with_doubled_braces_is_generated_again_under_the_schemas() -> None:
    written = '{{"name": "lookup_temperature", "arguments": {"temperature": 250, "unit": "K"}}}'
    call = ToolCall("convert_units", {"value": 250, "from_unit": "k", "to_unit": "c"})
    model = ScriptedModel([written, call])
    result = await guided(model).run("Express 250 kelvin in degrees Celsius.")
    assert [e.purpose for e in of_type(result, ModelRequested)][:2] == ["decide", "repair"]
    assert result.output == "-23.15"


async def test_a_direct_answer_to_a_question_naming_a_tool_is_made_again_as_its_call() -> None:
    model = ScriptedModel(["Lunaria City", ToolCall("lookup_capital", {"country": "Valdoria"})])
    result = await guided(model).run("Give me the capital of Valdoria.")
    assert result.output == "Merrowgate"
    assert [e.purpose for e in of_type(result, ModelRequested)] == ["decide", "repair"]
    assert model.params[1].tool_choice == "lookup_capital"
    assert [d.name for d in model.params[1].tools] == ["lookup_capital"]


async def test_a_direct_answer_with_a_number_the_question_lacks_is_worked_out_by_a_tool() -> None:
    model = ScriptedModel(["531", calc("1460 * 35 / 100")])
    result = await guided(model).run("What's 35% of 1,460?")
    assert result.output == "511"
    assert model.params[1].tool_choice == "required"
    assert [e.call.arguments for e in of_type(result, ToolCallStarted)] == [
        {"expression": "1460 * 35 / 100"}
    ]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("How many days are in January?", "31"),  # no number in the question
        ("What is 12 times 3?", "36 is 12 times 3"),  # ... 36 is new: doubted (below)
        ("Who wrote Hamlet?", "Shakespeare"),
        ("What is 7 plus 0?", "7"),  # the question's own number
    ],
)
async def test_which_direct_answers_are_doubted(question: str, answer: str) -> None:
    model = ScriptedModel([answer, calc("12*3"), answer])
    result = await guided(model, fresh_answers=False).run(question)
    doubted = "repair" in [e.purpose for e in of_type(result, ModelRequested)]
    assert doubted == (question == "What is 12 times 3?")


async def test_a_doubted_answer_is_doubted_once_and_a_text_reply_is_answered() -> None:
    model = ScriptedModel(["Lunaria City", "I cannot call a tool.", "Tarn"])
    result = await guided(model, sentence_recall=False).run("Give me the capital of Lunaria.")
    assert [e.purpose for e in of_type(result, ModelRequested)] == ["decide", "repair", "answer"]
    assert result.usage.tool_calls == 0
    assert result.output == "Tarn"


async def test_without_doubt_answers_the_direct_answer_stands() -> None:
    model = ScriptedModel(["531"])
    result = await guided(model, doubt_answers=False, fresh_answers=False).run(
        "What's 35% of 1,460?"
    )
    assert result.output == "531"
    assert result.usage.model_calls == 1


async def test_a_run_cut_anywhere_in_a_doubted_answer_resumes_to_the_same_answer(
    make_store: StoreFactory,
) -> None:
    def reply(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        if params.tool_choice == "lookup_capital":
            return ModelResponse(tool_calls=[ToolCall("lookup_capital", {"country": "Valdoria"})])
        if any("Merrowgate" in str(m.content) for m in messages):
            return ModelResponse(text="Merrowgate")
        return ModelResponse(text="Lunaria City")

    def agent(store: JournalStore) -> Agent[None, str]:
        model = FunctionModel(reply)
        tools = [calculator, convert_units, Tool(lookup_capital, idempotent=True)]
        return Agent(model, tools=tools, strategy=GuidedStrategy(), store=store)

    question = "Give me the capital of Valdoria."
    for result in await resumed_at_every_cut(make_store, agent, question, "Merrowgate"):
        assert len(of_type(result, ToolCallFinished)) == 1


def reverse_text(text: str) -> str:
    """The text reversed.

    Args:
        text: the text.
    """
    return text[::-1]


async def test_a_call_with_one_extra_choice_of_another_tool_keeps_its_own_tool() -> None:
    call = ToolCall("reverse_text", {"text": "east harbour", "what": "letters"})
    model = ScriptedModel([call, "ruobrah tsae"])
    agent = Agent(model, tools=[reverse_text, count_text], strategy=GuidedStrategy())
    result = await agent.run("Write the phrase 'east harbour' in reverse.")
    assert [e.name for e in of_type(result, ToolCallFinished)] == ["reverse_text"]
    assert result.output == "ruobrah tsae"


def test_the_leaves_of_arguments_nested_past_the_recursion_limit() -> None:
    deep: object = "x"
    for i in range(5_000):
        deep = [deep] if i % 2 else {"k": deep}
    assert h.leaves(deep) == ["x"]
    assert h.leaves({"a": [1, {"b": 2, "c": [3, 4]}], "d": 5}) == [1, 2, 3, 4, 5]
    assert h.leaves([]) == []
