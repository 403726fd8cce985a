"""The fake platforms' metric model (infra.local.fakes.metrics): the same numbers on every run, nothing
in a post's first minute, counts that only grow and level off, and counts set by a test that hold."""

from __future__ import annotations

import pytest

from infra.local.fakes import metrics
from infra.local.fakes.state import Post
from tidings.core.platforms import Platform

CREATED = 1_800_000_000.0
HOUR = 3600.0


def post(post_id: str = "104710000001_1000000000000001", platform: Platform = Platform.FACEBOOK) -> Post:
    return Post(platform, "104710000001", post_id, "Open house", CREATED)


def test_the_counts_are_a_pure_function_of_platform_post_and_age() -> None:
    at = CREATED + 30 * HOUR
    assert metrics.curve(post(), at) == metrics.curve(post(), at)
    assert metrics.curve(post(), at) != metrics.curve(post("104710000001_1000000000000002"), at)
    assert metrics.curve(post(), at) != metrics.curve(post(platform=Platform.INSTAGRAM), at)


def test_nothing_is_reported_in_a_post_s_first_minute() -> None:
    assert set(metrics.curve(post(), CREATED + 59).values()) == {0}
    assert set(metrics.curve(post(), CREATED - HOUR).values()) == {0}


@pytest.mark.parametrize("post_id", [f"1_{n}" for n in range(20)])
def test_counts_only_grow_and_level_off_within_the_documented_ranges(post_id: str) -> None:
    ages = [0, 1, 6, 24, 72, 24 * 7, 24 * 28, 24 * 365]
    series = [metrics.curve(post(post_id), CREATED + 60 + hours * HOUR) for hours in ages]
    for name in metrics.METRICS:
        values = [counts[name] for counts in series]
        assert values == sorted(values), name
    final = series[-1]
    assert 299 <= final["reach"] <= 5000
    assert final["reach"] <= final["views"] <= final["reach"] * 2.5
    assert final["likes"] <= final["reach"] * 0.08
    assert final["clicks"] <= final["reach"] * 0.03
    assert series[-2]["reach"] >= 0.99 * final["reach"]  # saturated after four weeks (tau <= 48 h)


def test_set_counts_hold_and_keep_growing_from_there() -> None:
    item = post()
    at = CREATED + 10 * HOUR
    metrics.set_counts(item, {"likes": 5, "views": 100_000}, now=at)

    now = metrics.counts(item, at)
    later = metrics.counts(item, at + 20 * HOUR)

    assert (now["likes"], now["views"]) == (5, 100_000)
    grown = metrics.curve(item, at + 20 * HOUR)["likes"] - metrics.curve(item, at)["likes"]
    assert later["likes"] == 5 + grown
    assert later["comments"] == metrics.curve(item, at + 20 * HOUR)["comments"]  # not set: the curve


def test_counts_set_without_growth_stay_exactly_as_set() -> None:
    item = post()
    metrics.set_counts(item, {"likes": 7}, grow=False, now=CREATED + HOUR)
    assert metrics.counts(item, CREATED + 500 * HOUR)["likes"] == 7


def test_describe_tells_the_post_s_state() -> None:
    item = post()
    item.deleted = True
    described = metrics.describe(item)
    assert described["deleted"] is True
    assert described["platform"] == "facebook"
    assert described["postId"] == item.post_id
    assert set(described["counts"]) == set(metrics.METRICS)
