"""Prices of well-known models, in US dollars per million tokens.

Prices change: these are the list prices (standard tier, no batch discount) that OpenAI
(https://platform.openai.com/docs/pricing) and Anthropic
(https://docs.anthropic.com/en/docs/about-claude/pricing) published as of
:data:`PRICES_AS_OF`. Anthropic's cached input is the price of a cache read; cache
writes (1.25x input for five minutes) are not modelled. Check the pages before you
budget real money on these figures, and correct or extend the table with
:func:`register_price`.

The embedded model and the demo model run locally and cost nothing.
"""

from __future__ import annotations

import re

from tether._errors import ConfigError
from tether._messages import TokenUsage

from ._base import Price

__all__ = ["PRICES_AS_OF", "cost_of", "price_for", "register_price"]

PRICES_AS_OF = "2025-11"
"""When the built-in prices were taken from the providers' public pricing pages."""

_FREE = Price(0.0, 0.0, 0.0)

_PRICES: dict[str, Price] = {
    # OpenAI: input, output, cached input.
    "gpt-5": Price(1.25, 10.00, 0.125),
    "gpt-5-mini": Price(0.25, 2.00, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "o3": Price(2.00, 8.00, 0.50),
    "o4-mini": Price(1.10, 4.40, 0.275),
    # Anthropic: input, output, cache read.
    "claude-opus-4-5": Price(5.00, 25.00, 0.50),
    "claude-opus-4-1": Price(15.00, 75.00, 1.50),
    "claude-opus-4": Price(15.00, 75.00, 1.50),
    "claude-sonnet-4-5": Price(3.00, 15.00, 0.30),
    "claude-sonnet-4": Price(3.00, 15.00, 0.30),
    "claude-haiku-4-5": Price(1.00, 5.00, 0.10),
    "claude-3-5-haiku": Price(0.80, 4.00, 0.08),
    # Local models.
    "local": _FREE,
    "demo": _FREE,
    "qwen2.5-coder-0.5b-instruct": _FREE,
}

# A snapshot continues the base name with a date or "latest": "gpt-4o-2024-08-06",
# "claude-sonnet-4-5-20250929", "claude-sonnet-4-5@20250929" (Vertex AI). Nothing else
# matches, so a newer model ("claude-opus-4-6") is unknown rather than priced as an
# older one that its name happens to extend.
_SNAPSHOT = re.compile(r"[-@](?:\d{8}|\d{4}-\d{2}-\d{2}|latest)(?:[-@:].*)?")


def register_price(name: str, price: Price) -> None:
    """Add a model's price, or override a built-in one; ``name`` also matches its snapshots.

    Raises:
        ConfigError: ``name`` is not a non-empty str, or ``price`` is not a :class:`Price`
            (whose rates are checked when it is made).
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"register_price needs the model's name, a non-empty str; got {name!r}")
    if not isinstance(price, Price):
        raise ConfigError(
            f"register_price({name!r}, ...) takes a tether.models.Price, got {price!r}; "
            "write Price(input_per_mtok, output_per_mtok)"
        )
    _PRICES[name.strip().lower()] = price


def price_for(model_name: str) -> Price | None:
    """The price of a model by name, or None when it is not known.

    An exact name wins; otherwise a dated snapshot of a known name
    (``gpt-4o-mini-2024-07-18`` is priced as ``gpt-4o-mini``, not ``gpt-4o``). A
    provider prefix such as ``openai:`` or ``anthropic/`` is ignored.
    """
    name = model_name.strip().lower()
    for sep in (":", "/"):
        head, found, tail = name.partition(sep)
        if found and head in ("openai", "anthropic", "local") and tail:
            name = tail
            break
    price = _PRICES.get(name)
    if price is not None:
        return price
    best: str | None = None
    for known in _PRICES:
        if (
            len(name) > len(known)
            and name.startswith(known)
            and _SNAPSHOT.fullmatch(name, len(known)) is not None
            and (best is None or len(known) > len(best))
        ):
            best = known
    return None if best is None else _PRICES[best]


def cost_of(price: Price, usage: TokenUsage) -> float:
    """The cost of one call, pricing cached input tokens at the cached rate.

    ``usage.input_tokens`` counts every input token; a ``cached_input_tokens`` field
    (when the usage carries one) says how many of them were read from the cache.
    """
    cached = min(getattr(usage, "cached_input_tokens", 0) or 0, usage.input_tokens)
    cached_rate = (
        price.input_per_mtok
        if price.cached_input_per_mtok is None
        else (price.cached_input_per_mtok)
    )
    fresh = usage.input_tokens - cached
    return (
        fresh * price.input_per_mtok
        + cached * cached_rate
        + usage.output_tokens * price.output_per_mtok
    ) / 1e6
