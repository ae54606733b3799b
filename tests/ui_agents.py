"""Agents for the web viewer's tests, importable by ``tether ui --agent ui_agents:payments``.

Each runs on a :class:`~tether.testing.ScriptedModel`. ``build_journal`` writes the
four runs the viewer is tested on: one that completes, one that loops, one that runs
out of its tool-call budget and one that waits for a person to approve a payment.
The payment tool appends a line to the ledger file named by ``$TETHER_UI_LEDGER``,
so a test can count how often it really ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from tether import Agent, Budget, Message, ModelResponse, Tool, ToolCall
from tether.journal import SQLiteStore
from tether.models import ModelParams
from tether.testing import Reply, ScriptedModel

PROMPT_WITH_MARKUP = "What does <script>window.pwned = 1</script> do on a page?"


class ThinkingModel(ScriptedModel):
    """A scripted model that takes a little while to answer, as a real one does, so the
    waterfall shows model calls with a width."""

    async def request(self, messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        """Serve the next reply after a short pause."""
        await asyncio.sleep(0.03)
        return await super().request(messages, params)


def search(query: str) -> str:
    """Search the team's documentation.

    Args:
        query: what to look for.
    """
    time.sleep(0.015)
    return f"2 pages match {query!r}: 'Scripts in HTML' and 'Content Security Policy'."


def pay(payee: str, amount_eur: float) -> str:
    """Pay a supplier.

    Args:
        payee: who is paid.
        amount_eur: how much, in euros.
    """
    ledger = Path(os.environ["TETHER_UI_LEDGER"])
    with ledger.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"payee": payee, "amount_eur": amount_eur}) + "\n")
    return f"paid {amount_eur:.2f} EUR to {payee}"


def researcher(replies: list[Reply], *, budget: Budget | None = None) -> Agent[None, str]:
    """A documentation researcher that says what its scripted model says."""
    return Agent(ThinkingModel(replies), tools=[search], name="researcher", budget=budget)


def payments(replies: list[Reply] | None = None) -> Agent[None, str]:
    """The payments agent; every payment waits for a person's approval.

    A resumed run asks the model only for what comes after its journal, so the
    script the viewer's resume needs holds just the final answer.
    """
    script = replies if replies is not None else ["Paid ACME 40.00 EUR for the March invoice."]
    return Agent(ThinkingModel(script), tools=[Tool(pay, requires_approval=True)], name="payments")


async def watch(minutes: int) -> str:
    """Watch the deployment for a while.

    Args:
        minutes: how long.
    """
    await asyncio.sleep(60 * minutes)
    return "nothing happened"


async def run_long(path: Path) -> None:
    """A run that stays live for minutes, inside its tool, until it is cancelled."""
    store = SQLiteStore(path)
    agent = Agent(
        ThinkingModel([ToolCall("watch", {"minutes": 10}), "All quiet."]),
        tools=[watch],
        name="watcher",
        store=store,
    )
    try:
        await agent.run("Watch the deployment.")
    except asyncio.CancelledError:
        pass
    finally:
        await store.close()


async def build_journal(path: Path) -> dict[str, str]:
    """Write the four runs into a SQLite journal at ``path``; their ids by kind."""
    store = SQLiteStore(path)
    ids: dict[str, str] = {}
    try:
        done = researcher(
            [ToolCall("search", {"query": "script tag"}), "It runs JavaScript in the page."]
        )
        done.store = store
        ids["completed"] = (await done.run(PROMPT_WITH_MARKUP)).run_id

        same = ToolCall("search", {"query": "refund policy"})
        looped = researcher([same] * 4 + ["I could not find the refund policy."])
        looped.store = store
        ids["looped"] = (await looped.run("Find the refund policy.")).run_id

        calls = [ToolCall("search", {"query": f"release notes {v}"}) for v in range(1, 5)]
        spent = researcher(
            [*calls, "Releases 1 to 3 changed the API."], budget=Budget(max_tool_calls=3)
        )
        spent.store = store
        ids["budget"] = (await spent.run("Summarise every release.")).run_id

        waiting = payments([ToolCall("pay", {"payee": "ACME", "amount_eur": 40}, id="call-pay")])
        waiting.store = store
        ids["approval"] = (await waiting.run("Pay the ACME invoice for March.")).run_id
    finally:
        await store.close()
    return ids
