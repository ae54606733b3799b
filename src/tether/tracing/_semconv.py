"""Attribute names: the OpenTelemetry GenAI semantic conventions, and tether's own.

The GenAI conventions are still in development (and moving to their own repository),
so the names are spelled out here rather than imported from a package that may
rename them.
"""

from __future__ import annotations

__all__ = [
    "AGENT_NAME",
    "CONVERSATION_ID",
    "COST",
    "ERROR_TYPE",
    "FINISH_REASONS",
    "INPUT_MESSAGES",
    "INPUT_TOKENS",
    "OPERATION",
    "OUTPUT_MESSAGES",
    "OUTPUT_TOKENS",
    "PROVIDER",
    "REQUEST_MODEL",
    "RESPONSE_MODEL",
    "SYSTEM",
    "TOOL_ARGUMENTS",
    "TOOL_CALL_ID",
    "TOOL_NAME",
    "TOOL_RESULT",
    "TOOL_TYPE",
    "provider_of",
]

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
SYSTEM = "gen_ai.system"  # the older name of the provider, still read by many backends
AGENT_NAME = "gen_ai.agent.name"
CONVERSATION_ID = "gen_ai.conversation.id"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_RESULT = "gen_ai.tool.call.result"
ERROR_TYPE = "error.type"
COST = "tether.cost.usd"


def provider_of(model: str) -> tuple[str, str]:
    """The provider and the model's own name, from a tether model name
    (``openai:gpt-4o`` is ``openai`` and ``gpt-4o``; a name without a provider is
    ``_OTHER``, as the conventions say for a custom model)."""
    provider, sep, name = model.partition(":")
    return (provider, name) if sep and provider and name else ("_OTHER", model)
