"""The price table: exact names, dated snapshots, overrides, and cached input."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tether import TokenUsage
from tether.models import Price, _prices
from tether.models._prices import PRICES_AS_OF, cost_of, price_for, register_price


@pytest.fixture(autouse=True)
def _restore_table() -> Iterator[None]:
    saved = dict(_prices._PRICES)
    yield
    _prices._PRICES.clear()
    _prices._PRICES.update(saved)


def test_well_known_models_have_prices() -> None:
    for name in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "claude-sonnet-4-5", "claude-haiku-4-5"):
        price = price_for(name)
        assert price is not None, name
        assert 0 < price.input_per_mtok < price.output_per_mtok
        assert price.cached_input_per_mtok is not None
        assert price.cached_input_per_mtok < price.input_per_mtok
    assert PRICES_AS_OF


def test_local_models_are_free() -> None:
    assert price_for("local") == Price(0.0, 0.0, 0.0)
    assert price_for("demo") == Price(0.0, 0.0, 0.0)


def test_a_dated_snapshot_is_priced_as_its_model() -> None:
    assert price_for("gpt-4o-2024-08-06") == price_for("gpt-4o")
    assert price_for("claude-sonnet-4-5-20250929") == price_for("claude-sonnet-4-5")
    assert price_for("claude-sonnet-4-5@20250929") == price_for("claude-sonnet-4-5")
    assert price_for("claude-3-5-haiku-latest") == price_for("claude-3-5-haiku")


def test_the_longest_known_name_wins() -> None:
    assert price_for("gpt-4o-mini-2024-07-18") == price_for("gpt-4o-mini")
    assert price_for("gpt-4o-mini") != price_for("gpt-4o")


def test_a_newer_model_is_not_priced_as_an_older_one() -> None:
    assert price_for("claude-opus-4-9") is None  # not "claude-opus-4"
    assert price_for("gpt-4o-audio-preview") is None
    assert price_for("no-such-model") is None


def test_provider_prefixes_and_case_are_ignored() -> None:
    assert price_for("openai:GPT-4o") == price_for("gpt-4o")
    assert price_for("anthropic/claude-haiku-4-5") == price_for("claude-haiku-4-5")


def test_register_price_adds_and_overrides() -> None:
    register_price("my-model", Price(1.0, 2.0))
    assert price_for("my-model-20260101") == Price(1.0, 2.0)
    register_price("gpt-4o", Price(9.0, 9.0))
    assert price_for("gpt-4o") == Price(9.0, 9.0)


@dataclass
class CachedUsage:
    """The usage a provider reports when part of the prompt came from its cache."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int


def test_cost_prices_cached_input_at_the_cached_rate() -> None:
    price = Price(input_per_mtok=2.0, output_per_mtok=8.0, cached_input_per_mtok=0.5)
    usage = CachedUsage(input_tokens=1_000_000, output_tokens=500_000, cached_input_tokens=600_000)
    # 400k fresh at $2, 600k cached at $0.50, 500k out at $8
    assert cost_of(price, usage) == pytest.approx(0.8 + 0.3 + 4.0)  # type: ignore[arg-type]


def test_cost_without_cached_tokens_matches_price_cost() -> None:
    price = Price(2.5, 10.0, 1.25)
    usage = TokenUsage(input_tokens=1234, output_tokens=567)
    assert cost_of(price, usage) == pytest.approx(price.cost(usage))


def test_cached_tokens_cost_full_price_when_the_model_has_no_cached_rate() -> None:
    price = Price(1.0, 1.0)
    usage = CachedUsage(input_tokens=1_000_000, output_tokens=0, cached_input_tokens=1_000_000)
    assert cost_of(price, usage) == pytest.approx(1.0)  # type: ignore[arg-type]
