"""Through the API: a user past a quota is answered 409 quota_exceeded naming the quota and its limit,
and a user sending faster than their bucket allows is answered 429 rate_limited with Retry-After,
on every route, while other users go on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_events import call, respond
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from tidings.api.app import build_app
from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.scheduling.service import SchedulingService
from tidings.store.memory.accounts import InMemorySecretVault
from tidings.store.memory.analytics import InMemoryAnalyticsRepository
from tidings.store.memory.posts import InMemoryPostRepository
from tidings.store.memory.webhooks import InMemoryDeliveryRepository, InMemoryWebhookRepository
from tidings.store.throttle import Bucket, InMemoryRequestThrottle
from tidings.webhooks.delivery import WebhookDeliverer
from tidings.webhooks.service import WebhookService

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Starter:
    def start(self, user_id: str, post_id: str, version: int, due_at: datetime) -> bool:
        return True


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def make_app(
    clock: FakeClock, throttle: InMemoryRequestThrottle | None = None, **settings: Any
) -> APIGatewayHttpResolver:
    scheduling = SchedulingService(
        settings=Settings(table_name="t", min_gap_minutes=0, **settings),
        posts=InMemoryPostRepository(),
        analytics=InMemoryAnalyticsRepository(),
        starter=Starter(),
        clock=clock,
        sleep=lambda _: None,
    )
    hooks, deliveries = (
        InMemoryWebhookRepository(InMemorySecretVault(), clock=clock),
        InMemoryDeliveryRepository(),
    )
    deliverer = WebhookDeliverer(hooks, deliveries, None, clock, retry_intervals=[60], allow_private=True)  # type: ignore[arg-type]
    webhooks = WebhookService(hooks, deliveries, deliverer, clock, allow_private=True, quota=2)
    return build_app(
        lambda: scheduling,
        webhook_service=lambda: webhooks,
        throttle=(lambda: throttle) if throttle is not None else None,
    )


def new_post(minutes: int, platform: str) -> str:
    when = (START + timedelta(minutes=minutes)).isoformat()
    return json.dumps({"content": "Open house on Sunday", "platforms": [platform], "scheduledTime": when})


def new_webhook(n: int) -> str:
    return json.dumps({"url": f"https://crm.example.com/{n}", "events": ["post.published"]})


def test_a_webhook_past_the_quota_is_refused_naming_it_and_a_deletion_frees_one(clock: FakeClock) -> None:
    app = make_app(clock)
    made = [call(app, "POST", "/webhooks", body=new_webhook(n)) for n in range(2)]
    status, body = call(app, "POST", "/webhooks", body=new_webhook(3))

    assert [s for s, _ in made] == [201, 201]
    assert (status, body["code"], body["details"]) == (
        409,
        "quota_exceeded",
        {"quota": "webhooks", "limit": 2},
    )
    hook_id = made[0][1]["webhookId"]
    assert call(app, "DELETE", f"/webhooks/{hook_id}", path_parameters={"webhookId": hook_id})[0] == 200
    assert call(app, "POST", "/webhooks", body=new_webhook(4))[0] == 201
    assert call(app, "POST", "/webhooks", body=new_webhook(4), user="u2")[0] == 201


def test_scheduled_posts_past_the_quota_across_platforms_are_refused_naming_it(clock: FakeClock) -> None:
    app = make_app(clock, quota_scheduled_posts=3)
    answers = [
        call(app, "POST", "/posts", body=new_post(60 + i, p))[0]
        for i, p in enumerate(["facebook", "twitter", "linkedin"])
    ]
    status, body = call(app, "POST", "/posts", body=new_post(90, "facebook"))

    assert answers == [201, 201, 201]
    assert (status, body["code"], body["details"]) == (
        409,
        "quota_exceeded",
        {"quota": "scheduled_posts", "limit": 3},
    )


def test_requests_past_the_users_bucket_are_429_with_retry_after_on_every_route(clock: FakeClock) -> None:
    app = make_app(clock, InMemoryRequestThrottle(Bucket(rate_per_second=1, burst=2), clock))
    assert [call(app, "GET", "/webhooks")[0] for _ in range(2)] == [200, 200]

    refused = respond(app, "POST", "/posts", body=new_post(60, "facebook"))
    body = json.loads(refused["body"])
    headers = {k.lower(): v for k, v in refused.get("headers", {}).items()}

    assert refused["statusCode"] == 429
    assert (body["code"], body["details"]) == ("rate_limited", {"retryAfterSeconds": 1})
    assert headers["retry-after"] == "1"
    assert call(app, "GET", "/posts", user="u2")[0] == 200  # another user has a bucket of their own
    assert call(app, "GET", "/queue/stats")[0] == 429
    clock.advance(timedelta(seconds=1))
    assert call(app, "POST", "/posts", body=new_post(60, "facebook"))[0] == 201
