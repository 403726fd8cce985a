"""HTTP routes for a post's analytics and syncing them on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from pydantic import Field

from tidings.api.common import json_response, responses
from tidings.api.models import ApiModel, Timestamp

if TYPE_CHECKING:
    from tidings.analytics.service import PostAnalyticsService
    from tidings.models.post_analytics import PostAnalytics, PostMetrics


class MetricsView(ApiModel):
    """What the platform reported; a metric it does not report is absent, never 0."""

    views: int | None = None
    reach: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    saves: int | None = None
    clicks: int | None = None
    engagements: int = Field(description="likes + comments + shares + saves + clicks, as reported")
    engagement_rate: float | None = Field(
        description="engagements / reach, or / views where reach is not reported; null when neither is"
    )


class SnapshotView(ApiModel):
    at: Timestamp
    metrics: MetricsView


class SiteView(ApiModel):
    sessions: int
    engaged_sessions: int
    conversions: float
    revenue: float | None = None
    updated_at: Timestamp


class CollectionView(ApiModel):
    status: str = Field(description="active, complete or stopped")
    stop_reason: str | None = Field(
        None,
        description="post_deleted, post_not_found, token_revoked, account_disconnected, collection_failing",
    )
    next_collection_at: Timestamp | None = None
    points_taken: int
    failures: int
    last_error: str | None = None


class PlatformAnalyticsView(ApiModel):
    platform: str
    platform_post_id: str | None = None
    published_at: Timestamp
    source: str = Field(description="collected (read from the platform) or imported (from a CSV)")
    latest: MetricsView | None = None
    collected_at: Timestamp | None = None
    history: list[SnapshotView]
    site: SiteView | None = None
    collection: CollectionView


class PostAnalyticsView(ApiModel):
    post_id: str
    post_status: str
    platforms: list[PlatformAnalyticsView]


class SyncResult(ApiModel):
    contents_synced: int = Field(description="posts whose metrics or site attribution were updated")
    metrics_collected: int
    platform_calls: int
    site_posts_attributed: int
    stopped: dict[str, int]
    deferred: int
    insights_generated: int


def metrics_view(metrics: PostMetrics) -> MetricsView:
    return MetricsView(
        **metrics.reported(), engagements=metrics.engagements, engagement_rate=metrics.engagement_rate
    )


def platform_view(record: PostAnalytics) -> PlatformAnalyticsView:
    return PlatformAnalyticsView(
        platform=str(record.platform),
        platform_post_id=record.platform_post_id,
        published_at=record.published_at,
        source=str(record.source),
        latest=metrics_view(record.latest) if record.latest else None,
        collected_at=record.collected_at,
        history=[SnapshotView(at=s.at, metrics=metrics_view(s.metrics)) for s in record.history],
        site=SiteView(**record.site.model_dump()) if record.site else None,
        collection=CollectionView(
            status=str(record.status),
            stop_reason=record.stop_reason,
            next_collection_at=record.next_collection_at,
            points_taken=record.points_taken,
            failures=record.failures,
            last_error=record.last_error,
        ),
    )


def register_analytics_routes(
    app: APIGatewayHttpResolver, service: Callable[[], PostAnalyticsService], user_id: Callable[[], str]
) -> None:
    @app.get(
        "/analytics/posts/<postId>",
        summary="A post's metrics per platform: latest, engagement rate, history, collection status",
        responses=responses(200, "The post's analytics", PostAnalyticsView, 404),
    )
    def post_analytics(postId: str) -> Response[str]:
        status, records = service().for_post(user_id(), postId)
        view = PostAnalyticsView(
            post_id=postId, post_status=status, platforms=[platform_view(r) for r in records]
        )
        return json_response(200, view)

    @app.post(
        "/analytics/sync",
        summary="Collect your posts' metrics now, sync site analytics and refresh insights",
        responses=responses(200, "What was synced", SyncResult, 429),
    )
    def sync_analytics() -> Response[str]:
        outcome = service().sync(user_id())
        report = outcome.report
        result = SyncResult(
            contents_synced=outcome.contents_synced,
            metrics_collected=report.collected,
            platform_calls=report.calls,
            site_posts_attributed=outcome.site_posts,
            stopped=report.stopped,
            deferred=report.deferred,
            insights_generated=outcome.insights,
        )
        return json_response(200, result)
