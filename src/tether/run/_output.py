"""Structured output: validating the final answer against the agent's output type."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from tether._errors import ConfigError
from tether.tools._tool import format_validation_error

__all__ = ["OutputSpec"]

T = TypeVar("T")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


@dataclass(slots=True)
class OutputSpec(Generic[T]):
    """How to turn a model's final text into the output type.

    ``str`` takes the text as it is. Any other type (a pydantic model, a dataclass,
    ``int``, ``list[str]`` ...) is validated by pydantic: the text is read as JSON,
    and, for simple types, as a plain value when it is not JSON (``"391"`` -> 391).
    """

    output_type: type[T]
    adapter: TypeAdapter[T] | None
    schema: dict[str, Any] | None

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
        return cls(output_type, adapter, schema)

    def parse(self, text: str) -> tuple[bool, Any]:
        """``(True, value)`` when the text is a valid answer, else ``(False, errors)``."""
        if self.adapter is None:
            return True, text
        body = text.strip()
        fenced = _FENCE.match(body)
        if fenced:
            body = fenced.group(1)
        try:
            return True, self.adapter.validate_json(body)
        except ValidationError as json_err:
            if self.schema is not None and self.schema.get("type") in (
                "integer",
                "number",
                "boolean",
                "string",
            ):
                try:
                    return True, self.adapter.validate_python(body)
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
            return True, self.adapter.validate_python(value)
        except ValidationError as err:
            return False, format_validation_error(err)
