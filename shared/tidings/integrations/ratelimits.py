"""Rate limits per integration and operation: may a call go now, and if not, when.

Each (provider, operation) has windows -- a burst window of seconds, and per minute, hour and day --
counted in the table with conditional updates (`tidings.store.budgets.BudgetRepository`), so every
function shares one budget. What a vendor answers (429 with Retry-After) holds the budget until then.
A social account's `publish` operation is the very budget the publish step takes from, so the answer
here is the one the next scheduled post will get.

Documented limits (checked late 2026; vendors change them, their 429s win):
- HubSpot private apps, Free/Starter: 100 requests per 10 s and 250,000 per day per account
  (developers.hubspot.com, "API usage guidelines and limits"; higher tiers allow more).
- Follow Up Boss: a sliding 10 s window, e.g. 200 requests in the `global` context
  (docs.followupboss.com/reference/rate-limiting); headers X-RateLimit-* report the real figure.
- Google Analytics Data API, standard property: 40,000 core tokens per hour, 200,000 per day, 10
  concurrent requests (developers.google.com/analytics/devguides/reporting/data/v1/quotas); a small
  report costs under 10 tokens, so 10 tokens per request is the conservative count here.
- Social platforms: the publishing budgets (tidings.store.budgets) for `publish`.
Where a vendor documents no figure (`api` on social platforms, Bedrock, plain webhooks), Tidings keeps
a protective limit of its own, marked as such in the answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tidings.core.clock import iso_ms
from tidings.core.errors import ValidationFailed
from tidings.models.integrations import Integration
from tidings.store.budgets import LIMITS, Limit, Reservation, span


@dataclass(frozen=True)
class Policy:
    limits: tuple[Limit, ...]
    source: str  # "documented" | "tidings"


def _windows(burst: Limit, per_day: int, per_hour: int | None = None) -> tuple[Limit, ...]:
    """A burst window plus minute, hour and day windows; those a vendor does not document follow
    from the burst (minute) and the day (hour), so they never bind before the documented ones."""
    per_minute = burst.count * (60 // burst.window_seconds)
    hour = per_hour if per_hour is not None else min(per_minute * 60, per_day)
    return (burst, Limit(per_minute, 60), Limit(hour, 3600), Limit(per_day, 86_400))


_OWN = Policy(_windows(Limit(10, 10), 5_000), "tidings")
POLICIES: dict[tuple[str, str], Policy] = {
    ("hubspot", "api"): Policy(_windows(Limit(100, 10), 250_000), "documented"),
    ("followupboss", "api"): Policy(_windows(Limit(200, 10), 1_000_000), "documented"),
    ("ga4", "api"): Policy(_windows(Limit(10, 1), 20_000, per_hour=4_000), "documented"),
}
SOCIAL_OPERATIONS = ("api", "publish")


def operations(integration: Integration) -> tuple[str, ...]:
    return SOCIAL_OPERATIONS if integration.social and integration.provider in LIMITS else ("api",)


@dataclass(frozen=True)
class WindowState:
    limit: Limit
    used: int
    resets_at: datetime

    def view(self) -> dict[str, Any]:
        seconds = self.limit.window_seconds
        name = {60: "minute", 3600: "hour", 86_400: "day"}.get(seconds, "burst")
        return {
            "window": name,
            "span": span(seconds),
            "limit": self.limit.count,
            "used": min(self.used, self.limit.count),
            "remaining": max(0, self.limit.count - self.used),
            "resetsAt": iso_ms(self.resets_at),
        }


@dataclass(frozen=True)
class RateStatus:
    operation: str
    allowed: bool
    retry_at: datetime | None
    reason: str | None
    windows: tuple[WindowState, ...]
    source: str
    checked_at: datetime

    @property
    def retry_after_seconds(self) -> int | None:
        return retry_after_seconds(self.retry_at, self.checked_at)


def retry_after_seconds(retry_at: datetime | None, now: datetime) -> int | None:
    """Whole seconds to wait before `retry_at` (at least one), as a Retry-After would say."""
    if retry_at is None:
        return None
    return max(1, math.ceil((retry_at - now).total_seconds()))


class RateBudgets(Protocol):
    """The budget repository's part the integrations use (`tidings.store.budgets.BudgetRepository`)."""

    @property
    def limits(self) -> Mapping[str, tuple[Limit, ...]]:
        """The publishing budgets per platform."""
        ...

    def reserve_limits(
        self, user_id: str, key: str, limits: tuple[Limit, ...], now: datetime, label: str | None = None
    ) -> Reservation: ...

    def usage_of(
        self, user_id: str, key: str, limits: tuple[Limit, ...], now: datetime
    ) -> list[tuple[Limit, int]]: ...

    def block(self, user_id: str, platform: str, until: datetime, reason: str, now: datetime) -> None: ...

    def blocked_until(self, user_id: str, platform: str, now: datetime) -> tuple[datetime, str] | None: ...


class IntegrationRateLimits:
    def __init__(self, budgets: RateBudgets) -> None:
        self.budgets = budgets

    def _policy(self, integration: Integration, operation: str) -> tuple[str, Policy]:
        if operation not in operations(integration):
            raise ValidationFailed(
                f"unknown operation {operation!r} for this integration",
                {"field": "operation", "supported": list(operations(integration))},
                code="unknown_operation",
            )
        if integration.social and operation == "publish":
            # the publish step's own budget: keyed by the platform, per user
            return integration.provider, Policy(
                self.budgets.limits.get(integration.provider, ()), "documented"
            )
        key = f"{integration.integration_id}:{operation}"
        return key, POLICIES.get((integration.provider, operation), _OWN)

    def status(self, user_id: str, integration: Integration, operation: str, now: datetime) -> RateStatus:
        key, policy = self._policy(integration, operation)
        windows = tuple(
            WindowState(limit, used, limit.window_end(now))
            for limit, used in self.budgets.usage_of(user_id, key, policy.limits, now)
        )
        blocked = self.budgets.blocked_until(user_id, key, now)
        if blocked is not None:
            return RateStatus(operation, False, blocked[0], blocked[1], windows, policy.source, now)
        full = [w for w in windows if w.used >= w.limit.count]
        if full:
            worst = max(full, key=lambda w: w.resets_at)
            reason = f"the budget of {worst.limit.count} per {span(worst.limit.window_seconds)} is used up"
            return RateStatus(operation, False, worst.resets_at, reason, windows, policy.source, now)
        return RateStatus(operation, True, None, None, windows, policy.source, now)

    def take(self, user_id: str, integration: Integration, operation: str, now: datetime) -> Reservation:
        key, policy = self._policy(integration, operation)
        return self.budgets.reserve_limits(user_id, key, policy.limits, now, label=integration.provider)

    def hold(
        self,
        user_id: str,
        integration: Integration,
        operation: str,
        until: datetime,
        reason: str,
        now: datetime,
    ) -> None:
        key, _ = self._policy(integration, operation)
        self.budgets.block(user_id, key, until, reason, now)
