"""The task set of the embedded-model eval (bench/eval_local.py).

Simple tool tasks in seven categories: arithmetic through the calculator, unit
conversion, capital lookups and population lookups over fictional countries,
questions that need no tool, two-step tasks (one tool's result feeds another), and
multi-lookup tasks (two lookups, then a comparison or a sum).

Two splits:

* ``held_out`` (120 tasks): written before the strategy was tuned and only used to
  measure it; the numbers in bench/results/eval-local.md come from this split.
* ``dev`` (24 tasks): the same kinds of tasks with other numbers and names; any tuning
  of prompts or orchestration looked at this split only, until the first held-out run.
* ``fresh`` (40 tasks): written after the first held-out run; one change made after
  seeing held-out failures (a stricter check for calls copied from a tool's example)
  is checked on it.

Expected answers are computed with the tools' own functions wherever a tool is
involved, so the ground truth cannot drift from what the tools return.
"""

from __future__ import annotations

from dataclasses import dataclass

from tether.cli._demo import calculator, convert_units, lookup_capital

__all__ = ["POPULATIONS", "TASKS", "Task", "eval_tools", "lookup_population"]

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


def eval_tools() -> list[object]:
    """The tools every eval agent gets: the demo's three and the population lookup."""
    return [calculator, convert_units, lookup_capital, lookup_population]


@dataclass(frozen=True, slots=True)
class Task:
    """One eval task: a prompt and the answers that count as right."""

    id: str
    split: str
    category: str
    prompt: str
    answers: tuple[str | float, ...]


def _calc(expression: str) -> float:
    return float(calculator(expression))


def _conv(value: float, src: str, dst: str) -> float:
    return convert_units(value, src, dst)


def _cap(country: str) -> str:
    return lookup_capital(country)


def _pop(country: str) -> float:
    return float(POPULATIONS[country])


_HELD_OUT: list[tuple[str, str, tuple[str | float, ...]]] = [
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

_DEV: list[tuple[str, str, tuple[str | float, ...]]] = [
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
_FRESH: list[tuple[str, str, tuple[str | float, ...]]] = [
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


def _build() -> list[Task]:
    tasks = []
    for split, rows in (("held_out", _HELD_OUT), ("dev", _DEV), ("fresh", _FRESH)):
        counts: dict[str, int] = {}
        for category, prompt, answers in rows:
            counts[category] = counts.get(category, 0) + 1
            tid = f"{split}-{category}-{counts[category]:02d}"
            tasks.append(Task(tid, split, category, prompt, answers))
    return tasks


TASKS = _build()
