"""From the stream of campaign sends: a send marked sent is remembered by its SES message id, and,
with the write-back on, becomes one `email_sent` activity in the campaign's CRM for a recipient with a
client id (its first open one `email_opened`); once, whatever the stream delivers again."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from crm_fakes import CrmWorld, crm_world
from email_event_fakes import (
    CAMPAIGN,
    SAMPLE_MESSAGE_ID,
    SENT_AT,
    CampaignWorld,
    campaign_world,
    sample,
    send_record,
)
from integration_fakes import USER as CRM_USER

from tidings.campaigns.events_function import CampaignEvents
from tidings.campaigns.sent_emails import SentEmails, send_change
from tidings.campaigns.ses_events import CampaignEmailEvents
from tidings.crm.activities import ActivityLog
from tidings.crm.settings import IntegrationChange, SettingsChange
from tidings.models.campaigns import Segment
from tidings.models.crm import PendingActivity
from tidings.store.campaign_events import SentMessage
from tidings.store.memory.activities import InMemoryPendingActivityRepository


def setup(
    *, sent: bool = True, opened: bool = False, segment: bool = False
) -> tuple[CampaignEvents, CampaignWorld, CrmWorld, InMemoryPendingActivityRepository, str]:
    crm = crm_world()
    default = crm.crm().integration_id
    other = crm.crm(name="Second CRM").integration_id
    integration = other if segment else default
    crm.settings.put(
        CRM_USER,
        SettingsChange(
            default_integration_id=default,
            integrations={
                integration: IntegrationChange(write_back={"email_sent": sent, "email_opened": opened})
            },
        ),
    )
    world = campaign_world(user=CRM_USER, segment=Segment(other) if segment else None)
    activities = InMemoryPendingActivityRepository()
    log = ActivityLog(activities, crm.base.clock)
    consumer = SentEmails(world.events, world.campaigns, lambda: crm.settings, lambda: log)
    function = CampaignEvents(CampaignEmailEvents(world.events, world.suppressions, world.clock), [consumer])
    return function, world, crm, activities, integration


def batch(*records: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            dict(r, dynamodb=dict(r["dynamodb"], SequenceNumber=str(i))) for i, r in enumerate(records)
        ]
    }


def recorded(repo: InMemoryPendingActivityRepository) -> list[PendingActivity]:
    return sorted(
        repo.page(CRM_USER, status=None, limit=100, cursor=None)[0], key=lambda a: a.activity.client_id
    )


def test_a_send_marked_sent_is_remembered_by_its_message_id() -> None:
    function, world, _, _, _ = setup(sent=False)
    claimed, sent = world.mark_sent("recipient@example.com", message_id="0100-abc")

    answer = function.handle(batch(send_record(claimed, sent)))

    assert answer == {"batchItemFailures": []}
    assert world.events.find("0100-abc") == SentMessage(
        "0100-abc", CRM_USER, CAMPAIGN, 1, "recipient@example.com", "America/New_York"
    )


def test_sends_to_clients_become_one_email_sent_activity_each() -> None:
    function, world, _, activities, integration = setup()
    records = [
        send_record(*world.mark_sent(r))
        for r in ("recipient@example.com", "ann@example.com", "no-client@example.com")
    ]

    function.handle(batch(*records))
    function.handle(batch(*records))  # the stream delivers the batch again

    maya, ann = recorded(activities)
    assert [a.activity.client_id for a in (maya, ann)] == ["501", "502"]  # no client id: no activity
    assert (maya.integration_id, maya.origin, maya.activity.type) == (integration, "campaign", "email_sent")
    assert (
        maya.activity.description == 'Email 1 of the campaign "Spring nurture" sent to recipient@example.com'
    )
    assert maya.activity.timestamp == SENT_AT
    assert maya.activity.metadata == {
        "campaignId": CAMPAIGN,
        "email": 1,
        "to": "recipient@example.com",
        "messageId": "msg-1-recipient@example.com",
        "subject": "Email 1: five things to know, {{firstName}}",
    }
    assert maya.idempotency_key == f"campaign-email-sent:{CAMPAIGN}:1:recipient@example.com"


def test_the_segments_crm_takes_the_activities_rather_than_the_default() -> None:
    function, world, _, activities, integration = setup(segment=True)

    function.handle(batch(send_record(*world.mark_sent("recipient@example.com"))))

    (activity,) = recorded(activities)
    assert activity.integration_id == integration


def test_without_the_write_back_only_the_message_is_remembered() -> None:
    function, world, _, activities, _ = setup(sent=False, opened=False)

    function.handle(batch(send_record(*world.mark_sent("recipient@example.com"))))

    assert recorded(activities) == []
    assert world.events.find("msg-1-recipient@example.com") is not None


def test_the_first_open_becomes_an_email_opened_activity() -> None:
    function, world, _, activities, _ = setup(sent=False, opened=True)
    _, sent = world.mark_sent("recipient@example.com", message_id=SAMPLE_MESSAGE_ID)
    function.handle(batch(send_record(None, sent)))
    assert recorded(activities) == []  # sent is not written back here, only opens

    function.handle(sample("email_opened"))  # SES reports the open: the send gets its opened_at
    opened = world.send("recipient@example.com")
    again = replace(opened, clicked_at=SENT_AT)  # a later change of an opened send: no second open
    function.handle(batch(send_record(sent, opened), send_record(opened, again)))

    (activity,) = recorded(activities)
    assert activity.activity.type == "email_opened"
    assert activity.activity.timestamp == opened.opened_at
    assert activity.activity.description == 'Email 1 of the campaign "Spring nurture" opened'
    assert activity.idempotency_key == f"campaign-email-opened:{CAMPAIGN}:1:recipient@example.com"


def test_records_that_are_not_a_send_or_a_first_open_change_nothing() -> None:
    function, world, _, activities, _ = setup()
    planned = world.send("recipient@example.com")
    claimed, sent = world.mark_sent("recipient@example.com")
    skipped = replace(planned, status="skipped", reason="suppressed")

    for old, new in ((None, planned), (planned, claimed), (planned, skipped), (sent, sent)):
        assert send_change(send_record(old, new)) is None
    function.handle(batch(send_record(planned, claimed), send_record(planned, skipped)))

    assert recorded(activities) == []
    assert world.events.find("msg-1-recipient@example.com") is None


def test_a_campaign_whose_crm_is_gone_writes_nothing_and_does_not_fail() -> None:
    function, world, crm, activities, integration = setup(segment=True)
    crm.base.lifecycle.delete(CRM_USER, integration)

    answer = function.handle(batch(send_record(*world.mark_sent("recipient@example.com"))))

    assert answer == {"batchItemFailures": []}
    assert recorded(activities) == []
    assert world.events.find("msg-1-recipient@example.com") is not None


def test_a_deleted_campaign_writes_nothing() -> None:
    function, world, _, activities, _ = setup()
    records = send_record(*world.mark_sent("recipient@example.com"))
    world.campaigns.delete(CRM_USER, CAMPAIGN)

    assert function.handle(batch(records)) == {"batchItemFailures": []}
    assert recorded(activities) == []


def test_the_sample_stream_record_is_a_send_marked_sent() -> None:
    (record,) = sample("send_marked_sent")["Records"]

    change = send_change(record)

    assert change is not None
    assert (change.became_sent, change.first_opened) == (True, False)
    assert change.send.message_id == SAMPLE_MESSAGE_ID
