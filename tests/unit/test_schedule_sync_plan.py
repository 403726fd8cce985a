"""Which schedule action each stream record asks for: one schedule per scheduled post."""

from datetime import UTC, datetime, timedelta
from typing import Any

from tidings.aws.publishing import execution_input, schedule_time
from tidings.core.platforms import Platform
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.scheduling.schedule_keeper import (
    DeleteSchedule,
    DropFromQueue,
    StartNow,
    Upsert,
    is_post_record,
    plan,
)
from tidings.store.dynamo import serialize
from tidings.store.posts import post_to_item

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LEAD = 120


def post(**changes: Any) -> ScheduledPost:
    base: dict[str, Any] = {
        "user_id": "u1",
        "post_id": "p1",
        "content": "Open house Sunday",
        "platforms": [Platform.FACEBOOK],
        "scheduled_time": NOW + timedelta(hours=2),
        "created_at": NOW,
        "updated_at": NOW,
    }
    base.update(changes)
    return ScheduledPost.model_validate(base)


def record(old: ScheduledPost | None, new: ScheduledPost | None) -> dict[str, Any]:
    images: dict[str, Any] = {"SequenceNumber": "100", "Keys": {}}
    if old is not None:
        images["OldImage"] = serialize(post_to_item(old, 8))
    if new is not None:
        images["NewImage"] = serialize(post_to_item(new, 8))
    name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    return {"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": images}


def test_insert_creates_a_schedule() -> None:
    p = post()
    assert plan(record(None, p), NOW, LEAD) == [Upsert(p)]


def test_reschedule_moves_the_schedule() -> None:
    old = post()
    new = post(scheduled_time=NOW + timedelta(hours=5), version=2)
    assert plan(record(old, new), NOW, LEAD) == [Upsert(new)]


def test_a_change_that_keeps_the_version_does_nothing() -> None:
    old = post()
    assert plan(record(old, old.model_copy(update={"updated_at": NOW})), NOW, LEAD) == []


def test_cancel_deletes_the_schedule_and_leaves_the_queue() -> None:
    old = post()
    new = post(status=PostStatus.CANCELLED, version=2)
    assert plan(record(old, new), NOW, LEAD) == [DeleteSchedule("p1"), DropFromQueue("u1", "p1")]


def test_claim_only_leaves_the_queue_the_fired_schedule_deletes_itself() -> None:
    old = post()
    new = post(status=PostStatus.PUBLISHING, claimed_by="exec")
    assert plan(record(old, new), NOW, LEAD) == [DropFromQueue("u1", "p1")]


def test_removed_scheduled_post_deletes_the_schedule() -> None:
    assert plan(record(post(), None), NOW, LEAD) == [DeleteSchedule("p1"), DropFromQueue("u1", "p1")]


def test_updates_while_publishing_do_nothing() -> None:
    a = post(status=PostStatus.PUBLISHING)
    b = post(status=PostStatus.PUBLISHED)
    assert plan(record(a, b), NOW, LEAD) == []


def test_a_post_due_too_soon_for_a_schedule_starts_at_once() -> None:
    soon = post(scheduled_time=NOW + timedelta(seconds=30))
    assert plan(record(None, soon), NOW, LEAD) == [StartNow(soon)]
    moved = post(scheduled_time=NOW + timedelta(seconds=30), version=2)
    assert plan(record(post(), moved), NOW, LEAD) == [StartNow(moved), DeleteSchedule("p1")]


def test_other_entities_are_not_post_records() -> None:
    other = {"dynamodb": {"NewImage": {"EntityType": {"S": "PublishLedger"}}}}
    assert not is_post_record(other)
    assert plan(other, NOW, LEAD) == []
    assert is_post_record(record(None, post()))


def test_schedule_fires_a_lead_early_to_the_second() -> None:
    due = datetime(2026, 3, 2, 14, 30, 15, 750_000, tzinfo=UTC)
    assert schedule_time(due, 120) == datetime(2026, 3, 2, 14, 28, 15, tzinfo=UTC)


def test_execution_wakes_before_the_due_second_and_carries_the_exact_time() -> None:
    due = datetime(2026, 3, 2, 14, 30, 15, 750_000, tzinfo=UTC)
    payload = execution_input("u1", "p1", 3, due, 2)
    assert payload == {
        "userId": "u1",
        "postId": "p1",
        "version": 3,
        "dueAt": "2026-03-02T14:30:15.750Z",
        "wakeAt": "2026-03-02T14:30:13Z",
        "attempt": 1,
    }
