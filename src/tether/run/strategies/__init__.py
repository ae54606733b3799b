"""Orchestration strategies: the tool loop and the guided strategy, by object or by name."""

from tether._errors import ConfigError

from ._base import Strategy, ToolLoop
from ._guided import GUIDED_PROMPT, TECHNIQUES, GuidedStrategy

__all__ = [
    "GUIDED_PROMPT",
    "TECHNIQUES",
    "GuidedStrategy",
    "Strategy",
    "ToolLoop",
    "resolve_strategy",
]

# Strategies hold only their settings, so one instance per name serves every run.
_BY_NAME: dict[str, Strategy] = {"tool_loop": ToolLoop(), "guided": GuidedStrategy()}


def resolve_strategy(name: str | None) -> Strategy:
    """A strategy from its name (``"tool_loop"``, ``"guided"``); the tool loop for None.

    Raises:
        ConfigError: the name is not a known strategy.
    """
    strategy = _BY_NAME.get(name or "tool_loop")
    if strategy is None:
        raise ConfigError(
            f"unknown strategy {name!r}; known strategies: {', '.join(sorted(_BY_NAME))}"
        )
    return strategy
