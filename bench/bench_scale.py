"""Runs over worker processes on DBOS (tether.scale): throughput and take-over time.

Every configuration starts its own ``tether worker`` processes on a PostgreSQL journal
in a schema of its own (``bench_scale_<hex>``, and ``<schema>_dbos`` for DBOS's
tables), and stops them and drops both schemas afterwards, also when it fails. The
agent is ``bench/scale_bench_agents.py``: a ``FunctionModel`` that waits
``--model-delay`` (50 ms) per call and one tool that waits ``--tool-delay`` (10 ms);
a run is model call (asks for the tool) -> tool -> model call (answers), so 110 ms of
waiting.

* **throughput** (``--workers 1,2,3``): N workers, each ``--concurrency 4``
  ``--poll-every 0.05``. After a warm-up, ``--runs`` runs (200) are submitted one after
  the other and awaited; runs/s = runs / (last run's end in its journal - first
  submit). The ideal is workers x concurrency / 0.11 s. CPU is sampled from ``/proc``
  over the window: the whole machine, the workers, PostgreSQL's processes and this
  process, to tell a CPU-bound configuration from a latency-bound one.
* **take-over** (``--takeover 3:1.5,10:1.5,3:10,10:30``, heartbeat timeout : the
  agent's lease TTL, in seconds; 30 s is ``Agent``'s default lease): 3 workers, a
  steady stream of ``--rate`` runs/s (20); once the first worker has ``--want`` runs
  in flight (3; at least one mid-run) it gets SIGKILL. For each of its in-flight runs:
  when a survivor counted it dead (``taken_at`` in the workers table), when DBOS
  dispatched the run again (``started_at_epoch_ms``), when its journal got its first
  event after the kill (the run began again), and when it finished; and what the dead
  worker's lease still had to run at the kill.

``--repeats`` measures every configuration that many times.

    .venv/bin/python bench/bench_scale.py                       # both parts
    .venv/bin/python bench/bench_scale.py --part throughput --runs 400
    .venv/bin/python bench/bench_scale.py --part takeover --takeover 3:1.5 --repeats 3

PostgreSQL: ``--dsn`` (default ``$TETHER_TEST_PG`` or
``postgresql://127.0.0.1:5432/test``). The tables go to stdout, one JSON object per
configuration (and one ``"meta"`` line per invocation) is appended to ``--out``
(default ``bench/results/scale-<date>.jsonl``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import importlib
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_DSN = os.environ.get("TETHER_TEST_PG", "postgresql://127.0.0.1:5432/test")
AGENT_SPEC = "scale_bench_agents:agent"
READY = re.compile(r"tether worker (\S+): executing runs of")
NCPU = os.cpu_count() or 1
CLK = os.sysconf("SC_CLK_TCK")


# --- CPU accounting from /proc ---------------------------------------------------------


def _proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK


def _postgres_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == "postgres":
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def _system_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return float(sum(values[:8]) - idle), float(sum(values[:8]))


@dataclass
class CpuSnapshot:
    wall: float
    busy: float
    total: float
    groups: dict[str, dict[int, float]]

    @classmethod
    def take(cls, workers: list[int]) -> CpuSnapshot:
        groups: dict[str, dict[int, float]] = {"workers": {}, "postgres": {}, "bench": {}}
        for name, pids in (
            ("workers", workers),
            ("postgres", _postgres_pids()),
            ("bench", [os.getpid()]),
        ):
            for pid in pids:
                cpu = _proc_cpu(pid)
                if cpu is not None:
                    groups[name][pid] = cpu
        busy, total = _system_cpu()
        return cls(time.monotonic(), busy, total, groups)


def cpu_between(a: CpuSnapshot, b: CpuSnapshot) -> dict[str, float]:
    """Cores busy on average between two snapshots: the machine, and each group (a
    process that appeared in between counts from zero; one that exited is lost)."""
    wall = b.wall - a.wall
    out = {"machine": (b.busy - a.busy) / max(b.total - a.total, 1.0) * NCPU}
    for name, now in b.groups.items():
        before = a.groups.get(name, {})
        out[name] = sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items()) / wall
    out["other"] = out["machine"] - out["workers"] - out["postgres"] - out["bench"]
    return {k: round(v, 3) for k, v in out.items()}


# --- PostgreSQL helpers ------------------------------------------------------------------


def _commits(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as c:
        row = c.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        return int(row[0]) if row else 0


def _drop_schemas(dsn: str, schema: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("SET lock_timeout = '30s'")
        for s in (schema, f"{schema}_dbos"):
            c.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")


# --- a cluster of workers ------------------------------------------------------------------


@dataclass
class Cluster:
    """Worker processes on a schema of their own; :meth:`stop` ends every process this
    started and drops the schemas, whatever happened before."""

    dsn: str
    workers: int
    concurrency: int
    poll_every: float
    heartbeat_timeout: float
    lease_ttl: float
    model_delay: float
    tool_delay: float
    tmp: Path
    schema: str = field(default_factory=lambda: f"bench_scale_{uuid.uuid4().hex[:10]}")
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    module: Any = None

    @property
    def env(self) -> dict[str, str]:
        return {
            "TETHER_SCALE_DSN": self.dsn,
            "TETHER_SCALE_SCHEMA": self.schema,
            "TETHER_SCALE_MODEL_DELAY": str(self.model_delay),
            "TETHER_SCALE_TOOL_DELAY": str(self.tool_delay),
            "TETHER_SCALE_LEASE_TTL": str(self.lease_ttl),
        }

    @property
    def agent(self) -> Any:
        return self.module.agent

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def start(self) -> None:
        os.environ.update(self.env)  # the submitting side's agent: same journal, same queue
        if str(HERE) not in sys.path:
            sys.path.insert(0, str(HERE))
        self.module = importlib.reload(importlib.import_module("scale_bench_agents"))
        self._spawn()
        self._wait_ready()  # the first creates DBOS's tables alone
        for _ in range(self.workers - 1):
            self._spawn()
        self._wait_ready()

    def _spawn(self) -> None:
        log = self.tmp / f"{self.schema}-worker{len(self.procs)}.log"
        cmd = [
            *(sys.executable, "-m", "tether", "worker", "--agent", AGENT_SPEC),
            *("--concurrency", str(self.concurrency)),
            *("--heartbeat-timeout", str(self.heartbeat_timeout)),
            *("--poll-every", str(self.poll_every)),
        ]
        env = {**os.environ, **self.env, "PYTHONPATH": str(HERE)}
        with log.open("wb") as err:
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        self.procs.append(proc)
        self.logs.append(log)

    def _wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p, log in zip(self.procs, self.logs, strict=True):
                if p.poll() is not None:
                    raise RuntimeError(f"a worker exited: {log.read_text()[-2000:]}")
            found = [READY.search(log.read_text()) for log in self.logs]
            if all(found):
                self.ids = [m.group(1) for m in found if m]
                return
            time.sleep(0.1)
        raise RuntimeError("the workers did not start: " + self.logs[-1].read_text()[-2000:])

    def log_problems(self) -> dict[str, Any]:
        """Warning and error lines in the workers' logs (counted, a few kept)."""
        lines = []
        for log in self.logs:
            with contextlib.suppress(OSError):
                lines += [
                    ln
                    for ln in log.read_text().splitlines()
                    if re.search(r"WARNING|ERROR|Traceback|stopped beating", ln)
                ]
        samples = sorted({re.sub(r"[0-9a-f]{8,}|\d+(\.\d+)?", "#", ln)[:200] for ln in lines})
        return {"lines": len(lines), "kinds": samples[:8]}

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        with contextlib.suppress(Exception):  # the submitter's DBOS clients
            from tether.scale import close

            close()
        _drop_schemas(self.dsn, self.schema)


# --- measurements --------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _warm_up(agent: Any, n: int) -> None:
    handles = [await agent.submit(f"warm{i}") for i in range(n)]
    async with asyncio.timeout(120):
        for h in handles:
            await h.result(poll=0.05)


async def _spans(handles: list[Any]) -> list[tuple[float, float, float]]:
    """Per run (journaled, first event after run_started, run_finished) times."""
    out = []
    for h in handles:
        ev = await h.events()
        out.append((ev[0].at, ev[1].at, ev[-1].at))
    return out


async def _workflow_times(cluster: Cluster, ids: list[str]) -> list[tuple[float, ...]]:
    """Per run, DBOS's (enqueued, dispatched, completed) times, in seconds."""
    async with await psycopg.AsyncConnection.connect(cluster.dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT workflow_uuid, created_at, started_at_epoch_ms, "
            f"coalesce(completed_at, updated_at) FROM {cluster.schema}_dbos.workflow_status "
            "WHERE workflow_uuid = ANY(%s)",
            (ids,),
        )
        rows = {r[0]: tuple(v / 1000 for v in r[1:]) for r in await cur.fetchall()}
    return [rows[i] for i in ids]


def _slot_split(
    cluster: Cluster, rate: float, spans: list[tuple[float, ...]], flows: list[tuple[float, ...]]
) -> dict[str, float]:
    """Where a worker slot's time per run goes (means, ms): DBOS dispatch to the run's
    first event, the run itself, its end to DBOS's record of it, and the rest (the slot
    empty, waiting for a poll to fill it)."""

    def mean_ms(values: list[float]) -> float:
        return round(statistics.fmean(values) * 1000, 1)

    slot = cluster.workers * cluster.concurrency / rate
    start = [s[1] - f[1] for s, f in zip(spans, flows, strict=True)]
    service = [s[2] - s[1] for s in spans]
    done = [f[2] - s[2] for s, f in zip(spans, flows, strict=True)]
    held = statistics.fmean(start) + statistics.fmean(service) + statistics.fmean(done)
    return {
        "slot_ms_per_run": round(slot * 1000, 1),
        "dispatch_to_first_event_ms": mean_ms(start),
        "dispatch_to_first_event_ms_p95": round(_pct(start, 0.95) * 1000, 1),
        "run_ms": mean_ms(service),
        "finish_to_dbos_done_ms": mean_ms(done),
        "slot_empty_ms": round((slot - held) * 1000, 1),
        "enqueue_ms": mean_ms([f[0] - s[0] for s, f in zip(spans, flows, strict=True)]),
    }


async def _idle_cost(cluster: Cluster, seconds: float) -> dict[str, Any]:
    """What idle workers cost (polling the queue, beating): transactions/s, cores."""
    commits0 = await asyncio.to_thread(_commits, cluster.dsn)
    before = CpuSnapshot.take(cluster.pids)
    await asyncio.sleep(seconds)
    after = CpuSnapshot.take(cluster.pids)
    commits = await asyncio.to_thread(_commits, cluster.dsn) - commits0
    cores = cpu_between(before, after)
    return {
        "commits_per_s": round(commits / (after.wall - before.wall), 1),
        "workers_cores": cores["workers"],
        "postgres_cores": cores["postgres"],
    }


def _cpu_per_run(cores: dict[str, float], wall: float, runs: int) -> float:
    """CPU ms per run of the workers, PostgreSQL and the submitter (not other processes)."""
    ours = cores["workers"] + cores["postgres"] + cores["bench"]
    return round(ours * wall / runs * 1000, 2)


async def measure_throughput(cluster: Cluster, runs: int, await_mode: str) -> dict[str, Any]:
    agent = cluster.agent
    try:
        await _warm_up(agent, 2 * cluster.workers * cluster.concurrency)
        idle = await _idle_cost(cluster, 3.0)
        commits0 = await asyncio.to_thread(_commits, cluster.dsn)
        before = CpuSnapshot.take(cluster.pids)
        t0 = time.time()
        handles = [await agent.submit(f"item{i}") for i in range(runs)]
        submitted = time.time()
        async with asyncio.timeout(600):
            if await_mode == "gather":
                results = await asyncio.gather(*(h.result() for h in handles))
            else:
                results = [await h.result(poll=0.05) for h in handles]
        t_results = time.time()
        after = CpuSnapshot.take(cluster.pids)
        commits = await asyncio.to_thread(_commits, cluster.dsn) - commits0
        spans = await _spans(handles)
        flows = await _workflow_times(cluster, [h.run_id for h in handles])
    finally:
        await agent.store.close()
    statuses = [r.status for r in results]
    last_end = max(end for _, _, end in spans)
    wall = last_end - t0
    waits = [(begun - journaled) * 1000 for journaled, begun, _ in spans]
    service = [(end - begun) * 1000 for _, begun, end in spans]
    per_run = 2 * cluster.model_delay + cluster.tool_delay
    ideal = cluster.workers * cluster.concurrency / per_run
    rate = runs / wall
    return {
        "part": "throughput",
        "workers": cluster.workers,
        "concurrency": cluster.concurrency,
        "poll_every": cluster.poll_every,
        "await_mode": await_mode,
        "runs": runs,
        "completed": statuses.count("completed"),
        "wall_s": round(wall, 3),
        "wall_to_last_result_s": round(t_results - t0, 3),
        "submit_s": round(submitted - t0, 3),
        "runs_per_s": round(rate, 2),
        "ideal_runs_per_s": round(ideal, 2),
        "ratio": round(rate / ideal, 3),
        "queue_wait_ms_p50": round(_pct(waits, 0.5), 1),
        "queue_wait_ms_p95": round(_pct(waits, 0.95), 1),
        "service_ms_p50": round(_pct(service, 0.5), 1),
        "service_ms_p95": round(_pct(service, 0.95), 1),
        "service_ms_mean": round(statistics.fmean(service), 1),
        "busy_slots_mean": round(rate * statistics.fmean(service) / 1000, 2),
        "cpu_cores": cpu_between(before, after),
        "cpu_ms_per_run": _cpu_per_run(cpu_between(before, after), after.wall - before.wall, runs),
        "db_commits_per_run": round(commits / runs, 1),
        "slot": _slot_split(cluster, rate, spans, flows),
        "idle": idle,
    }


async def _pending_of(conn: Any, schema: str, executor: str) -> list[tuple[str, float]]:
    cur = await conn.execute(
        f"SELECT workflow_uuid, started_at_epoch_ms FROM {schema}_dbos.workflow_status "
        "WHERE executor_id = %s AND status = 'PENDING'",
        (executor,),
    )
    return [(r[0], (r[1] or 0) / 1000) for r in await cur.fetchall()]


async def _mid_run(store: Any, run_ids: list[str]) -> int:
    """How many of these runs have begun (an event after run_started) and not ended."""
    n = 0
    for run_id in run_ids:
        ev = await store.load(run_id)
        if len(ev) > 1 and type(ev[-1]).__name__ != "RunFinished":
            n += 1
    return n


async def _kill_when_busy(cluster: Cluster, conn: Any, want: int, patience: float) -> float:
    """SIGKILL the first worker once it has ``want`` runs in flight, one of them mid-run
    (or any once ``patience`` seconds have passed); the time of the kill."""
    store = cluster.agent.store
    deadline = time.monotonic() + patience
    while True:
        pending = [r for r, _ in await _pending_of(conn, cluster.schema, cluster.ids[0])]
        enough = len(pending) >= want or (pending and time.monotonic() > deadline)
        if enough and await _mid_run(store, pending):
            cluster.procs[0].send_signal(signal.SIGKILL)
            return time.time()
        if time.monotonic() > deadline + 30:
            raise RuntimeError("the first worker never had a run in flight")
        await asyncio.sleep(0.005)


async def _frozen(conn: Any, cluster: Cluster) -> dict[str, Any]:
    """What the database says about the killed worker right after the kill."""
    schema, victim = cluster.schema, cluster.ids[0]
    pending = await _pending_of(conn, schema, victim)
    ids = [r for r, _ in pending]
    cur = await conn.execute(
        f"SELECT run_id, lease_expires FROM {schema}.runs WHERE run_id = ANY(%s)", (ids,)
    )
    leases = {r[0]: r[1] for r in await cur.fetchall()}
    cur = await conn.execute(
        f"SELECT beat_at FROM {schema}.workers WHERE executor_id = %s", (victim,)
    )
    row = await cur.fetchone()
    return {"runs": dict(pending), "leases": leases, "last_beat": row[0] if row else None}


async def _after(conn: Any, cluster: Cluster, ids: list[str]) -> dict[str, Any]:
    schema, victim = cluster.schema, cluster.ids[0]
    cur = await conn.execute(
        f"SELECT state, taken_by, taken_at FROM {schema}.workers WHERE executor_id = %s",
        (victim,),
    )
    state, taken_by, taken_at = await cur.fetchone() or (None, None, None)
    cur = await conn.execute(
        f"SELECT workflow_uuid, status, executor_id, started_at_epoch_ms, recovery_attempts, "
        f"updated_at FROM {schema}_dbos.workflow_status WHERE workflow_uuid = ANY(%s)",
        (ids,),
    )
    rows = {r[0]: r[1:] for r in await cur.fetchall()}
    return {"state": state, "taken_by": taken_by, "taken_at": taken_at, "workflows": rows}


def _split(
    run_id: str, kill_at: float, frozen: dict[str, Any], after: dict[str, Any], events: list[Any]
) -> dict[str, Any]:
    """One taken-over run's times, in seconds after the kill."""
    status, executor, started_ms, attempts, _ = after["workflows"][run_id]
    redispatched = (started_ms or 0) / 1000
    at_kill = [e for e in events if e.at <= kill_at]
    later = [e for e in events if e.at > kill_at]
    finished = events[-1].at if type(events[-1]).__name__ == "RunFinished" else None
    lease = frozen["leases"].get(run_id)
    began = later[0].at if later else None
    return {
        "run_id": run_id,
        "cut_after": type(at_kill[-1]).__name__,
        "finished_before_kill": bool(finished and finished <= kill_at),
        "lease_left_s": round(max(0.0, lease - kill_at), 3) if lease else None,
        "dead_s": round(after["taken_at"] - kill_at, 3) if after["taken_at"] else None,
        "redispatched_s": round(redispatched - kill_at, 3),
        "began_s": round(began - kill_at, 3) if began else None,
        "first_event_after": type(later[0]).__name__ if later else None,
        "finished_s": round(finished - kill_at, 3) if finished else None,
        "workflow_status": status,
        "moved_to_survivor": executor != after.get("victim"),
        "recovery_attempts": attempts,
    }


async def _stream(agent: Any, rate: float, handles: list[Any], stop: asyncio.Event) -> None:
    next_at = time.monotonic()
    i = 0
    while not stop.is_set():
        handles.append(await agent.submit(f"s{i}"))
        i += 1
        next_at += 1 / rate
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def _wait_finished(store: Any, ids: list[str], limit: float) -> None:
    deadline = time.monotonic() + limit
    left = set(ids)
    while left and time.monotonic() < deadline:
        for run_id in list(left):
            if type((await store.load(run_id))[-1]).__name__ == "RunFinished":
                left.discard(run_id)
        await asyncio.sleep(0.05)


async def measure_takeover(cluster: Cluster, rate: float, warm: float, want: int) -> dict[str, Any]:
    agent, store = cluster.agent, cluster.agent.store
    handles: list[Any] = []
    stop = asyncio.Event()
    conn = await psycopg.AsyncConnection.connect(cluster.dsn, autocommit=True)
    streaming = asyncio.create_task(_stream(agent, rate, handles, stop))
    try:
        await asyncio.sleep(warm)
        kill_at = await _kill_when_busy(cluster, conn, want, patience=10.0)
        frozen = await _frozen(conn, cluster)
        ids = list(frozen["runs"])
        limit = cluster.heartbeat_timeout + 3 * cluster.lease_ttl + 60
        await _wait_finished(store, ids, limit)
        await asyncio.sleep(1.0)  # the stream goes on a little after the take-over
        stop.set()
        await streaming
        async with asyncio.timeout(120):
            results = [await h.result(poll=0.05) for h in handles]
        after = await _after(conn, cluster, ids)
        after["victim"] = cluster.ids[0]
        per_run = [_split(r, kill_at, frozen, after, await store.load(r)) for r in ids]
    finally:
        stop.set()
        streaming.cancel()
        with contextlib.suppress(BaseException):
            await streaming
        await conn.close()
        await store.close()
    cluster.procs[0].wait(timeout=10)
    statuses = [r.status for r in results]
    return {
        "part": "takeover",
        "workers": cluster.workers,
        "concurrency": cluster.concurrency,
        "poll_every": cluster.poll_every,
        "heartbeat_timeout": cluster.heartbeat_timeout,
        "heartbeat_every": min(2.0, cluster.heartbeat_timeout / 4),
        "lease_ttl": cluster.lease_ttl,
        "rate": rate,
        "runs": len(results),
        "completed": statuses.count("completed"),
        "last_beat_before_kill_s": round(kill_at - frozen["last_beat"], 3),
        "victim_state": after["state"],
        "in_flight": len(ids),
        "loadavg_after": os.getloadavg(),
        "per_run": per_run,
    }


# --- driver ----------------------------------------------------------------------------------


def run_one(args: argparse.Namespace, tmp: Path, part: str, **kw: Any) -> dict[str, Any]:
    cluster = Cluster(
        dsn=args.dsn,
        concurrency=args.concurrency,
        poll_every=args.poll_every,
        model_delay=args.model_delay,
        tool_delay=args.tool_delay,
        tmp=tmp,
        **kw,
    )
    try:
        cluster.start()
        if part == "throughput":
            row = asyncio.run(measure_throughput(cluster, args.runs, args.await_mode))
        else:
            row = asyncio.run(measure_takeover(cluster, args.rate, args.warm, args.want))
        row["worker_log"] = cluster.log_problems()
        return row
    finally:
        cluster.stop()


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def print_throughput(rows: list[dict[str, Any]]) -> None:
    print(
        "\n| workers | runs/s | ideal | ratio | wait p50/p95 ms | service p50/p95 ms "
        "| busy slots | CPU cores: machine / workers / postgres / bench / other "
        "| CPU ms/run | commits/run |"
    )
    print("|---:|---:|---:|---:|---|---|---:|---|---:|---:|")
    for r in rows:
        c = r["cpu_cores"]
        print(
            f"| {r['workers']} x {r['concurrency']} | {r['runs_per_s']:.1f} "
            f"| {r['ideal_runs_per_s']:.1f} | {r['ratio']:.2f} "
            f"| {r['queue_wait_ms_p50']:.0f} / {r['queue_wait_ms_p95']:.0f} "
            f"| {r['service_ms_p50']:.0f} / {r['service_ms_p95']:.0f} | {r['busy_slots_mean']:.1f} "
            f"| {c['machine']:.2f} / {c['workers']:.2f} / {c['postgres']:.2f} / {c['bench']:.2f}"
            f" / {c['other']:.2f} | {r['cpu_ms_per_run']:.1f} | {r['db_commits_per_run']:.0f} |"
        )


def print_slots(rows: list[dict[str, Any]]) -> None:
    print(
        "\n| workers | slot time per run ms | DBOS dispatch -> first event | run "
        "| run end -> DBOS done | slot empty | enqueue (submit) "
        "| idle: commits/s, cores workers / postgres |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        s = r["slot"]
        print(
            f"| {r['workers']} x {r['concurrency']} | {s['slot_ms_per_run']:.0f} "
            f"| {s['dispatch_to_first_event_ms']:.0f} "
            f"(p95 {s['dispatch_to_first_event_ms_p95']:.0f}) "
            f"| {s['run_ms']:.0f} | {s['finish_to_dbos_done_ms']:.0f} | {s['slot_empty_ms']:.0f} "
            f"| {s['enqueue_ms']:.1f} | {r['idle']['commits_per_s']:.0f}, "
            f"{r['idle']['workers_cores']:.2f} / {r['idle']['postgres_cores']:.2f} |"
        )


def print_takeover(rows: list[dict[str, Any]]) -> None:
    print(
        "\n| heartbeat timeout / lease TTL | run | cut after | lease left at kill "
        "| counted dead | dispatched again | began again | finished |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        for p in r["per_run"]:
            print(
                f"| {r['heartbeat_timeout']:g} s / {r['lease_ttl']:g} s | {p['run_id'][-8:]} "
                f"| {p['cut_after']} | {_fmt(p['lease_left_s'])} | {p['dead_s']:.2f} "
                f"| {p['redispatched_s']:.2f} | {_fmt(p['began_s'])} | {_fmt(p['finished_s'])} |"
            )
    print("(seconds after the SIGKILL; last beat before the kill: ", end="")
    print(", ".join(f"{r['last_beat_before_kill_s']:.2f} s" for r in rows) + ")")
    print(
        "\n| heartbeat timeout / lease TTL | kills | runs taken over | kill -> counted dead "
        "| -> dispatched again | -> began again | -> finished | kill -> finished (max) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    pairs: dict[tuple[float, float], list[dict[str, Any]]] = {}
    for r in rows:
        pairs.setdefault((r["heartbeat_timeout"], r["lease_ttl"]), []).append(r)
    for (hb, ttl), group in pairs.items():
        runs = [p for r in group for p in r["per_run"] if p["began_s"] and p["dead_s"]]
        if not runs:
            continue

        def mean(f: Any, runs: list[dict[str, Any]] = runs) -> float:
            return statistics.fmean(f(p) for p in runs)

        print(
            f"| {hb:g} s / {ttl:g} s | {len(group)} | {len(runs)} "
            f"| {mean(lambda p: p['dead_s']):.2f} "
            f"| +{mean(lambda p: p['redispatched_s'] - p['dead_s']):.2f} "
            f"| +{mean(lambda p: p['began_s'] - p['redispatched_s']):.2f} "
            f"| +{mean(lambda p: p['finished_s'] - p['began_s']):.2f} "
            f"| {max(p['finished_s'] for p in runs):.2f} |"
        )
    print("(means over the runs that began again; a run whose journal had ended before the")
    print(" kill is only handed its journaled result)")


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    def git(*a: str) -> str:
        with contextlib.suppress(Exception):
            return subprocess.run(
                ["git", *a], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
        return ""

    import dbos

    return {
        "meta": True,
        "at": datetime.datetime.now().isoformat(timespec="seconds"),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "src")),
        "python": platform.python_version(),
        "dbos": getattr(dbos, "__version__", None) or _dist_version("dbos"),
        "cpus": NCPU,
        "loadavg_before": os.getloadavg(),
        "argv": sys.argv[1:],
    }


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def main() -> None:
    today = datetime.date.today().strftime("%Y%m%d")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["throughput", "takeover", "all"], default="all")
    ap.add_argument("--dsn", default=DEFAULT_DSN)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--workers", default="1,2,3", help="throughput: worker counts")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--poll-every", type=float, default=0.05)
    ap.add_argument("--model-delay", type=float, default=0.05)
    ap.add_argument("--tool-delay", type=float, default=0.01)
    ap.add_argument("--lease-ttl", type=float, default=1.5, help="throughput: the agent's lease")
    ap.add_argument("--await-mode", choices=["sequential", "gather"], default="sequential")
    ap.add_argument("--takeover", default="3:1.5,10:1.5,3:10,10:30", help="heartbeat:lease")
    ap.add_argument("--repeats", type=int, default=1, help="measurements per configuration")
    ap.add_argument("--rate", type=float, default=20.0, help="take-over: runs/s submitted")
    ap.add_argument("--warm", type=float, default=3.0, help="take-over: s of stream first")
    ap.add_argument("--want", type=int, default=3, help="take-over: runs in flight at the kill")
    ap.add_argument("--out", default=str(HERE / "results" / f"scale-{today}.jsonl"))
    args = ap.parse_args()

    meta = _meta(args)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, open(args.out, "a") as out:
        out.write(json.dumps(meta) + "\n")

        def record(row: dict[str, Any]) -> None:
            row["at"] = meta["at"]
            rows.append(row)
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(json.dumps({k: v for k, v in row.items() if k != "per_run"}), flush=True)

        if args.part in ("throughput", "all"):
            for n in (int(x) for x in args.workers.split(",")):
                for _ in range(args.repeats):
                    record(
                        run_one(
                            args,
                            Path(tmp),
                            "throughput",
                            workers=n,
                            heartbeat_timeout=10.0,
                            lease_ttl=args.lease_ttl,
                        )
                    )
        if args.part in ("takeover", "all"):
            for pair in args.takeover.split(","):
                hb, ttl = (float(x) for x in pair.split(":"))
                for _ in range(args.repeats):
                    record(
                        run_one(
                            args,
                            Path(tmp),
                            "takeover",
                            workers=3,
                            heartbeat_timeout=hb,
                            lease_ttl=ttl,
                        )
                    )
    print_throughput([r for r in rows if r["part"] == "throughput"])
    print_slots([r for r in rows if r["part"] == "throughput"])
    print_takeover([r for r in rows if r["part"] == "takeover"])
    print(f"\nmachine: {NCPU} cores; load average before: {meta['loadavg_before']}")


if __name__ == "__main__":
    main()
