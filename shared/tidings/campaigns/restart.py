"""Campaign sends whose queue messages were lost (the local runtime's SQS lives in moto, which forgets
every message when it restarts), queued again from what the table holds.

A step that fired put one send per recipient in the ledger and their messages on the send queue; the
messages are the only thing that brings a send to SES. When they are lost, a fired step of a campaign
still sending (`scheduled`, `active`, or `paused`: a pause holds only the steps that have not fired)
whose counts do not yet cover its recipients has sends that nothing will ever move. Each recipient of
such a step without a final outcome goes to the queue again: a `planned` send, a `sending` one (its
claim or its wait for SES's word ends, and the sender decides from the ledger, as for any message
that comes back), and one the fan-out never created. A send `sent`, `skipped` or `failed` is never
queued again; the ledger keeps each email at most once whatever the queue holds, so a message that
was not lost after all costs a read, not a second email.

A step still `waiting` needs nothing here: the schedule rebuild gives it its schedule again, and it
fans out when that fires.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from tidings.models.campaigns import Campaign, CampaignStatus, CampaignStep, Send, SendStatus, StepState

SENDING_CAMPAIGNS = frozenset({CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE, CampaignStatus.PAUSED})
FINAL_SENDS = frozenset({SendStatus.SENT, SendStatus.SKIPPED, SendStatus.FAILED})


class Requeued(Protocol):
    queued: int  # sends put on the queue again


class StepRequeuer(Protocol):
    def requeue_step(self, step: CampaignStep) -> Requeued:
        """Queue again every send of the step without a final outcome."""
        ...


def has_unsent(step: CampaignStep, campaign: Campaign) -> bool:
    """A fired step of a campaign still sending whose counts do not cover all its recipients."""
    return (
        campaign.status in SENDING_CAMPAIGNS
        and step.state == StepState.FIRED
        and step.sent + step.skipped + step.failed < step.recipients
    )


def needs_requeue(send: Send | None) -> bool:
    """Whether a recipient's send goes to the queue again: absent, or without a final outcome."""
    return send is None or send.status not in FINAL_SENDS


def requeue_lost_sends(
    campaigns: Iterable[Campaign],
    steps_of: Callable[[str, str], list[CampaignStep]],
    requeuer: StepRequeuer,
) -> int:
    """Queue again the unsent recipients of every fired step still sending; how many sends it queued."""
    requeued = 0
    for campaign in campaigns:
        if campaign.status not in SENDING_CAMPAIGNS:
            continue
        for step in steps_of(campaign.user_id, campaign.campaign_id):
            if has_unsent(step, campaign):
                requeued += requeuer.requeue_step(step).queued
    return requeued
