"""The run layer: a run's configuration and state, the nodes of the loop, the one fold,
event outlets, progress checks, fallbacks, prompts, output, durability and strategies.

Most users need only :class:`tether.Agent`. This package is for those who write a
strategy or an outlet of their own: see :class:`Strategy` for what a strategy may use.
"""

from ._cancel import CancelOutcome, cancel_run, refuse_cancelled
from ._config import RunConfig
from ._context import SUMMARY_HEADING, ContextKeeper, WorkingMemory, summarise, valid_sequence
from ._detect import Detection, LoopPolicy, ProgressMonitor
from ._diagnose import Category, Diagnosis, diagnose
from ._durable import Decision, Lease, approve, edit, reject, resume_node
from ._fallback import (
    AgentFallback,
    Fallback,
    FallbackContext,
    FinalAnswer,
    FunctionFallback,
    StaticAnswer,
    as_fallback,
)
from ._fold import fold, fold_all
from ._guarded import drive_guarded, driver, first_node, resumed_node
from ._guardrails import (
    Guardrail,
    GuardrailSet,
    InjectionPolicy,
    Tripped,
    Verdict,
    input_guardrail,
    output_guardrail,
    tool_guardrail,
)
from ._nodes import (
    Finish,
    GiveUp,
    HandleResponse,
    ModelTurn,
    Node,
    RunTools,
    drive,
    handed_over,
    judge_answer,
    model_step,
)
from ._outlets import (
    JournalOutlet,
    Outlet,
    OutletFactory,
    StreamOutlet,
    add_outlet_factory,
    factory_outlets,
    remove_outlet_factory,
)
from ._output import OutputSpec
from ._prompt import DEFAULT_TEMPLATE, OrchestratorPrompt
from ._recall import RECALL_HEADING, LongTermMemory
from ._run import Run
from ._state import RunState, ToolResult
from ._timetravel import JournalModel, comparable, fork_events
from .strategies import GuidedStrategy, Strategy, ToolLoop, resolve_strategy

__all__ = [
    "DEFAULT_TEMPLATE",
    "RECALL_HEADING",
    "SUMMARY_HEADING",
    "AgentFallback",
    "CancelOutcome",
    "Category",
    "ContextKeeper",
    "Decision",
    "Detection",
    "Diagnosis",
    "Fallback",
    "FallbackContext",
    "FinalAnswer",
    "Finish",
    "FunctionFallback",
    "GiveUp",
    "Guardrail",
    "GuardrailSet",
    "GuidedStrategy",
    "HandleResponse",
    "InjectionPolicy",
    "JournalModel",
    "JournalOutlet",
    "Lease",
    "LongTermMemory",
    "LoopPolicy",
    "ModelTurn",
    "Node",
    "OrchestratorPrompt",
    "Outlet",
    "OutletFactory",
    "OutputSpec",
    "ProgressMonitor",
    "Run",
    "RunConfig",
    "RunState",
    "RunTools",
    "StaticAnswer",
    "Strategy",
    "StreamOutlet",
    "ToolLoop",
    "ToolResult",
    "Tripped",
    "Verdict",
    "WorkingMemory",
    "add_outlet_factory",
    "approve",
    "as_fallback",
    "cancel_run",
    "comparable",
    "diagnose",
    "drive",
    "drive_guarded",
    "driver",
    "edit",
    "factory_outlets",
    "first_node",
    "fold",
    "fold_all",
    "fork_events",
    "handed_over",
    "input_guardrail",
    "judge_answer",
    "model_step",
    "output_guardrail",
    "refuse_cancelled",
    "reject",
    "remove_outlet_factory",
    "resolve_strategy",
    "resume_node",
    "resumed_node",
    "summarise",
    "tool_guardrail",
    "valid_sequence",
]
