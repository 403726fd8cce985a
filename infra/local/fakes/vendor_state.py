"""What the fake vendor server keeps (credentials, contacts, GA4 report data, pending faults, call
counts) and the path every vendor call takes: counted, then a pending fault, then the credential
check, then the route."""

from __future__ import annotations

import itertools
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from infra.local.fakes.base import ErrorAnswers, FaultKind, Outcome, Reply, Request, with_fault

if TYPE_CHECKING:
    from infra.local.fakes.customcrm import CustomCredential
    from infra.local.fakes.salesforce import SalesforceOrg, SalesforceSession
    from infra.local.fakes.vendors import FakeVendorServer

PROVIDERS = ("hubspot", "followupboss", "ga4", "salesforce", "custom")
CRM_PROVIDERS = ("hubspot", "followupboss", "salesforce", "custom")


@dataclass
class Contact:
    """A contact as the fake keeps it, whatever the vendor (each vendor shows it its own way)."""

    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    stage: str | None
    source: str | None
    tags: list[str]
    created: float
    updated: float
    # Every other property by the vendor's own name (HubSpot properties, Follow Up Boss custom
    # fields, Salesforce fields, a custom CRM's JSON), JSON values.
    properties: dict[str, Any] = field(default_factory=dict)
    kind: str = "contact"  # Salesforce: "Contact" | "Lead"; the others: "contact"


@dataclass
class FubAccount:
    account_id: int
    domain: str
    name: str
    user_id: int
    user_name: str
    user_email: str


@dataclass(frozen=True)
class Ga4Visit:
    """Sessions GA4 recorded for one day that arrived through one tagged link (its utm_source,
    utm_medium, utm_campaign and utm_content) and landed on one page."""

    day: str  # YYYY-MM-DD
    source: str
    medium: str
    campaign: str
    content: str
    landing_page: str
    sessions: int
    engaged_sessions: int
    key_events: float
    revenue: float


@dataclass
class VendorFault:
    kind: FaultKind
    remaining: int
    retry_after: int


@dataclass(frozen=True)
class Received:
    """One record a CRM received and kept (a note, an event, a task, an activity), for `/_received`."""

    provider: str
    kind: str  # "note" | "event" | "task" | "activity" | "association" ...
    key: str  # the CRM's id for it
    at: float
    body: dict[str, Any]


@dataclass
class VendorState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    hubspot_tokens: dict[str, str] = field(default_factory=dict)  # token -> portal id
    fub_keys: dict[str, FubAccount] = field(default_factory=dict)  # API key -> account
    ga4_tokens: dict[str, set[str]] = field(default_factory=dict)  # token -> property ids
    contacts: dict[str, dict[str, Contact]] = field(default_factory=dict)  # provider -> id -> contact
    ga4_days: dict[str, dict[str, dict[str, float]]] = field(
        default_factory=dict
    )  # property -> day -> metrics
    ga4_tokens_used: Counter[str] = field(default_factory=Counter)  # property -> quota tokens used
    ga4_visits: dict[str, list[Ga4Visit]] = field(default_factory=dict)  # property -> tagged visits
    faults: dict[str, list[VendorFault]] = field(default_factory=dict)  # provider -> pending faults
    down_until: dict[str, float] = field(default_factory=dict)  # provider -> end of its outage
    fault_rates: dict[str, list[tuple[FaultKind, float]]] = field(default_factory=dict)  # random faults
    received: list[Received] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    recent: dict[str, deque[float]] = field(default_factory=dict)  # provider -> recent call times
    systems: list[str] = field(default_factory=list)
    # HubSpot: notes by id, note-to-contact links, each portal's own note properties (name ->
    # definition, `hasUniqueValue` among them). Follow Up Boss: notes and events by id.
    hubspot_notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    hubspot_note_links: set[tuple[str, str]] = field(default_factory=set)  # (note id, contact id)
    # (property, lower-cased text value) -> the first note holding it: unique properties' lookups
    hubspot_note_values: dict[tuple[str, str], str] = field(default_factory=dict)
    hubspot_note_properties: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    fub_notes: dict[int, dict[str, Any]] = field(default_factory=dict)
    fub_events: dict[int, dict[str, Any]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    # Salesforce: orgs by refresh token, sessions by access token, Tasks by id, open query cursors.
    salesforce_orgs: dict[str, SalesforceOrg] = field(default_factory=dict)
    salesforce_sessions: dict[str, SalesforceSession] = field(default_factory=dict)
    salesforce_tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    salesforce_cursors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The custom CRM: the credentials it accepts, activities by Tidings' activity id (each a list:
    # a POST without an idempotency key can store one twice), first answers by Idempotency-Key.
    custom_credentials: list[CustomCredential] = field(default_factory=list)
    custom_activities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    custom_answers: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)

    def contacts_of(self, provider: str) -> list[Contact]:
        with self.lock:
            return list(self.contacts.get(provider, {}).values())


def vendor_time(value: Any, default: float) -> float | None:
    """Epoch seconds from ISO 8601 (with a zone) or epoch milliseconds; `default` when absent."""
    if value is None or value == "":
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000.0
    if isinstance(value, str) and value.strip().isdigit():
        return float(value.strip()) / 1000.0
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo else None


@dataclass(frozen=True)
class VendorAnswers(ErrorAnswers):
    """How a vendor answers a server error, a throttle and a refused credential."""

    unauthorized: Callable[[], Reply]


_Who = TypeVar("_Who")


def vendor_call(
    fake: FakeVendorServer,
    req: Request,
    provider: str,
    route: str,
    answers: VendorAnswers,
    who: Callable[[Request], _Who | Reply | None],
    handler: Callable[[FakeVendorServer, Request, _Who], Reply],
) -> tuple[Outcome, int]:
    """One call to a vendor: counted under `route`, then a pending fault of the provider (if any),
    then `who` (the account the credential belongs to, None or an error answer when it is refused),
    then `handler`. Also how many calls the provider had in its rate-limit window."""
    in_window = fake.count(provider, route)
    fault = fake.take_fault(provider)

    def authorized() -> Reply:
        account = who(req)
        if isinstance(account, Reply):
            return account
        if account is None:
            return answers.unauthorized()
        return handler(fake, req, account)

    kind = fault.kind if fault is not None else None
    retry_after = fault.retry_after if fault is not None else 0
    return with_fault(fake, kind, answers, retry_after, authorized), in_window
