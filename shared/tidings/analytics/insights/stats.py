"""The statistics the insights rest on, in plain Python (no numpy or scipy in the Lambda layer).

Per-post engagement is skewed: a few posts get most of it, and many get none. So:

- Period-over-period changes (trends, the rate warning) are tested with the **Mann-Whitney U test**
  (two-sided for trends, one-sided "lower" for warnings): it compares ranks, so one viral post cannot
  make a period look better on its own, zeros need no special handling, and it assumes no shape. The
  p-value uses the normal approximation with the tie correction and a continuity correction, which is
  close to the exact permutation p-value from about ten posts per group on (the insight rules never
  test smaller groups; `tests/unit/test_insight_stats.py` checks it against full enumeration). Its
  effect size is the **rank-biserial correlation** r = 2A - 1, where A = U / (n1 n2) is the chance that
  a post of the first group beats one of the second (ties count a half): 0 is no difference, +-1 total
  separation.
- Intervals (how much better a group of posts does than the rest) are **Welch t intervals on log
  values**: the rates are put on a log scale, `ln(rate + 0.001)` (the 0.1 % floor keeps posts with no
  engagement and barely moves typical rates of 1-10 %), where they are close to symmetric; the
  interval for the difference of means, exponentiated, is an interval for the ratio of the groups'
  typical (geometric mean) rates. The Student t quantiles come from the regularised incomplete beta
  function. The same difference is turned into a rank-biserial-like r through Cohen's d
  (A = Phi(d / sqrt 2), r = 2A - 1), so both tests feed one confidence formula.

Confidence (0 to 1), for every statistical insight (`confidence`):

    n_eff      = 2 n1 n2 / (n1 + n2)             the posts the comparison rests on (n when equal)
    size       = n_eff / (n_eff + 30)             half way at 30 posts a side, 0.77 at 100
    strength   = min(1, |r| / 0.3)                full at a medium effect (Cohen: r = 0.3)
    confidence = min(0.99, size x strength), two decimals

It grows with the data and with how clearly the groups differ, never reaches 1 (a finite sample never
settles a question), and is only ever computed for a result that passed its test. A small effect on a
lot of data and a large one on little data both stay modest. Observed facts with no sampling error (a
collection that failed) use `count_confidence`: k / (k + 3) for k observations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean

RATE_FLOOR = 0.001
SIZE_HALF = 30.0  # posts a side at which `size` is one half
STRENGTH_FULL = 0.3  # |r| at which `strength` is full
COUNT_HALF = 3.0
CONFIDENCE_CAP = 0.99


def log_rate(rate: float) -> float:
    return math.log(rate + RATE_FLOOR)


def typical_rate(rates: Sequence[float]) -> float:
    """The geometric mean of the rates on the floored log scale, back on the rate scale."""
    return max(0.0, math.exp(fmean(log_rate(r) for r in rates)) - RATE_FLOOR)


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


# -- Student t -------------------------------------------------------------------------------------


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz evaluation)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 400):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return result


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    # the fraction converges fast on the other side: I_x(a, b) = 1 - I_(1-x)(b, a)
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t such that P(T <= t) = p, for 0 < p < 1 (by bisection on the distribution function)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be strictly between 0 and 1")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
        if high - low < 1e-12:
            break
    return (low + high) / 2.0


# -- Mann-Whitney U --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankTest:
    """Mann-Whitney U of `a` against `b`. `u` counts the pairs in which the `a` post is higher (ties a
    half); `p_value` is for the alternative asked; `r` the rank-biserial correlation (> 0: `a` higher)."""

    n_a: int
    n_b: int
    u: float
    z: float
    p_value: float
    r: float
    alternative: str


def _ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """Mid-ranks (1-based) of `values`, and the ties' correction sum of (t^3 - t)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = 0.0
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        mid = (start + end) / 2.0 + 1.0
        for position in range(start, end + 1):
            ranks[order[position]] = mid
        count = end - start + 1
        ties += count**3 - count
        start = end + 1
    return ranks, ties


def mann_whitney(a: Sequence[float], b: Sequence[float], alternative: str = "two-sided") -> RankTest:
    """Test whether `a` tends to be higher ("greater"), lower ("less") or either ("two-sided") than `b`."""
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"unknown alternative {alternative!r}")
    n_a, n_b = len(a), len(b)
    if n_a == 0 or n_b == 0:
        raise ValueError("both groups need at least one value")
    ranks, ties = _ranks([*a, *b])
    u = sum(ranks[:n_a]) - n_a * (n_a + 1) / 2.0
    n = n_a + n_b
    mean = n_a * n_b / 2.0
    variance = n_a * n_b / 12.0 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    r = 2.0 * u / (n_a * n_b) - 1.0
    if variance <= 0.0:
        return RankTest(n_a, n_b, u, 0.0, 1.0, r, alternative)
    sd = math.sqrt(variance)
    if alternative == "greater":
        z = (u - mean - 0.5) / sd
        p = 1.0 - normal_cdf(z)
    elif alternative == "less":
        z = (u - mean + 0.5) / sd
        p = normal_cdf(z)
    else:
        z = math.copysign(max(0.0, abs(u - mean) - 0.5), u - mean) / sd
        p = min(1.0, 2.0 * (1.0 - normal_cdf(abs(z))))
    return RankTest(n_a, n_b, u, z, p, r, alternative)


# -- Welch interval on log rates -------------------------------------------------------------------


@dataclass(frozen=True)
class RatioInterval:
    """How the typical rate of `a` compares with that of `b`: `ratio` (geometric means, on the floored
    log scale) with its `low`..`high` interval at `level`, Welch's degrees of freedom, and the effect as
    Cohen's d and as r (the rank-biserial scale of `RankTest`)."""

    n_a: int
    n_b: int
    ratio: float
    low: float
    high: float
    level: float
    df: float
    d: float
    r: float


def _variance(values: Sequence[float], mean: float) -> float:
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def rate_ratio_interval(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> RatioInterval:
    """Welch's t interval for mean ln(rate + floor) of `a` less that of `b`, as a ratio of typical rates."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("each group needs at least two rates")
    ya, yb = [log_rate(v) for v in a], [log_rate(v) for v in b]
    ma, mb = fmean(ya), fmean(yb)
    va, vb = _variance(ya, ma), _variance(yb, mb)
    diff = ma - mb
    se2 = va / len(ya) + vb / len(yb)
    if se2 <= 0.0:
        ratio = math.exp(diff)
        d = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        return RatioInterval(
            len(a), len(b), ratio, ratio, ratio, level, math.inf, d, 0.0 if diff == 0 else 1.0
        )
    df = se2**2 / ((va / len(ya)) ** 2 / (len(ya) - 1) + (vb / len(yb)) ** 2 / (len(yb) - 1))
    half = t_quantile(1.0 - (1.0 - level) / 2.0, df) * math.sqrt(se2)
    pooled = math.sqrt(((len(ya) - 1) * va + (len(yb) - 1) * vb) / (len(ya) + len(yb) - 2))
    d = diff / pooled if pooled > 0 else math.copysign(math.inf, diff)
    r = 2.0 * normal_cdf(d / math.sqrt(2.0)) - 1.0
    return RatioInterval(
        len(a), len(b), math.exp(diff), math.exp(diff - half), math.exp(diff + half), level, df, d, r
    )


# -- confidence ------------------------------------------------------------------------------------


def effective_size(n_a: int, n_b: int) -> float:
    return 2.0 * n_a * n_b / (n_a + n_b) if n_a + n_b else 0.0


def confidence(n_a: int, n_b: int, r: float) -> float:
    """size x strength (module docstring): from the posts on each side and the effect r."""
    n_eff = effective_size(n_a, n_b)
    size = n_eff / (n_eff + SIZE_HALF)
    strength = min(1.0, abs(r) / STRENGTH_FULL)
    return min(CONFIDENCE_CAP, round(size * strength, 2))


def count_confidence(observations: int) -> float:
    """For observed facts (no sampling error): k / (k + 3)."""
    k = max(0, observations)
    return min(CONFIDENCE_CAP, round(k / (k + COUNT_HALF), 2))
