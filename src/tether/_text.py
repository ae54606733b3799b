"""Text that every database column, terminal and pipe takes."""

from __future__ import annotations

__all__ = ["plain_text"]


def plain_text(text: str) -> str:
    """``text`` with unpaired surrogates written as escapes (``\\udcff``), as UTF-8 needs."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()
    return text
