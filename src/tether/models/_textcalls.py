"""Tool calls a model wrote in its text, read back as :class:`~tether.ToolCall` values.

Models without native tool calling write their calls in the answer. One reader
serves the embedded model (:mod:`tether.models.local`) and the OpenAI-compatible
provider's ``text_tool_calls``; it knows these forms, tried in this order:

* the whole text is a call object, or a list of them;
* calls in ``<tool_call>`` tags (the Qwen and Hermes templates), the last tag maybe
  unclosed;
* call objects anywhere else: in a code fence, or among prose;
* a call whose JSON does not parse (``"population": 812000 - 310000``, or cut short),
  kept with its raw arguments for the tool layer to report;
* a Python-style call ``name(arg=value)`` (positional arguments in the order of the
  tool's parameters).

A call object has a string ``name`` and ``arguments`` (or ``parameters``), as a dict
or as JSON text, or the OpenAI shape ``{"type": "function", "function": {...}}``.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tether._messages import ToolCall, ToolDefinition
from tether.models._wire import object_arguments

__all__ = ["parse_tool_calls"]

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCED = re.compile(r"```[a-zA-Z_]*\s*(.*?)\s*```", re.DOTALL)
_BROKEN = re.compile(
    r'^\s*(?:<tool_call>)?\s*\{\s*"name"\s*:\s*"([^"]+)"\s*,\s*"arguments"\s*:\s*(.*?)\}?\s*$',
    re.DOTALL,
)
_CALL_KEYS = frozenset({"name", "arguments", "parameters", "id", "type", "function"})
_WRAPPED = ({"type", "function"}, {"id", "type", "function"})

_Found = tuple[list[ToolCall], str]  # the calls, and the text left beside them


def parse_tool_calls(
    text: str, tools: Sequence[ToolDefinition], *, as_written: bool = False
) -> tuple[list[ToolCall], str | None]:
    """The tool calls written in a model's text, and the text left beside them (or None).

    Args:
        text: the model's answer.
        tools: the tools offered; a call must name one of them.
        as_written: keep calls as the model wrote them, as an API's native calls
            come: arguments written as JSON text stay text, a written ``id`` is kept,
            and a call object that stands alone (the whole text, in a tag or a code
            fence, with only call keys) is a call even of a tool not offered, which
            the tool layer then refuses. By default arguments are parsed into a dict
            where they can be, and ids are left to the run loop.

    Repeated identical calls count once (a small model repeats itself). Text with no
    call comes back unchanged, with no calls.
    """
    reader = _Reader({t.name: t for t in tools}, as_written)
    forms: tuple[Callable[[str], _Found | None], ...] = (
        reader.whole,
        reader.tagged,
        reader.objects,
        reader.broken,
        reader.python_call,
    )
    for form in forms:
        found = form(text)
        if found is not None:
            calls, rest = found
            unique: list[ToolCall] = []
            for call in calls:
                if all(call.key() != c.key() for c in unique):
                    unique.append(call)
            return unique, rest.strip() or None
    return [], text


@dataclass(frozen=True, slots=True)
class _Reader:
    """Reads each form of call, for one set of offered tools (see :func:`parse_tool_calls`)."""

    tools: dict[str, ToolDefinition]
    as_written: bool

    def call(self, value: Any, *, alone: bool) -> ToolCall | None:
        """The call a JSON value stands for, if it is one."""
        if not isinstance(value, dict):
            return None
        if set(value) in _WRAPPED:
            return self.call(value["function"], alone=alone)
        name = value.get("name")
        if not isinstance(name, str):
            return None
        if name not in self.tools and not (self.as_written and alone and set(value) <= _CALL_KEYS):
            return None
        args = value.get("arguments", value.get("parameters"))
        if args is None:
            args = {}
        elif not isinstance(args, dict | str):
            args = json.dumps(args)  # not an object: the tool layer reports it
        if not self.as_written:
            return object_arguments(ToolCall(name, args))
        written_id = value.get("id")
        return ToolCall(name, args, written_id if isinstance(written_id, str) else "")

    def whole(self, text: str) -> _Found | None:
        """The whole text is a call, or a list of calls."""
        stripped = text.strip()
        if not stripped.startswith(("{", "[")):
            return None
        try:
            value = json.loads(stripped)
        except ValueError:
            return None
        items = value if isinstance(value, list) else [value]
        calls = [self.call(item, alone=True) for item in items]
        if not calls or any(c is None for c in calls):
            return None
        return [c for c in calls if c is not None], ""

    def tagged(self, text: str) -> _Found | None:
        """Calls in ``<tool_call>`` tags; every tag is taken out of the text left."""
        bodies = _TAGGED.findall(text)
        calls = [c for body in bodies for c in self._in(body, [(0, len(body))])[0]]
        return (calls, _TAGGED.sub("", text)) if calls else None

    def objects(self, text: str) -> _Found | None:
        """Call objects anywhere in the text; code fences are taken out of the text left."""
        fences = [m.span(1) for m in _FENCED.finditer(text)]
        calls, rest = self._in(text, fences)
        return (calls, _FENCED.sub("", rest)) if calls else None

    def broken(self, text: str) -> _Found | None:
        """A call of a known tool whose JSON does not parse, with its raw arguments."""
        match = _BROKEN.search(text)
        if match is None or match.group(1) not in self.tools:
            return None
        return [ToolCall(match.group(1), match.group(2).strip())], ""

    def python_call(self, text: str) -> _Found | None:
        """A call ``name(...)`` of a known tool; in code fences when the text has some."""
        if not self.tools:
            return None
        for fenced in _FENCED.findall(text) or [text]:
            found = self._python_call(fenced)
            if found is not None:
                call, rest = found
                return [call], _FENCED.sub("", text) if fenced is not text else rest
        return None

    def _in(self, text: str, alone: list[tuple[int, int]]) -> _Found:
        """The call objects in a text, and the text without them.

        An object within one of the ``alone`` spans stands alone (see ``as_written``).
        """
        calls: list[ToolCall] = []
        rest: list[str] = []
        pos = 0
        for value, start, end in _json_objects(text):
            within = any(a <= start and end <= b for a, b in alone)
            call = self.call(value, alone=within)
            if call is None:
                continue
            calls.append(call)
            rest.append(text[pos:start])
            pos = end
        rest.append(text[pos:])
        return calls, "".join(rest)

    def _python_call(self, text: str) -> tuple[ToolCall, str] | None:
        names = "|".join(re.escape(n) for n in sorted(self.tools, key=len, reverse=True))
        match = re.search(rf"\b({names})\s*\(", text)
        if match is None:
            return None
        name = match.group(1)
        # The shortest closing parenthesis that makes a valid call expression.
        for close in (i for i, ch in enumerate(text) if ch == ")" and i > match.end() - 1):
            try:
                node = ast.parse(text[match.start() : close + 1], mode="eval").body
            except SyntaxError:
                continue
            if not isinstance(node, ast.Call):
                continue
            try:
                args = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
                positional = [ast.literal_eval(a) for a in node.args]
            except ValueError:
                return ToolCall(name, text[match.end() : close]), ""
            params = list(self.tools[name].parameters.get("properties", {}))
            for pname, value in zip(params, positional, strict=False):
                args.setdefault(pname, value)
            return ToolCall(name, args), text[: match.start()] + text[close + 1 :]
        return None


def _json_objects(text: str) -> list[tuple[Any, int, int]]:
    """The top-level JSON objects in a text, with where each starts and ends."""
    decoder = json.JSONDecoder()
    found = []
    pos = 0
    while (start := text.find("{", pos)) != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            pos = start + 1
            continue
        found.append((value, start, end))
        pos = end
    return found
