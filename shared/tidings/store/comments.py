"""Comments on users' posts, and the published posts whose comments are read periodically.

- `USER#<id> / COMMENT#<platform>.<platform comment id>` (EntityType Comment): one item per comment,
  written once (`attribute_not_exists`), so a comment that arrives through a webhook and a read is one
  comment. GSI1 (`USER#<id>#COMMENTS`, `<created>#<comment id>`) lists a user's comments newest first.
  Changes after that are conditional on the item's `version`.
- `USER#<id> / COMMENT_WATCH#<platform>#<platform post id>` (EntityType CommentWatch): a published
  post watched for comments; in the sparse GSI2 (`COMMENT_WATCH#<shard>`, `<watch until>#...`) while
  watched, so the periodic read finds every user's watched posts with a Query; TTL a day after.
- `USER#<id> / COMMENT_SYNC`: when the user last asked for a sync (the per-user rate limit).
- `USER#<id> / COMMENT_POST#<platform>#<platform post id>` (EntityType CommentPost): each platform
  id a published post is known by (the id its publish answered; for a Facebook video also its Page
  post `{page}_{post}`, the id Meta's webhooks name), with the Tidings post id; no expiry, as a
  webhook comment may come long after the watch ends.
- A comment whose reply is pending (`approved`, `sending`, `unknown`) with a time for the periodic
  reply pass (`reply.next_attempt_at`) is in the sparse GSI3 (`REPLY_DUE#<shard>`, sharded by comment,
  `<next attempt>#<userId>#<comment id>`): the pass finds what is due with one Query per shard, and a
  reply that is posted, failed or a draft leaves the index.
- A comment not tied to a Tidings post (`post_id` missing) is in the sparse GSI2
  (`USER#<id>#UNLINKED#<platform>#<platform post id>`, `<created>#<comment id>`), so the comments
  that came before their post's link are found with a Query once it is written; tying them takes
  them out.

New comments are written in transactions of up to 25 conditional puts (DynamoDB API Reference,
TransactWriteItems: at most 100 actions, none on the same item twice; a failed condition cancels the
whole transaction and CancellationReasons names the item), so a batch that meets a comment stored
meanwhile is written again without it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.core.errors import Conflict, ValidationFailed
from tidings.core.platforms import Platform
from tidings.models.comments import (
    Comment,
    CommentStatus,
    PostLink,
    ReplyState,
    WatchedPost,
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
    serialize_value,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TRANSACTION_SIZE = 25
WATCH_SHARDS = 4
REPLY_SHARDS = 4
# The reply states that keep a comment in the reply index (tidings.models.comments.ReplyState).
PENDING_REPLY_STATES = frozenset({ReplyState.APPROVED, ReplyState.SENDING, ReplyState.UNKNOWN})
_WRITE_ATTEMPTS = 4


@dataclass(frozen=True)
class CommentFilter:
    status: CommentStatus | None = None
    sentiment: str | None = None
    platform: Platform | None = None
    post_id: str | None = None


@dataclass(frozen=True)
class CommentPage:
    comments: list[Comment]
    next_token: str | None


class CommentChanged(Conflict):
    """The comment changed since it was read."""

    code = "comment_busy"


def invalid_token() -> ValidationFailed:
    return ValidationFailed(
        "nextToken is not a token this API issued for you", {"field": "nextToken"}, code="invalid_next_token"
    )


class CommentRepository(Protocol):
    def add_new(self, comments: Sequence[Comment]) -> list[Comment]:
        """Store the comments not stored yet (by user, platform and platform comment id); answers
        those it stored, in the order given (a repeated comment once)."""
        ...

    def get(self, user_id: str, comment_id: str) -> Comment | None: ...

    def page(self, user_id: str, filters: CommentFilter, limit: int, next_token: str | None) -> CommentPage:
        """Up to `limit` comments, newest first, the filters applied to each page read
        (ValidationFailed `invalid_next_token` for a token not issued for this user)."""
        ...

    def save(self, comment: Comment) -> Comment:
        """Write `comment` over the stored one if that is still at `comment.version`; the comment as
        stored (version + 1). CommentChanged otherwise."""
        ...

    def watch(self, posts: Sequence[WatchedPost]) -> None:
        """Watch published posts for comments (again: the later watch wins)."""
        ...

    def watched(self, user_id: str, now: datetime) -> list[WatchedPost]:
        """The user's posts watched at `now`, the most recently published first."""
        ...

    def watching(self, now: datetime) -> Iterator[WatchedPost]:
        """Every user's posts watched at `now`."""
        ...

    def post_ids(self, user_id: str, platform: Platform, platform_post_ids: Sequence[str]) -> dict[str, str]:
        """Tidings' post id of each platform post id linked to one (those Tidings published: linked,
        or watched before links were written)."""
        ...

    def link(self, links: Sequence[PostLink]) -> None:
        """Record the platform ids published posts are known by (again: the same link)."""
        ...

    def unlinked(self, user_id: str, platform: Platform, platform_post_id: str) -> list[Comment]:
        """The user's comments on that platform post that are tied to no Tidings post."""
        ...

    def due_replies(self, now: datetime, limit: int) -> list[Comment]:
        """Comments of every user whose pending reply is due for the periodic reply pass at `now`, the
        longest due first, at most `limit`."""
        ...

    def claim_sync(self, user_id: str, now: datetime, every: timedelta) -> datetime | None:
        """Record a sync at `now` unless the last one was less than `every` ago: None when recorded,
        else when the next one may start."""
        ...


# -- items -----------------------------------------------------------------------------------------


def comment_to_item(comment: Comment) -> dict[str, Any]:
    cid = comment.comment_id
    item: dict[str, Any] = {
        "PK": keys.user_pk(comment.user_id),
        "SK": keys.comment_sk(cid),
        "EntityType": keys.COMMENT_ENTITY,
        "GSI1PK": keys.comments_by_time_pk(comment.user_id),
        "GSI1SK": f"{iso_ms(comment.created_at)}#{cid}",
        "comment_id": cid,
        **comment.model_dump(mode="json", exclude_none=True),
    }
    if comment.analysis is not None:
        item["sentiment"] = comment.analysis.sentiment
    reply = comment.reply
    if reply is not None and reply.state in PENDING_REPLY_STATES and reply.next_attempt_at is not None:
        item["GSI3PK"] = keys.reply_due_pk(keys.due_shard(f"{comment.user_id}#{cid}", REPLY_SHARDS))
        item["GSI3SK"] = f"{iso_ms(reply.next_attempt_at)}#{comment.user_id}#{cid}"
    if comment.post_id is None:
        item["GSI2PK"] = keys.unlinked_comments_pk(
            comment.user_id, comment.platform, comment.platform_post_id
        )
        item["GSI2SK"] = item["GSI1SK"]
    return item


logger = logging.getLogger(__name__)


def reply_due_upper_bound(now: datetime) -> str:
    """Reply index sort keys below this are due at `now`."""
    return iso_ms(now) + "#~"


def oldest_due(items: list[dict[str, Any]], limit: int) -> list[Comment]:
    """The comments of reply index entries, the longest due first, at most `limit`; an item that
    cannot be read is left out with a log, so one bad item never stops the reply pass."""
    found: list[Comment] = []
    for item in sorted(items, key=lambda item: str(item["GSI3SK"])):
        if len(found) >= limit:
            break
        try:
            found.append(comment_from_item(item))
        except (KeyError, TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            logger.error(
                "skipped a due reply that cannot be read (%s): %s %s", exc, item.get("PK"), item.get("SK")
            )
    return found


def comment_from_item(item: dict[str, Any]) -> Comment:
    fields = set(Comment.model_fields)
    return Comment.model_validate({k: v for k, v in item.items() if k in fields})


def watch_to_item(watch: WatchedPost) -> dict[str, Any]:
    shard = keys.due_shard(f"{watch.platform}#{watch.platform_post_id}", WATCH_SHARDS)
    until = iso_ms(watch.watch_until)
    return {
        "PK": keys.user_pk(watch.user_id),
        "SK": keys.comment_watch_sk(watch.platform, watch.platform_post_id),
        "EntityType": keys.COMMENT_WATCH_ENTITY,
        "GSI2PK": keys.comment_watch_pk(shard),
        "GSI2SK": f"{until}#{watch.user_id}#{watch.platform}#{watch.platform_post_id}",
        "expiresAt": int((watch.watch_until + timedelta(days=1)).timestamp()),
        **watch.model_dump(mode="json", exclude_none=True),
    }


def link_to_item(link: PostLink) -> dict[str, Any]:
    return {
        "PK": keys.user_pk(link.user_id),
        "SK": keys.comment_post_sk(link.platform, link.platform_post_id),
        "EntityType": keys.COMMENT_POST_ENTITY,
        **link.model_dump(mode="json"),
    }


def watch_from_item(item: dict[str, Any]) -> WatchedPost:
    fields = set(WatchedPost.model_fields)
    return WatchedPost.model_validate({k: v for k, v in item.items() if k in fields})


def matches(comment: Comment, filters: CommentFilter) -> bool:
    return (
        (filters.status is None or comment.status == filters.status)
        and (filters.platform is None or comment.platform == filters.platform)
        and (filters.post_id is None or comment.post_id == filters.post_id)
        and (
            filters.sentiment is None
            or (comment.analysis is not None and comment.analysis.sentiment == filters.sentiment)
        )
    )


def start_key(user_id: str, next_token: str | None) -> dict[str, Any] | None:
    """The page's start (a DynamoDB key) from a token, which must be one issued for this user's list."""
    try:
        return decode_token(next_token, page_scope(keys.comments_by_time_pk(user_id)))
    except ValueError:
        raise invalid_token() from None


def page_token(item: dict[str, Any], user_id: str) -> str | None:
    key = serialize({k: item[k] for k in ("PK", "SK", "GSI1PK", "GSI1SK")})
    return encode_token(key, page_scope(keys.comments_by_time_pk(user_id)))


def unique(comments: Sequence[Comment]) -> list[Comment]:
    seen: set[tuple[str, str]] = set()
    out = []
    for comment in comments:
        key = (comment.user_id, comment.comment_id)
        if key not in seen:
            seen.add(key)
            out.append(comment)
    return out


def sorted_watches(watches: Sequence[WatchedPost]) -> list[WatchedPost]:
    return sorted(watches, key=lambda w: w.published_at, reverse=True)


# -- DynamoDB --------------------------------------------------------------------------------------


class DynamoCommentRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def add_new(self, comments: Sequence[Comment]) -> list[Comment]:
        stored: list[Comment] = []
        todo = unique(comments)
        for start in range(0, len(todo), TRANSACTION_SIZE):
            stored.extend(self._put_new(todo[start : start + TRANSACTION_SIZE]))
        order = {c.comment_id + c.user_id: i for i, c in enumerate(todo)}
        return sorted(stored, key=lambda c: order[c.comment_id + c.user_id])

    def _put_new(self, chunk: list[Comment]) -> list[Comment]:
        for _ in range(_WRITE_ATTEMPTS):
            if not chunk:
                return []
            actions = [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": serialize(comment_to_item(c)),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
                for c in chunk
            ]
            try:
                self.client.transact_write_items(TransactItems=actions)  # type: ignore[arg-type]
                return chunk
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons", [])
                taken = {i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"}
                if not taken:
                    raise  # a conflict with another transaction, or throttling: the caller retries
                chunk = [c for i, c in enumerate(chunk) if i not in taken]
        raise RuntimeError("new comments could not be written after several attempts")

    def get(self, user_id: str, comment_id: str) -> Comment | None:
        resp = self.client.get_item(
            TableName=self.table,
            Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.comment_sk(comment_id)}),
            ConsistentRead=True,
        )
        return comment_from_item(deserialize(resp["Item"])) if "Item" in resp else None

    def page(self, user_id: str, filters: CommentFilter, limit: int, next_token: str | None) -> CommentPage:
        start = start_key(user_id, next_token)
        conditions: list[str] = []
        values: dict[str, Any] = {":pk": keys.comments_by_time_pk(user_id)}
        names: dict[str, str] = {}
        for name, value in (
            ("status", filters.status),
            ("sentiment", filters.sentiment),
            ("platform", filters.platform),
            ("post_id", filters.post_id),
        ):
            if value is not None:
                conditions.append(f"#{name} = :{name}")
                names[f"#{name}"] = name
                values[f":{name}"] = str(value)
        found: list[Comment] = []
        last: dict[str, Any] | None = None
        while len(found) < limit:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": "GSI1",
                "KeyConditionExpression": "GSI1PK = :pk",
                "ExpressionAttributeValues": serialize(values),
                "ScanIndexForward": False,
                "Limit": limit - len(found),
            }
            if conditions:
                kwargs["FilterExpression"] = " AND ".join(conditions)
                kwargs["ExpressionAttributeNames"] = names
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = self.client.query(**kwargs)
            found.extend(comment_from_item(deserialize(i)) for i in resp.get("Items", []))
            last = resp.get("LastEvaluatedKey")
            if not last:
                break
            start = last
        return CommentPage(found, page_token(deserialize(last), user_id) if last else None)

    def save(self, comment: Comment) -> Comment:
        updated = comment.model_copy(update={"version": comment.version + 1})
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(comment_to_item(updated)),
                ConditionExpression="version = :v",
                ExpressionAttributeValues={":v": serialize_value(comment.version)},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise CommentChanged("the comment changed meanwhile; try again", {}) from None
        return updated

    def watch(self, posts: Sequence[WatchedPost]) -> None:
        for post in posts:
            self.client.put_item(TableName=self.table, Item=serialize(watch_to_item(post)))

    def watched(self, user_id: str, now: datetime) -> list[WatchedPost]:
        items = query_prefix(self.client, self.table, keys.user_pk(user_id), keys.COMMENT_WATCH_SK_PREFIX)
        return sorted_watches([w for w in map(watch_from_item, items) if w.watch_until > now])

    def watching(self, now: datetime) -> Iterator[WatchedPost]:
        for shard in range(WATCH_SHARDS):
            start: dict[str, Any] | None = None
            while True:
                kwargs: dict[str, Any] = {
                    "TableName": self.table,
                    "IndexName": "GSI2",
                    "KeyConditionExpression": "GSI2PK = :pk AND GSI2SK > :now",
                    "ExpressionAttributeValues": serialize(
                        {":pk": keys.comment_watch_pk(shard), ":now": iso_ms(now)}
                    ),
                }
                if start:
                    kwargs["ExclusiveStartKey"] = start
                resp = self.client.query(**kwargs)
                yield from (watch_from_item(deserialize(i)) for i in resp.get("Items", []))
                start = resp.get("LastEvaluatedKey")
                if not start:
                    break

    def post_ids(self, user_id: str, platform: Platform, platform_post_ids: Sequence[str]) -> dict[str, str]:
        # each id's link, and its watch (posts watched before links were written)
        wanted = [
            sk(platform, p)
            for p in sorted(set(platform_post_ids))
            for sk in (keys.comment_post_sk, keys.comment_watch_sk)
        ]
        out: dict[str, str] = {}
        for start in range(0, len(wanted), 100):  # BatchGetItem reads up to 100 keys
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [
                        serialize({"PK": keys.user_pk(user_id), "SK": sk})
                        for sk in wanted[start : start + 100]
                    ]
                }
            }
            while request:
                resp = self.client.batch_get_item(RequestItems=request)
                for raw in resp.get("Responses", {}).get(self.table, []):
                    item = deserialize(raw)
                    if item.get("post_id"):
                        out[str(item["platform_post_id"])] = str(item["post_id"])
                request = resp.get("UnprocessedKeys") or {}
        return out

    def link(self, links: Sequence[PostLink]) -> None:
        for link in links:
            self.client.put_item(TableName=self.table, Item=serialize(link_to_item(link)))

    def unlinked(self, user_id: str, platform: Platform, platform_post_id: str) -> list[Comment]:
        # GSI2 is read eventually consistent: a comment written a moment before may not be in it yet
        # (DynamoDB Developer Guide, "Using Global Secondary Indexes": reads from a GSI are eventually
        # consistent); the comment's own stream record looks the link up again (CommentAnalysisStep).
        pk = keys.unlinked_comments_pk(user_id, platform, platform_post_id)
        found: list[Comment] = []
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": "GSI2",
                "KeyConditionExpression": "GSI2PK = :pk",
                "ExpressionAttributeValues": serialize({":pk": pk}),
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = self.client.query(**kwargs)
            found.extend(comment_from_item(deserialize(i)) for i in resp.get("Items", []))
            start = resp.get("LastEvaluatedKey")
            if not start:
                return found

    def due_replies(self, now: datetime, limit: int) -> list[Comment]:
        upper = reply_due_upper_bound(now)
        items: list[dict[str, Any]] = []
        for shard in range(REPLY_SHARDS):  # one page per shard: the longest due `limit` of each
            resp = self.client.query(
                TableName=self.table,
                IndexName="GSI3",
                KeyConditionExpression="GSI3PK = :pk AND GSI3SK < :upper",
                ExpressionAttributeValues=serialize({":pk": keys.reply_due_pk(shard), ":upper": upper}),
                Limit=limit,
            )
            items += [deserialize(raw) for raw in resp.get("Items", [])]
        return oldest_due(items, limit)

    def claim_sync(self, user_id: str, now: datetime, every: timedelta) -> datetime | None:
        key = {"PK": keys.user_pk(user_id), "SK": keys.COMMENT_SYNC_SK}
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize({**key, "last_sync_at": iso_ms(now)}),
                ConditionExpression="attribute_not_exists(PK) OR last_sync_at <= :before",
                ExpressionAttributeValues={":before": serialize_value(iso_ms(now - every))},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            resp = self.client.get_item(TableName=self.table, Key=serialize(key), ConsistentRead=True)
            last = parse_iso(str(deserialize(resp.get("Item", {})).get("last_sync_at", iso_ms(now))))
            return last + every
        return None
