"""How a value shows in personalised content.

A variable written on its own (`{{ budget }}`) is formatted by its name first, then by its type;
any other expression (`{{ budget + 1 }}`, `{{ budget|default(0) }}`) by its type only, and a
template can always choose with the `money`, `number` and `date` filters.

By name (the words of the name, split at camelCase humps and underscores):
- an identifier: a name with the word year, zip, zipcode, postal, postcode, phone, mobile, fax, id
  or mls anywhere, or ending in number, code, no, ext, pin or license (`yearBuilt`, `loanNumber`),
  shows its whole number as plain digits: 1998, not 1,998;
- else money: a name with one of `MONEY_WORDS` (budget, price, amount, value, cost, revenue,
  income, salary, commission, deposit, rent, payment, fee...) as a whole word (`annualBudget`,
  `rent_amount`; not `priceless`) shows a number, or a text that is a plain decimal number
  ("450000" as some CRMs send numbers), with thousands separators and cents only when there are
  any: 450000 -> 450,000; 1234.5 -> 1,234.50. No currency sign: the template writes it
  (`${{ budget }}` -> $450,000).

By type:
- yes/no for booleans; whole numbers with thousands separators (12,000); other numbers rounded to
  two decimals with trailing zeros dropped (3.14159 -> 3.14, 2.50 -> 2.5), tiny ones to two
  significant digits (0.0012);
- an ISO 8601 date or date-time text as "March 5, 2026" (the date as written, in its own offset);
- lists joined with ", ", objects as "key: value" pairs joined with ", ", nothing (None) as "";
- other text as it is.

The filters: `money` (as above, whatever the name), `number(decimals=None)` (separators; a fixed
number of decimals when given), `date(style="long")` with styles long (March 5, 2026), short
(Mar 5, 2026), full (Thursday, March 5, 2026) and iso (2026-03-05). A value a filter cannot read
(`{{ "soon"|money }}`) is shown as it is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal

MONEY_WORDS = frozenset(
    {
        "budget",
        "budgets",
        "price",
        "prices",
        "amount",
        "amounts",
        "value",
        "values",
        "valuation",
        "cost",
        "costs",
        "revenue",
        "revenues",
        "income",
        "salary",
        "commission",
        "commissions",
        "deposit",
        "deposits",
        "rent",
        "payment",
        "payments",
        "fee",
        "fees",
        "balance",
        "mortgage",
        "loan",
        "equity",
        "earnings",
        "spend",
    }
)
_IDENTIFIER_WORDS = frozenset(
    {"year", "zip", "zipcode", "postal", "postcode", "phone", "mobile", "fax", "id", "mls"}
)
_IDENTIFIER_LAST_WORDS = frozenset({"number", "code", "no", "ext", "pin", "license"})

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DATE_STYLES = ("long", "short", "full", "iso")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

Kind = Literal["money", "identifier"]


class Formatted(str):
    """Text a filter (or a name) already formatted: shown as it is, never formatted again
    (`{{ day|date('iso') }}` stays 2026-03-05)."""

    __slots__ = ()


@lru_cache(maxsize=4096)
def kind_of(name: str) -> Kind | None:
    """How a variable's name says to show a number: "money", "identifier" or None (by type)."""
    words = [w.lower() for w in _WORD.findall(name)]
    if not words:
        return None
    if words[-1] in _IDENTIFIER_LAST_WORDS or any(w in _IDENTIFIER_WORDS for w in words):
        return "identifier"
    if any(w in MONEY_WORDS for w in words):
        return "money"
    return None


def _as_number(value: Any) -> int | float | None:
    """A number from a number or a plain decimal text ("450000", "-12.5"); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        text = value.strip()
        return float(text) if "." in text else int(text)
    return None


def money(value: Any) -> Any:
    """450000 -> "450,000", 1234.5 -> "1,234.50"; a value that is no number is returned as it is."""
    number = _as_number(value)
    if number is None or (isinstance(number, float) and not math.isfinite(number)):
        return value
    cents = round(float(number), 2) if isinstance(number, float) else number
    if isinstance(cents, int) or cents.is_integer():
        return Formatted(f"{int(cents):,}")
    return Formatted(f"{cents:,.2f}")


def number(value: Any, decimals: int | None = None) -> Any:
    """Thousands separators; `decimals` fixed when given, else as `format_value` rounds."""
    found = _as_number(value)
    if found is None:
        return value
    if decimals is not None:
        return Formatted(f"{float(found):,.{max(0, min(int(decimals), 10))}f}")
    return Formatted(_number_text(found))


def _number_text(value: int | float) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if value != 0 and abs(value) < 0.01:
        return f"{value:.2g}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _parse_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO.fullmatch(value.strip()):
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text).date()
    except ValueError:
        return None


def date_text(value: Any, style: str = "long") -> Any:
    """An ISO date or date-time as text in `style` (one of DATE_STYLES); other values as they are.
    ValueError for an unknown style."""
    if style not in DATE_STYLES:
        raise ValueError(f"date style {style!r} is not one of {', '.join(DATE_STYLES)}")
    day = _parse_date(value)
    if day is None:
        return value
    if style == "iso":
        return Formatted(day.isoformat())
    month = _MONTHS[day.month - 1]
    if style == "short":
        return Formatted(f"{month[:3]} {day.day}, {day.year}")
    text = f"{month} {day.day}, {day.year}"
    return Formatted(f"{_WEEKDAYS[day.weekday()]}, {text}" if style == "full" else text)


def format_value(value: Any) -> str:
    """A value as text, by its type (the module docstring lists how)."""
    if value is None:
        return ""
    if isinstance(value, Formatted):
        return str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return _number_text(value)
    if isinstance(value, str):
        return str(date_text(value))
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {format_value(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(format_value(item) for item in value)
    return str(value)


def by_name(name: str, value: Any) -> Any:
    """The value as its name says to show it (money, identifier), or unchanged when the name says
    nothing about it or the value is no number."""
    kind = kind_of(name)
    if kind == "money":
        return money(value)
    if kind == "identifier" and isinstance(value, int) and not isinstance(value, bool):
        return Formatted(value)
    return value


def format_named(name: str, value: Any) -> str:
    """A variable's value as `{{ name }}` shows it: by its name, then by its type."""
    return format_value(by_name(name, value))
