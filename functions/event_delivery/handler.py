"""Outgoing webhooks: from the table's stream, each new event goes to the user's subscribed webhooks;
every minute, deliveries whose retry time has come are sent again."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.wiring import webhook_deliverer

    deliverer = webhook_deliverer()
    if "Records" in event:  # the DynamoDB stream event source mapping
        return deliverer.handle_batch(event)
    report = deliverer.retry_due()  # the periodic schedule
    logger.info("webhook retry pass", extra=report)
    return report
