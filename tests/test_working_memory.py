"""Working memory: the conversation kept under a token budget, pairs intact, summaries
in place of old turns, provider rules held, and the same context after a resume."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest

from tether import (
    Agent,
    AssistantMessage,
    Budget,
    ConfigError,
    ContextCompacted,
    Message,
    ModelResponse,
    SystemMessage,
    ToolCall,
    ToolLoop,
    ToolResultMessage,
    UserMessage,
    WorkingMemory,
)
from tether.journal import SQLiteStore
from tether.models import ModelParams
from tether.models.anthropic import AnthropicModel
from tether.models.openai import OpenAIModel
from tether.run import valid_sequence
from tether.run._context import SUMMARY_HEADING, message_text
from tether.testing import FunctionModel, ScriptedModel


def lookup(key: str) -> str:
    """Look a key up in the archive."""
    return f"record {key}: " + " ".join(f"field{i}={key}{i}" for i in range(30))


class WordModel(FunctionModel):
    """A fake with a tokenizer of its own: one token a word (exact counts in tests)."""

    def count_tokens(self, text: str) -> int | None:
        return len(text.split())


def size(messages: Sequence[Message], model: WordModel) -> int:
    """A conversation's size as working memory counts it for WordModel."""
    return sum((model.count_tokens(message_text(m)) or 0) + 4 for m in messages)


def stepper(steps: int, parallel: int = 1) -> Any:
    """A policy that looks up ``steps`` keys (``parallel`` at a time), then answers."""

    def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        asked = [m for m in messages if isinstance(m, ToolResultMessage)]
        last = int(asked[-1].content.split()[1].rstrip(":")[1:]) if asked else -1
        if last + 1 >= steps:
            return ModelResponse(text=f"looked up {steps} keys")
        first = last + 1
        calls = [
            ToolCall("lookup", {"key": f"k{first + i}"})
            for i in range(min(parallel, steps - first))
        ]
        return ModelResponse(text=f"looking up k{first}", tool_calls=calls)

    return policy


def summariser() -> FunctionModel:
    def summarise(messages: Sequence[Message], params: ModelParams) -> str:
        keys = sorted(set(w.rstrip(":") for w in messages[-1].content.split() if w.startswith("k")))
        return "looked up " + ", ".join(keys[:20])

    return FunctionModel(summarise, name="summariser")


def recorder(policy: Any, seen: list[list[Message]]) -> WordModel:
    def record(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        seen.append(list(messages))
        reply = policy(messages, params)
        assert isinstance(reply, ModelResponse)
        return reply

    return WordModel(record)


async def test_a_long_run_stays_under_its_budget_with_pairs_intact() -> None:
    seen: list[list[Message]] = []
    model = recorder(stepper(80, parallel=2), seen)
    wm = WorkingMemory(max_tokens=900, summarizer=summariser())
    agent = Agent(
        model, tools=[lookup], working_memory=wm, budget=Budget(max_steps=100), strategy=ToolLoop()
    )
    result = await agent.run("look up k0 to k79")
    assert result.status == "completed", result.reason
    compactions = [e for e in result.events if isinstance(e, ContextCompacted)]
    assert len(compactions) >= 4
    tools = agent.tools["lookup"].definition
    extra = len(f"{tools.name} {tools.description} {tools.parameters}".split())
    for messages in seen:
        assert valid_sequence(messages) is None
        assert size(messages, model) + extra <= 900
        assert messages[1] == UserMessage("look up k0 to k79")  # the prompt is pinned
    # Without working memory the same run grows past the budget many times over.
    late = seen[-1]
    assert isinstance(late[0], SystemMessage)
    assert SUMMARY_HEADING in late[0].content
    assert "looked up" in late[0].content.split(SUMMARY_HEADING)[1]
    for e in compactions:
        assert e.tokens_after < e.tokens_before
        assert e.model == "summariser"


async def test_without_working_memory_the_context_grows() -> None:
    seen: list[list[Message]] = []
    model = recorder(stepper(80, parallel=2), seen)
    agent = Agent(model, tools=[lookup], budget=Budget(max_steps=100), strategy=ToolLoop())
    result = await agent.run("look up k0 to k79")
    assert result.status == "completed"
    assert not [e for e in result.events if isinstance(e, ContextCompacted)]
    assert size(seen[-1], model) > 3 * 900


async def test_the_summary_takes_the_place_of_the_turns_it_covers() -> None:
    seen: list[list[Message]] = []
    model = recorder(stepper(12), seen)
    summaries: list[str] = []

    def summarise(messages: Sequence[Message], params: ModelParams) -> str:
        summaries.append(messages[-1].content)
        return f"summary #{len(summaries)}"

    wm = WorkingMemory(max_tokens=500, summarizer=FunctionModel(summarise))
    agent = Agent(model, tools=[lookup], working_memory=wm, strategy=ToolLoop())
    result = await agent.run("look up twelve keys")
    assert result.status == "completed"
    first = next(e for e in result.events if isinstance(e, ContextCompacted))
    # The summariser read the dropped turns (k0's record) and no later ones verbatim.
    assert "k00" in summaries[0]
    after = next(m for m in seen if SUMMARY_HEADING in m[0].content)  # type: ignore[union-attr]
    assert after[0].content.endswith("summary #1")  # type: ignore[union-attr]
    assert all("record k0:" not in message_text(m) for m in after[1:])
    assert isinstance(after[2], AssistantMessage)  # the kept tail begins at a turn
    # A later summary is written from the earlier one, not from scratch.
    if len(summaries) > 1:
        assert "summary #1" in summaries[1]
    assert first.cut > 2
    # The summariser's calls are charged to the run.
    assert result.usage.model_calls == len(seen) + len(summaries)


async def test_pinned_facts_are_in_every_request() -> None:
    seen: list[list[Message]] = []
    model = recorder(stepper(10), seen)
    wm = WorkingMemory(max_tokens=400, summarizer=summariser(), pinned=("the user is Ada",))
    result = await Agent(model, tools=[lookup], working_memory=wm, strategy=ToolLoop()).run("go")
    assert result.status == "completed"
    assert any(isinstance(e, ContextCompacted) for e in result.events)
    for messages in seen:
        assert "- the user is Ada" in messages[0].content  # type: ignore[union-attr]


async def test_a_failing_summariser_leaves_a_digest_and_the_run_goes_on() -> None:
    seen: list[list[Message]] = []
    model = recorder(stepper(10), seen)

    def broken(messages: Sequence[Message], params: ModelParams) -> str:
        raise RuntimeError("summariser down")

    wm = WorkingMemory(max_tokens=400, summarizer=FunctionModel(broken))
    result = await Agent(model, tools=[lookup], working_memory=wm, strategy=ToolLoop()).run("go")
    assert result.status == "completed", result.reason
    first = next(e for e in result.events if isinstance(e, ContextCompacted))
    assert first.model == ""
    assert "lookup returned record k0" in first.summary


async def test_one_huge_turn_is_sent_whole_rather_than_split() -> None:
    # A budget no cut can meet: the run still keeps every call with its result.
    def big(key: str) -> str:
        """Return a lot."""
        return "x " * 600

    seen: list[list[Message]] = []

    def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        seen.append(list(messages))
        if len(seen) < 4:
            return ModelResponse(tool_calls=[ToolCall("big", {"key": str(len(seen))})])
        return ModelResponse(text="done")

    wm = WorkingMemory(max_tokens=300, summarizer=summariser())
    agent = Agent(WordModel(policy), tools=[big], working_memory=wm, strategy=ToolLoop())
    result = await agent.run("go")
    assert result.status == "completed"
    for messages in seen:
        assert valid_sequence(messages) is None


def _openai_ok(body: dict[str, Any]) -> None:
    msgs = body["messages"]
    assert [m["role"] for m in msgs].count("system") <= 1
    assert msgs[0]["role"] == "system"
    assert msgs[1]["role"] == "user"
    pending: set[str] = set()
    for m in msgs:
        if m["role"] == "tool":
            assert m["tool_call_id"] in pending
            pending.discard(m["tool_call_id"])
        else:
            assert not pending, "a call without its result"
            pending = {c["id"] for c in m.get("tool_calls") or []}


def _anthropic_ok(body: dict[str, Any]) -> None:
    turns = body["messages"]
    assert turns[0]["role"] == "user"
    for a, b in itertools.pairwise(turns):
        assert a["role"] != b["role"], "roles must alternate"
    for i, turn in enumerate(turns):
        uses = [b["id"] for b in turn["content"] if b["type"] == "tool_use"]
        if uses:
            following = turns[i + 1]["content"]
            results = [b["tool_use_id"] for b in following if b["type"] == "tool_result"]
            assert sorted(results) == sorted(uses)
            # Tool results lead the user turn that answers them.
            kinds = [b["type"] for b in following]
            assert kinds[: len(results)] == ["tool_result"] * len(results)
        for b in turn["content"]:
            if b["type"] == "tool_result":
                prev = turns[i - 1]["content"]
                assert b["tool_use_id"] in [u["id"] for u in prev if u["type"] == "tool_use"]


@pytest.mark.parametrize("parallel", [1, 3])
async def test_every_compacted_request_meets_the_openai_and_anthropic_rules(
    parallel: int,
) -> None:
    seen: list[list[Message]] = []
    model = recorder(stepper(30, parallel=parallel), seen)
    wm = WorkingMemory(max_tokens=700, summarizer=summariser())
    agent = Agent(
        model, tools=[lookup], working_memory=wm, budget=Budget(max_steps=60), strategy=ToolLoop()
    )
    result = await agent.run("look them up")
    assert result.status == "completed", result.reason
    assert any(isinstance(e, ContextCompacted) for e in result.events)
    params = agent._prepare().params
    for messages in seen:
        _openai_ok(OpenAIModel("m", api_key="k").request_body(messages, params))
        _anthropic_ok(AnthropicModel("m", api_key="k").request_body(messages, params))


def test_valid_sequence_names_what_providers_refuse() -> None:
    call = ToolCall("f", {}, "c1")
    sys, user = SystemMessage("s"), UserMessage("u")
    assert (
        valid_sequence(
            [sys, user, AssistantMessage(None, [call]), ToolResultMessage("c1", "f", "r")]
        )
        is None
    )
    assert "without its call" in (
        valid_sequence([sys, user, ToolResultMessage("c1", "f", "r")]) or ""
    )
    assert "no result" in (valid_sequence([sys, user, AssistantMessage(None, [call]), user]) or "")
    assert "not a user turn" in (valid_sequence([sys, AssistantMessage("a")]) or "")
    assert "system message after" in (valid_sequence([sys, user, SystemMessage("x")]) or "")


async def test_a_resumed_run_sees_the_context_it_saw_before(tmp_path: Any) -> None:
    """Fork a finished run's journal just after each compaction and go on: the resumed
    run's next request is the one the run made there, summary included, although its
    summariser now writes something else (the fold rebuilds the compacted context)."""
    store = SQLiteStore(tmp_path / "j.db")
    seen: list[list[Message]] = []

    def agent_with(seen_into: list[list[Message]], writer: FunctionModel) -> Agent[None, str]:
        return Agent(
            recorder(stepper(30), seen_into),
            tools=[lookup],
            working_memory=WorkingMemory(max_tokens=600, summarizer=writer),
            store=store,
            budget=Budget(max_steps=60),
            strategy=ToolLoop(),
        )

    result = await agent_with(seen, summariser()).run("look up thirty keys")
    assert result.status == "completed"
    marks = [e for e in result.events if isinstance(e, ContextCompacted)]
    assert len(marks) >= 2
    for mark in marks:
        again: list[list[Message]] = []
        other = agent_with(again, FunctionModel(lambda m, p: "another summary"))
        fork = await other.fork(result.run_id, mark.seq + 1)  # events 0..seq kept
        forked = await store.load(fork)
        assert forked[-1] == ContextCompacted(**{**vars_of(mark), "run_id": fork})
        resumed = await other.resume(fork)
        assert resumed.status == "completed"
        assert resumed.output == result.output
        assert again[0] == seen[mark.step]  # the call it made room for
        assert mark.summary in again[0][0].content  # type: ignore[union-attr]
    await store.close()


def vars_of(event: ContextCompacted) -> dict[str, Any]:
    return {f: getattr(event, f) for f in event.__dataclass_fields__}


def test_bad_settings_are_config_errors_that_say_what_to_do() -> None:
    with pytest.raises(ConfigError, match="max_tokens"):
        WorkingMemory(max_tokens=-5)
    with pytest.raises(ConfigError, match="compact_to"):
        WorkingMemory(compact_to=1.5)
    with pytest.raises(ConfigError, match="pinned is a sequence"):
        WorkingMemory(pinned="one fact")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="does not say its context window"):
        Agent(ScriptedModel(["x"]), working_memory=WorkingMemory()).run_sync("go")
    with pytest.raises(ConfigError, match="working_memory is a WorkingMemory"):
        Agent(ScriptedModel(["x"]), working_memory=600)  # type: ignore[arg-type]


async def test_a_model_that_says_its_window_gets_working_memory_by_default() -> None:
    seen: list[list[Message]] = []
    policy = stepper(30)

    def record(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        seen.append(list(messages))
        reply = policy(messages, params)
        assert isinstance(reply, ModelResponse)
        return reply

    model = WordModel(record, context_window=1600)
    agent = Agent(model, tools=[lookup], budget=Budget(max_steps=60), strategy=ToolLoop())
    result = await agent.run("go")
    assert result.status == "completed"
    assert any(isinstance(e, ContextCompacted) for e in result.events)
    assert max(size(m, model) for m in seen) <= 1600 - WorkingMemory().reserve
    off = Agent(
        WordModel(stepper(30), context_window=1600),
        tools=[lookup],
        working_memory=False,
        budget=Budget(max_steps=60),
        strategy=ToolLoop(),
    )
    plain = await off.run("go")
    assert not any(isinstance(e, ContextCompacted) for e in plain.events)


async def test_a_long_run_that_keeps_few_events_journals_them_all(tmp_path: Any) -> None:
    store = SQLiteStore(tmp_path / "long.db")
    seen: list[list[Message]] = []
    agent = Agent(
        recorder(stepper(150), seen),
        tools=[lookup],
        working_memory=WorkingMemory(max_tokens=600, summarizer=summariser()),
        keep_events=16,
        store=store,
        budget=Budget(max_steps=200),
        strategy=ToolLoop(),
    )
    result = await agent.run("look up 150 keys")
    assert result.status == "completed", result.reason
    assert len(result.events) <= 2 * 16 + 1
    assert result.events[0].seq == 0  # run_started stays
    assert result.events[-1].seq == result.events[-2].seq + 1
    journal = await store.load(result.run_id)
    assert [e.seq for e in journal] == list(range(len(journal)))
    assert journal[-1].seq == result.events[-1].seq
    # The whole journal folds into the run as it ended: a finished run reads back whole.
    again = await agent.resume(result.run_id)
    assert again.output == result.output
    await store.close()


def test_keep_events_must_be_a_sane_count() -> None:
    for bad in (0, -3, 5, True, "100"):
        with pytest.raises(ConfigError, match="keep_events must be an int"):
            Agent(ScriptedModel([]), keep_events=bad)  # type: ignore[arg-type]
