"""Secret tool parameters: filled by tether, never written by the model, never journaled.

A parameter annotated ``Secret[str]`` (or ``Annotated[str, Secret(env="DB_PASSWORD")]``,
or pydantic's ``SecretStr``) is left out of the schema the model sees. At each call
tether fills it from the run's deps (a mapping key or an attribute of the parameter's
name, or ``key``), else from the environment variable ``env``. The value reaches the
tool; the journal, the stream, the CLI and traces only ever see ``***`` where a tool's
result or error repeats it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Annotated, Any, get_args, get_origin

from pydantic import SecretBytes, SecretStr

__all__ = ["REDACTED", "Secret", "SecretParam", "forms", "redact", "secret_of"]

REDACTED = "***"


class Secret:
    """Marks a tool parameter as secret.

    ``Secret[str]`` is ``Annotated[str, Secret()]``: the value comes from the run's
    deps under the parameter's name. ``Secret(key=..., env=...)`` names another deps
    key, and an environment variable to read when the deps do not have it.

    Example:
        ```python
        def login(user: str, password: Secret[str]) -> str: ...

        agent.run("log in as ada", deps={"password": "..."})
        ```
    """

    __slots__ = ("env", "key")

    def __init__(self, *, key: str | None = None, env: str | None = None) -> None:
        self.key = key
        self.env = env

    def __class_getitem__(cls, item: Any) -> Any:
        return Annotated[item, cls()]

    def __repr__(self) -> str:
        return f"Secret(key={self.key!r}, env={self.env!r})"


class SecretParam:
    """One secret parameter of a tool: where its value comes from, and its type."""

    __slots__ = ("env", "key", "name", "wrap")

    def __init__(self, name: str, marker: Secret, wrap: type[Any] | None) -> None:
        self.name = name
        self.key = marker.key or name
        self.env = marker.env
        self.wrap = wrap

    def value(self, deps: Any) -> Any:
        """The parameter's value for a call, or None when no source has it."""
        found: Any = None
        if isinstance(deps, Mapping):
            found = deps.get(self.key)
        elif deps is not None:
            found = getattr(deps, self.key, None)
        if found is None and self.env:
            found = os.environ.get(self.env)
        if found is None:
            return None
        if isinstance(found, SecretStr | SecretBytes):
            found = found.get_secret_value()
        return self.wrap(found) if self.wrap is not None else found

    def where(self) -> str:
        """Where the value is looked for, for an error message."""
        places = f"the run's deps under {self.key!r}"
        return f"{places} or ${self.env}" if self.env else places


def secret_of(name: str, annotation: Any) -> SecretParam | None:
    """The secret parameter an annotation declares, if it declares one."""
    if annotation in (SecretStr, SecretBytes):
        return SecretParam(name, Secret(), annotation)
    if get_origin(annotation) is Annotated:
        base, *extras = get_args(annotation)
        for extra in extras:
            if isinstance(extra, Secret) or extra is Secret:
                marker = extra if isinstance(extra, Secret) else Secret()
                wrap = base if base in (SecretStr, SecretBytes) else None
                return SecretParam(name, marker, wrap)
    return None


def plain(value: Any) -> str | None:
    """The text of a secret value, to redact it wherever it is repeated (a number's
    digits as well: ``Secret[int]``)."""
    if isinstance(value, SecretStr | SecretBytes):
        value = value.get_secret_value()
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value else None


def forms(text: str) -> set[str]:
    """The ways a tool may repeat a secret text: as is, escaped in JSON (ASCII-only or
    not) and as Python writes it in a ``repr``."""
    found = {text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
    found.add(repr(text)[1:-1])
    found.discard("")
    return found


def redact(text: str, secrets: set[str] | frozenset[str]) -> str:
    """``text`` with every secret value replaced by ``***`` (the longest first, so a
    secret that holds another is hidden whole)."""
    for s in sorted(secrets, key=len, reverse=True):
        if s in text:
            text = text.replace(s, REDACTED)
    return text
