"""What does not change during a run: the agent's settings, prepared once per agent."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tether._messages import ToolCall
from tether.models import ModelParams
from tether.tools import Tool

from ._context import WorkingMemory
from ._detect import LoopPolicy
from ._fallback import Fallback
from ._guardrails import GuardrailSet, InjectionPolicy
from ._output import OutputSpec

__all__ = ["RunConfig"]


@dataclass(frozen=True, slots=True, eq=False)
class RunConfig:
    """An agent's settings as a run uses them; shared by every run of the agent.

    Attributes:
        agent_name: the agent's name, in events and traces.
        instructions: the agent's instructions.
        system: the system prompt (rendered from the orchestrator prompt).
        spec: the output type's parser and schema.
        params: model parameters of a turn with tools.
        no_tools_params: model parameters of a call without tools.
        tools: the tools by name.
        fallback: what the run does on giving up.
        loop_policy: loop-detection thresholds.
        approval: a policy naming calls that wait for a person.
        output_retries: invalid final answers sent back for correction.
        max_result_chars: the longest tool result shown to the model.
        default_prompt: True when the agent kept the default orchestrator prompt.
        owner: the agent itself (opaque to the run layer).
        guardrails: the agent's guardrails, by stage.
        injection: how high-risk tool calls are treated after tool output.
        working_memory: how the conversation is kept under a token budget; None
            sends it whole.
        acting: the names of the tools that declare effects (they act on the world).
    """

    agent_name: str
    instructions: str
    system: str
    spec: OutputSpec[Any]
    params: ModelParams
    no_tools_params: ModelParams
    tools: Mapping[str, Tool]
    fallback: Fallback
    loop_policy: LoopPolicy
    approval: Callable[[ToolCall], bool] | None
    output_retries: int
    max_result_chars: int
    default_prompt: bool = True
    owner: Any = None
    guardrails: GuardrailSet = field(default_factory=GuardrailSet)
    injection: InjectionPolicy = field(default_factory=InjectionPolicy)
    working_memory: WorkingMemory | None = None
    acting: frozenset[str] = frozenset()
