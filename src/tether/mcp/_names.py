"""The names an MCP server's tools are offered to a model under.

Providers take tool names of 1 to 64 letters, digits, ``_`` and ``-``; an MCP server
may name its tools anything (``notes.delete``, ``读取``, a hundred characters). Each
other character becomes ``_`` and the name is cut to 64 characters, and the tool is
still called by its own name on the server. Two names that come out the same
(``notes.delete`` and ``notes_delete``; ``读取`` and ``删除``; two long names alike in
their first 64 characters) must not become one: a name that was already one a model
takes keeps it, and each other gets a suffix made from a hash of its own name, so it is
the same at every listing and after every restart.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["NAME_MAX", "clean_name", "offered_names", "safe_name"]

NAME_MAX = 64
"""The longest tool name providers take."""

_TAKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_OTHER = re.compile(r"[^A-Za-z0-9_-]")
_HASH = 8  # hex digits: one clash in four billion between two names cut alike
_SERVER_NAME_MAX = 32


def safe_name(name: str) -> str:
    """A server's name as a tool name prefix (``prefix=True``): runs of other characters
    become one ``_``, and it is cut to 32 characters to leave room for the tools' names."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:_SERVER_NAME_MAX].strip("_") or "mcp"


def clean_name(name: str) -> str:
    """``name`` as providers take it: other characters as ``_``, cut to 64 characters."""
    return _OTHER.sub("_", name)[:NAME_MAX]


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def offered_names(prefix: str, remotes: Sequence[str]) -> list[str]:
    """The name each of a server's tools is offered under, in the order given.

    Args:
        prefix: put before each name (already made of characters providers take).
        remotes: the tools' names on the server, each once.
    """
    wanted = [clean_name(prefix + r) for r in remotes]
    alike = Counter(wanted)
    as_is = [
        alike[w] == 1 or _TAKEN.fullmatch(prefix + r) is not None
        for r, w in zip(remotes, wanted, strict=True)
    ]
    taken = {w for w, keep in zip(wanted, as_is, strict=True) if keep}
    names: list[str] = []
    for remote, want, keep in zip(remotes, wanted, as_is, strict=True):
        name = want if keep else _suffixed(want, remote, taken)
        taken.add(name)
        names.append(name)
    return names


def _suffixed(want: str, remote: str, taken: set[str]) -> str:
    """``want`` with a hash of the tool's own name at its end, within 64 characters."""
    digest = _digest(remote)
    size = _HASH
    while True:
        # "读取" reads "tool_1a2b3c4d", not "___1a2b3c4d".
        base = want[: NAME_MAX - 1 - size].rstrip("_-") or "tool"
        name = f"{base}_{digest[:size]}"
        if name not in taken or size >= 4 * _HASH:  # another tool named like one of these
            return name
        size += _HASH
