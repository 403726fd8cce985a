"""HTTP routes for a post's analytics, the readings of a period, and syncing them on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import Field

from tidings.analytics.readings import DEFAULT_PAGE, MAX_PAGE
from tidings.api.common import json_response, responses
from tidings.api.models import ApiModel, Timestamp

if TYPE_CHECKING:
    from tidings.analytics.readings import Reading, ReadingsPage
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


class ReadingView(ApiModel):
    """One post on one platform published in the period, with its latest metrics."""

    post_id: str = Field(
        description="The post's id; imported history carries the id its import gave it (imp_...)"
    )
    platform: str
    published_at: Timestamp
    content_type: str | None = None
    source: str = Field(description="collected (read from the platform) or imported (from a CSV)")
    engagements: int = Field(description="likes + comments + shares + saves + clicks, as reported")
    reach: int | None = None
    views: int | None = None
    audience: int | None = Field(description="reach, or views where reach is not reported")
    engagement_rate: float | None = Field(description="engagements / audience; null without an audience")


class ReadingsView(ApiModel):
    start: Timestamp = Field(alias="from", description="The period's start (included)")
    end: Timestamp = Field(alias="to", description="The period's end (excluded)")
    platform: str | None
    readings: list[ReadingView] = Field(
        description="In key order (platform, then post id), not by time; posts not measured yet are left out"
    )
    next_token: str | None = Field(
        description="Pass it back as nextToken for the next page (a page may hold fewer rows than the "
        "limit, even none); null at the end"
    )


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


def reading_view(r: Reading) -> ReadingView:
    return ReadingView(
        post_id=r.post_id,
        platform=r.platform,
        published_at=r.published_at,
        content_type=r.content_type,
        source=r.source,
        engagements=r.engagements,
        reach=r.reach,
        views=r.views,
        audience=r.audience,
        engagement_rate=r.engagement_rate,
    )


def readings_view(page: ReadingsPage) -> ReadingsView:
    return ReadingsView(
        start=page.period.start,
        end=page.period.end,
        platform=page.platform,
        readings=[reading_view(r) for r in page.readings],
        next_token=page.next_token,
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

    @app.get(
        "/analytics/readings",
        summary="Your posts' latest metrics in a period, collected and imported, one row per post and "
        "platform, a page at a time",
        description="For charts by day or hour of publishing. The period is from (included) to "
        "(excluded), ISO 8601 with a UTC offset, at most 90 days: to defaults to now, from to 30 days "
        "before to. The posts of GET /analytics/summary's period are those of from=<start>&to=<end>.",
        responses=responses(200, "A page of readings", ReadingsView),
    )
    def analytics_readings(
        start: Annotated[
            str | None, Query(alias="from", max_length=40, description="ISO 8601 with a UTC offset")
        ] = None,
        end: Annotated[
            str | None, Query(alias="to", max_length=40, description="ISO 8601 with a UTC offset")
        ] = None,
        platform: Annotated[str | None, Query(max_length=20, description="Only this platform")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
        next_token: Annotated[str | None, Query(alias="nextToken", max_length=2048)] = None,
    ) -> Response[str]:
        page = service().readings(user_id(), start, end, platform, limit, next_token)
        return json_response(200, readings_view(page))

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
