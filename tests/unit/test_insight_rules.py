"""Each insight rule on data with a known answer: made-up posts where the answer is built in, and the
real data sets (Moro, Rita and Vala 2016; Dehouche 2020) as post analytics records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from insight_data import NOW, around, batch, live_seller_records, metrics_records, record

from tidings.analytics.insights import stats
from tidings.analytics.insights.engine import generate_findings
from tidings.analytics.insights.findings import Finding, observations
from tidings.analytics.insights.opportunity import opportunity_findings
from tidings.analytics.insights.recommendation import recommendation_findings
from tidings.analytics.insights.trend import MIN_POSTS_PER_PERIOD, trend_findings
from tidings.analytics.insights.warning import collection_warnings, rate_warning
from tidings.core.platforms import Platform
from tidings.models.post_analytics import CollectionStatus, PostAnalytics
from tidings.store.insights import Impact, InsightType

DAY = timedelta(days=1)


def by_subject(findings: list[Finding]) -> dict[str, Finding]:
    return {f.subject: f for f in findings}


def week_over_week(current: list[float], previous: list[float]) -> list[PostAnalytics]:
    return batch("c", current, NOW - 7 * DAY, NOW) + batch("p", previous, NOW - 14 * DAY, NOW - 7 * DAY)


# -- trend -----------------------------------------------------------------------------------------


def test_a_doubled_engagement_rate_is_a_significant_trend_with_its_evidence() -> None:
    records = week_over_week(around(0.04, 12), around(0.02, 12))

    found = by_subject(trend_findings(observations(records), NOW))

    assert set(found) == {"rate:7d", "engagements:7d"}  # nothing 30 days back to compare with
    rate = found["rate:7d"]
    assert rate.type == InsightType.TREND
    assert rate.title == "Engagement rate up 100% over the last 7 days"
    assert rate.signal == pytest.approx(1.0, abs=0.02)
    assert rate.impact == Impact.HIGH
    assert rate.lifetime == timedelta(days=7)
    evidence = rate.evidence
    assert (evidence["current"]["posts"], evidence["previous"]["posts"]) == (12, 12)
    assert evidence["current"]["engagementRate"] == pytest.approx(0.04, abs=1e-4)
    assert evidence["test"]["name"] == "mann-whitney-u"
    assert evidence["test"]["pValue"] < evidence["test"]["alpha"] == 0.0125
    assert evidence["test"]["effectSize"] == 1.0  # every recent post beats every earlier one
    assert rate.confidence == stats.confidence(12, 12, 1.0) == round(12 / 42, 2)


def test_never_up_300_percent_from_three_posts() -> None:
    records = week_over_week([0.08, 0.09, 0.1], around(0.02, 12))

    assert trend_findings(observations(records), NOW) == []


@pytest.mark.parametrize(
    ("posts", "fires"), [(MIN_POSTS_PER_PERIOD - 1, False), (MIN_POSTS_PER_PERIOD, True)]
)
def test_each_period_needs_the_minimum_of_posts(posts: int, fires: bool) -> None:
    records = week_over_week(around(0.04, posts, 0.1), around(0.02, 12, 0.1))

    assert ("rate:7d" in by_subject(trend_findings(observations(records), NOW))) is fires


def test_no_change_is_no_trend() -> None:
    records = week_over_week(around(0.02, 15), around(0.02, 15, 0.25))

    assert trend_findings(observations(records), NOW) == []


def test_a_change_significant_alone_but_not_after_four_tests_is_no_trend() -> None:
    current, previous = around(0.0252, 10, 0.3), around(0.02, 10, 0.3)
    assert 0.0125 < stats.mann_whitney(current, previous).p_value < 0.05

    assert trend_findings(observations(week_over_week(current, previous)), NOW) == []


def test_a_falling_month_is_a_downward_trend_of_the_30_days() -> None:
    records = batch("c", around(0.01, 20), NOW - 30 * DAY, NOW) + batch(
        "p", around(0.03, 20), NOW - 60 * DAY, NOW - 30 * DAY
    )

    found = by_subject(trend_findings(observations(records), NOW))

    assert found["rate:30d"].title == "Engagement rate down 67% over the last 30 days"
    assert found["rate:30d"].lifetime == timedelta(days=30)
    assert found["rate:30d"].recommendations[0].startswith("Compare the last 30 days' posts")


# -- opportunity -----------------------------------------------------------------------------------


def content_mix(video: int = 15, video_rate: float = 0.06, spread_by: float = 0.2) -> list[PostAnalytics]:
    start = NOW - 170 * DAY
    return (
        batch("v", around(video_rate, video, spread_by), start, NOW, content_type="video")
        + batch("ph", around(0.03, 15, spread_by), start, NOW, content_type="photo")
        + batch("s", around(0.03, 15, spread_by), start, NOW, content_type="status")
    )


def test_the_best_content_type_with_an_interval_above_one() -> None:
    found = by_subject(opportunity_findings(observations(content_mix()), NOW, UTC))

    video = found["contentType:video"]
    assert video.title == "Video posts get 2.0x your usual engagement rate"
    evidence = video.evidence
    assert evidence["ratio"] == pytest.approx((0.06 + 0.001) / (0.03 + 0.001), abs=0.01)  # 0.1 % floor
    assert 1.0 < evidence["interval"]["low"] < 2.0 < evidence["interval"]["high"]
    assert evidence["interval"]["level"] == pytest.approx(1 - 0.05 / 3)  # best of three types
    assert (evidence["posts"], evidence["restPosts"]) == (15, 30)
    assert evidence["groupsCompared"][0]["group"] == "video"
    assert video.signal == pytest.approx(evidence["ratio"] - 1)
    assert video.impact == Impact.HIGH
    assert "Publish more video posts" in video.recommendations[0]


def test_a_group_below_the_minimum_takes_no_part_however_good() -> None:
    found = opportunity_findings(observations(content_mix(video=9, video_rate=0.3)), NOW, UTC)

    assert [f for f in found if f.subject.startswith("contentType")] == []


def test_a_best_group_whose_interval_reaches_one_is_no_opportunity() -> None:
    found = opportunity_findings(observations(content_mix(video_rate=0.033, spread_by=0.9)), NOW, UTC)

    assert [f for f in found if f.subject.startswith("contentType")] == []


def test_hours_are_read_in_the_users_time_zone() -> None:
    evening = [
        record(f"e{i}", datetime(2026, 6, 1 + i, 22, 0, tzinfo=UTC), 0.05 + 0.001 * i) for i in range(12)
    ]
    morning = [
        record(f"m{i}", datetime(2026, 6, 1 + i, 13, 0, tzinfo=UTC), 0.02 + 0.001 * i) for i in range(12)
    ]
    obs = observations(evening + morning)

    new_york = by_subject(opportunity_findings(obs, NOW, ZoneInfo("America/New_York")))
    utc = by_subject(opportunity_findings(obs, NOW, UTC))

    assert new_york["hour:18:00"].evidence["timezone"] == "America/New_York"
    assert "hour:22:00" in utc


def test_the_best_platform() -> None:
    start = NOW - 100 * DAY
    records = batch("i", around(0.05, 12), start, NOW, platform=Platform.INSTAGRAM) + batch(
        "f", around(0.02, 12), start, NOW, platform=Platform.FACEBOOK
    )

    found = by_subject(opportunity_findings(observations(records), NOW, UTC))

    assert found["platform:instagram"].title == "Posts on instagram get 2.4x your usual engagement rate"


def test_posts_older_than_the_window_or_unmeasured_take_no_part() -> None:
    old = [r.model_copy(update={"published_at": r.published_at - 200 * DAY}) for r in content_mix()]
    unmeasured = [r.model_copy(update={"latest": None}) for r in content_mix()]

    assert opportunity_findings(observations(old + unmeasured), NOW, UTC) == []


# -- warnings --------------------------------------------------------------------------------------


def recent_and_baseline(recent: list[float], baseline: list[float]) -> list[PostAnalytics]:
    start = NOW - 14 * DAY
    return batch("r", recent, start, NOW) + batch("b", baseline, start - 90 * DAY, start)


def test_an_engagement_rate_half_the_baseline_is_a_high_impact_warning() -> None:
    warning = rate_warning(observations(recent_and_baseline(around(0.02, 12), around(0.04, 30))), NOW)

    assert warning is not None
    assert (warning.type, warning.subject) == (InsightType.WARNING, "engagement_rate")
    assert warning.title == "Engagement rate down 50% against your usual"
    assert warning.impact == Impact.HIGH
    assert warning.evidence["test"]["alternative"] == "less"
    assert warning.evidence["test"]["pValue"] < 0.05
    assert (warning.evidence["recent"]["posts"], warning.evidence["baseline"]["posts"]) == (12, 30)
    assert warning.signal == pytest.approx(-0.5, abs=0.01)


def test_a_drop_of_a_quarter_is_medium_impact() -> None:
    warning = rate_warning(observations(recent_and_baseline(around(0.03, 12), around(0.04, 30))), NOW)

    assert warning is not None
    assert warning.impact == Impact.MEDIUM


@pytest.mark.parametrize(
    ("recent", "baseline"),
    [
        (around(0.034, 40, 0.05), around(0.04, 60, 0.05)),  # significant, but only 15 % down
        (around(0.02, 9), around(0.04, 30)),  # too few recent posts
        (around(0.02, 12), around(0.04, 19)),  # too short a baseline
        (around(0.028, 10, 0.85), around(0.04, 20, 0.85)),  # 30 % down, but within the noise
    ],
)
def test_no_warning_without_a_drop_of_20_percent_on_enough_posts_beyond_the_noise(
    recent: list[float], baseline: list[float]
) -> None:
    assert rate_warning(observations(recent_and_baseline(recent, baseline)), NOW) is None


def stopped(
    post_id: str, reason: str, platform: Platform = Platform.FACEBOOK, days_ago: int = 3
) -> PostAnalytics:
    return record(
        post_id,
        NOW - days_ago * DAY,
        platform=platform,
        status=CollectionStatus.STOPPED,
        stop_reason=reason,
    )


def test_a_revoked_token_is_a_high_impact_collection_warning() -> None:
    (warning,) = collection_warnings([stopped("p1", "token_revoked")], NOW)

    assert warning.subject == "collection:facebook"
    assert warning.impact == Impact.HIGH
    assert warning.evidence["stopped"] == {"token_revoked": 1}
    assert warning.recommendations[0].startswith("Reconnect your facebook account")
    assert warning.confidence == stats.count_confidence(1)


def test_repeated_failures_warn_and_deleted_or_old_posts_do_not() -> None:
    records = [
        stopped("gone", "post_deleted"),
        stopped("unknown", "post_not_found"),
        stopped("old", "collection_failing", days_ago=40),
        record("once", NOW - DAY, status=CollectionStatus.ACTIVE, failures=1),
        record("twice", NOW - DAY, platform=Platform.LINKEDIN, status=CollectionStatus.ACTIVE, failures=2),
    ]

    (warning,) = collection_warnings(records, NOW)

    assert warning.subject == "collection:linkedin"
    assert (warning.evidence["retrying"], warning.evidence["failedReads"]) == (1, 2)
    assert warning.impact == Impact.MEDIUM
    assert warning.signal == 1.0


def test_five_failing_posts_are_high_impact() -> None:
    records = [stopped(f"p{i}", "collection_failing", Platform.TIKTOK) for i in range(5)]

    (warning,) = collection_warnings(records, NOW)

    assert warning.impact == Impact.HIGH
    assert warning.title == "Metrics of 5 tiktok posts cannot be read"
    assert "GET /accounts/tiktok/health" in warning.recommendations[0]


# -- recommendations -------------------------------------------------------------------------------


def test_an_opportunity_becomes_a_recommendation_resting_on_it() -> None:
    opportunities = opportunity_findings(observations(content_mix()), NOW, UTC)

    (recommendation,) = recommendation_findings(opportunities)

    (video,) = opportunities
    assert recommendation.type == InsightType.RECOMMENDATION
    assert recommendation.title == "Publish more video posts"
    assert recommendation.based_on == (video.key,)
    assert recommendation.confidence == video.confidence
    assert recommendation.evidence["basedOn"][0]["interval"] == video.evidence["interval"]


def test_a_drop_with_an_opportunity_recommends_leaning_on_it() -> None:
    start = NOW - 14 * DAY
    records = content_mix() + batch("r", around(0.01, 12), start, NOW, content_type=None)

    found = generate_findings(records, NOW, UTC)

    recover = by_subject([f for f in found if f.type == InsightType.RECOMMENDATION])["recover_engagement"]
    warning = by_subject([f for f in found if f.type == InsightType.WARNING])["engagement_rate"]
    assert recover.title == "Lean on what works to bring your engagement rate back"
    assert recover.based_on[0] == warning.key
    assert (InsightType.OPPORTUNITY, "contentType:video") in recover.based_on
    assert recover.confidence == min(f.confidence for f in found if f.key in recover.based_on)


def test_a_drop_without_an_opportunity_recommends_finding_what_changed() -> None:
    found = generate_findings(recent_and_baseline(around(0.02, 12), around(0.04, 30)), NOW, UTC)

    recover = by_subject(found)["recover_engagement"]
    assert recover.title == "Find what changed in your recent posts"
    assert recover.based_on == ((InsightType.WARNING, "engagement_rate"),)


# -- the real data sets ----------------------------------------------------------------------------


def test_facebook_metrics_september_beats_august_and_photos_beat_the_rest() -> None:
    records = metrics_records()
    now = datetime(2014, 10, 1, tzinfo=UTC)

    found = {f.key: f for f in generate_findings(records, now, UTC)}

    trend = found[(InsightType.TREND, "rate:30d")]
    september = [r for r in records if r.published_at.month == 9]
    assert trend.evidence["current"]["posts"] == len(september) == 36
    assert trend.signal > 0.5
    assert trend.evidence["test"]["pValue"] < 0.001
    photo = found[(InsightType.OPPORTUNITY, "contentType:photo")]
    assert photo.evidence["interval"]["low"] > 1.5
    assert photo.confidence > 0.5
    assert found[(InsightType.RECOMMENDATION, "contentType:photo")].title == "Publish more photo posts"


def test_facebook_metrics_october_falls_below_the_summer_baseline() -> None:
    """Monthly median rates: July 2.2 %, August 2.8 %, September 4.8 %, October 1.8 %."""
    warning = rate_warning(observations(metrics_records()), datetime(2014, 11, 1, tzinfo=UTC))

    assert warning is not None
    assert warning.signal < -0.3
    assert warning.evidence["test"]["pValue"] < 0.05


def test_live_sellers_have_engagement_trends_but_no_rate_insights_without_reach() -> None:
    found = generate_findings(live_seller_records(), datetime(2017, 12, 1, tzinfo=UTC), UTC)

    assert {f.subject for f in found} == {"engagements:30d"}
    (trend,) = found
    assert trend.signal < -0.5
    assert trend.evidence["current"]["engagementRate"] is None  # no audience reported


def test_groups_without_any_variation_are_no_sample_to_estimate_from() -> None:
    start = NOW - 100 * DAY
    records = batch("v", [0.05] * 12, start, NOW, content_type="video") + batch(
        "p", [0.02] * 12, start, NOW, content_type="photo"
    )

    assert opportunity_findings(observations(records), NOW, UTC) == []
