"""Post analytics records for the insight tests: made-up ones with a known answer, and the real data
sets of ``../shared/corpora/social-engagement`` (see corpus.py) as records.

The Facebook-metrics posts (Moro, Rita and Vala 2016) carry month, weekday and hour but no date: each is
placed in its month of 2014 on its own weekday, in the first, second, third or fourth week of the month
in turn (in file order), at its hour (UTC). Months, weekdays and hours are the data's; the week within
the month is ours. The live-sellers posts (Dehouche 2020) keep their real timestamps (Bangkok time) and
have no reach, so they have engagements but no engagement rate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from corpus import live_seller_samples, load_metrics_posts

from tidings.core.platforms import Platform
from tidings.models.post_analytics import CollectionStatus, PostAnalytics, PostMetrics

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
REACH = 10_000


def record(
    post_id: str,
    published_at: datetime,
    rate: float | None = 0.02,
    *,
    engagements: int | None = None,
    platform: Platform = Platform.FACEBOOK,
    content_type: str | None = "photo",
    user_id: str = "u1",
    status: CollectionStatus = CollectionStatus.COMPLETE,
    stop_reason: str | None = None,
    failures: int = 0,
    measured: bool = True,
) -> PostAnalytics:
    """A record whose engagement rate is `rate` (reach 10,000), or with `engagements` and no reach."""
    if not measured:
        latest = None
    elif engagements is not None:
        latest = PostMetrics(likes=engagements)
    else:
        latest = PostMetrics(reach=REACH, likes=round((rate or 0.0) * REACH))
    return PostAnalytics(
        user_id=user_id,
        post_id=post_id,
        platform=platform,
        published_at=published_at,
        content_type=content_type,
        latest=latest,
        status=status,
        stop_reason=stop_reason,
        failures=failures,
    )


def spread(count: int, start: datetime, end: datetime) -> list[datetime]:
    """`count` times evenly inside [start, end)."""
    step = (end - start) / count
    return [start + step * (i + 0.5) for i in range(count)]


def batch(
    prefix: str,
    rates: Sequence[float],
    start: datetime,
    end: datetime,
    **fields: object,
) -> list[PostAnalytics]:
    """One record per rate, published evenly over [start, end)."""
    return [
        record(f"{prefix}{i}", when, rate, **fields)  # type: ignore[arg-type]
        for i, (rate, when) in enumerate(zip(rates, spread(len(rates), start, end), strict=True))
    ]


def around(centre: float, count: int, spread_by: float = 0.2) -> list[float]:
    """`count` rates around `centre`, from (1 - spread_by) to (1 + spread_by) times it."""
    if count == 1:
        return [centre]
    return [centre * (1 - spread_by + 2 * spread_by * i / (count - 1)) for i in range(count)]


def metrics_records(user_id: str = "fb") -> list[PostAnalytics]:
    weeks: Counter[tuple[int, int]] = Counter()
    records = []
    for i, post in enumerate(load_metrics_posts()):
        first = datetime(2014, post.month, 1, tzinfo=UTC)
        week = weeks[(post.month, post.weekday)] % 4
        weeks[(post.month, post.weekday)] += 1
        day = first + timedelta(days=(post.weekday - first.weekday()) % 7 + 7 * week, hours=post.hour)
        records.append(
            PostAnalytics(
                user_id=user_id,
                post_id=f"fb{i}",
                platform=Platform.FACEBOOK,
                published_at=day,
                content_type=post.content_type,
                latest=PostMetrics(reach=int(post.reach), likes=int(post.interactions)),
                status=CollectionStatus.COMPLETE,
            )
        )
    return records


def live_seller_records(user_id: str = "live") -> list[PostAnalytics]:
    return [
        PostAnalytics(
            user_id=user_id,
            post_id=f"live{i}",
            platform=Platform.FACEBOOK,
            published_at=sample.published_at,
            content_type=sample.content_type,
            latest=PostMetrics(likes=int(sample.engagement)),
            status=CollectionStatus.COMPLETE,
        )
        for i, sample in enumerate(live_seller_samples())
    ]
