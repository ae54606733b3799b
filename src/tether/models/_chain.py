"""A fallback chain: the next model takes over when one fails or the budget runs low.

:class:`FallbackModel` holds models in order of preference. It moves to the next one
when the current one fails for good (after its own retries: wrap each model in a
:class:`~tether.models.RetryingModel`), when the request does not fit its context, or
when the run has spent ``degrade_at`` of its cost budget. Each move is journaled as a
``model_switched`` event with its cause, and holds for the rest of the run: a provider
that just failed its retries, or a context that just overflowed, would fail again.

The position in the chain belongs to the run, not to the model object, so concurrent
runs sharing one chain do not move each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tether._errors import (
    ConfigError,
    ModelConnectionError,
    ModelHTTPError,
    ModelResponseInvalid,
    ModelUnavailable,
)
from tether._events import ModelSwitched
from tether._messages import Message, ModelResponse
from tether._scope import RunScope, current_scope

from ._base import Model, ModelParams, is_finite
from ._prices import cost_of
from ._retry import closing_stream

__all__ = ["FallbackModel"]

_SWITCH_ON = (ModelHTTPError, ModelConnectionError, ModelUnavailable, ModelResponseInvalid)
"""Errors that move the chain on (ContextLengthExceeded is a ModelHTTPError): the
provider failed, or answered what is not its API's (a proxy's login page)."""


@dataclass(slots=True)
class _Place:
    """Where one run is in the chain."""

    run: RunScope
    index: int = 0
    degraded: bool = False


class FallbackModel(Model):
    """Models in order of preference; the next one takes over when one fails.

    Args:
        models: at least one model, best first (and, for ``degrade_at``, cheaper later).
        degrade_at: a fraction of the run's ``max_cost_usd``; once the run has spent it,
            the chain moves one model down (once) for the rest of the run.
        name: the name in journals; ``fallback(a, b, ...)`` by default.

    Raises:
        ConfigError: no models were given, one is not a :class:`Model`, ``degrade_at``
            is not a number in (0, 1], or ``name`` is not a str.
    """

    def __init__(
        self,
        models: Sequence[Model],
        *,
        degrade_at: float | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(models, (str, bytes, Model)) or not isinstance(models, Iterable):
            raise ConfigError(
                f"FallbackModel takes a list of models, best first; got {models!r}: write "
                "FallbackModel([first, second])"
            )
        chain = list(models)
        if not chain:
            raise ConfigError("FallbackModel needs at least one model")
        for i, model in enumerate(chain):
            if not isinstance(model, Model):
                raise ConfigError(
                    f"FallbackModel's model {i} is {model!r}, not a tether.models.Model; for a "
                    "model name, pass tether.models.resolve_model(name)"
                )
        if degrade_at is not None and (not is_finite(degrade_at) or not 0 < degrade_at <= 1):
            raise ConfigError(
                "FallbackModel.degrade_at is a fraction of the run's max_cost_usd, above 0 "
                f"and at most 1, or None; got {degrade_at!r}"
            )
        if name is not None and not isinstance(name, str):
            raise ConfigError(f"FallbackModel(name=...) is a str or None, got {name!r}")
        self.models = chain
        self.degrade_at = degrade_at
        self.name = name or f"fallback({', '.join(m.name for m in self.models)})"
        self._places: dict[str, _Place] = {}

    @property
    def preferred_strategy(self) -> str | None:
        """The first model's preferred strategy."""
        return self.models[0].preferred_strategy

    @property
    def strategy_options(self) -> Mapping[str, Any]:
        """The first model's strategy options."""
        return self.models[0].strategy_options

    @property
    def context_window(self) -> int | None:
        """The smallest known window of the chain's models: any of them may take a call."""
        known = [w for m in self.models if (w := m.context_window) is not None]
        return min(known) if known else None

    def count_tokens(self, text: str) -> int | None:
        """Counted with the first model's tokenizer."""
        return self.models[0].count_tokens(text)

    def secret_values(self) -> frozenset[str]:
        """Every model's secret values."""
        return frozenset().union(*(m.secret_values() for m in self.models))

    async def aclose(self) -> None:
        """Close every model's connections."""
        for m in self.models:
            await m.aclose()

    def _place(self) -> _Place | None:
        run = current_scope()
        if run is None:
            return None
        place = self._places.get(run.run_id)
        if place is None:
            # A new run: forget the runs that have ended (their last event is run_finished).
            ended = [k for k, p in self._places.items() if p.run.finished]
            for key in ended:
                del self._places[key]
            place = self._places[run.run_id] = _Place(run)
        return place

    def position(self, run_id: str) -> int | None:
        """Which model (by index) a live run is on, or None if it has not called the chain."""
        place = self._places.get(run_id)
        return None if place is None else place.index

    def _switch(self, place: _Place | None, index: int, cause: str) -> None:
        if place is not None:
            place.index = index + 1
            place.run.record(
                ModelSwitched,
                from_model=self.models[index].name,
                to_model=self.models[index + 1].name,
                cause=cause,
            )

    def _start(self, place: _Place | None) -> int:
        """The index to start this call at, after degrading for cost if it is due."""
        if place is None:
            return 0
        if (
            self.degrade_at is not None
            and not place.degraded
            and place.index < len(self.models) - 1
        ):
            frac = place.run.tracker.cost_fraction()
            if frac is not None and frac >= self.degrade_at:
                place.degraded = True
                used = place.run.tracker.usage.cost_usd
                self._switch(
                    place,
                    place.index,
                    f"cost: ${used:.4g} used, {frac:.0%} of the cost budget "
                    f"(degrade_at={self.degrade_at:g})",
                )
        return place.index

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        """Ask the current model; on a switchable error, the next ones in turn."""
        place = self._place()
        index = self._start(place)
        while True:
            model = self.models[index]
            try:
                response = await model.request(messages, params)
            except _SWITCH_ON as exc:
                if index + 1 >= len(self.models):
                    raise
                self._switch(place, index, f"{type(exc).__name__}: {exc}")
                index += 1
                continue
            return _priced(response, model)

    async def stream(
        self, messages: Sequence[Message], params: ModelParams
    ) -> AsyncIterator[str | ModelResponse]:
        """Stream from the current model; switch only while no text has been sent."""
        place = self._place()
        index = self._start(place)
        while True:
            model = self.models[index]
            sent_text = False
            try:
                async with closing_stream(model.stream(messages, params)) as items:
                    async for item in items:
                        if isinstance(item, ModelResponse):
                            yield _priced(item, model)
                        else:
                            sent_text = True
                            yield item
            except _SWITCH_ON as exc:
                if sent_text or index + 1 >= len(self.models):
                    raise
                self._switch(place, index, f"{type(exc).__name__}: {exc}")
                index += 1
                continue
            return


def _priced(response: ModelResponse, model: Model) -> ModelResponse:
    # The run prices a call with the outer model's price, and a chain has none of its
    # own: the cost of the model that answered goes on the response.
    if response.cost_usd is None and model.price is not None:
        response.cost_usd = cost_of(model.price, response.usage)
    return response
