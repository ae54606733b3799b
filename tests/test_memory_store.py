"""Long-term memory: one suite, run on the SQLite and the PostgreSQL store."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import tether.memory
from conftest import PG_DSN, MakeStore
from tether import ConfigError, TetherError
from tether.memory import (
    HashEmbedder,
    LocalEmbedder,
    MemoryStore,
    MemoryStoreError,
    OpenAIEmbedder,
    PostgresMemoryStore,
    SQLiteMemoryStore,
)
from tether.memory._rank import fuse
from tether.memory._store import key_forms
from tether.memory._types import MAX_TEXT
from tether.memory._vectors import Row, VectorIndex

NS = ("user-42", "support-agent")
WORKER = Path(__file__).with_name("memory_worker.py")


@pytest.fixture
def store_spec(make_memory: MakeStore) -> str:
    store = make_memory()
    if isinstance(store, SQLiteMemoryStore):
        return f"sqlite:{store.path}"
    assert isinstance(store, PostgresMemoryStore)
    return f"postgres:{PG_DSN}#{store.schema}"


# -- adding, getting, namespaces ------------------------------------------------


async def test_an_added_memory_can_be_read_back(make_memory: MakeStore) -> None:
    store = make_memory()
    memory = await store.add(NS, "Priya lives in Lisbon.", metadata={"source": "chat"})
    assert (memory.namespace, memory.kind, memory.text) == (NS, "fact", "Priya lives in Lisbon.")
    assert memory.metadata == {"source": "chat"}
    assert memory.created_at == memory.updated_at == memory.last_used_at > 0
    assert memory.expires_at is None
    assert await store.get(memory.id) == memory
    assert await store.get("no-such-id") is None


async def test_a_path_names_the_same_namespace_as_a_tuple(make_memory: MakeStore) -> None:
    store = make_memory()
    await store.add("user-42/support-agent", "Priya lives in Lisbon.")
    assert await store.count(NS) == 1
    hits = await store.search(list(NS), "Lisbon", 5)
    assert [h.memory.namespace for h in hits] == [NS]


async def test_namespaces_do_not_see_each_other(make_memory: MakeStore) -> None:
    store = make_memory()
    await store.add(("user-1",), "The user's favourite colour is green.")
    await store.add(("user-2",), "The user's favourite colour is green.")
    await store.add(("user-1", "agent"), "The user's favourite colour is green.")
    assert [await store.count(ns) for ns in [("user-1",), ("user-2",), ("user-1", "agent")]] == [
        1,
        1,
        1,
    ]
    hits = await store.search(("user-2",), "favourite colour", 10)
    assert [h.memory.namespace for h in hits] == [("user-2",)]
    assert await store.forget(namespace=("user-1",)) == 1
    assert await store.count(("user-2",)) == 1
    assert await store.count(("user-1", "agent")) == 1


async def test_a_namespace_that_looks_like_sql_or_a_marker_is_just_a_name(
    make_memory: MakeStore,
) -> None:
    store = make_memory()
    odd = [
        ("x'); DROP TABLE memories; --",),
        ('["a", "b"]',),
        ("a", "b"),
        ("a/b",),
        ("memory_meta",),
        ("%s", "?"),
    ]
    for i, ns in enumerate(odd):
        await store.add(ns, f"note {i} for an odd namespace")
    for i, ns in enumerate(odd):
        hits = await store.search(ns, "odd namespace note", 10)
        assert [h.memory.text for h in hits] == [f"note {i} for an odd namespace"]
        assert hits[0].memory.namespace == ns


# -- merging near-duplicates ----------------------------------------------------


async def test_a_restated_memory_updates_the_old_one(make_memory: MakeStore) -> None:
    store = make_memory()
    first = await store.add(NS, "Priya lives in Lisbon", metadata={"a": 1, "b": 1})
    second = await store.add(NS, "Priya lives in Lisbon.", metadata={"b": 2})
    assert second.id == first.id
    assert second.text == "Priya lives in Lisbon."
    assert second.metadata == {"a": 1, "b": 2}
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    assert await store.count(NS) == 1
    hits = await store.search(NS, "Lisbon", 5, mode="lexical")
    assert [h.memory.text for h in hits] == ["Priya lives in Lisbon."]


async def test_different_names_or_numbers_are_never_merged(make_memory: MakeStore) -> None:
    store = make_memory(merge_threshold=0.5)
    a = await store.add(NS, "The meeting with Priya is in room 12 on Monday.")
    b = await store.add(NS, "The meeting with Priya is in room 14 on Monday.")
    c = await store.add(NS, "The meeting with Marco is in room 12 on Monday.")
    assert len({a.id, b.id, c.id}) == 3


async def test_memories_of_another_kind_or_with_merging_off_stay_apart(
    make_memory: MakeStore,
) -> None:
    store = make_memory()
    fact = await store.add(NS, "Priya asked for a refund.")
    episode = await store.add(NS, "Priya asked for a refund.", kind="episode")
    assert fact.id != episode.id
    plain = make_memory(merge_threshold=1.01)
    again = await plain.add(NS, "Priya asked for a refund.")
    assert again.id not in {fact.id, episode.id}
    assert await plain.count(NS) == 3


async def test_an_expired_memory_is_not_merged_into(make_memory: MakeStore) -> None:
    store = make_memory()
    old = await store.add(NS, "Priya lives in Lisbon.", ttl=0.2)
    await asyncio.sleep(0.3)
    new = await store.add(NS, "Priya lives in Lisbon.")
    assert new.id != old.id


# -- search ---------------------------------------------------------------------


async def _corpus(store: MemoryStore) -> dict[str, str]:
    texts = {
        "lisbon": "Priya lives in Lisbon and works remotely.",
        "cats": "Marco has two cats called Pepe and Lulu.",
        "refund": "Priya asked for a refund of invoice 4417.",
        "sum": "Summary: most billing questions are about duplicate charges.",
    }
    ids = {}
    for key, text in texts.items():
        kind = "summary" if key == "sum" else "episode" if key == "refund" else "fact"
        ids[key] = (await store.add(NS, text, kind=kind)).id
    return ids


async def test_each_search_mode_finds_the_matching_memory(make_memory: MakeStore) -> None:
    store = make_memory()
    ids = await _corpus(store)
    for mode in ("lexical", "vector", "hybrid"):
        hits = await store.search(NS, "invoice 4417 refund", 2, mode=mode)
        assert hits[0].memory.id == ids["refund"], mode
    hybrid = await store.search(NS, "invoice 4417 refund", 2)
    assert hybrid[0].lexical_rank == 1
    assert hybrid[0].vector_rank == 1
    assert hybrid[0].score > hybrid[1].score


async def test_search_filters_by_kind_and_returns_at_most_k(make_memory: MakeStore) -> None:
    store = make_memory()
    ids = await _corpus(store)
    hits = await store.search(NS, "Priya", 10, kinds=["episode", "summary"])
    assert {h.memory.id for h in hits} <= {ids["refund"], ids["sum"]}
    assert ids["refund"] in {h.memory.id for h in hits}
    assert len(await store.search(NS, "Priya", 1)) == 1
    assert await store.search(("nobody",), "Priya", 5) == []


async def test_a_query_of_only_punctuation_still_searches_by_vector(
    make_memory: MakeStore,
) -> None:
    store = make_memory()
    await _corpus(store)
    assert await store.search(NS, "?!", 3, mode="lexical") == []
    assert len(await store.search(NS, "?!", 3)) == 3


async def test_search_marks_memories_as_used(make_memory: MakeStore) -> None:
    store = make_memory()
    ids = await _corpus(store)
    before = await store.get(ids["cats"])
    await asyncio.sleep(0.01)
    await store.search(NS, "cats Pepe Lulu", 1)
    after = await store.get(ids["cats"])
    assert before is not None
    assert after is not None
    assert after.last_used_at > before.last_used_at


async def test_another_store_on_the_same_database_sees_every_change(
    make_memory: MakeStore,
) -> None:
    a, b = make_memory(), make_memory()
    await _corpus(a)
    assert len(await a.search(NS, "Lisbon", 10, mode="vector")) == 4  # a caches the vectors
    added = await b.add(NS, "Marco moved to Turin in May.")
    assert added.id in {h.memory.id for h in await a.search(NS, "Turin", 10, mode="vector")}
    await b.forget(added.id)
    found = {h.memory.id for h in await a.search(NS, "Turin", 10, mode="vector")}
    assert added.id not in found
    assert len(found) == 4


# -- time to live, caps, forgetting ---------------------------------------------


async def test_an_expired_memory_is_not_found_and_prune_deletes_it(
    make_memory: MakeStore,
) -> None:
    store = make_memory()
    short = await store.add(NS, "A one-off code: 5531.", ttl=0.2)
    await store.add(NS, "Priya lives in Lisbon.")
    assert short.expires_at == pytest.approx(short.created_at + 0.2)
    await asyncio.sleep(0.3)
    assert [h.memory.text for h in await store.search(NS, "code 5531", 5)] == [
        "Priya lives in Lisbon."
    ]
    assert await store.count(NS) == 1
    assert await store.get(short.id) is not None  # still there until pruned
    assert await store.prune() == 1
    assert await store.get(short.id) is None


async def test_ttl_defaults_come_from_the_namespace_then_the_store(
    make_memory: MakeStore,
) -> None:
    store = make_memory(default_ttl=1000)
    await store.set_policy(("short",), ttl=10)
    now = time.time()
    in_store = await store.add(("plain",), "Stored with the store's default.")
    in_ns = await store.add(("short",), "Stored with the namespace's default.")
    own = await store.add(("short",), "Stored with its own.", ttl=3)
    assert in_store.expires_at == pytest.approx(now + 1000, abs=5)
    assert in_ns.expires_at == pytest.approx(now + 10, abs=5)
    assert own.expires_at == pytest.approx(now + 3, abs=2)


async def test_a_capped_namespace_evicts_the_least_recently_used(
    make_memory: MakeStore,
) -> None:
    store = make_memory()
    await store.set_policy(NS, cap=3)
    a = await store.add(NS, "alpha memory about apples")
    b = await store.add(NS, "bravo memory about boats")
    c = await store.add(NS, "charlie memory about clouds")
    await asyncio.sleep(0.01)
    await store.search(NS, "apples", 1, mode="lexical")  # a is used: b is now the oldest
    d = await store.add(NS, "delta memory about deserts")
    assert await store.count(NS) == 3
    assert await store.get(b.id) is None
    assert all([await store.get(m.id) for m in (a, c, d)])
    assert [h.memory.id for h in await store.search(NS, "boats", 5, mode="lexical")] == []
    other = make_memory(default_cap=1)
    await other.add(("x",), "one thing")
    await other.add(("x",), "another thing entirely 2")
    assert await other.count(("x",)) == 1


async def test_forget_by_id_and_by_kind(make_memory: MakeStore) -> None:
    store = make_memory()
    ids = await _corpus(store)
    assert await store.forget(ids["cats"]) == 1
    assert await store.forget(ids["cats"]) == 0
    assert await store.forget(namespace=NS, kinds="summary") == 1
    assert await store.forget([]) == 0
    assert {h.memory.id for h in await store.search(NS, "Priya", 10)} == {
        ids["lisbon"],
        ids["refund"],
    }
    with pytest.raises(ConfigError, match="never deletes everything"):
        await store.forget()


# -- idempotency and concurrency ------------------------------------------------


async def test_the_same_idempotency_key_writes_once(make_memory: MakeStore) -> None:
    store = make_memory(merge_threshold=1.01)
    first = await store.add(NS, "Run 7 found the refund.", idempotency_key="run-7:step-3")
    again = await store.add(NS, "Run 7 found the refund!", idempotency_key="run-7:step-3")
    assert again == first
    assert await store.count(NS) == 1
    elsewhere = await store.add(
        ("other",), "Run 7 found the refund.", idempotency_key="run-7:step-3"
    )
    assert elsewhere.id != first.id
    await store.forget(first.id)
    gone = await store.add(NS, "Run 7 found the refund.", idempotency_key="run-7:step-3")
    assert gone.id == first.id  # not written again: the key was used
    assert await store.count(NS) == 0


async def test_distinct_idempotency_keys_never_collide(make_memory: MakeStore) -> None:
    store = make_memory(merge_threshold=1.01)
    keys = [
        "run-1:\ud800",  # an unpaired surrogate
        "run-1:\\ud800",  # a backslash, then "ud800": the surrogate's old escape
        "run-1:\\\\ud800",
        "run-1:\x00",
        "run-1:\\x00",
        "run-1:",
        "C:\\tmp",
    ]
    written = [
        await store.add(NS, f"note number {i}", idempotency_key=k) for i, k in enumerate(keys)
    ]
    assert [m.text for m in written] == [f"note number {i}" for i in range(len(keys))]
    assert await store.count(NS) == len(keys)
    again = [await store.add(NS, "a retry of it", idempotency_key=k) for k in keys]
    assert again == written
    assert await store.count(NS) == len(keys)


def test_idempotency_keys_of_earlier_versions_keep_their_stored_form() -> None:
    assert key_forms("run-7:call_x1") == ("run-7:call_x1", None)
    assert key_forms("r:\udcff é") == ("r:\\udcff é", None)  # as earlier builds wrote it
    assert key_forms("C:\\tmp\x00") == ("C:\\\\tmp\\x00", "C:\\tmp\x00")
    assert key_forms("r:\\udcff") == ("r:\\\\udcff", None)  # the old form is ambiguous


async def test_a_key_stored_in_its_old_form_still_writes_once(make_memory: MakeStore) -> None:
    store = make_memory(merge_threshold=1.01)
    first = await store.add(NS, "Saved under a Windows path.", idempotency_key="C:\\tmp")
    new, old = key_forms("C:\\tmp")
    assert old is not None
    await _rewrite_key(store, new, old)  # as an earlier tether stored it
    again = await store.add(NS, "Saved again.", idempotency_key="C:\\tmp")
    assert again.id == first.id
    assert await store.count(NS) == 1


async def _rewrite_key(store: MemoryStore, key: str, to: str) -> None:
    if isinstance(store, SQLiteMemoryStore):
        import sqlite3

        with sqlite3.connect(store.path) as conn:
            assert conn.execute("UPDATE memory_keys SET key = ? WHERE key = ?", (to, key)).rowcount
        return
    assert isinstance(store, PostgresMemoryStore)
    import psycopg

    async with await psycopg.AsyncConnection.connect(PG_DSN, autocommit=True) as conn:
        cur = await conn.execute(
            f"UPDATE {store.schema}.memory_keys SET key = %s, "
            "digest = sha256(convert_to(namespace || chr(10) || %s, 'UTF8')) WHERE key = %s",
            (to, to, key),
        )
        assert cur.rowcount == 1


def _letters(n: int, seed: int) -> str:
    """``n`` random 4-byte CJK letters: text that PostgreSQL cannot compress."""
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(0x20000, 0x2A6E0)) for _ in range(n))


# Five parts of 200 characters, the longest a part may be: 3,800 bytes of UTF-8 that
# do not compress, more than the 2,704 bytes of a btree entry.
LONG_NS = (*(_letters(200, seed) for seed in range(4)), "€" * 200)


async def test_a_long_namespace_of_multibyte_parts_works_on_both_stores(
    make_memory: MakeStore,
) -> None:
    store = make_memory(merge_threshold=1.01)
    key = _letters(200, 99)  # the longest key, 800 bytes
    first = await store.add(LONG_NS, "Priya lives in Lisbon.", metadata={"k": "€"})
    assert (first.namespace, first.metadata) == (LONG_NS, {"k": "€"})
    keyed = await asyncio.gather(
        *(
            store.add(LONG_NS, f"Invoice 4417 refunded, try {i}.", idempotency_key=key)
            for i in range(4)
        )
    )
    assert len({m.id for m in keyed}) == 1
    assert await store.add(LONG_NS, "A retry of it.", idempotency_key=key) == keyed[0]
    assert await store.get(first.id) == first
    assert await store.count(LONG_NS) == 2
    for mode in ("lexical", "vector", "hybrid"):
        hits = await store.search(LONG_NS, "invoice 4417 refunded", 1, mode=mode)
        assert [h.memory.id for h in hits] == [keyed[0].id], mode
    # A namespace that differs only in its last letter is another namespace.
    near = (*LONG_NS[:-1], "€" * 199 + "$")
    await store.add(near, "Marco lives in Turin.", idempotency_key=key)
    assert await store.count(near) == 1
    assert await store.count(LONG_NS) == 2
    await store.set_policy(LONG_NS, cap=2)
    await store.set_policy(LONG_NS, cap=3, ttl=1000)  # set again: updated, not added
    third = await store.add(LONG_NS, "Marco has two cats.")
    assert third.expires_at == pytest.approx(third.created_at + 1000)
    await store.add(LONG_NS, "Lars works in the UTC+1 timezone.")
    assert await store.count(LONG_NS) == 3  # the cap evicted the least recently used
    assert await store.forget(namespace=LONG_NS) == 3
    assert await store.count(LONG_NS) == 0
    assert await store.count(near) == 1


# The tables of the PostgreSQL store's schema 1, as tether made them.
_PG_SCHEMA_1 = """
CREATE TABLE memory_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE SEQUENCE memory_seq;
CREATE TABLE memories (
    id TEXT PRIMARY KEY, namespace TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
    metadata TEXT NOT NULL, embedding BYTEA NOT NULL, created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL, last_used_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION, seq BIGINT NOT NULL,
    tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
);
CREATE INDEX memories_ns_seq ON memories (namespace, seq);
CREATE INDEX memories_ns_used ON memories (namespace, last_used_at);
CREATE INDEX memories_expiry ON memories (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX memories_tsv ON memories USING GIN (tsv);
CREATE TABLE memory_keys (
    namespace TEXT NOT NULL, key TEXT NOT NULL, memory_id TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE TABLE memory_policies (namespace TEXT PRIMARY KEY, ttl DOUBLE PRECISION, cap INTEGER);
"""


@pytest.mark.parametrize("make_memory", ["postgres"], indirect=True)  # SQLite: one schema
async def test_a_postgres_store_of_schema_1_is_upgraded_by_processes_opening_at_once(
    make_memory: MakeStore,
) -> None:
    stores = [make_memory() for _ in range(4)]
    assert isinstance(stores[0], PostgresMemoryStore)
    import psycopg

    schema, embedder = stores[0].schema, HashEmbedder()
    ns, key = ("ünïcode-user", "agent/€"), "run-1:é\\tmp"  # a key kept escaped
    ns_key, (stored_key, _) = json.dumps(list(ns), ensure_ascii=False), key_forms(key)
    texts = {"lisbon": "Priya lives in Lisbon.", "cats": "Marco has two cats."}
    vectors = await embedder.embed(list(texts.values()))
    async with await psycopg.AsyncConnection.connect(PG_DSN, autocommit=True) as conn:
        await conn.execute(f"CREATE SCHEMA {schema}; SET search_path = {schema}")
        await conn.execute(_PG_SCHEMA_1)
        await conn.execute(
            "INSERT INTO memory_meta VALUES ('schema', '1'), ('embedder', %s)",
            (f"{embedder.name}/{embedder.dimension}",),
        )
        for i, (name, text) in enumerate(texts.items()):
            await conn.execute(
                "INSERT INTO memories VALUES (%s, %s, 'fact', %s, '{}', %s, %s, %s, %s, NULL, "
                "nextval('memory_seq'))",
                (name, ns_key, text, vectors[i].astype("float32").tobytes(), i, i, i),
            )
        await conn.execute("INSERT INTO memory_keys VALUES (%s, %s, 'cats')", (ns_key, stored_key))
        await conn.execute("INSERT INTO memory_policies VALUES (%s, NULL, 2)", (ns_key,))
    assert await asyncio.gather(*(s.count(ns) for s in stores)) == [2] * 4
    store = stores[0]
    assert (await store.add(ns, "Something else.", idempotency_key=key)).id == "cats"
    hits = await store.search(ns, "Where does Priya live?", 1)
    assert [h.memory.id for h in hits] == ["lisbon"]
    await store.add(ns, "Lars works in the UTC+1 timezone.")  # the cap of 2 evicts one
    assert await store.count(ns) == 2
    assert (await store.add(LONG_NS, "A long namespace.", idempotency_key=key)).namespace == LONG_NS
    async with await psycopg.AsyncConnection.connect(PG_DSN) as conn:
        cur = await conn.execute(f"SELECT value FROM {schema}.memory_meta WHERE key = 'schema'")
        assert await cur.fetchone() == ("2",)


async def test_concurrent_tasks_neither_lose_nor_duplicate(make_memory: MakeStore) -> None:
    store = make_memory()
    distinct = [store.add(NS, f"task note {i}: item {i * 37}") for i in range(20)]
    keyed = [store.add(NS, f"keyed {i}", idempotency_key="one-key") for i in range(5)]
    same = [store.add(NS, "Every task says the release is on Friday.") for _ in range(5)]
    results = await asyncio.gather(*distinct, *keyed, *same)
    assert len({m.id for m in results[20:25]}) == 1
    assert len({m.id for m in results[25:]}) == 1
    assert await store.count(NS) == 22


@pytest.mark.slow
def test_two_processes_adding_at_once_neither_lose_nor_duplicate(
    store_spec: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    env = {**os.environ, "GO": str(go)}
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), store_spec, tag], env=env)
        for tag in ("A", "B")
    ]
    time.sleep(1.0)  # both open the store and wait
    go.touch()
    assert [p.wait(timeout=60) for p in procs] == [0, 0]

    async def count() -> int:
        from memory_worker import NS as SHARED
        from memory_worker import open_store

        store = open_store(store_spec)
        try:
            return await store.count(SHARED)
        finally:
            await store.close()

    sys.path.insert(0, str(WORKER.parent))
    assert asyncio.run(count()) == 2 * 20 + 5 + 1


# -- odd input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.add(NS, ""), "empty"),
        (lambda s: s.add(NS, "  \n"), "empty"),
        (lambda s: s.add((), "x"), "at least one part"),
        (lambda s: s.add("a//b", "x"), "non-empty"),
        (lambda s: s.add(("a\udcff",), "x"), "surrogate"),
        (lambda s: s.add(("a\x00",), "x"), "control"),
        (lambda s: s.add(NS, "x", kind="Fact!"), "lower-case"),
        (lambda s: s.add(NS, "x", metadata={"s": {1, 2}}), "JSON"),
        (lambda s: s.add(NS, "x", ttl=-1), "positive"),
        (lambda s: s.add(NS, "x", ttl=float("nan")), "positive"),
        (lambda s: s.add(NS, "x", idempotency_key=""), "idempotency key"),
        (lambda s: s.search(NS, "x", -1), "positive whole number"),
        (lambda s: s.search(NS, "x", 0), "positive whole number"),
        (lambda s: s.search(NS, "x", True), "positive whole number"),
        (lambda s: s.search(NS, "", 3), "empty"),
        (lambda s: s.search(NS, "x", 3, mode="fuzzy"), "not one of"),
        (lambda s: s.search(NS, "x", 3, kinds=()), "matches nothing"),
        (lambda s: s.set_policy(NS, cap=0), "positive whole number"),
    ],
)
async def test_bad_arguments_are_config_errors(
    make_memory: MakeStore, call: Callable[[MemoryStore], Any], message: str
) -> None:
    store = make_memory()
    with pytest.raises(ConfigError, match=message):
        await call(store)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"rrf_k": -1}, "rrf_k must be a whole number of 0 or more"),
        ({"rrf_k": 2.5}, "rrf_k"),
        ({"rrf_k": True}, "rrf_k"),
        ({"lexical_weight": float("nan")}, "lexical_weight must be a finite weight of 0 or more"),
        ({"lexical_weight": -1.0}, "lexical_weight"),
        ({"lexical_weight": float("inf")}, "lexical_weight"),
        ({"lexical_weight": "0.3"}, "lexical_weight"),
        ({"merge_threshold": "0.9"}, "merge_threshold must be a cosine above 0"),
        ({"merge_threshold": -1}, "merge_threshold"),
        ({"merge_threshold": 0}, "merge_threshold"),
        ({"merge_threshold": float("nan")}, "merge_threshold"),
        ({"merge_threshold": True}, "merge_threshold"),
        ({"embedder": type("Odd", (HashEmbedder,), {"duplicate_threshold": -0.5})()}, "Odd.dup"),
        ({"default_cap": 2**31}, "positive whole number up to 2,147,483,647"),
    ],
)
async def test_store_settings_out_of_range_are_config_errors_when_built(
    make_memory: MakeStore, setting: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_memory(**setting)


async def test_store_settings_at_the_edges_of_their_ranges_work(make_memory: MakeStore) -> None:
    store = make_memory(rrf_k=0, lexical_weight=0, merge_threshold=1.01, default_cap=2**31 - 1)
    ids = await _corpus(store)
    hits = await store.search(NS, "invoice 4417 refund", 2)
    assert hits[0].memory.id == ids["refund"]
    assert hits[0].score == pytest.approx(1.0)  # 1 / (0 + 1): the text's weight is 0


def _widest_text(n: int) -> str:
    """``n`` characters of two-letter hyphenated words of 4-byte letters, all distinct.

    The largest tsvector a text of ``n`` characters was found to make in PostgreSQL
    (the compound and both its parts are lexemes).
    """
    cjk = [(0x20000, 0x2A6E0), (0x2A700, 0x2B740), (0x2B820, 0x2EBE1), (0x30000, 0x3134B)]
    letters = [chr(c) for start, end in cjk for c in range(start, end)]
    pairs = (f"{letters[2 * i]}-{letters[2 * i + 1]}" for i in range(len(letters) // 2))
    return " ".join(pairs)[:n]


async def test_both_stores_refuse_a_cap_beyond_what_they_hold(make_memory: MakeStore) -> None:
    store = make_memory()
    await store.set_policy(NS, cap=2**31 - 1)
    for cap in (2**31, 3_000_000_000):
        with pytest.raises(ConfigError, match="positive whole number up to 2,147,483,647"):
            await store.set_policy(NS, cap=cap)


async def test_both_stores_take_texts_up_to_max_text_and_refuse_longer(
    make_memory: MakeStore,
) -> None:
    store = make_memory()
    widest = _widest_text(MAX_TEXT)
    assert len(widest) == MAX_TEXT
    stored = await store.add(NS, widest)
    assert stored.text == widest
    assert await store.get(stored.id) == stored
    hits = await store.search(NS, widest, 1, mode="lexical")  # a query of any length
    assert [h.memory.id for h in hits] == [stored.id]
    with pytest.raises(ConfigError, match="100,000"):
        await store.add(NS, widest + "x")
    assert await store.count(NS) == 1


async def test_unpaired_surrogates_and_nul_are_stored_escaped(make_memory: MakeStore) -> None:
    store = make_memory(merge_threshold=1.01)
    memory = await store.add(NS, "broken \udcff text\x00here", metadata={"k": "\udcff"})
    assert memory.text == "broken \\udcff text\ufffdhere"
    assert (await store.search(NS, "broken text", 1))[0].memory.id == memory.id
    assert memory.metadata == {"k": "\udcff"}  # JSON keeps it as an escape: lossless


async def test_a_store_refuses_memories_of_another_embedder(make_memory: MakeStore) -> None:
    store = make_memory()
    await store.add(NS, "Priya lives in Lisbon.")

    async def open_other() -> None:
        other = make_memory(embedder=HashEmbedder(dimension=64))  # SQLite checks on opening
        await other.count(NS)  # PostgreSQL on first use

    with pytest.raises(MemoryStoreError, match="not comparable"):
        await open_other()


def test_a_foreign_or_newer_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    SQLiteMemoryStore(path, embedder=HashEmbedder())
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE memory_meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(MemoryStoreError, match="newer"):
        SQLiteMemoryStore(path, embedder=HashEmbedder())
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(MemoryStoreError, match="cannot open"):
        SQLiteMemoryStore(tmp_path / "junk.db", embedder=HashEmbedder())


async def test_the_postgres_store_says_how_it_searches_vectors(make_memory: MakeStore) -> None:
    store = make_memory()
    await store.count(NS)
    assert store.vector_method in {"numpy", "pgvector"}
    if isinstance(store, PostgresMemoryStore):
        import psycopg

        async with await psycopg.AsyncConnection.connect(PG_DSN) as conn:
            cur = await conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
            has = await cur.fetchone() is not None
        assert store.vector_method == ("pgvector" if has else "numpy")


# -- the parts ------------------------------------------------------------------------


def test_fusion_adds_weighted_reciprocal_ranks() -> None:
    fused = fuse(["a", "b"], ["b", "c"], k=10, lexical_weight=0.5)
    assert [f.id for f in fused] == ["b", "c", "a"]
    assert fused[0].score == pytest.approx(0.5 / 12 + 1 / 11)
    assert (fused[0].lexical_rank, fused[0].vector_rank) == (2, 1)


def test_the_vector_index_adds_replaces_and_discards() -> None:
    index = VectorIndex(2)
    vec = {i: np.array([np.cos(i / 20), np.sin(i / 20)], dtype=np.float32) for i in range(40)}
    index.apply(Row(str(i), "fact", None, i + 1, vec[i].tobytes()) for i in range(40))
    assert (len(index), index.seq) == (40, 40)
    assert index.search(vec[7], 1, now=0)[0][0] == "7"
    index.discard(["7", "nope"])
    assert index.search(vec[7], 1, now=0)[0][0] in {"6", "8"}
    index.apply([Row("3", "episode", 5.0, 41, vec[7].tobytes())])
    assert index.search(vec[7], 1, now=0)[0][0] == "3"
    assert index.search(vec[7], 1, now=6)[0][0] != "3"  # expired by then
    assert [i for i, _ in index.search(vec[7], 5, now=0, kinds=("episode",))] == ["3"]
    assert index.fresh(41, 39)


async def test_the_hash_embedder_is_deterministic_and_unit_length() -> None:
    a = await HashEmbedder().embed(["Priya lives in Lisbon", "x"])
    b = await HashEmbedder().embed(["Priya lives in Lisbon"])
    assert np.array_equal(a[0], b[0])
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0)


class _Embeddings(BaseHTTPRequestHandler):
    """``POST /v1/embeddings``: each text's vector is (its length, 1, 0), listed in reverse."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append({"path": self.path, **body})
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.0]}
            for i, t in enumerate(body["input"])
        ]
        reply = json.dumps({"object": "list", "data": data[::-1], "model": body["model"]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args: Any) -> None:
        pass


async def test_the_openai_embedder_calls_v1_embeddings() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Embeddings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        embedder = OpenAIEmbedder("m", 3, base_url=base_url, api_key="k", batch_size=2)
        vectors = await embedder.embed(["ab", "abcd", "x"])
        assert [s["path"] for s in _Embeddings.seen] == ["/v1/embeddings"] * 2
        assert _Embeddings.seen[0]["input"] == ["ab", "abcd"]
        assert vectors.shape == (3, 3)
        assert vectors[1][0] == pytest.approx(4 / np.sqrt(17))
        wrong = OpenAIEmbedder("m", 5, base_url=base_url, api_key="k")
        with pytest.raises(tether.ModelError, match="shape"):
            await wrong.embed(["a"])
        await embedder.aclose()
        await wrong.aclose()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
async def test_the_local_embedder_finds_by_meaning_and_merges_restatements(
    tmp_path: Path,
) -> None:
    store = SQLiteMemoryStore(tmp_path / "m.db")
    assert isinstance(store.embedder, LocalEmbedder)
    lisbon = await store.add(NS, "Priya lives in Lisbon.")
    await store.add(NS, "Marco has two cats.")
    await store.add(NS, "Priya is allergic to peanuts.")
    hits = await store.search(NS, "Which city is Priya based in?", 1, mode="vector")
    assert hits[0].memory.id == lisbon.id
    assert (await store.add(NS, "Priya is based in Lisbon.")).id == lisbon.id
    utc1 = await store.add(NS, "Lars works in the UTC+1 timezone.")
    assert (await store.add(NS, "Lars works in the UTC-4 timezone.")).id != utc1.id
    single = await store.embedder.embed(["Priya lives in Lisbon."])
    batch = await store.embedder.embed(["Priya lives in Lisbon.", "a much longer text " * 5])
    assert batch.shape == (2, 384)
    assert float(single[0] @ batch[0]) == pytest.approx(1.0, abs=1e-5)
    await store.close()


def test_memory_exports_exactly_its_public_names() -> None:
    public = {
        name
        for name, value in vars(tether.memory).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(tether.memory.__all__) == public
    assert tether.memory.__all__ == sorted(tether.memory.__all__, key=str)
    assert issubclass(MemoryStoreError, TetherError)
