"""Metrics collection on the in-memory repositories with scripted platform readers and a fake clock:
the cadence, batching, budgets, and what stops a post's collection (with its reason)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from analytics_fakes import PUBLISHED, USER, ScriptedReader, account, published_post
from pydantic import ValidationError

from tidings.analytics.collection import DEFAULT_CADENCE, MAX_FAILURES, MetricsCollection
from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.models.post_analytics import CollectionStatus
from tidings.models.posts import PlatformResult, PlatformStatus
from tidings.store.budgets import Limit
from tidings.store.memory.budgets import InMemoryBudgetRepository
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(PUBLISHED)


@pytest.fixture
def records() -> InMemoryPostAnalyticsRepository:
    return InMemoryPostAnalyticsRepository()


def collection(
    records: InMemoryPostAnalyticsRepository,
    clock: FakeClock,
    *readers: ScriptedReader,
    budgets: InMemoryBudgetRepository | None = None,
    credentials=account,  # type: ignore[no-untyped-def]
) -> MetricsCollection:
    return MetricsCollection(records, {r.platform: r for r in readers}, credentials, budgets, clock)


def test_a_published_post_is_tracked_once_per_platform_with_its_first_point_an_hour_later(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    metrics = collection(records, clock, ScriptedReader(Platform.TWITTER))
    post = published_post("p1", Platform.TWITTER, Platform.YOUTUBE)

    started = metrics.track_published(post)
    again = metrics.track_published(post)

    assert {r.platform for r in started} == {Platform.TWITTER, Platform.YOUTUBE}
    assert again == []
    record = records.get(USER, Platform.TWITTER, "p1")
    assert record is not None
    assert record.next_collection_at == PUBLISHED + timedelta(hours=1)
    assert record.platform_post_id == "twitter-p1"


def test_a_platform_that_failed_is_not_tracked(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    post = published_post("p1", Platform.TWITTER)
    post.results[Platform.LINKEDIN] = PlatformResult(platform=Platform.LINKEDIN, status=PlatformStatus.FAILED)

    started = collection(records, clock).track_published(post)

    assert [r.platform for r in started] == [Platform.TWITTER]


def test_each_point_of_the_cadence_keeps_a_snapshot_until_collection_is_complete(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    reader = ScriptedReader(Platform.TWITTER)
    metrics = collection(records, clock, reader)
    metrics.track_published(published_post("p1", Platform.TWITTER))

    assert metrics.collect_due().collected == 0  # nothing is due at publishing time
    for offset in DEFAULT_CADENCE:
        clock.set(PUBLISHED + offset + timedelta(minutes=3))
        assert metrics.collect_due().collected == 1

    record = records.get(USER, Platform.TWITTER, "p1")
    assert record is not None
    assert record.status == CollectionStatus.COMPLETE
    assert len(record.history) == len(DEFAULT_CADENCE)
    assert [s.metrics.views for s in record.history] == [100, 200, 300, 400, 500, 600]  # a curve
    assert record.latest == record.history[-1].metrics
    assert records.due(clock.now() + timedelta(days=365)) == []  # out of the due index


def test_a_late_pass_takes_the_points_it_slept_through_in_one_read(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    reader = ScriptedReader(Platform.TWITTER)
    metrics = collection(records, clock, reader)
    metrics.track_published(published_post("p1", Platform.TWITTER))

    clock.set(PUBLISHED + timedelta(days=2))  # the 1 h, 6 h and 24 h points have all come
    metrics.collect_due()

    record = records.get(USER, Platform.TWITTER, "p1")
    assert record is not None
    assert len(reader.calls) == 1
    assert record.points_taken == 3
    assert record.next_collection_at == PUBLISHED + timedelta(days=3)


def test_reads_are_batched_up_to_what_the_platform_takes(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    reader = ScriptedReader(Platform.TIKTOK, max_ids=20)
    metrics = collection(records, clock, reader)
    for n in range(45):
        metrics.track_published(published_post(f"p{n}", Platform.TIKTOK))

    clock.advance(timedelta(hours=2))
    report = metrics.collect_due()

    assert report.collected == 45
    assert [len(c) for c in reader.calls] == [20, 20, 5]
    assert report.calls == 3


def test_a_deleted_post_stops_with_its_reason_and_the_others_go_on(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    reader = ScriptedReader(Platform.YOUTUBE, deleted={"youtube-gone"})
    metrics = collection(records, clock, reader)
    metrics.track_published(published_post("gone", Platform.YOUTUBE))
    metrics.track_published(published_post("kept", Platform.YOUTUBE))

    clock.advance(timedelta(hours=2))
    report = metrics.collect_due()

    gone, kept = records.get(USER, Platform.YOUTUBE, "gone"), records.get(USER, Platform.YOUTUBE, "kept")
    assert gone is not None
    assert kept is not None
    assert (gone.status, gone.stop_reason) == (CollectionStatus.STOPPED, "post_deleted")
    assert kept.status == CollectionStatus.ACTIVE
    assert kept.latest is not None
    assert report.stopped == {"post_deleted": 1}


def test_a_revoked_token_stops_the_accounts_collections_with_that_reason(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    refused = PlatformCallError(ErrorKind.AUTH_EXPIRED, "token_invalid", "the token was revoked", status=401)
    reader = ScriptedReader(Platform.INSTAGRAM, max_ids=1, fail_with=[refused])
    metrics = collection(records, clock, reader)
    metrics.track_published(published_post("a", Platform.INSTAGRAM))
    metrics.track_published(published_post("b", Platform.INSTAGRAM))

    clock.advance(timedelta(hours=2))
    metrics.collect_due()

    stopped = [records.get(USER, Platform.INSTAGRAM, p) for p in ("a", "b")]
    assert [r.stop_reason if r else None for r in stopped] == ["token_revoked", "token_revoked"]
    assert len(reader.calls) == 1  # the second post was not read with the refused token


def test_a_disconnected_account_stops_its_collections(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    metrics = collection(records, clock, ScriptedReader(Platform.LINKEDIN), credentials=lambda u, p: None)
    metrics.track_published(published_post("p1", Platform.LINKEDIN))

    clock.advance(timedelta(hours=2))
    metrics.collect_due()

    record = records.get(USER, Platform.LINKEDIN, "p1")
    assert record is not None
    assert record.stop_reason == "account_disconnected"


def test_a_throttled_read_waits_for_the_platform_without_counting_a_failure(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    throttled = PlatformCallError(ErrorKind.RATE_LIMITED, "rate_limited", "slow down", retry_after=600)
    reader = ScriptedReader(Platform.TWITTER, fail_with=[throttled])
    budgets = InMemoryBudgetRepository()
    metrics = collection(records, clock, reader, budgets=budgets)
    metrics.track_published(published_post("p1", Platform.TWITTER))

    clock.advance(timedelta(hours=2))
    first = metrics.collect_due()
    clock.advance(timedelta(minutes=5))
    during = metrics.collect_due()  # still held: no call at all
    clock.advance(timedelta(minutes=6))
    after = metrics.collect_due()

    assert (first.deferred, during.calls, after.collected) == (1, 0, 1)
    record = records.get(USER, Platform.TWITTER, "p1")
    assert record is not None
    assert record.failures == 0


def test_reads_stop_at_the_read_budget_and_resume_in_the_next_window(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    reader = ScriptedReader(Platform.INSTAGRAM, max_ids=1)
    budgets = InMemoryBudgetRepository()
    metrics = collection(records, clock, reader, budgets=budgets)
    for n in range(205):
        metrics.track_published(published_post(f"p{n}", Platform.INSTAGRAM))

    clock.advance(timedelta(hours=2))
    first = metrics.collect_due()
    clock.advance(timedelta(hours=1))
    second = metrics.collect_due()

    assert first.calls == 200  # Meta's planning figure: 200 calls an hour per user
    assert first.deferred == 5
    assert second.collected == 5
    assert budgets.usage_of(USER, "instagram:metrics", (Limit(200, 3600),), clock.now())[0][1] == 5


def test_a_read_that_keeps_failing_backs_off_then_stops_as_failing(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    broken = [PlatformCallError(ErrorKind.RETRYABLE, "server_error", "500") for _ in range(MAX_FAILURES)]
    reader = ScriptedReader(Platform.TIKTOK, fail_with=broken)
    metrics = collection(records, clock, reader)
    metrics.track_published(published_post("p1", Platform.TIKTOK))
    clock.advance(timedelta(hours=2))

    waits: list[timedelta] = []
    for _ in range(MAX_FAILURES):
        metrics.collect_due()
        record = records.get(USER, Platform.TIKTOK, "p1")
        assert record is not None
        if record.next_collection_at is not None:
            waits.append(record.next_collection_at - clock.now())
            clock.set(record.next_collection_at + timedelta(seconds=1))

    assert waits == [timedelta(minutes=15 * 2**n) for n in range(MAX_FAILURES - 1)]
    assert record.status == CollectionStatus.STOPPED
    assert record.stop_reason == "collection_failing"
    assert "server_error" in (record.last_error or "")


def test_collecting_now_reads_active_posts_before_their_point_without_taking_it(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    metrics = collection(records, clock, ScriptedReader(Platform.TWITTER))
    metrics.track_published(published_post("p1", Platform.TWITTER))
    clock.advance(timedelta(minutes=10))

    report = metrics.collect_for_user(USER)

    record = records.get(USER, Platform.TWITTER, "p1")
    assert report.collected == 1
    assert record is not None
    assert record.latest is not None
    assert record.points_taken == 0  # the 1 h point is still to come
    assert record.next_collection_at == PUBLISHED + timedelta(hours=1)


@pytest.mark.parametrize("value", ["3600,60", "0,60", ""])
def test_a_configured_cadence_must_be_rising_delays(value: str) -> None:
    with pytest.raises(ValidationError, match="cadence"):
        Settings.from_env({"TIDINGS_ANALYTICS_CADENCE": value})


def test_the_configured_cadence_is_read_in_seconds() -> None:
    assert Settings.from_env({"TIDINGS_ANALYTICS_CADENCE": "60, 600"}).analytics_cadence == [60, 600]
