"""The campaign use-case on in-memory repositories, with the CRM world of `crm_fakes` (a fake HubSpot
holding client 501), the user's analytics in memory and a Bedrock client that answers as scripted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm_fakes import CrmWorld, FakeCrm, client, crm_world

from tidings.campaigns.service import CampaignService, NewCampaign
from tidings.core.config import Settings
from tidings.crm.personalization import Personalization
from tidings.store.memory.analytics import InMemoryAnalyticsRepository
from tidings.store.memory.budgets import InMemoryBudgetRepository
from tidings.store.memory.campaigns import InMemoryCampaignRepository


@dataclass
class FakeBedrock:
    """A bedrock-runtime client whose Converse answers `reply` (or raises `error`), noting each call."""

    reply: str = ""
    error: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def converse(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        return {"output": {"message": {"content": [{"text": self.reply}]}}, "stopReason": "end_turn"}


@dataclass
class CampaignWorld:
    crm: FakeCrm
    world: CrmWorld
    repository: InMemoryCampaignRepository
    analytics: InMemoryAnalyticsRepository
    bedrock: FakeBedrock
    settings: Settings
    service: CampaignService

    def configure(self, **changes: Any) -> None:
        """Settings as if the environment had these values."""
        self.settings = self.settings.model_copy(update=changes)


def campaign_world(**settings: Any) -> CampaignWorld:
    crm = FakeCrm(clients={"501": client("501")})
    world = crm_world(crm)
    repository = InMemoryCampaignRepository()
    analytics = InMemoryAnalyticsRepository()
    bedrock = FakeBedrock()
    holder: dict[str, CampaignWorld] = {}
    service = CampaignService(
        repository,
        lambda: holder["w"].settings,
        lambda: Personalization(world.clients, world.base.clock),
        analytics=analytics,
        bedrock=lambda: bedrock,
        budgets=InMemoryBudgetRepository(),
        clock=world.base.clock,
    )
    holder["w"] = CampaignWorld(crm, world, repository, analytics, bedrock, Settings(**settings), service)
    return holder["w"]


def listing(**changes: Any) -> NewCampaign:
    """A listing promotion with the details a listing has."""
    fields: dict[str, Any] = {
        "name": "12 Harbour Lane",
        "template": "listing-promotion",
        "details": {
            "address": "12 Harbour Lane",
            "price": 450000,
            "currency": "$",
            "bedrooms": 3,
            "bathrooms": 2,
            "area": 1850,
            "location": "Harbour Point",
            "highlights": ["sea view", "new kitchen"],
            "link": "https://harbour.example/listings/12",
        },
        "brand_voice": {"name": "Harbour Homes", "tagline": "Your coast, your home"},
    }
    return NewCampaign(**(fields | changes))
