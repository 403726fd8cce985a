"""The webhook use cases behind the HTTP API: register (the secret shown once), list, read, delete,
send a test event, and read the delivery log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tidings.core.clock import Clock
from tidings.core.config import get_settings
from tidings.core.errors import NotFound, ValidationFailed
from tidings.core.netguard import Resolver, outbound_url_problem
from tidings.store.webhooks import Delivery, DeliveryRepository, NewWebhook, Webhook, WebhookRepository
from tidings.webhooks.delivery import AttemptOutcome, WebhookDeliverer, body_of
from tidings.webhooks.events import SUBSCRIBABLE, Event, EventType

MAX_URL = 2048
MAX_DESCRIPTION = 500


@dataclass(frozen=True)
class TestResult:
    event_id: str
    outcome: AttemptOutcome


class WebhookService:
    def __init__(
        self,
        hooks: WebhookRepository,
        deliveries: DeliveryRepository,
        deliverer: WebhookDeliverer,
        clock: Clock,
        *,
        allow_private: bool,
        resolve: Resolver | None = None,
        quota: int | None = None,
    ) -> None:
        self.hooks = hooks
        self.quota = get_settings().quota_webhooks if quota is None else quota
        self.deliveries = deliveries
        self.deliverer = deliverer
        self.clock = clock
        self.allow_private = allow_private
        self.resolve = resolve

    def create(self, user_id: str, url: str, events: list[str], description: str | None) -> NewWebhook:
        url = url.strip()
        if len(url) > MAX_URL:
            raise ValidationFailed(
                f"the URL is longer than {MAX_URL} characters", {"field": "url"}, code="invalid_url"
            )
        refused = outbound_url_problem(url, allow_private=self.allow_private, resolve=self.resolve)
        if refused is not None:
            code, message = refused
            raise ValidationFailed(message, {"field": "url"}, code=code)
        unknown = [e for e in events if e not in SUBSCRIBABLE]
        if not events or unknown:
            raise ValidationFailed(
                "events must name at least one supported event" if not unknown else "unknown events",
                {"field": "events", "unknown": unknown, "supported": list(SUBSCRIBABLE)},
                code="invalid_events",
            )
        if description is not None and len(description) > MAX_DESCRIPTION:
            raise ValidationFailed(
                f"the description is longer than {MAX_DESCRIPTION} characters",
                {"field": "description"},
                code="invalid_description",
            )
        return self.hooks.create(user_id, url, events, description, limit=self.quota)

    def for_user(self, user_id: str) -> list[Webhook]:
        return self.hooks.for_user(user_id)

    def get(self, user_id: str, webhook_id: str) -> Webhook:
        return self.hooks.get(user_id, webhook_id)

    def delete(self, user_id: str, webhook_id: str) -> Webhook:
        return self.hooks.delete(user_id, webhook_id)

    def test(self, user_id: str, webhook_id: str) -> TestResult:
        """Send a signed `webhook.ping` now and answer what the endpoint said (not retried, not logged
        as a delivery: it is a check, like the integrations' connection test)."""
        target = self.hooks.signing_target(user_id, webhook_id)
        if target is None:
            raise NotFound("no such webhook", {"webhookId": webhook_id}, code="webhook_not_found")
        hook, secret = target
        event = Event(
            event_id="evt_ping_" + uuid.uuid4().hex[:24],
            type=EventType.PING,
            user_id=user_id,
            occurred_at=self.clock.now(),
            data={"webhookId": hook.webhook_id, "events": list(hook.events)},
        )
        outcome = self.deliverer.attempt(hook, secret, event.event_id, str(event.type), body_of(event))
        return TestResult(event.event_id, outcome)

    def deliveries_page(
        self, user_id: str, webhook_id: str, limit: int, next_token: str | None
    ) -> tuple[list[Delivery], str | None]:
        self.hooks.get(user_id, webhook_id)  # 404 for an unknown (or another user's) webhook
        try:
            return self.deliveries.page(user_id, webhook_id, limit, next_token)
        except ValueError as exc:
            raise ValidationFailed(str(exc), {"field": "nextToken"}, code="invalid_next_token") from exc
