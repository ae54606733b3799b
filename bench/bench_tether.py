"""tether on the peer benchmark's workloads (../shared/bench-peers/README.md).

Run side by side with the peers:

    OURS="tether=$PWD/.venv/bin/python:$PWD/bench/bench_tether.py" \\
      RESULTS_DIR=$PWD/bench/results bash ../shared/bench-peers/run_all.sh

The fake model is a :class:`tether.testing.FunctionModel` that follows the
harness's policy: it reads the tool results in the history and either calls
``add`` again or gives the final text.
"""

from __future__ import annotations

from collections.abc import Sequence

import common  # the harness's shared module, on PYTHONPATH from run_all.sh

from tether import Agent, Message, ModelResponse, RunResult, TokenUsage, ToolCall, ToolResultMessage
from tether.models import ModelParams
from tether.testing import FunctionModel

_USAGE = TokenUsage(10, 5)  # fixed usage, as the peers' fakes report


def _policy(messages: Sequence[Message]) -> ModelResponse:
    outs = [m.content for m in messages if isinstance(m, ToolResultMessage)]
    act = common.fake_policy(len(outs), outs[-1] if outs else None)
    if isinstance(act, str):
        return ModelResponse(text=act, usage=_USAGE)
    return ModelResponse(tool_calls=[ToolCall("add", act)], usage=_USAGE)


def make_agent(delay: float) -> Agent[None, str]:
    if delay:

        async def fake(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
            await common.fake_io(delay)
            return _policy(messages)

        model = FunctionModel(fake, name="fake")
    else:

        def fake_now(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
            return _policy(messages)

        model = FunctionModel(fake_now, name="fake")
    return Agent(model, tools=[common.add])


async def run(agent: Agent[None, str]) -> RunResult[str]:
    return await agent.run(common.PROMPT)


def output(result: RunResult[str]) -> str:
    return result.output or ""


if __name__ == "__main__":
    common.main("tether", "tether", make_agent, run, output)
