"""Routes of the scheduling capability: posts (schedule, batch, publish now, list, change, cancel),
queue statistics and the best time to post."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from tidings.api.common import doc, json_response, responses
from tidings.api.models import (
    BatchItemResult,
    BatchRequest,
    BatchResult,
    CreatePostRequest,
    ErrorBody,
    OptimalTimeView,
    PostList,
    PostView,
    PublishNowRequest,
    PublishNowResult,
    QueueStats,
    UpdatePostRequest,
    post_view,
)
from tidings.core.errors import TidingsError, ValidationFailed
from tidings.publishing.validation import check_timezone, parse_platforms
from tidings.scheduling.personalization import ClientContent
from tidings.scheduling.service import NewPost, PostChanges, SchedulingService

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

# What a post written for a CRM client may also answer: the client or its CRM not found or not
# connected, a template too large, the CRM's rate limit, a CRM that answered wrongly or stayed down.
CLIENT_ERRORS = (404, 409, 413, 429, 502, 503)


def _new_post(req: CreatePostRequest | PublishNowRequest) -> NewPost:
    if req.client_id is None and (req.variables or req.fallbacks or req.crm_integration_id):
        raise ValidationFailed(
            "variables, fallbacks and crmIntegrationId personalise a post for a client: give clientId",
            {"field": "clientId"},
            code="client_id_required",
        )
    return NewPost(
        content=req.content,
        platforms=req.platforms,
        scheduled_time=getattr(req, "scheduled_time", None),
        hashtags=tuple(req.hashtags),
        thread=tuple(req.thread),
        media_urls=tuple(req.media_urls),
        link=req.link,
        content_type=req.content_type,
        timezone=req.timezone,
        client=(
            ClientContent(
                client_id=req.client_id,
                integration_id=req.crm_integration_id,
                variables=req.variables,
                fallbacks=req.fallbacks,
            )
            if req.client_id is not None
            else None
        ),
    )


def register_post_routes(
    app: APIGatewayHttpResolver, service: Callable[[], SchedulingService], user_id: Callable[[], str]
) -> None:
    @app.post(
        "/posts",
        summary="Schedule a post",
        responses=responses(201, "The stored post", PostView, 400, *CLIENT_ERRORS),
    )
    def create_post(body: Annotated[CreatePostRequest, Body()]) -> Response[str]:
        post = service().schedule(user_id(), _new_post(body))
        return json_response(201, post_view(post))

    @app.post(
        "/posts/batch",
        summary="Schedule many posts; a result per item",
        responses=responses(207, "A result per item", BatchResult, 400),
    )
    def create_batch(body: Annotated[BatchRequest, Body()]) -> Response[str]:
        results: list[BatchItemResult] = []
        for index, item in enumerate(service().schedule_batch(user_id(), [_new_post(p) for p in body.posts])):
            if isinstance(item, TidingsError):
                error = ErrorBody(code=item.code, message=item.message, details=item.details)
                results.append(BatchItemResult(index=index, ok=False, error=error))
            elif isinstance(item, Exception):
                raise item
            else:
                results.append(BatchItemResult(index=index, ok=True, post=post_view(item)))
        created = sum(1 for r in results if r.ok)
        status = 201 if created == len(results) else 207
        return json_response(
            status, BatchResult(created=created, failed=len(results) - created, results=results)
        )

    @app.post(
        "/posts/publish-now",
        summary="Publish at once to several platforms",
        responses={
            **responses(200, "Every platform answered", PublishNowResult, 400, *CLIENT_ERRORS),
            202: doc("Still publishing: poll GET /posts/{postId}", PublishNowResult),
        },
    )
    def publish_now(body: Annotated[PublishNowRequest, Body()]) -> Response[str]:
        outcome = service().publish_now(user_id(), _new_post(body))
        view = post_view(outcome.post)
        result = PublishNowResult(
            post_id=view.post_id,
            status=view.status,
            complete=outcome.complete,
            results=view.results,
            post=view,
        )
        return json_response(200 if outcome.complete else 202, result)

    @app.get(
        "/posts", summary="The queue, ordered by time", responses=responses(200, "A page of posts", PostList)
    )
    def list_posts(
        status: Annotated[str | None, Query(description="scheduled, publishing, published, ...")] = None,
        platform: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        next_token: Annotated[str | None, Query(alias="nextToken", max_length=2048)] = None,
    ) -> Response[str]:
        page = service().list_posts(user_id(), status, platform, limit, next_token)
        return json_response(
            200, PostList(posts=[post_view(p) for p in page.posts], next_token=page.next_token)
        )

    @app.get(
        "/posts/<postId>",
        summary="One post with its per-platform results",
        responses=responses(200, "The post", PostView, 404),
    )
    def get_post(postId: str) -> Response[str]:
        return json_response(200, post_view(service().get(user_id(), postId)))

    @app.patch(
        "/posts/<postId>",
        summary="Change a scheduled post",
        responses=responses(200, "The changed post", PostView, 400, 404, 409),
    )
    def update_post(postId: str, body: Annotated[UpdatePostRequest, Body()]) -> Response[str]:
        changes = PostChanges(
            scheduled_time=body.scheduled_time,
            platforms=body.platforms,
            content=body.content,
            hashtags=tuple(body.hashtags) if body.hashtags is not None else None,
            thread=tuple(body.thread) if body.thread is not None else None,
        )
        return json_response(200, post_view(service().update(user_id(), postId, changes)))

    @app.delete(
        "/posts/<postId>",
        summary="Cancel a scheduled post, or one being published between attempts (409 publish_in_progress "
        "while an attempt runs); what already went out stays out",
        responses=responses(200, "The cancelled post", PostView, 404, 409),
    )
    def cancel_post(postId: str) -> Response[str]:
        return json_response(200, post_view(service().cancel(user_id(), postId)))


def register_queue_routes(
    app: APIGatewayHttpResolver, service: Callable[[], SchedulingService], user_id: Callable[[], str]
) -> None:
    @app.get("/queue/stats", summary="Queue statistics", responses=responses(200, "Statistics", QueueStats))
    def queue_stats() -> Response[str]:
        s = service().stats(user_id())
        return json_response(
            200,
            QueueStats(
                total_scheduled=s.total_scheduled,
                next_post_time=s.next_post_time,
                by_platform=s.by_platform,
                by_status=s.by_status,
            ),
        )

    @app.get(
        "/optimal-time",
        summary="The best time to post, learned from your analytics",
        responses=responses(200, "A recommendation", OptimalTimeView),
    )
    def optimal(
        platform: Annotated[str, Query()],
        content_type: Annotated[str | None, Query(alias="contentType", max_length=40)] = None,
        timezone: Annotated[str, Query(max_length=64)] = "UTC",
    ) -> Response[str]:
        target = parse_platforms([platform])[0]
        check_timezone(timezone)
        rec = service().recommend(user_id(), target, content_type, timezone)
        return json_response(
            200,
            OptimalTimeView(
                platform=str(target),
                timezone=timezone,
                recommended_time=rec.recommended_time,
                confidence=rec.confidence,
                reasoning=rec.reasoning,
                alternatives=rec.alternatives,
                based_on_posts=rec.based_on_posts,
                data_quality=str(rec.data_quality),
            ),
        )
