"""The run layer: a run's configuration and state, the nodes of the loop, the one fold,
event outlets, progress checks, fallbacks, prompts, output, durability and strategies.

Most users need only :class:`tether.Agent`. This package is for those who write a
strategy or an outlet of their own: see :class:`Strategy` for what a strategy may use.
"""

from ._config import RunConfig
from ._detect import Detection, LoopPolicy, ProgressMonitor
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
from ._nodes import (
    Finish,
    GiveUp,
    HandleResponse,
    ModelTurn,
    Node,
    RunTools,
    drive,
    judge_answer,
    model_step,
)
from ._outlets import JournalOutlet, Outlet, StreamOutlet
from ._output import OutputSpec
from ._prompt import DEFAULT_TEMPLATE, OrchestratorPrompt
from ._run import Run
from ._state import RunState, ToolResult
from ._timetravel import JournalModel, comparable, fork_events
from .strategies import GuidedStrategy, Strategy, ToolLoop, resolve_strategy

__all__ = [
    "DEFAULT_TEMPLATE",
    "AgentFallback",
    "Decision",
    "Detection",
    "Fallback",
    "FallbackContext",
    "FinalAnswer",
    "Finish",
    "FunctionFallback",
    "GiveUp",
    "GuidedStrategy",
    "HandleResponse",
    "JournalModel",
    "JournalOutlet",
    "Lease",
    "LoopPolicy",
    "ModelTurn",
    "Node",
    "OrchestratorPrompt",
    "Outlet",
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
    "approve",
    "as_fallback",
    "comparable",
    "drive",
    "edit",
    "fold",
    "fold_all",
    "fork_events",
    "judge_answer",
    "model_step",
    "reject",
    "resolve_strategy",
    "resume_node",
]
