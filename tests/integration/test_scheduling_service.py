"""The scheduling use-cases against DynamoDB Local: the queue rules hold under concurrency and every
write that races is conditional."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from local_aws import fresh_table

from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.errors import Conflict, NotFound, ValidationFailed
from tidings.core.platforms import Platform
from tidings.models.analytics import EngagementSample
from tidings.models.posts import PostStatus
from tidings.scheduling.service import NewPost, PostChanges, SchedulingService
from tidings.scheduling.sweeper import sweep
from tidings.store.analytics import DynamoAnalyticsRepository
from tidings.store.posts import DynamoPostRepository

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class RecordingStarter:
    def __init__(self) -> None:
        self.started: list[tuple[str, str, int]] = []

    def start(self, user_id: str, post_id: str, version: int, due_at: datetime) -> bool:
        key = (user_id, post_id, version)
        if key in self.started:
            return False
        self.started.append(key)
        return True


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def service(ddb_table: tuple[Any, str], clock: FakeClock) -> SchedulingService:
    client, table = ddb_table
    settings = Settings(table_name=table, max_queue_per_platform=3, min_gap_minutes=30)
    return SchedulingService(
        settings=settings,
        posts=DynamoPostRepository(table, client, due_shards=settings.due_shards),
        analytics=DynamoAnalyticsRepository(table, client),
        starter=RecordingStarter(),
        clock=clock,
        sleep=lambda _: None,
    )


@pytest.fixture
def user() -> str:
    return f"agent-{uuid.uuid4().hex[:8]}"


def at(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


def new(minutes: int, platforms: list[str] | None = None, content: str = "Open house Sunday") -> NewPost:
    return NewPost(content=content, platforms=platforms or ["facebook"], scheduled_time=at(minutes))


def test_scheduled_post_is_stored_and_listed_in_time_order(service: SchedulingService, user: str) -> None:
    late = service.schedule(user, new(300))
    early = service.schedule(user, new(60))
    page = service.list_posts(user, None, None, 50, None)
    assert [p.post_id for p in page.posts] == [early.post_id, late.post_id]
    stored = service.get(user, early.post_id)
    assert stored.status == PostStatus.SCHEDULED
    assert stored.version == 1
    assert stored.scheduled_time == at(60)


def test_list_filters_by_status_and_platform_and_pages(service: SchedulingService, user: str) -> None:
    a = service.schedule(user, new(60, ["facebook"]))
    b = service.schedule(user, new(120, ["twitter"]))
    c = service.schedule(user, new(180, ["twitter", "linkedin"]))
    service.cancel(user, c.post_id)
    assert [p.post_id for p in service.list_posts(user, None, "twitter", 50, None).posts] == [
        b.post_id,
        c.post_id,
    ]
    assert [p.post_id for p in service.list_posts(user, "scheduled", None, 50, None).posts] == [
        a.post_id,
        b.post_id,
    ]
    first = service.list_posts(user, None, None, 2, None)
    assert [p.post_id for p in first.posts] == [a.post_id, b.post_id]
    assert first.next_token is not None
    second = service.list_posts(user, None, None, 2, first.next_token)
    assert [p.post_id for p in second.posts] == [c.post_id]
    with pytest.raises(ValidationFailed) as info:
        service.list_posts(user, None, None, 2, "not-a-token")
    assert info.value.code == "invalid_next_token"


def test_queue_full_per_platform(service: SchedulingService, user: str) -> None:
    for i in range(3):
        service.schedule(user, new(60 * (i + 1), ["facebook"]))
    with pytest.raises(Conflict) as info:
        service.schedule(user, new(600))
    assert info.value.code == "queue_full"
    assert info.value.details["platform"] == "facebook"
    service.schedule(user, new(600, ["twitter"]))  # another platform's queue has room


def test_min_gap_names_the_conflicting_post(service: SchedulingService, user: str) -> None:
    first = service.schedule(user, new(60, ["facebook", "twitter"]))
    with pytest.raises(Conflict) as info:
        service.schedule(user, new(80, ["twitter"]))
    assert info.value.code == "min_delay_violated"
    assert info.value.details["conflictingPostId"] == first.post_id
    assert info.value.details["platform"] == "twitter"
    service.schedule(user, new(80, ["linkedin"]))  # no shared platform: fine
    service.schedule(user, new(90, ["twitter"]))  # exactly 30 minutes later: fine


def test_scheduled_posts_on_all_platforms_together_stop_at_the_users_quota_even_at_once(
    ddb_table: tuple[Any, str], clock: FakeClock, user: str
) -> None:
    service = _service_with(ddb_table, clock, quota_scheduled_posts=4, min_gap_minutes=0)
    platforms = ["facebook", "twitter", "linkedin"]
    barrier = threading.Barrier(9)
    outcomes: list[str] = []

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            service.schedule(user, new(60 + i, [platforms[i % 3]]))
            outcomes.append("ok")
        except Conflict as exc:
            outcomes.append(f"{exc.code} {exc.details}")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert outcomes.count("ok") == 4
    assert set(outcomes) - {"ok"} == {"quota_exceeded {'quota': 'scheduled_posts', 'limit': 4}"}
    posts = service.list_posts(user, "scheduled", None, 50, None).posts
    assert len(posts) == 4
    service.cancel(user, posts[0].post_id)
    service.posts.remove_queue_entries(user, [posts[0].post_id])  # what the stream does on a cancel
    service.schedule(user, new(300, ["facebook"]))


def test_concurrent_requests_cannot_both_pass_the_gap_rule(service: SchedulingService, user: str) -> None:
    results: list[object] = []
    barrier = threading.Barrier(6)

    def attempt(minute: int) -> None:
        barrier.wait()
        try:
            results.append(service.schedule(user, new(minute)))
        except Conflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=attempt, args=(100 + i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    created = [r for r in results if not isinstance(r, Exception)]
    assert len(created) == 1
    assert len(service.list_posts(user, "scheduled", None, 50, None).posts) == 1


def _service_with(ddb_table: tuple[Any, str], clock: FakeClock, **overrides: Any) -> SchedulingService:
    client, table = ddb_table
    settings = Settings(table_name=table, **overrides)
    return SchedulingService(
        settings=settings,
        posts=DynamoPostRepository(table, client, due_shards=settings.due_shards),
        analytics=DynamoAnalyticsRepository(table, client),
        starter=RecordingStarter(),
        clock=clock,
        sleep=lambda _: None,
    )


def test_batch_checks_each_item_against_the_queue_and_the_items_before_it(
    service: SchedulingService, user: str
) -> None:
    existing = service.schedule(user, new(60))
    results = service.schedule_batch(
        user,
        [
            new(70),  # too close to the existing post
            new(120),
            new(130),  # too close to the item before it in this batch
            new(130, platforms=["linkedin"]),  # another platform: no gap rule between them
            NewPost(content="", platforms=["facebook"], scheduled_time=at(400)),
        ],
    )
    assert isinstance(results[0], Conflict)
    assert results[0].code == "min_delay_violated"
    assert results[0].details["conflictingPostId"] == existing.post_id
    assert not isinstance(results[1], Exception)
    assert isinstance(results[2], Conflict)
    assert results[2].details["conflictingPostId"] == results[1].post_id
    assert not isinstance(results[3], Exception)
    assert isinstance(results[4], ValidationFailed)
    listed = {p.post_id for p in service.list_posts(user, "scheduled", None, 50, None).posts}
    assert listed == {existing.post_id, results[1].post_id, results[3].post_id}


def test_concurrent_large_batches_of_one_user_all_land(
    ddb_table: tuple[Any, str], clock: FakeClock, user: str
) -> None:
    service = _service_with(
        ddb_table, clock, max_queue_per_platform=1000, quota_scheduled_posts=1000, min_gap_minutes=0
    )
    results: list[list[Any]] = []
    barrier = threading.Barrier(3)

    def send(offset: int) -> None:
        barrier.wait()
        results.append(service.schedule_batch(user, [new(offset + i) for i in range(120)]))

    threads = [threading.Thread(target=send, args=(1000 * (k + 1),)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failures = [r for batch in results for r in batch if isinstance(r, Exception)]
    assert failures == []
    assert service.stats(user).total_scheduled == 360
    assert len(service.posts.queue(user).entries) == 360


def test_update_moves_the_post_and_bumps_the_version(service: SchedulingService, user: str) -> None:
    post = service.schedule(user, new(60))
    moved = service.update(user, post.post_id, PostChanges(scheduled_time=at(240), content="New text"))
    assert moved.version == 2
    stored = service.get(user, post.post_id)
    assert stored.scheduled_time == at(240)
    assert stored.content == "New text"
    # the old slot is free again
    service.schedule(user, new(60))


def test_update_checks_rules_and_state(service: SchedulingService, user: str) -> None:
    a = service.schedule(user, new(60))
    b = service.schedule(user, new(180))
    with pytest.raises(Conflict) as info:
        service.update(user, b.post_id, PostChanges(scheduled_time=at(70)))
    assert info.value.details["conflictingPostId"] == a.post_id
    with pytest.raises(ValidationFailed) as empty:
        service.update(user, b.post_id, PostChanges())
    assert empty.value.code == "empty_update"
    service.cancel(user, b.post_id)
    with pytest.raises(Conflict) as gone:
        service.update(user, b.post_id, PostChanges(content="x"))
    assert gone.value.code == "post_not_editable"


def test_cancel_is_final_and_frees_the_slot(service: SchedulingService, user: str) -> None:
    post = service.schedule(user, new(60))
    cancelled = service.cancel(user, post.post_id)
    assert cancelled.status == PostStatus.CANCELLED
    assert cancelled.version == 2
    with pytest.raises(Conflict) as again:
        service.cancel(user, post.post_id)
    assert again.value.code == "post_not_cancellable"
    service.schedule(user, new(60))


def test_another_users_post_is_not_found(service: SchedulingService, user: str) -> None:
    post = service.schedule(user, new(60))
    for action in (
        lambda: service.get("someone-else", post.post_id),
        lambda: service.cancel("someone-else", post.post_id),
        lambda: service.update("someone-else", post.post_id, PostChanges(content="x")),
    ):
        with pytest.raises(NotFound):
            action()
    assert service.get(user, post.post_id).status == PostStatus.SCHEDULED


def test_stats_count_by_platform_and_status(service: SchedulingService, user: str) -> None:
    service.schedule(user, new(90, ["facebook", "twitter"]))
    service.schedule(user, new(60, ["linkedin"]))
    c = service.schedule(user, new(200, ["facebook"]))
    service.cancel(user, c.post_id)
    stats = service.stats(user)
    assert stats.total_scheduled == 2
    assert stats.next_post_time == at(60)
    assert stats.by_platform["facebook"] == 1
    assert stats.by_platform["twitter"] == 1
    assert stats.by_platform["linkedin"] == 1
    assert stats.by_status["scheduled"] == 2
    assert stats.by_status["cancelled"] == 1


def test_without_a_time_the_optimal_slot_is_taken(
    service: SchedulingService, user: str, clock: FakeClock, ddb_table: tuple[Any, str]
) -> None:
    client, table = ddb_table
    analytics = DynamoAnalyticsRepository(table, client)
    # 40 posts: Tuesdays 18:00 UTC do far better than anything else
    for i in range(40):
        hour = 18 if i % 2 == 0 else 7
        when = datetime(2026, 1, 6, hour, tzinfo=UTC) + timedelta(weeks=i // 2)
        sample = EngagementSample(
            Platform.FACEBOOK, when, engagement=500.0 if hour == 18 else 20.0, reach=2000.0
        )
        analytics.put(user, f"hist-{i}", sample, {})
    post = service.schedule(user, NewPost(content="Market update", platforms=["facebook"]))
    assert post.optimized_time
    assert post.scheduled_time > clock.now()
    assert post.scheduled_time.astimezone(UTC).hour == 18
    assert post.scheduled_time.astimezone(UTC).weekday() == 1
    # a second one cannot take the same slot: it gets a neighbour that respects the gap
    second = service.schedule(user, NewPost(content="Another", platforms=["facebook"]))
    assert abs(second.scheduled_time - post.scheduled_time) >= timedelta(minutes=30)


def test_auto_optimise_off_requires_a_time(ddb_table: tuple[Any, str], clock: FakeClock, user: str) -> None:
    client, table = ddb_table
    settings = Settings(table_name=table, auto_optimize=False)
    svc = SchedulingService(
        settings,
        DynamoPostRepository(table, client),
        DynamoAnalyticsRepository(table, client),
        RecordingStarter(),
        clock,
    )
    with pytest.raises(ValidationFailed) as info:
        svc.schedule(user, NewPost(content="x", platforms=["facebook"]))
    assert info.value.code == "scheduled_time_required"


def test_default_platforms_apply(service: SchedulingService, user: str) -> None:
    post = service.schedule(
        user, NewPost(content="x", scheduled_time=at(60), media_urls=("https://cdn.example.com/a.jpg",))
    )
    assert post.platforms == [Platform.FACEBOOK, Platform.INSTAGRAM]


def test_sweeper_starts_overdue_unclaimed_posts_once(
    service: SchedulingService, user: str, clock: FakeClock, ddb_table: tuple[Any, str]
) -> None:
    client, table = ddb_table
    due = service.schedule(user, new(5))
    later = service.schedule(user, new(120))
    starter = RecordingStarter()
    repo = DynamoPostRepository(table, client)
    clock.set(at(10))
    report = sweep(repo, starter, clock, grace_seconds=90)
    assert (user, due.post_id, 1) in starter.started
    assert all(pid != later.post_id for _, pid, _ in starter.started)
    assert report.started >= 1
    again = sweep(repo, starter, clock, grace_seconds=90)
    assert again.started == 0
    assert starter.started.count((user, due.post_id, 1)) == 1


@pytest.fixture(scope="module")
def ddb_table(dynamodb_endpoint: str) -> Iterator[tuple[Any, str]]:
    with fresh_table(dynamodb_endpoint) as table:
        yield table


class _NoSchedules:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    def upsert(self, *args: Any) -> None:
        raise AssertionError("no schedule is made here")

    def delete(self, post_id: str) -> None:
        self.deleted.append(post_id)


def test_a_stream_batch_of_claims_leaves_the_queue_in_few_writes_and_keeps_the_schedules(
    ddb_table: tuple[Any, str], clock: FakeClock, user: str
) -> None:
    from tidings.core.streams import dispatch_batch
    from tidings.scheduling.schedule_keeper import PostScheduleKeeper
    from tidings.store.dynamo import serialize
    from tidings.store.posts import post_to_item

    client, table = ddb_table
    settings = Settings(table_name=table, max_queue_per_platform=500, min_gap_minutes=0)
    posts = DynamoPostRepository(table, client)
    service = SchedulingService(
        settings=settings,
        posts=posts,
        analytics=DynamoAnalyticsRepository(table, client),
        starter=RecordingStarter(),
        clock=clock,
        sleep=lambda _: None,
    )
    created = service.schedule_batch(user, [new(60 + i) for i in range(150)])
    stored = [p for p in created if not isinstance(p, Exception)]
    assert len(stored) == 150
    cancelled = stored[0].model_copy(update={"status": PostStatus.CANCELLED, "version": 2})
    records = [
        {
            "eventName": "MODIFY",
            "dynamodb": {
                "SequenceNumber": f"{i:021d}",
                "OldImage": serialize(post_to_item(p, 8)),
                "NewImage": serialize(
                    post_to_item(p.model_copy(update={"status": PostStatus.PUBLISHING, "claimed_by": "x"}), 8)
                    if i
                    else post_to_item(cancelled, 8)
                ),
            },
        }
        for i, p in enumerate(stored)
    ]
    schedules = _NoSchedules()
    writes: list[int] = []
    real = posts.remove_queue_entries
    posts.remove_queue_entries = lambda u, ids: (writes.append(len(ids)), real(u, ids))[1]  # type: ignore[method-assign]
    sync = PostScheduleKeeper(schedules, RecordingStarter(), posts, clock, 120)  # type: ignore[arg-type]

    assert dispatch_batch({"Records": records}, [sync]) == {"batchItemFailures": []}

    assert posts.queue(user).entries == {}
    assert writes == [150]  # one call per user per batch, written in chunks of 100
    assert schedules.deleted == [stored[0].post_id]  # only the cancelled post's schedule is deleted
