"""The Agent, its run methods, and the run's result."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import importlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from ._decisions import alive_seconds, check_finished, checked_decisions, record_decisions
from ._errors import ConfigError, JournalError, UsageError
from ._events import (
    BudgetExhausted,
    Event,
    MemoryRecalled,
    Reason,
    RunFinished,
    RunStarted,
    RunStatus,
    StreamEvent,
)
from ._messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from ._scope import current_scope, use_scope
from ._subrun import (
    Continuation,
    Gate,
    Handoff,
    agent_tool,
    handoff_tool,
    render_output,
    sub_run_id,
    tool_name,
)
from ._usage import Budget, BudgetTracker, Exceeded, Usage
from .journal import JournalStore, Turn
from .journal._store import check_id
from .models import Model, ModelParams, resolve_model
from .run import (
    SUMMARY_HEADING,
    ContextKeeper,
    Decision,
    Fallback,
    FallbackContext,
    Finish,
    Guardrail,
    GuardrailSet,
    InjectionPolicy,
    JournalModel,
    JournalOutlet,
    Lease,
    LongTermMemory,
    LoopPolicy,
    Node,
    OrchestratorPrompt,
    Outlet,
    OutputSpec,
    ProgressMonitor,
    Run,
    RunConfig,
    RunState,
    Strategy,
    StreamOutlet,
    WorkingMemory,
    as_fallback,
    driver,
    factory_outlets,
    first_node,
    fork_events,
    refuse_cancelled,
    resolve_strategy,
    resume_node,
    resumed_node,
    valid_sequence,
)
from .run._durable import check_wait
from .run._screen import untrusted_sources
from .tools import RunContext, Tool

__all__ = ["Agent", "RunResult", "RunStream"]

DepsT = TypeVar("DepsT")
OutputT = TypeVar("OutputT")
log = logging.getLogger("tether")
_DEFAULT_BUDGET = Budget()
_DEFAULT_MEMORY = WorkingMemory()
MAX_NESTING = 32
"""How deep agent runs may nest (a tool that runs an agent counts one level)."""
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("tether_run_depth", default=0)
_DEFAULT_PROMPT = OrchestratorPrompt()


def _check_kinds(budget: object, loop_policy: object) -> None:
    """Settings given as something else (a dict of a Budget's fields) fail when the
    agent is built, not at its first run."""
    if budget is not None and not isinstance(budget, Budget):
        raise ConfigError(f"budget is a tether.Budget, e.g. Budget(max_steps=10), got {budget!r}")
    if loop_policy is not None and not isinstance(loop_policy, LoopPolicy):
        raise ConfigError(
            "loop_policy is a tether.LoopPolicy, e.g. LoopPolicy(repeat_threshold=3), "
            f"got {loop_policy!r}"
        )


def _lower(own: Budget, cap: Budget) -> Budget:
    """Both budgets at once: per limit the lower one, and a limit that only one of them
    sets holds as well (the warning comes at the lower fraction)."""
    if cap == own:
        return own
    lowered: dict[str, Any] = {"warn_at": min(own.warn_at, cap.warn_at)}
    for f in dataclasses.fields(Budget):
        if f.name.startswith("max_"):
            mine, given = getattr(own, f.name), getattr(cap, f.name)
            lowered[f.name] = given if mine is None else mine if given is None else min(mine, given)
    return dataclasses.replace(own, **lowered)


def _handoff_targets(agent: object) -> tuple[Any, ...]:
    targets: tuple[Any, ...] = getattr(agent, "_handoff_targets", ())
    return targets


_DEFAULT_NAME = "agent"


def _check_handoff_names(agent: Agent[Any, Any]) -> None:
    """Agents that hand a conversation to each other are told apart by name: journals and
    traces name them, and a handoff to a name already in the chain is refused as a loop
    (also after a resume, when only the names are left). So an agent may not hand over
    to one of its own name (that handoff could never be taken), and no two different
    agents of a handoff chain may both keep the default name (two agents given the same
    name on purpose are taken for one: handing back to it is a loop)."""
    for target in _handoff_targets(agent):
        if target is not agent and target.name == agent.name:
            default = " (the default name)" if agent.name == _DEFAULT_NAME else ""
            raise ConfigError(
                f"this agent and the agent it hands off to are both named {agent.name!r}"
                f"{default}; a handoff to an agent of the same name is refused as a loop "
                "(journals and traces tell agents apart by name): give each a name of its "
                "own, e.g. Agent(..., name='billing')"
            )
    unnamed: list[object] = [agent] if agent.name == _DEFAULT_NAME else []
    seen = {id(agent)}
    todo = list(_handoff_targets(agent))
    while todo:
        other = todo.pop()
        if id(other) in seen:
            continue
        seen.add(id(other))
        if other.name == _DEFAULT_NAME:
            unnamed.append(other)
        todo.extend(_handoff_targets(other))
    if len(unnamed) > 1:
        raise ConfigError(
            f"{len(unnamed)} different agents that hand conversations to each other keep "
            f"the default name {_DEFAULT_NAME!r}; journals and traces tell agents apart by "
            "name, and a handoff to a name already in the chain is refused as a loop: give "
            "each a name of its own, e.g. Agent(..., name='billing')"
        )


def _items(value: object, what: str, holds: str) -> Sequence[Any]:
    """A list-like argument (tools, guardrails, handoffs): None is none; a str, a single
    item or anything not iterable is refused."""
    if value is None:
        return ()
    if isinstance(value, str | bytes | Mapping) or not isinstance(
        value, Sequence | set | frozenset
    ):
        raise ConfigError(f"{what} is a list of {holds}, e.g. {what}=[...], got {value!r}")
    return list(value)


def _check_settings(  # noqa: PLR0917 - one check per setting of Agent()
    instructions: object,
    name: object,
    output_type: object,
    prompt: object,
    output_retries: object,
    approval: object,
    injection_policy: object,
    store: object,
) -> None:
    """Settings of the wrong kind fail when the agent is built, saying what they are,
    not at the first run with an AttributeError or a TypeError."""
    if not isinstance(instructions, str):
        raise ConfigError(f"instructions is a str, got {type(instructions).__name__}")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"an agent's name is a non-empty str, got {name!r}")
    if output_type is None:
        raise ConfigError(
            "output_type is the type of the final answer (str by default, a pydantic "
            "model, a dataclass, list[int], ...), got None"
        )
    if prompt is not None and not isinstance(prompt, OrchestratorPrompt):
        raise ConfigError(
            "prompt is a tether.OrchestratorPrompt, e.g. OrchestratorPrompt(extra='...'); "
            f"for the agent's own instructions use instructions=, got {prompt!r}"
        )
    if (
        isinstance(output_retries, bool)
        or not isinstance(output_retries, int)
        or output_retries < 0
    ):
        raise ConfigError(
            f"output_retries is an int of at least 0 (2 by default), got {output_retries!r}"
        )
    if approval is not None and not callable(approval):
        raise ConfigError(
            "approval is a function fn(call) -> bool (True: the call waits for a person), "
            f"got {approval!r}"
        )
    if injection_policy is not None and not isinstance(injection_policy, InjectionPolicy):
        raise ConfigError(
            "injection_policy is a tether.InjectionPolicy, e.g. InjectionPolicy(action='refuse'), "
            f"got {injection_policy!r}"
        )
    if store is not None and not (
        isinstance(store, JournalStore) or callable(getattr(store, "acquire_lease", None))
    ):  # (a wrapper that forwards to a store passes)
        raise ConfigError(
            f"store is a tether.journal.JournalStore, e.g. open_store('runs.db'), got {store!r}"
        )


def _check_run(prompt: object, parent: object) -> None:
    """A run's prompt and parent, and how deep runs are nested, checked as it is built."""
    if not isinstance(prompt, str):
        raise ConfigError(f"a prompt is a str, got {type(prompt).__name__}")
    if parent is not None and not isinstance(parent, RunContext):
        raise ConfigError(
            "parent is the RunContext of the calling run (the ctx a tool is given: "
            f"agent.run(task, parent=ctx)), or None for a run of its own; got {parent!r}"
        )
    if _DEPTH.get() >= MAX_NESTING:
        raise UsageError(
            f"agent runs are nested more than {MAX_NESTING} deep (a tool runs an agent "
            "whose tool runs an agent ...); look for a tool that calls its own agent"
        )


def _strategy_of(strategy: object) -> Strategy | None:
    """``strategy=``: a Strategy, or the name of one (``"guided"``, ``"tool_loop"``)."""
    if strategy is None or isinstance(strategy, Strategy):
        return strategy
    if isinstance(strategy, str):
        return resolve_strategy(strategy)
    raise ConfigError(
        "strategy is a tether.Strategy (ToolLoop(), GuidedStrategy(), your own) or the "
        f"name of one ('tool_loop', 'guided'), got {strategy!r}"
    )


def _continuation_of(first: RunStarted) -> Continuation | None:
    """The continuation a journaled run began with."""
    if (
        first.session is None
        and not first.history
        and first.history_summary is None
        and not first.handoffs
        and not first.untrusted
    ):
        return None
    return Continuation(
        first.session,
        list(first.history),
        first.history_summary,
        first.history_from,
        tuple(first.handoffs),
        tuple(first.untrusted),
    )


_NO_EARLIER = Continuation(None)


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
        name: the agent's name, in events and traces. Agents that hand conversations
            to each other need names of their own (see ``handoffs``).
        deps_type: the type of ``deps``, for type checkers.
        strategy: how the run is orchestrated: a :class:`~tether.Strategy`, or the name
            of one (``"guided"``, ``"tool_loop"``). By default the strategy the model
            declares (:attr:`~tether.models.Model.preferred_strategy`: the embedded
            model runs :class:`~tether.GuidedStrategy`), else :class:`~tether.ToolLoop`.
        approval: a policy over tool calls; a call for which it returns True waits
            for a person's approval (as do calls of tools marked ``requires_approval``).
        store: a journal store; every event of every run is written to it before the
            loop moves on, and runs can then be resumed, listed, forked and replayed.
        lease_ttl: seconds a run's lease lasts without renewal (it is renewed every
            third of that while the run goes); a crashed process's run can be
            resumed elsewhere once its lease has expired.
        guardrails: checks on the input, each tool call and the final answer
            (:class:`~tether.Guardrail`, made with ``@input_guardrail``,
            ``@tool_guardrail``, ``@output_guardrail`` or from an agent); a tripped one
            ends the run or redirects the model.
        injection_policy: how calls of high-risk tools (declared with ``effects``) are
            treated once tool output is in the conversation
            (:class:`~tether.InjectionPolicy`: they wait for approval by default).
        working_memory: how the conversation is kept under a token budget
            (:class:`~tether.WorkingMemory`). By default it is kept under the model's
            context window when the model says its window (the embedded model does);
            ``False`` always sends the whole conversation.
        memory: long-term memory (:class:`~tether.LongTermMemory`): the memories that
            best match the prompt are recalled into the system message when a run
            starts, and the model gets ``remember``, ``recall`` and ``forget`` tools.
        handoffs: agents this one may hand the conversation to (an :class:`Agent`, or a
            :class:`~tether.Handoff` saying how much of the conversation it is given):
            the model gets a ``transfer_to_<name>`` tool for each, and the agent handed
            to answers from then on, in a sub-run under the same budget. Agents are told
            apart by name along a chain of handoffs (a handoff back to a name already in
            it is refused as a loop), so a handoff to an agent of this agent's name, or
            two different agents of one chain that keep the default name, are a
            :class:`~tether.ConfigError`. One handoff a model turn is taken: the first.
        keep_events: keep only about the latest this many events of a run in memory
            (its first event stays too), for runs of thousands of steps whose process
            must not grow; the journal ``store`` still holds every event, and
            :attr:`RunResult.events` then has only the kept ones. Such runs are not
            traced by :mod:`tether.tracing` (spans are built from all of a run's events).
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
        name: str = _DEFAULT_NAME,
        deps_type: type[DepsT] | None = None,
        strategy: Strategy | str | None = None,
        approval: Callable[[ToolCall], bool] | None = None,
        store: JournalStore | None = None,
        lease_ttl: float = 30.0,
        guardrails: Sequence[Guardrail] = (),
        injection_policy: InjectionPolicy | None = None,
        working_memory: WorkingMemory | bool | None = None,
        memory: LongTermMemory | None = None,
        keep_events: int | None = None,
        handoffs: Sequence[Agent[Any, Any] | Handoff] = (),
    ) -> None:
        self.model = model if isinstance(model, Model) else resolve_model(model)
        _check_settings(
            instructions,
            name,
            output_type,
            prompt,
            output_retries,
            approval,
            injection_policy,
            store,
        )
        self.instructions = instructions
        self.tools: dict[str, Tool] = {}
        if memory is not None and not isinstance(memory, LongTermMemory):
            raise ConfigError(f"memory is a tether.LongTermMemory, got {type(memory).__name__}")
        self.memory = memory
        extra: list[Tool] = memory.agent_tools() if memory is not None else []
        targets: list[Any] = []
        for given in _items(handoffs, "handoffs", "agents or tether.Handoff"):
            h = Handoff(given) if isinstance(given, Agent) else given
            if not isinstance(h, Handoff):
                raise ConfigError(f"handoffs holds agents or tether.Handoff, got {h!r}")
            extra.append(handoff_tool(h))
            targets.append(h.agent)
        self._handoff_targets = tuple(targets)
        self.name = name
        if targets:
            _check_handoff_names(self)
        every: list[Tool | Callable[..., Any]] = [
            *_items(tools, "tools", "functions or tether.Tool"),
            *extra,
        ]
        for t in every:
            tl = t if isinstance(t, Tool) else Tool(t)
            if tl.name in self.tools:
                why = (
                    " (memory= adds remember, recall and forget; handoffs= adds "
                    "transfer_to_<agent>)"
                    if extra
                    else ""
                )
                raise ConfigError(f"two tools are named {tl.name!r}; give one another name{why}")
            self.tools[tl.name] = tl
        self.output_type = output_type
        _check_kinds(budget, loop_policy)
        self.budget = budget or _DEFAULT_BUDGET
        self.fallback = as_fallback(fallback)
        self.loop_policy = loop_policy or LoopPolicy()
        self.prompt = prompt or OrchestratorPrompt()
        self.output_retries = output_retries
        if (
            isinstance(max_result_chars, bool)
            or not isinstance(max_result_chars, int)
            or max_result_chars < 1
        ):
            raise ConfigError(
                f"max_result_chars must be an int of at least 1 (20000 by default), "
                f"got {max_result_chars!r}"
            )
        self.max_result_chars = max_result_chars
        self.deps_type = deps_type
        self._strategy = _strategy_of(strategy)
        self.approval = approval
        self.store = store
        if (
            isinstance(lease_ttl, bool)
            or not isinstance(lease_ttl, int | float)
            or not 0.1 <= lease_ttl < float("inf")
        ):
            raise ConfigError(
                f"lease_ttl is a number of seconds of at least 0.1 (30 by default), "
                f"got {lease_ttl!r}"
            )
        self.lease_ttl = float(lease_ttl)
        self.guardrails = GuardrailSet.of(
            _items(guardrails, "guardrails", "guardrails (input_guardrail, ...)")
        )
        self.injection_policy = injection_policy or InjectionPolicy()
        if not isinstance(working_memory, WorkingMemory | bool | None):
            raise ConfigError(
                "working_memory is a WorkingMemory, True, False or None, "
                f"got {type(working_memory).__name__}"
            )
        self.working_memory = working_memory
        if keep_events is not None and (
            isinstance(keep_events, bool) or not isinstance(keep_events, int) or keep_events < 16
        ):
            raise ConfigError(f"keep_events must be an int of at least 16, got {keep_events!r}")
        self.keep_events = keep_events
        self._config: RunConfig | None = None

    def _prepare(self) -> RunConfig:
        # Schemas and the system prompt are built once, at the first run.
        if self._config is None:
            spec = OutputSpec.of(self.output_type)
            defs = tuple(t.definition for t in self.tools.values())
            self._config = RunConfig(
                agent_name=self.name,
                instructions=self.instructions,
                system=self.prompt.render(self.instructions, defs, spec.schema),
                spec=spec,
                params=ModelParams(defs, spec.schema, True),
                no_tools_params=ModelParams((), spec.schema, False),
                tools=self.tools,
                fallback=self.fallback,
                loop_policy=self.loop_policy,
                approval=self.approval,
                output_retries=self.output_retries,
                max_result_chars=self.max_result_chars,
                default_prompt=self.prompt == _DEFAULT_PROMPT,
                owner=self,
                guardrails=self.guardrails,
                injection=self.injection_policy,
                acting=frozenset(n for n, t in self.tools.items() if t.effects),
            )
        return self._config

    @property
    def strategy(self) -> Strategy:
        """How this agent's runs are orchestrated: the ``strategy=`` given, else the one
        its model declares (:attr:`~tether.models.Model.preferred_strategy`)."""
        if self._strategy is not None:
            return self._strategy
        return resolve_strategy(self.model.preferred_strategy, self.model.strategy_options)

    @strategy.setter
    def strategy(self, value: Strategy | None) -> None:
        self._strategy = value

    def _strategy_for(self, model: Model, journaled: str | None = None) -> Strategy:
        """An explicit ``strategy=`` wins; then the run's own (on resume), then the model's."""
        if self._strategy is not None:
            return self._strategy
        if journaled is not None and journaled != model.preferred_strategy:
            return resolve_strategy(journaled)
        return resolve_strategy(model.preferred_strategy, model.strategy_options)

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

    def as_tool(
        self,
        name: str | None = None,
        description: str | None = None,
        *,
        budget: Budget | None = None,
        gate: Gate | None = None,
    ) -> Tool:
        """This agent as a tool of another agent: the model gives it a task, and its
        answer is the tool's result.

        Each call is a run of this agent of its own (journaled in this agent's store),
        linked to the calling run and its tool call, charged to the caller's budget, and
        held to this agent's own budget and to ``budget`` as well, when given: a lower
        cap, never a higher one. A sub-run that gives up or fails is the call's error,
        saying why. A caller resumed after a crash finds the sub-run again: a finished
        one is not run again, one in flight goes on.

        Args:
            name: the tool's name (the agent's name by default).
            description: what the tool is for (the agent's instructions by default).
            budget: a lower cap on each sub-run: it and the agent's own budget both
                hold, so per limit the lower one wins (``Budget()``'s default of 25
                steps is a limit too). None: the agent's own budget alone.
            gate: shared by several agent tools, bounds how many of their sub-runs go
                at once in one calling run (see :class:`~tether.Supervisor`).

        Raises:
            ConfigError: ``budget`` is not a :class:`~tether.Budget`, or a name or a
                description is not one a tool can have.
        """
        desc = description or self.instructions.strip() or f"Ask the {self.name} agent."
        return agent_tool(self, tool_name(name, self.name), desc, budget, gate)

    async def _sub_run(
        self,
        prompt: str,
        ctx: RunContext[Any],
        *,
        budget: Budget | None = None,
        earlier: Continuation | None = None,
    ) -> RunResult[OutputT]:
        """The sub-run of the tool call ``ctx``: started, resumed after a crash of its
        caller, or read back when it had already finished."""
        run_id = sub_run_id(ctx)
        if budget is not None:  # a cap: the agent's own limits hold too
            budget = _lower(self.budget, budget)
        store = self.store
        if store is not None:
            try:
                events = await store.load(run_id)
            except JournalError:
                events = []
            if events:
                last = events[-1]
                done = isinstance(last, RunFinished) and last.status != "interrupted"
                result = await self._resume(
                    run_id, deps=ctx.deps, parent=ctx, budget=budget, wait=self.lease_ttl + 1
                )
                caller = current_scope()
                known = isinstance(caller, Run) and run_id in caller.state.sub_runs
                if done and not known:  # its usage, charged to the caller before a crash
                    ctx.tracker.restore(result.usage)
                return result
        caller = current_scope()
        if isinstance(caller, Run):  # the task was written after the caller read these
            untrusted = tuple(untrusted_sources(caller))
            if untrusted:
                earlier = dataclasses.replace(earlier or _NO_EARLIER, untrusted=untrusted)
        run = self._new_run(
            prompt, ctx.deps, parent=ctx, store=store, new_id=run_id, earlier=earlier, budget=budget
        )
        return await self._execute(run)

    def _working_memory(self, model: Model) -> WorkingMemory | None:
        """The working memory of a run on ``model``: the one given, or the default when the
        model says its context window."""
        wm = self.working_memory
        if isinstance(wm, WorkingMemory):
            return wm
        if wm is False or (wm is None and model.context_window is None):
            return None
        return _DEFAULT_MEMORY

    def _new_run(
        self,
        prompt: str,
        deps: Any,
        *,
        parent: RunContext[Any] | None = None,
        sink: Callable[[StreamEvent], None] | None = None,
        store: JournalStore | None = None,
        run_id: str | None = None,
        strategy: str | None = None,
        earlier: Continuation | None = None,
        new_id: str | None = None,
        budget: Budget | None = None,
    ) -> Run:
        """A run ready to start (``run_id`` None) or to adopt its journal (a resume).

        ``earlier``: the conversation the run continues (its earlier turns go between
        the system message and the prompt)."""
        _check_run(prompt, parent)
        config = self._prepare()
        limits = budget or self.budget
        tracker = parent.tracker.child(limits) if parent is not None else BudgetTracker(limits)
        model = self._model()
        chosen = self._strategy_for(model, strategy)
        policy = self._working_memory(model)
        system = chosen.system_prompt(config)
        if policy is not None:
            system = policy.system_with_pins(system)
        earlier = earlier or _NO_EARLIER
        lead = system if earlier.summary is None else system + SUMMARY_HEADING + earlier.summary
        state = RunState(
            [SystemMessage(lead), *earlier.turns, UserMessage(prompt)],
            tracker,
            ProgressMonitor(self.loop_policy, acting=config.acting),
        )
        state.prompt_index = 1 + len(earlier.turns)
        state.session, state.history_from = earlier.session, earlier.summarized
        state.handoffs = list(earlier.handoffs)
        if earlier.untrusted:
            state.output_from = frozenset(earlier.untrusted)
            state.untrusted_prompt = True
        state.results_cap = self.keep_events
        if earlier.summary is not None:
            state.summary, state.system_base = earlier.summary, system
        outlets: list[Outlet] = []
        if sink is not None:
            outlets.append(StreamOutlet(sink))
        new_id = run_id or new_id or new_run_id()
        if store is not None:
            outlets.append(JournalOutlet(store, new_id))
        run = Run(config, chosen, model, new_id, prompt, deps, state, outlets, sink is not None)
        run.keep = self.keep_events
        if policy is not None:
            run.keeper = ContextKeeper(policy, model)
        for outlet in factory_outlets(run):  # e.g. tether.tracing, when instrumented
            run.add_outlet(outlet)
        for key in model.secret_values():  # an API key a server echoes is redacted
            run.add_secret(key)
        if run_id is None:  # a new run (with new_id: the id its caller chose)
            run.record(
                RunStarted,
                agent=self.name,
                prompt=prompt,
                model=model.name,
                parent_run_id=parent.run_id if parent is not None else None,
                strategy=chosen.name,
                session=earlier.session,
                history=list(earlier.turns),
                history_summary=earlier.summary,
                history_from=earlier.summarized,
                handoffs=list(earlier.handoffs),
                untrusted=list(earlier.untrusted),
                parent_call_id=parent.tool_call_id if parent is not None else None,
            )
        return run

    async def _execute(
        self, run: Run, start: Node | Finish | None = None, lease: Lease | None = None
    ) -> RunResult[OutputT]:
        store = self._store_of(run)
        if store is not None and lease is None:
            await run.flush()  # the run's row exists before its lease is taken
            lease = await Lease.take(store, run.run_id, self.lease_ttl)
        if lease is not None:  # from now on only this lease's holder may write the run
            for outlet in run.outlets:
                if isinstance(outlet, JournalOutlet):
                    outlet.owner = lease.owner
            lease.watch()  # a cancel request in the store cancels this task
        try:
            await self._recall(run)
            # run.during: what an outlet enters around the run (a tracer's run span).
            with use_scope(run), run.during(run.events[0]):
                depth = _DEPTH.set(_DEPTH.get() + 1)  # seen by runs that this run's tools start
                try:
                    # No local keeps the first node: it would stay alive for the whole run.
                    end = await driver(run)(
                        run, first_node(run, run.strategy.start(run)) if start is None else start
                    )
                finally:
                    _DEPTH.reset(depth)
        except asyncio.CancelledError:
            cancelled = await self._end_cancelled(run, lease)
            if cancelled is None:
                raise
            return cancelled  # cancelled on request from the store: the run's own ending
        except Exception as exc:  # a bug must still end the run with a reason
            log.exception("tether run %s failed with an internal error", run.run_id)
            end = Finish(
                "failed",
                Reason(
                    "internal_error",
                    f"Internal error: {type(exc).__name__}: {exc}",
                    type(exc).__name__,
                ),
                None,
            )
        except BaseException:
            if lease is not None:
                await lease.release()
            raise
        _stop_watching(lease)  # the run has ended: a cancel request comes too late
        result = self._finish(run, end)
        try:
            await run.flush()
            await _add_to_session(store, run.state, run.prompt, result)
        finally:
            if lease is not None:
                await lease.release()
        return result

    async def _recall(self, run: Run) -> None:
        """Journal the long-term memories recalled for the run's prompt (once per run: a
        resumed run folds the journaled ones instead of searching again). A store that
        fails is logged and the run goes on without memories."""
        memory = self.memory
        if memory is None or run.state.recalled:
            return
        try:
            namespace, ids, texts = await memory.recalled(run.prompt, run.deps)
        except ConfigError:
            raise
        except Exception:
            log.exception("tether: recalling memories for run %s failed", run.run_id)
            namespace, ids, texts = "", [], []
        run.record(MemoryRecalled, namespace=namespace, ids=ids, texts=texts)

    async def _end_cancelled(self, run: Run, lease: Lease | None) -> RunResult[OutputT] | None:
        """Journal a cancelled run's end and give its lease back. Returns the result when
        the cancel was a request found in the store (the run's own ending), else None:
        the cancellation is the caller's and goes on.

        A run cancelled because its time budget (or an ancestor's: a sub-run stopped
        with its caller's tool call) ran out ends ``gave_up`` with the budget as its
        reason, as a run that found the limit itself does, not ``interrupted``: it is
        over, not waiting to be resumed."""
        asked = lease.unwatch() if lease is not None else None
        end = Finish("interrupted", asked or Reason("cancelled", "The run was cancelled."), None)
        if asked is None:
            out_of_time = _time_up(run.state.tracker)
            if out_of_time is not None:
                if run.state.stop is None:
                    run.record(
                        BudgetExhausted,
                        dimension=out_of_time.dimension,
                        used=out_of_time.used,
                        limit=out_of_time.limit,
                    )
                assert run.state.stop is not None
                end = Finish("gave_up", run.state.stop, None)
        result = self._finish(run, end)
        with contextlib.suppress(Exception):
            await asyncio.shield(run.flush())
        if lease is not None:
            await lease.release()
        task = asyncio.current_task()
        if asked is None or (task is not None and task.cancelling()):
            return None
        return result

    @staticmethod
    def _store_of(run: Run) -> JournalStore | None:
        for outlet in run.outlets:
            if isinstance(outlet, JournalOutlet):
                return outlet.store
        return None

    def _finish(self, run: Run, end: Finish) -> RunResult[OutputT]:
        usage = run.state.tracker.usage.copy()
        finished = run.record(
            RunFinished,
            status=end.status,
            reason=end.reason,
            output=end.output,
            usage=usage,
        )
        return RunResult(
            run.run_id,
            end.status,
            cast(OutputT | None, end.output),
            finished.reason,  # as journaled: secret values redacted
            usage,
            cast(list[Event], run.events),
            run.state.messages,
            end.pending,
        )

    async def run(
        self,
        prompt: str,
        *,
        deps: DepsT | None = None,
        parent: RunContext[Any] | None = None,
        session: str | None = None,
        history: Sequence[Message] | None = None,
    ) -> RunResult[OutputT]:
        """Run the agent on a prompt until it answers, gives up or fails.

        Args:
            prompt: the user's task.
            deps: dependencies handed to tools through their :class:`RunContext`.
            parent: the context of a calling run; this run's usage is then charged to
                the parent's budget as well (sub-agents share one budget).
            session: a conversation to continue, by id, kept in the agent's journal
                ``store``: the run sees its earlier turns (under working memory's
                budget), and its prompt and answer join it when it finishes, so a chat
                survives a restart.
            history: earlier turns to continue from instead, given by you (for example
                ``previous.messages``; a system message in them is left out).

        Raises:
            ConfigError: a session without a store, both ``session`` and ``history``,
                a history that providers would refuse (the message says why), or a
                ``parent`` that is not a :class:`~tether.RunContext`.
        """
        earlier = await self._checked_earlier(prompt, session, history)
        run = self._new_run(prompt, deps, parent=parent, store=self.store, earlier=earlier)
        return await self._execute(run)

    async def _checked_earlier(
        self, prompt: str, session: str | None, history: Sequence[Message] | None
    ) -> Continuation | None:
        earlier = await self._earlier(session, history)
        if earlier is not None and earlier.session is None:
            why = valid_sequence([SystemMessage(""), *earlier.turns, UserMessage(str(prompt))])
            if why is not None:
                raise ConfigError(f"providers would refuse this history ({why}); pass whole turns")
        return earlier

    async def _earlier(
        self, session: str | None, history: Sequence[Message] | None
    ) -> Continuation | None:
        """The conversation a new run continues, checked, or None."""
        if session is not None and history is not None:
            raise ConfigError("give a run session= or history=, not both")
        if history is not None:
            if isinstance(history, str | bytes) or not isinstance(history, Sequence):
                raise ConfigError(f"history is a list of messages, got {type(history).__name__}")
            turns = [m for m in history if not isinstance(m, SystemMessage)]
            for m in turns:
                if not isinstance(m, UserMessage | AssistantMessage | ToolResultMessage):
                    raise ConfigError(f"history holds messages, got {m!r}")
            return Continuation(None, turns)
        if session is None:
            return None
        if not isinstance(session, str) or not session.strip() or len(session) > 200:
            raise ConfigError(
                f"a session id is a non-empty str of at most 200 characters, got {session!r}"
            )
        check_id(session, "session id")
        if self.store is None:
            raise ConfigError(
                "a session is kept in the journal store: Agent(..., store=SQLiteStore())"
            )
        kept = await self.store.load_session(session)
        return Continuation(session, list(kept.turns), kept.summary, kept.summarized)

    async def resume(
        self,
        run_id: str,
        *,
        decisions: Mapping[str, Decision] | None = None,
        deps: DepsT | None = None,
        store: JournalStore | None = None,
        wait: float = 0.0,
        parent: RunContext[Any] | None = None,
    ) -> RunResult[OutputT]:
        """Go on with a run from its journal: after a crash, or with decisions on pending calls.

        Model responses and tool results already in the journal are not asked for or
        run again. A run that already finished returns its result as journaled.

        Args:
            run_id: the run to resume.
            decisions: per pending call id, :func:`tether.approve`, :func:`tether.reject`
                or :func:`tether.edit`. A decision already journaled for that call (the
                same kind, message and arguments) changes nothing, whether the run goes
                on or has finished: giving every decision again is safe.
            deps: the dependencies for tools (they are not journaled).
            store: the journal store; the agent's own by default.
            wait: seconds to wait for the run's lease while another process holds it;
                by default a second resumer fails at once with :class:`~tether.RunLocked`
                and changes nothing.
            parent: the calling run's context, when a sub-agent's run is resumed by the
                run that started it (its usage is then charged there again).

        Raises:
            ConfigError: ``wait`` is not a finite number of seconds of 0 or more (checked
                before anything is read or written); ``decisions`` is not a mapping of
                call ids (str) to decisions; no store is configured; a decision names a
                call that is neither waiting nor decided (the message lists those that
                wait), or differs from the one journaled for a call of a run that goes
                on.
            UsageError: a decision on a run that has already finished differs from the
                journal's (it was not applied).
            RunLocked: another live process is executing the run.
            JournalError: the run is not in the store.
        """
        return await self._resume(
            run_id, decisions=decisions, deps=deps, store=store, wait=wait, parent=parent
        )

    async def _resume(
        self,
        run_id: str,
        *,
        decisions: Mapping[str, Decision] | None = None,
        deps: Any = None,
        store: JournalStore | None = None,
        wait: float = 0.0,
        parent: RunContext[Any] | None = None,
        budget: Budget | None = None,
    ) -> RunResult[OutputT]:
        wait = check_wait(wait)  # before anything is read or written
        given = checked_decisions(decisions)
        store = store or self.store
        if store is None:
            raise ConfigError("resume needs a journal store: Agent(..., store=SQLiteStore())")
        events = await store.load(run_id)
        done = self._journaled_result(run_id, events)
        if done is not None:
            return await self._finished_already(store, events, done, given)
        # Only the lease holder acts on the run, and it reads the journal after taking it:
        # what the journal said before the lease may be stale by now.
        lease = await Lease.take(store, run_id, self.lease_ttl, wait=wait)
        try:
            events = await store.load(run_id)
            done = self._journaled_result(run_id, events)
            if done is not None:
                await lease.release()
                return await self._finished_already(store, events, done, given)
            await refuse_cancelled(store, run_id, events, lease.owner)
            run = self._rebuilt(run_id, events, deps, parent=parent, store=store, budget=budget)
            for ended in run.state.sub_runs.values():  # what finished sub-runs used
                run.state.tracker.restore(ended.usage)
            run.state.tracker.started = time.monotonic() - alive_seconds(events)
            record_decisions(run, given, events)
            node = resumed_node(run, resume_node(run), events)
        except BaseException:
            await lease.release()
            raise
        return await self._execute(run, start=node, lease=lease)

    async def _finished_already(
        self,
        store: JournalStore,
        events: list[Event],
        done: RunResult[OutputT],
        decisions: Mapping[str, Decision],
    ) -> RunResult[OutputT]:
        """A finished run's result, once the decisions given are found to be the
        journal's (they are checked before the session is caught up)."""
        check_finished(done.run_id, done.status, events, decisions)
        await self._catch_up_session(store, events, done)
        return done

    async def _catch_up_session(
        self, store: JournalStore, events: list[Event], done: RunResult[OutputT]
    ) -> None:
        """Add a finished run's turns to its conversation, had a crash come between its
        end and that (adding them twice changes nothing)."""
        first = events[0]
        if not isinstance(first, RunStarted) or first.session is None:
            return
        run = self._rebuilt(done.run_id, events)
        await _add_to_session(store, run.state, first.prompt, done)

    def _rebuilt(self, run_id: str, events: list[Event], deps: Any = None, **options: Any) -> Run:
        """A journaled run rebuilt by folding its events (nothing recorded or emitted)."""
        first = events[0]
        assert isinstance(first, RunStarted)
        run = self._new_run(
            first.prompt,
            deps,
            run_id=run_id,
            strategy=first.strategy,
            earlier=_continuation_of(first),
            **options,
        )
        run.adopt(events)
        return run

    def _journaled_result(
        self, run_id: str, events: list[Event], *, interrupted: bool = False
    ) -> RunResult[OutputT] | None:
        """The result of a run whose journal shows it ended (not interrupted, unless
        ``interrupted``: a run that stopped to wait for a person), else None."""
        if not events or not isinstance(events[0], RunStarted):
            raise JournalError(f"the journal of run {run_id} does not start with run_started")
        last = events[-1]
        if not isinstance(last, RunFinished) or (last.status == "interrupted" and not interrupted):
            return None
        output: Any = last.output
        spec = self._prepare().spec
        if output is not None and spec.adapter is not None:
            with contextlib.suppress(Exception):  # a journal of another output type
                output = spec.adapter.validate_python(output)
        run = self._rebuilt(run_id, events)
        return RunResult(
            run_id,
            last.status,
            cast(OutputT | None, output),
            last.reason,
            last.usage,
            events,
            run.state.messages,
        )

    async def fork(
        self,
        run_id: str,
        at: int,
        *,
        prompt: str | None = None,
        tool_results: Mapping[str, Any] | None = None,
        store: JournalStore | None = None,
    ) -> str:
        """Copy a run's journal up to event ``at`` into a new run; return the new run's id.

        Resume the new run (:meth:`resume`) to go on from there, down another path when
        ``prompt`` or ``tool_results`` (per call id) change what the run saw; a result
        that is not a str is shown as a tool's return value would be (``5``, ``null``,
        JSON).
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
            raise JournalError(f"the journal of run {run_id} does not start with run_started")
        with self.override(model=JournalModel(events)):
            run = self._new_run(
                first.prompt, deps, strategy=first.strategy, earlier=_continuation_of(first)
            )
            return await self._execute(run)

    async def submit(self, prompt: str, *, queue: str | None = None) -> Any:
        """Put a new run on this agent's queue for worker processes (``tether worker``)
        and return its :class:`tether.scale.RunHandle` at once.

        Needs the ``dbos`` extra and a PostgreSQL journal ``store``; see
        :mod:`tether.scale`.

        Raises:
            ConfigError: the ``dbos`` extra is not installed, or as
                :func:`tether.scale.submit` says: this agent has no PostgreSQL journal
                store, ``prompt`` is not a str, ``queue`` is not a queue's name, the
                database cannot be reached or no worker has started on it (nothing is
                journaled then), or the run was journaled but could not be queued.
            JournalError: the run could not be journaled (nothing was queued).
        """
        try:  # the optional dbos extra, loaded only when runs are submitted
            scale = importlib.import_module("tether.scale")
        except ImportError as exc:
            raise ConfigError(
                f"agent.submit needs the dbos extra: pip install 'tether[dbos]' ({exc})"
            ) from exc
        return await scale.submit(self, prompt, queue=queue)

    def run_sync(
        self,
        prompt: str,
        *,
        deps: DepsT | None = None,
        parent: RunContext[Any] | None = None,
        session: str | None = None,
        history: Sequence[Message] | None = None,
    ) -> RunResult[OutputT]:
        """:meth:`run` for code without an event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(
                self._run_and_close(
                    self.run(prompt, deps=deps, parent=parent, session=session, history=history)
                )
            )
        raise UsageError("run_sync() was called inside an event loop; use `await agent.run(...)`")

    async def _run_and_close(self, work: Awaitable[RunResult[OutputT]]) -> RunResult[OutputT]:
        """``work``, then the model's clients closed while their loop still runs (a
        client left to a closed loop logs "Event loop is closed" when collected)."""
        try:
            return await work
        finally:
            with contextlib.suppress(Exception):
                await self.model.aclose()

    def run_stream(
        self,
        prompt: str,
        *,
        deps: DepsT | None = None,
        parent: RunContext[Any] | None = None,
        session: str | None = None,
        history: Sequence[Message] | None = None,
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
        return RunStream(self, prompt, deps, parent, session=session, history=history)


class RunStream(Generic[OutputT]):
    """An async iterator over a run's events; ``result`` is set once it ends."""

    def __init__(
        self,
        agent: Agent[Any, OutputT],
        prompt: str,
        deps: Any,
        parent: RunContext[Any] | None,
        *,
        session: str | None = None,
        history: Sequence[Message] | None = None,
    ) -> None:
        self._agent = agent
        self._prompt = prompt
        self._deps = deps
        self._parent = parent
        self._session = session
        self._history = history
        self._result: RunResult[OutputT] | None = None
        self._iterated = False

    @property
    def result(self) -> RunResult[OutputT]:
        """The run's result; available once iteration has ended."""
        if self._result is None:
            raise UsageError("the stream has not finished; iterate it to the end first")
        return self._result

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        # A second iteration would start a second run: its tools would act again.
        if self._iterated:
            raise UsageError(
                "a RunStream is one run: iterate it once (call agent.run_stream again for "
                "another run); its result is in stream.result"
            )
        self._iterated = True
        queue: asyncio.Queue[StreamEvent | None] = asyncio.Queue()
        agent = self._agent
        earlier = await agent._checked_earlier(self._prompt, self._session, self._history)
        run = agent._new_run(
            self._prompt,
            self._deps,
            parent=self._parent,
            sink=queue.put_nowait,
            store=agent.store,
            earlier=earlier,
        )
        task = asyncio.create_task(agent._execute(run))
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


async def _add_to_session(
    store: JournalStore | None, st: RunState, prompt: str, result: RunResult[Any]
) -> None:
    """A finished run's prompt and answer join its conversation (once per run: a resume
    of a run that already finished adds nothing twice)."""
    if store is None or st.session is None or result.status == "interrupted":
        return
    out = result.output
    answer = f"(no answer: {result.reason.message})" if out is None else render_output(out)
    turns: list[Turn] = [UserMessage(prompt), AssistantMessage(answer)]
    summarised = st.history_dropped > 0
    await store.append_session(
        st.session,
        result.run_id,
        turns,
        summary=st.summary if summarised else None,
        summarized=st.history_from + st.history_dropped if summarised else 0,
    )


_TIME_SLACK = 0.05
"""Seconds before a time limit at which a cancellation counts as the limit's: a tool
call bounded by the run's time budget is cancelled when its timer fires, which the
clock may see a little before the limit."""


def _time_up(tracker: BudgetTracker) -> Exceeded | None:
    """The time limit, the run's or an ancestor's, that has run out, if one has."""
    t: BudgetTracker | None = tracker
    while t is not None:
        limit = t.budget.max_seconds
        if limit is not None:
            used = t.elapsed()
            if used >= limit - _TIME_SLACK:
                return Exceeded("seconds", used, limit)
        t = t.parent
    return None


def _stop_watching(lease: Lease | None) -> None:
    if lease is not None:
        lease.unwatch()
