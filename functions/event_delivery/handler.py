"""Outgoing webhooks: from the table's stream, each new event goes to the user's subscribed webhooks;
every minute, deliveries whose retry time has come are sent again."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.core.triggers import parse_trigger
    from tidings.wiring import webhook_deliverer

    return webhook_deliverer().handle(parse_trigger(event))
