"""The one interface of long-term memory stores, and what every store shares.

A store holds memories in namespaces. The public methods check their arguments,
embed texts and fuse rankings here; a store implements the storage primitives
(``_add``, ``_lexical``, ``_vector``, ...) in its own database.
"""

from __future__ import annotations

import json
import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from numbers import Integral, Real
from types import TracebackType
from typing import Any, Self

from tether._errors import ConfigError, TetherError
from tether._text import plain_text

from ._embed import Embedder, Vectors
from ._merge import restates
from ._rank import LEXICAL_WEIGHT, RRF_K, fuse
from ._types import (
    Memory,
    MemoryHit,
    NamespaceLike,
    check_k,
    check_kind,
    check_kinds,
    check_mode,
    check_text,
    dump_metadata,
    namespace_key,
    seconds,
    shown,
    stored_ids,
)

__all__ = ["MemoryStore", "MemoryStoreError", "Policy", "Write", "key_forms", "memory_from_row"]

_MAX_KEY = 200
_MAX_CAP = 2**31 - 1  # PostgreSQL's INTEGER, the type of the cap column
# The most rows a search asks a database for: LIMIT is a signed 64-bit integer in both,
# and no namespace holds more rows, so a larger k still returns every match.
_MAX_DEPTH = 2**63 - 1
_KEY_ESCAPED = re.compile(r"[\\\x00\ud800-\udfff]")
# What key_forms writes: every backslash begins one of its three escapes.
_KEY_FORM = re.compile(r"(?:[^\\\x00]|\\\\|\\x00|\\ud[89a-f][0-9a-f]{2})*")


class MemoryStoreError(TetherError):
    """A memory store could not be opened or used (a foreign file, another embedder)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """A namespace's defaults: time-to-live of new memories and the most it keeps."""

    ttl: float | None = None
    cap: int | None = None


@dataclass(frozen=True, slots=True)
class Write:
    """One checked ``add``, ready for a store to write."""

    namespace: str
    kind: str
    text: str
    metadata: str
    vector: Vectors
    ttl: float | None
    key: str | None
    now: float
    threshold: float
    legacy_key: str | None = None

    def stamped(self) -> Write:
        """This write as of now, for a store that has just taken the namespace's lock.

        Stamped before the lock, a write that waited for it would give its memory a
        time older than a memory another connection's search marked used meanwhile,
        and a cap would evict the memory just written.
        """
        return replace(self, now=time.time())

    def key_lookups(self) -> list[str]:
        """The forms of the key to look up, the current one first (none without a key)."""
        return [k for k in (self.key, self.legacy_key) if k is not None]

    def restated(self, candidates: Sequence[tuple[str, float, str]]) -> str | None:
        """The id of the first candidate (id, cosine, text) this write restates, if any."""
        return next(
            (i for i, cos, text in candidates if restates(self.text, text, cos, self.threshold)),
            None,
        )

    def merged_metadata(self, old: str) -> str:
        """The stored metadata with this write's keys laid over it."""
        return json.dumps(
            {**json.loads(old), **json.loads(self.metadata)}, ensure_ascii=False, sort_keys=True
        )

    def expires(self, policy: Policy, default_ttl: float | None) -> float | None:
        """When the written memory expires: its own TTL, the namespace's, the store's."""
        ttl = self.ttl or policy.ttl or default_ttl
        return None if ttl is None else self.now + ttl

    def memory(self, memory_id: str, expires_at: float | None) -> Memory:
        """The memory as the request described it (for a key whose memory is gone)."""
        return Memory(
            memory_id,
            tuple(json.loads(self.namespace)),
            self.kind,
            self.text,
            json.loads(self.metadata),
            self.now,
            self.now,
            self.now,
            expires_at,
        )


def memory_from_row(row: Sequence[Any]) -> Memory:
    """A memory from the columns id, namespace, kind, text, metadata and the four times."""
    return Memory(
        row[0],
        tuple(json.loads(row[1])),
        row[2],
        row[3],
        json.loads(row[4]),
        row[5],
        row[6],
        row[7],
        row[8],
    )


class MemoryStore(ABC):
    """Long-term memory: facts, episodes and summaries, searched by words and meaning.

    Args:
        embedder: turns texts into vectors; every memory of a store uses the same one.
        merge_threshold: the cosine at or above which a new memory of the same kind
            updates an existing one instead of being added, if no name or number sets
            them apart (the embedder's measured ``duplicate_threshold`` by default;
            ``1.01`` turns merging off); above 0.
        default_ttl: seconds (or a timedelta) a memory lives when neither it nor its
            namespace says; ``None`` keeps memories until they are forgotten.
        default_cap: the most memories a namespace keeps when its policy does not say
            (1 to 2,147,483,647); beyond it the least recently used are evicted.
        rrf_k: the constant ``k`` of reciprocal rank fusion in hybrid search, a whole
            number of 0 or more.
        lexical_weight: the full-text list's weight in the fusion (the embedding
            list's is 1), finite and 0 or more.

    Raises:
        ConfigError: a setting out of its range, or not a number (``True`` is not one).
    """

    vector_method: str = "numpy"

    def __init__(
        self,
        embedder: Embedder,
        *,
        merge_threshold: float | None = None,
        default_ttl: float | timedelta | None = None,
        default_cap: int | None = None,
        rrf_k: int = RRF_K,
        lexical_weight: float = LEXICAL_WEIGHT,
    ) -> None:
        self.embedder = embedder
        threshold, name = (
            (embedder.duplicate_threshold, f"{type(embedder).__name__}.duplicate_threshold")
            if merge_threshold is None
            else (merge_threshold, "merge_threshold")
        )
        self.merge_threshold = _check_number(
            threshold,
            name,
            "a cosine above 0 (above 1, such as 1.01, turns merging off)",
            lambda v: v > 0,
        )
        self.default_ttl = seconds(default_ttl, "default_ttl")
        self.default_cap = _check_cap(default_cap)
        self.rrf_k = int(
            _check_number(
                rrf_k, "rrf_k", "a whole number of 0 or more", lambda v: v >= 0, whole=True
            )
        )
        self.lexical_weight = _check_number(
            lexical_weight,
            "lexical_weight",
            "a finite weight of 0 or more (the embedding list's is 1)",
            lambda v: 0 <= v < math.inf,
        )

    async def add(
        self,
        namespace: NamespaceLike,
        text: str,
        *,
        kind: str = "fact",
        metadata: dict[str, Any] | None = None,
        ttl: float | timedelta | None = None,
        idempotency_key: str | None = None,
    ) -> Memory:
        """Remember ``text`` in ``namespace``, or update the memory it restates.

        A live memory of the same kind whose embedding's cosine with the new one is at
        least ``merge_threshold``, and which names the same names and numbers, is
        updated in place (new text, metadata laid over the old, a new expiry)
        and returned; otherwise a new memory is stored. Beyond the namespace's cap,
        the least recently used memories are evicted, never the one this call wrote.

        Args:
            namespace: whose memory, e.g. ``("user-42", "support-agent")`` or
                ``"user-42/support-agent"``.
            text: what to remember (not empty).
            kind: ``"fact"``, ``"episode"``, ``"summary"``, ``"preference"`` or a word
                of your own.
            metadata: JSON-compatible data kept with it.
            ttl: seconds (or a timedelta) until it expires; the namespace's or the
                store's default when ``None``.
            idempotency_key: a key of this write (1 to 200 characters, any of them);
                the same key in the same namespace writes once, whatever happens
                between (a resumed run, a retry), and returns the memory it wrote.
                Keys that differ are never taken for one another (:func:`key_forms`).

        Raises:
            ConfigError: an empty text or one over 100,000 characters, a bad
                namespace, kind, metadata, ttl or key.
        """
        ns = namespace_key(namespace)
        text = check_text(text)
        kind = check_kind(kind)
        meta = dump_metadata(metadata)
        ttl_s = seconds(ttl, "ttl")
        key = legacy = None
        if idempotency_key is not None:
            if not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= _MAX_KEY:
                raise ConfigError(f"an idempotency key is a string of 1 to {_MAX_KEY} characters")
            key, legacy = key_forms(idempotency_key)
        vector = (await self.embedder.embed([text]))[0]
        write = Write(
            ns, kind, text, meta, vector, ttl_s, key, time.time(), self.merge_threshold, legacy
        )
        return await self._add(write)

    async def search(
        self,
        namespace: NamespaceLike,
        query: str,
        k: int = 5,
        *,
        mode: str = "hybrid",
        kinds: str | Sequence[str] | None = None,
    ) -> list[MemoryHit]:
        """The ``k`` live memories of ``namespace`` that best match ``query``, best first.

        ``mode="lexical"`` ranks by full-text search, ``"vector"`` by embedding cosine,
        and ``"hybrid"`` (the default) fuses both lists by weighted reciprocal rank
        fusion. A query may be of any length; full-text search looks for its first
        256 distinct words (PostgreSQL fails on a query of some thousands).
        The memories found count as used (their ``last_used_at`` is now), which keeps
        them from eviction by the namespace's cap. A ``k`` of any size works: past the
        namespace's size, it returns every match.

        Raises:
            ConfigError: an empty query, ``k`` below 1, an unknown mode or kind.
        """
        ns = namespace_key(namespace)
        query = check_text(query, "a memory search query", longest=None)
        k = check_k(k)
        search_mode = check_mode(mode)
        kind_filter = check_kinds(kinds)
        now = time.time()
        depth = min(max(4 * k, 50), _MAX_DEPTH)
        lexical: list[str] = []
        vector: list[str] = []
        if search_mode != "vector":
            lexical = await self._lexical(ns, query, depth, kind_filter, now)
        if search_mode != "lexical":
            query_vector = (await self.embedder.embed([query]))[0]
            vector = [i for i, _ in await self._vector(ns, query_vector, depth, kind_filter, now)]
        ranked = fuse(lexical, vector, k=self.rrf_k, lexical_weight=self.lexical_weight)[:k]
        found = await self._touch([f.id for f in ranked], now)
        return [
            MemoryHit(found[f.id], f.score, f.lexical_rank, f.vector_rank)
            for f in ranked
            if f.id in found
        ]

    async def set_policy(
        self,
        namespace: NamespaceLike,
        *,
        ttl: float | timedelta | None = None,
        cap: int | None = None,
    ) -> None:
        """Set a namespace's default time-to-live and its cap (``None``: the store's).

        The cap applies from the next ``add`` in the namespace; the TTL to memories
        written from now on.

        Raises:
            ConfigError: a TTL that is not positive and finite, or a cap that is not a
                whole number from 1 to 2,147,483,647 (the most both stores hold).
        """
        await self._set_policy(
            namespace_key(namespace), Policy(seconds(ttl, "ttl"), _check_cap(cap))
        )

    async def forget(
        self,
        ids: str | Sequence[str] | None = None,
        *,
        namespace: NamespaceLike | None = None,
        kinds: str | Sequence[str] | None = None,
    ) -> int:
        """Delete memories by id, or every memory of a namespace (of some kinds).

        An id that no store could hold (one with NUL or an unpaired surrogate) deletes
        nothing, on both stores.

        Returns:
            how many memories were deleted.

        Raises:
            ConfigError: no filter at all (forgetting everything takes a namespace), or
                ids that are not strings.
        """
        id_list = None if ids is None else stored_ids(ids)
        if id_list is None and namespace is None:
            raise ConfigError("forget() needs ids or a namespace; it never deletes everything")
        ns = None if namespace is None else namespace_key(namespace)
        return await self._forget(id_list, ns, check_kinds(kinds))

    async def prune(self) -> int:
        """Delete every expired memory; returns how many."""
        return await self._prune(time.time())

    @abstractmethod
    async def get(self, memory_id: str) -> Memory | None:
        """The memory with this id, expired or not, or ``None``.

        Raises:
            ConfigError: the id is not a string.
        """

    @abstractmethod
    async def count(self, namespace: NamespaceLike) -> int:
        """How many live (unexpired) memories ``namespace`` holds."""

    @abstractmethod
    async def close(self) -> None:
        """Close the store's connections."""

    @abstractmethod
    async def _add(self, write: Write) -> Memory: ...

    @abstractmethod
    async def _lexical(
        self, ns: str, query: str, n: int, kinds: tuple[str, ...] | None, now: float
    ) -> list[str]: ...

    @abstractmethod
    async def _vector(
        self, ns: str, vector: Vectors, n: int, kinds: tuple[str, ...] | None, now: float
    ) -> list[tuple[str, float]]: ...

    @abstractmethod
    async def _touch(self, ids: list[str], now: float) -> dict[str, Memory]: ...

    @abstractmethod
    async def _set_policy(self, ns: str, policy: Policy) -> None: ...

    @abstractmethod
    async def _forget(
        self, ids: list[str] | None, ns: str | None, kinds: tuple[str, ...] | None
    ) -> int: ...

    @abstractmethod
    async def _prune(self, now: float) -> int: ...

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def key_forms(key: str) -> tuple[str, str | None]:
    r"""An idempotency key as the stores keep it, and as earlier builds kept it, if other.

    Backslashes are doubled, then NUL and unpaired surrogates are written as escapes
    (``\x00``, ``\ud800``): distinct keys never collide, both databases take every
    key, and a key without those characters is kept as it is. Earlier versions wrote
    surrogates the same way but left backslashes and NUL alone, so ``"a:\\ud800"`` (a
    backslash) and ``"a:\ud800"`` (a surrogate) were one key. The old form is returned,
    to be looked up after the new one, when no key could have that form now
    (``"C:\\tmp"``), so that a run resumed across the upgrade still writes once. An old
    form that reads as escapes (``"a:\\ud800"``) cannot be told from a new key's: then
    it is ``None``.
    """
    new = _KEY_ESCAPED.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), key)
    old = plain_text(key)
    return new, None if old == new or _KEY_FORM.fullmatch(old) else old


def _check_number(
    value: object, name: str, valid: str, ok: Callable[[float], bool], *, whole: bool = False
) -> float:
    """``value`` as a float, if it is a number (a whole one if ``whole``) that is ``ok``."""
    if not isinstance(value, bool) and isinstance(value, Integral if whole else Real):
        try:
            number = float(value)
        except OverflowError:
            number = math.nan
        if ok(number):
            return number
    raise ConfigError(f"{name} must be {valid}, got {shown(value)}")


def _check_cap(cap: int | None) -> int | None:
    if cap is None:
        return None
    if isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= _MAX_CAP:
        raise ConfigError(
            f"a memory cap must be a positive whole number up to {_MAX_CAP:,} (None for no cap), "
            f"got {shown(cap)}"
        )
    return cap
