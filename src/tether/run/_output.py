"""Structured output: validating the final answer against the agent's output type."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from tether._errors import ConfigError
from tether.tools._tool import format_validation_error

__all__ = ["OutputSpec"]

T = TypeVar("T")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_SCALARS = frozenset({"integer", "number", "boolean", "string", "null"})
_SCHEMA_DEPTH = 8
"""How deep unions of references are followed to tell a scalar type (they are shallow)."""


@dataclass(slots=True)
class OutputSpec(Generic[T]):
    """How to turn a model's final text into the output type.

    ``str`` takes the text as it is. Any other type (a pydantic model, a dataclass,
    ``int``, ``list[str]`` ...) is validated by pydantic: the text is read as JSON,
    and, for simple types and unions of them (``int | str``, ``str | None``), as a
    plain value when it is not JSON (``"391"`` -> 391, ``hello`` -> ``"hello"``).

    A number that is not finite (NaN, an infinity), anywhere in the answer, makes it
    invalid: the journal is JSON, which cannot hold one, so a resumed run would not
    get back the answer the live run returned.
    """

    output_type: type[T]
    adapter: TypeAdapter[T] | None
    schema: dict[str, Any] | None
    bare: bool = False
    """Whether an answer that is not JSON may be read as a plain value."""

    @classmethod
    def of(cls, output_type: type[T]) -> OutputSpec[T]:
        """The spec of an output type."""
        if output_type is str:
            return cls(output_type, None, None)
        try:
            adapter = TypeAdapter(output_type)
            schema = adapter.json_schema()
        except Exception as exc:
            raise ConfigError(
                f"output_type {output_type!r} cannot be validated by pydantic: {exc}"
            ) from exc
        return cls(output_type, adapter, schema, _scalar(schema, schema.get("$defs", {})))

    def parse(self, text: str) -> tuple[bool, Any]:
        """``(True, value)`` when the text is a valid answer, else ``(False, errors)``."""
        if self.adapter is None:
            return True, text
        body = text.strip()
        fenced = _FENCE.match(body)
        if fenced:
            body = fenced.group(1)
        try:
            return _finite(self.adapter.validate_json(body))
        except ValidationError as json_err:
            if self.bare:
                try:
                    return _finite(self.adapter.validate_python(body))
                except ValidationError:
                    pass
            return False, format_validation_error(json_err)

    def accept(self, value: Any) -> tuple[bool, Any]:
        """``(True, value)`` when a value another agent produced is a valid answer of this
        type (a string is parsed as a final text would be), else ``(False, errors)``."""
        if isinstance(value, str):
            return self.parse(value)
        if self.adapter is None:
            return True, str(value)
        try:
            return _finite(self.adapter.validate_python(value))
        except ValidationError as err:
            return False, format_validation_error(err)


def _scalar(schema: Mapping[str, Any], defs: Mapping[str, Any], depth: int = 0) -> bool:
    """Whether a JSON schema is a scalar type (a number, a string, a boolean, null, an
    enum of them) or a union of scalar types: such an answer may be written bare."""
    if depth > _SCHEMA_DEPTH:
        return False
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rpartition("/")[2]) if ref.startswith("#/$defs/") else None
        return isinstance(target, Mapping) and _scalar(target, defs, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind in _SCALARS
    if isinstance(kind, list):
        return bool(kind) and all(k in _SCALARS for k in kind)
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return isinstance(values, list) and not any(isinstance(v, dict | list) for v in values)
    branches = schema.get("anyOf") or schema.get("oneOf")
    return (
        isinstance(branches, list)
        and bool(branches)
        and all(isinstance(b, Mapping) and _scalar(b, defs, depth + 1) for b in branches)
    )


def _finite(value: Any) -> tuple[bool, Any]:
    """``(True, value)``, or ``(False, errors)`` when a number in it is not finite."""
    bad = _non_finite(value)
    if bad is None:
        return True, value
    place, number = bad
    return False, (
        f"- {place or '(answer)'}: {number!r} is not a finite number; NaN and infinity "
        "are not accepted (JSON cannot hold them): give a finite number"
    )


def _non_finite(value: Any) -> tuple[str, Any] | None:
    """The place (``items.0.price``) and value of the first number in ``value`` that is
    NaN or an infinity, else None. Walks what the output types hold: models (whatever
    their own config says of NaN), dataclasses, mappings (keys too) and collections."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        place, item = stack.pop()
        if isinstance(item, float | Decimal | complex):
            if not _is_finite(item):
                return place, item
            continue
        stack.extend(reversed(list(_children(place, item))))
    return None


def _is_finite(number: float | Decimal | complex) -> bool:
    if isinstance(number, Decimal):
        return number.is_finite()
    if isinstance(number, complex):
        return math.isfinite(number.real) and math.isfinite(number.imag)
    return math.isfinite(number)


def _children(place: str, item: Any) -> Iterator[tuple[str, Any]]:
    """The values inside ``item``, each with its place."""
    at = f"{place}." if place else ""
    if isinstance(item, str | bytes | bytearray | int):
        return
    if isinstance(item, BaseModel):
        fields = dict(item.__dict__)
        fields.update(item.__pydantic_extra__ or {})
        for name, v in fields.items():
            yield f"{at}{name}", v
    elif dataclasses.is_dataclass(item) and not isinstance(item, type):
        for f in dataclasses.fields(item):
            yield f"{at}{f.name}", getattr(item, f.name, None)
    elif isinstance(item, Mapping):
        for k, v in item.items():
            yield f"{at}(key {k!r})", k
            yield f"{at}{k}", v
    elif isinstance(item, Sequence | Set):  # lists, tuples, sets, deques
        for i, v in enumerate(item):
            yield f"{at}{i}", v
