"""Routing eval: does a Supervisor on the embedded model give each task to the right
worker?

Four workers (arithmetic, weather, translation, billing), each a scripted agent that
answers at once; the supervisor is ``Supervisor("local", workers)`` as a user would
write it, so it runs the guided strategy. A task counts as routed when the first
worker the supervisor calls is the one the task is for; the answer counts when the
worker's reply is in the supervisor's final answer.

The 32 tasks were written before the eval was first run and were not tuned on.

    .venv/bin/python bench/eval_routing.py                 # all tasks
    .venv/bin/python bench/eval_routing.py --limit 8 --out bench/results/routing.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass

from tether import Agent, SubRunEnded, Supervisor
from tether.testing import ScriptedModel

__all__ = ["TASKS", "WORKERS", "RoutingTask", "route_one"]


@dataclass(frozen=True)
class RoutingTask:
    prompt: str
    worker: str


WORKERS = {
    "arithmetic": "Works out sums, products, percentages and other arithmetic.",
    "weather": "Tells the weather forecast for a city.",
    "translator": "Translates a sentence into another language.",
    "billing": "Answers questions about invoices, refunds and payments.",
}

TASKS = [
    RoutingTask("What is 17 times 23?", "arithmetic"),
    RoutingTask("How much is 15% of 240?", "arithmetic"),
    RoutingTask("Add 1,250 and 3,875.", "arithmetic"),
    RoutingTask("What do I get if I divide 144 by 12?", "arithmetic"),
    RoutingTask("Compute 2 to the power of 10.", "arithmetic"),
    RoutingTask("What is the square root of 729?", "arithmetic"),
    RoutingTask("Subtract 89 from 1000.", "arithmetic"),
    RoutingTask("How many minutes are there in 7 hours?", "arithmetic"),
    RoutingTask("Will it rain in Lisbon tomorrow?", "weather"),
    RoutingTask("What is the weather forecast for Oslo?", "weather"),
    RoutingTask("How warm will it be in Cairo on Friday?", "weather"),
    RoutingTask("Is it going to snow in Denver this weekend?", "weather"),
    RoutingTask("Do I need an umbrella in London today?", "weather"),
    RoutingTask("What's the temperature going to be in Tokyo tonight?", "weather"),
    RoutingTask("Will it be windy in Wellington tomorrow morning?", "weather"),
    RoutingTask("Is there a heat wave coming to Madrid?", "weather"),
    RoutingTask("Translate 'good morning' into French.", "translator"),
    RoutingTask("How do you say 'thank you very much' in Japanese?", "translator"),
    RoutingTask("Put 'where is the train station?' into German.", "translator"),
    RoutingTask("Translate 'I love this city' to Italian.", "translator"),
    RoutingTask("What is 'see you tomorrow' in Spanish?", "translator"),
    RoutingTask("Say 'the meeting is at noon' in Portuguese.", "translator"),
    RoutingTask("Translate 'happy birthday' into Dutch.", "translator"),
    RoutingTask("Give me the Swedish for 'how much does it cost?'.", "translator"),
    RoutingTask("Why was I charged twice on invoice 4417?", "billing"),
    RoutingTask("I want a refund for my last payment.", "billing"),
    RoutingTask("When is my next invoice due?", "billing"),
    RoutingTask("Can I pay my invoice by bank transfer?", "billing"),
    RoutingTask("My card payment failed, what should I do?", "billing"),
    RoutingTask("Please send me a copy of invoice 2290.", "billing"),
    RoutingTask("How do I update the billing address on my account?", "billing"),
    RoutingTask("Has my refund for order 88 been processed?", "billing"),
]


def make_workers() -> list[Agent]:
    """The workers: scripted agents that answer with a reply naming themselves."""
    return [
        Agent(ScriptedModel([f"[{name} reply]"] * 50), name=name, instructions=does)
        for name, does in WORKERS.items()
    ]


async def route_one(task: RoutingTask, model: str = "local") -> dict[str, object]:
    """Run one task; what was routed where, and whether the answer came back."""
    boss = Supervisor(model, make_workers(), max_concurrency=2)
    started = time.perf_counter()
    result = await boss.run(task.prompt)
    seconds = time.perf_counter() - started
    routed = [e.agent for e in result.events if isinstance(e, SubRunEnded)]
    answer = str(result.output or "")
    return {
        "prompt": task.prompt,
        "expected": task.worker,
        "routed": routed,
        "first_ok": bool(routed) and routed[0] == task.worker,
        "answer_ok": f"[{task.worker} reply]" in answer,
        "status": result.status,
        "model_calls": result.usage.model_calls,
        "seconds": round(seconds, 2),
    }


async def _route_all(tasks: list[RoutingTask], model: str) -> list[dict[str, object]]:
    rows = []
    for task in tasks:
        row = await route_one(task, model)
        rows.append(row)
        mark = "ok " if row["first_ok"] else "BAD"
        print(f"{mark} {task.worker:<10} -> {row['routed']}  {task.prompt}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local")
    parser.add_argument("--limit", type=int, default=None, help="the first N tasks per worker")
    parser.add_argument("--out", default=None, help="JSON lines of every task")
    args = parser.parse_args()
    tasks = TASKS
    if args.limit is not None:
        tasks = [t for w in WORKERS for t in [t for t in TASKS if t.worker == w][: args.limit]]
    rows = asyncio.run(_route_all(tasks, args.model))
    if args.out:
        with open(args.out, "w") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
    n = len(rows)
    routed = sum(bool(r["first_ok"]) for r in rows)
    answered = sum(bool(r["answer_ok"]) for r in rows)
    secs = [float(r["seconds"]) for r in rows]  # type: ignore[arg-type]
    calls = [int(r["model_calls"]) for r in rows]  # type: ignore[call-overload]
    print(
        f"\nrouted to the right worker first: {routed}/{n} ({100 * routed / n:.0f}%); "
        f"worker's answer in the final answer: {answered}/{n} ({100 * answered / n:.0f}%); "
        f"model calls median {statistics.median(calls)}; seconds median "
        f"{statistics.median(secs):.1f}, worst {max(secs):.1f}"
    )
    for worker in WORKERS:
        mine = [r for r in rows if r["expected"] == worker]
        if mine:
            ok = sum(bool(r["first_ok"]) for r in mine)
            print(f"  {worker:<10} {ok}/{len(mine)}")


if __name__ == "__main__":
    main()
