"""Odd tool calls from a model: duplicate or reused ids, arguments nested too deep,
names and arguments of the wrong kind. None of them fails the run or damages the
journal; the model is told what is wrong with the call, and every call keeps its result."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from helpers import of_type
from tether import (
    Agent,
    AssistantMessage,
    LoopDetected,
    Message,
    ModelResponded,
    ModelResponse,
    RunContext,
    Tool,
    ToolCall,
    ToolCallFinished,
    ToolResultMessage,
    approve,
)
from tether.journal import JournalStore, SQLiteStore
from tether.models import Model, ModelParams
from tether.testing import FunctionModel, ScriptedModel

StoreFactory = Callable[[], JournalStore]


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _pairs(messages: Sequence[Message]) -> list[tuple[list[str], list[str]]]:
    """Each assistant turn's call ids, and the ids of the results that follow it."""
    out: list[tuple[list[str], list[str]]] = []
    for m in messages:
        if isinstance(m, AssistantMessage) and m.tool_calls:
            out.append(([c.id for c in m.tool_calls], []))
        elif isinstance(m, ToolResultMessage):
            out[-1][1].append(m.call_id)
    return out


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


# --- ids -----------------------------------------------------------------------------------


async def test_two_calls_under_one_id_each_get_their_result_in_the_conversation() -> None:
    model = ScriptedModel(
        [
            [ToolCall("add", {"a": 1, "b": 2}, id="x"), ToolCall("add", {"a": 5, "b": 5}, id="x")],
            "ok",
        ]
    )
    result = await Agent(model, tools=[add]).run("q")
    assert result.status == "completed"
    last_request = model.requests[-1]
    assert not isinstance(last_request[-1], AssistantMessage)  # a provider refuses that
    [(ids, results)] = _pairs(last_request)
    assert ids == ["x", "call_1_1"]
    assert results == ids
    contents = [m.content for m in last_request if isinstance(m, ToolResultMessage)]
    assert contents == ["3", "10"]


async def test_calls_under_one_id_can_be_decided_apart_and_resumed(tmp_path: Path) -> None:
    paid: list[int] = []

    def pay(amount: int) -> str:
        """Pay an amount."""
        paid.append(amount)
        return f"paid {amount}"

    store = SQLiteStore(tmp_path / "j.db")
    calls = [ToolCall("pay", {"amount": 5}, id="x"), ToolCall("pay", {"amount": 7}, id="x")]
    agent = Agent(
        ScriptedModel([calls, "done"]), tools=[Tool(pay, requires_approval=True)], store=store
    )
    paused = await agent.run("pay")
    assert [c.id for c in paused.pending] == ["x", "call_1_1"]
    done = await agent.resume(paused.run_id, decisions={"x": approve(), "call_1_1": approve()})
    assert done.output == "done"
    assert paid == [5, 7]
    [(ids, results)] = _pairs(done.messages)
    assert results == ids == ["x", "call_1_1"]


async def test_an_id_the_model_reuses_from_an_earlier_turn_gets_its_own_idempotency_key() -> None:
    keys: list[str] = []

    def charge(ctx: RunContext[None], amount: int) -> str:
        """Charge an amount."""
        keys.append(ctx.idempotency_key)
        return "charged"

    # A server that numbers the calls of each response: every turn's first call is "call_0".
    model = ScriptedModel(
        [
            ToolCall("charge", {"amount": 1}, id="call_0"),
            ToolCall("charge", {"amount": 2}, id="call_0"),
            "done",
        ]
    )
    result = await Agent(model, tools=[charge]).run("q")
    assert len(keys) == 2
    assert keys[0] != keys[1]
    assert [ids for ids, _ in _pairs(result.messages)] == [["call_0"], ["call_2_0"]]


async def test_a_sub_agent_called_again_under_a_reused_id_answers_its_new_task(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "j.db")

    def echo(messages: Sequence[Message], params: ModelParams) -> str:
        return f"answer to {messages[-1].content}"

    helper = Agent(FunctionModel(echo), name="helper", store=store)
    model = ScriptedModel(
        [
            ToolCall("helper", {"task": "first"}, id="call_0"),
            ToolCall("helper", {"task": "second"}, id="call_0"),
            "done",
        ]
    )
    result = await Agent(model, tools=[helper.as_tool()], store=store).run("q")
    answers = [e.content for e in of_type(result, ToolCallFinished)]
    assert answers == ["answer to first", "answer to second"]


async def test_an_id_reused_after_a_resume_is_renamed_as_in_a_live_run(tmp_path: Path) -> None:
    def pay(amount: int) -> str:
        """Pay an amount."""
        return f"paid {amount}"

    store = SQLiteStore(tmp_path / "j.db")
    model = ScriptedModel(
        [ToolCall("pay", {"amount": 5}, id="p"), ToolCall("pay", {"amount": 6}, id="p"), "done"]
    )
    agent = Agent(model, tools=[Tool(pay, requires_approval=True)], store=store)
    paused = await agent.run("pay")
    again = await agent.resume(paused.run_id, decisions={"p": approve()})
    # The resumed run remembers the ids of the turns before it was paused.
    assert [c.id for c in again.pending] == ["call_2_0"]
    done = await agent.resume(again.run_id, decisions={"call_2_0": approve()})
    assert [ids for ids, _ in _pairs(done.messages)] == [["p"], ["call_2_0"]]
    assert [e.content for e in of_type(done, ToolCallFinished)] == ["paid 5", "paid 6"]


class _SameResponse(Model):
    """A custom model that hands back the very same response object at every turn."""

    name = "same"

    def __init__(self) -> None:
        self.response = ModelResponse(tool_calls=[ToolCall("add", {"a": 1, "b": 1})])
        self.turns = 0

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        self.turns += 1
        return self.response if self.turns < 3 else ModelResponse(text="done")


async def test_a_model_that_returns_the_same_objects_again_keeps_earlier_turns_intact() -> None:
    result = await Agent(_SameResponse(), tools=[add]).run("q")
    assert result.output == "done"
    pairs = _pairs(result.messages)
    assert pairs == [(["call_1_0"], ["call_1_0"]), (["call_2_0"], ["call_2_0"])]


async def test_an_id_of_tethers_own_copied_from_the_history_is_renamed() -> None:
    model = ScriptedModel(
        [
            ToolCall("add", {"a": 1, "b": 1}),  # named call_1_0 by the run
            ToolCall("add", {"a": 2, "b": 2}, id="call_1_0"),  # a small model copies it
            "done",
        ]
    )
    result = await Agent(model, tools=[add]).run("q")
    assert [ids for ids, _ in _pairs(result.messages)] == [["call_1_0"], ["call_2_0"]]


# --- arguments nested too deep ------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        "[" * 100_000,
        "[" * 5000 + "]" * 5000,
        '{"a": ' + "[" * 3000 + "]" * 3000 + ', "b": 1}',
    ],
    ids=["unclosed", "nested-5000", "object-with-deep-value"],
)
async def test_json_arguments_nested_too_deep_get_a_validation_error(
    make_store: StoreFactory, arguments: str
) -> None:
    store = make_store()
    model = ScriptedModel([ToolCall("add", arguments), "done"])
    result = await Agent(model, tools=[add], store=store).run("q")
    assert result.status == "completed"
    [finished] = of_type(result, ToolCallFinished)
    assert finished.outcome == "invalid_arguments"
    assert "Invalid arguments for tool 'add'" in finished.content
    assert len(await store.load(result.run_id)) == len(result.events)


async def test_dict_arguments_nested_deeper_than_a_journal_writes_are_kept_as_text(
    make_store: StoreFactory,
) -> None:
    # A provider that parses the model's JSON itself hands over a dict this deep.
    seen: list[Any] = []

    def store_tree(tree: Any) -> str:
        """Store a tree."""
        seen.append(tree)
        return "stored"

    store = make_store()
    tree = _deep(300)
    model = ScriptedModel([ToolCall("store_tree", {"tree": tree}), "done"])
    result = await Agent(model, tools=[store_tree], store=store).run("q")
    assert result.status == "completed"
    [finished] = of_type(result, ToolCallFinished)
    assert finished.outcome == "invalid_arguments"  # the model is told: nested too deep
    assert not seen
    loaded = of_type(await store.load(result.run_id), ModelResponded)
    [call] = loaded[0].response.tool_calls
    assert call.parsed_arguments() == {"tree": tree}  # nothing lost


def test_a_call_key_and_its_json_never_raise_on_arguments_nested_too_deep() -> None:
    for arguments in ("[" * 100_000, {"a": _deep(5000)}, {"a": 10**5000}):
        call = ToolCall("t", arguments)
        assert call.key().startswith("t:")
        assert isinstance(call.arguments_json(), str)
    text = "[" * 100_000
    assert ToolCall("t", text).parsed_arguments() == text


# --- names and arguments of the wrong kind --------------------------------------------------------


class _Custom:
    def __repr__(self) -> str:
        return "<custom>"


@pytest.mark.parametrize(
    ("call", "outcome"),
    [
        (ToolCall(None, {}), "unknown_tool"),  # type: ignore[arg-type]
        (ToolCall(42, {}), "unknown_tool"),  # type: ignore[arg-type]
        (ToolCall("add", [1, 2]), "invalid_arguments"),  # type: ignore[arg-type]
        (ToolCall("add", None), "invalid_arguments"),  # type: ignore[arg-type]
        (ToolCall("add", 7), "invalid_arguments"),  # type: ignore[arg-type]
        (ToolCall("add", (1, 2)), "invalid_arguments"),  # type: ignore[arg-type]
        (ToolCall("add", {"a": _Custom(), "b": 1}), "invalid_arguments"),
        (ToolCall("add", {"a": 1, "b": 2}, id=7), "ok"),  # type: ignore[arg-type]
    ],
    ids=["none-name", "int-name", "list", "none", "int", "tuple", "object-value", "int-id"],
)
async def test_a_call_of_the_wrong_kind_is_told_to_the_model_and_journaled_as_it_ran(
    make_store: StoreFactory, call: ToolCall, outcome: str
) -> None:
    store = make_store()
    agent = Agent(ScriptedModel([call, "done"]), tools=[add], store=store)
    result = await agent.run("q")
    assert result.status == "completed"
    assert result.output == "done"
    [finished] = of_type(result, ToolCallFinished)
    assert finished.outcome == outcome
    loaded = await store.load(result.run_id)  # the journal reads back ...
    [live] = of_type(result, ModelResponded)[0].response.tool_calls
    [journaled] = of_type(loaded, ModelResponded)[0].response.tool_calls
    assert journaled == live  # ... as the run saw it
    assert (await agent.resume(result.run_id)).output == "done"


class _Returns(Model):
    name = "custom"

    def __init__(self, response: Any) -> None:
        self.response = response

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        return self.response  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("response", "says"),
    [
        (ModelResponse(tool_calls=[{"name": "add"}]), "tether.ToolCall objects"),  # type: ignore[list-item]
        (ModelResponse(text=42), "text is a str or None"),  # type: ignore[arg-type]
        (ModelResponse(tool_calls=ToolCall("add", {})), "a list of tether.ToolCall"),  # type: ignore[arg-type]
    ],
    ids=["call-as-dict", "text-as-int", "one-call-not-in-a-list"],
)
async def test_a_custom_model_response_of_the_wrong_kind_fails_clearly(
    tmp_path: Path, response: ModelResponse, says: str
) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    result = await Agent(_Returns(response), tools=[add], store=store).run("q")
    assert result.status == "failed"
    assert result.reason.kind == "model_error"
    assert says in result.reason.message
    assert len(await store.load(result.run_id)) == len(result.events)


async def test_a_custom_models_answer_with_none_for_its_calls_is_an_answer(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "j.db")
    model = _Returns(ModelResponse(text="done", tool_calls=None))  # type: ignore[arg-type]
    result = await Agent(model, tools=[add], store=store).run("q")
    assert result.output == "done"
    [journaled] = of_type(await store.load(result.run_id), ModelResponded)
    assert journaled.response.tool_calls == []


# --- loop detection ---------------------------------------------------------------------------


async def test_a_repeated_call_is_detected_when_its_nested_keys_come_in_another_order() -> None:
    ran: list[Any] = []

    def search(q: dict[str, int]) -> str:
        """Search."""
        ran.append(q)
        return "no results"

    calls = [
        ToolCall("search", {"q": {"x": 1, "y": 2}}),
        ToolCall("search", {"q": {"y": 2, "x": 1}}),
        ToolCall("search", '{"q": {"x": 1, "y": 2}}'),
    ]
    result = await Agent(ScriptedModel([*calls, "done", "done"]), tools=[search]).run("q")
    assert [e.loop for e in of_type(result, LoopDetected)] == ["repeated_call"]
    assert len(ran) == 2


def test_call_keys_are_canonical_at_every_depth() -> None:
    a = ToolCall("t", {"q": {"x": 1, "y": [{"b": 2, "a": 1}]}, "p": 1})
    b = ToolCall("t", '{"p": 1, "q": {"y": [{"a": 1, "b": 2}], "x": 1}}')
    assert a.key() == b.key()
    assert a.key() != ToolCall("t", {"q": {"x": 1, "y": [{"b": 2, "a": 2}]}, "p": 1}).key()
    assert a.key() != ToolCall("u", {"q": {"x": 1, "y": [{"b": 2, "a": 1}]}, "p": 1}).key()


async def test_a_schema_tool_given_json_nested_too_deep_tells_the_model() -> None:
    async def echo(args: dict[str, object]) -> str:
        return "ran"

    deep = Tool.from_schema(
        name="deep",
        description="Take anything.",
        parameters={"type": "object", "properties": {"x": {}}},
        fn=echo,
    )
    model = ScriptedModel([ToolCall("deep", '{"x": ' + "[" * 100_000 + "}"), "done"])
    result = await Agent(model, tools=[deep]).run("q")
    assert (result.status, result.output) == ("completed", "done")
    told = [e for e in result.events if e.type == "tool_call_finished"]
    assert [e.outcome for e in told] == ["invalid_arguments"]
    assert "nested too deep" in told[0].content or "not valid JSON" in told[0].content
