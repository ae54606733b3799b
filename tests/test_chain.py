"""FallbackModel: switching on errors and on cost, per run, journaled with causes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from helpers import of_type
from tether import (
    Agent,
    Budget,
    ConfigError,
    ContextLengthExceeded,
    Message,
    ModelConnectionError,
    ModelHTTPError,
    ModelResponded,
    ModelResponse,
    ModelSwitched,
    ModelUnavailable,
    ScriptExhausted,
    ToolCall,
)
from tether.models import Model, ModelParams, Price
from tether.models._chain import FallbackModel
from tether.models._retry import RetryingModel
from tether.testing import FunctionModel, ScriptedModel

PARAMS = ModelParams()


def failing(error: Exception, name: str) -> FunctionModel:
    def answer(messages: Sequence[Message], params: ModelParams) -> str:
        raise error

    return FunctionModel(answer, name=name)


def answering(text: str, name: str, price: Price | None = None) -> FunctionModel:
    return FunctionModel(lambda messages, params: text, name=name, price=price)


@pytest.mark.parametrize(
    "error",
    [
        ModelHTTPError("HTTP 503", 503),
        ModelHTTPError("HTTP 401", 401),
        ModelConnectionError("refused"),
        ModelUnavailable("breaker open"),
        ContextLengthExceeded("prompt too long", 400),
    ],
)
async def test_switches_to_the_next_model_on_a_model_error(error: Exception) -> None:
    chain = FallbackModel([failing(error, "big"), answering("from small", "small")])
    result = await Agent(chain).run("hi")
    assert result.output == "from small"
    [switch] = of_type(result, ModelSwitched)
    assert (switch.from_model, switch.to_model) == ("big", "small")
    assert switch.cause == f"{type(error).__name__}: {error}"


async def test_raises_the_last_error_when_every_model_fails() -> None:
    chain = FallbackModel(
        [failing(ModelConnectionError("a down"), "a"), failing(ModelHTTPError("b 500", 500), "b")]
    )
    with pytest.raises(ModelHTTPError, match="b 500"):
        await chain.request([], PARAMS)
    result = await Agent(chain).run("hi")
    assert result.status == "failed"
    assert result.reason.detail == "ModelHTTPError"
    assert len(of_type(result, ModelSwitched)) == 1


async def test_other_errors_are_not_switched_on() -> None:
    chain = FallbackModel([ScriptedModel([], name="empty"), answering("ok", "b")])
    with pytest.raises(ScriptExhausted):
        await chain.request([], PARAMS)


async def test_the_switch_holds_for_the_rest_of_the_run() -> None:
    calls: list[str] = []

    def first(messages: Sequence[Message], params: ModelParams) -> str:
        calls.append("first")
        raise ModelHTTPError("HTTP 500", 500)

    def second(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        calls.append("second")
        if len(messages) < 4:
            return ModelResponse(tool_calls=[ToolCall("echo", {"text": "x"})])
        return ModelResponse(text="done")

    def echo(text: str) -> str:
        """Echo the text."""
        return text

    chain = FallbackModel([FunctionModel(first, name="a"), FunctionModel(second, name="b")])
    result = await Agent(chain, tools=[echo]).run("hi")
    assert result.output == "done"
    assert calls == ["first", "second", "second"]
    assert len(of_type(result, ModelSwitched)) == 1


async def test_each_run_keeps_its_own_position() -> None:
    gate = asyncio.Event()

    async def primary(messages: Sequence[Message], params: ModelParams) -> str:
        if "fail" in str(messages[-1]):
            raise ModelConnectionError("down for this one")
        await gate.wait()
        return "primary"

    chain = FallbackModel([FunctionModel(primary, name="a"), answering("backup", "b")])
    agent = Agent(chain)
    healthy = asyncio.create_task(agent.run("ok please"))
    broken = await agent.run("fail please")
    gate.set()
    assert broken.output == "backup"
    assert (await healthy).output == "primary"
    assert of_type(await healthy, ModelSwitched) == []


async def test_finished_runs_are_forgotten() -> None:
    chain = FallbackModel([failing(ModelConnectionError("down"), "a"), answering("b", "b")])
    agent = Agent(chain)
    first = await agent.run("one")
    assert chain.position(first.run_id) == 1
    second = await agent.run("two")
    assert chain.position(first.run_id) is None  # swept when the next run started
    assert chain.position(second.run_id) == 1


async def test_outside_a_run_every_call_starts_at_the_first_model() -> None:
    calls: list[int] = []

    def flaky(messages: Sequence[Message], params: ModelParams) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ModelConnectionError("once")
        return "a"

    chain = FallbackModel([FunctionModel(flaky, name="a"), answering("b", "b")])
    assert (await chain.request([], PARAMS)).text == "b"
    assert (await chain.request([], PARAMS)).text == "a"


async def test_degrades_to_the_cheaper_model_once_the_cost_passes_degrade_at() -> None:
    def echo(text: str) -> str:
        """Echo the text."""
        return text

    def costly(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        return ModelResponse(
            tool_calls=[ToolCall("echo", {"text": str(len(messages))})], cost_usd=0.3
        )

    def cheap(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        return ModelResponse(text="cheap answer", cost_usd=0.01)

    chain = FallbackModel(
        [FunctionModel(costly, name="costly"), FunctionModel(cheap, name="cheap")],
        degrade_at=0.5,
    )
    result = await Agent(chain, tools=[echo], budget=Budget(max_cost_usd=1.0)).run("hi")
    assert result.output == "cheap answer"
    [switch] = of_type(result, ModelSwitched)
    assert (switch.from_model, switch.to_model) == ("costly", "cheap")
    assert switch.cause.startswith("cost: $0.6 used, 60% of the cost budget")
    # Two costly calls (0.3 then 0.6 used), then the cheap one.
    assert [e.response.model for e in of_type(result, ModelResponded)] == [
        "costly",
        "costly",
        "cheap",
    ]


async def test_degrades_only_once() -> None:
    def pricey(name: str) -> FunctionModel:
        return FunctionModel(
            lambda m, p: ModelResponse(
                tool_calls=[ToolCall("echo", {"text": str(len(m))})] if len(m) < 8 else [],
                text=None if len(m) < 8 else name,
                cost_usd=0.4,
            ),
            name=name,
        )

    def echo(text: str) -> str:
        """Echo the text."""
        return text

    chain = FallbackModel([pricey("a"), pricey("b"), pricey("c")], degrade_at=0.3)
    result = await Agent(chain, tools=[echo], budget=Budget(max_cost_usd=2.0)).run("hi")
    assert result.usage.cost_usd > 1.2  # past 0.3 of the budget twice over
    assert [(s.from_model, s.to_model) for s in of_type(result, ModelSwitched)] == [("a", "b")]


async def test_no_degrading_without_a_cost_budget() -> None:
    chain = FallbackModel(
        [answering("a", "a", Price(1000.0, 1000.0)), answering("b", "b")], degrade_at=0.1
    )
    result = await Agent(chain).run("hi")
    assert result.output == "a"
    assert of_type(result, ModelSwitched) == []


async def test_the_answering_models_price_is_charged() -> None:
    expensive = Price(input_per_mtok=1e6, output_per_mtok=0.0)  # a dollar a token
    chain = FallbackModel(
        [failing(ModelConnectionError("down"), "a"), answering("b", "b", expensive)]
    )
    result = await Agent(chain).run("hi")
    [responded] = of_type(result, ModelResponded)
    assert responded.cost_usd == responded.response.usage.input_tokens > 0
    assert result.usage.cost_usd == responded.cost_usd


async def test_chains_compose_with_retrying_models() -> None:
    a_calls: list[int] = []

    def a(messages: Sequence[Message], params: ModelParams) -> str:
        a_calls.append(1)
        raise ModelHTTPError("HTTP 503", 503)

    async def no_sleep(seconds: float) -> None:
        return None

    chain = FallbackModel(
        [
            RetryingModel(
                FunctionModel(a, name="a"), max_attempts=3, breaker=False, sleep=no_sleep
            ),
            answering("b", "b"),
        ]
    )
    result = await Agent(chain).run("hi")
    assert result.output == "b"
    assert len(a_calls) == 3
    assert [e.type for e in result.events if e.type.startswith("model_")][:4] == [
        "model_requested",
        "model_retried",
        "model_retried",
        "model_switched",
    ]


class Streamer(Model):
    """Streams one word, then fails or answers."""

    def __init__(self, name: str, fail_first: bool, fail_after_text: bool = False) -> None:
        self.name = name
        self.fail_first = fail_first
        self.fail_after_text = fail_after_text

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        raise NotImplementedError

    async def stream(
        self, messages: Sequence[Message], params: ModelParams
    ) -> AsyncIterator[str | ModelResponse]:
        if self.fail_first:
            raise ModelConnectionError("no stream")
        yield self.name
        if self.fail_after_text:
            raise ModelConnectionError("cut")
        yield ModelResponse(text=self.name)


async def test_a_stream_switches_only_before_any_text() -> None:
    chain = FallbackModel([Streamer("a", fail_first=True), Streamer("b", fail_first=False)])
    items = [i async for i in chain.stream([], PARAMS)]
    assert items == ["b", ModelResponse(text="b")]

    chain = FallbackModel(
        [Streamer("a", fail_first=False, fail_after_text=True), Streamer("b", False)]
    )

    async def consume() -> list[str | ModelResponse]:
        return [i async for i in chain.stream([], PARAMS)]

    with pytest.raises(ModelConnectionError, match="cut"):
        await consume()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="at least one"):
        FallbackModel([])
    with pytest.raises(ConfigError, match="degrade_at"):
        FallbackModel([answering("a", "a")], degrade_at=1.5)
    assert FallbackModel([answering("a", "a"), answering("b", "b")]).name == "fallback(a, b)"


class _Closing(ScriptedModel):
    """A scripted model that notes when, and on which loop, it is closed."""

    def __init__(self, script: list[str]) -> None:
        super().__init__(script)
        self.closed_on: list[asyncio.AbstractEventLoop] = []
        self.asked_on: list[asyncio.AbstractEventLoop] = []

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        self.asked_on.append(asyncio.get_running_loop())
        return await super().request(messages, params)

    async def aclose(self) -> None:
        self.closed_on.append(asyncio.get_running_loop())


def test_run_sync_closes_every_model_s_clients_before_its_loop_ends() -> None:
    # A provider's client left to a closed loop logs "Event loop is closed" when it is
    # collected: run_sync closes them through the wrappers, on the run's own loop.
    first, second = _Closing(["a"]), _Closing(["b"])
    agent = Agent(RetryingModel(FallbackModel([first, second])))
    assert agent.run_sync("hi").output == "a"
    assert first.closed_on == first.asked_on
    assert len(second.closed_on) == 1
    assert second.closed_on[0] is first.asked_on[0]
