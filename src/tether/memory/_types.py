"""What a memory is, and the checks every store makes on what it is given."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, TypeAlias

from tether._errors import ConfigError
from tether._text import plain_text

__all__ = [
    "MAX_TEXT",
    "Memory",
    "MemoryHit",
    "NamespaceLike",
    "SearchMode",
    "check_k",
    "check_kind",
    "check_kinds",
    "check_mode",
    "check_text",
    "dump_metadata",
    "namespace_key",
    "namespace_of",
    "seconds",
    "shown",
    "stored_id",
    "stored_ids",
]

#: A namespace: a tuple of names, from the widest to the narrowest, such as
#: ``("user-42", "support-agent")``, or the same as a path, ``"user-42/support-agent"``.
NamespaceLike: TypeAlias = tuple[str, ...] | Sequence[str] | str

#: How :meth:`MemoryStore.search` ranks: full-text search, embeddings, or both fused.
SearchMode = Literal["hybrid", "lexical", "vector"]

_MODES = ("hybrid", "lexical", "vector")
_KIND = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_MAX_PART = 200
# PostgreSQL refuses a tsvector over 1 MB. Its worst case is about 7.5 bytes a
# character (distinct two-letter hyphenated words of 4-byte letters: the compound
# and both parts are lexemes), so 100,000 characters stay under 800 kB; both stores
# take the same texts.
MAX_TEXT = 100_000


@dataclass(frozen=True, slots=True)
class Memory:
    """One remembered thing.

    Attributes:
        id: the store's id for it (a hex string).
        namespace: whose memory it is, e.g. ``("user-42", "support-agent")``.
        kind: what it is: ``"fact"``, ``"episode"``, ``"summary"``, ``"preference"``,
            or a kind of the user's own (lower-case letters, digits, ``-`` and ``_``).
        text: the memory itself.
        metadata: JSON-compatible data the user attached.
        created_at: when it was first stored (seconds since the epoch).
        updated_at: when it was last written, by an add or a merge.
        last_used_at: when a search last returned it (``created_at`` until then).
        expires_at: when it stops being found, or ``None`` for never.
    """

    id: str
    namespace: tuple[str, ...]
    kind: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    last_used_at: float = 0.0
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class MemoryHit:
    """A memory that a search found.

    Attributes:
        memory: the memory.
        score: its fused score (higher is better); only the order means anything.
        lexical_rank: its 1-based place in the full-text list, if it was in it.
        vector_rank: its 1-based place in the embedding list, if it was in it.
    """

    memory: Memory
    score: float
    lexical_rank: int | None = None
    vector_rank: int | None = None


def namespace_of(namespace: NamespaceLike) -> tuple[str, ...]:
    """The namespace as a tuple; ``"a/b"`` is ``("a", "b")``.

    Raises:
        ConfigError: not a tuple of names nor a path, an empty namespace or part, a
            part with an unpaired surrogate or a control character, or a part longer
            than 200 characters.
    """
    if isinstance(namespace, str):
        parts = tuple(namespace.split("/"))
    elif isinstance(namespace, Iterable):
        parts = tuple(namespace)
    else:
        raise ConfigError(
            "a memory namespace is a tuple of names such as ('user-42', 'support-agent') "
            f"or a path such as 'user-42/support-agent', got {shown(namespace)}"
        )
    if not parts:
        raise ConfigError("a memory namespace needs at least one part, e.g. ('user-42',)")
    for part in parts:
        if not isinstance(part, str) or not part:
            raise ConfigError(f"namespace parts must be non-empty strings, got {parts!r}")
        if len(part) > _MAX_PART:
            raise ConfigError(f"a namespace part is {len(part)} characters; at most {_MAX_PART}")
        if plain_text(part) != part or any(ord(c) < 32 for c in part):
            raise ConfigError(
                f"namespace part {part!r} holds an unpaired surrogate or a control character"
            )
    return parts


def namespace_key(namespace: NamespaceLike) -> str:
    """The namespace as the stores keep it: a JSON array, one string per part.

    JSON makes the key unambiguous whatever the parts hold (``/``, quotes, SQL).
    """
    return json.dumps(list(namespace_of(namespace)), ensure_ascii=False)


def check_text(text: str, what: str = "memory text", *, longest: int | None = MAX_TEXT) -> str:
    """``text`` ready to store: unpaired surrogates written as escapes.

    Raises:
        ConfigError: the text is not a string, is empty or only whitespace, or is
            longer than ``longest`` characters (:data:`MAX_TEXT`, 100,000, for a
            memory), on either store.
    """
    if not isinstance(text, str):
        raise ConfigError(f"{what} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ConfigError(f"{what} is empty; there is nothing to remember or search for")
    if longest is not None and len(text) > longest:
        raise ConfigError(
            f"{what} is {len(text):,} characters, more than the {longest:,} a memory store "
            "takes; split it into several memories or shorten it"
        )
    # PostgreSQL's text cannot hold NUL; both stores keep the same text.
    return plain_text(text).replace("\x00", "\ufffd")


def check_kind(kind: str) -> str:
    """Raises ConfigError unless ``kind`` is a lower-case word (``fact``, ``my-kind``)."""
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise ConfigError(
            f"memory kind {kind!r} must be a lower-case word (letters, digits, - and _), "
            "such as 'fact', 'episode' or 'summary'"
        )
    return kind


def check_kinds(kinds: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """A filter of kinds as a tuple, or ``None`` for every kind."""
    if kinds is None:
        return None
    found = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not found:
        raise ConfigError("kinds=() matches nothing; pass None for every kind")
    return tuple(check_kind(k) for k in found)


def check_k(k: int) -> int:
    """Raises ConfigError unless ``k`` is a positive whole number."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"k must be a positive whole number of results, got {shown(k)}")
    return k


def check_mode(mode: str) -> SearchMode:
    """Raises ConfigError unless ``mode`` is one of hybrid, lexical or vector."""
    if mode not in _MODES:
        raise ConfigError(f"search mode {mode!r} is not one of {', '.join(_MODES)}")
    return mode  # type: ignore[return-value]


def seconds(value: float | timedelta | None, what: str) -> float | None:
    """A duration in seconds (``None`` stays ``None``); it must be positive and finite.

    Raises:
        ConfigError: not a number nor a timedelta, not positive, NaN, infinite, or an
            int too large for a float.
    """
    if value is None:
        return None
    secs = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(secs, bool) or not isinstance(secs, int | float):
        raise ConfigError(f"{what} must be seconds or a timedelta, got {shown(value)}")
    try:
        number = float(secs)
    except OverflowError:  # an int past the largest float, about 1.8e308
        number = math.inf
    if not math.isfinite(number) or number <= 0:
        raise ConfigError(
            f"{what} must be positive and finite seconds (at most about 1.8e308, the largest "
            f"float; None: never expires), got {shown(value)}"
        )
    return number


def stored_id(memory_id: object) -> str | None:
    """``memory_id`` if a store could hold it, else ``None``.

    A string with NUL or an unpaired surrogate names no memory (ids are hex): both
    stores then find nothing, where PostgreSQL would refuse the query.

    Raises:
        ConfigError: ``memory_id`` is not a string.
    """
    if not isinstance(memory_id, str):
        raise ConfigError(f"a memory id is a Memory.id string, got {shown(memory_id)}")
    if "\x00" in memory_id or plain_text(memory_id) != memory_id:
        return None
    return memory_id


def stored_ids(ids: object) -> list[str]:
    """The ids in ``ids`` (one id or a collection of them) that a store could hold.

    Raises:
        ConfigError: ``ids`` is not a string, nor a collection of strings.
    """
    found = [ids] if isinstance(ids, str) else ids
    if not isinstance(found, Iterable) or isinstance(found, bytes | bytearray | Mapping):
        raise ConfigError(f"memory ids are a Memory.id string or a list of them, got {shown(ids)}")
    return [i for i in map(stored_id, found) if i is not None]


def shown(value: object) -> str:
    """``value`` for an error message: its repr, cut short; a huge int by its size
    (Python refuses to write an int of more than 4,300 digits as text)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an int of {value.bit_length():,} bits"
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def dump_metadata(metadata: dict[str, Any] | None) -> str:
    """Metadata as JSON text; raises ConfigError for what JSON cannot hold."""
    if metadata is None:
        return "{}"
    if not isinstance(metadata, dict):
        raise ConfigError(f"memory metadata must be a dict, got {type(metadata).__name__}")
    try:
        text = json.dumps(metadata, ensure_ascii=False, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"memory metadata must be JSON-compatible: {exc}") from None
    return plain_text(text)
