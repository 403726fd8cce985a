"""What the A/B test unit tests share: a test with one post per variant and platform, and the
analytics records its posts would have (a reading per age given)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from tidings.core.platforms import Platform
from tidings.models.abtests import ABTest, Metric, Variant, VariantPost
from tidings.models.post_analytics import CollectionStatus, MetricSnapshot, PostAnalytics, PostMetrics

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
START = NOW - timedelta(days=2)


def ab_test(
    variants: int = 2,
    platforms: Sequence[str] = ("facebook",),
    metric: Metric = Metric.ENGAGEMENT_RATE,
    min_sample: int = 1000,
    user: str = "u1",
) -> ABTest:
    made = tuple(
        Variant(
            label="ABCD"[v],
            content=f"variant {v}",
            posts=tuple(
                VariantPost(p, f"post-{v}-{p}", v, START + timedelta(minutes=30 * v)) for p in platforms
            ),
        )
        for v in range(variants)
    )
    return ABTest(
        user_id=user,
        test_id="abt_1",
        name="wording",
        metric=metric,
        min_sample_size=min_sample,
        platforms=tuple(platforms),
        start=START,
        spacing_minutes=30,
        seed=1,
        variants=made,
        created_at=START - timedelta(hours=1),
        updated_at=START - timedelta(hours=1),
    )


def record(
    test: ABTest,
    variant: int,
    platform: str,
    readings: Sequence[tuple[timedelta, PostMetrics]],
    status: CollectionStatus = CollectionStatus.ACTIVE,
) -> PostAnalytics:
    post = next(p for p in test.variants[variant].posts if p.platform == platform)
    return PostAnalytics(
        user_id=test.user_id,
        post_id=post.post_id,
        platform=Platform(platform),
        published_at=post.scheduled_time,
        latest=readings[-1][1] if readings else None,
        history=[MetricSnapshot(at=post.scheduled_time + age, metrics=m) for age, m in readings],
        status=status,
    )


def records_of(
    test: ABTest, counts: Sequence[tuple[int, int]], age: timedelta = timedelta(hours=24)
) -> dict[tuple[str, str], PostAnalytics | None]:
    """One reading per variant (on the test's first platform): (reach, likes)."""
    platform = test.platforms[0]
    out: dict[tuple[str, str], PostAnalytics | None] = {}
    for v, (reach, likes) in enumerate(counts):
        r = record(test, v, platform, [(age, PostMetrics(reach=reach, likes=likes))])
        out[(platform, r.post_id)] = r
    return out
