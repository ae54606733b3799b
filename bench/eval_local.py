"""How well the embedded 0.5B model does simple tool tasks, with and without tether.

Variants, each over the same tasks (bench/eval_tasks.py), temperature 0, seed 0:

* ``naive``: the model's own chat template with ``tools=`` through llama-cpp-python's
  ``create_chat_completion``, no tether: the tool calls it writes in its documented
  format (``<tool_call>`` tags, or a message that is only the call's JSON) are run and
  their results sent back, for up to four turns;
* ``guided``: a tether agent with :class:`tether.GuidedStrategy`;
* ``tool_loop``: a tether agent with the default :class:`tether.ToolLoop`;
* ``guided-no-X``: the guided strategy with one technique switched off (the ablation).

A task counts as solved when the final answer is exactly right: case, surrounding
spaces, quotes and a final full stop aside; numbers compare as numbers (thousands
separators allowed; an answer with two or more decimals may be the expected value
rounded). The ``lenient`` column also counts answers that contain the right value in a
sentence.

Usage::

    .venv/bin/python bench/eval_local.py                 # every variant, held-out tasks
    .venv/bin/python bench/eval_local.py --limit 10 --variants guided,naive
    .venv/bin/python bench/eval_local.py --split dev     # the tuning split
    .venv/bin/python bench/eval_local.py --split shapes  # tools of new shapes

Per-task records go to a JSON-lines file beside the table (``--resume`` skips the
records already there), the table to ``bench/results/eval-local.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from eval_tasks import TASKS, Task, task_tools

from tether import Agent, Budget, Strategy, ToolLoop
from tether.models.local import LocalModel, parse_tool_calls
from tether.run.strategies import TECHNIQUES, GuidedStrategy

INSTRUCTIONS = (
    "You answer questions, using the tools when they help. Give only the answer: a number "
    "or a few words, not a sentence."
)
BUDGET = Budget(max_steps=6, max_seconds=60)
NAIVE_TURNS = 4
SEED = 0
MODELS = {"small": "Qwen2.5-Coder-0.5B-Instruct", "large": "Qwen2.5-Coder-1.5B-Instruct"}
FULL = ("naive", "guided")  # every task; the other variants run on every --every'th task


@dataclass(slots=True)
class Record:
    """One task's outcome under one variant."""

    variant: str
    task: str
    split: str
    category: str
    output: str | None
    exact: bool
    lenient: bool
    model_calls: int
    tool_calls: int
    seconds: float
    status: str
    shape: str = ""  # the tool shape of a tool_shapes task; absent from older records
    reached: list[str] | None = None  # the techniques the run read (--reached), else None


# --- scoring -------------------------------------------------------------------------------

_NUM = re.compile(r"[-+]?\d+(?:\.\d+)?")


def _norm(text: str) -> str:
    text = text.strip().strip("\"'`*").strip()
    text = re.sub(r"[.!]+$", "", text).strip()
    return " ".join(text.lower().split())


def _number(text: str) -> tuple[float, int] | None:
    """The number a text is (and its decimals), when it is nothing but a number."""
    flat = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    flat = flat.removeprefix("$").strip()
    if not _NUM.fullmatch(flat):
        return None
    decimals = len(flat.split(".")[1]) if "." in flat else 0
    return float(flat), decimals


def _number_matches(found: tuple[float, int], expected: float) -> bool:
    value, decimals = found
    if abs(value - expected) <= 1e-6 * max(1.0, abs(expected)):
        return True
    return decimals >= 2 and round(expected, decimals) == value


def exact(output: str | None, answers: tuple[str | float, ...]) -> bool:
    """True when the output is exactly one of the answers (see the module docstring)."""
    if output is None:
        return False
    text = _norm(output)
    for answer in answers:
        if isinstance(answer, float):
            found = _number(text)
            if found is not None and _number_matches(found, answer):
                return True
        elif text == _norm(answer):
            return True
    return False


def lenient(output: str | None, answers: tuple[str | float, ...]) -> bool:
    """True when the output contains one of the answers."""
    if output is None:
        return False
    text = _norm(output)
    flat = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    for answer in answers:
        if isinstance(answer, float):
            for m in _NUM.finditer(flat):
                found = _number(m.group())
                if found is not None and _number_matches(found, answer):
                    return True
        elif _norm(answer) in text:
            return True
    return False


# --- the variants --------------------------------------------------------------------------


def _tool_functions(task: Task) -> dict[str, Callable[..., Any]]:
    return {f.__name__: f for f in task_tools(task)}  # type: ignore[attr-defined]


async def run_tether(strategy: Strategy, model: LocalModel, task: Task) -> tuple[Any, ...]:
    agent: Agent[None, str] = Agent(
        model,
        instructions=INSTRUCTIONS,
        tools=task_tools(task),  # type: ignore[arg-type]
        budget=BUDGET,
        strategy=strategy,
        name="eval",
    )
    result = await agent.run(task.prompt)
    output = None if result.output is None else str(result.output)
    return output, result.usage.model_calls, result.usage.tool_calls, result.status


def run_naive(model: LocalModel, task: Task) -> tuple[Any, ...]:
    """The model on its own: its chat template with tools=, the calls it writes run."""
    llama = model._loaded().llama
    agent: Agent[None, str] = Agent(model, tools=task_tools(task))  # type: ignore[arg-type]
    defs = [t.definition for t in agent.tools.values()]
    tools = [
        {
            "type": "function",
            "function": {"name": d.name, "description": d.description, "parameters": d.parameters},
        }
        for d in defs
    ]
    functions = _tool_functions(task)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": task.prompt},
    ]
    model_calls = tool_calls = 0
    text: str | None = None
    for _ in range(NAIVE_TURNS):
        out = llama.create_chat_completion(
            messages, tools=tools, tool_choice="auto", temperature=0.0, seed=SEED, max_tokens=96
        )
        model_calls += 1
        message = out["choices"][0]["message"]
        text = message.get("content") or ""
        calls = [
            (c["function"]["name"], c["function"]["arguments"])
            for c in message.get("tool_calls") or []
        ]
        if not calls:
            calls = _documented_calls(text, defs)
        if not calls:
            return text, model_calls, tool_calls, "completed"
        messages.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": f"c{i}", "type": "function", "function": {"name": n, "arguments": a}}
                    for i, (n, a) in enumerate(calls)
                ],
            }
        )
        for i, (name, args) in enumerate(calls):
            tool_calls += 1
            messages.append(
                {"role": "tool", "tool_call_id": f"c{i}", "content": _run(functions, name, args)}
            )
    return None, model_calls, tool_calls, "gave_up"


def _documented_calls(text: str, defs: list[Any]) -> list[tuple[str, Any]]:
    # Only Qwen's documented formats: <tool_call> tags, or a message that is only the call.
    stripped = text.strip()
    if "<tool_call>" not in stripped and not (stripped.startswith("{") and stripped.endswith("}")):
        return []
    calls, rest = parse_tool_calls(stripped, defs)
    if rest and "<tool_call>" not in stripped:
        return []
    return [(c.name, c.arguments) for c in calls]


def _run(functions: dict[str, Callable[..., Any]], name: str, args: Any) -> str:
    try:
        if isinstance(args, str):
            args = json.loads(args)
        value = functions[name](**args)
    except Exception as exc:
        return f"Error: {type(exc).__name__}: {exc}"
    return value if isinstance(value, str) else json.dumps(value)


def variants(options: Mapping[str, Any] | None = None) -> dict[str, Strategy | None]:
    """Every variant's strategy (None for the naive baseline).

    ``options``: the guided settings the model declares (``Model.strategy_options``);
    ``guided`` is the strategy an agent on that model gets by default, ``guided-all``
    every technique on, ``guided-no-X`` the default with X off.
    """
    base = dict(options or {})
    out: dict[str, Strategy | None] = {
        "guided": GuidedStrategy(**base),
        "naive": None,
        "tool_loop": ToolLoop(),
    }
    if base:
        out["guided-all"] = GuidedStrategy()
    for flag in TECHNIQUES:
        out[f"guided-no-{flag.replace('_', '-')}"] = GuidedStrategy(**{**base, flag: False})
    return out


class Reading(GuidedStrategy):
    """A guided strategy that notes which technique switches a run reads.

    A switch the run never reads cannot have changed it: with that switch off the run
    takes the same path (the model is deterministic at temperature 0), so the ablation
    (``--reached``) runs ``guided-no-X`` only on the tasks whose guided run read X.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        object.__setattr__(self, "read", set())

    def __getattribute__(self, name: str) -> Any:
        if name in _SWITCHES:
            object.__getattribute__(self, "read").add(name)
        return object.__getattribute__(self, name)

    def __repr__(self) -> str:  # the plain form, without noting every switch as read
        return "Reading()"


_SWITCHES = frozenset(TECHNIQUES)


def run_one(name: str, strategy: Strategy | None, model: LocalModel, task: Task) -> Record:
    started = time.perf_counter()
    reached: list[str] | None = None
    if strategy is None:
        output, calls, tools, status = run_naive(model, task)
    else:
        if isinstance(strategy, Reading):
            strategy.read.clear()
        output, calls, tools, status = asyncio.run(run_tether(strategy, model, task))
        if isinstance(strategy, Reading):
            reached = sorted(strategy.read)
    seconds = time.perf_counter() - started
    return Record(
        name,
        task.id,
        task.split,
        task.category,
        output,
        exact(output, task.answers),
        lenient(output, task.answers),
        calls,
        tools,
        round(seconds, 3),
        status,
        task.shape,
        reached,
    )


# --- the report ----------------------------------------------------------------------------


def _row(name: str, rs: list[Record]) -> str:
    n = len(rs)
    ok = sum(r.exact for r in rs)
    le = sum(r.lenient for r in rs)
    calls = sum(r.model_calls for r in rs) / n
    tools = sum(r.tool_calls for r in rs) / n
    secs = sum(r.seconds for r in rs) / n
    median = statistics.median(r.seconds for r in rs)
    worst = max(r.seconds for r in rs)
    return (
        f"| {name} | {n} | **{100 * ok / n:.0f}%** ({ok}) | {100 * le / n:.0f}% | "
        f"{calls:.2f} | {tools:.2f} | {secs:.2f} | {median:.2f} | {worst:.1f} |"
    )


def _table(records: list[Record], names: list[str]) -> list[str]:
    lines = [
        "| variant | tasks | exact | lenient | model calls | tool calls | s/task | median s "
        "| worst s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    return lines + [_row(n, [r for r in records if r.variant == n]) for n in names]


def _by(records: list[Record], names: list[str], field: str, values: list[str]) -> list[str]:
    """Exact/n per variant (rows) and value of a record's category or shape (columns)."""
    lines = ["| variant | " + " | ".join(values) + " |", "|---|" + "---|" * len(values)]
    for n in names:
        cells = []
        for v in values:
            rs = [r for r in records if r.variant == n and getattr(r, field) == v]
            cells.append(f"{sum(r.exact for r in rs)}/{len(rs)}" if rs else "-")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return lines


def _unreached(name: str, guided: Record | None) -> Record | None:
    """Guided's own outcome under ``name``, when guided's run never read the switch."""
    if guided is None or guided.reached is None:
        return None
    flag = name.removeprefix("guided-no-").replace("-", "_")
    if flag in guided.reached:
        return None
    return replace(guided, variant=name, reached=None)


def _reach(records: list[Record], names: list[str]) -> list[str]:
    """Per switch: the tasks whose guided run read it, and what switching it off changed."""
    guided = {r.task: r for r in records if r.variant == "guided" and r.reached is not None}
    lines = [
        "| switched off | tasks that read it | guided exact there | off: exact there "
        "| fixed by it | broken by it |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        if not name.startswith("guided-no-"):
            continue
        flag = name.removeprefix("guided-no-").replace("-", "_")
        pairs = [
            (guided[r.task], r)
            for r in records
            if r.variant == name and r.task in guided and flag in (guided[r.task].reached or ())
        ]
        on = sum(g.exact for g, _ in pairs)
        off = sum(r.exact for _, r in pairs)
        fixed = sum(g.exact and not r.exact for g, r in pairs)
        broken = sum(r.exact and not g.exact for g, r in pairs)
        lines.append(f"| {flag} | {len(pairs)} | {on} | {off} | {fixed} | {broken} |")
    return lines


def report(records: list[Record], split: str, threads: int, every: int, model: str) -> str:
    names = list(dict.fromkeys(r.variant for r in records))
    categories = list(dict.fromkeys(r.category for r in records))
    shapes = list(dict.fromkeys(r.shape for r in records if r.shape))
    full = [n for n in names if n in FULL]
    subset_ids = {r.task for r in records if r.variant not in FULL}
    lines = [
        "# The embedded model on simple tool tasks",
        "",
        f"{MODELS[model]} (Q4_K_M) in-process, {threads} thread(s), temperature 0, "
        f"seed {SEED}; split `{split}` of bench/eval_tasks.py; "
        f"{platform.machine()} with {_cpus()} cores, shared with other work. "
        "Reproduce: `.venv/bin/python bench/eval_local.py"
        + ("" if model == "small" else f" --model {model}")
        + "`.",
        "",
        "## Every task",
        "",
        *_table(records, full),
        "",
        "Exact-match success by category:",
        "",
        *_by(records, full, "category", categories),
    ]
    if shapes:
        lines += ["", "Exact-match success by tool shape:", ""]
        lines += _by(records, full, "shape", shapes)
    if subset_ids:
        subset = [r for r in records if r.task in subset_ids]
        lines += [
            "",
            f"## The tool loop and the ablation (every {every}th task, {len(subset_ids)} tasks)",
            "",
            "Each `guided-no-X` row is the guided strategy with technique X switched off.",
            "",
            *_table(subset, names),
        ]
        if any(r.reached is not None for r in records):
            lines += [
                "",
                "Where each switch was read (a run that never reads a switch is the same "
                "run with it off; *fixed by it*: right with it, wrong without it; *broken by "
                "it*: the reverse):",
                "",
                *_reach(records, names),
            ]
    return "\n".join(lines) + "\n"


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N tasks")
    splits = list(dict.fromkeys(t.split for t in TASKS))
    parser.add_argument("--split", default="held_out", choices=[*splits, "all"])
    parser.add_argument("--variants", default=None, help="comma-separated; all by default")
    parser.add_argument("--out", default="bench/results/eval-local.md", help="the table")
    parser.add_argument("--records", default=None, help="JSON lines (default: beside --out)")
    parser.add_argument("--resume", action="store_true", help="keep records already written")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads")
    parser.add_argument(
        "--model", default="small", choices=list(MODELS), help="the embedded model: 0.5B or 1.5B"
    )
    parser.add_argument(
        "--every", type=int, default=4, help="run the tool loop and ablations on every Nth task"
    )
    parser.add_argument(
        "--reached",
        action="store_true",
        help="ablation on the reached tasks only: run guided first, noting which switches "
        "each task reads, then each guided-no-X only where X was read (elsewhere the "
        "outcome is guided's, by construction)",
    )
    parser.add_argument(
        "--tasks",
        default=None,
        help="only these task ids (comma-separated), every variant on each; for an "
        "ablation on the tasks a technique targets",
    )
    args = parser.parse_args()

    tasks = [t for t in TASKS if args.split in ("all", t.split)]
    if args.tasks:
        wanted = set(args.tasks.split(","))
        missing = wanted - {t.id for t in tasks}
        if missing:
            parser.error(f"no such tasks in split {args.split!r}: {', '.join(sorted(missing))}")
        tasks = [t for t in tasks if t.id in wanted]
        args.every = 1
    tasks = tasks[: args.limit] if args.limit else tasks
    options = LocalModel(size=args.model).strategy_options
    every = variants(options)
    chosen = args.variants.split(",") if args.variants else list(every)
    if args.reached:
        every["guided"] = Reading(**options)
        chosen = ["guided", *(v for v in chosen if v != "guided")]
    unknown = [v for v in chosen if v not in every]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(every)}")
    out = Path(args.out)
    path = Path(args.records) if args.records else out.with_suffix(".jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    done: dict[tuple[str, str], Record] = {}
    if args.resume and path.exists():
        shape_of = {t.id: t.shape for t in TASKS}
        for line in path.read_text().splitlines():
            data = json.loads(line)
            data.setdefault("shape", shape_of.get(data["task"], ""))  # records without one
            r = Record(**data)
            done[(r.variant, r.task)] = r
    else:
        path.write_text("")
    model = LocalModel(size=args.model, n_threads=args.threads, seed=SEED)
    model.load()
    records: list[Record] = []
    with path.open("a") as sink:
        for name in chosen:
            for i, task in enumerate(tasks):
                if (name not in FULL or args.reached) and i % args.every:
                    continue  # with --reached, guided too runs on the ablation's tasks only
                record = done.get((name, task.id))
                if record is None and args.reached and name.startswith("guided-no-"):
                    record = _unreached(name, done.get(("guided", task.id)))
                if record is None:
                    record = run_one(name, every[name], model, task)
                    sink.write(json.dumps(asdict(record)) + "\n")
                    sink.flush()
                    mark = "ok " if record.exact else "BAD"
                    print(
                        f"{mark} {name:28} {task.id:26} {record.seconds:5.1f}s "
                        f"{record.model_calls}c {record.output!r:.60}",
                        file=sys.stderr,
                        flush=True,
                    )
                records.append(record)
                done[(name, task.id)] = record
    table = report(records, args.split, model.n_threads, args.every, args.model)
    out.write_text(table)
    print(table)


if __name__ == "__main__":
    main()
