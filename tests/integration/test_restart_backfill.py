"""A post left `publishing` before the sweeper's index of publishing posts existed is invisible to the
sweeper until the restart's rebuild gives it its index keys; then the sweeper finds it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from local_aws import fresh_table

from tidings.core.platforms import Platform
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.store.posts import DynamoPostRepository
from tidings.store.restart import DynamoPublishingIndex

NOW = datetime.now(UTC).replace(microsecond=0)


def test_an_old_publishing_post_joins_the_sweepers_index_once(dynamodb_endpoint: str) -> None:
    with fresh_table(dynamodb_endpoint) as (client, table):
        posts = DynamoPostRepository(table, client)
        post = ScheduledPost(
            user_id="u-old",
            post_id="p-old",
            content="claimed long ago",
            platforms=[Platform.FACEBOOK],
            scheduled_time=NOW - timedelta(hours=2),
            created_at=NOW - timedelta(hours=3),
            updated_at=NOW - timedelta(hours=3),
        )
        posts.create(post, 0)
        assert posts.claim("u-old", "p-old", post.version, "exec-1", NOW - timedelta(hours=2))
        # as the claim wrote it before the index existed: no GSI2 keys
        key: dict[str, Any] = {"PK": {"S": "USER#u-old"}, "SK": {"S": "SCHEDULED_POST#p-old"}}
        client.update_item(TableName=table, Key=key, UpdateExpression="REMOVE GSI2PK, GSI2SK")
        assert posts.publishing_before(NOW) == []

        stored = posts.get("u-old", "p-old")
        assert stored is not None
        assert stored.status == PostStatus.PUBLISHING
        index = DynamoPublishingIndex(table, due_shards=8, client=client)
        assert index.backfill(stored)
        assert [p.post_id for p in posts.publishing_before(NOW)] == ["p-old"]
        assert not index.backfill(stored)  # it has its keys: nothing more
