"""CRM entities: a client as a CRM holds it, and the activities Tidings writes back to the CRM.

No I/O here: the table's layout lives in `tidings.store`, the rules in `tidings.crm`, the vendors'
calls in `tidings.integrations.connectors`. Client data is never stored by Tidings (it stays in the
CRM); an activity is stored until the CRM holds it (`USER#<userId>` / `PENDING_ACTIVITY#<id>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ACTIVITY_TYPES = (
    "email_sent",
    "email_opened",
    "post_published",
    "property_view",
    "call",
    "meeting",
    "note",
    "custom",
)
COMMUNICATION_STYLES = ("formal", "casual")
# Where an activity came from: the API, a post published for a client, a campaign email.
ORIGINS = ("api", "post", "campaign")


class ActivityStatus:
    PENDING = "pending"  # stored, not yet in the CRM (delivery in progress or waiting to retry)
    SYNCED = "synced"  # the CRM holds it (`crm_id` says under which id when the CRM answers one)
    FAILED = "failed"  # given up: a permanent error, or still failing after the retry window

    ALL = ("pending", "synced", "failed")


@dataclass(frozen=True)
class ClientPreferences:
    communication_style: str | None = None  # "formal" | "casual"
    language: str | None = None  # a language tag as the CRM holds it ("en", "es-MX")
    contact_method: str | None = None  # "email" | "phone" | "sms" | ... as the CRM holds it
    timezone: str | None = None  # an IANA zone name


@dataclass(frozen=True)
class HistoryEntry:
    """One recent activity on the client as the CRM reports it (notes, events, tasks)."""

    type: str
    description: str
    at: datetime | None = None


@dataclass(frozen=True)
class CrmRecord:
    """A client (contact, person, lead) read from a CRM.

    `properties` holds every other property the CRM answered, by the CRM's own name, with JSON
    values (numbers stay numbers: formats are chosen from the value's type and name).
    """

    id: str
    provider: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    preferences: ClientPreferences = field(default_factory=ClientPreferences)
    tags: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict)
    history: tuple[HistoryEntry, ...] = ()

    @property
    def full_name(self) -> str | None:
        parts = [p.strip() for p in (self.first_name, self.last_name) if p and p.strip()]
        return " ".join(parts) or None


@dataclass(frozen=True)
class Activity:
    """What happened with a client, as the user (or Tidings itself) reports it."""

    client_id: str
    type: str  # one of ACTIVITY_TYPES
    description: str
    timestamp: datetime
    metadata: Mapping[str, Any] = field(default_factory=dict)  # JSON-able


@dataclass(frozen=True)
class PendingActivity:
    """An activity on its way to one CRM integration, and how its delivery went so far."""

    user_id: str
    activity_id: str  # also the idempotency key sent to (or stored in) the CRM
    integration_id: str
    provider: str
    activity: Activity
    status: str  # ActivityStatus
    created_at: datetime
    updated_at: datetime
    origin: str = "api"
    idempotency_key: str | None = None  # the caller's key, when it gave one
    attempts: int = 0  # delivery attempts made (an attempt includes its in-call retries)
    last_error_code: str | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None  # when a pending activity is due for its next attempt
    crm_id: str | None = None
    synced_at: datetime | None = None
    version: int = 1
    # A delivery holds the activity until then (the stream and the periodic run never deliver it at
    # once); set while a delivery is under way, cleared when it records its outcome. An activity read
    # with a lease that has run out was being written when its delivery stopped: it may be in the CRM.
    leased_until: datetime | None = None
    # When the user last retried it after it failed: the retry window runs from then.
    retried_at: datetime | None = None
    # An earlier try's answer was lost after the request went out (a timeout, a dropped connection):
    # the CRM may hold it. A try that failed for sure (a 503, a refusal) leaves it as it was.
    in_doubt: bool = False

    @property
    def window_start(self) -> datetime:
        """Where the retry window of transient failures starts: creation, or the user's last retry."""
        return self.retried_at or self.created_at

    @property
    def may_be_in_crm(self) -> bool:
        """Whether an earlier delivery may have written it: a try's answer was lost, a delivery
        stopped without recording its outcome, or it failed before and was retried."""
        return self.in_doubt or self.leased_until is not None or self.retried_at is not None
