"""Strategy insights in the table: `USER#<id> / INSIGHT#<insightId>` (EntityType `StrategyInsight`).

An insight's id is derived from its user, type and subject (`insight_id`), so the same finding
generated again lands on the same item and replaces it instead of piling up. Every write is
conditional on the stored version: created only when absent, replaced or deleted only while it is the
version that was read, so a dismissal and a generation running at the same moment never overwrite
each other. `expiresAt` (epoch seconds) is the table's TTL attribute; DynamoDB deletes expired items
within a day or two, so readers also treat an insight past `expires_at` as gone.

A warning stored with a new `created_at` (a new raise) becomes an `insight.warning` webhook event
through the table's stream (`tidings.webhooks.events`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
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


class InsightType(StrEnum):
    TREND = "trend"
    OPPORTUNITY = "opportunity"
    WARNING = "warning"
    RECOMMENDATION = "recommendation"
    AB_TEST = "abtest"  # a winner found by an A/B test (recorded by tidings.engagement, not generated)


# The types the analytics rules generate (and retire when their finding no longer fires).
GENERATED_TYPES = frozenset(
    {InsightType.TREND, InsightType.OPPORTUNITY, InsightType.WARNING, InsightType.RECOMMENDATION}
)


class Impact(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class InsightStatus(StrEnum):
    ACTIVE = "active"
    DISMISSED = "dismissed"


@dataclass(frozen=True)
class InsightContent:
    """What an insight says. `subject` names what it is about within its type (e.g. `rate:7d`,
    `contentType:video`, `collection:facebook`); `signal` is the one number whose material change
    raises it again (see `tidings.analytics.insights.policy`)."""

    type: InsightType
    subject: str
    title: str
    description: str
    impact: Impact
    confidence: float
    evidence: dict[str, Any]
    recommendations: tuple[str, ...]
    signal: float

    def content(self) -> dict[str, Any]:
        """The content's fields by name (of a subclass too: only those of InsightContent)."""
        return {f.name: getattr(self, f.name) for f in fields(InsightContent)}


@dataclass(frozen=True)
class Insight(InsightContent):
    """One stored insight: its content, whose it is, and where it stands. `raised_signal` is the signal
    when this raise began (`created_at`), `dismissed_signal` its value when the user dismissed it.
    `updated_at` is when the insight's evidence was last confirmed by a generation."""

    user_id: str
    insight_id: str
    raised_signal: float
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    status: InsightStatus = InsightStatus.ACTIVE
    dismissed_at: datetime | None = None
    dismissed_signal: float | None = None
    version: int = 1
    sources: tuple[str, ...] = field(default=())  # ids of the insights a recommendation rests on


def insight_id(user_id: str, type_: InsightType | str, subject: str) -> str:
    """The one id of an insight about `subject`: the same finding generated again has the same id."""
    digest = hashlib.sha256(f"{user_id}|{type_}|{subject}".encode()).hexdigest()
    return f"ins_{digest[:24]}"


class InsightRepository(Protocol):
    def get(self, user_id: str, insight_id: str) -> Insight | None: ...

    def for_user(self, user_id: str) -> list[Insight]:
        """Every stored insight of the user (expired ones too, until the TTL removes them), by id."""
        ...

    def save(self, insight: Insight, replacing: int | None) -> Insight | None:
        """Store `insight`: only when there is none (`replacing` None), or only while the stored one is at
        version `replacing`. Answers the insight as stored (its version one more than `replacing`, or 1),
        or None when someone else changed it first."""
        ...

    def delete(self, user_id: str, insight_id: str, version: int) -> bool:
        """Delete the insight while it is at `version`; False when it changed or is gone."""
        ...


def to_item(insight: Insight) -> dict[str, Any]:
    return {
        "PK": keys.user_pk(insight.user_id),
        "SK": keys.insight_sk(insight.insight_id),
        "EntityType": keys.INSIGHT_ENTITY,
        "user_id": insight.user_id,
        "insight_id": insight.insight_id,
        "type": str(insight.type),
        "subject": insight.subject,
        "title": insight.title,
        "description": insight.description,
        "impact": str(insight.impact),
        "confidence": insight.confidence,
        "evidence": insight.evidence,
        "recommendations": list(insight.recommendations),
        "sources": list(insight.sources),
        "signal": insight.signal,
        "raised_signal": insight.raised_signal,
        "created_at": iso_ms(insight.created_at),
        "updated_at": iso_ms(insight.updated_at),
        "expires_at": iso_ms(insight.expires_at),
        "expiresAt": int(insight.expires_at.timestamp()),  # the table's TTL attribute
        "status": str(insight.status),
        "dismissed_at": iso_ms(insight.dismissed_at) if insight.dismissed_at else None,
        "dismissed_signal": insight.dismissed_signal,
        "version": insight.version,
    }


def from_item(item: dict[str, Any]) -> Insight:
    dismissed_signal = item.get("dismissed_signal")
    return Insight(
        user_id=item["user_id"],
        insight_id=item["insight_id"],
        type=InsightType(item["type"]),
        subject=item["subject"],
        title=item["title"],
        description=item["description"],
        impact=Impact(item["impact"]),
        confidence=float(item["confidence"]),
        evidence=dict(item.get("evidence") or {}),
        recommendations=tuple(item.get("recommendations") or ()),
        signal=float(item["signal"]),
        raised_signal=float(item.get("raised_signal", item["signal"])),
        created_at=parse_iso(item["created_at"]),
        updated_at=parse_iso(item["updated_at"]),
        expires_at=parse_iso(item["expires_at"]),
        status=InsightStatus(item.get("status") or InsightStatus.ACTIVE),
        dismissed_at=parse_iso(item["dismissed_at"]) if item.get("dismissed_at") else None,
        dismissed_signal=float(dismissed_signal) if dismissed_signal is not None else None,
        version=int(item.get("version") or 1),
        sources=tuple(item.get("sources") or ()),
    )


def stored_copy(insight: Insight, replacing: int | None) -> Insight:
    """`insight` as a save stores it: the version after `replacing`."""
    return replace(insight, version=1 if replacing is None else replacing + 1)


class DynamoInsightRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _key(self, user_id: str, insight_id: str) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": keys.insight_sk(insight_id)})

    def get(self, user_id: str, insight_id: str) -> Insight | None:
        resp = self.client.get_item(
            TableName=self.table, Key=self._key(user_id, insight_id), ConsistentRead=True
        )
        return from_item(deserialize(resp["Item"])) if "Item" in resp else None

    def for_user(self, user_id: str) -> list[Insight]:
        items = query_prefix(self.client, self.table, keys.user_pk(user_id), keys.INSIGHT_SK_PREFIX)
        return [from_item(item) for item in items]

    def save(self, insight: Insight, replacing: int | None) -> Insight | None:
        stored = stored_copy(insight, replacing)
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(PK)"}
            if replacing is None
            else {
                "ConditionExpression": "version = :seen",
                "ExpressionAttributeValues": serialize({":seen": replacing}),
            }
        )
        try:
            self.client.put_item(TableName=self.table, Item=serialize(to_item(stored)), **condition)
        except Exception as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return stored

    def delete(self, user_id: str, insight_id: str, version: int) -> bool:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=self._key(user_id, insight_id),
                ConditionExpression="version = :seen",
                ExpressionAttributeValues=serialize({":seen": version}),
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True
