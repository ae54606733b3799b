"""Helpers the providers share: error mapping, the chat message format, call arguments.

Each provider SDK has its own exception classes; what tether needs from them is
the same: the status, how long the server asked us to wait, a short excerpt of
the body, and whether the request was simply too long for the model.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tether._errors import ContextLengthExceeded, ModelHTTPError
from tether._messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
    object_arguments,
)

__all__ = [
    "WireIds",
    "body_excerpt",
    "chat_messages",
    "http_error",
    "is_context_length",
    "object_arguments",
    "parse_retry_after",
]

_EXCERPT = 500

# Phrases servers use for a prompt longer than the context window: OpenAI and vLLM
# ("maximum context length"), llama.cpp ("exceed context window"), Anthropic
# ("prompt is too long", "exceed context limit").
_CONTEXT_RE = re.compile(
    r"context[_ ]length|maximum context|context window|context limit|prompt is too long"
    r"|too many tokens|exceeds? the (?:model'?s? )?(?:context|max)",
    re.IGNORECASE,
)


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date).

    Args:
        headers: the response headers (case-insensitive, as ``httpx.Headers`` are).
        now: the current time for an HTTP date; ``time.time()`` by default.
    """
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms)
        except ValueError:
            pass
        else:
            if value >= 0:
                return value / 1000
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(seconds, 0.0)
    return seconds if seconds >= 0 else None


def body_excerpt(body: object, text: str | None = None) -> str:
    """The start of an error body, as text, for the person debugging."""
    if text is None:
        if body is None:
            return ""
        if isinstance(body, str | bytes):
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        else:
            try:
                text = json.dumps(body, default=str)
            except (TypeError, ValueError):
                text = repr(body)
    if len(text) > _EXCERPT:
        return text[:_EXCERPT] + "…"
    return text


def is_context_length(status: int, message: str, code: object = None) -> bool:
    """True when a 400 or 413 says the request is too long for the model's context."""
    if status not in (400, 413):
        return False
    if code == "context_length_exceeded":
        return True
    return bool(_CONTEXT_RE.search(message))


def http_error(
    provider: str,
    model: str,
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: str = "",
    code: object = None,
) -> ModelHTTPError:
    """The tether error for an HTTP error: ``ContextLengthExceeded`` or ``ModelHTTPError``."""
    retry_after = parse_retry_after(headers)
    if is_context_length(status, message + " " + body, code):
        return ContextLengthExceeded(
            f"{provider} model {model!r}: the request is longer than the model's context "
            f"(HTTP {status}): {message}",
            status,
            retry_after,
            body,
        )
    hint = ""
    if retry_after is not None:
        hint = f"; the server asked to retry after {retry_after:g}s"
    return ModelHTTPError(
        f"{provider} model {model!r} answered HTTP {status}: {message}{hint}",
        status,
        retry_after,
        body,
    )


def chat_messages(
    messages: Sequence[Message], arguments: Callable[[ToolCall], Any]
) -> list[dict[str, Any]]:
    """tether messages in the OpenAI chat format (tool results as role ``tool``).

    ``arguments`` renders a call's arguments: JSON text for an HTTP API, a dict for a
    chat template. An assistant turn's content is ``""`` rather than null: OpenAI takes
    both, and some compatible servers (llama.cpp's) refuse null.
    """
    out: list[dict[str, Any]] = []
    ids = WireIds()
    for m in messages:
        if isinstance(m, SystemMessage | UserMessage):
            out.append({"role": m.role, "content": m.content})
        elif isinstance(m, AssistantMessage):
            entry: dict[str, Any] = {"role": "assistant", "content": m.text or ""}
            if m.tool_calls:
                entry["tool_calls"] = [
                    {
                        "id": ids.call(c.id),
                        "type": "function",
                        "function": {"name": c.name, "arguments": arguments(c)},
                    }
                    for c in m.tool_calls
                ]
            out.append(entry)
        elif isinstance(m, ToolResultMessage):
            out.append(
                {"role": "tool", "tool_call_id": ids.result(m.call_id), "content": m.content}
            )
    return out


_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


class WireIds:
    """Tool-call ids as a provider takes them: each call of the conversation under an
    id of its own, and each result under its call's.

    A conversation can hold one id twice: a session's or a ``history=``'s earlier runs
    named their calls ``call_1_0`` as this run does, and a handoff's agent starts its
    own steps. Anthropic refuses a repeated ``tool_use`` id, and a model reading two
    calls under one id cannot tell whose result is whose. A repeat is sent as
    ``<id>_2`` (``_3`` ...), and the results that follow it name the new id, in call
    order. With ``safe``, characters outside ``[A-Za-z0-9_-]`` (which Anthropic
    refuses) are written as ``_``. The journal keeps the ids as they were: only what
    goes over the wire changes.
    """

    __slots__ = ("_last", "_pending", "_safe", "_seen")

    def __init__(self, *, safe: bool = False) -> None:
        self._safe = safe
        self._seen: set[str] = set()
        self._pending: dict[str, deque[str]] = {}  # calls still without their result
        self._last: dict[str, str] = {}  # the wire id of the last call under an id

    def _clean(self, cid: str) -> str:
        if self._safe and (not cid or _UNSAFE_ID.search(cid) is not None):
            return _UNSAFE_ID.sub("_", cid) or "call"
        return cid

    def call(self, cid: str) -> str:
        """The wire id of the next call named ``cid``."""
        wire = self._clean(cid)
        seen = self._seen
        if wire in seen:
            n = 2
            while f"{wire}_{n}" in seen:
                n += 1
            wire = f"{wire}_{n}"
        seen.add(wire)
        self._last[cid] = wire
        queue = self._pending.get(cid)
        if queue is None:
            self._pending[cid] = deque((wire,))
        else:
            queue.append(wire)
        return wire

    def result(self, cid: str) -> str:
        """The wire id of the next result for ``cid``: its call's, in call order (the
        last call's once each has had its result; its own, cleaned, with no call)."""
        queue = self._pending.get(cid)
        if queue:
            return queue.popleft()
        last = self._last.get(cid)
        return last if last is not None else self._clean(cid)
