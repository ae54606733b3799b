"""What the layered layout promises users: strategies chosen by the model, the narrow
run scope, deprecated names that still work, and configuration errors that are ValueErrors."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import tether
from tether import (
    Agent,
    Budget,
    ConfigError,
    GuidedStrategy,
    Message,
    ModelResponse,
    RunContext,
    ToolCall,
    ToolLoop,
)
from tether.models import FallbackModel, Model, ModelParams, RetryingModel
from tether.models.local import LocalModel, available
from tether.testing import ScriptedModel


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.mark.skipif(not available(), reason="the local extra is not installed")
def test_the_embedded_model_by_name_runs_guided() -> None:
    agent = Agent("local", tools=[add])
    assert isinstance(agent.model, LocalModel)
    assert isinstance(agent.strategy, GuidedStrategy)


def test_the_embedded_model_and_its_wrappers_declare_guided() -> None:
    assert isinstance(Agent(LocalModel(), tools=[add]).strategy, GuidedStrategy)
    assert isinstance(Agent(RetryingModel(LocalModel())).strategy, GuidedStrategy)
    chain = FallbackModel([LocalModel(), ScriptedModel(["x"])])
    assert isinstance(Agent(chain).strategy, GuidedStrategy)
    assert isinstance(Agent(ScriptedModel(["x"])).strategy, ToolLoop)


def test_an_explicit_strategy_wins_over_the_model_s() -> None:
    loop = ToolLoop()
    assert Agent(LocalModel(), strategy=loop).strategy is loop


class _Guided(Model):
    """A scripted model that declares the guided strategy, as the embedded one does."""

    name = "small"

    def __init__(self, replies: list[ModelResponse]) -> None:
        self.replies = replies

    @property
    def preferred_strategy(self) -> str | None:
        return "guided"

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        return self.replies.pop(0)


async def test_a_model_s_declared_strategy_drives_the_run() -> None:
    model = _Guided([ModelResponse(tool_calls=[ToolCall("add", {"a": 17, "b": 25})])])
    result = await Agent(model, tools=[add]).run("What is 17 + 25?")
    # Guided: the orchestrator answers with the result; no second model call is needed.
    assert (result.status, result.output, result.usage.model_calls) == ("completed", "42", 1)
    assert result.events[0].strategy == "guided"  # type: ignore[union-attr]


async def test_models_see_the_run_through_the_scope() -> None:
    seen: list[tuple[str, int]] = []

    class Peek(Model):
        async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
            scope = tether.current_scope()
            assert scope is not None
            seen.append((scope.run_id, scope.tracker.usage.steps))
            return ModelResponse(text="ok")

    result = await Agent(Peek()).run("q")
    assert seen == [(result.run_id, 1)]
    assert tether.current_scope() is None


def test_current_run_is_deprecated_but_works() -> None:
    from tether.models import current_run

    with pytest.warns(DeprecationWarning, match="current_scope"):
        assert current_run() is None


async def test_run_context_agent_is_deprecated_but_works() -> None:
    got: list[object] = []

    def who(ctx: RunContext[None]) -> str:
        """Say which agent runs this."""
        with pytest.warns(DeprecationWarning, match="deps"):
            got.append(ctx.agent)
        return "ok"

    agent = Agent(ScriptedModel([ToolCall("who", {}), "done"]), tools=[who])
    assert (await agent.run("q")).output == "done"
    assert got == [agent]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Budget(max_steps=-1),
        lambda: Budget(warn_at=0),
        lambda: RetryingModel(ScriptedModel([]), max_attempts=0),
        lambda: Agent(ScriptedModel([]), output_retries=-1),
    ],
)
def test_configuration_mistakes_are_config_errors_and_value_errors(make: object) -> None:
    with pytest.raises(ConfigError) as info:
        make()  # type: ignore[operator]
    assert isinstance(info.value, ValueError)


def test_a_model_name_that_takes_no_suffix_is_refused() -> None:
    with pytest.raises(ConfigError, match="takes no suffix"):
        Agent("demo:x")


async def test_an_old_style_strategy_still_runs_with_a_warning() -> None:
    from tether.run import Finish, Run, drive
    from tether.run import ModelTurn as Turn

    with pytest.warns(DeprecationWarning, match="start"):

        class Old(tether.Strategy):
            async def run(self, run: Run) -> Finish:
                return await drive(run, Turn())

    result = await Agent(ScriptedModel(["hi"]), strategy=Old()).run("q")
    assert (result.status, result.output) == ("completed", "hi")


def test_importing_tether_loads_no_optional_extra() -> None:
    """The base install has no numpy, OpenTelemetry, MCP or llama.cpp: ``import tether``
    (and a run's whole path) must not need them."""
    import subprocess
    import sys

    code = (
        "import sys, tether, tether.run, tether.journal, tether.models, tether.tools\n"
        "heavy = ['numpy', 'opentelemetry', 'mcp', 'llama_cpp', 'onnxruntime', 'tether.memory']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
