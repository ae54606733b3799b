"""RetryingModel: backoff with full jitter, Retry-After, streaming, and the circuit breaker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence

import pytest

from helpers import of_type
from tether import (
    Agent,
    Budget,
    ContextLengthExceeded,
    Message,
    ModelConnectionError,
    ModelHTTPError,
    ModelResponse,
    ModelRetried,
    ModelUnavailable,
)
from tether.models import Model, ModelParams
from tether.models._retry import CircuitBreaker, RetryingModel, breaker_for, reset_breakers
from tether.testing import FunctionModel

PARAMS = ModelParams()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Sleeps:
    """An injected sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def flaky(*outcomes: Exception | str, name: str = "flaky") -> tuple[FunctionModel, list[int]]:
    """A model that raises or answers with each outcome in turn, and counts its calls."""
    queue = list(outcomes)
    calls = [0]

    def answer(messages: Sequence[Message], params: ModelParams) -> str:
        calls[0] += 1
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return FunctionModel(answer, name=name), calls


def http(status: int, retry_after: float | None = None) -> ModelHTTPError:
    return ModelHTTPError(f"HTTP {status}", status, retry_after)


def top(low: float, high: float) -> float:
    """A jitter that always picks the top of the range, to make delays predictable."""
    return high


@pytest.fixture(autouse=True)
def _fresh_breakers() -> Iterator[None]:
    reset_breakers()
    yield
    reset_breakers()


def retrying(model: Model, **kwargs: object) -> tuple[RetryingModel, Sleeps]:
    sleeps = Sleeps()
    options: dict[str, object] = {"jitter": top, "breaker": False, "sleep": sleeps}
    options.update(kwargs)
    return RetryingModel(model, **options), sleeps  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error",
    [http(429), http(408), http(409), http(500), http(503), ModelConnectionError("reset")],
)
async def test_retryable_errors_are_retried_then_succeed(error: Exception) -> None:
    inner, calls = flaky(error, "fine")
    model, sleeps = retrying(inner)
    result = await Agent(model).run("hi")
    assert result.output == "fine"
    assert calls[0] == 2
    [retried] = of_type(result, ModelRetried)
    assert retried.model == "flaky"
    assert retried.attempt == 1
    assert type(error).__name__ in retried.error
    assert retried.delay_s == sleeps.delays[0] == 0.5


async def test_backoff_doubles_with_full_jitter_up_to_max_delay() -> None:
    ranges: list[tuple[float, float]] = []

    def jitter(low: float, high: float) -> float:
        ranges.append((low, high))
        return high / 2

    inner, _ = flaky(http(500), http(500), http(500), http(500), "ok")
    model, sleeps = retrying(inner, max_attempts=5, base_delay=1.0, max_delay=5.0, jitter=jitter)
    assert (await model.request([], PARAMS)).text == "ok"
    assert ranges == [(0.0, 1.0), (0.0, 2.0), (0.0, 4.0), (0.0, 5.0)]
    assert sleeps.delays == [0.5, 1.0, 2.0, 2.5]


async def test_retry_after_is_waited_at_least() -> None:
    inner, _ = flaky(http(429, retry_after=3.0), "ok")
    model, sleeps = retrying(inner, jitter=lambda low, high: 0.0)
    await model.request([], PARAMS)
    assert sleeps.delays == [3.0]


async def test_retry_after_is_capped_by_max_delay() -> None:
    inner, _ = flaky(http(503, retry_after=600.0), "ok")
    model, sleeps = retrying(inner, max_delay=20.0)
    await model.request([], PARAMS)
    assert sleeps.delays == [20.0]


async def test_a_wait_longer_than_the_run_has_left_raises_at_once() -> None:
    inner, calls = flaky(http(429, retry_after=10.0), "ok")
    model, sleeps = retrying(inner)
    result = await Agent(model, budget=Budget(max_seconds=5)).run("hi")
    assert result.status == "failed"
    assert result.reason.detail == "ModelHTTPError"
    assert calls[0] == 1
    assert sleeps.delays == []
    assert of_type(result, ModelRetried) == []


@pytest.mark.parametrize(
    "error", [http(400), http(401), http(404), ContextLengthExceeded("too long", 400)]
)
async def test_other_client_errors_are_raised_at_once(error: ModelHTTPError) -> None:
    inner, calls = flaky(error, "never")
    model, sleeps = retrying(inner)
    with pytest.raises(ModelHTTPError) as info:
        await model.request([], PARAMS)
    assert info.value is error
    assert calls[0] == 1
    assert sleeps.delays == []


async def test_the_last_error_is_raised_after_max_attempts() -> None:
    errors = [http(500), http(502), http(503), http(504)]
    inner, calls = flaky(*errors)
    model, _ = retrying(inner, max_attempts=4)
    result = await Agent(model).run("hi")
    assert result.status == "failed"
    assert "HTTP 504" in result.reason.message
    assert calls[0] == 4
    assert [e.attempt for e in of_type(result, ModelRetried)] == [1, 2, 3]


async def test_works_outside_a_run() -> None:
    inner, calls = flaky(ModelConnectionError("timeout"), "ok")
    model, _ = retrying(inner)
    assert (await model.request([], PARAMS)).text == "ok"
    assert calls[0] == 2


def test_wrapper_is_transparent_in_name_and_price() -> None:
    inner, _ = flaky("ok", name="gpt-x")
    model, _ = retrying(inner)
    assert model.name == "gpt-x"
    assert model.price is inner.price
    assert model.endpoint == "gpt-x"


class StreamingModel(Model):
    """Streams "a", "b" and a response, failing where told on the first calls."""

    name = "streamer"

    def __init__(self, fail_before_text: int = 0, fail_after_text: int = 0) -> None:
        self.fail_before_text = fail_before_text
        self.fail_after_text = fail_after_text
        self.calls = 0

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        raise NotImplementedError

    async def stream(
        self, messages: Sequence[Message], params: ModelParams
    ) -> AsyncIterator[str | ModelResponse]:
        self.calls += 1
        if self.calls <= self.fail_before_text:
            raise ModelConnectionError("cut before any text")
        yield "a"
        if self.calls <= self.fail_after_text:
            raise ModelConnectionError("cut in the middle")
        yield "b"
        yield ModelResponse(text="ab")


async def collect(model: Model) -> list[str | ModelResponse]:
    return [item async for item in model.stream([], PARAMS)]


async def test_a_stream_that_fails_before_any_text_is_retried() -> None:
    inner = StreamingModel(fail_before_text=2)
    model, sleeps = retrying(inner)
    items = await collect(model)
    assert items[:2] == ["a", "b"]
    assert inner.calls == 3
    assert len(sleeps.delays) == 2


async def test_a_stream_that_fails_after_text_is_not_retried() -> None:
    inner = StreamingModel(fail_after_text=1)
    model, sleeps = retrying(inner)
    seen: list[str | ModelResponse] = []

    async def consume() -> None:
        async for item in model.stream([], PARAMS):
            seen.append(item)

    with pytest.raises(ModelConnectionError, match="middle"):
        await consume()
    assert seen == ["a"]
    assert inner.calls == 1
    assert sleeps.delays == []


async def test_streamed_run_journals_the_retry() -> None:
    model, _ = retrying(StreamingModel(fail_before_text=1))
    stream = Agent(model).run_stream("hi")
    events = [e async for e in stream]
    assert stream.result.output == "ab"
    assert [e.type for e in events].count("model_retried") == 1


# The circuit breaker.


def test_breaker_opens_after_threshold_failures_in_a_row() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after=10.0, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # resets the count
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    assert breaker.retry_in() == 10.0


def test_breaker_lets_one_probe_through_after_reset_after() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after=10.0, clock=clock)
    breaker.record_failure()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state == "half_open"
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one at a time
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.allow()


def test_a_failed_probe_reopens_the_breaker() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after=5.0, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 5.0
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert breaker.opened == 2
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()


async def test_an_open_breaker_fails_fast_without_calling_the_model() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after=30.0, clock=clock)
    inner, calls = flaky(http(500), http(500), "never", "ok")
    model, sleeps = retrying(inner, breaker=breaker, max_attempts=4)
    with pytest.raises(ModelHTTPError):
        await model.request([], PARAMS)  # the second failure opens it: no third attempt
    assert calls[0] == 2
    assert len(sleeps.delays) == 1
    with pytest.raises(ModelUnavailable, match="open after 2 failures"):
        await model.request([], PARAMS)
    assert calls[0] == 2
    clock.now += 30.0
    inner_calls_before = calls[0]
    assert (await model.request([], PARAMS)).text == "never"  # the probe succeeds
    assert calls[0] == inner_calls_before + 1
    assert breaker.state == "closed"


async def test_a_client_error_counts_as_an_answer_for_the_breaker() -> None:
    breaker = CircuitBreaker(failure_threshold=2)
    inner, _ = flaky(http(500), http(400), http(500), "ok")
    model, _ = retrying(inner, breaker=breaker, max_attempts=1)
    for _ in range(3):
        with pytest.raises(ModelHTTPError):
            await model.request([], PARAMS)
    assert breaker.state == "closed"
    assert breaker.failures == 1


async def test_a_cancelled_probe_frees_the_probe_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after=1.0, clock=clock)
    breaker.record_failure()
    clock.now += 1.0
    started = asyncio.Event()

    async def hang(messages: Sequence[Message], params: ModelParams) -> str:
        started.set()
        await asyncio.sleep(60)
        return "late"

    model, _ = retrying(FunctionModel(hang), breaker=breaker)
    task = asyncio.create_task(model.request([], PARAMS))
    await started.wait()
    assert not breaker.allow()  # the probe is in flight
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.allow()  # a new probe may go


def test_models_share_the_default_breaker_of_their_endpoint() -> None:
    a, _ = flaky("ok", name="a")
    b, _ = flaky("ok", name="b")
    a.endpoint = "http://llm.local/v1"  # type: ignore[attr-defined]
    b.endpoint = "http://llm.local/v1"  # type: ignore[attr-defined]
    ra, rb = RetryingModel(a), RetryingModel(b)
    assert ra.breaker is rb.breaker is breaker_for("http://llm.local/v1")
    c, _ = flaky("ok", name="c")
    assert RetryingModel(c).breaker is breaker_for("c")
    assert RetryingModel(c, breaker=False).breaker is None


def test_bad_settings_are_refused() -> None:
    inner, _ = flaky("ok")
    with pytest.raises(ValueError, match="max_attempts"):
        RetryingModel(inner, max_attempts=0)
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=0)
