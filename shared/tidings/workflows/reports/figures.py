"""What every report figure shares: rounding, how figures are written for people, how much confidence
a post count allows, and the time zone weekdays and hours are counted in."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tidings.workflows.action import ActionFailed

MIN_GROUP_POSTS = 3
SKEW_RATIO = 3.0  # a mean above this many medians is called out as driven by a few posts
LOW_BELOW, MEDIUM_BELOW = 10, 30


def invalid(message: str) -> ActionFailed:
    return ActionFailed(message, code="invalid_parameters")


def rounded(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(value, places)


def number(value: float) -> str:
    """A figure for people: whole numbers from 100 up, one decimal below."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}".removesuffix(".0")


def confidence(posts: int) -> str:
    if posts <= 0:
        return "none"
    if posts < LOW_BELOW:
        return "low"
    if posts < MEDIUM_BELOW:
        return "medium"
    return "high"


def time_zone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(value or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(f"unknown timezone {value!r}") from None
