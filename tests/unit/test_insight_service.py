"""InsightService with the in-memory repositories and a fake clock: generation stores one insight per
finding and replaces it when generated again, dismissals hold until the evidence changes materially,
findings that stop firing expire a day later, and nobody reads another user's insights."""

from __future__ import annotations

from datetime import timedelta

import pytest
from insight_data import NOW, around, batch

from tidings.analytics.insights.policy import material_change
from tidings.analytics.insights.service import InsightFilter, InsightService
from tidings.core.clock import FakeClock
from tidings.core.errors import NotFound, ValidationFailed
from tidings.models.post_analytics import PostAnalytics
from tidings.store.insights import Impact, Insight, InsightStatus, InsightType
from tidings.store.memory.insights import InMemoryInsightRepository
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository

DAY = timedelta(days=1)


class Setup:
    def __init__(self) -> None:
        self.clock = FakeClock(NOW)
        self.records = InMemoryPostAnalyticsRepository()
        self.insights = InMemoryInsightRepository()
        self.service = InsightService(self.records, self.insights, self.clock)

    def put(self, records: list[PostAnalytics]) -> None:
        for r in records:
            self.records.track(r)

    def replace_all(self, records: list[PostAnalytics]) -> None:
        self.records = InMemoryPostAnalyticsRepository()
        self.put(records)
        self.service.records = self.records


@pytest.fixture
def setup() -> Setup:
    return Setup()


def declining(recent_rate: float = 0.02, user_id: str = "u1") -> list[PostAnalytics]:
    """A warning's worth of posts: the last 14 days at `recent_rate`, the 90 days before at 4 %."""
    start = NOW - 14 * DAY
    return batch("r", around(recent_rate, 12), start, NOW, user_id=user_id) + batch(
        "b", around(0.04, 30), start - 90 * DAY, start, user_id=user_id
    )


def warning_of(insights: list[Insight]) -> Insight:
    (warning,) = [i for i in insights if i.type == InsightType.WARNING]
    return warning


def test_generation_stores_each_finding_once_and_again_replaces_it(setup: Setup) -> None:
    setup.put(declining())

    first = setup.service.generate("u1")
    setup.clock.advance(timedelta(hours=1))
    second = setup.service.generate("u1")

    assert first.created == first.generated == 2  # the warning and what to do about it
    assert (second.created, second.updated) == (0, 2)
    assert len(setup.insights.for_user("u1")) == 2
    warning = warning_of(second.insights)
    assert warning.created_at == NOW  # the same raise
    assert warning.updated_at == NOW + timedelta(hours=1)
    assert warning.expires_at == NOW + timedelta(hours=1) + 7 * DAY
    assert warning.version == 2
    recommendation = next(i for i in second.insights if i.type == InsightType.RECOMMENDATION)
    assert recommendation.sources == (warning.insight_id,)
    assert first.posts_analysed == 42


def test_a_materially_worse_warning_is_raised_again(setup: Setup) -> None:
    setup.put(declining(0.03))  # about -25 %
    raised = warning_of(setup.service.generate("u1").insights)
    setup.clock.advance(DAY)
    setup.replace_all(declining(0.015))  # about -62 %

    report = setup.service.generate("u1")

    again = warning_of(report.insights)
    assert report.raised_again >= 1
    assert again.insight_id == raised.insight_id
    assert again.created_at == NOW + DAY
    assert again.raised_signal == again.signal


def test_a_dismissed_insight_stays_dismissed_until_its_evidence_changes_materially(setup: Setup) -> None:
    setup.put(declining(0.02))
    warning = warning_of(setup.service.generate("u1").insights)

    dismissed = setup.service.dismiss("u1", warning.insight_id)
    assert (dismissed.status, dismissed.dismissed_at) == (InsightStatus.DISMISSED, NOW)
    assert setup.service.dismiss("u1", warning.insight_id) == dismissed  # again: nothing changes

    setup.clock.advance(DAY)
    setup.replace_all(declining(0.021))  # -48 % instead of -50 %: the same news
    kept = setup.service.generate("u1")
    assert kept.kept_dismissed == 1
    assert [i.type for i in kept.insights] == [InsightType.RECOMMENDATION]
    still = setup.service.get("u1", warning.insight_id)
    assert still.status == InsightStatus.DISMISSED
    assert still.expires_at == NOW + DAY + 7 * DAY  # kept alive while it fires, with the dismissal

    setup.replace_all(declining(0.01))  # -75 %: materially worse
    back = setup.service.generate("u1")
    assert warning_of(back.insights).status == InsightStatus.ACTIVE
    assert warning_of(back.insights).created_at == NOW + DAY


def test_a_finding_that_stops_firing_expires_a_day_after_its_last_confirmation(setup: Setup) -> None:
    setup.put(declining())
    warning = warning_of(setup.service.generate("u1").insights)
    setup.clock.advance(timedelta(hours=2))
    setup.replace_all(declining(0.04))  # no drop any more

    report = setup.service.generate("u1")

    assert report.retired == 2
    assert setup.service.get("u1", warning.insight_id).expires_at == NOW + DAY
    setup.clock.advance(DAY)
    assert setup.service.find("u1") == []
    with pytest.raises(NotFound):
        setup.service.get("u1", warning.insight_id)


def test_a_finding_back_within_the_grace_day_carries_on_as_the_same_raise(setup: Setup) -> None:
    setup.put(declining())
    setup.service.generate("u1")
    setup.clock.advance(timedelta(hours=1))
    setup.replace_all(declining(0.04))
    setup.service.generate("u1")
    setup.clock.advance(timedelta(hours=1))
    setup.replace_all(declining())

    warning = warning_of(setup.service.generate("u1").insights)

    assert warning.created_at == NOW
    assert warning.expires_at == NOW + timedelta(hours=2) + 7 * DAY


def test_another_users_insight_is_not_found(setup: Setup) -> None:
    setup.put(declining())
    warning = warning_of(setup.service.generate("u1").insights)

    with pytest.raises(NotFound) as missing:
        setup.service.get("u2", warning.insight_id)
    assert missing.value.code == "insight_not_found"
    with pytest.raises(NotFound):
        setup.service.dismiss("u2", warning.insight_id)
    assert setup.service.find("u2") == []


def test_find_filters_and_orders_by_impact_then_confidence(setup: Setup) -> None:
    setup.put(declining())
    setup.service.generate("u1")

    everything = setup.service.find("u1")
    warnings = setup.service.find("u1", InsightFilter(type=InsightType.WARNING))
    confident = setup.service.find("u1", InsightFilter(min_confidence=1.0))
    low = setup.service.find("u1", InsightFilter(impact=Impact.LOW))

    assert [i.impact for i in everything] == [Impact.HIGH, Impact.HIGH]
    assert [i.confidence for i in everything] == sorted((i.confidence for i in everything), reverse=True)
    assert [i.type for i in warnings] == [InsightType.WARNING]
    assert (confident, low) == ([], [])


def test_a_dismissal_that_lands_first_wins_over_a_generation(setup: Setup) -> None:
    setup.put(declining())
    warning = warning_of(setup.service.generate("u1").insights)

    class DismissingFirst(InMemoryInsightRepository):
        """Someone dismisses the warning between the generation's read and its write."""

        def for_user(self, user_id: str) -> list[Insight]:
            found = setup.insights.for_user(user_id)
            setup.service.dismiss(user_id, warning.insight_id)
            return found

        def save(self, insight: Insight, replacing: int | None) -> Insight | None:
            return setup.insights.save(insight, replacing)

    racing = InsightService(setup.records, DismissingFirst(), setup.clock)
    report = racing.generate("u1")

    assert report.conflicts == 1
    assert setup.service.get("u1", warning.insight_id).status == InsightStatus.DISMISSED


def test_an_unknown_time_zone_is_refused(setup: Setup) -> None:
    with pytest.raises(ValidationFailed) as refused:
        setup.service.generate("u1", "Mars/Olympus")
    assert refused.value.code == "unknown_timezone"


@pytest.mark.parametrize(
    ("before", "after", "material"),
    [
        (-0.24, -0.30, True),  # a quarter worse
        (-0.24, -0.28, False),
        (-0.24, -0.18, True),  # a quarter better
        (0.8, 0.6, True),
        (0.8, 0.9, False),
        (4.0, 5.0, True),  # a collection warning about 4 posts, then 5
        (-0.3, 0.3, True),  # direction changed
        (0.0, 0.0, False),
    ],
)
def test_material_change(before: float, after: float, material: bool) -> None:
    assert material_change(before, after) is material


def test_refresh_generates_for_the_users_who_leave_it_on(setup: Setup) -> None:
    setup.put(declining(user_id="u1") + declining(user_id="u2") + declining(user_id="u3"))

    stored = setup.service.refresh({"u1", "u2", "u3"}, enabled=lambda user: user != "u2")

    assert stored == 4  # a warning and a recommendation each for u1 and u3
    assert [len(setup.service.find(u)) for u in ("u1", "u2", "u3")] == [2, 0, 2]


def test_one_users_failure_does_not_keep_the_others_insights_from_being_refreshed(setup: Setup) -> None:
    setup.put(declining(user_id="u1") + declining(user_id="u3"))

    def enabled(user: str) -> bool:
        if user == "u2":
            raise RuntimeError("settings unreadable")
        return True

    stored = setup.service.refresh({"u1", "u2", "u3"}, enabled=enabled)

    assert stored == 4
    assert [len(setup.service.find(u)) for u in ("u1", "u3")] == [2, 2]
