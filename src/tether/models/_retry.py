"""Retries with backoff, and a circuit breaker per endpoint.

:class:`RetryingModel` wraps a model. A retryable failure (HTTP 408, 409, 429 and 5xx,
or no answer at all) is tried again after an exponential delay with full jitter,
``uniform(0, min(max_delay, base_delay * 2**n))``, or at least the provider's
``Retry-After``; other errors (a 400, a context that is too long) are raised at once.
Each retry is journaled as a ``model_retried`` event in the calling run.

A :class:`CircuitBreaker` watches one endpoint for every model that calls it. After
``failure_threshold`` failures in a row it opens: calls fail at once with
:class:`~tether.ModelUnavailable` (so a fallback chain moves on instead of waiting).
After ``reset_after`` seconds it lets one probe through; the probe's success closes it,
its failure opens it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Literal, TypeVar

from tether._errors import ConfigError, ModelConnectionError, ModelHTTPError, ModelUnavailable
from tether._events import ModelRetried
from tether._messages import Message, ModelResponse
from tether._scope import current_scope

from ._base import Model, ModelParams, WrapperModel, is_finite, is_whole

__all__ = ["BreakerState", "CircuitBreaker", "RetryingModel", "breaker_for", "reset_breakers"]

BreakerState = Literal["closed", "open", "half_open"]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Jitter = Callable[[float, float], float]
T = TypeVar("T")


class CircuitBreaker:
    """Fails fast while an endpoint keeps failing, and probes it again later.

    Args:
        failure_threshold: failures in a row that open the circuit.
        reset_after: seconds the circuit stays open before one probe is let through.
        clock: a monotonic clock in seconds; injectable for tests.

    Raises:
        ConfigError: ``failure_threshold`` is not a whole number of at least 1, or
            ``reset_after`` not a finite number of at least 0.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_after: float = 30.0,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        if not is_whole(failure_threshold) or failure_threshold < 1:
            raise ConfigError(
                "CircuitBreaker.failure_threshold is the failures in a row that open the "
                f"circuit, a whole number of at least 1; got {failure_threshold!r}"
            )
        if not is_finite(reset_after) or reset_after < 0:
            raise ConfigError(
                "CircuitBreaker.reset_after is the seconds the circuit stays open, a finite "
                f"number of at least 0; got {reset_after!r}"
            )
        if not callable(clock):
            raise ConfigError(
                f"CircuitBreaker(clock=...) is a function returning seconds, got {clock!r}"
            )
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self.opened = 0
        """How many times the circuit has opened (for stats and tests)."""

    @property
    def state(self) -> BreakerState:
        """``closed`` (calls go through), ``open`` (they fail fast) or ``half_open``.

        Half-open means the open period is over: the next call is the probe.
        """
        if self._opened_at is None:
            return "closed"
        if self._probing or self._clock() - self._opened_at >= self.reset_after:
            return "half_open"
        return "open"

    @property
    def failures(self) -> int:
        """Failures in a row so far."""
        return self._failures

    def retry_in(self) -> float:
        """Seconds until the open circuit lets a probe through (0 when it would now)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.reset_after - self._clock())

    def allow(self) -> bool:
        """Whether a call may go through now; a True in half-open state makes it the probe."""
        if self._opened_at is None:
            return True
        if self._probing or self._clock() - self._opened_at < self.reset_after:
            return False
        self._probing = True
        return True

    def record_success(self) -> None:
        """The endpoint answered: close the circuit."""
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def record_failure(self) -> None:
        """The endpoint failed: count it, and open (or reopen) the circuit at the threshold."""
        self._failures += 1
        if self._probing or (self._opened_at is None and self._failures >= self.failure_threshold):
            self._opened_at = self._clock()
            self.opened += 1
        self._probing = False

    def release(self) -> None:
        """A call ended with neither verdict (cancelled, or a bug): free the probe slot."""
        self._probing = False


_BREAKERS: dict[str, CircuitBreaker] = {}


def breaker_for(endpoint: str) -> CircuitBreaker:
    """The process-wide breaker of an endpoint, made with the defaults on first use."""
    breaker = _BREAKERS.get(endpoint)
    if breaker is None:
        breaker = _BREAKERS[endpoint] = CircuitBreaker()
    return breaker


def reset_breakers() -> None:
    """Forget every process-wide breaker (for tests)."""
    _BREAKERS.clear()


def endpoint_of(model: Model) -> str:
    """What a model calls: its ``endpoint`` attribute when it has one, else its name."""
    endpoint = getattr(model, "endpoint", None)
    return endpoint if isinstance(endpoint, str) and endpoint else model.name


def is_retryable(exc: BaseException) -> bool:
    """True for errors worth another attempt: 408, 409, 429, 5xx, and no answer at all."""
    if isinstance(exc, ModelHTTPError):
        return exc.retryable
    return isinstance(exc, ModelConnectionError)


@contextlib.asynccontextmanager
async def closing_stream(items: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """Close a model's stream on the way out, so an abandoned HTTP stream is let go now."""
    try:
        yield items
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()


_MAX_DOUBLINGS = 2100
"""Doublings after which even the smallest positive float (2**-1074) passes every finite
float, so ``base_delay * 2**retry`` is then above any ``max_delay``."""


class RetryingModel(WrapperModel):
    """A model that retries its inner model's retryable failures, behind a circuit breaker.

    Args:
        model: the model to call.
        max_attempts: attempts per call, the first included.
        base_delay: the backoff before the first retry may be up to this many seconds;
            the cap doubles with each retry.
        max_delay: the longest wait, ``Retry-After`` included.
        jitter: draws the delay as ``jitter(0, cap)``; ``random.uniform`` by default
            (pass ``random.Random(seed).uniform`` for reproducible delays).
        breaker: the circuit breaker to consult; by default the process-wide breaker of
            the model's endpoint (its ``endpoint`` attribute, else its name), shared by
            every model calling it. ``False`` turns the breaker off.
        sleep: waits between attempts; injectable for tests.

    The wait never runs past the calling run's wall-clock budget: when the delay would
    use up the seconds left, the error is raised at once, so a fallback chain can move
    on while the run still has time.

    Raises:
        ConfigError: ``model`` is not a :class:`Model`, ``max_attempts`` is not a whole
            number of at least 1, a delay is not a finite number of at least 0, or
            ``jitter``, ``sleep`` or ``breaker`` is not of its kind.
    """

    def __init__(
        self,
        model: Model,
        *,
        max_attempts: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 20.0,
        jitter: Jitter = random.uniform,
        breaker: CircuitBreaker | Literal[False] | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not isinstance(model, Model):
            raise ConfigError(
                f"RetryingModel wraps a tether.models.Model, got {model!r}; for a model "
                "name, pass tether.models.resolve_model(name)"
            )
        if not is_whole(max_attempts) or max_attempts < 1:
            raise ConfigError(
                "RetryingModel.max_attempts is the attempts per call, the first included: a "
                f"whole number of at least 1; got {max_attempts!r}"
            )
        for label, value in (("base_delay", base_delay), ("max_delay", max_delay)):
            if not is_finite(value) or value < 0:
                raise ConfigError(
                    f"RetryingModel.{label} is in seconds, a finite number of at least 0 "
                    f"(0 for no wait); got {value!r}"
                )
        for label, fn in (("jitter", jitter), ("sleep", sleep)):
            if not callable(fn):
                raise ConfigError(f"RetryingModel({label}=...) is a function, got {fn!r}")
        if not (breaker is None or breaker is False or isinstance(breaker, CircuitBreaker)):
            raise ConfigError(
                "RetryingModel(breaker=...) is a CircuitBreaker, False (no breaker) or None "
                f"(the endpoint's shared breaker); got {breaker!r}"
            )
        super().__init__(model)
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._jitter = jitter
        self._sleep = sleep
        self.endpoint = endpoint_of(model)
        if breaker is None:
            breaker = breaker_for(self.endpoint)
        self.breaker: CircuitBreaker | None = breaker or None

    def delay(self, retry: int, exc: BaseException) -> float:
        """The wait before retry number ``retry`` (0 for the first) after ``exc``."""
        # Past _MAX_DOUBLINGS the cap is max_delay for any base_delay above 0, and
        # 2**retry as a float would overflow past 1023.
        try:
            grown = math.ldexp(self.base_delay, min(retry, _MAX_DOUBLINGS))
        except OverflowError:
            grown = math.inf
        cap = min(self.max_delay, grown)
        wait = self._jitter(0.0, cap) if cap > 0 else 0.0
        retry_after = exc.retry_after if isinstance(exc, ModelHTTPError) else None
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, self.max_delay)

    def _admit(self) -> None:
        if self.breaker is not None and not self.breaker.allow():
            raise ModelUnavailable(
                f"the circuit breaker of {self.endpoint!r} is open after "
                f"{self.breaker.failures} failures in a row; calls fail fast for "
                f"{self.breaker.retry_in():.1f} s more"
            )

    def _settle(self, exc: BaseException | None) -> None:
        """Tell the breaker how an attempt ended: answered, failed, or neither (cancelled)."""
        if self.breaker is None:
            return
        if exc is None or (isinstance(exc, ModelHTTPError) and not exc.retryable):
            self.breaker.record_success()  # the endpoint answered; the request was at fault
        elif is_retryable(exc):
            self.breaker.record_failure()
        else:
            self.breaker.release()

    async def _before_retry(self, attempt: int, exc: Exception) -> None:
        """Wait before the next attempt, or re-raise ``exc`` when there is none to make."""
        if attempt >= self.max_attempts or not is_retryable(exc):
            raise exc
        if self.breaker is not None and self.breaker.state == "open":
            raise exc  # the breaker opened on this failure: fail fast now
        wait = self.delay(attempt - 1, exc)
        run = current_scope()
        if run is not None:
            left = run.tracker.seconds_left()
            if left is not None and wait >= left:
                raise exc  # waiting would spend the run's remaining time
            run.record(
                ModelRetried,
                model=self.name,
                attempt=attempt,
                error=f"{type(exc).__name__}: {exc}",
                delay_s=wait,
            )
        await self._sleep(wait)

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        """Call the inner model, retrying retryable failures."""
        attempt = 0
        while True:
            attempt += 1
            self._admit()
            try:
                response = await self.model.request(messages, params)
            except BaseException as exc:
                self._settle(exc)
                if not isinstance(exc, Exception):
                    raise  # cancelled: no verdict on the endpoint
                await self._before_retry(attempt, exc)
                continue
            self._settle(None)
            return response

    async def stream(
        self, messages: Sequence[Message], params: ModelParams
    ) -> AsyncIterator[str | ModelResponse]:
        """Stream from the inner model; a failure is retried only before any text was sent."""
        attempt = 0
        while True:
            attempt += 1
            self._admit()
            sent_text = False
            try:
                async with closing_stream(self.model.stream(messages, params)) as items:
                    async for item in items:
                        sent_text = sent_text or isinstance(item, str)
                        yield item
            except BaseException as exc:
                self._settle(exc)
                if sent_text or not isinstance(exc, Exception):
                    raise  # text was shown that a retry would repeat, or cancelled
                await self._before_retry(attempt, exc)
                continue
            self._settle(None)
            return
