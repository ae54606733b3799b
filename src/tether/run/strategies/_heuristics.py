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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tether._messages import JSON_DECODE_ERRORS, ToolCall

__all__ = [
    "Fact",
    "answer_span",
    "arranged",
    "asked_of",
    "asks_for_value",
    "averaged",
    "call_text",
    "cased_like",
    "clauses",
    "close",
    "codes_meaning",
    "compared",
    "computed_numbers",
    "copied_example",
    "digest",
    "documented_ids",
    "facts",
    "feeds_back",
    "field_value",
    "free_words",
    "glossary",
    "grounded_codes",
    "grounded_enums",
    "inner_call",
    "json_field",
    "leaves",
    "listed_results",
    "looks_like_call",
    "mentions",
    "named_field",
    "numbers",
    "ordered_codes",
    "question_items",
    "readable",
    "relevant",
    "resolve_references",
    "restates",
    "restates_value",
    "rewrite_question",
    "same_value",
    "same_word",
    "shaped_ids",
    "siblings",
    "split_names",
    "squash_text",
    "structured",
    "unconsumed",
    "unsigned_difference",
    "unused",
    "uses_field",
    "with_digits",
    "without_examples",
    "without_result",
]


@dataclass(slots=True)
class Fact:
    """A tool call and what it returned; ``ok`` when it returned a result."""

    call: ToolCall
    content: str
    ok: bool


_NUMBER_WORDS = {
    "twice": 2.0,
    "double": 2.0,
    "doubled": 2.0,
    "doubles": 2.0,
    "half": 2.0,
    "halved": 2.0,
    "halve": 2.0,
    "triple": 3.0,
    "tripled": 3.0,
    "thrice": 3.0,
    "quadruple": 4.0,
    "quadrupled": 4.0,
    "quarter": 4.0,
    "quarters": 4.0,
    "hundreds": 100.0,
    "thousands": 1000.0,
    "millions": 1e6,
    "billions": 1e9,
}
"""Words that bring a number into a question without spelling it: "doubled" (2), "a
quarter of" (4), "in thousands" (1000)."""
_PARTS = {
    w: i
    for i, w in enumerate(
        "third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split(), 3
    )
} | {"hundredth": 100, "thousandth": 1000}
_PART = re.compile(rf"\b(?:a|one)\s+({'|'.join(_PARTS)})\b", re.IGNORECASE)
"""A fraction of one part: "a tenth of" (10), "one fifth of" (5)."""
_HOW_MANY_SCALE = re.compile(r"\bhow\s+many\s+(hundred|thousand|million|billion)\b", re.I)
"""A count asked in a scale: "How many thousand people ..." (1000)."""
_PLAIN_WORDS = frozenset({"twice", "double", "half", "triple", "thrice"})
"""The few of them read when spelled-out numbers are not (``spelled=False``)."""
_UNITS = {
    w: i
    for i, w in enumerate(
        """zero one two three four five six seven eight nine ten eleven twelve thirteen
        fourteen fifteen sixteen seventeen eighteen nineteen""".split()
    )
}
_TENS = {
    w: 10 * i
    for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[A-Za-z]+")
_PRONOUN_BEFORE = re.compile(
    r"\b(?:which|no|any|each|every|this|that|the|some|another|the\s+other)\s+$", re.IGNORECASE
)
_PRONOUN_AFTER = re.compile(r"^\s*(?:(?:of|another|by|or|and|is|was)\b|[^\w\s]|$)", re.IGNORECASE)


def _kind(word: str) -> str:
    w = word.lower()
    if w[0].isdigit():
        return "digits"
    if w in _UNITS:
        return "unit"
    if w in _TENS:
        return "ten"
    if w == "hundred":
        return "hundred"
    if w in _SCALES:
        return "scale"
    if w == "dozen":
        return "dozen"
    if w in ("a", "an"):
        return "a"
    if w == "and":
        return "and"
    return ""


_FOLLOWS = {
    "digits": {"hundred", "scale", "dozen"},
    "a": {"hundred", "scale", "dozen"},
    "unit": {"hundred", "scale", "dozen"},
    "ten": {"unit", "scale", "hundred"},
    "hundred": {"unit", "ten", "scale", "and"},
    "scale": {"unit", "ten", "and"},
    "and": {"unit", "ten"},
    "dozen": set(),
}
"""Which kind of number word may follow which in one number ("forty three", "two
hundred and five"), so that "two three" or "2 and three" stay separate numbers."""


def _spelled_value(words: list[str]) -> float:
    """The number of a run of number words that :data:`_FOLLOWS` allows."""
    total = 0.0
    current = 0.0
    for word in words:
        w = word.lower()
        kind = _kind(w)
        if kind == "digits":
            current += float(w)
        elif kind == "a":
            current = 1.0
        elif kind == "unit":
            current += _UNITS[w]
        elif kind == "ten":
            current += _TENS[w]
        elif kind == "dozen":
            current = (current or 1.0) * 12
        elif kind == "hundred":
            current = (current or 1.0) * 100
        elif kind == "scale":
            total += (current or 1.0) * _SCALES[w]
            current = 0.0
    return total + current


_QUOTE = re.compile(r"""(?<!\w)(?:'[^'\n]+'|"[^"\n]+"|\u201c[^\u201d\n]+\u201d)(?!\w)""")


def with_digits(text: str) -> str:
    """The text with the numbers it spells out written in digits: "Multiply seventeen
    by forty-three" is "Multiply 17 by 43", "a dozen eggs" is "12 eggs", "2.5 million"
    is "2500000", "five and a half" is "5.5", "a mile and a half" is "1.5 miles". A
    lone "one" used as a pronoun ("which one", "one of them") is left as it is, and so
    are numbers already in digits and quoted text (a text a tool is to take as it is:
    "count the words in 'bring two keys'")."""
    out: list[str] = []
    at = 0
    for m in _QUOTE.finditer(text):
        out += [_digits_in(text[at : m.start()]), m.group()]
        at = m.end()
    return "".join([*out, _digits_in(text[at:])])


def _digits_in(text: str) -> str:
    tokens = list(_TOKEN.finditer(text))
    out: list[str] = []
    at = 0
    i = 0
    while i < len(tokens):
        j = i + 1
        kind = _kind(tokens[i].group())
        if kind not in ("digits", "a", "unit", "ten"):
            i += 1
            continue
        while j < len(tokens):
            gap = text[tokens[j - 1].end() : tokens[j].start()]
            nxt = _kind(tokens[j].group())
            if not re.fullmatch(r"\s+|\s*-\s*", gap) or nxt not in _FOLLOWS[kind]:
                break
            if nxt == "and" and (
                j + 1 >= len(tokens) or _kind(tokens[j + 1].group()) not in _FOLLOWS["and"]
            ):
                break
            kind = nxt
            j += 1
        words = [t.group() for t in tokens[i:j]]
        start, end = tokens[i].start(), tokens[j - 1].end()
        spelled = any(_kind(w) not in ("digits", "a") for w in words)
        if words[-1].lower() == "and" or not spelled:
            i += 1
            continue
        if [w.lower() for w in words] == ["one"] and (
            _PRONOUN_BEFORE.search(text[:start]) or _PRONOUN_AFTER.match(text[end:])
        ):
            i += 1
            continue
        value = _spelled_value(words)
        out += [text[at:start], str(int(value)) if value.is_integer() else str(value)]
        at = end
        i = j
    return _with_fractions("".join([*out, text[at:]]))


_AND_A_PART = re.compile(
    r"(?<![\d,.])\b(\d+(?:\.\d+)?|one) and (a half|a quarter|three quarters)\b", re.IGNORECASE
)
_ONE_AND_A_PART = re.compile(
    r"\b(?:an?|one) ([a-z]{3,}) and (a half|a quarter|three quarters)\b", re.IGNORECASE
)
_FRACTIONS = {"a half": 0.5, "a quarter": 0.25, "three quarters": 0.75}


def _with_fractions(text: str) -> str:
    """ "5 and a half gallons" as "5.5 gallons"; "a mile and a half" as "1.5 miles"."""

    def joined(m: re.Match[str]) -> str:
        whole = 1.0 if m.group(1).lower() == "one" else float(m.group(1))
        value = whole + _FRACTIONS[m.group(2).lower()]
        return f"{value:g}"

    def counted(m: re.Match[str]) -> str:
        unit = m.group(1)
        return f"{1 + _FRACTIONS[m.group(2).lower()]:g} {unit}{'' if unit.endswith('s') else 's'}"

    return _ONE_AND_A_PART.sub(counted, _AND_A_PART.sub(joined, text))


_PERCENT = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:%|percent\b|per\s+cent\b)", re.IGNORECASE)


def _forms(prompt: str, item: float) -> list[float]:
    """The values a call may use for a number of the question: a percentage (10%)
    also as a fraction (0.1) or a factor (1.1, 0.9)."""
    forms = [abs(item)]
    for m in _PERCENT.finditer(prompt):
        if close(float(m.group(1)), item):
            p = item / 100
            forms += [abs(p), 1 + p, abs(1 - p), 100 + item, abs(100 - item)]
    return forms


_NAME = re.compile(r"\b[A-Z][a-zA-Z-]{2,}")
_SENTENCE_START = re.compile(r"(?:^|[.?!]\s+)[\"'(]*([A-Z][a-zA-Z-]*)")
_IDENTIFIER = re.compile(r"(?<![\w-])#?([A-Za-z]{1,4}[-_]?\d{2,}(?:[-_]?[A-Za-z0-9]+)*)\b")
"""An id such as an order's or a ticket's ("B-2001", "#INV-0042", "SKU1234"): one item,
its digits no number of the question."""


_THEN = re.compile(r"\s*[,;]?\s*\b(?:and\s+)?then\b,?\s*", re.IGNORECASE)
_STEP_VERBS = (
    "add|subtract|multiply|divide|double|triple|halve|square|round|convert|turn|take|"
    "reverse|count|find|look|get"
)
_AND_ORDER = re.compile(rf"(?<=\w)\s*,?\s+and\s+(?=(?:{_STEP_VERBS})\b)", re.IGNORECASE)
_ORDER = re.compile(rf"\s*(?:please\s+)?(?:{_STEP_VERBS})\b", re.IGNORECASE)


def clauses(prompt: str) -> list[str]:
    """The sequential clauses of a question: "A, then B" is ["A", "B"], and so is an
    order followed by "and" and another order ("Convert 11 miles to km and triple
    it"; not "Add 3 and 4")."""
    parts: list[str] = []
    for part in _THEN.split(prompt.strip()):
        orders = _AND_ORDER.split(part)
        parts += orders if len(orders) > 1 and all(_ORDER.match(o) for o in orders) else [part]
    parts = [p.strip().rstrip(".!?").strip() for p in parts]
    parts = [p for p in parts if p]
    return parts if len(parts) > 1 else [prompt]


def question_items(
    prompt: str,
    terms: Sequence[str] = (),
    codes: Mapping[str, set[str]] | None = None,
    *,
    spelled: bool = True,
) -> list[str]:
    """The numbers and names of a question, which the calls answering it should use.

    ``terms``: words the tools name (the values of enum arguments): each one the
    question says is an item too, in any letter case ("hinges" for an item enum).
    ``spelled``: words that bring a number ("doubled", "a third of", "10%" as 0.1)
    count; False reads only "twice", "double", "half", "triple" and "thrice".
    ``codes``: the short codes the tools explain (see :func:`glossary`): a word of the
    question that one of them means ("kilometres" for ``km``) is an item too.
    """
    starts = {m.start(1) for m in _SENTENCE_START.finditer(prompt)}
    names = [
        m.group()
        for m in _NAME.finditer(prompt)
        # "YYYY-MM-DD" is no name; "BRISALTA" is one, even where a sentence starts
        if _shouted(m.group()) or (m.start() not in starts and not m.group().isupper())
    ]
    ids = [m.group(1) for m in _IDENTIFIER.finditer(prompt)]
    plain = _IDENTIFIER.sub(" ", prompt)
    words = re.findall(r"[a-z]+", plain.lower())
    found = [n for n in _NUMBER.findall(_unseparated(plain))]
    if spelled:
        found += [f"{_PARTS[m.group(1).lower()]}" for m in _PART.finditer(prompt)]
        found += [f"{_SCALES[m.group(1).lower()]}" for m in _HOW_MANY_SCALE.finditer(prompt)]
    read = _NUMBER_WORDS if spelled else {w: _NUMBER_WORDS[w] for w in _PLAIN_WORDS}
    found += [f"{read[w]:g}" for w in words if w in read]
    named = [t for t in terms if len(t) >= 3 and re.search(rf"\b{re.escape(t)}\b", prompt, re.I)]
    meant = [
        w
        for w in dict.fromkeys(_words(prompt))
        if codes and (len(w) >= 2 or w in _after_number(prompt)) and codes_meaning(w, codes)
    ]
    out: dict[str, str] = {}
    for item in [*ids, *found, *names, *named, *meant]:
        out.setdefault(item.lower(), item)  # "Celsius" and "celsius" are one item
    return list(out.values())


def _after_number(prompt: str) -> set[str]:
    """Single letters written right after a number ("273.15 K", "104 °F"): units."""
    return {m.lower() for m in re.findall(r"\d\s*°?\s*([A-Za-z])\b", prompt)}


def _shouted(word: str) -> bool:
    """A name written in capitals ("BRISALTA"): five letters or more, letters only."""
    return len(word) >= 5 and word.isalpha() and word.isupper()


def codes_meaning(word: str, codes: Mapping[str, set[str]]) -> set[str]:
    """The short codes (three letters at most) that a word of a question names: the
    code itself or its plural ("kg", "lbs"), or a word its explanation means
    ("kilograms", "kilometres" for ``km (kilometers)``)."""
    if not word.isalpha():
        return set()
    w = word.lower()
    named = {c for c in codes if len(c) <= 3 and (w == c or (len(c) >= 2 and w == f"{c}s"))}
    if len(w) < 4:
        return named
    w = _us_spelling(w)
    return named | {
        c
        for c, means in codes.items()
        if (len(c) <= 3 or "_" in c) and any(same_word(m, w) for m in means if len(m) >= 4)
    }


def _us_spelling(word: str) -> str:
    """ "kilometres" as "kilometers", "litre" as "liter": one spelling for matching."""
    return re.sub(r"(?<=[a-z]{2})tre(s?)$", r"ter\1", word.lower())


def unused(
    prompt: str,
    calls: Sequence[ToolCall],
    terms: Sequence[str] = (),
    codes: Mapping[str, set[str]] | None = None,
    *,
    spelled: bool = True,
    found: Sequence[str] = (),
) -> list[str]:
    """The question's numbers and names that no call has used yet (a word a code
    means is used by a call that gives the code: "miles" by ``"mi"``, or by a result
    that holds it: "tomorrow" by a forecast with ``"day": 1`` when ``day`` is
    explained as "1 is tomorrow"; ``found`` are the results' texts)."""
    used = " ".join(json.dumps(c.parsed_arguments(), default=str) for c in calls)
    used_numbers = [abs(n) for n in numbers(used)]
    given = {str(v).strip().lower() for c in calls for v in leaves(c.parsed_arguments())}
    returned = {w for w in re.findall(r"[a-z0-9_]+", " ".join(found).lower()) if len(w) >= 2}
    left = []
    for item in question_items(prompt, terms, codes, spelled=spelled):
        meaning = codes_meaning(item, codes) if codes and not _NUMBER.fullmatch(item) else set()
        if meaning:
            said = set(given) | returned  # a code given or returned, or a word meaning one
            said |= {c for v in given for c in codes_meaning(v, codes or {})}
            if not meaning & said and item.lower() not in used.lower():
                left.append(item)
            continue
        if _NUMBER.fullmatch(item):
            forms = _forms(prompt, float(item)) if spelled else [abs(float(item))]
            if not any(close(f, n) for f in forms for n in used_numbers):
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
        if not later or not (mentions(later, r.content) or uses_field(later, r.content)):
            out.append(r)
    return out


def uses_field(text: str, content: str, *, texts: bool = True) -> bool:
    """True when a text uses a value of a JSON result: a number, or (``texts``) a text
    of three characters or more (``add_days(date="2024-06-14")`` after an order's
    ``"eta": "2024-06-14"``)."""
    if not structured(content):
        return False
    for leaf in leaves(json.loads(content)):
        if isinstance(leaf, bool) or leaf is None:
            continue
        if isinstance(leaf, int | float) and mentions(text, str(leaf)):
            return True
        if texts and isinstance(leaf, str) and len(leaf) >= 3 and leaf.lower() in text.lower():
            return True
    return False


def mentions(text: str, value: str) -> bool:
    values = numbers(value)
    if len(values) == 1 and _NUMBER.fullmatch(value.strip()):
        return any(close(n, values[0]) for n in numbers(text))
    return value.strip().lower() in text.lower()


def facts(
    results: Sequence[Fact], prompt: str | None = None, *, asked_fields: str | None = None
) -> str:
    """The results as ``call = result`` statements for a prompt.

    With the question (``prompt``), they are arranged for a reader that compares:
    in the order the question names their inputs (Norrhaven's before Lunaria's for
    "Norrhaven and Lunaria"), and when one tool gave a number for each of several
    inputs, the largest and the smallest of them are marked as such. With the question
    as ``asked_fields``, a JSON object of which the question names exactly one field
    is stated as that field alone (see :func:`named_field`).
    """
    chosen = list(results) if prompt is None else arranged(results, prompt)
    marks = {} if prompt is None else _extremes(chosen)

    def said(r: Fact) -> str:
        field = named_field(r.content, asked_fields) if asked_fields is not None else None
        return field or readable(r.content, prompt)

    return "; ".join(f"{call_text(r.call)} = {said(r)}{marks.get(id(r), '')}" for r in chosen)


def named_field(content: str, prompt: str) -> str | None:
    """``key: value`` for the one field of a JSON object result that the question
    names ("total: 213.4" for "... order B-2001's total ..."), leaving aside fields
    whose value the question holds (the id it was looked up by); None otherwise."""
    if not structured(content):
        return None
    value = json.loads(content)
    if not isinstance(value, dict):
        return None
    words = set(_words(prompt))
    named = [
        k
        for k, v in value.items()
        if not isinstance(v, dict | list)
        and not words.isdisjoint(_key_forms(k))
        and not (v is not None and _whole_word(prompt, str(v)))
    ]
    return f"{named[0]}: {_flat(value[named[0]])}" if len(named) == 1 else None


def arranged(results: Sequence[Fact], prompt: str) -> list[Fact]:
    """The results in the order the question names their inputs; results whose inputs
    the question does not name (later steps) keep their place after them."""
    lowered = prompt.lower()

    def at(i: int, r: Fact) -> tuple[int, int]:
        found = [
            lowered.find(str(v).lower())
            for v in leaves(r.call.parsed_arguments())
            if isinstance(v, str) and len(v) >= 3
        ]
        found = [f for f in found if f >= 0]
        return (min(found), i) if found else (len(prompt) + i, i)

    return [r for _, r in sorted((at(i, r), r) for i, r in enumerate(results))]


def _extremes(results: Sequence[Fact]) -> dict[int, str]:
    """Marks for the largest and smallest numbers one tool gave for several inputs."""
    by_tool: dict[str, list[tuple[float, Fact]]] = {}
    for r in results:
        if r.ok and _NUMBER.fullmatch(_unseparated(r.content.strip())):
            by_tool.setdefault(r.call.name, []).append((numbers(r.content)[0], r))
    marks: dict[int, str] = {}
    for group in by_tool.values():
        values = [v for v, _ in group]
        if len(group) < 2 or len(set(values)) < 2:
            continue
        top, bottom = max(values), min(values)
        for v, r in group:
            if v == top:
                marks[id(r)] = " (the largest of these)"
            elif v == bottom:
                marks[id(r)] = " (the smallest of these)"
    return marks


def _flat(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_flat(x)}" for k, x in v.items())
    if isinstance(v, list):
        return "; ".join(_flat(x) for x in v)
    return str(v)


def readable(content: str, prompt: str | None = None) -> str:
    """A JSON result as plain lines a small model reads more reliably: each object
    as ``key: value`` pairs, each list item on its own line; other results as they are.

    With the question (``prompt``), a list of records also gets what a small model
    cannot work out by reading: the record the question picks by a field and value
    ("day 2" for records with ``"day": 2``), and per field the highest and lowest
    number, or how many records hold each text value (see :func:`digest`)."""
    if not structured(content):
        return content
    value = json.loads(content)
    if isinstance(value, list):
        record, summary = digest(value, prompt) if prompt is not None else (None, [])
        if record is not None:
            return _flat(record)  # the one record the question names
        lines = [f"- {_flat(x)}" for x in value] + summary
        return "\n" + "\n".join(lines) + "\n"
    return _flat(value)


def _label(record: dict[str, Any], keys: Sequence[str]) -> str:
    """How a record is named in a digest line: by its first field ("day 4")."""
    key = keys[0]
    return f"{key} {record[key]}"


def _key_forms(key: str) -> tuple[str, ...]:
    """The words that name a record's field: "day", "days"; "high" for ``high_c``."""
    k = key.lower()
    return (k, f"{k}s", k.split("_")[0], k[:-1] if len(k) > 3 and k.endswith("s") else k)


def _named_record(rows: list[dict[str, Any]], keys: list[str], words: list[str]) -> Any:
    """The one record a question names by a field and its value ("day 2"), or None."""
    for key in keys:
        forms = _key_forms(key)
        for i, w in enumerate(words[:-1]):
            if w in forms:
                picked = [x for x in rows if str(x[key]).lower() == words[i + 1]]
                if len(picked) == 1:
                    return picked[0]
    return None


def digest(records: list[Any], prompt: str) -> tuple[Any, list[str]]:
    """Lines that sum up a list of JSON records for a question (empty unless it is a
    list of two or more objects with the same fields). When the question names a
    record by a field and its value ("day 2"), that record alone; else, for each
    number field the question names ("high" for ``high_c``), the highest and the
    lowest value with the record that has it, and for each text value the question
    names ("sunny"), how many records hold it. Returns the record named (or None)
    and the lines."""
    rows = [x for x in records if isinstance(x, dict)]
    if len(rows) < 2 or len(rows) != len(records):
        return None, []
    keys = [k for k in rows[0] if all(k in x for x in rows)]
    if not keys:
        return None, []
    words = _words(prompt)
    said = set(words)

    def named(key: str) -> bool:
        return not said.isdisjoint(_key_forms(key))

    record = _named_record(rows, keys, words)
    if record is not None:
        return record, []
    lines: list[str] = []
    for key in keys[1:]:
        values = [x[key] for x in rows]
        if named(key) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            top = max(rows, key=lambda x: x[key])
            low = min(rows, key=lambda x: x[key])
            lines.append(f"highest {key}: {top[key]} ({_label(top, keys)})")
            lines.append(f"lowest {key}: {low[key]} ({_label(low, keys)})")
        elif all(isinstance(v, str) for v in values):
            for v in dict.fromkeys(values):
                if v.lower() in said:
                    n = values.count(v)
                    lines.append(f"{key} {v}: {n} of the {len(values)} records")
    return None, lines


def call_text(call: ToolCall) -> str:
    args = call.parsed_arguments()
    if isinstance(args, dict):
        inner = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in args.items())
    else:
        inner = str(args)
    return f"{call.name}({inner})"


def leaves(value: Any) -> list[Any]:
    """The scalars in a call's arguments, in order (a loop, not recursion: a model's
    arguments may nest deeper than Python's recursion limit)."""
    out: list[Any] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out


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


def squash_text(text: str) -> str:
    """The text without spaces, in lower case: for finding one text in another."""
    return re.sub(r"\s+", "", text).lower()


def json_field(text: str | None, key: str) -> Any:
    try:
        value = json.loads(text or "")
    except JSON_DECODE_ERRORS:
        return None
    return value.get(key) if isinstance(value, dict) else None


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_SEPARATOR = re.compile(r"(?<=\d),(?=\d{3}\b)")


def _unseparated(text: str) -> str:
    """The text with thousands separators taken out of its numbers ("2,000" as "2000")."""
    return _SEPARATOR.sub("", text)


_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_FILLER = frozenset(
    """a an and answer are as at be by equals final for from i in is it its of on result
    so that the then there this to was which will with you""".split()
)


def numbers(text: str) -> list[float]:
    flat = _unseparated(text)
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
    flat = _unseparated(text.lower())
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
    described = squash_text(description)
    described_numbers = numbers(description)
    known_text = " ".join([prompt, *(r.content for r in results if r.ok)])
    known = squash_text(re.sub(r"[A-Za-z]+", lambda m: _us_spelling(m.group()), known_text))
    known_numbers = [abs(n) for n in numbers(known_text)]
    copied_number = grounded = False
    for value in leaves(call.parsed_arguments()):
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            number = float(value)
            if any(close(abs(number), k) for k in known_numbers):
                grounded = True
            elif any(close(number, d) for d in described_numbers):
                copied_number = True
            continue
        text = squash_text(str(value))
        if len(text) >= 3 and text in described and text not in known:
            return True
        grounded = grounded or (len(text) >= 3 and text in known)
    if not copied_number:
        return False
    # a number taken from the example stands when the call is otherwise the task's own
    # (weather(city="Fenbridge", days=1) for "tomorrow in Fenbridge") and the question
    # has no number of its own that the call leaves out
    asked = [abs(float(n)) for n in question_items(prompt) if _NUMBER.fullmatch(n)]
    used = [abs(n) for n in numbers(call_text(call))]
    left_out = [n for n in asked if not any(close(n, u) for u in used)]
    return not grounded or bool(left_out)


_STEM = 4  # "washer" and "washers", "populations" and "population" share their first letters


def _stems(text: str) -> set[str]:
    return {w[:_STEM] if len(w) > _STEM else w for w in _words(text) if len(w) >= 3}


def relevant(call: ToolCall, prompt: str, results: Sequence[Fact]) -> bool:
    """True unless every argument of the call comes from nowhere: no number, name or
    word of the question or of a result is in it.

    A small model asked something no tool answers still calls one, with values of its
    own (``calculator("7*24")`` for "How many days are in a week?",
    ``convert_units(0, "c", "k")`` for the freezing point of water). A call with no
    arguments, or whose only values are one or two letters long (codes), is not judged.
    """
    known_text = " ".join([prompt, *(r.content for r in results if r.ok)])
    known_numbers = [abs(n) for n in numbers(known_text)]
    known_numbers += [abs(float(n)) for n in question_items(prompt) if _NUMBER.fullmatch(n)]
    known_stems = _stems(known_text)
    judged = False
    for value in leaves(call.parsed_arguments()):
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            judged = True
            if any(close(abs(float(value)), k) for k in known_numbers):
                return True
            continue
        text = str(value)
        found = numbers(text)
        stems = _stems(text)
        if not found and not stems:
            continue  # a code such as "km" says nothing either way
        judged = True
        if any(close(abs(n), k) for n in found for k in known_numbers):
            return True
        if stems & known_stems:
            return True
    return not judged


def computed_numbers(answer: str, prompt: str, results: Sequence[Fact]) -> list[float]:
    """Numbers of an answer that are neither in the question nor in any result or call:
    arithmetic the model did in its head (small models get sums of large numbers wrong)."""
    known_text = " ".join(
        [prompt, *(r.content for r in results), *(call_text(r.call) for r in results)]
    )
    known = [abs(n) for n in numbers(known_text)]
    known += [abs(float(n)) for n in question_items(prompt) if _NUMBER.fullmatch(n)]
    return [n for n in numbers(answer) if not any(close(abs(n), k) for k in known)]


_EXAMPLE = re.compile(
    r"(?:^|(?<=[.!?\n]))[ \t]*(?:Example|Examples|For example|E\.g\.)\b[^\n]*", re.IGNORECASE
)
_INLINE_EXAMPLE = re.compile(r",?\s*\(?\be\.g\.[^.;)\n]*\)?\.?", re.IGNORECASE)


def without_examples(text: str) -> str:
    """A tool's description without its examples (the sentences a small model copies)."""
    kept = _INLINE_EXAMPLE.sub("", _EXAMPLE.sub("", text))
    return re.sub(r"\n{3,}", "\n\n", kept).strip()


_CODE = r"\b(?:[A-Za-z]{1,4}|[A-Za-z]+_[A-Za-z0-9_]+(?=[\s,]))\b"  # "km"; a field: "low_c"
_GLOSSED = re.compile(rf"((?:{_CODE}(?:,|\s+and)\s*)*{_CODE})\s*\(([^()]+)\)")
_GLOSS_FILLER = frozenset({"degrees", "degree", "us", "uk", "the", "in", "of"})


def glossary(texts: Sequence[str]) -> dict[str, set[str]]:
    """Short codes a tool's own text explains, with the stems of what they mean.

    "m (meters), km (kilometers)" gives ``{"m": {"meters"}, "km": {"kilometers"}}``;
    "c, f, k (degrees Celsius, Fahrenheit, Kelvin)" pairs codes and words in order.
    """
    out: dict[str, set[str]] = {}
    for text in texts:
        for m in _GLOSSED.finditer(text):
            codes = [c.strip().lower() for c in re.split(r",|\s+and\s+", m.group(1))]
            meanings = [x.strip() for x in m.group(2).split(",")]
            if len(meanings) != len(codes):
                # one explanation for several codes ("high_c and low_c (degrees
                # Celsius)") is each one's
                meanings = (
                    [m.group(2)] * len(codes) if len(meanings) == 1 or len(codes) == 1 else []
                )
            for code, meaning in zip(codes, meanings, strict=False):
                words = {_us_spelling(w) for w in _words(meaning) if len(w) >= 3} - _GLOSS_FILLER
                if words:
                    out.setdefault(code, set()).update(words)
    return out


def same_word(a: str, b: str) -> bool:
    """ "mile" and "miles", "liter" and "liters"; not "kilometers" and "kilograms"."""
    short, long = sorted((a, b), key=len)
    return len(short) >= 3 and long.startswith(short) and len(long) - len(short) <= 2


def grounded_codes(
    arguments: dict[str, Any], prompt: str, codes: dict[str, set[str]]
) -> dict[str, Any]:
    """The arguments with each short code the question does not mean replaced by the
    one code it does mean: ``from_unit="m"`` (meters) for "5 miles" becomes ``"mi"``.

    A code is judged only when it is, or could be, one of the tool's explained codes
    and is not itself a word of the question; it is replaced only when exactly one
    explained code, not used by another argument, means a word of the question. A
    value of several words that is no code ("US gallons") is the one code its words
    mean, if there is one.
    """
    words = {_us_spelling(w) for w in _words(prompt)}
    values = {k: v.strip().lower() for k, v in arguments.items() if isinstance(v, str)}
    meant = {c for c, means in codes.items() if any(same_word(m, w) for m in means for w in words)}
    taken = {v for v in values.values() if v in meant}
    out = dict(arguments)
    for key, value in values.items():
        if value not in codes and " " in value:
            # a code spelled out ("US gallons" for ``gal (US gallons)``): the one code
            # its words mean
            spelled = set().union(*(codes_meaning(w, codes) for w in value.split()))
            if len(spelled) == 1:
                out[key] = spelled.pop()
                continue
        if len(value) > 4 or value in words or value in meant:
            continue
        if value not in codes and not any(c.startswith(value[:1]) for c in codes):
            continue
        choices = [c for c in meant - taken if c != value]
        if len(choices) == 1:
            out[key] = choices[0]
            taken.add(choices[0])
    return out


_SOURCE_KEY = re.compile(r"(?:^|_)(?:from|src|source|input|in)(?:_|$)", re.IGNORECASE)


def ordered_codes(
    arguments: dict[str, Any], prompt: str, codes: Mapping[str, set[str]]
) -> dict[str, Any]:
    """The arguments with two codes swapped when they are the wrong way round: the
    unit written right after the call's number in the question ("100 kelvin", "26.2
    miles") is the unit the number is in, so it goes in the source argument
    (``from_unit``, ``src``, ``source``...; else the first of the two), and the other
    code in the other one. Unchanged unless exactly two arguments hold explained codes.
    """
    keys = [k for k, v in arguments.items() if isinstance(v, str) and v.strip().lower() in codes]
    given = [
        v for v in arguments.values() if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    if len(keys) != 2 or len(given) != 1:
        return arguments
    source = next((k for k in keys if _SOURCE_KEY.search(k)), keys[0])
    target = keys[1] if source == keys[0] else keys[0]
    flat = _unseparated(prompt)
    unit = None
    for m in _NUMBER.finditer(flat):
        if close(float(m.group()), float(given[0])):
            after = re.match(r"\s*(?:°|degrees?\s+)?([A-Za-z]+)", flat[m.end() :])
            unit = _us_spelling(after.group(1)) if after else None
            break
    if unit is None:
        return arguments
    meant = {c for c, means in codes.items() if any(same_word(x, unit) for x in means)}
    meant |= {unit} & set(codes)
    src, dst = (arguments[k].strip().lower() for k in (source, target))
    if dst in meant and src not in meant:
        return {**arguments, source: arguments[target], target: arguments[source]}
    return arguments


_JOINERS = re.compile(r"\s*(?:,|&|\band\b|\bor\b|\bthe\b)\s*", re.IGNORECASE)


def split_names(value: str, prompt: str, terms: Sequence[str] = ()) -> list[str]:
    """The question's names a single argument holds together ("Kethmoor and
    Osterwick"), when it holds nothing else; empty when it is one value."""
    names = [n for n in question_items(prompt, terms) if not _NUMBER.fullmatch(n)]
    found = [n for n in names if re.search(rf"\b{re.escape(n)}\b", value, re.IGNORECASE)]
    if len(found) < 2:
        return []
    rest = value
    for n in found:
        rest = re.sub(rf"\b{re.escape(n)}\b", "", rest, flags=re.IGNORECASE)
    # names joined by words ("and", a comma); "Red Planet" is one name, not two
    joined = re.search(r",|&|\band\b|\bor\b", rest, re.IGNORECASE)
    return found if joined and not _JOINERS.sub("", rest).strip() else []


_FIELD_ACCESS = r"""(?:\[\s*["']?(\w+)["']?\s*\]|\.(\w+))?"""  # ["total"], [total], .total


def _field_names(value: str, results: Sequence[Fact]) -> str:
    """An expression with each bare field name of an earlier JSON object result
    replaced by its number (``total - 172.5`` after an order's ``"total": 213.4``),
    when each name belongs to one result and what is left is arithmetic."""
    fields: dict[str, list[float]] = {}
    for fact in results:
        if not fact.ok or not fact.content.strip().startswith("{"):
            continue
        try:
            data = json.loads(fact.content)
        except JSON_DECODE_ERRORS:
            continue
        for k, v in data.items() if isinstance(data, dict) else ():
            if isinstance(v, int | float) and not isinstance(v, bool):
                fields.setdefault(k.lower(), []).append(float(v))

    def number(m: re.Match[str]) -> str:
        found = fields.get(m.group(1).lower(), [])
        if len(found) != 1:
            return m.group(0)
        return str(int(found[0])) if found[0].is_integer() else repr(found[0])

    swapped = re.sub(r"(?<![\w.\"'])([A-Za-z_]\w*)(?![\w(\"'])", number, value)
    rest = re.sub(r"[A-Za-z_]\w*\([^()]*\)", "0", swapped)  # calls are resolved next
    return swapped if swapped != value and re.fullmatch(r"[\d\s.+\-*/()%]+", rest) else value


def resolve_references(
    value: str, results: Sequence[Fact], tools: Sequence[str], *, fields: bool = False
) -> str:
    """An argument with the earlier calls it spells out replaced by their results:
    ``"lookup_population(country='Lunaria') / 100"`` becomes ``"640000 / 100"``. With
    ``fields``, a field of a JSON object result is taken too:
    ``order_details(order_id="B-2001")["total"]`` becomes ``213.4``."""
    if fields:
        value = _field_names(value, results)
    if not any(f"{t}(" in value for t in tools):
        return value
    for fact in results:
        if not fact.ok:
            continue
        pattern = rf"{re.escape(fact.call.name)}\(([^()]*)\)" + (_FIELD_ACCESS if fields else "")

        def swap(m: re.Match[str], fact: Fact = fact) -> str:
            inner = m.group(1).lower()
            args = [str(v).lower() for v in leaves(fact.call.parsed_arguments())]
            if not all(a in inner for a in args):
                return m.group(0)
            key = (m.group(2) or m.group(3)) if fields else None
            if key is None:
                return fact.content
            field = json_field(fact.content, key)  # a field of a JSON object result
            return m.group(0) if field is None or isinstance(field, dict | list) else str(field)

        value = re.sub(pattern, swap, value)
    return value


def rewrite_question(prompt: str, results: Sequence[Fact]) -> str:
    """The question with each part a call already worked out replaced by its result:
    "What is (15 + 27) * 3?" after ``calculator("15 + 27")`` = 42 is "What is (42) * 3?".

    Only arguments of two or more tokens found in the question as they are (spaces
    aside) are replaced; a single name or number is left where it is.
    """
    text = prompt
    for fact in results:
        if not fact.ok:
            continue
        for value in leaves(fact.call.parsed_arguments()):
            if not isinstance(value, str) or len(re.findall(r"[\w.]+", value)) < 2:
                continue
            spaced = r"\s*".join(re.escape(c) for c in re.sub(r"\s+", "", value))
            text = re.sub(spaced, fact.content.replace("\\", "\\\\"), text, count=1)
    return text


_PAIR = re.compile(r"(\w+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|(-?\d+(?:\.\d+)?))")


def inner_call(value: str, tools: Mapping[str, Any], call_id: str) -> ToolCall | None:
    """The first call of a known tool spelled out inside an argument, as a call:
    ``"lookup_population(country='Valdoria') + 5"`` holds
    ``lookup_population(country="Valdoria")``. None when there is none."""
    for m in re.finditer(r"\b(\w+)\(([^()]*)\)", value):
        name, inner = m.group(1), m.group(2)
        if name not in tools:
            continue
        args: dict[str, Any] = {}
        for key, double, single, number in _PAIR.findall(inner):
            args[key] = double or single if not number else float(number)
        if not args:
            quoted = re.fullmatch(r"\s*[\"']([^\"']*)[\"']\s*", inner)
            params = getattr(tools[name], "definition", None)
            props = list((params.parameters if params else {}).get("properties", {}))
            if quoted is None or len(props) != 1:
                continue
            args[props[0]] = quoted.group(1)
        return ToolCall(name, args, f"{call_id}_inner")
    return None


_VALUE_QUESTION = re.compile(
    r"(?:(?:in|on|at|from|to|for|of|by|with)\s+(?=wh))?"
    r"(?:what|which|who|whom|where|when|how\s+(?:many|much|far|long|old|tall|big))\b[^.!?\n]*\??",
    re.IGNORECASE,
)


def asks_for_value(prompt: str) -> bool:
    """True when the question asks for one value (a number, a name, a word): a single
    question of at most 20 words opening with what, which, who, where, when or how
    many (much, far, long, old...), or with a preposition before one of the first five
    ("On which continent ...", "In what year ..."). "How do I ...", "Why ..." and
    requests for a text ("Write ...", "Explain ...") are not."""
    text = prompt.strip()
    return len(text.split()) <= 20 and bool(_VALUE_QUESTION.fullmatch(text))


_SAYING = frozenset(
    """a an the is are was were be been being am it its it's they them their there
    this that these those he she his her we our you your i my has have had do does did
    called named known as of in on at to for by with from and or so than then
    answer final about approximately around roughly just only also located situated""".split()
)


def answer_span(answer: str, question: str) -> str | None:
    """The value a one-sentence answer gives, without the words it repeats from the
    question: "The tallest animal in the world is a giraffe." is "giraffe" for "What
    is the tallest animal in the world?"; for "how many" or "how much", the one
    number the answer says ("There are 8 planets in our solar system." is "8").

    The value is the one run of words left once the question's words and the words of
    saying it ("is", "the", "called", ...) are taken out, when it is one to three words
    long. None when the answer is not one short sentence, or when no run or more than
    one run of equal length is left (the answer is then kept whole).
    """
    text = answer.strip()
    if not text or len(text.split()) > 20 or re.search(r"[.!?]\s+\S", text) or "\n" in text:
        return None
    said = _NUMBER.findall(_unseparated(with_digits(text)))
    if re.match(r"\s*how\s+(?:many|much)\b", question, re.IGNORECASE):
        return said[0] if len(said) == 1 else None  # a count: the one number said
    asked = {w.lower() for w in re.findall(r"[A-Za-z0-9]+", question)}
    # Words sharing a question word's first five letters ("located" for "location")
    # repeat it, unless that leaves nothing: "children" answers "the plural of child".
    # A number of the question repeats it, whatever is around it ("12.5%" for 12.5%).
    given = set(_NUMBER.findall(_unseparated(with_digits(question))))
    return _one_run(text, asked, given, stems=True) or _one_run(text, asked, given, stems=False)


def _one_run(text: str, asked: set[str], given: set[str], *, stems: bool) -> str | None:
    asked_stems = {w[:5] for w in asked if len(w) >= 5} if stems else set()
    # the question's words spelled the other way count as repeated ("colour" and
    # "color"), and with stems, in another form too ("uses" for "use")
    spelled = {_spelled_us(w) for w in asked}
    runs: list[list[str]] = [[]]
    for token in re.findall(r"[^\s]+", text):
        word = token.strip(".,;:!?\"'()")
        key = word.lower()
        said = _NUMBER.findall(word)
        repeated = (
            not word
            or key in asked
            or key in _SAYING
            or (len(key) >= 5 and key[:5] in asked_stems)
            or (bool(said) and all(n in given for n in said))
            or _spelled_us(key) in spelled
            or (stems and any(same_word(_spelled_us(key), w) for w in spelled))
        )
        if repeated:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(word)
    runs = [r for r in runs if r]
    if not runs:
        return None
    longest = max(len(r) for r in runs)
    best = [r for r in runs if len(r) == longest]
    if len(best) != 1 or longest > 3:
        return None
    return " ".join(best[0])


def _spelled_us(word: str) -> str:
    """ "colour" as "color", "litres" as "liters": one spelling, for matching words."""
    return re.sub(r"(?<=[a-z]{3})our(s?)$", r"or\1", _us_spelling(word))


def structured(text: str) -> bool:
    """True when a result is JSON holding several values (an object or a list): a
    record to pick the answer from, not an answer."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return False
    try:
        value = json.loads(stripped)
    except JSON_DECODE_ERRORS:
        return False
    return isinstance(value, dict | list) and len(leaves(value)) > 1


def looks_like_call(text: str | None) -> bool:
    """True when an answer is a tool call in all but name: a JSON (or Python) object
    with ``name`` and ``arguments``, or an object of arguments alone, its keys quoted
    or not (``{name: calculator, arguments: {...}}``), its braces doubled or not
    (``{{"name": ...}}}``, as a template's escaping is copied)."""
    stripped = (text or "").strip()
    if not stripped.startswith("{"):
        return False
    return bool(re.match(r"""\{+\s*["']?\w+["']?\s*:""", stripped)) and (
        "arguments" in stripped or stripped.count(":") >= 2
    )


_ASKING = frozenset(
    """what which who whom whose where when why how many much long far old tall big
    does tell give name please could would should will there
    answer question number word sentence tool reply respond format value using help""".split()
)


def shares_subject(instructions: str, question: str) -> bool:
    """True when the instructions speak of what the question asks about: a word of
    four letters or more, not a word of asking or saying, in both ("When does the
    office open?" and "The office opens at 9."); plurals and verb endings aside."""

    def words(text: str) -> set[str]:
        out = set()
        for w in re.findall(r"[A-Za-z]{4,}", text.lower()):
            stem = re.sub(r"(?:es|s|ed|ing)$", "", w) if len(w) > 4 else w
            if w not in _SAYING and w not in _ASKING and stem not in _ASKING:
                out.add(stem)
        return out

    return bool(words(instructions) & words(question))


def renumbered(
    call: ToolCall, prompt: str, earlier: Sequence[Fact], terms: Sequence[str] = ()
) -> dict[str, Any] | None:
    """The call's arguments with its one number that the task does not hold replaced
    by the one number of the question no call has used: ``price(item="pens",
    quantity=5)`` for "What do 50 pens cost?" is ``quantity=50``. None unless there is
    exactly one of each (a number the model knows, "3600" seconds an hour, stays: it is
    inside an expression, not a number argument). A number inside an expression is put
    right only when it is a miscopy of the unused one (see :func:`_recopied`)."""
    args = call.parsed_arguments()
    if not isinstance(args, dict):
        return None
    prompt = with_digits(prompt)
    known = numbers(prompt) + [n for x in earlier if x.ok for n in numbers(x.content)]
    known += [float(n) for n in question_items(prompt, terms) if _NUMBER.fullmatch(n)]
    stray = [
        k
        for k, v in args.items()
        if isinstance(v, int | float)
        and not isinstance(v, bool)
        and not any(close(abs(float(v)), abs(n)) for n in known)
    ]
    if not stray:
        return _recopied(args, prompt, known, [x.call for x in earlier if x.ok], terms)
    if len(stray) != 1:
        return None
    rest = {k: v for k, v in args.items() if k != stray[0]}
    calls = [x.call for x in earlier if x.ok] + [ToolCall(call.name, rest, call.id)]
    left = [n for n in unused(prompt, calls, terms) if _NUMBER.fullmatch(n)]
    if len(left) != 1:
        return None
    value = float(left[0])
    return {**args, stray[0]: int(value) if value.is_integer() else value}


def _recopied(
    args: dict[str, Any],
    prompt: str,
    known: list[float],
    calls: list[ToolCall],
    terms: Sequence[str],
) -> dict[str, Any] | None:
    """The arguments with the one number of an expression that the task does not hold
    put right, when it is a copy of the one number of the question no call has used
    with one digit changed or two swapped ("2505 - 849" for "From 2500, take away
    849"); None otherwise. A number of another length stays (a factor the model knows)."""
    found = [
        (k, m)
        for k, v in args.items()
        if isinstance(v, str)
        for m in _DIGITS.finditer(v)
        if not any(float(m.group()) == abs(n) for n in known)  # exactly: 2505 is not 2500
    ]
    if len(found) != 1:
        return None
    key, match = found[0]
    left = [n for n in unused(prompt, calls, terms) if re.fullmatch(r"\d{3,}", n)]
    near = [n for n in left if _one_digit_off(match.group(), n)]
    if len(near) != 1:
        return None
    value = str(args[key])
    return {**args, key: value[: match.start()] + near[0] + value[match.end() :]}


_DIGITS = re.compile(r"(?<![\d.])\d{3,}(?![\d.])")


def _one_digit_off(a: str, b: str) -> bool:
    """Two numbers of the same length that differ in one digit, or by two neighbouring
    digits swapped."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    i, j = diff[0], diff[-1]
    return len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]


_LIST_JOINER = re.compile(
    r"\s*(?:,\s*(?:and|or)\b|,|\band\b|\bor\b|"
    r"(?:\b(?:have|has|had|is|are|was|were|does|do|did)\s+)?\bthan(?:\s+(?:in|of|for|at|on))?\b|"
    r"\bvs\.?|\bversus\b|&)\s*",
    re.IGNORECASE,
)
_NOT_NAMES = _FILLER | frozenset(
    """all also both each either neither other others some what who how much many more
    most less fewer combined together total put their them these those one two three
    people population populations please respectively""".split()
)
_LIST_ITEM = re.compile(r"[A-Za-z][\w'-]*(?:\s+[A-Z][\w'-]*){0,2}")
_LIST_START = re.compile(
    r"(?:^|[,:;(]|\b(?:of|between|among|from|in|for|including|like|to|and|or))\s*$", re.I
)


def _whole_word(text: str, value: str) -> re.Match[str] | None:
    """Where ``value`` stands in ``text`` as whole words, in any letter case."""
    return re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text, re.IGNORECASE)


def cased_like(word: str, example: str) -> str:
    """The word with a capital first letter when the example has one ("norrhaven" as
    "Norrhaven" beside "Valdoria"), else as it is."""
    return word[:1].upper() + word[1:] if example[:1].isupper() else word


def siblings(prompt: str, value: str) -> list[str]:
    """The other items of the list in which a question names ``value``: "Osterwick" and
    "Norrhaven" for "Valdoria" in "Which of Valdoria, Osterwick and Norrhaven ...", and
    "norrhaven" for "estrevia" in "how many more live in estrevia than in norrhaven".

    A list is items joined by "and", "or", "than", "vs", or by commas followed by a
    last "and" or "or" ("A, B and C"); an item is one word, or capitalised words; a
    capitalised value has capitalised siblings only; a word of asking, counting or
    joining ends the list, and an item before a comma must start the list or follow
    a comma ("fewer inhabitants, estrevia or lunaria" is a list of two). Empty when
    the value is not in the question or stands alone.
    """
    text = value.strip()
    if len(text) < 2 or _NUMBER.fullmatch(text):
        return []
    found = _whole_word(prompt, text)
    if found is None:
        return []
    named = found.group()[:1].isupper()

    def item(word: str) -> bool:
        first = word.split(maxsplit=1)[0]
        return (
            first.lower() not in _NOT_NAMES
            and not re.match(rf"(?:{_STEP_VERBS})\b", first, re.IGNORECASE)
            and (first[:1].isupper() or not named)
            and word.lower() != text.lower()
        )

    right: list[tuple[str, bool]] = []  # each item, and whether a bare comma led to it
    at = found.end()
    while (joiner := _LIST_JOINER.match(prompt, at)) and joiner.end() > at:
        got = _LIST_ITEM.match(prompt, joiner.end())
        if got is None:
            break
        word = got.group() if named else got.group().split(maxsplit=1)[0]
        if not item(word):
            break
        right.append((word, joiner.group().strip() == ","))
        at = got.start() + len(word)
    while right and right[-1][1]:  # "A, B" with no "and" or "or" to end it is no list
        right.pop()
    left: list[str] = []
    before = prompt[: found.start()]
    while True:
        joiner = re.search(rf"({_LIST_JOINER.pattern})$", before, re.IGNORECASE)
        if joiner is None or not joiner.group():
            break
        head = before[: joiner.start()]
        got = re.search(r"([A-Za-z][\w'-]*)$", head)
        if got is None or not item(got.group(1)):
            break
        if joiner.group().strip() == "," and not _LIST_START.search(head[: got.start()]):
            break
        left.insert(0, got.group(1))
        before = head[: got.start()]
    return list(dict.fromkeys([*left, *(w for w, _ in right)]))


_LARGER = frozenset(
    """more most larger largest bigger biggest greater greatest higher highest populous
    hotter hottest warmer warmest heavier heaviest older oldest taller tallest longer longest
    richer richest costlier costliest pricier priciest""".split()
)
_SMALLER = frozenset(
    """fewer fewest less least smaller smallest lower lowest colder coldest cooler coolest
    lighter lightest younger youngest shorter shortest cheaper cheapest""".split()
)
_WHICH = re.compile(r"\b(?:which|who|whichever)\b", re.IGNORECASE)
_HOW_MUCH = re.compile(r"\bhow\s+(?:many|much|far)\b|\bby\s+how\b|\bwhat\s+is\s+the\b", re.I)


def compared(prompt: str, results: Sequence[Fact]) -> str | None:
    """The name a "which" question picks by size, read off one number per name.

    "Which is more populous: Valdoria or Brisalta?" with a number from one tool for each
    of the names is the name whose number is the largest; "which has the fewest ..." the
    smallest. The direction comes from one comparing word ("more", "fewest", "warmer",
    "cheaper"; "less populous" is "less"); None when the question does not ask "which",
    asks how much, names no direction or both, or when some name has no number, or two
    names share the winning number.
    """
    if not _WHICH.search(prompt) or _HOW_MUCH.search(prompt):
        return None
    words = re.findall(r"[a-z]+", prompt.lower())
    larger = [w for w in words if w in _LARGER]
    smaller = [w for w in words if w in _SMALLER]
    if smaller and larger == ["populous"]:  # "less populous", "the least populous"
        larger = []
    if bool(larger) == bool(smaller):
        return None
    by_name: dict[str, float] = {}
    tools: set[str] = set()
    for r in results:
        if not r.ok or not _NUMBER.fullmatch(_unseparated(r.content.strip())):
            continue
        names = [
            v
            for v in leaves(r.call.parsed_arguments())
            if isinstance(v, str) and _whole_word(prompt, v.strip())
        ]
        if len(names) != 1:
            continue
        tools.add(r.call.name)
        by_name[names[0].strip()] = numbers(r.content)[0]
    if len(by_name) < 2 or len(tools) != 1:
        return None
    first = next(iter(by_name))
    listed = {first.lower(), *(s.lower() for s in siblings(prompt, first))}
    if {n.lower() for n in by_name} != listed:
        return None  # every name of the question's list, and only those, has a number
    pick = max if larger else min
    best = pick(by_name.values())
    winners = [n for n, v in by_name.items() if v == best]
    return winners[0] if len(winners) == 1 else None


_FUNCTION_WORDS = (
    _FILLER
    | _SAYING
    | _ASKING
    | _NOT_NAMES
    | frozenset(
        """s me us what's whats who's where's which's tell show find look up get give
        know want need like would could can may might must shall should do please
        i'd i'm i've let let's ok okay thanks thank hi hello hey""".split()
    )
)


def free_words(prompt: str, explained: str) -> list[str]:
    """The words of a question that are neither words of asking or joining nor words a
    tool's own text explains: what is left to fill an argument with ("norrhaven" in
    "norrhaven - what's the capital?" for a tool that looks up "the capital city of a
    country"). Numbers are not words here; each word once, in the question's order and
    letter case, a possessive without its "'s"."""
    known = {w for w in re.findall(r"[a-z]+", explained.lower()) if len(w) >= 3}
    known |= {w[:_STEM] for w in known if len(w) > _STEM}
    out: list[str] = []
    for m in re.finditer(r"[A-Za-z][A-Za-z-]*(?:'s)?", prompt):
        word = m.group().removesuffix("'s")
        low = word.lower()
        if (
            len(word) < 3
            or low in _FUNCTION_WORDS
            or low in known
            or (len(low) > _STEM and low[:_STEM] in known)
        ):
            continue
        if all(w.lower() != low for w in out):
            out.append(word)
    return out


_DIFFERENCE = re.compile(
    r"\bhow\s+(?:many|much)\s+(?:\w+\s+){0,2}?(?:more|fewer|less|higher|lower|bigger|smaller|"
    r"larger|greater|longer|shorter|older|younger|warmer|colder|hotter|cooler)\b|"
    r"\bby\s+how\s+(?:much|many)\b|\bdifference\s+between\b|\bhow\s+far\s+apart\b|"
    # a count left over: never below zero ("how much" money left may be)
    r"\bhow\s+many\s+(?:[\w-]+\s+){0,4}?(?:left|remain|remains|remaining)\b",
    re.IGNORECASE,
)


def unsigned_difference(prompt: str, answer: str) -> str | None:
    """The size of a negative number answering a question that asks how much more, less
    or apart ("How many more bolts than nuts?", "by how much ...", "the difference
    between ...") or how many are left ("how many gaskets are left in stock?"): such a
    question asks for a gap or a count, which is never negative; a negative answer is
    the subtraction done the other way round. None for any other answer."""
    text = answer.strip()
    if not _DIFFERENCE.search(prompt) or not _NUMBER.fullmatch(text) or not text.startswith("-"):
        return None
    return text[1:]


_AROUND = ".,;:!?()[]{}\"'\u2018\u2019\u201c\u201d"  # punctuation around a word
_QUOTED = re.compile(r"""["'`]([^"'`\s]{2,40})["'`]""")


def documented_ids(description: str, param: str, schema: dict[str, Any]) -> list[str]:
    """The identifiers a tool documents for one of its string arguments: quoted
    examples in the argument's own description or schema (``examples``), and the
    value the tool's description shows it given (``order_details(order_id="A-1042")``),
    each mixing letters and digits (names, numbers, dates and codes are not ids)."""
    found = _QUOTED.findall(str(schema.get("description", "")))
    found += [str(x) for x in schema.get("examples", []) if isinstance(x, str | int)]
    found += re.findall(rf"""\b{re.escape(param)}\s*=\s*["']([^"'\s]{{2,40}})["']""", description)
    return [x for x in dict.fromkeys(found) if re.search(r"[A-Za-z]", x) and re.search(r"\d", x)]


def _id_pattern(example: str) -> re.Pattern[str]:
    """Any value of an example id's shape: its runs of letters and of digits of any
    length, its other characters as they are ("A-1042" matches "b-2001", "AB-7")."""
    parts = re.findall(r"[A-Za-z]+|\d+|[^A-Za-z\d]", example)
    shape = "".join(
        "[A-Za-z]+" if p[0].isalpha() else r"\d+" if p[0].isdigit() else re.escape(p) for p in parts
    )
    return re.compile(shape)


def _cased_as(value: str, example: str) -> str:
    letters = [c for c in example if c.isalpha()]
    if letters and all(c.isupper() for c in letters):
        return value.upper()
    if letters and all(c.islower() for c in letters):
        return value.lower()
    return value


def shaped_ids(
    prompt: str, documented: dict[tuple[str, str], list[str]]
) -> list[tuple[str, str, str]]:
    """The question's values that have the shape of exactly one tool argument's
    documented id, as ``(tool, argument, value)`` in the question's order: "#B-2001"
    and "a-1043" for an ``order_id`` documented as "A-1042" (a leading "#" and a
    trailing "'s" are not part of the value; letters are cased as the example's)."""
    shapes = {key: [(_id_pattern(x), x) for x in examples] for key, examples in documented.items()}
    out: list[tuple[str, str, str]] = []
    for raw in prompt.split():
        token = re.sub(r"(?:'s|\u2019s)$", "", raw.strip(_AROUND))
        owners: dict[tuple[str, str], str] = {}
        for key, patterns in shapes.items():
            for pattern, example in patterns:
                value = token if example.startswith("#") else token.lstrip("#")
                if pattern.fullmatch(value):
                    owners[key] = _cased_as(value, example)
                    break
        if len(owners) == 1:
            (tool, arg), value = next(iter(owners.items()))
            if all(v.lower() != value.lower() for _, _, v in out):
                out.append((tool, arg, value))
    return out


def field_value(answer: str, prompt: str, result: str) -> str | None:
    """The one value of a JSON result that a sentence answer gives: "processing" for
    "The order A-1043 is currently processing." (the order's id is the question's own).
    None unless the answer says more than the value and exactly one of the result's
    values (text of two characters or more, or a number), not in the question, stands
    in it as whole words."""
    try:
        data = json.loads(result)
    except JSON_DECODE_ERRORS:
        return None
    if not isinstance(data, dict | list):
        return None
    said = answer.strip().rstrip(".!")
    found: dict[str, str] = {}
    said_numbers = numbers(said)
    asked_numbers = numbers(prompt)
    for leaf in leaves(data):
        if isinstance(leaf, bool) or leaf is None:
            continue
        if isinstance(leaf, int | float):
            number = float(leaf)
            if any(close(number, n) for n in said_numbers) and not any(
                close(number, n) for n in asked_numbers
            ):
                found[str(number)] = json.dumps(leaf)
            continue
        text = str(leaf).strip()
        if len(text) >= 2 and _whole_word(said, text) and not _whole_word(prompt, text):
            found[text.lower()] = text
    if len(found) != 1:
        return None
    value = next(iter(found.values()))
    return None if same_value(said, value) else value


def _name_stems(tool: str) -> set[str]:
    """The stems of a tool name's words (``lookup_capital``, ``lookupCapital``)."""
    return _stems(re.sub(r"([a-z])([A-Z])", r"\1 \2", tool).replace("_", " "))


def asked_of(prompt: str, tools: Sequence[str], besides: Sequence[str]) -> str | None:
    """The one tool, other than ``besides``, whose name the question speaks of ("its
    capital" and ``lookup_capital``; the words of the ``besides`` tools' names do not
    count: "lookup" is in both), or None."""
    taken = set().union(*(_name_stems(t) for t in besides)) if besides else set()
    asked = _stems(prompt)
    found = [t for t in tools if t not in besides and (_name_stems(t) - taken) & asked]
    return found[0] if len(found) == 1 else None


def named_tools(prompt: str, tools: Sequence[str]) -> list[str]:
    """The tools the question names by a word of its name that no other tool's name
    has ("the capital of Lunaria" and ``lookup_capital`` beside ``lookup_population``:
    "lookup" names neither)."""
    stems = {t: _name_stems(t) for t in tools}
    asked = _stems(prompt)
    return [
        t
        for t in tools
        if (stems[t] - set().union(*(v for k, v in stems.items() if k != t))) & asked
    ]


_WITH_RESULT = re.compile(
    r"^\s*([\d\s.,+\-*/()%^]*[+\-*/%^][\d\s.,+\-*/()%^]*?)\s*=\s*-?[\d.,]+\.?\s*$"
)


def without_result(value: str) -> str:
    """An arithmetic expression without the result the model wrote after it:
    ``"640000 - 0.25 * 640000 = 400000."`` is ``"640000 - 0.25 * 640000"``; any other
    text as it is."""
    m = _WITH_RESULT.match(value)
    return m.group(1).strip() if m else value


_MEAN = re.compile(r"\b(?:mean|average|avg)\b", re.IGNORECASE)


def averaged(value: str, prompt: str) -> str:
    """A sum of the question's numbers, for a question that asks for their mean or
    average, divided by how many there are: ``"245 + 310 + 287 + 198"`` for "mean of
    245, 310, 287 and 198?" is ``"(245 + 310 + 287 + 198) / 4"``. Anything else (a
    sum that leaves out one of the numbers, a division already there) as it is."""
    if not _MEAN.search(prompt) or not re.fullmatch(r"[\d\s.,+()]+", value) or "+" not in value:
        return value
    terms = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", _unseparated(value))]
    asked = numbers(with_digits(prompt))
    if len(terms) < 2 or sorted(terms) != sorted(asked):
        return value
    return f"({value.strip()}) / {len(terms)}"


def grounded_enums(
    arguments: dict[str, Any], prompt: str, enums: dict[str, list[Any]]
) -> dict[str, Any]:
    """The arguments with each choice the question does not name replaced by the one
    choice of that argument it does name: ``what="letters"`` for "word count: '...'"
    is ``"words"`` when ``what`` is one of letters, words and vowels. Quoted text is
    the tool's input, not the question's words, and does not count."""
    said = _words(_QUOTE.sub(" ", prompt))
    out = dict(arguments)
    for key, choices in enums.items():
        value = arguments.get(key)
        if not isinstance(value, str):
            continue
        texts = [c for c in choices if isinstance(c, str)]

        def named(choice: str) -> bool:
            parts = _words(choice)
            return bool(parts) and all(any(same_word(p, w) for w in said) for p in parts)

        if named(value):
            continue
        meant = [c for c in texts if named(c)]
        if len(meant) == 1:
            out[key] = meant[0]
    return out


def listed_results(prompt: str, results: Sequence[Fact]) -> list[str] | None:
    """The text results of one tool, one for each item of a list the question names
    ("the capitals of Kethmoor and Quenland"), in the list's order; None unless every
    item has exactly one and the question asks for all of them (not "which", and not
    a number: numbers are compared or combined)."""
    if _WHICH.search(prompt):
        return None
    by_item: dict[str, str] = {}
    tools: set[str] = set()
    for r in results:
        args = [v for v in leaves(r.call.parsed_arguments()) if isinstance(v, str)]
        if not r.ok or len(args) != 1 or numbers(r.content) or structured(r.content):
            continue
        if not _whole_word(prompt, args[0].strip()):
            continue
        tools.add(r.call.name)
        by_item.setdefault(args[0].strip().lower(), r.content.strip())
    if len(tools) != 1 or len(by_item) < 2:
        return None
    first = next(iter(by_item))
    items = [first, *(x.lower() for x in siblings(prompt, first))]
    if set(items) != set(by_item):
        return None
    order = sorted(items, key=lambda x: m.start() if (m := _whole_word(prompt, x)) else 0)
    return [by_item[x] for x in order]
