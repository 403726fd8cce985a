"""The composition root's CRM activity part: the pending activities in the table, the activity log the
CRM routes record through, and the crm_sync function's delivery."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from tidings import wiring as root
from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from tidings.crm.activities import ActivityLog
    from tidings.crm.delivery import ActivityDelivery
    from tidings.store.activities import PendingActivityRepository


@lru_cache(maxsize=1)
def pending_activities() -> PendingActivityRepository:
    from tidings.store.activities import DynamoPendingActivityRepository
    from tidings.store.dynamo import dynamodb_client

    s = get_settings()
    return DynamoPendingActivityRepository(s.table_name, dynamodb_client(), due_shards=s.due_shards)


@lru_cache(maxsize=1)
def activity_writes() -> ThreadPoolExecutor:
    """Writes one call's or one batch's activities side by side (each is one conditional write), as
    many at once as the DynamoDB client keeps connections (botocore's max_pool_connections, 10)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=10, thread_name_prefix="activities")


@lru_cache(maxsize=1)
def activity_log() -> ActivityLog:
    from tidings.crm.activities import ActivityLog

    limit = get_settings().crm_activity_daily_limit
    return ActivityLog(pending_activities(), DEFAULT_CLOCK, daily_limit=limit, pool=activity_writes())


@lru_cache(maxsize=1)
def crm_activity_delivery() -> ActivityDelivery:
    from datetime import timedelta

    from tidings.crm.backoff import Backoff
    from tidings.crm.delivery import ActivityDelivery
    from tidings.crm.retrying import RetryPolicy

    s = get_settings()
    credentials, connectors, monitoring = root.integration_parts()
    return ActivityDelivery(
        activities=pending_activities(),
        directory=root.integration_directory(),
        credentials=credentials,
        connectors=connectors,
        monitoring=monitoring,
        clock=DEFAULT_CLOCK,
        retry_policy=RetryPolicy(max_retries=s.crm_max_retries),
        backoff=Backoff(
            base_seconds=float(s.crm_retry_base_seconds), window=timedelta(days=s.crm_retry_window_days)
        ),
        pool=activity_writes(),
    )
