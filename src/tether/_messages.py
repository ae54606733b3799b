"""Messages exchanged with a model, and the model's response.

These are plain slotted dataclasses: they are created on every step, so they
must be cheap. One pydantic ``TypeAdapter`` (see :mod:`tether._events`)
serialises them for the journal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "JSON_DECODE_ERRORS",
    "AssistantMessage",
    "Message",
    "ModelResponse",
    "SystemMessage",
    "TokenUsage",
    "ToolCall",
    "ToolDefinition",
    "ToolResultMessage",
    "UserMessage",
    "object_arguments",
    "plain_call",
]

JSON_DECODE_ERRORS = (ValueError, RecursionError)
"""What ``json.loads`` raises on text that is not JSON, or is nested too deep to parse
(``"[" * 100000``: the model wrote it, so it must not end the run)."""

_ENCODING = (TypeError, ValueError, RecursionError)
"""What encoding a value as JSON raises: a value JSON has no form for, a key that cannot
be sorted, a cycle, an int too long to print, or nesting too deep."""

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=repr)

_FLAT = frozenset({str, float, bool, type(None)})
"""The scalar types the journal writes and reads back as they are; an int does too when
it can be printed (see :func:`_fits`)."""

_SHORT_INT_BITS = 2000
"""An int of at most this many bits has at most 603 digits: it prints under any limit
``sys.set_int_max_str_digits`` accepts (640 digits or more, or none)."""

_MAX_DEPTH = 100
"""How deep dict arguments may nest and be kept as a dict. pydantic writes about 250
levels of an event and no more; deeper arguments are kept as their JSON text, which the
tool's validation reads as it reads any model's text."""


@dataclass(slots=True)
class ToolCall:
    """A call of a tool, as the model asked for it.

    Args:
        name: the tool's name, as the model wrote it (it may not exist).
        arguments: a dict, or the raw JSON text the model produced (it may be malformed).
        id: the call's id; the run loop assigns one when it is empty.
    """

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str = ""

    def key(self) -> str:
        """A cheap canonical identity of the call (name and arguments), for loop detection.

        Key order does not matter at any depth; raw text that does not parse is its own key.
        """
        args = self.arguments
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except JSON_DECODE_ERRORS:
                return f"{self.name}:{args}"
        if type(args) is dict:
            for value in args.values():
                if type(value) is dict or type(value) is list:
                    break  # nested: canonical JSON below
            else:  # flat, the usual case: sorting the items is canonical and cheaper
                try:
                    return f"{self.name}:{sorted(args.items())!r}"
                except (TypeError, ValueError):  # unsortable keys, an int too long to print
                    pass
        try:
            return f"{self.name}:{_CANONICAL.encode(args)}"
        except Exception:  # (also a repr of its own that raises): the fold must go on
            return f"{self.name}:{_shown(args)}"

    def parsed_arguments(self) -> Any:
        """The arguments as a value: the dict, or the raw text parsed as JSON (the raw
        text itself when it does not parse)."""
        args = self.arguments
        if isinstance(args, str):
            try:
                return json.loads(args)
            except JSON_DECODE_ERRORS:
                return args
        return args

    def arguments_json(self) -> str:
        """The arguments as canonical JSON text (sorted keys), or the raw text if unparsable."""
        args = self.arguments
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except JSON_DECODE_ERRORS:
                return args
        try:
            return json.dumps(args, sort_keys=True, separators=(",", ":"), default=str)
        except _ENCODING:
            return _shown(args)


def object_arguments(call: ToolCall) -> ToolCall:
    """The call with arguments written as JSON text of an object parsed into a dict (a
    copy; the call itself otherwise).

    Other text (malformed, JSON that is not an object, nested too deep) is kept as it
    is, for the tool layer to report to the model.
    """
    if not isinstance(call.arguments, str):
        return call
    args = call.parsed_arguments()
    return ToolCall(call.name, args, call.id) if type(args) is dict else call


def plain_call(call: ToolCall) -> ToolCall:
    """The call itself when the journal writes it and reads it back as it is; else a copy
    that it does.

    A model (a custom one, a fake) may return anything: a name that is not a str becomes
    its ``str()``; arguments that are not a str or a dict of JSON values at most 100
    levels deep (an int too long to print, past Python's 4300 digits, is none) become
    their JSON text, or the best text there is of them, so the tool's validation tells
    the model what is wrong with them; an id that is not a str becomes its ``str()``
    (None: no id, one is given).
    """
    name, args, cid = call.name, call.arguments, call.id
    if type(name) is str and type(cid) is str:
        if type(args) is str:
            return call
        if type(args) is dict:  # (a model's JSON has str keys: its values are looked at)
            for v in args.values():
                kind = type(v)
                if kind is int:
                    if not _fits(v):
                        break
                elif kind not in _FLAT and not _plain(v, 1):
                    break
            else:
                return call
    if type(name) is not str:
        name = _shown(name)
    if isinstance(args, str):
        args = str(args)  # (a str subclass, as a plain str)
    elif type(args) is not dict or not all(_plain(v, 1) for v in args.values()):
        args = _text(args)
    if type(cid) is not str:
        cid = "" if cid is None else _shown(cid)
    return ToolCall(name, args, cid)


def _plain(value: Any, depth: int) -> bool:
    """Whether ``value`` is JSON data that the journal writes and reads back unchanged."""
    kind = type(value)
    if kind is int:
        return _fits(value)
    if kind in _FLAT:
        return True
    if depth >= _MAX_DEPTH:
        return False
    if kind is dict:
        return all(type(k) is str and _plain(v, depth + 1) for k, v in value.items())
    if kind is list:
        return all(_plain(v, depth + 1) for v in value)
    return False


def _fits(number: int) -> bool:
    """Whether an int can be written as JSON and read back: not longer than Python's
    limit on printing ints (4300 digits by default; ``json`` raises past it)."""
    if number.bit_length() <= _SHORT_INT_BITS:
        return True
    try:
        str(number)
    except ValueError:
        return False
    return True


def _text(value: Any) -> str:
    """A value as JSON text (what JSON has no form for is written as its ``repr``)."""
    try:
        return json.dumps(value, default=repr)
    except _ENCODING:
        return _shown(value)


def _shown(value: Any) -> str:
    """``str(value)`` for the eye, or a placeholder when even that fails (nested too deep,
    an int too long to print, a ``__str__`` that raises)."""
    try:
        return str(value)
    except Exception:
        return f"<a {type(value).__name__} that cannot be shown>"


@dataclass(slots=True)
class TokenUsage:
    """Tokens one model call used, as the provider reported (or the fake estimated).

    ``cached_input_tokens`` is the part of ``input_tokens`` read from the provider's
    prompt cache (priced at the cached rate).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0


@dataclass(slots=True)
class ModelResponse:
    """What a model answered: text, tool calls, or both.

    Args:
        text: the text of the answer, if any.
        tool_calls: the tools the model asks to call.
        usage: the tokens the call used.
        model: the name of the model that answered.
        cost_usd: the cost, when the provider reports it; otherwise the model's price computes it.
    """

    text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    model: str = ""
    cost_usd: float | None = None


@dataclass(slots=True)
class SystemMessage:
    """Instructions to the model from the orchestrator."""

    content: str
    role: Literal["system"] = "system"


@dataclass(slots=True)
class UserMessage:
    """The user's prompt, or a note from the orchestrator in the user's turn."""

    content: str
    role: Literal["user"] = "user"


@dataclass(slots=True)
class AssistantMessage:
    """A model's turn in the history."""

    text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    role: Literal["assistant"] = "assistant"


@dataclass(slots=True)
class ToolResultMessage:
    """The result of one tool call, paired with the call by ``call_id``."""

    call_id: str
    name: str
    content: str
    is_error: bool = False
    role: Literal["tool"] = "tool"


Message = SystemMessage | UserMessage | AssistantMessage | ToolResultMessage


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """What a model is told about a tool: its name, description and argument schema."""

    name: str
    description: str
    parameters: dict[str, Any]
