"""Campaign sends whose queue messages were lost (moto restarted under the local runtime) are queued
again from the ledger: every recipient of a fired step without a final outcome, and nobody else; each
email still goes at most once."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from campaign_send_fakes import CAMPAIGN, USER, ZONE, SendWorld, batch, send_world

from tidings.aws.campaign_mail import Outcome, SendResult
from tidings.campaigns.restart import requeue_lost_sends
from tidings.campaigns.triggers import QueuedSends
from tidings.models.campaigns import CampaignStatus, SendStatus, StepState

LOST = SendResult(Outcome.IN_DOUBT, code="ReadTimeoutError", detail="Read timeout on endpoint URL")
REJECTED = SendResult(Outcome.REJECTED, code="MessageRejected", detail="Email address is not verified.")


def restart(world: SendWorld) -> int:
    """What the rebuild does after moto forgot the queue: its messages are gone, then the requeue."""
    world.queue.take()
    return requeue_lost_sends([world.campaign()], world.steps.steps, world.sender)


def set_status(world: SendWorld, status: str) -> None:
    campaign = world.campaign()
    world.campaigns.update(replace(campaign, status=status), campaign.version)


def sent_to(world: SendWorld) -> Counter[str]:
    return Counter(call["recipient"] for call in world.mail.calls)


def test_a_fired_step_whose_messages_were_lost_is_queued_again_and_each_recipient_gets_it_once() -> None:
    world = send_world(12)
    world.fire(1)

    assert restart(world) == 12

    assert sorted(world.queued_emails()) == sorted(r.email for r in world.recipients)
    world.drain()
    assert sent_to(world) == dict.fromkeys((r.email for r in world.recipients), 1)
    assert world.step().sent == 12
    assert world.campaign().status == CampaignStatus.ACTIVE  # email 2 has not fired yet


def test_only_recipients_without_a_final_outcome_are_queued_again() -> None:
    world = send_world(4)
    world.fire(1)
    world.mail.script["r1@example.com"] = [REJECTED]
    first_two = QueuedSends(
        user_id=USER, campaign_id=CAMPAIGN, n=1, timezone=ZONE, emails=["r0@example.com", "r1@example.com"]
    )
    world.sender.handle(batch([first_two.body()]), lambda: 100_000)  # r0 sent, r1 refused by SES
    # r2 and r3 still planned when the queue was lost

    assert restart(world) == 2

    assert sorted(world.queued_emails()) == ["r2@example.com", "r3@example.com"]
    world.drain()
    assert sent_to(world) == {
        "r0@example.com": 1,
        "r1@example.com": 1,
        "r2@example.com": 1,
        "r3@example.com": 1,
    }
    step = world.step()
    assert (step.sent, step.failed) == (3, 1)


def test_a_send_held_in_doubt_is_queued_again_but_not_sent_again_while_ses_may_have_it() -> None:
    world = send_world(1)
    world.fire(1)
    world.mail.script["r0@example.com"] = [LOST]
    world.drain()  # SES's answer lost: the send waits for SES's word, its message on the queue

    assert restart(world) == 1

    answer = world.drain()
    assert answer["batchItemFailures"]  # it comes back when the wait ends
    assert len(world.mail.calls) == 1
    held = world.sends.get(USER, CAMPAIGN, 1, "r0@example.com")
    assert held is not None
    assert held.status == SendStatus.SENDING


def test_sends_the_fan_out_never_created_are_planned_and_queued() -> None:
    world = send_world(3)
    # the step fired, and its fan-out stopped before it created any send
    world.steps.mark_fired(USER, CAMPAIGN, 1, ZONE, world.step().version, world.clock.now())
    assert world.sends.get(USER, CAMPAIGN, 1, "r2@example.com") is None

    assert restart(world) == 3

    created = world.sends.get(USER, CAMPAIGN, 1, "r2@example.com")
    assert created is not None
    assert created.status == SendStatus.PLANNED
    world.drain()
    assert sent_to(world) == dict.fromkeys((r.email for r in world.recipients), 1)


def test_a_waiting_step_a_step_all_counted_and_a_finished_campaign_are_left_alone() -> None:
    world = send_world(2)
    assert restart(world) == 0  # nothing fired: the schedule rebuild takes care of waiting steps
    world.fire(1)
    world.drain()
    assert restart(world) == 0  # every recipient of the fired step has its outcome
    assert world.step(2).state == StepState.WAITING
    assert world.queue.bodies == []


@pytest.mark.parametrize(
    "status", [CampaignStatus.CANCELLED, CampaignStatus.COMPLETED, CampaignStatus.FAILED]
)
def test_a_campaign_that_ended_gets_nothing_queued(status: str) -> None:
    world = send_world(2)
    world.fire(1)
    set_status(world, status)

    assert restart(world) == 0
    assert world.queue.bodies == []


def test_a_paused_campaign_still_sends_the_step_that_fired() -> None:
    world = send_world(2)
    world.fire(1)
    set_status(world, CampaignStatus.PAUSED)

    assert restart(world) == 2
    world.drain()
    assert sent_to(world) == {"r0@example.com": 1, "r1@example.com": 1}
