"""The "demo" model: a deterministic rule engine, not an LLM.

It picks a tool from the prompt with regular expressions and phrases the tool's
result as the answer, so that ``tether run`` shows a whole run (model call, tool
call, answer) with no network and no model weights. It drives the demo agent's
tools (``calculator``, ``convert_units``, ``lookup_capital``) when they are offered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tether._messages import AssistantMessage, Message, ToolCall, ToolResultMessage, UserMessage

from ._base import Model, ModelParams
from ._function import FunctionModel, Reply

__all__ = ["demo_model", "demo_rules"]

_CONVERT = re.compile(
    r"convert\s+(-?\d+(?:\.\d+)?)\s*°?([a-z]+)\s+(?:to|in|into)\s+°?([a-z]+)", re.IGNORECASE
)
_CAPITAL = re.compile(r"capital\s+(?:city\s+)?of\s+([a-z][a-z '-]*[a-z])", re.IGNORECASE)
_ARITHMETIC_RUN = re.compile(r"[\d\s.()+\-*/%]+")
_HAS_OPERATOR = re.compile(r"\d\s*\)*\s*(?:\*\*|//|[-+*/%])\s*\(*\s*[-+]?\s*\d")
_TIMES = re.compile(r"([\d)])\s*[xX]\s*(?=[\d(])")
_PLAIN_ANSWER = (
    "I am tether's scripted demo model: a rule engine, not an LLM. I can evaluate "
    "arithmetic ('What is 17*23?'), convert units ('convert 10 km to mi') and look up "
    "capitals of fictional countries ('What is the capital of Valdoria?'). "
    "Use a real model for anything else."
)


def _first_prompt(messages: Sequence[Message]) -> str:
    # Later user messages are orchestrator notes (budget warnings, corrections).
    return next((m.content for m in messages if isinstance(m, UserMessage)), "")


def _arithmetic(prompt: str) -> str | None:
    text = prompt.replace("\u00d7", "*").replace("\u00f7", "/").replace("^", "**")
    text = _TIMES.sub(r"\1*", text)
    candidates = [c.strip() for c in _ARITHMETIC_RUN.findall(text)]
    candidates = [c.rstrip(".") for c in candidates if _HAS_OPERATOR.search(c)]
    return max(candidates, key=len) if candidates else None


def _pick_tool(prompt: str) -> ToolCall | None:
    """The tool call that the prompt asks for, if any (by rule, not by inference)."""
    if match := _CONVERT.search(prompt):
        value, src, dst = match.groups()
        args = {"value": float(value), "from_unit": src, "to_unit": dst}
        return ToolCall("convert_units", args)
    if match := _CAPITAL.search(prompt):
        return ToolCall("lookup_capital", {"country": match.group(1).removeprefix("the ")})
    if expression := _arithmetic(prompt):
        return ToolCall("calculator", {"expression": expression})
    return None


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _answer(result: ToolResultMessage, messages: Sequence[Message]) -> str:
    """Phrase a tool's result as the final answer."""
    if result.is_error:
        why = re.sub(r"^Tool '[^']*' failed: \w+: ", "", result.content)
        return f"The {result.name} tool could not answer: {why}"
    calls = (c for m in messages if isinstance(m, AssistantMessage) for c in m.tool_calls)
    call = next((c for c in calls if c.id == result.call_id), None)
    args = call.arguments if call is not None and isinstance(call.arguments, dict) else {}
    if result.name == "calculator" and "expression" in args:
        return f"{args['expression']} = {result.content}"
    if result.name == "convert_units" and {"value", "from_unit", "to_unit"} <= args.keys():
        value = _number(args["value"])
        return f"{value} {args['from_unit']} = {result.content} {args['to_unit']}"
    if result.name == "lookup_capital" and "country" in args:
        return f"The capital of {args['country']} is {result.content}."
    return f"The {result.name} tool returned: {result.content}"


def demo_rules(messages: Sequence[Message], params: ModelParams) -> Reply:
    """The demo model's rule engine: call the tool the prompt asks for, then report its result.

    Only tools the agent offers are called; a prompt that matches no tool gets a
    plain answer saying what the demo model can do.
    """
    results = [m for m in messages if isinstance(m, ToolResultMessage)]
    if results:
        return _answer(results[-1], messages)
    offered = {t.name for t in params.tools} if params.allow_tools else set()
    call = _pick_tool(_first_prompt(messages))
    if call is not None and call.name in offered:
        return call
    return _PLAIN_ANSWER


def demo_model() -> Model:
    """The "demo" model: a deterministic rule engine over the demo tools (no LLM, no network)."""
    return FunctionModel(demo_rules, name="demo")
