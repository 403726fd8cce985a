"""Scheduled posts in memory, with the DynamoDB repository's conditions: a new post and its queue entry
are written only while the user's queue index is at the revision the rules were checked against (and
no id is taken), a scheduled post is replaced or cancelled only from the version and status read, the
publish step claims a post only on its version and saves it only as its claimant.

Items are kept as the table keeps them, index keys included, so the queue is read in GSI1's order
(with a page's filters applied after its limit, and page tokens interchangeable with the table's) and
the sweeper reads GSI2's sparse due shards.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from tidings.core.clock import iso_ms, parse_iso
from tidings.core.platforms import Platform
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.store import keys
from tidings.store.dynamo import decode_token, deserialize, encode_token, page_scope, serialize
from tidings.store.posts import (
    CANCEL_REASON,
    DuePost,
    HeldClaim,
    PostExists,
    PostPage,
    QueueChanged,
    QueueIndex,
    StaleWrite,
    check_batch,
    post_from_item,
    post_to_item,
    publishing_index,
    queue_entry_value,
    queue_from_item,
)

_GSI1_KEY = ("PK", "SK", "GSI1PK", "GSI1SK")


def _stored(item: dict[str, Any]) -> dict[str, Any]:
    """`item` as the table would return it."""
    return deserialize(serialize(item))


def limited_pages(
    ordered: list[dict[str, Any]],
    limit: int,
    keep: Callable[[dict[str, Any]], bool],
    key_attrs: tuple[str, ...],
    scope: str,
) -> tuple[list[dict[str, Any]], str | None]:
    """Read `ordered` items like queries with `Limit` (what is still wanted) and a filter, until
    `limit` items are kept or the items run out: the kept items and the token of the last item read
    when a read stopped at its limit (as DynamoDB's LastEvaluatedKey, even with nothing after it)."""
    kept: list[dict[str, Any]] = []
    remaining, last = ordered, None
    while True:
        wanted = limit - len(kept)
        read, remaining = remaining[:wanted], remaining[wanted:]
        kept += [item for item in read if keep(item)]
        last = {k: read[-1][k] for k in key_attrs} if read and len(read) == wanted else None
        if last is None or len(kept) >= limit:
            break
    return kept, encode_token(serialize(last), scope) if last else None


def token_position(next_token: str | None, attr: str, scope: str) -> str | None:
    """The sort key a page token of `scope` resumes after (ValueError for a token this store did
    not issue for it)."""
    start = decode_token(next_token, scope)
    if not start:
        return None
    position = deserialize(start).get(attr)
    if not isinstance(position, str):
        raise ValueError("nextToken is not a token this API issued")
    return position


class InMemoryPostRepository:
    def __init__(self, due_shards: int = 8) -> None:
        self.due_shards = due_shards
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._queues: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _item_of(self, post: ScheduledPost) -> dict[str, Any]:
        return _stored(post_to_item(post, self.due_shards))

    # -- reads ---------------------------------------------------------------------------------

    def get(self, user_id: str, post_id: str) -> ScheduledPost | None:
        with self._lock:
            item = copy.deepcopy(self._items.get((user_id, post_id)))
        return post_from_item(item) if item is not None else None

    def queue(self, user_id: str) -> QueueIndex:
        with self._lock:
            item = copy.deepcopy(self._queues.get(user_id))
        return queue_from_item(item) if item is not None else QueueIndex()

    def _user_items(self, user_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(item) for (uid, _), item in self._items.items() if uid == user_id]

    def page(
        self,
        user_id: str,
        *,
        status: PostStatus | None = None,
        platform: Platform | None = None,
        limit: int = 50,
        next_token: str | None = None,
    ) -> PostPage:
        scope = page_scope(keys.posts_by_time_pk(user_id))
        after = token_position(next_token, "GSI1SK", scope)
        ordered = sorted(self._user_items(user_id), key=lambda item: str(item["GSI1SK"]))
        if after is not None:
            ordered = [item for item in ordered if str(item["GSI1SK"]) > after]

        def keep(item: dict[str, Any]) -> bool:
            return (status is None or item.get("status") == str(status)) and (
                platform is None or str(platform) in item.get("platforms", [])
            )

        items, token = limited_pages(ordered, limit, keep, _GSI1_KEY, scope)
        return PostPage(posts=[post_from_item(item) for item in items], next_token=token)

    def iter_all(self, user_id: str) -> Iterator[ScheduledPost]:
        for item in sorted(self._user_items(user_id), key=lambda item: str(item["SK"])):
            yield post_from_item(item)

    def due_unclaimed(self, before: datetime, limit: int = 500) -> list[DuePost]:
        upper = iso_ms(before) + "#~"
        with self._lock:
            indexed = [
                copy.deepcopy(i) for i in self._items.values() if "GSI2PK" in i and i["GSI2SK"] < upper
            ]
        found: list[DuePost] = []
        for shard in range(self.due_shards):
            if len(found) >= limit:
                break
            in_shard = sorted(
                (i for i in indexed if i["GSI2PK"] == keys.due_pk(shard)), key=lambda i: str(i["GSI2SK"])
            )
            found += [
                DuePost(i["user_id"], i["post_id"], int(i["version"]), parse_iso(i["scheduled_time"]))
                for i in in_shard
                if i.get("status") == PostStatus.SCHEDULED
            ]
        return found[:limit]

    def publishing_before(self, before: datetime, limit: int = 500) -> list[ScheduledPost]:
        upper = iso_ms(before) + "#~"
        shard_of = {keys.publishing_pk(shard): shard for shard in range(self.due_shards)}
        with self._lock:
            indexed = [
                copy.deepcopy(i)
                for i in self._items.values()
                if i.get("GSI2PK") in shard_of and i["GSI2SK"] < upper
            ]
        ordered = sorted(indexed, key=lambda i: (shard_of[i["GSI2PK"]], str(i["GSI2SK"])))
        return [post_from_item(i) for i in ordered if i.get("status") == PostStatus.PUBLISHING][:limit]

    # -- writes by the API -----------------------------------------------------------------------

    def _queue_at(self, user_id: str, queue_rev: int) -> bool:
        """Whether the user's queue index is still at `queue_rev` (0: not written yet)."""
        queue = self._queues.get(user_id)
        return queue is None if queue_rev == 0 else queue is not None and queue["rev"] == queue_rev

    def _add_to_queue(self, posts: list[ScheduledPost]) -> None:
        queue = self._queues.setdefault(posts[0].user_id, {"rev": 0, "q": {}})
        queue["rev"] += 1
        queue["q"].update({p.post_id: _stored(queue_entry_value(p)) for p in posts})

    def create(self, post: ScheduledPost, queue_rev: int) -> None:
        self.create_many([post], queue_rev)

    def create_many(self, posts: list[ScheduledPost], queue_rev: int) -> None:
        if not posts:
            return
        check_batch(posts)
        items = [self._item_of(post) for post in posts]
        with self._lock:
            taken = any((p.user_id, p.post_id) in self._items for p in posts)
            if taken or not self._queue_at(posts[0].user_id, queue_rev):
                raise QueueChanged()
            for post, item in zip(posts, items, strict=True):
                self._items[(post.user_id, post.post_id)] = item
            self._add_to_queue(posts)

    def put_new(self, post: ScheduledPost) -> None:
        item = self._item_of(post)
        with self._lock:
            if (post.user_id, post.post_id) in self._items:
                raise PostExists()
            self._items[(post.user_id, post.post_id)] = item

    def replace_scheduled(self, post: ScheduledPost, expected_version: int, queue_rev: int) -> None:
        item = self._item_of(post)
        with self._lock:
            current = self._items.get((post.user_id, post.post_id))
            if (
                current is None
                or current.get("version") != expected_version
                or current.get("status") != PostStatus.SCHEDULED
            ):
                raise StaleWrite()
            if not self._queue_at(post.user_id, queue_rev):
                raise QueueChanged()
            self._items[(post.user_id, post.post_id)] = item
            self._add_to_queue([post])

    def cancel(
        self, user_id: str, post_id: str, now: datetime, held: HeldClaim | None = None
    ) -> ScheduledPost:
        with self._lock:
            item = self._items.get((user_id, post_id))
            if item is None or not _cancellable(item, held):
                raise StaleWrite()
            item.update(
                status=str(PostStatus.CANCELLED),
                version=int(item["version"]) + 1,
                updated_at=iso_ms(now),
                completed_at=iso_ms(now),
                final_reason=CANCEL_REASON,
            )
            for name in ("GSI2PK", "GSI2SK", "next_attempt_at", "attempt_started_at"):
                item.pop(name, None)
            cancelled = copy.deepcopy(item)
        self.remove_queue_entries(user_id, [post_id])
        return post_from_item(cancelled)

    def remove_queue_entries(self, user_id: str, post_ids: list[str]) -> None:
        with self._lock:
            queue = self._queues.get(user_id)
            if queue is None:
                return
            for post_id in post_ids:
                queue["q"].pop(post_id, None)

    # -- writes by the publish step -------------------------------------------------------------

    def claim(self, user_id: str, post_id: str, version: int, execution_id: str, now: datetime) -> bool:
        with self._lock:
            item = self._items.get((user_id, post_id))
            if item is None or item.get("version") != version:
                return False
            status = item.get("status")
            held = status == PostStatus.PUBLISHING and item.get("claimed_by") == execution_id
            if status != PostStatus.SCHEDULED and not held:
                return False
            item.update(
                status=str(PostStatus.PUBLISHING),
                claimed_by=execution_id,
                updated_at=iso_ms(now),
                attempt_started_at=iso_ms(now),
                **publishing_index(user_id, post_id, now, self.due_shards),
            )
            return True

    def save_claimed(self, post: ScheduledPost, execution_id: str) -> None:
        item = self._item_of(post)
        with self._lock:
            current = self._items.get((post.user_id, post.post_id))
            if (
                current is None
                or current.get("claimed_by") != execution_id
                or current.get("version") != post.version
            ):
                raise StaleWrite()
            self._items[(post.user_id, post.post_id)] = item

    # -- writes by the sweeper ------------------------------------------------------------------

    def hand_over(
        self, user_id: str, post_id: str, version: int, from_execution: str, to_execution: str, now: datetime
    ) -> bool:
        with self._lock:
            item = self._items.get((user_id, post_id))
            if (
                item is None
                or item.get("status") != PostStatus.PUBLISHING
                or item.get("version") != version
                or item.get("claimed_by") != from_execution
            ):
                return False
            item.update(
                claimed_by=to_execution,
                resumes=int(item.get("resumes", 0)) + 1,
                updated_at=iso_ms(now),
                next_attempt_at=iso_ms(now),
                **publishing_index(user_id, post_id, now, self.due_shards),
            )
            item.pop("attempt_started_at", None)
            return True


def _cancellable(item: dict[str, Any], held: HeldClaim | None) -> bool:
    """The condition of DynamoPostRepository.cancel."""
    if held is None:
        return bool(item.get("status") == PostStatus.SCHEDULED)
    started = item.get("attempt_started_at")
    return (
        item.get("status") == PostStatus.PUBLISHING
        and item.get("version") == held.version
        and item.get("claimed_by") == held.execution_id
        and (started is None or str(started) <= iso_ms(held.started_before))
    )
