"""Several processes opening a new PostgreSQL journal schema at the same moment all
succeed: the first opening's migration is serialised across processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import pytest

from conftest import PG_DSN, _postgres_reachable
from tether.journal import PostgresStore

ROUNDS = 5
OPEN = """
import asyncio, sys
from tether.journal import PostgresStore

async def main():
    store = PostgresStore(sys.argv[1], schema=sys.argv[2])
    try:
        await store.list_runs()
    finally:
        await store.close()

asyncio.run(main())
"""


@pytest.mark.slow
def test_processes_opening_a_new_schema_at_once_all_succeed() -> None:
    why = _postgres_reachable()
    if why is not None:
        pytest.skip(f"PostgreSQL tests need a server: {why}")
    for _ in range(ROUNDS):
        schema = f"first_{uuid.uuid4().hex[:8]}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN, PG_DSN, schema],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        try:
            errors = [p.communicate(timeout=60)[1] for p in procs]
            assert [p.returncode for p in procs] == [0, 0, 0], errors
        finally:
            asyncio.run(PostgresStore(PG_DSN, schema=schema).drop())
