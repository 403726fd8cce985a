"""The analytics summary (`GET /analytics/summary?range=7d|30d|90d&platform=`).

For the posts published in the range (the last 7, 30 or 90 days) and in the range of the same length
before it: totals (posts, posts with metrics, views, reach, each engagement metric, engagements,
audience, site sessions and conversions attributed to the posts), the engagement rate, per platform
and per content type, the top posts, and the change from the previous period.

Everything follows the one engagement definition of `tidings.models.post_analytics`. A period's
engagement rate is pooled: the engagements of the posts that report an audience, over that audience
(reach, or views where reach is not reported); None when no post reports one. A change is relative
(0.25 = up 25 %) and None when the previous period's figure is 0 or unknown. A "post" is one post on
one platform (a post published on two platforms counts twice, once in each platform's block).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.errors import ValidationFailed
from tidings.core.platforms import Platform
from tidings.models.post_analytics import PostAnalytics
from tidings.store.post_analytics import PostAnalyticsRepository

RANGES = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_RANGE = "30d"
MAX_PERIOD = timedelta(days=max(RANGES.values()))  # the longest period read at once
TOP_POSTS = 5
COUNTED = ("views", "reach", "likes", "comments", "shares", "saves", "clicks")
UNKNOWN_TYPE = "unknown"


@dataclass(frozen=True)
class Totals:
    posts: int
    measured: int
    metrics: dict[str, int]  # views, reach, likes, comments, shares, saves, clicks (as reported)
    engagements: int
    audience: int
    engagement_rate: float | None
    site_sessions: int
    conversions: float


@dataclass(frozen=True)
class Comparison:
    current: Totals
    previous: Totals
    change: dict[str, float | None]  # posts, engagements, audience, engagementRate


@dataclass(frozen=True)
class TopPost:
    post_id: str
    platform: str
    content_type: str | None
    published_at: datetime
    engagements: int
    audience: int | None
    engagement_rate: float | None


@dataclass(frozen=True)
class Summary:
    range: str
    start: datetime
    end: datetime
    previous_start: datetime
    platform: str | None
    overall: Comparison
    by_platform: dict[str, Comparison]
    by_content_type: dict[str, Comparison]
    top_posts: list[TopPost]


def totals(records: Iterable[PostAnalytics]) -> Totals:
    posts = measured = engagements = engaged_with_audience = audience = sessions = 0
    conversions = 0.0
    metrics = dict.fromkeys(COUNTED, 0)
    for record in records:
        posts += 1
        if record.site is not None:
            sessions += record.site.sessions
            conversions += record.site.conversions
        latest = record.latest
        if latest is None:
            continue
        measured += 1
        for name, value in latest.reported().items():
            metrics[name] += value
        engagements += latest.engagements
        if latest.audience:
            audience += latest.audience
            engaged_with_audience += latest.engagements
    return Totals(
        posts=posts,
        measured=measured,
        metrics=metrics,
        engagements=engagements,
        audience=audience,
        engagement_rate=round(engaged_with_audience / audience, 6) if audience else None,
        site_sessions=sessions,
        conversions=round(conversions, 4),
    )


def relative_change(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before == 0:
        return None
    return round(after / before - 1.0, 4)


def compare(current: Sequence[PostAnalytics], previous: Sequence[PostAnalytics]) -> Comparison:
    now, before = totals(current), totals(previous)
    return Comparison(
        current=now,
        previous=before,
        change={
            "posts": relative_change(before.posts, now.posts),
            "engagements": relative_change(before.engagements, now.engagements),
            "audience": relative_change(before.audience, now.audience),
            "engagementRate": relative_change(before.engagement_rate, now.engagement_rate),
        },
    )


def _grouped(
    current: Sequence[PostAnalytics], previous: Sequence[PostAnalytics], key: str
) -> dict[str, Comparison]:
    def group(record: PostAnalytics) -> str:
        if key == "platform":
            return str(record.platform)
        return (record.content_type or "").strip().lower() or UNKNOWN_TYPE

    now: dict[str, list[PostAnalytics]] = defaultdict(list)
    before: dict[str, list[PostAnalytics]] = defaultdict(list)
    for record in current:
        now[group(record)].append(record)
    for record in previous:
        before[group(record)].append(record)
    return {name: compare(now.get(name, []), before.get(name, [])) for name in sorted({*now, *before})}


def top_posts(records: Iterable[PostAnalytics], limit: int = TOP_POSTS) -> list[TopPost]:
    """The posts with the most engagements (then the higher rate, then the post id)."""
    measured = [(r, r.latest) for r in records if r.latest is not None]
    measured.sort(key=lambda pair: (-pair[1].engagements, -(pair[1].engagement_rate or 0.0), pair[0].post_id))
    return [
        TopPost(
            post_id=record.post_id,
            platform=str(record.platform),
            content_type=record.content_type,
            published_at=record.published_at,
            engagements=latest.engagements,
            audience=latest.audience,
            engagement_rate=round(rate, 6) if (rate := latest.engagement_rate) is not None else None,
        )
        for record, latest in measured[:limit]
    ]


def in_period(
    record: PostAnalytics, start: datetime, end: datetime, platform: Platform | None = None
) -> bool:
    """Whether a record counts in a period: published from `start` (included) to `end` (excluded), on
    `platform` when one is given. The one rule of the summary's periods and of the readings listed
    for a period (`tidings.analytics.readings`)."""
    return (platform is None or record.platform == platform) and start <= record.published_at < end


def summarize(
    records: Iterable[PostAnalytics], now: datetime, range_name: str, platform: Platform | None = None
) -> Summary:
    days = RANGES[range_name]
    start, previous_start = now - timedelta(days=days), now - timedelta(days=2 * days)
    current: list[PostAnalytics] = []
    previous: list[PostAnalytics] = []
    for record in records:
        if in_period(record, start, now, platform):
            current.append(record)
        elif in_period(record, previous_start, start, platform):
            previous.append(record)
    return Summary(
        range=range_name,
        start=start,
        end=now,
        previous_start=previous_start,
        platform=str(platform) if platform else None,
        overall=compare(current, previous),
        by_platform=_grouped(current, previous, "platform"),
        by_content_type=_grouped(current, previous, "contentType"),
        top_posts=top_posts(current),
    )


def parse_range(value: str | None) -> str:
    chosen = value or DEFAULT_RANGE
    if chosen not in RANGES:
        raise ValidationFailed(
            f"unknown range {chosen!r}", {"field": "range", "supported": list(RANGES)}, code="invalid_range"
        )
    return chosen


def parse_platform(value: str | None) -> Platform | None:
    if value is None or value == "":
        return None
    try:
        return Platform(value.strip().lower())
    except ValueError:
        raise ValidationFailed(
            f"unknown platform {value!r}",
            {"field": "platform", "supported": [p.value for p in Platform]},
            code="invalid_platform",
        ) from None


class AnalyticsSummary:
    """The summary use-case: reads the user's records through the repository, now from the clock."""

    def __init__(self, records: PostAnalyticsRepository, clock: Clock = DEFAULT_CLOCK) -> None:
        self.records = records
        self.clock = clock

    def summary(self, user_id: str, range_name: str | None = None, platform: str | None = None) -> Summary:
        chosen, only = parse_range(range_name), parse_platform(platform)
        return summarize(self.records.for_user(user_id, only), self.clock.now(), chosen, only)
