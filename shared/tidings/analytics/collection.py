"""Collecting each published post's metrics from its platform, at a falling cadence.

When a post is published on a platform, its analytics record is created (`track_published`) with the
first collection point one cadence step after publishing (by default 1 h, 6 h, 24 h, 3 days, 7 days
and 28 days after; `TIDINGS_ANALYTICS_CADENCE`). A periodic pass (`collect_due`, every 15 minutes by
default) reads every record whose point has come, so a missed wake-up is caught up at the next pass;
`collect_for_user` reads a user's active records at once (POST /analytics/sync).

Reads are batched per account and platform as far as the platform allows (`MetricsReader.max_ids`)
and each call first takes one unit of the platform's read budget (the rate budgets of
`tidings.store.budgets`, under their own key per platform). What each answer means for a record:

- metrics: a snapshot is kept, `latest` replaced, the next point scheduled (or collection complete);
- the post is gone on the platform: collection stops, reason `post_deleted` (visible to the user);
- the account's token was refused: its records stop, reason `token_revoked`; no account any more:
  `account_disconnected`;
- the platform throttled us or the budget is used up: the records wait, nothing counted against them;
- any other failure: the record is read again after a back-off (15 min doubling), and stops with
  `collection_failing` after `MAX_FAILURES` failed reads in a row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.models.post_analytics import (
    CollectionStatus,
    MetricSnapshot,
    MetricsUnavailable,
    PostAnalytics,
    PostMetrics,
)
from tidings.models.posts import PlatformStatus, ScheduledPost
from tidings.publishing.metrics import MetricsReader
from tidings.store.budgets import BudgetRepository, Limit
from tidings.store.post_analytics import PostAnalyticsRepository, StaleAnalytics

logger = logging.getLogger(__name__)

DEFAULT_CADENCE = (
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=24),
    timedelta(days=3),
    timedelta(days=7),
    timedelta(days=28),
)
MAX_FAILURES = 5
FAILURE_BACKOFF = timedelta(minutes=15)

# One read call's budget per platform, under its own key (`<platform>:metrics`), apart from publishing.
# - Facebook, Instagram: Graph API insights, about 200 calls an hour per user token is the safe planning
#   figure (developers.facebook.com, "Rate Limiting": 200 x users per hour for the app). A Facebook post
#   is read in two calls (the post node, then its insights), so 100 reads; an Instagram media in one.
# - X: Tweet lookup, 900 requests per 15 minutes per user (developer.x.com, "Rate limits", v2 table).
# - LinkedIn: per-endpoint daily quotas shown only in the developer portal (learn.microsoft.com,
#   "LinkedIn API rate limiting"); a protective 1,000 reads a day per member of our own.
# - YouTube: videos.list costs 1 unit of the project's 10,000 a day, which uploads (1,600 each) share;
#   3,000 a day for metrics leaves room for uploads (developers.google.com/youtube/v3/determine_quota_cost).
# - TikTok: /v2/video/query/ 600 requests per minute per app, sliding window
#   (developers.tiktok.com/doc/tiktok-api-v2-rate-limit).
READ_LIMITS: dict[Platform, tuple[Limit, ...]] = {
    Platform.FACEBOOK: (Limit(100, 3600),),
    Platform.INSTAGRAM: (Limit(200, 3600),),
    Platform.TWITTER: (Limit(900, 900),),
    Platform.LINKEDIN: (Limit(1000, 86_400),),
    Platform.YOUTUBE: (Limit(3000, 86_400, per_app=True),),
    Platform.TIKTOK: (Limit(600, 60, per_app=True),),
}

Credentials = Callable[[str, str], AccountCredentials | None]


@dataclass
class CollectionReport:
    """What a pass did: posts read, calls made, and what became of the records."""

    records: int = 0
    calls: int = 0
    collected: int = 0
    completed: int = 0
    stopped: dict[str, int] = field(default_factory=dict)
    deferred: int = 0  # throttled or out of budget: read again later, nothing counted
    failed: int = 0
    users: set[str] = field(default_factory=set)  # whose metrics changed

    def stop(self, reason: str) -> None:
        self.stopped[reason] = self.stopped.get(reason, 0) + 1

    def as_dict(self) -> dict[str, object]:
        return {
            "records": self.records,
            "calls": self.calls,
            "collected": self.collected,
            "completed": self.completed,
            "stopped": dict(self.stopped),
            "deferred": self.deferred,
            "failed": self.failed,
            "users": len(self.users),
        }


class MetricsCollection:
    def __init__(
        self,
        records: PostAnalyticsRepository,
        readers: Mapping[Platform, MetricsReader],
        credentials: Credentials,
        budgets: BudgetRepository | None = None,
        clock: Clock = DEFAULT_CLOCK,
        cadence: Sequence[timedelta] = DEFAULT_CADENCE,
    ) -> None:
        """`cadence`: rising delays after publishing (settings check them: Settings.analytics_cadence)."""
        self.records = records
        self.readers = readers
        self.credentials = credentials
        self.budgets = budgets
        self.clock = clock
        self.cadence = tuple(cadence)

    # -- starting ---------------------------------------------------------------------------------

    def track_published(self, post: ScheduledPost) -> list[PostAnalytics]:
        """Start collection for each platform the post went out on (idempotent: a platform already
        tracked is left as it is)."""
        started: list[PostAnalytics] = []
        for platform, result in post.results.items():
            if result.status != PlatformStatus.PUBLISHED or not result.platform_post_id:
                continue
            published_at = result.published_at or post.completed_at or post.scheduled_time
            record = PostAnalytics(
                user_id=post.user_id,
                post_id=post.post_id,
                platform=platform,
                platform_post_id=result.platform_post_id,
                published_at=published_at,
                content_type=post.content_type,
                next_collection_at=published_at + self.cadence[0],
            )
            if self.records.track(record):
                started.append(record)
        return started

    # -- collecting -------------------------------------------------------------------------------

    def collect_due(self, limit: int = 5000) -> CollectionReport:
        """Read every record whose collection point has come (up to `limit`)."""
        return self._collect(self.records.due(self.clock.now(), limit))

    def collect_for_user(self, user_id: str) -> CollectionReport:
        """Read all of the user's records still being collected, whether due or not."""
        active = [r for r in self.records.for_user(user_id) if r.status == CollectionStatus.ACTIVE]
        return self._collect(active)

    def _collect(self, records: Iterable[PostAnalytics]) -> CollectionReport:
        report = CollectionReport()
        groups: dict[tuple[str, Platform], list[PostAnalytics]] = {}
        for record in records:
            report.records += 1
            groups.setdefault((record.user_id, record.platform), []).append(record)
        for (user_id, platform), group in groups.items():
            self._collect_account(user_id, platform, group, report)
        logger.info("metrics collection", extra=report.as_dict())
        return report

    def _collect_account(
        self,
        user_id: str,
        platform: Platform,
        group: list[PostAnalytics],
        report: CollectionReport,
    ) -> None:
        reader = self.readers.get(platform)
        if reader is None:
            return
        try:
            account = self.credentials(user_id, str(platform))
        except PlatformCallError as exc:
            if exc.kind == ErrorKind.AUTH_EXPIRED or exc.code == "account_not_connected":
                reason = "token_revoked" if exc.kind == ErrorKind.AUTH_EXPIRED else "account_disconnected"
                for record in group:
                    self._stop(record, reason, report, detail=exc.message)
            else:  # the renewal could not be tried now: read again later
                for record in group:
                    self._failed(record, exc, report)
            return
        if account is None:
            for record in group:
                self._stop(record, "account_disconnected", report)
            return
        size = max(1, reader.max_ids)
        for start in range(0, len(group), size):
            halt = self._read_chunk(reader, account, group[start : start + size], report)
            if halt is not None:  # the rest of this account is not read in this pass
                rest = group[start + size :]
                if isinstance(halt, datetime):
                    self._defer(rest, halt, report)
                else:
                    for record in rest:
                        self._stop(record, "token_revoked", report, detail=halt)
                return

    def _read_chunk(
        self,
        reader: MetricsReader,
        account: AccountCredentials,
        chunk: list[PostAnalytics],
        report: CollectionReport,
    ) -> datetime | str | None:
        """Read one call's worth. None: go on; a time: wait until then (throttled or out of budget);
        a text: the token was refused (why)."""
        now = self.clock.now()
        user_id, platform = chunk[0].user_id, chunk[0].platform
        if self.budgets is not None:
            reservation = self.budgets.reserve_limits(
                user_id, f"{platform}:metrics", READ_LIMITS.get(platform, ()), now, label=f"{platform} reads"
            )
            if not reservation.granted:
                until = reservation.available_at or now + FAILURE_BACKOFF
                self._defer(chunk, until, report)
                return until
        ids = [r.platform_post_id for r in chunk if r.platform_post_id]
        report.calls += 1
        try:
            answers = reader.read_metrics(account, ids)
        except PlatformCallError as exc:
            if exc.kind == ErrorKind.RATE_LIMITED:
                wait = timedelta(seconds=exc.retry_after or FAILURE_BACKOFF.total_seconds())
                if self.budgets is not None:
                    self.budgets.block(user_id, f"{platform}:metrics", now + wait, exc.code, now)
                self._defer(chunk, now + wait, report)
                return now + wait
            if exc.kind == ErrorKind.AUTH_EXPIRED:
                for record in chunk:
                    self._stop(record, "token_revoked", report, detail=exc.message)
                return exc.message
            for record in chunk:
                self._failed(record, exc, report)
            return None
        for record in chunk:
            answer = answers.get(record.platform_post_id or "")
            if isinstance(answer, PostMetrics):
                self._collected(record, answer, report)
            elif isinstance(answer, MetricsUnavailable):
                self._stop(record, answer.reason, report, detail=answer.message)
        return None

    # -- what becomes of a record -------------------------------------------------------------------

    def _collected(self, record: PostAnalytics, metrics: PostMetrics, report: CollectionReport) -> None:
        now = self.clock.now()
        # every point that has come counts as taken by this read: a late pass does not read the points
        # it slept through one by one, and a read on demand before a point leaves that point to come
        points = record.points_taken
        while points < len(self.cadence) and record.published_at + self.cadence[points] <= now:
            points += 1
        done = points >= len(self.cadence)
        updated = record.model_copy(
            update={
                "latest": metrics,
                "collected_at": now,
                "history": [*record.history, MetricSnapshot(at=now, metrics=metrics)],
                "points_taken": points,
                "next_collection_at": None if done else record.published_at + self.cadence[points],
                "status": CollectionStatus.COMPLETE if done else CollectionStatus.ACTIVE,
                "failures": 0,
                "last_error": None,
            }
        )
        if self._save(updated):
            report.collected += 1
            report.completed += int(done)
            report.users.add(record.user_id)

    def _stop(self, record: PostAnalytics, reason: str, report: CollectionReport, detail: str = "") -> None:
        updated = record.model_copy(
            update={
                "status": CollectionStatus.STOPPED,
                "stop_reason": reason,
                "next_collection_at": None,
                "last_error": detail or reason,
            }
        )
        if self._save(updated):
            report.stop(reason)
            report.users.add(record.user_id)

    def _failed(self, record: PostAnalytics, exc: PlatformCallError, report: CollectionReport) -> None:
        failures = record.failures + 1
        if failures >= MAX_FAILURES:
            self._stop(
                record.model_copy(update={"failures": failures}),
                "collection_failing",
                report,
                detail=f"{exc.code}: {exc.message}",
            )
            return
        updated = record.model_copy(
            update={
                "failures": failures,
                "last_error": f"{exc.code}: {exc.message}",
                "next_collection_at": self.clock.now() + FAILURE_BACKOFF * (2 ** (failures - 1)),
            }
        )
        if self._save(updated):
            report.failed += 1

    def _defer(self, chunk: list[PostAnalytics], until: datetime, report: CollectionReport) -> None:
        for record in chunk:
            if record.next_collection_at is not None and record.next_collection_at >= until:
                continue
            if self._save(record.model_copy(update={"next_collection_at": until})):
                report.deferred += 1

    def _save(self, record: PostAnalytics) -> bool:
        try:
            self.records.save(record)
        except StaleAnalytics:
            logger.info(
                "analytics of %s on %s changed meanwhile; left to that writer",
                record.post_id,
                record.platform,
            )
            return False
        return True
