"""What a restart of the local runtime reads and writes in the table: every item of some entity types
(a Scan: it runs once at start, never on a request path), a scheduled post marked missed, and a
`publishing` post given its keys in the sweeper's index."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from tidings.core.clock import iso_ms
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.store import keys
from tidings.store.dynamo import dynamodb_client, serialize
from tidings.store.posts import publishing_index


def scan_entities(table: str, entity_types: Sequence[str], client: Any = None) -> Iterator[dict[str, Any]]:
    """Every item whose EntityType is one of `entity_types`, in DynamoDB's typed form."""
    ddb = client or dynamodb_client()
    names = {f":e{i}": entity for i, entity in enumerate(entity_types)}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": f"EntityType IN ({', '.join(names)})",
        "ExpressionAttributeValues": serialize(names),
    }
    while True:
        page = ddb.scan(**kwargs)
        yield from page.get("Items", [])
        if not page.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class DynamoMissedPosts:
    def __init__(self, table: str, client: Any = None) -> None:
        self.table = table
        self.client = client or dynamodb_client()

    def mark_missed(self, post: ScheduledPost, reason: str, now: datetime) -> bool:
        """scheduled -> failed with `reason` on the same version (the version bumped, out of the
        sweeper's index); False when the post moved meanwhile."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.user_pk(post.user_id), "SK": keys.post_sk(post.post_id)}),
                UpdateExpression=(
                    "SET #s = :failed, version = version + :one, updated_at = :now, completed_at = :now, "
                    "final_reason = :why REMOVE GSI2PK, GSI2SK"
                ),
                ConditionExpression="#s = :scheduled AND version = :v",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":failed": str(PostStatus.FAILED),
                        ":scheduled": str(PostStatus.SCHEDULED),
                        ":one": 1,
                        ":v": post.version,
                        ":now": iso_ms(now),
                        ":why": reason,
                    }
                ),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True


class DynamoPublishingIndex:
    def __init__(self, table: str, due_shards: int, client: Any = None) -> None:
        self.table = table
        self.due_shards = due_shards
        self.client = client or dynamodb_client()

    def backfill(self, post: ScheduledPost) -> bool:
        """The post's keys in the index of publishing posts (by its next progress), on its version and
        while it is still `publishing` without them; False otherwise."""
        progress = post.next_progress_at()
        if progress is None:
            return False
        index = publishing_index(post.user_id, post.post_id, progress, self.due_shards)
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.user_pk(post.user_id), "SK": keys.post_sk(post.post_id)}),
                UpdateExpression="SET GSI2PK = :pk, GSI2SK = :sk",
                ConditionExpression="#s = :publishing AND version = :v AND attribute_not_exists(GSI2PK)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":pk": index["GSI2PK"],
                        ":sk": index["GSI2SK"],
                        ":publishing": str(PostStatus.PUBLISHING),
                        ":v": post.version,
                    }
                ),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
