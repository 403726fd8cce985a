"""CRM sync: activities recorded for a client are written to the user's CRM. From the table's stream,
new activities (and failed ones the user retried) are delivered in batches per CRM, and a published
post written for a client becomes an activity when the user turned that on; every minute, what waits
for a retry or was left behind is delivered from the due index, for up to 7 days."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.core.triggers import parse_trigger
    from tidings.wiring.crm import crm_sync

    return crm_sync().handle(parse_trigger(event))
