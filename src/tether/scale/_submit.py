"""Submitting a run to the workers, and the handle that awaits it from any process."""

from __future__ import annotations

import asyncio
import atexit
from dataclasses import dataclass
from typing import Any

from dbos import DBOSClient, EnqueueOptions

from tether._agent import Agent, RunResult
from tether._errors import ConfigError
from tether._events import Event, RunFinished
from tether.journal import JournalStore

from ._dbos import APP, APP_VERSION, WORKFLOW, dbos_schema, dsn_of, queue_of

__all__ = ["RunHandle", "close", "submit"]

_clients: dict[tuple[str, str], DBOSClient] = {}


def _client(store: JournalStore) -> DBOSClient:
    """One DBOS client per database and schema, for the life of the process (a client
    never launches DBOS: this process only enqueues)."""
    key = (dsn_of(store), dbos_schema(store))
    client = _clients.get(key)
    if client is None:
        client = DBOSClient(
            system_database_url=key[0], dbos_system_schema=key[1], application_name=APP
        )
        _clients[key] = client
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

    Attributes:
        run_id: the run's id (its journal in the agent's store).
        agent: the agent that reads its result.
    """

    run_id: str
    agent: Agent[Any, Any]

    async def events(self) -> list[Event]:
        """The run's journal so far."""
        store = self.agent.store
        assert store is not None
        return await store.load(self.run_id)

    async def status(self) -> str:
        """``queued`` (not begun), ``running``, or how it ended (``completed``,
        ``gave_up``, ``failed``, ``interrupted``)."""
        events = await self.events()
        last = events[-1]
        if isinstance(last, RunFinished):
            return last.status
        return "queued" if len(events) == 1 else "running"

    async def result(self, *, poll: float = 0.2) -> RunResult[Any]:
        """The run's result once it has ended (a run waiting for a person counts as
        ended: status ``interrupted``, its pending calls listed). Bound the wait with
        ``asyncio.timeout``."""
        while True:
            events = await self.events()
            done = self.agent._journaled_result(self.run_id, events, interrupted=True)
            if done is not None:
                return done
            await asyncio.sleep(poll)


async def submit(agent: Agent[Any, Any], prompt: str, *, queue: str | None = None) -> RunHandle:
    """Journal a new run of ``agent`` and put it on its queue (``tether.<agent name>``
    by default) for the workers; return its handle at once.

    Raises:
        ConfigError: the agent has no PostgreSQL journal store.
    """
    store = agent.store
    dsn_of(store)  # a PostgreSQL journal, or a clear error
    assert store is not None
    run = agent._new_run(prompt, None, store=store)
    await run.flush()  # journaled first: listed, cancellable, resumable by any worker
    options: EnqueueOptions = {
        "workflow_name": WORKFLOW,
        "queue_name": queue_of(agent, queue),
        "workflow_id": run.run_id,
        "app_version": APP_VERSION,
    }
    try:
        await _client(store).enqueue_async(options, agent.name, run.run_id)
    except Exception as exc:
        raise ConfigError(
            f"run {run.run_id} is journaled but could not be queued ({exc}); "
            f"`tether resume {run.run_id}` runs it here"
        ) from exc
    return RunHandle(run.run_id, agent)
