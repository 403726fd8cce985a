"""Keeps derived state in line with each post, driven by the table's stream (the table is the truth):

- exactly one EventBridge Scheduler one-time schedule per scheduled post: created on insert, moved when
  the post's time or version changes, deleted when it leaves `scheduled` or is removed;
- a post due too soon for a schedule to fire in time is started at once instead (idempotent start);
- the user's queue index drops posts that are no longer scheduled.

Every action is idempotent, so redelivered or re-ordered-by-retry records converge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tidings.aws.publishing import PostScheduleManager, PublishStarter, schedule_time
from tidings.core.clock import Clock
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.store.dynamo import deserialize_stream_image, record_of
from tidings.store.keys import POST_ENTITY
from tidings.store.posts import PostRepository, post_from_item

# A schedule whose time is this close (or past) would fire late: start the execution directly.
_START_DIRECTLY_WITHIN = timedelta(seconds=1)


@dataclass(frozen=True)
class Upsert:
    post: ScheduledPost


@dataclass(frozen=True)
class StartNow:
    post: ScheduledPost


@dataclass(frozen=True)
class DeleteSchedule:
    post_id: str


@dataclass(frozen=True)
class DropFromQueue:
    user_id: str
    post_id: str


Action = Upsert | StartNow | DeleteSchedule | DropFromQueue


def _image(record: dict[str, Any], name: str) -> ScheduledPost | None:
    raw = record.get("dynamodb", {}).get(name)
    if not raw:
        return None
    item = deserialize_stream_image(raw)
    if item.get("EntityType") != POST_ENTITY:
        return None
    return post_from_item(item)


def is_post_record(record: dict[str, Any]) -> bool:
    return record_of(record, POST_ENTITY)


def plan(record: dict[str, Any], now: datetime, lead_seconds: int) -> list[Action]:
    """What a stream record asks for (pure: no I/O)."""
    images = record.get("dynamodb", {})
    statuses = {images.get(n, {}).get("status", {}).get("S") for n in ("OldImage", "NewImage")}
    if PostStatus.SCHEDULED not in statuses:
        return []  # publishing, retrying, published...: nothing to do with schedules, and no parsing
    old, new = _image(record, "OldImage"), _image(record, "NewImage")
    was_scheduled = old is not None and old.status == PostStatus.SCHEDULED
    if new is not None and new.status == PostStatus.SCHEDULED:
        unchanged = was_scheduled and old is not None and old.version == new.version
        if unchanged:
            return []
        if schedule_time(new.scheduled_time, lead_seconds) <= now + _START_DIRECTLY_WITHIN:
            actions: list[Action] = [StartNow(new)]
            if was_scheduled:
                actions.append(DeleteSchedule(new.post_id))
            return actions
        return [Upsert(new)]
    if was_scheduled and old is not None:
        drop = DropFromQueue(old.user_id, old.post_id)
        if new is not None and new.status == PostStatus.PUBLISHING:
            # Claimed by its execution: the schedule has fired, and Scheduler deletes a fired
            # one-time schedule itself (ActionAfterCompletion DELETE; EventBridge Scheduler User Guide,
            # "Deleting a schedule"). A late duplicate start is refused by the execution's name.
            return [drop]
        return [DeleteSchedule(old.post_id), drop]
    return []


class PostScheduleKeeper:
    def __init__(
        self,
        schedules: PostScheduleManager,
        starter: PublishStarter,
        posts: PostRepository,
        clock: Clock,
        lead_seconds: int,
    ) -> None:
        self.schedules = schedules
        self.starter = starter
        self.posts = posts
        self.clock = clock
        self.lead_seconds = lead_seconds

    def wants(self, record: dict[str, Any]) -> bool:
        return is_post_record(record)

    def apply(self, record: dict[str, Any], deferred: list[Any] | None = None) -> None:
        """Carry out what the record asks for. Queue removals go to `deferred` when given, so a batch
        removes all of a user's posts from the queue index in one write (`flush`)."""
        actions = plan(record, self.clock.now(), self.lead_seconds)
        for action in actions:
            if isinstance(action, DropFromQueue) and deferred is not None:
                deferred.append(action)
                continue
            if isinstance(action, Upsert):
                p = action.post
                self.schedules.upsert(p.user_id, p.post_id, p.version, p.scheduled_time)
            elif isinstance(action, StartNow):
                p = action.post
                self.starter.start(p.user_id, p.post_id, p.version, p.scheduled_time)
            elif isinstance(action, DeleteSchedule):
                self.schedules.delete(action.post_id)
            else:
                self.posts.remove_queue_entries(action.user_id, [action.post_id])

    def flush(self, deferred: list[Any]) -> None:
        """Remove the batch's deferred posts from their users' queue indexes: one write per user."""
        by_user: dict[str, list[str]] = {}
        for drop in deferred:
            by_user.setdefault(drop.user_id, []).append(drop.post_id)
        for user_id, post_ids in by_user.items():
            self.posts.remove_queue_entries(user_id, post_ids)
