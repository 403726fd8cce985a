"""Comments and watched posts in memory, with the DynamoDB repository's conditions: a comment is
stored once per user and platform comment id, saved only from the version read, listed newest first
with page tokens bound to their user (interchangeable with the table's)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from tidings.core.clock import iso_ms
from tidings.core.platforms import Platform
from tidings.models.comments import Comment, PostLink, WatchedPost
from tidings.store.comments import (
    CommentChanged,
    CommentFilter,
    CommentPage,
    comment_to_item,
    matches,
    oldest_due,
    page_token,
    reply_due_upper_bound,
    sorted_watches,
    start_key,
    unique,
)
from tidings.store.dynamo import deserialize


class InMemoryCommentRepository:
    def __init__(self) -> None:
        self.comments: dict[tuple[str, str], Comment] = {}  # (user, comment id) -> comment
        self.watches: dict[tuple[str, str, str], WatchedPost] = {}  # (user, platform, platform post id)
        self.links: dict[tuple[str, str, str], str] = {}  # (user, platform, platform post id) -> post id
        self.syncs: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def add_new(self, comments: Sequence[Comment]) -> list[Comment]:
        stored = []
        with self._lock:
            for comment in unique(comments):
                key = (comment.user_id, comment.comment_id)
                if key not in self.comments:
                    self.comments[key] = comment
                    stored.append(comment)
        return stored

    def get(self, user_id: str, comment_id: str) -> Comment | None:
        with self._lock:
            return self.comments.get((user_id, comment_id))

    def page(self, user_id: str, filters: CommentFilter, limit: int, next_token: str | None) -> CommentPage:
        start = start_key(user_id, next_token)
        after = deserialize(start)["GSI1SK"] if start else None
        with self._lock:
            items = sorted(
                (comment_to_item(c) for (u, _), c in self.comments.items() if u == user_id),
                key=lambda i: i["GSI1SK"],
                reverse=True,
            )
        if after is not None:
            items = [i for i in items if i["GSI1SK"] < after]
        # as DynamoDB: the limit counts the items read, the filter applies to them afterwards, and a
        # read that reached its limit answers its last key (even when nothing follows it)
        found: list[Comment] = []
        last: dict[str, Any] | None = None
        while len(found) < limit:
            want = limit - len(found)
            read, items = items[:want], items[want:]
            found.extend(c for c in map(self._comment, read) if matches(c, filters))
            last = read[-1] if len(read) == want else None
            if last is None:
                break
        return CommentPage(found, page_token(last, user_id) if last else None)

    def _comment(self, item: dict[str, Any]) -> Comment:
        return self.comments[(str(item["user_id"]), str(item["comment_id"]))]

    def save(self, comment: Comment) -> Comment:
        with self._lock:
            current = self.comments.get((comment.user_id, comment.comment_id))
            if current is None or current.version != comment.version:
                raise CommentChanged("the comment changed meanwhile; try again", {})
            updated = comment.model_copy(update={"version": comment.version + 1})
            self.comments[(comment.user_id, comment.comment_id)] = updated
            return updated

    def watch(self, posts: Sequence[WatchedPost]) -> None:
        with self._lock:
            for post in posts:
                self.watches[(post.user_id, str(post.platform), post.platform_post_id)] = post

    def watched(self, user_id: str, now: datetime) -> list[WatchedPost]:
        with self._lock:
            mine = [w for (u, _, _), w in self.watches.items() if u == user_id and w.watch_until > now]
        return sorted_watches(mine)

    def watching(self, now: datetime) -> Iterator[WatchedPost]:
        with self._lock:
            active = [w for w in self.watches.values() if w.watch_until > now]
        yield from active

    def post_ids(self, user_id: str, platform: Platform, platform_post_ids: Sequence[str]) -> dict[str, str]:
        with self._lock:
            out = {
                p: w.post_id
                for p in platform_post_ids
                if (w := self.watches.get((user_id, str(platform), p))) is not None and w.post_id
            }
            out.update(
                (p, post) for p in platform_post_ids if (post := self.links.get((user_id, str(platform), p)))
            )
            return out

    def link(self, links: Sequence[PostLink]) -> None:
        with self._lock:
            for link in links:
                self.links[(link.user_id, str(link.platform), link.platform_post_id)] = link.post_id

    def unlinked(self, user_id: str, platform: Platform, platform_post_id: str) -> list[Comment]:
        with self._lock:
            return [
                c
                for (u, _), c in self.comments.items()
                if u == user_id
                and c.platform == platform
                and c.platform_post_id == platform_post_id
                and c.post_id is None
            ]

    def due_replies(self, now: datetime, limit: int) -> list[Comment]:
        upper = reply_due_upper_bound(now)
        with self._lock:
            items = [comment_to_item(c) for c in self.comments.values()]
        return oldest_due([i for i in items if "GSI3SK" in i and i["GSI3SK"] < upper], limit)

    def claim_sync(self, user_id: str, now: datetime, every: timedelta) -> datetime | None:
        with self._lock:
            last = self.syncs.get(user_id)
            if last is not None and iso_ms(last) > iso_ms(now - every):
                return last + every
            self.syncs[user_id] = now
            return None
