"""A live run: its configuration, its state, and the outlets its events go to.

:class:`Run` is the one object the nodes work on. It implements the run scope
(:class:`tether.RunScope`) that models and tools see: record an event, the
budget tracker, the run id and the deps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from typing import Any, Protocol, TypeVar

from tether._errors import ModelError
from tether._events import ModelRequested, ModelResponded, NoteAdded, Reason, StreamEvent, TextDelta
from tether._messages import Message, ModelResponse, ToolCall, plain_call
from tether._usage import BudgetTracker
from tether.models import Model, ModelParams
from tether.tools import RunContext, redact
from tether.tools._secrets import forms

from ._config import RunConfig
from ._context import ContextKeeper
from ._fold import HANDLERS, fold
from ._outlets import Outlet
from ._state import RunState

__all__ = ["Run"]

E = TypeVar("E")

log = logging.getLogger("tether")


_NONE: frozenset[str] = frozenset()
_NOTHING = nullcontext()

_OURS = re.compile(r"call_(\d+)_")
"""The ids tether gives calls: ``call_<step>_<i>`` (and a strategy's ``call_<step>_...``)."""

FALLBACK_GRACE_S = 60.0
"""Seconds the fallback's last model call may take when the run's time budget is spent
(the call is made after the limit, so the seconds left are none)."""

_REMEMBERED = 1024
"""Call ids a run remembers to rename a repeat (the oldest let go beyond about twice as
many), so a run of many thousands of steps does not grow without bound."""


def _scopes(outlet: Outlet) -> bool:
    """Whether an outlet gives contexts to enter around work (overrides ``around``)."""
    return type(outlet).around is not Outlet.around


def _free(name: str, used: set[str] | None) -> str:
    """``name``, or ``name_<n>`` when a call of the response already has it."""
    if used is None or name not in used:
        return name
    n = 1
    while f"{name}_{n}" in used:
        n += 1
    return f"{name}_{n}"


def _forget(taken: dict[str, None]) -> None:
    """Let the oldest ids go (amortised: now and then, not at every response)."""
    for cid in list(taken)[: len(taken) - _REMEMBERED]:
        del taken[cid]


def _listed(model: Model, calls: object) -> list[Any]:
    """A response's tool calls given as a tuple, as a list (anything else is refused)."""
    if not isinstance(calls, list | tuple):
        raise ModelError(
            f"model {model.name!r} returned tool calls of type {type(calls).__name__}; a "
            "Model's tool calls are a list of tether.ToolCall objects"
        )
    return list(calls)


def _check_text(model: Model, text: object) -> None:
    """Refuse a response's text that is not a str (a custom model's slip)."""
    if not isinstance(text, str):
        raise ModelError(
            f"model {model.name!r} returned text of type {type(text).__name__}; a Model's "
            "response text is a str or None"
        )


def _ours(cid: str) -> str | None:
    """The step (its digits) of an id of tether's shape (``call_<step>_...``), else None."""
    if not cid.startswith("call_") or not cid[5:6].isdigit():  # (most ids: cheap tests first)
        return None
    m = _OURS.match(cid)
    return None if m is None else m.group(1)


class _Guarded:
    """An outlet's context entered so that its failures are logged, not the run's.

    Its ``__exit__`` never suppresses the work's own exception: an outlet observes."""

    __slots__ = ("_cm", "_entered", "_event", "_outlet", "_run")

    def __init__(
        self, run: Run, outlet: Outlet, cm: AbstractContextManager[object], event: StreamEvent
    ) -> None:
        self._run = run
        self._outlet = outlet
        self._cm = cm
        self._event = event
        self._entered = False

    def __enter__(self) -> None:
        try:
            self._cm.__enter__()
        except Exception as exc:
            self._run.outlet_failed(self._outlet, "around", self._event, exc)
        else:
            self._entered = True

    def __exit__(self, *exc: Any) -> None:
        if not self._entered:
            return
        try:
            self._cm.__exit__(*exc)
        except Exception as error:
            if error is not exc[1]:  # (re-raising the work's own error is no failure)
                self._run.outlet_failed(self._outlet, "around", self._event, error)


class _All:
    """Several outlets' contexts entered as one (rare: one tracer is the usual case)."""

    __slots__ = ("_cms", "_stack")

    def __init__(self, cms: list[AbstractContextManager[object]]) -> None:
        self._cms = cms
        self._stack = ExitStack()

    def __enter__(self) -> None:
        for cm in self._cms:
            self._stack.enter_context(cm)

    def __exit__(self, *exc: Any) -> None:
        self._stack.__exit__(*exc)


class Steering(Protocol):
    """What a run needs of its strategy (:class:`tether.Strategy` is the full interface)."""

    name: str

    def start(self, run: Run) -> Any:
        """The first node of a new run."""
        ...

    def after_tools(self, run: Run) -> Any:
        """Where a run goes once a turn's tool calls have their results."""
        ...

    def resume(self, run: Run) -> Any:
        """Where a rebuilt run goes on."""
        ...


class Run:
    """One execution of an agent: configuration, state, journal and outlets.

    Attributes:
        config: the agent's settings (immutable).
        strategy: how the run is orchestrated.
        model: the model the run asks.
        run_id: the run's id.
        prompt: the user's prompt.
        deps: the user's dependencies.
        state: the mutable state, changed only by folding recorded events.
        events: the run's journal so far.
        outlets: where recorded events go (the stream, the journal store, ...).
        streaming: True when the caller wants text deltas.
    """

    __slots__ = (
        "broken",
        "call_ids",
        "config",
        "deps",
        "events",
        "keep",
        "keeper",
        "model",
        "outlets",
        "prompt",
        "run_id",
        "scoped",
        "secrets",
        "seq",
        "state",
        "strategy",
        "streaming",
    )

    def __init__(  # noqa: PLR0917 - built in one place, by the agent
        self,
        config: RunConfig,
        strategy: Steering,
        model: Model,
        run_id: str,
        prompt: str,
        deps: Any,
        state: RunState,
        outlets: Sequence[Outlet] = (),
        streaming: bool = False,
    ) -> None:
        self.config = config
        self.strategy = strategy
        self.model = model
        self.run_id = run_id
        self.prompt = prompt
        self.deps = deps
        self.state = state
        self.events: list[StreamEvent] = []
        self.seq = 0
        """The sequence number of the next event."""
        self.keep: int | None = None
        """When set, only the first event and about the latest ``keep`` stay in ``events``
        (a very long run whose journal store holds them all)."""
        self.outlets = list(outlets)
        self.scoped: tuple[Outlet, ...] = tuple(o for o in self.outlets if _scopes(o))
        """The outlets that give a context to enter around work (:meth:`Outlet.around`)."""
        self.streaming = streaming
        self.keeper: ContextKeeper | None = None
        """The run's working memory, when the conversation is kept under a budget."""
        self.secrets: set[str] | frozenset[str] = _NONE
        # (a set of its own only once a secret is handed to a tool: most runs have none)
        """Secret values this run has handed to tools: redacted wherever they are repeated."""
        self.broken: list[Outlet] | None = None
        """The outlets that failed in this run (logged once each), once one has."""
        self.call_ids: dict[str, None] | None = None
        """The ids the model gave the run's calls (not tether's own ``call_<step>_...``),
        oldest first, once it gave one: a later call with one of them is renamed."""

    # --- the run scope ----------------------------------------------------------------------

    @property
    def tracker(self) -> BudgetTracker:
        """The run's budget tracker."""
        return self.state.tracker

    @property
    def finished(self) -> bool:
        """True once the run has journaled its end."""
        return self.state.finished is not None

    def record(self, kind: type[E], /, **fields: Any) -> E:
        """Build an event of this run (id, sequence number and time filled in), fold it
        into the state and hand it to every outlet."""
        events = self.events
        if self.secrets:  # no secret value is ever journaled, streamed or exported
            fields = {k: self._scrub(v) for k, v in fields.items()}
        # Filled into the fresh keyword dict rather than merged into a second one.
        fields["run_id"] = self.run_id
        fields["seq"] = self.seq
        self.seq += 1
        fields["at"] = time.time()
        event = kind(**fields)
        events.append(event)  # type: ignore[arg-type]
        if self.keep is not None and len(events) > 2 * self.keep + 1:
            del events[1 : len(events) - self.keep]  # the run_started event stays
        handler = HANDLERS.get(kind)  # the fold, without a call to find the handler
        if handler is not None:
            handler(self.state, event)
        if self.outlets:
            for outlet in self.outlets:
                try:  # (free in the loop until an outlet raises)
                    outlet.emit(event)  # type: ignore[arg-type]
                except Exception as exc:
                    if getattr(outlet, "essential", False):
                        raise
                    self.outlet_failed(outlet, "emit", event, exc)  # type: ignore[arg-type]
        return event

    def outlet_failed(
        self, outlet: Outlet, what: str, event: StreamEvent | None, exc: Exception
    ) -> None:
        """Log an outlet's failure, the first one of each outlet in this run; the run goes
        on as if the outlet were not there (an outlet observes a run, never changes it)."""
        if self.broken is None:
            self.broken = []
        if any(o is outlet for o in self.broken):
            return
        self.broken.append(outlet)
        log.error(
            "tether: the outlet %s failed in %s(%s) of run %s; the run goes on (this "
            "outlet's further failures in this run are not logged)",
            type(outlet).__qualname__,
            what,
            "" if event is None else event.type,
            self.run_id,
            exc_info=exc,
        )

    def adopt(self, events: Sequence[StreamEvent]) -> None:
        """Take a journal's events as this run's past (a resume): fold them, emit nothing."""
        for event in events:
            self.events.append(event)
            fold(self.state, event)
            if type(event) is ModelResponded and event.response.tool_calls:
                self._remember(c.id for c in event.response.tool_calls)
        if events:
            self.seq = events[-1].seq + 1

    async def flush(self) -> None:
        """Make the events recorded so far durable in every outlet (an essential outlet's
        failure is raised; another's is logged)."""
        for outlet in self.outlets:
            try:
                await outlet.flush()
            except Exception as exc:
                if getattr(outlet, "essential", False):
                    raise
                self.outlet_failed(outlet, "flush", None, exc)

    def add_outlet(self, outlet: Outlet) -> None:
        """Send this run's events from now on to ``outlet`` as well."""
        self.outlets.append(outlet)
        if _scopes(outlet):
            self.scoped = (*self.scoped, outlet)

    def during(self, event: StreamEvent) -> AbstractContextManager[object]:
        """The context to enter while the work ``event`` began runs: every outlet's
        :meth:`Outlet.around` (a tracer's span made current), or nothing."""
        if not self.scoped:
            return _NOTHING
        if len(self.scoped) == 1:  # the usual case: one tracer
            return self._around(self.scoped[0], event) or _NOTHING
        found = [cm for o in self.scoped if (cm := self._around(o, event)) is not None]
        if not found:
            return _NOTHING
        return found[0] if len(found) == 1 else _All(found)

    def _around(self, outlet: Outlet, event: StreamEvent) -> AbstractContextManager[object] | None:
        """The outlet's context for ``event``, guarded unless the outlet is essential."""
        if getattr(outlet, "essential", False):
            return outlet.around(event)
        try:
            cm = outlet.around(event)
        except Exception as exc:
            self.outlet_failed(outlet, "around", event, exc)
            return None
        return None if cm is None else _Guarded(self, outlet, cm, event)

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return redact(value, self.secrets)
        if isinstance(value, Reason):
            return Reason(value.kind, redact(value.message, self.secrets), value.detail)
        return value

    def add_secret(self, value: str) -> None:
        """Redact ``value`` (and its escaped forms, as JSON or a ``repr`` would write it)
        from every event this run records from now on."""
        if not isinstance(self.secrets, set):
            self.secrets = set(self.secrets)
        self.secrets.update(forms(value))

    def note(self, text: str) -> None:
        """Journal a note for the model's next call (once: a note already pending is kept)."""
        if text not in self.state.notes:
            self.record(NoteAdded, content=text)

    # --- model calls ------------------------------------------------------------------------

    async def call_model(
        self,
        messages: Sequence[Message] | None,
        params: ModelParams,
        *,
        purpose: str = "turn",
        step: int | None = None,
        model: Model | None = None,
        step_held: bool = False,
    ) -> ModelResponse:
        """One model call: journaled, bounded by the wall-clock budget, charged.

        ``messages`` None means the conversation itself (after pending notes join it).
        ``step_held``: the caller holds the call's step in the budget
        (``BudgetTracker.reserve_model``); the hold ends here, once the call is journaled
        as requested (its step charged), or failed before that.
        """
        model = model or self.model
        st = self.state
        context = None
        try:
            if messages is None and self.keeper is not None:
                context = await self.keeper.fit(self, params)  # (compacted first, if need be)
            requested = self.record(
                ModelRequested,
                step=st.step if step is None else step,
                tools=params.allow_tools,
                purpose=purpose,
                context=context,
            )
        finally:
            if step_held:
                st.tracker.model_requested()
        history = st.messages if messages is None else messages
        started = time.perf_counter()
        remaining = st.tracker.seconds_left()
        if remaining is not None and purpose == "fallback":
            # The give-up's last call is made after the limit, on top of it (the one
            # escape hatch): it gets a grace of its own rather than the 0 s left.
            remaining = max(remaining, FALLBACK_GRACE_S)
        # Without streaming the model is awaited directly: one coroutine less in every
        # model call's chain, which thousands of concurrent runs keep alive while they wait.
        if self.scoped:  # an outlet (a tracer) gives a context for the call
            response = await self._ask_within(requested, model, history, params, remaining)
        elif remaining is None:
            if self.streaming:
                response = await self._ask(model, history, params)
            else:
                response = await model.request(history, params)
        else:
            async with asyncio.timeout(max(remaining, 0.0)):
                response = await self._ask(model, history, params)
        price = model.price
        cost = (  # as the provider said, else at the model's price, else nothing
            response.cost_usd
            if response.cost_usd is not None
            else (0.0 if price is None else price.cost(response.usage))
        )
        text = response.text
        if text is not None and type(text) is not str:
            _check_text(model, text)
        if response.tool_calls:
            response = self._settled(model, response, st.step)
        elif type(response.tool_calls) is not list:  # None or () from a custom model
            response = dataclasses.replace(response, tool_calls=[])
        self.record(
            ModelResponded,
            step=st.step,
            response=response,
            cost_usd=cost,
            duration_s=time.perf_counter() - started,
        )
        return response

    def _settled(self, model: Model, response: ModelResponse, step: int) -> ModelResponse:
        """The response with its tool calls fit for the journal and each under an id of
        its own in the run.

        A call whose id is empty, is taken by an earlier call of the response or of the
        run, or is tether's own for another step (a model that copied one from the
        history) is named ``call_<step>_<i>``: deterministic, so a replayed response is
        named the same. Two calls under one id would share one result in the
        conversation and one idempotency key (a sub-agent's second task would get the
        first one's answer). A call to rename is copied (a model may hand back the same
        objects again), never changed in place; only an empty id is filled in place.

        Raises:
            ModelError: the model (a custom :class:`~tether.models.Model`) returned a
                tool call that is not a :class:`~tether.ToolCall`.
        """
        given = response.tool_calls
        if type(given) is list and len(given) == 1:  # the usual case: one call
            call = given[0]
            if type(call) is ToolCall and plain_call(call) is call:
                if not call.id:  # (filled in place, as ever)
                    call.id = f"call_{step}_0"
                    return response
                fit = self._own(call, 0, step, None)
                return response if fit is call else dataclasses.replace(response, tool_calls=[fit])
        calls = given if type(given) is list else _listed(model, given)
        used: set[str] | None = set() if len(calls) > 1 else None
        out: list[ToolCall] | None = None if calls is given else []  # once one is copied
        for i, call in enumerate(calls):
            if not isinstance(call, ToolCall):
                raise ModelError(
                    f"model {model.name!r} returned a tool call of type "
                    f"{type(call).__name__}; a Model's tool calls are tether.ToolCall objects"
                )
            fit = plain_call(call)
            if not fit.id:  # (filled in place, as ever, unless the call was copied)
                cid = f"call_{step}_{i}"
                fit.id = cid if used is None else _free(cid, used)
            else:
                fit = self._own(fit, i, step, used)
            if fit is not call and out is None:
                out = calls[:i]
            if out is not None:
                out.append(fit)
            if used is not None:
                used.add(fit.id)
        if out is None:
            return response
        return dataclasses.replace(response, tool_calls=out)

    def _own(self, call: ToolCall, i: int, step: int, used: set[str] | None) -> ToolCall:
        """The ``i``-th call of a response, whose id the model gave: as it is, remembered,
        or a copy under a new id when the id is taken (see :meth:`_settled`)."""
        cid = call.id
        taken = self.call_ids
        ours = _ours(cid)
        if (
            (used is not None and cid in used)
            or (taken is not None and cid in taken)
            or (ours is not None and ours != str(step))
        ):
            return ToolCall(call.name, call.arguments, _free(f"call_{step}_{i}", used))
        if ours is None:  # an id of the model's own: remembered
            if taken is None:
                taken = self.call_ids = {}
            taken[cid] = None
            if len(taken) > 2 * _REMEMBERED:
                _forget(taken)
        return call

    def _remember(self, ids: Iterable[str]) -> None:
        """Remember the ids the model gave calls, as :meth:`_settled` did (tether's own,
        ``call_<step>_...``, need no memory: unique by construction, and a model's copy
        of one is renamed)."""
        for cid in ids:
            if _ours(cid) is None:
                taken = self.call_ids
                if taken is None:
                    taken = self.call_ids = {}
                taken[cid] = None
                if len(taken) > 2 * _REMEMBERED:
                    _forget(taken)

    async def _ask_within(
        self,
        requested: ModelRequested,
        model: Model,
        messages: Sequence[Message],
        params: ModelParams,
        remaining: float | None,
    ) -> ModelResponse:
        with self.during(requested):
            if remaining is None:
                return await self._ask(model, messages, params)
            async with asyncio.timeout(max(remaining, 0.0)):
                return await self._ask(model, messages, params)

    async def _ask(
        self, model: Model, messages: Sequence[Message], params: ModelParams
    ) -> ModelResponse:
        if not self.streaming:
            return await model.request(messages, params)
        final: ModelResponse | None = None
        async for item in model.stream(messages, params):
            if isinstance(item, str):
                delta = TextDelta(
                    run_id=self.run_id,
                    seq=self.seq,
                    at=time.time(),
                    step=self.state.step,
                    delta=item,
                )
                for outlet in self.outlets:
                    try:
                        outlet.emit(delta)
                    except Exception as exc:
                        if getattr(outlet, "essential", False):
                            raise
                        self.outlet_failed(outlet, "emit", delta, exc)
            else:
                final = item
        if final is None:
            raise RuntimeError(f"model {model.name!r} ended its stream without a response")
        return final

    # --- tool calls -------------------------------------------------------------------------

    def tool_context(self, step: int, call: ToolCall) -> RunContext[Any]:
        """The run context for one tool call."""
        return RunContext(
            self.deps,
            self.run_id,
            self.state.tracker,
            self.config.owner,
            step,
            call.id,
            f"{self.run_id}:{call.id}",
        )
