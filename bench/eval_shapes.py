"""Tools of shapes the guided strategy was not tuned on, for the ``shapes`` split.

The tuned tools (bench/eval_tasks.py) each take one string or one number and a unit
and return a number or a name. These take an enum argument, ISO dates, free text,
two required arguments of different types, an optional argument with a default, and
return JSON from which the answer has to be picked. All data is fictional and fixed,
so every task's answer can be computed by calling the tool itself.

Written before any tuning on them; see the ``shapes`` split in bench/eval_tasks.py.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal

__all__ = [
    "FORECASTS",
    "INVENTORY",
    "ORDERS",
    "PRICES",
    "add_days",
    "count_text",
    "days_between",
    "inventory_count",
    "order_details",
    "price",
    "reverse_text",
    "shape_tools",
    "weather_forecast",
]

# --- an enum argument -----------------------------------------------------------------------

Item = Literal["bolts", "nuts", "washers", "hinges", "brackets", "springs", "gaskets"]

INVENTORY: dict[str, int] = {  # a fictional warehouse's stock
    "bolts": 1240,
    "nuts": 986,
    "washers": 3075,
    "hinges": 148,
    "brackets": 412,
    "springs": 57,
    "gaskets": 230,
}


def inventory_count(item: Item) -> int:
    """How many units of an item the warehouse has in stock.

    Example: inventory_count(item="bolts") returns 1240.

    Args:
        item: which item to count.
    """
    key = str(item).strip().lower()
    if key not in INVENTORY:
        raise ValueError(f"unknown item {item!r}; items: {', '.join(INVENTORY)}")
    return INVENTORY[key]


# --- dates ----------------------------------------------------------------------------------


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date; write it as YYYY-MM-DD") from None


def add_days(date: str, days: int) -> str:
    """The date a number of days after (or, with a negative number, before) a date.

    Example: add_days(date="2024-01-30", days=3) returns "2024-02-02".

    Args:
        date: the starting date, as YYYY-MM-DD.
        days: how many days to add; negative to go back.
    """
    return (_date(date) + dt.timedelta(days=days)).isoformat()


def days_between(start: str, end: str) -> int:
    """How many days pass from one date to another (negative if end is before start).

    Example: days_between(start="2024-01-01", end="2024-01-31") returns 30.

    Args:
        start: the earlier date, as YYYY-MM-DD.
        end: the later date, as YYYY-MM-DD.
    """
    return (_date(end) - _date(start)).days


# --- text -----------------------------------------------------------------------------------


def reverse_text(text: str) -> str:
    """The text written backwards, character by character.

    Example: reverse_text(text="abc") returns "cba".

    Args:
        text: the text to reverse.
    """
    return text[::-1]


def count_text(text: str, what: Literal["letters", "words", "vowels"]) -> int:
    """Count the letters, words or vowels in a text.

    Letters are alphabetic characters only (no spaces, digits or punctuation); words are
    separated by spaces; vowels are a, e, i, o and u in either case.
    Example: count_text(text="Hello world", what="letters") returns 10.

    Args:
        text: the text to count in.
        what: what to count.
    """
    if what == "letters":
        return sum(c.isalpha() for c in text)
    if what == "words":
        return len(text.split())
    return sum(c in "aeiou" for c in text.lower())


# --- two required arguments of different types ----------------------------------------------

PRICES: dict[str, float] = {  # a fictional stationery shop, dollars per unit
    "notebook": 3.40,
    "pen": 1.25,
    "stapler": 8.99,
    "folder": 0.85,
    "marker": 2.10,
    "backpack": 34.50,
}


def price(item: str, quantity: int) -> float:
    """What a quantity of an item costs at the shop, in dollars.

    Orders of 10 units or more get 10% off. Example: price(item="pen", quantity=2)
    returns 2.5.

    Args:
        item: the item, e.g. "pen" or "pens"; the shop sells notebooks, pens, staplers,
            folders, markers and backpacks.
        quantity: how many units.
    """
    name = item.strip().lower()
    if name not in PRICES and name.endswith("s") and name[:-1] in PRICES:
        name = name[:-1]
    if name not in PRICES:
        raise ValueError(f"unknown item {item!r}; the shop sells: {', '.join(PRICES)}")
    total = PRICES[name] * quantity * (0.9 if quantity >= 10 else 1.0)
    return round(total, 2)


# --- JSON results ---------------------------------------------------------------------------

ORDERS: dict[str, dict[str, object]] = {  # fictional orders
    "A-1042": {
        "status": "shipped",
        "items": 3,
        "total": 47.85,
        "carrier": "Swiftpost",
        "eta": "2024-06-14",
    },
    "A-1043": {
        "status": "processing",
        "items": 1,
        "total": 12.5,
        "carrier": None,
        "eta": None,
    },
    "B-2001": {
        "status": "delivered",
        "items": 7,
        "total": 213.4,
        "carrier": "Northline",
        "eta": "2024-05-30",
    },
    "B-2007": {
        "status": "shipped",
        "items": 2,
        "total": 89.99,
        "carrier": "Kestrel Freight",
        "eta": "2024-07-02",
    },
    "C-3150": {
        "status": "cancelled",
        "items": 4,
        "total": 0.0,
        "carrier": None,
        "eta": None,
    },
}


def order_details(order_id: str) -> str:
    """An order's details, as a JSON object.

    The object has status, items (how many), total (dollars), carrier and eta
    (the expected delivery date, YYYY-MM-DD); carrier and eta are null until it ships.
    Example: order_details(order_id="A-1042") returns '{"order_id": "A-1042", ...}'.

    Args:
        order_id: the order's id, e.g. "A-1042".
    """
    key = order_id.strip().upper().lstrip("#")
    if key not in ORDERS:
        raise ValueError(f"no order {order_id!r}")
    return json.dumps({"order_id": key, **ORDERS[key]})


FORECASTS: dict[str, list[tuple[int, int, str]]] = {  # (high °C, low °C, conditions) per day
    "Merrowgate": [(14, 6, "rain"), (17, 8, "cloudy"), (19, 9, "sunny"), (16, 7, "rain"),
                   (21, 11, "sunny")],
    "Skarholm": [(3, -4, "snow"), (1, -6, "snow"), (5, -2, "cloudy"), (6, 0, "sunny"),
                 (2, -5, "snow")],
    "Selenport": [(24, 17, "sunny"), (26, 18, "sunny"), (22, 16, "storms"), (23, 15, "cloudy"),
                  (25, 17, "sunny")],
    "Fenbridge": [(11, 4, "fog"), (13, 5, "cloudy"), (12, 6, "rain"), (15, 7, "cloudy"),
                  (10, 3, "rain")],
}  # fmt: skip


def weather_forecast(city: str, days: int = 3) -> str:
    """The weather forecast for a (fictional) city, as a JSON list with one entry a day.

    Each entry has day (1 is tomorrow), high_c and low_c (degrees Celsius) and
    conditions. Cities: Merrowgate, Skarholm, Selenport, Fenbridge.
    Example: weather_forecast(city="Skarholm", days=1) returns
    '[{"day": 1, "high_c": 3, "low_c": -4, "conditions": "snow"}]'.

    Args:
        city: the city's name, in any letter case.
        days: how many days ahead, 1 to 5.
    """
    wanted = city.strip().lower()
    for name, rows in FORECASTS.items():
        if name.lower() == wanted:
            if not 1 <= days <= len(rows):
                raise ValueError(f"days must be from 1 to {len(rows)}")
            return json.dumps(
                [
                    {"day": i, "high_c": high, "low_c": low, "conditions": cond}
                    for i, (high, low, cond) in enumerate(rows[:days], start=1)
                ]
            )
    raise ValueError(f"no forecast for {city!r}; cities: {', '.join(FORECASTS)}")


def shape_tools() -> list[object]:
    """The new tools, in the order the agent sees them."""
    return [
        inventory_count,
        price,
        add_days,
        days_between,
        count_text,
        reverse_text,
        order_details,
        weather_forecast,
    ]
