"""Exact cosine search in numpy over one namespace's vectors, cached in the process.

Why not a vector index in the database: at 100,000 memories of 384 dimensions, a
scan of a cached float32 matrix takes about 16 ms on this project's 2-core machines;
``sqlite-vec``'s brute-force ``vec0`` scan took 87 ms (and needs a SQLite binding
that loads extensions); reading the vectors back from SQLite for every query took
750 ms. So each store keeps the vectors it has read, per namespace, and brings them
up to date before every use from a sequence number: every write gives its row a new,
never reused ``seq``, so the rows written since the cache was filled are those with
a larger one, and a count that does not match afterwards means rows were deleted
(by another process, or a prune) and the namespace is read again in full.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ._embed import Vectors

__all__ = ["Row", "VectorIndex"]


@dataclass(frozen=True, slots=True)
class Row:
    """A memory as the vector index holds it."""

    id: str
    kind: str
    expires_at: float | None
    seq: int
    vector: bytes


class VectorIndex:
    """One namespace's vectors, searched exactly by cosine similarity.

    Args:
        dimension: the vectors' length.
    """

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.seq = 0
        self._ids: list[str] = []
        self._where: dict[str, int] = {}
        self._matrix: Vectors = np.zeros((16, dimension), dtype=np.float32)
        self._expires: NDArray[np.float64] = np.zeros(16)
        self._kinds: NDArray[np.int32] = np.zeros(16, dtype=np.int32)
        self._kind_codes: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def fresh(self, max_seq: int, count: int) -> bool:
        """Whether the index holds exactly the namespace's rows, as the database says."""
        return self.seq == max_seq and len(self._ids) == count

    def clear(self) -> None:
        """Forget every row (before a full read)."""
        self.seq = 0
        self._ids.clear()
        self._where.clear()

    def apply(self, rows: Iterable[Row]) -> None:
        """Add rows, or replace those with the same id."""
        for row in rows:
            at = self._where.get(row.id)
            if at is None:
                at = len(self._ids)
                if at == len(self._matrix):
                    self._grow()
                self._ids.append(row.id)
                self._where[row.id] = at
            self._matrix[at] = np.frombuffer(row.vector, dtype=np.float32)
            self._expires[at] = math.inf if row.expires_at is None else row.expires_at
            self._kinds[at] = self._kind_codes.setdefault(row.kind, len(self._kind_codes))
            self.seq = max(self.seq, row.seq)

    def discard(self, ids: Iterable[str]) -> None:
        """Remove rows (the last row moves into each hole)."""
        for memory_id in ids:
            at = self._where.pop(memory_id, None)
            if at is None:
                continue
            last = len(self._ids) - 1
            if at != last:
                moved = self._ids[last]
                self._ids[at] = moved
                self._where[moved] = at
                self._matrix[at] = self._matrix[last]
                self._expires[at] = self._expires[last]
                self._kinds[at] = self._kinds[last]
            self._ids.pop()

    def search(
        self, query: Vectors, k: int, *, now: float, kinds: tuple[str, ...] | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` live rows most like ``query`` (a unit vector), best first, with cosines."""
        n = len(self._ids)
        if n == 0:
            return []
        scores = self._matrix[:n] @ query.reshape(-1)
        alive = self._expires[:n] > now
        if kinds is not None:
            codes = [self._kind_codes[c] for c in kinds if c in self._kind_codes]
            alive &= np.isin(self._kinds[:n], codes)
        scores = np.where(alive, scores, -np.inf)
        k = min(k, int(alive.sum()))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self._ids[i], float(scores[i])) for i in top[:k]]

    def _grow(self) -> None:
        size = len(self._matrix) * 2
        matrix = np.zeros((size, self.dimension), dtype=np.float32)
        matrix[: len(self._matrix)] = self._matrix
        self._matrix = matrix
        self._expires = np.resize(self._expires, size)
        self._kinds = np.resize(self._kinds, size)
