"""The composition root's part for the campaign_send function: the campaign sender with the table's
campaigns, steps, ledger and suppressions, the send queue, SES, the email renderer (CRM
personalisation) and the unsubscribe links."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from tidings import wiring as root
from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings

if TYPE_CHECKING:
    from tidings.campaigns.sending import CampaignSender

# Ledger writes of one fan-out side by side: as many as the DynamoDB client keeps connections (10).
FANOUT_WORKERS = 10
# Sends an instance has under way at once: with about 50 ms of table and SES round trips a send, 8
# keep up with 100 a second an instance, within the clients' 10 connections.
SEND_WORKERS = 8


def _unsubscribe_url(user_id: str, email: str, campaign_id: str) -> str:
    return root.unsubscribe_links().url(user_id, email, campaign_id)


@lru_cache(maxsize=1)
def campaign_sender() -> CampaignSender:
    """One per function instance: it keeps the instance's pacer (the account's send rate, read once)."""
    from concurrent.futures import ThreadPoolExecutor

    from tidings.aws.campaign_mail import SesCampaignMail
    from tidings.aws.campaign_queue import SqsSendQueue
    from tidings.campaigns.render import EmailRenderer
    from tidings.campaigns.sending import CampaignSender, SenderSettings
    from tidings.store.campaign_sends import DynamoSendRepository, DynamoStepRepository
    from tidings.store.campaigns import DynamoCampaignRepository
    from tidings.store.dynamo import dynamodb_client

    s = get_settings()
    # The send workers and the fan-out pool share this client (in the local runtime, with every
    # poller thread that runs the function), so it has a connection for each of them.
    table, client = s.table_name, dynamodb_client(max_pool_connections=4 * SEND_WORKERS)
    return CampaignSender(
        campaigns=DynamoCampaignRepository(table, client),
        steps=DynamoStepRepository(table, client),
        sends=DynamoSendRepository(table, client),
        suppressions=root.suppression_repository(),
        queue=SqsSendQueue(s.campaign_send_queue_url),
        mail=SesCampaignMail(),
        renderer=EmailRenderer(root.personalization()),
        unsubscribe_url=_unsubscribe_url,
        settings=SenderSettings(
            from_address=s.campaign_from_address,
            configuration_set=s.campaign_configuration_set,
            send_rate=s.campaign_send_rate,
            concurrency=s.campaign_send_concurrency,
            confirm_wait_seconds=s.campaign_send_confirm_seconds,
            send_workers=SEND_WORKERS,
        ),
        clock=DEFAULT_CLOCK,
        pool=ThreadPoolExecutor(max_workers=FANOUT_WORKERS, thread_name_prefix="campaign-fanout"),
    )
