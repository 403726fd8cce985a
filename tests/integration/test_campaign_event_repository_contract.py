"""The in-memory campaign event repository keeps the DynamoDB one's contract: a message id leads back to
its send; each kind of event is noted on the send and counted on its step once, whatever repeats;
nothing is counted for a send or a step that is not there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.models.campaigns import CampaignStep, Send, SendStatus
from tidings.store.campaign_events import (
    CampaignEventRepository,
    DynamoCampaignEventRepository,
    SentMessage,
)
from tidings.store.campaign_sends import (
    AudienceZone,
    DynamoSendRepository,
    DynamoStepRepository,
    SendRepository,
    StepRepository,
)
from tidings.store.memory.campaign_events import campaign_event_stores

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
ZONE = "America/New_York"

table = contract_table

Stores = tuple[StepRepository, SendRepository, CampaignEventRepository]


@pytest.fixture
def stores(table: Table | None) -> Stores:
    if table is None:
        return campaign_event_stores()
    return (
        DynamoStepRepository(table.name, table.client),
        DynamoSendRepository(table.name, table.client),
        DynamoCampaignEventRepository(table.name, table.client),
    )


def sent_message(stores: Stores, user: str, email: str, message_id: str, n: int = 1) -> SentMessage:
    """A campaign whose email n went to `email` (planned, claimed, sent), and its message."""
    steps, sends, _ = stores
    if steps.get_step(user, "cmp-1", n, ZONE) is None:
        plan = [
            CampaignStep(
                user_id=user,
                campaign_id="cmp-1",
                n=k,
                timezone=ZONE,
                send_at=NOW,
                local_time="2027-03-01T07:00:00-05:00",
                recipients=2,
                created_at=NOW,
                updated_at=NOW,
            )
            for k in (1, 2)
        ]
        steps.replace_plan(user, "cmp-1", plan, [AudienceZone(ZONE, ("a@example.com", "b@example.com"))])
    send = Send(user, "cmp-1", n, email, SendStatus.PLANNED, NOW, "2027-03-01T07:00:00-05:00", ZONE)
    sends.create_if_absent(send)
    claimed = sends.claim(send, NOW, timedelta(minutes=5))
    sends.mark_sent(claimed, message_id, NOW)
    return SentMessage(message_id, user, "cmp-1", n, email, ZONE)


def test_a_message_id_leads_back_to_its_send(stores: Stores) -> None:
    _, _, events = stores
    message = SentMessage("0100-abc-000000", user_id(), "cmp-1", 2, "a@example.com", ZONE)

    events.remember(message, NOW)
    events.remember(message, NOW)  # again: the same

    assert events.find("0100-abc-000000") == message
    assert events.find("0100-unknown-000000") is None


def test_each_kind_of_event_counts_once_per_send(stores: Stores) -> None:
    steps, sends, events = stores
    user = user_id()
    a = sent_message(stores, user, "a@example.com", "m-a")
    b = sent_message(stores, user, "b@example.com", "m-b")

    firsts = [
        events.record_first(a, "opened", NOW + timedelta(minutes=1)),
        events.record_first(a, "opened", NOW + timedelta(minutes=2)),
        events.record_first(b, "opened", NOW + timedelta(minutes=3)),
        events.record_first(a, "clicked", NOW + timedelta(minutes=4)),
        events.record_first(a, "delivered", NOW),
        events.record_first(b, "bounced", NOW),
        events.record_first(b, "bounced", NOW),
    ]

    assert firsts == [True, False, True, True, True, True, False]
    step = steps.get_step(user, "cmp-1", 1, ZONE)
    assert step is not None
    assert (step.opened, step.clicked) == (2, 1)
    a_send = sends.get(user, "cmp-1", 1, "a@example.com")
    assert a_send is not None
    assert a_send.opened_at == NOW + timedelta(minutes=1)
    assert a_send.clicked_at == NOW + timedelta(minutes=4)
    (counts_1, counts_2) = events.step_counts(user, "cmp-1")
    assert (counts_1.n, counts_1.timezone, counts_2.n) == (1, ZONE, 2)
    assert dict(counts_1.counts) == {
        "delivered": 1,
        "bounced": 1,
        "soft_bounced": 0,
        "complained": 0,
        "opened": 2,
        "clicked": 1,
    }
    assert sum(counts_2.counts.values()) == 0


def test_nothing_is_counted_without_the_send_or_its_step(stores: Stores) -> None:
    steps, _, events = stores
    user = user_id()
    sent_message(stores, user, "a@example.com", "m-a")

    no_send = SentMessage("m-x", user, "cmp-1", 1, "nobody@example.com", ZONE)
    no_step = SentMessage("m-y", user, "cmp-1", 1, "a@example.com", "Europe/Paris")
    no_campaign = SentMessage("m-z", user, "cmp-gone", 1, "a@example.com", ZONE)

    assert [events.record_first(m, "opened", NOW) for m in (no_send, no_step, no_campaign)] == [False] * 3
    step = steps.get_step(user, "cmp-1", 1, ZONE)
    assert step is not None
    assert step.opened == 0


def test_an_unknown_kind_is_refused(stores: Stores) -> None:
    _, _, events = stores
    message = sent_message(stores, user_id(), "a@example.com", "m-a")

    assert outcome(lambda: events.record_first(message, "forwarded", NOW)) == "ValueError"
