"""What the analytics capability keeps per user besides each post's analytics: the user's analytics
settings, and the site metrics their GA4 property reported per day.

- `USER#<id> / ANALYTICS_SETTINGS`: `utm_tagging` (off until the user turns it on) and
  `auto_generate_insights` (on until turned off). A user who never changed them has no item and
  reads the defaults. Changes are partial updates of the named attributes (UpdateItem), so two
  requests changing different settings never undo each other.
- `USER#<id> / ANALYTICS#<metricsId>` (the design's AnalyticsMetrics), one item per day and source:
  metricsId `ga4#<YYYY-MM-DD>#<propertyId>`, so a date range of every property is one Query. A
  day is written again whole by each sync (Google Analytics revises recent days).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.store import keys
from tidings.store.dynamo import deserialize, dynamodb_client, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SETTING_FIELDS = ("utm_tagging", "auto_generate_insights")
LANDING_PAGES_KEPT = 50  # per day, the most visited first (an item stays far below 400 KB)


@dataclass(frozen=True)
class AnalyticsSettings:
    utm_tagging: bool = False
    auto_generate_insights: bool = True
    updated_at: datetime | None = None


@dataclass(frozen=True)
class PageMetrics:
    """One landing page on one day."""

    landing_page: str
    sessions: int
    engaged_sessions: int
    key_events: float
    revenue: float | None


@dataclass(frozen=True)
class SiteDay:
    """One day of a site's analytics: totals and the most visited landing pages. `revenue` is None
    when the property reports none."""

    source: str  # "ga4"
    property_id: str
    day: date
    sessions: int
    engaged_sessions: int
    key_events: float
    revenue: float | None
    landing_pages: tuple[PageMetrics, ...]
    synced_at: datetime

    @property
    def metrics_id(self) -> str:
        return metrics_id(self.source, self.day, self.property_id)


def metrics_id(source: str, day: date, property_id: str) -> str:
    return f"{source}#{day.isoformat()}#{property_id}"


class AnalyticsSettingsRepository(Protocol):
    def get(self, user_id: str) -> AnalyticsSettings:
        """The user's settings; the defaults when they never changed any."""
        ...

    def update(self, user_id: str, changes: Mapping[str, bool], at: datetime) -> AnalyticsSettings:
        """Set the named settings (SETTING_FIELDS) and leave the others; the settings afterwards."""
        ...


class SiteMetricsRepository(Protocol):
    def put_days(self, user_id: str, days: Sequence[SiteDay]) -> int:
        """Store each day, replacing what was stored for it; how many were written."""
        ...

    def days(self, user_id: str, source: str, start: date, end: date) -> list[SiteDay]:
        """The source's days from `start` to `end` (inclusive), oldest first, every property."""
        ...


# -- items -----------------------------------------------------------------------------------------


def settings_from_item(item: Mapping[str, Any] | None) -> AnalyticsSettings:
    if not item:
        return AnalyticsSettings()
    defaults = AnalyticsSettings()
    return AnalyticsSettings(
        utm_tagging=bool(item.get("utm_tagging", defaults.utm_tagging)),
        auto_generate_insights=bool(item.get("auto_generate_insights", defaults.auto_generate_insights)),
        updated_at=parse_iso(item["updated_at"]) if item.get("updated_at") else None,
    )


def check_changes(changes: Mapping[str, bool]) -> None:
    unknown = sorted(set(changes) - set(SETTING_FIELDS))
    if unknown:
        raise ValueError(f"unknown analytics settings: {unknown}")


def _page_item(page: PageMetrics) -> dict[str, Any]:
    return {
        "landing_page": page.landing_page,
        "sessions": page.sessions,
        "engaged_sessions": page.engaged_sessions,
        "key_events": page.key_events,
        "revenue": page.revenue,
    }


def site_day_to_item(user_id: str, day: SiteDay) -> dict[str, Any]:
    pages = sorted(day.landing_pages, key=lambda p: (-p.sessions, p.landing_page))[:LANDING_PAGES_KEPT]
    return {
        "PK": keys.user_pk(user_id),
        "SK": keys.analytics_metrics_sk(day.metrics_id),
        "EntityType": keys.ANALYTICS_METRICS_ENTITY,
        "user_id": user_id,
        "source": day.source,
        "property_id": day.property_id,
        "date": day.day.isoformat(),
        "sessions": day.sessions,
        "engaged_sessions": day.engaged_sessions,
        "key_events": day.key_events,
        "revenue": day.revenue,
        "landing_pages": [_page_item(p) for p in pages],
        "landing_pages_total": len(day.landing_pages),
        "synced_at": iso_ms(day.synced_at),
    }


def _optional_float(value: Any) -> float | None:
    return float(value) if value is not None else None


def site_day_from_item(item: Mapping[str, Any]) -> SiteDay:
    return SiteDay(
        source=str(item["source"]),
        property_id=str(item["property_id"]),
        day=date.fromisoformat(str(item["date"])),
        sessions=int(item.get("sessions") or 0),
        engaged_sessions=int(item.get("engaged_sessions") or 0),
        key_events=float(item.get("key_events") or 0),
        revenue=_optional_float(item.get("revenue")),
        landing_pages=tuple(
            PageMetrics(
                landing_page=str(p["landing_page"]),
                sessions=int(p.get("sessions") or 0),
                engaged_sessions=int(p.get("engaged_sessions") or 0),
                key_events=float(p.get("key_events") or 0),
                revenue=_optional_float(p.get("revenue")),
            )
            for p in item.get("landing_pages") or []
        ),
        synced_at=parse_iso(str(item["synced_at"])),
    )


def day_range(source: str, start: date, end: date) -> tuple[str, str]:
    """The sort keys that bound the source's days from `start` to `end`, inclusive."""
    low = keys.analytics_metrics_sk(f"{source}#{start.isoformat()}#")
    high = keys.analytics_metrics_sk(f"{source}#{end.isoformat()}#~")
    return low, high


# -- DynamoDB ----------------------------------------------------------------------------------------


class DynamoAnalyticsSettingsRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _key(self, user_id: str) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": keys.ANALYTICS_SETTINGS_SK})

    def get(self, user_id: str) -> AnalyticsSettings:
        resp = self.client.get_item(TableName=self.table, Key=self._key(user_id), ConsistentRead=True)
        return settings_from_item(deserialize(resp["Item"]) if "Item" in resp else None)

    def update(self, user_id: str, changes: Mapping[str, bool], at: datetime) -> AnalyticsSettings:
        check_changes(changes)
        values: dict[str, Any] = {
            ":entity": keys.ANALYTICS_SETTINGS_ENTITY,
            ":user": user_id,
            ":at": iso_ms(at),
        }
        sets = ["EntityType = :entity", "user_id = :user", "updated_at = :at"]
        for name, value in changes.items():
            values[f":{name}"] = bool(value)
            sets.append(f"{name} = :{name}")
        resp = self.client.update_item(
            TableName=self.table,
            Key=self._key(user_id),
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeValues=serialize(values),
            ReturnValues="ALL_NEW",
        )
        return settings_from_item(deserialize(resp.get("Attributes", {})))


class DynamoSiteMetricsRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def put_days(self, user_id: str, days: Sequence[SiteDay]) -> int:
        # one put per day: a sync writes a few weeks of days, and each replaces the day it names
        for day in days:
            self.client.put_item(TableName=self.table, Item=serialize(site_day_to_item(user_id, day)))
        return len(days)

    def days(self, user_id: str, source: str, start: date, end: date) -> list[SiteDay]:
        low, high = day_range(source, start, end)
        found: list[SiteDay] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
            "ExpressionAttributeValues": serialize(
                {":pk": keys.user_pk(user_id), ":low": low, ":high": high}
            ),
        }
        while True:
            resp = self.client.query(**kwargs)
            found += [site_day_from_item(deserialize(raw)) for raw in resp.get("Items", [])]
            if not resp.get("LastEvaluatedKey"):
                return found
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
