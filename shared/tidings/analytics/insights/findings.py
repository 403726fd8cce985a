"""What the insight rules read and what they produce.

The rules read `Observation`s: one per post and platform with measured metrics (collected or
imported), its engagements and audience by the one engagement definition of
`tidings.models.post_analytics`. They produce `Finding`s: an insight's content without its user, id
or times, which `tidings.analytics.insights.policy` turns into stored insights.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tidings.core.platforms import Platform
from tidings.models.post_analytics import PostAnalytics
from tidings.store.insights import Impact, InsightContent, InsightType

# |relative change| from which an insight's impact is high, and medium
HIGH_IMPACT_CHANGE = 0.5
MEDIUM_IMPACT_CHANGE = 0.2


@dataclass(frozen=True)
class Observation:
    post_id: str
    platform: Platform
    published_at: datetime
    content_type: str | None
    engagements: int
    audience: int | None

    @property
    def rate(self) -> float | None:
        return self.engagements / self.audience if self.audience else None


def observations(records: Iterable[PostAnalytics]) -> list[Observation]:
    """The measured posts among `records` (a record with no metrics yet is no observation)."""
    found = []
    for record in records:
        if record.latest is None:
            continue
        found.append(
            Observation(
                post_id=record.post_id,
                platform=record.platform,
                published_at=record.published_at,
                content_type=(record.content_type or "").strip().lower() or None,
                engagements=record.latest.engagements,
                audience=record.latest.audience,
            )
        )
    return found


def published_between(obs: Sequence[Observation], start: datetime, end: datetime) -> list[Observation]:
    """The posts published in [start, end)."""
    return [o for o in obs if start <= o.published_at < end]


def rates(obs: Iterable[Observation]) -> list[float]:
    return [rate for o in obs if (rate := o.rate) is not None]


@dataclass(frozen=True)
class Finding(InsightContent):
    """An insight's content as a rule found it, with how long it holds (`lifetime`) and, for a
    recommendation, the (type, subject) of the findings it rests on (`based_on`)."""

    lifetime: timedelta
    based_on: tuple[tuple[InsightType, str], ...] = field(default=())

    @property
    def key(self) -> tuple[InsightType, str]:
        return (self.type, self.subject)


def impact_of(change: float) -> Impact:
    """High from a 50 % change (either way), medium from 20 %, low below."""
    size = abs(change)
    if size >= HIGH_IMPACT_CHANGE:
        return Impact.HIGH
    if size >= MEDIUM_IMPACT_CHANGE:
        return Impact.MEDIUM
    return Impact.LOW


def rounded(value: float, places: int = 4) -> float:
    return round(value, places)


def significant(value: float, digits: int = 3) -> float:
    """`value` to `digits` significant figures (a p-value of 2.2e-08 stays readable, not 0)."""
    return float(f"{value:.{digits}g}")


def percent(value: float) -> str:
    """A rate or change as a percentage for a sentence: 0.0312 -> '3.1%'."""
    return f"{value * 100:.1f}%"


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def group_stats(values: Sequence[float], typical: float) -> dict[str, Any]:
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0
    return {"posts": len(values), "typical": rounded(typical, 6), "median": rounded(median, 6)}
