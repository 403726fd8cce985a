"""The analytics summary on records with a known answer: totals, the pooled engagement rate, changes
from the previous period, per platform and content type, top posts, and the platform filter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from insight_data import NOW, record

from tidings.analytics.summary import AnalyticsSummary, summarize
from tidings.core.clock import FakeClock
from tidings.core.errors import ValidationFailed
from tidings.core.platforms import Platform
from tidings.models.post_analytics import PostAnalytics, PostMetrics, SiteAttribution
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository

DAY = timedelta(days=1)


def records() -> list[PostAnalytics]:
    site = SiteAttribution(sessions=40, engaged_sessions=20, conversions=2.0, updated_at=NOW)
    return [
        # this week: 3 posts on facebook/instagram, one not measured yet
        record("a", NOW - DAY, 0.05, content_type="video").model_copy(update={"site": site}),
        record("b", NOW - 2 * DAY, 0.01, platform=Platform.INSTAGRAM, content_type="photo"),
        record("c", NOW - 3 * DAY, measured=False, content_type=None),
        # TikTok reports views and no reach: its audience is the views
        record("d", NOW - 4 * DAY, content_type="video", platform=Platform.TIKTOK).model_copy(
            update={"latest": PostMetrics(views=2000, likes=100, comments=20, shares=10)}
        ),
        # the week before: one post at 2 %
        record("e", NOW - 10 * DAY, 0.02, content_type="photo"),
        # older than both weeks: in neither
        record("f", NOW - 20 * DAY, 0.5),
    ]


def test_totals_rate_and_change_of_the_week() -> None:
    summary = summarize(records(), NOW, "7d")

    current, previous = summary.overall.current, summary.overall.previous
    assert (current.posts, current.measured, previous.posts) == (4, 3, 1)
    assert current.engagements == 500 + 100 + 130
    assert current.audience == 10_000 + 10_000 + 2000
    assert current.engagement_rate == pytest.approx(730 / 22_000, abs=1e-6)
    assert current.metrics["views"] == 2000
    assert current.metrics["likes"] == 700
    assert (current.site_sessions, current.conversions) == (40, 2.0)
    assert previous.engagement_rate == pytest.approx(0.02)
    assert summary.overall.change["engagements"] == pytest.approx(730 / 200 - 1, abs=1e-4)
    assert summary.overall.change["engagementRate"] == pytest.approx((730 / 22_000) / 0.02 - 1, abs=1e-4)
    assert summary.overall.change["posts"] == 3.0
    assert (summary.start, summary.end, summary.previous_start) == (NOW - 7 * DAY, NOW, NOW - 14 * DAY)


def test_per_platform_and_content_type_with_the_previous_period() -> None:
    summary = summarize(records(), NOW, "7d")

    assert set(summary.by_platform) == {"facebook", "instagram", "tiktok"}
    facebook = summary.by_platform["facebook"]
    assert (facebook.current.posts, facebook.previous.posts) == (2, 1)
    assert summary.by_platform["instagram"].change["engagements"] is None  # nothing the week before
    assert set(summary.by_content_type) == {"video", "photo", "unknown"}
    assert summary.by_content_type["video"].current.engagement_rate == pytest.approx(630 / 12_000, abs=1e-6)
    assert summary.by_content_type["photo"].change["engagementRate"] == pytest.approx(-0.5)


def test_top_posts_by_engagements() -> None:
    top = summarize(records(), NOW, "7d").top_posts

    assert [(p.post_id, p.engagements) for p in top] == [("a", 500), ("d", 130), ("b", 100)]
    assert top[1].audience == 2000
    assert top[1].engagement_rate == pytest.approx(0.065)


def test_the_platform_filter_and_a_longer_range() -> None:
    only_facebook = summarize(records(), NOW, "30d", Platform.FACEBOOK)

    assert only_facebook.platform == "facebook"
    assert set(only_facebook.by_platform) == {"facebook"}
    assert only_facebook.overall.current.posts == 4  # a, c, e and f
    assert only_facebook.overall.previous.posts == 0
    assert only_facebook.overall.change["engagements"] is None


def test_no_posts_is_an_empty_summary_not_an_error() -> None:
    summary = summarize([], NOW, "90d")

    assert summary.overall.current.posts == 0
    assert summary.overall.current.engagement_rate is None
    assert summary.top_posts == []


def test_the_use_case_reads_the_users_records_and_checks_its_input() -> None:
    repo = InMemoryPostAnalyticsRepository()
    for r in records():
        repo.track(r)
    repo.track(record("other", NOW - DAY, 0.9, user_id="u2"))
    use_case = AnalyticsSummary(repo, FakeClock(NOW))

    assert use_case.summary("u1", "7d").overall.current.posts == 4
    assert use_case.summary("u1", None, "Instagram").overall.current.posts == 1
    with pytest.raises(ValidationFailed) as bad_range:
        use_case.summary("u1", "1y")
    assert (bad_range.value.code, bad_range.value.details["supported"]) == (
        "invalid_range",
        ["7d", "30d", "90d"],
    )
    with pytest.raises(ValidationFailed) as bad_platform:
        use_case.summary("u1", "7d", "myspace")
    assert bad_platform.value.code == "invalid_platform"
