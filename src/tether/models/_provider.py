"""The base of the HTTP providers: their settings, the SDK client's lifecycle, errors.

An SDK client (``openai.AsyncOpenAI``, ``anthropic.AsyncAnthropic``) holds a
connection pool that belongs to the event loop that opened it, and ``run_sync``
starts a new loop on each call. So a provider keeps one client per loop, made
lazily by its :meth:`ProviderModel._make_client`, and :meth:`ProviderModel.aclose`
closes it. Requests and streams go through :meth:`ProviderModel._send` and
:meth:`ProviderModel._deltas`, which turn the SDK's exceptions into tether's.
"""

from __future__ import annotations

import asyncio
import os
from abc import abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from tether._errors import ConfigError, ModelConnectionError
from tether.models._base import Model, Price
from tether.models._prices import price_for

if TYPE_CHECKING:
    import httpx2

__all__ = ["ProviderModel"]

# Sent when a base URL is given and no key is set: local servers and gateways ignore
# the key, but the SDKs insist on one.
_PLACEHOLDER_KEY = "not-needed"

T = TypeVar("T")
E = TypeVar("E")
E_co = TypeVar("E_co", covariant=True)
E_contra = TypeVar("E_contra", contravariant=True)


class _Client(Protocol):
    async def close(self) -> None: ...


class _Stream(Protocol[E_co]):
    def __aiter__(self) -> AsyncIterator[E_co]: ...

    async def close(self) -> None: ...


class _Accumulator(Protocol[E_contra]):
    """Builds one response from a stream's events; ``finished`` once the answer is whole."""

    finished: bool

    def add(self, event: E_contra) -> str | None:
        """Take one event; return the text delta it carries, if any."""
        ...


ClientT = TypeVar("ClientT", bound=_Client)
_Errors = tuple[type[Exception], ...]


class ProviderModel(Model, Generic[ClientT]):
    """A model behind an HTTP API, reached through its SDK's async client.

    A subclass names its environment variables, host and SDK exception classes, makes
    the client in :meth:`_make_client` (from :meth:`_client_options`), and maps an SDK
    exception in :meth:`_error` (with :meth:`_transport_error` for the connection's).

    Args:
        model: the model's name at the provider.
        name: the model's name in tether (``"openai:gpt-4o-mini"``).
        api_key: the key; ``{env}_API_KEY`` by default.
        base_url: the API's base URL; ``{env}_BASE_URL`` or the provider's own.
        timeout: seconds to wait for the server (connecting, or between bytes).
        price: the price per token; the known price of ``model`` by default.
        http_client: an ``httpx2.AsyncClient`` to send requests with.
    """

    requires_network = True
    _env: ClassVar[str]  # the prefix of the environment variables: OPENAI_API_KEY
    _default_host: ClassVar[str]  # where requests go when no base URL is set
    _no_key_hint: ClassVar[str] = ""  # what else will do, when there is no key
    _sdk_errors: ClassVar[_Errors]  # what a request may raise
    _connection_errors: ClassVar[_Errors]  # the connection failed
    _timeout_errors: ClassVar[_Errors]  # no answer in time (connection errors too)

    def __init__(
        self,
        model: str,
        *,
        name: str,
        api_key: str | None,
        base_url: str | None,
        timeout: float,
        price: Price | None,
        http_client: httpx2.AsyncClient | None,
    ) -> None:
        self.model = model
        self.name = name
        self.api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self.price = price if price is not None else price_for(model)
        # The circuit breaker of a RetryingModel is kept per endpoint.
        self.endpoint = self._where()
        self.http_client = http_client
        self._client_obj: ClientT | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self.window: int | None = None

    @property
    def context_window(self) -> int | None:
        """The window given as ``context_window=``, if any."""
        return self.window

    @abstractmethod
    def _make_client(self) -> ClientT:
        """A new client for the running event loop."""

    @abstractmethod
    def _error(self, exc: Exception, *, mid_stream: bool = False) -> Exception:
        """The tether error for an exception of the SDK or its HTTP client."""

    def _client(self) -> ClientT:
        # Created lazily, and once per event loop: the connection pool belongs to the
        # loop that opened it.
        loop = asyncio.get_running_loop()
        if self._client_obj is None or self._client_loop is not loop:
            self._client_obj = self._make_client()
            self._client_loop = loop
        return self._client_obj

    async def aclose(self) -> None:
        """Close the HTTP connections of the current client, if any."""
        client, self._client_obj, self._client_loop = self._client_obj, None, None
        if client is not None:
            await client.close()

    def _where(self) -> str:
        """Where requests go: the base URL, ``{env}_BASE_URL`` or the provider's host."""
        return self.base_url or os.environ.get(f"{self._env}_BASE_URL") or self._default_host

    def _client_options(self) -> dict[str, Any]:
        """The SDK client's arguments, its own retries off (tether's retry wrapper retries).

        The key and base URL are as given, else from ``{env}_API_KEY`` and
        ``{env}_BASE_URL``; with a base URL and no key, a placeholder key.

        Raises:
            ConfigError: no key and no base URL.
        """
        env = self._env
        base_url = self.base_url or os.environ.get(f"{env}_BASE_URL") or None
        key = self.api_key or os.environ.get(f"{env}_API_KEY")
        if not key:
            if base_url is None:
                raise ConfigError(
                    f"{self.name}: no API key; set {env}_API_KEY or pass api_key="
                    + self._no_key_hint
                )
            key = _PLACEHOLDER_KEY
        return {
            "api_key": key,
            "base_url": base_url,
            "timeout": self.timeout,
            "max_retries": 0,
            "http_client": self.http_client,
        }

    def secret_values(self) -> frozenset[str]:
        """The API key (as given, or from the environment), to redact wherever it appears."""
        key = self.api_key or os.environ.get(f"{self._env}_API_KEY")
        return (
            frozenset({key}) if key and key != _PLACEHOLDER_KEY and len(key) >= 8 else frozenset()
        )

    async def _send(self, request: Awaitable[T]) -> T:
        """The SDK call's result, its exceptions turned into tether's."""
        try:
            return await request
        except self._sdk_errors as exc:
            raise self._error(exc) from exc

    async def _deltas(
        self, request: Awaitable[_Stream[E]], acc: _Accumulator[E], end: str
    ) -> AsyncGenerator[str, None]:
        """The text deltas of a streamed answer; every event goes to ``acc``.

        Use it in ``contextlib.aclosing``, so that the stream is closed as soon as
        its reader stops.

        Raises:
            ModelConnectionError: the stream ended before ``acc`` was finished (before
                ``end``, as the message says).
        """
        events = await self._send(request)
        try:
            async for event in events:
                delta = acc.add(event)
                if delta:
                    yield delta
        except self._sdk_errors as exc:
            raise self._error(exc, mid_stream=True) from exc
        finally:
            await events.close()
        if not acc.finished:
            raise ModelConnectionError(
                f"{self.name}: the stream ended before {end}; the connection was probably cut"
            )

    def _transport_error(self, exc: Exception, *, mid_stream: bool) -> ModelConnectionError | None:
        """The error for a connection that failed, timed out or broke mid-stream, or None."""
        where = self._where()
        if mid_stream and isinstance(exc, self._connection_errors):
            cause = exc.__cause__ or exc
            return ModelConnectionError(
                f"{self.name}: the connection to {where} broke mid-stream: "
                f"{type(cause).__name__}: {cause}"
            )
        if isinstance(exc, self._timeout_errors):
            return ModelConnectionError(
                f"{self.name}: no answer from {where} within {self.timeout:g}s"
            )
        if isinstance(exc, self._connection_errors):
            cause = exc.__cause__ or exc
            return ModelConnectionError(f"{self.name}: could not reach {where}: {cause}")
        return None
