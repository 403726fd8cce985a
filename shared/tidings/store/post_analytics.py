"""Post analytics records: a published (or imported) post's metrics on one platform.

Item `USER#<id> / POST_ANALYTICS#<platform>#<postId>` (keys.analytics_sk) holds the latest metrics,
the snapshot history, and where collection stands. Besides the record's own fields it carries
`engagement` and `reach` (the engagement definition of `tidings.models.post_analytics` applied to the
latest metrics: engagements, and the audience), which the best-time recommendation reads as samples.
While collection is active the item is in a sparse due index (GSI2 `METRICS_DUE#<shard>`, sorted by
the next collection time), so a periodic pass finds what is due with a Query, never a Scan.
Every change after creation is conditional on the record's version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.core.errors import Conflict
from tidings.core.platforms import Platform
from tidings.models.post_analytics import (
    AnalyticsSource,
    CollectionStatus,
    MetricSnapshot,
    PostAnalytics,
    PostMetrics,
    SiteAttribution,
)
from tidings.store import keys
from tidings.store.dynamo import (
    decode_token,
    deserialize,
    dynamodb_client,
    encode_token,
    page_scope,
    query_prefix,
    serialize,
    sparse_index_before,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

HISTORY_KEPT = 60  # snapshots kept per record (the cadence takes six; syncs on demand add more)
# Records read for one page of `page_for_user` at most, whatever its filter keeps: a request stays
# bounded however few records a filter keeps (the rest is the next page's).
PAGE_READ_CAP = 2000


class StaleAnalytics(Conflict):
    """The record changed since it was read (another pass collected it first)."""

    code = "analytics_busy"


class PostAnalyticsRepository(Protocol):
    def track(self, record: PostAnalytics) -> bool:
        """Store a new record; False (and nothing written) when the post is tracked already."""
        ...

    def get(self, user_id: str, platform: Platform, post_id: str) -> PostAnalytics | None: ...

    def for_post(self, user_id: str, post_id: str) -> list[PostAnalytics]:
        """The post's records on every platform it has one for."""
        ...

    def for_user(self, user_id: str, platform: Platform | None = None) -> Iterator[PostAnalytics]:
        """Every record of the user (of one platform when given), in key order."""
        ...

    def page_for_user(
        self,
        user_id: str,
        platform: Platform | None,
        keep: Callable[[PostAnalytics], bool],
        limit: int,
        next_token: str | None = None,
    ) -> tuple[list[PostAnalytics], str | None]:
        """Up to `limit` of the user's records (of one platform when given) that `keep` accepts, in key
        order, and the token of the page after (None at the end). One page reads at most the
        repository's read cap (PAGE_READ_CAP) of records: it may then hold fewer than `limit`, even
        none, and a token. ValueError for a token not issued for this list."""
        ...

    def due(self, before: datetime, limit: int = 1000) -> list[PostAnalytics]:
        """Active records of any user whose next collection is before `before`, oldest first per shard."""
        ...

    def save(self, record: PostAnalytics) -> PostAnalytics:
        """Write `record` over the stored one if that is still at `record.version`; answers the record
        as stored (version + 1). StaleAnalytics otherwise."""
        ...

    def put_imported(self, records: Sequence[PostAnalytics]) -> int:
        """Store imported history (no collection), replacing earlier imports of the same post ids but
        never a collected record; answers how many were written."""
        ...


def user_prefix(platform: Platform | None) -> str:
    """The sort key prefix of a user's records (of one platform when given)."""
    return keys.ANALYTICS_SK_PREFIX + (f"{platform}#" if platform else "")


def metrics_shard(post_id: str, shards: int) -> int:
    return keys.due_shard(post_id, shards)


def _metrics_item(metrics: PostMetrics) -> dict[str, Any]:
    return metrics.reported()


def _metrics(raw: dict[str, Any] | None) -> PostMetrics | None:
    if raw is None:
        return None
    return PostMetrics(**{name: int(value) for name, value in raw.items()})


def analytics_to_item(record: PostAnalytics, shards: int) -> dict[str, Any]:
    latest = record.latest
    item: dict[str, Any] = {
        "PK": keys.user_pk(record.user_id),
        "SK": keys.analytics_sk(str(record.platform), record.post_id),
        "EntityType": keys.ANALYTICS_ENTITY,
        "user_id": record.user_id,
        "post_id": record.post_id,
        "platform": str(record.platform),
        "platform_post_id": record.platform_post_id,
        "published_at": iso_ms(record.published_at),
        "content_type": record.content_type,
        "source": str(record.source),
        "latest": _metrics_item(latest) if latest else None,
        "collected_at": iso_ms(record.collected_at) if record.collected_at else None,
        "history": [
            {"at": iso_ms(s.at), "metrics": _metrics_item(s.metrics)} for s in record.history[-HISTORY_KEPT:]
        ],
        "status": str(record.status),
        "stop_reason": record.stop_reason,
        "next_collection_at": iso_ms(record.next_collection_at) if record.next_collection_at else None,
        "points_taken": record.points_taken,
        "failures": record.failures,
        "last_error": record.last_error,
        "site": record.site.model_dump(mode="json") if record.site else None,
        "version": record.version,
        # what the best-time recommendation reads (tidings.store.analytics)
        "engagement": latest.engagements if latest else None,
        "reach": latest.audience if latest else None,
    }
    if record.status == CollectionStatus.ACTIVE and record.next_collection_at is not None:
        item["GSI2PK"] = keys.metrics_due_pk(metrics_shard(record.post_id, shards))
        item["GSI2SK"] = (
            f"{iso_ms(record.next_collection_at)}#{record.user_id}#{record.platform}#{record.post_id}"
        )
    return item


def analytics_from_item(item: dict[str, Any]) -> PostAnalytics:
    def when(name: str) -> datetime | None:
        value = item.get(name)
        return parse_iso(value) if value else None

    history = [
        MetricSnapshot(at=parse_iso(s["at"]), metrics=_metrics(s["metrics"]) or PostMetrics())
        for s in item.get("history") or []
    ]
    return PostAnalytics(
        user_id=item["user_id"],
        post_id=item["post_id"],
        platform=Platform(item["platform"]),
        platform_post_id=item.get("platform_post_id"),
        published_at=parse_iso(item["published_at"]),
        content_type=item.get("content_type"),
        source=AnalyticsSource(item.get("source") or AnalyticsSource.COLLECTED),
        latest=_metrics(item.get("latest")),
        collected_at=when("collected_at"),
        history=history,
        status=CollectionStatus(item.get("status") or CollectionStatus.COMPLETE),
        stop_reason=item.get("stop_reason"),
        next_collection_at=when("next_collection_at"),
        points_taken=int(item.get("points_taken") or 0),
        failures=int(item.get("failures") or 0),
        last_error=item.get("last_error"),
        site=SiteAttribution.model_validate(item["site"]) if item.get("site") else None,
        version=int(item.get("version") or 1),
    )


class DynamoPostAnalyticsRepository:
    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        due_shards: int = 8,
        page_read_cap: int = PAGE_READ_CAP,
    ) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()
        self.shards = due_shards
        self.read_cap = page_read_cap

    def track(self, record: PostAnalytics) -> bool:
        return self._put_over_imports(record)

    def _put_over_imports(self, record: PostAnalytics) -> bool:
        """Write the record where there is none, or only an imported one; False otherwise."""
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(analytics_to_item(record, self.shards)),
                ConditionExpression="attribute_not_exists(PK) OR #source = :imported",
                ExpressionAttributeNames={"#source": "source"},
                ExpressionAttributeValues=serialize({":imported": str(AnalyticsSource.IMPORTED)}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get(self, user_id: str, platform: Platform, post_id: str) -> PostAnalytics | None:
        resp = self.client.get_item(
            TableName=self.table,
            Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.analytics_sk(str(platform), post_id)}),
            ConsistentRead=True,
        )
        return analytics_from_item(deserialize(resp["Item"])) if "Item" in resp else None

    def for_post(self, user_id: str, post_id: str) -> list[PostAnalytics]:
        wanted = [
            {"PK": keys.user_pk(user_id), "SK": keys.analytics_sk(str(platform), post_id)}
            for platform in Platform
        ]
        resp = self.client.batch_get_item(
            RequestItems={self.table: {"Keys": [serialize(k) for k in wanted], "ConsistentRead": True}}
        )
        items = [deserialize(raw) for raw in resp.get("Responses", {}).get(self.table, [])]
        unprocessed = resp.get("UnprocessedKeys") or {}
        pending = unprocessed[self.table]["Keys"] if self.table in unprocessed else []
        for key in pending:  # rare: read what BatchGetItem left out one by one
            one = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)
            if "Item" in one:
                items.append(deserialize(one["Item"]))
        order = list(Platform)
        return sorted((analytics_from_item(i) for i in items), key=lambda r: order.index(r.platform))

    def for_user(self, user_id: str, platform: Platform | None = None) -> Iterator[PostAnalytics]:
        for item in query_prefix(self.client, self.table, keys.user_pk(user_id), user_prefix(platform)):
            yield analytics_from_item(item)

    def page_for_user(
        self,
        user_id: str,
        platform: Platform | None,
        keep: Callable[[PostAnalytics], bool],
        limit: int,
        next_token: str | None = None,
    ) -> tuple[list[PostAnalytics], str | None]:
        pk, prefix = keys.user_pk(user_id), user_prefix(platform)
        scope = page_scope(pk, prefix)
        start = decode_token(next_token, scope)
        kept: list[PostAnalytics] = []
        read = 0
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
                "ExpressionAttributeValues": serialize({":pk": pk, ":prefix": prefix}),
                "Limit": self.read_cap - read,
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = self.client.query(**kwargs)
            for raw in resp.get("Items", []):
                read += 1
                record = analytics_from_item(deserialize(raw))
                if keep(record):
                    kept.append(record)
                    if len(kept) >= limit:
                        return kept, encode_token({"PK": raw["PK"], "SK": raw["SK"]}, scope)
            start = resp.get("LastEvaluatedKey")
            if not start:
                return kept, None
            if read >= self.read_cap:
                return kept, encode_token(start, scope)

    def due(self, before: datetime, limit: int = 1000) -> list[PostAnalytics]:
        partitions = (keys.metrics_due_pk(shard) for shard in range(self.shards))
        items = sparse_index_before(self.client, self.table, partitions, iso_ms(before) + "#~")
        return [analytics_from_item(item) for item in islice(items, limit)]

    def save(self, record: PostAnalytics) -> PostAnalytics:
        stored = record.model_copy(update={"version": record.version + 1})
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(analytics_to_item(stored, self.shards)),
                ConditionExpression="version = :v",
                ExpressionAttributeValues=serialize({":v": record.version}),
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise StaleAnalytics(
                "the post's analytics changed meanwhile",
                {"postId": record.post_id, "platform": str(record.platform)},
            ) from exc
        return stored

    def put_imported(self, records: Sequence[PostAnalytics]) -> int:
        # conditional writes cannot be batched; imports are rare
        return sum(self._put_over_imports(record) for record in records)
