"""Opening a journal from a path or a URL, as the CLI and ``$TETHER_DB`` name it."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tether._errors import ConfigError, JournalError

from ._postgres import PostgresStore
from ._sqlite import SQLiteStore, default_path
from ._store import JournalStore

__all__ = ["open_store"]

_PG_SCHEMES = ("postgresql://", "postgres://")


def open_store(
    target: str | Path | None = None, *, read_only: bool = False, create: bool = True
) -> JournalStore:
    """The journal at ``target``: a ``postgresql://`` URL, or a SQLite file path.

    ``None`` means ``$TETHER_DB`` (a path or a URL), else the default SQLite file. A
    URL may name the schema tether's tables live in with ``?tether_schema=NAME``
    (``tether`` by default).
    ``read_only`` opens a SQLite journal without changing it (PostgreSQL is read
    through the same connection either way); ``create=False`` refuses a SQLite path
    where there is no journal yet instead of making one (a mistyped path).

    Raises:
        ConfigError: a URL of a database tether does not support.
        JournalError: the file is not a tether journal, or cannot be opened, or
            (``read_only`` or ``create=False``) does not exist.
    """
    spec = str(target) if target is not None else os.environ.get("TETHER_DB") or ""
    if spec.startswith(_PG_SCHEMES):
        dsn, schema = _schema_of(spec)
        return PostgresStore(dsn, schema=schema) if schema else PostgresStore(dsn)
    if "://" in spec:
        raise ConfigError(
            f"{spec.split('://', 1)[0]}:// journals are not supported; give a SQLite file "
            "path or a postgresql:// URL"
        )
    path = Path(spec) if spec else default_path()
    if not create and not path.is_file():
        raise JournalError(f"there is no journal at {path}")
    return SQLiteStore(path, read_only=read_only)


def _schema_of(url: str) -> tuple[str, str | None]:
    """The URL without its ``tether_schema`` query parameter, and that parameter."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "tether_schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "tether_schema"])
    return urlunsplit(parts._replace(query=rest)), schema
