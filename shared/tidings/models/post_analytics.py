"""A published post's metrics on one platform, and the one engagement definition Tidings uses.

Engagement, everywhere in Tidings (collection, summaries, insights, the best time to post):

- engagements = likes + comments + shares + saves + clicks, counting each only where the platform
  reports it (a metric the platform does not report is None, never 0);
- audience = reach where the platform reports it, else views;
- engagement rate = engagements / audience, or None when neither is reported (or it is 0).

Each record keeps the latest metrics and every snapshot taken, so a post's curve can be read, not
only one number. Stored under `USER#<userId>` / `POST_ANALYTICS#<platform>#<postId>`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from tidings.core.platforms import Platform

ENGAGEMENT_METRICS = ("likes", "comments", "shares", "saves", "clicks")
METRIC_NAMES = ("views", "reach", *ENGAGEMENT_METRICS)


class PostMetrics(BaseModel):
    """What a platform reported for one post at one moment. None: the platform does not report it."""

    model_config = ConfigDict(frozen=True)

    views: int | None = Field(default=None, ge=0)
    reach: int | None = Field(default=None, ge=0)
    likes: int | None = Field(default=None, ge=0)
    comments: int | None = Field(default=None, ge=0)
    shares: int | None = Field(default=None, ge=0)
    saves: int | None = Field(default=None, ge=0)
    clicks: int | None = Field(default=None, ge=0)

    @property
    def engagements(self) -> int:
        return sum(value for name in ENGAGEMENT_METRICS if (value := getattr(self, name)) is not None)

    @property
    def audience(self) -> int | None:
        """Reach where reported, else views."""
        return self.reach if self.reach is not None else self.views

    @property
    def engagement_rate(self) -> float | None:
        audience = self.audience
        return self.engagements / audience if audience else None

    def reported(self) -> dict[str, int]:
        """The metrics the platform reported, by name."""
        return {name: value for name in METRIC_NAMES if (value := getattr(self, name)) is not None}


class MetricsUnavailable(BaseModel):
    """Why a post's metrics cannot be read any more: the post was deleted on the platform, or the
    platform does not know it. Either stops that post's collection (with this reason)."""

    model_config = ConfigDict(frozen=True)

    reason: str  # "post_deleted" | "post_not_found"
    message: str = ""


class SiteAttribution(BaseModel):
    """What the user's site analytics (GA4) attribute to the post on this platform: sessions that came
    through its UTM-tagged link (utm_source=<platform>, utm_content=<postId>), over all days synced."""

    model_config = ConfigDict(frozen=True)

    sessions: int = Field(default=0, ge=0)
    engaged_sessions: int = Field(default=0, ge=0)
    conversions: float = Field(default=0.0, ge=0)  # GA4 key events
    revenue: float | None = None  # where the property reports revenue
    updated_at: datetime


class MetricSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    metrics: PostMetrics


class CollectionStatus(StrEnum):
    ACTIVE = "active"  # more collection points to come
    COMPLETE = "complete"  # every collection point taken
    STOPPED = "stopped"  # deleted post, revoked token, or failing too long: see stop_reason


class AnalyticsSource(StrEnum):
    COLLECTED = "collected"  # read from the platform after Tidings published the post
    IMPORTED = "imported"  # from a user's CSV of past posts


class PostAnalytics(BaseModel):
    """One post on one platform: its latest metrics, their history, and where collection stands."""

    user_id: str
    post_id: str
    platform: Platform
    platform_post_id: str | None = None
    published_at: datetime
    content_type: str | None = None
    source: AnalyticsSource = AnalyticsSource.COLLECTED
    latest: PostMetrics | None = None
    collected_at: datetime | None = None
    history: list[MetricSnapshot] = Field(default_factory=list)
    status: CollectionStatus = CollectionStatus.ACTIVE
    stop_reason: str | None = None
    next_collection_at: datetime | None = None
    points_taken: int = 0  # collection points done so far (index into the cadence)
    failures: int = 0  # consecutive failed reads
    last_error: str | None = None
    site: SiteAttribution | None = None
    version: int = 1
