"""Scheduled posts in the single table, with every racing write conditional.

Items:
- `USER#<id> / SCHEDULED_POST#<postId>`: the post. GSI1 lists a user's posts by time; GSI2 (sparse)
  lets the sweeper find, across users, due posts while `scheduled` (`DUE#<shard>`, by due time) and
  posts while `publishing` (`PUBLISHING#<shard>`, by when they should next show progress).
- `USER#<id> / POST_QUEUE`: the user's queue index: `q` maps each scheduled post id to its time and
  platforms, `rev` counts changes. Creating or moving a post writes the post and the index in one
  transaction conditioned on `rev`, so the queue rules (size, minimum gap) are checked against a
  consistent view and two concurrent requests cannot both slip past them.
- `USER#<id> / PUBLISH_LEDGER#<postId>#<platform>`: one per platform publish, written before the call.

`PostRepository` is what the use-cases need; `DynamoPostRepository` is the table's, and
`tidings.store.memory.posts` holds one in memory with the same conditions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.core.platforms import Platform
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.store import keys
from tidings.store.dynamo import (
    decode_token,
    deserialize,
    deserialize_stream_image,
    dynamodb_client,
    encode_token,
    is_conditional_failure,
    page_scope,
    query_prefix,
    record_of,
    serialize,
    serialize_value,
    sparse_index_before,
    stream_status,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


# TransactWriteItems takes at most 100 actions; expressions stay far below their 4 KB limit at 50.
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html)
MAX_CREATE_BATCH = 50


class QueueChanged(Exception):
    """The user's queue changed between the rule check and the write: check again."""


class StaleWrite(Exception):
    """The post is no longer in the state (status/version/claim) the write expected."""


class PostExists(StaleWrite):
    """A post with this id is already stored."""


@dataclass(frozen=True)
class QueueEntry:
    time: datetime
    platforms: tuple[Platform, ...]


@dataclass
class QueueIndex:
    rev: int = 0
    entries: dict[str, QueueEntry] = field(default_factory=dict)


@dataclass(frozen=True)
class DuePost:
    user_id: str
    post_id: str
    version: int
    scheduled_time: datetime


@dataclass(frozen=True)
class HeldClaim:
    """A `publishing` post's claim as it was read: a cancel goes through only while the same execution
    holds the same version and no attempt of it started after `started_before`."""

    version: int
    execution_id: str
    started_before: datetime


@dataclass(frozen=True)
class PostPage:
    posts: list[ScheduledPost]
    next_token: str | None


class PostRepository(Protocol):
    # -- reads

    def get(self, user_id: str, post_id: str) -> ScheduledPost | None: ...

    def queue(self, user_id: str) -> QueueIndex:
        """The user's queue index (rev 0 and no entries before the first post)."""
        ...

    def page(
        self,
        user_id: str,
        *,
        status: PostStatus | None = None,
        platform: Platform | None = None,
        limit: int = 50,
        next_token: str | None = None,
    ) -> PostPage:
        """Up to `limit` posts by scheduled time; the filters apply to each page read (ValueError for a
        token this store did not issue)."""
        ...

    def iter_all(self, user_id: str) -> Iterator[ScheduledPost]:
        """Every post of the user, by id."""
        ...

    def due_unclaimed(self, before: datetime, limit: int = 500) -> list[DuePost]:
        """Scheduled posts of any user due before `before` (oldest first within a shard)."""
        ...

    def publishing_before(self, before: datetime, limit: int = 500) -> list[ScheduledPost]:
        """`publishing` posts of any user whose next_progress_at is before `before`."""
        ...

    # -- writes by the API

    def create(self, post: ScheduledPost, queue_rev: int) -> None:
        """A new post and its queue entry, if the queue is still at `queue_rev` (else QueueChanged)."""
        ...

    def create_many(self, posts: list[ScheduledPost], queue_rev: int) -> None:
        """New posts of one user and their queue entries, all or none, if the queue is still at
        `queue_rev` and no id is taken (else QueueChanged); ValueError beyond MAX_CREATE_BATCH."""
        ...

    def put_new(self, post: ScheduledPost) -> None:
        """A post outside the queue (publish-now); PostExists when its id is taken."""
        ...

    def replace_scheduled(self, post: ScheduledPost, expected_version: int, queue_rev: int) -> None:
        """A changed scheduled post: StaleWrite when it is no longer scheduled at `expected_version`,
        else QueueChanged when the queue moved past `queue_rev`."""
        ...

    def cancel(
        self, user_id: str, post_id: str, now: datetime, held: HeldClaim | None = None
    ) -> ScheduledPost:
        """scheduled -> cancelled with the version bumped (StaleWrite when it is not scheduled); with
        `held`, publishing -> cancelled while that claim holds and no attempt is running (StaleWrite
        otherwise). The results so far are kept."""
        ...

    def remove_queue_entries(self, user_id: str, post_ids: list[str]) -> None:
        """Drop posts from the queue index; idempotent."""
        ...

    # -- writes by the publish step

    def claim(self, user_id: str, post_id: str, version: int, execution_id: str, now: datetime) -> bool:
        """scheduled -> publishing on the same version (again by the same execution); False otherwise."""
        ...

    def save_claimed(self, post: ScheduledPost, execution_id: str) -> None:
        """Store a claimed post's progress, by its claimant on its version only (else StaleWrite)."""
        ...

    # -- writes by the sweeper

    def hand_over(
        self, user_id: str, post_id: str, version: int, from_execution: str, to_execution: str, now: datetime
    ) -> bool:
        """Move a `publishing` post's claim from an execution that ended to the one about to resume it
        (resumes + 1, no attempt running, next progress due now); False when the claim moved on."""
        ...


def post_to_item(post: ScheduledPost, due_shards: int) -> dict[str, Any]:
    data = post.model_dump(mode="json", exclude_none=True)
    when = iso_ms(post.scheduled_time)
    item: dict[str, Any] = {
        "PK": keys.user_pk(post.user_id),
        "SK": keys.post_sk(post.post_id),
        "EntityType": keys.POST_ENTITY,
        "GSI1PK": keys.posts_by_time_pk(post.user_id),
        "GSI1SK": keys.time_sort_key(when, post.post_id),
        **data,
        "scheduled_time": when,
    }
    if post.attempt_started_at is not None:
        item["attempt_started_at"] = iso_ms(post.attempt_started_at)  # compared in conditions
    progress = post.next_progress_at()
    if post.status == PostStatus.SCHEDULED and post.held_by_crisis is None:  # a held post waits for a resume
        item["GSI2PK"] = keys.due_pk(keys.due_shard(post.post_id, due_shards))
        item["GSI2SK"] = keys.due_sort_key(when, post.user_id, post.post_id)
    elif progress is not None:
        item.update(publishing_index(post.user_id, post.post_id, progress, due_shards))
    return item


def publishing_index(user_id: str, post_id: str, progress: datetime, due_shards: int) -> dict[str, str]:
    """GSI2's keys of a `publishing` post whose next progress is due at `progress`."""
    return {
        "GSI2PK": keys.publishing_pk(keys.due_shard(post_id, due_shards)),
        "GSI2SK": keys.due_sort_key(iso_ms(progress), user_id, post_id),
    }


_KEY_ATTRS = ("PK", "SK", "EntityType", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "expiresAt")


_PUBLISHED = frozenset({str(PostStatus.PUBLISHED), str(PostStatus.PARTIALLY_PUBLISHED)})


def became_published(record: Mapping[str, Any]) -> bool:
    """Whether a stream record is a post reaching `published` or `partially_published` (read from
    the raw images, before any parsing)."""
    new = stream_status(record, "NewImage")
    return (
        new in _PUBLISHED and stream_status(record, "OldImage") != new and record_of(record, keys.POST_ENTITY)
    )


def post_from_stream(record: Mapping[str, Any]) -> ScheduledPost:
    """The post in a stream record's new image."""
    return post_from_item(deserialize_stream_image(record["dynamodb"]["NewImage"]))


def post_from_item(item: dict[str, Any]) -> ScheduledPost:
    return ScheduledPost.model_validate({k: v for k, v in item.items() if k not in _KEY_ATTRS})


def queue_entry_value(post: ScheduledPost) -> dict[str, Any]:
    """A post's entry in the queue index item's `q` map."""
    return {"t": iso_ms(post.scheduled_time), "p": [str(p) for p in post.platforms]}


def queue_from_item(item: dict[str, Any]) -> QueueIndex:
    entries = {
        pid: QueueEntry(time=parse_iso(e["t"]), platforms=tuple(Platform(p) for p in e["p"]))
        for pid, e in item.get("q", {}).items()
    }
    return QueueIndex(rev=int(item.get("rev", 0)), entries=entries)


def check_batch(posts: list[ScheduledPost]) -> None:
    """What one create_many takes: at most MAX_CREATE_BATCH posts (a transaction holds at most 100
    actions, and the queue update is one of them), all of one user."""
    if len(posts) > MAX_CREATE_BATCH:
        raise ValueError(f"at most {MAX_CREATE_BATCH} posts in one transaction")
    if len({p.user_id for p in posts}) != 1:
        raise ValueError("posts of one user only")


CANCEL_REASON = "cancelled by the user"


# One update expression is at most 4 KB (DynamoDB Developer Guide, "Expression parameters"):
# 100 removals of `q.#pNN` stay well inside it.
QUEUE_REMOVALS_PER_WRITE = 100


class DynamoPostRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None, due_shards: int = 8) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()
        self.due_shards = due_shards

    # -- reads ---------------------------------------------------------------------------------

    def get(self, user_id: str, post_id: str) -> ScheduledPost | None:
        resp = self.client.get_item(
            TableName=self.table,
            Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.post_sk(post_id)}),
            ConsistentRead=True,
        )
        item = resp.get("Item")
        return post_from_item(deserialize(item)) if item else None

    def queue(self, user_id: str) -> QueueIndex:
        resp = self.client.get_item(
            TableName=self.table,
            Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.QUEUE_SK}),
            ConsistentRead=True,
        )
        item = resp.get("Item")
        return queue_from_item(deserialize(item)) if item else QueueIndex()

    def page(
        self,
        user_id: str,
        *,
        status: PostStatus | None = None,
        platform: Platform | None = None,
        limit: int = 50,
        next_token: str | None = None,
    ) -> PostPage:
        """A user's posts ordered by scheduled time; filters apply within the ordered scan of GSI1."""
        filters: list[str] = []
        values: dict[str, Any] = {":pk": keys.posts_by_time_pk(user_id)}
        names: dict[str, str] = {}
        if status is not None:
            filters.append("#status = :status")
            names["#status"] = "status"
            values[":status"] = str(status)
        if platform is not None:
            filters.append("contains(platforms, :platform)")
            values[":platform"] = str(platform)
        scope = page_scope(keys.posts_by_time_pk(user_id))
        start = decode_token(next_token, scope)
        posts: list[ScheduledPost] = []
        last_key: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": "GSI1",
                "KeyConditionExpression": "GSI1PK = :pk",
                "ExpressionAttributeValues": serialize(values),
                "Limit": limit - len(posts),
            }
            if filters:
                kwargs["FilterExpression"] = " AND ".join(filters)
            if names:
                kwargs["ExpressionAttributeNames"] = names
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = self.client.query(**kwargs)
            posts.extend(post_from_item(deserialize(i)) for i in resp.get("Items", []))
            last_key = resp.get("LastEvaluatedKey")
            if not last_key or len(posts) >= limit:
                break
            start = last_key
        return PostPage(posts=posts, next_token=encode_token(last_key, scope))

    def iter_all(self, user_id: str) -> Iterator[ScheduledPost]:
        for item in query_prefix(self.client, self.table, keys.user_pk(user_id), keys.POST_SK_PREFIX):
            yield post_from_item(item)

    def due_unclaimed(self, before: datetime, limit: int = 500) -> list[DuePost]:
        """Scheduled posts due before `before`, across users (GSI2, one query per shard)."""
        items = sparse_index_before(
            self.client,
            self.table,
            (keys.due_pk(shard) for shard in range(self.due_shards)),
            iso_ms(before) + "#~",
            ProjectionExpression="user_id, post_id, version, scheduled_time, #s",
            ExpressionAttributeNames={"#s": "status"},
        )
        scheduled = (item for item in items if item.get("status") == PostStatus.SCHEDULED)
        return [
            DuePost(
                user_id=item["user_id"],
                post_id=item["post_id"],
                version=int(item["version"]),
                scheduled_time=parse_iso(item["scheduled_time"]),
            )
            for item in islice(scheduled, limit)
        ]

    def publishing_before(self, before: datetime, limit: int = 500) -> list[ScheduledPost]:
        """`publishing` posts whose next progress was due before `before` (GSI2, one query per shard)."""
        items = sparse_index_before(
            self.client,
            self.table,
            (keys.publishing_pk(shard) for shard in range(self.due_shards)),
            iso_ms(before) + "#~",
        )
        publishing = (item for item in items if item.get("status") == PostStatus.PUBLISHING)
        return [post_from_item(item) for item in islice(publishing, limit)]

    def _publishing_keys(self, user_id: str, post_id: str, progress: datetime) -> dict[str, str]:
        index = publishing_index(user_id, post_id, progress, self.due_shards)
        return {":ppk": index["GSI2PK"], ":psk": index["GSI2SK"]}

    # -- writes by the API -----------------------------------------------------------------------

    def _queue_update(self, posts: list[ScheduledPost], queue_rev: int) -> dict[str, Any]:
        """The queue index write that adds `posts`, conditional on the queue still being at `queue_rev`."""
        user_pk = keys.user_pk(posts[0].user_id)
        if queue_rev == 0:
            return {
                "Put": {
                    "TableName": self.table,
                    "Item": serialize(
                        {
                            "PK": user_pk,
                            "SK": keys.QUEUE_SK,
                            "EntityType": keys.QUEUE_ENTITY,
                            "rev": 1,
                            "q": {p.post_id: queue_entry_value(p) for p in posts},
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        names = {f"#p{i}": p.post_id for i, p in enumerate(posts)}
        values = {f":e{i}": serialize_value(queue_entry_value(p)) for i, p in enumerate(posts)}
        sets = ", ".join(f"q.#p{i} = :e{i}" for i in range(len(posts)))
        return {
            "Update": {
                "TableName": self.table,
                "Key": serialize({"PK": user_pk, "SK": keys.QUEUE_SK}),
                "UpdateExpression": f"SET {sets}, rev = rev + :one",
                "ConditionExpression": "rev = :rev",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {
                    **values,
                    ":one": serialize_value(1),
                    ":rev": serialize_value(queue_rev),
                },
            }
        }

    def create(self, post: ScheduledPost, queue_rev: int) -> None:
        """Write a new scheduled post and its queue entry, if the queue is still at `queue_rev`."""
        self.create_many([post], queue_rev)

    def create_many(self, posts: list[ScheduledPost], queue_rev: int) -> None:
        """Write new scheduled posts of one user and their queue entries in one transaction, if the
        queue is still at `queue_rev`: all of them or none (see check_batch)."""
        if not posts:
            return
        check_batch(posts)
        puts: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": serialize(post_to_item(post, self.due_shards)),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
            for post in posts
        ]
        try:
            self.client.transact_write_items(
                TransactItems=[*puts, self._queue_update(posts, queue_rev)]  # type: ignore[list-item]
            )
        except self.client.exceptions.TransactionCanceledException as exc:
            raise QueueChanged() from exc

    def put_new(self, post: ScheduledPost) -> None:
        """Write a post that bypasses the queue (publish-now): a plain conditional put."""
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(post_to_item(post, self.due_shards)),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise PostExists() from exc

    def replace_scheduled(self, post: ScheduledPost, expected_version: int, queue_rev: int) -> None:
        """Save a changed scheduled post (version already bumped), if nothing moved underneath."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": serialize(post_to_item(post, self.due_shards)),
                            "ConditionExpression": "version = :v AND #s = :scheduled",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": serialize(
                                {":v": expected_version, ":scheduled": str(PostStatus.SCHEDULED)}
                            ),
                        }
                    },
                    self._queue_update([post], queue_rev),  # type: ignore[list-item]
                ]
            )
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise StaleWrite() from exc
            raise QueueChanged() from exc

    def cancel(
        self, user_id: str, post_id: str, now: datetime, held: HeldClaim | None = None
    ) -> ScheduledPost:
        """scheduled (or, with `held`, publishing between attempts) -> cancelled: bumps the version,
        leaves the sweeper's indexes and the queue."""
        values: dict[str, Any] = {
            ":cancelled": str(PostStatus.CANCELLED),
            ":one": 1,
            ":now": iso_ms(now),
            ":why": CANCEL_REASON,
        }
        if held is None:
            condition = "#s = :scheduled"
            values[":scheduled"] = str(PostStatus.SCHEDULED)
        else:
            condition = (
                "#s = :publishing AND version = :v AND claimed_by = :exec AND "
                "(attribute_not_exists(attempt_started_at) OR attempt_started_at <= :before)"
            )
            values.update(
                {
                    ":publishing": str(PostStatus.PUBLISHING),
                    ":v": held.version,
                    ":exec": held.execution_id,
                    ":before": iso_ms(held.started_before),
                }
            )
        try:
            resp = self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.post_sk(post_id)}),
                UpdateExpression=(
                    "SET #s = :cancelled, version = version + :one, updated_at = :now, completed_at = :now, "
                    "final_reason = :why REMOVE GSI2PK, GSI2SK, next_attempt_at, attempt_started_at"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(values),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise StaleWrite() from exc
        self.remove_queue_entries(user_id, [post_id])
        return post_from_item(deserialize(resp["Attributes"]))

    def remove_queue_entries(self, user_id: str, post_ids: list[str]) -> None:
        """Idempotent: drop posts from the user's queue index (absent ones are no-ops), many per write."""
        unique = list(dict.fromkeys(post_ids))
        for start in range(0, len(unique), QUEUE_REMOVALS_PER_WRITE):
            chunk = unique[start : start + QUEUE_REMOVALS_PER_WRITE]
            names = {f"#p{i}": post_id for i, post_id in enumerate(chunk)}
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.QUEUE_SK}),
                    UpdateExpression="REMOVE " + ", ".join(f"q.{name}" for name in names),
                    ConditionExpression="attribute_exists(PK)",
                    ExpressionAttributeNames=names,
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                return

    # -- writes by the publish step -------------------------------------------------------------

    def claim(self, user_id: str, post_id: str, version: int, execution_id: str, now: datetime) -> bool:
        """scheduled -> publishing on the same version; idempotent for the execution that holds it.
        Each claim starts an attempt (attempt_started_at), which the post's progress index follows."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.post_sk(post_id)}),
                UpdateExpression=(
                    "SET #s = :publishing, claimed_by = :exec, updated_at = :now, attempt_started_at = :now, "
                    "GSI2PK = :ppk, GSI2SK = :psk"
                ),
                ConditionExpression=(
                    "version = :v AND (#s = :scheduled OR (#s = :publishing AND claimed_by = :exec))"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":publishing": str(PostStatus.PUBLISHING),
                        ":scheduled": str(PostStatus.SCHEDULED),
                        ":exec": execution_id,
                        ":v": version,
                        ":now": iso_ms(now),
                        **self._publishing_keys(user_id, post_id, now),
                    }
                ),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def save_claimed(self, post: ScheduledPost, execution_id: str) -> None:
        """Persist progress of a claimed post (results, attempt, final status) by its claimant only."""
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(post_to_item(post, self.due_shards)),
                ConditionExpression="claimed_by = :exec AND version = :v",
                ExpressionAttributeValues=serialize({":exec": execution_id, ":v": post.version}),
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise StaleWrite() from exc

    # -- writes by the sweeper ------------------------------------------------------------------

    def hand_over(
        self, user_id: str, post_id: str, version: int, from_execution: str, to_execution: str, now: datetime
    ) -> bool:
        """The claim moves from an execution that ended to the one that resumes the post."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.post_sk(post_id)}),
                UpdateExpression=(
                    "SET claimed_by = :to, resumes = if_not_exists(resumes, :zero) + :one, "
                    "updated_at = :now, next_attempt_at = :now, GSI2PK = :ppk, GSI2SK = :psk "
                    "REMOVE attempt_started_at"
                ),
                ConditionExpression="#s = :publishing AND version = :v AND claimed_by = :from",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":publishing": str(PostStatus.PUBLISHING),
                        ":v": version,
                        ":from": from_execution,
                        ":to": to_execution,
                        ":zero": 0,
                        ":one": 1,
                        ":now": iso_ms(now),
                        **self._publishing_keys(user_id, post_id, now),
                    }
                ),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True


__all__ = [
    "DuePost",
    "DynamoPostRepository",
    "HeldClaim",
    "PostExists",
    "PostPage",
    "PostRepository",
    "QueueChanged",
    "QueueEntry",
    "QueueIndex",
    "StaleWrite",
    "is_conditional_failure",
    "post_from_item",
    "post_to_item",
]
