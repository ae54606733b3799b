"""What submitters and workers agree on: DBOS's application name and version, the
workflow's name, each agent's queue, and where DBOS keeps its tables."""

from __future__ import annotations

import re
from typing import Any

from tether._errors import ConfigError
from tether.journal import JournalStore, PostgresStore

__all__ = ["APP", "APP_VERSION", "WORKFLOW", "dbos_schema", "dsn_of", "queue_of"]

APP = "tether"
"""DBOS's application name: the same in every process."""

APP_VERSION = "tether-scale-1"
"""Pinned: DBOS dequeues and recovers only workflows of the same version."""

WORKFLOW = "tether.run"
"""The one workflow: execute (or resume) a journaled run."""


def queue_of(agent: Any, queue: str | None = None) -> str:
    """An agent's queue: ``tether.<agent name>`` unless one is named."""
    name = queue or f"tether.{agent.name}"
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", name):
        raise ConfigError(f"a queue's name is letters, digits and _.:- , got {name!r}")
    return name


def dsn_of(store: JournalStore | None) -> str:
    """The PostgreSQL URL of a journal store (DBOS keeps its tables in the same database)."""
    if not isinstance(store, PostgresStore):
        raise ConfigError(
            "runs spread over workers need a PostgreSQL journal: "
            "Agent(..., store=PostgresStore('postgresql://...'))"
        )
    return store.dsn


def dbos_schema(store: JournalStore) -> str:
    """Where DBOS keeps its tables: beside the journal's schema."""
    assert isinstance(store, PostgresStore)
    return f"{store.schema}_dbos"
