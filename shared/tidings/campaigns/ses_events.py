"""What SES reports about campaign email: bounces and complaints suppress the address, and each send
counts its first delivery, bounce, complaint, open and click.

SES publishes the events of the campaigns' configuration set to EventBridge (SES Developer Guide,
"Monitor email sending using Amazon SES event publishing"), where a rule sends them to the
campaign_events function. An EventBridge event carries the SES event record as its `detail`, with a
detail-type per kind ("Email Bounced", "Email Complaint Received", "Email Delivered", "Email Opened",
"Email Clicked", ...: EventBridge Events Reference, "Amazon Simple Email Service events"). The same
record reaches an SNS destination as the notification's message; both shapes are read here, as is a
bare record. The record (SES Developer Guide, "Contents of event data that Amazon SES publishes to
Amazon SNS") has `eventType` and `mail` (`messageId`, `timestamp`, `destination`, `tags`), and per
kind `bounce` (`bounceType` Permanent, Transient or Undetermined; `bouncedRecipients` with
`emailAddress` and `diagnosticCode`), `complaint` (`complainedRecipients`, `complaintFeedbackType`),
`delivery`, `open` and `click` (`link`), each with its `timestamp`.

- A permanent bounce puts each bounced address on the user's suppression list (`bounced`, with the
  diagnostic); a transient or undetermined one suppresses nothing (SES retried it already; the next
  email may get through) and is counted apart, as `soft_bounced`.
- A complaint (the recipient marked the email as spam) suppresses the address (`complained`).
- Delivery, open and click count once per send (`tidings.store.campaign_events.record_first`). A
  click on the email's own unsubscribe link is not a click on its content and is not counted.
- The send is found by the message id (`SesMessage` lookups, written from the stream when a send is
  marked sent). For a message sent moments ago whose lookup is not written yet, the lookup is read
  again for up to 5 seconds, then the event is raised so that Lambda tries it again a minute later;
  an older one no campaign sent is logged and dropped.
- A Send event (SES accepted the message) names its send by the email's tags
  (`tidings.campaigns.send_key`): a send still `planned` or `sending` (its sender's answer lost, or not
  written yet) becomes `sent` with the event's message id, counted on its step in the same transaction;
  this is the evidence a send whose SES answer was lost waits for before it is ever sent again
  (`tidings.campaigns.sending`). A Send event of a send settled already changes nothing.
- Reject, DeliveryDelay, Rendering Failure and Subscription events change nothing here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from tidings.campaigns.send_key import send_from_tags
from tidings.core.clock import DEFAULT_CLOCK, Clock, parse_iso
from tidings.models.campaigns import Suppression, SuppressionReason
from tidings.store.campaign_events import CampaignEventRepository, SentMessage
from tidings.store.campaign_sends import CONFIRM_FROM, SendConflict, SendRepository
from tidings.store.suppressions import SuppressionRepository, address_key

logger = logging.getLogger(__name__)

# How long after a message was sent its lookup may still be on its way (the stream consumer writes it
# about a second after the send is marked sent); an unknown message younger than this is tried again.
LOOKUP_GRACE = timedelta(minutes=2)
# Within that grace, how long to look again before raising (an invocation that raises counts as a
# Lambda error): the lookup is usually written a second or two after the send is marked sent.
LOOKUP_WAITS = (timedelta(seconds=1), timedelta(seconds=2), timedelta(seconds=2))
UNSUBSCRIBE_PATH = "/unsubscribe/"

BOUNCE, COMPLAINT, DELIVERY, OPEN, CLICK = "Bounce", "Complaint", "Delivery", "Open", "Click"
SEND = "Send"
CONFIRM_TRIES = 3  # a send that moved while it was confirmed is read again (its sender marked it)
PERMANENT = "Permanent"


class MalformedSesEvent(ValueError):
    """Not an SES event record this handler can read."""


class LookupPending(RuntimeError):
    """The event's message was sent moments ago and its send cannot be found yet: try again."""


@dataclass(frozen=True)
class SesEvent:
    """One SES event record, as far as campaigns use it."""

    event_type: str  # as SES names it: Bounce, Complaint, Delivery, Open, Click, Send, ...
    message_id: str
    sent_at: datetime | None  # mail.timestamp
    at: datetime | None  # the event's own timestamp
    recipients: tuple[str, ...] = ()  # the addresses it is about
    bounce_type: str | None = None
    bounce_subtype: str | None = None
    diagnostic: str | None = None
    feedback_type: str | None = None
    link: str | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)  # mail.tags: a name to its values


@dataclass
class EventsOutcome:
    """What one invocation did, for its log line and its answer."""

    received: int = 0
    applied: int = 0
    suppressed: int = 0
    counted: int = 0
    confirmed: int = 0
    unknown: int = 0
    ignored: int = 0
    unreadable: int = 0
    by_type: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "applied": self.applied,
            "suppressed": self.suppressed,
            "counted": self.counted,
            "confirmed": self.confirmed,
            "unknown": self.unknown,
            "ignored": self.ignored,
            "unreadable": self.unreadable,
            "byType": dict(self.by_type),
        }


# -- reading -------------------------------------------------------------------------------------------


def ses_records(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The SES event records an invocation carries: an EventBridge event's `detail`, each SNS
    notification's message, or the record itself. MalformedSesEvent for anything else."""
    if isinstance(event.get("detail"), Mapping) and str(event.get("source", "")) == "aws.ses":
        return [event["detail"]]
    records = event.get("Records")
    if isinstance(records, list):
        found: list[Mapping[str, Any]] = []
        for record in records:
            message = (record.get("Sns") or {}).get("Message") if isinstance(record, Mapping) else None
            if not isinstance(message, str):
                raise MalformedSesEvent("a record that is not an SNS notification")
            try:
                parsed = json.loads(message)
            except json.JSONDecodeError as exc:
                raise MalformedSesEvent(f"an SNS message that is not JSON: {exc}") from None
            if not isinstance(parsed, Mapping):
                raise MalformedSesEvent("an SNS message that is not a JSON object")
            found.append(parsed)
        return found
    if "eventType" in event and "mail" in event:
        return [event]
    raise MalformedSesEvent("neither an EventBridge event from aws.ses, SNS notifications, nor an SES record")


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


def _addresses(entries: Any) -> tuple[str, ...]:
    if not isinstance(entries, list):
        return ()
    found = []
    for entry in entries:
        address = entry.get("emailAddress") if isinstance(entry, Mapping) else entry
        if isinstance(address, str) and address.strip():
            found.append(address.strip())
    return tuple(found)


def parse_record(record: Mapping[str, Any]) -> SesEvent:
    """The event a record reports (MalformedSesEvent without an event type and a message id)."""
    event_type = record.get("eventType") or record.get("notificationType")
    mail = record.get("mail")
    if not isinstance(event_type, str) or not isinstance(mail, Mapping):
        raise MalformedSesEvent("an SES record needs eventType and mail")
    message_id = mail.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise MalformedSesEvent("an SES record needs mail.messageId")
    destination = _addresses(mail.get("destination"))
    detail = record.get(event_type[:1].lower() + event_type[1:].replace(" ", ""))
    detail = detail if isinstance(detail, Mapping) else {}
    base = SesEvent(
        event_type=event_type,
        message_id=message_id,
        sent_at=_time(mail.get("timestamp")),
        at=_time(detail.get("timestamp")) or _time(mail.get("timestamp")),
        recipients=destination,
        tags=tags if isinstance(tags := mail.get("tags"), Mapping) else {},
    )
    if event_type == BOUNCE:
        bounced = detail.get("bouncedRecipients")
        diagnostics = [
            str(r.get("diagnosticCode"))
            for r in (bounced if isinstance(bounced, list) else [])
            if isinstance(r, Mapping) and r.get("diagnosticCode")
        ]
        return replace(
            base,
            recipients=_addresses(bounced) or destination,
            bounce_type=str(detail.get("bounceType") or "") or None,
            bounce_subtype=str(detail.get("bounceSubType") or "") or None,
            diagnostic=diagnostics[0] if diagnostics else None,
        )
    if event_type == COMPLAINT:
        return replace(
            base,
            recipients=_addresses(detail.get("complainedRecipients")) or destination,
            feedback_type=str(detail.get("complaintFeedbackType") or "") or None,
        )
    if event_type == DELIVERY:
        return replace(base, recipients=_addresses(detail.get("recipients")) or destination)
    if event_type == CLICK:
        link = detail.get("link")
        return replace(base, link=link if isinstance(link, str) else None)
    return base


# -- applying ------------------------------------------------------------------------------------------


class CampaignEmailEvents:
    """The campaign_events function's SES side."""

    def __init__(
        self,
        events: CampaignEventRepository,
        suppressions: SuppressionRepository,
        clock: Clock = DEFAULT_CLOCK,
        *,
        sends: SendRepository | None = None,
        lookup_grace: timedelta = LOOKUP_GRACE,
        lookup_waits: tuple[timedelta, ...] = LOOKUP_WAITS,
    ) -> None:
        self.events = events
        self.suppressions = suppressions
        self.sends = sends
        self.clock = clock
        self.lookup_grace = lookup_grace
        self.lookup_waits = lookup_waits

    def handle(self, event: Mapping[str, Any]) -> EventsOutcome:
        """Apply every SES record of the invocation. Raises LookupPending (so the invocation is tried
        again) when a record's send may not be findable yet; everything else is applied once."""
        outcome = EventsOutcome()
        try:
            records = ses_records(event)
        except MalformedSesEvent as exc:
            logger.error("not an SES event, dropped: %s", exc)
            outcome.unreadable += 1
            return outcome
        pending: LookupPending | None = None
        for record in records:
            outcome.received += 1
            try:
                ses_event = parse_record(record)
            except MalformedSesEvent as exc:
                logger.error("an SES record that cannot be read, dropped: %s", exc)
                outcome.unreadable += 1
                continue
            outcome.by_type[ses_event.event_type] = outcome.by_type.get(ses_event.event_type, 0) + 1
            try:
                self.apply(ses_event, outcome)
            except LookupPending as exc:
                pending = pending or exc  # the others are applied now; this one comes back
        if pending is not None:
            raise pending
        return outcome

    def apply(self, event: SesEvent, outcome: EventsOutcome) -> None:
        if event.event_type == SEND:
            self._confirm(event, outcome)
            return
        if event.event_type not in (BOUNCE, COMPLAINT, DELIVERY, OPEN, CLICK):
            outcome.ignored += 1
            return
        message = self._find(event)
        if message is None:
            self._unknown(event, outcome)
            return
        at = event.at or self.clock.now()
        outcome.applied += 1
        if event.event_type == BOUNCE:
            permanent = event.bounce_type == PERMANENT
            if permanent:
                detail = event.diagnostic or " ".join(filter(None, (event.bounce_type, event.bounce_subtype)))
                outcome.suppressed += self._suppress(message, event, SuppressionReason.BOUNCED, detail, at)
            self._count(message, "bounced" if permanent else "soft_bounced", at, outcome)
        elif event.event_type == COMPLAINT:
            detail = f"complaint: {event.feedback_type}" if event.feedback_type else "complaint"
            outcome.suppressed += self._suppress(message, event, SuppressionReason.COMPLAINED, detail, at)
            self._count(message, "complained", at, outcome)
        elif event.event_type == DELIVERY:
            self._count(message, "delivered", at, outcome)
        elif event.event_type == OPEN:
            self._count(message, "opened", at, outcome)
        elif event.link and UNSUBSCRIBE_PATH in event.link:
            outcome.ignored += 1  # the email's own unsubscribe link: not a click on its content
        else:
            self._count(message, "clicked", at, outcome)

    def _confirm(self, event: SesEvent, outcome: EventsOutcome) -> None:
        """SES took the message: its send is sent, whatever its sender heard (or did not)."""
        key = send_from_tags(event.tags, event.recipients)
        if key is None or self.sends is None:
            outcome.ignored += 1  # not a campaign email (another sender of the configuration set)
            return
        outcome.applied += 1
        at = event.at or self.clock.now()
        for _ in range(CONFIRM_TRIES):
            send = self.sends.get(key.user_id, key.campaign_id, key.n, key.email)
            if send is None or send.status not in CONFIRM_FROM:
                return  # settled already (sent by its sender's answer), or the campaign was deleted
            try:
                self.sends.confirm_sent(send, event.message_id, at)
            except SendConflict:
                continue
            outcome.confirmed += 1
            return
        raise SendConflict(f"send {key.campaign_id}/{key.n}/{key.email} keeps moving: the event comes back")

    def _recent(self, event: SesEvent) -> bool:
        return event.sent_at is not None and self.clock.now() - event.sent_at < self.lookup_grace

    def _find(self, event: SesEvent) -> SentMessage | None:
        """The event's send; for an email sent moments ago, looked for again a few times first."""
        message = self.events.find(event.message_id)
        waits = iter(self.lookup_waits if self._recent(event) else ())
        while message is None and (wait := next(waits, None)) is not None:
            self.clock.sleep_until(self.clock.now() + wait)
            message = self.events.find(event.message_id)
        return message

    def _unknown(self, event: SesEvent, outcome: EventsOutcome) -> None:
        if self._recent(event):
            raise LookupPending(f"message {event.message_id}: its send is not findable yet")
        logger.warning(
            "SES %s for message %s, which no campaign send is known to have sent: dropped",
            event.event_type,
            event.message_id,
        )
        outcome.unknown += 1

    def _suppress(
        self, message: SentMessage, event: SesEvent, reason: str, detail: str | None, at: datetime
    ) -> int:
        added = 0
        addresses = {address_key(a) for a in event.recipients} or {message.email}
        for address in sorted(addresses):
            _, created = self.suppressions.add(
                Suppression(
                    user_id=message.user_id,
                    email=address,
                    reason=reason,
                    at=at,
                    campaign_id=message.campaign_id,
                    detail=detail,
                )
            )
            added += int(created)
        return added

    def _count(self, message: SentMessage, kind: str, at: datetime, outcome: EventsOutcome) -> None:
        if self.events.record_first(message, kind, at):
            outcome.counted += 1
