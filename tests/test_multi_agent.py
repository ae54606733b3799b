"""Agents together: agents as tools, handoffs, one budget for a tree of runs, and a
tree that resumes as one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from tether import (
    Agent,
    Budget,
    ConfigError,
    HandedOff,
    Handoff,
    LoopDetected,
    Message,
    ModelResponded,
    ModelResponse,
    RunFinished,
    RunStarted,
    SubRunEnded,
    Supervisor,
    ToolCall,
    ToolCallFinished,
    ToolResultMessage,
    UserMessage,
)
from tether.journal import JournalStore, SQLiteStore
from tether.models import ModelParams
from tether.testing import FunctionModel, ScriptedModel


def finished(result: Any) -> list[ToolCallFinished]:
    return [e for e in result.events if isinstance(e, ToolCallFinished)]


async def test_an_agent_as_a_tool_is_a_linked_sub_run_charged_to_the_caller(
    make_store: Callable[[], JournalStore],
) -> None:
    store = make_store()
    researcher = Agent(
        ScriptedModel(["Paris has 2.1 million people."]),
        instructions="Finds facts.",
        name="researcher",
        store=store,
    )
    lead = Agent(
        ScriptedModel([ToolCall("researcher", {"task": "population of Paris"}), "2.1 million"]),
        tools=[researcher.as_tool()],
        name="lead",
        store=store,
    )
    result = await lead.run("How many people live in Paris?")
    assert result.output == "2.1 million"
    (call,) = finished(result)
    assert (call.outcome, call.content) == ("ok", "Paris has 2.1 million people.")
    (ended,) = [e for e in result.events if isinstance(e, SubRunEnded)]
    assert (ended.agent, ended.status, ended.call_id) == ("researcher", "completed", call.call_id)
    child = await store.load(ended.child_run_id)
    first = child[0]
    assert isinstance(first, RunStarted)
    assert (first.parent_run_id, first.parent_call_id) == (result.run_id, call.call_id)
    assert first.prompt == "population of Paris"
    # The caller's usage holds its own two model calls and the sub-run's one.
    assert result.usage.model_calls == 3
    assert ended.usage.model_calls == 1
    assert result.usage.steps == 3


def loop_forever(name: str) -> FunctionModel:
    """A model that keeps calling ``work`` with new arguments and never answers."""

    def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        if not params.allow_tools:  # the fallback's last call, without tools
            return ModelResponse(text=f"{name} could not finish")
        n = sum(1 for m in messages if isinstance(m, ToolResultMessage))
        return ModelResponse(tool_calls=[ToolCall("work", {"n": n})])

    return FunctionModel(policy, name=name)


def work(n: int) -> str:
    """Do some work."""
    return f"worked {n}"


async def test_a_sub_agent_that_gives_up_is_an_error_that_says_why() -> None:
    worker = Agent(loop_forever("worker"), tools=[work], budget=Budget(max_steps=2), name="worker")
    lead = Agent(
        ScriptedModel([ToolCall("worker", {"task": "do it"}), "the worker gave up"]),
        tools=[worker.as_tool()],
        name="lead",
    )
    result = await lead.run("go")
    (call,) = finished(result)
    assert call.outcome == "error"
    assert "did not finish (gave_up" in call.content
    assert "steps" in call.content
    assert "worker could not finish" in call.content  # its fallback's answer
    assert result.output == "the worker gave up"


def tree(store: JournalStore | None) -> Agent[None, str]:
    """Three levels: a root calling two mid agents in parallel, each calling two leaves
    in parallel; every leaf calls a tool once."""

    def leaf_policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        if not any(isinstance(m, ToolResultMessage) for m in messages):
            return ModelResponse(tool_calls=[ToolCall("work", {"n": len(messages)})])
        return ModelResponse(text="leaf done")

    leaf = Agent(FunctionModel(leaf_policy, name="leaf"), tools=[work], name="leaf", store=store)

    def fan_out(child: str) -> Callable[[Sequence[Message], ModelParams], ModelResponse]:
        def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
            if not any(isinstance(m, ToolResultMessage) for m in messages):
                task = messages[-1].content  # type: ignore[union-attr]
                calls = [ToolCall(child, {"task": f"{task}/{i}"}) for i in range(2)]
                return ModelResponse(tool_calls=calls)
            got = [m.content for m in messages if isinstance(m, ToolResultMessage)]
            return ModelResponse(text=" + ".join(got))

        return policy

    mid = Agent(
        FunctionModel(fan_out("leaf"), name="mid"),
        tools=[leaf.as_tool()],
        name="mid",
        store=store,
    )
    return Agent(
        FunctionModel(fan_out("mid"), name="root"),
        tools=[mid.as_tool()],
        name="root",
        store=store,
    )


def own_model_calls(events: Sequence[Any]) -> int:
    return sum(1 for e in events if isinstance(e, ModelResponded))


async def test_usage_of_a_three_level_tree_adds_up_exactly(tmp_path: Any) -> None:
    store = SQLiteStore(tmp_path / "tree.db")
    result = await tree(store).run("job")
    assert result.status == "completed", result.reason
    assert result.output.count("leaf done") == 4

    async def total(run_id: str) -> tuple[int, int, int, int]:
        """Model calls, steps, tool calls and input tokens: its own plus its children's."""
        events = await store.load(run_id)
        calls = own_model_calls(events)
        steps = sum(1 for e in events if type(e).__name__ == "ModelRequested")
        tools = len([e for e in events if isinstance(e, ToolCallFinished)])
        tokens = sum(e.response.usage.input_tokens for e in events if isinstance(e, ModelResponded))
        for ended in [e for e in events if isinstance(e, SubRunEnded)]:
            c = await total(ended.child_run_id)
            calls, steps, tools, tokens = calls + c[0], steps + c[1], tools + c[2], tokens + c[3]
            end = (await store.load(ended.child_run_id))[-1]
            assert isinstance(end, RunFinished)
            assert (end.usage.model_calls, end.usage.steps) == (c[0], c[1])
        return calls, steps, tools, tokens

    calls, steps, tools, tokens = await total(result.run_id)
    u = result.usage
    assert (u.model_calls, u.steps, u.tool_calls, u.input_tokens) == (calls, steps, tools, tokens)
    assert u.model_calls == 2 + 2 * 2 + 4 * 2  # root, two mids, four leaves: two calls each
    assert len(await store.list_runs(limit=100)) == 7
    await store.close()


async def test_the_whole_tree_stops_cleanly_when_the_roots_budget_runs_out() -> None:
    leaf = Agent(loop_forever("leaf"), tools=[work], name="leaf")

    def root_policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        if not params.allow_tools:
            return ModelResponse(text="out of budget")
        if not any(isinstance(m, ToolResultMessage) for m in messages):
            calls = [ToolCall("leaf", {"task": f"part {i}"}) for i in range(3)]
            return ModelResponse(tool_calls=calls)
        return ModelResponse(text="all parts done")

    root = Agent(
        FunctionModel(root_policy),
        tools=[leaf.as_tool()],
        budget=Budget(max_model_calls=12, max_steps=None),
        name="root",
    )
    result = await root.run("split the job")
    assert result.status == "gave_up"
    assert result.reason.kind == "budget_exhausted"
    ends = [e for e in result.events if isinstance(e, SubRunEnded)]
    assert len(ends) == 3
    for e in ends:  # every child ended with a reason of its own
        assert e.status in ("gave_up", "failed")
        assert e.reason.kind == "budget_exhausted"
    assert result.usage.model_calls <= 12 + 4  # each fallback's last call may go over, once


def test_as_tool_checks_its_name() -> None:
    agent = Agent(ScriptedModel([]), name="has space")
    with pytest.raises(ConfigError, match="1 to 64 letters"):
        agent.as_tool(name="has space")
    assert agent.as_tool().name == "has_space"  # an agent's name made into a tool's
    assert agent.as_tool(name="helper").name == "helper"
    assert next(iter(Agent(ScriptedModel([]), handoffs=[agent]).tools)) == "transfer_to_has_space"


# --- handoffs -----------------------------------------------------------------------------


def billing_model(seen: list[list[Message]]) -> FunctionModel:
    def answer(messages: Sequence[Message], params: ModelParams) -> str:
        seen.append(list(messages))
        return "Your invoice 4417 was refunded."

    return FunctionModel(answer, name="billing-model")


async def test_a_handoff_gives_the_conversation_to_another_agent(
    make_store: Callable[[], JournalStore],
) -> None:
    store = make_store()
    seen: list[list[Message]] = []
    billing = Agent(billing_model(seen), name="billing", instructions="Billing questions.")
    triage = Agent(
        ScriptedModel(
            [
                ModelResponse(
                    text="This is about billing.",
                    tool_calls=[ToolCall("transfer_to_billing", {"message": "refund 4417"})],
                )
            ]
        ),
        handoffs=[billing],
        name="triage",
        store=store,
    )
    billing.store = store
    result = await triage.run("I want a refund for invoice 4417")
    assert result.status == "completed"
    assert result.output == "Your invoice 4417 was refunded."
    (handed,) = [e for e in result.events if isinstance(e, HandedOff)]
    assert (handed.agent, handed.context) == ("billing", "full")
    # Billing saw the whole conversation, then the handoff's message.
    sent = seen[0]
    assert sent[1] == UserMessage("I want a refund for invoice 4417")
    assert sent[2].text == "This is about billing."  # type: ignore[union-attr]
    assert sent[-1] == UserMessage("refund 4417")
    child = await store.load(handed.child_run_id)
    assert isinstance(child[0], RunStarted)
    assert child[0].handoffs == ["triage"]


@pytest.mark.parametrize("context", ["none", "summary", "filtered"])
async def test_a_handoff_passes_as_much_context_as_declared(context: str) -> None:
    seen: list[list[Message]] = []
    billing = Agent(billing_model(seen), name="billing")

    def only_user_turns(turns: list[Message]) -> list[Message]:
        return [m for m in turns if isinstance(m, UserMessage)]

    how: Any = only_user_turns if context == "filtered" else context
    # The second reply is the summary, when the handoff asks the caller's model for one.
    replies = [ToolCall("transfer_to_billing", {"message": "refund it"}), "the summary"]
    triage = Agent(ScriptedModel(replies), handoffs=[Handoff(billing, context=how)], name="triage")
    result = await triage.run("refund invoice 4417 please")
    assert result.output == "Your invoice 4417 was refunded."
    sent = seen[0]
    if context == "none":
        assert sent[1:] == [UserMessage("refund it")]
    elif context == "summary":
        assert "the summary" in sent[0].content  # type: ignore[union-attr]
        assert sent[1:] == [UserMessage("refund it")]
    else:
        assert sent[1:] == [UserMessage("refund invoice 4417 please"), UserMessage("refund it")]


async def test_a_handoff_loop_is_caught_like_any_loop() -> None:
    def hand_back(to: str) -> FunctionModel:
        def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
            if not params.allow_tools:
                return ModelResponse(text=f"{to} loop ended")
            return ModelResponse(tool_calls=[ToolCall(f"transfer_to_{to}", {"message": "you"})])

        return FunctionModel(policy)

    a = Agent(hand_back("b"), name="a")
    b = Agent(hand_back("a"), name="b", handoffs=[a])
    a.tools.update(Agent(ScriptedModel([]), handoffs=[b]).tools)  # A and B hand to each other
    result = await a.run("start")
    assert result.status == "gave_up"
    assert result.reason.kind == "loop_detected"
    # B tried to hand back to A, was corrected, tried again and gave up.
    (ended,) = [e for e in result.events if isinstance(e, SubRunEnded)]
    assert ended.agent == "b"
    assert ended.reason.kind == "loop_detected"
    assert ended.reason.detail == "handoff"


def test_handoffs_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"Handoff\.context"):
        Handoff(Agent(ScriptedModel([])), context="half")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="handoffs holds agents"):
        Agent(ScriptedModel([]), handoffs=["billing"])  # type: ignore[list-item]


async def test_parallel_sub_agents_run_at_the_same_time() -> None:
    started: list[float] = []

    async def slow(messages: Sequence[Message], params: ModelParams) -> str:
        started.append(asyncio.get_running_loop().time())
        await asyncio.sleep(0.2)
        return f"done {messages[-1].content}"  # type: ignore[union-attr]

    helper = Agent(FunctionModel(slow), name="helper")
    lead = Agent(
        ScriptedModel([[ToolCall("helper", {"task": str(i)}) for i in range(4)], "ok"]),
        tools=[helper.as_tool()],
    )
    result = await lead.run("go")
    assert result.output == "ok"
    assert max(started) - min(started) < 0.15  # all four began before the first ended
    assert [e.outcome for e in finished(result)] == ["ok"] * 4
    assert sum(isinstance(e, LoopDetected) for e in result.events) == 0


# --- a supervisor and its workers --------------------------------------------------------


async def test_a_supervisor_fans_out_at_most_its_concurrency_at_once() -> None:
    active = peak = 0

    async def busy(messages: Sequence[Message], params: ModelParams) -> str:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return f"done: {messages[-1].content}"  # type: ignore[union-attr]

    writer = Agent(FunctionModel(busy), name="writer", instructions="Writes a section.")
    parts = [ToolCall("writer", {"task": f"section {i}"}) for i in range(5)]
    boss = Supervisor(ScriptedModel([parts, "report written"]), [writer], max_concurrency=2)
    result = await boss.run("write a five-section report")
    assert result.output == "report written"
    assert peak == 2
    assert [e.status for e in result.events if isinstance(e, SubRunEnded)] == ["completed"] * 5
    # The supervisor's prompt lists its workers and what each does.
    assert "- writer: Writes a section." in boss.instructions


async def test_a_supervisor_gives_a_failed_part_to_another_worker() -> None:
    flaky = Agent(loop_forever("flaky"), tools=[work], budget=Budget(max_steps=2), name="flaky")
    steady = Agent(ScriptedModel(["part done"]), name="steady")
    seen: list[list[Message]] = []

    def lead(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        seen.append(list(messages))
        results = [m for m in messages if isinstance(m, ToolResultMessage)]
        if not results:
            return ModelResponse(tool_calls=[ToolCall("flaky", {"task": "the part"})])
        if results[-1].is_error:  # the explicit give-up: try the other worker
            return ModelResponse(tool_calls=[ToolCall("steady", {"task": "the part"})])
        return ModelResponse(text=f"finished: {results[-1].content}")

    boss = Supervisor(FunctionModel(lead), [flaky, steady])
    result = await boss.run("do the part")
    assert result.output == "finished: part done"
    ends = [(e.agent, e.status, e.reason.kind) for e in result.events if isinstance(e, SubRunEnded)]
    assert ends == [
        ("flaky", "gave_up", "budget_exhausted"),
        ("steady", "completed", "final_answer"),
    ]
    failed = next(m for m in seen[1] if isinstance(m, ToolResultMessage))
    assert "did not finish (gave_up" in failed.content


def test_a_supervisor_is_checked() -> None:
    worker = Agent(ScriptedModel([]), name="w")
    with pytest.raises(ConfigError, match="at least one worker"):
        Supervisor(ScriptedModel([]), [])
    with pytest.raises(ConfigError, match="workers are agents"):
        Supervisor(ScriptedModel([]), [worker, "w2"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="max_concurrency"):
        Supervisor(ScriptedModel([]), [worker], max_concurrency=0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("prompt", "worker"),
    [
        ("Add 1,250 and 3,875.", "arithmetic"),
        ("Do I need an umbrella in London today?", "weather"),
        ("How do you say 'thank you very much' in Japanese?", "translator"),
        ("Can I pay my invoice by bank transfer?", "billing"),
    ],
)
async def test_a_supervisor_on_the_embedded_model_routes_to_the_right_worker(
    prompt: str, worker: str
) -> None:
    """The guided strategy routes for the 0.5B model (bench/eval_routing.py measures it
    on 32 tasks): each task goes to its worker, whose answer comes back."""
    pytest.importorskip("llama_cpp")
    does = {
        "arithmetic": "Works out sums, products, percentages and other arithmetic.",
        "weather": "Tells the weather forecast for a city.",
        "translator": "Translates a sentence into another language.",
        "billing": "Answers questions about invoices, refunds and payments.",
    }
    workers = [
        Agent(ScriptedModel([f"[{name} reply]"] * 5), name=name, instructions=text)
        for name, text in does.items()
    ]
    result = await Supervisor("local", workers).run(prompt)
    routed = [e.agent for e in result.events if isinstance(e, SubRunEnded)]
    assert routed[:1] == [worker]
    assert f"[{worker} reply]" in str(result.output)


async def test_a_guided_supervisor_delegates_its_first_move() -> None:
    from tether import GuidedStrategy

    worker = Agent(ScriptedModel(["[w reply]"]), name="w", instructions="Does the work.")
    boss = Supervisor("local", [worker])  # the embedded model prefers the guided strategy
    assert isinstance(boss.strategy, GuidedStrategy)
    assert boss.strategy.delegate_first
    model = ScriptedModel([ToolCall("w", {"task": "the work"}), "[w reply]"])
    scripted = Supervisor(model, [worker], strategy=GuidedStrategy(delegate_first=True))
    result = await scripted.run("do the work")
    assert model.params[0].tool_choice == "required"  # the first move must be a worker
    assert [e.agent for e in result.events if isinstance(e, SubRunEnded)] == ["w"]
