"""The readings of a period (`GET /analytics/readings?from=&to=&platform=`): one row per post and
platform published in the period whose metrics have been read, collected from the platform or imported
from a CSV, with its latest engagements, reach, views, audience and engagement rate. What a client
draws by day or by hour of publishing (the dashboard's curve and heat map) is read a page at a time
from one query of the user's records, never post by post.

- The period: `from` (included) to `to` (excluded), ISO 8601 with a UTC offset; `to` defaults to now
  and `from` to the summary's default range before `to`. It is at most the summary's longest range
  (90 days). A record is in it by the summary's own rule (`tidings.analytics.summary.in_period`), so
  `from=<summary.start>&to=<summary.end>` lists the measured posts of the summary's period.
- A record whose metrics have not been read yet is no reading: it is not listed.
- The rows come in the records' key order (platform, then post id), not by time. A page holds up to
  `limit` rows (MAX_PAGE at most); a page may hold fewer, even none, and still a `nextToken` (one page
  reads a bounded number of records): the list ends when `nextToken` is null.
- Every engagement figure follows `tidings.models.post_analytics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tidings.analytics.summary import DEFAULT_RANGE, MAX_PERIOD, RANGES, in_period, parse_platform
from tidings.core.clock import parse_offset_time, to_utc
from tidings.core.errors import ValidationFailed
from tidings.models.post_analytics import PostAnalytics
from tidings.store.post_analytics import PostAnalyticsRepository

MAX_PAGE = 1000
DEFAULT_PAGE = 500


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Reading:
    """One post on one platform: when it went out and its latest metrics."""

    post_id: str
    platform: str
    published_at: datetime
    content_type: str | None
    source: str  # collected or imported
    engagements: int
    reach: int | None
    views: int | None
    audience: int | None  # reach, else views
    engagement_rate: float | None


@dataclass(frozen=True)
class ReadingsPage:
    period: Period
    platform: str | None
    readings: list[Reading]
    next_token: str | None


def parse_time(value: str | None, field: str) -> datetime | None:
    """A period's bound as the caller gave it (None when not given); ValidationFailed otherwise."""
    if value is None or value == "":
        return None
    try:
        return to_utc(parse_offset_time(value.strip()))
    except ValueError as exc:
        hint = (
            " (send the + of an offset as %2B: a + in a query string reads as a space)"
            if " " in value
            else ""
        )
        raise ValidationFailed(f"{field}: {exc}{hint}", {"field": field}, code="invalid_time") from None


def parse_period(start: str | None, end: str | None, now: datetime) -> Period:
    """The period `from`..`to` asks for: `to` defaults to `now`, `from` to the default range before
    `to`. ValidationFailed for a bound that is no time with an offset, a `from` not before `to`, or a
    period longer than MAX_PERIOD."""
    upper = parse_time(end, "to") or now
    lower = parse_time(start, "from") or upper - timedelta(days=RANGES[DEFAULT_RANGE])
    if lower >= upper:
        raise ValidationFailed(
            "from must be before to",
            {"from": lower.isoformat(), "to": upper.isoformat()},
            code="invalid_period",
        )
    if upper - lower > MAX_PERIOD:
        days = MAX_PERIOD.days
        raise ValidationFailed(
            f"a period is at most {days} days",
            {"field": "from", "maxDays": days},
            code="period_too_long",
        )
    return Period(lower, upper)


def parse_limit(value: int | None) -> int:
    chosen = DEFAULT_PAGE if value is None else value
    if not 1 <= chosen <= MAX_PAGE:
        raise ValidationFailed(
            f"limit is 1 to {MAX_PAGE}", {"field": "limit", "max": MAX_PAGE}, code="invalid_limit"
        )
    return chosen


def reading(record: PostAnalytics) -> Reading:
    """A measured record as a reading (ValueError for one whose metrics have not been read)."""
    latest = record.latest
    if latest is None:
        raise ValueError("a record whose metrics have not been read is no reading")
    rate = latest.engagement_rate
    return Reading(
        post_id=record.post_id,
        platform=str(record.platform),
        published_at=record.published_at,
        content_type=record.content_type,
        source=str(record.source),
        engagements=latest.engagements,
        reach=latest.reach,
        views=latest.views,
        audience=latest.audience,
        engagement_rate=round(rate, 6) if rate is not None else None,
    )


def readings_page(
    records: PostAnalyticsRepository,
    user_id: str,
    period: Period,
    platform: str | None = None,
    limit: int | None = None,
    next_token: str | None = None,
) -> ReadingsPage:
    """One page of the user's readings in `period` (of one platform when given). ValidationFailed for
    an unknown platform, a limit out of range, or a token not issued for this list."""
    only, size = parse_platform(platform), parse_limit(limit)

    def keep(record: PostAnalytics) -> bool:
        return record.latest is not None and in_period(record, period.start, period.end, only)

    try:
        found, token = records.page_for_user(user_id, only, keep, size, next_token)
    except ValueError as exc:
        raise ValidationFailed(str(exc), {"field": "nextToken"}, code="invalid_next_token") from exc
    return ReadingsPage(
        period=period,
        platform=str(only) if only else None,
        readings=[reading(r) for r in found],
        next_token=token,
    )
