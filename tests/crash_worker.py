"""The agent of the crash test, and a child-process entry that runs or resumes it.

Usage: python crash_worker.py STORE RUN_ID LEDGER OUT [AGENT]
  STORE is ``sqlite:PATH`` or ``postgres:DSN|SCHEMA``; AGENT is ``tool_loop``
  (the default), ``guided`` (the same tools under the guided strategy) or ``memory``
  (long-term memory writes among the charges, under a working memory so small that
  the conversation is compacted on the way) or ``tree`` (a lead agent that runs two
  buyer agents at once as its tools, each charging and shipping). The child starts the run
  if the store does not have it, else resumes it, and writes the final
  transcript to OUT. The parent kills it with SIGKILL at random moments.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tether import (
    Agent,
    AssistantMessage,
    GuidedStrategy,
    LongTermMemory,
    Message,
    ModelResponse,
    RunContext,
    Tool,
    ToolCall,
    ToolResultMessage,
    UserMessage,
    WorkingMemory,
)
from tether.journal import JournalStore, PostgresStore, RunLocked, SQLiteStore
from tether.memory import HashEmbedder, MemoryStore, SQLiteMemoryStore
from tether.models import ModelParams
from tether.testing import FunctionModel

PROMPT = "charge and ship the order"
TREE_PROMPT = "buy a book and a pen, each by its own buyer"
MEMORY_PROMPT = "note what matters about the order while you charge and ship it"
MEMORIES = [
    "The order is for a book.",
    "The book was charged 1200 cents.",
    "The customer wants gift wrap.",
    "The parcel left on a Tuesday.",
]
_OPEN: list[MemoryStore] = []  # closed when the worker ends
GUIDED_PROMPT = "Charge the book, then ship the book, then charge the postage"
NEXT_PROMPT = "Charge the book 1200 and the postage 90"
STEP_DELAY = float(os.environ.get("CRASH_STEP_DELAY", "0.004"))


def ledger_append(path: str, line: str) -> None:
    """One side effect: one line, written with one append."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def ledger_lines(path: str) -> list[str]:
    """Every complete line of the ledger."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line for line in f.read().split("\n") if line]


def _tools(ledger: str) -> list[Tool]:
    """Charges (idempotent) and shipments (not idempotent, reconciled from the ledger)."""

    def charge(ctx: RunContext[None], item: str, cents: int) -> str:
        """Charge for an item."""
        time.sleep(STEP_DELAY)
        ledger_append(ledger, f"charge {item} {cents} {ctx.idempotency_key}")
        time.sleep(STEP_DELAY)
        return f"charged {item} {cents}"

    def ship(ctx: RunContext[None], item: str) -> str:
        """Ship an item (not idempotent: it is reconciled after a crash)."""
        time.sleep(STEP_DELAY)
        ledger_append(ledger, f"ship {item} {ctx.idempotency_key}")
        time.sleep(STEP_DELAY)
        return f"shipped {item}"

    def shipped(args: dict[str, Any], key: str) -> str:
        for line in ledger_lines(ledger):
            if line.startswith("ship ") and line.endswith(f" {key}"):
                return f"shipped {args['item']}"
        raise LookupError(key)

    return [Tool(charge, idempotent=True), Tool(ship, reconcile=shipped)]


def build_agent(store: JournalStore, ledger: str, kind: str = "tool_loop") -> Agent[Any, str]:
    """Six steps: charges (idempotent), a parallel pair, and shipments (not idempotent).

    ``kind="guided"``: a three-clause task under the guided strategy instead.
    """
    if kind == "guided":
        return _guided_agent(store, ledger)
    if kind == "guided_next":
        return _guided_next_agent(store, ledger)
    if kind == "memory":
        return _memory_agent(store, ledger)
    if kind == "tree":
        return _tree_agent(store, ledger)
    plan: list[list[ToolCall]] = [
        [ToolCall("charge", {"item": "book", "cents": 1200})],
        [
            ToolCall("charge", {"item": "pen", "cents": 300}),
            ToolCall("charge", {"item": "ink", "cents": 150}),
        ],
        [ToolCall("ship", {"item": "book"})],
        [ToolCall("ship", {"item": "pen"}), ToolCall("ship", {"item": "ink"})],
        [ToolCall("charge", {"item": "postage", "cents": 90})],
    ]

    async def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        await asyncio.sleep(STEP_DELAY)
        turns = sum(1 for m in messages if m.role == "assistant")
        if turns < len(plan):
            return ModelResponse(text=f"step {turns + 1}", tool_calls=list(plan[turns]))
        done = [m.content for m in messages if isinstance(m, ToolResultMessage)]
        return ModelResponse(text="done: " + "; ".join(done))

    return Agent(
        FunctionModel(policy),
        tools=_tools(ledger),
        store=store,
        name="crash-test",
        lease_ttl=0.3,
    )


def _guided_agent(store: JournalStore, ledger: str) -> Agent[Any, str]:
    """The guided strategy on a question in three clauses: each clause is put to the
    model alone ("charged book 1200, then ship the book."), and it calls one tool."""

    async def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        await asyncio.sleep(STEP_DELAY)
        asked = next(m.content for m in reversed(messages) if isinstance(m, UserMessage))
        clause = asked.rsplit("then ", 1)[-1].lower()
        if "ship" in clause:
            return ModelResponse(tool_calls=[ToolCall("ship", {"item": "book"})])
        if "postage" in clause:
            return ModelResponse(tool_calls=[ToolCall("charge", {"item": "postage", "cents": 90})])
        return ModelResponse(tool_calls=[ToolCall("charge", {"item": "book", "cents": 1200})])

    return _guided(policy, store, ledger, "crash-test-guided")


def _guided_next_agent(store: JournalStore, ledger: str) -> Agent[Any, str]:
    """The guided strategy on a question the first call leaves unfinished: the second
    call is the orchestrator's required next step (a fresh context naming what is
    unused), and the answer comes from a call without tools."""

    async def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        await asyncio.sleep(STEP_DELAY)
        asked = next(m.content for m in reversed(messages) if isinstance(m, UserMessage))
        if not params.allow_tools:
            return ModelResponse(text="charged book and postage")
        if "Not used yet from the question: 90" in asked:
            return ModelResponse(tool_calls=[ToolCall("charge", {"item": "postage", "cents": 90})])
        return ModelResponse(tool_calls=[ToolCall("charge", {"item": "book", "cents": 1200})])

    return _guided(policy, store, ledger, "crash-test-guided-next")


def _guided(policy: Any, store: JournalStore, ledger: str, name: str) -> Agent[Any, str]:
    strategy = GuidedStrategy()
    model = FunctionModel(policy)
    return Agent(
        model, tools=_tools(ledger), store=store, name=name, lease_ttl=0.3, strategy=strategy
    )


def _tree_agent(store: JournalStore, ledger: str) -> Agent[Any, str]:
    """A lead that runs two buyers in parallel (agents as tools); each buyer charges
    (idempotent) and ships (reconciled) its item, then answers."""

    async def buyer_policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        await asyncio.sleep(STEP_DELAY)
        item = next(m.content for m in messages if isinstance(m, UserMessage)).split()[-1]
        done = [m.content for m in messages if isinstance(m, ToolResultMessage)]
        if not done:
            return ModelResponse(tool_calls=[ToolCall("charge", {"item": item, "cents": 500})])
        if len(done) == 1:
            return ModelResponse(tool_calls=[ToolCall("ship", {"item": item})])
        return ModelResponse(text=f"{item}: " + ", ".join(done))

    buyer = Agent(
        FunctionModel(buyer_policy),
        tools=_tools(ledger),
        store=store,
        name="buyer",
        lease_ttl=0.3,
    )

    async def lead_policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        await asyncio.sleep(STEP_DELAY)
        done = [m.content for m in messages if isinstance(m, ToolResultMessage)]
        if not done:
            calls = [ToolCall("buyer", {"task": f"buy the {item}"}) for item in ("book", "pen")]
            return ModelResponse(text="two buyers", tool_calls=calls)
        return ModelResponse(text="bought: " + " | ".join(done))

    return Agent(
        FunctionModel(lead_policy),
        tools=[buyer.as_tool()],
        store=store,
        name="crash-test-tree",
        lease_ttl=0.3,
    )


def memory_store(ledger: str) -> SQLiteMemoryStore:
    """The long-term memory of one crash-test run (beside its ledger)."""
    return SQLiteMemoryStore(ledger + ".memory.db", embedder=HashEmbedder())


def _memory_agent(store: JournalStore, ledger: str) -> Agent[Any, str]:
    """Remember calls among charges and a shipment; the model reads where it is from
    the ids of its latest calls (``call_STEP_i``), which compaction keeps."""
    plan: list[list[ToolCall]] = [
        [ToolCall("remember", {"text": MEMORIES[0]})],
        [
            ToolCall("charge", {"item": "book", "cents": 1200}),
            ToolCall("remember", {"text": MEMORIES[1]}),
        ],
        [ToolCall("remember", {"text": MEMORIES[2]})],
        [ToolCall("ship", {"item": "book"})],
        [
            ToolCall("remember", {"text": MEMORIES[3]}),
            ToolCall("charge", {"item": "postage", "cents": 90}),
        ],
    ]

    async def policy(messages: Sequence[Message], params: ModelParams) -> ModelResponse:
        await asyncio.sleep(STEP_DELAY)
        done = 0
        for m in reversed(messages):
            if isinstance(m, AssistantMessage) and m.tool_calls:
                done = int(m.tool_calls[0].id.split("_")[1])
                break
        if done < len(plan):
            return ModelResponse(text=f"step {done + 1}", tool_calls=list(plan[done]))
        return ModelResponse(text=f"done after {done} steps")

    async def summarise(messages: Sequence[Message], params: ModelParams) -> str:
        text = messages[-1].content if isinstance(messages[-1], UserMessage) else ""
        return f"summary of {len(text.splitlines())} lines, {len(text)} characters"

    memories = memory_store(ledger)
    _OPEN.append(memories)
    return Agent(
        FunctionModel(policy),
        tools=_tools(ledger),
        store=store,
        name="crash-test-memory",
        lease_ttl=0.3,
        memory=LongTermMemory(memories, namespace="crash", recall=0),
        working_memory=WorkingMemory(max_tokens=380, summarizer=FunctionModel(summarise)),
    )


def open_store(spec: str) -> JournalStore:
    """A store from ``sqlite:PATH`` or ``postgres:DSN|SCHEMA``."""
    kind, _, rest = spec.partition(":")
    if kind == "sqlite":
        return SQLiteStore(rest)
    dsn, _, schema = rest.partition("|")
    return PostgresStore(dsn, schema=schema, max_size=2)


def transcript(messages: Sequence[Message]) -> list[str]:
    """The conversation as comparable text."""
    out = []
    for m in messages:
        if m.role == "assistant":
            calls = [f"{c.name}{c.arguments_json()}" for c in m.tool_calls]  # type: ignore[union-attr]
            out.append(f"assistant: {m.text} {calls}")  # type: ignore[union-attr]
        else:
            out.append(f"{m.role}: {m.content}")  # type: ignore[union-attr]
    return out


async def main(spec: str, run_id: str, ledger: str, out: str, kind: str = "tool_loop") -> int:
    store = open_store(spec)
    agent = build_agent(store, ledger, kind)
    known = {r.run_id for r in await store.list_runs(limit=10_000)}
    try:
        if run_id in known:
            result = await agent.resume(run_id)
        else:
            from tether import _agent

            _agent.new_run_id = lambda: run_id  # the parent chose the id
            prompts = {"guided": GUIDED_PROMPT, "memory": MEMORY_PROMPT, "tree": TREE_PROMPT}
            prompts["guided_next"] = NEXT_PROMPT
            result = await agent.run(prompts.get(kind, PROMPT))
    except RunLocked:  # the killed process's lease has not expired yet
        return 4
    finally:
        await store.close()
        for memories in _OPEN:
            await memories.close()
    record = {
        "status": result.status,
        "output": result.output,
        "reason": result.reason.kind,
        "transcript": transcript(result.messages),
        "usage": [result.usage.model_calls, result.usage.steps, result.usage.tool_calls],
    }
    await asyncio.to_thread(Path(out).write_text, json.dumps(record))
    return 0 if result.status == "completed" else 3


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:6])))
