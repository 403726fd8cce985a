"""The crisis rules: four signals read from the user's comments and analytics, and the severity they make
together (pure: no I/O). Every threshold is a constant here, and each signal's evidence carries the
numbers it rests on and the thresholds it was held to.

**Negative spike.** The share of negative comments (the analysis' sentiment) among the analysed
comments of the last `WINDOW` (6 hours) against the user's baseline, the analysed comments of the
`BASELINE_DAYS` (14) days before the window. It fires when the window's share is more than `SPIKE`
(30 percentage points) above the baseline's, with at least `MIN_WINDOW_COMMENTS` (10) analysed comments
and `MIN_NEGATIVE` (5) negative ones in the window. A baseline of fewer than `MIN_BASELINE_COMMENTS`
(20) comments is too thin to be the user's own: `DEFAULT_BASELINE_SHARE` (10 %, about what the labelled
comment sets show for ordinary traffic) stands in for it, and the evidence says so. A rise of
`STRONG_SPIKE` (50 points) or more is strong.

**Comment burst.** The comments of the last hour against the user's hourly counts in the baseline
period (every hour counted, those without comments too): `z = (x - mean) / s`, with `s` the hourly
counts' standard deviation but never below `sqrt(mean)` (counts of independent comments vary at least
like a Poisson count) nor below 1 (so a quiet account's first few comments do not divide by zero). It
fires at `z >= BURST_Z` (3) with at least `MIN_BURST_COMMENTS` (20) comments in the hour; `z >=
STRONG_BURST_Z` (6) is strong. Only the hours actually read count: when the read stops at
`MAX_COMMENTS`, the baseline begins at the oldest comment read.

**Escalation.** Comments whose analysis decided `escalate` (a threat, legal terms, an emergency or a
scam made public) in the window: at least `MIN_ESCALATIONS` (5) from at least `MIN_ESCALATION_AUTHORS`
(3) authors. `STRONG_ESCALATIONS` (10) or more is strong. A single escalated comment is already shown
to the user as one to answer; it is not a crisis.

**Engagement drop.** The analytics warning `engagement_rate` (the last 14 days' typical engagement rate
more than 20 % below the 90 days before, with its own minimum of 10 and 20 posts and a Mann-Whitney
test), while it is active. A drop of 40 % or more is strong. It adds to a crisis' severity but never
opens one by itself: the analytics warning already reports it.

**Severity.** Points per signal: negative spike 2, escalation 2, comment burst 1, engagement drop 1,
each one more when strong. 1 point is `low`, 2 `medium`, 3 or 4 `high`, 5 or more `critical`. So a
negative spike alone is `medium`, a strong one `high`; a spike with a burst is `high`; a strong spike
with escalations is `critical`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tidings.models.crises import CrisisSeverity, CrisisSignal

WINDOW = timedelta(hours=6)
BURST_WINDOW = timedelta(hours=1)
BASELINE_DAYS = 14
MAX_COMMENTS = 2_000

SPIKE = 0.30
STRONG_SPIKE = 0.50
MIN_WINDOW_COMMENTS = 10
MIN_NEGATIVE = 5
MIN_BASELINE_COMMENTS = 20
DEFAULT_BASELINE_SHARE = 0.10

BURST_Z = 3.0
STRONG_BURST_Z = 6.0
MIN_BURST_COMMENTS = 20

MIN_ESCALATIONS = 5
MIN_ESCALATION_AUTHORS = 3
STRONG_ESCALATIONS = 10

DROP = 0.20
STRONG_DROP = 0.40

POINTS = {
    CrisisSignal.NEGATIVE_SPIKE: 2,
    CrisisSignal.ESCALATION: 2,
    CrisisSignal.COMMENT_BURST: 1,
    CrisisSignal.ENGAGEMENT_DROP: 1,
}
# The signals that can open a crisis (and keep one open): those read from the comments.
COMMENT_SIGNALS = frozenset(
    {CrisisSignal.NEGATIVE_SPIKE, CrisisSignal.COMMENT_BURST, CrisisSignal.ESCALATION}
)


@dataclass(frozen=True)
class CommentFact:
    """What the rules need of one comment."""

    created_at: datetime
    sentiment: str | None  # None until analysed
    decision: str | None
    author: str | None


@dataclass(frozen=True)
class Fired:
    signal: CrisisSignal
    strong: bool
    evidence: dict[str, Any]


@dataclass(frozen=True)
class Assessment:
    fired: tuple[Fired, ...]
    severity: CrisisSeverity | None  # None when no comment signal fires

    @property
    def signals(self) -> list[CrisisSignal]:
        return [f.signal for f in self.fired]

    @property
    def evidence(self) -> dict[str, dict[str, Any]]:
        return {str(f.signal): f.evidence for f in self.fired}


def _r(value: float, digits: int = 4) -> float:
    return round(value, digits)


def negative_spike(window: Sequence[CommentFact], baseline: Sequence[CommentFact]) -> Fired | None:
    analysed = [c for c in window if c.sentiment is not None]
    negative = sum(c.sentiment == "negative" for c in analysed)
    base = [c for c in baseline if c.sentiment is not None]
    base_negative = sum(c.sentiment == "negative" for c in base)
    if len(analysed) < MIN_WINDOW_COMMENTS or negative < MIN_NEGATIVE:
        return None
    own = len(base) >= MIN_BASELINE_COMMENTS
    base_share = base_negative / len(base) if own else DEFAULT_BASELINE_SHARE
    share = negative / len(analysed)
    rise = share - base_share
    if rise <= SPIKE:
        return None
    return Fired(
        CrisisSignal.NEGATIVE_SPIKE,
        rise >= STRONG_SPIKE,
        {
            "windowHours": WINDOW.total_seconds() / 3600,
            "windowComments": len(analysed),
            "windowNegative": negative,
            "windowShare": _r(share),
            "baselineDays": BASELINE_DAYS,
            "baselineComments": len(base),
            "baselineNegative": base_negative,
            "baselineShare": _r(base_share),
            "baseline": "user" if own else "default",
            "rise": _r(rise),
            "threshold": SPIKE,
            "minWindowComments": MIN_WINDOW_COMMENTS,
            "minNegative": MIN_NEGATIVE,
            "minBaselineComments": MIN_BASELINE_COMMENTS,
        },
    )


def hourly_counts(comments: Sequence[CommentFact], start: datetime, end: datetime) -> list[int]:
    """Comments per whole hour from `start` to `end` (hours without comments count 0)."""
    hours = max(0, int((end - start).total_seconds() // 3600))
    counts = [0] * hours
    for c in comments:
        if start <= c.created_at < end:
            index = int((c.created_at - start).total_seconds() // 3600)
            if index < hours:
                counts[index] += 1
    return counts


def comment_burst(last_hour: int, baseline_hours: Sequence[int]) -> Fired | None:
    if last_hour < MIN_BURST_COMMENTS:
        return None
    mean = statistics.fmean(baseline_hours) if baseline_hours else 0.0
    spread = statistics.pstdev(baseline_hours) if len(baseline_hours) > 1 else 0.0
    scale = max(spread, math.sqrt(mean), 1.0)
    z = (last_hour - mean) / scale
    if z < BURST_Z:
        return None
    return Fired(
        CrisisSignal.COMMENT_BURST,
        z >= STRONG_BURST_Z,
        {
            "lastHourComments": last_hour,
            "baselineHours": len(baseline_hours),
            "baselineMeanPerHour": _r(mean),
            "baselineStdDev": _r(spread),
            "scale": _r(scale),
            "z": _r(z, 2),
            "threshold": BURST_Z,
            "minComments": MIN_BURST_COMMENTS,
            "rule": "z = (x - mean) / max(stddev, sqrt(mean), 1)",
        },
    )


def escalation(window: Sequence[CommentFact]) -> Fired | None:
    escalated = [c for c in window if c.decision == "escalate"]
    authors = {c.author or f"unknown-{i}" for i, c in enumerate(escalated)}
    if len(escalated) < MIN_ESCALATIONS or len(authors) < MIN_ESCALATION_AUTHORS:
        return None
    return Fired(
        CrisisSignal.ESCALATION,
        len(escalated) >= STRONG_ESCALATIONS,
        {
            "windowHours": WINDOW.total_seconds() / 3600,
            "escalations": len(escalated),
            "authors": len(authors),
            "minEscalations": MIN_ESCALATIONS,
            "minAuthors": MIN_ESCALATION_AUTHORS,
        },
    )


def engagement_drop(change: float | None, evidence: dict[str, Any] | None = None) -> Fired | None:
    """`change`: the active engagement-rate warning's relative change (e.g. -0.3), None without one."""
    if change is None or -change <= DROP:
        return None
    return Fired(
        CrisisSignal.ENGAGEMENT_DROP,
        -change >= STRONG_DROP,
        {
            "change": _r(change),
            "threshold": -DROP,
            "source": "insight warning engagement_rate",
            **(evidence or {}),
        },
    )


def severity_of(fired: Sequence[Fired]) -> CrisisSeverity | None:
    """The severity the signals make together; None unless a comment signal fires."""
    if not any(f.signal in COMMENT_SIGNALS for f in fired):
        return None
    points = sum(POINTS[f.signal] + (1 if f.strong else 0) for f in fired)
    if points >= 5:
        return CrisisSeverity.CRITICAL
    if points >= 3:
        return CrisisSeverity.HIGH
    if points == 2:
        return CrisisSeverity.MEDIUM
    return CrisisSeverity.LOW


def assess(
    comments: Sequence[CommentFact],
    now: datetime,
    *,
    engagement_change: float | None = None,
    read_from: datetime | None = None,
) -> Assessment:
    """Every signal at `now` from the user's recent comments (those of the window and the baseline),
    and the engagement warning's change. `read_from`: where the read stopped when it was cut at
    MAX_COMMENTS (the baseline starts there)."""
    window_start = now - WINDOW
    baseline_start = window_start - timedelta(days=BASELINE_DAYS)
    if read_from is not None:
        baseline_start = max(baseline_start, read_from)
    window = [c for c in comments if window_start <= c.created_at <= now]
    baseline = [c for c in comments if baseline_start <= c.created_at < window_start]
    last_hour = sum(now - BURST_WINDOW < c.created_at <= now for c in comments)
    found = [
        negative_spike(window, baseline),
        comment_burst(last_hour, hourly_counts(baseline, baseline_start, window_start)),
        escalation(window),
        engagement_drop(engagement_change),
    ]
    fired = tuple(f for f in found if f is not None)
    return Assessment(fired, severity_of(fired))
