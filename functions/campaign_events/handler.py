"""Campaign email events. From the table's stream, sends marked sent are remembered by their SES message
id and written back to the CRM (email_sent, and email_opened on the first open) when the user turned
that on; from SES (an EventBridge rule on the configuration set's events), permanent bounces and
complaints suppress the address, and deliveries, opens and clicks are counted once per send."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.wiring.campaign_events import campaign_events

    return campaign_events().handle(event)
