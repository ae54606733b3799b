"""The built-in demo agent: three safe tools (a calculator, a unit converter and a
lookup of fictional capitals) driven by the embedded model or the scripted "demo"
model (:mod:`tether.models.demo`)."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any, cast

from tether._agent import Agent
from tether.models import Model
from tether.run import Strategy

__all__ = ["calculator", "convert_units", "demo_agent", "lookup_capital"]

# --- calculator ---------------------------------------------------------------------------

_MAX_EXPRESSION_CHARS = 500
_MAX_EXPONENT = 1000
_MAX_DIGITS = 1000
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_ACCEPTS = "numbers, + - * / // % ** (or ^ for powers), unary + and -, and parentheses"


def _check_power(base: float, exponent: float) -> None:
    if abs(exponent) > _MAX_EXPONENT:
        raise ValueError(f"exponent {exponent} is too large (the limit is {_MAX_EXPONENT})")
    if abs(base) > 1 and exponent > 0 and exponent * math.log10(abs(base)) > _MAX_DIGITS:
        raise ValueError(f"the power is too large (more than {_MAX_DIGITS} digits)")


def _check_size(value: float) -> float:
    if isinstance(value, complex):
        raise ValueError("the result is not a real number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("the result is too large")
    if isinstance(value, int) and value.bit_length() > _MAX_DIGITS * 3.33:
        raise ValueError(f"the result is too large (more than {_MAX_DIGITS} digits)")
    return value


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return cast(float, node.value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _check_size(_UNARY[type(node.op)](_evaluate(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _check_size(_BINARY[type(node.op)](left, right))
    shown = ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
    raise ValueError(f"{shown!r} is not allowed; the calculator accepts only {_ACCEPTS}")


_SIGNS = str.maketrans({"\u00f7": "/", "\u00d7": "*", "\u2212": "-", "\u2013": "-"})
"""Division, multiplication and minus signs as printed (and en dashes) as operators."""


def calculator(expression: str) -> int | float:
    """Evaluate an arithmetic expression, like a pocket calculator.

    Example: calculator(expression="12*7") returns 84.

    Args:
        expression: numbers with + - * / // % and parentheses; ** or ^ for powers.
    """
    if len(expression) > _MAX_EXPRESSION_CHARS:
        raise ValueError(f"the expression is longer than {_MAX_EXPRESSION_CHARS} characters")
    try:
        # ^ is a power on a pocket calculator (and to small models), never XOR here;
        # a printed sum's signs are its operators.
        tree = ast.parse(expression.strip().translate(_SIGNS).replace("^", "**"), mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot parse {expression!r}; write e.g. '17*23' or '(2+3)**2'") from None
    try:
        value = _evaluate(tree)
    except ZeroDivisionError:
        raise ValueError(f"division by zero in {expression!r}") from None
    except OverflowError:
        raise ValueError(f"the result of {expression!r} is too large") from None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# --- unit conversion ----------------------------------------------------------------------

# Each linear unit: (quantity, how many of the quantity's base unit one unit is).
_LINEAR: dict[str, tuple[str, float]] = {
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "ft": ("length", 0.3048),
    "mi": ("length", 1609.344),
    "kg": ("mass", 1.0),
    "lb": ("mass", 0.45359237),
    "l": ("volume", 1.0),
    "gal": ("volume", 3.785411784),  # US gallon
}
_TEMPERATURE: dict[str, tuple[float, float]] = {  # kelvin = (value + offset) * scale
    "c": (273.15, 1.0),
    "f": (459.67, 5 / 9),
    "k": (0.0, 1.0),
}
_ALIASES = {
    "meter": "m", "meters": "m", "metre": "m", "metres": "m",
    "kilometer": "km", "kilometers": "km", "kilometre": "km", "kilometres": "km",
    "foot": "ft", "feet": "ft", "mile": "mi", "miles": "mi",
    "kilogram": "kg", "kilograms": "kg", "kgs": "kg",
    "pound": "lb", "pounds": "lb", "lbs": "lb",
    "liter": "l", "liters": "l", "litre": "l", "litres": "l",
    "gallon": "gal", "gallons": "gal",
    "celsius": "c", "fahrenheit": "f", "kelvin": "k",
}  # fmt: skip
_KNOWN_UNITS = ", ".join([*_LINEAR, *_TEMPERATURE])


def _unit(name: str) -> str:
    key = name.strip().lower().lstrip("°")
    key = _ALIASES.get(key, key)
    if key not in _LINEAR and key not in _TEMPERATURE:
        raise ValueError(f"unknown unit {name!r}; known units: {_KNOWN_UNITS}")
    return key


def _quantity(unit: str) -> str:
    return "temperature" if unit in _TEMPERATURE else _LINEAR[unit][0]


def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a value between units of length, mass, volume or temperature.

    Units: m (meters), km (kilometers), ft (feet), mi (miles), kg (kilograms),
    lb (pounds), l (liters), gal (US gallons), c, f, k (degrees Celsius, Fahrenheit, Kelvin).
    Example: convert_units(value=10, from_unit="km", to_unit="mi") returns 6.213712.

    Args:
        value: the amount to convert, e.g. 10.
        from_unit: the unit of the value, e.g. "km".
        to_unit: the unit wanted, e.g. "mi".
    """
    src, dst = _unit(from_unit), _unit(to_unit)
    if _quantity(src) != _quantity(dst):
        raise ValueError(
            f"cannot convert {src} ({_quantity(src)}) to {dst} ({_quantity(dst)}); "
            f"known units: {_KNOWN_UNITS}"
        )
    if src in _TEMPERATURE:
        offset, scale = _TEMPERATURE[src]
        kelvin = (value + offset) * scale
        offset, scale = _TEMPERATURE[dst]
        result = kelvin / scale - offset
    else:
        result = value * _LINEAR[src][1] / _LINEAR[dst][1]
    return round(result, 6)


# --- capitals -----------------------------------------------------------------------------

_CAPITALS = {  # all fictional
    "Valdoria": "Merrowgate",
    "Quenland": "Port Halloway",
    "Estrevia": "Calvenna",
    "Norrhaven": "Skarholm",
    "Brisalta": "Ondmere",
    "Kethmoor": "Varrow",
    "Lunaria": "Selenport",
    "Osterwick": "Fenbridge",
}


def lookup_capital(country: str) -> str:
    """Look up the capital city of a (fictional) country.

    Example: lookup_capital(country="Valdoria") returns "Merrowgate".

    Args:
        country: the country's name, in any letter case, e.g. "Valdoria".
    """
    wanted = country.strip().lower().removeprefix("the ").strip()
    for name, capital in _CAPITALS.items():
        if name.lower() == wanted:
            return capital
    raise ValueError(f"unknown country {country!r}; known countries: {', '.join(_CAPITALS)}")


# --- the demo model -----------------------------------------------------------------------

DEMO_INSTRUCTIONS = (
    "You are tether's demo agent. Use the calculator for arithmetic, convert_units for "
    "unit conversions and lookup_capital for capitals, then answer in one short sentence."
)


def demo_agent(
    model: Model | str = "demo", *, strategy: Strategy | None = None
) -> Agent[None, str]:
    """The demo agent: the calculator, unit conversion and capital lookup tools.

    Args:
        model: the model that drives it; the scripted "demo" model by default, or any
            model instance or name (see :func:`tether.models.known_model_names`).
        strategy: how runs are orchestrated; the tool loop by default (the embedded
            local model wants :class:`tether._guided.GuidedStrategy`).
    """
    return Agent(
        model,
        instructions=DEMO_INSTRUCTIONS,
        tools=[calculator, convert_units, lookup_capital],
        name="demo",
        strategy=strategy,
    )
