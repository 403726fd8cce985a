"""The A/B test rule on simulated data with a known truth: between equal variants a false winner stays
within the stated level (5 % per variant), a real gap is found, the minimum sample is honoured, posts
are compared at the same age and on the platforms that report the metric; the probabilities match a
Monte Carlo estimate; and the slots are comparable, alternating and random."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from abtest_data import NOW, ab_test, record, records_of

from tidings.core.errors import ValidationFailed
from tidings.engagement.abtests.rule import THRESHOLD, decide, evaluate
from tidings.engagement.abtests.slots import assign
from tidings.engagement.abtests.stats import compare, count_posterior, rate_posterior
from tidings.models.abtests import ABTestStatus, Metric
from tidings.models.post_analytics import PostMetrics

HOUR = timedelta(hours=1)


def _binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(1 for _ in range(n) if rng.random() < p)


def _winner(rng: random.Random, rates: list[float], impressions: int) -> str | None:
    test = ab_test(variants=len(rates))
    counts = [(impressions, _binomial(rng, impressions, p)) for p in rates]
    verdict = decide(evaluate(test, records_of(test, counts), NOW))
    assert verdict is not None
    return verdict.winner


def test_probabilities_agree_with_monte_carlo() -> None:
    rng = random.Random(7)
    draws = 100_000
    a, b = rate_posterior(50, 1000), rate_posterior(65, 1000)
    sampled = sum(rng.betavariate(b.a, b.b) > rng.betavariate(a.a, a.b) for _ in range(draws)) / draws

    (_, p_b) = compare([a, b]).probability_best

    assert p_b == pytest.approx(sampled, abs=0.005)  # 3.5 standard errors of the sampled value


def test_credible_interval_holds_95_percent_of_the_posterior() -> None:
    posterior = rate_posterior(120, 2000)
    ((low, high),) = compare([posterior, rate_posterior(1, 2)]).intervals[:1]
    sd = posterior.sd

    assert low < posterior.mean < high
    assert (high - low) / (2 * 1.96 * sd) == pytest.approx(1, abs=0.03)  # near-normal at this size


def test_two_equal_variants_give_a_false_winner_within_the_stated_level() -> None:
    rng = random.Random(2026)
    runs = 1500
    winners = [_winner(rng, [0.05, 0.05], 1000) for _ in range(runs)]
    rate = sum(w is not None for w in winners) / runs
    level = 2 * (1 - THRESHOLD)  # each variant at most 5 %
    allowance = 3 * math.sqrt(level * (1 - level) / runs)

    assert rate <= level + allowance
    # and neither variant is favoured
    assert abs(winners.count("A") - winners.count("B")) <= 3 * math.sqrt(runs * level)


def test_four_equal_variants_give_a_false_winner_within_the_stated_level() -> None:
    rng = random.Random(11)
    runs = 400
    rate = sum(_winner(rng, [0.04] * 4, 1000) is not None for _ in range(runs)) / runs

    assert rate <= 4 * (1 - THRESHOLD)


def test_deciding_at_every_reading_would_exceed_the_level() -> None:
    """Why the rule looks once: the same equal variants, judged at six growing readings with a stop at
    the first probability over 0.95, declare a false winner far more often than 10 %."""
    rng = random.Random(5)
    runs, false = 300, 0
    for _ in range(runs):
        test = ab_test(min_sample=100)
        totals = [[0, 0], [0, 0]]
        for step in (300, 300, 600, 1200, 2400, 4800):
            for t in totals:
                t[0] += step
                t[1] += _binomial(rng, step, 0.05)
            verdict = decide(evaluate(test, records_of(test, [tuple(t) for t in totals]), NOW))  # type: ignore[misc]
            if verdict is not None and verdict.winner is not None:
                false += 1
                break

    assert false / runs > 0.2


def test_a_real_gap_is_found() -> None:
    rng = random.Random(3)
    winners = [_winner(rng, [0.05, 0.08], 3000) for _ in range(200)]

    assert winners.count("B") >= 190
    assert "A" not in winners


def test_the_minimum_sample_is_honoured() -> None:
    test = ab_test(min_sample=2000)
    evaluation = evaluate(test, records_of(test, [(1500, 30), (1500, 150)]), NOW)

    assert evaluation.results[1].probability_best > 0.999  # clear already...
    assert evaluation.sample_reached is False
    assert decide(evaluation) is None  # ...but nothing is decided short of 2,000 impressions each

    enough = evaluate(test, records_of(test, [(2000, 40), (2000, 200)]), NOW)
    verdict = decide(enough)
    assert verdict is not None
    assert (verdict.status, verdict.winner) == (ABTestStatus.COMPLETED, "B")


def test_a_sample_reached_without_a_clear_best_is_inconclusive() -> None:
    test = ab_test()
    verdict = decide(evaluate(test, records_of(test, [(2000, 100), (2000, 104)]), NOW))

    assert verdict is not None
    assert (verdict.status, verdict.winner) == (ABTestStatus.INCONCLUSIVE, None)


def test_posts_are_compared_at_the_same_age() -> None:
    test = ab_test()
    early, late = PostMetrics(reach=1000, likes=10), PostMetrics(reach=3000, likes=300)
    # variant A has its 24-hour reading; B only its 6-hour one: A is compared at 6 hours too
    a = record(test, 0, "facebook", [(6 * HOUR + 3 * timedelta(minutes=1), early), (24 * HOUR, late)])
    b = record(test, 1, "facebook", [(6 * HOUR, early)])

    evaluation = evaluate(test, {("facebook", a.post_id): a, ("facebook", b.post_id): b}, NOW)

    assert evaluation.reading_age_seconds == 6 * 3600
    assert [r.impressions for r in evaluation.results] == [1000, 1000]


def test_only_platforms_reporting_the_metric_on_every_variant_count() -> None:
    test = ab_test(platforms=("facebook", "twitter"), metric=Metric.CLICKS)
    day = 24 * HOUR
    records = {}
    for v in (0, 1):
        fb = record(test, v, "facebook", [(day, PostMetrics(reach=1000, clicks=20 + 20 * v))])
        x = record(test, v, "twitter", [(day, PostMetrics(views=5000, clicks=None))])
        records[("facebook", fb.post_id)] = fb
        records[("twitter", x.post_id)] = x

    evaluation = evaluate(test, records, NOW)

    assert evaluation.platforms == ("facebook",)
    assert [(r.impressions, r.value) for r in evaluation.results] == [(1000, 20), (1000, 40)]


def test_reach_uses_the_poisson_gamma_model() -> None:
    a, b = count_posterior(1000, 1), count_posterior(1200, 1)
    (_, p_b) = compare([a, b]).probability_best

    # reach 1,000 against 1,200: a difference of about 4.3 Poisson standard deviations
    assert p_b > 0.999
    test = ab_test(metric=Metric.REACH)
    evaluation = evaluate(test, records_of(test, [(1000, 0), (1200, 0)]), NOW)
    assert evaluation.results[1].estimate == pytest.approx(1201)


def test_nothing_is_compared_before_every_post_has_a_reading() -> None:
    test = ab_test()
    only_a = {k: v for k, v in list(records_of(test, [(2000, 100), (2000, 300)]).items())[:1]}

    evaluation = evaluate(test, only_a, NOW)

    assert evaluation.results == ()
    assert decide(evaluation) is None


# -- slots ---------------------------------------------------------------------------------------------

EASTERN = timezone(timedelta(hours=-4))


def test_slots_alternate_between_platforms_at_the_same_times() -> None:
    start = datetime(2026, 7, 7, 10, 0, tzinfo=EASTERN)

    slots = assign(2, ["facebook", "linkedin"], start, 30, seed=1)

    by_platform = {p: [s.variant for s in slots if s.platform == p] for p in ("facebook", "linkedin")}
    assert by_platform["facebook"] == by_platform["linkedin"][::-1]
    assert sorted({s.time for s in slots}) == [start, start + timedelta(minutes=30)]


def test_four_variants_take_each_position_once_over_four_platforms() -> None:
    start = datetime(2026, 7, 7, 10, 0, tzinfo=EASTERN)
    platforms = ["facebook", "linkedin", "twitter", "instagram"]

    slots = assign(4, platforms, start, 30, seed=9)

    for variant in range(4):
        assert sorted(s.slot for s in slots if s.variant == variant) == [0, 1, 2, 3]


def test_the_assignment_is_random() -> None:
    start = datetime(2026, 7, 7, 10, 0, tzinfo=UTC)
    first = {assign(3, ["facebook"], start, 30, seed=seed)[0].variant for seed in range(40)}

    assert first == {0, 1, 2}


@pytest.mark.parametrize(
    ("start", "spacing"),
    [
        (datetime(2026, 7, 7, 23, 0, tzinfo=EASTERN), 40),  # the last slot falls on the next day
        (datetime(2026, 7, 7, 9, 0, tzinfo=EASTERN), 91),  # three slots over 182 minutes
    ],
)
def test_slots_that_are_not_comparable_are_refused(start: datetime, spacing: int) -> None:
    with pytest.raises(ValidationFailed) as raised:
        assign(3, ["facebook"], start, spacing, seed=1)

    assert raised.value.code == "slots_not_comparable"
