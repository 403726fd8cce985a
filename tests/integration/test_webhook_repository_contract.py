"""The in-memory webhook and delivery repositories keep the DynamoDB ones' contract: webhooks are
registered with a sealed secret, read, listed and deleted alike (with their audit); a delivery is
created once per (webhook, event), claimed only as it was read, due again when its retry comes, and
listed newest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.core.clock import FakeClock
from tidings.core.errors import Conflict, NotFound
from tidings.store.memory.accounts import InMemorySecretVault
from tidings.store.memory.webhooks import InMemoryDeliveryRepository, InMemoryWebhookRepository
from tidings.store.webhooks import (
    Delivery,
    DeliveryRepository,
    DeliveryStatus,
    DynamoDeliveryRepository,
    DynamoWebhookRepository,
    WebhookRegistry,
)

NOW = datetime(2026, 7, 1, 12, 0, 0, 125_000, tzinfo=UTC)
LEASE = timedelta(minutes=2)


table = contract_table


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def hooks(table: Table | None, clock: FakeClock) -> WebhookRegistry:
    if table is None:
        return InMemoryWebhookRepository(InMemorySecretVault(), clock=clock)
    return DynamoWebhookRepository(table.name, InMemorySecretVault(), table.client, clock)


@pytest.fixture
def deliveries(table: Table | None) -> DeliveryRepository:
    if table is None:
        return InMemoryDeliveryRepository()
    return DynamoDeliveryRepository(table.name, table.client)


def test_a_webhook_is_registered_read_and_opened_with_its_secret(hooks: WebhookRegistry) -> None:
    user = user_id()
    created = hooks.create(
        user, "https://crm.example.com/in", ["post.published", "post.published"], None, limit=20
    )
    hook = created.webhook

    assert hook.events == ("post.published",)
    assert hook.created_at == NOW
    assert hook.secret_hint.endswith(created.secret[-4:])
    assert hooks.get(user, hook.webhook_id) == hook
    assert hooks.signing_target(user, hook.webhook_id) == (hook, created.secret)
    assert hooks.signing_target(user_id(), hook.webhook_id) is None
    with pytest.raises(NotFound) as missing:
        hooks.get(user_id(), hook.webhook_id)
    assert missing.value.code == "webhook_not_found"


def test_webhooks_are_listed_by_id_and_filtered_by_event(hooks: WebhookRegistry) -> None:
    user = user_id()
    made = [
        hooks.create(user, f"https://crm.example.com/{i}", events, f"hook {i}", limit=20).webhook
        for i, events in enumerate((["post.published"], ["post.failed", "post.published"], ["alert.raised"]))
    ]
    hooks.create(user_id(), "https://elsewhere.example.com/", ["post.published"], None, limit=20)

    assert hooks.for_user(user) == sorted(made, key=lambda h: h.webhook_id)
    published = hooks.subscribers(user, "post.published", NOW - timedelta(minutes=1))
    assert {h.webhook_id for h in published} == {made[0].webhook_id, made[1].webhook_id}


def test_a_user_holds_at_most_the_quota_of_webhooks_and_a_deletion_frees_one(hooks: WebhookRegistry) -> None:
    user = user_id()
    made = [
        hooks.create(user, f"https://crm.example.com/{i}", ["post.failed"], None, limit=3) for i in range(3)
    ]
    with pytest.raises(Conflict) as refused:
        hooks.create(user, "https://crm.example.com/one-more", ["post.failed"], None, limit=3)
    assert (refused.value.code, refused.value.details) == (
        "quota_exceeded",
        {"quota": "webhooks", "limit": 3},
    )
    assert len(hooks.for_user(user)) == 3

    hooks.delete(user, made[0].webhook.webhook_id)
    hooks.create(user, "https://crm.example.com/again", ["post.failed"], None, limit=3)
    assert outcome(
        lambda: hooks.create(user, "https://crm.example.com/x", ["post.failed"], None, limit=3)
    ) == ("Conflict")


def test_a_deleted_webhook_is_gone_and_the_audit_says_who_did_what(
    hooks: WebhookRegistry, clock: FakeClock
) -> None:
    user = user_id()
    hook = hooks.create(user, "https://crm.example.com/in", ["post.failed"], None, limit=20).webhook
    clock.advance(timedelta(seconds=1))

    assert hooks.delete(user, hook.webhook_id) == hook

    assert hooks.signing_target(user, hook.webhook_id) is None
    assert outcome(lambda: hooks.get(user, hook.webhook_id)) == "NotFound"
    assert outcome(lambda: hooks.delete(user, hook.webhook_id)) == "NotFound"
    assert hooks.for_user(user) == []
    trail, _ = hooks.audit.page(user, 10, None)
    assert [(e.action, e.actor, e.target) for e in trail] == [
        ("webhook.deleted", user, f"webhook:{hook.webhook_id}"),
        ("webhook.created", user, f"webhook:{hook.webhook_id}"),
    ]
    assert trail[1].details == {"url": "https://crm.example.com/in", "events": ["post.failed"]}


def create(deliveries: DeliveryRepository, user: str, event: str, at: datetime = NOW) -> Delivery | None:
    return deliveries.create(
        user,
        "wh_1",
        event,
        "post.published",
        json.dumps({"id": event}, separators=(",", ":")),
        at,
        at + LEASE,
    )


def test_a_delivery_is_created_once_per_webhook_and_event(deliveries: DeliveryRepository) -> None:
    user = user_id()
    created = create(deliveries, user, "evt-1")

    assert created is not None
    assert (created.status, created.attempts, created.body) == (DeliveryStatus.SENDING, 0, '{"id":"evt-1"}')
    assert created.created_at == NOW
    assert create(deliveries, user, "evt-1", NOW + timedelta(hours=1)) is None
    assert deliveries.create(user, "wh_2", "evt-1", "post.published", "{}", NOW, NOW + LEASE) is not None


def test_a_delivery_is_due_when_its_lease_ends_and_claimed_only_as_read(
    deliveries: DeliveryRepository,
) -> None:
    created = create(deliveries, user_id(), "evt-1")
    assert created is not None
    assert deliveries.due(NOW + LEASE - timedelta(milliseconds=1)) == []

    due = deliveries.due(NOW + LEASE)

    assert due == [created]
    assert deliveries.claim(due[0], NOW + 2 * LEASE) is True
    assert deliveries.claim(due[0], NOW + 2 * LEASE) is False  # what was read is no longer there
    assert deliveries.due(NOW + LEASE) == []
    assert len(deliveries.due(NOW + 2 * LEASE)) == 1


def test_attempts_are_recorded_until_delivered(deliveries: DeliveryRepository) -> None:
    created = create(deliveries, user_id(), "evt-1")
    assert created is not None
    retry_at = NOW + timedelta(minutes=5)
    failed: dict[str, Any] = {"at": "2026-07-01T12:00:01.000Z", "statusCode": 503, "error": "answered 503"}

    retrying = deliveries.record_attempt(
        created, failed, status=DeliveryStatus.RETRYING, next_attempt_at=retry_at
    )

    assert (retrying.status, retrying.attempts, retrying.history) == (DeliveryStatus.RETRYING, 1, (failed,))
    assert (retrying.last_status_code, retrying.last_error, retrying.next_attempt_at) == (
        503,
        "answered 503",
        retry_at,
    )
    assert deliveries.due(retry_at - timedelta(seconds=1)) == []
    assert deliveries.due(retry_at) == [retrying]

    ok: dict[str, Any] = {"at": "2026-07-01T12:05:00.500Z", "statusCode": 204, "error": None}
    delivered = deliveries.record_attempt(retrying, ok, status=DeliveryStatus.DELIVERED, next_attempt_at=None)

    assert (delivered.status, delivered.attempts, delivered.history) == (
        DeliveryStatus.DELIVERED,
        2,
        (failed, ok),
    )
    assert (delivered.last_status_code, delivered.last_error, delivered.next_attempt_at) == (204, None, None)
    assert delivered.delivered_at == datetime(2026, 7, 1, 12, 5, 0, 500_000, tzinfo=UTC)
    assert deliveries.due(NOW + timedelta(days=1)) == []


def test_the_history_keeps_the_last_ten_attempts(deliveries: DeliveryRepository) -> None:
    delivery = create(deliveries, user_id(), "evt-1")
    assert delivery is not None
    for i in range(12):
        attempt = {"at": f"2026-07-01T12:{i:02d}:00.000Z", "statusCode": None, "error": f"try {i}"}
        delivery = deliveries.record_attempt(
            delivery, attempt, status=DeliveryStatus.RETRYING, next_attempt_at=NOW + timedelta(hours=i)
        )
    assert delivery.attempts == 12
    assert [a["error"] for a in delivery.history] == [f"try {i}" for i in range(2, 12)]
    assert delivery.last_status_code is None


def test_the_log_lists_a_webhooks_deliveries_newest_first(deliveries: DeliveryRepository) -> None:
    user = user_id()
    for minutes in range(3):
        create(deliveries, user, f"evt-{minutes}", NOW + timedelta(minutes=minutes))
    deliveries.create(user, "wh_2", "evt-x", "post.failed", "{}", NOW, NOW + LEASE)

    first, token = deliveries.page(user, "wh_1", 2, None)
    assert [d.event_id for d in first] == ["evt-2", "evt-1"]
    assert token is not None
    rest, token = deliveries.page(user, "wh_1", 2, token)
    assert [d.event_id for d in rest] == ["evt-0"]
    assert token is None
    assert deliveries.page(user_id(), "wh_1", 5, None) == ([], None)
    assert outcome(lambda: deliveries.page(user, "wh_1", 2, "???")) == "ValueError"
