"""A process that adds memories, for the concurrent-writers test of tether.memory.

    python tests/memory_worker.py STORE TAG
STORE is ``sqlite:PATH`` or ``postgres:DSN#SCHEMA``. The worker waits for the file
named by $GO, then adds 20 memories of its own, 5 under shared idempotency keys and
one text that every worker adds.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from tether.memory import HashEmbedder, MemoryStore, PostgresMemoryStore, SQLiteMemoryStore

NS = ("shared", "agent")


def open_store(spec: str) -> MemoryStore:
    kind, _, where = spec.partition(":")
    if kind == "sqlite":
        return SQLiteMemoryStore(where, embedder=HashEmbedder())
    dsn, _, schema = where.partition("#")
    return PostgresMemoryStore(dsn, schema=schema, embedder=HashEmbedder())


async def main(spec: str, tag: str) -> None:
    store = open_store(spec)
    await store.count(NS)
    await asyncio.to_thread(_wait_for, Path(os.environ["GO"]))
    for i in range(20):
        await store.add(NS, f"worker {tag} noted item number {i} about topic {tag}{i}")
        if i < 5:
            await store.add(NS, f"shared task {i} from {tag}", idempotency_key=f"key-{i}")
    await store.add(NS, "Every worker remembers the release is on Friday.")
    await store.close()


def _wait_for(go: Path) -> None:
    while not go.exists():
        time.sleep(0.01)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
