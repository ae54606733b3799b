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
    "AssistantMessage",
    "Message",
    "ModelResponse",
    "SystemMessage",
    "TokenUsage",
    "ToolCall",
    "ToolDefinition",
    "ToolResultMessage",
    "UserMessage",
]


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
        """A cheap canonical identity of the call (name and arguments), for loop detection."""
        args = self.arguments
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                return f"{self.name}:{args}"
        if isinstance(args, dict):
            try:
                return f"{self.name}:{sorted(args.items())!r}"
            except TypeError:
                pass
        return f"{self.name}:{args!r}"

    def parsed_arguments(self) -> Any:
        """The arguments as a value: the dict, or the raw text parsed as JSON (the raw
        text itself when it does not parse)."""
        args = self.arguments
        if isinstance(args, str):
            try:
                return json.loads(args)
            except ValueError:
                return args
        return args

    def arguments_json(self) -> str:
        """The arguments as canonical JSON text (sorted keys), or the raw text if unparsable."""
        args = self.arguments
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                return args
        try:
            return json.dumps(args, sort_keys=True, separators=(",", ":"), default=str)
        except (TypeError, ValueError):
            return repr(args)


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
