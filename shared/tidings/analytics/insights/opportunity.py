"""Opportunity insights: the content type, hour, weekday and platform that do best.

Over the posts of the last `WINDOW_DAYS` (180) days with an engagement rate, for each dimension:

1. the posts are grouped (content type; hour and weekday in the user's time zone; platform), and
   only groups of at least `MIN_GROUP_POSTS` (10) posts, whose other posts are also at least that
   many, take part; with fewer than two such groups there is nothing to compare;
2. the best group is the one with the highest typical rate (geometric mean on the floored log scale);
3. its rate is compared with the rest of the user's posts by a Welch t interval on log rates
   (`stats.rate_ratio_interval`), a ratio of typical rates with its interval. Picking the best of m
   groups favours luck, so the interval's level is Bonferroni-adjusted: 1 - 0.05 / m;
4. it is reported only when the whole interval is above 1: the best group beats the user's baseline
   (the rest of their posts) even at the pessimistic end.

Content types, hours and weekdays are compared over all the user's platforms together: where
platforms' rates differ a lot (reach-based and view-based audiences), a group that is mostly posted on
the stronger platform can stand out for that reason; the platform opportunity says when that is so.

Each finding carries the ratio, its interval, both groups' sizes and typical rates, the user's overall
typical rate, and every group that was compared.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

from tidings.analytics.insights import stats
from tidings.analytics.insights.findings import (
    Finding,
    Observation,
    impact_of,
    percent,
    published_between,
    rates,
    rounded,
)
from tidings.store.insights import InsightType

WINDOW_DAYS = 180
MIN_GROUP_POSTS = 10
FAMILY_ALPHA = 0.05
LIFETIME = timedelta(days=30)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _dimensions(zone: tzinfo) -> dict[str, tuple[Callable[[Observation], Hashable | None], str]]:
    """Each dimension: how a post's group is found, and what its groups are called in a sentence."""
    return {
        "contentType": (lambda o: o.content_type, "content types"),
        "hour": (lambda o: o.published_at.astimezone(zone).hour, "hours of the day"),
        "weekday": (lambda o: o.published_at.astimezone(zone).weekday(), "weekdays"),
        "platform": (lambda o: str(o.platform), "platforms"),
    }


def _label(dimension: str, key: Hashable) -> str:
    if dimension == "hour":
        return f"{key:02d}:00"
    if dimension == "weekday":
        return WEEKDAYS[int(str(key))]
    return str(key)


def opportunity_findings(obs: Sequence[Observation], now: datetime, zone: tzinfo) -> list[Finding]:
    recent = [o for o in published_between(obs, now - timedelta(days=WINDOW_DAYS), now) if o.rate is not None]
    if len(recent) < 2 * MIN_GROUP_POSTS:
        return []
    baseline = stats.typical_rate(rates(recent))
    found = []
    for dimension, (group_of, plural) in _dimensions(zone).items():
        finding = _best_group(dimension, plural, group_of, recent, baseline, zone)
        if finding is not None:
            found.append(finding)
    return found


def _best_group(
    dimension: str,
    plural: str,
    group_of: Callable[[Observation], Hashable | None],
    posts: Sequence[Observation],
    baseline: float,
    zone: tzinfo,
) -> Finding | None:
    groups: dict[Hashable, list[float]] = defaultdict(list)
    for o in posts:
        key, rate = group_of(o), o.rate
        if key is not None and rate is not None:
            groups[key].append(rate)
    total = sum(len(v) for v in groups.values())
    eligible = {
        key: values
        for key, values in groups.items()
        if len(values) >= MIN_GROUP_POSTS and total - len(values) >= MIN_GROUP_POSTS
    }
    if len(eligible) < 2:
        return None
    typical = {key: stats.typical_rate(values) for key, values in eligible.items()}
    best = max(sorted(typical, key=str), key=lambda key: typical[key])
    rest = [rate for key, values in groups.items() if key != best for rate in values]
    level = 1.0 - FAMILY_ALPHA / len(eligible)
    interval = stats.rate_ratio_interval(eligible[best], rest, level)
    if not math.isfinite(interval.df) or interval.low <= 1.0:
        return None  # no variation at all in either group is no sample to estimate from
    label = _label(dimension, best)
    lift = interval.ratio - 1.0
    rest_typical = stats.typical_rate(rest)
    evidence: dict[str, Any] = {
        "dimension": dimension,
        "group": label,
        "windowDays": WINDOW_DAYS,
        "posts": interval.n_a,
        "typicalRate": rounded(typical[best], 6),
        "restPosts": interval.n_b,
        "restTypicalRate": rounded(rest_typical, 6),
        "baselineRate": rounded(baseline, 6),
        "ratio": rounded(interval.ratio),
        "interval": {
            "low": rounded(interval.low),
            "high": rounded(interval.high),
            "level": rounded(level, 6),
            "method": "welch-t-on-log-rates",
            "df": rounded(interval.df, 2),
        },
        "effectSize": rounded(interval.r),
        "cohensD": rounded(interval.d),
        "groupsCompared": [
            {"group": _label(dimension, key), "posts": len(eligible[key]), "typicalRate": rounded(value, 6)}
            for key, value in sorted(typical.items(), key=lambda item: -item[1])
        ],
        "minGroupPosts": MIN_GROUP_POSTS,
    }
    if dimension == "hour":
        evidence["timezone"] = str(zone)
    subject_words = {
        "contentType": f"{label.capitalize()} posts",
        "hour": f"Posts at {label}",
        "weekday": f"{label} posts",
        "platform": f"Posts on {label}",
    }[dimension]
    title = f"{subject_words} get {interval.ratio:.1f}x your usual engagement rate"
    description = (
        f"Over the last {WINDOW_DAYS} days, your {interval.n_a} {_phrase(dimension, label)} had a typical "
        f"engagement rate of {percent(typical[best])} against {percent(rest_typical)} for your other "
        f"{interval.n_b} posts: {interval.ratio:.2f}x ({level * 100:.1f}% interval {interval.low:.2f}x "
        f"to {interval.high:.2f}x, adjusted for comparing {len(eligible)} {plural})."
    )
    return Finding(
        type=InsightType.OPPORTUNITY,
        subject=f"{dimension}:{label}",
        title=title,
        description=description,
        impact=impact_of(lift),
        confidence=stats.confidence(interval.n_a, interval.n_b, interval.r),
        evidence=evidence,
        recommendations=(_advice(dimension, label, zone),),
        signal=rounded(lift),
        lifetime=LIFETIME,
    )


def _phrase(dimension: str, label: str) -> str:
    return {
        "contentType": f"{label} posts",
        "hour": f"posts published at {label}",
        "weekday": f"{label} posts",
        "platform": f"posts on {label}",
    }[dimension]


def _advice(dimension: str, label: str, zone: tzinfo) -> str:
    return {
        "contentType": f"Publish more {label} posts, and keep measuring: the advantage holds for the "
        "posts you made, not for any post of that type.",
        "hour": f"Schedule your posts around {label} ({zone}).",
        "weekday": f"Schedule more of your posts on {label}s.",
        "platform": f"Put your strongest content on {label} first.",
    }[dimension]
