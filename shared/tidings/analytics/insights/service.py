"""The insight use-cases: generate a user's insights from their post analytics, list, read and
dismiss them. Reads records through `PostAnalyticsRepository`, writes through `InsightRepository`;
every "now" comes from the clock."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from tidings.analytics.insights.engine import generate_findings
from tidings.analytics.insights.policy import plan, retire
from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.errors import Conflict, NotFound
from tidings.scheduling.optimal_time import resolve_timezone
from tidings.store.insights import (
    GENERATED_TYPES,
    Impact,
    Insight,
    InsightRepository,
    InsightStatus,
    InsightType,
    insight_id,
)
from tidings.store.post_analytics import PostAnalyticsRepository

_IMPACT_ORDER = {Impact.HIGH: 0, Impact.MEDIUM: 1, Impact.LOW: 2}
DISMISS_ATTEMPTS = 3

logger = logging.getLogger(__name__)


def insight_order(insight: Insight) -> tuple[int, float, float, str]:
    """High impact first, then the most confident, then the newest."""
    return (
        _IMPACT_ORDER[insight.impact],
        -insight.confidence,
        -insight.created_at.timestamp(),
        insight.insight_id,
    )


@dataclass
class GenerationReport:
    """What one generation did. `insights`: the user's active insights afterwards, in insight order."""

    posts_analysed: int = 0
    generated: int = 0
    created: int = 0
    raised_again: int = 0
    updated: int = 0
    kept_dismissed: int = 0
    retired: int = 0
    conflicts: int = 0
    insights: list[Insight] = field(default_factory=list)


@dataclass(frozen=True)
class InsightFilter:
    type: InsightType | None = None
    impact: Impact | None = None
    min_confidence: float | None = None
    status: InsightStatus | None = InsightStatus.ACTIVE  # None: any

    def admits(self, insight: Insight) -> bool:
        return (
            (self.type is None or insight.type == self.type)
            and (self.impact is None or insight.impact == self.impact)
            and (self.min_confidence is None or insight.confidence >= self.min_confidence)
            and (self.status is None or insight.status == self.status)
        )


class InsightService:
    def __init__(
        self,
        records: PostAnalyticsRepository,
        insights: InsightRepository,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self.records = records
        self.insights = insights
        self.clock = clock

    def generate(self, user_id: str, timezone: str = "UTC") -> GenerationReport:
        """Run every rule on the user's records and store what they find (see `policy`)."""
        zone = resolve_timezone(timezone)
        now = self.clock.now()
        records = list(self.records.for_user(user_id))
        findings = generate_findings(records, now, zone)
        report = GenerationReport(
            posts_analysed=sum(1 for r in records if r.latest is not None), generated=len(findings)
        )
        stored = {i.insight_id: i for i in self.insights.for_user(user_id)}
        ids = {f.key: insight_id(user_id, f.type, f.subject) for f in findings}
        for finding in findings:
            the_id = ids[finding.key]
            step = plan(user_id, the_id, finding, stored.get(the_id), now, ids)
            saved = self.insights.save(step.insight, step.replacing)
            if saved is None:
                report.conflicts += 1  # changed meanwhile (a dismissal, another run): theirs stands
                continue
            setattr(report, step.outcome, getattr(report, step.outcome) + 1)
        for the_id, insight in stored.items():
            if the_id in ids.values() or insight.type not in GENERATED_TYPES:
                continue  # still found, or recorded by another capability (an A/B test's winner)
            retired = retire(insight, now)
            if retired is None:
                continue
            if self.insights.save(retired, insight.version) is None:
                report.conflicts += 1
            else:
                report.retired += 1
        report.insights = self.find(user_id)
        return report

    def refresh(
        self,
        users: Iterable[str],
        enabled: Callable[[str], bool] | None = None,
        timezone_of: Callable[[str], str] | None = None,
    ) -> int:
        """Generate the insights of each of `users` that `enabled` allows (all without it), hours and
        weekdays in `timezone_of(user)` (UTC without it): what runs after a collection or a sync.
        Answers how many findings were stored."""
        stored = 0
        for user_id in sorted(set(users)):
            try:
                if enabled is not None and not enabled(user_id):
                    continue
                report = self.generate(user_id, timezone_of(user_id) if timezone_of else "UTC")
            except Exception:
                # one user's failure (a record that cannot be read, a settings read) must not keep the
                # others' insights from being refreshed; theirs are tried again at the next refresh
                logger.exception("insights of user %s could not be refreshed", user_id)
                continue
            stored += report.generated - report.conflicts
        return stored

    def _live(self, user_id: str, now: datetime) -> list[Insight]:
        return [i for i in self.insights.for_user(user_id) if i.expires_at > now]

    def find(self, user_id: str, wanted: InsightFilter | None = None) -> list[Insight]:
        """The user's unexpired insights that `wanted` admits (active ones by default), in insight order."""
        chosen = wanted or InsightFilter()
        found = [i for i in self._live(user_id, self.clock.now()) if chosen.admits(i)]
        return sorted(found, key=insight_order)

    def get(self, user_id: str, insight_id: str) -> Insight:
        """The user's insight (dismissed ones too); NotFound for another user's, an expired or no insight."""
        insight = self.insights.get(user_id, insight_id)
        if insight is None or insight.expires_at <= self.clock.now():
            raise NotFound("no such insight", {"insightId": insight_id}, code="insight_not_found")
        return insight

    def dismiss(self, user_id: str, insight_id: str) -> Insight:
        """Dismiss the insight (again is a no-op): it stays dismissed until its evidence changes
        materially (`policy`)."""
        for _ in range(DISMISS_ATTEMPTS):
            insight = self.get(user_id, insight_id)
            if insight.status == InsightStatus.DISMISSED:
                return insight
            dismissed = replace(
                insight,
                status=InsightStatus.DISMISSED,
                dismissed_at=self.clock.now(),
                dismissed_signal=insight.signal,
            )
            saved = self.insights.save(dismissed, insight.version)
            if saved is not None:
                return saved
        raise Conflict("the insight kept changing; try again", {"insightId": insight_id}, code="insight_busy")
