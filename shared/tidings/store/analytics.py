"""Post analytics (`USER#<id> / POST_ANALYTICS#<platform>#<postId>`), read as engagement samples.

`AnalyticsRepository` is what the best-time recommendation and the analytics report read;
`DynamoAnalyticsRepository` is the table's, and `tidings.store.memory.analytics` holds one in memory."""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.core.platforms import Platform
from tidings.models.analytics import EngagementSample
from tidings.store import keys
from tidings.store.dynamo import dynamodb_client, query_prefix, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ENGAGEMENT_FIELDS = ("likes", "comments", "shares", "saves", "clicks")


class AnalyticsRepository(Protocol):
    def samples(self, user_id: str, platform: Platform, limit: int = 2000) -> list[EngagementSample]:
        """Up to `limit` of the user's analysed posts on `platform`."""
        ...


def analytics_item(
    user_id: str, post_id: str, sample: EngagementSample, metrics: dict[str, float]
) -> dict[str, Any]:
    return {
        "PK": keys.user_pk(user_id),
        "SK": keys.analytics_sk(str(sample.platform), post_id),
        "EntityType": keys.ANALYTICS_ENTITY,
        "post_id": post_id,
        "platform": str(sample.platform),
        "published_at": iso_ms(sample.published_at),
        "engagement": sample.engagement,
        "reach": sample.reach,
        "content_type": sample.content_type,
        **metrics,
    }


def samples_prefix(platform: Platform) -> str:
    return f"{keys.ANALYTICS_SK_PREFIX}{platform}#"


class DynamoAnalyticsRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def put(self, user_id: str, post_id: str, sample: EngagementSample, metrics: dict[str, float]) -> None:
        item = analytics_item(user_id, post_id, sample, metrics)
        self.client.put_item(TableName=self.table, Item=serialize(item))

    def samples(self, user_id: str, platform: Platform, limit: int = 2000) -> list[EngagementSample]:
        """The user's most recent analysed posts on a platform (newest analytics first is not
        guaranteed by the key; the cap keeps one request bounded)."""
        items = query_prefix(self.client, self.table, keys.user_pk(user_id), samples_prefix(platform))
        return [sample_from_item(item, platform) for item in islice(filter(is_measured, items), limit)]


def is_measured(item: dict[str, Any]) -> bool:
    """False for a post whose metrics have not been read yet (tracked, nothing collected): it is no
    evidence of anything, not a post with zero engagement."""
    return item.get("engagement") is not None or any(item.get(f) is not None for f in ENGAGEMENT_FIELDS)


def sample_from_item(item: dict[str, Any], platform: Platform) -> EngagementSample:
    engagement = item.get("engagement")
    if engagement is None:
        engagement = sum(float(item.get(f, 0) or 0) for f in ENGAGEMENT_FIELDS)
    reach = item.get("reach")
    return EngagementSample(
        platform=platform,
        published_at=parse_iso(item["published_at"]),
        engagement=float(engagement),
        reach=float(reach) if reach is not None else None,
        content_type=item.get("content_type"),
    )
