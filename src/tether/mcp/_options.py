"""Checks of the options an MCP server is made with.

A mistake is a :class:`~tether.ConfigError` when the server is made, saying what to
write: never a ``TypeError`` at the first request, a process started with the letters
of a path as its arguments (``args="server.py"``), or a limit quietly switched off
(``max_restarts=float("nan")`` compares as neither above nor below any count).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, TextIO, TypeGuard
from urllib.parse import urlsplit

from tether._errors import ConfigError

from ._names import clean_name

__all__ = [
    "PREFIX_MAX",
    "check_command",
    "check_cwd",
    "check_env",
    "check_errlog",
    "check_headers",
    "check_name",
    "check_prefix",
    "check_restarts",
    "check_seconds",
    "check_url",
    "strings",
]

PREFIX_MAX = 48
"""The longest tool name prefix: tool names (64 characters at most) keep room for the
tool's own name."""

_PREFIX = re.compile(r"[A-Za-z0-9_-]*")


def _is_real(value: object) -> TypeGuard[int | float]:
    """A finite int or float, not a bool (``True`` is an int to Python, not a number of
    seconds)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large to be a float
        return False


def check_name(name: object) -> str:
    """The server's name: a string with something in it."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(
            f"MCP server name must be a non-empty string (it names the server in messages "
            f"and, with prefix=True, its tools), got {name!r}"
        )
    return name


def check_seconds(option: str, value: object, *, default: str) -> None:
    """``value`` is a finite number of seconds above 0."""
    if _is_real(value) and value > 0:
        return
    why = ""
    if value is None or (isinstance(value, float) and math.isinf(value)):
        why = ": a bound is needed, so that a server that never answers cannot hang the run"
    raise ConfigError(
        f"MCP server {option} must be > 0 seconds, a finite number ({default}), got {value!r}{why}"
    )


def check_restarts(value: object) -> None:
    """``max_restarts``: a whole number, 0 or more (NaN would switch the limit off)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            "MCP server max_restarts must be a whole number >= 0 (how many times in a row a "
            f"broken connection is restarted; 3 by default), got {value!r}"
        )


def check_prefix(prefix: object) -> None:
    """``prefix``: a bool, or a string tool names may begin with."""
    if isinstance(prefix, bool):
        return
    if isinstance(prefix, str) and _PREFIX.fullmatch(prefix) and len(prefix) <= PREFIX_MAX:
        return
    hint = ""
    if isinstance(prefix, str):
        hint = f"; write {clean_name(prefix)[:PREFIX_MAX]!r}, for example"
    raise ConfigError(
        "MCP server prefix must be True (to name its tools '{server}_{tool}'), False, or a "
        f"string of at most {PREFIX_MAX} letters, digits, '_' and '-' (what tool names may "
        f"hold), got {prefix!r}{hint}"
    )


def _text(option: str, value: object) -> str:
    """A string or a path, as a string."""
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        if isinstance(path, str):
            return path
    raise ConfigError(f"MCP server {option} must be a string or a path, got {value!r}")


def check_command(command: object) -> str:
    """The program to run, as a string."""
    text = _text("command", command)
    if not text.strip():
        raise ConfigError(
            "MCP server command must name the program to run, such as 'npx' or "
            f"sys.executable, got {command!r}"
        )
    return text


def strings(args: object) -> list[str]:
    """A server's arguments as a list of strings (a single string would be split into
    its letters)."""
    if isinstance(args, str | bytes) or not isinstance(args, Iterable):
        raise ConfigError(
            "MCP server args must be a list of strings, one per argument (write "
            f"['server.py'], not 'server.py'), got {args!r}"
        )
    return [_text(f"args[{i}]", a) for i, a in enumerate(args)]


def _pairs(option: str, value: object) -> dict[str, str]:
    """A mapping of strings to strings, such as environment variables or HTTP headers."""
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"MCP server {option} must be a mapping of names to strings, got {value!r}"
        )
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ConfigError(f"MCP server {option} must have names that are strings, got {key!r}")
        if not isinstance(item, str):
            raise ConfigError(
                f"MCP server {option} must map names to strings: {key!r} is {item!r} "
                f"({type(item).__name__}); write {str(item)!r}"
            )
        out[key] = item
    return out


def check_env(env: object) -> dict[str, str] | None:
    """Environment variables for the server's process: names and values as strings."""
    return None if env is None else _pairs("env", env)


def check_headers(headers: object) -> dict[str, str]:
    """HTTP headers: names and values as strings."""
    return {} if headers is None else _pairs("headers", headers)


def check_cwd(cwd: object) -> str | None:
    """The server's working folder, as a string."""
    return None if cwd is None else _text("cwd", cwd)


def check_errlog(errlog: Any) -> TextIO | None:
    """A file the server's stderr can be given to: it needs a file descriptor."""
    if errlog is None:
        return None
    try:
        errlog.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        raise ConfigError(
            "MCP server errlog must be an open file with a file descriptor (sys.stderr, "
            "open('server.log', 'w')), where the server process writes its stderr; got "
            f"{errlog!r}"
        ) from None
    checked: TextIO = errlog
    return checked


def check_url(url: object) -> str:
    """An ``http://`` or ``https://`` URL with a host."""
    if isinstance(url, str):
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:  # an IPv6 address with its bracket left open
            host = None
        if host and parts.scheme in ("http", "https"):
            return url
    raise ConfigError(
        "MCP server url must be an http:// or https:// URL with a host, such as "
        f"'http://127.0.0.1:3001/mcp', got {url!r}"
    )
