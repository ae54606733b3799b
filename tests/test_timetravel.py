"""Fork a run at an event, with another tool result or prompt; replay a run with no model."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from tether import (
    Agent,
    ConfigError,
    Message,
    ModelResponse,
    ReplayMismatch,
    ToolCall,
    ToolResultMessage,
    UserMessage,
    comparable,
)
from tether.journal import JournalStore
from tether.models import ModelParams
from tether.testing import FunctionModel, ScriptedModel

StoreFactory = Callable[[], JournalStore]


def price(item: str) -> str:
    """The price of an item."""
    return {"tea": "3", "cake": "5"}.get(item, "unknown")


def shopper(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
    prompt = next(m.content for m in messages if isinstance(m, UserMessage))
    results = [m.content for m in messages if isinstance(m, ToolResultMessage)]
    items = prompt.split()[1:]
    if len(results) < len(items):
        return ModelResponse(tool_calls=[ToolCall("price", {"item": items[len(results)]})])
    return ModelResponse(text="total " + "+".join(results))


def agent(store: JournalStore) -> Agent[None, str]:
    return Agent(FunctionModel(shopper), tools=[price], store=store)


async def test_fork_with_another_tool_result(make_store: StoreFactory) -> None:
    store = make_store()
    original = await agent(store).run("buy tea cake")
    assert original.output == "total 3+5"
    first = next(e for e in original.events if e.type == "tool_call_finished")
    new_id = await agent(store).fork(
        original.run_id, first.seq + 1, tool_results={first.call_id: "30"}
    )
    forked = await agent(store).resume(new_id)
    assert (forked.status, forked.output) == ("completed", "total 30+5")
    started = forked.events[0]
    assert started.type == "run_started"
    assert (started.forked_from, started.fork_seq) == (original.run_id, first.seq + 1)
    # the original is untouched
    assert (await store.load(original.run_id)) == original.events


async def test_fork_with_another_prompt(make_store: StoreFactory) -> None:
    store = make_store()
    original = await agent(store).run("buy tea")
    new_id = await agent(store).fork(original.run_id, 1, prompt="buy cake cake")
    forked = await agent(store).resume(new_id)
    assert forked.output == "total 5+5"


async def test_fork_point_outside_the_journal_is_refused(make_store: StoreFactory) -> None:
    store = make_store()
    original = await agent(store).run("buy tea")
    with pytest.raises(ConfigError, match="outside the journal"):
        await agent(store).fork(original.run_id, 999)
    with pytest.raises(ConfigError, match="cannot replace the results"):
        await agent(store).fork(original.run_id, 2, tool_results={"call_9_9": "x"})


async def test_replay_gives_identical_events_with_no_model(make_store: StoreFactory) -> None:
    store = make_store()
    original = await agent(store).run("buy tea cake")
    no_model = Agent(ScriptedModel([]), tools=[price], store=store)  # would fail if asked
    replayed = await no_model.replay(original.run_id)
    assert replayed.status == "completed"
    assert comparable(replayed.events) == comparable(original.events)


async def test_replay_fails_loudly_when_the_agent_behaves_differently(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    original = await agent(store).run("buy tea cake")

    def different_price(item: str) -> str:
        """The price of an item."""
        return "9"

    changed = Agent(ScriptedModel([]), tools=[different_price], store=store)
    replayed = await changed.replay(original.run_id)
    assert comparable(replayed.events) != comparable(original.events)
    too_short = Agent(ScriptedModel([]), tools=[price], store=store, output_type=int)
    result = await too_short.replay(original.run_id)
    assert result.status == "failed"
    assert result.reason.detail == ReplayMismatch.__name__
