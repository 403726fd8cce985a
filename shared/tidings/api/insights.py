"""HTTP routes for insights (list, read, dismiss, generate on demand) and the analytics summary."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import Field

from tidings.api.common import json_response, responses
from tidings.api.models import ApiModel, Timestamp
from tidings.core.errors import ValidationFailed, choice
from tidings.store.insights import Impact, InsightStatus, InsightType

if TYPE_CHECKING:
    from tidings.analytics.insights.service import GenerationReport, InsightFilter, InsightService
    from tidings.analytics.summary import AnalyticsSummary, Comparison, Summary, Totals
    from tidings.store.insights import Insight


@dataclass(frozen=True)
class InsightServices:
    """The use-cases the insight and summary routes call."""

    insights: InsightService
    summary: AnalyticsSummary


class InsightView(ApiModel):
    id: str
    type: str = Field(description="trend, opportunity, warning or recommendation")
    subject: str = Field(description="What it is about within its type, e.g. rate:7d or contentType:video")
    title: str
    description: str
    impact: str = Field(description="high, medium or low")
    confidence: float = Field(description="0 to 1, from sample size and effect (see the README)")
    evidence: dict[str, Any] = Field(description="The numbers the insight rests on")
    recommendations: list[str]
    sources: list[str] = Field(description="The insights a recommendation rests on")
    status: str = Field(description="active or dismissed")
    created_at: Timestamp
    updated_at: Timestamp = Field(description="When its evidence was last confirmed")
    expires_at: Timestamp
    dismissed_at: Timestamp | None


class InsightList(ApiModel):
    insights: list[InsightView]


class GenerateRequest(ApiModel):
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA zone for hours and weekdays (default UTC)"
    )


class GenerateView(ApiModel):
    posts_analysed: int
    generated: int = Field(description="Findings in this run")
    created: int
    raised_again: int
    updated: int
    kept_dismissed: int
    retired: int = Field(description="Insights whose finding no longer fires: they expire within a day")
    conflicts: int
    insights: list[InsightView] = Field(description="Your active insights afterwards")


class TotalsView(ApiModel):
    posts: int
    measured: int = Field(description="Posts with metrics")
    views: int
    reach: int
    likes: int
    comments: int
    shares: int
    saves: int
    clicks: int
    engagements: int
    audience: int
    engagement_rate: float | None
    site_sessions: int
    conversions: float


class ComparisonView(ApiModel):
    current: TotalsView
    previous: TotalsView
    change: dict[str, float | None] = Field(description="Relative changes; null when there is no base")


class TopPostView(ApiModel):
    post_id: str
    platform: str
    content_type: str | None
    published_at: Timestamp
    engagements: int
    audience: int | None
    engagement_rate: float | None


class SummaryView(ApiModel):
    range: str
    start: Timestamp
    end: Timestamp
    previous_start: Timestamp
    platform: str | None
    overall: ComparisonView
    by_platform: dict[str, ComparisonView]
    by_content_type: dict[str, ComparisonView]
    top_posts: list[TopPostView]


def insight_view(i: Insight) -> InsightView:
    return InsightView(
        id=i.insight_id,
        type=str(i.type),
        subject=i.subject,
        title=i.title,
        description=i.description,
        impact=str(i.impact),
        confidence=i.confidence,
        evidence=i.evidence,
        recommendations=list(i.recommendations),
        sources=list(i.sources),
        status=str(i.status),
        created_at=i.created_at,
        updated_at=i.updated_at,
        expires_at=i.expires_at,
        dismissed_at=i.dismissed_at,
    )


def _generate_view(r: GenerationReport) -> GenerateView:
    return GenerateView(
        posts_analysed=r.posts_analysed,
        generated=r.generated,
        created=r.created,
        raised_again=r.raised_again,
        updated=r.updated,
        kept_dismissed=r.kept_dismissed,
        retired=r.retired,
        conflicts=r.conflicts,
        insights=[insight_view(i) for i in r.insights],
    )


def _totals(t: Totals) -> TotalsView:
    return TotalsView(
        posts=t.posts,
        measured=t.measured,
        engagements=t.engagements,
        audience=t.audience,
        engagement_rate=t.engagement_rate,
        site_sessions=t.site_sessions,
        conversions=t.conversions,
        **t.metrics,
    )


def _comparison(c: Comparison) -> ComparisonView:
    return ComparisonView(current=_totals(c.current), previous=_totals(c.previous), change=dict(c.change))


def summary_view(s: Summary) -> SummaryView:
    return SummaryView(
        range=s.range,
        start=s.start,
        end=s.end,
        previous_start=s.previous_start,
        platform=s.platform,
        overall=_comparison(s.overall),
        by_platform={name: _comparison(c) for name, c in s.by_platform.items()},
        by_content_type={name: _comparison(c) for name, c in s.by_content_type.items()},
        top_posts=[
            TopPostView(
                post_id=p.post_id,
                platform=p.platform,
                content_type=p.content_type,
                published_at=p.published_at,
                engagements=p.engagements,
                audience=p.audience,
                engagement_rate=p.engagement_rate,
            )
            for p in s.top_posts
        ],
    )


def _min_confidence(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0.0 <= number <= 1.0:  # NaN fails too
        raise ValidationFailed(
            f"minConfidence must be a number from 0 to 1, not {value!r}",
            {"field": "minConfidence", "minimum": 0, "maximum": 1},
            code="invalid_min_confidence",
        )
    return number


def insight_filter(
    type_: str | None, impact: str | None, min_confidence: str | None, status: str | None
) -> InsightFilter:
    """The list filter from the query, each bad value a 422 naming the field and what it takes."""
    from tidings.analytics.insights.service import InsightFilter

    wanted_status: InsightStatus | None = InsightStatus.ACTIVE
    if status == "all":
        wanted_status = None
    elif status is not None:
        wanted_status = choice(InsightStatus, status, field="status", code="invalid_status")
    return InsightFilter(
        type=choice(InsightType, type_, field="type", code="invalid_type") if type_ is not None else None,
        impact=choice(Impact, impact, field="impact", code="invalid_impact") if impact is not None else None,
        min_confidence=_min_confidence(min_confidence),
        status=wanted_status,
    )


def register_insight_routes(
    app: APIGatewayHttpResolver, services: Callable[[], InsightServices], user_id: Callable[[], str]
) -> None:
    @app.get(
        "/insights",
        summary="Your insights: most impact first, then the most confident",
        responses=responses(200, "Insights", InsightList),
    )
    def list_insights(
        type: Annotated[
            str | None, Query(max_length=20, description="trend, opportunity, warning or recommendation")
        ] = None,
        impact: Annotated[str | None, Query(max_length=10, description="high, medium or low")] = None,
        minConfidence: Annotated[str | None, Query(max_length=20, description="0 to 1")] = None,
        status: Annotated[
            str | None, Query(max_length=10, description="active (default), dismissed or all")
        ] = None,
    ) -> Response[str]:
        wanted = insight_filter(type, impact, minConfidence, status)
        found = services().insights.find(user_id(), wanted)
        return json_response(200, InsightList(insights=[insight_view(i) for i in found]))

    @app.post(
        "/insights/generate",
        summary="Generate your insights now from your posts' analytics",
        responses=responses(200, "What the run did, and your insights", GenerateView),
    )
    def generate_insights(body: Annotated[GenerateRequest | None, Body()] = None) -> Response[str]:
        zone = body.timezone if body is not None and body.timezone else "UTC"
        return json_response(200, _generate_view(services().insights.generate(user_id(), zone)))

    @app.get(
        "/insights/<insightId>",
        summary="One insight with its evidence",
        responses=responses(200, "The insight", InsightView, 404),
    )
    def get_insight(insightId: str) -> Response[str]:
        return json_response(200, insight_view(services().insights.get(user_id(), insightId)))

    @app.post(
        "/insights/<insightId>/dismiss",
        summary="Dismiss an insight: it stays dismissed until its evidence changes materially",
        responses=responses(200, "The insight", InsightView, 404, 409),
    )
    def dismiss_insight(insightId: str) -> Response[str]:
        return json_response(200, insight_view(services().insights.dismiss(user_id(), insightId)))

    @app.get(
        "/analytics/summary",
        summary="Totals, engagement rate and top posts, per platform and content type, against the "
        "period before",
        responses=responses(200, "The summary", SummaryView),
    )
    def analytics_summary(
        range: Annotated[str | None, Query(max_length=10, description="7d, 30d (default) or 90d")] = None,
        platform: Annotated[str | None, Query(max_length=20, description="Only this platform")] = None,
    ) -> Response[str]:
        return json_response(200, summary_view(services().summary.summary(user_id(), range, platform)))
