"""Alerts about integrations: raised when a condition starts, kept current while it lasts, resolved
when it clears (or by the user), one alert per integration and condition.

The alert's id is derived from the integration and the condition, so a condition seen by two
functions at once is one alert (`tidings.store.alerts` writes it conditionally). Raising and
resolving change its status, which the table's stream turns into `alert.raised` / `alert.resolved`
webhook events (and, when the integration names an alert e-mail address, one e-mail per raise).

Conditions and severities:
- token_expired (critical): the credentials' token has expired and does not renew by itself.
- token_expiring: within 24 hours (high), 7 days (medium) or 30 days (low), and does not renew by
  itself.
- error_rate: more than 5% of at least 10 requests failed over 24 hours (medium; high above 20%).
- stale_sync: periodic sync is on and the last successful sync is older than twice the sync
  frequency (medium; high beyond six times).
A user's manual resolution holds for 24 hours unless the condition gets more severe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tidings.core.clock import iso_ms
from tidings.models.integrations import SEVERITIES, Alert, Integration, Status, Totals
from tidings.store.alerts import AlertRepository

ERROR_RATE_LIMIT = 0.05
ERROR_RATE_HIGH = 0.20
MIN_REQUESTS = 10
STALE_FACTOR, VERY_STALE_FACTOR = 2, 6
MANUAL_HOLD = timedelta(hours=24)
KINDS = ("token_expired", "token_expiring", "error_rate", "stale_sync")
SYSTEM = "tidings"  # who resolves an alert whose condition cleared


@dataclass(frozen=True)
class Condition:
    kind: str
    severity: str
    message: str
    details: dict[str, Any]


def alert_id(integration_id: str, kind: str) -> str:
    return "alr_" + hashlib.sha256(f"{integration_id}|{kind}".encode()).hexdigest()[:20]


def conditions(
    integration: Integration, totals: Totals, expires_at: datetime | None, renews: bool, now: datetime
) -> list[Condition]:
    """Which alert conditions hold now (pure)."""
    found: list[Condition] = []
    if integration.status == Status.DISCONNECTED:
        return found
    if expires_at is not None and not renews:
        left = expires_at - now
        when = {"expiresAt": iso_ms(expires_at)}
        if left <= timedelta(0):
            found.append(
                Condition(
                    "token_expired",
                    "critical",
                    f"The {integration.name} token has expired; reconnect it.",
                    when,
                )
            )
        elif left < timedelta(days=1):
            found.append(
                Condition(
                    "token_expiring", "high", f"The {integration.name} token expires within a day.", when
                )
            )
        elif left < timedelta(days=7):
            found.append(
                Condition(
                    "token_expiring", "medium", f"The {integration.name} token expires within a week.", when
                )
            )
        elif left < timedelta(days=30):
            message = f"The {integration.name} token expires within a month."
            found.append(Condition("token_expiring", "low", message, when))
    if totals.requests >= MIN_REQUESTS and totals.error_rate > ERROR_RATE_LIMIT:
        severity = "high" if totals.error_rate > ERROR_RATE_HIGH else "medium"
        found.append(
            Condition(
                "error_rate",
                severity,
                f"{totals.error_rate:.0%} of {integration.name}'s requests failed in the last 24 hours.",
                {
                    "errorRate": round(totals.error_rate, 4),
                    "requests": totals.requests,
                    "errors": totals.errors,
                },
            )
        )
    if integration.sync_enabled:
        frequency = timedelta(minutes=integration.sync_frequency_minutes)
        since = integration.last_successful_sync_at or integration.created_at
        age = now - since
        if age > STALE_FACTOR * frequency:
            severity = "high" if age > VERY_STALE_FACTOR * frequency else "medium"
            found.append(
                Condition(
                    "stale_sync",
                    severity,
                    f"{integration.name} has not synced successfully for "
                    f"{int(age.total_seconds() // 60)} minutes.",
                    {
                        "lastSuccessfulSyncAt": iso_ms(integration.last_successful_sync_at)
                        if integration.last_successful_sync_at
                        else None,
                        "syncFrequencyMinutes": integration.sync_frequency_minutes,
                    },
                )
            )
    return found


def reconcile(
    alerts: AlertRepository,
    integration: Integration,
    found: Iterable[Condition],
    now: datetime,
    alert_email: str | None,
) -> list[Alert]:
    """Raise, refresh or resolve the integration's alerts to match the conditions that hold now;
    the alerts that changed (raised, worse, or resolved)."""
    holding = {c.kind: c for c in found}
    changed: list[Alert] = []
    for kind in KINDS:
        current = alerts.get(integration.user_id, alert_id(integration.integration_id, kind))
        condition = holding.get(kind)
        updated: Alert | None = None
        if condition is not None:
            updated = _raise_or_refresh(alerts, integration, condition, current, now, alert_email)
        elif current is not None and current.status == "open":
            updated = alerts.resolve(current, SYSTEM, now)
        if updated is not None:
            changed.append(updated)
    return changed


def _held(current: Alert, worse: bool, now: datetime) -> bool:
    """A user's own resolution holds for a day, unless the condition got worse."""
    if worse or current.resolved_by in (None, SYSTEM) or current.resolved_at is None:
        return False
    return now - current.resolved_at < MANUAL_HOLD


def _raise_or_refresh(
    alerts: AlertRepository,
    integration: Integration,
    condition: Condition,
    current: Alert | None,
    now: datetime,
    alert_email: str | None,
) -> Alert | None:
    worse = current is not None and SEVERITIES.index(condition.severity) > SEVERITIES.index(current.severity)
    if current is not None and current.status == "resolved" and _held(current, worse, now):
        return None
    raising = current is None or current.status == "resolved"
    alert = Alert(
        user_id=integration.user_id,
        alert_id=alert_id(integration.integration_id, condition.kind),
        integration_id=integration.integration_id,
        kind=condition.kind,
        severity=condition.severity,
        status="open",
        message=condition.message,
        raised_at=now if raising or current is None else current.raised_at,
        last_seen_at=now,
        details=condition.details,
    )
    written = alerts.put(
        alert,
        integration_name=integration.name,
        notify_email=alert_email,
        replacing=current.raised_at if current is not None else None,
    )
    # not written: another function reconciled it meanwhile
    return alert if written and (raising or worse) else None
