"""The agent `bench/bench_scale.py` runs on worker processes (``tether worker --agent
scale_bench_agents:agent``, with ``bench/`` on ``PYTHONPATH``).

One run is a model call that asks for the tool, the tool, and a model call that
answers: ``MODEL_DELAY`` + ``TOOL_DELAY`` + ``MODEL_DELAY`` seconds of waiting (110 ms
by default). Everything comes from the environment, read at import:

* ``TETHER_SCALE_DSN`` / ``TETHER_SCALE_SCHEMA``: the PostgreSQL journal;
* ``TETHER_SCALE_MODEL_DELAY`` / ``TETHER_SCALE_TOOL_DELAY``: seconds per model call / tool call;
* ``TETHER_SCALE_LEASE_TTL``: the agent's run lease, in seconds.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

from tether import Agent, Message, ModelResponse, Tool, ToolCall, ToolResultMessage
from tether.journal import PostgresStore
from tether.models import ModelParams
from tether.testing import FunctionModel

MODEL_DELAY = float(os.environ.get("TETHER_SCALE_MODEL_DELAY", "0.05"))
TOOL_DELAY = float(os.environ.get("TETHER_SCALE_TOOL_DELAY", "0.01"))
LEASE_TTL = float(os.environ.get("TETHER_SCALE_LEASE_TTL", "1.5"))


async def lookup(item: str) -> str:
    """Look an item up (it only waits: running it twice changes nothing)."""
    await asyncio.sleep(TOOL_DELAY)
    return f"found {item}"


async def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
    await asyncio.sleep(MODEL_DELAY)
    done = [m.content for m in messages if isinstance(m, ToolResultMessage)]
    if not done:
        item = messages[-1].content  # type: ignore[union-attr]
        return ModelResponse(tool_calls=[ToolCall("lookup", {"item": item})])
    return ModelResponse(text=f"done: {done[-1]}")


def _store() -> PostgresStore | None:
    dsn = os.environ.get("TETHER_SCALE_DSN")
    schema = os.environ.get("TETHER_SCALE_SCHEMA", "tether")
    return PostgresStore(dsn, schema=schema, max_size=6) if dsn else None


agent = Agent(
    FunctionModel(policy),
    tools=[Tool(lookup, idempotent=True)],
    store=_store(),
    name="scale-bench",
    lease_ttl=LEASE_TTL,
)
