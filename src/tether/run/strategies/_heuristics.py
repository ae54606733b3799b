"""The guided strategy's judgements about text: pure functions, no model, no run.

They read English questions and tool results: which numbers and names a
question names (and so which calls answer it), whether a question is a chain
of sequential clauses ("A, then B"), whether an answer only restates a result,
and whether a call copies its tool's description instead of the task.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tether._messages import ToolCall

__all__ = [
    "Fact",
    "call_text",
    "clauses",
    "close",
    "copied_example",
    "facts",
    "feeds_back",
    "json_field",
    "leaves",
    "mentions",
    "numbers",
    "question_items",
    "restates",
    "restates_value",
    "same_value",
    "unconsumed",
    "unused",
]


@dataclass(slots=True)
class Fact:
    """A tool call and what it returned; ``ok`` when it returned a result."""

    call: ToolCall
    content: str
    ok: bool


_NUMBER_WORDS = {"twice": 2.0, "double": 2.0, "half": 2.0, "triple": 3.0, "thrice": 3.0}
_NAME = re.compile(r"\b[A-Z][a-zA-Z-]{2,}")
_SENTENCE_START = re.compile(r"(?:^|[.?!]\s+)[\"'(]*([A-Z][a-zA-Z-]*)")


_THEN = re.compile(r"\s*[,;]?\s*\b(?:and\s+)?then\b,?\s*", re.IGNORECASE)


def clauses(prompt: str) -> list[str]:
    """The sequential clauses of a question: "A, then B" is ["A", "B"]."""
    parts = [p.strip().rstrip(".!?").strip() for p in _THEN.split(prompt.strip())]
    parts = [p for p in parts if p]
    return parts if len(parts) > 1 else [prompt]


def question_items(prompt: str) -> list[str]:
    """The numbers and names of a question, which the calls answering it should use."""
    starts = {m.start(1) for m in _SENTENCE_START.finditer(prompt)}
    names = [m.group() for m in _NAME.finditer(prompt) if m.start() not in starts]
    words = re.findall(r"[a-z]+", prompt.lower())
    found = [n for n in _NUMBER.findall(re.sub(r"(?<=\d),(?=\d{3}\b)", "", prompt))]
    found += [f"{_NUMBER_WORDS[w]:g}" for w in words if w in _NUMBER_WORDS]
    return list(dict.fromkeys([*found, *names]))


def unused(prompt: str, calls: Sequence[ToolCall]) -> list[str]:
    """The question's numbers and names that no call has used yet."""
    used = " ".join(json.dumps(c.parsed_arguments(), default=str) for c in calls)
    used_numbers = [abs(n) for n in numbers(used)]
    left = []
    for item in question_items(prompt):
        if _NUMBER.fullmatch(item):
            if not any(close(abs(float(item)), n) for n in used_numbers):
                left.append(item)
        elif item.lower() not in used.lower():
            left.append(item)
    return left


def unconsumed(results: Sequence[Fact]) -> list[Fact]:
    """Results that no later call used: with two or more, the answer must combine them."""
    out = []
    for i, r in enumerate(results):
        if not r.ok:
            continue
        later = " ".join(
            json.dumps(x.call.parsed_arguments(), default=str) for x in results[i + 1 :]
        )
        if not later or not mentions(later, r.content):
            out.append(r)
    return out


def mentions(text: str, value: str) -> bool:
    values = numbers(value)
    if len(values) == 1 and _NUMBER.fullmatch(value.strip()):
        return any(close(n, values[0]) for n in numbers(text))
    return value.strip().lower() in text.lower()


def facts(results: Sequence[Fact]) -> str:
    return "; ".join(f"{call_text(r.call)} = {r.content}" for r in results)


def call_text(call: ToolCall) -> str:
    args = call.parsed_arguments()
    if isinstance(args, dict):
        inner = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in args.items())
    else:
        inner = str(args)
    return f"{call.name}({inner})"


def leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in leaves(v)]
    return [value]


def restates_value(call: ToolCall, result: str) -> bool:
    """``calculator("391")`` after 391: the call's only input is the result."""
    values = leaves(call.parsed_arguments())
    return bool(values) and all(same_value(str(v), result) for v in values)


def feeds_back(call: ToolCall, last: Fact) -> bool:
    """The same tool again with its own result as an input: ``81/9`` = 9, then ``9/9``."""
    if call.name != last.call.name:
        return False
    values = numbers(last.content)
    for value in leaves(call.parsed_arguments()):
        text = str(value)
        if text.strip().lower() == last.content.strip().lower():
            return True
        if len(values) == 1 and any(close(n, values[0]) for n in numbers(text)):
            return True
    return False


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def json_field(text: str | None, key: str) -> Any:
    try:
        value = json.loads(text or "")
    except ValueError:
        return None
    return value.get(key) if isinstance(value, dict) else None


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_FILLER = frozenset(
    """a an and answer are as at be by equals final for from i in is it its of on result
    so that the then there this to was which will with you""".split()
)


def numbers(text: str) -> list[float]:
    flat = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    return [float(n) for n in _NUMBER.findall(flat)]


def same_value(a: str, b: str) -> bool:
    """True when two texts are the same value: equal text, or the same single number."""
    if a.strip().lower() == b.strip().lower():
        return True
    na, nb = numbers(a), numbers(b)
    if len(na) != 1 or len(nb) != 1 or len(a.strip()) > len(_NUMBER.findall(a)[0]) + 2:
        return False
    return close(na[0], nb[0])


def close(x: float, y: float) -> bool:
    return abs(x - y) <= max(1e-6, 5e-3 * abs(y)) or round(y, 2) == round(x, 2)


def _words(text: str) -> list[str]:
    flat = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.lower())
    return _WORD.findall(flat)


def restates(answer: str, result: str, prompt: str, earlier: Sequence[str] = ()) -> bool:
    """True when an answer says nothing but the result (words of the question aside).

    "The capital of Valdoria is Merowgate." restates "Merrowgate" for the question
    "What is the capital of Valdoria?"; "Merrowgate and Port Halloway" does not
    restate "Port Halloway" alone when Merrowgate was an earlier result. One other
    word is allowed (a unit, say).
    """
    result_words = _words(result)
    if not result_words or not answer.strip():
        return False
    result_numbers = numbers(result)
    asked = set(_words(prompt)) | _FILLER
    others = {w for text in earlier for w in _words(text)} - set(result_words) - asked
    matched = 0
    extra = 0
    for word in _words(answer):
        if word in others:
            return False
        if (
            word in result_words
            or _matches_number(word, result_numbers)
            or any(_fuzzy(word, r) for r in result_words)
        ):
            matched += 1
        elif word not in asked:
            extra += 1
    return matched > 0 and extra <= 1


def _matches_number(word: str, values: Sequence[float]) -> bool:
    if not values or not _NUMBER.fullmatch(word):
        return False
    return any(close(float(word), n) for n in values)


def _fuzzy(a: str, b: str) -> bool:
    if len(a) < 4 or len(b) < 4 or re.search(r"\d", a + b):
        return False  # numbers must match as numbers
    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.8


def copied_example(description: str, call: ToolCall, prompt: str, results: Sequence[Fact]) -> bool:
    """True when the call takes a value from its tool's description that the task lacks.

    Small models copy a description's example when no tool fits the question, or
    when they do not know how to fill an argument: ``calculator("(17 + 3) * 23 / 4")``
    for "How many legs does a spider have?", or ``convert_units(value=10, ...)`` (the
    example's 10) for "Convert 5 miles to kilometers". Short strings (unit codes such
    as "km") are not judged: the task may spell them out.
    """
    described = _squash(description)
    described_numbers = numbers(description)
    known_text = " ".join([prompt, *(r.content for r in results if r.ok)])
    known = _squash(known_text)
    known_numbers = [abs(n) for n in numbers(known_text)]
    for value in leaves(call.parsed_arguments()):
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            number = float(value)
            if any(close(number, d) for d in described_numbers) and not any(
                close(abs(number), k) for k in known_numbers
            ):
                return True
            continue
        text = _squash(str(value))
        if len(text) >= 3 and text in described and text not in known:
            return True
    return False
