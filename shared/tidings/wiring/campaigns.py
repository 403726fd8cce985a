"""The composition root's part for email campaigns themselves: the campaign store and the use-case the
campaign routes call (generation with the content package and Bedrock, recommendations from the
user's analytics, previews through CRM personalisation)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from tidings import wiring as root
from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings
from tidings.wiring.campaign_sending import campaign_scheduling, campaign_step_repository

if TYPE_CHECKING:
    from tidings.campaigns.service import CampaignService
    from tidings.models.campaigns import Campaign
    from tidings.store.campaigns import CampaignRepository


@lru_cache(maxsize=1)
def campaign_repository() -> CampaignRepository:
    from tidings.store.campaigns import DynamoCampaignRepository
    from tidings.store.dynamo import dynamodb_client

    return DynamoCampaignRepository(get_settings().table_name, dynamodb_client())


@lru_cache(maxsize=1)
def campaign_service() -> CampaignService:
    import boto3

    from tidings.campaigns.service import CampaignService
    from tidings.store.analytics import DynamoAnalyticsRepository
    from tidings.wiring.crm import personalization

    return CampaignService(
        campaign_repository(),
        get_settings,
        personalization,
        analytics=DynamoAnalyticsRepository(get_settings().table_name),
        bedrock=lru_cache(maxsize=1)(lambda: boto3.client("bedrock-runtime")),
        budgets=root.budget_store(),  # the daily limit of model-written campaigns
        auto_scheduler=_auto_schedule,
        plans=campaign_step_repository(),  # deleted with a cancelled or completed campaign
        clock=DEFAULT_CLOCK,
    )


def _auto_schedule(user_id: str, campaign: Campaign) -> Campaign:
    """`autoSchedule`: the campaign scheduled at once in the default window (campaigns.scheduling)."""
    from tidings.campaigns.scheduling import auto_window

    s = get_settings()
    window = auto_window(DEFAULT_CLOCK.now(), s.campaign_auto_timezone, s.campaign_auto_send_hour)
    return campaign_scheduling().schedule(user_id, campaign.campaign_id, window).campaign
