"""tether: a Python runtime for LLM agents that hold up in production.

The public API lives here; everything in modules whose names start with an
underscore is private and may change.
"""

from ._agent import Agent, RunResult, RunStream
from ._context import RunContext
from ._detect import LoopPolicy
from ._errors import (
    ConfigError,
    ContextLengthExceeded,
    JournalError,
    ModelConnectionError,
    ModelError,
    ModelHTTPError,
    ModelRequestsBlocked,
    ModelRetry,
    ModelUnavailable,
    ReplayMismatch,
    ScriptExhausted,
    TetherError,
    UsageError,
)
from ._events import (
    BudgetExhausted,
    BudgetWarning,
    Event,
    LoopDetected,
    ModelFailed,
    ModelRequested,
    ModelResponded,
    ModelRetried,
    ModelSwitched,
    OutputInvalid,
    Reason,
    RunFinished,
    RunStarted,
    StrategyChanged,
    StreamEvent,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    dump_event,
    load_event,
)
from ._fallback import (
    AgentFallback,
    Fallback,
    FallbackContext,
    FinalAnswer,
    StaticAnswer,
)
from ._messages import (
    AssistantMessage,
    Message,
    ModelResponse,
    SystemMessage,
    TokenUsage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from ._prompt import DEFAULT_TEMPLATE, OrchestratorPrompt
from ._strategy import Strategy, ToolLoop
from ._tools import Tool, ToolDefinition, tool
from ._usage import Budget, Usage

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TEMPLATE",
    "Agent",
    "AgentFallback",
    "AssistantMessage",
    "Budget",
    "BudgetExhausted",
    "BudgetWarning",
    "ConfigError",
    "ContextLengthExceeded",
    "Event",
    "Fallback",
    "FallbackContext",
    "FinalAnswer",
    "JournalError",
    "LoopDetected",
    "LoopPolicy",
    "Message",
    "ModelConnectionError",
    "ModelError",
    "ModelFailed",
    "ModelHTTPError",
    "ModelRequested",
    "ModelRequestsBlocked",
    "ModelResponded",
    "ModelResponse",
    "ModelRetried",
    "ModelRetry",
    "ModelSwitched",
    "ModelUnavailable",
    "OrchestratorPrompt",
    "OutputInvalid",
    "Reason",
    "ReplayMismatch",
    "RunContext",
    "RunFinished",
    "RunResult",
    "RunStarted",
    "RunStream",
    "ScriptExhausted",
    "StaticAnswer",
    "Strategy",
    "StrategyChanged",
    "StreamEvent",
    "SystemMessage",
    "TetherError",
    "TextDelta",
    "TokenUsage",
    "Tool",
    "ToolCall",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolDefinition",
    "ToolLoop",
    "ToolResultMessage",
    "Usage",
    "UsageError",
    "UserMessage",
    "__version__",
    "dump_event",
    "load_event",
    "tool",
]
