"""The scheduling HTTP API: routes, the user from the JWT, and errors mapped in one place."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from tidings.api.accounts import AccountServices, register_account_routes
from tidings.api.common import JSON, doc, error_response, json_response, responses
from tidings.api.inbound import register_inbound_routes
from tidings.api.integrations import register_integration_routes
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
from tidings.api.tasks import register_task_routes
from tidings.api.webhooks import register_webhook_routes
from tidings.api.workflows import register_workflow_routes
from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings
from tidings.core.errors import TidingsError, Unauthorized
from tidings.publishing.validation import check_timezone, parse_platforms
from tidings.scheduling.service import NewPost, PostChanges, SchedulingService

if TYPE_CHECKING:
    from tidings.integrations.manager import IntegrationManager
    from tidings.store.inbound import InboundEvents
    from tidings.webhooks.service import WebhookService
    from tidings.workflows.service import WorkflowService
    from tidings.workflows.tasks import TaskService

logger = logging.getLogger(__name__)


def _new_post(req: CreatePostRequest | PublishNowRequest) -> NewPost:
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
    )


def build_app(
    service_factory: Callable[[], SchedulingService],
    account_services: Callable[[], AccountServices] | None = None,
    workflow_service: Callable[[], WorkflowService] | None = None,
    task_service: Callable[[], TaskService] | None = None,
    inbound_events: Callable[[], InboundEvents] | None = None,
    webhook_service: Callable[[], WebhookService] | None = None,
    integration_manager: Callable[[], IntegrationManager] | None = None,
) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    services: list[SchedulingService] = []

    def service() -> SchedulingService:
        if not services:
            services.append(service_factory())
        return services[0]

    def user_id() -> str:
        claims = app.current_event.request_context.authorizer.jwt_claim or {}
        sub = claims.get("sub")
        if not sub:
            raise Unauthorized("a bearer token with a subject is required")
        return str(sub)

    _error_handlers(app)
    _post_routes(app, service, user_id)
    _queue_routes(app, service, user_id)
    if account_services is not None:
        register_account_routes(app, account_services, user_id)
    if workflow_service is not None:
        register_workflow_routes(app, workflow_service, user_id)
    if task_service is not None:
        register_task_routes(app, task_service, user_id)
    if inbound_events is not None:
        register_inbound_routes(app, inbound_events, get_settings, DEFAULT_CLOCK.now)
    if webhook_service is not None:
        register_webhook_routes(app, webhook_service, user_id)
    if integration_manager is not None:
        register_integration_routes(app, integration_manager, user_id)
    _docs(app)
    return app


# Request bodies are small JSON documents; anything larger is refused before it is parsed or validated.
MAX_BODY_BYTES = 256 * 1024


# Every id Tidings issues or accepts in a path (post, workflow, step, task, integration, webhook and
# alert ids, platform names) fits this; anything else names nothing, and is answered 404 before it
# reaches the table (DynamoDB refuses sort keys over 1,024 bytes).
PATH_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def handle(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one HTTP API event, refusing a body over MAX_BODY_BYTES with 413 and a path id that
    cannot name anything with 404 first."""
    body = event.get("body") or ""
    size = (len(body) * 3) // 4 if event.get("isBase64Encoded") else len(body.encode())
    if size > MAX_BODY_BYTES:
        return _early(
            413,
            ErrorBody(
                code="payload_too_large",
                message=f"the request body is {size} bytes; at most {MAX_BODY_BYTES} are accepted",
                details={"limit": MAX_BODY_BYTES, "size": size},
            ),
        )
    for name, value in (event.get("pathParameters") or {}).items():
        if not isinstance(value, str) or not PATH_ID.match(value):
            return _early(
                404,
                ErrorBody(code="not_found", message=f"no such {name}", details={"parameter": name}),
            )
    return app.resolve(event, context)


def _early(status: int, error: ErrorBody) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON},
        "body": error.model_dump_json(by_alias=True),
        "isBase64Encoded": False,
    }


def _error_handlers(app: APIGatewayHttpResolver) -> None:
    """Every error becomes `{code, message, details}` here, in one place."""

    @app.exception_handler(TidingsError)
    def _domainerror_response(exc: TidingsError) -> Response[str]:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response[str]:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "malformed_json", "the request body is not valid JSON")
        details = [
            {
                "location": [str(p) for p in e.get("loc", ())],
                "message": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in errors
        ]
        return error_response(
            422, "validation_error", "the request does not match the API schema", {"errors": details}
        )

    @app.not_found
    def _no_route(_: NotFoundError) -> Response[str]:
        return error_response(404, "route_not_found", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return error_response(
            500, "internal_error", "something went wrong on our side; the request was not completed"
        )


def _post_routes(
    app: APIGatewayHttpResolver, service: Callable[[], SchedulingService], user_id: Callable[[], str]
) -> None:
    @app.post(
        "/posts", summary="Schedule a post", responses=responses(201, "The stored post", PostView, 400, 409)
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
            **responses(200, "Every platform answered", PublishNowResult, 400),
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
        summary="Cancel a scheduled post",
        responses=responses(200, "The cancelled post", PostView, 404, 409),
    )
    def cancel_post(postId: str) -> Response[str]:
        return json_response(200, post_view(service().cancel(user_id(), postId)))


def _queue_routes(
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


def _docs(app: APIGatewayHttpResolver) -> None:
    openapi_meta: dict[str, Any] = {
        "title": "Tidings API",
        "version": "0.1.0",
        "description": "Schedule and publish social posts at the best time. Every route but the docs "
        "needs a bearer JWT; the user is its subject. Errors are JSON: {code, message, details}.",
        "security_schemes": {"bearerAuth": HTTPBearer(bearerFormat="JWT")},
        "security": [{"bearerAuth": []}],
    }

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document() -> Response[str]:
        return Response(status_code=200, content_type=JSON, body=app.get_openapi_json_schema(**openapi_meta))

    app.enable_swagger(path="/docs", **openapi_meta)
