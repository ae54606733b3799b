"""The Agent, its run methods, and the run's result."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from ._context import RunContext
from ._detect import LoopPolicy, ProgressMonitor
from ._durable import Decision, Lease, rebuild
from ._errors import ConfigError, UsageError
from ._events import Event, Reason, RunFinished, RunStarted, RunStatus, StreamEvent
from ._fallback import Fallback, FallbackContext, as_fallback
from ._loop import Finish, RunState, drive
from ._messages import Message, SystemMessage, ToolCall, UserMessage
from ._output import OutputSpec
from ._prompt import OrchestratorPrompt
from ._strategy import Strategy, ToolLoop
from ._timetravel import JournalModel, fork_events
from ._tools import Tool
from ._usage import Budget, BudgetTracker, Usage
from .journal import JournalStore
from .models import Model, ModelParams, _current_run, resolve_model

__all__ = ["Agent", "RunResult", "RunStream"]

DepsT = TypeVar("DepsT")
OutputT = TypeVar("OutputT")
log = logging.getLogger("tether")
_DEFAULT_BUDGET = Budget()
_TOOL_LOOP = ToolLoop()


def new_run_id() -> str:
    """A run id that sorts by creation time: 12 hex digits of milliseconds, 16 random."""
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(8).hex()}"


@dataclass(slots=True)
class RunResult(Generic[OutputT]):
    """How a run ended.

    Attributes:
        run_id: the run's id.
        status: ``completed``, ``gave_up`` (a limit or a loop stopped it; the output is
            the fallback's), ``failed`` (no usable answer) or ``interrupted``.
        output: the validated output; on ``gave_up`` the fallback's output; None when
            there is none.
        reason: why the run ended (a machine-readable kind, a sentence, a detail).
        usage: tokens, calls and cost of the run.
        events: the run's journal.
        messages: the final conversation.
        pending: tool calls waiting for a person's decision (status ``interrupted``);
            resume the run with :meth:`Agent.resume` and ``decisions``.
    """

    run_id: str
    status: RunStatus
    output: OutputT | None
    reason: Reason
    usage: Usage
    events: list[Event]
    messages: list[Message] = field(default_factory=list)
    pending: list[ToolCall] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        """True when the run ended with a valid final answer."""
        return self.status == "completed"


_overrides: contextvars.ContextVar[dict[int, Model] | None] = contextvars.ContextVar(
    "tether_model_overrides", default=None
)


class Agent(Generic[DepsT, OutputT]):
    """An LLM agent: a model, instructions, tools, an output type and one budget.

    Args:
        model: a :class:`~tether.models.Model`, or a model name such as ``"demo"``.
        instructions: what the agent is for; placed in the orchestrator prompt.
        tools: functions or :class:`~tether.Tool` objects the model may call.
        output_type: the type of the final answer (``str`` by default; a pydantic
            model, dataclass or plain type is validated).
        budget: limits of one run; 25 steps by default.
        fallback: what to do on giving up (see :mod:`tether._fallback`): a
            :class:`~tether.Fallback`, another agent, or a function; one last
            model call without tools by default.
        loop_policy: thresholds of loop detection (on by default).
        prompt: the orchestrator prompt template.
        output_retries: how many invalid final answers are sent back for correction.
        max_result_chars: the longest tool result shown to the model (cut with a marker).
        name: the agent's name, in events and traces.
        deps_type: the type of ``deps``, for type checkers.
        strategy: how the run is orchestrated; :class:`~tether.ToolLoop` (the model
            decides each step) by default.
        approval: a policy over tool calls; a call for which it returns True waits
            for a person's approval (as do calls of tools marked ``requires_approval``).
        store: a journal store; every event of every run is written to it before the
            loop moves on, and runs can then be resumed, listed, forked and replayed.
        lease_ttl: seconds a run's lease lasts without renewal (it is renewed every
            third of that while the run goes); a crashed process's run can be
            resumed elsewhere once its lease has expired.
    """

    def __init__(
        self,
        model: Model | str,
        *,
        instructions: str = "",
        tools: Sequence[Tool | Callable[..., Any]] = (),
        output_type: type[OutputT] = str,  # type: ignore[assignment]
        budget: Budget | None = None,
        fallback: Fallback | Agent[Any, Any] | Callable[[FallbackContext], Any] | None = None,
        loop_policy: LoopPolicy | None = None,
        prompt: OrchestratorPrompt | None = None,
        output_retries: int = 2,
        max_result_chars: int = 20_000,
        name: str = "agent",
        deps_type: type[DepsT] | None = None,
        strategy: Strategy | None = None,
        approval: Callable[[ToolCall], bool] | None = None,
        store: JournalStore | None = None,
        lease_ttl: float = 30.0,
    ) -> None:
        self.model = model if isinstance(model, Model) else resolve_model(model)
        self.instructions = instructions
        self.tools: dict[str, Tool] = {}
        for t in tools:
            tl = t if isinstance(t, Tool) else Tool(t)
            if tl.name in self.tools:
                raise ConfigError(f"two tools are named {tl.name!r}; give one another name")
            self.tools[tl.name] = tl
        self.output_type = output_type
        self.budget = budget or _DEFAULT_BUDGET
        self.fallback = as_fallback(fallback)
        self.loop_policy = loop_policy or LoopPolicy()
        self.prompt = prompt or OrchestratorPrompt()
        if output_retries < 0:
            raise ConfigError(f"output_retries must be >= 0, got {output_retries}")
        self.output_retries = output_retries
        self.max_result_chars = max_result_chars
        self.name = name
        self.deps_type = deps_type
        self.strategy = strategy or _TOOL_LOOP
        self.approval = approval
        self.store = store
        self.lease_ttl = lease_ttl
        self._prepared: tuple[OutputSpec[Any], ModelParams, ModelParams, str] | None = None

    def _prepare(self) -> tuple[OutputSpec[Any], ModelParams, ModelParams, str]:
        # Schemas and the system prompt are built once, at the first run.
        if self._prepared is None:
            spec = OutputSpec.of(self.output_type)
            defs = tuple(t.definition for t in self.tools.values())
            params = ModelParams(defs, spec.schema, True)
            no_tools = ModelParams((), spec.schema, False)
            system = self.prompt.render(self.instructions, defs, spec.schema)
            self._prepared = (spec, params, no_tools, system)
        return self._prepared

    @contextlib.contextmanager
    def override(self, *, model: Model) -> Iterator[None]:
        """Use another model for this agent inside a ``with`` block (scoped to the context)."""
        current = dict(_overrides.get() or {})
        current[id(self)] = model
        token = _overrides.set(current)
        try:
            yield
        finally:
            _overrides.reset(token)

    def _model(self) -> Model:
        over = _overrides.get()
        if over:
            return over.get(id(self), self.model)
        return self.model

    def _state(  # noqa: PLR0917 - private, called from three places
        self,
        prompt: str,
        deps: Any,
        parent: RunContext[Any] | None,
        sink: Callable[[StreamEvent], None] | None,
        streaming: bool,
        resume_id: str | None = None,
        store: JournalStore | None = None,
    ) -> RunState:
        spec, params, no_tools, system = self._prepare()
        tracker = (
            parent.tracker.child(self.budget) if parent is not None else BudgetTracker(self.budget)
        )
        model = self._model()
        st = RunState(
            agent=self,
            model=model,
            run_id=resume_id or new_run_id(),
            prompt=prompt,
            deps=deps,
            tracker=tracker,
            spec=spec,
            params=params,
            no_tools_params=no_tools,
            tools=self.tools,
            fallback=self.fallback,
            monitor=ProgressMonitor(self.loop_policy),
            messages=[SystemMessage(system), UserMessage(prompt)],
            sink=sink,
            streaming=streaming,
            store=store or self.store,
        )
        if resume_id is not None:  # the journal already holds run_started
            return st
        st.emit(
            RunStarted(
                run_id=st.run_id,
                seq=0,
                at=time.time(),
                agent=self.name,
                prompt=prompt,
                model=model.name,
                parent_run_id=parent.run_id if parent is not None else None,
            )
        )
        return st

    async def _execute(self, st: RunState, start: Any = None) -> RunResult[OutputT]:
        token = _current_run.set(st)
        lease = await Lease.take(st, self.lease_ttl) if st.store is not None else None
        try:
            end = await (self.strategy.run(st) if start is None else drive(st, start))
        except asyncio.CancelledError:
            end = Finish("interrupted", Reason("cancelled", "The run was cancelled."), None)
            self._finish(st, end)
            with contextlib.suppress(Exception):
                await asyncio.shield(st.flush())
            if lease is not None:
                await lease.release()
            raise
        except Exception as exc:  # a bug must still end the run with a reason
            log.exception("tether run %s failed with an internal error", st.run_id)
            end = Finish(
                "failed",
                Reason(
                    "internal_error",
                    f"Internal error: {type(exc).__name__}: {exc}",
                    type(exc).__name__,
                ),
                None,
            )
        finally:
            _current_run.reset(token)
        result = self._finish(st, end)
        await st.flush()
        if lease is not None:
            await lease.release()
        return result

    def _finish(self, st: RunState, end: Finish) -> RunResult[OutputT]:
        usage = st.tracker.usage.copy()
        st.emit(
            RunFinished(
                run_id=st.run_id,
                seq=st.seq,
                at=time.time(),
                status=end.status,
                reason=end.reason,
                output=end.output,
                usage=usage,
            )
        )
        return RunResult(
            st.run_id,
            end.status,
            cast(OutputT | None, end.output),
            end.reason,
            usage,
            cast(list[Event], st.events),
            st.messages,
            end.pending,
        )

    async def run(
        self, prompt: str, *, deps: DepsT | None = None, parent: RunContext[Any] | None = None
    ) -> RunResult[OutputT]:
        """Run the agent on a prompt until it answers, gives up or fails.

        Args:
            prompt: the user's task.
            deps: dependencies handed to tools through their :class:`RunContext`.
            parent: the context of a calling run; this run's usage is then charged to
                the parent's budget as well (sub-agents share one budget).
        """
        return await self._execute(self._state(prompt, deps, parent, None, False))

    async def resume(
        self,
        run_id: str,
        *,
        decisions: Mapping[str, Decision] | None = None,
        deps: DepsT | None = None,
        store: JournalStore | None = None,
    ) -> RunResult[OutputT]:
        """Go on with a run from its journal: after a crash, or with decisions on pending calls.

        Model responses and tool results already in the journal are not asked for or
        run again. A run that already finished returns its result as journaled.

        Args:
            run_id: the run to resume.
            decisions: per pending call id, :func:`tether.approve`, :func:`tether.reject`
                or :func:`tether.edit`.
            deps: the dependencies for tools (they are not journaled).
            store: the journal store; the agent's own by default.

        Raises:
            ConfigError: no store is configured.
            RunLocked: another live process is executing the run.
            JournalError: the run is not in the store.
        """
        store = store or self.store
        if store is None:
            raise ConfigError("resume needs a journal store: Agent(..., store=SQLiteStore())")
        events = await store.load(run_id)
        first = events[0]
        if not isinstance(first, RunStarted):
            raise ConfigError(f"the journal of run {run_id} does not start with run_started")
        st = self._state(first.prompt, deps, None, None, False, resume_id=run_id, store=store)
        node = rebuild(st, events, decisions or {})
        last = events[-1]
        if (
            isinstance(node, Finish)
            and isinstance(last, RunFinished)
            and last.status != "interrupted"
        ):
            return RunResult(
                run_id,
                last.status,
                cast(OutputT | None, last.output),
                last.reason,
                last.usage,
                events,
                st.messages,
            )
        return await self._execute(st, start=node)

    async def fork(
        self,
        run_id: str,
        at: int,
        *,
        prompt: str | None = None,
        tool_results: Mapping[str, str] | None = None,
        store: JournalStore | None = None,
    ) -> str:
        """Copy a run's journal up to event ``at`` into a new run; return the new run's id.

        Resume the new run (:meth:`resume`) to go on from there, down another path when
        ``prompt`` or ``tool_results`` (per call id) change what the run saw.
        """
        store = store or self.store
        if store is None:
            raise ConfigError("fork needs a journal store: Agent(..., store=SQLiteStore())")
        events = await store.load(run_id)
        new_id = new_run_id()
        await store.append(
            new_id, fork_events(events, at, new_id, prompt=prompt, tool_results=tool_results)
        )
        return new_id

    async def replay(
        self, run_id: str, *, deps: DepsT | None = None, store: JournalStore | None = None
    ) -> RunResult[OutputT]:
        """Run the journaled run again with no model: its model responses serve as the
        cassette, and the tools run again. The new run is not journaled.

        Compare ``tether.comparable(result.events)`` with the original's to check that
        the agent still behaves the same (a regression test from a production run).
        """
        store = store or self.store
        if store is None:
            raise ConfigError("replay needs a journal store: Agent(..., store=SQLiteStore())")
        events = await store.load(run_id)
        first = events[0]
        if not isinstance(first, RunStarted):
            raise ConfigError(f"the journal of run {run_id} does not start with run_started")
        with self.override(model=JournalModel(events)):
            st = self._state(first.prompt, deps, None, None, False)
            st.store = None
            return await self._execute(st)

    def run_sync(
        self, prompt: str, *, deps: DepsT | None = None, parent: RunContext[Any] | None = None
    ) -> RunResult[OutputT]:
        """:meth:`run` for code without an event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.run(prompt, deps=deps, parent=parent))
        raise UsageError("run_sync() was called inside an event loop; use `await agent.run(...)`")

    def run_stream(
        self, prompt: str, *, deps: DepsT | None = None, parent: RunContext[Any] | None = None
    ) -> RunStream[OutputT]:
        """Run the agent, yielding its events as they happen (text deltas included).

        Example:
            ```python
            stream = agent.run_stream("What is 2+2?")
            async for event in stream:
                print(event.type)
            print(stream.result.output)
            ```
        """
        return RunStream(self, prompt, deps, parent)


class RunStream(Generic[OutputT]):
    """An async iterator over a run's events; ``result`` is set once it ends."""

    def __init__(
        self,
        agent: Agent[Any, OutputT],
        prompt: str,
        deps: Any,
        parent: RunContext[Any] | None,
    ) -> None:
        self._agent = agent
        self._prompt = prompt
        self._deps = deps
        self._parent = parent
        self._result: RunResult[OutputT] | None = None

    @property
    def result(self) -> RunResult[OutputT]:
        """The run's result; available once iteration has ended."""
        if self._result is None:
            raise UsageError("the stream has not finished; iterate it to the end first")
        return self._result

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        queue: asyncio.Queue[StreamEvent | None] = asyncio.Queue()
        st = self._agent._state(self._prompt, self._deps, self._parent, queue.put_nowait, True)
        task = asyncio.create_task(self._agent._execute(st))
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (item := await queue.get()) is not None:
                yield item
            self._result = task.result()
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
