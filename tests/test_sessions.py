"""Conversations: ``agent.run(prompt, session=...)`` carries earlier turns into the next
run through the journal store (SQLite and PostgreSQL), across restarts, crashes,
concurrent runs and working memory's summaries; ``history=`` does the same by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from tether import (
    Agent,
    AssistantMessage,
    ConfigError,
    Message,
    SystemMessage,
    Tool,
    ToolCall,
    ToolLoop,
    ToolResultMessage,
    UserMessage,
    WorkingMemory,
    approve,
)
from tether.journal import JournalStore, PostgresStore, SQLiteStore
from tether.models import ModelParams
from tether.run import SUMMARY_HEADING
from tether.testing import FunctionModel, ScriptedModel


def reopen(store: JournalStore) -> JournalStore:
    """The same journal, opened anew (as a restarted process would)."""
    if isinstance(store, SQLiteStore):
        return SQLiteStore(store.path)
    assert isinstance(store, PostgresStore)
    return PostgresStore(store.dsn, schema=store.schema)


def chat_model(seen: list[list[Message]]) -> FunctionModel:
    """Answers from what it was told: remembers names said earlier in the conversation."""

    def answer(messages: Sequence[Message], params: ModelParams) -> str:
        seen.append(list(messages))
        asked = messages[-1]
        assert isinstance(asked, UserMessage)
        if asked.content.startswith("my name is "):
            return "nice to meet you, " + asked.content.removeprefix("my name is ")
        said = [
            m.content.removeprefix("my name is ")
            for m in messages
            if isinstance(m, UserMessage) and m.content.startswith("my name is ")
        ]
        if "summary" in messages[0].content.lower() and not said:  # type: ignore[union-attr]
            said = [messages[0].content.rsplit("name: ", 1)[-1]]  # type: ignore[union-attr]
        return f"your name is {said[-1]}" if said else "I do not know your name"

    return FunctionModel(answer)


async def test_a_chat_goes_on_after_a_restart(make_store: Callable[[], JournalStore]) -> None:
    store = make_store()
    seen: list[list[Message]] = []
    first = await Agent(chat_model(seen), store=store).run("my name is Ada", session="chat-1")
    assert first.output == "nice to meet you, Ada"
    restarted = reopen(store)
    try:
        agent = Agent(chat_model(seen), store=restarted)
        second = await agent.run("what is my name?", session="chat-1")
        assert second.output == "your name is Ada"
        assert seen[-1][1:] == [
            UserMessage("my name is Ada"),
            AssistantMessage("nice to meet you, Ada"),
            UserMessage("what is my name?"),
        ]
        other = await agent.run("what is my name?", session="chat-2")  # another chat
        assert other.output == "I do not know your name"
        history = await restarted.session_history("chat-1")
        assert history == [
            UserMessage("my name is Ada"),
            AssistantMessage("nice to meet you, Ada"),
            UserMessage("what is my name?"),
            AssistantMessage("your name is Ada"),
        ]
    finally:
        await restarted.close()


async def test_odd_text_round_trips_through_a_session(
    make_store: Callable[[], JournalStore],
) -> None:
    store = make_store()
    odd = 'my name is \ud800 {"$blob": "x"} \x00 é'
    seen: list[list[Message]] = []
    agent = Agent(chat_model(seen), store=store)
    await agent.run(odd, session="odd")
    await agent.run("and now?", session="odd")
    assert seen[-1][1] == UserMessage(odd)
    assert (await store.session_history("odd"))[0] == UserMessage(odd)


def test_bad_sessions_and_histories_are_config_errors(tmp_path: Any) -> None:
    agent = Agent(ScriptedModel(["x"] * 5))
    with pytest.raises(ConfigError, match="journal store"):
        agent.run_sync("hi", session="s")
    stored = Agent(ScriptedModel(["x"] * 5), store=SQLiteStore(tmp_path / "j.db"))
    for bad in ("", "   ", "x" * 201, 42):
        with pytest.raises(ConfigError, match="session id"):
            stored.run_sync("hi", session=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not both"):
        stored.run_sync("hi", session="s", history=[])
    open_call = [UserMessage("a"), AssistantMessage(None, [ToolCall("f", {}, "c1")])]
    with pytest.raises(ConfigError, match="providers would refuse this history"):
        stored.run_sync("hi", history=open_call)
    with pytest.raises(ConfigError, match="history is a list of messages"):
        stored.run_sync("hi", history="earlier chat")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="history holds messages"):
        stored.run_sync("hi", history=[{"role": "user", "content": "a"}])  # type: ignore[list-item]


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def test_a_history_given_by_hand_carries_tool_calls_too() -> None:
    model = ScriptedModel([ToolCall("add", {"a": 2, "b": 3}), "5", "it was 5"])
    agent = Agent(model, tools=[add])
    first = await agent.run("add 2 and 3")
    second = await agent.run("what was it?", history=first.messages)
    assert second.output == "it was 5"
    sent = model.requests[-1]
    assert isinstance(sent[0], SystemMessage)
    assert sum(isinstance(m, SystemMessage) for m in sent) == 1  # the old one left out
    assert [type(m).__name__ for m in sent[1:]] == [
        "UserMessage",
        "AssistantMessage",
        "ToolResultMessage",
        "AssistantMessage",
        "UserMessage",
    ]
    assert sent[-1] == UserMessage("what was it?")


async def test_concurrent_runs_of_one_session_lose_no_turn(
    make_store: Callable[[], JournalStore],
) -> None:
    store = make_store()
    other = reopen(store)  # a second connection, as a second process would have
    try:
        runs = 12
        agents = [
            Agent(ScriptedModel([f"answer {i}"]), store=s)
            for i, s in enumerate([store, other] * (runs // 2))
        ]
        results = await asyncio.gather(
            *(a.run(f"question {i}", session="busy") for i, a in enumerate(agents))
        )
        assert all(r.status == "completed" for r in results)
        history = await store.session_history("busy")
        assert len(history) == 2 * runs
        pairs = list(zip(history[::2], history[1::2], strict=True))
        # Each run's question and answer stay side by side, every run once.
        got = sorted((q.content, a.text) for q, a in pairs)  # type: ignore[union-attr]
        assert got == sorted((f"question {i}", f"answer {i}") for i in range(runs))
    finally:
        await other.close()


def ship(item: str) -> str:
    """Ship an item."""
    return f"shipped {item}"


async def test_a_run_waiting_for_approval_joins_its_chat_once_when_it_ends(
    make_store: Callable[[], JournalStore],
) -> None:
    store = make_store()
    waiting_model = ScriptedModel([ToolCall("ship", {"item": "book"}), "shipped it"])
    agent = Agent(waiting_model, tools=[Tool(ship, requires_approval=True)], store=store)
    await Agent(ScriptedModel(["hello"]), store=store).run("hi", session="s")
    paused = await agent.run("ship the book", session="s")
    assert paused.status == "interrupted"
    assert len(await store.session_history("s")) == 2  # not in the chat until it ends
    # Meanwhile the chat goes on; the paused run still sees the chat as it began.
    await Agent(ScriptedModel(["meanwhile"]), store=store).run("anything new?", session="s")
    call_id = paused.pending[0].id
    done = await agent.resume(paused.run_id, decisions={call_id: approve()})
    assert done.output == "shipped it"
    resumed_request = waiting_model.requests[-1]
    assert UserMessage("anything new?") not in resumed_request
    assert resumed_request[1:3] == [UserMessage("hi"), AssistantMessage("hello")]
    again = await agent.resume(paused.run_id)  # a finished run: nothing added twice
    assert again.output == "shipped it"
    history = await store.session_history("s")
    assert [m.content if isinstance(m, UserMessage) else m.text for m in history] == [  # type: ignore[union-attr]
        "hi",
        "hello",
        "anything new?",
        "meanwhile",
        "ship the book",
        "shipped it",
    ]


async def test_a_long_chat_is_summarised_and_the_session_keeps_every_turn(
    make_store: Callable[[], JournalStore],
) -> None:
    store = make_store()
    seen: list[list[Message]] = []
    writes: list[str] = []

    def summarise(messages: Sequence[Message], params: ModelParams) -> str:
        writes.append(messages[-1].content)  # type: ignore[union-attr]
        return "the user said their name: Ada"

    wm = WorkingMemory(max_tokens=300, summarizer=FunctionModel(summarise))
    agent = Agent(chat_model(seen), store=store, working_memory=wm, strategy=ToolLoop())
    await agent.run("my name is Ada", session="long")
    for i in range(25):
        await agent.run(
            f"tell me something about topic number {i} " + "please " * 10, session="long"
        )
    last = await agent.run("what is my name?", session="long")
    assert last.output == "your name is Ada"
    assert writes, "the chat outgrew its budget and was summarised"
    kept = await store.load_session("long")
    assert kept.summary == "the user said their name: Ada"
    assert kept.summarized > 0
    assert kept.total == 2 * 27
    assert len(kept.turns) == kept.total - kept.summarized
    assert len(await store.session_history("long")) == 2 * 27  # nothing deleted
    # The next run starts from the summary, not from every turn.
    assert SUMMARY_HEADING in seen[-1][0].content  # type: ignore[union-attr]
    assert UserMessage("my name is Ada") not in seen[-1]


async def test_a_tool_result_in_a_given_history_stays_with_its_call() -> None:
    history: list[Message] = [
        UserMessage("add"),
        AssistantMessage(None, [ToolCall("add", {"a": 1, "b": 2}, "c1")]),
        ToolResultMessage("c1", "add", "3"),
        AssistantMessage("3"),
    ]
    model = ScriptedModel(["still 3"])
    result = await Agent(model, tools=[add]).run("and?", history=history)
    assert result.output == "still 3"
    assert model.requests[0][1:5] == history


async def test_a_stream_continues_a_session(make_store: Callable[[], JournalStore]) -> None:
    store = make_store()
    seen: list[list[Message]] = []
    agent = Agent(chat_model(seen), store=store)
    await agent.run("my name is Bo", session="st")
    stream = agent.run_stream("what is my name?", session="st")
    _ = [e async for e in stream]
    assert stream.result.output == "your name is Bo"


def test_run_sync_continues_a_session(tmp_path: Any) -> None:
    seen: list[list[Message]] = []
    agent = Agent(chat_model(seen), store=SQLiteStore(tmp_path / "sync.db"))
    agent.run_sync("my name is Cy", session="s")
    assert agent.run_sync("what is my name?", session="s").output == "your name is Cy"


async def test_a_fork_of_a_chat_run_sees_its_history_but_does_not_join_the_chat(
    make_store: Callable[[], JournalStore],
) -> None:
    store = make_store()
    seen: list[list[Message]] = []
    agent = Agent(chat_model(seen), store=store)
    await agent.run("my name is Di", session="f")
    second = await agent.run("what is my name?", session="f")
    fork = await agent.fork(second.run_id, 1, prompt="what is my name, again?")
    forked = await agent.resume(fork)
    assert forked.output == "your name is Di"  # it saw the chat's earlier turns
    assert len(await store.session_history("f")) == 4  # and added none of its own
