"""HTTP routes of A/B tests: create one (its variants scheduled as posts in comparable slots), list,
read one with each variant's metrics, credible interval and probability to be the best, and stop one
(`tidings.engagement.abtests` has the rules)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import Field, StrictInt

from tidings.api.common import json_response, responses
from tidings.api.models import ApiModel, Timestamp
from tidings.engagement.abtests.rule import THRESHOLD
from tidings.engagement.abtests.service import ABTestService, NewABTest, NewVariant
from tidings.engagement.abtests.stats import CREDIBLE_LEVEL, Model
from tidings.models.abtests import ABTest, Evaluation, Metric, Variant, VariantResult

# -- requests -------------------------------------------------------------------------------------------


class VariantBody(ApiModel):
    content: str = Field(max_length=70_000, description="The post text of this variant")
    media_urls: list[Annotated[str, Field(max_length=2048)]] = Field(default_factory=list, max_length=20)
    hashtags: list[Annotated[str, Field(max_length=101)]] = Field(default_factory=list, max_length=100)


class ScheduleBody(ApiModel):
    start: datetime = Field(description="The first slot: ISO 8601 with a UTC offset")
    spacing_minutes: StrictInt = Field(description="Between two slots on a platform, 1 to 180")


class CreateABTestBody(ApiModel):
    name: str = Field(max_length=1000, description="1 to 200 characters")
    variants: list[VariantBody] = Field(max_length=10, description="2 to 4 variants")
    platforms: list[str] = Field(max_length=6, description="Where every variant is posted")
    schedule: ScheduleBody
    metric: str = Field(max_length=40, description="engagementRate, clicks or reach")
    min_sample_size: StrictInt | None = Field(
        default=None,
        description="Impressions per variant before a winner is decided: 100 to 10,000,000 (default 1,000)",
    )

    def new(self) -> NewABTest:
        return NewABTest(
            name=self.name,
            variants=tuple(
                NewVariant(v.content, tuple(v.media_urls), tuple(v.hashtags)) for v in self.variants
            ),
            platforms=self.platforms,
            start=self.schedule.start,
            spacing_minutes=self.schedule.spacing_minutes,
            metric=self.metric,
            min_sample_size=self.min_sample_size,
        )


# -- answers --------------------------------------------------------------------------------------------


class IntervalView(ApiModel):
    low: float
    high: float
    level: float = CREDIBLE_LEVEL


class VariantResultView(ApiModel):
    impressions: int = Field(description="Reach, or views where a platform reports no reach, summed")
    value: int = Field(description="What the metric counts: engagements, clicks or reach")
    posts: int
    estimate: float = Field(description="Posterior mean: the rate, or the reach per post")
    credible_interval: IntervalView
    probability_to_be_best: float


class VariantPostView(ApiModel):
    platform: str
    post_id: str
    slot: int
    scheduled_time: Timestamp


class VariantView(ApiModel):
    label: str
    content: str
    media_urls: list[str]
    hashtags: list[str]
    posts: list[VariantPostView]
    result: VariantResultView | None = None


class EvaluationView(ApiModel):
    evaluated_at: Timestamp
    reading_age_seconds: float | None = Field(
        default=None, description="Every post is compared at this age after publishing"
    )
    platforms: list[str] = Field(description="The platforms counted (those reporting the metric)")
    sample_reached: bool
    note: str | None = None


class RuleView(ApiModel):
    model: str
    threshold: float = THRESHOLD
    min_sample_size: int


class ScheduleView(ApiModel):
    start: Timestamp
    spacing_minutes: int


class ABTestView(ApiModel):
    id: str
    name: str
    status: str = Field(description="collecting, completed, inconclusive, stopped or failed")
    metric: str
    platforms: list[str]
    schedule: ScheduleView
    rule: RuleView
    variants: list[VariantView]
    winner: str | None = None
    final_reason: str | None = None
    evaluation: EvaluationView | None = None
    insight_id: str | None = None
    created_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None = None


class ABTestList(ApiModel):
    ab_tests: list[ABTestView]
    next_token: str | None = None


def _result_view(r: VariantResult) -> VariantResultView:
    return VariantResultView(
        impressions=r.impressions,
        value=r.value,
        posts=r.posts,
        estimate=r.estimate,
        credible_interval=IntervalView(low=r.interval[0], high=r.interval[1]),
        probability_to_be_best=r.probability_best,
    )


def _variant_view(v: Variant, evaluation: Evaluation | None) -> VariantView:
    results = {r.label: r for r in evaluation.results} if evaluation else {}
    result = results.get(v.label)
    return VariantView(
        label=v.label,
        content=v.content,
        media_urls=list(v.media_urls),
        hashtags=list(v.hashtags),
        posts=[
            VariantPostView(
                platform=p.platform, post_id=p.post_id, slot=p.slot, scheduled_time=p.scheduled_time
            )
            for p in v.posts
        ],
        result=_result_view(result) if result else None,
    )


def ab_test_view(test: ABTest) -> ABTestView:
    e = test.evaluation
    model = Model.POISSON_GAMMA if test.metric is Metric.REACH else Model.BETA_BINOMIAL
    return ABTestView(
        id=test.test_id,
        name=test.name,
        status=str(test.status),
        metric=str(test.metric),
        platforms=list(test.platforms),
        schedule=ScheduleView(start=test.start, spacing_minutes=test.spacing_minutes),
        rule=RuleView(model=str(model), min_sample_size=test.min_sample_size),
        variants=[_variant_view(v, e) for v in test.variants],
        winner=test.winner,
        final_reason=test.final_reason,
        evaluation=(
            EvaluationView(
                evaluated_at=e.at,
                reading_age_seconds=e.reading_age_seconds,
                platforms=list(e.platforms),
                sample_reached=e.sample_reached,
                note=e.note,
            )
            if e
            else None
        ),
        insight_id=test.insight_id,
        created_at=test.created_at,
        updated_at=test.updated_at,
        completed_at=test.completed_at,
    )


def register_abtest_routes(
    app: APIGatewayHttpResolver, service: Callable[[], ABTestService], user_id: Callable[[], str]
) -> None:
    @app.post(
        "/ab-tests",
        summary="Start an A/B test of 2 to 4 post variants",
        description="Schedules each variant as a post on each platform in comparable slots (the same "
        "weekday, within 3 hours, spacingMinutes apart; the order random and rotated between platforms), "
        "through the same rules as POST /posts, and follows their metrics. 409 abtest_limit_reached past "
        "5 running tests.",
        status_code=201,
        responses=responses(201, "The test, collecting", ABTestView, 400, 409),
    )
    def create_ab_test(body: Annotated[CreateABTestBody, Body()]) -> Response[str]:
        return json_response(201, ab_test_view(service().create(user_id(), body.new())))

    @app.get(
        "/ab-tests",
        summary="Your A/B tests, newest first",
        responses=responses(200, "A page of tests", ABTestList),
    )
    def list_ab_tests(
        limit: Annotated[int, Query(description="1 to 100")] = 25,
        next_token: Annotated[
            str | None, Query(alias="nextToken", max_length=2048, description="nextToken of the page before")
        ] = None,
    ) -> Response[str]:
        found, token = service().list(user_id(), limit, next_token)
        return json_response(200, ABTestList(ab_tests=[ab_test_view(t) for t in found], next_token=token))

    @app.get(
        "/ab-tests/<testId>",
        summary="One A/B test: per variant its metrics, credible interval and probability to be the best",
        responses=responses(200, "The test", ABTestView, 404),
    )
    def get_ab_test(testId: str) -> Response[str]:
        return json_response(200, ab_test_view(service().get(user_id(), testId)))

    @app.post(
        "/ab-tests/<testId>/stop",
        summary="End an A/B test: its variants' posts not yet published are cancelled",
        responses=responses(200, "The stopped test", ABTestView, 404, 409),
    )
    def stop_ab_test(testId: str) -> Response[str]:
        return json_response(200, ab_test_view(service().stop(user_id(), testId)))
