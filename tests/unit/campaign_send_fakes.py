"""A campaign sender on the in-memory repositories, with a scripted SES, a recording queue and a
FakeClock: a scheduled campaign of two emails to recipients in one time zone, its steps planned."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from crm_fakes import crm_world

from tidings.aws.campaign_mail import Outcome, SendResult
from tidings.campaigns.render import EmailRenderer
from tidings.campaigns.sending import CampaignSender, SenderSettings
from tidings.campaigns.triggers import CampaignStepTrigger, QueueBatch
from tidings.core.clock import FakeClock
from tidings.crm.personalization import Personalization
from tidings.models.campaigns import (
    Campaign,
    CampaignEmail,
    CampaignStatus,
    CampaignStep,
    Recipient,
    SendWindow,
)
from tidings.store.campaign_sends import AudienceZone
from tidings.store.memory.campaign_sends import InMemorySendRepository, InMemoryStepRepository, _Partitions
from tidings.store.memory.campaigns import InMemoryCampaignRepository
from tidings.store.memory.suppressions import InMemorySuppressionRepository

USER = "agent-7"
CAMPAIGN = "cmp-01"
ZONE = "America/New_York"
START = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
SENDER = "Harbour Realty <news@harbour.example>"


def unsubscribe_url(user_id: str, email: str, campaign_id: str) -> str:
    return f"https://api.tidings.example/unsubscribe/{user_id}.{campaign_id}.{email.replace('@', '_at_')}"


def email(n: int) -> CampaignEmail:
    return CampaignEmail(
        n=n,
        role="introduction" if n == 1 else "call_to_action",
        subject=f"Email {n} for {{{{ firstName|default('you') }}}}",
        preheader="Homes near {{ city }} this week",
        text=f"Hi {{{{ firstName|default('there') }}}},\nemail {n} from {{{{ agentName }}}}.\n"
        "Unsubscribe: {{ unsubscribeUrl }}\n",
        html=f"<html><body><p>Hi {{{{ firstName|default('there') }}}}</p><p>email {n}</p>"
        '<a href="{{ unsubscribeUrl }}">Unsubscribe</a></body></html>',
        delay=0 if n == 1 else 3,
    )


@dataclass
class FakeMail:
    """SES: answers each call with the next scripted result per address (accepted when none is left),
    noting each call with the clock's time."""

    clock: FakeClock
    rate: float | None = 4.0  # None: GetAccount fails (AccessDenied)
    script: dict[str, list[SendResult]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    quota_reads: int = 0

    def max_send_rate(self) -> float:
        self.quota_reads += 1
        if self.rate is None:
            raise PermissionError("AccessDeniedException: not authorized to perform ses:GetAccount")
        return self.rate

    def send_raw(
        self, *, sender: str, recipient: str, raw: bytes, configuration_set: str, tags: dict[str, str] | None
    ) -> SendResult:
        self.calls.append(
            {
                "sender": sender,
                "recipient": recipient,
                "raw": raw,
                "configuration_set": configuration_set,
                "tags": tags,
                "at": self.clock.now(),
            }
        )
        queued = self.script.get(recipient)
        if queued:
            return queued.pop(0)
        return SendResult(Outcome.ACCEPTED, message_id=f"ses-{len(self.calls):04d}")

    def to(self, address: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["recipient"] == address]

    def parsed(self, call: dict[str, Any]) -> EmailMessage:
        message = message_from_bytes(call["raw"], policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class FakeQueue:
    bodies: list[str] = field(default_factory=list)
    retries: list[tuple[str, int]] = field(default_factory=list)
    batches: int = 0

    def enqueue(self, bodies: list[str]) -> None:
        self.batches += 1
        self.bodies.extend(bodies)

    def retry_after(self, receipt_handle: str, seconds: int) -> None:
        self.retries.append((receipt_handle, seconds))

    def take(self) -> list[str]:
        taken, self.bodies = self.bodies, []
        return taken


def batch(bodies: list[str], receive_count: int = 1) -> QueueBatch:
    return QueueBatch.model_validate(
        {
            "Records": [
                {
                    "messageId": f"m-{i}",
                    "receiptHandle": f"r-{i}",
                    "body": body,
                    "attributes": {"ApproximateReceiveCount": str(receive_count)},
                    "eventSource": "aws:sqs",
                }
                for i, body in enumerate(bodies)
            ]
        }
    )


@dataclass
class SendWorld:
    clock: FakeClock
    campaigns: InMemoryCampaignRepository
    steps: InMemoryStepRepository
    sends: InMemorySendRepository
    suppressions: InMemorySuppressionRepository
    mail: FakeMail
    queue: FakeQueue
    sender: CampaignSender
    recipients: list[Recipient]

    def trigger(self, n: int = 1, version: int | None = None, zone: str = ZONE) -> CampaignStepTrigger:
        step = self.steps.get_step(USER, CAMPAIGN, n, zone)
        assert step is not None
        return CampaignStepTrigger.model_validate(
            {
                "kind": "campaign_step",
                "userId": USER,
                "campaignId": CAMPAIGN,
                "n": n,
                "timezone": zone,
                "version": step.version if version is None else version,
            }
        )

    def fire(self, n: int = 1) -> dict[str, Any]:
        return self.sender.handle(self.trigger(n), lambda: 60_000)

    def drain(self, remaining_ms: int = 100_000, receive_count: int = 1) -> dict[str, Any]:
        """Hand every queued message to the sender once, as one batch."""
        return self.sender.handle(batch(self.queue.take(), receive_count), lambda: remaining_ms)

    def campaign(self) -> Campaign:
        found = self.campaigns.get(USER, CAMPAIGN)
        assert found is not None
        return found

    def step(self, n: int = 1) -> CampaignStep:
        found = self.steps.get_step(USER, CAMPAIGN, n, ZONE)
        assert found is not None
        return found

    def queued_emails(self) -> list[str]:
        return [e for body in self.queue.bodies for e in json.loads(body)["emails"]]


def send_world(
    count: int = 3,
    *,
    rate: float | None = 4.0,
    configured_rate: float = 0.0,
    from_address: str = SENDER,
    status: str = CampaignStatus.SCHEDULED,
    personalization: Callable[[FakeClock], Personalization] | None = None,
    recipients: list[Recipient] | None = None,
    send_workers: int = 1,
) -> SendWorld:
    clock = FakeClock(START)
    campaigns = InMemoryCampaignRepository()
    campaign = Campaign(
        user_id=USER,
        campaign_id=CAMPAIGN,
        name="Spring sellers",
        template="nurture",
        status=status,
        emails=(email(1), email(2)),
        created_at=START - timedelta(days=2),
        updated_at=START - timedelta(days=2),
        window=SendWindow(START.date(), 9, 0, ZONE),
        variables={"agentName": "Sam Rivera", "city": "Portland"},
    )
    campaigns.create(campaign, limit=100)
    people = recipients or [
        Recipient(f"r{i}@example.com", first_name=f"Reader{i}", timezone=ZONE) for i in range(count)
    ]
    campaigns.put_recipients(USER, CAMPAIGN, people)
    partitions = _Partitions()
    steps, sends = InMemoryStepRepository(partitions), InMemorySendRepository(partitions)
    emails = tuple(r.email for r in people)
    plan = [
        CampaignStep(
            user_id=USER,
            campaign_id=CAMPAIGN,
            n=n,
            timezone=ZONE,
            send_at=START + timedelta(days=3 * (n - 1)),
            local_time="2027-03-01T09:00:00-05:00",
            recipients=len(emails),
            created_at=START - timedelta(days=1),
            updated_at=START - timedelta(days=1),
        )
        for n in (1, 2)
    ]
    steps.replace_plan(USER, CAMPAIGN, plan, [AudienceZone(ZONE, emails)])
    suppressions = InMemorySuppressionRepository()
    mail = FakeMail(clock, rate=rate)
    queue = FakeQueue()
    directory = crm_world().clients
    personalizer = personalization(clock) if personalization else Personalization(directory, clock)
    sender = CampaignSender(
        campaigns=campaigns,
        steps=steps,
        sends=sends,
        suppressions=suppressions,
        queue=queue,
        mail=mail,
        renderer=EmailRenderer(personalizer),
        unsubscribe_url=unsubscribe_url,
        settings=SenderSettings(
            from_address=from_address,
            configuration_set="tidings-campaigns",
            send_rate=configured_rate,
            concurrency=2,
            send_workers=send_workers,
        ),
        clock=clock,
    )
    return SendWorld(clock, campaigns, steps, sends, suppressions, mail, queue, sender, people)
