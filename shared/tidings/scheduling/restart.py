"""Rebuilding schedules from the table after the schedules themselves were lost (the local runtime's
moto keeps its schedules in memory; a restart forgets every one of them).

The table is the truth and the schedule keepers turn each change of it into schedules; a stored item
is handed to them as the stream record that inserted it, so each keeper applies the rule it applies
to a new item: a scheduled post gets its one-time schedule (or is started at once when it is due), a
pending task its schedule, an integration with periodic sync its recurring schedule, a waiting
campaign step its schedule (at once when its time has passed). Every keeper action is idempotent.

One rule is the restart's own: a scheduled post whose time passed longer ago than `missed_after`
(the stack was stopped for long) is not sent late; it is marked failed with the reason instead,
which GET /posts shows.

And one repair: a post left `publishing` by a version of Tidings before the sweeper's index of
publishing posts (GSI2 `PUBLISHING#<shard>`) has no keys in that index, so the sweeper would never
find it; it gets them, from its stored progress, and the sweeper's pass after the rebuild resumes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from tidings.core.clock import iso_ms
from tidings.core.streams import StreamConsumer
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.store.dynamo import deserialize
from tidings.store.keys import POST_ENTITY
from tidings.store.posts import post_from_item

DEFAULT_MISSED_AFTER = timedelta(hours=24)


class MissedPosts(Protocol):
    def mark_missed(self, post: ScheduledPost, reason: str, now: datetime) -> bool:
        """scheduled -> failed with `reason`, on the post's version; False if it moved meanwhile."""
        ...


class PublishingIndex(Protocol):
    def backfill(self, post: ScheduledPost) -> bool:
        """Give a `publishing` post its keys in the sweeper's index; False if it moved meanwhile."""
        ...


def unindexed_publishing(item: Mapping[str, Any], post: ScheduledPost) -> bool:
    """A `publishing` post the sweeper cannot see: stored before its index existed."""
    return post.status == PostStatus.PUBLISHING and "GSI2PK" not in item


def restart_record(item: Mapping[str, Any]) -> dict[str, Any]:
    """A stored item (DynamoDB's typed form, as Scan returns it) as the stream record inserting it."""
    return {"eventName": "INSERT", "dynamodb": {"NewImage": dict(item)}}


def missed_reason(post: ScheduledPost, now: datetime, missed_after: timedelta) -> str | None:
    """Why a scheduled post is not sent any more after a restart; None if it still goes out."""
    if post.status != PostStatus.SCHEDULED or post.scheduled_time >= now - missed_after:
        return None
    hours = missed_after.total_seconds() / 3600
    return (
        f"missed: due at {iso_ms(post.scheduled_time)} while the stack was stopped, "
        f"more than {hours:g} hours before it started again"
    )


def rebuild(
    items: Iterable[Mapping[str, Any]],
    keepers: Sequence[StreamConsumer],
    missed: MissedPosts,
    now: datetime,
    missed_after: timedelta = DEFAULT_MISSED_AFTER,
    index: PublishingIndex | None = None,
) -> int:
    """Hand every stored item to the keepers that want it, except scheduled posts too late to send
    (marked missed); `publishing` posts missing from the sweeper's index join it. The number of posts
    marked missed."""
    marked = 0
    deferred: list[list[Any]] = [[] for _ in keepers]
    for item in items:
        if _entity_type(item) == POST_ENTITY:
            post = post_from_item(deserialize(item))
            if index is not None and unindexed_publishing(item, post):
                index.backfill(post)
            reason = missed_reason(post, now, missed_after)
            if reason is not None:
                marked += int(missed.mark_missed(post, reason, now))
                continue
        record = restart_record(item)
        for keeper, work in zip(keepers, deferred, strict=True):
            if keeper.wants(record):
                keeper.apply(record, work)
    for keeper, work in zip(keepers, deferred, strict=True):
        if work:
            keeper.flush(work)
    return marked


def _entity_type(item: Mapping[str, Any]) -> str | None:
    value = item.get("EntityType")
    return value.get("S") if isinstance(value, dict) else None
