"""The campaign_events function's use-case. Two kinds of event reach it:

- a DynamoDB stream batch of campaign sends (`{"Records": [{"eventSource": "aws:dynamodb", ...}]}`):
  sends marked sent are remembered by their SES message id, and sent or opened emails are written
  back to the CRM (`tidings.campaigns.sent_emails`); the answer is the partial batch response;
- SES email events (an EventBridge event from `aws.ses`, or SNS notifications carrying the record):
  bounces and complaints suppress addresses, deliveries, opens and clicks are counted
  (`tidings.campaigns.ses_events`); the answer says what was done.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from tidings.campaigns.ses_events import CampaignEmailEvents
from tidings.core.streams import StreamConsumer, dispatch_batch

logger = logging.getLogger(__name__)


def is_stream_batch(event: Mapping[str, Any]) -> bool:
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, Mapping) and r.get("eventSource") == "aws:dynamodb" for r in records)
    )


class CampaignEvents:
    def __init__(self, email_events: CampaignEmailEvents, consumers: Sequence[StreamConsumer]) -> None:
        self.email_events = email_events
        self.consumers = list(consumers)

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        if is_stream_batch(event):
            return dispatch_batch(dict(event), self.consumers)
        outcome = self.email_events.handle(event)
        logger.info("SES events: %s", outcome.as_dict())
        return outcome.as_dict()
