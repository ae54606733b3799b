"""The base of the HTTP providers: their settings, the SDK client's lifecycle, errors.

An SDK client (``openai.AsyncOpenAI``, ``anthropic.AsyncAnthropic``) holds a
connection pool that belongs to the event loop that opened it, and ``run_sync``
starts a new loop on each call. So a provider keeps one client per loop, made
lazily by its :meth:`ProviderModel._make_client`, and :meth:`ProviderModel.aclose`
closes it. Requests and streams go through :meth:`ProviderModel._send` and
:meth:`ProviderModel._deltas`, which turn the SDK's exceptions into tether's.

The SDKs build their response objects without validating them: a 200 answer that is
an HTML page comes back as a str, JSON null as None, and a field of the wrong type
(a tool call's name that is null) as whatever the server sent. So each provider
reads its answer with the checks below and raises :class:`MalformedAnswer`, which
:meth:`ProviderModel._reading` turns into :class:`~tether.ModelResponseInvalid`
naming the endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
from abc import abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from tether._errors import (
    ConfigError,
    ModelConnectionError,
    ModelError,
    ModelResponseInvalid,
)
from tether._messages import Message, TokenUsage, ToolCall
from tether.models._base import Model, Price, is_finite, is_whole
from tether.models._function import estimate_tokens
from tether.models._prices import price_for

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "Counts",
    "MalformedAnswer",
    "ProviderModel",
    "answer_text",
    "describe",
    "expect",
    "token_count",
    "tool_name",
    "usage_or_estimate",
]

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
    @property
    def response(self) -> httpx2.Response: ...

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

_EXCERPT = 200  # characters of an unusable body quoted in the error
_REDACTED = "***"


class MalformedAnswer(Exception):
    """An answer that breaks the API's form, found while reading it.

    Raised by the providers' readers, which do not know the model's name or endpoint;
    :meth:`ProviderModel._reading` turns it into :class:`~tether.ModelResponseInvalid`.

    Args:
        problem: what is wrong, naming the field (``choices[0].message.content is the
            number 123, not text or null``).
        body: the body to quote, when the whole answer is unusable (a page of HTML).
    """

    def __init__(self, problem: str, body: object = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.body = body


def describe(value: object) -> str:
    """A short phrase for a value a server sent where something else belongs."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {json.dumps(value)}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        if not value.strip():
            return "blank text" if value else "an empty string"
        shown = value if len(value) <= 40 else value[:40] + "…"
        return f"the text {shown!r}"
    if isinstance(value, list | tuple):
        return "an empty list" if not value else f"a list of {len(value)}"
    return "an object"


def _body_phrase(body: str) -> str:
    """What a body that is not a JSON object looks like."""
    text = body.strip()
    if not text:
        return "an empty body"
    if text.startswith("<"):
        return "an HTML page, not JSON"
    return "text that is not JSON"


def expect(answer: object, cls: type[T]) -> T:
    """The SDK's parsed answer as ``cls``, or MalformedAnswer saying what came instead.

    Args:
        answer: what the SDK call returned: an instance of ``cls`` for a JSON object,
            else the body's text (not JSON) or the JSON value itself.
        cls: the SDK's response class.
    """
    if isinstance(answer, cls):
        return answer
    if isinstance(answer, str):
        raise MalformedAnswer(_body_phrase(answer), answer)
    if isinstance(answer, list):
        raise MalformedAnswer("the body is a JSON list", json.dumps(answer, default=str))
    shown = json.dumps(answer, default=str)  # null, a number or a boolean
    raise MalformedAnswer(f"the body is JSON {shown[:40]}")


def answer_text(value: object, where: str) -> str | None:
    """A text field of the answer: text or null, anything else is malformed."""
    if value is None or isinstance(value, str):
        return value
    raise MalformedAnswer(f"{where} is {describe(value)}, not text or null")


def tool_name(value: object, where: str) -> str:
    """A tool call's name: a non-empty str, or the answer is malformed."""
    if isinstance(value, str) and value.strip():
        return value
    raise MalformedAnswer(f"{where} is {describe(value)}; a tool call needs the name of a tool")


def token_count(value: object) -> int | None:
    """A token count as reported, or None when it cannot be one (null, negative, text).

    A missing count is estimated (:func:`usage_or_estimate`); a negative one is
    treated as missing, so a server's nonsense never gives cost back to a budget.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and value >= 0:
        return int(value)
    return None


Counts = tuple[int | None, int | None, int | None]
"""Input, output and cached input tokens as a server reported them; None if not given."""


def usage_or_estimate(
    messages: Sequence[Message],
    counts: Counts,
    *,
    text: str | None,
    calls: Sequence[ToolCall],
) -> TokenUsage:
    """The usage of one call, each count the server did not give estimated.

    Estimated as for servers that report no usage at all (four characters a token),
    so that token and cost budgets still count something. Cached input tokens are a
    part of the input tokens, never more.
    """
    input_tokens, output_tokens, cached_input_tokens = counts
    if input_tokens is None:
        input_tokens = estimate_tokens(messages)
    if output_tokens is None:
        chars = len(text or "")
        chars += sum(len(call.name) + len(call.arguments_json()) for call in calls)
        output_tokens = chars // 4 + 1
    cached = min(cached_input_tokens or 0, input_tokens)
    return TokenUsage(input_tokens, output_tokens, cached)


def _is_seconds(value: object) -> bool:
    return is_finite(value) and value > 0  # type: ignore[operator]


def _is_count(value: object) -> bool:
    return is_whole(value) and value >= 1


def _excerpt(body: object, secrets: frozenset[str]) -> str:
    """A short, one-line, printable excerpt of a body, with the secrets masked."""
    if body is None:
        return ""
    if isinstance(body, bytes):
        text = body.decode("utf-8", "replace")
    elif isinstance(body, str):
        text = body
    else:
        text = json.dumps(body, default=str)
    for secret in sorted(secrets, key=len, reverse=True):  # before any cut splits one
        text = text.replace(secret, _REDACTED)
    text = " ".join(text[: _EXCERPT * 4].split())
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


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
        timeout: seconds to wait for the server (connecting, or between bytes), a
            finite number above 0.
        price: the price per token; the known price of ``model`` by default.
        http_client: an ``httpx2.AsyncClient`` to send requests with.
        context_window: the model's context window in tokens (a whole number of at
            least 1), or None when unknown.

    Raises:
        ConfigError: ``timeout`` or ``context_window`` is not of its kind.
    """

    requires_network = True
    _env: ClassVar[str]  # the prefix of the environment variables: OPENAI_API_KEY
    _default_host: ClassVar[str]  # where requests go when no base URL is set
    _no_key_hint: ClassVar[str] = ""  # what else will do, when there is no key
    _sdk_errors: ClassVar[_Errors]  # what a request may raise
    _connection_errors: ClassVar[_Errors]  # the connection failed
    _timeout_errors: ClassVar[_Errors]  # no answer in time (connection errors too)
    _api: ClassVar[str]  # the API its answers should follow, for messages
    _answer_kind: ClassVar[str]  # what one answer is: "a chat completion"

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
        context_window: int | None = None,
    ) -> None:
        if not _is_seconds(timeout):
            raise ConfigError(
                f"{name}: timeout is the seconds to wait for the server, a finite number "
                f"above 0 (60 by default); got {timeout!r}"
            )
        if context_window is not None and not _is_count(context_window):
            raise ConfigError(
                f"{name}: context_window is the model's context window in tokens, a whole "
                f"number of at least 1, or None when unknown; got {context_window!r}"
            )
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
        self.window: int | None = context_window

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
        """The SDK call's result, its exceptions turned into tether's.

        The result is what the SDK made of the body, unchecked: read it in
        :meth:`_reading`, starting with :func:`expect`.
        """
        try:
            return await request
        except self._sdk_errors as exc:
            raise self._error(exc) from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            # The SDK parses a JSON body with json.loads and lets its errors through.
            raise self._unreadable(exc) from None

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Turn a :class:`MalformedAnswer` raised inside into ModelResponseInvalid."""
        try:
            yield
        except MalformedAnswer as exc:
            raise self._invalid(exc.problem, exc.body) from None

    def _invalid(self, problem: str, body: object = None) -> ModelResponseInvalid:
        """The error for an answer that breaks the API: where it came from and why."""
        excerpt = _excerpt(body, self.secret_values())
        quoted = f": {excerpt!r}" if excerpt else ""
        return ModelResponseInvalid(
            f"{self.name}: the answer from {self._where()} is not {self._answer_kind}: "
            f"{problem}{quoted}. A proxy's login page, a wrong path or a server that does "
            f"not follow the {self._api} answers like this: check the base URL",
            excerpt,
        )

    def _unreadable(self, exc: json.JSONDecodeError | UnicodeDecodeError) -> ModelError:
        """The error for a body the SDK could not parse as JSON.

        JSON that stops in the middle of a value was cut off, most likely with the
        connection (a body without a length that ended early): a ModelConnectionError,
        retried like one. Anything else is not the API's answer.
        """
        if isinstance(exc, UnicodeDecodeError):
            return self._invalid("the body is not text in UTF-8", exc.object)
        doc = exc.doc.rstrip()
        cut = exc.pos >= len(doc) or exc.msg.startswith("Unterminated string")
        if doc.lstrip()[:1] in ("{", "[") and cut:
            return ModelConnectionError(
                f"{self.name}: the answer from {self._where()} ended in the middle of its "
                f"JSON after {len(doc)} characters; the connection was probably cut"
            )
        return self._invalid(_body_phrase(exc.doc), exc.doc)

    async def _deltas(
        self, request: Awaitable[_Stream[E]], acc: _Accumulator[E], end: str
    ) -> AsyncGenerator[str, None]:
        """The text deltas of a streamed answer; every event goes to ``acc``.

        Use it in ``contextlib.aclosing``, so that the stream is closed as soon as
        its reader stops.

        Raises:
            ModelConnectionError: the stream ended before ``acc`` was finished (before
                ``end``, as the message says).
            ModelResponseInvalid: an event is not JSON, ``acc`` found one malformed
                (:class:`MalformedAnswer`), or the answer held no event at all and is
                not an event stream (an HTML page).
        """
        events = await self._send(request)
        seen = 0
        try:
            with self._reading():
                async for event in events:
                    seen += 1
                    delta = acc.add(event)
                    if delta:
                        yield delta
        except self._sdk_errors as exc:
            raise self._error(exc, mid_stream=True) from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            # An event is whole when it reaches the SDK: data that does not parse is
            # what the server sent, not a cut.
            body = exc.doc if isinstance(exc, json.JSONDecodeError) else exc.object
            raise self._invalid("an event's data is not JSON", body) from None
        finally:
            await events.close()
        if acc.finished:
            return
        content_type = events.response.headers.get("content-type", "")
        if seen == 0 and "event-stream" not in content_type:
            raise self._invalid(
                f"the answer to a streamed request is {content_type or 'untyped'}, "
                "not an event stream"
            )
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
