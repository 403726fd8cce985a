"""Trend insights: engagement period over period.

For each period (the last 7 and the last 30 days, against the 7 or 30 days before) and each measure
(the engagement rate per post, and the engagements per post that make the totals), the posts of the
two periods are compared with a two-sided Mann-Whitney U test (`stats`). A trend is reported only

- when each period has at least `MIN_POSTS_PER_PERIOD` (10) posts with the measure: never "up 300%"
  from three posts;
- when the test rejects "no change" at `ALPHA` (0.05) split over the four tests of a run (Bonferroni:
  each at 0.0125), so running four tests does not quadruple the false alarms.

The change reported is that of the typical post (geometric mean: of the rates on the floored log
scale, of 1 + engagements for counts), with the totals of both periods beside it in the evidence;
the effect size is the rank-biserial r, and the p-value is the test's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from statistics import fmean
from typing import Any

from tidings.analytics.insights import stats
from tidings.analytics.insights.findings import (
    Finding,
    Observation,
    group_stats,
    impact_of,
    p_text,
    percent,
    published_between,
    rounded,
    significant,
)
from tidings.store.insights import InsightType

PERIODS_DAYS = (7, 30)
MIN_POSTS_PER_PERIOD = 10
ALPHA = 0.05
MEASURES = ("rate", "engagements")
TESTS_PER_RUN = len(PERIODS_DAYS) * len(MEASURES)


def typical_count(values: Sequence[float]) -> float:
    """The geometric mean of 1 + value, less 1: the typical post of a skewed count."""
    return math.expm1(fmean(math.log1p(v) for v in values))


def _measure(name: str) -> tuple[Callable[[Observation], float | None], Callable[[Sequence[float]], float]]:
    if name == "rate":
        return (lambda o: o.rate), stats.typical_rate
    return (lambda o: float(o.engagements)), typical_count


def _period_totals(obs: Sequence[Observation]) -> dict[str, Any]:
    engagements = sum(o.engagements for o in obs)
    measured = [o for o in obs if o.audience]
    audience = sum(o.audience or 0 for o in measured)
    engaged = sum(o.engagements for o in measured)
    return {
        "totalEngagements": engagements,
        "totalAudience": audience,
        "engagementRate": rounded(engaged / audience, 6) if audience else None,
    }


def trend_findings(obs: Sequence[Observation], now: datetime) -> list[Finding]:
    found = []
    for days in PERIODS_DAYS:
        period = timedelta(days=days)
        current = published_between(obs, now - period, now)
        previous = published_between(obs, now - 2 * period, now - period)
        for measure in MEASURES:
            finding = _trend(measure, days, current, previous)
            if finding is not None:
                found.append(finding)
    return found


def _trend(
    measure: str, days: int, current: Sequence[Observation], previous: Sequence[Observation]
) -> Finding | None:
    value, typical = _measure(measure)
    now_values = [v for o in current if (v := value(o)) is not None]
    before_values = [v for o in previous if (v := value(o)) is not None]
    if len(now_values) < MIN_POSTS_PER_PERIOD or len(before_values) < MIN_POSTS_PER_PERIOD:
        return None
    alpha = ALPHA / TESTS_PER_RUN
    test = stats.mann_whitney(now_values, before_values, "two-sided")
    if test.p_value >= alpha:
        return None
    now_typical, before_typical = typical(now_values), typical(before_values)
    if before_typical <= 0:
        return None  # a change from nothing has no size to report
    change = now_typical / before_typical - 1.0
    if change == 0 or (change > 0) != (test.r > 0):
        return None  # the typical post and the ranks disagree on the direction: nothing clear to say
    up = change > 0
    what = "Engagement rate" if measure == "rate" else "Engagements per post"
    shown = percent if measure == "rate" else (lambda v: f"{v:.1f}")
    title = f"{what} {'up' if up else 'down'} {abs(change) * 100:.0f}% over the last {days} days"
    description = (
        f"Your {len(now_values)} posts of the last {days} days had a typical "
        f"{'engagement rate' if measure == 'rate' else 'number of engagements'} of {shown(now_typical)}, "
        f"against {shown(before_typical)} for the {len(before_values)} posts of the {days} days before "
        f"(Mann-Whitney {p_text(test.p_value)}; a post of the recent period beats one of the period "
        f"before {(test.r + 1) / 2 * 100:.0f}% of the time)."
    )
    evidence: dict[str, Any] = {
        "measure": measure,
        "periodDays": days,
        "current": group_stats(now_values, now_typical) | _period_totals(current),
        "previous": group_stats(before_values, before_typical) | _period_totals(previous),
        "change": rounded(change),
        "test": {
            "name": "mann-whitney-u",
            "alternative": "two-sided",
            "u": rounded(test.u, 2),
            "z": rounded(test.z),
            "pValue": significant(test.p_value),
            "alpha": rounded(alpha, 6),
            "effectSize": rounded(test.r),
            "effectSizeName": "rank-biserial correlation",
        },
        "minPostsPerPeriod": MIN_POSTS_PER_PERIOD,
    }
    advice = (
        f"Keep doing what worked in the last {days} days: compare its best posts with the ones before "
        "(content type, time of day, platform) and repeat the difference."
        if up
        else f"Compare the last {days} days' posts with the ones before (content type, time of day, "
        "platform, length) and go back to what did better."
    )
    return Finding(
        type=InsightType.TREND,
        subject=f"{measure}:{days}d",
        title=title,
        description=description,
        impact=impact_of(change),
        confidence=stats.confidence(test.n_a, test.n_b, test.r),
        evidence=evidence,
        recommendations=(advice,),
        signal=rounded(change),
        lifetime=timedelta(days=days),
    )
