"""The A/B test statistics, pure and deterministic: posteriors of each variant's metric, the
probability that each variant is the best, and equal-tailed credible intervals.

- Rates (engagement rate, clicks per impression): successes out of trials, a Beta(1, 1) prior, so the
  posterior of the rate is Beta(1 + successes, 1 + trials - successes) (beta-binomial model).
- Counts per post (reach): a Poisson count per post, a Gamma(1, 0) prior, so the posterior of the
  count a post gets is Gamma(1 + total, posts) (Poisson-gamma model).

The probability that variant i is the best is the integral of p_i(x) * prod_j F_j(x) over x (p the
posterior density, F its distribution function), computed by the trapezoidal rule on a grid that puts
GRID_POINTS points across each posterior's own bulk (its mean +- SPAN_SDS standard deviations), so a
narrow posterior beside a wide one is resolved as well as the wide one. No sampling: the same data
always give the same probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

GRID_POINTS = 240  # grid points across each posterior's bulk
SPAN_SDS = 9.0  # the bulk: mean +- this many standard deviations (a tail beyond holds < 1e-18)
CREDIBLE_LEVEL = 0.95


class Model(StrEnum):
    BETA_BINOMIAL = "beta-binomial"
    POISSON_GAMMA = "poisson-gamma"


@dataclass(frozen=True)
class Posterior:
    """Beta(a, b) for a rate, or Gamma(shape a, rate b) for a count per post."""

    model: Model
    a: float
    b: float

    @property
    def mean(self) -> float:
        if self.model is Model.BETA_BINOMIAL:
            return self.a / (self.a + self.b)
        return self.a / self.b

    @property
    def sd(self) -> float:
        a, b = self.a, self.b
        if self.model is Model.BETA_BINOMIAL:
            return math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        return math.sqrt(a) / b

    def bounds(self) -> tuple[float, float]:
        top = 1.0 if self.model is Model.BETA_BINOMIAL else math.inf
        return max(0.0, self.mean - SPAN_SDS * self.sd), min(top, self.mean + SPAN_SDS * self.sd)

    def log_density(self, x: float) -> float:
        """The log density up to a constant (it is normalised on the grid)."""
        a, b = self.a, self.b
        if self.model is Model.BETA_BINOMIAL:
            if not 0.0 < x < 1.0:
                return _edge(x, a, b)
            return (a - 1) * math.log(x) + (b - 1) * math.log1p(-x)
        if x <= 0.0:
            return 0.0 if a == 1 else -math.inf
        return (a - 1) * math.log(x) - b * x


def _edge(x: float, a: float, b: float) -> float:
    """Beta's log density at 0 or 1: finite only where the exponent there is 0."""
    exponent = a - 1 if x <= 0.0 else b - 1
    return 0.0 if exponent == 0 else -math.inf


def rate_posterior(successes: int, trials: int) -> Posterior:
    successes = min(max(successes, 0), max(trials, 0))
    return Posterior(Model.BETA_BINOMIAL, 1.0 + successes, 1.0 + max(trials, 0) - successes)


def count_posterior(total: int, posts: int) -> Posterior:
    return Posterior(Model.POISSON_GAMMA, 1.0 + max(total, 0), float(max(posts, 1)))


@dataclass(frozen=True)
class Comparison:
    """Per variant, in the order given: the probability to be the best, and the credible interval."""

    probability_best: tuple[float, ...]
    intervals: tuple[tuple[float, float], ...]


def _grid(posteriors: Sequence[Posterior]) -> list[float]:
    points: set[float] = set()
    for posterior in posteriors:
        low, high = posterior.bounds()
        step = (high - low) / (GRID_POINTS - 1)
        points.update(low + i * step for i in range(GRID_POINTS))
    return sorted(points)


def _densities(posterior: Posterior, grid: Sequence[float]) -> tuple[list[float], list[float]]:
    """The density on the grid and its distribution function, both normalised over the grid."""
    logs = [posterior.log_density(x) for x in grid]
    top = max(logs)
    density = [math.exp(v - top) if v > -math.inf else 0.0 for v in logs]
    cumulative = [0.0]
    for i in range(1, len(grid)):
        cumulative.append(cumulative[-1] + (density[i] + density[i - 1]) * (grid[i] - grid[i - 1]) / 2)
    total = cumulative[-1] or 1.0
    return [d / total for d in density], [min(1.0, c / total) for c in cumulative]


def _quantile(grid: Sequence[float], cdf: Sequence[float], q: float) -> float:
    for i in range(1, len(grid)):
        if cdf[i] >= q:
            span = cdf[i] - cdf[i - 1]
            share = (q - cdf[i - 1]) / span if span > 0 else 0.0
            return grid[i - 1] + share * (grid[i] - grid[i - 1])
    return grid[-1]


def compare(posteriors: Sequence[Posterior], level: float = CREDIBLE_LEVEL) -> Comparison:
    """The probability that each posterior's quantity is the largest, and each one's equal-tailed
    credible interval at `level`."""
    if len(posteriors) < 2 or len({p.model for p in posteriors}) != 1:
        raise ValueError("compare two or more posteriors of one model")
    grid = _grid(posteriors)
    parts = [_densities(p, grid) for p in posteriors]
    raw: list[float] = []
    for i, (density, _) in enumerate(parts):
        integrand = []
        for n, x_density in enumerate(density):
            value = x_density
            for j, (_, cdf) in enumerate(parts):
                if j != i:
                    value *= cdf[n]
            integrand.append(value)
        raw.append(
            sum((integrand[n] + integrand[n - 1]) * (grid[n] - grid[n - 1]) / 2 for n in range(1, len(grid)))
        )
    total = sum(raw) or 1.0
    tail = (1 - level) / 2
    intervals = tuple((_quantile(grid, cdf, tail), _quantile(grid, cdf, 1 - tail)) for _, cdf in parts)
    return Comparison(tuple(r / total for r in raw), intervals)
