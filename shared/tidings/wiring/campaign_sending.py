"""The composition root's part for when campaign email goes out: the steps and the send ledger in the
table, the scheduling use-case (pause, resume, cancel), the sends listing the routes call, and the
stream consumer that keeps one schedule per waiting step (in the schedule_sync function)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from tidings import wiring as root
from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings

if TYPE_CHECKING:
    from tidings.api.campaign_sending import CampaignSendingServices
    from tidings.campaigns.scheduling import CampaignScheduling
    from tidings.campaigns.step_keeper import StepScheduleKeeper
    from tidings.store.campaign_sends import SendRepository, StepRepository


@lru_cache(maxsize=1)
def campaign_step_repository() -> StepRepository:
    from tidings.store.campaign_sends import DynamoStepRepository
    from tidings.store.dynamo import dynamodb_client

    return DynamoStepRepository(get_settings().table_name, dynamodb_client())


@lru_cache(maxsize=1)
def campaign_send_repository() -> SendRepository:
    from tidings.store.campaign_sends import DynamoSendRepository
    from tidings.store.dynamo import dynamodb_client

    return DynamoSendRepository(get_settings().table_name, dynamodb_client())


@lru_cache(maxsize=1)
def campaign_scheduling() -> CampaignScheduling:
    from tidings.campaigns.audience import CrmClientZones, SyncedSegment
    from tidings.campaigns.scheduling import CampaignScheduling
    from tidings.store.campaigns import DynamoCampaignRepository
    from tidings.store.dynamo import dynamodb_client
    from tidings.store.suppressions import DynamoSuppressionRepository
    from tidings.store.synced import DynamoSyncedRecordRepository
    from tidings.wiring.crm import client_directory

    table, client = get_settings().table_name, dynamodb_client()
    return CampaignScheduling(
        campaigns=DynamoCampaignRepository(table, client),
        steps=campaign_step_repository(),
        sends=campaign_send_repository(),
        suppressions=DynamoSuppressionRepository(table, client),
        segments=SyncedSegment(root.integration_directory(), DynamoSyncedRecordRepository(table, client)),
        client_zones=CrmClientZones(client_directory()),
        clock=DEFAULT_CLOCK,
    )


@lru_cache(maxsize=1)
def campaign_sending_services() -> CampaignSendingServices:
    from tidings.api.campaign_sending import CampaignSendingServices
    from tidings.campaigns.send_listing import SendListing

    scheduling = campaign_scheduling()
    return CampaignSendingServices(
        scheduling=scheduling,
        listing=SendListing(scheduling.campaigns, campaign_step_repository(), campaign_send_repository()),
    )


@lru_cache(maxsize=1)
def campaign_step_keeper() -> StepScheduleKeeper:
    from tidings.aws.campaign_schedules import CampaignStepScheduleManager
    from tidings.campaigns.step_keeper import StepScheduleKeeper

    return StepScheduleKeeper(CampaignStepScheduleManager(get_settings()), DEFAULT_CLOCK)
