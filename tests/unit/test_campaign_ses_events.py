"""SES events of campaign email, from the documented sample records (events/campaign_events/): a
permanent bounce and a complaint suppress the address, a transient bounce does not; deliveries, opens
and clicks count once per send on its step; an event for a message no campaign sent is dropped, or
tried again while its send may still be on its way."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from email_event_fakes import (
    CAMPAIGN,
    SAMPLE_MESSAGE_ID,
    SENT_AT,
    USER,
    ZONE,
    CampaignWorld,
    campaign_world,
    sample,
)

from tidings.campaigns.ses_events import (
    CampaignEmailEvents,
    LookupPending,
    MalformedSesEvent,
    parse_record,
    ses_records,
)
from tidings.models.campaigns import Suppression, SuppressionReason


@pytest.fixture
def world() -> CampaignWorld:
    w = campaign_world()
    _, sent = w.mark_sent("recipient@example.com", message_id=SAMPLE_MESSAGE_ID)
    w.remember(sent)
    return w


def handler(world: CampaignWorld) -> CampaignEmailEvents:
    return CampaignEmailEvents(world.events, world.suppressions, world.clock)


def step_counts(world: CampaignWorld, n: int = 1) -> dict[str, int]:
    (mine,) = [c for c in world.events.step_counts(USER, CAMPAIGN) if c.n == n]
    return {k: v for k, v in mine.counts.items() if v}


def test_the_samples_read_as_their_documented_records() -> None:
    bounce = parse_record(sample("email_bounced_permanent")["detail"])
    assert (bounce.event_type, bounce.bounce_type, bounce.bounce_subtype) == (
        "Bounce",
        "Permanent",
        "General",
    )
    assert bounce.recipients == ("recipient@example.com",)
    assert bounce.diagnostic == "smtp; 550 5.1.1 user unknown"
    assert bounce.message_id == SAMPLE_MESSAGE_ID
    assert bounce.sent_at == SENT_AT
    assert bounce.at is not None
    assert bounce.at.isoformat() == "2017-08-05T00:41:02.669000+00:00"
    click = parse_record(sample("email_clicked")["detail"])
    assert click.link == "https://harbour-realty.example/listings/12-harbour-lane"
    complaint = parse_record(sample("email_complaint_received")["detail"])
    assert complaint.feedback_type == "abuse"
    # the SNS notification carries the same record as its message
    (via_sns,) = ses_records(sample("sns_bounce_permanent"))
    assert parse_record(via_sns) == bounce


def test_a_permanent_bounce_suppresses_the_address(world: CampaignWorld) -> None:
    outcome = handler(world).handle(sample("email_bounced_permanent"))

    assert (outcome.applied, outcome.suppressed, outcome.counted) == (1, 1, 1)
    assert world.suppressions.get(USER, "recipient@example.com") == Suppression(
        USER,
        "recipient@example.com",
        SuppressionReason.BOUNCED,
        world.suppressions.get(USER, "recipient@example.com").at,  # type: ignore[union-attr]
        CAMPAIGN,
        "smtp; 550 5.1.1 user unknown",
    )
    assert step_counts(world) == {"bounced": 1}
    # only this user's list: another user of the same address is not touched
    assert not world.suppressions.is_suppressed("someone-else", "recipient@example.com")


def test_a_permanent_bounce_through_sns_does_the_same(world: CampaignWorld) -> None:
    outcome = handler(world).handle(sample("sns_bounce_permanent"))

    assert outcome.suppressed == 1
    assert world.suppressions.is_suppressed(USER, "recipient@example.com")


def test_a_transient_bounce_suppresses_nothing(world: CampaignWorld) -> None:
    outcome = handler(world).handle(sample("email_bounced_transient"))

    assert (outcome.applied, outcome.suppressed) == (1, 0)
    assert not world.suppressions.is_suppressed(USER, "recipient@example.com")
    assert step_counts(world) == {"soft_bounced": 1}


def test_a_complaint_suppresses_the_address(world: CampaignWorld) -> None:
    handler(world).handle(sample("email_complaint_received"))

    entry = world.suppressions.get(USER, "recipient@example.com")
    assert entry is not None
    assert (entry.reason, entry.detail, entry.campaign_id) == (
        SuppressionReason.COMPLAINED,
        "complaint: abuse",
        CAMPAIGN,
    )
    assert step_counts(world) == {"complained": 1}


def test_a_later_bounce_keeps_the_first_reason(world: CampaignWorld) -> None:
    events = handler(world)
    events.handle(sample("email_complaint_received"))
    outcome = events.handle(sample("email_bounced_permanent"))

    assert outcome.suppressed == 0
    assert world.suppressions.get(USER, "recipient@example.com").reason == "complained"  # type: ignore[union-attr]


def test_opens_and_clicks_count_once_per_send(world: CampaignWorld) -> None:
    events = handler(world)
    for name in ("email_delivered", "email_opened", "email_opened", "email_clicked", "email_clicked"):
        events.handle(sample(name))

    assert step_counts(world) == {"delivered": 1, "opened": 1, "clicked": 1}
    step = world.steps.get_step(USER, CAMPAIGN, 1, ZONE)
    assert step is not None
    assert (step.opened, step.clicked) == (1, 1)
    send = world.send("recipient@example.com")
    assert send.opened_at is not None
    assert send.opened_at.isoformat() == "2017-08-05T08:00:19.652000+00:00"
    assert send.clicked_at is not None
    assert world.suppressions.count(USER) == 0


def test_a_click_on_the_unsubscribe_link_is_not_a_click(world: CampaignWorld) -> None:
    event = sample("email_clicked")
    event["detail"]["click"]["link"] = "https://api.example.com/unsubscribe/AbC-123_x"

    outcome = handler(world).handle(event)

    assert (outcome.ignored, outcome.counted) == (1, 0)
    assert world.send("recipient@example.com").clicked_at is None


def test_an_unknown_message_is_dropped_once_its_send_had_time_to_be_known() -> None:
    w = campaign_world()  # nothing was sent: the sample's message id names no send
    outcome = handler(w).handle(sample("email_bounced_permanent"))

    assert (outcome.unknown, outcome.applied, outcome.suppressed) == (1, 0, 0)
    assert w.suppressions.count(USER) == 0


def test_an_unknown_message_sent_moments_ago_is_tried_again() -> None:
    w = campaign_world()
    w.clock.set(SENT_AT + timedelta(seconds=30))

    with pytest.raises(LookupPending):
        handler(w).handle(sample("email_delivered"))

    # once the stream has remembered the message, the same event applies
    _, sent = w.mark_sent("recipient@example.com", message_id=SAMPLE_MESSAGE_ID)
    w.remember(sent)
    assert handler(w).handle(sample("email_delivered")).counted == 1


def test_a_lookup_written_moments_later_is_waited_for() -> None:
    w = campaign_world()
    w.clock.set(SENT_AT + timedelta(seconds=2))
    _, sent = w.mark_sent("recipient@example.com", message_id=SAMPLE_MESSAGE_ID)
    looks: list[datetime] = []
    find = w.events.find

    def find_late(message_id: str) -> Any:
        looks.append(w.clock.now())
        if len(looks) == 3:  # the stream's consumer writes it meanwhile
            w.remember(sent)
        return find(message_id)

    w.events.find = find_late  # type: ignore[method-assign]

    outcome = handler(w).handle(sample("email_delivered"))

    assert outcome.counted == 1
    assert [t - looks[0] for t in looks] == [timedelta(0), timedelta(seconds=1), timedelta(seconds=3)]


def test_events_that_change_nothing_are_ignored(world: CampaignWorld) -> None:
    record: dict[str, Any] = {
        "eventType": "DeliveryDelay",
        "mail": sample("email_delivered")["detail"]["mail"],
        "deliveryDelay": {
            "timestamp": "2017-08-05T00:50:40.095Z",
            "delayType": "TransientCommunicationFailure",
        },
    }
    send_event = dict(record, eventType="Send", send={})

    outcome = handler(world).handle(record)
    outcome_send = handler(world).handle(send_event)

    assert (outcome.ignored, outcome_send.ignored) == (1, 1)
    assert step_counts(world) == {}


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"source": "aws.events", "detail": {}},
        {"Records": [{"eventSource": "aws:sqs", "body": "{}"}]},
        {"Records": [{"Sns": {"Message": "not json"}}]},
        {"Records": [{"Sns": {"Message": "[1, 2]"}}]},
    ],
)
def test_what_is_not_an_ses_event_is_dropped_without_raising(
    world: CampaignWorld, event: dict[str, Any]
) -> None:
    with pytest.raises(MalformedSesEvent):
        ses_records(event)
    assert handler(world).handle(event).unreadable == 1


def test_a_record_without_a_message_id_is_dropped(world: CampaignWorld) -> None:
    event = sample("email_bounced_permanent")
    del event["detail"]["mail"]["messageId"]

    outcome = handler(world).handle(event)

    assert (outcome.received, outcome.unreadable, outcome.suppressed) == (1, 1, 0)


def test_one_sns_batch_applies_every_record(world: CampaignWorld) -> None:
    _, other = world.mark_sent("ann@example.com", message_id="msg-ann")
    world.remember(other)
    complaint = sample("email_complaint_received")["detail"]
    complaint["mail"]["messageId"] = "msg-ann"
    complaint["complaint"]["complainedRecipients"] = [{"emailAddress": "Ann@Example.com"}]
    bounce = sample("email_bounced_permanent")["detail"]
    batch = {"Records": [{"Sns": {"Message": json.dumps(r)}} for r in (bounce, complaint)]}

    outcome = handler(world).handle(batch)

    assert (outcome.received, outcome.suppressed) == (2, 2)
    assert world.suppressions.get(USER, "ann@example.com").reason == "complained"  # type: ignore[union-attr]


def confirming(world: CampaignWorld) -> CampaignEmailEvents:
    return CampaignEmailEvents(world.events, world.suppressions, world.clock, sends=world.sends)


def test_a_send_event_marks_a_send_whose_answer_was_lost_sent_with_its_message_id_and_counts_it_once() -> (
    None
):
    world = campaign_world()
    claimed = world.sends.claim(world.send("recipient@example.com"), SENT_AT, timedelta(minutes=5))
    world.sends.hold_in_doubt(claimed, SENT_AT, SENT_AT + timedelta(minutes=5), "answer_lost")
    event = sample("email_sent")

    first = confirming(world).handle(event)
    again = confirming(world).handle(event)  # EventBridge delivers at least once

    send = world.send("recipient@example.com")
    assert (send.status, send.message_id, send.reason) == ("sent", SAMPLE_MESSAGE_ID, None)
    assert send.sent_at == datetime.fromisoformat("2017-08-05T00:40:02.012+00:00")
    assert (first.confirmed, again.confirmed) == (1, 0)
    step = world.steps.get_step(USER, CAMPAIGN, 1, ZONE)
    assert step is not None
    assert step.sent == 1


def test_a_send_event_for_a_send_its_sender_marked_sent_changes_nothing(world: CampaignWorld) -> None:
    outcome = confirming(world).handle(sample("email_sent"))

    assert outcome.confirmed == 0
    assert world.send("recipient@example.com").message_id == SAMPLE_MESSAGE_ID
    step = world.steps.get_step(USER, CAMPAIGN, 1, ZONE)
    assert step is not None
    assert step.sent == 1


@pytest.mark.parametrize(
    "change",
    [
        {"tidings_send": ["0" * 32]},  # a key of another send
        {"tidings_user": ["b3RoZXItYWdlbnQ"]},  # another user's campaign of the same id
        {"tidings_email": ["2"]},
        {"tidings_send": []},
    ],
)
def test_a_send_event_whose_tags_name_no_send_confirms_nothing(change: dict[str, list[str]]) -> None:
    world = campaign_world()
    event = sample("email_sent")
    event["detail"]["mail"]["tags"].update(change)

    outcome = confirming(world).handle(event)

    assert (outcome.confirmed, outcome.ignored) == (0, 1)
    assert world.send("recipient@example.com").status == "planned"
