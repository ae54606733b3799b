"""Durable runs: leases, and where a run rebuilt from its journal goes on.

A run with a journal store can die at any instant and be resumed in another
process. The resume folds the journal into a fresh state (the same fold the live
loop uses: messages, usage, loop-detection memory, the strategy's progress) with
no model call and no tool call; :func:`resume_node` then says where to go on:

* the last model response asked for tools that never started: run them;
* some calls started but never finished (the crash came during them): each
  tool's policy decides. An idempotent tool runs again with the same idempotency
  key; a tool with a ``reconcile`` hook is asked what happened (a hook that fails
  or does not answer within its bound leaves the call in doubt); any other stops
  the run as ``interrupted`` for a person to decide;
* calls wait for approval: the decisions given to ``resume`` are applied;
* otherwise the run's strategy says where it goes on from what it journaled last.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from tether._errors import ConfigError
from tether._events import Reason
from tether._messages import ToolCall
from tether.journal import JournalStore, RunLocked
from tether.models._base import is_finite
from tether.tools import CallOutcome, render_result, truncate
from tether.tools._abandon import CallExpired, run_within
from tether.tools._workers import default_pool

from ._nodes import Finish, GiveUp, Node, RunTools, suspend
from ._run import Run

__all__ = [
    "Decision",
    "Lease",
    "approve",
    "check_wait",
    "edit",
    "reject",
    "requested_cancel_reason",
    "resume_node",
]

log = logging.getLogger("tether")

LEASE_TTL = 30.0
"""Seconds a run's lease lasts without renewal; a dead process's lease expires after it."""
CANCEL_POLL = 0.5
"""Seconds between the lease holder's looks for a cancel request in the store."""
RECONCILE_TIMEOUT = 30.0
"""Seconds a reconcile hook may take to answer when neither the tool's
``reconcile_timeout`` nor its ``timeout`` says otherwise; then the call is in doubt."""


def check_wait(wait: object) -> float:
    """``wait`` (seconds to wait for a run's lease, or for its end) as a float, checked
    before anything is written.

    NaN would never reach a deadline (every comparison with it is false) and a value of
    another type would fail only after a write, so both are refused up front.

    Raises:
        ConfigError: ``wait`` is not a finite number of 0 or more (a bool, None, a str,
            NaN, an infinity or a negative number).
    """
    seconds = float(cast(float, wait)) if is_finite(wait) else math.nan
    if not seconds >= 0:  # NaN too
        raise ConfigError(
            "wait is a finite number of seconds, 0 or more (0: do not wait), e.g. wait=5; "
            f"got {wait!r}"
        )
    return seconds


def requested_cancel_reason(reason: str) -> Reason:
    """How a run cancelled at a person's request ends (``detail`` tells it from a task
    cancelled in its own process)."""
    said = " ".join(reason.split())
    return Reason(
        "cancelled",
        f"Cancelled on request: {said}" if said else "Cancelled on request.",
        "requested",
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """A person's decision on a pending tool call."""

    kind: Literal["approve", "reject", "edit"]
    message: str = ""
    arguments: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("approve", "reject", "edit"):
            raise ConfigError(
                f"a decision is approve(), reject(message) or edit(arguments); got {self.kind!r}"
            )
        if not isinstance(self.message, str):
            raise ConfigError(f"reject() takes a message str, got {self.message!r}")
        if self.kind == "edit" and not (
            isinstance(self.arguments, dict) and all(isinstance(k, str) for k in self.arguments)
        ):
            raise ConfigError(
                "edit() takes the call's new arguments as a dict of argument names to "
                f"values, e.g. edit({{'path': '/tmp/a'}}); got {self.arguments!r}"
            )


def approve() -> Decision:
    """Run the call as the model asked."""
    return Decision("approve")


def reject(message: str = "A person rejected this call.") -> Decision:
    """Do not run the call; the model is told ``message`` instead."""
    return Decision("reject", message)


def edit(arguments: dict[str, Any]) -> Decision:
    """Run the call with these arguments instead of the model's."""
    return Decision("edit", arguments=arguments)


class Lease:
    """One live execution per run: a lease in the store, renewed while the run goes.

    The renewal loop stops on a flag, never by a cancel alone: a cancel can be
    swallowed inside a connection pool's own wait (seen on Python 3.11), and the
    release must never hang. Beside the renewal it looks for a cancel request in the
    store every :data:`CANCEL_POLL` seconds and cancels the task it watches
    (:meth:`watch`) when it finds one.
    """

    def __init__(self, store: JournalStore, run_id: str, owner: str, ttl: float) -> None:
        self.store = store
        self.run_id = run_id
        self.owner = owner
        self.ttl = ttl
        self.lost = False
        self.cancel_reason: str | None = None
        """The reason of a cancel request found in the store, once one is."""
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._watched: asyncio.Task[Any] | None = None
        self._sent = False

    @classmethod
    async def take(
        cls, store: JournalStore, run_id: str, ttl: float = LEASE_TTL, *, wait: float = 0.0
    ) -> Lease:
        """Take the run's lease (the run's row must exist: journal ``run_started`` first).

        Args:
            store: the journal store.
            run_id: the run.
            ttl: seconds the lease lasts without renewal.
            wait: seconds to keep trying while another process holds it (0: fail at once);
                a finite number of 0 or more.

        Raises:
            ConfigError: ``wait`` is not a finite number of seconds of 0 or more (a
                bool, None, a str, NaN, an infinity or a negative number), or ``ttl``
                is not a finite number of seconds above 0; nothing was written.
            RunLocked: another live process holds it (after ``wait`` seconds).
        """
        seconds = check_wait(wait)
        if not is_finite(ttl) or ttl <= 0:
            raise ConfigError(
                f"a lease's ttl is a finite number of seconds above 0 (30 by default), got {ttl!r}"
            )
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + seconds
        while not await store.acquire_lease(run_id, owner, ttl):
            if time.monotonic() >= deadline:
                raise RunLocked(
                    f"run {run_id} is being executed by another process (its lease has not "
                    f"expired); try again after {ttl:g} s if that process died"
                )
            await asyncio.sleep(min(0.05, ttl / 4))
        lease = cls(store, run_id, owner, ttl)
        lease._stop = asyncio.Event()
        lease._task = asyncio.create_task(lease._renew())
        return lease

    async def _renew(self) -> None:
        assert self._stop is not None
        renew_at = time.monotonic() + self.ttl / 3
        while not self._stop.is_set():
            pause = min(CANCEL_POLL, max(renew_at - time.monotonic(), 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), pause)
            if self._stop.is_set():
                return
            if self.cancel_reason is None:
                with contextlib.suppress(Exception):  # a missed look is made next time
                    await self._look_for_cancel()
            if time.monotonic() < renew_at:
                continue
            try:
                if not await self.store.acquire_lease(self.run_id, self.owner, self.ttl):
                    self.lost = True  # another process took it: our writes will be refused
                    return
                renew_at = time.monotonic() + self.ttl / 3
            except Exception:  # a missed renewal is retried at the next look
                continue

    async def _look_for_cancel(self) -> None:
        reason = await self.store.cancel_requested(self.run_id)
        if reason is not None and self.cancel_reason is None:
            self.cancel_reason = reason
            self._cancel_watched()

    def _cancel_watched(self) -> None:
        task = self._watched
        if task is not None and not task.done() and not self._sent:
            self._sent = True
            task.cancel("cancel requested")

    def watch(self) -> None:
        """Cancel the current task when a cancel request for the run is found (at once
        if one was found already); :meth:`unwatch` takes the cancellation back."""
        self._watched = asyncio.current_task()
        if self.cancel_reason is not None:
            self._cancel_watched()

    def unwatch(self) -> Reason | None:
        """Stop watching. When this lease cancelled the watched task, take that
        cancellation back (it was a request, not the caller's) and return how the run
        ends; else None."""
        task, self._watched = self._watched, None
        if task is None or not self._sent:
            return None
        self._sent = False
        task.uncancel()
        return requested_cancel_reason(self.cancel_reason or "")

    async def release(self) -> None:
        """Stop renewing and give the lease back."""
        self._watched = None
        if self._stop is not None:
            self._stop.set()
        if self._task is not None:
            try:  # the loop ends at its flag; a renewal in flight is bounded too
                await asyncio.wait_for(asyncio.shield(self._task), self.ttl)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            except Exception:
                pass
        with contextlib.suppress(Exception):
            await self.store.release_lease(self.run_id, self.owner)


def resume_node(r: Run) -> Node | Finish:
    """Where a run whose journal has been folded into ``r`` goes on, or how it ended."""
    st = r.state
    end = st.finished
    if end is not None and end.status != "interrupted":
        return Finish(end.status, end.reason, end.output)
    if st.giving_up or st.stop is not None:
        # The crash came while the fallback ran, or after the run had journaled why it
        # gives up (a spent budget, a loop) and before the fallback began: give up again.
        return GiveUp(st.stop or Reason("budget_exhausted", "The run was giving up."))
    open_calls = st.open_calls()
    if not open_calls:
        node: Node = r.strategy.resume(r)
        return node
    cut_off = [c for c in open_calls if c.id in st.started and c.id not in st.decisions]
    if any(_hook(r, c) is not None for c in cut_off):
        return _Reconcile(cut_off)  # hooks may be async: they are asked in a node
    return _settle(r, cut_off, [_recover(r, c) for c in cut_off], {})


def _settle(
    r: Run,
    calls: list[ToolCall],
    recovered: list[CallOutcome | Literal["rerun"] | None],
    failures: dict[str, str],
) -> Node | Finish:
    """Go on with the cut-off calls settled (a call that started and never finished: a
    decision given since it started allows one more execution; otherwise its tool
    decides, as an approval given before it started was for that execution, which the
    crash cut off). A call nobody could settle stops the run for a person."""
    preset: dict[str, CallOutcome] = {}
    in_doubt: list[ToolCall] = []
    for call, outcome in zip(calls, recovered, strict=True):
        if outcome is None:
            in_doubt.append(call)
        elif outcome != "rerun":
            preset[call.id] = outcome
    if in_doubt:
        end = suspend(r, in_doubt, "in_doubt")
        if failures:
            end.reason = _doubt_reason(in_doubt, failures)
        return end
    # The whole turn goes back to RunTools: finished calls keep their results.
    return RunTools(list(r.state.batch), preset)


def _doubt_reason(calls: list[ToolCall], failures: dict[str, str]) -> Reason:
    parts = []
    for c in calls:
        what = failures.get(c.id, "has no reconcile hook")
        parts.append(f"{c.name} ({c.id}), which is not idempotent and {what}")
    return Reason(
        "needs_decision",
        f"A crash cut off {'; '.join(parts)}: decide whether to run it again.",
    )


def _hook(r: Run, call: ToolCall) -> Callable[[dict[str, Any], str], Any] | None:
    """The reconcile hook that settles a cut-off call, if one does."""
    tool = r.config.tools.get(call.name)
    if tool is None or tool.idempotent:
        return None
    return tool.reconcile


def _recover(r: Run, call: ToolCall) -> CallOutcome | Literal["rerun"] | None:
    """What to do with a call a crash cut off without asking a hook: ``"rerun"`` or None
    (a person must decide)."""
    tool = r.config.tools.get(call.name)
    return "rerun" if tool is None or tool.idempotent else None


def _hook_timeout(r: Run, call: ToolCall) -> float:
    """How long the reconcile hook of ``call``'s tool may take to answer."""
    tool = r.config.tools[call.name]
    if tool.reconcile_timeout is not None:
        return tool.reconcile_timeout
    return tool.timeout if tool.timeout is not None else RECONCILE_TIMEOUT


@dataclass(slots=True)
class _Reconcile:
    """Ask the reconcile hooks of calls a crash cut off whether their effect happened.

    A hook returns the call's result (it happened: that is its outcome), raises
    :class:`LookupError` (it did not: the call runs), or fails: it raises anything
    else, returns what cannot be shown as a result, or does not answer within its
    bound (:func:`_hook_timeout`). A call whose hook failed is in doubt, as if it had
    no hook: a person decides, told the hook's error or its timeout (logged too).
    """

    calls: list[ToolCall]

    async def run(self, r: Run) -> Node | Finish:
        recovered: list[CallOutcome | Literal["rerun"] | None] = []
        failures: dict[str, str] = {}
        for call in self.calls:
            hook = _hook(r, call)
            if hook is None:
                recovered.append(_recover(r, call))
                continue
            seconds = _hook_timeout(r, call)
            try:
                recovered.append(await _ask_hook(r, call, hook, seconds))
            except CallExpired:
                log.warning(
                    "run %s: the reconcile hook of %s (%s) timed out: no answer within "
                    "%g s; the call is in doubt",
                    r.run_id,
                    call.name,
                    call.id,
                    seconds,
                )
                recovered.append(None)
                failures[call.id] = f"its reconcile hook timed out (no answer within {seconds:g} s)"
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "run %s: the reconcile hook of %s (%s) failed, the call is in doubt: %s",
                    r.run_id,
                    call.name,
                    call.id,
                    error,
                    exc_info=exc,
                )
                recovered.append(None)
                failures[call.id] = f"its reconcile hook failed ({error})"
        return _settle(r, self.calls, recovered, failures)


async def _ask_hook(
    r: Run, call: ToolCall, hook: Callable[[dict[str, Any], str], Any], seconds: float
) -> CallOutcome | Literal["rerun"]:
    """The outcome a hook gives a cut-off call within ``seconds``; raises what the hook
    raised, :class:`CallExpired` when it did not answer in time, or TypeError when its
    answer cannot be shown to the model.

    The hook runs in a task of its own (:func:`run_within`): at the deadline it is
    cancelled, and abandoned if it swallows that. A sync hook runs in tether's worker
    pool, whose threads are daemons written off when their caller gives up: one that
    never returns holds neither the resume nor the interpreter's exit (a thread of
    :func:`asyncio.to_thread` would hold both, as ``asyncio.run`` and the interpreter
    join those threads at the end).
    """
    args = call.arguments if isinstance(call.arguments, dict) else {}
    key = f"{r.run_id}:{call.id}"
    try:
        value = await run_within(
            _answer(hook, args, key), seconds, f"the reconcile hook of tool {call.name!r}"
        )
    except LookupError:
        return "rerun"  # it did not happen: run it
    content, cut = truncate(render_result(value), r.config.max_result_chars)
    return CallOutcome("ok", content, cut, attempts=0)


async def _answer(
    hook: Callable[[dict[str, Any], str], Any], args: dict[str, Any], key: str
) -> Any:
    """What the hook says, awaited when it is async."""
    if inspect.iscoroutinefunction(hook):
        return await hook(args, key)
    # A sync hook asks the outside world: not on the event loop.
    pool = default_pool()
    value = await pool.result(pool.submit(functools.partial(hook, args, key), {}))
    if inspect.isawaitable(value):  # a callable object whose __call__ is async
        value = await value
    return value
