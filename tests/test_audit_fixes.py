"""Answers that went out unchecked or came back different: a give-up's answer through the
output guardrails, non-finite numbers refused as answers, bare text for unions of simple
types, fork's replaced results and prompt checked, and a resumed run diagnosed as running."""

from __future__ import annotations

import asyncio
import enum
import math
from collections.abc import Callable
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict

from helpers import of_type
from tether import (
    Agent,
    Budget,
    ConfigError,
    GuardrailChecked,
    OutputInvalid,
    RunFinished,
    StaticAnswer,
    Tool,
    ToolCall,
    ToolResultMessage,
    Tripped,
    approve,
    diagnose,
    output_guardrail,
)
from tether.journal import JournalStore
from tether.run import OutputSpec
from tether.testing import ScriptedModel

StoreFactory = Callable[[], JournalStore]


# --- a give-up's answer goes through the output guardrails -----------------------------------


@output_guardrail
def no_secrets(answer: str) -> str | None:
    return "the answer leaks the vault code" if "1234" in answer else None


def lookup() -> str:
    """Look up the vault."""
    return "the vault code is 1234"


def _leaky(store: JournalStore | None = None, **options: Any) -> Agent[None, str]:
    """An agent whose budget stops it after one step; its fallback repeats the secret."""
    model = ScriptedModel([ToolCall("lookup", {}), "The code is 1234."])
    return Agent(
        model,
        tools=[lookup],
        guardrails=[no_secrets],
        budget=Budget(max_steps=1),
        store=store,
        **options,
    )


async def test_an_output_guardrail_stops_the_answer_of_a_run_that_gave_up() -> None:
    result = await _leaky().run("what is the vault code?")
    assert result.status == "failed"
    assert result.output is None
    assert result.reason.kind == "guardrail_tripped"
    assert result.reason.detail == "no_secrets"
    assert "leaks the vault code" in result.reason.message
    assert "gave up" in result.reason.message
    checks = of_type(result, GuardrailChecked)
    assert [(c.stage, c.guardrail, c.tripped) for c in checks] == [("output", "no_secrets", True)]


async def test_a_static_fallback_answer_is_checked_as_well() -> None:
    agent = _leaky(fallback=StaticAnswer("Use 1234."))
    result = await agent.run("what is the vault code?")
    assert (result.status, result.output, result.reason.kind) == (
        "failed",
        None,
        "guardrail_tripped",
    )


async def test_a_give_up_answer_that_passes_the_output_guardrails_is_kept() -> None:
    model = ScriptedModel([ToolCall("lookup", {}), "I could not finish."])
    agent = Agent(model, tools=[lookup], guardrails=[no_secrets], budget=Budget(max_steps=1))
    result = await agent.run("q")
    assert (result.status, result.output) == ("gave_up", "I could not finish.")
    assert result.reason.kind == "budget_exhausted"
    checks = of_type(result, GuardrailChecked)
    assert [(c.stage, c.tripped) for c in checks] == [("output", False)]


async def test_a_redirecting_output_guardrail_ends_a_run_that_gave_up() -> None:
    @output_guardrail(action="redirect")
    def no_shouting(answer: str) -> Tripped | None:
        return Tripped("the answer is in capitals") if answer.isupper() else None

    model = ScriptedModel(["HELLO", "HELLO", "HELLO", "hello"])
    result = await Agent(model, guardrails=[no_shouting], budget=Budget(max_steps=2)).run("q")
    assert result.status == "failed"
    assert result.output is None
    assert result.reason.kind == "guardrail_tripped"
    assert model.remaining == 1  # the fallback's answer is not asked for again


async def test_a_guardrail_that_raises_on_a_give_up_answer_fails_closed() -> None:
    @output_guardrail
    def broken(answer: str) -> None:
        raise RuntimeError("classifier down")

    model = ScriptedModel([ToolCall("lookup", {}), "The code is 1234."])
    agent = Agent(model, tools=[lookup], guardrails=[broken], budget=Budget(max_steps=1))
    result = await agent.run("q")
    assert (result.status, result.output) == ("failed", None)
    assert "classifier down" in result.reason.message


async def test_a_give_up_stopped_by_a_guardrail_resumes_as_it_ended(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    live = await _leaky(store).run("q")
    again = await _leaky(store).resume(live.run_id)
    assert (again.status, again.output, again.reason) == (live.status, None, live.reason)
    journaled = (await store.load(live.run_id))[-1]
    assert isinstance(journaled, RunFinished)
    assert (journaled.status, journaled.output) == ("failed", None)


async def test_a_crash_after_a_give_up_answer_was_checked_resumes_to_the_same_end(
    make_store: StoreFactory,
) -> None:
    live = await _leaky(make_store()).run("q")
    # the process died after the guardrail's verdict, before the run's end was journaled
    cut = next(i for i, e in enumerate(live.events) if isinstance(e, GuardrailChecked)) + 1
    store = make_store()
    await store.append(live.run_id, live.events[:cut])
    model = ScriptedModel(["The code is 1234."])  # the fallback is asked again
    agent = Agent(
        model, tools=[lookup], guardrails=[no_secrets], budget=Budget(max_steps=1), store=store
    )
    again = await agent.resume(live.run_id)
    assert (again.status, again.output, again.reason.kind) == ("failed", None, "guardrail_tripped")
    end = (await store.load(live.run_id))[-1]
    assert isinstance(end, RunFinished)
    assert end.output is None


# --- numbers that are not finite are not answers ------------------------------------------------


@pytest.mark.parametrize("text", ["nan", "NaN", "1e400", "-Infinity", "inf"])
async def test_a_non_finite_number_goes_back_to_the_model(text: str) -> None:
    model = ScriptedModel([text, "2.5"])
    result = await Agent(model, output_type=float).run("q")
    assert (result.status, result.output) == ("completed", 2.5)
    invalid = of_type(result, OutputInvalid)
    assert len(invalid) == 1
    assert "not a finite number" in invalid[0].errors
    assert "not a finite number" in str(model.requests[1][-1].content)  # type: ignore[union-attr]


class Price(BaseModel):
    # its own config would write NaN as a string; the answer is refused all the same
    model_config = ConfigDict(ser_json_inf_nan="strings")

    amount: float


class Basket(BaseModel):
    items: list[Price]
    weights: dict[str, float] = {}


@pytest.mark.parametrize(
    ("answer", "place"),
    [
        ('{"items": [{"amount": 1}, {"amount": "NaN"}]}', "items.1.amount"),
        ('{"items": [{"amount": 1e400}]}', "items.0.amount"),
        ('{"items": [], "weights": {"tea": "-Infinity"}}', "weights.tea"),
    ],
)
def test_a_non_finite_number_inside_a_model_is_refused_with_its_place(
    answer: str, place: str
) -> None:
    ok, errors = OutputSpec.of(Basket).parse(answer)
    assert not ok
    assert f"- {place}: " in errors
    assert "finite" in errors


async def test_a_run_that_only_answers_nan_fails_and_resumes_the_same(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    agent = Agent(ScriptedModel(["nan", "nan", "nan"]), output_type=float, store=store)
    live = await agent.run("q")
    assert (live.status, live.output, live.reason.kind) == ("failed", None, "output_invalid")
    assert "not a finite number" in live.reason.message
    again = await agent.resume(live.run_id)
    assert (again.status, again.output) == (live.status, live.output)


async def test_a_finite_answer_after_a_nan_is_journaled_and_resumed_equal(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    agent = Agent(ScriptedModel(["[1.5, 1e400]", "[1.5, 2]"]), output_type=list[float], store=store)
    live = await agent.run("q")
    again = await agent.resume(live.run_id)
    assert live.output == again.output == [1.5, 2.0]


async def test_a_fallback_answer_that_is_not_finite_is_refused(make_store: StoreFactory) -> None:
    store = make_store()
    agent = Agent(
        ScriptedModel([ToolCall("lookup", {})]),
        tools=[lookup],
        output_type=float,
        budget=Budget(max_steps=1),
        fallback=StaticAnswer(math.inf),
        store=store,
    )
    live = await agent.run("q")
    assert (live.status, live.output) == ("gave_up", None)
    assert "not a finite number" in live.reason.message
    again = await agent.resume(live.run_id)
    assert (again.status, again.output) == ("gave_up", None)


# --- bare text for unions of simple types -------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@pytest.mark.parametrize(
    ("output_type", "text", "expected"),
    [
        (str | None, "hello", "hello"),
        (int | str, "hello there", "hello there"),
        (bool | None, "yes", True),
        (Color | None, "blue", Color.BLUE),
        (Literal["a", 1], "a", "a"),
    ],
)
async def test_a_union_of_simple_types_takes_a_bare_answer(
    make_store: StoreFactory, output_type: Any, text: str, expected: object
) -> None:
    store = make_store()
    agent = Agent(ScriptedModel([text]), output_type=output_type, store=store)
    live = await agent.run("q")
    assert (live.status, live.output) == ("completed", expected)
    again = await agent.resume(live.run_id)
    assert again.output == expected
    # a union with an object in it does not take just any text
    ok, _ = OutputSpec.of(Price | None).parse(text)
    assert not ok


# --- fork: a prompt is text, a replaced result is shown as a tool's would be ---------------------


def add(a: int, b: int) -> int:
    """Add."""
    return a + b


async def _adder_run(store: JournalStore) -> tuple[str, str, int]:
    model = ScriptedModel([ToolCall("add", {"a": 1, "b": 2}), "three"])
    agent = Agent(model, tools=[add], store=store)
    done = await agent.run("q")
    finished = next(e for e in done.events if e.type == "tool_call_finished")
    return done.run_id, finished.call_id, finished.seq + 1


@pytest.mark.parametrize(
    ("value", "shown"), [(5, "5"), (None, "null"), ({"sum": 5}, '{"sum":5}'), (True, "true")]
)
async def test_a_fork_shows_a_replaced_result_that_is_not_text_as_a_tool_would(
    make_store: StoreFactory, value: object, shown: str
) -> None:
    store = make_store()
    run_id, call_id, at = await _adder_run(store)
    agent = Agent(ScriptedModel(["five"]), tools=[add], store=store)
    new_id = await agent.fork(run_id, at, tool_results={call_id: value})  # type: ignore[dict-item]
    forked = await agent.resume(new_id)
    assert (forked.status, forked.output) == ("completed", "five")
    results = [m for m in forked.messages if isinstance(m, ToolResultMessage)]
    assert [r.content for r in results] == [shown]


@pytest.mark.parametrize(
    "options",
    [
        {"prompt": 3},
        {"prompt": b"q"},
        {"tool_results": {"CALL": b"\xff\xfe"}},
        {"tool_results": {5: "x", "other": "y"}},
    ],
)
async def test_a_fork_that_cannot_be_written_raises_a_config_error_and_writes_nothing(
    make_store: StoreFactory, options: dict[str, Any]
) -> None:
    store = make_store()
    run_id, call_id, at = await _adder_run(store)
    if "tool_results" in options:  # name the real call
        options = {
            "tool_results": {
                (call_id if k == "CALL" else k): v for k, v in options["tool_results"].items()
            }
        }
    before = await store.list_runs()
    agent = Agent(ScriptedModel([]), tools=[add], store=store)
    with pytest.raises(ConfigError):
        await agent.fork(run_id, at, **options)
    assert len(await store.list_runs()) == len(before)


# --- diagnose: a resumed run is running until it ends again -------------------------------------


async def test_diagnose_says_running_while_an_approved_call_runs(make_store: StoreFactory) -> None:
    store = make_store()
    going, release = asyncio.Event(), asyncio.Event()

    async def refund(order: str) -> str:
        """Refund an order."""
        going.set()
        await release.wait()
        return f"refunded {order}"

    model = ScriptedModel([ToolCall("refund", {"order": "A-1"}), "done"])
    agent = Agent(model, tools=[Tool(refund, requires_approval=True)], store=store)
    first = await agent.run("refund A-1")
    assert diagnose(await store.load(first.run_id)).category == "waiting_for_approval"
    task = asyncio.create_task(
        agent.resume(first.run_id, decisions={first.pending[0].id: approve()})
    )
    await asyncio.wait_for(going.wait(), 5)
    seen = diagnose(await store.load(first.run_id))
    release.set()
    done = await task
    assert seen.category == "running"
    assert not seen.failed
    assert seen.waiting_for == ()
    assert done.completed
    assert diagnose(await store.load(first.run_id)).category == "completed"


async def test_diagnose_says_running_when_the_process_died_after_the_approval(
    make_store: StoreFactory,
) -> None:
    store = make_store()

    def refund(order: str) -> str:
        """Refund an order."""
        return f"refunded {order}"

    model = ScriptedModel([ToolCall("refund", {"order": "A-1"}), "done"])
    agent = Agent(model, tools=[Tool(refund, requires_approval=True)], store=store)
    first = await agent.run("refund A-1")
    done = await agent.resume(first.run_id, decisions={first.pending[0].id: approve()})
    events = done.events
    stopped = next(i for i, e in enumerate(events) if isinstance(e, RunFinished))
    assert diagnose(events[: stopped + 1]).category == "waiting_for_approval"
    for later in ("approval_decided", "tool_call_started", "tool_call_finished"):
        cut = next(i for i, e in enumerate(events) if e.type == later) + 1
        found = diagnose(events[:cut])
        assert (found.category, found.waiting_for) == ("running", ()), later
