"""Retrieval quality and recall latency of tether's long-term memory stores.

    .venv/bin/python bench/eval_memory.py                       # everything
    .venv/bin/python bench/eval_memory.py --part quality        # recall@5 and MRR
    .venv/bin/python bench/eval_memory.py --part merge          # the merge threshold
    .venv/bin/python bench/eval_memory.py --part scale --sizes 10000,100000

``quality`` loads ``bench/memory_eval_set.json`` (written before any tuning) into one
namespace of each store, with the local embedder, and ranks every query lexically,
by vector and hybrid (reciprocal rank fusion). ``merge`` embeds the set's restated
and different pairs and reports where a cosine threshold separates them. ``scale``
fills a namespace with synthetic filler memories (real local embeddings of generated
sentences, cached under ``/tmp``) and times ``search`` on the filled store, cold
and warm. Each result is printed and appended as a JSON line to ``--out``.

The filler is written straight into the stores' tables (one transaction, no merge
check): adding 100,000 memories one ``add`` at a time would time the loader, not
the recall.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))

from tether.memory import LocalEmbedder, MemoryStore, PostgresMemoryStore, SQLiteMemoryStore
from tether.memory._merge import restates

EVAL_SET = ROOT / "memory_eval_set.json"
PG_DSN = os.environ.get("TETHER_TEST_PG", "postgresql://127.0.0.1:5432/test")
NS = ("eval", "support-agent")
MODES = ("lexical", "vector", "hybrid")


def emit(out: Path, record: dict[str, Any]) -> None:
    record = {"bench": "memory", "at": time.strftime("%Y-%m-%dT%H:%M:%S"), **record}
    print(json.dumps(record))
    with out.open("a") as f:
        f.write(json.dumps(record) + "\n")


async def open_store(kind: str, embedder: LocalEmbedder, **kw: Any) -> MemoryStore:
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="tether-memory-bench-")) / "memory.db"
        return SQLiteMemoryStore(path, embedder=embedder, **kw)
    return PostgresMemoryStore(
        PG_DSN, embedder=embedder, schema=f"bench_{uuid.uuid4().hex[:10]}", **kw
    )


async def drop(store: MemoryStore) -> None:
    if isinstance(store, PostgresMemoryStore):
        import psycopg

        await store.close()
        async with await psycopg.AsyncConnection.connect(PG_DSN, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {store.schema} CASCADE")
    else:
        await store.close()


def score(ranked: list[str], relevant: set[str]) -> tuple[float, float]:
    """recall@5 and reciprocal rank (within the list) of one query."""
    recall = len(relevant & set(ranked[:5])) / len(relevant)
    rr = next((1.0 / i for i, m in enumerate(ranked, 1) if m in relevant), 0.0)
    return recall, rr


def fusions(spec: str) -> list[tuple[int, float]]:
    """``"60:1,10:0.3"`` as (k, lexical weight) pairs."""
    return [(int(k), float(w)) for k, w in (p.split(":") for p in spec.split(","))]


async def quality(kinds: list[str], out: Path, variants: list[tuple[int, float]]) -> None:
    """recall@5 and MRR@10 of each mode, on all queries and on each half.

    The hybrid's constants were chosen on the even-numbered queries; the odd ones
    are the held-out half.
    """
    data = json.loads(EVAL_SET.read_text())
    embedder = LocalEmbedder()
    for kind in kinds:
        # Merging off: the corpus's memories are distinct, and their ids must stay apart.
        store = await open_store(kind, embedder, merge_threshold=1.01)
        ids: dict[str, str] = {}
        t0 = time.perf_counter()
        for m in data["memories"]:
            stored = await store.add(NS, m["text"], kind=m["kind"], metadata={"eval_id": m["id"]})
            ids[stored.id] = m["id"]
        load_s = time.perf_counter() - t0
        runs = [("lexical", None), ("vector", None)] + [("hybrid", v) for v in variants]
        for mode, variant in runs:
            if variant is not None:
                store.rrf_k, store.lexical_weight = variant
            per_query = []
            for q in data["queries"]:
                hits = await store.search(NS, q["query"], 10, mode=mode)
                per_query.append(score([ids[h.memory.id] for h in hits], set(q["relevant"])))
            record: dict[str, Any] = {
                "part": "quality",
                "store": kind,
                "mode": mode,
                "rrf_k": variant[0] if variant else None,
                "lexical_weight": variant[1] if variant else None,
                "embedder": embedder.name,
                "memories": len(data["memories"]),
                "queries": len(data["queries"]),
            }
            for half, rows in (
                ("", per_query),
                ("tune_", per_query[0::2]),
                ("heldout_", per_query[1::2]),
            ):
                record[f"{half}recall_at_5"] = round(statistics.fmean(r for r, _ in rows), 4)
                record[f"{half}mrr_at_10"] = round(statistics.fmean(rr for _, rr in rows), 4)
            record["load_s"] = round(load_s, 2)
            emit(out, record)
        await drop(store)


async def merge(out: Path) -> None:
    """How often restatements and different facts merge, by threshold, with the guard."""
    pairs = json.loads(EVAL_SET.read_text())["merge_pairs"]
    embedder = LocalEmbedder()

    async def cosines(group: list[list[str]]) -> list[float]:
        a = await embedder.embed([p[0] for p in group])
        b = await embedder.embed([p[1] for p in group])
        return [float(c) for c in (a * b).sum(axis=1)]

    same, diff = await cosines(pairs["same"]), await cosines(pairs["different"])
    for threshold in (0.75, 0.8, 0.82, 0.85, 0.88, 0.9):
        for guard in (False, True):

            def rate(
                group: list[list[str]], cos: list[float], t: float = threshold, g: bool = guard
            ) -> float:
                merged = [
                    restates(a, b, c, t) if g else c >= t
                    for (a, b), c in zip(group, cos, strict=True)
                ]
                return round(statistics.fmean(merged), 4)

            emit(
                out,
                {
                    "part": "merge",
                    "embedder": embedder.name,
                    "threshold": threshold,
                    "name_guard": guard,
                    "same_pairs": len(same),
                    "different_pairs": len(diff),
                    "merged_same": rate(pairs["same"], same),
                    "merged_different": rate(pairs["different"], diff),
                    "default": guard and threshold == embedder.duplicate_threshold,
                },
            )
    emit(
        out,
        {
            "part": "merge-distribution",
            "embedder": embedder.name,
            "same_p5_p50": [round(float(np.percentile(same, p)), 3) for p in (5, 50)],
            "different_p50_p95_max": [
                round(float(np.percentile(diff, p)), 3) for p in (50, 95, 100)
            ],
        },
    )


_NAMES = "Ana Bo Cyd Dee Eli Fay Gus Hal Ida Jo Kai Lu Mo Ned Oz Pia Quin Rex Sol Tia".split()
_VERBS = "asked about|reported|complained about|praised|cancelled|renewed|upgraded|returned".split(
    "|"
)
_THINGS = (
    "the invoice|a late parcel|the mobile app|two-factor login|the export job|a refund|"
    "the dashboard|an API key|the printer driver|a damaged screen|the newsletter|"
    "a broken link|the calendar sync|a password reset|the data retention policy|"
    "a shipping label|the search page|a missing receipt|the team plan|a webhook"
).split("|")
_WHEN = "on Monday|last week|in March|after the update|twice this month|yesterday".split("|")


def filler_texts(n: int) -> list[str]:
    rnd = random.Random(11)
    return [
        f"{rnd.choice(_NAMES)}-{rnd.randrange(10_000)} {rnd.choice(_VERBS)} "
        f"{rnd.choice(_THINGS)} {rnd.choice(_WHEN)} (case {i})."
        for i in range(n)
    ]


async def filler_vectors(texts: list[str], embedder: LocalEmbedder) -> np.ndarray:
    cache = Path(tempfile.gettempdir()) / f"tether-memory-filler-{len(texts)}.npy"
    if cache.exists():
        return np.load(cache)
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    for start in range(0, len(texts), 2048):
        vectors[start : start + 2048] = await embedder.embed(texts[start : start + 2048])
        print(f"embedded {start + 2048} of {len(texts)}", file=sys.stderr)
    np.save(cache, vectors)
    return vectors


async def bulk_load(store: MemoryStore, texts: list[str], vectors: np.ndarray) -> None:
    """The filler, written straight into the store's tables in one transaction."""
    ns = json.dumps(list(NS))
    now = time.time()
    rows = [
        (uuid.uuid4().hex, ns, "episode", t, "{}", vectors[i].tobytes(), now, now, now, None, i + 1)
        for i, t in enumerate(texts)
    ]
    cols = "id, namespace, kind, text, metadata, embedding, created_at, updated_at, "
    cols += "last_used_at, expires_at, seq"
    if isinstance(store, SQLiteMemoryStore):
        conn = store._conn
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(f"INSERT INTO memories ({cols}) VALUES ({', '.join('?' * 11)})", rows)
        conn.execute("INSERT INTO memories_fts (rowid, text) SELECT rowid, text FROM memories")
        conn.execute("UPDATE memory_counter SET seq = ?", (len(rows) + 1,))
        conn.execute("COMMIT")
        return
    assert isinstance(store, PostgresMemoryStore)
    digest = hashlib.sha256(ns.encode()).digest()  # the index key of the namespace
    async with await store._conn() as conn:
        copying = f"COPY memories ({cols}, ns_digest) FROM STDIN"
        async with conn.cursor() as cur, cur.copy(copying) as copy:
            for row in rows:
                await copy.write_row((*row, digest))
        await conn.execute("SELECT setval('memory_seq', %s)", (len(rows) + 1,))
        # What autovacuum does soon after a bulk load; without it, each count(*) of
        # the namespace reads the heap to check visibility.
        await conn.execute("VACUUM ANALYZE memories")


def pct(values: list[float], p: float) -> float:
    return round(float(np.percentile(values, p)) * 1000, 1)


async def scale(kinds: list[str], sizes: list[int], out: Path, repeats: int) -> None:
    data = json.loads(EVAL_SET.read_text())
    queries = [q["query"] for q in data["queries"]][:repeats]
    embedder = LocalEmbedder()
    # The filler of a smaller size is the start of the largest one's.
    all_texts = filler_texts(max(sizes) - len(data["memories"]))
    all_vectors = await filler_vectors(all_texts, embedder)
    for size in sizes:
        texts = all_texts[: size - len(data["memories"])]
        vectors = all_vectors[: len(texts)]
        for kind in kinds:
            store = await open_store(kind, embedder, merge_threshold=1.01)
            await store.count(NS)  # opens and migrates
            await bulk_load(store, texts, vectors)
            for m in data["memories"]:
                await store.add(NS, m["text"], kind=m["kind"])
            assert await store.count(NS) == size
            await embedder.embed(["warm up"])
            for mode in MODES:
                if isinstance(store, SQLiteMemoryStore | PostgresMemoryStore):
                    store._indexes.clear()  # the first vector query reads the namespace
                t = time.perf_counter()
                await store.search(NS, queries[0], 5, mode=mode)
                cold = time.perf_counter() - t
                times = []
                for q in queries:
                    t = time.perf_counter()
                    await store.search(NS, q, 5, mode=mode)
                    times.append(time.perf_counter() - t)
                emit(
                    out,
                    {
                        "part": "scale",
                        "store": kind,
                        "vector_method": store.vector_method,
                        "mode": mode,
                        "memories": size,
                        "queries": len(times),
                        "p50_ms": pct(times, 50),
                        "p95_ms": pct(times, 95),
                        "cold_first_ms": round(cold * 1000, 1),
                        "load_avg_1m": round(os.getloadavg()[0], 2),
                        "cpus": os.cpu_count(),
                    },
                )
            t = time.perf_counter()
            for i in range(10):
                await store.add(NS, f"Scale probe {i}: Zed-{i} renewed the team plan.")
            emit(
                out,
                {
                    "part": "scale-add",
                    "store": kind,
                    "memories": size,
                    "add_mean_ms": round((time.perf_counter() - t) / 10 * 1000, 1),
                },
            )
            await drop(store)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["quality", "merge", "scale", "all"], default="all")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=50, help="queries timed per mode")
    parser.add_argument(
        "--fusions", default="60:1,10:0.3", help="hybrid variants to compare, as k:lexical_weight"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "memory.jsonl")
    args = parser.parse_args()
    kinds = args.stores.split(",")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    emit(
        args.out,
        {"part": "env", "python": platform.python_version(), "command": " ".join(sys.argv)},
    )
    if args.part in ("quality", "all"):
        asyncio.run(quality(kinds, args.out, fusions(args.fusions)))
    if args.part in ("merge", "all"):
        asyncio.run(merge(args.out))
    if args.part in ("scale", "all"):
        sizes = [int(s) for s in args.sizes.split(",")]
        asyncio.run(scale(kinds, sizes, args.out, args.repeats))


if __name__ == "__main__":
    main()
