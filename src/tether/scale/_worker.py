"""A worker process: takes runs off an agent's queue and executes them; beats a
heartbeat; puts a dead worker's runs back on their queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import psycopg
from dbos import DBOS

from tether._agent import Agent
from tether._errors import ConfigError
from tether.journal import PostgresStore
from tether.models._base import is_finite, is_whole

from ._dbos import APP, APP_VERSION, WORKFLOW, check_queue, dbos_schema, dsn_of, queue_of

__all__ = ["WorkerSettings", "serve"]

log = logging.getLogger("tether.scale")

_served: dict[str, Agent[Any, Any]] = {}
"""The agents this process executes runs of, by name."""


@DBOS.workflow(name=WORKFLOW, max_recovery_attempts=50)
async def _execute(agent_name: str, run_id: str) -> dict[str, str]:
    """Execute a journaled run: new, cut off by a dead worker, or already finished (then
    its journal's result). No DBOS step: the journal is the run's record."""
    agent = _served.get(agent_name)
    if agent is None:
        raise ConfigError(f"this worker does not serve the agent {agent_name!r}")
    result = await agent.resume(run_id, wait=agent.lease_ttl * 3 + 1)
    return {"run_id": run_id, "status": result.status}


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """How a worker takes runs.

    Args:
        concurrency: runs each worker of the queue executes at once, a whole number of
            at least 1. It is the queue's setting, the same for all its workers: the
            worker started last sets it.
        global_concurrency: runs of the queue executing at once over all workers, a
            whole number of at least ``concurrency`` (None: no limit beyond each
            worker's); also the queue's, set by the latest worker.
        queue: the queue, 1 to 100 letters, digits and ``_.:-`` (None:
            ``tether.<agent name>``).
        heartbeat_every: seconds between heartbeats, above 0 and below
            ``heartbeat_timeout``.
        heartbeat_timeout: seconds without a heartbeat after which a worker counts as
            dead; its runs go back on their queue and their leases are ended, so the
            others take them over at once.
        poll_every: seconds between looks at the queue (before every look, busy or
            not: a slot that frees waits up to this long for its next run).

    Seconds are finite numbers above 0 and at most a day (86400).

    Raises:
        ConfigError: a setting is of the wrong kind or out of its range (a bool as a
            count, a str, None where no default is meant, NaN, an infinity, 0 or a
            negative number); the message names the setting and what to write.
    """

    concurrency: int = 4
    global_concurrency: int | None = None
    queue: str | None = None
    heartbeat_every: float = 2.0
    heartbeat_timeout: float = 10.0
    poll_every: float = 0.1

    def __post_init__(self) -> None:
        _count("concurrency", self.concurrency, "concurrency=4, the default")
        if self.global_concurrency is not None:
            _count(
                "global_concurrency",
                self.global_concurrency,
                f"global_concurrency={max(8, self.concurrency)}, or None for no limit",
            )
            if self.global_concurrency < self.concurrency:
                raise ConfigError(
                    f"global_concurrency ({self.global_concurrency}) is below concurrency "
                    f"({self.concurrency}): no worker may take more runs than the whole "
                    f"queue; write global_concurrency={self.concurrency} or more, or "
                    f"concurrency={self.global_concurrency}"
                )
        check_queue(self.queue)
        _seconds("heartbeat_timeout", self.heartbeat_timeout, 10)
        _seconds("heartbeat_every", self.heartbeat_every, 2)
        if self.heartbeat_every >= self.heartbeat_timeout:
            raise ConfigError(
                f"heartbeat_every ({self.heartbeat_every}) must be below heartbeat_timeout "
                f"({self.heartbeat_timeout}), or a worker counts as dead between two of its "
                f"beats; write e.g. heartbeat_every={self.heartbeat_timeout / 4:g}"
            )
        _seconds("poll_every", self.poll_every, 0.1)


_MAX_SECONDS = 86400.0
"""The longest interval a worker setting takes (a day): a thread's wait overflows on
much larger ones."""


def _count(setting: str, value: object, example: str) -> None:
    """Refuse a count that is not a whole number of at least 1 (a bool is no count)."""
    if not is_whole(value) or value < 1:
        raise ConfigError(
            f"{setting} is a whole number of runs of at least 1 (e.g. {example}), got {value!r}"
        )


def _seconds(setting: str, value: object, default: float) -> None:
    """Refuse seconds that are not a finite number above 0 and at most a day."""
    if not is_finite(value) or not 0 < cast(float, value) <= _MAX_SECONDS:
        raise ConfigError(
            f"{setting} is seconds, a number above 0 and at most {_MAX_SECONDS:g} "
            f"(e.g. {setting}={default:g}, the default), got {value!r}"
        )


_NOW = "extract(epoch from clock_timestamp())"


class _Heartbeat:
    """The worker's heartbeat, and the watch over the others' (two threads)."""

    def __init__(
        self,
        dsn: str,
        me: str,
        settings: WorkerSettings,
        recover: Callable[[list[str]], list[str]],
        *,
        schema: str,
        dbos_schema: str,
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.table = f"{schema}.workers"
        self.dbos_schema = dbos_schema
        self.me = me
        self.settings = settings
        self.recover = recover
        self.stopped = threading.Event()

    def create(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                "executor_id TEXT PRIMARY KEY, beat_at DOUBLE PRECISION NOT NULL, "
                "state TEXT NOT NULL DEFAULT 'alive', taken_by TEXT, "
                "taken_at DOUBLE PRECISION)"
            )

    def start(self) -> None:
        for step in (self._beat, self._watch):
            threading.Thread(
                target=self._every, args=(step,), daemon=True, name=f"tether-{step.__name__}"
            ).start()

    def _every(self, step: Callable[[psycopg.Connection[Any]], None]) -> None:
        """Do ``step`` on a connection of its own every heartbeat, until stopped."""
        with psycopg.connect(self.dsn, autocommit=True) as c:
            while not self.stopped.is_set():
                try:
                    step(c)
                except psycopg.Error as exc:
                    log.warning("tether worker %s: %s failed: %s", self.me, step.__name__, exc)
                self.stopped.wait(self.settings.heartbeat_every)

    def _beat(self, c: psycopg.Connection[Any]) -> None:
        cur = c.execute(
            f"INSERT INTO {self.table} (executor_id, beat_at) VALUES (%s, {_NOW}) "
            f"ON CONFLICT (executor_id) DO UPDATE SET beat_at = {_NOW} "
            f"WHERE {self.table}.state = 'alive'",
            (self.me,),
        )
        if cur.rowcount != 1:
            # Another worker counted this one dead (it was paused or cut off) and gave
            # its runs to others: stop at once, as on a lost lease.
            log.error("tether worker %s was taken over; it stops", self.me)
            os._exit(75)

    def _watch(self, c: psycopg.Connection[Any]) -> None:
        c.execute(
            f"UPDATE {self.table} SET state = 'dead', taken_by = %s, "
            f"taken_at = {_NOW} WHERE state IN ('alive', 'gone') "
            f"AND beat_at < {_NOW} - %s AND executor_id <> %s",
            (self.me, self.settings.heartbeat_timeout, self.me),
        )
        # Every worker counted dead that still holds runs: one that has just stopped
        # beating, and one that was paused, woke up after its runs were taken over and
        # took more off the queue in the moment before its own heartbeat stopped it.
        # Looked for on every watch, so no run stays with a dead worker (a recovery
        # already made by another watcher matches nothing: DBOS re-queues a run only
        # while the dead worker holds it).
        dead = [
            r[0]
            for r in c.execute(
                f"SELECT w.executor_id FROM {self.table} w WHERE w.state = 'dead' "
                f"AND EXISTS (SELECT 1 FROM {self.dbos_schema}.workflow_status s "
                "WHERE s.executor_id = w.executor_id AND s.status = 'PENDING')"
            ).fetchall()
        ]
        if not dead:
            return
        moved = self.recover(dead)
        # Their leases end now rather than at their TTL: the journal's writes are fenced
        # by the lease, so a worker that was only paused cannot write these runs once
        # another has taken them. Only the dead workers' own leases end: a run already
        # taken over keeps its new worker's lease.
        c.execute(
            f"UPDATE {self.schema}.runs SET lease_expires = 0 "
            "WHERE run_id = ANY(%s) AND lease_owner LIKE ANY(%s)",
            (moved, [_lease_prefix(d) + "%" for d in dead]),
        )
        log.warning(
            "tether worker %s: runs of workers %s back on their queue (%d)",
            self.me,
            ", ".join(dead),
            len(moved),
        )

    def leave(self) -> None:
        """A clean exit: the others take over this worker's runs at once."""
        self.stopped.set()
        with contextlib.suppress(psycopg.Error), psycopg.connect(self.dsn, autocommit=True) as c:
            c.execute(
                f"UPDATE {self.table} SET state = 'gone', beat_at = 0 "
                "WHERE executor_id = %s AND state = 'alive'",
                (self.me,),
            )


def _lease_prefix(executor_id: str) -> str:
    """A LIKE pattern's start that matches the journal leases a worker took: a worker's
    id is ``host:pid:random`` and a lease's owner ``host:pid:random`` (``Lease.take``)."""
    host_pid = executor_id.rsplit(":", 1)[0]
    for ch in ("\\", "%", "_"):
        host_pid = host_pid.replace(ch, "\\" + ch)
    return host_pid + ":"


def _recover(dead: list[str]) -> list[str]:
    """DBOS's own recovery, for executors that will not come back: their PENDING
    workflows go back to ENQUEUED on their queue (idempotent; the dbos pin is < 3.5).
    Returns their ids, which are the runs' ids."""
    return [h.workflow_id for h in DBOS._recover_pending_workflows(dead)]


def _check_serve(agent: object, settings: object, stop: object, ready: object) -> None:
    """Refuse arguments of the wrong kind before the worker touches the database."""
    if not isinstance(agent, Agent):
        raise ConfigError(f"serve takes a tether.Agent, got {type(agent).__name__}")
    if settings is not None and not isinstance(settings, WorkerSettings):
        raise ConfigError(
            "settings is a tether.scale.WorkerSettings, e.g. "
            f"WorkerSettings(concurrency=4), or None, got {type(settings).__name__}"
        )
    if stop is not None and not isinstance(stop, asyncio.Event):
        raise ConfigError(
            "stop is an asyncio.Event that ends the worker once set, or None, "
            f"got {type(stop).__name__}"
        )
    if ready is not None and not callable(ready):
        raise ConfigError(
            f"ready is a callable that takes the worker's id, or None, got {type(ready).__name__}"
        )


async def serve(
    agent: Agent[Any, Any],
    settings: WorkerSettings | None = None,
    *,
    stop: asyncio.Event | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Execute runs of ``agent`` from its queue until ``stop`` is set (or SIGTERM/SIGINT).

    Args:
        agent: the agent whose runs to execute; its store must be a PostgreSQL journal.
        settings: how the worker takes runs (None: the defaults).
        stop: set it to end the worker (None: only the signals end it).
        ready: called with the worker's id once it takes runs.

    Raises:
        ConfigError: ``agent`` is not a :class:`tether.Agent` or has no PostgreSQL
            journal store; ``settings``, ``stop`` or ``ready`` is of the wrong kind;
            no queue is named and the agent's name makes no queue's name. Raised
            before the worker touches the database.
    """
    _check_serve(agent, settings, stop, ready)
    settings = settings if settings is not None else WorkerSettings()
    store = agent.store
    dsn = dsn_of(store)
    assert isinstance(store, PostgresStore)
    queue = queue_of(
        agent, settings.queue, how="WorkerSettings(queue={q!r}) or tether worker --queue {q}"
    )
    await store.list_runs(limit=1)  # the journal's schema exists before anything else
    me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    heartbeat = _Heartbeat(
        dsn, me, settings, _recover, schema=store.schema, dbos_schema=dbos_schema(store)
    )
    await asyncio.to_thread(heartbeat.create)
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    signals: list[signal.Signals] = []
    _served[agent.name] = agent
    try:
        DBOS(
            config={
                "name": APP,
                "system_database_url": dsn,
                "dbos_system_schema": dbos_schema(store),
                "executor_id": me,
                "application_version": APP_VERSION,
                "log_level": "WARNING",
            }
        )
        DBOS.listen_queues([queue])
        DBOS.launch()  # inside the running loop: the runs execute on it
        await DBOS.register_queue_async(
            queue,
            worker_concurrency=settings.concurrency,
            global_concurrency=settings.global_concurrency,
            polling_interval_sec=settings.poll_every,
            on_conflict="always_update",
        )
        heartbeat.start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
                signals.append(sig)
        if ready is not None:
            ready(me)
        await stop.wait()
    finally:
        # Whatever ended it (stop, a signal, a failure after DBOS launched), nothing of
        # the worker stays behind: no heartbeat, no DBOS, no handler on the caller's loop.
        for sig in signals:
            loop.remove_signal_handler(sig)
        await asyncio.to_thread(heartbeat.leave)
        # destroy() is sync and waits for workflows: never on the loop they run on.
        await asyncio.to_thread(DBOS.destroy, workflow_completion_timeout_sec=5)
        _served.pop(agent.name, None)
