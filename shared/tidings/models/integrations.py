"""Integrations as entities: the integration itself, the outcome of its last test and sync, the
records a sync brings in, its call metrics and its alerts. No I/O here: the table's layout lives in
`tidings.store`, the rules in `tidings.integrations`.

Social media integrations keep their tokens in the connected account (`tidings.accounts`); their id
is `social-<platform>` (a user has one account per platform).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

TYPES = ("social_media", "analytics", "crm", "ai", "webhook")
SOCIAL_PREFIX = "social-"


class Status:
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    ERROR = "error"  # the last test or sync failed on the credentials


@dataclass(frozen=True)
class Outcome:
    """The last test or sync: when, whether it worked, and what came of it."""

    at: datetime
    ok: bool
    error_code: str | None = None
    error: str | None = None
    latency_ms: int | None = None
    records: int | None = None
    complete: bool | None = None


@dataclass(frozen=True)
class Integration:
    user_id: str
    integration_id: str
    name: str
    type: str
    provider: str
    status: str
    created_at: datetime
    updated_at: datetime
    settings: dict[str, str] = field(default_factory=dict)
    secret_hint: str | None = None
    expires_at: datetime | None = None
    sync_frequency_minutes: int = 60
    sync_enabled: bool = False
    alert_email: str | None = None
    last_test: Outcome | None = None
    last_sync: Outcome | None = None
    last_successful_sync_at: datetime | None = None
    cursor: str | None = None
    revision: int = 1

    @property
    def social(self) -> bool:
        return self.type == "social_media"


def social_id(platform: str) -> str:
    return f"{SOCIAL_PREFIX}{platform}"


@dataclass(frozen=True)
class SyncedRecord:
    """One record a sync brought in, keyed stably within the integration (upserted by `key`)."""

    kind: str  # "contact" | "site_metrics"
    key: str
    attributes: Mapping[str, Any]  # JSON-able, no secrets
    updated_at: datetime | None = None


# -- call metrics ------------------------------------------------------------------------------------

# Upper bounds (ms) of the latency histogram's buckets; the last bucket is open.
LATENCY_BOUNDS = (100, 250, 500, 1000, 2500, 5000, 10000)
# timeframe -> (how far back, one step of the series)
TIMEFRAMES = {
    "24h": (timedelta(hours=24), timedelta(hours=1)),
    "7d": (timedelta(days=7), timedelta(hours=6)),
    "30d": (timedelta(days=30), timedelta(days=1)),
}


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def latency_bucket(latency_ms: float) -> int:
    """The index of the histogram bucket `latency_ms` falls in."""
    for i, bound in enumerate(LATENCY_BOUNDS):
        if latency_ms <= bound:
            return i
    return len(LATENCY_BOUNDS)


@dataclass(frozen=True)
class Totals:
    requests: int = 0
    errors: int = 0
    latency_ms_total: float = 0.0
    histogram: tuple[int, ...] = (0,) * (len(LATENCY_BOUNDS) + 1)

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.requests + other.requests,
            self.errors + other.errors,
            self.latency_ms_total + other.latency_ms_total,
            tuple(a + b for a, b in zip(self.histogram, other.histogram, strict=True)),
        )

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def average_latency_ms(self) -> float | None:
        return self.latency_ms_total / self.requests if self.requests else None

    def percentile_ms(self, q: float) -> float | None:
        """The bucket bound under which `q` of the requests fell (an upper estimate)."""
        if not self.requests:
            return None
        needed = q * self.requests
        seen = 0
        for i, count in enumerate(self.histogram):
            seen += count
            if seen >= needed:
                return float(LATENCY_BOUNDS[i]) if i < len(LATENCY_BOUNDS) else float("inf")
        return float("inf")


@dataclass(frozen=True)
class Point:
    start: datetime
    totals: Totals


def sum_totals(points: Iterable[Point]) -> Totals:
    total = Totals()
    for point in points:
        total = total + point.totals
    return total


def series(hourly: Iterable[Point], timeframe: str, now: datetime) -> list[Point]:
    """Hourly points gathered into every step of the timeframe (24h: hours, 7d: 6 hours, 30d: days),
    empty steps included."""
    step = TIMEFRAMES[timeframe][1]
    first = series_start(timeframe, now)
    steps: list[Point] = []
    moment = first
    while moment <= now:
        steps.append(Point(moment, Totals()))
        moment += step
    by_step = {p.start: p.totals for p in steps}
    for point in hourly:
        if point.start < first:
            continue
        slot = first + step * int((point.start - first) / step)
        if slot in by_step:
            by_step[slot] = by_step[slot] + point.totals
    return [Point(start, totals) for start, totals in by_step.items()]


def series_start(timeframe: str, now: datetime) -> datetime:
    """The start of the first step of the timeframe's series."""
    span, step = TIMEFRAMES[timeframe]
    first = hour_of(now - span + step)
    if step >= timedelta(days=1):
        return first.replace(hour=0)
    if step > timedelta(hours=1):
        return first.replace(hour=first.hour - first.hour % int(step.total_seconds() // 3600))
    return first


# -- alerts ------------------------------------------------------------------------------------------

SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Alert:
    user_id: str
    alert_id: str
    integration_id: str
    kind: str
    severity: str
    status: str  # open | resolved
    message: str
    raised_at: datetime
    last_seen_at: datetime
    details: dict[str, Any]
    resolved_at: datetime | None = None
    resolved_by: str | None = None


def alert_order(alert: Alert) -> tuple[bool, int, datetime]:
    """Open first, then the most severe, then the oldest."""
    return (alert.status != "open", -SEVERITIES.index(alert.severity), alert.raised_at)
