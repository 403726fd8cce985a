"""The analytics function and routes' use-cases: published posts from the stream start collection,
periodic runs collect and refresh insights, a user reads a post's analytics and syncs on demand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from analytics_fakes import PUBLISHED, USER, ScriptedReader, account, published_post

from tidings.analytics.collection import MetricsCollection
from tidings.analytics.service import SYNCS_PER_HOUR, AnalyticsSync, PostAnalyticsService
from tidings.core.clock import FakeClock
from tidings.core.errors import NotFound, TooManyRequests
from tidings.core.platforms import Platform
from tidings.core.triggers import PeriodicRun, StreamBatch
from tidings.models.posts import PostStatus
from tidings.store.dynamo import serialize
from tidings.store.memory.budgets import InMemoryBudgetRepository
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository
from tidings.store.memory.posts import InMemoryPostRepository
from tidings.store.posts import post_to_item


def stream_record(old: Any, new: Any, seq: int = 1) -> dict[str, Any]:
    images: dict[str, Any] = {"SequenceNumber": f"{seq:05d}"}
    if old is not None:
        images["OldImage"] = serialize(post_to_item(old, 8))
    if new is not None:
        images["NewImage"] = serialize(post_to_item(new, 8))
    return {"eventName": "MODIFY", "dynamodb": images}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(PUBLISHED)


@pytest.fixture
def records() -> InMemoryPostAnalyticsRepository:
    return InMemoryPostAnalyticsRepository()


def test_a_post_reaching_published_in_the_stream_starts_collection_once(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    sync = AnalyticsSync(MetricsCollection(records, {}, account, clock=clock))
    published = published_post("p1", Platform.TWITTER, Platform.LINKEDIN)
    publishing = published.model_copy(update={"status": PostStatus.PUBLISHING, "results": {}})

    answer = sync.handle(StreamBatch.model_validate({"Records": [stream_record(publishing, published)]}))
    sync.handle(
        StreamBatch.model_validate({"Records": [stream_record(published, published, 2)]})
    )  # no change

    assert answer == {"batchItemFailures": []}
    assert {r.platform for r in records.for_user(USER)} == {Platform.TWITTER, Platform.LINKEDIN}


def test_posts_that_are_not_published_start_nothing(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    sync = AnalyticsSync(MetricsCollection(records, {}, account, clock=clock))
    failed = published_post("p1", Platform.TWITTER).model_copy(update={"status": PostStatus.FAILED})
    scheduled = failed.model_copy(update={"status": PostStatus.SCHEDULED})

    sync.handle(StreamBatch.model_validate({"Records": [stream_record(scheduled, failed)]}))

    assert list(records.for_user(USER)) == []


def test_a_periodic_run_collects_and_refreshes_the_insights_of_the_users_it_touched(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    refreshed: list[set[str]] = []
    collection = MetricsCollection(
        records, {Platform.TWITTER: ScriptedReader(Platform.TWITTER)}, account, clock=clock
    )
    sync = AnalyticsSync(collection, after_collection=lambda users: refreshed.append(users) or 3)
    collection.track_published(published_post("p1", Platform.TWITTER))

    quiet = sync.handle(PeriodicRun(source="tidings.periodic", schedule="analytics-collection"))
    clock.advance(timedelta(hours=1, minutes=1))
    busy = sync.handle(PeriodicRun(source="tidings.periodic", schedule="analytics-collection"))

    assert "insightsGenerated" not in quiet  # nothing changed: no insight work
    assert busy["collected"] == 1
    assert busy["insightsGenerated"] == 3
    assert refreshed == [{USER}]


def service(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock, posts: InMemoryPostRepository | None = None
) -> PostAnalyticsService:
    collection = MetricsCollection(
        records, {Platform.TWITTER: ScriptedReader(Platform.TWITTER)}, account, clock=clock
    )
    return PostAnalyticsService(
        records,
        posts or InMemoryPostRepository(),
        collection,
        budgets=InMemoryBudgetRepository(),
        site_sync=lambda user: 2,
        insights=lambda users: 1,
        clock=clock,
    )


def test_a_post_reads_with_its_platforms_and_another_users_post_is_not_found(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    posts = InMemoryPostRepository()
    post = published_post("p1", Platform.TWITTER)
    posts.put_new(post)
    analytics = service(records, clock, posts)
    analytics.collection.track_published(post)

    status, found = analytics.for_post(USER, "p1")

    assert status == "published"
    assert [r.platform for r in found] == [Platform.TWITTER]
    with pytest.raises(NotFound):
        analytics.for_post("someone-else", "p1")
    with pytest.raises(NotFound):
        analytics.for_post(USER, "no-such-post")


def test_a_sync_collects_now_and_counts_what_it_did(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    analytics = service(records, clock)
    analytics.collection.track_published(published_post("p1", Platform.TWITTER))

    outcome = analytics.sync(USER)

    assert outcome.report.collected == 1
    assert outcome.contents_synced == 3  # one post's metrics, two posts' site attribution
    assert outcome.insights == 1


def test_syncs_on_demand_are_limited_per_user_per_hour(
    records: InMemoryPostAnalyticsRepository, clock: FakeClock
) -> None:
    analytics = service(records, clock)
    for _ in range(SYNCS_PER_HOUR):
        analytics.sync(USER)

    with pytest.raises(TooManyRequests) as refused:
        analytics.sync(USER)
    analytics.sync("another-user")  # each user has their own

    assert 0 < refused.value.details["retryAfterSeconds"] <= 3600
    clock.advance(timedelta(hours=1))
    analytics.sync(USER)
