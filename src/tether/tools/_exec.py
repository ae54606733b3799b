"""Running one tool call: lookup, validation, timeout, retries, result rendering.

Nothing here raises for a bad call: every failure becomes a message for the
model (the :data:`ToolOutcome` says which kind), so a hallucinated tool name or
a malformed argument never crashes a run.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic_core
from pydantic import ValidationError

from tether._errors import ModelRetry
from tether._events import ToolOutcome
from tether._messages import ToolCall

from ._context import RunContext
from ._procs import run_in_process
from ._tool import Tool, format_validation_error
from ._workers import default_pool

__all__ = ["CallOutcome", "render_result", "run_tool_call", "truncate"]


@dataclass(slots=True)
class CallOutcome:
    """What came of one tool call."""

    outcome: ToolOutcome
    content: str
    truncated: bool = False
    attempts: int = 1
    duration_s: float = 0.0
    value: Any = None


def render_result(value: Any) -> str:
    """A tool's return value as the text the model reads."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool):
        return "null" if value is None else ("true" if value else "false")
    if type(value) is int:
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)
    return pydantic_core.to_json(value, fallback=str).decode()


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """Cut ``text`` to ``limit`` characters with a marker saying how much was left out."""
    if len(text) <= limit:
        return text, False
    cut = len(text) - limit
    return f"{text[:limit]}\n[... {cut} more characters cut by tether ...]", True


def unknown_tool_message(name: str, tools: dict[str, Tool]) -> str:
    """The message for a call of a tool that does not exist."""
    names = sorted(tools)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(names) if names else "(none: answer without tools)"
    return f"Unknown tool {name!r}.{hint} Available tools: {listing}."


async def _invoke(tool: Tool, args: dict[str, Any]) -> Any:
    if tool.is_async:
        if tool.timeout is None:
            return await tool.fn(**args)
        async with asyncio.timeout(tool.timeout):
            return await tool.fn(**args)
    if tool.isolation == "process":
        if tool.timeout is None:
            return await run_in_process(tool.fn, args)
        async with asyncio.timeout(tool.timeout):
            return await run_in_process(tool.fn, args)
    pool = default_pool()
    ticket = pool.submit(tool.fn, args)
    if tool.timeout is None:
        return await pool.result(ticket)
    try:
        async with asyncio.timeout(tool.timeout):
            return await pool.result(ticket)
    except TimeoutError:
        pool.abandon(ticket)
        raise


def _arguments(
    tool: Tool,
    call: ToolCall,
    make_ctx: Callable[[], RunContext[Any]] | None,
    secrets: dict[str, Any] | None,
) -> dict[str, Any] | CallOutcome:
    """The call's keyword arguments: the model's, validated, then the context and secrets."""
    try:
        args = tool.validate(call.arguments)
    except ValidationError as err:
        return CallOutcome(
            "invalid_arguments",
            f"Invalid arguments for tool {tool.name!r}:\n{format_validation_error(err)}\n"
            "Call it again with arguments that match its schema.",
        )
    if make_ctx is not None and tool.ctx_param is not None:
        args[tool.ctx_param] = make_ctx()
    if secrets:
        args.update(secrets)
    return args


async def run_tool_call(
    tools: dict[str, Tool],
    call: ToolCall,
    make_ctx: Callable[[], RunContext[Any]] | None,
    max_result_chars: int,
    secrets: dict[str, Any] | None = None,
) -> CallOutcome:
    """Run one call the model asked for and say what came of it, for the model and the journal.

    ``secrets`` are the values of the tool's secret parameters, added after the model's
    arguments are validated (the model can never set them).
    """
    tool = tools.get(call.name)
    if tool is None:
        return CallOutcome("unknown_tool", unknown_tool_message(call.name, tools))
    args = _arguments(tool, call, make_ctx, secrets)
    if isinstance(args, CallOutcome):
        return args
    started = time.perf_counter()
    attempt = 0
    delay = tool.retry_delay
    while True:
        attempt += 1
        try:
            # The common cases are awaited here, not through _invoke: one coroutine less
            # per call for every run waiting on a tool.
            if tool.timeout is None and tool.is_async:
                value = await tool.fn(**args)
            elif tool.timeout is None and tool.isolation != "process":
                pool = default_pool()
                value = await pool.result(pool.submit(tool.fn, args))
            else:
                value = await _invoke(tool, args)
        except ModelRetry as signal:
            return _done(
                "retry_requested",
                f"Tool {tool.name!r} asks you to retry: {signal.hint}",
                attempt,
                started,
            )
        except TimeoutError:
            if attempt <= tool.retries and TimeoutError in tool.retry_on:
                continue
            return _done(
                "timeout",
                f"Tool {tool.name!r} timed out after {tool.timeout} s and was stopped. "
                "Try different arguments, another tool, or answer with what you know.",
                attempt,
                started,
            )
        except Exception as exc:
            if attempt <= tool.retries and isinstance(exc, tool.retry_on):
                await asyncio.sleep(delay)
                delay *= 2
                continue
            return _done(
                "error",
                f"Tool {tool.name!r} failed: {type(exc).__name__}: {exc}",
                attempt,
                started,
            )
        limit = tool.max_result_chars or max_result_chars
        content, cut = truncate(render_result(value), limit)
        return CallOutcome("ok", content, cut, attempt, time.perf_counter() - started, value)


def _done(outcome: ToolOutcome, content: str, attempts: int, started: float) -> CallOutcome:
    return CallOutcome(outcome, content, False, attempts, time.perf_counter() - started)
