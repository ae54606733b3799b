"""Record a run's model calls to a cassette, and replay them without the model.

A cassette is a JSON-lines file. The first line is a header; each later line is one
exchange: the request (messages and params, canonicalised so that key order and JSON
spacing do not matter) and what came back (a response, or an error). Every line carries
the format version ``v``; a version this tether does not know is refused with
:class:`~tether.JournalError`. So is a malformed cassette: a line cut short or not
JSON, or a record without a field the replay reads or with one of the wrong type. It
is refused when the cassette is loaded, not in the middle of a run, and the message
names the file and the line.

:class:`RecordingModel` appends each exchange as one whole line and flushes it, so a
crash never leaves half a line. :class:`ReplayModel` serves the exchanges back in order
and raises :class:`~tether.ReplayMismatch`, naming the first difference, when a request
is not the recorded one, or when the cassette has no more exchanges.

Format versions (bump :data:`CASSETTE_VERSION` and add a line per change):

* 1: first version.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from tether import _errors
from tether._errors import (
    ConfigError,
    JournalError,
    ModelError,
    ModelHTTPError,
    ReplayMismatch,
)
from tether._messages import Message, ModelResponse

from ._base import Model, ModelParams, Price, WrapperModel, is_whole

__all__ = ["CASSETTE_VERSION", "RecordingModel", "ReplayModel", "canonical_request"]

CASSETTE_VERSION = 1
_KIND = "tether-cassette"


@cache
def _messages_adapter() -> TypeAdapter[list[Message]]:
    return TypeAdapter(list[Message])


@cache
def _response_adapter() -> TypeAdapter[ModelResponse]:
    return TypeAdapter(ModelResponse)


def _json_data(adapter: TypeAdapter[Any], value: Any) -> Any:
    """``value`` as JSON data, non-finite numbers kept as floats.

    pydantic's JSON mode turns a NaN or an infinity held in an ``Any`` field (a tool
    call's arguments) into None, which would replay as a different call; the cassette
    writes them as ``NaN`` and ``Infinity``, which :mod:`json` reads back as they were.
    """
    return to_jsonable_python(adapter.dump_python(value), inf_nan_mode="constants")


def _canonical(value: Any) -> Any:
    """JSON data with tool-call arguments parsed, so raw JSON text and dicts compare equal."""
    if isinstance(value, dict):
        out = {k: _canonical(v) for k, v in value.items()}
        args = out.get("arguments")
        if isinstance(args, str) and "name" in out:
            with contextlib.suppress(ValueError):  # malformed text is kept as it was
                out["arguments"] = json.loads(args)
        return out
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def canonical_request(messages: Sequence[Message], params: ModelParams) -> dict[str, Any]:
    """A request as plain JSON data, the same for requests that mean the same thing."""
    return {
        "messages": _canonical(_json_data(_messages_adapter(), list(messages))),
        "params": {
            "tools": [
                {"name": t.name, "description": t.description, "parameters": t.parameters}
                for t in params.tools
            ],
            "output_schema": params.output_schema,
            "allow_tools": params.allow_tools,
            "tool_choice": params.tool_choice,
            "json_schema": params.json_schema,
        },
    }


def _dump_line(record: dict[str, Any]) -> bytes:
    record = {"v": CASSETTE_VERSION, **record}
    return (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()


def _error_record(exc: ModelError) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, ModelHTTPError):
        data.update(status_code=exc.status_code, retry_after=exc.retry_after, body=exc.body)
    return data


def _rebuild_error(data: dict[str, Any], where: str) -> ModelError:
    """The error an exchange recorded, as it was raised (an unknown type as ModelError).

    Args:
        data: the exchange's ``error`` record.
        where: the cassette and line, for the message.

    Raises:
        JournalError: the record is not an error's: a ``type`` or ``message`` that is
            not a str, or an HTTP error without a whole ``status_code``, with a
            ``retry_after`` that is not a number of seconds, or a ``body`` that is not
            a str.
    """
    kind, message = data.get("type"), data.get("message", "")
    if not isinstance(kind, str) or not isinstance(message, str):
        raise JournalError(
            f"{where}: the error needs a type and a message, both str; got type "
            f"{kind!r}, message {_short(message, 60)}; record again"
        )
    cls = getattr(_errors, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, ModelError)):
        cls = ModelError  # a provider's own error class: its base is what a retry reads
    if not issubclass(cls, ModelHTTPError):
        return cls(message)
    status, retry_after, body = (
        data.get("status_code"),
        data.get("retry_after"),
        data.get("body", ""),
    )
    if not is_whole(status):
        raise JournalError(
            f"{where}: the {kind} has no HTTP status_code (a whole number), got "
            f"{status!r}; record again"
        )
    if retry_after is not None and not (_is_number(retry_after) and retry_after >= 0):
        raise JournalError(
            f"{where}: the {kind}'s retry_after is seconds (a number of 0 or more) or "
            f"null, got {retry_after!r}; record again"
        )
    if not isinstance(body, str):
        raise JournalError(f"{where}: the {kind}'s body is a str, got {body!r}; record again")
    return cls(message, status, None if retry_after is None else float(retry_after), body)


def _is_number(value: object) -> bool:
    """An int or a float, not a bool (an infinity may come from a Retry-After header)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


class RecordingModel(WrapperModel):
    """A model that records each request and what came back to a cassette file.

    The file is started afresh (a new header) at the first call; every call after that
    is appended, so sequential runs through one ``RecordingModel`` replay in order.
    Record one run at a time: concurrent runs would interleave their exchanges.

    Args:
        model: the model that answers.
        path: the cassette file to write.
    """

    def __init__(self, model: Model, path: str | os.PathLike[str]) -> None:
        super().__init__(model)
        self.path = Path(path)
        self._seq = 0

    def _append(self, record: dict[str, Any]) -> None:
        # One write of one whole line on an O_APPEND descriptor: a crash leaves the
        # cassette ending at a line boundary, never inside a line.
        if self._seq == 0:
            header = {
                "type": "header",
                "kind": _KIND,
                "model": self.model.name,
                "price": None
                if self.price is None
                else [
                    self.price.input_per_mtok,
                    self.price.output_per_mtok,
                    self.price.cached_input_per_mtok,
                ],
                "created": time.time(),
            }
            self.path.write_bytes(_dump_line(header))
        data = _dump_line({"type": "exchange", "seq": self._seq, **record})
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        self._seq += 1

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        """Ask the inner model, and record the exchange (an error too)."""
        req = canonical_request(messages, params)
        try:
            response = await self.model.request(messages, params)
        except ModelError as exc:
            self._append({"request": req, "error": _error_record(exc)})
            raise
        self._append({"request": req, "response": _json_data(_response_adapter(), response)})
        return response

    async def stream(
        self, messages: Sequence[Message], params: ModelParams
    ) -> AsyncIterator[str | ModelResponse]:
        """Stream from the inner model, and record the deltas and the response."""
        req = canonical_request(messages, params)
        deltas: list[str] = []
        try:
            async for item in self.model.stream(messages, params):
                if isinstance(item, str):
                    deltas.append(item)
                else:
                    self._append(
                        {
                            "request": req,
                            "response": _json_data(_response_adapter(), item),
                            "deltas": deltas,
                        }
                    )
                yield item
        except ModelError as exc:
            self._append({"request": req, "error": _error_record(exc), "deltas": deltas})
            raise


def _first_difference(recorded: Any, actual: Any, path: str = "") -> str | None:
    """Where two JSON values first differ, as a path with both values, or None."""
    if isinstance(recorded, dict) and isinstance(actual, dict):
        for key in list(recorded) + [k for k in actual if k not in recorded]:
            if key not in actual:
                return f"{path}.{key}: recorded {_short(recorded[key])}, missing now"
            if key not in recorded:
                return f"{path}.{key}: not recorded, now {_short(actual[key])}"
            found = _first_difference(recorded[key], actual[key], f"{path}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(recorded, list) and isinstance(actual, list):
        for i, (r, a) in enumerate(zip(recorded, actual, strict=False)):
            found = _first_difference(r, a, f"{path}[{i}]")
            if found is not None:
                return found
        if len(recorded) != len(actual):
            return f"{path}: recorded {len(recorded)} items, now {len(actual)}"
        return None
    if recorded != actual and not _both_nan(recorded, actual):
        return f"{path}: recorded {_short(recorded)}, now {_short(actual)}"
    return None


def _both_nan(a: Any, b: Any) -> bool:
    """NaN is not equal to itself, yet the same NaN argument is the same request."""
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class _Exchange:
    """One recorded model call, its shape checked when the cassette was loaded."""

    where: str
    """The cassette and line, for messages."""
    request: dict[str, Any]
    response: dict[str, Any] | None
    """The response as recorded (None when the call failed: see ``error``)."""
    error: dict[str, Any] | None
    deltas: list[str] | None
    """The streamed text deltas, when the call was streamed."""


def _load(path: Path) -> tuple[dict[str, Any], list[_Exchange]]:
    """The header and the exchanges of a cassette, every line checked.

    Raises:
        JournalError: the file is empty, or a line (named) is cut short, is not JSON,
            has another format version, or is not a record of a cassette's shape.
    """
    header: dict[str, Any] | None = None
    exchanges: list[_Exchange] = []
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"cassette {path}: line {number}"
            if not line.endswith(b"\n"):
                raise JournalError(f"{where} is cut short; record again")
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise JournalError(f"{where} is not JSON: {exc}") from exc
            version = record.get("v") if isinstance(record, dict) else None
            if version != CASSETTE_VERSION:
                raise JournalError(
                    f"{where} has format version {version!r}, and this tether reads "
                    f"version {CASSETTE_VERSION}; upgrade tether, or record again"
                )
            if header is None:
                if record.get("type") != "header" or record.get("kind") != _KIND:
                    raise JournalError(f"cassette {path}: the first line is not a cassette header")
                if not isinstance(record.get("model", ""), str):
                    raise JournalError(
                        f"{where}: the header's model is a name (a str), got "
                        f"{record['model']!r}; record again"
                    )
                header = record
            elif record.get("type") == "exchange":
                exchanges.append(_exchange(where, record))
            else:
                raise JournalError(
                    f"{where} is a {record.get('type')!r} record; after its header a "
                    "cassette holds only exchanges; record again"
                )
    if header is None:
        raise JournalError(f"cassette {path} is empty")
    return header, exchanges


def _exchange(where: str, record: dict[str, Any]) -> _Exchange:
    """An exchange record, checked: every field the replay reads has its shape.

    Raises:
        JournalError: a field is missing or of the wrong shape (named, with ``where``).
    """
    request = record.get("request")
    if not (
        isinstance(request, dict)
        and isinstance(request.get("messages"), list)
        and isinstance(request.get("params"), dict)
    ):
        got = _short(request, 60) if "request" in record else "none"
        raise JournalError(
            f"{where}: the exchange has no request (an object with messages and params), "
            f"got {got}; record again"
        )
    has_response, has_error = "response" in record, "error" in record
    if has_response == has_error:
        which = (
            "both a response and an error" if has_response else "neither a response nor an error"
        )
        raise JournalError(f"{where}: the exchange holds {which}; record again")
    response, error = record.get("response"), record.get("error")
    if has_response:
        if not isinstance(response, dict):
            raise JournalError(
                f"{where}: the response is not an object, got {_short(response, 60)}; record again"
            )
        try:
            _response_adapter().validate_python(response)
        except ValidationError as exc:
            raise JournalError(
                f"{where}: the response is not a model response ({_first_error(exc)}); record again"
            ) from None
    elif not isinstance(error, dict):
        raise JournalError(
            f"{where}: the error is not an object, got {_short(error, 60)}; record again"
        )
    else:
        _rebuild_error(error, where)  # its shape, checked now rather than mid-run
    deltas = record.get("deltas")
    if deltas is not None and not (
        isinstance(deltas, list) and all(isinstance(d, str) for d in deltas)
    ):
        raise JournalError(
            f"{where}: the streamed deltas are a list of str, got {_short(deltas, 60)}; "
            "record again"
        )
    return _Exchange(where, request, response, error, deltas)


def _first_error(exc: ValidationError) -> str:
    """The first of pydantic's complaints, as ``field: message``."""
    errors = exc.errors()
    first = errors[0]
    at = ".".join(str(part) for part in first["loc"])
    more = f", and {len(errors) - 1} more" if len(errors) > 1 else ""
    return f"{at}: {first['msg']}{more}" if at else f"{first['msg']}{more}"


def _header_price(path: Path, price: Any) -> Price | None:
    if price is None:
        return None
    try:
        return Price(*price)
    except (ConfigError, TypeError) as exc:
        raise JournalError(
            f"cassette {path}: the header's price {price!r} is not a price ({exc}); record again"
        ) from exc


class ReplayModel(Model):
    """A model that serves a cassette's responses back, checking each request.

    Args:
        path: a cassette written by :class:`RecordingModel`.

    Raises:
        JournalError: the file is not a cassette, has a format version this tether
            does not know, its header holds a price that is not one, or a line is
            malformed: cut short, not JSON, or a record without a field the replay
            reads or with one of the wrong type (an exchange without its request, or
            without a response or an error; a response that is not a model response;
            an HTTP error without its status code; streamed deltas that are not a
            list of str). The message names the file and the line.
        FileNotFoundError: there is no such file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        header, self._exchanges = _load(self.path)
        self.name = str(header.get("model", "replay"))
        self.price = _header_price(self.path, header.get("price"))
        self._next = 0

    @property
    def remaining(self) -> int:
        """Exchanges not yet served."""
        return len(self._exchanges) - self._next

    def _take(self, messages: Sequence[Message], params: ModelParams) -> _Exchange:
        if self._next >= len(self._exchanges):
            raise ReplayMismatch(
                f"the cassette {self.path} holds {len(self._exchanges)} model calls and call "
                f"{self._next + 1} was made; the run went further than the recorded one"
            )
        exchange = self._exchanges[self._next]
        self._next += 1
        actual = canonical_request(messages, params)
        diff = _first_difference(exchange.request, actual, "request")
        if diff is not None:
            raise ReplayMismatch(
                f"model call {self._next} differs from the cassette {self.path}: {diff}"
            )
        if exchange.error is not None:
            raise _rebuild_error(exchange.error, exchange.where)
        return exchange

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        """The recorded response, if the request is the recorded one."""
        return _response_adapter().validate_python(self._take(messages, params).response)

    async def stream(
        self, messages: Sequence[Message], params: ModelParams
    ) -> AsyncIterator[str | ModelResponse]:
        """The recorded deltas (or the whole text as one) and then the response."""
        exchange = self._take(messages, params)
        response = _response_adapter().validate_python(exchange.response)
        deltas = exchange.deltas
        if deltas is None:
            deltas = [response.text] if response.text else []
        for delta in deltas:
            yield delta
        yield response
