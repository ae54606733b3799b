"""Settings of the models layer and the shipped fakes: bad ones are refused when made,
odd values (a retry number past 1023, NaN in tool arguments) behave."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tether import (
    Agent,
    ConfigError,
    JournalError,
    Message,
    ModelHTTPError,
    ModelResponse,
    TokenUsage,
    ToolCall,
    UserMessage,
)
from tether.models import (
    CircuitBreaker,
    FallbackModel,
    Model,
    ModelParams,
    Price,
    RetryingModel,
    _prices,
    _registry,
    register_model,
    register_price,
    resolve_model,
)
from tether.models._cassette import RecordingModel, ReplayModel
from tether.testing import FunctionModel, ScriptedModel

UNAVAILABLE = ModelHTTPError("HTTP 503", 503)


class AlwaysUnavailable(Model):
    """A provider that answers every call with a 503, and counts the calls."""

    name = "down"

    def __init__(self) -> None:
        self.calls = 0

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        self.calls += 1
        raise UNAVAILABLE


async def no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
def own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Model names and prices registered by a test stay in that test."""
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    monkeypatch.setattr(_prices, "_PRICES", dict(_prices._PRICES))


# Retries and the circuit breaker.


@pytest.mark.parametrize("retry", [1024, 5000, 10**6])
def test_retry_delay_is_max_delay_at_any_retry_number(retry: int) -> None:
    model = RetryingModel(
        AlwaysUnavailable(), max_delay=2.0, breaker=False, jitter=lambda low, high: high
    )
    assert model.delay(retry, UNAVAILABLE) == 2.0


def test_retry_delay_of_the_smallest_base_delay_still_reaches_max_delay() -> None:
    model = RetryingModel(
        AlwaysUnavailable(),
        base_delay=5e-324,
        max_delay=1.0,
        breaker=False,
        jitter=lambda low, high: high,
    )
    assert model.delay(3000, UNAVAILABLE) == 1.0


async def test_thousands_of_attempts_against_a_steady_503_end_with_the_http_error() -> None:
    inner = AlwaysUnavailable()
    model = RetryingModel(inner, max_attempts=1100, max_delay=0.001, breaker=False, sleep=no_sleep)
    with pytest.raises(ModelHTTPError):
        await model.request([UserMessage("hi")], ModelParams())
    assert inner.calls == 1100


@pytest.mark.parametrize(
    "setting",
    [
        {"max_attempts": math.nan},
        {"max_attempts": math.inf},
        {"max_attempts": 2.5},
        {"max_attempts": "3"},
        {"max_attempts": True},
        {"base_delay": math.nan},
        {"base_delay": math.inf},
        {"base_delay": "0.5"},
        {"max_delay": math.nan},
        {"max_delay": math.inf},
        {"max_delay": True},
        {"jitter": None},
        {"sleep": 1.0},
        {"breaker": True},
    ],
)
def test_retrying_model_refuses_a_setting_not_of_its_kind(setting: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        RetryingModel(AlwaysUnavailable(), **setting)


def test_retrying_model_refuses_a_model_name_and_says_how_to_resolve_it() -> None:
    with pytest.raises(ConfigError, match="resolve_model"):
        RetryingModel("demo")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "setting",
    [
        {"failure_threshold": math.nan},
        {"failure_threshold": math.inf},
        {"failure_threshold": 2.5},
        {"failure_threshold": "5"},
        {"failure_threshold": True},
        {"reset_after": math.nan},
        {"reset_after": math.inf},
        {"reset_after": "30"},
        {"clock": None},
    ],
)
def test_circuit_breaker_refuses_a_setting_not_of_its_kind(setting: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        CircuitBreaker(**setting)


# The fallback chain.


@pytest.mark.parametrize(
    ("models", "setting"),
    [
        ("ab", {}),
        (["demo"], {}),
        ([ScriptedModel([]), 3], {}),
        ([ScriptedModel([])], {"degrade_at": True}),
        ([ScriptedModel([])], {"degrade_at": "0.5"}),
        ([ScriptedModel([])], {"name": 3}),
    ],
)
def test_fallback_model_refuses_a_setting_not_of_its_kind(
    models: Any, setting: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError):
        FallbackModel(models, **setting)


# Prices.


@pytest.mark.parametrize(
    "rates",
    [
        (math.nan, math.nan),
        (-10.0, -10.0),
        (1.0, math.inf),
        ("1", "2"),
        (True, 1.0),
        (1.0, 1.0, math.nan),
        (1.0, 1.0, -0.5),
        (10**400, 1.0),
    ],
)
def test_price_refuses_a_rate_that_is_not_a_finite_number_of_at_least_0(
    rates: tuple[Any, ...],
) -> None:
    with pytest.raises(ConfigError, match="Price"):
        Price(*rates)


@pytest.mark.parametrize("price", [(1.0, 2.0), None, "1.0"])
def test_register_price_refuses_what_is_not_a_price(price: Any, own_registry: None) -> None:
    with pytest.raises(ConfigError, match="Price"):
        register_price("acme", price)


# Model names.


@pytest.mark.parametrize("prefix", ["acme:v1", ":foo", "", 3])
def test_register_model_refuses_a_prefix_that_could_not_be_resolved(
    prefix: Any, own_registry: None
) -> None:
    with pytest.raises(ConfigError, match="prefix"):
        register_model(prefix, lambda rest: ScriptedModel(["hi"]))


def test_register_model_refuses_a_factory_that_is_not_callable(own_registry: None) -> None:
    with pytest.raises(ConfigError, match="factory"):
        register_model("acme", ScriptedModel(["hi"]))  # type: ignore[arg-type]


def test_a_factory_that_returns_no_model_is_a_config_error_naming_it(own_registry: None) -> None:
    def make_acme(rest: str) -> Model:
        return "not a model"  # type: ignore[return-value]

    register_model("acme", make_acme)
    with pytest.raises(ConfigError, match="make_acme"):
        resolve_model("acme:v1")
    with pytest.raises(ConfigError, match="make_acme"):
        Agent("acme")


# The fakes.


@pytest.mark.parametrize(
    "replies", ["hello", b"hello", ModelResponse(text="hi"), ToolCall("add", {}), 42]
)
def test_scripted_model_refuses_replies_that_are_not_a_list(replies: Any) -> None:
    with pytest.raises(ConfigError, match="list"):
        ScriptedModel(replies)


def test_scripted_model_refuses_a_bad_reply_when_made_naming_its_place() -> None:
    with pytest.raises(ConfigError, match="reply 1"):
        ScriptedModel(["ok", 42])  # type: ignore[list-item]


@pytest.mark.parametrize("make", [ScriptedModel, FunctionModel])
@pytest.mark.parametrize(
    "setting",
    [
        {"context_window": math.nan},
        {"context_window": 0},
        {"context_window": True},
        {"price": (1.0, 2.0)},
        {"name": None},
    ],
)
def test_fakes_refuse_a_setting_not_of_its_kind(
    make: Callable[..., Model], setting: dict[str, Any]
) -> None:
    first: Any = [] if make is ScriptedModel else (lambda messages, params: "ok")
    with pytest.raises(ConfigError):
        make(first, **setting)


def test_function_model_refuses_what_is_not_a_function() -> None:
    with pytest.raises(ConfigError, match="function"):
        FunctionModel("hello")  # type: ignore[arg-type]


async def test_a_scripted_response_is_left_as_written_for_the_next_run() -> None:
    reply = ModelResponse(text="same", tool_calls=[])
    model = ScriptedModel([reply, reply])
    short = await Agent(model).run("short")
    long = await Agent(model).run("a much longer prompt " * 50)
    assert reply.usage == TokenUsage()
    assert reply.model == ""
    assert long.usage.input_tokens > short.usage.input_tokens


# Cassettes.


def echo(x: float) -> str:
    """Echo the number."""
    return repr(x)


async def record_and_replay(path: Path, call: ToolCall) -> tuple[Any, Any]:
    recorded = await Agent(RecordingModel(ScriptedModel([call, "done"]), path), tools=[echo]).run(
        "go"
    )
    replayed = await Agent(ReplayModel(path), tools=[echo]).run("go")
    return recorded, replayed


async def test_a_run_with_nan_in_argument_text_replays(tmp_path: Path) -> None:
    recorded, replayed = await record_and_replay(
        tmp_path / "c.jsonl", ToolCall("echo", '{"x": NaN}')
    )
    assert recorded.status == replayed.status == "completed"
    assert replayed.output == "done"


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
async def test_a_run_with_a_non_finite_number_in_argument_dicts_replays_it_as_it_was(
    tmp_path: Path, number: float
) -> None:
    path = tmp_path / "c.jsonl"
    recorded, replayed = await record_and_replay(path, ToolCall("echo", {"x": number}))
    assert recorded.status == replayed.status == "completed"  # the tool got the number again
    exchanges = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    arguments = exchanges[0]["response"]["tool_calls"][0]["arguments"]
    assert repr(arguments["x"]) == repr(number)


def test_a_cassette_whose_header_holds_a_bad_price_is_a_journal_error(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    header = {"v": 1, "type": "header", "kind": "tether-cassette", "model": "m"}
    path.write_text(json.dumps({**header, "price": [-1.0, 1.0, None]}) + "\n")
    with pytest.raises(JournalError, match="price"):
        ReplayModel(path)
