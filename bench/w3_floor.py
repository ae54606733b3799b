"""W3 with the least possible loop around tether's data: the floor of ``bench_tether.py w3``.

Each of the N concurrent runs asks the same fake model (``FunctionModel`` and the
harness's ``fake_io``) and runs the same ``add`` tool, and keeps exactly the objects a
tether :class:`~tether.RunResult` keeps (the same event and message classes), but with
no budget, fold, loop detection, nodes or worker pool: a sync tool is called inline.
What it takes with the default garbage collector is what the data alone costs; the
gap to tether's W3 is the run loop's.

    BENCH_TOOL=async PYTHONPATH=src:../shared/bench-peers .venv/bin/python bench/w3_floor.py 10000

Prints one JSON line: wall seconds, peak RSS, and per generation the garbage
collector's collections and seconds (``gc`` off with ``--no-gc``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import sys
import time
from typing import Any

import common  # the harness's shared module, on PYTHONPATH
from bench_tether import make_agent

from tether import Message, ModelResponse, ToolResultMessage
from tether._events import (
    ModelRequested,
    ModelResponded,
    Reason,
    RunFinished,
    RunStarted,
    ToolCallFinished,
    ToolCallStarted,
)
from tether._messages import AssistantMessage, SystemMessage, UserMessage
from tether.models import Model, ModelParams

_GC: dict[int, list[float]] = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
_STARTED = [0.0]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _STARTED[0] = time.perf_counter()
    else:
        g = _GC[info["generation"]]
        g[0] += 1
        g[1] += time.perf_counter() - _STARTED[0]


async def one_run(model: Model, params: ModelParams, rid: str) -> tuple[list[Any], list[Message]]:
    """One run of the harness's task, keeping what a RunResult keeps."""
    events: list[Any] = [
        RunStarted(run_id=rid, seq=0, at=time.time(), agent="a", prompt=common.PROMPT, model="m")
    ]
    messages: list[Message] = [SystemMessage("system"), UserMessage(common.PROMPT)]
    step = 0
    while True:
        step += 1
        events.append(ModelRequested(run_id=rid, seq=len(events), at=time.time(), step=step))
        response: ModelResponse = await model.request(messages, params)
        events.append(
            ModelResponded(
                run_id=rid,
                seq=len(events),
                at=time.time(),
                step=step,
                response=response,
                cost_usd=0.0,
                duration_s=0.0,
            )
        )
        messages.append(AssistantMessage(response.text, response.tool_calls))
        if not response.tool_calls:
            break
        for i, call in enumerate(response.tool_calls):
            call.id = f"call_{step}_{i}"
            events.append(
                ToolCallStarted(
                    run_id=rid,
                    seq=len(events),
                    at=time.time(),
                    step=step,
                    call=call,
                    idempotency_key=f"{rid}:{call.id}",
                )
            )
            value = common.add(**call.arguments)  # type: ignore[arg-type]
            if common.TOOL_KIND == "async":
                value = await value
            text = str(value)
            events.append(
                ToolCallFinished(
                    run_id=rid,
                    seq=len(events),
                    at=time.time(),
                    step=step,
                    call_id=call.id,
                    name=call.name,
                    outcome="ok",
                    content=text,
                )
            )
            messages.append(ToolResultMessage(call.id, call.name, text))
    events.append(
        RunFinished(
            run_id=rid,
            seq=len(events),
            at=time.time(),
            status="completed",
            reason=Reason("final_answer", "done"),
            output=response.text,
        )
    )
    assert response.text == common.EXPECTED, response.text
    return events, messages


async def main(n: int, collect: bool) -> None:
    agent = make_agent(0.01)
    model = agent.model
    defs = tuple(t.definition for t in agent.tools.values())
    params = ModelParams(defs, None, True)
    await one_run(model, params, "warm-up")
    gc.collect()
    if not collect:
        gc.disable()
    gc.callbacks.append(_on_gc)
    t0 = time.perf_counter()
    results = await asyncio.gather(*(one_run(model, params, f"run-{i}") for i in range(n)))
    wall = time.perf_counter() - t0
    gc.callbacks.remove(_on_gc)
    row = {
        "workload": "w3-floor",
        "tool": common.TOOL_KIND,
        "n": n,
        "gc": collect,
        "wall_s": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "gc_collections": [int(_GC[g][0]) for g in range(3)],
        "gc_s": [round(_GC[g][1], 3) for g in range(3)],
    }
    print(json.dumps(row))
    del results


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    asyncio.run(main(int(args[0]) if args else 10_000, "--no-gc" not in sys.argv))
