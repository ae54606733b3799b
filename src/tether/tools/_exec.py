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

from ._abandon import CallExpired, run_within
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
    """Cut ``text`` to ``limit`` characters with a marker saying how much was left out.

    Raises:
        ValueError: ``limit`` is negative.
    """
    if len(text) <= limit:
        return text, False
    if limit < 0:
        raise ValueError(f"a result is cut to at least 0 characters, got a limit of {limit}")
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
    """A call with a timeout, or in a process; raises :class:`CallExpired` at the timeout."""
    timeout = tool.timeout
    if tool.is_async:  # in a task of its own: abandoned if it will not stop
        assert timeout is not None
        return await run_within(tool.fn(**args), timeout, f"tool {tool.name!r}")
    if tool.isolation == "process":  # killed when cancelled
        work = run_in_process(tool.fn, args, tool.limits)
        return await (work if timeout is None else _within(work, timeout))
    assert timeout is not None  # a sync tool without one is awaited directly
    pool = default_pool()  # the thread is abandoned when cancelled
    return await _within(pool.result(pool.submit(tool.fn, args)), timeout)


async def _within(work: Awaitable[Any], seconds: float) -> Any:
    """``work`` (which ends when cancelled) cancelled after ``seconds``.

    Raises:
        CallExpired: the time was up (a ``TimeoutError`` of the tool's own passes as is).
    """
    try:
        async with asyncio.timeout(seconds) as deadline:
            return await work
    except TimeoutError:
        if deadline.expired():
            raise CallExpired(f"the call did not end within {seconds:g} s") from None
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
        except CallExpired:  # tether's timeout (a tool's own TimeoutError is its error)
            if attempt <= tool.retries and TimeoutError in tool.retry_on:
                continue
            return _done("timeout", _timeout_message(tool), attempt, started)
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
        except BaseException as exc:  # an exit, CancelledError, GeneratorExit: not retried
            if isinstance(exc, asyncio.CancelledError) and _run_cancelled():
                raise  # the run itself is being cancelled
            return _done("error", _base_error_message(tool, exc), attempt, started)
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
    limit = max_result_chars if tool.max_result_chars is None else tool.max_result_chars
    content, cut = truncate(text, limit)
    return CallOutcome("ok", content, cut, attempt, time.perf_counter() - started, value)


def _base_error_message(tool: Tool, exc: BaseException) -> str:
    """The model's message for a tool that raised a BaseException that is no Exception."""
    what = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SystemExit | KeyboardInterrupt):  # a tool must not end the process
        return (
            f"Tool {tool.name!r} tried to exit the process ({what}); it was stopped. "
            "Do not call it again for this."
        )
    return f"Tool {tool.name!r} failed: {what}"


def _run_cancelled() -> bool:
    """Whether the task running this call is being cancelled (a CancelledError a tool
    raised of its own accord is only that tool's error)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


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
