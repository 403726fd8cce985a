"""An integration's health score (0-100) and its parts, from what the table already knows: the error
rate and latency of its calls over the last 24 hours, when its token expires, and how long ago it
last synced successfully compared with how often it should.

Each part scores 0..1; the score is their weighted mean (parts that do not apply, such as sync
freshness for an integration that never syncs, are left out and the weights renormalised).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tidings.core.clock import iso_ms
from tidings.models.integrations import Integration, Status, Totals

WEIGHTS = {"errorRate": 0.35, "latency": 0.15, "tokenExpiry": 0.25, "syncFreshness": 0.25}
HEALTHY, DEGRADED = 80, 50
ERROR_RATE_GOOD, ERROR_RATE_BAD = 0.01, 0.20
LATENCY_GOOD_MS, LATENCY_BAD_MS = 500.0, 5000.0
STALE_AFTER, DEAD_AFTER = 1.5, 3.0  # sync age in multiples of the sync frequency


@dataclass(frozen=True)
class Part:
    name: str
    score: float
    weight: float
    detail: str
    value: Any = None


@dataclass(frozen=True)
class Health:
    score: int
    status: str  # healthy | degraded | unhealthy | disconnected
    parts: tuple[Part, ...]


def _linear(value: float, good: float, bad: float) -> float:
    if value <= good:
        return 1.0
    if value >= bad:
        return 0.0
    return 1.0 - (value - good) / (bad - good)


def error_part(totals: Totals) -> Part:
    if not totals.requests:
        return Part("errorRate", 1.0, WEIGHTS["errorRate"], "no requests in the last 24 hours", 0.0)
    rate = totals.error_rate
    detail = f"{totals.errors} of {totals.requests} requests failed in the last 24 hours"
    return Part(
        "errorRate", _linear(rate, ERROR_RATE_GOOD, ERROR_RATE_BAD), WEIGHTS["errorRate"], detail, rate
    )


def latency_part(totals: Totals) -> Part:
    average = totals.average_latency_ms
    if average is None:
        return Part("latency", 1.0, WEIGHTS["latency"], "no requests in the last 24 hours", None)
    detail = f"{average:.0f} ms on average over {totals.requests} requests"
    return Part(
        "latency",
        _linear(average, LATENCY_GOOD_MS, LATENCY_BAD_MS),
        WEIGHTS["latency"],
        detail,
        round(average, 1),
    )


def token_part(expires_at: datetime | None, renews: bool, now: datetime) -> Part:
    weight = WEIGHTS["tokenExpiry"]
    if expires_at is None:
        return Part("tokenExpiry", 1.0, weight, "the credentials do not expire", None)
    left = expires_at - now
    value = iso_ms(expires_at)
    if renews:
        return Part("tokenExpiry", 1.0, weight, "the token renews automatically before it expires", value)
    if left <= timedelta(0):
        return Part("tokenExpiry", 0.0, weight, "the token has expired: reconnect", value)
    if left < timedelta(days=1):
        return Part("tokenExpiry", 0.25, weight, "the token expires within a day", value)
    if left < timedelta(days=7):
        return Part("tokenExpiry", 0.6, weight, "the token expires within a week", value)
    return Part("tokenExpiry", 1.0, weight, f"the token expires in {left.days} days", value)


def sync_part(integration: Integration, now: datetime) -> Part | None:
    if not integration.sync_enabled and integration.last_successful_sync_at is None:
        return None
    weight = WEIGHTS["syncFreshness"]
    frequency = timedelta(minutes=integration.sync_frequency_minutes)
    last = integration.last_successful_sync_at
    since = last or integration.created_at
    ratio = (now - since) / frequency
    if last is None and ratio <= 1:
        return Part("syncFreshness", 1.0, weight, "the first sync has not run yet", None)
    score = _linear(ratio, STALE_AFTER, DEAD_AFTER)
    detail = (
        "never synced successfully"
        if last is None
        else f"last successful sync {int((now - last).total_seconds() // 60)} minutes ago "
        f"(every {integration.sync_frequency_minutes} minutes expected)"
    )
    return Part("syncFreshness", score, weight, detail, iso_ms(last) if last else None)


def assess(
    integration: Integration, totals: Totals, expires_at: datetime | None, renews: bool, now: datetime
) -> Health:
    parts = [error_part(totals), latency_part(totals), token_part(expires_at, renews, now)]
    sync = sync_part(integration, now)
    if sync is not None:
        parts.append(sync)
    total_weight = sum(p.weight for p in parts)
    score = round(100 * sum(p.score * p.weight for p in parts) / total_weight)
    if integration.status == Status.DISCONNECTED:
        status = "disconnected"
    elif score >= HEALTHY:
        status = "healthy"
    elif score >= DEGRADED:
        status = "degraded"
    else:
        status = "unhealthy"
    return Health(score, status, tuple(parts))
