"""Secret tool parameters: filled by tether, never written by the model, never journaled.

A parameter annotated ``Secret[str]`` (or ``Annotated[str, Secret(env="DB_PASSWORD")]``,
or pydantic's ``SecretStr``) is left out of the schema the model sees. At each call
tether fills it from the run's deps (a mapping key or an attribute of the parameter's
name, or ``key``), else from the environment variable ``env``. The value reaches the
tool; the journal, the stream, the CLI and traces only ever see ``***`` where a tool's
result or error repeats it.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import SecretBytes, SecretStr

from tether._errors import ConfigError

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


_SECRET_TYPES = (SecretStr, SecretBytes)
_UNIONS = (Union, UnionType)


def secret_of(name: str, annotation: Any) -> SecretParam | None:
    """The secret parameter an annotation declares, if it declares one.

    ``Secret[str] | None``, ``Optional[SecretStr]`` and an ``Annotated`` that wraps
    them are secret too: the model must never see or write a parameter whose type says
    it is secret, however the type is spelled.

    Raises:
        ConfigError: a union mixes a secret with a type the model would write
            (``Secret[str] | int``), or ``Secret`` is used where tether cannot fill it
            (bare, or inside ``list[...]``).
    """
    if annotation is Secret:
        raise ConfigError(
            f"parameter {name!r} is annotated Secret without a type: write Secret[str] "
            "(or the type the tool takes, e.g. Secret[int])"
        )
    if annotation in _SECRET_TYPES:
        return SecretParam(name, Secret(), annotation)
    if get_origin(annotation) is Annotated:
        base, *extras = get_args(annotation)
        for extra in extras:
            if isinstance(extra, Secret) or extra is Secret:
                marker = extra if isinstance(extra, Secret) else Secret()
                return SecretParam(name, marker, _wrap(base))
        return secret_of(name, base)
    if get_origin(annotation) in _UNIONS:
        return _secret_member(name, annotation)
    if _mentions_secret(get_args(annotation)):
        raise ConfigError(
            f"parameter {name!r}: Secret marks a whole parameter, which tether fills from "
            "the run's deps; it cannot sit inside another type. Make each secret a "
            "parameter of its own (password: Secret[str]), or pass the values in the "
            "run's deps and read them from the RunContext"
        )
    return None


def _secret_member(name: str, union: Any) -> SecretParam | None:
    """The secret a union declares: ``Secret[str] | None`` is a secret that may be
    absent; a secret next to a type the model would write is refused, as ambiguous."""
    members = [m for m in get_args(union) if m is not NoneType]
    found = [s for s in (secret_of(name, m) for m in members) if s is not None]
    if not found:
        return None
    if len(found) == 1 and len(members) == 1:
        return found[0]
    raise ConfigError(
        f"parameter {name!r} mixes a secret with other types ({_spelled(union)}): tether "
        "fills a secret from the run's deps and the model never writes it, so the other "
        "types could never be used. Annotate it with one secret type, optionally with "
        "None (Secret[str] | None, SecretStr | None), and add a separate parameter for "
        "what the model writes"
    )


def _wrap(base: Any) -> type[Any] | None:
    """The pydantic secret type a value is wrapped in, when the parameter asks for one
    (``SecretStr``, or ``SecretStr | None``)."""
    members = [m for m in get_args(base) if m is not NoneType]
    if get_origin(base) in _UNIONS and len(members) == 1:
        base = members[0]
    wrap: type[Any] | None = base if base in _SECRET_TYPES else None
    return wrap


def _mentions_secret(args: Any) -> bool:
    """Whether a type's arguments hold a ``Secret`` marker at any depth."""
    for arg in args:
        if isinstance(arg, Secret) or arg is Secret:
            return True
        inner = arg if isinstance(arg, list | tuple) else get_args(arg)
        if inner and _mentions_secret(inner):  # an Annotated's args hold its metadata
            return True
    return False


def _spelled(annotation: Any) -> str:
    """A type as the user wrote it, more or less (without ``typing.``)."""
    return repr(annotation).replace("typing.", "").replace("pydantic.types.", "")


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


SHORT_SECRET = 8
"""Secrets shorter than this are hidden where they stand as a word of their own."""


@functools.lru_cache(maxsize=256)
def _standalone(secret: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![^\W_]){re.escape(secret)}(?![^\W_])")


def redact(text: str, secrets: set[str] | frozenset[str]) -> str:
    """``text`` with every secret value replaced by ``***`` (the longest first, so a
    secret that holds another is hidden whole).

    A secret of at least :data:`SHORT_SECRET` characters is hidden wherever it appears.
    A shorter one (a PIN, ``Secret[int]`` of ``1``) is hidden where it is not part of a
    longer run of letters and digits: ``pin 4242`` shows ``pin ***``, while ``14242``
    and ``2024`` are left as they are, so a short secret does not blank every number or
    word that happens to hold it.
    """
    for s in sorted(secrets, key=len, reverse=True):
        if s in text:
            if len(s) >= SHORT_SECRET:
                text = text.replace(s, REDACTED)
            else:
                text = _standalone(s).sub(REDACTED, text)
    return text
