"""Alerts about integrations: raised when a condition starts, kept current while it lasts, resolved
when it clears (or by the user), one alert per integration and condition.

`USER#<id> / ALERT#<alertId>`; the id is derived from the integration and the condition, so a
condition seen by two functions at once is one alert. Raising and resolving change the item's status,
which the table's stream turns into `alert.raised` / `alert.resolved` webhook events (and, when the
integration names an alert e-mail address, one e-mail through SES per raise).

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
from typing import TYPE_CHECKING, Any

from tidings.core.clock import iso_ms, parse_iso
from tidings.core.errors import NotFound
from tidings.store import keys
from tidings.store.dynamo import deserialize, is_conditional_failure, query_prefix, serialize, serialize_value
from tidings.store.integrations import Integration, Status
from tidings.store.metrics import Totals

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SEVERITIES = ("low", "medium", "high", "critical")
ERROR_RATE_LIMIT = 0.05
ERROR_RATE_HIGH = 0.20
MIN_REQUESTS = 10
STALE_FACTOR, VERY_STALE_FACTOR = 2, 6
MANUAL_HOLD = timedelta(hours=24)
RETENTION = timedelta(days=90)  # resolved alerts are kept this long


@dataclass(frozen=True)
class Condition:
    kind: str
    severity: str
    message: str
    details: dict[str, Any]


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


KINDS = ("token_expired", "token_expiring", "error_rate", "stale_sync")


def _alert(item: dict[str, Any]) -> Alert:
    return Alert(
        user_id=item["user_id"],
        alert_id=item["alert_id"],
        integration_id=item["integration_id"],
        kind=item["kind"],
        severity=item["severity"],
        status=item["status"],
        message=item["message"],
        raised_at=parse_iso(item["raised_at"]),
        last_seen_at=parse_iso(item["last_seen_at"]),
        details=dict(item.get("details") or {}),
        resolved_at=parse_iso(item["resolved_at"]) if item.get("resolved_at") else None,
        resolved_by=item.get("resolved_by"),
    )


class AlertStore:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self.table = table_name
        self.client = client

    def _key(self, user_id: str, alert: str) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": keys.alert_sk(alert)})

    def get(self, user_id: str, alert: str) -> Alert | None:
        resp = self.client.get_item(TableName=self.table, Key=self._key(user_id, alert), ConsistentRead=True)
        return _alert(deserialize(resp["Item"])) if "Item" in resp else None

    def for_user(self, user_id: str, status: str | None = None) -> list[Alert]:
        alerts = [
            _alert(i)
            for i in query_prefix(self.client, self.table, keys.user_pk(user_id), keys.ALERT_SK_PREFIX)
        ]
        if status is not None:
            alerts = [a for a in alerts if a.status == status]
        return sorted(alerts, key=lambda a: (a.status != "open", -SEVERITIES.index(a.severity), a.raised_at))

    def reconcile(
        self, integration: Integration, found: Iterable[Condition], now: datetime, alert_email: str | None
    ) -> list[Alert]:
        """Raise, refresh or resolve the integration's alerts to match the conditions that hold now;
        the alerts that changed."""
        holding = {c.kind: c for c in found}
        changed: list[Alert] = []
        for kind in KINDS:
            current = self.get(integration.user_id, alert_id(integration.integration_id, kind))
            condition = holding.get(kind)
            if condition is not None:
                updated = self._raise_or_refresh(integration, condition, current, now, alert_email)
            elif current is not None and current.status == "open":
                updated = self._resolve(current, "tidings", now)
            else:
                updated = None
            if updated is not None:
                changed.append(updated)
        return changed

    def _raise_or_refresh(
        self,
        integration: Integration,
        condition: Condition,
        current: Alert | None,
        now: datetime,
        alert_email: str | None,
    ) -> Alert | None:
        worse = current is not None and SEVERITIES.index(condition.severity) > SEVERITIES.index(
            current.severity
        )
        if current is not None and current.status == "resolved":
            held = current.resolved_by not in (None, "tidings") and current.resolved_at is not None
            if held and now - current.resolved_at < MANUAL_HOLD and not worse:  # type: ignore[operator]
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
        item = {
            "PK": keys.user_pk(alert.user_id),
            "SK": keys.alert_sk(alert.alert_id),
            "EntityType": keys.ALERT_ENTITY,
            "user_id": alert.user_id,
            "alert_id": alert.alert_id,
            "integration_id": alert.integration_id,
            "integration_name": integration.name,
            "kind": alert.kind,
            "severity": alert.severity,
            "status": alert.status,
            "message": alert.message,
            "raised_at": iso_ms(alert.raised_at),
            "last_seen_at": iso_ms(alert.last_seen_at),
            "details": alert.details,
            "notify_email": alert_email,
        }
        condition_expr = "attribute_not_exists(PK)" if current is None else "raised_at = :seen"
        values = {} if current is None else {":seen": serialize_value(iso_ms(current.raised_at))}
        try:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "Item": serialize(item),
                "ConditionExpression": condition_expr,
            }
            if values:
                kwargs["ExpressionAttributeValues"] = values
            self.client.put_item(**kwargs)
        except Exception as exc:
            if is_conditional_failure(exc):
                return None  # another function reconciled it meanwhile
            raise
        return alert if (raising or worse) else None

    def resolve(self, user_id: str, alert: str, by: str, now: datetime) -> Alert:
        current = self.get(user_id, alert)
        if current is None:
            raise NotFound("no such alert", {"alertId": alert}, code="alert_not_found")
        if current.status == "resolved":
            return current
        return self._resolve(current, by, now) or current

    def _resolve(self, current: Alert, by: str, now: datetime) -> Alert | None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(current.user_id, current.alert_id),
                UpdateExpression="SET #s = :resolved, resolved_at = :now, resolved_by = :by, "
                "expiresAt = :ttl",
                ConditionExpression="#s = :open AND raised_at = :raised",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":resolved": "resolved",
                        ":open": "open",
                        ":now": iso_ms(now),
                        ":by": by,
                        ":raised": iso_ms(current.raised_at),
                        ":ttl": int((now + RETENTION).timestamp()),
                    }
                ),
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return Alert(**{**current.__dict__, "status": "resolved", "resolved_at": now, "resolved_by": by})

    def claim_email(self, user_id: str, alert: str, raised_at: str) -> bool:
        """True once per raise: whoever claims it sends the e-mail."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(user_id, alert),
                UpdateExpression="SET emailed_for = :raised",
                ConditionExpression="raised_at = :raised AND "
                "(attribute_not_exists(emailed_for) OR emailed_for <> :raised)",
                ExpressionAttributeValues=serialize({":raised": raised_at}),
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True
