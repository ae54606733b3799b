"""Long-term memory in agents: remember, recall and forget tools, recall into the
system message when a run starts, journaled so a resume neither searches nor
writes twice; on the SQLite and the PostgreSQL memory store."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest

from conftest import MakeStore
from tether import (
    Agent,
    ConfigError,
    LongTermMemory,
    MemoryRecalled,
    Message,
    ModelResponse,
    RunContext,
    SystemMessage,
    Tool,
    ToolCall,
    ToolCallFinished,
    ToolLoop,
    approve,
)
from tether.journal import SQLiteStore
from tether.memory import HashEmbedder, MemoryStore, SQLiteMemoryStore
from tether.models import ModelParams
from tether.run import RECALL_HEADING
from tether.testing import FunctionModel, ScriptedModel


def outcomes(result: Any) -> list[tuple[str, str, str]]:
    return [
        (e.name, e.outcome, e.content) for e in result.events if isinstance(e, ToolCallFinished)
    ]


async def test_what_one_run_remembers_the_next_recalls(make_memory: MakeStore) -> None:
    store = make_memory()
    memory = LongTermMemory(store, namespace=("user-1", "assistant"))
    writer = ScriptedModel(
        [ToolCall("remember", {"text": "The user's dog is called Biscuit."}), "noted"]
    )
    first = await Agent(writer, memory=memory).run("my dog is called Biscuit")
    assert outcomes(first)[0][:2] == ("remember", "ok")
    assert await store.count(("user-1", "assistant")) == 1

    reader = ScriptedModel(["Biscuit"])
    second = await Agent(reader, memory=memory).run("what is my dog called?")
    recalled = [e for e in second.events if isinstance(e, MemoryRecalled)]
    assert len(recalled) == 1
    assert recalled[0].texts == ["The user's dog is called Biscuit."]
    assert recalled[0].namespace == "user-1/assistant"
    system = reader.requests[0][0]
    assert isinstance(system, SystemMessage)
    assert RECALL_HEADING + "- The user's dog is called Biscuit." in system.content
    # The tools are offered to the model, with schemas.
    offered = {t.name for t in reader.params[0].tools}
    assert {"remember", "recall", "forget"} <= offered


async def test_recall_and_forget_stay_in_the_runs_namespace(make_memory: MakeStore) -> None:
    store = make_memory()
    mine = await store.add("alice", "Alice prefers tea.")
    theirs = await store.add("bob", "Bob prefers coffee.")

    def user(deps: dict[str, str]) -> str:
        return deps["user"]

    memory = LongTermMemory(store, namespace=user, recall=0)
    model = ScriptedModel(
        [
            ToolCall("recall", {"query": "prefers"}),
            ToolCall("forget", {"memory_id": theirs.id}),
            ToolCall("forget", {"memory_id": mine.id}),
            "done",
        ]
    )
    result = await Agent(model, memory=memory).run("tidy up", deps={"user": "alice"})
    (_, ok, found), (_, _, refused), (_, _, forgot) = outcomes(result)
    assert ok == "ok"
    assert "Alice prefers tea." in found
    assert "Bob" not in found
    assert "There is no memory" in refused
    assert forgot == f"Forgot memory {mine.id}."
    assert await store.get(theirs.id) is not None  # another user's memory is untouched
    assert await store.get(mine.id) is None


async def test_a_repeated_remember_call_writes_once(make_memory: MakeStore) -> None:
    """The same call run twice (a retry, or a resume after a crash) has one key."""
    store = make_memory()
    memory = LongTermMemory(store, namespace="n")
    remember = next(t for t in memory.agent_tools() if t.name == "remember")
    ctx: RunContext[None] = RunContext(None, "run-1", None, idempotency_key="run-1:call_1_0")  # type: ignore[arg-type]
    first = await remember.fn(ctx, text="The user lives in Porto.")
    again = await remember.fn(ctx, text="The user lives in Porto.")
    assert first == again
    assert await store.count("n") == 1


async def test_recalled_memories_fit_their_token_budget(make_memory: MakeStore) -> None:
    store = make_memory()
    for i in range(8):
        await store.add("n", f"Fact number {i} about the garden: " + "green " * 40)
    memory = LongTermMemory(store, namespace="n", recall=8, recall_tokens=150)
    model = ScriptedModel(["ok"])
    result = await Agent(model, memory=memory).run("tell me about the garden")
    recalled = next(e for e in result.events if isinstance(e, MemoryRecalled))
    assert 1 <= len(recalled.texts) < 8
    assert sum(len(t) for t in recalled.texts) <= 150 * 4


async def test_a_memory_too_long_to_recall_leaves_room_for_shorter_ones(
    make_memory: MakeStore,
) -> None:
    store = make_memory()
    await store.add("n", "Priya's travel plans: " + "Priya travel plans Lisbon flight. " * 60)
    short = ["Priya prefers window seats.", "Priya travels with a cat."]
    for text in short:
        await store.add("n", text)
    hits = await store.search("n", "Priya travel plans", 5)
    assert len(hits[0].memory.text) > 150 * 4  # the best hit cannot fit
    memory = LongTermMemory(store, namespace="n", recall=5, recall_tokens=150)
    result = await Agent(ScriptedModel(["ok"]), memory=memory).run("Priya travel plans")
    recalled = next(e for e in result.events if isinstance(e, MemoryRecalled))
    assert sorted(recalled.texts) == sorted(short)


def ship(item: str) -> str:
    """Ship an item."""
    return f"shipped {item}"


async def test_a_resumed_run_keeps_what_it_recalled(tmp_path: Any) -> None:
    memories = SQLiteMemoryStore(tmp_path / "m.db", embedder=HashEmbedder())
    await memories.add("n", "Ship books by courier.")
    journal = SQLiteStore(tmp_path / "j.db")
    memory = LongTermMemory(memories, namespace="n")
    model = ScriptedModel([ToolCall("ship", {"item": "book"}), "sent"])
    agent = Agent(model, tools=[Tool(ship, requires_approval=True)], memory=memory, store=journal)
    paused = await agent.run("ship the book")
    assert paused.status == "interrupted"
    # Memory changes while the run waits; the resumed run sees what it recalled.
    await memories.forget(namespace="n")
    await memories.add("n", "Ship books by pigeon.")
    done = await agent.resume(paused.run_id, decisions={paused.pending[0].id: approve()})
    assert done.output == "sent"
    recalls = [e for e in done.events if isinstance(e, MemoryRecalled)]
    assert len(recalls) == 1  # not searched again
    system = model.requests[-1][0]
    assert "Ship books by courier." in system.content  # type: ignore[union-attr]
    assert "pigeon" not in system.content  # type: ignore[union-attr]
    await journal.close()
    await memories.close()


def test_memory_settings_are_checked(tmp_path: Any) -> None:
    store = SQLiteMemoryStore(tmp_path / "m.db", embedder=HashEmbedder())
    with pytest.raises(ConfigError, match="recall must be an int"):
        LongTermMemory(store, namespace="n", recall=-1)
    with pytest.raises(ConfigError, match="needs a MemoryStore"):
        LongTermMemory("memory.db", namespace="n")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="namespace is a str"):
        LongTermMemory(store, namespace=42)  # type: ignore[arg-type]
    for bad in [("",), (), "a//b", ("x\ud800",)]:
        with pytest.raises(ConfigError, match=r"LongTermMemory\.namespace: "):
            LongTermMemory(store, namespace=bad)
    with pytest.raises(ConfigError, match=r"kinds: kinds=\(\) matches nothing"):
        LongTermMemory(store, namespace="n", kinds=())
    with pytest.raises(ConfigError, match="kinds: memory kind 'Fact' must be a lower-case"):
        LongTermMemory(store, namespace="n", kinds=("Fact",))
    assert LongTermMemory(store, namespace="n", kinds="fact").kinds == ("fact",)  # type: ignore[arg-type]

    def remember(text: str) -> str:
        """A tool of the user's own with the same name."""
        return text

    with pytest.raises(ConfigError, match=r"memory= adds remember"):
        Agent(ScriptedModel([]), tools=[remember], memory=LongTermMemory(store, namespace="n"))
    with pytest.raises(ConfigError, match=r"memory is a tether\.LongTermMemory"):
        Agent(ScriptedModel([]), memory=store)  # type: ignore[arg-type]


class BrokenStore(SQLiteMemoryStore):
    async def _lexical(self, *args: Any) -> list[str]:
        raise OSError("disk gone")


async def test_a_store_that_fails_at_recall_does_not_stop_the_run(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    broken = BrokenStore(tmp_path / "m.db", embedder=HashEmbedder())
    await broken.add("n", "A memory.")
    agent = Agent(ScriptedModel(["answered"]), memory=LongTermMemory(broken, namespace="n"))
    with caplog.at_level(logging.ERROR, logger="tether"):
        result = await agent.run("go")
    assert result.output == "answered"
    assert "recalling memories" in caplog.text
    recalled = next(e for e in result.events if isinstance(e, MemoryRecalled))
    assert recalled.texts == []


async def test_a_model_uses_the_memory_tools_in_a_tool_loop(make_memory: MakeStore) -> None:
    """A whole loop: the model recalls, learns nothing, remembers, then answers."""
    store: MemoryStore = make_memory()

    def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        results = [m for m in messages if m.role == "tool"]
        if not results:
            return ModelResponse(tool_calls=[ToolCall("recall", {"query": "favourite colour"})])
        if len(results) == 1:
            return ModelResponse(
                tool_calls=[
                    ToolCall("remember", {"text": "Favourite colour: teal.", "kind": "preference"})
                ]
            )
        return ModelResponse(text="I will remember teal.")

    agent = Agent(
        FunctionModel(policy), memory=LongTermMemory(store, namespace="u"), strategy=ToolLoop()
    )
    result = await agent.run("my favourite colour is teal")
    assert result.output == "I will remember teal."
    assert outcomes(result)[0][2] == "Nothing remembered about that."
    hits = await store.search("u", "colour", 1)
    assert hits[0].memory.kind == "preference"
