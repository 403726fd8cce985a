"""Alerts in the table: `USER#<id> / ALERT#<alertId>`.

The id is derived from the integration and the condition (`tidings.integrations.alerts`), so a
condition seen by two functions at once is one item. Every write is conditional: an alert is created
only when absent, replaced only while it is the raise that was read (`raised_at`), resolved only while
open, and its e-mail is claimed once per raise (`emailed_for = raised_at`). Raising and resolving
change the item's status, which the table's stream turns into `alert.raised` / `alert.resolved`
events and, with `notify_email`, one e-mail per raise.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.models.integrations import Alert, alert_order
from tidings.store import keys
from tidings.store.dynamo import (
    deserialize,
    dynamodb_client,
    is_conditional_failure,
    query_prefix,
    serialize,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RETENTION = timedelta(days=90)  # resolved alerts are kept this long
_RESOLUTION = ("resolved_at", "resolved_by", "expiresAt")  # what resolving adds to an alert


class AlertRepository(Protocol):
    def get(self, user_id: str, alert_id: str) -> Alert | None: ...

    def for_user(self, user_id: str, status: str | None = None) -> list[Alert]:
        """The user's alerts (only those of `status` when given): open first, most severe first."""
        ...

    def put(
        self,
        alert: Alert,
        *,
        integration_name: str,
        notify_email: str | None,
        replacing: datetime | None,
    ) -> bool:
        """Write `alert`: only when there is none (`replacing` None), or only while the stored one is
        the raise of `replacing`. False when someone else changed it first."""
        ...

    def resolve(self, alert: Alert, by: str, now: datetime) -> Alert | None:
        """Resolve `alert` while it is open and the same raise; the resolved alert, or None."""
        ...

    def claim_email(self, user_id: str, alert_id: str, raised_at: str) -> bool:
        """True once per raise (`raised_at` as stored): whoever claims it sends the e-mail."""
        ...

    def release_email(self, user_id: str, alert_id: str) -> None:
        """Give a claim back (the e-mail could not be sent), so a retry claims it again."""
        ...


def to_item(alert: Alert, integration_name: str, notify_email: str | None) -> dict[str, Any]:
    return {
        "PK": keys.user_pk(alert.user_id),
        "SK": keys.alert_sk(alert.alert_id),
        "EntityType": keys.ALERT_ENTITY,
        "user_id": alert.user_id,
        "alert_id": alert.alert_id,
        "integration_id": alert.integration_id,
        "integration_name": integration_name,
        "kind": alert.kind,
        "severity": alert.severity,
        "status": alert.status,
        "message": alert.message,
        "raised_at": iso_ms(alert.raised_at),
        "last_seen_at": iso_ms(alert.last_seen_at),
        "details": alert.details,
        "notify_email": notify_email,
    }


def from_item(item: dict[str, Any]) -> Alert:
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


class DynamoAlertRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _key(self, user_id: str, alert_id: str) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": keys.alert_sk(alert_id)})

    def _conditional(self, **request: Any) -> bool:
        """One conditional write; False when its condition failed."""
        try:
            if "Item" in request:
                self.client.put_item(TableName=self.table, **request)
            else:
                self.client.update_item(TableName=self.table, **request)
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def get(self, user_id: str, alert_id: str) -> Alert | None:
        resp = self.client.get_item(
            TableName=self.table, Key=self._key(user_id, alert_id), ConsistentRead=True
        )
        return from_item(deserialize(resp["Item"])) if "Item" in resp else None

    def for_user(self, user_id: str, status: str | None = None) -> list[Alert]:
        items = query_prefix(self.client, self.table, keys.user_pk(user_id), keys.ALERT_SK_PREFIX)
        alerts = [from_item(item) for item in items]
        return sorted((a for a in alerts if status is None or a.status == status), key=alert_order)

    def put(
        self,
        alert: Alert,
        *,
        integration_name: str,
        notify_email: str | None,
        replacing: datetime | None,
    ) -> bool:
        item = to_item(alert, integration_name, notify_email)
        if replacing is None:
            return self._conditional(Item=serialize(item), ConditionExpression="attribute_not_exists(PK)")
        # An update, not a put, so the e-mail claim of this raise (`emailed_for`) stays with it; what
        # a put would have dropped (a resolution, its expiry, an empty field) is removed.
        present = [name for name, value in item.items() if value is not None and name not in ("PK", "SK")]
        gone = [name for name, value in item.items() if value is None] + list(_RESOLUTION)
        names = {f"#f{i}": name for i, name in enumerate(present + gone)}
        sets = ", ".join(f"#f{i} = :f{i}" for i in range(len(present)))
        removes = ", ".join(f"#f{i}" for i in range(len(present), len(names)))
        return self._conditional(
            Key=self._key(alert.user_id, alert.alert_id),
            UpdateExpression=f"SET {sets} REMOVE {removes}",
            ConditionExpression="raised_at = :seen",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize(
                {f":f{i}": item[name] for i, name in enumerate(present)} | {":seen": iso_ms(replacing)}
            ),
        )

    def resolve(self, alert: Alert, by: str, now: datetime) -> Alert | None:
        resolved = self._conditional(
            Key=self._key(alert.user_id, alert.alert_id),
            UpdateExpression="SET #s = :resolved, resolved_at = :now, resolved_by = :by, expiresAt = :ttl",
            ConditionExpression="#s = :open AND raised_at = :raised",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=serialize(
                {
                    ":resolved": "resolved",
                    ":open": "open",
                    ":now": iso_ms(now),
                    ":by": by,
                    ":raised": iso_ms(alert.raised_at),
                    ":ttl": int((now + RETENTION).timestamp()),
                }
            ),
        )
        return resolved_copy(alert, by, now) if resolved else None

    def claim_email(self, user_id: str, alert_id: str, raised_at: str) -> bool:
        return self._conditional(
            Key=self._key(user_id, alert_id),
            UpdateExpression="SET emailed_for = :raised",
            ConditionExpression="raised_at = :raised AND "
            "(attribute_not_exists(emailed_for) OR emailed_for <> :raised)",
            ExpressionAttributeValues=serialize({":raised": raised_at}),
        )

    def release_email(self, user_id: str, alert_id: str) -> None:
        self.client.update_item(
            TableName=self.table, Key=self._key(user_id, alert_id), UpdateExpression="REMOVE emailed_for"
        )


def resolved_copy(alert: Alert, by: str, now: datetime) -> Alert:
    return replace(alert, status="resolved", resolved_at=now, resolved_by=by)
