"""Crises on a user's accounts (tidings.engagement.crisis decides them), the user's crisis settings, and
the hold a crisis may put on the user's queue of scheduled posts, as entities with no I/O.

A crisis is one per user at a time while it is `open` or `monitoring`: new evidence updates it rather
than opening another. Its `severity` is the highest it reached; `signals` are those firing at the last
evaluation, `evidence` the latest numbers of every signal that fired during it, and `timeline` what
happened to it, oldest first.

The queue hold is a per-user record that the publish path reads with one GetItem: while it is
`active`, a scheduled post whose time comes is marked `held_by_crisis` instead of published, and its
id is added to `posts`, the posts a resume releases.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tidings.core.errors import NotFound

MAX_TIMELINE = 100  # the newest entries are kept; an item stays far below DynamoDB's 400 KB


class CrisisSeverity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(CrisisSeverity).index(self)


HOLDING_SEVERITIES = frozenset({CrisisSeverity.HIGH, CrisisSeverity.CRITICAL})


class CrisisStatus(StrEnum):
    OPEN = "open"  # a signal fired at the last evaluation
    MONITORING = "monitoring"  # no signal fires any more; watched until quiet long enough
    RESOLVED = "resolved"


ACTIVE_STATUSES = frozenset({CrisisStatus.OPEN, CrisisStatus.MONITORING})


class CrisisSignal(StrEnum):
    NEGATIVE_SPIKE = "negative_spike"
    COMMENT_BURST = "comment_burst"
    ENGAGEMENT_DROP = "engagement_drop"
    ESCALATION = "escalation"


class TimelineEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    # opened, signals_changed, severity_raised, monitoring, reopened, queue_held, queue_resumed, resolved
    event: str
    severity: CrisisSeverity | None = None
    signals: list[CrisisSignal] = Field(default_factory=list)
    note: str = ""


class Crisis(BaseModel):
    user_id: str
    crisis_id: str
    status: CrisisStatus = CrisisStatus.OPEN
    severity: CrisisSeverity
    signals: list[CrisisSignal] = Field(default_factory=list)
    evidence: dict[str, dict[str, Any]] = Field(default_factory=dict)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    opened_at: datetime
    updated_at: datetime
    last_signal_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None  # "user", or "quiet" when it resolved itself
    queue_held: bool = False  # this crisis holds the user's queue now
    notify_email: str | None = None  # where the alert e-mail goes (the user's crisis settings)
    version: int = 1

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def noted(self, entry: TimelineEntry) -> list[TimelineEntry]:
        """The timeline with `entry` added (the oldest dropped beyond MAX_TIMELINE)."""
        return [*self.timeline, entry][-MAX_TIMELINE:]


class CrisisSettings(BaseModel):
    """Per user. `hold_queue`: a `high` or `critical` crisis holds the scheduled posts (default off).
    `alert_email`: where a crisis alert is e-mailed (none by default)."""

    model_config = ConfigDict(frozen=True)

    hold_queue: bool = False
    alert_email: str | None = None


class QueueHold(BaseModel):
    """The user's queue hold: `active` while a crisis holds the queue; `posts` the ids of posts marked
    `held_by_crisis` that a resume has not released yet."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    crisis_id: str
    active: bool
    since: datetime
    posts: tuple[str, ...] = ()
    resumed_at: datetime | None = None


def crisis_not_found(crisis_id: str) -> NotFound:
    return NotFound(f"no crisis {crisis_id!r}", {"crisisId": crisis_id}, code="crisis_not_found")
