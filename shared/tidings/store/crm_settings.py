"""A user's CRM settings: `USER#<id> / CRM_SETTINGS`, one item per user.

The item holds `default_integration_id` (the CRM used when a request names none; absent until the
user chooses one) and, per CRM integration, `cache_ttl_seconds` (how long a client read from it is
kept in memory) and `write_back` (which of Tidings' own events become activities in that CRM). A user
who never changed anything has no item and reads the defaults. The whole item is written at once,
conditional on the version that was read, so two changes made together never undo each other: the
second is refused with Conflict and tried again on what the first wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.core.errors import Conflict
from tidings.store import keys
from tidings.store.dynamo import deserialize, dynamodb_client, is_conditional_failure, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DEFAULT_CACHE_TTL_SECONDS = 300
MAX_CACHE_TTL_SECONDS = 86_400
# Tidings' own events that may become CRM activities, as the activity types name them.
WRITE_BACK_EVENTS = ("post_published", "email_sent", "email_opened")


@dataclass(frozen=True)
class WriteBack:
    """Which of Tidings' own events are written to the CRM as activities (all off by default)."""

    post_published: bool = False
    email_sent: bool = False
    email_opened: bool = False

    def enabled(self, event: str) -> bool:
        if event not in WRITE_BACK_EVENTS:
            raise ValueError(f"unknown write-back event {event!r}; one of {', '.join(WRITE_BACK_EVENTS)}")
        return bool(getattr(self, event))


@dataclass(frozen=True)
class CrmIntegrationSettings:
    cache_ttl_seconds: int = DEFAULT_CACHE_TTL_SECONDS  # 0: clients are read from the CRM every time
    write_back: WriteBack = field(default_factory=WriteBack)


DEFAULTS = CrmIntegrationSettings()


@dataclass(frozen=True)
class CrmSettings:
    default_integration_id: str | None = None
    integrations: Mapping[str, CrmIntegrationSettings] = field(default_factory=dict)
    updated_at: datetime | None = None
    version: int = 0  # 0: never stored

    def for_integration(self, integration_id: str) -> CrmIntegrationSettings:
        """The integration's settings; the defaults when none were set for it."""
        return self.integrations.get(integration_id, DEFAULTS)


class CrmSettingsRepository(Protocol):
    def get(self, user_id: str) -> CrmSettings:
        """The user's settings; the defaults (version 0) when they never changed any."""
        ...

    def save(self, user_id: str, settings: CrmSettings, at: datetime) -> CrmSettings:
        """Write the whole settings if nobody wrote them since `settings.version` was read, else
        Conflict (`crm_settings_busy`); the saved copy has the next version and `at` as its time."""
        ...


def busy() -> Conflict:
    return Conflict(
        "the CRM settings changed meanwhile; read them again and retry", {}, code="crm_settings_busy"
    )


# -- items -----------------------------------------------------------------------------------------


def to_item(user_id: str, settings: CrmSettings, at: datetime, version: int) -> dict[str, Any]:
    return {
        "PK": keys.user_pk(user_id),
        "SK": keys.CRM_SETTINGS_SK,
        "EntityType": keys.CRM_SETTINGS_ENTITY,
        "user_id": user_id,
        "default_integration_id": settings.default_integration_id,
        "integrations": {
            integration_id: {
                "cache_ttl_seconds": s.cache_ttl_seconds,
                "write_back": {event: s.write_back.enabled(event) for event in WRITE_BACK_EVENTS},
            }
            for integration_id, s in settings.integrations.items()
        },
        "updated_at": iso_ms(at),
        "version": version,
    }


def _integration_from_item(raw: Mapping[str, Any]) -> CrmIntegrationSettings:
    write_back = raw.get("write_back") or {}
    return CrmIntegrationSettings(
        cache_ttl_seconds=int(raw.get("cache_ttl_seconds", DEFAULT_CACHE_TTL_SECONDS)),
        write_back=WriteBack(**{event: bool(write_back.get(event, False)) for event in WRITE_BACK_EVENTS}),
    )


def from_item(item: Mapping[str, Any] | None) -> CrmSettings:
    if not item:
        return CrmSettings()
    return CrmSettings(
        default_integration_id=item.get("default_integration_id") or None,
        integrations={
            str(integration_id): _integration_from_item(raw)
            for integration_id, raw in (item.get("integrations") or {}).items()
        },
        updated_at=parse_iso(item["updated_at"]) if item.get("updated_at") else None,
        version=int(item.get("version", 0)),
    )


# -- DynamoDB ----------------------------------------------------------------------------------------


class DynamoCrmSettingsRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def get(self, user_id: str) -> CrmSettings:
        resp = self.client.get_item(
            TableName=self.table,
            Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.CRM_SETTINGS_SK}),
            ConsistentRead=True,
        )
        return from_item(deserialize(resp["Item"]) if "Item" in resp else None)

    def save(self, user_id: str, settings: CrmSettings, at: datetime) -> CrmSettings:
        item = to_item(user_id, settings, at, settings.version + 1)
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": serialize(item)}
        if settings.version == 0:
            kwargs["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            kwargs["ConditionExpression"] = "version = :version"
            kwargs["ExpressionAttributeValues"] = serialize({":version": settings.version})
        try:
            self.client.put_item(**kwargs)
        except Exception as exc:
            if is_conditional_failure(exc):
                raise busy() from exc
            raise
        return from_item(item)
