"""Rate-limit budget windows, overrides and what the platforms' usage headers say."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tidings.store.budgets import LIMITS, Limit, block_from_headers, limits_with

NOW = datetime(2026, 3, 8, 9, 40, 12, tzinfo=UTC)


def test_fixed_windows_start_and_end_on_their_boundaries() -> None:
    quarter = Limit(200, 900)
    assert quarter.window_start(NOW) == datetime(2026, 3, 8, 9, 30, tzinfo=UTC)
    assert quarter.window_end(NOW) == datetime(2026, 3, 8, 9, 45, tzinfo=UTC)


def test_youtube_days_reset_at_pacific_midnight_even_on_a_dst_change() -> None:
    (youtube,) = LIMITS["youtube"]
    # 2026-03-08 is the spring-forward day in California: that day has 23 hours.
    start, end = youtube.window_start(NOW), youtube.window_end(NOW)
    pacific = ZoneInfo("America/Los_Angeles")
    assert start.astimezone(pacific).replace(tzinfo=None) == datetime(2026, 3, 8, 0, 0)
    assert end.astimezone(pacific).replace(tzinfo=None) == datetime(2026, 3, 9, 0, 0)
    assert end - start == timedelta(hours=23)
    assert youtube.per_app
    autumn = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # fall back: 25 hours
    assert youtube.window_end(autumn) - youtube.window_start(autumn) == timedelta(hours=25)


def test_overrides_replace_a_platforms_documented_limits() -> None:
    limits = limits_with("twitter:2/60, twitter:10/3600,tiktok:1/60")
    assert limits["twitter"] == (Limit(2, 60), Limit(10, 3600))
    assert limits["tiktok"] == (Limit(1, 60),)
    assert limits["linkedin"] == LIMITS["linkedin"]


@pytest.mark.parametrize("bad", ["twitter", "twitter:2", "myspace:1/60", "twitter:x/60", "twitter:1/0"])
def test_a_bad_override_is_refused_with_the_item(bad: str) -> None:
    with pytest.raises(ValueError, match="platform:count/seconds"):
        limits_with(bad)


def test_x_with_no_requests_left_blocks_until_its_reset() -> None:
    reset = int((NOW + timedelta(minutes=7)).timestamp())
    block = block_from_headers(
        "twitter", {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}, NOW
    )
    assert block is not None
    assert block[0] == datetime.fromtimestamp(reset, UTC)
    assert block_from_headers("twitter", {"x-rate-limit-remaining": "12"}, NOW) is None


def test_meta_usage_at_the_limit_blocks_for_the_time_to_regain_access() -> None:
    usage = {"1234": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 12}]}
    block = block_from_headers("facebook", {"X-Business-Use-Case-Usage": json.dumps(usage)}, NOW)
    assert block is not None
    assert block[0] == NOW + timedelta(minutes=12)
    app = block_from_headers("instagram", {"X-App-Usage": json.dumps({"call_count": 100})}, NOW)
    assert app is not None
    assert app[0] == NOW + timedelta(minutes=5)


def test_meta_usage_below_the_limit_or_unreadable_blocks_nothing() -> None:
    assert block_from_headers("facebook", {"X-App-Usage": json.dumps({"call_count": 64})}, NOW) is None
    assert block_from_headers("facebook", {"X-App-Usage": "not json"}, NOW) is None
    assert block_from_headers("linkedin", {"X-App-Usage": json.dumps({"call_count": 100})}, NOW) is None
