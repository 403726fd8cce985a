"""The analytics use-cases behind the analytics_sync function and the analytics routes.

- `AnalyticsSync.handle`: the function's one entry point. A stream batch starts collection for posts
  that were just published; a periodic run collects what is due, then refreshes the insights of the
  users whose metrics changed (when they leave `autoGenerateInsights` on).
- `PostAnalyticsService`: a post's analytics as the user reads them, the readings of a period a page
  at a time (`tidings.analytics.readings`), and a sync on demand (the user's active collections now,
  site analytics, insights), at most `SYNCS_PER_HOUR` times an hour per user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tidings.analytics.collection import CollectionReport, MetricsCollection
from tidings.analytics.readings import ReadingsPage, parse_period, readings_page
from tidings.analytics.tracking import PublishedPostTracker
from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.errors import NotFound, TooManyRequests
from tidings.core.streams import dispatch_batch
from tidings.core.triggers import PeriodicRun, StreamBatch
from tidings.integrations.ratelimits import retry_after_seconds
from tidings.models.post_analytics import PostAnalytics
from tidings.store.budgets import BudgetRepository, Limit
from tidings.store.post_analytics import PostAnalyticsRepository
from tidings.store.posts import PostRepository

# Syncs on demand cost platform calls: a user may ask for a few an hour; the periodic collection
# goes on regardless.
SYNCS_PER_HOUR = 6
_SYNC_LIMIT = (Limit(SYNCS_PER_HOUR, 3600),)

# After a collection or a sync: refresh these users' insights; answers how many insights were made.
InsightsHook = Callable[[set[str]], int]
# A user's site analytics sync (GA4): answers how many posts' attribution it updated.
SiteSync = Callable[[str], int]


class AnalyticsSync:
    def __init__(
        self,
        collection: MetricsCollection,
        after_collection: InsightsHook | None = None,
    ) -> None:
        self.collection = collection
        self.tracker = PublishedPostTracker(collection)
        self.after_collection = after_collection

    def handle(self, trigger: StreamBatch | PeriodicRun) -> dict[str, Any]:
        if isinstance(trigger, StreamBatch):
            return dispatch_batch(trigger.event(), [self.tracker])
        report = self.collection.collect_due()
        out = report.as_dict()
        if self.after_collection is not None and report.users:
            out["insightsGenerated"] = self.after_collection(report.users)
        return out


@dataclass(frozen=True)
class SyncOutcome:
    report: CollectionReport
    site_posts: int
    insights: int

    @property
    def contents_synced(self) -> int:
        return self.report.collected + self.site_posts


class PostAnalyticsService:
    def __init__(
        self,
        records: PostAnalyticsRepository,
        posts: PostRepository,
        collection: MetricsCollection,
        budgets: BudgetRepository | None = None,
        site_sync: SiteSync | None = None,
        insights: InsightsHook | None = None,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self.records = records
        self.posts = posts
        self.collection = collection
        self.budgets = budgets
        self.site_sync = site_sync
        self.insights = insights
        self.clock = clock

    def for_post(self, user_id: str, post_id: str) -> tuple[str, list[PostAnalytics]]:
        """The post's status and its analytics per platform; NotFound for a post the user does not
        have (another user's post is not found either)."""
        post = self.posts.get(user_id, post_id)
        records = self.records.for_post(user_id, post_id)
        if post is None and not records:
            raise NotFound("no such post", {"postId": post_id}, code="post_not_found")
        return (str(post.status) if post else "imported"), records

    def readings(
        self,
        user_id: str,
        start: str | None = None,
        end: str | None = None,
        platform: str | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> ReadingsPage:
        """A page of the user's readings from `start` to `end` (`tidings.analytics.readings`)."""
        period = parse_period(start, end, self.clock.now())
        return readings_page(self.records, user_id, period, platform, limit, next_token)

    def sync(self, user_id: str) -> SyncOutcome:
        if self.budgets is not None:
            now = self.clock.now()
            reservation = self.budgets.reserve_limits(user_id, "analytics:sync", _SYNC_LIMIT, now)
            if not reservation.granted:
                wait = retry_after_seconds(reservation.available_at or now, now)
                raise TooManyRequests(
                    f"analytics can be synced {SYNCS_PER_HOUR} times an hour; try again in {wait} s",
                    {"limit": SYNCS_PER_HOUR, "windowSeconds": 3600, "retryAfterSeconds": wait},
                )
        report = self.collection.collect_for_user(user_id)
        site_posts = self.site_sync(user_id) if self.site_sync is not None else 0
        insights = self.insights({user_id}) if self.insights is not None else 0
        return SyncOutcome(report, site_posts, insights)
