"""HTTP routes for outgoing webhooks: register (the signing secret shown once), list, read, delete,
test, and the delivery log."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import Field

from tidings.api.common import json_response, responses
from tidings.api.models import ApiModel, Timestamp

if TYPE_CHECKING:
    from tidings.store.webhooks import Delivery, Webhook
    from tidings.webhooks.service import WebhookService


class CreateWebhookRequest(ApiModel):
    url: str = Field(max_length=2048, description="https URL that resolves to public addresses only")
    events: list[str] = Field(
        min_length=1,
        max_length=20,
        description="post.published, post.failed, workflow.completed, workflow.failed, "
        "workflow.awaiting_approval, alert.raised, alert.resolved, insight.warning, campaign.completed, "
        "campaign.failed",
    )
    description: str | None = Field(default=None, max_length=500)


class WebhookView(ApiModel):
    webhook_id: str
    url: str
    events: list[str]
    description: str | None
    created_at: Timestamp
    secret_hint: str = Field(description="The signing secret's last characters, to tell secrets apart")


class NewWebhookView(WebhookView):
    secret: str = Field(description="The signing secret for Tidings-Signature: shown this once, store it now")


class WebhookList(ApiModel):
    webhooks: list[WebhookView]


class WebhookTestView(ApiModel):
    event_id: str
    delivered: bool
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryView(ApiModel):
    event_id: str
    event_type: str
    status: str = Field(description="sending, retrying, delivered or failed")
    attempts: int
    created_at: Timestamp
    next_attempt_at: Timestamp | None
    delivered_at: Timestamp | None
    last_status_code: int | None
    last_error: str | None
    history: list[dict[str, Any]] = Field(description="The last attempts: at, statusCode, error, durationMs")
    payload: dict[str, Any] = Field(description="The exact event body sent")


class DeliveryList(ApiModel):
    deliveries: list[DeliveryView]
    next_token: str | None


def webhook_view(hook: Webhook) -> WebhookView:
    return WebhookView(
        webhook_id=hook.webhook_id,
        url=hook.url,
        events=list(hook.events),
        description=hook.description,
        created_at=hook.created_at,
        secret_hint=hook.secret_hint,
    )


def delivery_view(d: Delivery) -> DeliveryView:
    return DeliveryView(
        event_id=d.event_id,
        event_type=d.event_type,
        status=d.status,
        attempts=d.attempts,
        created_at=d.created_at,
        next_attempt_at=d.next_attempt_at,
        delivered_at=d.delivered_at,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        history=[dict(h) for h in d.history],
        payload=json.loads(d.body),
    )


def register_webhook_routes(
    app: APIGatewayHttpResolver, service: Callable[[], WebhookService], user_id: Callable[[], str]
) -> None:
    @app.post(
        "/webhooks",
        summary="Register a webhook; the answer holds its signing secret, shown this once",
        responses=responses(201, "The webhook with its secret", NewWebhookView, 400, 409),
    )
    def create_webhook(body: Annotated[CreateWebhookRequest, Body()]) -> Response[str]:
        created = service().create(user_id(), body.url, body.events, body.description)
        view = webhook_view(created.webhook)
        return json_response(201, NewWebhookView(**view.model_dump(), secret=created.secret))

    @app.get("/webhooks", summary="Your webhooks", responses=responses(200, "Webhooks", WebhookList))
    def list_webhooks() -> Response[str]:
        return json_response(
            200, WebhookList(webhooks=[webhook_view(h) for h in service().for_user(user_id())])
        )

    @app.get(
        "/webhooks/<webhookId>",
        summary="One webhook",
        responses=responses(200, "The webhook", WebhookView, 404),
    )
    def get_webhook(webhookId: str) -> Response[str]:
        return json_response(200, webhook_view(service().get(user_id(), webhookId)))

    @app.delete(
        "/webhooks/<webhookId>",
        summary="Delete a webhook (pending retries to it stop)",
        responses=responses(200, "The deleted webhook", WebhookView, 404),
    )
    def delete_webhook(webhookId: str) -> Response[str]:
        return json_response(200, webhook_view(service().delete(user_id(), webhookId)))

    @app.post(
        "/webhooks/<webhookId>/test",
        summary="Send a signed webhook.ping now and report the endpoint's answer",
        responses=responses(200, "What the endpoint answered", WebhookTestView, 404),
    )
    def test_webhook(webhookId: str) -> Response[str]:
        result = service().test(user_id(), webhookId)
        o = result.outcome
        view = WebhookTestView(
            event_id=result.event_id,
            delivered=o.delivered,
            status_code=o.status_code,
            error=o.error,
            duration_ms=o.duration_ms,
        )
        return json_response(200, view)

    @app.get(
        "/webhooks/<webhookId>/deliveries",
        summary="The webhook's deliveries, newest first, with each attempt's answer",
        responses=responses(200, "A page of deliveries", DeliveryList, 404),
    )
    def list_deliveries(
        webhookId: str,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        next_token: Annotated[str | None, Query(alias="nextToken", max_length=2048)] = None,
    ) -> Response[str]:
        deliveries, token = service().deliveries_page(user_id(), webhookId, limit, next_token)
        return json_response(
            200, DeliveryList(deliveries=[delivery_view(d) for d in deliveries], next_token=token)
        )
