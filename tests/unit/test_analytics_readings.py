"""The readings of a period on records with a known answer: the summary's period rule, collected and
imported records alike, posts not measured left out, the platform filter, pages that follow one
another to the end, and every bad input refused with its code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from insight_data import NOW, record

from tidings.analytics.readings import MAX_PAGE, Period, parse_period, reading, readings_page
from tidings.analytics.summary import summarize
from tidings.core.errors import ValidationFailed
from tidings.core.platforms import Platform
from tidings.models.post_analytics import AnalyticsSource, PostAnalytics, PostMetrics
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository

DAY = timedelta(days=1)
WEEK = Period(NOW - 7 * DAY, NOW)


def records() -> list[PostAnalytics]:
    return [
        record("a", NOW - DAY, 0.05, content_type="video"),
        record("b", NOW - 2 * DAY, 0.01, platform=Platform.INSTAGRAM),
        record("c", NOW - 3 * DAY, measured=False),  # tracked, nothing read yet: no reading
        record("d", NOW - 4 * DAY, content_type="video", platform=Platform.TIKTOK).model_copy(
            update={"latest": PostMetrics(views=2000, likes=100, comments=20, shares=10)}
        ),
        # imported from a CSV: a reading like any other
        record("imp_1", NOW - 5 * DAY, 0.03, platform=Platform.LINKEDIN, content_type="text").model_copy(
            update={"source": AnalyticsSource.IMPORTED}
        ),
        record("e", NOW - 7 * DAY, 0.02),  # the period's first instant: in it
        record("f", NOW, 0.02),  # its end: not in it
        record("g", NOW - 10 * DAY, 0.02),
        record("other", NOW - DAY, 0.02, user_id="u2"),
    ]


@pytest.fixture
def repo() -> InMemoryPostAnalyticsRepository:
    repo = InMemoryPostAnalyticsRepository()
    for r in records():
        repo.track(r)
    return repo


def test_the_measured_posts_of_the_period_collected_and_imported(
    repo: InMemoryPostAnalyticsRepository,
) -> None:
    page = readings_page(repo, "u1", WEEK)

    assert page.next_token is None
    assert (page.period, page.platform) == (WEEK, None)
    assert sorted(r.post_id for r in page.readings) == ["a", "b", "d", "e", "imp_1"]
    by_id = {r.post_id: r for r in page.readings}
    assert by_id["imp_1"].source == "imported"
    assert by_id["a"].source == "collected"
    a = by_id["a"]
    assert (a.platform, a.published_at, a.content_type) == ("facebook", NOW - DAY, "video")
    assert (a.engagements, a.reach, a.views, a.audience, a.engagement_rate) == (
        500,
        10_000,
        None,
        10_000,
        0.05,
    )
    # TikTok reports views and no reach: the audience is the views
    d = by_id["d"]
    assert (d.engagements, d.reach, d.views, d.audience) == (130, None, 2000, 2000)
    assert d.engagement_rate == pytest.approx(0.065)


def test_the_same_posts_as_the_summary_of_the_period(repo: InMemoryPostAnalyticsRepository) -> None:
    summary = summarize(repo.for_user("u1"), NOW, "7d")

    page = readings_page(repo, "u1", Period(summary.start, summary.end))

    assert len(page.readings) == summary.overall.current.measured
    assert sum(r.engagements for r in page.readings) == summary.overall.current.engagements
    assert sum(r.audience or 0 for r in page.readings) == summary.overall.current.audience


def test_one_platform(repo: InMemoryPostAnalyticsRepository) -> None:
    page = readings_page(repo, "u1", WEEK, "Instagram")

    assert page.platform == "instagram"
    assert [r.post_id for r in page.readings] == ["b"]


def test_pages_follow_one_another_to_the_end(repo: InMemoryPostAnalyticsRepository) -> None:
    seen: list[str] = []
    token: str | None = None
    for _ in range(10):
        page = readings_page(repo, "u1", WEEK, limit=2, next_token=token)
        assert len(page.readings) <= 2
        seen += [r.post_id for r in page.readings]
        token = page.next_token
        if token is None:
            break

    assert sorted(seen) == ["a", "b", "d", "e", "imp_1"]
    assert len(seen) == len(set(seen))


def test_a_page_reads_a_bounded_number_of_records_and_says_where_to_go_on() -> None:
    repo = InMemoryPostAnalyticsRepository(page_read_cap=3)
    for n in range(7):
        repo.track(record(f"p{n}", NOW - (20 if n % 2 else 1) * DAY))  # p1, p3, p5 outside the week

    pages = []
    token: str | None = None
    while True:
        page = readings_page(repo, "u1", WEEK, limit=100, next_token=token)
        pages.append([r.post_id for r in page.readings])
        token = page.next_token
        if token is None:
            break

    assert pages == [["p0", "p2"], ["p4"], ["p6"]]  # three records read a page: p0-p2, p3-p5, p6


def test_another_users_token_or_another_lists_is_refused(repo: InMemoryPostAnalyticsRepository) -> None:
    token = readings_page(repo, "u1", WEEK, limit=1).next_token
    assert token is not None

    for user, platform, given in (("u2", None, token), ("u1", "facebook", token), ("u1", None, "garbage")):
        with pytest.raises(ValidationFailed) as refused:
            readings_page(repo, user, WEEK, platform, next_token=given)
        assert refused.value.code == "invalid_next_token"
        assert refused.value.details == {"field": "nextToken"}


@pytest.mark.parametrize(
    ("platform", "limit", "code"),
    [
        ("myspace", None, "invalid_platform"),
        (None, 0, "invalid_limit"),
        (None, MAX_PAGE + 1, "invalid_limit"),
    ],
)
def test_a_bad_platform_or_limit_is_refused(
    repo: InMemoryPostAnalyticsRepository, platform: str | None, limit: int | None, code: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        readings_page(repo, "u1", WEEK, platform, limit)
    assert refused.value.code == code


def test_the_period_defaults_to_the_summarys_default_range_ending_now() -> None:
    assert parse_period(None, None, NOW) == Period(NOW - 30 * DAY, NOW)
    assert parse_period("2026-06-01T00:00:00Z", None, NOW) == Period(datetime(2026, 6, 1, tzinfo=UTC), NOW)
    assert parse_period(None, "2026-06-01T00:00:00Z", NOW) == Period(
        datetime(2026, 5, 2, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    )


def test_a_period_is_read_in_utc_from_any_offset() -> None:
    period = parse_period("2026-06-01T09:00:00-04:00", "2026-06-02T00:00:00+02:00", NOW)

    assert (period.start.isoformat(), period.end.isoformat()) == (
        "2026-06-01T13:00:00+00:00",
        "2026-06-01T22:00:00+00:00",
    )


@pytest.mark.parametrize(
    ("start", "end", "code", "field"),
    [
        ("yesterday", None, "invalid_time", "from"),
        (None, "2026-13-01T00:00:00Z", "invalid_time", "to"),
        ("2026-06-01T00:00:00", None, "invalid_time", "from"),  # no offset
        ("2026-06-01T00:00:00 02:00", None, "invalid_time", "from"),  # a + sent unencoded
        ("2026-06-02T00:00:00Z", "2026-06-01T00:00:00Z", "invalid_period", None),
        ("2026-06-01T00:00:00Z", "2026-06-01T00:00:00Z", "invalid_period", None),
        ("2026-03-01T00:00:00Z", "2026-06-01T00:00:00Z", "period_too_long", "from"),
        ("2026-03-01T00:00:00Z", None, "period_too_long", "from"),
    ],
)
def test_a_bad_period_is_refused(start: str | None, end: str | None, code: str, field: str | None) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_period(start, end, NOW)

    assert refused.value.code == code
    assert refused.value.details.get("field") == field
    if start and " " in start:
        assert "%2B" in refused.value.message
    if code == "period_too_long":
        assert refused.value.details["maxDays"] == 90


def test_ninety_days_is_the_longest_period() -> None:
    assert parse_period("2026-03-01T00:00:00Z", "2026-05-30T00:00:00Z", NOW).end.day == 30


def test_a_record_not_measured_is_no_reading() -> None:
    with pytest.raises(ValueError, match="no reading"):
        reading(record("c", NOW, measured=False))
