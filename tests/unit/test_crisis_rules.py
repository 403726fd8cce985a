"""The crisis rules on made-up comment histories: each signal fires on a clear case and stays quiet
below its minimum volume or against a baseline that explains the window; the points make the
documented severities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tidings.engagement.crisis import rules
from tidings.engagement.crisis.rules import CommentFact, Fired, assess, severity_of
from tidings.models.crises import CrisisSeverity, CrisisSignal

NOW = datetime(2026, 5, 4, 18, 0, tzinfo=UTC)


def facts(
    n: int,
    *,
    sentiment: str | None = "neutral",
    decision: str = "no_response",
    start: datetime = NOW - timedelta(hours=2),
    every: timedelta = timedelta(minutes=5),
    authors: int | None = None,
) -> list[CommentFact]:
    return [
        CommentFact(
            created_at=start + i * every,
            sentiment=sentiment,
            decision=decision,
            author=f"a{i % authors if authors else i}",
        )
        for i in range(n)
    ]


def baseline(n: int, negative: int) -> list[CommentFact]:
    """`n` analysed comments spread over the baseline days, `negative` of them negative."""
    every = timedelta(days=rules.BASELINE_DAYS) / (n + 1)
    start = NOW - rules.WINDOW - timedelta(days=rules.BASELINE_DAYS) + every
    out = facts(n, start=start, every=every)
    return [
        CommentFact(c.created_at, "negative" if i < negative else "positive", c.decision, c.author)
        for i, c in enumerate(out)
    ]


def signals(comments: list[CommentFact], **kwargs: object) -> list[CrisisSignal]:
    return assess(comments, NOW, **kwargs).signals  # type: ignore[arg-type]


# -- negative spike --------------------------------------------------------------------------------


def test_a_negative_window_against_a_calm_baseline_is_a_spike() -> None:
    window = facts(8, sentiment="negative") + facts(4, sentiment="positive", start=NOW - timedelta(hours=1))
    found = assess(baseline(100, 10) + window, NOW)
    assert found.signals == [CrisisSignal.NEGATIVE_SPIKE]
    evidence = found.evidence["negative_spike"]
    assert evidence["windowShare"] == pytest.approx(8 / 12, abs=1e-4)
    assert evidence["baselineShare"] == pytest.approx(0.10)
    assert evidence["baseline"] == "user"


def test_three_negative_comments_are_not_a_crisis() -> None:
    assert signals(baseline(100, 5) + facts(3, sentiment="negative")) == []


def test_below_the_minimum_of_analysed_comments_no_spike_however_negative() -> None:
    window = facts(rules.MIN_WINDOW_COMMENTS - 1, sentiment="negative")
    assert signals(baseline(100, 5) + window) == []
    assert signals(baseline(100, 5) + window + facts(1, sentiment="negative", start=NOW)) == [
        CrisisSignal.NEGATIVE_SPIKE
    ]


def test_comments_not_analysed_yet_do_not_count_towards_the_share() -> None:
    window = facts(6, sentiment="negative") + facts(10, sentiment=None, start=NOW - timedelta(minutes=50))
    assert CrisisSignal.NEGATIVE_SPIKE not in signals(baseline(100, 5) + window)


def test_a_user_whose_comments_are_usually_negative_has_no_spike_at_the_same_share() -> None:
    window = facts(7, sentiment="negative") + facts(5, sentiment="positive", start=NOW - timedelta(hours=1))
    assert signals(baseline(100, 50) + window) == []  # 58 % against a usual 50 %
    assert signals(baseline(100, 10) + window) == [CrisisSignal.NEGATIVE_SPIKE]  # against a usual 10 %


def test_a_thin_baseline_is_replaced_by_the_default_share() -> None:
    window = facts(12, sentiment="negative")
    found = assess(baseline(rules.MIN_BASELINE_COMMENTS - 1, 19) + window, NOW)
    evidence = found.evidence["negative_spike"]
    assert evidence["baseline"] == "default"
    assert evidence["baselineShare"] == rules.DEFAULT_BASELINE_SHARE


def test_the_spike_threshold_is_thirty_points_above_the_baseline() -> None:
    # a baseline of 20 % negative; 5 of 10 (50 %) is exactly 30 points: not more than 30
    positive = facts(5, sentiment="positive", start=NOW - timedelta(hours=1))
    at_threshold = facts(5, sentiment="negative") + positive
    assert signals(baseline(100, 20) + at_threshold) == []
    above = at_threshold + facts(1, sentiment="negative", start=NOW)
    assert signals(baseline(100, 20) + above) == [CrisisSignal.NEGATIVE_SPIKE]


def test_comments_older_than_the_window_are_baseline_not_window() -> None:
    old = facts(12, sentiment="negative", start=NOW - rules.WINDOW - timedelta(hours=2))
    assert CrisisSignal.NEGATIVE_SPIKE not in signals(baseline(100, 5) + old)


# -- burst -----------------------------------------------------------------------------------------


def steady(per_hour: int) -> list[CommentFact]:
    """`per_hour` comments in every hour of the baseline."""
    start = NOW - rules.WINDOW - timedelta(days=rules.BASELINE_DAYS)
    hours = rules.BASELINE_DAYS * 24
    return [
        CommentFact(start + timedelta(hours=h, minutes=60 * k / per_hour), "positive", "no", f"b{h}-{k}")
        for h in range(hours)
        for k in range(per_hour)
    ]


def last_hour(n: int) -> list[CommentFact]:
    return facts(n, sentiment="positive", start=NOW - timedelta(minutes=59), every=timedelta(seconds=30))


def test_a_burst_far_above_the_hourly_baseline_fires_with_its_z_score() -> None:
    found = assess(steady(2) + last_hour(30), NOW)
    assert found.signals == [CrisisSignal.COMMENT_BURST]
    evidence = found.evidence["comment_burst"]
    assert evidence["baselineMeanPerHour"] == pytest.approx(2.0)
    assert evidence["z"] == pytest.approx((30 - 2) / 2**0.5, abs=0.01)  # sd floored at sqrt(mean)


def test_a_busy_account_at_its_usual_rate_has_no_burst() -> None:
    assert signals(steady(5) + last_hour(5)) == []
    # 25 in an hour is far above 5 an hour (z = 20 / sqrt(5) = 8.9): a burst
    assert signals(steady(5) + last_hour(25)) == [CrisisSignal.COMMENT_BURST]


def test_below_the_minimum_count_no_burst_even_from_silence() -> None:
    assert signals(last_hour(rules.MIN_BURST_COMMENTS - 1)) == []
    assert signals(last_hour(rules.MIN_BURST_COMMENTS)) == [CrisisSignal.COMMENT_BURST]


def test_z_below_three_is_no_burst() -> None:
    # a mean of 16 an hour (sd floor 4): 27 is z = 2.75, 29 is z = 3.25
    assert signals(steady(16) + last_hour(27)) == []
    assert signals(steady(16) + last_hour(29)) == [CrisisSignal.COMMENT_BURST]


def test_the_hourly_counts_include_quiet_hours() -> None:
    counts = rules.hourly_counts(facts(2, start=NOW - timedelta(hours=3)), NOW - timedelta(hours=4), NOW)
    assert counts == [0, 2, 0, 0]


# -- escalation ------------------------------------------------------------------------------------


def test_escalations_from_several_authors_fire() -> None:
    found = assess(facts(5, decision="escalate", authors=3), NOW)
    assert found.signals == [CrisisSignal.ESCALATION]
    assert found.evidence["escalation"]["escalations"] == 5


def test_too_few_escalations_or_authors_do_not_fire() -> None:
    assert signals(facts(rules.MIN_ESCALATIONS - 1, decision="escalate", authors=4)) == []
    assert signals(facts(8, decision="escalate", authors=2)) == []  # one angry pair is not a crisis


# -- engagement and severity -----------------------------------------------------------------------


def test_an_engagement_drop_alone_opens_nothing_but_adds_to_a_crisis() -> None:
    alone = assess([], NOW, engagement_change=-0.35)
    assert alone.signals == [CrisisSignal.ENGAGEMENT_DROP]
    assert alone.severity is None
    escalated = facts(5, decision="escalate", authors=5)
    assert assess(escalated, NOW).severity == CrisisSeverity.MEDIUM
    assert assess(escalated, NOW, engagement_change=-0.35).severity == CrisisSeverity.HIGH
    assert assess(escalated, NOW, engagement_change=-0.15).severity == CrisisSeverity.MEDIUM  # under 20 %


def fired(signal: CrisisSignal, strong: bool = False) -> Fired:
    return Fired(signal, strong, {})


@pytest.mark.parametrize(
    ("found", "severity"),
    [
        ([fired(CrisisSignal.COMMENT_BURST)], CrisisSeverity.LOW),
        ([fired(CrisisSignal.COMMENT_BURST, strong=True)], CrisisSeverity.MEDIUM),
        ([fired(CrisisSignal.NEGATIVE_SPIKE)], CrisisSeverity.MEDIUM),
        ([fired(CrisisSignal.NEGATIVE_SPIKE, strong=True)], CrisisSeverity.HIGH),
        ([fired(CrisisSignal.NEGATIVE_SPIKE), fired(CrisisSignal.COMMENT_BURST)], CrisisSeverity.HIGH),
        ([fired(CrisisSignal.NEGATIVE_SPIKE), fired(CrisisSignal.ESCALATION)], CrisisSeverity.HIGH),
        (
            [fired(CrisisSignal.NEGATIVE_SPIKE, strong=True), fired(CrisisSignal.ESCALATION)],
            CrisisSeverity.CRITICAL,
        ),
        ([fired(CrisisSignal.ENGAGEMENT_DROP, strong=True)], None),
    ],
)
def test_severity_from_points(found: list[Fired], severity: CrisisSeverity | None) -> None:
    assert severity_of(found) == severity


def test_a_strong_negative_spike_is_high() -> None:
    found = assess(baseline(100, 5) + facts(12, sentiment="negative"), NOW)
    assert found.severity == CrisisSeverity.HIGH
