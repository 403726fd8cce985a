"""From the table's stream, what a campaign send becoming sent (or being opened) leads to. A
StreamConsumer of the campaign_events function, on `CampaignSend` records:

- A send marked sent: its SES message id is remembered (`SES_MESSAGE#<messageId>`), so the SES
  events that name only the message find their send (`tidings.campaigns.ses_events`).
- CRM write-back: a send marked sent to a recipient with a CRM client id becomes an `email_sent`
  activity in the campaign's CRM (the segment's integration, else the user's default CRM) when the
  user turned `emailSent` write-back on for it (`PUT /crm/settings`); the send's first open becomes an
  `email_opened` activity likewise (`emailOpened`). Each activity's idempotency key names the send
  (`campaign-email-sent:<campaignId>:<n>:<email>`), so a stream record delivered again records
  nothing new; origin "campaign".

Work is gathered over the batch and done in `flush`: one campaign read, one CRM resolution and one
settings read per campaign of the batch, and activities recorded up to 100 a call. A campaign whose
CRM is gone or disconnected, or a user over the daily activity limit, writes no activity and is
logged: the emails themselves are not the CRM's to hold up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tidings.core.errors import TidingsError
from tidings.crm.activities import MAX_ACTIVITIES_PER_CALL, ActivityLog, ActivityRequest
from tidings.crm.settings import CrmSettingsService
from tidings.models.campaigns import Campaign, Recipient, Send, SendStatus
from tidings.models.crm import Activity
from tidings.store import keys
from tidings.store.campaign_events import CampaignEventRepository, SentMessage
from tidings.store.campaign_sends import send_from_item
from tidings.store.campaigns import CampaignRepository
from tidings.store.dynamo import deserialize_stream_image, record_of, stream_status

logger = logging.getLogger(__name__)

EMAIL_SENT, EMAIL_OPENED = "email_sent", "email_opened"


@dataclass(frozen=True)
class SendChange:
    """What a send's stream record says happened: it was sent, and/or first opened."""

    send: Send
    became_sent: bool
    first_opened: bool


def _image(record: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    raw = record.get("dynamodb", {}).get(name)
    return deserialize_stream_image(raw) if raw else None


def _sent_send(record: Mapping[str, Any]) -> bool:
    """Whether a stream record is a campaign send whose new image is `sent`."""
    sent = stream_status(record, "NewImage") == SendStatus.SENT
    return sent and record_of(record, keys.CAMPAIGN_SEND_ENTITY)


def send_change(record: Mapping[str, Any]) -> SendChange | None:
    """The change a `CampaignSend` stream record stands for, None when it is neither a send becoming
    sent nor a first open (most records: created, claimed, released, skipped)."""
    if not _sent_send(record):
        return None
    new = _image(record, "NewImage")
    if new is None:
        return None
    old = _image(record, "OldImage") or {}
    # a send marked sent whose SES answer was lost has no message id: it counts as sent all the same
    became_sent = old.get("status") != SendStatus.SENT
    first_opened = bool(new.get("opened_at")) and not old.get("opened_at")
    if not (became_sent or first_opened):
        return None
    return SendChange(send_from_item(new), became_sent, first_opened)


def email_activity(
    event: str, campaign: Campaign, send: Send, client_id: str, subject: str | None
) -> ActivityRequest:
    """The activity a sent (or opened) campaign email becomes."""
    opened = event == EMAIL_OPENED
    moment = send.opened_at if opened else send.sent_at
    assert moment is not None
    what = "opened" if opened else f"sent to {send.email}"
    kind = "opened" if opened else "sent"
    return ActivityRequest(
        activity=Activity(
            client_id=client_id,
            type=event,
            description=f'Email {send.n} of the campaign "{campaign.name}" {what}',
            timestamp=moment,
            metadata={
                "campaignId": campaign.campaign_id,
                "email": send.n,
                "to": send.email,
                "messageId": send.message_id,
                "subject": subject,  # as written, before it was personalised
            },
        ),
        idempotency_key=f"campaign-email-{kind}:{campaign.campaign_id}:{send.n}:{send.email}",
    )


class SentEmails:
    """A StreamConsumer (tidings.core.streams) on campaign sends; every action is idempotent."""

    def __init__(
        self,
        events: CampaignEventRepository,
        campaigns: CampaignRepository,
        settings: Callable[[], CrmSettingsService],
        activities: Callable[[], ActivityLog],
    ) -> None:
        self.events = events
        self.campaigns = campaigns
        # built on first use: a batch with no campaign to write back pays for no CRM collaborator
        self.settings = settings
        self.activities = activities

    def wants(self, record: dict[str, Any]) -> bool:
        return _sent_send(record)

    def apply(self, record: dict[str, Any], deferred: list[Any]) -> None:
        change = send_change(record)
        if change is not None:
            deferred.append(change)

    def flush(self, deferred: list[Any]) -> None:
        changes: list[SendChange] = [c for c in deferred if isinstance(c, SendChange)]
        for change in changes:
            send = change.send
            if change.became_sent and send.message_id and send.sent_at:
                message = SentMessage(
                    send.message_id, send.user_id, send.campaign_id, send.n, send.email, send.timezone
                )
                self.events.remember(message, send.sent_at)
        by_campaign: dict[tuple[str, str], list[SendChange]] = {}
        for change in changes:
            by_campaign.setdefault((change.send.user_id, change.send.campaign_id), []).append(change)
        for (user_id, campaign_id), group in by_campaign.items():
            self._write_back(user_id, campaign_id, group)

    def _write_back(self, user_id: str, campaign_id: str, changes: Sequence[SendChange]) -> None:
        campaign = self.campaigns.get(user_id, campaign_id)
        if campaign is None:
            return  # deleted since: nothing to report it under
        wanted = {
            event: [c for c in changes if (c.became_sent if event == EMAIL_SENT else c.first_opened)]
            for event in (EMAIL_SENT, EMAIL_OPENED)
        }
        if not any(wanted.values()):
            return
        settings = self.settings()
        named = campaign.segment.integration_id if campaign.segment else None
        try:
            integration = settings.resolve(user_id, named)
            enabled = [
                event
                for event, sends in wanted.items()
                if sends and settings.write_back_enabled(user_id, integration.integration_id, event)
            ]
        except TidingsError as exc:  # no CRM connected, or the campaign's is gone or disconnected
            logger.info("campaign %s of %s: no CRM write-back (%s)", campaign_id, user_id, exc.code)
            return
        requests: list[ActivityRequest] = []
        clients: dict[str, str | None] = {}
        for event in enabled:
            for change in wanted[event]:
                send = change.send
                if send.email not in clients:
                    clients[send.email] = self._client_id(campaign, send.email)
                client_id = clients[send.email]
                if client_id:
                    email = campaign.email(send.n)
                    subject = email.subject if email else None
                    requests.append(email_activity(event, campaign, send, client_id, subject))
        for start in range(0, len(requests), MAX_ACTIVITIES_PER_CALL):
            chunk = requests[start : start + MAX_ACTIVITIES_PER_CALL]
            try:
                self.activities().record(user_id, integration, chunk, origin="campaign")
            except TidingsError as exc:  # over the daily limit, or the integration changed meanwhile
                logger.warning(
                    "campaign %s of %s: %d CRM activities not recorded (%s: %s)",
                    campaign_id,
                    user_id,
                    len(chunk),
                    exc.code,
                    exc.message,
                )

    def _client_id(self, campaign: Campaign, email: str) -> str | None:
        recipient: Recipient | None = self.campaigns.recipient(campaign.user_id, campaign.campaign_id, email)
        return recipient.client_id if recipient is not None else None
