"""The HTTP API app: one Powertools resolver with every capability's routes, the user from the JWT,
errors mapped in one place, the body-size and path-id guards, and the OpenAPI document."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from tidings.api.abtests import register_abtest_routes
from tidings.api.accounts import AccountServices, register_account_routes
from tidings.api.analytics import register_analytics_routes
from tidings.api.analytics_history import (
    IMPORT_BODY_BYTES,
    IMPORT_ROUTE,
    AnalyticsHistoryServices,
    register_analytics_history_routes,
)
from tidings.api.campaign_insights import CampaignInsightServices, register_campaign_insight_routes
from tidings.api.campaign_sending import CampaignSendingServices, register_campaign_sending_routes
from tidings.api.campaigns import CAMPAIGN_BODY_BYTES, CAMPAIGN_ROUTES, register_campaign_routes
from tidings.api.comments import register_comment_routes
from tidings.api.common import JSON, error_response
from tidings.api.crises import register_crisis_routes
from tidings.api.crm import CrmServices, register_crm_routes
from tidings.api.inbound import register_inbound_routes
from tidings.api.insights import InsightServices, register_insight_routes
from tidings.api.integrations import IntegrationServices, register_integration_routes
from tidings.api.limits import body_problem, subject_of, throttled
from tidings.api.models import (
    ErrorBody,
)
from tidings.api.notification_addresses import register_notification_address_routes
from tidings.api.posts import register_post_routes, register_queue_routes
from tidings.api.tasks import register_task_routes
from tidings.api.webhooks import register_webhook_routes
from tidings.api.workflows import register_workflow_routes
from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import Settings, get_settings
from tidings.core.errors import TidingsError
from tidings.scheduling.service import SchedulingService

if TYPE_CHECKING:
    from tidings.analytics.service import PostAnalyticsService
    from tidings.campaigns.service import CampaignService
    from tidings.engagement.abtests.service import ABTestService
    from tidings.engagement.comments import CommentService
    from tidings.engagement.crisis.service import CrisisService
    from tidings.integrations.inbound import MetaInbox
    from tidings.notifications.service import NotificationAddresses
    from tidings.store.throttle import RequestThrottle
    from tidings.webhooks.service import WebhookService
    from tidings.workflows.service import WorkflowService
    from tidings.workflows.tasks import TaskService

logger = logging.getLogger(__name__)


def build_app(
    service_factory: Callable[[], SchedulingService],
    account_services: Callable[[], AccountServices] | None = None,
    workflow_service: Callable[[], WorkflowService] | None = None,
    task_service: Callable[[], TaskService] | None = None,
    meta_inbox: Callable[[], MetaInbox] | None = None,
    webhook_service: Callable[[], WebhookService] | None = None,
    integrations: Callable[[], IntegrationServices] | None = None,
    *,
    analytics: Callable[[], PostAnalyticsService] | None = None,
    analytics_history: Callable[[], AnalyticsHistoryServices] | None = None,
    insights: Callable[[], InsightServices] | None = None,
    crm: Callable[[], CrmServices] | None = None,
    campaigns: Callable[[], CampaignService] | None = None,
    campaign_sending: Callable[[], CampaignSendingServices] | None = None,
    campaign_insights: Callable[[], CampaignInsightServices] | None = None,
    ab_tests: Callable[[], ABTestService] | None = None,
    comments: Callable[[], CommentService] | None = None,
    notification_addresses: Callable[[], NotificationAddresses] | None = None,
    throttle: Callable[[], RequestThrottle] | None = None,
    crises: Callable[[], CrisisService] | None = None,
    settings: Callable[[], Settings] = get_settings,
) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    services: list[SchedulingService] = []

    def service() -> SchedulingService:
        if not services:
            services.append(service_factory())
        return services[0]

    def user_id() -> str:
        return subject_of(app.current_event.request_context.authorizer.jwt_claim)

    _error_handlers(app)
    _throttle(app, throttle)
    register_post_routes(app, service, user_id)
    register_queue_routes(app, service, user_id)
    if account_services is not None:
        register_account_routes(app, account_services, user_id)
    if workflow_service is not None:
        register_workflow_routes(app, workflow_service, user_id)
    if task_service is not None:
        register_task_routes(app, task_service, user_id)
    if meta_inbox is not None:
        register_inbound_routes(app, meta_inbox, settings, DEFAULT_CLOCK.now)
    if webhook_service is not None:
        register_webhook_routes(app, webhook_service, user_id)
    if integrations is not None:
        register_integration_routes(app, integrations, user_id)
    _analytics_routes(app, analytics, analytics_history, user_id)
    if insights is not None:
        register_insight_routes(app, insights, user_id)
    _crm_routes(app, crm, user_id)
    _campaign_routes(app, campaigns, user_id)
    _campaign_sending_routes(app, campaign_sending, user_id)
    _campaign_insight_routes(app, campaign_insights, user_id)
    _abtest_routes(app, ab_tests, user_id)
    _comment_routes(app, comments, user_id)
    _crisis_routes(app, crises, user_id)
    _notification_address_routes(app, notification_addresses, user_id)
    _docs(app)
    return app


def _comment_routes(
    app: APIGatewayHttpResolver, comments: Callable[[], CommentService] | None, user_id: Callable[[], str]
) -> None:
    if comments is not None:
        register_comment_routes(app, comments, user_id)


def _notification_address_routes(
    app: APIGatewayHttpResolver,
    addresses: Callable[[], NotificationAddresses] | None,
    user_id: Callable[[], str],
) -> None:
    if addresses is not None:
        register_notification_address_routes(app, addresses, user_id)


def _throttle(app: APIGatewayHttpResolver, throttle: Callable[[], RequestThrottle] | None) -> None:
    """Every route's requests spend their user's token bucket first (`tidings.api.limits.throttled`)."""
    if throttle is not None:
        app.use(middlewares=[throttled(throttle)])


def _analytics_routes(
    app: APIGatewayHttpResolver,
    analytics: Callable[[], PostAnalyticsService] | None,
    analytics_history: Callable[[], AnalyticsHistoryServices] | None,
    user_id: Callable[[], str],
) -> None:
    if analytics is not None:
        register_analytics_routes(app, analytics, user_id)
    if analytics_history is not None:
        register_analytics_history_routes(app, analytics_history, user_id)


def _crm_routes(
    app: APIGatewayHttpResolver, crm: Callable[[], CrmServices] | None, user_id: Callable[[], str]
) -> None:
    if crm is not None:
        register_crm_routes(app, crm, user_id)


def _campaign_insight_routes(
    app: APIGatewayHttpResolver,
    services: Callable[[], CampaignInsightServices] | None,
    user_id: Callable[[], str],
) -> None:
    if services is not None:
        register_campaign_insight_routes(app, services, user_id)


def _campaign_sending_routes(
    app: APIGatewayHttpResolver,
    services: Callable[[], CampaignSendingServices] | None,
    user_id: Callable[[], str],
) -> None:
    if services is not None:
        register_campaign_sending_routes(app, services, user_id)


def _campaign_routes(
    app: APIGatewayHttpResolver, campaigns: Callable[[], CampaignService] | None, user_id: Callable[[], str]
) -> None:
    if campaigns is not None:
        register_campaign_routes(app, campaigns, user_id)


def _abtest_routes(
    app: APIGatewayHttpResolver, ab_tests: Callable[[], ABTestService] | None, user_id: Callable[[], str]
) -> None:
    if ab_tests is not None:
        register_abtest_routes(app, ab_tests, user_id)


def _crisis_routes(
    app: APIGatewayHttpResolver, crises: Callable[[], CrisisService] | None, user_id: Callable[[], str]
) -> None:
    if crises is not None:
        register_crisis_routes(app, crises, user_id)


# Request bodies are small JSON documents; anything larger is refused before it is parsed or validated.
MAX_BODY_BYTES = 256 * 1024
# Routes that take more: a CSV import up to API Gateway's 10 MB payload limit.
# And a campaign's recipient list (up to 10,000 addresses) on its creation or change.
ROUTE_BODY_BYTES = {IMPORT_ROUTE: IMPORT_BODY_BYTES, **dict.fromkeys(CAMPAIGN_ROUTES, CAMPAIGN_BODY_BYTES)}


# Every id Tidings issues or accepts in a path (post, workflow, step, task, integration, webhook and
# alert ids, platform names) fits this; anything else names nothing, and is answered 404 before it
# reaches the table (DynamoDB refuses sort keys over 1,024 bytes).
PATH_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# Path parameters that are not Tidings' ids, checked by their route instead: a CRM's client id is the
# CRM's own (a custom CRM may key clients by e-mail), and `tidings.crm.clients.check_client_id`
# answers 400 for one that cannot name anything; an unsubscribe token (longer than an id: read, and
# refused with 404, by `tidings.campaigns.unsubscribe`); a suppressed e-mail address.
OWN_CHECK_PARAMETERS = frozenset({"clientId", "token", "email"})


def handle(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one HTTP API event, refusing first a body that is not UTF-8 or nests too deep
    (`tidings.api.limits`, 422), a body over the route's limit (MAX_BODY_BYTES unless
    ROUTE_BODY_BYTES says more) with 413 and a path id that cannot name anything with 404."""
    problem = body_problem(event)
    if problem is not None:
        return _early(problem.status, ErrorBody.model_validate(problem.to_body()))
    body = event.get("body") or ""
    size = (len(body) * 3) // 4 if event.get("isBase64Encoded") else len(body.encode())
    limit = ROUTE_BODY_BYTES.get(_route_key(event), MAX_BODY_BYTES)
    if size > limit:
        return _early(
            413,
            ErrorBody(
                code="payload_too_large",
                message=f"the request body is {size} bytes; at most {limit} are accepted",
                details={"limit": limit, "size": size},
            ),
        )
    for name, value in (event.get("pathParameters") or {}).items():
        if name in OWN_CHECK_PARAMETERS and isinstance(value, str):
            continue
        if not isinstance(value, str) or not PATH_ID.match(value):
            return _early(
                404,
                ErrorBody(code="not_found", message=f"no such {name}", details={"parameter": name}),
            )
    return app.resolve(event, context)


def _route_key(event: dict[str, Any]) -> str:
    """The event's route ("POST /analytics/import"): API Gateway's routeKey, else method and path."""
    route = event.get("routeKey")
    if isinstance(route, str) and route.startswith(("GET ", "POST ", "PUT ", "PATCH ", "DELETE ")):
        return route
    http = (event.get("requestContext") or {}).get("http") or {}
    return f"{http.get('method', '')} {event.get('rawPath') or http.get('path') or ''}"


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
