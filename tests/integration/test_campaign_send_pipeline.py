"""The sending pipeline on DynamoDB Local, moto's SQS and SES (through the local SES front with faults):
a step fans out to the queue, the queue poller hands its batches to the sender, and every recipient gets
each email once even when SES throttles, refuses or loses its answer (the front's Send events confirm
what SES took)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from local_aws import queue_with_dead_letters, ses_client, wait_for

from infra.local.fakes.ses import SesFront
from infra.local.lambda_host import LambdaHost
from infra.local.provision import LOCAL_CAMPAIGN_SENDER, LocalStack
from infra.local.queue_poller import QueuePoller
from infra.topology import QueueTrigger
from tidings.aws.campaign_mail import SesCampaignMail
from tidings.aws.campaign_queue import SqsSendQueue
from tidings.campaigns.render import EmailRenderer
from tidings.campaigns.sending import CampaignSender, SenderSettings
from tidings.campaigns.ses_events import CampaignEmailEvents
from tidings.campaigns.triggers import parse_campaign_event
from tidings.campaigns.unsubscribe import UnsubscribeLinks
from tidings.core.clock import DEFAULT_CLOCK
from tidings.models.campaigns import (
    Campaign,
    CampaignEmail,
    CampaignStatus,
    CampaignStep,
    Recipient,
    SendStatus,
    SendWindow,
    Suppression,
)
from tidings.store.campaign_events import DynamoCampaignEventRepository
from tidings.store.campaign_sends import AudienceZone, DynamoSendRepository, DynamoStepRepository
from tidings.store.campaigns import DynamoCampaignRepository
from tidings.store.suppressions import DynamoSuppressionRepository

pytestmark = pytest.mark.timeout(240)

ZONE = "Europe/Lisbon"
CONFIRM_WAIT = 3  # seconds a send whose answer was lost waits for its Send event
PUBLIC_API = "http://127.0.0.1:3000"


def email(n: int) -> CampaignEmail:
    return CampaignEmail(
        n=n,
        role="value",
        subject=f"Update {n} for {{{{ firstName }}}}",
        preheader="New this week",
        text=f"Hi {{{{ firstName }}}},\nupdate {n}.\n{{{{ unsubscribeUrl }}}}\n",
        html=f'<p>Hi {{{{ firstName }}}}</p><p>update {n}</p><a href="{{{{ unsubscribeUrl }}}}">Leave</a>',
        delay=0 if n == 1 else 1,
    )


@dataclass
class Pipeline:
    user: str
    campaign_id: str
    campaigns: DynamoCampaignRepository
    steps: DynamoStepRepository
    sends: DynamoSendRepository
    suppressions: DynamoSuppressionRepository
    front: SesFront
    sender: CampaignSender
    links: UnsubscribeLinks

    def fire(self, n: int) -> dict[str, Any]:
        step = self.steps.get_step(self.user, self.campaign_id, n, ZONE)
        assert step is not None
        event = {
            "kind": "campaign_step",
            "userId": self.user,
            "campaignId": self.campaign_id,
            "n": n,
            "timezone": ZONE,
            "version": step.version,
        }
        return self.sender.handle(parse_campaign_event(event), lambda: 60_000)

    def settled(self, n: int) -> bool:
        sends = self.sends.list_sends(self.user, self.campaign_id, n=n, limit=100).sends
        return bool(sends) and all(s.status not in (SendStatus.PLANNED, SendStatus.SENDING) for s in sends)

    def emails_to(self, address: str, n: int) -> list[dict[str, Any]]:
        return [e for e in self.front.sent(address) if e["subject"].startswith(f"Update {n} ")]


@pytest.fixture
def pipeline(
    local_stack: LocalStack, lambda_host: LambdaHost, local_aws_env: dict[str, str]
) -> Iterator[Pipeline]:
    ddb = local_stack.client("dynamodb")
    table = local_stack.table_name
    user, campaign_id = f"agent-{uuid.uuid4().hex[:8]}", f"cmp-{uuid.uuid4().hex[:8]}"
    campaigns = DynamoCampaignRepository(table, ddb)
    steps, sends = DynamoStepRepository(table, ddb), DynamoSendRepository(table, ddb)
    suppressions = DynamoSuppressionRepository(table, ddb)
    now = datetime.now(UTC)
    campaigns.create(
        Campaign(
            user_id=user,
            campaign_id=campaign_id,
            name="Lisbon sellers",
            template="nurture",
            status=CampaignStatus.SCHEDULED,
            emails=(email(1), email(2)),
            created_at=now,
            updated_at=now,
            window=SendWindow(now.date(), 9, 0, ZONE),
            delay_unit="seconds",
        ),
        limit=100,
    )
    people = [Recipient(f"p{i:02d}@example.com", first_name=f"P{i:02d}", timezone=ZONE) for i in range(12)]
    campaigns.put_recipients(user, campaign_id, people)
    plan = [
        CampaignStep(user, campaign_id, n, ZONE, now + timedelta(seconds=n), now.isoformat(), 12, now, now)
        for n in (1, 2)
    ]
    steps.replace_plan(user, campaign_id, plan, [AudienceZone(ZONE, tuple(p.email for p in people))])

    sqs = local_stack.client("sqs")
    name = f"campaign-sends-{uuid.uuid4().hex[:8]}"
    queue = queue_with_dead_letters(sqs, name, visibility_seconds=720, max_receives=10)
    # the configuration set's Send events, as EventBridge hands them to campaign_events
    events = CampaignEmailEvents(DynamoCampaignEventRepository(table, ddb), suppressions, sends=sends)
    front = SesFront(local_stack.endpoints.moto, on_event=events.handle).start()
    from tidings.wiring import personalization

    links = UnsubscribeLinks(secrets.token_bytes(32), PUBLIC_API)
    pool = ThreadPoolExecutor(max_workers=4)
    sender = CampaignSender(
        campaigns=campaigns,
        steps=steps,
        sends=sends,
        suppressions=suppressions,
        queue=SqsSendQueue(queue.url, sqs),
        mail=SesCampaignMail(ses_client(front.url)),
        renderer=EmailRenderer(personalization()),
        unsubscribe_url=links.url,
        settings=SenderSettings(
            LOCAL_CAMPAIGN_SENDER, "tidings-campaigns", 0.0, 2, CONFIRM_WAIT, send_workers=4
        ),
        clock=DEFAULT_CLOCK,
        pool=pool,
    )
    function = f"campaign_send_pipeline_{uuid.uuid4().hex[:8]}"
    lambda_host.register(
        function,
        lambda event, context: sender.handle(
            parse_campaign_event(event), context.get_remaining_time_in_millis
        ),
        timeout_seconds=120,
    )
    poller = QueuePoller(
        QueueTrigger(function=function, queue=name, batch_size=10, maximum_concurrency=2),
        queue.url,
        queue.arn,
        lambda_host.invoke,
        sqs,
    )
    poller.start()
    try:
        yield Pipeline(user, campaign_id, campaigns, steps, sends, suppressions, front, sender, links)
    finally:
        poller.stop()
        front.stop()
        pool.shutdown()


def test_every_recipient_gets_each_email_once_through_throttles_refusals_and_lost_answers(
    pipeline: Pipeline,
) -> None:
    front = pipeline.front
    front.add_fault("throttle", count=2, to="p01@example.com")  # twice refused, then sent
    front.add_fault("lost_response", count=1, to="p02@example.com")  # SES took it, the answer was lost
    front.add_fault("reject", count=1, to="p03@example.com")  # refused for good
    front.add_fault("timeout", count=1, to="p04@example.com")  # dropped before SES: no Send event

    answer = pipeline.fire(1)

    assert answer["queued"] == 12
    assert wait_for(lambda: pipeline.settled(1), timeout=90)
    for i in range(12):
        address = f"p{i:02d}@example.com"
        expected = 0 if address == "p03@example.com" else 1
        assert len(pipeline.emails_to(address, 1)) == expected, address
    ledger = {
        s.email: s
        for s in pipeline.sends.list_sends(pipeline.user, pipeline.campaign_id, n=1, limit=100).sends
    }
    delivered = {e["to"][0]: e["messageId"] for e in front.sent() if e["subject"].startswith("Update 1 ")}
    for address, message_id in delivered.items():  # p02's from its Send event
        assert ledger[address].message_id == message_id
    assert (ledger["p01@example.com"].status, ledger["p01@example.com"].attempts) == (SendStatus.SENT, 3)
    assert (ledger["p02@example.com"].status, ledger["p02@example.com"].attempts) == (SendStatus.SENT, 1)
    assert ledger["p03@example.com"].status == SendStatus.FAILED
    assert ledger["p03@example.com"].reason == "MessageRejected: Email address is not verified."
    # no Send event within the wait: SES never had it, and it went again
    assert (ledger["p04@example.com"].status, ledger["p04@example.com"].attempts) == (SendStatus.SENT, 2)
    step = pipeline.steps.get_step(pipeline.user, pipeline.campaign_id, 1, ZONE)
    assert step is not None
    assert (step.sent, step.skipped, step.failed) == (11, 0, 1)
    campaign = pipeline.campaigns.get(pipeline.user, pipeline.campaign_id)
    assert campaign is not None
    assert campaign.status == CampaignStatus.ACTIVE


def test_each_email_carries_its_recipients_own_unsubscribe_link_and_an_unsubscribed_address_gets_no_more(
    pipeline: Pipeline,
) -> None:
    pipeline.fire(1)
    assert wait_for(lambda: pipeline.settled(1), timeout=90)
    (first,) = pipeline.emails_to("p05@example.com", 1)
    link = pipeline.links.url(pipeline.user, "p05@example.com", pipeline.campaign_id)
    assert first["headers"]["List-Unsubscribe"] == f"<{link}>"
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in first["text"]
    assert pipeline.links.read(link.rsplit("/", 1)[1]).email == "p05@example.com"
    # p05 follows the link: the address goes on the user's suppression list
    pipeline.suppressions.add(
        Suppression(pipeline.user, "p05@example.com", "unsubscribed", datetime.now(UTC), pipeline.campaign_id)
    )

    pipeline.fire(2)

    assert wait_for(lambda: pipeline.settled(2), timeout=90)
    assert pipeline.emails_to("p05@example.com", 2) == []
    assert len(pipeline.emails_to("p06@example.com", 2)) == 1
    skipped = pipeline.sends.get(pipeline.user, pipeline.campaign_id, 2, "p05@example.com")
    assert skipped is not None
    assert (skipped.status, skipped.reason) == (SendStatus.SKIPPED, "suppressed:unsubscribed")
    assert wait_for(lambda: _status(pipeline) == CampaignStatus.COMPLETED)


def _status(pipeline: Pipeline) -> str | None:
    campaign = pipeline.campaigns.get(pipeline.user, pipeline.campaign_id)
    return campaign.status if campaign is not None else None
