"""What submitters and workers agree on: DBOS's application name and version, the
workflow's name, each agent's queue, and where DBOS keeps its tables."""

from __future__ import annotations

import re
from typing import Any

from tether._errors import ConfigError
from tether.journal import JournalStore, PostgresStore

__all__ = [
    "APP",
    "APP_VERSION",
    "WORKFLOW",
    "check_queue",
    "dbos_schema",
    "dsn_of",
    "queue_of",
]

APP = "tether"
"""DBOS's application name: the same in every process."""

APP_VERSION = "tether-scale-1"
"""Pinned: DBOS dequeues and recovers only workflows of the same version."""

WORKFLOW = "tether.run"
"""The one workflow: execute (or resume) a journaled run."""

_QUEUE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
"""A queue's name: 1 to 100 letters, digits and ``_.:-``."""


def check_queue(queue: object, setting: str = "queue") -> str | None:
    """``queue`` as a queue's name (None: the agent's default queue).

    Raises:
        ConfigError: ``queue`` is not None nor a str of 1 to 100 letters, digits and
            ``_.:-``; the message names ``setting``.
    """
    if queue is None:
        return None
    if not isinstance(queue, str) or not _QUEUE.fullmatch(queue):
        raise ConfigError(
            f"{setting} is a queue's name, 1 to 100 letters, digits and _.:- "
            f"(e.g. {setting}='tether.support'), or None for the agent's own queue "
            f"(tether.<agent name>), got {queue!r}"
        )
    return queue


def queue_of(agent: Any, queue: object = None, *, how: str = "queue={q!r}") -> str:
    """An agent's queue: ``queue`` when one is named, else ``tether.<agent name>``.

    ``how`` says how to name a queue where the call comes from (``{q}``: the name).

    Raises:
        ConfigError: ``queue`` is not a queue's name, or none is named and the agent's
            name makes no queue's name (it must be letters, digits and ``_.:-``).
    """
    named = check_queue(queue)
    if named is not None:
        return named
    name = f"tether.{agent.name}"
    if not _QUEUE.fullmatch(name):
        fixed = re.sub(r"[^A-Za-z0-9_.:-]+", "_", str(agent.name))[:93] or "agent"
        raise ConfigError(
            f"the agent {agent.name!r} has no default queue: {name!r} is not a queue's "
            "name (1 to 100 letters, digits and _.:-); give the agent a name of letters, "
            f"digits and _.:- (e.g. Agent(..., name={fixed!r})), or name its queue, "
            f"{how.format(q='tether.' + fixed)}, the same where runs are submitted and "
            "on their workers"
        )
    return name


def dsn_of(store: JournalStore | None) -> str:
    """The PostgreSQL URL of a journal store (DBOS keeps its tables in the same database).

    Raises:
        ConfigError: the store is not a :class:`~tether.journal.PostgresStore`.
    """
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
