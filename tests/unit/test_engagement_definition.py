"""The one engagement definition: engagements are the reported likes, comments, shares, saves and
clicks; the rate divides them by reach, or by views where reach is not reported."""

from __future__ import annotations

import pytest

from tidings.models.post_analytics import PostMetrics


def test_engagements_add_up_what_the_platform_reports_and_nothing_else() -> None:
    metrics = PostMetrics(views=5000, reach=2000, likes=80, comments=12, shares=5, saves=3, clicks=40)

    assert metrics.engagements == 140  # views and reach are audience, not engagement
    assert metrics.engagement_rate == pytest.approx(140 / 2000)


def test_a_metric_the_platform_does_not_report_is_absent_not_zero() -> None:
    youtube = PostMetrics(views=1200, likes=30, comments=4)

    assert youtube.reported() == {"views": 1200, "likes": 30, "comments": 4}
    assert youtube.engagements == 34
    assert youtube.audience == 1200  # no reach: views are the audience
    assert youtube.engagement_rate == pytest.approx(34 / 1200)


@pytest.mark.parametrize("metrics", [PostMetrics(likes=3), PostMetrics(views=0, likes=3), PostMetrics()])
def test_without_an_audience_there_is_no_rate(metrics: PostMetrics) -> None:
    assert metrics.engagement_rate is None


def test_counts_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        PostMetrics(likes=-1)
