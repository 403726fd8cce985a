"""How the variants are compared and when a winner is declared.

**The reading.** Every variant's posts are compared at the same age: the common age is the youngest
of the posts' latest snapshots (`reading_age_seconds`), and each post contributes its latest snapshot
no older than that age plus a tolerance (READING_TOLERANCE, plus a tenth of the age: collection
passes run a few minutes late). A platform counts only where every variant's post on it reports what
the metric needs, so each variant is measured on the same platforms.

**The metric.**
- `engagementRate`: engagements (likes, comments, shares, saves, clicks: the one engagement
  definition) out of impressions (reach, or views where the platform reports no reach), each post's
  engagements capped at its impressions; beta-binomial.
- `clicks`: clicks out of impressions (clicks per impression), beta-binomial: a variant is not
  better for being shown more.
- `reach`: the people each post reached, Poisson-gamma (a Poisson count per post, Gamma(1, 0) prior).
  It treats each person reached as an independent arrival, which real posts exceed; prefer a rate
  metric where the audience is the same for every variant.

**The decision** (`decide`) is taken once, at the first evaluation where every variant has at least
`minSampleSize` impressions: the variant whose probability to be the best is at least THRESHOLD (0.95)
wins; otherwise the test is inconclusive. Until then the test is collecting, showing the current
probabilities, which decide nothing. Deciding at one look whose timing depends on the sample size only
(never on the results) keeps the rate of false winners at its stated level: with equal true rates,
each variant is declared the winner in at most 1 - THRESHOLD = 5 % of tests, so two equal variants give
a false winner in at most about 10 % (three or four in less than 5 % x k). Looking again at every
reading and stopping at the first probability over 0.95 would declare a false winner in a third of
such tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from tidings.engagement.abtests.stats import Posterior, compare, count_posterior, rate_posterior
from tidings.models.abtests import ABTest, ABTestStatus, Evaluation, Metric, VariantResult
from tidings.models.post_analytics import PostAnalytics, PostMetrics

THRESHOLD = 0.95
READING_TOLERANCE = timedelta(minutes=20)
DEFAULT_MIN_SAMPLE = 1000

Records = Mapping[tuple[str, str], PostAnalytics | None]  # (platform, post id) -> its analytics


@dataclass(frozen=True)
class Verdict:
    status: ABTestStatus
    winner: str | None
    reason: str


def _counts(metric: Metric, m: PostMetrics) -> tuple[int, int] | None:
    """(impressions, value) of one post's snapshot, or None where the platform does not report them."""
    if metric is Metric.REACH:
        return (m.reach, m.reach) if m.reach is not None else None
    audience = m.audience
    if audience is None:
        return None
    if metric is Metric.CLICKS:
        return (audience, min(m.clicks, audience)) if m.clicks is not None else None
    return audience, min(m.engagements, audience)


def _at_age(record: PostAnalytics, age: float) -> PostMetrics:
    limit = age + READING_TOLERANCE.total_seconds() + age / 10
    chosen = record.history[0].metrics
    for snapshot in record.history:
        if (snapshot.at - record.published_at).total_seconds() <= limit:
            chosen = snapshot.metrics
    return chosen


def _waiting(now: datetime, note: str) -> Evaluation:
    return Evaluation(now, None, (), (), sample_reached=False, note=note)


def evaluate(test: ABTest, records: Records, now: datetime) -> Evaluation:
    """The variants compared at their common reading (see the module doc)."""
    found = {key: r for key, r in records.items() if r is not None and r.history}
    wanted = [(p.platform, p.post_id) for _, p in test.all_posts()]
    if any(key not in found for key in wanted):
        return _waiting(now, "waiting for the first reading of every variant's posts")
    age = min((r.history[-1].at - r.published_at).total_seconds() for r in found.values())
    per_post = {key: _counts(test.metric, _at_age(found[key], age)) for key in wanted}
    platforms = tuple(
        p
        for p in test.platforms
        if all(per_post[(q.platform, q.post_id)] for _, q in test.all_posts() if q.platform == p)
    )
    if not platforms:
        return _waiting(now, f"no platform of the test reports {test.metric} on every variant's post")
    totals = []
    for variant in test.variants:
        counted = [per_post[(p.platform, p.post_id)] for p in variant.posts if p.platform in platforms]
        impressions = sum(c[0] for c in counted if c)
        value = sum(c[1] for c in counted if c)
        totals.append((variant.label, impressions, value, len(counted)))
    posteriors: list[Posterior] = [
        count_posterior(value, posts) if test.metric is Metric.REACH else rate_posterior(value, impressions)
        for _, impressions, value, posts in totals
    ]
    comparison = compare(posteriors)
    results = tuple(
        VariantResult(label, impressions, value, posts, posterior.mean, interval, probability)
        for (label, impressions, value, posts), posterior, interval, probability in zip(
            totals, posteriors, comparison.intervals, comparison.probability_best, strict=True
        )
    )
    reached = all(r.impressions >= test.min_sample_size for r in results)
    return Evaluation(now, age, platforms, results, sample_reached=reached)


def decide(evaluation: Evaluation) -> Verdict | None:
    """The verdict at an evaluation where every variant has its minimum sample; None before."""
    if not evaluation.sample_reached or not evaluation.results:
        return None
    best = max(evaluation.results, key=lambda r: r.probability_best)
    if best.probability_best >= THRESHOLD:
        return Verdict(ABTestStatus.COMPLETED, best.label, "winner_found")
    return Verdict(ABTestStatus.INCONCLUSIVE, None, "no_variant_probably_best")
