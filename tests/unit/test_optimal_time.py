"""The optimal posting time, checked against real engagement data and the promises of GET /optimal-time.

Real data (../shared/corpora/social-engagement, CC BY 4.0, loaded by tests/unit/corpus.py):
- Dehouche (2020), "Dataset on usage and engagement patterns for Facebook Live sellers in Thailand",
  Data in Brief: 7,050 timestamped posts (54 duplicates), read as Asia/Bangkok local time.
- Moro, Rita and Vala (2016), "Predicting social media performance metrics and evaluation of the impact
  on brand building", Journal of Business Research 69(9): 500 posts with weekday, hour and reach but no
  date, placed on a reference week (see corpus.py).
"""

from __future__ import annotations

import itertools
import statistics
import sys
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from corpus import (
    live_seller_samples,
    load_live_seller_posts,
    load_metrics_posts,
    metrics_samples,
    parse_published,
)

from tidings.core.errors import ValidationFailed
from tidings.core.platforms import Platform
from tidings.models.analytics import EngagementSample
from tidings.scheduling.optimal_time import (
    Recommendation,
    platform_prior,
    recommend,
)

BANGKOK = ZoneInfo("Asia/Bangkok")
NEW_YORK = ZoneInfo("America/New_York")
MONDAY_9_UTC = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LIVE_SELLER_ROWS_WITHOUT_DUPLICATES = 7_050 - 54  # SOURCE.txt: 7,050 rows, 54 repeat another row


def slot_of(moment: datetime, tz: ZoneInfo) -> tuple[int, int]:
    local = moment.astimezone(tz)
    return local.weekday(), local.hour


def observed_by_slot(samples: Iterable[EngagementSample], tz: ZoneInfo) -> dict[tuple[int, int], list[float]]:
    """Each slot's per-post values: engagement rate when reach is known, else engagement."""
    by_slot: dict[tuple[int, int], list[float]] = defaultdict(list)
    for sample in samples:
        value = sample.engagement / sample.reach if sample.reach else sample.engagement
        by_slot[slot_of(sample.published_at, tz)].append(value)
    return by_slot


def posts_at(
    weekday: int, hour: int, count: int, engagement: float, *, tz: ZoneInfo = NEW_YORK
) -> list[EngagementSample]:
    """`count` past Facebook posts on that weekday and hour, one a week going back from 2025-12."""
    first = datetime(2025, 12, 1, hour, 0, tzinfo=tz)  # a Monday
    first += timedelta(days=weekday)
    return [
        EngagementSample(Platform.FACEBOOK, first - timedelta(weeks=i), engagement + i % 3)
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def live_sellers() -> list[EngagementSample]:
    return live_seller_samples("Asia/Bangkok")


@pytest.fixture(scope="module")
def page_metrics() -> list[EngagementSample]:
    return metrics_samples("UTC")


# --- the real data sets ---------------------------------------------------------------------------


def test_live_sellers_get_a_slot_that_really_performed_well(live_sellers: list[EngagementSample]) -> None:
    result = recommend(live_sellers, platform=Platform.FACEBOOK, timezone="Asia/Bangkok", now=MONDAY_9_UTC)

    by_slot = observed_by_slot(live_sellers, BANGKOK)
    well_populated = {slot: values for slot, values in by_slot.items() if len(values) >= 30}
    ranked = sorted(well_populated, key=lambda slot: statistics.mean(well_populated[slot]), reverse=True)
    chosen = slot_of(result.recommended_time, BANGKOK)
    assert chosen in well_populated, f"{chosen} holds only {len(by_slot.get(chosen, []))} posts"
    assert ranked.index(chosen) < len(ranked) // 4, "not in the top quarter of well-populated slots"
    assert result.confidence == 1.0
    assert result.data_quality == "rich"
    assert result.based_on_posts == LIVE_SELLER_ROWS_WITHOUT_DUPLICATES
    assert "6,996" in result.reasoning


def test_live_sellers_content_type_uses_only_that_type_when_there_are_enough(
    live_sellers: list[EngagementSample],
) -> None:
    videos = [s for s in live_sellers if s.content_type == "video"]

    result = recommend(
        live_sellers,
        platform=Platform.FACEBOOK,
        timezone="Asia/Bangkok",
        now=MONDAY_9_UTC,
        content_type="Video",
    )

    assert result.based_on_posts == len(videos) > 2_000
    assert result.content_type_used == "video"
    assert "video" in result.reasoning
    by_slot = observed_by_slot(videos, BANGKOK)
    chosen = slot_of(result.recommended_time, BANGKOK)
    hour_values = [v for (_, hour), values in by_slot.items() if hour == chosen[1] for v in values]
    assert statistics.mean(hour_values) > statistics.mean(s.engagement for s in videos)


def test_page_metrics_without_dates_get_one_of_their_best_supported_slots(
    page_metrics: list[EngagementSample],
) -> None:
    result = recommend(page_metrics, platform=Platform.FACEBOOK, timezone="UTC", now=MONDAY_9_UTC)

    by_slot = observed_by_slot(page_metrics, ZoneInfo("UTC"))
    overall_rate = statistics.mean(v for values in by_slot.values() for v in values)
    chosen = slot_of(result.recommended_time, ZoneInfo("UTC"))
    busiest = sorted(by_slot, key=lambda slot: len(by_slot[slot]), reverse=True)[:15]
    assert chosen in busiest, f"{chosen} holds only {len(by_slot.get(chosen, []))} posts"
    assert statistics.mean(by_slot[chosen]) > overall_rate
    assert result.metric == "engagement_rate"
    assert result.based_on_posts == 500
    assert result.confidence == 1.0


def test_corpus_loader_reads_both_date_formats_and_drops_duplicate_rows() -> None:
    assert (
        parse_published("04-11-2018 04:53")
        == parse_published("4/11/2018 4:53")
        == datetime(2018, 4, 11, 4, 53)
    )
    posts = load_live_seller_posts()
    assert len(posts) == LIVE_SELLER_ROWS_WITHOUT_DUPLICATES
    assert len({p.status_id for p in posts}) == len(posts)
    assert posts[0].engagement == 529 + 512 + 262  # reactions + comments + shares of status 1


def test_corpus_loader_keeps_metrics_gaps_as_missing_and_reads_weekdays_from_sunday() -> None:
    posts = load_metrics_posts()
    assert len(posts) == 500
    assert sum(p.likes is None for p in posts) == 1
    assert sum(p.shares is None for p in posts) == 4
    assert posts[0].weekday == 2  # "Post Weekday" 4 in the newest row, 2014-12-31: a Wednesday
    assert posts[-1].weekday == 2  # and in the oldest, 2014-01-01: a Wednesday too


# --- learning from the user's own history ---------------------------------------------------------


def test_a_consistently_better_slot_wins_over_the_platform_defaults() -> None:
    # Tuesday 18:00 is outside Facebook's default peak; the user's posts there do three times better.
    history = posts_at(1, 18, 30, 300.0) + posts_at(2, 10, 30, 100.0)

    result = recommend(history, platform=Platform.FACEBOOK, timezone="America/New_York", now=MONDAY_9_UTC)

    assert slot_of(result.recommended_time, NEW_YORK) == (1, 18)
    assert "Tuesdays 18:00-19:00" in result.reasoning


def test_one_viral_post_at_3am_is_not_over_fitted() -> None:
    viral = posts_at(3, 3, 1, 50_000.0)

    result = recommend(viral, platform=Platform.FACEBOOK, timezone="America/New_York", now=MONDAY_9_UTC)

    assert result.recommended_time.astimezone(NEW_YORK).hour != 3
    assert result.data_quality == "sparse"
    assert 0.3 <= result.confidence < 0.32
    assert result.based_on_posts == 1
    assert "Only 1 past facebook post" in result.reasoning
    assert "platform defaults" in result.reasoning


def test_a_viral_outlier_among_regular_posts_does_not_pull_the_time_to_it() -> None:
    regular = [p for day in range(5) for p in posts_at(day, 11, 6, 100.0)]
    history = regular + posts_at(6, 3, 1, 80_000.0)

    result = recommend(history, platform=Platform.FACEBOOK, timezone="America/New_York", now=MONDAY_9_UTC)

    assert result.recommended_time.astimezone(NEW_YORK).hour != 3
    assert result.based_on_posts == 31


def test_a_sparse_but_consistent_pattern_is_followed_and_called_provisional() -> None:
    history = posts_at(1, 19, 8, 900.0) + posts_at(2, 10, 8, 100.0)

    result = recommend(history, platform=Platform.FACEBOOK, timezone="America/New_York", now=MONDAY_9_UTC)

    assert slot_of(result.recommended_time, NEW_YORK) == (1, 19)
    assert result.data_quality == "sparse"
    assert "Only 16 past facebook posts" in result.reasoning
    assert "provisional" in result.reasoning


@pytest.mark.parametrize("platform", list(Platform))
def test_an_empty_history_gets_the_platform_prior_at_minimum_confidence(platform: Platform) -> None:
    result = recommend([], platform=platform, timezone="Europe/Paris", now=MONDAY_9_UTC)

    prior = platform_prior(platform)
    weekday, hour = slot_of(result.recommended_time, ZoneInfo("Europe/Paris"))
    assert prior[weekday * 24 + hour] == max(prior)
    assert result.confidence == 0.3
    assert result.data_quality == "none"
    assert result.based_on_posts == 0
    assert "No past" in result.reasoning


def test_posts_on_other_platforms_do_not_count() -> None:
    on_instagram = [
        EngagementSample(Platform.INSTAGRAM, s.published_at, s.engagement) for s in posts_at(1, 18, 60, 500.0)
    ]

    result = recommend(on_instagram, platform=Platform.FACEBOOK, timezone="UTC", now=MONDAY_9_UTC)

    assert result.based_on_posts == 0
    assert result.data_quality == "none"


def test_confidence_grows_with_every_post_and_is_full_from_fifty() -> None:
    history = [p for day in range(7) for p in posts_at(day, 10, 10, 100.0)]
    results = [
        recommend(history[:n], platform=Platform.FACEBOOK, timezone="UTC", now=MONDAY_9_UTC)
        for n in range(61)
    ]
    confidences = [r.confidence for r in results]

    assert confidences[0] == 0.3
    assert all(a < b for a, b in itertools.pairwise(confidences[:51]))
    assert confidences[50:] == [1.0] * 11
    qualities = {n: results[n].data_quality for n in (0, 1, 19, 20, 49, 50, 60)}
    assert qualities == {
        0: "none",
        1: "sparse",
        19: "sparse",
        20: "moderate",
        49: "moderate",
        50: "rich",
        60: "rich",
    }


def test_too_few_posts_of_the_content_type_fall_back_to_all_posts_and_say_so() -> None:
    history = [
        EngagementSample(Platform.FACEBOOK, s.published_at, s.engagement, content_type="photo")
        for s in posts_at(1, 10, 40, 100.0)
    ] + [
        EngagementSample(Platform.FACEBOOK, s.published_at, s.engagement, content_type="video")
        for s in posts_at(2, 10, 3, 100.0)
    ]

    result = recommend(
        history, platform=Platform.FACEBOOK, timezone="UTC", now=MONDAY_9_UTC, content_type="video"
    )

    assert result.based_on_posts == 43
    assert result.content_type_used is None
    assert "video posts (3)" in result.reasoning
    assert "every type" in result.reasoning


# --- times, alternatives, time zones --------------------------------------------------------------


def local_parts(moment: datetime, tz: ZoneInfo) -> tuple[str, int, int]:
    local = moment.astimezone(tz)
    return local.date().isoformat(), local.hour, local.minute


def test_alternatives_are_the_four_promised_neighbours() -> None:
    sunday_noon = datetime(2026, 1, 4, 12, 0, tzinfo=UTC)

    result = recommend([], platform=Platform.FACEBOOK, timezone="UTC", now=sunday_noon)

    utc = ZoneInfo("UTC")
    assert local_parts(result.recommended_time, utc) == ("2026-01-06", 9, 0)  # Tuesday 09:00
    assert [local_parts(a, utc) for a in result.alternatives] == [
        ("2026-01-06", 8, 0),  # one hour earlier
        ("2026-01-06", 10, 0),  # one hour later
        ("2026-01-05", 9, 0),  # same time the day before
        ("2026-01-07", 9, 0),  # same time the day after
    ]


def test_an_alternative_already_in_the_past_moves_to_its_next_occurrence() -> None:
    monday_9 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    result = recommend([], platform=Platform.FACEBOOK, timezone="UTC", now=monday_9)

    utc = ZoneInfo("UTC")
    assert local_parts(result.recommended_time, utc) == ("2026-01-06", 9, 0)
    day_before = result.alternatives[2]
    assert local_parts(day_before, utc) == ("2026-01-12", 9, 0)  # Monday 09:00 has passed: next Monday
    assert all(a > monday_9 for a in result.alternatives)
    assert len(set(result.alternatives) | {result.recommended_time}) == 5


@pytest.mark.parametrize(
    ("timezone", "now"),
    [
        ("Asia/Kolkata", datetime(2026, 1, 6, 3, 50, tzinfo=UTC)),  # 09:20 local, inside a peak hour
        ("America/St_Johns", datetime(2026, 7, 1, 23, 59, tzinfo=UTC)),
        ("Pacific/Chatham", datetime(2026, 4, 4, 13, 0, tzinfo=UTC)),
        ("UTC", datetime(2026, 1, 6, 10, 50, tzinfo=UTC)),
    ],
)
def test_the_recommended_time_is_ahead_by_the_lead_and_in_the_requested_zone(
    timezone: str, now: datetime
) -> None:
    lead = timedelta(minutes=15)

    result = recommend([], platform=Platform.FACEBOOK, timezone=timezone, now=now, min_lead=lead)

    tz = ZoneInfo(timezone)
    for moment in [result.recommended_time, *result.alternatives]:
        assert moment >= now + lead
        assert moment.tzinfo == tz
        assert moment.utcoffset() == moment.astimezone(UTC).astimezone(tz).utcoffset()
        assert moment.astimezone(tz).minute == 0
    assert len(result.alternatives) == 4


def test_an_equally_good_slot_later_today_beats_waiting_a_week() -> None:
    # Tuesday 10:40 UTC: 09:00 and 10:00 are gone, 11:00 is still a default peak hour.
    result = recommend(
        [], platform=Platform.FACEBOOK, timezone="UTC", now=datetime(2026, 1, 6, 10, 40, tzinfo=UTC)
    )

    assert result.recommended_time == datetime(2026, 1, 6, 11, 0, tzinfo=ZoneInfo("UTC"))


def test_a_local_time_skipped_by_daylight_saving_moves_forward() -> None:
    # The user's best slot is Sunday 02:00 in New York; on 2026-03-08 clocks jump from 02:00 to 03:00.
    history = posts_at(6, 2, 40, 1_000.0) + posts_at(2, 10, 40, 50.0)
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=NEW_YORK)

    result: Recommendation = recommend(
        history, platform=Platform.FACEBOOK, timezone="America/New_York", now=saturday
    )

    assert result.recommended_time == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT
    local = result.recommended_time.astimezone(NEW_YORK)
    assert (local.hour, local.utcoffset()) == (3, timedelta(hours=-4))
    assert "Clocks go forward" in result.reasoning
    assert len(set(result.alternatives) | {result.recommended_time}) == 5
    assert all(a > saturday for a in result.alternatives)


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "", "../../etc/passwd", "/etc/localtime", " UTC"])
def test_an_unknown_timezone_is_rejected(timezone: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        recommend([], platform=Platform.FACEBOOK, timezone=timezone, now=MONDAY_9_UTC)

    assert caught.value.code == "unknown_timezone"
    assert caught.value.details == {"timezone": timezone}


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        EngagementSample(Platform.FACEBOOK, datetime(2026, 1, 1, 10, 0), 10.0)
    with pytest.raises(ValueError, match="timezone-aware"):
        recommend([], platform=Platform.FACEBOOK, timezone="UTC", now=datetime(2026, 1, 1, 10, 0))


def test_a_missing_time_zone_database_is_not_blamed_on_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tzdata", None)  # no tzdata package either
    for name in [m for m in sys.modules if m.startswith("tzdata.")]:
        monkeypatch.delitem(sys.modules, name)
    zoneinfo.reset_tzpath(to=[])
    zoneinfo.ZoneInfo.clear_cache()
    try:
        with pytest.raises(RuntimeError, match="tzdata"):
            recommend([], platform=Platform.FACEBOOK, timezone="Europe/Oslo", now=MONDAY_9_UTC)
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()
