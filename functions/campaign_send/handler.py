"""Email campaigns: sending, exactly one copy per recipient and email, within the SES send rate.

Two events reach it:

- a campaign step's one-time Scheduler schedule, `{"kind": "campaign_step", "userId", "campaignId",
  "n", "timezone", "version"}`: the step's recipients get their send items (the ledger) and go to the
  campaign send queue, several sends a message;
- a batch of that queue (SQS event source mapping): each send is checked, claimed, rendered and sent
  through SES; what must be tried again is reported as failed (partial batch response) and comes back.
"""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.campaigns.triggers import parse_campaign_event
    from tidings.wiring.campaign_send import campaign_sender

    return campaign_sender().handle(parse_campaign_event(event), context.get_remaining_time_in_millis)
