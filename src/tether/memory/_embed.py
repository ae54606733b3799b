"""The embedder interface, and the deterministic fake that tests use.

An embedder turns texts into unit-length float32 vectors, so a dot product is the
cosine similarity. It also names itself (a store refuses vectors from another
embedder) and says above which cosine two texts say the same thing
(``duplicate_threshold``, measured per model: see ``docs/memory.md``).
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["Embedder", "HashEmbedder", "Vectors", "unit_rows"]

#: Rows of unit-length float32 vectors, one per text.
Vectors = NDArray[np.float32]

_WORD = re.compile(r"\w+", re.UNICODE)


class Embedder(ABC):
    """Turns texts into vectors for a memory store.

    Attributes:
        name: identifies the model; a store keeps it and refuses another embedder's
            vectors, which would not be comparable.
        dimension: the length of each vector.
        duplicate_threshold: the cosine at or above which a new memory restates an
            existing one and is merged into it.
    """

    name: str
    dimension: int
    duplicate_threshold: float

    @abstractmethod
    async def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit-length vector per text, as a ``(len(texts), dimension)`` array."""

    async def aclose(self) -> None:  # noqa: B027 - most embedders hold nothing to close
        """Release what the embedder holds (clients, sessions)."""


def unit_rows(matrix: NDArray[np.floating]) -> Vectors:
    """``matrix`` as float32 rows of length 1 (a zero row stays zero)."""
    rows = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit: Vectors = (rows / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


class HashEmbedder(Embedder):
    """A deterministic fake embedder for tests: no model, no download, no network.

    Words and character trigrams are hashed into a signed bag of features, so texts
    that share words are close and the same text always gets the same vector. It
    knows nothing of meaning ("dog" is not near "puppy"): use it to test code that
    stores and searches memories, never as an embedder for users.

    Args:
        dimension: the length of the vectors.
    """

    duplicate_threshold = 0.9

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension
        self.name = f"hash-{dimension}"

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Vectors from hashed words and trigrams; see the class docstring."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            grams = [w[i : i + 3] for w in words for i in range(max(1, len(w) - 2))]
            for feature, weight in [(w, 1.0) for w in words] + [(g, 0.5) for g in grams]:
                digest = hashlib.blake2b(feature.encode("utf-8", "replace"), digest_size=8)
                h = int.from_bytes(digest.digest(), "little")
                out[row, h % self.dimension] += weight if (h >> 63) & 1 else -weight
        return unit_rows(out)
