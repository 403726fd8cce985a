"""A campaign reaching `completed` or `failed` becomes a `campaign.completed` / `campaign.failed`
webhook event through the table's stream (read from the stored item's images as the event_delivery
function reads them), once, and is delivered signed to a subscribed webhook."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from email_event_fakes import CAMPAIGN, SENT_AT, USER, campaign_world
from webhook_receiver import recording_deliverer

from tidings.core.clock import FakeClock
from tidings.core.signing import verify
from tidings.models.campaigns import Campaign, CampaignStatus
from tidings.store.campaigns import campaign_to_item
from tidings.store.dynamo import serialize
from tidings.store.memory.accounts import InMemorySecretVault
from tidings.store.memory.webhooks import InMemoryWebhookRepository
from tidings.webhooks.events import SUBSCRIBABLE, EventType, events_from_record, is_event_source

DONE = SENT_AT + timedelta(days=6, hours=2)


def campaign(**changes: Any) -> Campaign:
    base = replace(
        campaign_world().campaign(), recipient_count=3, started_at=SENT_AT, status=CampaignStatus.ACTIVE
    )
    return replace(base, **changes)


def record(new: Campaign, old: Campaign | None, sequence: str = "1") -> dict[str, Any]:
    images: dict[str, Any] = {"SequenceNumber": sequence, "NewImage": serialize(campaign_to_item(new))}
    if old is not None:
        images["OldImage"] = serialize(campaign_to_item(old))
    return {"eventName": "MODIFY" if old else "INSERT", "eventSource": "aws:dynamodb", "dynamodb": images}


def test_campaign_events_may_be_subscribed_to_and_come_from_campaign_records() -> None:
    assert {"campaign.completed", "campaign.failed"} <= set(SUBSCRIBABLE)
    assert is_event_source(record(campaign(), None))


def test_a_completed_campaign_is_one_event() -> None:
    active = campaign()
    completed = replace(
        active, status=CampaignStatus.COMPLETED, completed_at=DONE, updated_at=DONE, version=9
    )

    (event,) = events_from_record(record(completed, active))

    assert event.type == EventType.CAMPAIGN_COMPLETED
    assert (event.user_id, event.occurred_at) == (USER, DONE)
    assert event.envelope()["data"] == {
        "campaignId": CAMPAIGN,
        "name": "Spring nurture",
        "template": "nurture",
        "status": "completed",
        "emailCount": 2,
        "recipientCount": 3,
        "startedAt": "2017-08-05T00:40:02.012Z",
        "completedAt": "2017-08-11T02:40:02.012Z",
        "finalReason": None,
        "statsPath": f"/campaigns/{CAMPAIGN}/stats",
    }
    # read twice, the same event; a later change of a completed campaign is none
    assert events_from_record(record(completed, active))[0].event_id == event.event_id
    renamed = replace(completed, name="Spring nurture (done)", version=10)
    assert events_from_record(record(renamed, completed)) == []


def test_a_failed_campaign_says_why() -> None:
    active = campaign()
    failed = replace(active, status=CampaignStatus.FAILED, final_reason="sending_blocked", updated_at=DONE)

    (event,) = events_from_record(record(failed, active))

    assert event.type == EventType.CAMPAIGN_FAILED
    assert event.envelope()["data"]["finalReason"] == "sending_blocked"
    assert event.occurred_at == DONE


def test_other_changes_are_no_events() -> None:
    draft = campaign(status=CampaignStatus.DRAFT, started_at=None)
    for new, old in (
        (draft, None),
        (campaign(), draft),
        (campaign(status=CampaignStatus.PAUSED), campaign()),
        (campaign(status=CampaignStatus.CANCELLED), campaign()),
    ):
        assert events_from_record(record(new, old)) == []
    assert (
        events_from_record(
            {"eventName": "REMOVE", "dynamodb": {"OldImage": record(draft, None)["dynamodb"]["NewImage"]}}
        )
        == []
    )


def test_the_event_reaches_a_subscribed_webhook_signed() -> None:
    clock = FakeClock(DONE)
    hooks = InMemoryWebhookRepository(InMemorySecretVault(), clock=clock)
    created = hooks.create(USER, "https://crm.example.com/in", ["campaign.completed"], None, limit=20)
    hooks.create(USER, "https://other.example.com/in", ["campaign.failed"], None, limit=20)
    deliverer, received = recording_deliverer(hooks, clock)
    active = campaign()
    completed = replace(active, status=CampaignStatus.COMPLETED, completed_at=DONE, updated_at=DONE)

    assert deliverer.handle_batch({"Records": [record(completed, active)]}) == {"batchItemFailures": []}
    deliverer.handle_batch({"Records": [record(completed, active)]})  # the stream delivers it again

    (request,) = received
    assert str(request.url) == "https://crm.example.com/in"
    body = json.loads(request.content)
    assert (body["type"], body["data"]["campaignId"]) == ("campaign.completed", CAMPAIGN)
    assert verify(created.secret, request.headers["Tidings-Signature"], request.content, DONE.timestamp())
