"""Fake models for tests: yours and ours.

:class:`ScriptedModel` plays back a list of responses; :class:`FunctionModel`
asks a function of yours. Both run in-process with no network, so tests are
fast and deterministic.

Example:
    ```python
    from tether import Agent, ToolCall
    from tether.testing import ScriptedModel

    model = ScriptedModel([ToolCall("add", {"a": 1, "b": 2}), "3"])
    result = Agent(model=model, tools=[add]).run_sync("1+2?")
    assert result.output == "3"
    ```
"""

from tether.models._function import FunctionModel, Reply, ScriptedModel, estimate_tokens

__all__ = ["FunctionModel", "Reply", "ScriptedModel", "estimate_tokens"]
