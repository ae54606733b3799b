"""Runs spread over worker processes, on DBOS queues in PostgreSQL (the ``dbos`` extra).

``await agent.submit(prompt)`` (or :func:`submit`) journals a new run and puts it on
the agent's queue; ``tether worker --agent module:attr --store postgresql://...``
starts a worker process that takes runs off that queue and executes them, a bounded
number at a time. :class:`RunHandle` awaits or polls a run from any process.

Which record is the truth: tether's journal. DBOS runs one workflow per run with no
DBOS steps in it; the workflow resumes the run from its journal, so a run picked up
again after a worker died goes on where its journal ends, with tether's own rules for
a call cut off mid-way (run again only if idempotent, reconciled, or asked about).
DBOS keeps the queue, the dispatch, and a small final record.

Who owns a run: tether's lease. Every journal write is fenced by it, so a worker that
was only paused, not dead, cannot write a run another worker took over. DBOS's open
source recovers a dead executor's workflows only when an executor of the same id
starts again; tether's workers beat a heartbeat, and a live worker that sees another's
heartbeat go stale puts that worker's runs back on their queue (the heartbeat only
decides how soon, never whether a run can be run twice).
"""

from ._submit import RunHandle, close, submit
from ._worker import WorkerSettings, serve

__all__ = ["RunHandle", "WorkerSettings", "close", "serve", "submit"]
