"""A campaign world on in-memory stores for the scheduling and sending tests: campaigns, steps and the
send ledger, suppressions, CRM integrations and their synced contacts, CRM time zones, a FakeClock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from tidings.campaigns.audience import SyncedSegment
from tidings.campaigns.scheduling import CampaignScheduling
from tidings.core.clock import FakeClock
from tidings.integrations.directory import IntegrationDirectory
from tidings.models.campaigns import Campaign, CampaignEmail, CampaignStatus, Recipient, SendWindow
from tidings.store.memory.campaign_sends import (
    InMemorySendRepository,
    InMemoryStepRepository,
    campaign_send_stores,
)
from tidings.store.memory.campaigns import InMemoryCampaignRepository
from tidings.store.memory.integrations import InMemoryIntegrationRepository
from tidings.store.memory.suppressions import InMemorySuppressionRepository
from tidings.store.memory.synced import InMemorySyncedRecordRepository

USER = "agent-7"
NOW = datetime(2027, 3, 8, 12, 0, tzinfo=UTC)  # a Monday; New York springs forward on Sunday the 14th
START = date(2027, 3, 12)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class CrmZones:
    """Clients' CRM preference zones, and who was asked."""

    known: dict[str, str] = field(default_factory=dict)
    asked: list[tuple[list[str], str | None]] = field(default_factory=list)

    def zones(self, user_id: str, client_ids: list[str], integration_id: str | None) -> dict[str, str]:
        self.asked.append((list(client_ids), integration_id))
        return {c: self.known[c] for c in client_ids if c in self.known}


class NoAccounts:
    def get(self, user_id: str, platform: str) -> None:
        return None

    def list(self, user_id: str) -> list[Any]:
        return []


@dataclass
class World:
    campaigns: InMemoryCampaignRepository
    steps: InMemoryStepRepository
    sends: InMemorySendRepository
    suppressions: InMemorySuppressionRepository
    integrations: InMemoryIntegrationRepository
    synced: InMemorySyncedRecordRepository
    zones: CrmZones
    clock: FakeClock
    scheduling: CampaignScheduling


def world(max_steps: int = 1_000) -> World:
    campaigns, suppressions = InMemoryCampaignRepository(), InMemorySuppressionRepository()
    steps, sends = campaign_send_stores()
    integrations, synced = InMemoryIntegrationRepository(), InMemorySyncedRecordRepository()
    zones, clock = CrmZones(), FakeClock(NOW)
    segments = SyncedSegment(IntegrationDirectory(integrations, NoAccounts()), synced)  # type: ignore[arg-type]
    scheduling = CampaignScheduling(
        campaigns, steps, sends, suppressions, segments, zones, clock, max_steps=max_steps
    )
    return World(campaigns, steps, sends, suppressions, integrations, synced, zones, clock, scheduling)


def campaign(w: World, delays: tuple[int, ...] = (0, 3), **fields: Any) -> Campaign:
    emails = tuple(
        CampaignEmail(
            n=n, role="value", subject=f"Email {n}", preheader="", text="t", html="<p>t</p>", delay=d
        )
        for n, d in enumerate(delays, 1)
    )
    made = Campaign(
        user_id=USER,
        campaign_id=fields.pop("campaign_id", "cmp-1"),
        name="Spring",
        template="nurture",
        status=CampaignStatus.DRAFT,
        emails=emails,
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )
    return w.campaigns.create(made, limit=10)


def with_recipients(w: World, *recipients: Recipient, campaign_id: str = "cmp-1") -> None:
    w.campaigns.put_recipients(USER, campaign_id, list(recipients))


def nine(timezone: str = "Europe/London", local: bool = True, start: date = START) -> SendWindow:
    return SendWindow(start_date=start, hour=9, minute=0, timezone=timezone, recipient_local_time=local)
