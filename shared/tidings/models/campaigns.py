"""Email campaigns as entities: a drip sequence of emails, its audience, when it sends, what each
send became, and the addresses a user may no longer write to. No I/O here: the table's layout lives
in `tidings.store`, the rules in `tidings.campaigns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

# Templates and how many emails each has (the design's campaign generator); `custom` takes 1 to 10.
TEMPLATE_LENGTHS: dict[str, int] = {
    "nurture": 5,
    "onboarding": 5,
    "listing-promotion": 5,
    "market-update": 4,
    "seasonal": 4,
}
CUSTOM_TEMPLATE = "custom"
TEMPLATES = (*TEMPLATE_LENGTHS, CUSTOM_TEMPLATE)
MAX_EMAILS = 10
ROLES = ("introduction", "value", "social_proof", "call_to_action")
DELAY_UNITS = ("days", "seconds")  # seconds only where the runtime allows it (tests, demos)
MAX_RECIPIENTS = 10_000


class CampaignStatus:
    DRAFT = "draft"
    SCHEDULED = "scheduled"  # waiting for its first email
    ACTIVE = "active"  # its first email went out
    PAUSED = "paused"
    COMPLETED = "completed"  # every email of every recipient is sent or skipped
    CANCELLED = "cancelled"
    FAILED = "failed"

    ALL = ("draft", "scheduled", "active", "paused", "completed", "cancelled", "failed")
    EDITABLE = ("draft", "paused")
    FINAL = ("completed", "cancelled", "failed")


class SendStatus:
    PLANNED = "planned"  # scheduled for `send_at`
    SENDING = "sending"  # claimed by a sender, the SES call under way (or its answer lost)
    SENT = "sent"
    SKIPPED = "skipped"  # suppressed, unsubscribed, paused/cancelled campaign: `reason` says
    FAILED = "failed"  # SES refused it for good: `reason` says

    ALL = ("planned", "sending", "sent", "skipped", "failed")


class SuppressionReason:
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"  # a permanent bounce reported by SES
    COMPLAINED = "complained"  # the recipient marked it as spam
    MANUAL = "manual"  # added by the user

    ALL = ("unsubscribed", "bounced", "complained", "manual")


@dataclass(frozen=True)
class Customization:
    tone: str | None = None  # a tone of the content catalogue (professional, friendly...)
    include_images: bool = False
    brand_voice: Any = None  # as generate_content takes it: an object or a string


@dataclass(frozen=True)
class CampaignEmail:
    """One email of the sequence (n counts from 1). Subject, preheader and bodies may hold
    personalisation variables (`{{firstName}}`), rendered for each recipient when it is sent."""

    n: int
    role: str  # one of ROLES
    subject: str
    preheader: str
    text: str
    html: str
    delay: int  # after the previous email (the first: after the start), in the campaign's delay unit


@dataclass(frozen=True)
class Segment:
    """Recipients read from a CRM when the campaign is scheduled."""

    integration_id: str
    tags: tuple[str, ...] = ()
    lifecycle_stage: str | None = None


@dataclass(frozen=True)
class Recipient:
    email: str  # normalised: trimmed, domain lower-cased
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = None  # IANA; else the CRM's preference, else the campaign's
    client_id: str | None = None  # the CRM client, for personalisation and write-back


@dataclass(frozen=True)
class SendWindow:
    """When a scheduled campaign sends: each email on its day at `hour:minute` in `timezone`, or in
    each recipient's own time zone with `recipient_local_time`."""

    start_date: date
    hour: int
    minute: int
    timezone: str
    recipient_local_time: bool = True


@dataclass(frozen=True)
class Campaign:
    user_id: str
    campaign_id: str
    name: str
    template: str
    status: str
    emails: tuple[CampaignEmail, ...]
    created_at: datetime
    updated_at: datetime
    target_audience: str | None = None
    customization: Customization = field(default_factory=Customization)
    topic: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    delay_unit: str = "days"
    auto_schedule: bool = False
    segment: Segment | None = None
    recipient_count: int = 0
    window: SendWindow | None = None  # set when scheduled
    started_at: datetime | None = None  # the first email went out
    completed_at: datetime | None = None
    final_reason: str | None = None
    version: int = 1
    # The campaign's own template values (agentName, agentPhone...), usable in every email.
    variables: dict[str, Any] = field(default_factory=dict)
    source: str = "template"  # how the emails were written: "template" or "bedrock"
    model_id: str | None = None  # the Bedrock model, when one wrote them

    def email(self, n: int) -> CampaignEmail | None:
        """The n-th email (from 1), or None."""
        return self.emails[n - 1] if 1 <= n <= len(self.emails) else None


@dataclass(frozen=True)
class Send:
    """One email of a campaign to one recipient: planned, then what became of it. Written
    conditionally before SES is called, so a retry never sends a second copy."""

    user_id: str
    campaign_id: str
    n: int
    email: str
    status: str  # SendStatus
    send_at: datetime  # UTC
    local_time: str  # the recipient's local send time, ISO 8601 with its offset
    timezone: str
    attempts: int = 0
    message_id: str | None = None  # SES's id once sent
    sent_at: datetime | None = None
    reason: str | None = None  # why skipped or failed
    leased_until: datetime | None = None
    opened_at: datetime | None = None
    clicked_at: datetime | None = None
    version: int = 1
    updated_at: datetime | None = None  # its last move (claimed, sent, skipped, failed, released)


@dataclass(frozen=True)
class Suppression:
    user_id: str
    email: str
    reason: str  # SuppressionReason
    at: datetime
    campaign_id: str | None = None
    detail: str | None = None  # e.g. the bounce's diagnostic


class StepState:
    """Where one step (an email for the recipients of one time zone) stands; its one-time schedule
    exists exactly while it is `waiting`."""

    WAITING = "waiting"  # its schedule fires at `send_at`
    HELD = "held"  # the campaign is paused: no schedule
    FIRED = "fired"  # the schedule fired: its emails went (or are going) out
    CANCELLED = "cancelled"  # the campaign was cancelled before it fired

    ALL = ("waiting", "held", "fired", "cancelled")
    OPEN = ("waiting", "held")  # not fired yet: moved by a pause, a resume or a cancel


@dataclass(frozen=True)
class CampaignStep:
    """Email `n` of a scheduled campaign for its recipients in one time zone: when it goes out (UTC,
    and as the local time in `timezone`), to how many, and what became of it so far."""

    user_id: str
    campaign_id: str
    n: int
    timezone: str  # IANA
    send_at: datetime  # UTC
    local_time: str  # `send_at` in `timezone`, ISO 8601 with its offset
    recipients: int  # the addresses it goes to (suppressed ones left out)
    created_at: datetime
    updated_at: datetime
    suppressed: int = 0  # addresses of the zone left out when the campaign was scheduled
    state: str = StepState.WAITING
    fired_at: datetime | None = None
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    opened: int = 0
    clicked: int = 0
    version: int = 1
