"""The composition root's part for email campaigns themselves: the campaign store and the use-case the
campaign routes call (generation with the content package and Bedrock, recommendations from the
user's analytics, previews through CRM personalisation)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from tidings import wiring as root
from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings

if TYPE_CHECKING:
    from tidings.campaigns.service import CampaignService
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
        clock=DEFAULT_CLOCK,
    )
