"""Typed tools: schemas from type hints and docstrings, validated calls, timeouts,
retries, worker threads for sync tools and optional process isolation."""

from tether._messages import ToolDefinition

from ._context import RunContext
from ._exec import CallOutcome, render_result, run_tool_call, truncate
from ._procs import ProcessLimits, ToolLimitExceeded
from ._secrets import REDACTED, Secret, SecretParam, redact
from ._tool import InvalidArguments, Tool, format_validation_error, tool

__all__ = [
    "REDACTED",
    "CallOutcome",
    "InvalidArguments",
    "ProcessLimits",
    "RunContext",
    "Secret",
    "SecretParam",
    "Tool",
    "ToolDefinition",
    "ToolLimitExceeded",
    "format_validation_error",
    "redact",
    "render_result",
    "run_tool_call",
    "tool",
    "truncate",
]
