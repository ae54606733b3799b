"""The task set of the embedded-model eval (bench/eval_local.py).

Simple tool tasks in seven categories: arithmetic through the calculator, unit
conversion, capital lookups and population lookups over fictional countries,
questions that need no tool, two-step tasks (one tool's result feeds another), and
multi-lookup tasks (two lookups, then a comparison or a sum).

The splits:

* ``held_out`` (120 tasks): written before the strategy was tuned and only used to
  measure it; the numbers in bench/results/eval-local.md come from this split.
* ``dev`` (24 tasks): the same kinds of tasks with other numbers and names; any tuning
  of prompts or orchestration looked at this split only, until the first held-out run.
* ``fresh`` (40 tasks): written after the first held-out run; one change made after
  seeing held-out failures (a stricter check for calls copied from a tool's example)
  is checked on it.
* ``held_out_2`` (127 tasks): a second held-out split in the same seven categories and
  about the same proportions, with new numbers and phrasings (units in words and
  abbreviations, thousands separators, lower case, imperatives), written and committed
  before any further tuning; like ``held_out``, it is only for measuring.
* ``shapes`` (52 tasks, category ``tool_shapes``): tasks for tools of shapes the
  strategy was not tuned on (bench/eval_shapes.py: an enum argument, ISO dates, free
  text, two required arguments of different types, an optional argument, JSON results),
  also written before any tuning on them. Its agents get those tools and the calculator
  (``eval_tools("shapes")``).
* ``fresh_2`` (48 tasks): written after the tuning of issue 13, by someone who had not
  seen the strategy's failures on it, and committed before it was first run. Four tasks
  in each of the seven categories above (same tools, same fictional countries, new
  numbers and phrasings) and 20 ``tool_shapes`` tasks over every tool of
  bench/eval_shapes.py, four of them needing two steps.
* ``fresh_3`` (172 tasks): written at the start of a later tuning round, before any
  tuning in it, by someone who had not seen the strategy's failures, and committed
  before it was first run. 127 tasks in the seven categories above in the proportions
  of ``held_out_2`` (26 arithmetic, 21 conversion, 15 capital, 12 population, 20 no
  tool, 21 two-step, 12 multi-lookup; same tools, same fictional countries, new numbers,
  phrasings and combinations) and 45 ``tool_shapes`` tasks, five for each shape of
  ``SHAPES`` (five of them needing two steps). Its first run (``79f7d3a``) is issue
  13's held-out measurement of that round; its failures were read afterwards, so
  later runs of it are development figures.
* ``fresh_4`` (172 tasks): written at the start of a new tuning round, before any
  tuning in it, by someone who had not seen the strategy's failures, and committed
  before it was first run. Like ``fresh_3``: 127 tasks in the seven categories above (26
  arithmetic, 21 conversion, 15 capital, 12 population, 20 no tool, 21 two-step, 12
  multi-lookup; same tools, same fictional countries, new numbers, phrasings and
  combinations) and 45 ``tool_shapes`` tasks, five for each shape of ``SHAPES`` (five of
  them needing two steps).
* ``fresh_5`` (172 tasks): written at the start of a new tuning round, before any
  tuning in it, by someone who had not seen the strategy's failures, and committed
  before it was first run. Like ``fresh_4``: 127 tasks in the seven categories above (26
  arithmetic, 21 conversion, 15 capital, 12 population, 20 no tool, 21 two-step, 12
  multi-lookup; same tools, same fictional countries, new numbers, phrasings and
  combinations) and 45 ``tool_shapes`` tasks, five for each shape of ``SHAPES`` (five of
  them needing two steps).
* ``fresh_6`` (172 tasks): written at the start of a new tuning round, before any
  tuning in it, by someone who had not seen the strategy's failures, and committed
  before it was first run. Like ``fresh_5``: 127 tasks in the seven categories above (26
  arithmetic, 21 conversion, 15 capital, 12 population, 20 no tool, 21 two-step, 12
  multi-lookup; same tools, same fictional countries, new numbers, phrasings and
  combinations) and 45 ``tool_shapes`` tasks, five for each shape of ``SHAPES`` (five of
  them needing two steps).
* ``fresh_7`` (172 tasks): written at the start of a new tuning round, before any
  tuning in it, by someone who had not seen the strategy's failures, and committed
  before it was first run. Like ``fresh_6``: 127 tasks in the seven categories above (26
  arithmetic, 21 conversion, 15 capital, 12 population, 20 no tool, 21 two-step, 12
  multi-lookup; same tools, same fictional countries, new numbers, phrasings and
  combinations) and 45 ``tool_shapes`` tasks, five for each shape of ``SHAPES`` (five of
  them needing two steps).
* ``fresh_8`` (172 tasks): written at the start of a new tuning round, before any
  tuning in it, by someone who had not seen the strategy's failures, and committed
  before it was first run. Like ``fresh_7``: 127 tasks in the seven categories above (26
  arithmetic, 21 conversion, 15 capital, 12 population, 20 no tool, 21 two-step, 12
  multi-lookup; same tools, same fictional countries, new numbers, phrasings and
  combinations) and 45 ``tool_shapes`` tasks, five for each shape of ``SHAPES`` (five of
  them needing two steps).
* ``fresh_9`` (172 tasks): written at the start of a new tuning round, before any
  tuning in it, by someone who had not seen the strategy's failures, and committed
  before it was first run. Like ``fresh_8``: 127 tasks in the seven categories above (26
  arithmetic, 21 conversion, 15 capital, 12 population, 20 no tool, 21 two-step, 12
  multi-lookup; same tools, same fictional countries, new numbers, phrasings and
  combinations) and 45 ``tool_shapes`` tasks, five for each shape of ``SHAPES`` (five of
  them needing two steps).

Each ``tool_shapes`` task is labelled with its tool's shape (``Task.shape``, one of
``SHAPES``), so results can be reported per shape as well as per category. The tools an
agent gets depend on the task (``task_tools``): the calculator and the tools of
bench/eval_shapes.py for ``tool_shapes`` tasks, the calculator, unit conversion and the
two lookups for every other task; on the splits of one kind this is exactly
``eval_tools(split)``.

Expected answers are computed with the tools' own functions wherever a tool is
involved, so the ground truth cannot drift from what the tools return.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from eval_shapes import (  # bench/ is on sys.path, as eval_local.py puts it there
    add_days,
    count_text,
    days_between,
    inventory_count,
    order_details,
    price,
    reverse_text,
    shape_tools,
    weather_forecast,
)

from tether.cli._demo import calculator, convert_units, lookup_capital

__all__ = [
    "POPULATIONS",
    "SHAPES",
    "SHAPE_SPLITS",
    "TASKS",
    "Task",
    "eval_tools",
    "lookup_population",
    "task_tools",
]

POPULATIONS = {  # fictional, like the capitals of the demo's lookup_capital
    "Valdoria": 812_000,
    "Quenland": 1_450_000,
    "Estrevia": 376_500,
    "Norrhaven": 92_000,
    "Brisalta": 2_310_000,
    "Kethmoor": 58_400,
    "Lunaria": 640_000,
    "Osterwick": 127_300,
}


def lookup_population(country: str) -> int:
    """Look up how many people live in a (fictional) country.

    Example: lookup_population(country="Valdoria") returns 812000.

    Args:
        country: the country's name, in any letter case, e.g. "Valdoria".
    """
    wanted = country.strip().lower().removeprefix("the ").strip()
    for name, people in POPULATIONS.items():
        if name.lower() == wanted:
            return people
    raise ValueError(f"unknown country {country!r}; known countries: {', '.join(POPULATIONS)}")


SHAPE_SPLITS = frozenset({"shapes"})  # the splits whose agents get the new tools


def eval_tools(split: str | None = None) -> list[object]:
    """The tools an eval agent gets on a split.

    Every split but ``shapes`` (and no split given): the demo's three and the population
    lookup, as before. ``shapes``: the calculator and the tools of bench/eval_shapes.py.
    """
    if split in SHAPE_SPLITS:
        return [calculator, *shape_tools()]
    return [calculator, convert_units, lookup_capital, lookup_population]


SHAPES = (  # the tool shapes of the ``tool_shapes`` tasks, one per tool of eval_shapes.py
    "enum argument",  # inventory_count
    "two typed arguments",  # price: a string and an integer
    "date and integer",  # add_days: an ISO date and a number of days, a date back
    "two dates",  # days_between: two ISO dates, an integer back
    "text and enum",  # count_text: free text and what to count
    "free text",  # reverse_text: free text, text back
    "JSON object",  # order_details: a JSON object back
    "optional argument",  # weather_forecast: an optional argument, a JSON list back
    "two steps",  # two of those tools, or one of them and the calculator
)


@dataclass(frozen=True, slots=True)
class Task:
    """One eval task: a prompt and the answers that count as right.

    ``shape`` is the tool shape of a ``tool_shapes`` task (one of ``SHAPES``), else "".
    """

    id: str
    split: str
    category: str
    prompt: str
    answers: tuple[str | float, ...]
    shape: str = ""


def task_tools(task: Task) -> list[object]:
    """The tools an eval agent gets on a task, chosen by its category.

    ``tool_shapes`` tasks: the calculator and the tools of bench/eval_shapes.py; every
    other task: the demo's three and the population lookup. On every split but
    ``fresh_2``, ``fresh_3``, ``fresh_4``, ``fresh_5``, ``fresh_6``, ``fresh_7``,
    ``fresh_8`` and ``fresh_9`` (the ones mixing both kinds) this is
    ``eval_tools(task.split)``.
    """
    return eval_tools("shapes" if task.category == "tool_shapes" else None)


_Row = tuple[str, str, tuple[str | float, ...]]  # category, prompt, answers
_ShapeRow = tuple[str, str, tuple[str | float, ...], str]  # ... and the tool shape


def _calc(expression: str) -> float:
    return float(calculator(expression))


def _conv(value: float, src: str, dst: str) -> float:
    return convert_units(value, src, dst)


def _cap(country: str) -> str:
    return lookup_capital(country)


def _pop(country: str) -> float:
    return float(POPULATIONS[country])


def _most(*countries: str) -> str:
    """Of some country names, the one with the most people."""
    return max(countries, key=_pop)


def _fewest(*countries: str) -> str:
    """Of some country names, the one with the fewest people."""
    return min(countries, key=_pop)


_HELD_OUT: list[_Row] = [
    # --- arithmetic ---------------------------------------------------------------------
    ("arithmetic", "What is 48 * 12?", (_calc("48*12"),)),
    ("arithmetic", "Compute 1234 + 5678.", (_calc("1234+5678"),)),
    ("arithmetic", "What is 9001 - 4567?", (_calc("9001-4567"),)),
    ("arithmetic", "Calculate 144 / 12.", (_calc("144/12"),)),
    ("arithmetic", "What is (15 + 27) * 3?", (_calc("(15+27)*3"),)),
    ("arithmetic", "What is 2 to the power of 12?", (_calc("2**12"),)),
    ("arithmetic", "What is 7 squared plus 5 squared?", (_calc("7**2+5**2"),)),
    ("arithmetic", "How much is 365 times 24?", (_calc("365*24"),)),
    ("arithmetic", "What is 1000 divided by 8?", (_calc("1000/8"),)),
    ("arithmetic", "Use the calculator to work out 83 * 47.", (_calc("83*47"),)),
    ("arithmetic", "What is 15% of 240?", (_calc("240*15/100"),)),
    ("arithmetic", "What is the sum of 123, 456 and 789?", (_calc("123+456+789"),)),
    ("arithmetic", "Subtract 389 from 1000.", (_calc("1000-389"),)),
    ("arithmetic", "What is 56 multiplied by 78?", (_calc("56*78"),)),
    ("arithmetic", "Compute (100 - 37) / 9.", (_calc("(100-37)/9"),)),
    ("arithmetic", "What is 3.5 * 4.2?", (_calc("3.5*4.2"),)),
    ("arithmetic", "What is 999 + 1?", (_calc("999+1"),)),
    ("arithmetic", "What is 12 * 12 * 12?", (_calc("12*12*12"),)),
    ("arithmetic", "What is 250 divided by 4?", (_calc("250/4"),)),
    ("arithmetic", "Calculate 19 * 21 - 99.", (_calc("19*21-99"),)),
    ("arithmetic", "What is 64 / 4 / 2?", (_calc("64/4/2"),)),
    ("arithmetic", "What is 45 + 55 * 2?", (_calc("45+55*2"),)),
    ("arithmetic", "What is 1024 - 512 + 256?", (_calc("1024-512+256"),)),
    ("arithmetic", "A box holds 24 eggs. How many eggs are in 17 boxes?", (_calc("24*17"),)),
    (
        "arithmetic",
        "A ticket costs 35 dollars. What do 12 tickets cost, in dollars?",
        (_calc("35*12"),),
    ),
    # --- unit conversion ----------------------------------------------------------------
    ("conversion", "Convert 10 km to miles.", (_conv(10, "km", "mi"),)),
    ("conversion", "How many feet are in 100 meters?", (_conv(100, "m", "ft"),)),
    ("conversion", "Convert 5 miles to kilometers.", (_conv(5, "mi", "km"),)),
    ("conversion", "What is 100 degrees Fahrenheit in Celsius?", (_conv(100, "f", "c"),)),
    ("conversion", "Convert 25 Celsius to Fahrenheit.", (_conv(25, "c", "f"),)),
    ("conversion", "How many pounds is 70 kg?", (_conv(70, "kg", "lb"),)),
    ("conversion", "Convert 3 gallons to liters.", (_conv(3, "gal", "l"),)),
    ("conversion", "What is 0 Celsius in Kelvin?", (_conv(0, "c", "k"),)),
    ("conversion", "Convert 2000 ft to meters.", (_conv(2000, "ft", "m"),)),
    ("conversion", "How many kilograms are 150 pounds?", (_conv(150, "lb", "kg"),)),
    ("conversion", "Convert 42.195 km to miles.", (_conv(42.195, "km", "mi"),)),
    ("conversion", "What is 1 mile in feet?", (_conv(1, "mi", "ft"),)),
    ("conversion", "Convert 20 liters to gallons.", (_conv(20, "l", "gal"),)),
    ("conversion", "What is -40 Fahrenheit in Celsius?", (_conv(-40, "f", "c"),)),
    ("conversion", "Convert 300 Kelvin to Celsius.", (_conv(300, "k", "c"),)),
    ("conversion", "How many meters is 3.5 km?", (_conv(3.5, "km", "m"),)),
    ("conversion", "Convert 12 pounds to kilograms.", (_conv(12, "lb", "kg"),)),
    ("conversion", "What is 212 F in C?", (_conv(212, "f", "c"),)),
    ("conversion", "Convert 1500 meters to miles.", (_conv(1500, "m", "mi"),)),
    ("conversion", "How many liters are in 10 gallons?", (_conv(10, "gal", "l"),)),
    # --- capital lookups ----------------------------------------------------------------
    ("capital", "What is the capital of Valdoria?", (_cap("Valdoria"),)),
    ("capital", "What is the capital of Quenland?", (_cap("Quenland"),)),
    ("capital", "Which city is the capital of Estrevia?", (_cap("Estrevia"),)),
    ("capital", "Tell me the capital of Norrhaven.", (_cap("Norrhaven"),)),
    ("capital", "Name the capital city of Brisalta.", (_cap("Brisalta"),)),
    ("capital", "What's Kethmoor's capital?", (_cap("Kethmoor"),)),
    ("capital", "Lunaria's capital is which city?", (_cap("Lunaria"),)),
    ("capital", "What is the capital of Osterwick?", (_cap("Osterwick"),)),
    ("capital", "I'm travelling to Estrevia. What is its capital?", (_cap("Estrevia"),)),
    ("capital", "In which city does the government of Kethmoor sit?", (_cap("Kethmoor"),)),
    ("capital", "Look up the capital of lunaria.", (_cap("Lunaria"),)),
    ("capital", "capital of norrhaven?", (_cap("Norrhaven"),)),
    ("capital", "Which city is Quenland's capital?", (_cap("Quenland"),)),
    ("capital", "What is the capital city of the country Brisalta?", (_cap("Brisalta"),)),
    ("capital", "Find the capital of Osterwick for me.", (_cap("Osterwick"),)),
    # --- population lookups -------------------------------------------------------------
    ("population", "What is the population of Valdoria?", (_pop("Valdoria"),)),
    ("population", "How many people live in Quenland?", (_pop("Quenland"),)),
    ("population", "What's the population of Lunaria?", (_pop("Lunaria"),)),
    ("population", "How many inhabitants does Kethmoor have?", (_pop("Kethmoor"),)),
    ("population", "Look up the population of Norrhaven.", (_pop("Norrhaven"),)),
    ("population", "What is Brisalta's population?", (_pop("Brisalta"),)),
    ("population", "How many people live in Osterwick?", (_pop("Osterwick"),)),
    ("population", "Population of Estrevia?", (_pop("Estrevia"),)),
    ("population", "Tell me how many people live in Valdoria.", (_pop("Valdoria"),)),
    ("population", "How many people does Lunaria have?", (_pop("Lunaria"),)),
    # --- no tool needed -----------------------------------------------------------------
    ("no_tool", "What is the capital of France?", ("Paris",)),
    ("no_tool", "How many days are in a week?", (7.0,)),
    ("no_tool", "What is the chemical symbol for gold?", ("Au",)),
    ("no_tool", "How many legs does a spider have?", (8.0,)),
    ("no_tool", "What is the opposite of hot?", ("cold",)),
    ("no_tool", "Who wrote Romeo and Juliet?", ("William Shakespeare", "Shakespeare")),
    ("no_tool", "What is the largest planet in our solar system?", ("Jupiter",)),
    ("no_tool", "How many continents are there?", (7.0,)),
    ("no_tool", "What color do you get by mixing blue and yellow?", ("green",)),
    ("no_tool", "What is the freezing point of water in Celsius?", (0.0,)),
    ("no_tool", "How many hours are in a day?", (24.0,)),
    ("no_tool", "What is the capital of Japan?", ("Tokyo",)),
    ("no_tool", "Which animal is known as the king of the jungle?", ("lion", "the lion")),
    ("no_tool", "How many sides does a triangle have?", (3.0,)),
    ("no_tool", "What language is mostly spoken in Brazil?", ("Portuguese",)),
    ("no_tool", "What is the boiling point of water in Celsius?", (100.0,)),
    ("no_tool", "How do you say hello in Spanish?", ("hola",)),
    ("no_tool", "What is the first letter of the English alphabet?", ("A",)),
    ("no_tool", "How many minutes are in an hour?", (60.0,)),
    ("no_tool", "What gas do plants absorb from the air?", ("carbon dioxide", "CO2")),
    # --- two steps: one result feeds the next call --------------------------------------
    (
        "two_step",
        "Convert 5 miles to kilometers, then multiply the result by 2.",
        (_conv(5, "mi", "km") * 2,),
    ),
    ("two_step", "What is 12 * 25 meters in feet?", (_conv(300, "m", "ft"),)),
    ("two_step", "Convert 100 km to miles and add 10.", (_conv(100, "km", "mi") + 10,)),
    (
        "two_step",
        "Convert 30 Celsius to Fahrenheit, then subtract 32.",
        (_conv(30, "c", "f") - 32,),
    ),
    ("two_step", "What is the population of Valdoria divided by 1000?", (_pop("Valdoria") / 1000,)),
    ("two_step", "What is twice the population of Norrhaven?", (_pop("Norrhaven") * 2,)),
    ("two_step", "Convert 10 kg to pounds, then divide by 2.", (_conv(10, "kg", "lb") / 2,)),
    (
        "two_step",
        "Add 15 to 27, then convert that many miles to kilometers.",
        (_conv(42, "mi", "km"),),
    ),
    ("two_step", "What is the population of Kethmoor plus 600?", (_pop("Kethmoor") + 600,)),
    (
        "two_step",
        "Convert 2 gallons to liters, then multiply by 3.",
        (_conv(2, "gal", "l") * 3,),
    ),
    ("two_step", "A runner covers 3 * 7 km. How many miles is that?", (_conv(21, "km", "mi"),)),
    ("two_step", "Convert 1000 ft to meters, then divide by 2.", (_conv(1000, "ft", "m") / 2,)),
    ("two_step", "What is the population of Lunaria minus 40000?", (_pop("Lunaria") - 40000,)),
    (
        "two_step",
        "Multiply 8 by 6, then convert that many pounds to kilograms.",
        (_conv(48, "lb", "kg"),),
    ),
    (
        "two_step",
        "Convert 50 miles to km, then subtract 0.4672.",
        (_conv(50, "mi", "km") - 0.4672,),
    ),
    ("two_step", "What is 3 times the population of Osterwick?", (_pop("Osterwick") * 3,)),
    ("two_step", "Convert 68 F to C, then multiply by 10.", (_conv(68, "f", "c") * 10,)),
    ("two_step", "What is half the population of Brisalta?", (_pop("Brisalta") / 2,)),
    ("two_step", "Convert 4 km to feet, then add 100.", (_conv(4, "km", "ft") + 100,)),
    ("two_step", "What is the population of Estrevia divided by 500?", (_pop("Estrevia") / 500,)),
    # --- two lookups --------------------------------------------------------------------
    (
        "multi_lookup",
        "What is the combined population of Valdoria and Quenland?",
        (_pop("Valdoria") + _pop("Quenland"),),
    ),
    (
        "multi_lookup",
        "How many more people live in Brisalta than in Lunaria?",
        (_pop("Brisalta") - _pop("Lunaria"),),
    ),
    (
        "multi_lookup",
        "What is the total population of Norrhaven and Kethmoor?",
        (_pop("Norrhaven") + _pop("Kethmoor"),),
    ),
    ("multi_lookup", "Which has more people, Estrevia or Osterwick?", ("Estrevia",)),
    (
        "multi_lookup",
        "Add the populations of Lunaria and Osterwick.",
        (_pop("Lunaria") + _pop("Osterwick"),),
    ),
    (
        "multi_lookup",
        "What is the population of Quenland minus the population of Valdoria?",
        (_pop("Quenland") - _pop("Valdoria"),),
    ),
    (
        "multi_lookup",
        "Which country has more people: Kethmoor or Norrhaven?",
        ("Norrhaven",),
    ),
    (
        "multi_lookup",
        "What are the capitals of Valdoria and Quenland? Answer as 'X and Y'.",
        (f"{_cap('Valdoria')} and {_cap('Quenland')}",),
    ),
    (
        "multi_lookup",
        "What is the sum of the populations of Brisalta and Estrevia?",
        (_pop("Brisalta") + _pop("Estrevia"),),
    ),
    (
        "multi_lookup",
        "Name the capitals of Kethmoor and Osterwick, as 'X and Y'.",
        (f"{_cap('Kethmoor')} and {_cap('Osterwick')}",),
    ),
]

_DEV: list[_Row] = [
    ("arithmetic", "What is 17*23? Use the calculator.", (_calc("17*23"),)),
    ("arithmetic", "What is 345 + 678?", (_calc("345+678"),)),
    ("arithmetic", "Compute 81 / 9.", (_calc("81/9"),)),
    ("arithmetic", "What is 13 * 13 - 69?", (_calc("13*13-69"),)),
    ("arithmetic", "What is 250 * 4?", (_calc("250*4"),)),
    ("conversion", "Convert 8 km to miles.", (_conv(8, "km", "mi"),)),
    ("conversion", "What is 50 F in C?", (_conv(50, "f", "c"),)),
    ("conversion", "How many pounds is 3 kg?", (_conv(3, "kg", "lb"),)),
    ("conversion", "Convert 0 F to C.", (_conv(0, "f", "c"),)),
    ("capital", "Which city is the capital of Lunaria?", (_cap("Lunaria"),)),
    ("capital", "What is the capital of Brisalta?", (_cap("Brisalta"),)),
    ("capital", "What is the capital of Norrhaven?", (_cap("Norrhaven"),)),
    ("population", "How many people live in Estrevia?", (_pop("Estrevia"),)),
    ("population", "What's the population of Osterwick?", (_pop("Osterwick"),)),
    ("no_tool", "What is the capital of Italy?", ("Rome",)),
    ("no_tool", "How many wheels does a bicycle have?", (2.0,)),
    ("no_tool", "What is the chemical symbol for oxygen?", ("O",)),
    ("no_tool", "How many months are in a year?", (12.0,)),
    ("two_step", "Convert 6 miles to km, then add 1.", (_conv(6, "mi", "km") + 1,)),
    ("two_step", "What is the population of Lunaria divided by 100?", (_pop("Lunaria") / 100,)),
    (
        "two_step",
        "Multiply 9 by 5, then convert that many kg to pounds.",
        (_conv(45, "kg", "lb"),),
    ),
    (
        "two_step",
        "What is the population of Brisalta minus 310000?",
        (_pop("Brisalta") - 310000,),
    ),
    (
        "multi_lookup",
        "What is the combined population of Kethmoor and Osterwick?",
        (_pop("Kethmoor") + _pop("Osterwick"),),
    ),
    ("multi_lookup", "Which has more people, Valdoria or Lunaria?", ("Valdoria",)),
]


# Written after the first held-out measurement, before the strategy was changed again:
# the changes made after seeing held-out failures are checked here.
_FRESH: list[_Row] = [
    ("arithmetic", "What is 73 * 19?", (_calc("73*19"),)),
    ("arithmetic", "Compute 4096 / 16.", (_calc("4096/16"),)),
    ("arithmetic", "What is 2500 - 1275?", (_calc("2500-1275"),)),
    ("arithmetic", "Calculate (8 + 12) * 15.", (_calc("(8+12)*15"),)),
    ("arithmetic", "How much is 125 times 8?", (_calc("125*8"),)),
    ("arithmetic", "What is 3 to the power of 5?", (_calc("3**5"),)),
    ("arithmetic", "What is the sum of 250, 375 and 125?", (_calc("250+375+125"),)),
    (
        "arithmetic",
        "A crate holds 36 bottles. How many bottles are in 12 crates?",
        (_calc("36*12"),),
    ),
    ("conversion", "Convert 15 km to miles.", (_conv(15, "km", "mi"),)),
    ("conversion", "How many feet are in 50 meters?", (_conv(50, "m", "ft"),)),
    ("conversion", "Convert 8 miles to kilometers.", (_conv(8, "mi", "km"),)),
    ("conversion", "What is 50 degrees Fahrenheit in Celsius?", (_conv(50, "f", "c"),)),
    ("conversion", "How many pounds is 25 kg?", (_conv(25, "kg", "lb"),)),
    ("conversion", "Convert 5 gallons to liters.", (_conv(5, "gal", "l"),)),
    ("conversion", "What is 30 Celsius in Kelvin?", (_conv(30, "c", "k"),)),
    ("capital", "What is the capital of Norrhaven?", (_cap("Norrhaven"),)),
    ("capital", "Which city is the capital of Osterwick?", (_cap("Osterwick"),)),
    ("capital", "Name the capital of Valdoria.", (_cap("Valdoria"),)),
    ("capital", "What's the capital city of Lunaria?", (_cap("Lunaria"),)),
    ("capital", "Look up Kethmoor's capital.", (_cap("Kethmoor"),)),
    ("population", "How many people live in Brisalta?", (_pop("Brisalta"),)),
    ("population", "What is the population of Osterwick?", (_pop("Osterwick"),)),
    ("population", "Tell me the population of Quenland.", (_pop("Quenland"),)),
    ("no_tool", "How many legs does a dog have?", (4.0,)),
    ("no_tool", "What is the capital of Germany?", ("Berlin",)),
    ("no_tool", "What color is grass?", ("green",)),
    ("no_tool", "How many seconds are in a minute?", (60.0,)),
    ("no_tool", "What is the chemical symbol for silver?", ("Ag",)),
    ("no_tool", "Which planet do we live on?", ("Earth",)),
    ("no_tool", "How many days are in a leap year?", (366.0,)),
    (
        "two_step",
        "Convert 3 miles to kilometers, then multiply by 4.",
        (_conv(3, "mi", "km") * 4,),
    ),
    ("two_step", "Convert 20 kg to pounds, then subtract 4.", (_conv(20, "kg", "lb") - 4,)),
    (
        "two_step",
        "Multiply 7 by 6, then convert that many kilometers to miles.",
        (_conv(42, "km", "mi"),),
    ),
    (
        "two_step",
        "What is the population of Osterwick divided by 100?",
        (_pop("Osterwick") / 100,),
    ),
    (
        "two_step",
        "Convert 10 gallons to liters, then divide by 2.",
        (_conv(10, "gal", "l") / 2,),
    ),
    ("two_step", "What is twice the population of Kethmoor?", (_pop("Kethmoor") * 2,)),
    (
        "two_step",
        "Add 30 to 70, then convert that many feet to meters.",
        (_conv(100, "ft", "m"),),
    ),
    (
        "multi_lookup",
        "What is the combined population of Lunaria and Norrhaven?",
        (_pop("Lunaria") + _pop("Norrhaven"),),
    ),
    ("multi_lookup", "Which has more people, Quenland or Brisalta?", ("Brisalta",)),
    (
        "multi_lookup",
        "What are the capitals of Lunaria and Kethmoor? Answer as 'X and Y'.",
        (f"{_cap('Lunaria')} and {_cap('Kethmoor')}",),
    ),
]


# A second held-out split, written before any tuning after the first held-out runs: the
# same seven categories in about the same proportions, new numbers, new phrasings.
# Only for measuring, like _HELD_OUT.
_HELD_OUT_2: list[_Row] = [
    # --- arithmetic ---------------------------------------------------------------------
    ("arithmetic", "What is 67 * 89?", (_calc("67*89"),)),
    ("arithmetic", "Compute 12,345 + 6,789.", (_calc("12345+6789"),)),
    ("arithmetic", "what's 8765 minus 4321", (_calc("8765-4321"),)),
    ("arithmetic", "Divide 1,728 by 12.", (_calc("1728/12"),)),
    ("arithmetic", "What is (48 - 13) * 7?", (_calc("(48-13)*7"),)),
    ("arithmetic", "Raise 5 to the 4th power.", (_calc("5**4"),)),
    ("arithmetic", "What is 9 cubed?", (_calc("9**3"),)),
    ("arithmetic", "Multiply seventeen by forty-three.", (_calc("17*43"),)),
    ("arithmetic", "What is 20% of 385?", (_calc("385*20/100"),)),
    ("arithmetic", "What is the remainder when 100 is divided by 7?", (_calc("100%7"),)),
    ("arithmetic", "Add up 314, 159 and 265.", (_calc("314+159+265"),)),
    ("arithmetic", "Take 275 away from 2,000.", (_calc("2000-275"),)),
    ("arithmetic", "Calculate 7.25 * 16", (_calc("7.25*16"),)),
    ("arithmetic", "What is 1,000,000 divided by 250?", (_calc("1000000/250"),)),
    ("arithmetic", "Compute 3 * (14 + 28) - 6.", (_calc("3*(14+28)-6"),)),
    ("arithmetic", "What is -45 + 120?", (_calc("-45+120"),)),
    ("arithmetic", "What's 0.15 times 880?", (_calc("0.15*880"),)),
    ("arithmetic", "What is 2^10 + 2^8?", (_calc("2^10+2^8"),)),
    ("arithmetic", "What is the square root of 729?", (_calc("729**0.5"),)),
    ("arithmetic", "Work out 6543 / 3 with the calculator.", (_calc("6543/3"),)),
    (
        "arithmetic",
        "A shelf holds 48 books. How many books fit on 23 shelves?",
        (_calc("48*23"),),
    ),
    (
        "arithmetic",
        "Each bus seats 52 passengers. How many passengers can 15 buses carry?",
        (_calc("52*15"),),
    ),
    (
        "arithmetic",
        "I earn $1,250 a week. How much is that over 52 weeks, in dollars?",
        (_calc("1250*52"),),
    ),
    (
        "arithmetic",
        "A pizza is cut into 8 slices. How many slices are there in 37 pizzas?",
        (_calc("8*37"),),
    ),
    ("arithmetic", "What is 22 divided by 7?", (_calc("22/7"),)),
    ("arithmetic", "Find the average of 84, 91 and 77.", (_calc("(84+91+77)/3"),)),
    # --- unit conversion ----------------------------------------------------------------
    ("conversion", "Convert 26.2 miles to kilometres.", (_conv(26.2, "mi", "km"),)),
    ("conversion", "How many feet is 250 metres?", (_conv(250, "m", "ft"),)),
    ("conversion", "What is 180 lbs in kg?", (_conv(180, "lb", "kg"),)),
    ("conversion", "Convert 37 °C to °F.", (_conv(37, "c", "f"),)),
    ("conversion", "How many kilometers are in 60 miles?", (_conv(60, "mi", "km"),)),
    ("conversion", "What is 451 degrees Fahrenheit in Celsius?", (_conv(451, "f", "c"),)),
    ("conversion", "Convert 5,280 feet to miles.", (_conv(5280, "ft", "mi"),)),
    ("conversion", "How many litres is 15 gallons?", (_conv(15, "gal", "l"),)),
    ("conversion", "Convert 4 litres to US gallons.", (_conv(4, "l", "gal"),)),
    ("conversion", "What is 100 kelvin in Celsius?", (_conv(100, "k", "c"),)),
    ("conversion", "Convert -10 C to F.", (_conv(-10, "c", "f"),)),
    ("conversion", "How heavy is 5 kg in pounds?", (_conv(5, "kg", "lb"),)),
    ("conversion", "Convert 2.5 km to m.", (_conv(2.5, "km", "m"),)),
    ("conversion", "How many meters are in one mile?", (_conv(1, "mi", "m"),)),
    ("conversion", "Convert 1,200 kilograms to pounds.", (_conv(1200, "kg", "lb"),)),
    ("conversion", "What's 98.6 F in Celsius?", (_conv(98.6, "f", "c"),)),
    ("conversion", "How many miles is 5 km?", (_conv(5, "km", "mi"),)),
    ("conversion", "Convert 72 degrees Fahrenheit to Kelvin.", (_conv(72, "f", "k"),)),
    ("conversion", "How many gallons are in 100 liters?", (_conv(100, "l", "gal"),)),
    (
        "conversion",
        "I weigh 165 pounds. What is that in kilograms?",
        (_conv(165, "lb", "kg"),),
    ),
    ("conversion", "Convert 8,848 metres to feet.", (_conv(8848, "m", "ft"),)),
    # --- capital lookups ----------------------------------------------------------------
    ("capital", "Capital of Valdoria, please.", (_cap("Valdoria"),)),
    ("capital", "What city is the seat of government of Quenland?", (_cap("Quenland"),)),
    ("capital", "What city serves as Estrevia's capital?", (_cap("Estrevia"),)),
    ("capital", "Do you know the capital of Norrhaven?", (_cap("Norrhaven"),)),
    ("capital", "BRISALTA capital?", (_cap("Brisalta"),)),
    ("capital", "Give me the name of Kethmoor's capital city.", (_cap("Kethmoor"),)),
    ("capital", "In Lunaria, which city is the capital?", (_cap("Lunaria"),)),
    (
        "capital",
        "My friend lives in the capital of Osterwick. Which city is that?",
        (_cap("Osterwick"),),
    ),
    ("capital", "Quick question: what's the capital of valdoria?", (_cap("Valdoria"),)),
    (
        "capital",
        "I'm writing a report on Quenland. What is its capital city?",
        (_cap("Quenland"),),
    ),
    ("capital", "Name Estrevia's capital.", (_cap("Estrevia"),)),
    ("capital", "What's the capital of norrhaven called?", (_cap("Norrhaven"),)),
    ("capital", "Please look up which city is Brisalta's capital.", (_cap("Brisalta"),)),
    ("capital", "Identify the capital of Kethmoor.", (_cap("Kethmoor"),)),
    (
        "capital",
        "What city is the capital of Lunaria? Just the name, please.",
        (_cap("Lunaria"),),
    ),
    # --- population lookups -------------------------------------------------------------
    ("population", "What's Norrhaven's population?", (_pop("Norrhaven"),)),
    ("population", "How many residents does Estrevia have?", (_pop("Estrevia"),)),
    ("population", "Give me the population of Kethmoor.", (_pop("Kethmoor"),)),
    ("population", "Population of Brisalta, please.", (_pop("Brisalta"),)),
    (
        "population",
        "How populous is Quenland? Give the number of people.",
        (_pop("Quenland"),),
    ),
    ("population", "What is the number of inhabitants of Osterwick?", (_pop("Osterwick"),)),
    ("population", "How big is Lunaria's population?", (_pop("Lunaria"),)),
    ("population", "How many people call Valdoria home?", (_pop("Valdoria"),)),
    ("population", "Look up how many people live in estrevia.", (_pop("Estrevia"),)),
    ("population", "I need the population figure for Quenland.", (_pop("Quenland"),)),
    ("population", "Find out how many people live in Kethmoor.", (_pop("Kethmoor"),)),
    ("population", "Tell me Brisalta's population.", (_pop("Brisalta"),)),
    # --- no tool needed -----------------------------------------------------------------
    ("no_tool", "How many planets are in our solar system?", (8.0,)),
    ("no_tool", "What is the capital of Canada?", ("Ottawa",)),
    ("no_tool", "How many sides does a hexagon have?", (6.0,)),
    ("no_tool", "What is the chemical symbol for iron?", ("Fe",)),
    (
        "no_tool",
        "Who painted the Mona Lisa?",
        ("Leonardo da Vinci", "da Vinci", "Leonardo"),
    ),
    ("no_tool", "What is the tallest animal in the world?", ("giraffe", "the giraffe")),
    ("no_tool", "How many strings does a standard guitar have?", (6.0,)),
    (
        "no_tool",
        "What is the largest ocean on Earth?",
        ("Pacific", "Pacific Ocean", "the Pacific", "the Pacific Ocean"),
    ),
    ("no_tool", "On which continent is Egypt?", ("Africa",)),
    ("no_tool", "What is the plural of mouse?", ("mice",)),
    ("no_tool", "What is the opposite of up?", ("down",)),
    ("no_tool", "How many players does a soccer team have on the field?", (11.0,)),
    ("no_tool", "What do bees make?", ("honey",)),
    ("no_tool", "What is the capital of Spain?", ("Madrid",)),
    ("no_tool", "How many zeros are in one million?", (6.0,)),
    ("no_tool", "What is frozen water called?", ("ice",)),
    ("no_tool", "Which month comes after March?", ("April",)),
    ("no_tool", "how many weeks are in a year", (52.0,)),
    ("no_tool", "What language is mainly spoken in Mexico?", ("Spanish",)),
    (
        "no_tool",
        "What shape has four equal sides and four right angles?",
        ("square", "a square"),
    ),
    # --- two steps: one result feeds the next call --------------------------------------
    (
        "two_step",
        "Convert 12 miles to kilometres, then divide by 3.",
        (_conv(12, "mi", "km") / 3,),
    ),
    ("two_step", "What is 15 * 40 feet in meters?", (_conv(600, "ft", "m"),)),
    ("two_step", "Convert 90 kg to pounds and subtract 20.", (_conv(90, "kg", "lb") - 20,)),
    (
        "two_step",
        "Convert 40 °C to Fahrenheit, then add 10.",
        (_conv(40, "c", "f") + 10,),
    ),
    ("two_step", "What is the population of Quenland divided by 50?", (_pop("Quenland") / 50,)),
    (
        "two_step",
        "Triple the population of Estrevia. What do you get?",
        (_pop("Estrevia") * 3,),
    ),
    (
        "two_step",
        "Sum 18 and 24, then convert the result from kilograms to pounds.",
        (_conv(42, "kg", "lb"),),
    ),
    ("two_step", "What is Norrhaven's population plus 8,000?", (_pop("Norrhaven") + 8000,)),
    (
        "two_step",
        "If Kethmoor's population doubled, how many people would live there?",
        (_pop("Kethmoor") * 2,),
    ),
    (
        "two_step",
        "What is the population of Brisalta in thousands?",
        (_pop("Brisalta") / 1000,),
    ),
    (
        "two_step",
        "Convert 6 gallons to liters, then multiply by 5.",
        (_conv(6, "gal", "l") * 5,),
    ),
    (
        "two_step",
        "A cyclist rides 4 * 12 miles. How many kilometers is that?",
        (_conv(48, "mi", "km"),),
    ),
    (
        "two_step",
        "Convert 500 meters to feet, then divide by 10.",
        (_conv(500, "m", "ft") / 10,),
    ),
    (
        "two_step",
        "What is the population of Valdoria minus 12,000?",
        (_pop("Valdoria") - 12000,),
    ),
    (
        "two_step",
        "Divide 900 by 4, then convert that many pounds to kilograms.",
        (_conv(225, "lb", "kg"),),
    ),
    (
        "two_step",
        "Convert 77 F to C and multiply the result by 4.",
        (_conv(77, "f", "c") * 4,),
    ),
    ("two_step", "What is a quarter of Lunaria's population?", (_pop("Lunaria") / 4,)),
    (
        "two_step",
        "Convert 3 km to feet, then subtract 1000.",
        (_conv(3, "km", "ft") - 1000,),
    ),
    (
        "two_step",
        "Multiply Osterwick's population by 10.",
        (_pop("Osterwick") * 10,),
    ),
    (
        "two_step",
        "Convert 20 litres to gallons, then add 2.",
        (_conv(20, "l", "gal") + 2,),
    ),
    (
        "two_step",
        "If Estrevia's population grew by 10%, how many people would live there?",
        (_calc(f"{POPULATIONS['Estrevia']}*1.1"),),
    ),
    # --- two or three lookups -----------------------------------------------------------
    (
        "multi_lookup",
        "What is the total population of Estrevia and Lunaria?",
        (_pop("Estrevia") + _pop("Lunaria"),),
    ),
    (
        "multi_lookup",
        "How many more people live in Valdoria than in Osterwick?",
        (_pop("Valdoria") - _pop("Osterwick"),),
    ),
    (
        "multi_lookup",
        "Which is more populous, Norrhaven or Osterwick?",
        (_most("Norrhaven", "Osterwick"),),
    ),
    (
        "multi_lookup",
        "Combined, how many people live in Brisalta and Quenland?",
        (_pop("Brisalta") + _pop("Quenland"),),
    ),
    (
        "multi_lookup",
        "What is Lunaria's population minus Estrevia's?",
        (_pop("Lunaria") - _pop("Estrevia"),),
    ),
    (
        "multi_lookup",
        "Which has fewer people: Quenland or Valdoria?",
        (_fewest("Quenland", "Valdoria"),),
    ),
    (
        "multi_lookup",
        "Give the capitals of Estrevia and Brisalta, formatted as 'X and Y'.",
        (f"{_cap('Estrevia')} and {_cap('Brisalta')}",),
    ),
    (
        "multi_lookup",
        "What are the capital cities of Norrhaven and Lunaria? Reply as 'X and Y'.",
        (f"{_cap('Norrhaven')} and {_cap('Lunaria')}",),
    ),
    (
        "multi_lookup",
        "Add up the populations of Kethmoor, Norrhaven and Osterwick.",
        (_pop("Kethmoor") + _pop("Norrhaven") + _pop("Osterwick"),),
    ),
    (
        "multi_lookup",
        "Of Valdoria, Estrevia and Lunaria, which has the most people?",
        (_most("Valdoria", "Estrevia", "Lunaria"),),
    ),
    (
        "multi_lookup",
        "How many times more people live in Brisalta than in Kethmoor?",
        (_pop("Brisalta") / _pop("Kethmoor"),),
    ),
    (
        "multi_lookup",
        "What is the capital of whichever has more people, Quenland or Lunaria?",
        (_cap(_most("Quenland", "Lunaria")),),
    ),
]


def _dates(iso: str) -> tuple[str, ...]:
    """An ISO date and the same date written out, as the answers that count."""
    d = date.fromisoformat(iso)
    return (iso, f"{d:%B} {d.day}, {d.year}", f"{d.day} {d:%B} {d.year}")


def _order(order_id: str, field: str) -> object:
    """One field of the JSON object order_details returns."""
    order: dict[str, object] = json.loads(order_details(order_id))
    return order[field]


def _forecast(city: str, days: int = 3) -> list[dict[str, object]]:
    """The JSON list weather_forecast returns, parsed."""
    rows: list[dict[str, object]] = json.loads(weather_forecast(city, days))
    return rows


def _num(value: object) -> float:
    return float(value)  # type: ignore[arg-type]


# Tasks for the tools of bench/eval_shapes.py (shapes the strategy was not tuned on),
# written before any tuning on them. Their agents get those tools and the calculator.
_SHAPES: list[_ShapeRow] = [
    # --- inventory_count: an enum argument ---------------------------------------------
    (
        "tool_shapes",
        "How many hinges are in stock?",
        (float(inventory_count("hinges")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "Check the stock level for springs.",
        (float(inventory_count("springs")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "How many washers does the warehouse have?",
        (float(inventory_count("washers")),),
        "enum argument",
    ),
    ("tool_shapes", "gaskets in stock?", (float(inventory_count("gaskets")),), "enum argument"),
    (
        "tool_shapes",
        "Do we have more bolts or nuts in the warehouse? Answer with the item name.",
        ("bolts" if inventory_count("bolts") > inventory_count("nuts") else "nuts",),
        "enum argument",
    ),
    (
        "tool_shapes",
        "How many brackets and hinges are in stock altogether?",
        (float(inventory_count("brackets") + inventory_count("hinges")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "We need 60 springs for an order. How many more springs than we have in stock is that?",
        (float(60 - inventory_count("springs")),),
        "enum argument",
    ),
    # --- price: two required arguments of different types ------------------------------
    ("tool_shapes", "How much do 3 staplers cost?", (price("stapler", 3),), "two typed arguments"),
    (
        "tool_shapes",
        "What is the price of 12 pens, in dollars?",
        (price("pen", 12),),
        "two typed arguments",
    ),
    ("tool_shapes", "Price for one backpack?", (price("backpack", 1),), "two typed arguments"),
    (
        "tool_shapes",
        "What would 20 folders cost me?",
        (price("folder", 20),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "Get the total price of 7 markers.",
        (price("marker", 7),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "How much are 10 notebooks at the shop, in dollars?",
        (price("notebook", 10),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "What do 2 backpacks and 4 notebooks cost together, in dollars?",
        (_calc(f"{price('backpack', 2)}+{price('notebook', 4)}"),),
        "two typed arguments",
    ),
    # --- add_days: a date and an integer, an ISO date back ------------------------------
    (
        "tool_shapes",
        "What date is 45 days after 2024-03-10?",
        _dates(add_days("2024-03-10", 45)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "What was the date 30 days before 2025-01-15? Answer as YYYY-MM-DD.",
        _dates(add_days("2025-01-15", -30)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "Add 100 days to 1 June 2024. Give the date as YYYY-MM-DD.",
        _dates(add_days("2024-06-01", 100)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "An invoice dated 2024-11-20 is due in 60 days. On what date is it due?",
        _dates(add_days("2024-11-20", 60)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "Which date is two weeks after 2024-02-20?",
        _dates(add_days("2024-02-20", 14)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "If today is 2023-12-25, what is the date 365 days from now?",
        _dates(add_days("2023-12-25", 365)),
        "date and integer",
    ),
    # --- days_between: two dates, an integer back ----------------------------------------
    (
        "tool_shapes",
        "How many days are there between 2024-01-01 and 2024-12-25?",
        (float(days_between("2024-01-01", "2024-12-25")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many days from March 3, 2025 to July 4, 2025?",
        (float(days_between("2025-03-03", "2025-07-04")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "Count the days between 2024-02-01 and 2024-03-01.",
        (float(days_between("2024-02-01", "2024-03-01")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "A project ran from 2023-09-18 to 2024-04-02. How many days did it last?",
        (float(days_between("2023-09-18", "2024-04-02")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many days passed between 1999-12-31 and 2000-03-01?",
        (float(days_between("1999-12-31", "2000-03-01")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many weeks are there from 2024-05-06 to 2024-08-26?",
        (days_between("2024-05-06", "2024-08-26") / 7,),
        "two dates",
    ),
    # --- count_text: free text and an enum -----------------------------------------------
    (
        "tool_shapes",
        "How many letters are in 'Port Halloway'?",
        (float(count_text("Port Halloway", "letters")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "How many words are in the sentence 'the quick brown fox jumps over the lazy dog'?",
        (float(count_text("the quick brown fox jumps over the lazy dog", "words")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "Count the vowels in 'encyclopedia'.",
        (float(count_text("encyclopedia", "vowels")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        'How many letters does the word "Mississippi" have?',
        (float(count_text("Mississippi", "letters")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "Word count of: 'Ship the order before noon on Friday, please.'",
        (float(count_text("Ship the order before noon on Friday, please.", "words")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "How many vowels are there in 'Selenport and Skarholm'?",
        (float(count_text("Selenport and Skarholm", "vowels")),),
        "text and enum",
    ),
    # --- reverse_text: free text, text back ----------------------------------------------
    ("tool_shapes", "Reverse the word 'lantern'.", (reverse_text("lantern"),), "free text"),
    ("tool_shapes", "Spell Merrowgate backwards.", (reverse_text("Merrowgate"),), "free text"),
    (
        "tool_shapes",
        "What is 'stressed' written backwards?",
        (reverse_text("stressed"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Reverse this text: 'tether 42'",
        (reverse_text("tether 42"),),
        "free text",
    ),
    # --- order_details: a JSON object back -----------------------------------------------
    (
        "tool_shapes",
        "What is the status of order A-1042?",
        (str(_order("A-1042", "status")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "Which carrier is delivering order B-2007?",
        (str(_order("B-2007", "carrier")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "How many items are in order A-1043?",
        (_num(_order("A-1043", "items")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What is the total of order B-2001, in dollars?",
        (_num(_order("B-2001", "total")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "When is order #A-1042 expected to arrive? Answer as YYYY-MM-DD.",
        _dates(str(_order("A-1042", "eta"))),
        "JSON object",
    ),
    (
        "tool_shapes",
        "Has order C-3150 shipped? Give its status.",
        (str(_order("C-3150", "status")),),
        "JSON object",
    ),
    # --- weather_forecast: an optional argument, a JSON list back -----------------------
    (
        "tool_shapes",
        "What is tomorrow's forecast high in Skarholm, in °C?",
        (_num(_forecast("Skarholm", 1)[0]["high_c"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What conditions are forecast for Selenport on day 3?",
        (str(_forecast("Selenport", 3)[2]["conditions"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What is the lowest low temperature in Fenbridge over the next 5 days, in Celsius?",
        (float(min(_num(d["low_c"]) for d in _forecast("Fenbridge", 5))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What will the high be in Merrowgate on day 5 of the forecast, in Celsius?",
        (_num(_forecast("Merrowgate", 5)[4]["high_c"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "On how many of the next 4 days is snow forecast in Skarholm?",
        (float(sum(d["conditions"] == "snow" for d in _forecast("Skarholm", 4))),),
        "optional argument",
    ),
    # --- two of the new tools, or one and the calculator --------------------------------
    (
        "tool_shapes",
        "How many days are there from 2024-06-01 until order A-1042's expected delivery date?",
        (float(days_between("2024-06-01", str(_order("A-1042", "eta")))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "What is the price of as many markers as there are springs in stock?",
        (price("marker", inventory_count("springs")),),
        "two steps",
    ),
    (
        "tool_shapes",
        "How many letters are in the name of the carrier for order B-2001?",
        (float(count_text(str(_order("B-2001", "carrier")), "letters")),),
        "two steps",
    ),
    (
        "tool_shapes",
        "What is the difference between the high and the low in Selenport tomorrow, in °C?",
        (
            _num(_forecast("Selenport", 1)[0]["high_c"])
            - _num(_forecast("Selenport", 1)[0]["low_c"]),
        ),
        "two steps",
    ),
    (
        "tool_shapes",
        "What date is 20 days after order B-2001's delivery date? Answer as YYYY-MM-DD.",
        _dates(add_days(str(_order("B-2001", "eta")), 20)),
        "two steps",
    ),
]


# Written after the tuning of issue 13, by someone who had not seen the strategy's
# failures on it, and committed before it was first run: four tasks in each of the seven
# categories and 20 tool-shape tasks. Only for measuring, like _HELD_OUT.
_FRESH_2: list[_Row | _ShapeRow] = [
    # --- arithmetic ---------------------------------------------------------------------
    ("arithmetic", "what is 38 times 27", (_calc("38*27"),)),
    ("arithmetic", "Divide 15,625 by 25.", (_calc("15625/25"),)),
    ("arithmetic", "Work out (56 + 19) * 4 - 17.", (_calc("(56+19)*4-17"),)),
    (
        "arithmetic",
        "A carton holds 144 pencils. How many pencils are in 35 cartons?",
        (_calc("144*35"),),
    ),
    # --- unit conversion ----------------------------------------------------------------
    ("conversion", "Convert 18 kilometres to miles.", (_conv(18, "km", "mi"),)),
    ("conversion", "how many pounds is 2,500 kg", (_conv(2500, "kg", "lb"),)),
    ("conversion", "What is 59 °F in °C?", (_conv(59, "f", "c"),)),
    ("conversion", "Express 7.5 gallons in litres.", (_conv(7.5, "gal", "l"),)),
    # --- capital lookups ----------------------------------------------------------------
    ("capital", "what's the capital of quenland", (_cap("Quenland"),)),
    ("capital", "Tell me which city is Osterwick's capital.", (_cap("Osterwick"),)),
    ("capital", "Find the capital of Estrevia.", (_cap("Estrevia"),)),
    ("capital", "The capital of Kethmoor is called what?", (_cap("Kethmoor"),)),
    # --- population lookups -------------------------------------------------------------
    ("population", "how many people live in norrhaven", (_pop("Norrhaven"),)),
    ("population", "Give the population of Lunaria.", (_pop("Lunaria"),)),
    ("population", "Report Valdoria's population as a number.", (_pop("Valdoria"),)),
    ("population", "What population does Brisalta have?", (_pop("Brisalta"),)),
    # --- no tool needed -----------------------------------------------------------------
    ("no_tool", "How many days are in April?", (30.0,)),
    ("no_tool", "What is the chemical symbol for sodium?", ("Na",)),
    ("no_tool", "what is the capital of australia", ("Canberra",)),
    ("no_tool", "What is the opposite of north?", ("south",)),
    # --- two steps: one result feeds the next call --------------------------------------
    (
        "two_step",
        "Convert 14 miles to km, then multiply by 3.",
        (_conv(14, "mi", "km") * 3,),
    ),
    (
        "two_step",
        "what is the population of quenland divided by 250",
        (_pop("Quenland") / 250,),
    ),
    (
        "two_step",
        "Multiply 12 by 9, then convert that many feet to metres.",
        (_conv(108, "ft", "m"),),
    ),
    (
        "two_step",
        "Convert 25 °C to °F and subtract 7 from the result.",
        (_conv(25, "c", "f") - 7,),
    ),
    # --- two or more lookups ------------------------------------------------------------
    (
        "multi_lookup",
        "Add together the populations of Osterwick and Estrevia.",
        (_pop("Osterwick") + _pop("Estrevia"),),
    ),
    (
        "multi_lookup",
        "Which of Kethmoor and Lunaria has fewer people?",
        (_fewest("Kethmoor", "Lunaria"),),
    ),
    (
        "multi_lookup",
        "How many more people live in Quenland than in Norrhaven?",
        (_pop("Quenland") - _pop("Norrhaven"),),
    ),
    (
        "multi_lookup",
        "What is the capital of the less populous of Valdoria and Brisalta?",
        (_cap(_fewest("Valdoria", "Brisalta")),),
    ),
    # --- tool shapes (the tools of bench/eval_shapes.py) --------------------------------
    (
        "tool_shapes",
        "How many nuts does the warehouse have in stock?",
        (float(inventory_count("nuts")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "what's the stock of brackets",
        (float(inventory_count("brackets")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "What do 5 folders cost, in dollars?",
        (price("folder", 5),),
        "two typed arguments",
    ),
    ("tool_shapes", "Price 12 staplers for me.", (price("stapler", 12),), "two typed arguments"),
    (
        "tool_shapes",
        "What date is 90 days after 2024-01-15? Answer as YYYY-MM-DD.",
        _dates(add_days("2024-01-15", 90)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "Go back 21 days from 2025-03-05. Which date is it?",
        _dates(add_days("2025-03-05", -21)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "How many days lie between 2024-04-10 and 2024-09-01?",
        (float(days_between("2024-04-10", "2024-09-01")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "count the days from 15 August 2023 to 2 January 2024",
        (float(days_between("2023-08-15", "2024-01-02")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many vowels does 'Calvenna' contain?",
        (float(count_text("Calvenna", "vowels")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "How many words are in 'please send the invoice to the billing team today'?",
        (float(count_text("please send the invoice to the billing team today", "words")),),
        "text and enum",
    ),
    ("tool_shapes", "Write 'Fenbridge' backwards.", (reverse_text("Fenbridge"),), "free text"),
    ("tool_shapes", "reverse the string 'drawer 7'", (reverse_text("drawer 7"),), "free text"),
    (
        "tool_shapes",
        "How many items does order B-2007 contain?",
        (_num(_order("B-2007", "items")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "Who is the carrier for order #A-1042?",
        (str(_order("A-1042", "carrier")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What is the forecast low in Fenbridge tomorrow, in Celsius?",
        (_num(_forecast("Fenbridge", 1)[0]["low_c"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What is the highest forecast high in Merrowgate over the next 3 days, in °C?",
        (float(max(_num(d["high_c"]) for d in _forecast("Merrowgate"))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "How many days after 2024-06-01 is order B-2007 expected to arrive?",
        (float(days_between("2024-06-01", str(_order("B-2007", "eta")))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "What is the average forecast high in Selenport over the next 3 days, in °C?",
        (_calc("({}+{}+{})/3".format(*(d["high_c"] for d in _forecast("Selenport")))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "What is the total price of 4 backpacks and 30 pens, in dollars?",
        (_calc(f"{price('backpack', 4)}+{price('pen', 30)}"),),
        "two steps",
    ),
    (
        "tool_shapes",
        "Reverse the name of the carrier of order B-2001.",
        (reverse_text(str(_order("B-2001", "carrier"))),),
        "two steps",
    ),
]


# Written at the start of a later tuning round, before any tuning in it, by someone who
# had not seen the strategy's failures, and committed before it was first run: the seven
# categories in the proportions of _HELD_OUT_2 and five tool-shape tasks for each shape.
# Only for measuring, like _HELD_OUT.
_FRESH_3: list[_Row | _ShapeRow] = [
    # --- arithmetic ---------------------------------------------------------------------
    ("arithmetic", "What is 73 * 46?", (_calc("73*46"),)),
    ("arithmetic", "compute 9,876 - 5,432", (_calc("9876-5432"),)),
    ("arithmetic", "Add 2,048 and 3,952.", (_calc("2048+3952"),)),
    ("arithmetic", "What's 144 divided by 16?", (_calc("144/16"),)),
    ("arithmetic", "Calculate (120 - 45) / 5.", (_calc("(120-45)/5"),)),
    ("arithmetic", "What is 6 to the power of 5?", (_calc("6**5"),)),
    ("arithmetic", "What is 11 cubed?", (_calc("11**3"),)),
    ("arithmetic", "Multiply twenty-six by thirty-one.", (_calc("26*31"),)),
    ("arithmetic", "What is 35% of 460?", (_calc("460*35/100"),)),
    ("arithmetic", "what's the remainder when 250 is divided by 9", (_calc("250%9"),)),
    ("arithmetic", "Sum up 417, 283 and 1,150.", (_calc("417+283+1150"),)),
    ("arithmetic", "Subtract 648 from 3,000.", (_calc("3000-648"),)),
    ("arithmetic", "calculate 12.5 * 7.2", (_calc("12.5*7.2"),)),
    ("arithmetic", "How much is 2,500,000 divided by 400?", (_calc("2500000/400"),)),
    ("arithmetic", "Work out 5 * (33 - 18) + 12.", (_calc("5*(33-18)+12"),)),
    ("arithmetic", "What is 85 - 140?", (_calc("85-140"),)),
    ("arithmetic", "What's 0.08 times 1,250?", (_calc("0.08*1250"),)),
    ("arithmetic", "What is 3^7 - 2^9?", (_calc("3^7-2^9"),)),
    ("arithmetic", "What is the square root of 1,296?", (_calc("1296**0.5"),)),
    ("arithmetic", "Use the calculator: 7,777 / 11", (_calc("7777/11"),)),
    (
        "arithmetic",
        "A van carries 64 parcels per trip. How many parcels does it carry in 18 trips?",
        (_calc("64*18"),),
    ),
    (
        "arithmetic",
        "A theatre has 42 rows of 28 seats. How many seats is that in total?",
        (_calc("42*28"),),
    ),
    (
        "arithmetic",
        "Rent is $950 a month. How much is that for 12 months, in dollars?",
        (_calc("950*12"),),
    ),
    ("arithmetic", "A pack has 6 cans. How many cans are in 125 packs?", (_calc("6*125"),)),
    ("arithmetic", "What is 17 divided by 4?", (_calc("17/4"),)),
    ("arithmetic", "What's the average of 62, 75, 88 and 91?", (_calc("(62+75+88+91)/4"),)),
    # --- unit conversion ----------------------------------------------------------------
    ("conversion", "Convert 21.1 km to miles.", (_conv(21.1, "km", "mi"),)),
    ("conversion", "How many feet are in 1,000 metres?", (_conv(1000, "m", "ft"),)),
    ("conversion", "what is 220 lbs in kilograms", (_conv(220, "lb", "kg"),)),
    ("conversion", "Convert 39 °C to Fahrenheit.", (_conv(39, "c", "f"),)),
    ("conversion", "How many km is 250 miles?", (_conv(250, "mi", "km"),)),
    ("conversion", "What is 350 °F in °C?", (_conv(350, "f", "c"),)),
    ("conversion", "Convert 10,560 feet to miles.", (_conv(10560, "ft", "mi"),)),
    ("conversion", "How many litres are in 2.5 gallons?", (_conv(2.5, "gal", "l"),)),
    ("conversion", "Convert 50 liters to gallons.", (_conv(50, "l", "gal"),)),
    ("conversion", "What is 273.15 K in Celsius?", (_conv(273.15, "k", "c"),)),
    ("conversion", "Convert -5 °F to °C.", (_conv(-5, "f", "c"),)),
    ("conversion", "how heavy is 8 kilos in pounds", (_conv(8, "kg", "lb"),)),
    ("conversion", "Convert 0.75 km to metres.", (_conv(0.75, "km", "m"),)),
    ("conversion", "How many metres is 3 miles?", (_conv(3, "mi", "m"),)),
    ("conversion", "Express 95 kg in lbs.", (_conv(95, "kg", "lb"),)),
    ("conversion", "What's 104 F in Celsius?", (_conv(104, "f", "c"),)),
    ("conversion", "How many miles is 42 km?", (_conv(42, "km", "mi"),)),
    ("conversion", "Convert 20 °C to kelvin.", (_conv(20, "c", "k"),)),
    ("conversion", "How many US gallons is 12 litres?", (_conv(12, "l", "gal"),)),
    (
        "conversion",
        "My suitcase weighs 23 kg. How many pounds is that?",
        (_conv(23, "kg", "lb"),),
    ),
    ("conversion", "Convert 14,000 ft to meters.", (_conv(14000, "ft", "m"),)),
    # --- capital lookups ----------------------------------------------------------------
    ("capital", "brisalta's capital city?", (_cap("Brisalta"),)),
    ("capital", "Which city is Valdoria's capital city?", (_cap("Valdoria"),)),
    ("capital", "What's the name of the capital of Quenland?", (_cap("Quenland"),)),
    (
        "capital",
        "I'm flying to Norrhaven next week. Which city is its capital?",
        (_cap("Norrhaven"),),
    ),
    ("capital", "Look up the capital city of Estrevia for me.", (_cap("Estrevia"),)),
    ("capital", "Kethmoor: what's its capital?", (_cap("Kethmoor"),)),
    ("capital", "what is lunaria's capital", (_cap("Lunaria"),)),
    ("capital", "Tell me the capital of OSTERWICK.", (_cap("Osterwick"),)),
    ("capital", "Name the city that is the capital of Brisalta.", (_cap("Brisalta"),)),
    ("capital", "Which city is the capital of Valdoria, please?", (_cap("Valdoria"),)),
    ("capital", "Quenland has a capital. Which city is it?", (_cap("Quenland"),)),
    ("capital", "Could you tell me Norrhaven's capital?", (_cap("Norrhaven"),)),
    ("capital", "what city is the capital of estrevia", (_cap("Estrevia"),)),
    ("capital", "Which city hosts Kethmoor's government?", (_cap("Kethmoor"),)),
    ("capital", "Lunaria: capital city?", (_cap("Lunaria"),)),
    # --- population lookups -------------------------------------------------------------
    ("population", "Brisalta population?", (_pop("Brisalta"),)),
    ("population", "how many people are there in kethmoor", (_pop("Kethmoor"),)),
    ("population", "What's the current population of Osterwick?", (_pop("Osterwick"),)),
    ("population", "Number of people living in Valdoria?", (_pop("Valdoria"),)),
    ("population", "Please tell me how many inhabitants Lunaria has.", (_pop("Lunaria"),)),
    ("population", "What is the population of the country Estrevia?", (_pop("Estrevia"),)),
    ("population", "Look up Quenland's population for me.", (_pop("Quenland"),)),
    ("population", "Norrhaven: how many people live there?", (_pop("Norrhaven"),)),
    ("population", "How many people is Brisalta home to?", (_pop("Brisalta"),)),
    ("population", "What population figure do you have for Kethmoor?", (_pop("Kethmoor"),)),
    ("population", "get me the population of lunaria", (_pop("Lunaria"),)),
    ("population", "How many residents live in Valdoria?", (_pop("Valdoria"),)),
    # --- no tool needed -----------------------------------------------------------------
    ("no_tool", "How many legs does an insect have?", (6.0,)),
    ("no_tool", "What is the capital of Egypt?", ("Cairo",)),
    ("no_tool", "What is the chemical symbol for copper?", ("Cu",)),
    ("no_tool", "How many sides does an octagon have?", (8.0,)),
    ("no_tool", "Which planet is known as the Red Planet?", ("Mars",)),
    (
        "no_tool",
        "What is the largest mammal on Earth?",
        ("blue whale", "the blue whale", "a blue whale"),
    ),
    ("no_tool", "What is the opposite of left?", ("right",)),
    (
        "no_tool",
        "Who developed the theory of relativity?",
        ("Albert Einstein", "Einstein"),
    ),
    ("no_tool", "what is the capital of the united kingdom", ("London",)),
    ("no_tool", "In which country are the pyramids of Giza?", ("Egypt",)),
    ("no_tool", "How many days does February have in a leap year?", (29.0,)),
    ("no_tool", "What colour is a clear daytime sky?", ("blue",)),
    ("no_tool", "What is the past tense of 'go'?", ("went",)),
    ("no_tool", "What language is mainly spoken in France?", ("French",)),
    ("no_tool", "What is H2O more commonly called?", ("water",)),
    (
        "no_tool",
        "Which ocean lies between Europe and North America?",
        ("Atlantic", "Atlantic Ocean", "the Atlantic", "the Atlantic Ocean"),
    ),
    ("no_tool", "What is the smallest prime number?", (2.0,)),
    (
        "no_tool",
        "What is the currency of Japan?",
        ("yen", "the yen", "Japanese yen", "the Japanese yen"),
    ),
    ("no_tool", "What is the fastest land animal?", ("cheetah", "the cheetah", "a cheetah")),
    ("no_tool", "how many letters are in the English alphabet", (26.0,)),
    # --- two steps: one result feeds the next call --------------------------------------
    (
        "two_step",
        "Convert 9 miles to kilometres and double it.",
        (_conv(9, "mi", "km") * 2,),
    ),
    ("two_step", "What is 20 * 15 feet in metres?", (_conv(300, "ft", "m"),)),
    ("two_step", "Convert 75 kg to lbs, then subtract 15.", (_conv(75, "kg", "lb") - 15,)),
    (
        "two_step",
        "Convert 15 °C to °F and then add 20.",
        (_conv(15, "c", "f") + 20,),
    ),
    ("two_step", "What's Lunaria's population divided by 64?", (_pop("Lunaria") / 64,)),
    (
        "two_step",
        "Take the population of Brisalta and divide it by 1,000.",
        (_pop("Brisalta") / 1000,),
    ),
    (
        "two_step",
        "Add 55 and 45, then convert that many kilometres to miles.",
        (_conv(100, "km", "mi"),),
    ),
    ("two_step", "What is Osterwick's population plus 2,700?", (_pop("Osterwick") + 2700,)),
    (
        "two_step",
        "If Norrhaven's population tripled, how many people would live there?",
        (_pop("Norrhaven") * 3,),
    ),
    (
        "two_step",
        "what's the population of estrevia in thousands",
        (_pop("Estrevia") / 1000,),
    ),
    (
        "two_step",
        "Convert 8 gallons to litres, then divide the result by 4.",
        (_conv(8, "gal", "l") / 4,),
    ),
    (
        "two_step",
        "A hiker walks 5 * 6 miles. How far is that in km?",
        (_conv(30, "mi", "km"),),
    ),
    (
        "two_step",
        "Convert 1,200 metres to feet, then divide by 100.",
        (_conv(1200, "m", "ft") / 100,),
    ),
    (
        "two_step",
        "What is the population of Kethmoor minus 8,400?",
        (_pop("Kethmoor") - 8400,),
    ),
    (
        "two_step",
        "Divide 660 by 3, then convert that many pounds to kilograms.",
        (_conv(220, "lb", "kg"),),
    ),
    (
        "two_step",
        "Convert 86 °F to °C and multiply by 3.",
        (_conv(86, "f", "c") * 3,),
    ),
    ("two_step", "What is one fifth of Quenland's population?", (_pop("Quenland") / 5,)),
    (
        "two_step",
        "Convert 6 km to feet, then subtract 500.",
        (_conv(6, "km", "ft") - 500,),
    ),
    ("two_step", "Multiply Valdoria's population by 4.", (_pop("Valdoria") * 4,)),
    (
        "two_step",
        "Convert 30 litres to gallons, then add 5.",
        (_conv(30, "l", "gal") + 5,),
    ),
    (
        "two_step",
        "If Brisalta's population fell by 5%, how many people would live there?",
        (_calc(f"{POPULATIONS['Brisalta']}*0.95"),),
    ),
    # --- two or more lookups ------------------------------------------------------------
    (
        "multi_lookup",
        "What's the combined population of Valdoria and Estrevia?",
        (_pop("Valdoria") + _pop("Estrevia"),),
    ),
    (
        "multi_lookup",
        "How many more people live in Lunaria than in Norrhaven?",
        (_pop("Lunaria") - _pop("Norrhaven"),),
    ),
    (
        "multi_lookup",
        "Which country has the larger population: Osterwick or Kethmoor?",
        (_most("Osterwick", "Kethmoor"),),
    ),
    (
        "multi_lookup",
        "How many people live in Quenland and Lunaria together?",
        (_pop("Quenland") + _pop("Lunaria"),),
    ),
    (
        "multi_lookup",
        "Subtract Kethmoor's population from Osterwick's.",
        (_pop("Osterwick") - _pop("Kethmoor"),),
    ),
    (
        "multi_lookup",
        "which has fewer inhabitants, estrevia or lunaria",
        (_fewest("Estrevia", "Lunaria"),),
    ),
    (
        "multi_lookup",
        "List the capitals of Osterwick and Valdoria as 'X and Y'.",
        (f"{_cap('Osterwick')} and {_cap('Valdoria')}",),
    ),
    (
        "multi_lookup",
        "What are the capitals of Brisalta and Kethmoor? Reply in the form 'X and Y'.",
        (f"{_cap('Brisalta')} and {_cap('Kethmoor')}",),
    ),
    (
        "multi_lookup",
        "Sum the populations of Valdoria, Quenland and Brisalta.",
        (_pop("Valdoria") + _pop("Quenland") + _pop("Brisalta"),),
    ),
    (
        "multi_lookup",
        "Of Norrhaven, Kethmoor and Osterwick, which has the fewest people?",
        (_fewest("Norrhaven", "Kethmoor", "Osterwick"),),
    ),
    (
        "multi_lookup",
        "How many times larger is Brisalta's population than Lunaria's?",
        (_pop("Brisalta") / _pop("Lunaria"),),
    ),
    (
        "multi_lookup",
        "What is the capital of the more populous of Estrevia and Osterwick?",
        (_cap(_most("Estrevia", "Osterwick")),),
    ),
    # --- tool shapes (the tools of bench/eval_shapes.py) --------------------------------
    (
        "tool_shapes",
        "How many bolts are in the warehouse right now?",
        (float(inventory_count("bolts")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "what's our current count of gaskets",
        (float(inventory_count("gaskets")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "Which do we have fewer of in stock, hinges or gaskets? Answer with the item name.",
        ("hinges" if inventory_count("hinges") < inventory_count("gaskets") else "gaskets",),
        "enum argument",
    ),
    (
        "tool_shapes",
        "How many washers will be left in stock if we ship 200 of them?",
        (float(inventory_count("washers") - 200),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "Stock check: how many nuts and bolts do we hold in total?",
        (float(inventory_count("nuts") + inventory_count("bolts")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "How much for 6 notebooks, in dollars?",
        (price("notebook", 6),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "What does a single stapler cost?",
        (price("stapler", 1),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "price of 20 pens in dollars",
        (price("pen", 20),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "I need 9 markers. What will they cost?",
        (price("marker", 9),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "What is the total cost of 30 folders, in dollars?",
        (price("folder", 30),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "What's the date 10 days after 2024-12-27? Answer as YYYY-MM-DD.",
        _dates(add_days("2024-12-27", 10)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "Which date is 7 days before 2024-03-03?",
        _dates(add_days("2024-03-03", -7)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "add 250 days to 2025-01-01",
        _dates(add_days("2025-01-01", 250)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "What date falls six weeks after 10 February 2025? Give it as YYYY-MM-DD.",
        _dates(add_days("2025-02-10", 42)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "Count back 45 days from 2024-10-01. What date do you land on?",
        _dates(add_days("2024-10-01", -45)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "How many days are there from 2024-02-14 to 2024-10-31?",
        (float(days_between("2024-02-14", "2024-10-31")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many days pass between 1 January 2025 and 1 January 2026?",
        (float(days_between("2025-01-01", "2026-01-01")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "Today is 2025-06-30. How many days until 2025-12-25?",
        (float(days_between("2025-06-30", "2025-12-25")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "days between 2020-02-28 and 2020-03-01?",
        (float(days_between("2020-02-28", "2020-03-01")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many weeks are there from 2024-01-08 to 2024-03-18?",
        (days_between("2024-01-08", "2024-03-18") / 7,),
        "two dates",
    ),
    (
        "tool_shapes",
        "Count the letters in 'Kestrel Freight'.",
        (float(count_text("Kestrel Freight", "letters")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "How many words does this sentence have: 'the meeting moved to room four on tuesday'",
        (float(count_text("the meeting moved to room four on tuesday", "words")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "number of vowels in 'Valdoria'?",
        (float(count_text("Valdoria", "vowels")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "How many letters are in the word 'bookkeeper'?",
        (float(count_text("bookkeeper", "letters")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "Count the vowels in the phrase 'queueing at the Osterwick gate'.",
        (float(count_text("queueing at the Osterwick gate", "vowels")),),
        "text and enum",
    ),
    ("tool_shapes", "Reverse 'Ondmere'.", (reverse_text("Ondmere"),), "free text"),
    (
        "tool_shapes",
        "What is 'Kethmoor' spelled backwards?",
        (reverse_text("Kethmoor"),),
        "free text",
    ),
    ("tool_shapes", "reverse: 'box 19'", (reverse_text("box 19"),), "free text"),
    (
        "tool_shapes",
        "Write the text 'north gate' backwards, character by character.",
        (reverse_text("north gate"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Spell the word 'planet' in reverse.",
        (reverse_text("planet"),),
        "free text",
    ),
    (
        "tool_shapes",
        "What's the status of order B-2007?",
        (str(_order("B-2007", "status")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "How much did order A-1043 come to, in dollars?",
        (_num(_order("A-1043", "total")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "when is order b-2007 due to arrive? answer as YYYY-MM-DD",
        _dates(str(_order("B-2007", "eta"))),
        "JSON object",
    ),
    (
        "tool_shapes",
        "How many items were in order C-3150?",
        (_num(_order("C-3150", "items")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What's the total of order #A-1042 in dollars?",
        (_num(_order("A-1042", "total")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What conditions are forecast for Fenbridge tomorrow?",
        (str(_forecast("Fenbridge", 1)[0]["conditions"]), "foggy"),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What is the forecast low in Skarholm on day 2, in °C?",
        (_num(_forecast("Skarholm", 2)[1]["low_c"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "On how many of the next 5 days is it forecast to be sunny in Selenport?",
        (float(sum(d["conditions"] == "sunny" for d in _forecast("Selenport", 5))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What's the highest forecast high in Fenbridge over the next five days, in Celsius?",
        (float(max(_num(d["high_c"]) for d in _forecast("Fenbridge", 5))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What will the low be in Merrowgate the day after tomorrow, in °C?",
        (_num(_forecast("Merrowgate", 2)[1]["low_c"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "How many days after order B-2001's delivery date is order B-2007 expected?",
        (float(days_between(str(_order("B-2001", "eta")), str(_order("B-2007", "eta")))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "What would as many staplers as there are items in order B-2001 cost, in dollars?",
        (price("stapler", int(_num(_order("B-2001", "items")))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "What date is 3 weeks after order A-1042's expected delivery? Answer as YYYY-MM-DD.",
        _dates(add_days(str(_order("A-1042", "eta")), 21)),
        "two steps",
    ),
    (
        "tool_shapes",
        "How many vowels are in the name of the carrier of order A-1042?",
        (float(count_text(str(_order("A-1042", "carrier")), "vowels")),),
        "two steps",
    ),
    (
        "tool_shapes",
        "How many degrees warmer is tomorrow's forecast low in Fenbridge than in Skarholm?",
        (_num(_forecast("Fenbridge", 1)[0]["low_c"]) - _num(_forecast("Skarholm", 1)[0]["low_c"]),),
        "two steps",
    ),
]


# Written at the start of a new tuning round, before any tuning in it, by someone who had
# not seen the strategy's failures, and committed before it was first run: the seven
# categories in the proportions of _HELD_OUT_2 and five tool-shape tasks for each shape.
# Only for measuring, like _HELD_OUT.
_FRESH_4: list[_Row | _ShapeRow] = [
    # --- arithmetic ---------------------------------------------------------------------
    ("arithmetic", "what is 58 * 94", (_calc("58*94"),)),
    ("arithmetic", "Compute 23,456 + 7,891.", (_calc("23456+7891"),)),
    ("arithmetic", "subtract 1,987 from 6,420", (_calc("6420-1987"),)),
    ("arithmetic", "Divide 2,744 by 14.", (_calc("2744/14"),)),
    ("arithmetic", "What is (67 + 38) * 6?", (_calc("(67+38)*6"),)),
    ("arithmetic", "What's 4 to the power of 6?", (_calc("4**6"),)),
    ("arithmetic", "What is 13 squared?", (_calc("13**2"),)),
    ("arithmetic", "Multiply thirty-four by fifty-two.", (_calc("34*52"),)),
    ("arithmetic", "What is 12.5% of 720?", (_calc("720*12.5/100"),)),
    ("arithmetic", "What's the remainder of 500 divided by 13?", (_calc("500%13"),)),
    ("arithmetic", "Add 1,205, 987 and 3,410.", (_calc("1205+987+3410"),)),
    (
        "arithmetic",
        "How much is eight hundred minus two hundred and seventy-five?",
        (_calc("800-275"),),
    ),
    ("arithmetic", "calc 4.75 * 18", (_calc("4.75*18"),)),
    ("arithmetic", "What is 3,600,000 divided by 1,200?", (_calc("3600000/1200"),)),
    ("arithmetic", "Work out 8 * (47 - 29) + 15.", (_calc("8*(47-29)+15"),)),
    ("arithmetic", "What is -72 + 39?", (_calc("-72+39"),)),
    ("arithmetic", "multiply 0.35 by 2,400", (_calc("0.35*2400"),)),
    ("arithmetic", "What is 2^12 - 3^5?", (_calc("2^12-3^5"),)),
    ("arithmetic", "What's the square root of 2,025?", (_calc("2025**0.5"),)),
    ("arithmetic", "Please use the calculator to find 9,999 / 9.", (_calc("9999/9"),)),
    (
        "arithmetic",
        "A bakery makes 72 loaves a day. How many loaves does it make in 28 days?",
        (_calc("72*28"),),
    ),
    (
        "arithmetic",
        "A stadium section has 36 rows with 45 seats each. How many seats are in the section?",
        (_calc("36*45"),),
    ),
    (
        "arithmetic",
        "My phone bill is $45 a month. What do I pay over 2 years, in dollars?",
        (_calc("45*24"),),
    ),
    ("arithmetic", "a box of tea has 20 bags. how many tea bags in 48 boxes?", (_calc("20*48"),)),
    ("arithmetic", "What is 45 divided by 8?", (_calc("45/8"),)),
    (
        "arithmetic",
        "what's the average of 15, 22, 37, 41 and 50",
        (_calc("(15+22+37+41+50)/5"),),
    ),
    # --- unit conversion ----------------------------------------------------------------
    ("conversion", "convert 32 kilometers into miles", (_conv(32, "km", "mi"),)),
    ("conversion", "A tower is 330 m tall. How many feet is that?", (_conv(330, "m", "ft"),)),
    ("conversion", "what's 140 pounds in kg", (_conv(140, "lb", "kg"),)),
    ("conversion", "Convert 41 °C to °F.", (_conv(41, "c", "f"),)),
    ("conversion", "How many kilometres is 13.1 miles?", (_conv(13.1, "mi", "km"),)),
    (
        "conversion",
        "The oven is set to 392 °F. What is that in Celsius?",
        (_conv(392, "f", "c"),),
    ),
    ("conversion", "Convert 15,840 feet to miles.", (_conv(15840, "ft", "mi"),)),
    ("conversion", "how many litres in 4 gallons", (_conv(4, "gal", "l"),)),
    ("conversion", "Convert 75 litres to US gallons.", (_conv(75, "l", "gal"),)),
    ("conversion", "What is 0 K in °C?", (_conv(0, "k", "c"),)),
    (
        "conversion",
        "Convert minus 20 degrees Celsius to Fahrenheit.",
        (_conv(-20, "c", "f"),),
    ),
    ("conversion", "How many pounds does a 12 kg dog weigh?", (_conv(12, "kg", "lb"),)),
    ("conversion", "Convert 6.4 kilometres to metres.", (_conv(6.4, "km", "m"),)),
    ("conversion", "How many feet are there in half a mile?", (_conv(0.5, "mi", "ft"),)),
    ("conversion", "Express 3,500 lb in kilograms.", (_conv(3500, "lb", "kg"),)),
    ("conversion", "what's 23 F in C", (_conv(23, "f", "c"),)),
    ("conversion", "How far is 100 km in miles?", (_conv(100, "km", "mi"),)),
    ("conversion", "Convert 310 kelvin to Fahrenheit.", (_conv(310, "k", "f"),)),
    ("conversion", "How many gallons is 200 L?", (_conv(200, "l", "gal"),)),
    (
        "conversion",
        "My backpack weighs 18 lbs. How many kilograms is that?",
        (_conv(18, "lb", "kg"),),
    ),
    ("conversion", "Convert 29,032 ft to metres.", (_conv(29032, "ft", "m"),)),
    # --- capital lookups ----------------------------------------------------------------
    ("capital", "capital of estrevia pls", (_cap("Estrevia"),)),
    (
        "capital",
        "Which city is the capital of Quenland? I always forget.",
        (_cap("Quenland"),),
    ),
    ("capital", "What do they call the capital of Valdoria?", (_cap("Valdoria"),)),
    ("capital", "I need the capital of Norrhaven for a quiz.", (_cap("Norrhaven"),)),
    ("capital", "osterwick capital", (_cap("Osterwick"),)),
    (
        "capital",
        "Where is Brisalta's government based? Name the city.",
        (_cap("Brisalta"),),
    ),
    ("capital", "What is the capital city of Kethmoor?", (_cap("Kethmoor"),)),
    ("capital", "Lunaria — which city is the capital?", (_cap("Lunaria"),)),
    ("capital", "Can you look up the capital of Valdoria?", (_cap("Valdoria"),)),
    (
        "capital",
        "We're planning a trip to Quenland's capital. What city is that?",
        (_cap("Quenland"),),
    ),
    ("capital", "Estrevia's capital is...?", (_cap("Estrevia"),)),
    ("capital", "Tell me Norrhaven's capital city, please.", (_cap("Norrhaven"),)),
    ("capital", "which city is capital of Osterwick", (_cap("Osterwick"),)),
    ("capital", "Brisalta - capital?", (_cap("Brisalta"),)),
    ("capital", "kethmoor capital city name?", (_cap("Kethmoor"),)),
    # --- population lookups -------------------------------------------------------------
    ("population", "how many people live in valdoria right now", (_pop("Valdoria"),)),
    ("population", "What is Quenland's population?", (_pop("Quenland"),)),
    ("population", "Estrevia has how many inhabitants?", (_pop("Estrevia"),)),
    ("population", "Population count for Norrhaven, please.", (_pop("Norrhaven"),)),
    ("population", "I'm curious how many people live in Brisalta.", (_pop("Brisalta"),)),
    ("population", "kethmoor population", (_pop("Kethmoor"),)),
    ("population", "Can you find out the population of Lunaria?", (_pop("Lunaria"),)),
    ("population", "How many people reside in Osterwick?", (_pop("Osterwick"),)),
    ("population", "Give me Valdoria's population figure.", (_pop("Valdoria"),)),
    ("population", "what's the population of quenland these days", (_pop("Quenland"),)),
    (
        "population",
        "For my geography homework: what is the population of Estrevia?",
        (_pop("Estrevia"),),
    ),
    ("population", "How many people inhabit Norrhaven?", (_pop("Norrhaven"),)),
    # --- no tool needed -----------------------------------------------------------------
    ("no_tool", "How many days are there in a fortnight?", (14.0,)),
    ("no_tool", "What's the capital of Norway?", ("Oslo",)),
    ("no_tool", "What is the chemical symbol for potassium?", ("K",)),
    ("no_tool", "how many sides does a pentagon have", (5.0,)),
    ("no_tool", "Which planet is closest to the Sun?", ("Mercury",)),
    (
        "no_tool",
        "Who painted The Starry Night?",
        ("Vincent van Gogh", "van Gogh", "Van Gogh"),
    ),
    ("no_tool", "What is the opposite of fast?", ("slow",)),
    ("no_tool", "Which language do people mainly speak in Italy?", ("Italian",)),
    ("no_tool", "How many years are in a century?", (100.0,)),
    (
        "no_tool",
        "What is the currency of the United Kingdom?",
        ("pound sterling", "the pound sterling", "pound", "the pound", "British pound"),
    ),
    (
        "no_tool",
        "What is the hardest natural substance?",
        ("diamond", "a diamond", "diamonds"),
    ),
    ("no_tool", "what colour are ripe bananas", ("yellow",)),
    ("no_tool", "How many bones are in the adult human body?", (206.0,)),
    ("no_tool", "Which month has the fewest days?", ("February",)),
    ("no_tool", "On which continent is Brazil?", ("South America",)),
    ("no_tool", "What is the plural of 'child'?", ("children",)),
    (
        "no_tool",
        "Who was the first person to walk on the Moon?",
        ("Neil Armstrong", "Armstrong"),
    ),
    ("no_tool", "How many cents are in a dollar?", (100.0,)),
    (
        "no_tool",
        "What is the tallest mountain in the world?",
        ("Mount Everest", "Everest", "Mt Everest", "Mt. Everest"),
    ),
    ("no_tool", "what's the capital of kenya", ("Nairobi",)),
    # --- two steps: one result feeds the next call --------------------------------------
    ("two_step", "Convert 11 miles to km and triple it.", (_conv(11, "mi", "km") * 3,)),
    ("two_step", "what is 25 * 8 metres in feet", (_conv(200, "m", "ft"),)),
    (
        "two_step",
        "Convert 64 kg to pounds, then take away 12.",
        (_conv(64, "kg", "lb") - 12,),
    ),
    (
        "two_step",
        "Turn 35 degrees Celsius into Fahrenheit and add 15 to it.",
        (_conv(35, "c", "f") + 15,),
    ),
    ("two_step", "What is Valdoria's population divided by 32?", (_pop("Valdoria") / 32,)),
    (
        "two_step",
        "Take Norrhaven's population and multiply it by 5.",
        (_pop("Norrhaven") * 5,),
    ),
    (
        "two_step",
        "Work out 28 + 36, then convert that many miles into kilometres.",
        (_conv(28 + 36, "mi", "km"),),
    ),
    ("two_step", "What is Kethmoor's population plus 1,600?", (_pop("Kethmoor") + 1600,)),
    (
        "two_step",
        "If Quenland's population were cut in half, how many people would live there?",
        (_pop("Quenland") / 2,),
    ),
    (
        "two_step",
        "How many thousand people live in Brisalta?",
        (_pop("Brisalta") / 1000,),
    ),
    (
        "two_step",
        "Convert 12 gallons to litres and divide by 6.",
        (_conv(12, "gal", "l") / 6,),
    ),
    (
        "two_step",
        "A delivery driver covers 7 * 9 km. How many miles is that?",
        (_conv(7 * 9, "km", "mi"),),
    ),
    (
        "two_step",
        "Convert 2,500 feet to metres, then divide by 5.",
        (_conv(2500, "ft", "m") / 5,),
    ),
    (
        "two_step",
        "estrevia's population minus 76,500 - what's that?",
        (_pop("Estrevia") - 76500,),
    ),
    (
        "two_step",
        "Divide 510 by 6, then convert that many kilograms to pounds.",
        (_conv(510 / 6, "kg", "lb"),),
    ),
    (
        "two_step",
        "Convert 113 °F to Celsius and multiply by 2.",
        (_conv(113, "f", "c") * 2,),
    ),
    ("two_step", "What's a tenth of Osterwick's population?", (_pop("Osterwick") / 10,)),
    (
        "two_step",
        "Convert 9 km to feet, then subtract 2,000.",
        (_conv(9, "km", "ft") - 2000,),
    ),
    (
        "two_step",
        "What do you get if you multiply Lunaria's population by 6?",
        (_pop("Lunaria") * 6,),
    ),
    ("two_step", "Convert 45 litres to gallons and add 3.", (_conv(45, "l", "gal") + 3,)),
    (
        "two_step",
        "Suppose Valdoria's population grew by 25%. How many people would live there then?",
        (_calc(f"{POPULATIONS['Valdoria']}*1.25"),),
    ),
    # --- two or more lookups ------------------------------------------------------------
    (
        "multi_lookup",
        "What's the combined population of Brisalta and Norrhaven?",
        (_pop("Brisalta") + _pop("Norrhaven"),),
    ),
    (
        "multi_lookup",
        "how many more people does valdoria have than kethmoor",
        (_pop("Valdoria") - _pop("Kethmoor"),),
    ),
    (
        "multi_lookup",
        "Estrevia or Norrhaven: which has the bigger population?",
        (_most("Estrevia", "Norrhaven"),),
    ),
    (
        "multi_lookup",
        "Between Osterwick and Lunaria, which country has fewer inhabitants?",
        (_fewest("Osterwick", "Lunaria"),),
    ),
    (
        "multi_lookup",
        "What are the capital cities of Quenland and Estrevia? Format: 'X and Y'.",
        (f"{_cap('Quenland')} and {_cap('Estrevia')}",),
    ),
    (
        "multi_lookup",
        "Total population of Kethmoor, Lunaria and Estrevia?",
        (_pop("Kethmoor") + _pop("Lunaria") + _pop("Estrevia"),),
    ),
    (
        "multi_lookup",
        "Of Quenland, Brisalta and Valdoria, which is the least populous?",
        (_fewest("Quenland", "Brisalta", "Valdoria"),),
    ),
    (
        "multi_lookup",
        "What's the capital of the more populous of Norrhaven and Kethmoor?",
        (_cap(_most("Norrhaven", "Kethmoor")),),
    ),
    (
        "multi_lookup",
        "What is the difference between the populations of Brisalta and Estrevia?",
        (_pop("Brisalta") - _pop("Estrevia"),),
    ),
    (
        "multi_lookup",
        "Add the populations of Osterwick and Quenland together.",
        (_pop("Osterwick") + _pop("Quenland"),),
    ),
    (
        "multi_lookup",
        "capitals of norrhaven and osterwick? reply as 'X and Y'",
        (f"{_cap('Norrhaven')} and {_cap('Osterwick')}",),
    ),
    (
        "multi_lookup",
        "Which of Kethmoor, Osterwick and Lunaria has the most people?",
        (_most("Kethmoor", "Osterwick", "Lunaria"),),
    ),
    # --- tool shapes (the tools of bench/eval_shapes.py) --------------------------------
    (
        "tool_shapes",
        "how many springs do we have",
        (float(inventory_count("springs")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "What's the current stock of washers?",
        (float(inventory_count("washers")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "Are there more brackets or gaskets in stock? Just name the item.",
        ("brackets" if inventory_count("brackets") > inventory_count("gaskets") else "gaskets",),
        "enum argument",
    ),
    (
        "tool_shapes",
        "If 75 hinges get used on a job, how many hinges remain in stock?",
        (float(inventory_count("hinges") - 75),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "How many bolts and brackets does the warehouse hold combined?",
        (float(inventory_count("bolts") + inventory_count("brackets")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "How much would 4 staplers cost?",
        (price("stapler", 4),),
        "two typed arguments",
    ),
    ("tool_shapes", "price of 15 notebooks?", (price("notebook", 15),), "two typed arguments"),
    (
        "tool_shapes",
        "I want 3 backpacks. What's the total, in dollars?",
        (price("backpack", 3),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "What do fifty pens cost at the shop?",
        (price("pen", 50),),
        "two typed arguments",
    ),
    ("tool_shapes", "cost of 8 folders in $", (price("folder", 8),), "two typed arguments"),
    (
        "tool_shapes",
        "what's the date 120 days after 2024-08-15",
        _dates(add_days("2024-08-15", 120)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "A parcel posted on 2025-04-01 takes 9 days to arrive. On which date does it arrive?",
        _dates(add_days("2025-04-01", 9)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "What was the date 100 days before 2024-03-01? Answer as YYYY-MM-DD.",
        _dates(add_days("2024-03-01", -100)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "Add a fortnight to 28 February 2024. Give the date as YYYY-MM-DD.",
        _dates(add_days("2024-02-28", 14)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "What date is 1,000 days after July 19, 2023?",
        _dates(add_days("2023-07-19", 1000)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "days from 2024-03-15 to 2024-11-05?",
        (float(days_between("2024-03-15", "2024-11-05")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many days pass from 1 September 2024 to 1 March 2025?",
        (float(days_between("2024-09-01", "2025-03-01")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "Today is 2025-02-03. How many days until my birthday on 2025-05-17?",
        (float(days_between("2025-02-03", "2025-05-17")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many days are there from Christmas Day 2024 to New Year's Day 2025?",
        (float(days_between("2024-12-25", "2025-01-01")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many weeks is it from 2025-03-03 to 2025-06-23?",
        (days_between("2025-03-03", "2025-06-23") / 7,),
        "two dates",
    ),
    (
        "tool_shapes",
        "count the letters in Northline",
        (float(count_text("Northline", "letters")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "How many words are in this: 'remember to water the plants while I am away'",
        (float(count_text("remember to water the plants while I am away", "words")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "How many vowels does the word 'onomatopoeia' have?",
        (float(count_text("onomatopoeia", "vowels")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "Letter count for 'Merrowgate Station', please.",
        (float(count_text("Merrowgate Station", "letters")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "Number of words in 'Skarholm is cold in winter but bright in summer'?",
        (float(count_text("Skarholm is cold in winter but bright in summer", "words")),),
        "text and enum",
    ),
    ("tool_shapes", "Reverse 'Selenport'.", (reverse_text("Selenport"),), "free text"),
    ("tool_shapes", "what is 'desserts' backwards", (reverse_text("desserts"),), "free text"),
    (
        "tool_shapes",
        "Please write 'gate 12B' in reverse order, character by character.",
        (reverse_text("gate 12B"),),
        "free text",
    ),
    ("tool_shapes", "Spell 'Varrow' backwards.", (reverse_text("Varrow"),), "free text"),
    (
        "tool_shapes",
        "Reverse the text: 'order A-1043'",
        (reverse_text("order A-1043"),),
        "free text",
    ),
    (
        "tool_shapes",
        "status of order a-1043?",
        (str(_order("A-1043", "status")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "Which carrier is handling order B-2001?",
        (str(_order("B-2001", "carrier")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "How many items does order #A-1042 have?",
        (_num(_order("A-1042", "items")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What did order B-2007 cost in total, in dollars?",
        (_num(_order("B-2007", "total")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What is the ETA of order B-2001? Answer as YYYY-MM-DD.",
        _dates(str(_order("B-2001", "eta"))),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What's the forecast high for Merrowgate tomorrow, in °C?",
        (_num(_forecast("Merrowgate", 1)[0]["high_c"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "what will the weather be in skarholm on day 4 of the forecast? just the conditions",
        (str(_forecast("Skarholm", 4)[3]["conditions"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What's the lowest forecast low for Selenport over the next 5 days, in Celsius?",
        (float(min(_num(d["low_c"]) for d in _forecast("Selenport", 5))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "On how many of the next 3 days is rain forecast in Fenbridge?",
        (float(sum(d["conditions"] == "rain" for d in _forecast("Fenbridge", 3))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What low is forecast for Skarholm on day 5, in °C?",
        (_num(_forecast("Skarholm", 5)[4]["low_c"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What would as many pens as there are hinges in stock cost, in dollars?",
        (price("pen", inventory_count("hinges")),),
        "two steps",
    ),
    (
        "tool_shapes",
        "How many days are there from order B-2001's expected delivery date to order A-1042's?",
        (float(days_between(str(_order("B-2001", "eta")), str(_order("A-1042", "eta")))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "What date is 10 days before order B-2007's expected delivery? Answer as YYYY-MM-DD.",
        _dates(add_days(str(_order("B-2007", "eta")), -10)),
        "two steps",
    ),
    (
        "tool_shapes",
        "Spell the name of the carrier of order B-2007 backwards.",
        (reverse_text(str(_order("B-2007", "carrier"))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "What's the average forecast low in Skarholm over the next 5 days, in °C?",
        (_calc("({}+{}+{}+{}+{})/5".format(*(d["low_c"] for d in _forecast("Skarholm", 5)))),),
        "two steps",
    ),
]


# Written at the start of a new tuning round, before any tuning in it, by someone who had
# not seen the strategy's failures, and committed before it was first run: the seven
# categories in the proportions of _HELD_OUT_2 and five tool-shape tasks for each shape.
# Only for measuring, like _HELD_OUT.
_FRESH_5: list[_Row | _ShapeRow] = [
    # --- arithmetic ---------------------------------------------------------------------
    ("arithmetic", "what's 76 times 43", (_calc("76*43"),)),
    ("arithmetic", "Compute 48,215 + 9,786.", (_calc("48215+9786"),)),
    ("arithmetic", "take 3,059 away from 8,112", (_calc("8112-3059"),)),
    ("arithmetic", "Divide 5,184 by 24.", (_calc("5184/24"),)),
    ("arithmetic", "What is (94 - 57) * 8?", (_calc("(94-57)*8"),)),
    ("arithmetic", "What's 7 to the 4th power?", (_calc("7**4"),)),
    ("arithmetic", "What is 15 cubed?", (_calc("15**3"),)),
    ("arithmetic", "multiply forty-seven by sixty-eight", (_calc("47*68"),)),
    ("arithmetic", "What is 18% of 650?", (_calc("650*18/100"),)),
    ("arithmetic", "Find the remainder when 1,000 is divided by 37.", (_calc("1000%37"),)),
    ("arithmetic", "Add 2,365, 4,018 and 779.", (_calc("2365+4018+779"),)),
    (
        "arithmetic",
        "How much is nine hundred and fifty minus three hundred and eighty-six?",
        (_calc("950-386"),),
    ),
    ("arithmetic", "calc 6.4 * 27.5", (_calc("6.4*27.5"),)),
    ("arithmetic", "What is 4,800,000 divided by 3,200?", (_calc("4800000/3200"),)),
    ("arithmetic", "Work out 9 * (62 - 38) - 24.", (_calc("9*(62-38)-24"),)),
    ("arithmetic", "What is -158 + 93?", (_calc("-158+93"),)),
    ("arithmetic", "What's 0.045 times 6,000?", (_calc("0.045*6000"),)),
    ("arithmetic", "What is 5^5 - 4^4?", (_calc("5^5-4^4"),)),
    ("arithmetic", "square root of 3,136?", (_calc("3136**0.5"),)),
    ("arithmetic", "Use the calculator to divide 7,236 by 12.", (_calc("7236/12"),)),
    (
        "arithmetic",
        "A school orders 38 boxes of pencils with 125 pencils in each box. How many pencils "
        "is that?",
        (_calc("38*125"),),
    ),
    (
        "arithmetic",
        "An orchard has 57 rows with 38 trees in each row. How many trees are there?",
        (_calc("57*38"),),
    ),
    (
        "arithmetic",
        "I save $175 every month. How much will I have put aside after 3 years, in dollars?",
        (_calc("175*36"),),
    ),
    (
        "arithmetic",
        "a printer does 45 pages a minute. how many pages does it print in 16 minutes?",
        (_calc("45*16"),),
    ),
    ("arithmetic", "What is 29 divided by 8?", (_calc("29/8"),)),
    ("arithmetic", "Find the mean of 47, 53, 68, 72 and 85.", (_calc("(47+53+68+72+85)/5"),)),
    # --- unit conversion ----------------------------------------------------------------
    ("conversion", "convert 27 km to miles", (_conv(27, "km", "mi"),)),
    (
        "conversion",
        "An office block is 185 m tall. How tall is it in feet?",
        (_conv(185, "m", "ft"),),
    ),
    ("conversion", "what is 95 pounds in kilos", (_conv(95, "lb", "kg"),)),
    ("conversion", "Convert 18 °C to °F.", (_conv(18, "c", "f"),)),
    ("conversion", "How many kilometres are in 6.2 miles?", (_conv(6.2, "mi", "km"),)),
    (
        "conversion",
        "My recipe says to bake at 425 °F. What is that in Celsius?",
        (_conv(425, "f", "c"),),
    ),
    ("conversion", "Convert 7,920 feet to miles.", (_conv(7920, "ft", "mi"),)),
    ("conversion", "how many liters is 6.5 gallons", (_conv(6.5, "gal", "l"),)),
    ("conversion", "Convert 120 litres to US gallons.", (_conv(120, "l", "gal"),)),
    ("conversion", "What is 500 K in degrees Celsius?", (_conv(500, "k", "c"),)),
    (
        "conversion",
        "Convert minus 15 degrees Celsius to Fahrenheit.",
        (_conv(-15, "c", "f"),),
    ),
    ("conversion", "How many pounds does a 4.5 kg cat weigh?", (_conv(4.5, "kg", "lb"),)),
    ("conversion", "Convert 12.3 kilometers to meters.", (_conv(12.3, "km", "m"),)),
    ("conversion", "How many feet are in a quarter of a mile?", (_conv(0.25, "mi", "ft"),)),
    ("conversion", "Express 2,750 kg in pounds.", (_conv(2750, "kg", "lb"),)),
    ("conversion", "what's 14 F in celsius", (_conv(14, "f", "c"),)),
    ("conversion", "How far is 250 km in miles?", (_conv(250, "km", "mi"),)),
    ("conversion", "Convert 255 kelvin to Fahrenheit.", (_conv(255, "k", "f"),)),
    ("conversion", "How many gallons are in 1,000 L?", (_conv(1000, "l", "gal"),)),
    (
        "conversion",
        "My suitcase is 50 lb. How much is that in kilograms?",
        (_conv(50, "lb", "kg"),),
    ),
    ("conversion", "Convert 4,810 m to feet.", (_conv(4810, "m", "ft"),)),
    # --- capital lookups ----------------------------------------------------------------
    ("capital", "whats the capital of brisalta", (_cap("Brisalta"),)),
    (
        "capital",
        "Which city is the capital of Kethmoor? Just the city name.",
        (_cap("Kethmoor"),),
    ),
    (
        "capital",
        "I'm sending a postcard to the capital of Valdoria. Which city is that?",
        (_cap("Valdoria"),),
    ),
    ("capital", "Quenland capital?", (_cap("Quenland"),)),
    ("capital", "Name the capital of Lunaria, please.", (_cap("Lunaria"),)),
    ("capital", "Could you check which city is Osterwick's capital?", (_cap("Osterwick"),)),
    ("capital", "Estrevia — capital city?", (_cap("Estrevia"),)),
    ("capital", "Do you happen to know Norrhaven's capital?", (_cap("Norrhaven"),)),
    ("capital", "Tell me the capital of the country of Kethmoor.", (_cap("Kethmoor"),)),
    ("capital", "For a crossword: capital of Brisalta?", (_cap("Brisalta"),)),
    ("capital", "VALDORIA CAPITAL", (_cap("Valdoria"),)),
    ("capital", "Which city serves as the capital of Lunaria?", (_cap("Lunaria"),)),
    (
        "capital",
        "my cousin just moved to quenland's capital. what city is it?",
        (_cap("Quenland"),),
    ),
    ("capital", "Look up Osterwick's capital city.", (_cap("Osterwick"),)),
    ("capital", "What's the capital of Estrevia called?", (_cap("Estrevia"),)),
    # --- population lookups -------------------------------------------------------------
    ("population", "lunaria population?", (_pop("Lunaria"),)),
    ("population", "What's the exact population of Kethmoor?", (_pop("Kethmoor"),)),
    ("population", "Tell me how many people Osterwick has.", (_pop("Osterwick"),)),
    ("population", "Population figure for Brisalta?", (_pop("Brisalta"),)),
    ("population", "How many inhabitants live in Valdoria?", (_pop("Valdoria"),)),
    ("population", "Could you look up Norrhaven's population?", (_pop("Norrhaven"),)),
    ("population", "QUENLAND POPULATION", (_pop("Quenland"),)),
    ("population", "I'd like to know Estrevia's population.", (_pop("Estrevia"),)),
    (
        "population",
        "How many people are living in Lunaria at the moment?",
        (_pop("Lunaria"),),
    ),
    (
        "population",
        "For a school project: how many people live in Osterwick?",
        (_pop("Osterwick"),),
    ),
    ("population", "number of residents in brisalta", (_pop("Brisalta"),)),
    ("population", "What's Valdoria's population count?", (_pop("Valdoria"),)),
    # --- no tool needed -----------------------------------------------------------------
    ("no_tool", "What is the capital of Portugal?", ("Lisbon",)),
    ("no_tool", "How many arms does an octopus have?", (8.0,)),
    ("no_tool", "What is the chemical symbol for helium?", ("He",)),
    ("no_tool", "how many sides does a heptagon have", (7.0,)),
    ("no_tool", "Which planet is farthest from the Sun?", ("Neptune",)),
    ("no_tool", "Who wrote Pride and Prejudice?", ("Jane Austen", "Austen")),
    ("no_tool", "What is the opposite of heavy?", ("light",)),
    ("no_tool", "What language is mainly spoken in Germany?", ("German",)),
    (
        "no_tool",
        "What is the currency of the United States?",
        (
            "US dollar",
            "the US dollar",
            "dollar",
            "the dollar",
            "U.S. dollar",
            "United States dollar",
            "American dollar",
        ),
    ),
    ("no_tool", "What is the longest river in Africa?", ("Nile", "the Nile", "Nile River")),
    ("no_tool", "what colour is a ripe tomato", ("red",)),
    ("no_tool", "How many teeth does an adult human normally have?", (32.0,)),
    ("no_tool", "Which month comes before June?", ("May",)),
    ("no_tool", "On which continent is Kenya?", ("Africa",)),
    ("no_tool", "What is the plural of 'goose'?", ("geese",)),
    (
        "no_tool",
        "Who was the first President of the United States?",
        ("George Washington", "Washington"),
    ),
    ("no_tool", "How many grams are in a kilogram?", (1000.0,)),
    ("no_tool", "What is the largest country in the world by area?", ("Russia",)),
    ("no_tool", "what's the capital of argentina", ("Buenos Aires",)),
    ("no_tool", "If today is Friday, what day of the week will it be in two days?", ("Sunday",)),
    # --- two steps: one result feeds the next call --------------------------------------
    (
        "two_step",
        "Convert 13 miles to kilometres and multiply by 4.",
        (_conv(13, "mi", "km") * 4,),
    ),
    ("two_step", "what is 16 * 9 feet in metres", (_conv(144, "ft", "m"),)),
    (
        "two_step",
        "Convert 85 kg to pounds, then subtract 30.",
        (_conv(85, "kg", "lb") - 30,),
    ),
    (
        "two_step",
        "Turn 22 °C into Fahrenheit, then add 8.",
        (_conv(22, "c", "f") + 8,),
    ),
    ("two_step", "What is Brisalta's population divided by 70?", (_pop("Brisalta") / 70,)),
    ("two_step", "Quadruple Norrhaven's population.", (_pop("Norrhaven") * 4,)),
    (
        "two_step",
        "Add 37 and 38, then convert that many gallons to litres.",
        (_conv(37 + 38, "gal", "l"),),
    ),
    ("two_step", "What is Estrevia's population plus 23,500?", (_pop("Estrevia") + 23500,)),
    (
        "two_step",
        "If Kethmoor's population grew by a quarter, how many people would live there?",
        (_calc(f"{POPULATIONS['Kethmoor']}*1.25"),),
    ),
    ("two_step", "What's Valdoria's population in hundreds?", (_pop("Valdoria") / 100,)),
    (
        "two_step",
        "Convert 16 gallons to litres and halve the result.",
        (_conv(16, "gal", "l") / 2,),
    ),
    (
        "two_step",
        "A courier drives 6 * 14 miles. How far is that in kilometres?",
        (_conv(6 * 14, "mi", "km"),),
    ),
    (
        "two_step",
        "Convert 3,000 feet to metres, then divide by 4.",
        (_conv(3000, "ft", "m") / 4,),
    ),
    (
        "two_step",
        "what's quenland's population minus 450,000",
        (_pop("Quenland") - 450000,),
    ),
    (
        "two_step",
        "Divide 840 by 7, then convert that many pounds to kilograms.",
        (_conv(840 / 7, "lb", "kg"),),
    ),
    (
        "two_step",
        "Convert 122 °F to Celsius and multiply by 5.",
        (_conv(122, "f", "c") * 5,),
    ),
    ("two_step", "What's an eighth of Lunaria's population?", (_pop("Lunaria") / 8,)),
    (
        "two_step",
        "Convert 5 km to feet, then subtract 1,500.",
        (_conv(5, "km", "ft") - 1500,),
    ),
    ("two_step", "What is Osterwick's population times 8?", (_pop("Osterwick") * 8,)),
    (
        "two_step",
        "Convert 90 litres to gallons and add 10.",
        (_conv(90, "l", "gal") + 10,),
    ),
    (
        "two_step",
        "Suppose Valdoria's population shrank by 15%. How many people would live there then?",
        (_calc(f"{POPULATIONS['Valdoria']}*0.85"),),
    ),
    # --- two or more lookups ------------------------------------------------------------
    (
        "multi_lookup",
        "What's the total population of Lunaria and Kethmoor?",
        (_pop("Lunaria") + _pop("Kethmoor"),),
    ),
    (
        "multi_lookup",
        "how many more people live in estrevia than in norrhaven",
        (_pop("Estrevia") - _pop("Norrhaven"),),
    ),
    (
        "multi_lookup",
        "Which is more populous: Valdoria or Brisalta?",
        (_most("Valdoria", "Brisalta"),),
    ),
    (
        "multi_lookup",
        "Between Quenland and Estrevia, which has fewer residents?",
        (_fewest("Quenland", "Estrevia"),),
    ),
    (
        "multi_lookup",
        "Give me the capitals of Brisalta and Lunaria in the form 'X and Y'.",
        (f"{_cap('Brisalta')} and {_cap('Lunaria')}",),
    ),
    (
        "multi_lookup",
        "Sum the populations of Norrhaven, Estrevia and Quenland.",
        (_pop("Norrhaven") + _pop("Estrevia") + _pop("Quenland"),),
    ),
    (
        "multi_lookup",
        "Which of Valdoria, Osterwick and Norrhaven has the fewest inhabitants?",
        (_fewest("Valdoria", "Osterwick", "Norrhaven"),),
    ),
    (
        "multi_lookup",
        "What is the capital of the less populous of Quenland and Osterwick?",
        (_cap(_fewest("Quenland", "Osterwick")),),
    ),
    (
        "multi_lookup",
        "By how much does Lunaria's population exceed Osterwick's?",
        (_pop("Lunaria") - _pop("Osterwick"),),
    ),
    (
        "multi_lookup",
        "How many people live in Kethmoor and Brisalta combined?",
        (_pop("Kethmoor") + _pop("Brisalta"),),
    ),
    (
        "multi_lookup",
        "capitals of valdoria and kethmoor, as 'X and Y'",
        (f"{_cap('Valdoria')} and {_cap('Kethmoor')}",),
    ),
    (
        "multi_lookup",
        "Which of Norrhaven, Estrevia and Osterwick has the most people?",
        (_most("Norrhaven", "Estrevia", "Osterwick"),),
    ),
    # --- tool shapes (the tools of bench/eval_shapes.py) --------------------------------
    (
        "tool_shapes",
        "How many brackets are sitting in the warehouse?",
        (float(inventory_count("brackets")),),
        "enum argument",
    ),
    ("tool_shapes", "stock count: nuts?", (float(inventory_count("nuts")),), "enum argument"),
    (
        "tool_shapes",
        "Which is lower in stock, washers or bolts? Reply with the item name only.",
        ("washers" if inventory_count("washers") < inventory_count("bolts") else "bolts",),
        "enum argument",
    ),
    (
        "tool_shapes",
        "A customer returns 35 springs. How many springs will we have in stock after that?",
        (float(inventory_count("springs") + 35),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "What's the combined stock of nuts, washers and gaskets?",
        (float(inventory_count("nuts") + inventory_count("washers") + inventory_count("gaskets")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "How much would 11 markers set me back, in dollars?",
        (price("marker", 11),),
        "two typed arguments",
    ),
    ("tool_shapes", "price check: 2 staplers", (price("stapler", 2),), "two typed arguments"),
    (
        "tool_shapes",
        "What does one notebook cost at the shop?",
        (price("notebook", 1),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "Our office needs forty folders. What will that come to in dollars?",
        (price("folder", 40),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "What's the total for 9 pens?",
        (price("pen", 9),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "What date is 75 days after 2025-05-20?",
        _dates(add_days("2025-05-20", 75)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "subtract 30 days from 2024-03-31. which date do you get?",
        _dates(add_days("2024-03-31", -30)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "My visa is valid for 180 days from 7 July 2025. What date is 180 days after that? "
        "Answer as YYYY-MM-DD.",
        _dates(add_days("2025-07-07", 180)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "Which date was three weeks before 2025-01-10?",
        _dates(add_days("2025-01-10", -21)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "What date comes 500 days after New Year's Day 2024? Give it as YYYY-MM-DD.",
        _dates(add_days("2024-01-01", 500)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "How many days are there from 2025-01-20 to 2025-04-30?",
        (float(days_between("2025-01-20", "2025-04-30")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "how many days between 4 July 2024 and 31 October 2024",
        (float(days_between("2024-07-04", "2024-10-31")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "I leave on 2025-08-04 and come back on 2025-08-19. How many days is it from my "
        "departure to my return?",
        (float(days_between("2025-08-04", "2025-08-19")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "It's 2025-09-12 today. How many days until Halloween (2025-10-31)?",
        (float(days_between("2025-09-12", "2025-10-31")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "how many weeks from 2024-10-07 to 2024-12-30?",
        (days_between("2024-10-07", "2024-12-30") / 7,),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many letters are in 'Calvenna Harbour'?",
        (float(count_text("Calvenna Harbour", "letters")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "Count the words in 'the parcel left the depot early this morning'.",
        (float(count_text("the parcel left the depot early this morning", "words")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "vowels in 'Brisalta and Lunaria'?",
        (float(count_text("Brisalta and Lunaria", "vowels")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "How many letters does the word 'Swiftpost' contain?",
        (float(count_text("Swiftpost", "letters")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "Give me the word count of 'Fenbridge fog lifts slowly after the sun comes up'.",
        (float(count_text("Fenbridge fog lifts slowly after the sun comes up", "words")),),
        "text and enum",
    ),
    ("tool_shapes", "Reverse 'Calvenna'.", (reverse_text("Calvenna"),), "free text"),
    ("tool_shapes", "what's 'drawer' spelled backwards", (reverse_text("drawer"),), "free text"),
    (
        "tool_shapes",
        "Reverse the string 'shelf 3C'.",
        (reverse_text("shelf 3C"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Write 'Port Halloway' backwards, character by character.",
        (reverse_text("Port Halloway"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Could you reverse 'pots and pans' for me?",
        (reverse_text("pots and pans"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Has order B-2001 arrived yet? Reply with its status.",
        (str(_order("B-2001", "status")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "how many items are in order b-2001",
        (_num(_order("B-2001", "items")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "Order C-3150: what is its total, in dollars?",
        (_num(_order("C-3150", "total")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "Who is shipping order A-1042? Name the carrier.",
        (str(_order("A-1042", "carrier")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "On what date should order #B-2007 be delivered? YYYY-MM-DD, please.",
        _dates(str(_order("B-2007", "eta"))),
        "JSON object",
    ),
    (
        "tool_shapes",
        "selenport high tomorrow? in °C",
        (_num(_forecast("Selenport", 1)[0]["high_c"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What conditions does the forecast give for Merrowgate on day 2?",
        (str(_forecast("Merrowgate", 2)[1]["conditions"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What is the highest forecast high in Skarholm over the next 4 days, in Celsius?",
        (float(max(_num(d["high_c"]) for d in _forecast("Skarholm", 4))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "On how many of the next five days is Fenbridge forecast to be cloudy?",
        (float(sum(d["conditions"] == "cloudy" for d in _forecast("Fenbridge", 5))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What's the forecast low for Merrowgate on day 3 of the forecast, in °C?",
        (_num(_forecast("Merrowgate", 3)[2]["low_c"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What would as many folders as there are gaskets in stock cost, in dollars?",
        (price("folder", inventory_count("gaskets")),),
        "two steps",
    ),
    (
        "tool_shapes",
        "How many days are there from order B-2007's expected delivery date to 2024-08-01?",
        (float(days_between(str(_order("B-2007", "eta")), "2024-08-01")),),
        "two steps",
    ),
    (
        "tool_shapes",
        "Count the vowels in the name of the carrier of order B-2001.",
        (float(count_text(str(_order("B-2001", "carrier")), "vowels")),),
        "two steps",
    ),
    (
        "tool_shapes",
        "How many degrees higher is tomorrow's forecast high in Merrowgate than in Skarholm?",
        (
            _num(_forecast("Merrowgate", 1)[0]["high_c"])
            - _num(_forecast("Skarholm", 1)[0]["high_c"]),
        ),
        "two steps",
    ),
    (
        "tool_shapes",
        "What date is as many days after 2025-01-01 as there are springs in stock? Answer as "
        "YYYY-MM-DD.",
        _dates(add_days("2025-01-01", inventory_count("springs"))),
        "two steps",
    ),
]

# Written at the start of a new tuning round, before any tuning in it, by someone who had
# not seen the strategy's failures, and committed before it was first run: the seven
# categories in the proportions of _HELD_OUT_2 and five tool-shape tasks for each shape.
# Only for measuring, like _HELD_OUT.
_FRESH_6: list[_Row | _ShapeRow] = [
    # --- arithmetic ---------------------------------------------------------------------
    ("arithmetic", "what is 84 times 59", (_calc("84*59"),)),
    ("arithmetic", "What do you get when you add 31,472 and 8,659?", (_calc("31472+8659"),)),
    ("arithmetic", "7,305 minus 2,868?", (_calc("7305-2868"),)),
    ("arithmetic", "How many times does 27 go into 6,561?", (_calc("6561/27"),)),
    ("arithmetic", "Evaluate (123 - 78) times 11.", (_calc("(123-78)*11"),)),
    ("arithmetic", "three to the eighth power?", (_calc("3**8"),)),
    ("arithmetic", "what is 21 squared", (_calc("21**2"),)),
    ("arithmetic", "What is sixty-three times twenty-nine?", (_calc("63*29"),)),
    ("arithmetic", "what's twenty-two percent of 850", (_calc("850*22/100"),)),
    ("arithmetic", "2,024 mod 17 = ?", (_calc("2024%17"),)),
    ("arithmetic", "What's the total of 1,482, 3,067 and 591?", (_calc("1482+3067+591"),)),
    (
        "arithmetic",
        "How much is one thousand two hundred minus four hundred and sixty-five?",
        (_calc("1200-465"),),
    ),
    ("arithmetic", "8.25 x 14.4", (_calc("8.25*14.4"),)),
    ("arithmetic", "divide 7,200,000 by 4,500", (_calc("7200000/4500"),)),
    ("arithmetic", "Please evaluate 12*(85-47)-36.", (_calc("12*(85-47)-36"),)),
    ("arithmetic", "What is 147 minus 213?", (_calc("147-213"),)),
    ("arithmetic", "multiply 0.065 by 8,000", (_calc("0.065*8000"),)),
    ("arithmetic", "Compute 2^11 + 3^6.", (_calc("2^11+3^6"),)),
    ("arithmetic", "sqrt of 4,489?", (_calc("4489**0.5"),)),
    ("arithmetic", "Please use the calculator: what is 9,108 / 23?", (_calc("9108/23"),)),
    (
        "arithmetic",
        "A farmer packs 48 eggs into each crate and fills 135 crates. How many eggs is that?",
        (_calc("48*135"),),
    ),
    (
        "arithmetic",
        "A parking garage has 7 levels with 86 spaces on each level. How many parking spaces "
        "are there?",
        (_calc("7*86"),),
    ),
    (
        "arithmetic",
        "I pay $1,350 rent a month. How much is that over a year and a half, in dollars?",
        (_calc("1350*18"),),
    ),
    (
        "arithmetic",
        "a runner does 12 laps of a 400 metre track every day. how many metres is that in a week?",
        (_calc("12*400*7"),),
    ),
    ("arithmetic", "what's 37 over 16", (_calc("37/16"),)),
    (
        "arithmetic",
        "average these four numbers: 112, 98, 131, 103",
        (_calc("(112+98+131+103)/4"),),
    ),
    # --- unit conversion ----------------------------------------------------------------
    ("conversion", "38 km in miles?", (_conv(38, "km", "mi"),)),
    (
        "conversion",
        "A bridge is 420 metres long. How long is that in feet?",
        (_conv(420, "m", "ft"),),
    ),
    ("conversion", "How many kg is 210 lb?", (_conv(210, "lb", "kg"),)),
    ("conversion", "What is 28 degrees Celsius in Fahrenheit?", (_conv(28, "c", "f"),)),
    ("conversion", "how many km is 3.1 miles", (_conv(3.1, "mi", "km"),)),
    (
        "conversion",
        "it's 95 degrees fahrenheit outside, what's that in celsius?",
        (_conv(95, "f", "c"),),
    ),
    ("conversion", "How many miles are 2,640 feet?", (_conv(2640, "ft", "mi"),)),
    (
        "conversion",
        "How many litres does a 13-gallon tank hold?",
        (_conv(13, "gal", "l"),),
    ),
    ("conversion", "How many US gallons is 65 L?", (_conv(65, "l", "gal"),)),
    ("conversion", "200 K is how many degrees Celsius?", (_conv(200, "k", "c"),)),
    ("conversion", "-30 celsius to fahrenheit", (_conv(-30, "c", "f"),)),
    (
        "conversion",
        "A bag of rice weighs 7 kg. How many pounds is that?",
        (_conv(7, "kg", "lb"),),
    ),
    ("conversion", "How many metres are in 8.75 kilometres?", (_conv(8.75, "km", "m"),)),
    ("conversion", "How many feet in three quarters of a mile?", (_conv(0.75, "mi", "ft"),)),
    (
        "conversion",
        "A car weighs 3,300 pounds. What's that in kg?",
        (_conv(3300, "lb", "kg"),),
    ),
    ("conversion", "41°F in C?", (_conv(41, "f", "c"),)),
    ("conversion", "How many miles is 10,000 metres?", (_conv(10000, "m", "mi"),)),
    ("conversion", "What is 290 K in degrees Fahrenheit?", (_conv(290, "k", "f"),)),
    ("conversion", "What is -18 °C in kelvin?", (_conv(-18, "c", "k"),)),
    (
        "conversion",
        "A bowling ball weighs 16 lb. How many kilograms is that?",
        (_conv(16, "lb", "kg"),),
    ),
    (
        "conversion",
        "A plane cruises at 36,000 ft. What is that in metres?",
        (_conv(36000, "ft", "m"),),
    ),
    # --- capital lookups ----------------------------------------------------------------
    ("capital", "norrhaven's capital is what city?", (_cap("Norrhaven"),)),
    ("capital", "Which city is Brisalta's seat of government?", (_cap("Brisalta"),)),
    ("capital", "tell me osterwick's capital", (_cap("Osterwick"),)),
    (
        "capital",
        "Heading to Estrevia on business. What's the capital there?",
        (_cap("Estrevia"),),
    ),
    ("capital", "What city is Kethmoor's capital?", (_cap("Kethmoor"),)),
    ("capital", "Valdoria: name its capital.", (_cap("Valdoria"),)),
    ("capital", "need the capital of QUENLAND asap", (_cap("Quenland"),)),
    (
        "capital",
        "I read about Lunaria in the news. What is its capital city?",
        (_cap("Lunaria"),),
    ),
    ("capital", "norrhaven - what's the capital?", (_cap("Norrhaven"),)),
    (
        "capital",
        "Which city is the capital of Osterwick? Reply with just the city.",
        (_cap("Osterwick"),),
    ),
    (
        "capital",
        "My pen pal writes from the capital of Estrevia. What city is that?",
        (_cap("Estrevia"),),
    ),
    ("capital", "Could you find out what the capital of Valdoria is?", (_cap("Valdoria"),)),
    ("capital", "Quenland's capital: which city?", (_cap("Quenland"),)),
    ("capital", "kethmoor's capital city, please", (_cap("Kethmoor"),)),
    (
        "capital",
        "What is the capital of Lunaria? Answer with the name only.",
        (_cap("Lunaria"),),
    ),
    # --- population lookups -------------------------------------------------------------
    ("population", "How many people live in Kethmoor today?", (_pop("Kethmoor"),)),
    ("population", "norrhaven: what's its population?", (_pop("Norrhaven"),)),
    ("population", "Osterwick: population?", (_pop("Osterwick"),)),
    ("population", "Can you give me the population of Estrevia?", (_pop("Estrevia"),)),
    ("population", "Quenland's population - what is it?", (_pop("Quenland"),)),
    (
        "population",
        "I'm writing an essay on Brisalta. How many people live there?",
        (_pop("Brisalta"),),
    ),
    ("population", "valdoria - how many people?", (_pop("Valdoria"),)),
    (
        "population",
        "What is the total number of people living in Lunaria?",
        (_pop("Lunaria"),),
    ),
    ("population", "Look up the number of inhabitants of Kethmoor.", (_pop("Kethmoor"),)),
    ("population", "Population of the country of Osterwick, please.", (_pop("Osterwick"),)),
    ("population", "how populous is estrevia? give the number", (_pop("Estrevia"),)),
    ("population", "quick one: how many people live in Quenland?", (_pop("Quenland"),)),
    # --- no tool needed -----------------------------------------------------------------
    ("no_tool", "What is the capital of Greece?", ("Athens",)),
    ("no_tool", "How many wheels does a tricycle have?", (3.0,)),
    ("no_tool", "What is the chemical symbol for carbon?", ("C",)),
    ("no_tool", "how many sides does a decagon have", (10.0,)),
    ("no_tool", "Which planet is third from the Sun?", ("Earth",)),
    ("no_tool", "Who wrote War and Peace?", ("Leo Tolstoy", "Tolstoy")),
    ("no_tool", "What is the opposite of early?", ("late",)),
    ("no_tool", "What's the main language spoken in Russia?", ("Russian",)),
    (
        "no_tool",
        "What is the currency of India?",
        ("Indian rupee", "the Indian rupee", "rupee", "the rupee", "rupees"),
    ),
    (
        "no_tool",
        "What is the longest river in South America?",
        ("Amazon", "the Amazon", "Amazon River", "the Amazon River"),
    ),
    ("no_tool", "what colour is fresh snow", ("white",)),
    ("no_tool", "How many days are in December?", (31.0,)),
    ("no_tool", "What is the last month of the year?", ("December",)),
    ("no_tool", "Which continent is India in?", ("Asia",)),
    ("no_tool", "What is the plural of 'foot'?", ("feet",)),
    (
        "no_tool",
        "Who painted the ceiling of the Sistine Chapel?",
        ("Michelangelo", "Michelangelo Buonarroti"),
    ),
    ("no_tool", "How many centimetres are in a metre?", (100.0,)),
    ("no_tool", "What is the freezing point of water in Fahrenheit?", (32.0,)),
    ("no_tool", "what's the capital of thailand", ("Bangkok",)),
    ("no_tool", "If today is Tuesday, what day was it yesterday?", ("Monday",)),
    # --- two steps: one result feeds the next call --------------------------------------
    (
        "two_step",
        "Turn 17 miles into kilometres and multiply the answer by 5.",
        (_conv(17, "mi", "km") * 5,),
    ),
    (
        "two_step",
        "A fence is made of 18 panels, each 2.5 metres long. How long is the fence in feet?",
        (_conv(_calc("18*2.5"), "m", "ft"),),
    ),
    (
        "two_step",
        "Take 120 lb in kilograms and add 5.",
        (_conv(120, "lb", "kg") + 5,),
    ),
    (
        "two_step",
        "convert 10 °C to fahrenheit and subtract 18",
        (_conv(10, "c", "f") - 18,),
    ),
    ("two_step", "Divide Quenland's population by 29.", (_pop("Quenland") / 29,)),
    ("two_step", "what's five times estrevia's population", (_pop("Estrevia") * 5,)),
    (
        "two_step",
        "Subtract 19 from 100 and convert the result from litres to gallons.",
        (_conv(100 - 19, "l", "gal"),),
    ),
    ("two_step", "add 90,000 to brisalta's population", (_pop("Brisalta") + 90000,)),
    (
        "two_step",
        "Lunaria's population is expected to rise by 30 percent. What would it be then?",
        (_calc(f"{POPULATIONS['Lunaria']}*130/100"),),
    ),
    ("two_step", "Express Osterwick's population in thousands.", (_pop("Osterwick") / 1000,)),
    (
        "two_step",
        "Split 20 gallons, converted to litres, into 8 equal parts. How many litres is each part?",
        (_conv(20, "gal", "l") / 8,),
    ),
    (
        "two_step",
        "A train travels 45 miles each way. How many kilometres is the round trip?",
        (_conv(45 * 2, "mi", "km"),),
    ),
    (
        "two_step",
        "Convert 48 kg to pounds and divide by 4.",
        (_conv(48, "kg", "lb") / 4,),
    ),
    (
        "two_step",
        "subtract 112,000 from valdoria's population",
        (_pop("Valdoria") - 112000,),
    ),
    (
        "two_step",
        "Divide 936 by 8, then convert that many kilometres to miles.",
        (_conv(936 / 8, "km", "mi"),),
    ),
    (
        "two_step",
        "What is three times the Celsius value of 140 °F?",
        (_conv(140, "f", "c") * 3,),
    ),
    ("two_step", "What's a third of Brisalta's population?", (_pop("Brisalta") / 3,)),
    (
        "two_step",
        "Convert 2 miles to feet, then subtract 560.",
        (_conv(2, "mi", "ft") - 560,),
    ),
    ("two_step", "Norrhaven's population times 12?", (_pop("Norrhaven") * 12,)),
    (
        "two_step",
        "Take 150 litres, express it in gallons, and knock 9 off.",
        (_conv(150, "l", "gal") - 9,),
    ),
    (
        "two_step",
        "Kethmoor's population drops by 10 percent. How many people live there afterwards?",
        (_calc(f"{POPULATIONS['Kethmoor']}*90/100"),),
    ),
    # --- two or more lookups ------------------------------------------------------------
    (
        "multi_lookup",
        "What do the populations of Osterwick and Norrhaven add up to?",
        (_pop("Osterwick") + _pop("Norrhaven"),),
    ),
    (
        "multi_lookup",
        "by how many people does quenland outnumber estrevia",
        (_pop("Quenland") - _pop("Estrevia"),),
    ),
    (
        "multi_lookup",
        "Which has the bigger population, Lunaria or Estrevia?",
        (_most("Lunaria", "Estrevia"),),
    ),
    (
        "multi_lookup",
        "Norrhaven or Lunaria: which has fewer people?",
        (_fewest("Norrhaven", "Lunaria"),),
    ),
    (
        "multi_lookup",
        "Tell me the capitals of Quenland and Norrhaven, written as 'X and Y'.",
        (f"{_cap('Quenland')} and {_cap('Norrhaven')}",),
    ),
    (
        "multi_lookup",
        "Add together the populations of Lunaria, Valdoria and Osterwick.",
        (_pop("Lunaria") + _pop("Valdoria") + _pop("Osterwick"),),
    ),
    (
        "multi_lookup",
        "Among Estrevia, Osterwick and Quenland, which is the most populous?",
        (_most("Estrevia", "Osterwick", "Quenland"),),
    ),
    (
        "multi_lookup",
        "Find the more populous of Brisalta and Quenland and give me its capital.",
        (_cap(_most("Brisalta", "Quenland")),),
    ),
    (
        "multi_lookup",
        "How many times bigger is Valdoria's population than Norrhaven's?",
        (_pop("Valdoria") / _pop("Norrhaven"),),
    ),
    (
        "multi_lookup",
        "What's the gap between the populations of Valdoria and Estrevia?",
        (_pop("Valdoria") - _pop("Estrevia"),),
    ),
    (
        "multi_lookup",
        "capitals of lunaria and estrevia? answer 'X and Y'",
        (f"{_cap('Lunaria')} and {_cap('Estrevia')}",),
    ),
    (
        "multi_lookup",
        "Estrevia and Kethmoor together: how many people?",
        (_pop("Estrevia") + _pop("Kethmoor"),),
    ),
    # --- tool shapes (the tools of bench/eval_shapes.py) --------------------------------
    (
        "tool_shapes",
        "Tell me the stock level of hinges.",
        (float(inventory_count("hinges")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "what's the inventory count for springs",
        (float(inventory_count("springs")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "Do we have more nuts or washers in stock? Name the item.",
        ("nuts" if inventory_count("nuts") > inventory_count("washers") else "washers",),
        "enum argument",
    ),
    (
        "tool_shapes",
        "If a delivery of 400 bolts arrives, how many bolts will we have in stock?",
        (float(inventory_count("bolts") + 400),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "How many more bolts than nuts are in stock?",
        (float(inventory_count("bolts") - inventory_count("nuts")),),
        "enum argument",
    ),
    ("tool_shapes", "What would 25 pens cost?", (price("pen", 25),), "two typed arguments"),
    ("tool_shapes", "how much for 5 backpacks", (price("backpack", 5),), "two typed arguments"),
    (
        "tool_shapes",
        "Cost of a dozen markers, in dollars?",
        (price("marker", 12),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "I'd like to buy 3 notebooks. How much will that be?",
        (price("notebook", 3),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "What is the price of 100 folders?",
        (price("folder", 100),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "60 days on from 2025-02-15 - what's the date?",
        _dates(add_days("2025-02-15", 60)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "Which date was 90 days before 4 July 2024? Answer as YYYY-MM-DD.",
        _dates(add_days("2024-07-04", -90)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "A bill is due 45 days after 2024-09-20. What's the due date?",
        _dates(add_days("2024-09-20", 45)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "add 2 weeks to 2025-12-22",
        _dates(add_days("2025-12-22", 14)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "Go back 200 days from 1 January 2026. Which date is it? Give YYYY-MM-DD.",
        _dates(add_days("2026-01-01", -200)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "How many days from 2025-03-01 to 2025-09-01?",
        (float(days_between("2025-03-01", "2025-09-01")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "days between 10 May 2024 and 22 August 2024",
        (float(days_between("2024-05-10", "2024-08-22")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "A lease runs from 2024-04-15 to 2025-04-15. How many days is that?",
        (float(days_between("2024-04-15", "2025-04-15")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "From 2024-11-11, how many days is it until Valentine's Day 2025 (2025-02-14)?",
        (float(days_between("2024-11-11", "2025-02-14")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many weeks are there between 2025-01-06 and 2025-04-14?",
        (days_between("2025-01-06", "2025-04-14") / 7,),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many letters are in 'Norrhaven Bay'?",
        (float(count_text("Norrhaven Bay", "letters")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "count the words in 'the blue van is parked behind the old mill'",
        (float(count_text("the blue van is parked behind the old mill", "words")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "How many vowels in 'Merrowgate'?",
        (float(count_text("Merrowgate", "vowels")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "Count the letters in the word 'strengths'.",
        (float(count_text("strengths", "letters")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "What's the number of vowels in 'audio equipment'?",
        (float(count_text("audio equipment", "vowels")),),
        "text and enum",
    ),
    ("tool_shapes", "Reverse 'Skarholm'.", (reverse_text("Skarholm"),), "free text"),
    (
        "tool_shapes",
        "spell 'kayak racing' backwards",
        (reverse_text("kayak racing"),),
        "free text",
    ),
    (
        "tool_shapes",
        "What do you get if you write 'Ondmere Road' backwards?",
        (reverse_text("Ondmere Road"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Reverse the characters in 'bin 42A'.",
        (reverse_text("bin 42A"),),
        "free text",
    ),
    ("tool_shapes", "Write 'Lunaria' in reverse.", (reverse_text("Lunaria"),), "free text"),
    (
        "tool_shapes",
        "order c-3150 status?",
        (str(_order("C-3150", "status")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "Order A-1042: how many items?",
        (_num(_order("A-1042", "items")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "Tell me the status of order #B-2007.",
        (str(_order("B-2007", "status")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What's the expected delivery date of order A-1042? Use YYYY-MM-DD.",
        _dates(str(_order("A-1042", "eta"))),
        "JSON object",
    ),
    (
        "tool_shapes",
        "How much was order B-2001 in total, in dollars?",
        (_num(_order("B-2001", "total")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What's the forecast high in Fenbridge on day 4, in °C?",
        (_num(_forecast("Fenbridge", 4)[3]["high_c"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "what's the weather in selenport tomorrow? just the conditions",
        (str(_forecast("Selenport", 1)[0]["conditions"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What's the lowest forecast low in Merrowgate over the next 5 days, in °C?",
        (float(min(_num(d["low_c"]) for d in _forecast("Merrowgate", 5))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "On how many of the next 5 days is rain forecast in Merrowgate?",
        (float(sum(d["conditions"] == "rain" for d in _forecast("Merrowgate", 5))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "Which conditions are expected in Skarholm on day 3 of the forecast?",
        (str(_forecast("Skarholm", 3)[2]["conditions"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "Buy one notebook for each item in order B-2007: what does that cost, in dollars?",
        (price("notebook", int(_num(_order("B-2007", "items")))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "Order A-1042 and order B-2007: how many days apart are their expected delivery dates?",
        (float(days_between(str(_order("A-1042", "eta")), str(_order("B-2007", "eta")))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "Thirty days before order A-1042 is due to arrive, what's the date? YYYY-MM-DD please.",
        _dates(add_days(str(_order("A-1042", "eta")), -30)),
        "two steps",
    ),
    (
        "tool_shapes",
        "How many hinges would be left in stock after using as many as there are items in "
        "order B-2001?",
        (float(inventory_count("hinges") - _num(_order("B-2001", "items"))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "How much higher is Selenport's forecast high than Fenbridge's on day 2, in °C?",
        (
            _num(_forecast("Selenport", 2)[1]["high_c"])
            - _num(_forecast("Fenbridge", 2)[1]["high_c"]),
        ),
        "two steps",
    ),
]


# Written at the start of a new tuning round, before any tuning in it, by someone who had
# not seen the strategy's failures, and committed before it was first run: the seven
# categories in the proportions of _HELD_OUT_2 and five tool-shape tasks for each shape.
# Only for measuring, like _HELD_OUT.
_FRESH_7: list[_Row | _ShapeRow] = [
    # --- arithmetic ---------------------------------------------------------------------
    ("arithmetic", "what's 93 times 17", (_calc("93*17"),)),
    ("arithmetic", "What's 45,318 plus 27,904?", (_calc("45318+27904"),)),
    ("arithmetic", "9,021 take away 3,456", (_calc("9021-3456"),)),
    ("arithmetic", "How many 32s make 8,192?", (_calc("8192/32"),)),
    ("arithmetic", "Evaluate 14 * (96 - 58) + 7.", (_calc("14*(96-58)+7"),)),
    ("arithmetic", "two to the power of fifteen?", (_calc("2**15"),)),
    ("arithmetic", "square 34 for me", (_calc("34**2"),)),
    ("arithmetic", "forty-eight multiplied by seventy-three, please", (_calc("48*73"),)),
    ("arithmetic", "what's 17.5 percent of 1,240", (_calc("1240*17.5/100"),)),
    ("arithmetic", "Find 3,001 modulo 19.", (_calc("3001%19"),)),
    ("arithmetic", "Total up 2,718, 1,414 and 3,162.", (_calc("2718+1414+3162"),)),
    (
        "arithmetic",
        "From two thousand five hundred, take away eight hundred and forty-nine.",
        (_calc("2500-849"),),
    ),
    ("arithmetic", "6.75 x 12.8", (_calc("6.75*12.8"),)),
    ("arithmetic", "What is 9.45 million divided by 3,500?", (_calc("9450000/3500"),)),
    ("arithmetic", "Work out (250 - 87) times (14 + 6).", (_calc("(250-87)*(14+6)"),)),
    ("arithmetic", "265 - 418 = ?", (_calc("265-418"),)),
    ("arithmetic", "How much is 16,000 times 0.0375?", (_calc("16000*0.0375"),)),
    ("arithmetic", "what's 4 cubed plus 9 squared", (_calc("4**3+9**2"),)),
    (
        "arithmetic",
        "What positive number, multiplied by itself, gives 6,241?",
        (_calc("6241**0.5"),),
    ),
    ("arithmetic", "with the calculator, find 11,776 / 46", (_calc("11776/46"),)),
    (
        "arithmetic",
        "A warehouse stacks 56 boxes on each pallet. How many boxes are on 145 pallets?",
        (_calc("56*145"),),
    ),
    (
        "arithmetic",
        "Each row of a vineyard has 215 vines, and there are 64 rows. How many vines are there "
        "altogether?",
        (_calc("215*64"),),
    ),
    (
        "arithmetic",
        "My gym membership costs $39 a month. What do I pay over two and a half years, in dollars?",
        (_calc("39*30"),),
    ),
    (
        "arithmetic",
        "a courier makes 35 deliveries a day, 5 days a week. how many deliveries is that in 6 "
        "weeks?",
        (_calc("35*5*6"),),
    ),
    ("arithmetic", "how much is 53 ÷ 8", (_calc("53/8"),)),
    ("arithmetic", "mean of 245, 310, 287 and 198?", (_calc("(245+310+287+198)/4"),)),
    # --- unit conversion ----------------------------------------------------------------
    ("conversion", "54 km to mi", (_conv(54, "km", "mi"),)),
    ("conversion", "How many feet long is a 25 m pool?", (_conv(25, "m", "ft"),)),
    ("conversion", "convert 185 lbs to kilos", (_conv(185, "lb", "kg"),)),
    (
        "conversion",
        "It's 33 degrees Celsius today. What is that in Fahrenheit?",
        (_conv(33, "c", "f"),),
    ),
    ("conversion", "how many kilometres is a 7.5-mile hike", (_conv(7.5, "mi", "km"),)),
    ("conversion", "the thermometer says 5 °F. in celsius?", (_conv(5, "f", "c"),)),
    ("conversion", "13,200 ft is how many miles?", (_conv(13200, "ft", "mi"),)),
    ("conversion", "Convert five and a half gallons to litres.", (_conv(5.5, "gal", "l"),)),
    ("conversion", "What's 40 litres in US gallons?", (_conv(40, "l", "gal"),)),
    ("conversion", "Turn 350 kelvin into degrees Celsius.", (_conv(350, "k", "c"),)),
    ("conversion", "minus 4 degrees fahrenheit in celsius?", (_conv(-4, "f", "c"),)),
    (
        "conversion",
        "A newborn baby weighs 3.4 kg. What's that in pounds?",
        (_conv(3.4, "kg", "lb"),),
    ),
    ("conversion", "0.6 km = how many m?", (_conv(0.6, "km", "m"),)),
    ("conversion", "How many metres is a mile and a half?", (_conv(1.5, "mi", "m"),)),
    ("conversion", "Convert 18,000 lb to kg, please.", (_conv(18000, "lb", "kg"),)),
    ("conversion", "61 °F in °C?", (_conv(61, "f", "c"),)),
    ("conversion", "What is 3,200 m in miles?", (_conv(3200, "m", "mi"),)),
    ("conversion", "What's 250 K in °F?", (_conv(250, "k", "f"),)),
    ("conversion", "How many kelvin is 45 °C?", (_conv(45, "c", "k"),)),
    ("conversion", "how many kg is a 25 lb dumbbell", (_conv(25, "lb", "kg"),)),
    ("conversion", "What's 1,250 feet in metres?", (_conv(1250, "ft", "m"),)),
    # --- capital lookups ----------------------------------------------------------------
    (
        "capital",
        "I'm booking a flight to the capital of Brisalta. Which city do I fly to?",
        (_cap("Brisalta"),),
    ),
    ("capital", "valdoria has what capital?", (_cap("Valdoria"),)),
    ("capital", "Kethmoor's capital — what's it called?", (_cap("Kethmoor"),)),
    ("capital", "Quenland — what's its capital city called?", (_cap("Quenland"),)),
    ("capital", "Where is the capital of Estrevia? Give the city.", (_cap("Estrevia"),)),
    ("capital", "Lunaria — I need the name of its capital.", (_cap("Lunaria"),)),
    ("capital", "The capital of Norrhaven — which city?", (_cap("Norrhaven"),)),
    ("capital", "I keep forgetting: Osterwick's capital is?", (_cap("Osterwick"),)),
    ("capital", "What's the capital of the nation of Brisalta?", (_cap("Brisalta"),)),
    (
        "capital",
        "Can you tell me what city is the capital of Kethmoor?",
        (_cap("Kethmoor"),),
    ),
    ("capital", "valdoria's capital? answer in one word", (_cap("Valdoria"),)),
    ("capital", "The capital of Estrevia is which city?", (_cap("Estrevia"),)),
    ("capital", "Quiz time: Norrhaven's capital?", (_cap("Norrhaven"),)),
    (
        "capital",
        "A letter arrived postmarked from Lunaria's capital. What city is that?",
        (_cap("Lunaria"),),
    ),
    ("capital", "need quenland's capital city for a form", (_cap("Quenland"),)),
    # --- population lookups -------------------------------------------------------------
    ("population", "Kethmoor — total number of residents?", (_pop("Kethmoor"),)),
    (
        "population",
        "Give me the number of people living in Norrhaven.",
        (_pop("Norrhaven"),),
    ),
    ("population", "Lunaria — how many inhabitants?", (_pop("Lunaria"),)),
    ("population", "how many folks live in valdoria", (_pop("Valdoria"),)),
    ("population", "Osterwick is home to how many people?", (_pop("Osterwick"),)),
    (
        "population",
        "For a report on Quenland, I need its population.",
        (_pop("Quenland"),),
    ),
    ("population", "What's the size of Quenland's population?", (_pop("Quenland"),)),
    ("population", "brisalta - population figure please", (_pop("Brisalta"),)),
    ("population", "Check how many people live in Lunaria.", (_pop("Lunaria"),)),
    ("population", "Look up how many inhabitants Valdoria has.", (_pop("Valdoria"),)),
    ("population", "How large is the population of Norrhaven?", (_pop("Norrhaven"),)),
    ("population", "Estrevia: how many residents?", (_pop("Estrevia"),)),
    # --- no tool needed -----------------------------------------------------------------
    ("no_tool", "What is the capital of Ireland?", ("Dublin",)),
    ("no_tool", "How many legs does a chicken have?", (2.0,)),
    ("no_tool", "What is the chemical symbol for hydrogen?", ("H",)),
    ("no_tool", "how many sides does a square have", (4.0,)),
    ("no_tool", "What is the name of Earth's natural satellite?", ("the Moon", "Moon")),
    ("no_tool", "Who wrote the Odyssey?", ("Homer",)),
    ("no_tool", "What is the opposite of open?", ("closed", "shut")),
    ("no_tool", "What language is spoken in Japan?", ("Japanese",)),
    ("no_tool", "What currency does Germany use?", ("euro", "the euro", "euros")),
    (
        "no_tool",
        "What is the largest desert in Africa?",
        ("Sahara", "the Sahara", "Sahara Desert", "the Sahara Desert"),
    ),
    ("no_tool", "what colour is coal", ("black",)),
    ("no_tool", "How many colours are in a rainbow?", (7.0,)),
    ("no_tool", "In which month is Christmas Day?", ("December",)),
    ("no_tool", "In which country is the Eiffel Tower?", ("France",)),
    ("no_tool", "What's the past tense of 'eat'?", ("ate",)),
    (
        "no_tool",
        "Who composed the Moonlight Sonata?",
        ("Ludwig van Beethoven", "Beethoven"),
    ),
    ("no_tool", "How many ounces are in a pound?", (16.0,)),
    (
        "no_tool",
        "At what temperature in Fahrenheit does water boil at sea level?",
        (212.0,),
    ),
    ("no_tool", "what's the capital of south korea", ("Seoul",)),
    ("no_tool", "What day comes after Wednesday?", ("Thursday",)),
    # --- two steps: one result feeds the next call --------------------------------------
    (
        "two_step",
        "half of 26 miles, expressed in km?",
        (_conv(26, "mi", "km") / 2,),
    ),
    (
        "two_step",
        "A garden path is 14 paving stones long, each 0.6 m. How long is the path in feet?",
        (_conv(_calc("14*0.6"), "m", "ft"),),
    ),
    (
        "two_step",
        "Change 95 lb into kilograms, then add 12.",
        (_conv(95, "lb", "kg") + 12,),
    ),
    (
        "two_step",
        "What's 131 °F in Celsius, minus 5?",
        (_conv(131, "f", "c") - 5,),
    ),
    (
        "two_step",
        "Brisalta has 55 districts with equal populations. How many people live in each district?",
        (_pop("Brisalta") / 55,),
    ),
    ("two_step", "seven times osterwick's population?", (_pop("Osterwick") * 7,)),
    (
        "two_step",
        "I have two bags weighing 45 kg and 37 kg. What's their combined weight in pounds?",
        (_conv(_calc("45+37"), "kg", "lb"),),
    ),
    (
        "two_step",
        "If 1,850 people move to Norrhaven, what will its population be?",
        (_pop("Norrhaven") + 1850,),
    ),
    (
        "two_step",
        "What would Estrevia's population be after a 12% increase?",
        (_calc(f"{POPULATIONS['Estrevia']}*112/100"),),
    ),
    (
        "two_step",
        "Quenland's population: how many tens of thousands is that?",
        (_pop("Quenland") / 10000,),
    ),
    (
        "two_step",
        "Three 12-gallon drums are emptied into a tank. How many litres is that?",
        (_conv(_calc("3*12"), "gal", "l"),),
    ),
    (
        "two_step",
        "A commuter drives 23 km to work and 23 km back, 5 days a week. How many miles is "
        "that in a week?",
        (_conv(_calc("23*2*5"), "km", "mi"),),
    ),
    (
        "two_step",
        "Turn 72 kilograms into pounds and take a sixth of it.",
        (_conv(72, "kg", "lb") / 6,),
    ),
    (
        "two_step",
        "What's Valdoria's population less 64,000?",
        (_pop("Valdoria") - 64000,),
    ),
    (
        "two_step",
        "Multiply 125 by 6 and express that many metres in feet.",
        (_conv(_calc("125*6"), "m", "ft"),),
    ),
    (
        "two_step",
        "Take -12 °C, put it in Fahrenheit, then add 40.",
        (_conv(-12, "c", "f") + 40,),
    ),
    (
        "two_step",
        "What's three eighths of Kethmoor's population?",
        (_calc(f"{POPULATIONS['Kethmoor']}*3/8"),),
    ),
    (
        "two_step",
        "4 miles in feet, divided by 11?",
        (_conv(4, "mi", "ft") / 11,),
    ),
    ("two_step", "norrhaven's population / 400 = ?", (_pop("Norrhaven") / 400,)),
    (
        "two_step",
        "500 litres is how many gallons? Then subtract 100 from that.",
        (_conv(500, "l", "gal") - 100,),
    ),
    (
        "two_step",
        "lunaria loses a quarter of its population. how many people are left?",
        (_calc(f"{POPULATIONS['Lunaria']}*3/4"),),
    ),
    # --- two or more lookups ------------------------------------------------------------
    (
        "multi_lookup",
        "Brisalta and Osterwick: total population?",
        (_pop("Brisalta") + _pop("Osterwick"),),
    ),
    (
        "multi_lookup",
        "Lunaria outnumbers Kethmoor by how many people?",
        (_pop("Lunaria") - _pop("Kethmoor"),),
    ),
    (
        "multi_lookup",
        "Brisalta vs Estrevia — which has more residents?",
        (_most("Brisalta", "Estrevia"),),
    ),
    (
        "multi_lookup",
        "which is smaller in population, estrevia or kethmoor?",
        (_fewest("Estrevia", "Kethmoor"),),
    ),
    (
        "multi_lookup",
        "I need the capitals of Kethmoor and Quenland. Answer like 'X and Y'.",
        (f"{_cap('Kethmoor')} and {_cap('Quenland')}",),
    ),
    (
        "multi_lookup",
        "Combined population of Norrhaven, Brisalta and Lunaria?",
        (_pop("Norrhaven") + _pop("Brisalta") + _pop("Lunaria"),),
    ),
    (
        "multi_lookup",
        "Which is the largest by population: Kethmoor, Valdoria or Estrevia?",
        (_most("Kethmoor", "Valdoria", "Estrevia"),),
    ),
    (
        "multi_lookup",
        "Give me the capital of whichever of Lunaria and Osterwick has fewer people.",
        (_cap(_fewest("Lunaria", "Osterwick")),),
    ),
    (
        "multi_lookup",
        "What's the ratio of Brisalta's population to Osterwick's?",
        (_pop("Brisalta") / _pop("Osterwick"),),
    ),
    (
        "multi_lookup",
        "Take Lunaria's population away from Quenland's.",
        (_pop("Quenland") - _pop("Lunaria"),),
    ),
    (
        "multi_lookup",
        "among brisalta, norrhaven and quenland, which has the fewest people",
        (_fewest("Brisalta", "Norrhaven", "Quenland"),),
    ),
    (
        "multi_lookup",
        "Whichever of Estrevia and Valdoria is more populous — what is its capital?",
        (_cap(_most("Estrevia", "Valdoria")),),
    ),
    # --- tool shapes (the tools of bench/eval_shapes.py) --------------------------------
    (
        "tool_shapes",
        "Give me the current count of brackets in stock.",
        (float(inventory_count("brackets")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "washers — how many are in stock right now?",
        (float(inventory_count("washers")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "Which do we hold more of, springs or hinges? Give the item name.",
        ("springs" if inventory_count("springs") > inventory_count("hinges") else "hinges",),
        "enum argument",
    ),
    (
        "tool_shapes",
        "After we sell 90 gaskets, how many gaskets are left in stock?",
        (float(inventory_count("gaskets") - 90),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "hinges plus springs in stock, total?",
        (float(inventory_count("hinges") + inventory_count("springs")),),
        "enum argument",
    ),
    ("tool_shapes", "what do 7 staplers cost", (price("stapler", 7),), "two typed arguments"),
    (
        "tool_shapes",
        "Price of twenty-five markers, in dollars?",
        (price("marker", 25),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "I'm buying 2 backpacks for my kids. What's the cost?",
        (price("backpack", 2),),
        "two typed arguments",
    ),
    ("tool_shapes", "How much are 150 pens?", (price("pen", 150),), "two typed arguments"),
    (
        "tool_shapes",
        "quote me for 8 notebooks",
        (price("notebook", 8),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "Jan 31, 2025 plus 30 days = which date?",
        _dates(add_days("2025-01-31", 30)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "If I add 365 days to 10 June 2025, what date do I get? Give YYYY-MM-DD.",
        _dates(add_days("2025-06-10", 365)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "count forward 19 days from 2024-02-20. which date is that?",
        _dates(add_days("2024-02-20", 19)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "What date was 1,000 days before 2025-09-01?",
        _dates(add_days("2025-09-01", -1000)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "Take 3 weeks off 2026-03-15 — which date do you get?",
        _dates(add_days("2026-03-15", -21)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "How many days separate 2024-07-01 and 2024-12-31?",
        (float(days_between("2024-07-01", "2024-12-31")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "from 14 february 2025 to 1 june 2025, how many days?",
        (float(days_between("2025-02-14", "2025-06-01")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "I started a job on 2023-11-20. How many days had passed by 2025-02-10?",
        (float(days_between("2023-11-20", "2025-02-10")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "Number of days from 2024-02-01 to 2024-03-31?",
        (float(days_between("2024-02-01", "2024-03-31")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "2025-04-07 to 2025-07-28 is how many weeks?",
        (days_between("2025-04-07", "2025-07-28") / 7,),
        "two dates",
    ),
    (
        "tool_shapes",
        "'Kethmoor Valley' — how many letters?",
        (float(count_text("Kethmoor Valley", "letters")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "word count: 'bring two spare keys and a torch to the cabin'",
        (float(count_text("bring two spare keys and a torch to the cabin", "words")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "how many vowels are in 'Estrevia'",
        (float(count_text("Estrevia", "vowels")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "Count the vowels in the sentence 'a heavy rain fell on the quiet town'.",
        (float(count_text("a heavy rain fell on the quiet town", "vowels")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "How many letters are there in 'Swiftpost Express 24'?",
        (float(count_text("Swiftpost Express 24", "letters")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "write 'stone bridge' back to front",
        (reverse_text("stone bridge"),),
        "free text",
    ),
    ("tool_shapes", "What is 'Quenland' reversed?", (reverse_text("Quenland"),), "free text"),
    (
        "tool_shapes",
        "Give me 'route 66' spelled backwards.",
        (reverse_text("route 66"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Reverse every character of 'Hello, Calvenna!'",
        (reverse_text("Hello, Calvenna!"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Reverse the phrase 'open late'.",
        (reverse_text("open late"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Name the shipping company for order #B-2001.",
        (str(_order("B-2001", "carrier")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "Where is order A-1043 at? Give me its status.",
        (str(_order("A-1043", "status")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "How much did I pay for order #B-2007? Dollars, please.",
        (_num(_order("B-2007", "total")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What's the item count on order a-1043?",
        (_num(_order("A-1043", "items")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What do orders A-1042 and B-2001 come to together, in dollars?",
        (_num(_order("A-1042", "total")) + _num(_order("B-2001", "total")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "Selenport, day 4 of the forecast: how low will it get, in °C?",
        (_num(_forecast("Selenport", 4)[3]["low_c"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "tomorrow's conditions in skarholm?",
        (str(_forecast("Skarholm", 1)[0]["conditions"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "highest of the forecast lows in Fenbridge for the next 4 days, in °C?",
        (float(max(_num(d["low_c"]) for d in _forecast("Fenbridge", 4))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "in merrowgate, how many sunny days are forecast in the coming 4 days?",
        (float(sum(d["conditions"] == "sunny" for d in _forecast("Merrowgate", 4))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "Which of the next five days has the highest forecast high in Skarholm? Give the day "
        "number.",
        (_num(max(_forecast("Skarholm", 5), key=lambda d: _num(d["high_c"]))["day"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "Over the next 3 days, how many degrees separate Selenport's highest forecast high "
        "from Skarholm's lowest forecast low?",
        (
            max(_num(d["high_c"]) for d in _forecast("Selenport", 3))
            - min(_num(d["low_c"]) for d in _forecast("Skarholm", 3)),
        ),
        "two steps",
    ),
    (
        "tool_shapes",
        "I have 28 days after order A-1042's expected delivery date to return it. What's the "
        "last day to return it? YYYY-MM-DD, please.",
        _dates(add_days(str(_order("A-1042", "eta")), 28)),
        "two steps",
    ),
    (
        "tool_shapes",
        "By how many dollars does order B-2001's total exceed the cost of 5 backpacks?",
        (round(_num(_order("B-2001", "total")) - price("backpack", 5), 2),),
        "two steps",
    ),
    (
        "tool_shapes",
        "We use 12 gaskets for each item in order B-2001. How many gaskets are left in stock "
        "afterwards?",
        (float(inventory_count("gaskets") - 12 * _num(_order("B-2001", "items"))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "Add the price of 3 notebooks to the total of order A-1043. How many dollars is that?",
        (round(price("notebook", 3) + _num(_order("A-1043", "total")), 2),),
        "two steps",
    ),
]

# Written at the start of a new tuning round, before any tuning in it, by someone who had
# not seen the strategy's failures, and committed before it was first run: the seven
# categories in the proportions of _HELD_OUT_2 and five tool-shape tasks for each shape.
# Only for measuring, like _HELD_OUT.
_FRESH_8: list[_Row | _ShapeRow] = [
    # --- arithmetic ---------------------------------------------------------------------
    ("arithmetic", "what's 86 times 29", (_calc("86*29"),)),
    ("arithmetic", "What is 63,207 plus 18,795?", (_calc("63207+18795"),)),
    ("arithmetic", "12,004 minus 7,689", (_calc("12004-7689"),)),
    ("arithmetic", "How many times does 24 go into 9,216?", (_calc("9216/24"),)),
    ("arithmetic", "Evaluate (73 - 19) * 11 + 4.", (_calc("(73-19)*11+4"),)),
    ("arithmetic", "three to the power of nine?", (_calc("3**9"),)),
    ("arithmetic", "cube 23 for me", (_calc("23**3"),)),
    ("arithmetic", "sixty-seven times fifty-four, please", (_calc("67*54"),)),
    ("arithmetic", "what's 12.5 percent of 3,680", (_calc("3680*12.5/100"),)),
    (
        "arithmetic",
        "What's the remainder when 4,567 is divided by 23?",
        (_calc("4567%23"),),
    ),
    ("arithmetic", "Add up 1,732, 2,236 and 2,646.", (_calc("1732+2236+2646"),)),
    (
        "arithmetic",
        "Take three hundred and seventy-eight away from four thousand.",
        (_calc("4000-378"),),
    ),
    ("arithmetic", "9.35 x 16.8", (_calc("9.35*16.8"),)),
    ("arithmetic", "What is 7.2 million divided by 4,800?", (_calc("7200000/4800"),)),
    ("arithmetic", "Work out (410 + 95) times (33 - 17).", (_calc("(410+95)*(33-17)"),)),
    ("arithmetic", "127 - 560 = ?", (_calc("127-560"),)),
    ("arithmetic", "How much is 48,000 times 0.0225?", (_calc("48000*0.0225"),)),
    ("arithmetic", "what's 5 to the fourth minus 12 squared", (_calc("5**4-12**2"),)),
    ("arithmetic", "Which whole number, squared, equals 7,396?", (_calc("7396**0.5"),)),
    ("arithmetic", "using the calculator, work out 15,351 / 51", (_calc("15351/51"),)),
    (
        "arithmetic",
        "A bakery packs 18 rolls in a bag. How many rolls go into 236 bags?",
        (_calc("18*236"),),
    ),
    (
        "arithmetic",
        "A stadium has 87 sections with 342 seats in each. How many seats does it have in total?",
        (_calc("87*342"),),
    ),
    (
        "arithmetic",
        "My phone plan is $27 a month. How much do I pay over a year and a half, in dollars?",
        (_calc("27*18"),),
    ),
    (
        "arithmetic",
        "a nurse works 12-hour shifts, 4 shifts a week. how many hours is that over 9 weeks?",
        (_calc("12*4*9"),),
    ),
    ("arithmetic", "how much is 97 ÷ 16", (_calc("97/16"),)),
    (
        "arithmetic",
        "average of 412, 389, 455, 506 and 398?",
        (_calc("(412+389+455+506+398)/5"),),
    ),
    # --- unit conversion ----------------------------------------------------------------
    ("conversion", "38 mi to km", (_conv(38, "mi", "km"),)),
    ("conversion", "How many feet tall is a 12 m tree?", (_conv(12, "m", "ft"),)),
    ("conversion", "convert 142 lbs to kilos", (_conv(142, "lb", "kg"),)),
    (
        "conversion",
        "The oven is set to 190 degrees Celsius. What's that in Fahrenheit?",
        (_conv(190, "c", "f"),),
    ),
    (
        "conversion",
        "how many miles is a 42.2-kilometre marathon",
        (_conv(42.2, "km", "mi"),),
    ),
    (
        "conversion",
        "the forecast says 23 °F. what is that in celsius?",
        (_conv(23, "f", "c"),),
    ),
    ("conversion", "26,400 ft is how many miles?", (_conv(26400, "ft", "mi"),)),
    (
        "conversion",
        "Convert seven and a quarter gallons to litres.",
        (_conv(7.25, "gal", "l"),),
    ),
    ("conversion", "What's 75 litres in US gallons?", (_conv(75, "l", "gal"),)),
    (
        "conversion",
        "Express 295 kelvin in degrees Fahrenheit.",
        (_conv(295, "k", "f"),),
    ),
    (
        "conversion",
        "-15 °C — what's that in Fahrenheit?",
        (_conv(-15, "c", "f"),),
    ),
    (
        "conversion",
        "A checked suitcase weighs 23 kg. How many pounds is that?",
        (_conv(23, "kg", "lb"),),
    ),
    ("conversion", "how many metres in 2.75 km", (_conv(2.75, "km", "m"),)),
    (
        "conversion",
        "How many metres is three quarters of a mile?",
        (_conv(0.75, "mi", "m"),),
    ),
    ("conversion", "Convert 9,500 kg to lb, please.", (_conv(9500, "kg", "lb"),)),
    ("conversion", "Express 88 °F in Celsius.", (_conv(88, "f", "c"),)),
    ("conversion", "What is 4,800 m in miles?", (_conv(4800, "m", "mi"),)),
    ("conversion", "What's 0 °F in kelvin?", (_conv(0, "f", "k"),)),
    ("conversion", "Give 37 °C in kelvin.", (_conv(37, "c", "k"),)),
    ("conversion", "how many pounds is a 16 kg kettlebell", (_conv(16, "kg", "lb"),)),
    ("conversion", "What's 2,640 feet in metres?", (_conv(2640, "ft", "m"),)),
    # --- capital lookups ----------------------------------------------------------------
    (
        "capital",
        "I'm mailing a parcel to the capital of Quenland. Which city goes on the label?",
        (_cap("Quenland"),),
    ),
    ("capital", "estrevia's capital city?", (_cap("Estrevia"),)),
    ("capital", "Name the capital of Brisalta.", (_cap("Brisalta"),)),
    ("capital", "Kethmoor: capital?", (_cap("Kethmoor"),)),
    ("capital", "Tell me the capital of Valdoria, please.", (_cap("Valdoria"),)),
    ("capital", "what city serves as the capital of norrhaven", (_cap("Norrhaven"),)),
    ("capital", "Lunaria's capital is called what?", (_cap("Lunaria"),)),
    ("capital", "Which city is Osterwick's capital?", (_cap("Osterwick"),)),
    (
        "capital",
        "For my geography homework I need the capital of Quenland.",
        (_cap("Quenland"),),
    ),
    ("capital", "the capital of brisalta, in one word?", (_cap("Brisalta"),)),
    ("capital", "Do you know the capital of Estrevia?", (_cap("Estrevia"),)),
    ("capital", "Find out which city is the capital of Lunaria.", (_cap("Lunaria"),)),
    ("capital", "Norrhaven — capital city, please.", (_cap("Norrhaven"),)),
    (
        "capital",
        "Which city is the capital of the country called Valdoria?",
        (_cap("Valdoria"),),
    ),
    (
        "capital",
        "Osterwick: what's the capital? Just the city name.",
        (_cap("Osterwick"),),
    ),
    # --- population lookups -------------------------------------------------------------
    ("population", "How many people call Brisalta home?", (_pop("Brisalta"),)),
    ("population", "valdoria population?", (_pop("Valdoria"),)),
    ("population", "In Estrevia, how many inhabitants are there?", (_pop("Estrevia"),)),
    (
        "population",
        "I need Kethmoor's headcount — how many people live there?",
        (_pop("Kethmoor"),),
    ),
    ("population", "What's the number of residents in Osterwick?", (_pop("Osterwick"),)),
    ("population", "Tell me Quenland's population.", (_pop("Quenland"),)),
    ("population", "look up lunaria's population", (_pop("Lunaria"),)),
    ("population", "Norrhaven: number of inhabitants?", (_pop("Norrhaven"),)),
    ("population", "How many people are living in Estrevia?", (_pop("Estrevia"),)),
    (
        "population",
        "For a census summary, what is Brisalta's population?",
        (_pop("Brisalta"),),
    ),
    ("population", "Population of Kethmoor, please.", (_pop("Kethmoor"),)),
    (
        "population",
        "Can you find out how many people live in Osterwick?",
        (_pop("Osterwick"),),
    ),
    # --- no tool needed -----------------------------------------------------------------
    ("no_tool", "What is the capital of Austria?", ("Vienna",)),
    ("no_tool", "How many legs does a horse have?", (4.0,)),
    ("no_tool", "What is the chemical symbol for nitrogen?", ("N",)),
    ("no_tool", "how many sides does a nonagon have", (9.0,)),
    ("no_tool", "Who wrote Oliver Twist?", ("Charles Dickens", "Dickens")),
    ("no_tool", "What is the opposite of wet?", ("dry",)),
    ("no_tool", "What is the plural of 'tooth'?", ("teeth",)),
    ("no_tool", "Which planet is second from the Sun?", ("Venus",)),
    ("no_tool", "What language is mainly spoken in the Netherlands?", ("Dutch",)),
    ("no_tool", "what colour is milk", ("white",)),
    ("no_tool", "How many days are in September?", (30.0,)),
    ("no_tool", "which month comes after october", ("November",)),
    ("no_tool", "what's the capital of sweden", ("Stockholm",)),
    ("no_tool", "What's the past tense of 'swim'?", ("swam",)),
    (
        "no_tool",
        "What currency is used in Switzerland?",
        ("Swiss franc", "the Swiss franc", "franc", "francs", "Swiss francs"),
    ),
    ("no_tool", "Which continent is Nigeria in?", ("Africa",)),
    ("no_tool", "Who wrote the poem 'The Raven'?", ("Edgar Allan Poe", "Poe")),
    ("no_tool", "What is the largest continent by area?", ("Asia",)),
    ("no_tool", "How many wheels does a standard car have?", (4.0,)),
    ("no_tool", "What is the opposite of young?", ("old",)),
    # --- two steps: one result feeds the next call --------------------------------------
    (
        "two_step",
        "a third of 45 miles, in kilometres?",
        (_conv(_calc("45/3"), "mi", "km"),),
    ),
    (
        "two_step",
        "A fence has 22 panels, each 1.8 m wide. How long is the fence in feet?",
        (_conv(_calc("22*1.8"), "m", "ft"),),
    ),
    (
        "two_step",
        "Convert 160 lb to kilograms, then subtract 9.",
        (_conv(160, "lb", "kg") - 9,),
    ),
    (
        "two_step",
        "What's 212 °F in Celsius, divided by 4?",
        (_conv(212, "f", "c") / 4,),
    ),
    (
        "two_step",
        "Estrevia's people are spread evenly over 75 villages. How many live in each village?",
        (_pop("Estrevia") / 75,),
    ),
    ("two_step", "triple brisalta's population", (_pop("Brisalta") * 3,)),
    (
        "two_step",
        "I poured 2.5 gal and then 4 gal of water into a barrel. How many litres is that in total?",
        (_conv(_calc("2.5+4"), "gal", "l"),),
    ),
    (
        "two_step",
        "If 3,700 people leave Osterwick, what is its new population?",
        (_pop("Osterwick") - 3700,),
    ),
    (
        "two_step",
        "What would Quenland's population be after growing by 8%?",
        (_calc(f"{POPULATIONS['Quenland']}*108/100"),),
    ),
    (
        "two_step",
        "Valdoria's population: how many thousands is that?",
        (_pop("Valdoria") / 1000,),
    ),
    (
        "two_step",
        "Four crates of 35 kg each go on a scale. What does the scale read in pounds?",
        (_conv(_calc("4*35"), "kg", "lb"),),
    ),
    (
        "two_step",
        "A cyclist rides 18 miles a day for 6 days. How many kilometres is that altogether?",
        (_conv(_calc("18*6"), "mi", "km"),),
    ),
    (
        "two_step",
        "Convert 30 litres to gallons and multiply the result by 3.",
        (_conv(30, "l", "gal") * 3,),
    ),
    (
        "two_step",
        "What's Lunaria's population plus 23,500?",
        (_pop("Lunaria") + 23500,),
    ),
    (
        "two_step",
        "Divide 9,000 by 12 and express that many feet in metres.",
        (_conv(_calc("9000/12"), "ft", "m"),),
    ),
    (
        "two_step",
        "Start with 310 K, convert it to Celsius, then double it.",
        (_conv(310, "k", "c") * 2,),
    ),
    (
        "two_step",
        "What's two fifths of Lunaria's population?",
        (_calc(f"{POPULATIONS['Lunaria']}*2/5"),),
    ),
    (
        "two_step",
        "12 km in miles, times 5?",
        (_conv(12, "km", "mi") * 5,),
    ),
    (
        "two_step",
        "Norrhaven covers 4,600 square km. How many people per square km live there?",
        (_pop("Norrhaven") / 4600,),
    ),
    (
        "two_step",
        "How many gallons is 1,000 litres? Add 35 to that.",
        (_conv(1000, "l", "gal") + 35,),
    ),
    (
        "two_step",
        "if kethmoor's population doubled and then 1,200 more people moved in, how many "
        "people would live there?",
        (_calc(f"{POPULATIONS['Kethmoor']}*2+1200"),),
    ),
    # --- two or more lookups ------------------------------------------------------------
    (
        "multi_lookup",
        "Quenland and Kethmoor together: how many people?",
        (_pop("Quenland") + _pop("Kethmoor"),),
    ),
    (
        "multi_lookup",
        "By how many people does Valdoria's population exceed Estrevia's?",
        (_pop("Valdoria") - _pop("Estrevia"),),
    ),
    (
        "multi_lookup",
        "Osterwick or Norrhaven — which has more people?",
        (_most("Osterwick", "Norrhaven"),),
    ),
    (
        "multi_lookup",
        "which has fewer inhabitants, lunaria or valdoria?",
        (_fewest("Lunaria", "Valdoria"),),
    ),
    (
        "multi_lookup",
        "List the capitals of Estrevia and Osterwick, as 'X and Y'.",
        (f"{_cap('Estrevia')} and {_cap('Osterwick')}",),
    ),
    (
        "multi_lookup",
        "Total population of Kethmoor, Estrevia and Quenland?",
        (_pop("Kethmoor") + _pop("Estrevia") + _pop("Quenland"),),
    ),
    (
        "multi_lookup",
        "Of Lunaria, Norrhaven and Brisalta, which is the most populous?",
        (_most("Lunaria", "Norrhaven", "Brisalta"),),
    ),
    (
        "multi_lookup",
        "What is the capital of whichever of Valdoria and Quenland has more people?",
        (_cap(_most("Valdoria", "Quenland")),),
    ),
    (
        "multi_lookup",
        "Divide Lunaria's population by Kethmoor's.",
        (_pop("Lunaria") / _pop("Kethmoor"),),
    ),
    (
        "multi_lookup",
        "How many more people live in Brisalta than in Quenland?",
        (_pop("Brisalta") - _pop("Quenland"),),
    ),
    (
        "multi_lookup",
        "kethmoor, osterwick, estrevia: which one has the smallest population?",
        (_fewest("Kethmoor", "Osterwick", "Estrevia"),),
    ),
    (
        "multi_lookup",
        "Of Norrhaven and Osterwick, the less populous one has which capital?",
        (_cap(_fewest("Norrhaven", "Osterwick")),),
    ),
    # --- tool shapes (the tools of bench/eval_shapes.py) --------------------------------
    (
        "tool_shapes",
        "How many bolts do we have in stock?",
        (float(inventory_count("bolts")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "nuts: current stock level?",
        (float(inventory_count("nuts")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "Do we have more brackets or gaskets in stock? Name the item.",
        ("brackets" if inventory_count("brackets") > inventory_count("gaskets") else "gaskets",),
        "enum argument",
    ),
    (
        "tool_shapes",
        "If a customer buys 300 washers, how many washers remain in stock?",
        (float(inventory_count("washers") - 300),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "What's the combined stock of bolts and nuts?",
        (float(inventory_count("bolts") + inventory_count("nuts")),),
        "enum argument",
    ),
    ("tool_shapes", "How much do 4 folders cost?", (price("folder", 4),), "two typed arguments"),
    (
        "tool_shapes",
        "What's the price of 12 staplers?",
        (price("stapler", 12),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "price for a single backpack?",
        (price("backpack", 1),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "I need thirty pens — what will that come to?",
        (price("pen", 30),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "What would 9 markers cost, in dollars?",
        (price("marker", 9),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "What date is 60 days after 2025-03-15?",
        _dates(add_days("2025-03-15", 60)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "Add 100 days to 5 August 2024. Give the date as YYYY-MM-DD.",
        _dates(add_days("2024-08-05", 100)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "count back 45 days from 2025-01-17. what date is it?",
        _dates(add_days("2025-01-17", -45)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "What's the date 6 weeks after 2024-12-28?",
        _dates(add_days("2024-12-28", 42)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "A warranty lasts 730 days from 2023-10-02. On what date does it end?",
        _dates(add_days("2023-10-02", 730)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "How many days are there from 2025-01-01 to 2025-12-25?",
        (float(days_between("2025-01-01", "2025-12-25")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "days from 3 march 2024 to 19 october 2024",
        (float(days_between("2024-03-03", "2024-10-19")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "My subscription started on 2024-08-08 and ends on 2025-01-20. How many days is that?",
        (float(days_between("2024-08-08", "2025-01-20")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "Number of days between 2023-12-15 and 2024-03-01?",
        (float(days_between("2023-12-15", "2024-03-01")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many weeks lie between 2025-05-05 and 2025-08-11?",
        (days_between("2025-05-05", "2025-08-11") / 7,),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many letters does 'Port Halloway' have?",
        (float(count_text("Port Halloway", "letters")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "count the words in 'we will meet at the north gate after lunch'",
        (float(count_text("we will meet at the north gate after lunch", "words")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "how many vowels does 'Calvenna' contain",
        (float(count_text("Calvenna", "vowels")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "Number of vowels in 'the old lighthouse keeper'?",
        (float(count_text("the old lighthouse keeper", "vowels")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "How many letters are in 'Dock 7 North'?",
        (float(count_text("Dock 7 North", "letters")),),
        "text and enum",
    ),
    ("tool_shapes", "Reverse 'Fenbridge'.", (reverse_text("Fenbridge"),), "free text"),
    (
        "tool_shapes",
        "spell 'silver lake' backwards",
        (reverse_text("silver lake"),),
        "free text",
    ),
    (
        "tool_shapes",
        "What's 'Port Halloway' written back to front?",
        (reverse_text("Port Halloway"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Reverse the string 'gate 19B'.",
        (reverse_text("gate 19B"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Write the phrase 'north wind' in reverse.",
        (reverse_text("north wind"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Which carrier is shipping order B-2007?",
        (str(_order("B-2007", "carrier")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "status of order b-2001?",
        (str(_order("B-2001", "status")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "How many items are in order #B-2007?",
        (_num(_order("B-2007", "items")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What did order A-1042 cost in total, in dollars?",
        (_num(_order("A-1042", "total")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "When is order B-2007 expected to arrive? YYYY-MM-DD please.",
        _dates(str(_order("B-2007", "eta"))),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What's the forecast low in Selenport on day 2, in °C?",
        (_num(_forecast("Selenport", 2)[1]["low_c"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "merrowgate tomorrow: what conditions are expected?",
        (str(_forecast("Merrowgate", 1)[0]["conditions"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What's the warmest forecast high in Fenbridge over the next 5 days, in °C?",
        (float(max(_num(d["high_c"]) for d in _forecast("Fenbridge", 5))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "How many snowy days are in Skarholm's 5-day forecast?",
        (float(sum(d["conditions"] == "snow" for d in _forecast("Skarholm", 5))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "Over the next five days, on which day is Selenport's forecast low at its lowest? "
        "Give the day number.",
        (_num(min(_forecast("Selenport", 5), key=lambda d: _num(d["low_c"]))["day"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What do as many pens as there are items in order B-2001 cost, in dollars?",
        (price("pen", int(_num(_order("B-2001", "items")))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "How many days after order B-2001's expected delivery date is order A-1042's?",
        (float(days_between(str(_order("B-2001", "eta")), str(_order("A-1042", "eta")))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "What's the date two weeks after order B-2007's expected delivery? YYYY-MM-DD, please.",
        _dates(add_days(str(_order("B-2007", "eta")), 14)),
        "two steps",
    ),
    (
        "tool_shapes",
        "How many letters are in the name of the carrier shipping order B-2007?",
        (float(count_text(str(_order("B-2007", "carrier")), "letters")),),
        "two steps",
    ),
    (
        "tool_shapes",
        "Tomorrow's forecast highs: how many °C warmer is Merrowgate than Skarholm?",
        (
            _num(_forecast("Merrowgate", 1)[0]["high_c"])
            - _num(_forecast("Skarholm", 1)[0]["high_c"]),
        ),
        "two steps",
    ),
]


_FRESH_9: list[_Row | _ShapeRow] = [
    # --- arithmetic ---------------------------------------------------------------------
    ("arithmetic", "what's 74 times 38", (_calc("74*38"),)),
    ("arithmetic", "What is 45,309 plus 27,864?", (_calc("45309+27864"),)),
    ("arithmetic", "20,013 take away 8,476", (_calc("20013-8476"),)),
    (
        "arithmetic",
        "Split 12,996 into 36 equal parts. How big is each part?",
        (_calc("12996/36"),),
    ),
    ("arithmetic", "compute 14 * (58 + 27) - 9", (_calc("14*(58+27)-9"),)),
    ("arithmetic", "what is two raised to the thirteenth power", (_calc("2**13"),)),
    ("arithmetic", "What's 19 cubed?", (_calc("19**3"),)),
    ("arithmetic", "multiply forty-three by seventy-eight", (_calc("43*78"),)),
    ("arithmetic", "what's 35% of 1,460", (_calc("1460*35/100"),)),
    (
        "arithmetic",
        "What's left over when you divide 8,123 by 37?",
        (_calc("8123%37"),),
    ),
    ("arithmetic", "Sum these: 2,718, 3,141 and 1,414.", (_calc("2718+3141+1414"),)),
    (
        "arithmetic",
        "I had 5,000 dollars and spent 1,287 of them. How many dollars are left?",
        (_calc("5000-1287"),),
    ),
    ("arithmetic", "6.45 x 23.2", (_calc("6.45*23.2"),)),
    ("arithmetic", "What's 3.6 million divided by 7,500?", (_calc("3600000/7500"),)),
    ("arithmetic", "Work out (264 - 88) times (19 + 6).", (_calc("(264-88)*(19+6)"),)),
    ("arithmetic", "what is 215 minus 904", (_calc("215-904"),)),
    ("arithmetic", "How much is 62,500 times 0.036?", (_calc("62500*0.036"),)),
    ("arithmetic", "what's 6 cubed plus 15 squared", (_calc("6**3+15**2"),)),
    (
        "arithmetic",
        "What number multiplied by itself gives 9,409?",
        (_calc("9409**0.5"),),
    ),
    ("arithmetic", "with the calculator, divide 27,144 by 78", (_calc("27144/78"),)),
    (
        "arithmetic",
        "A printer does 42 pages a minute. How many pages does it print in 135 minutes?",
        (_calc("42*135"),),
    ),
    (
        "arithmetic",
        "A box holds twelve eggs. How many eggs are in 389 boxes?",
        (_calc("12*389"),),
    ),
    (
        "arithmetic",
        "Our rent is $1,150 a month. What does it come to over two years, in dollars?",
        (_calc("1150*24"),),
    ),
    (
        "arithmetic",
        "a courier drives 7 hours a day, 5 days a week. how many hours is that in 13 weeks?",
        (_calc("7*5*13"),),
    ),
    ("arithmetic", "What's 125 ÷ 16?", (_calc("125/16"),)),
    (
        "arithmetic",
        "Please find the mean of 74, 81, 69, 92 and 88.",
        (_calc("(74+81+69+92+88)/5"),),
    ),
    # --- unit conversion ----------------------------------------------------------------
    ("conversion", "55 km to mi", (_conv(55, "km", "mi"),)),
    (
        "conversion",
        "Our ceiling is 2.7 m high. How many feet is that?",
        (_conv(2.7, "m", "ft"),),
    ),
    ("conversion", "convert 187 lbs to kg", (_conv(187, "lb", "kg"),)),
    (
        "conversion",
        "The pool is heated to 31 degrees Celsius. What is that in Fahrenheit?",
        (_conv(31, "c", "f"),),
    ),
    (
        "conversion",
        "how many kilometres is a 62-mile bike ride",
        (_conv(62, "mi", "km"),),
    ),
    ("conversion", "it's 91 °F outside. what's that in celsius?", (_conv(91, "f", "c"),)),
    ("conversion", "21,120 ft is how many miles?", (_conv(21120, "ft", "mi"),)),
    ("conversion", "Convert twelve gallons to liters.", (_conv(12, "gal", "l"),)),
    ("conversion", "What's 320 litres in US gallons?", (_conv(320, "l", "gal"),)),
    ("conversion", "Express 250 kelvin in degrees Celsius.", (_conv(250, "k", "c"),)),
    ("conversion", "-13 °F — what is that in Celsius?", (_conv(-13, "f", "c"),)),
    (
        "conversion",
        "A sack of rice weighs 22 kg. How many pounds is that?",
        (_conv(22, "kg", "lb"),),
    ),
    ("conversion", "how many meters in 0.85 km", (_conv(0.85, "km", "m"),)),
    (
        "conversion",
        "How many feet are in two and a half miles?",
        (_conv(2.5, "mi", "ft"),),
    ),
    ("conversion", "Convert 3,400 lb to kg, please.", (_conv(3400, "lb", "kg"),)),
    (
        "conversion",
        "The recipe says bake at 375 °F. What is that in Celsius?",
        (_conv(375, "f", "c"),),
    ),
    ("conversion", "What is 7,500 m in miles?", (_conv(7500, "m", "mi"),)),
    ("conversion", "What's 100 °C in kelvin?", (_conv(100, "c", "k"),)),
    ("conversion", "Give 300 K in Fahrenheit.", (_conv(300, "k", "f"),)),
    ("conversion", "how many kilos is a 45 lb weight plate", (_conv(45, "lb", "kg"),)),
    (
        "conversion",
        "A radio mast is 1,450 ft tall. How many metres is that?",
        (_conv(1450, "ft", "m"),),
    ),
    # --- capital lookups ----------------------------------------------------------------
    (
        "capital",
        "I'm flying to Valdoria's capital next week. Which city is that?",
        (_cap("Valdoria"),),
    ),
    ("capital", "capital city of kethmoor pls", (_cap("Kethmoor"),)),
    ("capital", "Give me the capital of Lunaria.", (_cap("Lunaria"),)),
    ("capital", "Osterwick — what's its capital city?", (_cap("Osterwick"),)),
    ("capital", "What's the capital city of Estrevia called?", (_cap("Estrevia"),)),
    ("capital", "could you tell me what the capital of brisalta is", (_cap("Brisalta"),)),
    ("capital", "Which city is the capital of Norrhaven? Just the name.", (_cap("Norrhaven"),)),
    ("capital", "Quenland — name its capital.", (_cap("Quenland"),)),
    ("capital", "what is quenland's capital city", (_cap("Quenland"),)),
    (
        "capital",
        "My pen pal lives in the capital of Osterwick. Which city is that?",
        (_cap("Osterwick"),),
    ),
    ("capital", "Capital of Kethmoor, please.", (_cap("Kethmoor"),)),
    ("capital", "Look up the capital of Valdoria.", (_cap("Valdoria"),)),
    ("capital", "Which city is Lunaria's capital?", (_cap("Lunaria"),)),
    ("capital", "estrevia — capital?", (_cap("Estrevia"),)),
    (
        "capital",
        "I need the name of Brisalta's capital for a form.",
        (_cap("Brisalta"),),
    ),
    # --- population lookups -------------------------------------------------------------
    ("population", "quenland: how many residents?", (_pop("Quenland"),)),
    ("population", "How many people live in Norrhaven altogether?", (_pop("Norrhaven"),)),
    ("population", "Look up how many people Lunaria has.", (_pop("Lunaria"),)),
    ("population", "brisalta population please", (_pop("Brisalta"),)),
    (
        "population",
        "How many people does Valdoria have? I need the exact figure.",
        (_pop("Valdoria"),),
    ),
    ("population", "How many inhabitants does Osterwick have?", (_pop("Osterwick"),)),
    ("population", "how many folks live in kethmoor", (_pop("Kethmoor"),)),
    (
        "population",
        "I'm writing a report on Estrevia. What's its population?",
        (_pop("Estrevia"),),
    ),
    ("population", "Tell me how many people reside in Norrhaven.", (_pop("Norrhaven"),)),
    ("population", "Find the population of Lunaria.", (_pop("Lunaria"),)),
    ("population", "what's osterwick's population", (_pop("Osterwick"),)),
    (
        "population",
        "Quenland has how many inhabitants? Just the number, please.",
        (_pop("Quenland"),),
    ),
    # --- no tool needed -----------------------------------------------------------------
    ("no_tool", "What is the capital of Poland?", ("Warsaw",)),
    ("no_tool", "How many legs does a cow have?", (4.0,)),
    ("no_tool", "What is the chemical symbol for zinc?", ("Zn",)),
    ("no_tool", "how many sides does a rectangle have", (4.0,)),
    ("no_tool", "Who wrote Hamlet?", ("William Shakespeare", "Shakespeare")),
    ("no_tool", "What is the opposite of happy?", ("sad",)),
    ("no_tool", "What is the plural of 'woman'?", ("women",)),
    ("no_tool", "Which planet is fourth from the Sun?", ("Mars",)),
    ("no_tool", "What language is mainly spoken in Portugal?", ("Portuguese",)),
    ("no_tool", "what colour is a lemon", ("yellow",)),
    ("no_tool", "How many days are in January?", (31.0,)),
    ("no_tool", "which month comes before march", ("February",)),
    ("no_tool", "what's the capital of peru", ("Lima",)),
    ("no_tool", "What's the past tense of 'run'?", ("ran",)),
    (
        "no_tool",
        "What currency is used in Mexico?",
        ("Mexican peso", "the Mexican peso", "peso", "pesos", "Mexican pesos"),
    ),
    ("no_tool", "Which continent is Argentina in?", ("South America",)),
    (
        "no_tool",
        "Who painted The Last Supper?",
        ("Leonardo da Vinci", "da Vinci", "Leonardo"),
    ),
    ("no_tool", "How many minutes are in half an hour?", (30.0,)),
    ("no_tool", "What is the opposite of empty?", ("full",)),
    ("no_tool", "What fruit is the main ingredient of guacamole?", ("avocado", "avocados")),
    # --- two steps: one result feeds the next call --------------------------------------
    (
        "two_step",
        "half of 86 miles, in kilometres?",
        (_conv(_calc("86/2"), "mi", "km"),),
    ),
    (
        "two_step",
        "A shelf holds 14 boxes of 2.5 kg each. What's the total weight in pounds?",
        (_conv(_calc("14*2.5"), "kg", "lb"),),
    ),
    (
        "two_step",
        "Convert 95 kg to pounds, then add 12.",
        (_conv(95, "kg", "lb") + 12,),
    ),
    (
        "two_step",
        "What's 50 °C in Fahrenheit, minus 20?",
        (_conv(50, "c", "f") - 20,),
    ),
    (
        "two_step",
        "If Quenland's people were split evenly across 125 towns, how many would live in "
        "each town?",
        (_pop("Quenland") / 125,),
    ),
    ("two_step", "double osterwick's population", (_pop("Osterwick") * 2,)),
    (
        "two_step",
        "I drove 120 km on Monday and 85 km on Tuesday. How many miles is that altogether?",
        (_conv(_calc("120+85"), "km", "mi"),),
    ),
    (
        "two_step",
        "If 9,400 people move to Kethmoor, what will its population be?",
        (_pop("Kethmoor") + 9400,),
    ),
    (
        "two_step",
        "What would Brisalta's population be after shrinking by 4%?",
        (_calc(f"{POPULATIONS['Brisalta']}*96/100"),),
    ),
    (
        "two_step",
        "Estrevia's population: how many hundreds is that?",
        (_pop("Estrevia") / 100,),
    ),
    (
        "two_step",
        "Three barrels hold 55 gallons each. How many litres is that in total?",
        (_conv(_calc("3*55"), "gal", "l"),),
    ),
    (
        "two_step",
        "A runner does 7 laps of an 8 km loop. How many miles does she run?",
        (_conv(_calc("7*8"), "km", "mi"),),
    ),
    (
        "two_step",
        "Convert 18 gallons to litres and divide the result by 4.",
        (_conv(18, "gal", "l") / 4,),
    ),
    (
        "two_step",
        "What's Osterwick's population minus 27,300?",
        (_pop("Osterwick") - 27300,),
    ),
    (
        "two_step",
        "Multiply 48 by 25 and express that many metres in feet.",
        (_conv(_calc("48*25"), "m", "ft"),),
    ),
    (
        "two_step",
        "Take 68 °F, convert it to Celsius, then multiply by 3.",
        (_conv(68, "f", "c") * 3,),
    ),
    (
        "two_step",
        "What's three quarters of Estrevia's population?",
        (_calc(f"{POPULATIONS['Estrevia']}*3/4"),),
    ),
    (
        "two_step",
        "20 miles in km, divided by 4?",
        (_conv(20, "mi", "km") / 4,),
    ),
    (
        "two_step",
        "Valdoria covers 16,240 square km. How many people per square km live there?",
        (_pop("Valdoria") / 16240,),
    ),
    (
        "two_step",
        "How many kilograms is 250 lb? Subtract 15 from that.",
        (_conv(250, "lb", "kg") - 15,),
    ),
    (
        "two_step",
        "if lunaria's population fell by half and then 8,000 people moved in, how many "
        "people would live there?",
        (_calc(f"{POPULATIONS['Lunaria']}/2+8000"),),
    ),
    # --- two or more lookups ------------------------------------------------------------
    (
        "multi_lookup",
        "Estrevia and Norrhaven together: how many people?",
        (_pop("Estrevia") + _pop("Norrhaven"),),
    ),
    (
        "multi_lookup",
        "How many more people does Brisalta have than Osterwick?",
        (_pop("Brisalta") - _pop("Osterwick"),),
    ),
    (
        "multi_lookup",
        "Estrevia or Kethmoor — which is more populous?",
        (_most("Estrevia", "Kethmoor"),),
    ),
    (
        "multi_lookup",
        "which has fewer people, quenland or brisalta?",
        (_fewest("Quenland", "Brisalta"),),
    ),
    (
        "multi_lookup",
        "Give the capitals of Kethmoor and Lunaria, as 'X and Y'.",
        (f"{_cap('Kethmoor')} and {_cap('Lunaria')}",),
    ),
    (
        "multi_lookup",
        "What's the combined population of Valdoria, Osterwick and Norrhaven?",
        (_pop("Valdoria") + _pop("Osterwick") + _pop("Norrhaven"),),
    ),
    (
        "multi_lookup",
        "Of Estrevia, Valdoria and Quenland, which has the most people?",
        (_most("Estrevia", "Valdoria", "Quenland"),),
    ),
    (
        "multi_lookup",
        "Which city is the capital of the more populous of Brisalta and Lunaria?",
        (_cap(_most("Brisalta", "Lunaria")),),
    ),
    (
        "multi_lookup",
        "Divide Quenland's population by Norrhaven's.",
        (_pop("Quenland") / _pop("Norrhaven"),),
    ),
    (
        "multi_lookup",
        "What's the average population of Lunaria and Valdoria?",
        ((_pop("Lunaria") + _pop("Valdoria")) / 2,),
    ),
    (
        "multi_lookup",
        "osterwick, kethmoor, norrhaven: which one has the largest population?",
        (_most("Osterwick", "Kethmoor", "Norrhaven"),),
    ),
    (
        "multi_lookup",
        "Of Estrevia and Kethmoor, what's the capital of the one with fewer people?",
        (_cap(_fewest("Estrevia", "Kethmoor")),),
    ),
    # --- tool shapes (the tools of bench/eval_shapes.py) --------------------------------
    (
        "tool_shapes",
        "washers in stock, please",
        (float(inventory_count("washers")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "What's the stock level of gaskets right now?",
        (float(inventory_count("gaskets")),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "Which is higher in stock, springs or gaskets? Give just the item name.",
        ("springs" if inventory_count("springs") > inventory_count("gaskets") else "gaskets",),
        "enum argument",
    ),
    (
        "tool_shapes",
        "We're sending 48 hinges to a customer. How many hinges will be left in stock?",
        (float(inventory_count("hinges") - 48),),
        "enum argument",
    ),
    (
        "tool_shapes",
        "total stock of washers and brackets?",
        (float(inventory_count("washers") + inventory_count("brackets")),),
        "enum argument",
    ),
    ("tool_shapes", "How much do 6 markers cost?", (price("marker", 6),), "two typed arguments"),
    (
        "tool_shapes",
        "What's the price of 14 staplers?",
        (price("stapler", 14),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "cost of two notebooks?",
        (price("notebook", 2),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "I'd like eighteen pens. How much is that, in dollars?",
        (price("pen", 18),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "What would 7 backpacks cost?",
        (price("backpack", 7),),
        "two typed arguments",
    ),
    (
        "tool_shapes",
        "What date is 75 days after 2025-10-01?",
        _dates(add_days("2025-10-01", 75)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "Add 150 days to 12 March 2025. Give the date as YYYY-MM-DD.",
        _dates(add_days("2025-03-12", 150)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "go back 60 days from 2024-05-01. which date is it?",
        _dates(add_days("2024-05-01", -60)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "What's the date ten weeks after 2025-07-14?",
        _dates(add_days("2025-07-14", 70)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "My library book is due 21 days after 2025-11-20. What's the due date?",
        _dates(add_days("2025-11-20", 21)),
        "date and integer",
    ),
    (
        "tool_shapes",
        "How many days are there from 2025-02-10 to 2025-11-30?",
        (float(days_between("2025-02-10", "2025-11-30")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "days between 12 june 2024 and 3 december 2024",
        (float(days_between("2024-06-12", "2024-12-03")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "My contract began on 2023-05-22 and ends on 2024-02-29. How many days is that?",
        (float(days_between("2023-05-22", "2024-02-29")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "Number of days from 2024-10-15 to 2025-01-05?",
        (float(days_between("2024-10-15", "2025-01-05")),),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many weeks are there from 2025-09-01 to 2025-11-24?",
        (days_between("2025-09-01", "2025-11-24") / 7,),
        "two dates",
    ),
    (
        "tool_shapes",
        "How many letters are in 'Ondmere Harbour'?",
        (float(count_text("Ondmere Harbour", "letters")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "count the words in 'the night train to Selenport leaves at nine'",
        (float(count_text("the night train to Selenport leaves at nine", "words")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "how many vowels does 'Osterwick' have",
        (float(count_text("Osterwick", "vowels")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "Number of vowels in 'a quiet evening by the river'?",
        (float(count_text("a quiet evening by the river", "vowels")),),
        "text and enum",
    ),
    (
        "tool_shapes",
        "How many letters are in 'Pier 14 South'?",
        (float(count_text("Pier 14 South", "letters")),),
        "text and enum",
    ),
    ("tool_shapes", "Reverse 'Brisalta'.", (reverse_text("Brisalta"),), "free text"),
    (
        "tool_shapes",
        "spell 'amber road' backwards",
        (reverse_text("amber road"),),
        "free text",
    ),
    (
        "tool_shapes",
        "What's 'Skarholm Ridge' written back to front?",
        (reverse_text("Skarholm Ridge"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Reverse the string 'dock 27C'.",
        (reverse_text("dock 27C"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Write the phrase 'east harbour' in reverse.",
        (reverse_text("east harbour"),),
        "free text",
    ),
    (
        "tool_shapes",
        "Which shipping company has order #A-1042?",
        (str(_order("A-1042", "carrier")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "order B-2007 — what's its status?",
        (str(_order("B-2007", "status")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "Item count for order B-2001?",
        (_num(_order("B-2001", "items")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What's the total of order B-2007, in dollars?",
        (_num(_order("B-2007", "total")),),
        "JSON object",
    ),
    (
        "tool_shapes",
        "When should order a-1042 arrive? Give YYYY-MM-DD.",
        _dates(str(_order("A-1042", "eta"))),
        "JSON object",
    ),
    (
        "tool_shapes",
        "What's the forecast high in Skarholm on day 3, in °C?",
        (_num(_forecast("Skarholm", 3)[2]["high_c"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "fenbridge, day 3 of the forecast: what conditions?",
        (str(_forecast("Fenbridge", 3)[2]["conditions"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What's the coldest forecast low in Skarholm over the next 5 days, in °C?",
        (float(min(_num(d["low_c"]) for d in _forecast("Skarholm", 5))),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What's the average forecast high in Fenbridge over the next 4 days, in °C?",
        (sum(_num(d["high_c"]) for d in _forecast("Fenbridge", 4)) / 4,),
        "optional argument",
    ),
    (
        "tool_shapes",
        "Over the next four days, on which day is Merrowgate's forecast high at its highest? "
        "Give the day number.",
        (_num(max(_forecast("Merrowgate", 4), key=lambda d: _num(d["high_c"]))["day"]),),
        "optional argument",
    ),
    (
        "tool_shapes",
        "What do as many markers as there are items in order A-1042 cost, in dollars?",
        (price("marker", int(_num(_order("A-1042", "items")))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "How many days are there from 2024-05-01 until order B-2001's expected delivery date?",
        (float(days_between("2024-05-01", str(_order("B-2001", "eta")))),),
        "two steps",
    ),
    (
        "tool_shapes",
        "What's the date 45 days after order B-2001's expected delivery? YYYY-MM-DD, please.",
        _dates(add_days(str(_order("B-2001", "eta")), 45)),
        "two steps",
    ),
    (
        "tool_shapes",
        "How many vowels are in the name of the carrier shipping order B-2007?",
        (float(count_text(str(_order("B-2007", "carrier")), "vowels")),),
        "two steps",
    ),
    (
        "tool_shapes",
        "Tomorrow's forecast lows: how many °C colder is Fenbridge than Selenport?",
        (
            _num(_forecast("Selenport", 1)[0]["low_c"])
            - _num(_forecast("Fenbridge", 1)[0]["low_c"]),
        ),
        "two steps",
    ),
]


def _build() -> list[Task]:
    tasks = []
    splits: tuple[tuple[str, list[_Row] | list[_ShapeRow] | list[_Row | _ShapeRow]], ...] = (
        ("held_out", _HELD_OUT),
        ("dev", _DEV),
        ("fresh", _FRESH),
        ("held_out_2", _HELD_OUT_2),
        ("shapes", _SHAPES),
        ("fresh_2", _FRESH_2),
        ("fresh_3", _FRESH_3),
        ("fresh_4", _FRESH_4),
        ("fresh_5", _FRESH_5),
        ("fresh_6", _FRESH_6),
        ("fresh_7", _FRESH_7),
        ("fresh_8", _FRESH_8),
        ("fresh_9", _FRESH_9),
    )
    for split, rows in splits:
        counts: dict[str, int] = {}
        for row in rows:
            category, prompt, answers, *rest = row
            shape = rest[0] if rest else ""
            if (category == "tool_shapes") != (shape in SHAPES):
                raise ValueError(f"{split}: {prompt!r} has shape {shape!r}")
            counts[category] = counts.get(category, 0) + 1
            tid = f"{split}-{category}-{counts[category]:02d}"
            tasks.append(Task(tid, split, category, prompt, answers, shape))
    return tasks


TASKS = _build()
