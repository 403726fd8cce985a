"""The in-memory post analytics repository keeps the DynamoDB one's contract: one record per post and
platform, version-conditional saves, the due index holding active collections only, and imports that
never replace collected metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.core.platforms import Platform
from tidings.models.post_analytics import (
    AnalyticsSource,
    CollectionStatus,
    MetricSnapshot,
    PostAnalytics,
    PostMetrics,
    SiteAttribution,
)
from tidings.store.analytics import DynamoAnalyticsRepository
from tidings.store.memory.analytics import InMemoryAnalyticsRepository
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository
from tidings.store.post_analytics import DynamoPostAnalyticsRepository, PostAnalyticsRepository

NOW = datetime(2026, 7, 1, 12, 0, 0, 250_000, tzinfo=UTC)

table = contract_table


@pytest.fixture
def repo(table: Table | None) -> PostAnalyticsRepository:
    if table is None:
        return InMemoryPostAnalyticsRepository()
    return DynamoPostAnalyticsRepository(table.name, table.client)


@pytest.fixture
def user() -> str:
    return user_id()


def record(
    user: str, post_id: str, platform: Platform = Platform.TWITTER, **changes: object
) -> PostAnalytics:
    base = PostAnalytics(
        user_id=user,
        post_id=post_id,
        platform=platform,
        platform_post_id=f"x-{post_id}",
        published_at=NOW,
        content_type="photo",
        next_collection_at=NOW + timedelta(hours=1),
    )
    return base.model_copy(update=changes)


def test_a_post_is_tracked_once_per_platform(repo: PostAnalyticsRepository, user: str) -> None:
    assert repo.track(record(user, "p1")) is True
    assert repo.track(record(user, "p1", next_collection_at=NOW)) is False
    assert repo.track(record(user, "p1", Platform.YOUTUBE)) is True

    stored = repo.get(user, Platform.TWITTER, "p1")
    assert stored == record(user, "p1")
    assert [r.platform for r in repo.for_post(user, "p1")] == [Platform.TWITTER, Platform.YOUTUBE]
    assert repo.for_post(user_id(), "p1") == []


def test_saves_are_conditional_on_the_version_and_keep_history_and_site(
    repo: PostAnalyticsRepository, user: str
) -> None:
    repo.track(record(user, "p1"))
    read = repo.get(user, Platform.TWITTER, "p1")
    assert read is not None
    metrics = PostMetrics(views=120, likes=7, comments=1)
    changed = read.model_copy(
        update={
            "latest": metrics,
            "collected_at": NOW,
            "history": [MetricSnapshot(at=NOW, metrics=metrics)],
            "site": SiteAttribution(sessions=4, conversions=1.0, updated_at=NOW),
        }
    )

    saved = repo.save(changed)

    assert saved.version == 2
    assert repo.get(user, Platform.TWITTER, "p1") == saved
    assert outcome(lambda: repo.save(changed)) == "StaleAnalytics"  # written from an old read
    assert outcome(lambda: repo.save(record(user, "never-tracked"))) == "StaleAnalytics"


def test_only_active_collections_are_due_and_in_time_order(repo: PostAnalyticsRepository) -> None:
    user = user_id()
    repo.track(record(user, "late", next_collection_at=NOW + timedelta(hours=2)))
    repo.track(record(user, "soon", next_collection_at=NOW + timedelta(minutes=30)))
    repo.track(record(user, "done", status=CollectionStatus.COMPLETE, next_collection_at=None))
    repo.track(record(user, "stopped", status=CollectionStatus.STOPPED, stop_reason="post_deleted"))

    due_soon = [r.post_id for r in repo.due(NOW + timedelta(hours=1)) if r.user_id == user]
    due_all = {r.post_id for r in repo.due(NOW + timedelta(days=1)) if r.user_id == user}

    assert due_soon == ["soon"]
    assert due_all == {"soon", "late", "stopped"} - {"stopped"}
    finished = repo.get(user, Platform.TWITTER, "soon")
    assert finished is not None
    repo.save(finished.model_copy(update={"status": CollectionStatus.COMPLETE, "next_collection_at": None}))
    assert [r.post_id for r in repo.due(NOW + timedelta(days=1)) if r.user_id == user] == ["late"]


def test_imports_replace_imports_but_never_collected_metrics(
    repo: PostAnalyticsRepository, user: str
) -> None:
    repo.track(record(user, "collected"))
    imported = [
        record(
            user,
            name,
            source=AnalyticsSource.IMPORTED,
            status=CollectionStatus.COMPLETE,
            next_collection_at=None,
        )
        for name in ("collected", "old-1", "old-2")
    ]

    assert repo.put_imported(imported) == 2
    assert repo.put_imported(imported) == 2  # a second import of the same rows replaces them
    kept = repo.get(user, Platform.TWITTER, "collected")
    assert kept is not None
    assert kept.source == AnalyticsSource.COLLECTED
    assert {r.post_id for r in repo.for_user(user)} == {"collected", "old-1", "old-2"}
    assert {r.post_id for r in repo.for_user(user, Platform.YOUTUBE)} == set()


def test_only_measured_posts_are_samples_for_the_best_time(
    repo: PostAnalyticsRepository, table: Table | None
) -> None:
    user = user_id()
    repo.track(record(user, "unmeasured"))
    measured = record(user, "measured", latest=PostMetrics(reach=200, likes=9, shares=1))
    repo.track(measured)
    samples_repo = (
        InMemoryAnalyticsRepository()
        if table is None
        else DynamoAnalyticsRepository(table.name, table.client)
    )
    if table is None:  # the in-memory samples read what the in-memory records hold
        pytest.skip("samples and records share storage only in the table")

    samples = samples_repo.samples(user, Platform.TWITTER)

    assert [(s.engagement, s.reach) for s in samples] == [(10.0, 200.0)]
