"""The composition root's part for what campaign email leads to: the suppression list, unsubscribe
links, SES events and CRM write-back (the campaign_events function), and campaign stats."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings

if TYPE_CHECKING:
    from tidings.api.campaign_insights import CampaignInsightServices
    from tidings.campaigns.events_function import CampaignEvents
    from tidings.campaigns.stats import CampaignStats
    from tidings.campaigns.suppression import SuppressionService
    from tidings.campaigns.unsubscribe import UnsubscribeLinks
    from tidings.store.campaign_events import CampaignEventRepository
    from tidings.store.suppressions import SuppressionRepository


@lru_cache(maxsize=1)
def suppression_repository() -> SuppressionRepository:
    from tidings.store.dynamo import dynamodb_client
    from tidings.store.suppressions import DynamoSuppressionRepository

    return DynamoSuppressionRepository(get_settings().table_name, dynamodb_client())


@lru_cache(maxsize=1)
def unsubscribe_links() -> UnsubscribeLinks:
    """This deployment's unsubscribe links (the secret is read from Secrets Manager once)."""
    from tidings.campaigns.unsubscribe import default_links

    return default_links()


@lru_cache(maxsize=1)
def suppression_service() -> SuppressionService:
    from tidings.campaigns.suppression import SuppressionService

    return SuppressionService(suppression_repository(), unsubscribe_links, DEFAULT_CLOCK)


@lru_cache(maxsize=1)
def campaign_event_repository() -> CampaignEventRepository:
    from tidings.store.campaign_events import DynamoCampaignEventRepository
    from tidings.store.dynamo import dynamodb_client

    return DynamoCampaignEventRepository(get_settings().table_name, dynamodb_client())


@lru_cache(maxsize=1)
def campaign_stats() -> CampaignStats:
    from tidings.campaigns.stats import CampaignStats
    from tidings.store.campaign_sends import DynamoSendRepository, DynamoStepRepository
    from tidings.store.campaigns import DynamoCampaignRepository
    from tidings.store.dynamo import dynamodb_client

    table, client = get_settings().table_name, dynamodb_client()
    return CampaignStats(
        DynamoCampaignRepository(table, client),
        DynamoStepRepository(table, client),
        DynamoSendRepository(table, client),
        campaign_event_repository(),
    )


@lru_cache(maxsize=1)
def campaign_insight_services() -> CampaignInsightServices:
    from tidings.api.campaign_insights import CampaignInsightServices

    return CampaignInsightServices(suppressions=suppression_service(), stats=campaign_stats())


@lru_cache(maxsize=1)
def campaign_events() -> CampaignEvents:
    """The campaign_events function: SES events (a Send event confirms a send), and the stream of
    campaign sends."""
    from tidings.campaigns.events_function import CampaignEvents
    from tidings.campaigns.sent_emails import SentEmails
    from tidings.campaigns.ses_events import CampaignEmailEvents
    from tidings.store.campaign_sends import DynamoSendRepository
    from tidings.store.campaigns import DynamoCampaignRepository
    from tidings.store.dynamo import dynamodb_client
    from tidings.wiring.crm import crm_settings_service
    from tidings.wiring.crm_delivery import activity_log

    table, client = get_settings().table_name, dynamodb_client()
    events = campaign_event_repository()
    sent = SentEmails(
        events,
        DynamoCampaignRepository(table, client),
        crm_settings_service,
        activity_log,
    )
    email_events = CampaignEmailEvents(
        events, suppression_repository(), DEFAULT_CLOCK, sends=DynamoSendRepository(table, client)
    )
    return CampaignEvents(email_events, [sent])
