"""Submitting a run to the workers, and the handle that awaits it from any process."""

from __future__ import annotations

import asyncio
import atexit
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from dbos import DBOSClient, EnqueueOptions

from tether._agent import Agent, RunResult
from tether._errors import ConfigError
from tether._events import Event, Reason, RunFinished
from tether.journal import JournalStore, PostgresStore
from tether.models._base import is_finite

from ._dbos import APP, APP_VERSION, WORKFLOW, dbos_schema, dsn_of, queue_of

__all__ = ["RunHandle", "close", "submit"]

_clients: dict[tuple[str, str], DBOSClient] = {}
"""One DBOS client per database and schema whose DBOS tables were found."""

_END_TTL = 30.0
"""Seconds of the lease under which a run that could not be queued is ended."""


def _connect(dsn: str, schema: str) -> DBOSClient:
    """A DBOS client for the queues in ``schema``, which a worker must have made (a
    client never makes DBOS's tables). Blocking: called in a thread.

    Raises:
        ConfigError: the database cannot be reached, or no worker ever started on it.
    """
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.workflow_status",)
            ).fetchone()
    except psycopg.Error as exc:
        raise ConfigError(
            f"cannot reach the database of the run queues ({type(exc).__name__}: {exc}); "
            "nothing was submitted"
        ) from exc
    if row is None or not row[0]:
        raise ConfigError(
            f"no worker has started on this database yet: DBOS's tables ({schema}) are "
            "made by the first worker; start one (tether worker --agent module:attr "
            "--store postgresql://...), then submit; nothing was submitted"
        )
    try:
        return DBOSClient(system_database_url=dsn, dbos_system_schema=schema, application_name=APP)
    except Exception as exc:
        raise ConfigError(
            f"cannot open the run queues ({type(exc).__name__}: {exc}); nothing was submitted"
        ) from exc


async def _client(store: PostgresStore) -> DBOSClient:
    """One DBOS client per database and schema, for the life of the process (a client
    never launches DBOS: this process only enqueues). Made, and DBOS's tables looked
    for, before a run is journaled."""
    key = (store.dsn, dbos_schema(store))
    client = _clients.get(key)
    if client is None:
        made = await asyncio.to_thread(_connect, *key)
        client = _clients.setdefault(key, made)
        if client is not made:  # another submit made one meanwhile
            await asyncio.to_thread(made.destroy)
    return client


@atexit.register
def close() -> None:
    """Close the connections this process opened to submit runs (also done at exit)."""
    for client in _clients.values():
        client.destroy()
    _clients.clear()


@dataclass(slots=True)
class RunHandle:
    """A submitted run: await its result, or ask how it stands, from any process.

    Built by :func:`submit`, or by hand in another process from the run's id and an
    agent whose store is the journal the run was submitted to.

    Attributes:
        run_id: the run's id (its journal in the agent's store).
        agent: the agent that reads its result.

    Raises:
        ConfigError: ``run_id`` is not a non-empty str, or ``agent`` not a
            :class:`tether.Agent`.
    """

    run_id: str
    agent: Agent[Any, Any]

    def __post_init__(self) -> None:
        if not isinstance(self.run_id, str) or not self.run_id:
            raise ConfigError(
                "a RunHandle's run_id is a submitted run's id, a non-empty str "
                f"(handle.run_id, or the id `tether runs` lists), got {self.run_id!r}"
            )
        if not isinstance(self.agent, Agent):
            raise ConfigError(
                "a RunHandle's agent is the tether.Agent whose run it is, "
                f"got {type(self.agent).__name__}"
            )

    def _store(self) -> JournalStore:
        store = self.agent.store
        if store is None:
            raise ConfigError(
                f"the agent {self.agent.name!r} has no journal store to read run "
                f"{self.run_id} from: give it the store the run was submitted to, "
                "Agent(..., store=PostgresStore('postgresql://...'))"
            )
        return store

    async def events(self) -> list[Event]:
        """The run's journal so far.

        Raises:
            ConfigError: the agent has no journal store.
            JournalError: the run is not in the agent's store.
        """
        return await self._store().load(self.run_id)

    async def status(self) -> str:
        """``queued`` (not begun), ``running``, or how it ended (``completed``,
        ``gave_up``, ``failed``, ``interrupted``).

        Raises:
            ConfigError: the agent has no journal store.
            JournalError: the run is not in the agent's store.
        """
        events = await self.events()
        last = events[-1]
        if isinstance(last, RunFinished):
            return last.status
        return "queued" if len(events) == 1 else "running"

    async def result(self, *, poll: float = 0.2) -> RunResult[Any]:
        """The run's result once it has ended (a run waiting for a person counts as
        ended: status ``interrupted``, its pending calls listed). Bound the wait with
        ``asyncio.timeout``.

        Args:
            poll: seconds between looks at the journal, a finite number above 0.

        Raises:
            ConfigError: ``poll`` is not a finite number above 0 (a bool, a str, NaN,
                an infinity, 0 or less), or the agent has no journal store.
            JournalError: the run is not in the agent's store.
        """
        if not is_finite(poll) or poll <= 0:
            raise ConfigError(
                "poll is the seconds between looks at the run's journal, a finite number "
                f"above 0 (e.g. poll=0.2, the default), got {poll!r}"
            )
        while True:
            events = await self.events()
            done = self.agent._journaled_result(self.run_id, events, interrupted=True)
            if done is not None:
                return done
            await asyncio.sleep(poll)


def _checked(agent: object, prompt: object, queue: object) -> tuple[PostgresStore, str]:
    """The agent's PostgreSQL journal and the run's queue, once every argument is
    known to be good (nothing is journaled before).

    Raises:
        ConfigError: see :func:`submit`.
    """
    if not isinstance(agent, Agent):
        raise ConfigError(f"submit takes a tether.Agent, got {type(agent).__name__}")
    store = agent.store
    dsn_of(store)  # a PostgreSQL journal, or a clear error
    assert isinstance(store, PostgresStore)
    if not isinstance(prompt, str):
        raise ConfigError(
            f"the prompt is a str, e.g. agent.submit('Summarise ...'), got {type(prompt).__name__}"
        )
    return store, queue_of(agent, queue)


async def submit(agent: Agent[Any, Any], prompt: str, *, queue: str | None = None) -> RunHandle:
    """Journal a new run of ``agent`` and put it on its queue (``tether.<agent name>``
    by default) for the workers; return its handle at once.

    Every argument is checked, and the queue's database reached, before the run is
    journaled: a refused submit leaves no run in the journal.

    Args:
        agent: the agent to run; its store must be a PostgreSQL journal.
        prompt: the run's prompt.
        queue: the queue its workers take runs from (None: ``tether.<agent name>``);
            1 to 100 letters, digits and ``_.:-``.

    Raises:
        ConfigError: ``agent`` is not a :class:`tether.Agent` or has no PostgreSQL
            journal store; ``prompt`` is not a str; ``queue`` is not a queue's name, or
            none is given and the agent's name makes none; the database cannot be
            reached, or no worker has ever started on it (DBOS's tables are missing).
            In all these cases nothing was journaled. Also raised when the run was
            journaled but the database refused to queue it: the run is then ended
            ``failed`` (reason ``internal_error``) so that it does not show as
            running, and the message says so; if even that failed, the message says
            how to run or cancel it.
        JournalError: the run could not be journaled (nothing was queued).
    """
    store, queue_name = _checked(agent, prompt, queue)
    client = await _client(store)
    run = agent._new_run(prompt, None, store=store)
    await run.flush()  # journaled first: listed, cancellable, resumable by any worker
    options: EnqueueOptions = {
        "workflow_name": WORKFLOW,
        "queue_name": queue_name,
        "workflow_id": run.run_id,
        "app_version": APP_VERSION,
    }
    try:
        await client.enqueue_async(options, agent.name, run.run_id)
    except Exception as exc:
        why = _brief(exc)
        try:
            ended = await _end_unqueued(store, run.run_id, why)
        except Exception as also:
            raise ConfigError(
                f"run {run.run_id} is journaled but could not be queued ({why}), nor "
                f"ended ({_brief(also)}); `tether resume {run.run_id}` "
                f"runs it in this process, `tether cancel {run.run_id}` ends it"
            ) from exc
        if ended:
            raise ConfigError(
                f"run {run.run_id} could not be queued ({why}); it is journaled as "
                "failed and nothing will execute it: submit it again"
            ) from exc
    return RunHandle(run.run_id, agent)


def _brief(exc: BaseException) -> str:
    """An error in a line: the database's own message, without the SQL and parameters
    SQLAlchemy appends."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    return f"{type(exc).__name__}: {text[:300]}"


async def _end_unqueued(store: JournalStore, run_id: str, why: str) -> bool:
    """End a run that is journaled but could not be queued, so that it does not show
    as running with nothing to execute it: ``failed``, appended under the run's lease.

    Returns False, ending nothing, when a worker has the run after all (the queue
    took it before the error): a worker holds its lease, or has journaled more.
    """
    owner = f"submit:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not await store.acquire_lease(run_id, owner, _END_TTL):
        return False
    try:
        events = await store.load(run_id)
        if len(events) > 1:
            return False
        end = RunFinished(
            run_id=run_id,
            seq=events[-1].seq + 1,
            at=time.time(),
            status="failed",
            reason=Reason("internal_error", f"the run could not be put on its queue ({why})"),
        )
        await store.append(run_id, [end], owner=owner)
    finally:
        await store.release_lease(run_id, owner)
    return True
