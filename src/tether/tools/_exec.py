"""Running one tool call: lookup, validation, timeout, retries, result rendering.

Nothing here raises for a bad call: every failure becomes a message for the
model (the :data:`ToolOutcome` says which kind), so a hallucinated tool name or
a malformed argument never crashes a run.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pydantic_core
from pydantic import ValidationError

from tether._errors import ModelRetry
from tether._events import ToolOutcome
from tether._messages import ToolCall

from ._context import RunContext
from ._procs import run_in_process
from ._tool import InvalidArguments, Tool, format_validation_error
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
    """A tool's return value as the text the model reads.

    Raises:
        TypeError: the value cannot be shown as text (binary data that is not UTF-8,
            or an object whose conversion to text fails).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return bytes(value).decode()
        except UnicodeDecodeError:
            raise TypeError(
                f"it returned {len(value)} bytes of binary data; return text (for example "
                "base64) or a description"
            ) from None
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


_PLAIN = frozenset({str, int, float, bool, type(None), bytes, dict, list, tuple})
"""Exact types of tool results that are never awaitable."""


def _start(tool: Tool, args: dict[str, Any]) -> Awaitable[Any]:
    """The call's awaitable. The common cases are awaited directly, not through
    :func:`_invoke`: one coroutine less per call for every run waiting on a tool."""
    if tool.timeout is None and tool.is_async:
        awaitable: Awaitable[Any] = tool.fn(**args)
        return awaitable
    if tool.timeout is None and tool.isolation != "process":
        pool = default_pool()
        return pool.result(pool.submit(tool.fn, args))
    return _invoke(tool, args)


async def _invoke(tool: Tool, args: dict[str, Any]) -> Any:
    if tool.is_async:
        if tool.timeout is None:
            return await tool.fn(**args)
        async with asyncio.timeout(tool.timeout):
            return await tool.fn(**args)
    if tool.isolation == "process":
        if tool.timeout is None:
            return await run_in_process(tool.fn, args, tool.limits)
        async with asyncio.timeout(tool.timeout):
            return await run_in_process(tool.fn, args, tool.limits)
    pool = default_pool()
    ticket = pool.submit(tool.fn, args)
    try:
        if tool.timeout is None:
            return await pool.result(ticket)
        async with asyncio.timeout(tool.timeout):
            return await pool.result(ticket)
    except BaseException:
        # Its timeout, the run's wall-clock budget or a cancel: the thread is written
        # off, so a call that never returns cannot hold a slot of the pool for good.
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
    except (ValidationError, InvalidArguments) as err:
        problems = format_validation_error(err) if isinstance(err, ValidationError) else str(err)
        return CallOutcome(
            "invalid_arguments",
            f"Invalid arguments for tool {tool.name!r}:\n{problems}\n"
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
            value = await _start(tool, args)
            # A sync callable that returned a coroutine (plain values skip the slow check).
            if type(value) not in _PLAIN and inspect.isawaitable(value):
                value = await value
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
            return _done("timeout", _timeout_message(tool), attempt, started)
        except (SystemExit, KeyboardInterrupt) as exc:  # a tool must not end the process
            return _done(
                "error",
                f"Tool {tool.name!r} tried to exit the process ({type(exc).__name__}: {exc}); "
                "it was stopped. Do not call it again for this.",
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
        return _finished(tool, value, max_result_chars, attempt, started)


def _finished(
    tool: Tool, value: Any, max_result_chars: int, attempt: int, started: float
) -> CallOutcome:
    """A returned value as the model's result, or an error when it cannot be shown."""
    try:
        text = render_result(value)
    except Exception as exc:
        why = str(exc) if isinstance(exc, TypeError) else f"{type(exc).__name__}: {exc}"
        return _done(
            "error",
            f"Tool {tool.name!r} returned a value tether cannot show as text: {why}",
            attempt,
            started,
        )
    content, cut = truncate(text, tool.max_result_chars or max_result_chars)
    return CallOutcome("ok", content, cut, attempt, time.perf_counter() - started, value)


def _timeout_message(tool: Tool) -> str:
    if tool.is_async or tool.isolation == "process":
        what = "was stopped"
    else:  # a thread cannot be stopped: the call is abandoned and may still be running
        what = "was abandoned (its work may still be going on)"
    return (
        f"Tool {tool.name!r} timed out after {tool.timeout} s and {what}. "
        "Try different arguments, another tool, or answer with what you know."
    )


def _done(outcome: ToolOutcome, content: str, attempts: int, started: float) -> CallOutcome:
    return CallOutcome(outcome, content, False, attempts, time.perf_counter() - started)
