"""The in-memory analytics repository keeps the DynamoDB one's contract: samples come back as they were
stored, one platform at a time, in the table's key order, up to the limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, user_id

from tidings.core.platforms import Platform
from tidings.models.analytics import EngagementSample
from tidings.store.analytics import DynamoAnalyticsRepository
from tidings.store.memory.analytics import InMemoryAnalyticsRepository

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
Repo = DynamoAnalyticsRepository | InMemoryAnalyticsRepository


table = contract_table


@pytest.fixture
def analytics(table: Table | None) -> Repo:
    if table is None:
        return InMemoryAnalyticsRepository()
    return DynamoAnalyticsRepository(table.name, table.client)


def sample(platform: Platform, hours: int, **fields: object) -> EngagementSample:
    return EngagementSample(platform, NOW - timedelta(hours=hours), **fields)  # type: ignore[arg-type]


def test_samples_come_back_per_platform_as_stored(analytics: Repo) -> None:
    user = user_id()
    stored = {
        "p1": sample(Platform.FACEBOOK, 5, engagement=12.5, reach=300.0, content_type="photo"),
        "p2": sample(Platform.FACEBOOK, 30, engagement=4.0),
    }
    for post_id, s in stored.items():
        analytics.put(user, post_id, s, {"likes": 3, "clicks": 1.5})
    analytics.put(user, "p3", sample(Platform.INSTAGRAM, 2, engagement=80.0), {})
    analytics.put(user_id(), "p4", sample(Platform.FACEBOOK, 1, engagement=1.0), {})

    assert analytics.samples(user, Platform.FACEBOOK) == list(stored.values())
    assert analytics.samples(user, Platform.INSTAGRAM) == [sample(Platform.INSTAGRAM, 2, engagement=80.0)]
    assert analytics.samples(user, Platform.TIKTOK) == []


def test_a_post_analysed_again_replaces_its_sample_and_the_limit_cuts_in_key_order(analytics: Repo) -> None:
    user = user_id()
    for post_id in ("c", "a", "b"):
        analytics.put(user, post_id, sample(Platform.LINKEDIN, 3, engagement=1.0), {})
    analytics.put(user, "a", sample(Platform.LINKEDIN, 3, engagement=9.0), {})

    assert [s.engagement for s in analytics.samples(user, Platform.LINKEDIN)] == [9.0, 1.0, 1.0]
    assert [s.engagement for s in analytics.samples(user, Platform.LINKEDIN, limit=1)] == [9.0]
