"""Recording activities: every rule of a bad item answered with its code and index, idempotency keys
that store an activity once, the per-user daily limit, the listing and the retry of a failed one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from activity_fakes import activity, activity_world
from integration_fakes import NOW, USER

from tidings.core.errors import Conflict, NotFound, TooManyRequests, ValidationFailed
from tidings.crm.activities import ActivityLog, ActivityRequest, activity_id_for
from tidings.models.crm import ActivityStatus
from tidings.models.integrations import Status


def _refused(call: Any) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"type": "fax_sent"}, "invalid_activity_type", "type"),
        ({"client_id": "  "}, "invalid_client_id", "clientId"),
        ({"description": " \n "}, "empty_description", "description"),
        ({"description": "x" * 10_001}, "description_too_long", "description"),
        ({"metadata": {"notes": "é" * 4_100}}, "metadata_too_large", "metadata"),
        ({"metadata": {"when": datetime(2026, 1, 1, tzinfo=UTC)}}, "invalid_metadata", "metadata"),
        ({"metadata": {"ratio": float("nan")}}, "invalid_metadata", "metadata"),
        ({"metadata": ["not", "an", "object"]}, "invalid_metadata", "metadata"),
        ({"timestamp": datetime(2026, 8, 3, 8, 30)}, "time_without_offset", "timestamp"),
        ({"timestamp": NOW + timedelta(days=1, minutes=1)}, "timestamp_in_future", "timestamp"),
        ({"timestamp": datetime(1969, 12, 31, tzinfo=UTC)}, "invalid_timestamp", "timestamp"),
    ],
)
def test_a_bad_item_is_refused_naming_its_index_and_nothing_is_stored(
    changes: dict[str, Any], code: str, field: str
) -> None:
    world = activity_world()
    batch = [activity(1), activity(2), activity(3, **changes)]

    error = _refused(lambda: world.record(*batch))

    assert (error.code, error.status) == (code, 422)
    assert (error.details["index"], error.details["field"]) == (2, field)
    assert world.log.list(USER) == ([], None)


def test_what_is_accepted_at_the_limits_is_stored_as_given_in_utc() -> None:
    world = activity_world()
    ahead = NOW + timedelta(hours=23)
    local = datetime(2026, 8, 3, 4, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-4)))
    metadata = {"rooms": 3, "price": 450000.5, "tags": ["open house"], "nested": {"ok": None}}

    first, second = world.record(
        activity(1, description="x" * 10_000, timestamp=local, metadata=metadata),
        activity(2, kind="custom", timestamp=ahead, metadata={"notes": "a" * 8_180}),
    )

    assert first.activity.timestamp == datetime(2026, 8, 3, 8, 30, 15, 123000, tzinfo=UTC)
    assert world.stored(first).activity.metadata == metadata
    assert world.stored(second).activity.type == "custom"
    assert (first.status, first.next_attempt_at, first.attempts) == (ActivityStatus.PENDING, NOW, 0)


def test_a_call_takes_one_to_a_hundred_activities_for_a_crm_that_is_not_disconnected() -> None:
    world = activity_world()

    none = _refused(lambda: world.log.record(USER, world.integration, []))
    many = _refused(lambda: world.record(*(activity(n) for n in range(101))))
    not_crm = _refused(
        lambda: world.log.record(
            USER, replace(world.integration, type="analytics"), [ActivityRequest(activity())]
        )
    )
    off = replace(world.integration, status=Status.DISCONNECTED)
    disconnected = _refused(lambda: world.log.record(USER, off, [ActivityRequest(activity())]))
    bad_key = _refused(
        lambda: world.log.record(USER, world.integration, [ActivityRequest(activity(), "k" * 256)])
    )

    assert [e.code for e in (none, many, not_crm, disconnected, bad_key)] == [
        "no_activities",
        "too_many_activities",
        "integration_not_crm",
        "integration_disconnected",
        "invalid_idempotency_key",
    ]
    with pytest.raises(NotFound):
        world.log.record("someone-else", world.integration, [ActivityRequest(activity())])
    assert len(world.record(*(activity(n) for n in range(100)))) == 100


def test_the_same_request_sent_twice_stores_each_activity_once_and_answers_the_same_ids() -> None:
    world = activity_world()
    requests = [ActivityRequest(activity(n), f"visit-{n}") for n in range(3)]

    first = world.log.record(USER, world.integration, requests)
    again = world.log.record(USER, world.integration, requests)

    assert [r.created for r in first] == [True, True, True]
    assert [r.created for r in again] == [False, False, False]
    assert [r.activity.activity_id for r in again] == [r.activity.activity_id for r in first]
    assert first[0].activity.activity_id == activity_id_for(USER, "visit-0")
    assert activity_id_for("another-user", "visit-0") != activity_id_for(USER, "visit-0")
    assert len(world.log.list(USER)[0]) == 3
    assert world.repo.counted(USER, "2026-08-03") == 3  # the repeat did not count


def test_a_key_used_again_for_another_activity_is_refused_and_a_repeat_within_a_call_stored_once() -> None:
    world = activity_world()
    world.log.record(USER, world.integration, [ActivityRequest(activity(1), "call-7")])

    with pytest.raises(Conflict) as caught:
        world.log.record(
            USER,
            world.integration,
            [
                ActivityRequest(activity(2), "fresh"),
                ActivityRequest(activity(1, description="other"), "call-7"),
            ],
        )
    assert (caught.value.code, caught.value.details["index"]) == ("idempotency_key_reused", 1)
    assert len(world.log.list(USER)[0]) == 1  # nothing of the refused call was stored

    twice = world.log.record(USER, world.integration, [ActivityRequest(activity(5), "dup")] * 2)
    assert [r.created for r in twice] == [True, False]
    assert twice[0].activity == twice[1].activity

    unkeyed = world.record(activity(9), activity(9))
    assert unkeyed[0].activity_id != unkeyed[1].activity_id


def test_a_user_records_at_most_the_daily_limit_and_a_repeat_is_still_answered_at_the_limit() -> None:
    world = activity_world()
    log = ActivityLog(world.repo, world.clock, daily_limit=5)
    keyed = [ActivityRequest(activity(n), f"k-{n}") for n in range(3)]
    log.record(USER, world.integration, keyed)
    log.record(USER, world.integration, [ActivityRequest(activity(7)), ActivityRequest(activity(8))])

    with pytest.raises(TooManyRequests) as caught:
        log.record(USER, world.integration, [ActivityRequest(activity(9))])

    assert caught.value.code == "activity_limit_reached"
    assert caught.value.details == {"limit": 5, "recordedToday": 5, "retryAfterSeconds": 15 * 3600}
    assert [r.created for r in log.record(USER, world.integration, keyed)] == [False] * 3
    assert len(log.list(USER)[0]) == 5
    log.record("another-agent", replace(world.integration, user_id="another-agent"), keyed)  # own count

    world.clock.set(datetime(2026, 8, 4, 0, 0, tzinfo=UTC))
    assert log.record(USER, world.integration, [ActivityRequest(activity(9))])[0].created


def test_the_listing_is_newest_first_filtered_by_status_and_paged_with_a_cursor() -> None:
    world = activity_world()
    made = []
    for n in range(5):
        made += world.record(activity(n, client="c-404" if n % 2 else "c-1"))
        world.clock.advance(timedelta(seconds=1))
    world.stream(*made)  # c-404 does not exist: those fail

    page, cursor = world.log.list(USER, limit=2)
    rest, end = world.log.list(USER, limit=2, cursor=cursor)
    last, none = world.log.list(USER, limit=2, cursor=end)
    failed, _ = world.log.list(USER, status="failed")

    newest_first = [a.activity_id for a in reversed(made)]
    assert [a.activity_id for a in page + rest + last] == newest_first
    assert none is None
    assert [a.activity_id for a in failed] == [made[3].activity_id, made[1].activity_id]
    assert {a.last_error_code for a in failed} == {"not_found"}
    assert [a.activity_id for a in world.log.list(USER, status="synced")[0]] == newest_first[::2]
    assert world.log.list("someone-else") == ([], None)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"status": "lost"}, "invalid_status"),
        ({"limit": 0}, "invalid_limit"),
        ({"limit": 101}, "invalid_limit"),
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
    ],
)
def test_bad_listing_parameters_are_refused(kwargs: dict[str, Any], code: str) -> None:
    world = activity_world()
    assert _refused(lambda: world.log.list(USER, **kwargs)).code == code


def test_a_cursor_from_another_users_listing_is_refused() -> None:
    world = activity_world()
    world.record(activity(1), activity(2))
    _, cursor = world.log.list(USER, limit=1)

    assert _refused(lambda: world.log.list("someone-else", cursor=cursor)).code == "invalid_cursor"


def test_get_and_retry_answer_only_the_users_own_activities_and_retry_only_failed_ones() -> None:
    world = activity_world()
    ok, bad = world.record(activity(1), activity(2, client="c-404"))
    world.stream(ok, bad)

    with pytest.raises(NotFound) as missing:
        world.log.get("someone-else", ok.activity_id)
    assert missing.value.code == "activity_not_found"
    with pytest.raises(Conflict) as not_failed:
        world.log.retry(USER, ok.activity_id)
    assert (not_failed.value.code, not_failed.value.details["status"]) == ("activity_not_failed", "synced")

    world.clock.advance(timedelta(days=9))
    retried = world.log.retry(USER, bad.activity_id)

    assert (retried.status, retried.attempts, retried.retried_at) == (
        ActivityStatus.PENDING,
        0,
        world.clock.now(),
    )
    assert retried.next_attempt_at == world.clock.now()
    assert retried.last_error_code == "not_found"  # what happened last, until the next attempt
    assert world.log.get(USER, bad.activity_id) == retried
    with pytest.raises(Conflict):
        world.log.retry(USER, bad.activity_id)
