"""Integrations in the table: `USER#<id> / INTEGRATION#<integrationId>`.

The item holds the integration (`tidings.models.integrations.Integration`: type and provider,
settings that are not secret, a masked hint of its secret, its sync frequency and whether periodic
sync is on, the outcome of its last test and sync) and, beside it, its sealed secret
(`SealedSecret`: sealed by the credential vault, bound to the user and the integration). Every
change is conditional on the revision that was read.

A stored integration counts in the user's `integrations` quota (`tidings.store.quotas`): taken in the
same transaction as the conditional write that stores a new one (writing over an existing one, as a
social account connected again does, takes nothing), given back in the one that deletes it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.core.errors import Conflict, NotFound
from tidings.core.secrets import SealedSecret
from tidings.models.integrations import Integration, Outcome
from tidings.store import keys
from tidings.store.dynamo import (
    deserialize,
    dynamodb_client,
    is_conditional_failure,
    query_prefix,
    serialize,
    serialize_value,
)
from tidings.store.quotas import INTEGRATIONS, Counted, DynamoQuotas, GiveBack, ItemConditionFailed, Take

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def outcome_to_item(o: Outcome) -> dict[str, Any]:
    return {
        "at": iso_ms(o.at),
        "ok": o.ok,
        "error_code": o.error_code,
        "error": o.error,
        "latency_ms": o.latency_ms,
        "records": o.records,
        "complete": o.complete,
    }


def outcome_from_item(item: dict[str, Any] | None) -> Outcome | None:
    if not item:
        return None
    return Outcome(
        at=parse_iso(item["at"]),
        ok=bool(item["ok"]),
        error_code=item.get("error_code"),
        error=item.get("error"),
        latency_ms=int(item["latency_ms"]) if item.get("latency_ms") is not None else None,
        records=int(item["records"]) if item.get("records") is not None else None,
        complete=item.get("complete"),
    )


def to_item(i: Integration) -> dict[str, Any]:
    return {
        "PK": keys.user_pk(i.user_id),
        "SK": keys.integration_sk(i.integration_id),
        "EntityType": keys.INTEGRATION_ENTITY,
        "user_id": i.user_id,
        "integration_id": i.integration_id,
        "name": i.name,
        "type": i.type,
        "provider": i.provider,
        "status": i.status,
        "created_at": iso_ms(i.created_at),
        "updated_at": iso_ms(i.updated_at),
        "settings": dict(i.settings),
        "secret_hint": i.secret_hint,
        "expires_at": iso_ms(i.expires_at) if i.expires_at else None,
        "sync_frequency_minutes": i.sync_frequency_minutes,
        "sync_enabled": i.sync_enabled,
        "alert_email": i.alert_email,
        "last_test": outcome_to_item(i.last_test) if i.last_test else None,
        "last_sync": outcome_to_item(i.last_sync) if i.last_sync else None,
        "last_successful_sync_at": iso_ms(i.last_successful_sync_at) if i.last_successful_sync_at else None,
        "cursor": i.cursor,
        "revision": i.revision,
    }


def from_item(item: dict[str, Any]) -> Integration:
    def when(name: str) -> datetime | None:
        return parse_iso(item[name]) if item.get(name) else None

    return Integration(
        user_id=item["user_id"],
        integration_id=item["integration_id"],
        name=item["name"],
        type=item["type"],
        provider=item["provider"],
        status=item["status"],
        created_at=parse_iso(item["created_at"]),
        updated_at=parse_iso(item["updated_at"]),
        settings={str(k): str(v) for k, v in (item.get("settings") or {}).items()},
        secret_hint=item.get("secret_hint"),
        expires_at=when("expires_at"),
        sync_frequency_minutes=int(item.get("sync_frequency_minutes", 60)),
        sync_enabled=bool(item.get("sync_enabled", False)),
        alert_email=item.get("alert_email"),
        last_test=outcome_from_item(item.get("last_test")),
        last_sync=outcome_from_item(item.get("last_sync")),
        last_successful_sync_at=when("last_successful_sync_at"),
        cursor=item.get("cursor"),
        revision=int(item.get("revision", 1)),
    )


def not_found(integration_id: str) -> NotFound:
    return NotFound("no such integration", {"integrationId": integration_id}, code="integration_not_found")


def exists(integration_id: str) -> Conflict:
    return Conflict(
        "an integration with that id exists", {"integrationId": integration_id}, code="integration_exists"
    )


def busy(integration_id: str) -> Conflict:
    return Conflict(
        "the integration changed meanwhile; read it again and retry",
        {"integrationId": integration_id},
        code="integration_busy",
    )


class IntegrationRepository(Protocol):
    def get(self, user_id: str, integration_id: str) -> Integration | None: ...

    def require(self, user_id: str, integration_id: str) -> Integration:
        """The integration, or NotFound (`integration_not_found`)."""
        ...

    def sealed(self, user_id: str, integration_id: str) -> SealedSecret | None: ...

    def for_user(self, user_id: str) -> list[Integration]: ...

    def create(
        self,
        integration: Integration,
        sealed: SealedSecret | None,
        *,
        replace_existing: bool,
        limit: int | None,
    ) -> None:
        """Store a new integration, taking one of the user's `integrations` quota (Conflict
        `quota_exceeded` at `limit`; None: counted, never refused); Conflict (`integration_exists`)
        when one of that id exists, unless `replace_existing`: then it is written over, taking nothing."""
        ...

    def save(self, integration: Integration, sealed: SealedSecret | bool | None = True) -> Integration:
        """Write `integration` if nobody changed it since it was read (its revision), else Conflict
        (`integration_busy`); the saved copy has the next revision. `sealed`: True keeps the stored
        secret, None/False drops it, a SealedSecret replaces it."""
        ...

    def delete(self, user_id: str, integration_id: str) -> Integration | None:
        """Delete it and give back its place in the quota; the deleted integration, or None."""
        ...


# What the `integrations` quota counts: every integration the user has stored.
COUNTED = Counted(INTEGRATIONS, keys.INTEGRATION_SK_PREFIX)
# Writing over an integration that is deleted meanwhile stores a new one; so many tries at most.
CREATE_ATTEMPTS = 3


class DynamoIntegrationRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()
        self.quotas = DynamoQuotas(self.table, self.client, COUNTED)

    def _key(self, user_id: str, integration_id: str) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": keys.integration_sk(integration_id)})

    def item(self, user_id: str, integration_id: str) -> dict[str, Any] | None:
        resp = self.client.get_item(
            TableName=self.table, Key=self._key(user_id, integration_id), ConsistentRead=True
        )
        return deserialize(resp["Item"]) if "Item" in resp else None

    def get(self, user_id: str, integration_id: str) -> Integration | None:
        item = self.item(user_id, integration_id)
        return from_item(item) if item else None

    def require(self, user_id: str, integration_id: str) -> Integration:
        found = self.get(user_id, integration_id)
        if found is None:
            raise not_found(integration_id)
        return found

    def sealed(self, user_id: str, integration_id: str) -> SealedSecret | None:
        item = self.item(user_id, integration_id)
        if item is None or "cred_wrapped_key" not in item:
            return None
        return SealedSecret.from_item(item)

    def for_user(self, user_id: str) -> list[Integration]:
        items = query_prefix(self.client, self.table, keys.user_pk(user_id), keys.INTEGRATION_SK_PREFIX)
        return [from_item(item) for item in items]

    def create(
        self,
        integration: Integration,
        sealed: SealedSecret | None,
        *,
        replace_existing: bool,
        limit: int | None,
    ) -> None:
        item = serialize(to_item(integration) | (sealed.to_item() if sealed else {}))
        take = Take(integration.user_id, INTEGRATIONS, limit)
        for _ in range(CREATE_ATTEMPTS):
            new = {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}
            try:
                self.quotas.write([{"Put": new}], take)
                return
            except ItemConditionFailed as exc:
                if not replace_existing:
                    raise exists(integration.integration_id) from exc
            over = {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_exists(PK)"}
            try:
                self.quotas.write([{"Put": over}], None)
                return
            except ItemConditionFailed:
                continue  # deleted since: it is new again
        raise busy(integration.integration_id)

    def save(self, integration: Integration, sealed: SealedSecret | bool | None = True) -> Integration:
        current = self.item(integration.user_id, integration.integration_id)
        if current is None:
            raise not_found(integration.integration_id)
        updated = replace(integration, revision=integration.revision + 1)
        item = to_item(updated)
        if sealed is True:
            item |= {k: current[k] for k in SealedSecret.ITEM_FIELDS if k in current}
        elif isinstance(sealed, SealedSecret):
            item |= sealed.to_item()
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(item),
                ConditionExpression="revision = :rev",
                ExpressionAttributeValues={":rev": serialize_value(integration.revision)},
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                raise busy(integration.integration_id) from exc
            raise
        return updated

    def delete(self, user_id: str, integration_id: str) -> Integration | None:
        item = self.item(user_id, integration_id)
        if item is None:
            return None
        delete = {
            "TableName": self.table,
            "Key": self._key(user_id, integration_id),
            "ConditionExpression": "attribute_exists(PK)",
        }
        try:
            self.quotas.write([{"Delete": delete}], GiveBack(user_id, INTEGRATIONS))
        except ItemConditionFailed:
            return None  # deleted meanwhile, by a request that gave its place back
        return from_item(item)
