"""The agent that the scale-out tests run on worker processes (``tether worker --agent
scale_agents:agent``); its journal and ledger come from the environment."""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections.abc import Sequence
from typing import Any

from tether import Agent, Message, ModelResponse, RunContext, Tool, ToolCall, ToolResultMessage
from tether.journal import PostgresStore
from tether.models import ModelParams
from tether.testing import FunctionModel

LEDGER = os.environ.get("TETHER_SCALE_LEDGER", "/tmp/tether-scale.ledger")
MODEL_DELAY = float(os.environ.get("TETHER_SCALE_MODEL_DELAY", "0.05"))
TOOL_DELAY = float(os.environ.get("TETHER_SCALE_TOOL_DELAY", "0.01"))


def ledger_lines() -> list[str]:
    """Every complete line of the ledger."""
    if not os.path.exists(LEDGER):
        return []
    with open(LEDGER) as f:
        return [line for line in f.read().split("\n") if line]


def ship(ctx: RunContext[None], item: str) -> str:
    """Ship an item; after a crash it is reconciled from the ledger.

    The shipping system takes the call's idempotency key, as docs/architecture.md asks
    of tools with outside effects: a worker paused inside this call (past the journal,
    before the effect) may wake after its run was taken over and try the shipment
    again, which no journal can fence; the system ships a key once. Tries past the
    first are written to ``LEDGER + ".repeats"`` for the test to report.
    """
    time.sleep(TOOL_DELAY)
    key = ctx.idempotency_key
    fd = os.open(LEDGER, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        seen = any(line.split()[2:3] == [key] for line in ledger_lines())
        if seen:
            with open(LEDGER + ".repeats", "a") as repeats:
                repeats.write(f"ship {item} {key} {os.getpid()}\n")
        else:
            os.write(fd, f"ship {item} {key} {os.getpid()}\n".encode())
    finally:
        os.close(fd)  # closing releases the lock
    return f"shipped {item}"


def shipped(args: dict[str, Any], key: str) -> str:
    """Was this call's shipment made before the crash? (the ledger says)"""
    for line in ledger_lines():
        if line.split()[2] == key:
            return f"shipped {args['item']}"
    raise LookupError(key)


async def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
    await asyncio.sleep(MODEL_DELAY)
    done = [m.content for m in messages if isinstance(m, ToolResultMessage)]
    if not done:
        item = messages[-1].content  # type: ignore[union-attr]
        return ModelResponse(tool_calls=[ToolCall("ship", {"item": item})])
    return ModelResponse(text=f"done: {done[-1]}")


def _store() -> PostgresStore | None:
    dsn = os.environ.get("TETHER_SCALE_DSN")
    schema = os.environ.get("TETHER_SCALE_SCHEMA", "tether")
    return PostgresStore(dsn, schema=schema, max_size=6) if dsn else None


agent = Agent(
    FunctionModel(policy),
    tools=[Tool(ship, reconcile=shipped)],
    store=_store(),
    name="scale-test",
    lease_ttl=1.5,
)
