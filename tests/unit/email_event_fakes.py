"""A scheduled campaign on the in-memory stores, whose sends can be marked sent, for the tests of what
campaign email leads to (SES events, the stream of sends, CRM write-back, stats). The sample events of
events/campaign_events/ name its first email to recipient@example.com (`SAMPLE_MESSAGE_ID`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tidings.core.clock import FakeClock
from tidings.models.campaigns import (
    Campaign,
    CampaignEmail,
    CampaignStatus,
    CampaignStep,
    Recipient,
    Segment,
    Send,
    SendStatus,
    SendWindow,
)
from tidings.store.campaign_events import SentMessage
from tidings.store.campaign_sends import AudienceZone, send_to_item
from tidings.store.dynamo import serialize
from tidings.store.memory.campaign_events import InMemoryCampaignEventRepository, campaign_event_stores
from tidings.store.memory.campaign_sends import InMemorySendRepository, InMemoryStepRepository
from tidings.store.memory.campaigns import InMemoryCampaignRepository
from tidings.store.memory.suppressions import InMemorySuppressionRepository

EVENTS = Path(__file__).resolve().parents[2] / "events" / "campaign_events"
USER = "demo-agent"
CAMPAIGN = "cmp_sample_spring_nurture"
ZONE = "America/New_York"
SENT_AT = datetime(2017, 8, 5, 0, 40, 2, 12_000, tzinfo=UTC)
SAMPLE_MESSAGE_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
RECIPIENTS = (
    Recipient("recipient@example.com", "Maya", client_id="501"),
    Recipient("ann@example.com", "Ann", client_id="502"),
    Recipient("no-client@example.com", "Sam"),
)


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / f"{name}.json").read_text()))


def email(n: int) -> CampaignEmail:
    return CampaignEmail(
        n=n,
        role="introduction" if n == 1 else "value",
        subject=f"Email {n}: five things to know, {{{{firstName}}}}",
        preheader="",
        text="Hello",
        html="<p>Hello</p>",
        delay=0 if n == 1 else 3,
    )


@dataclass
class CampaignWorld:
    clock: FakeClock
    campaigns: InMemoryCampaignRepository
    steps: InMemoryStepRepository
    sends: InMemorySendRepository
    events: InMemoryCampaignEventRepository
    user: str = USER
    suppressions: InMemorySuppressionRepository = field(default_factory=InMemorySuppressionRepository)

    def campaign(self) -> Campaign:
        found = self.campaigns.get(self.user, CAMPAIGN)
        assert found is not None
        return found

    def send(self, address: str, n: int = 1) -> Send:
        found = self.sends.get(self.user, CAMPAIGN, n, address)
        assert found is not None
        return found

    def mark_sent(self, address: str, n: int = 1, message_id: str | None = None) -> tuple[Send, Send]:
        """The send of email n to `address` claimed and sent: (as claimed, as sent)."""
        claimed = self.sends.claim(self.send(address, n), SENT_AT, timedelta(minutes=2))
        sent = self.sends.mark_sent(claimed, message_id or f"msg-{n}-{address}", SENT_AT)
        return claimed, sent

    def remember(self, sent: Send) -> SentMessage:
        assert sent.message_id is not None
        message = SentMessage(sent.message_id, self.user, CAMPAIGN, sent.n, sent.email, sent.timezone)
        self.events.remember(message, SENT_AT)
        return message


def campaign_world(*, user: str = USER, segment: Segment | None = None, emails: int = 2) -> CampaignWorld:
    """A campaign of `emails` emails to RECIPIENTS, scheduled (one step per email in ZONE) and with
    every send planned."""
    clock = FakeClock(SENT_AT + timedelta(hours=1))
    campaigns = InMemoryCampaignRepository()
    steps, sends, events = campaign_event_stores()
    campaigns.create(
        Campaign(
            user_id=user,
            campaign_id=CAMPAIGN,
            name="Spring nurture",
            template="nurture",
            status=CampaignStatus.ACTIVE,
            emails=tuple(email(n) for n in range(1, emails + 1)),
            created_at=SENT_AT - timedelta(days=1),
            updated_at=SENT_AT - timedelta(days=1),
            segment=segment,
            window=SendWindow(date(2017, 8, 4), 20, 40, ZONE),
        ),
        limit=10,
    )
    campaigns.put_recipients(user, CAMPAIGN, RECIPIENTS)
    addresses = tuple(r.email for r in RECIPIENTS)
    plan = [
        CampaignStep(
            user_id=user,
            campaign_id=CAMPAIGN,
            n=n,
            timezone=ZONE,
            send_at=SENT_AT + timedelta(days=3 * (n - 1)),
            local_time="2017-08-04T20:40:00-04:00",
            recipients=len(addresses),
            created_at=SENT_AT - timedelta(days=1),
            updated_at=SENT_AT - timedelta(days=1),
        )
        for n in range(1, emails + 1)
    ]
    steps.replace_plan(user, CAMPAIGN, plan, [AudienceZone(ZONE, addresses)])
    for step in plan:
        for address in addresses:
            sends.create_if_absent(
                Send(
                    user,
                    CAMPAIGN,
                    step.n,
                    address,
                    SendStatus.PLANNED,
                    step.send_at,
                    "2017-08-04T20:40:00-04:00",
                    ZONE,
                )
            )
    return CampaignWorld(clock, campaigns, steps, sends, events, user)


def send_record(old: Send | None, new: Send, sequence: str = "1") -> dict[str, Any]:
    """The stream record of a send's change, as Lambda delivers it."""
    images: dict[str, Any] = {"SequenceNumber": sequence, "NewImage": serialize(send_to_item(new))}
    if old is not None:
        images["OldImage"] = serialize(send_to_item(old))
    return {
        "eventName": "MODIFY" if old is not None else "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": images,
    }
