"""Crisis detection's use-cases: evaluate a user (after their new comments are analysed, and periodically
while a crisis is active), and the user's routes: list, read, resolve, resume the queue, settings.

One active (open or monitoring) crisis per user: evaluating opens one only when none is active (a
conditional write, so two evaluations at once open one), and otherwise updates it: the severity is the
highest reached, the evidence of each signal its latest, the timeline gains an entry when the signals
or the severity change. When no comment signal fires any more an open crisis is `monitoring`; a signal
firing again reopens it; `QUIET` (24 hours) without a signal resolves it by itself.

With the user's `hold_queue` setting on, a crisis reaching `high` or `critical` holds the queue (see
`tidings.store.crises`): scheduled posts stay scheduled, and one whose time comes is marked
`held_by_crisis` by the publish step instead of going out, until the user resumes the queue. Resolving
a crisis does not resume the queue: that is the user's explicit call.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tidings.core.clock import Clock
from tidings.core.errors import Conflict, ValidationFailed
from tidings.engagement.crisis.rules import (
    BASELINE_DAYS,
    MAX_COMMENTS,
    WINDOW,
    Assessment,
    CommentFact,
    assess,
)
from tidings.models.crises import (
    HOLDING_SEVERITIES,
    Crisis,
    CrisisSettings,
    CrisisSeverity,
    CrisisStatus,
    TimelineEntry,
    crisis_not_found,
)
from tidings.store.comments import CommentFilter, CommentRepository
from tidings.store.crises import CrisisChanged, CrisisRepository, QueueHoldRepository
from tidings.store.insights import InsightRepository, InsightStatus, InsightType, insight_id

logger = logging.getLogger(__name__)

QUIET = timedelta(hours=24)
PAGE = 100
_SAVE_ATTEMPTS = 3


@dataclass(frozen=True)
class ResumeResult:
    crisis: Crisis
    released: list[str]


def new_crisis_id(now: datetime) -> str:
    return f"crs_{int(now.timestamp() * 1000):013d}_{secrets.token_hex(4)}"


def _max_severity(a: CrisisSeverity, b: CrisisSeverity) -> CrisisSeverity:
    return a if a.rank >= b.rank else b


class CrisisService:
    def __init__(
        self,
        crises: CrisisRepository,
        holds: QueueHoldRepository,
        comments: CommentRepository,
        insights: InsightRepository | None,
        clock: Clock,
        require_confirmed: Callable[[str, list[str]], None] | None = None,
    ) -> None:
        self.crises = crises
        self.holds = holds
        self.comments = comments
        self.insights = insights
        self.clock = clock
        # refuses (422 recipient_unconfirmed) an alert address the user has not confirmed
        # (`tidings.notifications`); None: no check (the e-mail is checked again when sent)
        self.require_confirmed = require_confirmed

    # -- evaluation -------------------------------------------------------------------------------

    def evaluate(self, user_id: str) -> Crisis | None:
        """Assess the user now and open, update or calm their crisis; the active crisis after it."""
        now = self.clock.now()
        assessment = self.assess(user_id, now)
        for _ in range(_SAVE_ATTEMPTS):
            try:
                return self._apply(user_id, assessment, now)
            except CrisisChanged:
                continue  # another evaluation or the user changed it: read it again
        logger.warning("crisis of %s kept changing while evaluated; left for the next evaluation", user_id)
        return None

    def evaluate_active(self) -> dict[str, int]:
        """The periodic pass: every active crisis evaluated again (so one calms down and resolves
        without new comments); one failing user does not stop the others."""
        seen = failed = 0
        for crisis in list(self.crises.active_everywhere()):
            seen += 1
            try:
                self.evaluate(crisis.user_id)
            except Exception:
                failed += 1
                logger.exception("could not evaluate the crisis of %s", crisis.user_id)
        return {"activeCrises": seen, "crisisFailures": failed}

    def assess(self, user_id: str, now: datetime) -> Assessment:
        since = now - WINDOW - timedelta(days=BASELINE_DAYS)
        facts: list[CommentFact] = []
        token: str | None = None
        read_from: datetime | None = None
        while True:
            page = self.comments.page(user_id, CommentFilter(), PAGE, token)
            for c in page.comments:
                if c.created_at < since:
                    break
                facts.append(
                    CommentFact(
                        created_at=c.created_at,
                        sentiment=c.analysis.sentiment if c.analysis else None,
                        decision=c.analysis.decision if c.analysis else None,
                        author=c.author_id,
                    )
                )
            else:
                token = page.next_token
                if token and len(facts) < MAX_COMMENTS:
                    continue
                if token:
                    read_from = facts[-1].created_at if facts else None
            break
        return assess(
            facts, now, engagement_change=self._engagement_change(user_id, now), read_from=read_from
        )

    def _engagement_change(self, user_id: str, now: datetime) -> float | None:
        if self.insights is None:
            return None
        try:
            warning = self.insights.get(user_id, insight_id(user_id, InsightType.WARNING, "engagement_rate"))
        except Exception:
            logger.exception("could not read the engagement warning of %s; assessed without it", user_id)
            return None
        if warning is None or warning.status != InsightStatus.ACTIVE or warning.expires_at <= now:
            return None
        change = warning.evidence.get("change")
        return float(change) if isinstance(change, int | float) else None

    def _apply(self, user_id: str, assessment: Assessment, now: datetime) -> Crisis | None:
        crisis = self.crises.active(user_id)
        if crisis is None:
            if assessment.severity is None:
                return None
            return self._open(user_id, assessment, assessment.severity, now)
        if assessment.severity is None:
            return self._calm(crisis, now)
        return self._update(crisis, assessment, assessment.severity, now)

    def _open(self, user_id: str, assessment: Assessment, severity: CrisisSeverity, now: datetime) -> Crisis:
        settings = self.crises.settings(user_id)
        entry = TimelineEntry(
            at=now, event="opened", severity=severity, signals=assessment.signals, note=_note(assessment)
        )
        crisis = self.crises.open(
            Crisis(
                user_id=user_id,
                crisis_id=new_crisis_id(now),
                severity=severity,
                signals=assessment.signals,
                evidence=assessment.evidence,
                timeline=[entry],
                opened_at=now,
                updated_at=now,
                last_signal_at=now,
                notify_email=settings.alert_email,
            )
        )
        logger.warning(
            "crisis %s opened for %s: %s, %s", crisis.crisis_id, user_id, severity, assessment.signals
        )
        return self._hold_if_asked(crisis, settings, now)

    def _update(
        self, crisis: Crisis, assessment: Assessment, severity: CrisisSeverity, now: datetime
    ) -> Crisis:
        raised = severity.rank > crisis.severity.rank
        entries: list[TimelineEntry] = []
        if crisis.status == CrisisStatus.MONITORING:
            entries.append(
                TimelineEntry(at=now, event="reopened", severity=severity, signals=assessment.signals)
            )
        elif raised:
            entries.append(
                TimelineEntry(at=now, event="severity_raised", severity=severity, signals=assessment.signals)
            )
        elif set(assessment.signals) != set(crisis.signals):
            entries.append(TimelineEntry(at=now, event="signals_changed", signals=assessment.signals))
        timeline = crisis.timeline
        for entry in entries:
            timeline = crisis.model_copy(update={"timeline": timeline}).noted(entry)
        updated = self.crises.save(
            crisis.model_copy(
                update={
                    "status": CrisisStatus.OPEN,
                    "severity": _max_severity(crisis.severity, severity),
                    "signals": assessment.signals,
                    "evidence": {**crisis.evidence, **assessment.evidence},
                    "timeline": timeline,
                    "updated_at": now,
                    "last_signal_at": now,
                }
            )
        )
        if raised:
            return self._hold_if_asked(updated, self.crises.settings(crisis.user_id), now)
        return updated

    def _calm(self, crisis: Crisis, now: datetime) -> Crisis | None:
        if crisis.status == CrisisStatus.OPEN:
            entry = TimelineEntry(at=now, event="monitoring", note="no signal fires any more")
            return self.crises.save(
                crisis.model_copy(
                    update={
                        "status": CrisisStatus.MONITORING,
                        "signals": [],
                        "timeline": crisis.noted(entry),
                        "updated_at": now,
                    }
                )
            )
        if now - crisis.last_signal_at < QUIET:
            return crisis
        entry = TimelineEntry(
            at=now, event="resolved", note=f"quiet for {QUIET.total_seconds() / 3600:.0f} hours"
        )
        self._resolve(crisis, "quiet", entry, now)
        return None

    def _hold_if_asked(self, crisis: Crisis, settings: CrisisSettings, now: datetime) -> Crisis:
        if not settings.hold_queue or crisis.severity not in HOLDING_SEVERITIES or crisis.queue_held:
            return crisis
        self.holds.hold(crisis.user_id, crisis.crisis_id, now)
        entry = TimelineEntry(
            at=now,
            event="queue_held",
            severity=crisis.severity,
            note="scheduled posts are held until resumed",
        )
        return self.crises.save(
            crisis.model_copy(update={"queue_held": True, "timeline": crisis.noted(entry), "updated_at": now})
        )

    def _resolve(self, crisis: Crisis, by: str, entry: TimelineEntry, now: datetime) -> Crisis:
        return self.crises.save(
            crisis.model_copy(
                update={
                    "status": CrisisStatus.RESOLVED,
                    "signals": [],
                    "resolved_at": now,
                    "resolved_by": by,
                    "timeline": crisis.noted(entry),
                    "updated_at": now,
                }
            )
        )

    # -- the user's routes ------------------------------------------------------------------------

    def list(self, user_id: str, limit: int, next_token: str | None) -> tuple[list[Crisis], str | None]:
        return self.crises.page(user_id, limit, next_token)

    def get(self, user_id: str, crisis_id: str) -> Crisis:
        crisis = self.crises.get(user_id, crisis_id) if crisis_id.startswith("crs_") else None
        if crisis is None:
            raise crisis_not_found(crisis_id)
        return crisis

    def resolve(self, user_id: str, crisis_id: str) -> Crisis:
        crisis = self.get(user_id, crisis_id)
        if not crisis.active:
            raise Conflict(
                "the crisis is resolved already",
                {"crisisId": crisis_id, "status": str(crisis.status)},
                code="crisis_not_active",
            )
        now = self.clock.now()
        entry = TimelineEntry(at=now, event="resolved", note="resolved by the user")
        try:
            return self._resolve(crisis, "user", entry, now)
        except CrisisChanged:
            raise Conflict(
                "the crisis changed while resolving it; read it and try again",
                {"crisisId": crisis_id},
                code="crisis_busy",
            ) from None

    def resume_queue(self, user_id: str, crisis_id: str) -> ResumeResult:
        """End the crisis' hold and release every post it held: a post whose time has passed starts at
        once (the schedule keeper starts it from its new version), the others keep their schedules.
        Called again after a failure part way, it releases what is left."""
        crisis = self.get(user_id, crisis_id)
        now = self.clock.now()
        hold = self.holds.end(user_id, crisis_id, now)
        if hold is None or (not crisis.queue_held and not hold.posts):
            raise Conflict(
                "this crisis does not hold your queue", {"crisisId": crisis_id}, code="queue_not_held"
            )
        released = [post_id for post_id in hold.posts if self.holds.release_post(user_id, post_id, now)]
        entry = TimelineEntry(at=now, event="queue_resumed", note=f"{len(released)} held posts released")
        for _ in range(_SAVE_ATTEMPTS):
            current = self.get(user_id, crisis_id)
            try:
                saved = self.crises.save(
                    current.model_copy(
                        update={"queue_held": False, "timeline": current.noted(entry), "updated_at": now}
                    )
                )
                return ResumeResult(saved, released)
            except CrisisChanged:
                continue
        return ResumeResult(self.get(user_id, crisis_id), released)

    def settings(self, user_id: str) -> CrisisSettings:
        return self.crises.settings(user_id)

    def put_settings(self, user_id: str, changes: dict[str, Any]) -> CrisisSettings:
        unknown = sorted(set(changes) - set(CrisisSettings.model_fields))
        if unknown:
            raise ValidationFailed(
                f"unknown setting {unknown[0]!r}", {"field": unknown[0]}, code="unknown_setting"
            )
        email = changes.get("alert_email")
        if email is not None and self.require_confirmed is not None:
            self.require_confirmed(user_id, [str(email)])
        merged = {**self.crises.settings(user_id).model_dump(), **changes}
        return self.crises.put_settings(user_id, CrisisSettings.model_validate(merged))


def _note(assessment: Assessment) -> str:
    return ", ".join(str(s).replace("_", " ") for s in assessment.signals)
