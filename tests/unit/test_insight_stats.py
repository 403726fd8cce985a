"""The insights' statistics against known answers: Student t quantiles from printed tables, the
Mann-Whitney p-value against its exact distribution, intervals against their formula, the confidence
formula's documented points, and real engagement data (live sellers, Dehouche 2020; Facebook metrics,
Moro, Rita and Vala 2016)."""

from __future__ import annotations

import math
from itertools import combinations
from statistics import fmean, variance

import pytest
from corpus import load_live_seller_posts, load_metrics_posts

from tidings.analytics.insights import stats


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [
        (0.975, 10, 2.2281),
        (0.975, 30, 2.0423),
        (0.995, 5, 4.0321),
        (0.95, 1, 6.3138),
        (0.9, 3, 1.6377),
        (0.975, 1e6, 1.9600),
        (0.025, 10, -2.2281),
    ],
)
def test_t_quantiles_match_the_printed_tables(p: float, df: float, expected: float) -> None:
    assert stats.t_quantile(p, df) == pytest.approx(expected, abs=1e-4)


def test_the_t_distribution_is_symmetric_and_the_beta_function_has_its_closed_forms() -> None:
    assert stats.t_cdf(0.0, 7) == pytest.approx(0.5)
    assert stats.t_cdf(1.3, 7) == pytest.approx(1.0 - stats.t_cdf(-1.3, 7))
    assert stats.incomplete_beta(1.0, 1.0, 0.3) == pytest.approx(0.3)  # uniform
    assert stats.incomplete_beta(4.0, 4.0, 0.5) == pytest.approx(0.5)  # symmetric
    assert stats.incomplete_beta(2.0, 1.0, 0.6) == pytest.approx(0.36)  # x^a when b = 1
    with pytest.raises(ValueError, match="between 0 and 1"):
        stats.t_quantile(1.0, 5)


def test_u_counts_the_pairs_the_first_group_wins_with_ties_as_halves() -> None:
    # pairs (a, b): 3 beats 1 and 2, ties 3 (a half), loses to 5; 6 beats all four; 0 beats none
    test = stats.mann_whitney([3, 6, 0], [1, 2, 3, 5])

    assert test.u == 2.5 + 4 + 0
    assert test.r == pytest.approx(2 * 6.5 / 12 - 1)


def _exact_two_sided(a: list[float], b: list[float]) -> float:
    """The exact permutation p-value of the rank sum (no ties): count every split of the ranks."""
    n_a, n = len(a), len(a) + len(b)
    ways = [[0] * (n * (n + 1) // 2 + 1) for _ in range(n_a + 1)]  # ways[k][s]: k ranks summing to s
    ways[0][0] = 1
    for rank in range(1, n + 1):
        for k in range(min(rank, n_a), 0, -1):
            for s in range(len(ways[k]) - 1, rank - 1, -1):
                ways[k][s] += ways[k - 1][s - rank]
    ordered = sorted([*a, *b])
    observed = sum(ordered.index(v) + 1 for v in a)
    mean = n_a * (n + 1) / 2
    total = sum(ways[n_a])
    extreme = sum(count for s, count in enumerate(ways[n_a]) if abs(s - mean) >= abs(observed - mean))
    return extreme / total


@pytest.mark.parametrize("shift", [0.0, 0.4, 0.8, 1.2])
def test_the_normal_approximation_is_close_to_the_exact_p_value_from_ten_a_side(shift: float) -> None:
    a = [((i * 7) % 10) / 10 + shift + i * 1e-6 for i in range(10)]
    b = [((i * 3) % 10) / 10 + 0.05 + i * 1e-6 for i in range(10)]

    approximate = stats.mann_whitney(a, b).p_value

    assert approximate == pytest.approx(_exact_two_sided(a, b), abs=0.01)


def test_with_many_ties_the_p_value_stays_close_to_the_exact_one() -> None:
    """Many posts get no engagement at all: the tie-corrected variance keeps the normal approximation
    honest (the exact p-value counts every split of the mid-ranks)."""
    a = [0.0, 0, 0, 0, 0, 0, 1, 1, 2, 5]
    b = [0.0, 0, 0, 1, 2, 3, 3, 4, 6, 9]
    mid_ranks = {0.0: 5.0, 1.0: 11.0, 2.0: 13.5, 3.0: 15.5, 4.0: 17.0, 5.0: 18.0, 6.0: 19.0, 9.0: 20.0}
    ranks = [mid_ranks[v] for v in a + b]
    observed, mean = sum(ranks[:10]), 10 * 21 / 2
    splits = list(combinations(ranks, 10))
    exact = sum(abs(sum(s) - mean) >= abs(observed - mean) - 1e-9 for s in splits) / len(splits)

    assert stats.mann_whitney(a, b).p_value == pytest.approx(exact, abs=0.005)


def test_one_viral_post_does_not_change_the_rank_test() -> None:
    a = [5.0, 8, 12, 3, 9, 14, 2, 7, 11, 6]
    b = [4.0, 6, 10, 3.5, 8.5, 13, 1, 9.5, 2.5, 7.5]
    viral = [v * 10_000 if v == max(a) else v for v in a]  # the best post, by far the best of all

    assert stats.mann_whitney(a, b).p_value == stats.mann_whitney(viral, b).p_value
    assert stats.mann_whitney(viral, b).p_value > 0.5  # no evidence either way


def test_separated_groups_have_r_one_and_identical_groups_p_one() -> None:
    high, low = [20.0 + i for i in range(12)], [float(i) for i in range(12)]

    separated = stats.mann_whitney(high, low)
    assert separated.r == 1.0
    assert separated.p_value < 0.001
    assert stats.mann_whitney(low, high, "less").p_value < 0.001
    assert stats.mann_whitney(low, high, "greater").p_value > 0.99
    same = stats.mann_whitney([1.0] * 10, [1.0] * 10)
    assert (same.p_value, same.r) == (1.0, 0.0)


def test_live_videos_get_more_engagements_than_photos_on_real_data() -> None:
    """Dehouche (2020): the Thai sellers' live videos draw far more reactions, comments and shares."""
    posts = load_live_seller_posts()
    videos = [float(p.engagement) for p in posts if p.status_type == "video"]
    photos = [float(p.engagement) for p in posts if p.status_type == "photo"]

    test = stats.mann_whitney(videos, photos, "greater")

    assert (test.n_a, test.n_b) == (2332, 4242)
    assert test.p_value < 1e-12
    assert 0.3 < test.r < 0.5


def test_photos_beat_links_on_engagement_rate_on_real_data() -> None:
    """Moro, Rita and Vala (2016): photos reach about three times the links' interactions per reach."""
    posts = load_metrics_posts()
    photo = [p.interactions / p.reach for p in posts if p.content_type == "photo"]
    link = [p.interactions / p.reach for p in posts if p.content_type == "link"]

    interval = stats.rate_ratio_interval(photo, link)

    assert interval.low > 2.0
    assert interval.ratio == pytest.approx(3.01, abs=0.01)
    assert stats.mann_whitney(photo, link).p_value < 1e-6


def test_the_rate_interval_is_welchs_on_log_rates() -> None:
    floor = stats.RATE_FLOOR
    b = [0.01, 0.02, 0.015, 0.03, 0.012, 0.025, 0.018, 0.022]
    a = [2 * (r + floor) - floor for r in b]  # exactly twice b on the floored log scale
    logs_a, logs_b = [math.log(v + floor) for v in a], [math.log(v + floor) for v in b]
    se = math.sqrt(variance(logs_a) / 8 + variance(logs_b) / 8)
    df = se**4 / ((variance(logs_a) / 8) ** 2 / 7 + (variance(logs_b) / 8) ** 2 / 7)

    interval = stats.rate_ratio_interval(a, b, 0.9)

    assert interval.ratio == pytest.approx(2.0)
    assert interval.df == pytest.approx(df) == pytest.approx(14.0)  # equal variances, equal sizes
    half = stats.t_quantile(0.95, df) * se
    assert interval.low == pytest.approx(2.0 * math.exp(-half))
    assert interval.high == pytest.approx(2.0 * math.exp(half))
    assert math.log(interval.ratio) == pytest.approx(fmean(logs_a) - fmean(logs_b))


def test_typical_rate_is_the_geometric_mean_on_the_floored_scale() -> None:
    assert stats.typical_rate([0.019, 0.079]) == pytest.approx(math.sqrt(0.02 * 0.08) - 0.001)
    assert stats.typical_rate([0.0, 0.0]) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("n_a", "n_b", "r", "expected"),
    [
        (30, 30, 0.3, 0.5),  # half way at 30 a side, full strength at r = 0.3
        (30, 30, 0.9, 0.5),  # strength is capped
        (100, 100, 0.15, round(100 / 130 * 0.5, 2)),
        (10, 90, 0.3, round(18 / 48, 2)),  # the smaller group dominates n_eff
        (30, 30, -0.3, 0.5),  # direction does not matter
        (30, 30, 0.0, 0.0),
    ],
)
def test_the_confidence_formula(n_a: int, n_b: int, r: float, expected: float) -> None:
    assert stats.confidence(n_a, n_b, r) == expected


def test_confidence_grows_with_data_and_effect_and_never_reaches_one() -> None:
    by_size = [stats.confidence(n, n, 0.2) for n in (10, 20, 50, 200, 1000)]
    by_effect = [stats.confidence(40, 40, r) for r in (0.05, 0.1, 0.2, 0.3)]

    assert by_size == sorted(by_size)
    assert by_effect == sorted(by_effect)
    assert stats.confidence(10**6, 10**6, 1.0) == stats.CONFIDENCE_CAP == 0.99
    assert [stats.count_confidence(k) for k in (0, 1, 3, 9)] == [0.0, 0.25, 0.5, 0.75]
