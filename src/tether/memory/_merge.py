"""When a new memory restates an old one: a cosine threshold and a guard on names.

Embeddings place "Lars works in the UTC+1 timezone." and "... UTC-4 ..." at a
cosine of 0.985, closer than most restatements of one fact (median 0.88 with the
local embedder), so a threshold alone would merge a new timezone, language or job
into the old one and lose it. The guard keeps two texts apart when one holds a
number or a name (a capitalised word inside a sentence) that the other does not
contain; ``docs/memory.md`` gives the measured effect.
"""

from __future__ import annotations

import re

__all__ = ["restates"]

_SENTENCE = re.compile(r"(?:^|[.!?;:]\s+)")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*|[+-]?\d+(?:[.:,]\d+)*", re.UNICODE)


def _words(text: str) -> set[str]:
    return {_base(w) for w in _WORD.findall(text.lower())}


def _base(word: str) -> str:
    return re.sub(r"['\u2019]s$", "", word)


def _marked(text: str) -> set[str]:
    """Numbers, and capitalised words that do not open a sentence, lower-cased."""
    marked: set[str] = set()
    for sentence in _SENTENCE.split(text):
        for i, m in enumerate(_WORD.finditer(sentence)):
            word = m.group()
            if any(c.isdigit() for c in word) or (i > 0 and word[0].isupper()):
                marked.add(_base(word.lower()))
    return marked


def restates(new: str, old: str, cosine: float, threshold: float) -> bool:
    """Whether ``new`` says what ``old`` says: close enough, and no name or number apart."""
    if cosine < threshold:
        return False
    new_words, old_words = _words(new), _words(old)
    return _marked(new) <= old_words and _marked(old) <= new_words
