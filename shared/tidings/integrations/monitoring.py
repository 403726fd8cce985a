"""Watching integrations: the metrics of their calls, their health, their rate limits and their alerts.

Every connector call made for a test or a sync is measured here (`measure`): its requests, errors and
latency go to the hourly metrics, and a vendor's 429 holds the integration's budget until the time
the vendor gave. Before each test or sync the integration's own budget is taken (`admit`); an
integration over budget is refused with `rate_limited` and when to retry. After each, the alerts are
reconciled with the conditions that hold (`evaluate`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from tidings.core.clock import DEFAULT_CLOCK, Clock, iso_ms
from tidings.core.errors import NotFound, TooManyRequests
from tidings.integrations.alerts import conditions, reconcile
from tidings.integrations.connectors.base import CallObserver, ConnectorError
from tidings.integrations.directory import IntegrationDirectory
from tidings.integrations.health import Health, assess
from tidings.integrations.ratelimits import IntegrationRateLimits, RateStatus, retry_after_seconds
from tidings.models.calls import CallRecord
from tidings.models.integrations import (
    Alert,
    Integration,
    Point,
    Totals,
    series,
    series_start,
    sum_totals,
)
from tidings.store.alerts import AlertRepository
from tidings.store.metrics import MetricsRepository

T = TypeVar("T")
WINDOW = timedelta(hours=24)  # what health and alerts look back on
DEFAULT_HOLD_SECONDS = 60  # a 429 that said not for how long


@dataclass(frozen=True)
class Measured(Generic[T]):
    """What one measured connector action came to: its result, or the vendor's error."""

    result: T | None
    error: ConnectorError | None
    latency_ms: int


def never_renews(platform: str) -> bool:
    return False


class IntegrationMonitoring:
    def __init__(
        self,
        *,
        directory: IntegrationDirectory,
        metrics: MetricsRepository,
        alerts: AlertRepository,
        limits: IntegrationRateLimits,
        renews: Callable[[str], bool] = never_renews,
        clock: Clock = DEFAULT_CLOCK,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.metrics = metrics
        self.alerts = alerts
        self.limits = limits
        self.renews = renews  # whether a platform's tokens renew (its OAuth client is configured)
        self.clock = clock
        self.timer = timer

    # -- around each test and sync ----------------------------------------------------------------

    def admit(self, integration: Integration) -> None:
        """Take one call from the integration's budget, or refuse with TooManyRequests."""
        now = self.clock.now()
        reservation = self.limits.take(integration.user_id, integration, "api", now)
        if reservation.granted:
            return
        retry_at = reservation.available_at
        raise TooManyRequests(
            reservation.reason or "the integration's rate limit is used up",
            {
                "retryAt": iso_ms(retry_at) if retry_at else None,
                "retryAfterSeconds": retry_after_seconds(retry_at, now),
            },
            code="rate_limited",
        )

    def measure(self, integration: Integration, action: Callable[[CallObserver], T]) -> Measured[T]:
        """Run `action` with an observer of its calls; record the calls' metrics, and hold the budget
        when the vendor answered 429. A ConnectorError is caught and returned."""
        calls: list[CallRecord] = []
        started = self.timer()
        result: T | None = None
        error: ConnectorError | None = None
        try:
            result = action(calls.append)
        except ConnectorError as exc:
            error = exc
        latency = int((self.timer() - started) * 1000)
        now = self.clock.now()
        self.metrics.record(integration.user_id, integration.integration_id, calls, now)
        if error is not None and error.code == "rate_limited":
            until = now + timedelta(seconds=error.retry_after or DEFAULT_HOLD_SECONDS)
            reason = f"{integration.provider} said 429"
            self.limits.hold(integration.user_id, integration, "api", until, reason, now)
        return Measured(result, error, latency)

    def evaluate(self, integration: Integration) -> list[Alert]:
        """Reconcile the integration's alerts with what holds now; the alerts that changed."""
        now = self.clock.now()
        totals = self._last_day(integration, now)
        expires_at, renews = self._expiry(integration)
        found = conditions(integration, totals, expires_at, renews, now)
        return reconcile(self.alerts, integration, found, now, integration.alert_email)

    def close_alerts(self, user_id: str, integration_id: str) -> None:
        """Resolve the open alerts of an integration that is going away."""
        now = self.clock.now()
        for alert in self.alerts.for_user(user_id, "open"):
            if alert.integration_id == integration_id:
                self.alerts.resolve(alert, user_id, now)

    # -- what the user reads ----------------------------------------------------------------------

    def health(self, user_id: str, integration_id: str) -> tuple[Integration, Health, Totals]:
        integration = self.directory.get(user_id, integration_id)
        now = self.clock.now()
        totals = self._last_day(integration, now)
        expires_at, renews = self._expiry(integration)
        return integration, assess(integration, totals, expires_at, renews, now), totals

    def metric_series(self, user_id: str, integration_id: str, timeframe: str) -> list[Point]:
        self.directory.get(user_id, integration_id)
        now = self.clock.now()
        hourly = self.metrics.hourly(user_id, integration_id, series_start(timeframe, now))
        return series(hourly, timeframe, now)

    def rate_limit(self, user_id: str, integration_id: str, operation: str) -> RateStatus:
        integration = self.directory.get(user_id, integration_id)
        return self.limits.status(user_id, integration, operation, self.clock.now())

    def alerts_for(self, user_id: str, status: str | None) -> list[Alert]:
        return self.alerts.for_user(user_id, status)

    def resolve_alert(self, user_id: str, alert_id: str) -> Alert:
        """Resolved by the user (by hand): not raised again for a day unless it gets worse."""
        current = self.alerts.get(user_id, alert_id)
        if current is None:
            raise NotFound("no such alert", {"alertId": alert_id}, code="alert_not_found")
        if current.status == "resolved":
            return current
        return self.alerts.resolve(current, user_id, self.clock.now()) or current

    # -- helpers ----------------------------------------------------------------------------------

    def _last_day(self, integration: Integration, now: datetime) -> Totals:
        return sum_totals(self.metrics.hourly(integration.user_id, integration.integration_id, now - WINDOW))

    def _expiry(self, integration: Integration) -> tuple[datetime | None, bool]:
        """When the integration's token expires, and whether it renews by itself."""
        if not integration.social:
            return integration.expires_at, False
        account = self.directory.account(integration)
        if account is None:
            return None, False
        return account.expires_at, account.refreshable and self.renews(integration.provider)
