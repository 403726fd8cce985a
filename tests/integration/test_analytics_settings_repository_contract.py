"""The in-memory analytics settings and site metrics repositories keep the DynamoDB ones' contract:
defaults for a user who never changed anything, partial updates that leave the other setting alone,
and site metric days replaced whole and read by date range across properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.store.analytics_settings import (
    LANDING_PAGES_KEPT,
    AnalyticsSettingsRepository,
    DynamoAnalyticsSettingsRepository,
    DynamoSiteMetricsRepository,
    PageMetrics,
    SiteDay,
    SiteMetricsRepository,
)
from tidings.store.memory.analytics_settings import (
    InMemoryAnalyticsSettingsRepository,
    InMemorySiteMetricsRepository,
)

NOW = datetime(2026, 8, 3, 9, 0, 0, 125_000, tzinfo=UTC)

table = contract_table


@pytest.fixture
def settings(table: Table | None) -> AnalyticsSettingsRepository:
    if table is None:
        return InMemoryAnalyticsSettingsRepository()
    return DynamoAnalyticsSettingsRepository(table.name, table.client)


@pytest.fixture
def days(table: Table | None) -> SiteMetricsRepository:
    if table is None:
        return InMemorySiteMetricsRepository()
    return DynamoSiteMetricsRepository(table.name, table.client)


def test_a_user_who_never_changed_anything_reads_the_defaults(settings: AnalyticsSettingsRepository) -> None:
    found = settings.get(user_id())
    assert (found.utm_tagging, found.auto_generate_insights, found.updated_at) == (False, True, None)


def test_updates_change_only_the_settings_named(settings: AnalyticsSettingsRepository) -> None:
    user = user_id()

    first = settings.update(user, {"utm_tagging": True}, NOW)
    second = settings.update(user, {"auto_generate_insights": False}, NOW + timedelta(seconds=1))

    assert (first.utm_tagging, first.auto_generate_insights) == (True, True)
    assert (second.utm_tagging, second.auto_generate_insights) == (True, False)
    assert settings.get(user) == second
    assert second.updated_at == NOW + timedelta(seconds=1)
    assert settings.get(user_id()).utm_tagging is False  # another user's are their own
    assert outcome(lambda: settings.update(user, {"utmTagging": True}, NOW)) == "ValueError"


def day(n: int, property_id: str = "111", sessions: int = 10, pages: int = 2) -> SiteDay:
    return SiteDay(
        source="ga4",
        property_id=property_id,
        day=date(2026, 8, n),
        sessions=sessions,
        engaged_sessions=sessions // 2,
        key_events=1.5,
        revenue=None,
        landing_pages=tuple(PageMetrics(f"/p{i}", i, 0, 0.0, None) for i in reversed(range(pages))),
        synced_at=NOW,
    )


def test_days_are_replaced_whole_and_read_by_range_across_properties(days: SiteMetricsRepository) -> None:
    user = user_id()
    days.put_days(user, [day(1), day(2), day(3), day(2, "222")])
    days.put_days(user, [day(2, sessions=99)])  # Google revised the day

    found = days.days(user, "ga4", date(2026, 8, 2), date(2026, 8, 3))

    assert [(d.day.day, d.property_id, d.sessions) for d in found] == [
        (2, "111", 99),
        (2, "222", 10),
        (3, "111", 10),
    ]
    assert found[0] == day(2, sessions=99)
    assert days.days(user_id(), "ga4", date(2026, 8, 1), date(2026, 8, 31)) == []


def test_a_day_keeps_its_most_visited_landing_pages(days: SiteMetricsRepository) -> None:
    user = user_id()
    days.put_days(user, [day(5, pages=LANDING_PAGES_KEPT + 20)])

    (found,) = days.days(user, "ga4", date(2026, 8, 5), date(2026, 8, 5))

    assert len(found.landing_pages) == LANDING_PAGES_KEPT
    assert found.landing_pages[0].landing_page == f"/p{LANDING_PAGES_KEPT + 19}"


def test_many_days_are_written_in_batches(days: SiteMetricsRepository) -> None:
    user = user_id()
    many = [
        SiteDay("ga4", "111", date(2026, 1, 1) + timedelta(days=n), n, 0, 0.0, 3.0, (), NOW)
        for n in range(60)
    ]

    assert days.put_days(user, many) == 60
    assert len(days.days(user, "ga4", date(2026, 1, 1), date(2026, 12, 31))) == 60
