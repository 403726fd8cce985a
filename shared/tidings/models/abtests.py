"""A/B tests of post variants as entities: the variants, the post each variant got on each platform,
and the latest evaluation of their metrics. No I/O here: the table's layout is in
`tidings.store.abtests`, the rules in `tidings.engagement.abtests`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

MIN_VARIANTS = 2
MAX_VARIANTS = 4
LABELS = "ABCD"


class ABTestStatus(StrEnum):
    COLLECTING = "collecting"  # the variants are scheduled or out; their metrics are being read
    COMPLETED = "completed"  # a winner was found
    INCONCLUSIVE = "inconclusive"  # decided without a winner (or the sample never reached its minimum)
    STOPPED = "stopped"  # ended by the user
    FAILED = "failed"  # a variant's post was not published: the variants are no longer comparable


FINISHED = frozenset(
    {ABTestStatus.COMPLETED, ABTestStatus.INCONCLUSIVE, ABTestStatus.STOPPED, ABTestStatus.FAILED}
)


class Metric(StrEnum):
    ENGAGEMENT_RATE = "engagementRate"
    CLICKS = "clicks"
    REACH = "reach"


@dataclass(frozen=True)
class VariantPost:
    """The post a variant got on one platform, in slot `slot` (0 first) of that platform."""

    platform: str
    post_id: str
    slot: int
    scheduled_time: datetime


@dataclass(frozen=True)
class Variant:
    label: str  # A, B, C, D in the order given
    content: str
    media_urls: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    posts: tuple[VariantPost, ...] = ()


@dataclass(frozen=True)
class VariantResult:
    """One variant at one evaluation. `impressions`: the audience its posts reached (reach, or views
    where a platform reports no reach); `value`: what the metric counts (engagements, clicks or reach);
    `estimate` and `interval`: the posterior mean and 95 % credible interval of the rate (or of the reach
    per post); `probability_best`: the posterior probability that it is the best variant."""

    label: str
    impressions: int
    value: int
    posts: int
    estimate: float
    interval: tuple[float, float]
    probability_best: float


@dataclass(frozen=True)
class Evaluation:
    """The variants compared at one reading: every post's metrics at the same age after publishing
    (`reading_age_seconds`), over the platforms that report the metric on every variant's post."""

    at: datetime
    reading_age_seconds: float | None
    platforms: tuple[str, ...]
    results: tuple[VariantResult, ...]
    sample_reached: bool
    note: str | None = None  # why nothing can be compared yet


@dataclass(frozen=True)
class ABTest:
    user_id: str
    test_id: str
    name: str
    metric: Metric
    min_sample_size: int
    platforms: tuple[str, ...]
    start: datetime
    spacing_minutes: int
    seed: int  # of the random order of the variants in the slots
    variants: tuple[Variant, ...]
    created_at: datetime
    updated_at: datetime
    status: ABTestStatus = ABTestStatus.COLLECTING
    winner: str | None = None
    final_reason: str | None = None
    evaluation: Evaluation | None = None
    completed_at: datetime | None = None
    insight_id: str | None = None
    version: int = 1

    @property
    def running(self) -> bool:
        return self.status is ABTestStatus.COLLECTING

    def all_posts(self) -> list[tuple[Variant, VariantPost]]:
        return [(v, p) for v in self.variants for p in v.posts]
