"""Fusing the full-text and the embedding rankings: weighted reciprocal rank fusion.

Each list gives a memory ``weight / (k + rank)``; a memory's score is the sum over
the lists it is in. Ranks, not scores, are fused, so BM25 and cosine need no common
scale. The paper's plain fusion (``k = 60``, equal weights) ranked worse than the
embeddings alone on tether's eval set (recall@5 0.86 against 0.97), because a
query's words match many memories that do not answer it; ``k = 10`` with the
full-text list at weight 0.3, chosen on half of the queries, keeps the embedding
order and lets the words break near-ties and add what the embeddings miss
(numbers in ``docs/memory.md``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LEXICAL_WEIGHT", "MAX_TERMS", "RRF_K", "Fused", "fuse", "query_terms"]

RRF_K = 10
LEXICAL_WEIGHT = 0.3
# PostgreSQL's tsquery parser recurses once a word: tens of thousands exhaust its
# stack. Both stores search the same words.
MAX_TERMS = 256
_TERM = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Fused:
    """One memory's place in the fused ranking."""

    id: str
    score: float
    lexical_rank: int | None
    vector_rank: int | None


def fuse(
    lexical: Sequence[str],
    vector: Sequence[str],
    *,
    k: int = RRF_K,
    lexical_weight: float = LEXICAL_WEIGHT,
) -> list[Fused]:
    """Both rankings (ids, best first) fused, best first; ties go to the vector list."""
    ranks: dict[str, list[int | None]] = {}
    for rank, memory_id in enumerate(lexical, 1):
        ranks.setdefault(memory_id, [None, None])[0] = rank
    for rank, memory_id in enumerate(vector, 1):
        ranks.setdefault(memory_id, [None, None])[1] = rank
    fused = [
        Fused(
            memory_id,
            (0.0 if lex is None else lexical_weight / (k + lex))
            + (0.0 if vec is None else 1.0 / (k + vec)),
            lex,
            vec,
        )
        for memory_id, (lex, vec) in ranks.items()
    ]
    inf = len(ranks) + 1
    fused.sort(key=lambda f: (-f.score, f.vector_rank or inf, f.lexical_rank or inf))
    return fused


def query_terms(query: str) -> list[str]:
    """The first 256 words of a query, lower-cased and without repeats, for full-text search."""
    return list(dict.fromkeys(t.lower() for t in _TERM.findall(query)))[:MAX_TERMS]
