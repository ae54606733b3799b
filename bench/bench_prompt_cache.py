"""What the embedded model's prompt cache saves in a guided run's sequence of calls.

    .venv/bin/python bench/bench_prompt_cache.py [questions]

For each question, three calls shaped like the guided strategy's: a decision with
the tools in the system turn, an answer without tools under another system prompt,
then a next step with the tools again and another user turn. llama.cpp alone reuses
only what a prompt shares with the one just before it, so the third call evaluates
the tools prefix again; with ``LocalModel(prompt_cache=...)`` it starts from a saved
state. "off" is ``prompt_cache=0``, "on" the default. Both share one loaded model
and alternate question by question (the order swapped each time), so load from
other work on the machine falls on both alike. Temperature 0: the answers should
match; a prompt evaluated in pieces can round differently from one evaluated whole,
which llama.cpp's own reuse of the previous prompt does too (checked once against
each prompt evaluated whole: 30/30 equal with the cache, 29/30 without).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import llama_cpp

from tether import Agent, Message, SystemMessage, UserMessage
from tether.cli._demo import calculator, convert_units, lookup_capital
from tether.models import ModelParams
from tether.models.local import LocalModel

QUESTIONS = [
    ("What is 17*23 plus 5?", "calculator(17*23) = 391"),
    ("Convert 10 km to miles, then double it.", "convert_units(10 km -> mi) = 6.2137"),
    ("What is the capital of Valdoria?", "lookup_capital(Valdoria) = Brightwater"),
    ("How many seconds are in 3 hours and 20 minutes?", "calculator(3*3600) = 10800"),
    ("What is 2 to the power 12, minus 100?", "calculator(2**12) = 4096"),
    ("Convert 5 pounds to kilograms and add 1.", "convert_units(5 lb -> kg) = 2.2680"),
    ("What is the capital of Quenland?", "lookup_capital(Quenland) = Marrowgate"),
    ("What is 144 divided by 12, times 7?", "calculator(144/12) = 12"),
    ("Convert 100 F to Celsius, then add 10.", "convert_units(100 F -> C) = 37.78"),
    ("What is 999 * 3 minus 17?", "calculator(999*3) = 2997"),
]
TOOLS_SYSTEM = """You are a careful assistant.

Use a tool when the question needs one; answer directly when it does not.
Call one tool at a time.

Final answer format:
plain text"""
NO_TOOLS_SYSTEM = """You are a careful assistant.

Answer the question from what you know and the facts given. No tool is available.

Final answer format:
plain text"""
CALLS = ("decide (tools)", "answer (no tools)", "next (tools)")
DEFS = [
    Agent("demo", tools=[calculator, convert_units, lookup_capital]).tools[name].definition
    for name in ("calculator", "convert_units", "lookup_capital")
]


def calls(question: str, fact: str) -> list[tuple[list[Message], ModelParams]]:
    """The three requests for one question."""
    tools = ModelParams(tools=DEFS)
    return [
        ([SystemMessage(TOOLS_SYSTEM), UserMessage(question)], tools),
        ([SystemMessage(NO_TOOLS_SYSTEM), UserMessage(f"{question}\n\nFacts: {fact}.")],
         ModelParams()),
        ([SystemMessage(TOOLS_SYSTEM), UserMessage(
            f"{question}\n\nKnown so far: {fact}.\nNot used yet from the question: the rest."
            "\nCall a tool for the next step.")], tools),
    ]  # fmt: skip


async def one(
    model: LocalModel, messages: list[Message], params: ModelParams
) -> tuple[float, int, str]:
    """Seconds, prompt tokens evaluated (llama.cpp's own count) and the answer."""
    ctx = model._loaded().llama._ctx.ctx
    llama_cpp.llama_perf_context_reset(ctx)
    started = time.perf_counter()
    response = await model.request(messages, params)
    seconds = time.perf_counter() - started
    evaluated = llama_cpp.llama_perf_context(ctx).n_p_eval
    answer = response.text or "; ".join(f"{c.name}({c.arguments})" for c in response.tool_calls)
    return seconds, evaluated, answer


async def main(n: int) -> None:
    variants = {
        "off": LocalModel(prompt_cache=0, max_tokens=24),
        "on": LocalModel(max_tokens=24),
    }
    # Not timed: loading, and a first prompt for the first call to follow, as in a run.
    await one(variants["off"], *calls("What is 1+1?", "none")[0])
    times: dict[str, list[list[float]]] = {v: [[], [], []] for v in variants}
    evals: dict[str, list[list[int]]] = {v: [[], [], []] for v in variants}
    answers: dict[str, list[str]] = {v: [] for v in variants}
    began = time.perf_counter()
    for i, (question, fact) in enumerate(QUESTIONS[:n]):
        order = ["off", "on"] if i % 2 == 0 else ["on", "off"]
        for name in order:
            for k, (messages, params) in enumerate(calls(question, fact)):
                seconds, evaluated, answer = await one(variants[name], messages, params)
                times[name][k].append(seconds)
                evals[name][k].append(evaluated)
                answers[name].append(answer)
    lm = variants["on"]._loaded()
    state = lm.cache.cache_state if lm.cache is not None else {}
    sizes = [s.llama_state_size for s in state.values()]

    print(f"{n} questions x 3 calls, each variant; off and on alternated question by question")
    print(f"(order swapped each question), one loaded model, {variants['on'].n_threads} thread(s)")
    print(f"{'call':<20}{'off s':>8}{'on s':>8}{'off tok':>9}{'on tok':>8}   (median)")
    for k, label in enumerate(CALLS):
        print(
            f"{label:<20}{statistics.median(times['off'][k]):>8.2f}"
            f"{statistics.median(times['on'][k]):>8.2f}"
            f"{statistics.median(evals['off'][k]):>9.0f}{statistics.median(evals['on'][k]):>8.0f}"
        )
    total = {v: sum(map(sum, times[v])) for v in variants}
    ratio = total["on"] / total["off"]
    print(f"total: off {total['off']:.1f} s, on {total['on']:.1f} s, "
          f"on/off {ratio:.2f} ({1 / ratio:.2f}x faster)")  # fmt: skip
    tokens = {v: sum(map(sum, evals[v])) for v in variants}
    print(f"prompt tokens evaluated: off {tokens['off']}, on {tokens['on']}")
    same = sum(a == b for a, b in zip(answers["off"], answers["on"], strict=True))
    print(f"same answers (temperature 0): {same}/{len(answers['on'])}")
    for k, (a, b) in enumerate(zip(answers["off"], answers["on"], strict=True)):
        if a != b:
            print(f"  question {k // 3 + 1}, {CALLS[k % 3]}: off {a!r}, on {b!r}")
    if sizes:
        print(f"cache: {len(sizes)} states kept, {sum(sizes) / 2**20:.1f} MB "
              f"(one {min(sizes) / 2**20:.1f}-{max(sizes) / 2**20:.1f} MB), "
              f"capacity {lm.cache.capacity_bytes / 2**20:.0f} MB")  # fmt: skip
    print(f"wall time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else len(QUESTIONS)))
