"""What tracing costs a run: W2 of the peer benchmark with tracing off and on.

    BENCH_TOOL=async PYTHONPATH=src:../shared/bench-peers .venv/bin/python bench/bench_tracing.py

"On" is ``tether.tracing.instrument`` with a ``BatchSpanProcessor`` and an OTLP/HTTP
exporter posting to a dummy collector (another process on 127.0.0.1 that answers
every export with 200), so the spans are really encoded and sent. Two numbers:

* W2, the harness's own: the median time of one run (what a caller waits), off and
  on, alternated over a few rounds, best round of each;
* sustained: the wall time of many runs back to back plus building and exporting all
  their spans, which counts the work done off the runs' path too.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time

import common  # the harness's shared module (../shared/bench-peers)
from bench_tether import make_agent, output, run
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import tether.tracing

_COLLECTOR = textwrap.dedent("""
    import http.server, sys

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
""")


def _w2() -> float:
    return float(asyncio.run(common.w2(make_agent, run, output))["run_us"])


def _sustained(n: int) -> float:
    agent = make_agent(0.0)

    async def many() -> None:
        for _ in range(n):
            assert output(await run(agent)) == common.EXPECTED

    t0 = time.perf_counter()
    asyncio.run(many())
    tether.tracing.flush()
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    rounds = int(os.environ.get("ROUNDS", "3"))
    collector = subprocess.Popen(
        [sys.executable, "-c", _COLLECTOR], stdout=subprocess.PIPE, text=True
    )
    try:
        assert collector.stdout is not None
        port = int(collector.stdout.readline())
        provider = TracerProvider()
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
        # A queue big enough that no span is dropped: the sustained number counts
        # exporting every span.
        provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=1 << 20))
        off: list[float] = []
        on: list[float] = []
        for _ in range(rounds):
            tether.tracing.uninstrument()
            off.append(_w2())
            tether.tracing.instrument(provider)
            on.append(_w2())
        tether.tracing.flush()
        n = int(os.environ.get("SUSTAINED_RUNS", "2000"))
        tether.tracing.uninstrument()
        sustained_off = _sustained(n)
        tether.tracing.instrument(provider)
        sustained_on = _sustained(n)
        tether.tracing.uninstrument()
        provider.shutdown()
    finally:
        collector.kill()
        collector.wait()
    row = {
        "tool": common.TOOL_KIND,
        "w2_off_us": round(min(off), 1),
        "w2_on_us": round(min(on), 1),
        "w2_ratio": round(min(on) / min(off), 2),
        "w2_rounds_off_us": [round(x, 1) for x in off],
        "w2_rounds_on_us": [round(x, 1) for x in on],
        "sustained_off_us_per_run": round(sustained_off, 1),
        "sustained_on_us_per_run": round(sustained_on, 1),
        "sustained_ratio": round(sustained_on / sustained_off, 2),
    }
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
