"""Orchestration strategies: the tool loop and the guided strategy, by object or by name."""

from collections.abc import Mapping
from typing import Any

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


def resolve_strategy(name: str | None, options: Mapping[str, Any] | None = None) -> Strategy:
    """A strategy from its name (``"tool_loop"``, ``"guided"``); the tool loop for None.

    ``options`` are the settings a model declares for it
    (:attr:`~tether.models.Model.strategy_options`), e.g. guided techniques to switch off.

    Raises:
        ConfigError: the name is not a known strategy, or an option is not one of its
            settings.
    """
    strategy = _BY_NAME.get(name or "tool_loop")
    if strategy is None:
        raise ConfigError(
            f"unknown strategy {name!r}; known strategies: {', '.join(sorted(_BY_NAME))}"
        )
    if options:
        if not isinstance(strategy, GuidedStrategy):
            raise ConfigError(f"the {name!r} strategy takes no options; got {dict(options)}")
        try:
            return GuidedStrategy(**options)
        except TypeError as exc:
            known = ", ".join([*TECHNIQUES, "delegate_first"])
            raise ConfigError(
                f"bad guided strategy options {dict(options)}: {exc}; known: {known}"
            ) from None
    return strategy
