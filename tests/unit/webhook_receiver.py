"""A webhook deliverer over the in-memory repositories whose receiver (httpx.MockTransport) answers 200
and keeps every request it was sent, for tests that follow an event from the stream to the receiver."""

from __future__ import annotations

import httpx

from tidings.core.clock import Clock
from tidings.store.memory.webhooks import InMemoryDeliveryRepository, InMemoryWebhookRepository
from tidings.webhooks.delivery import WebhookDeliverer


def recording_deliverer(
    hooks: InMemoryWebhookRepository, clock: Clock
) -> tuple[WebhookDeliverer, list[httpx.Request]]:
    """The deliverer, and the list its receiver fills (every host resolves to a public address)."""
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    deliverer = WebhookDeliverer(
        hooks,
        InMemoryDeliveryRepository(),
        httpx.Client(transport=httpx.MockTransport(receiver)),
        clock,
        retry_intervals=[60],
        allow_private=False,
        resolve=lambda host: ["93.184.215.14"],
    )
    return deliverer, received
