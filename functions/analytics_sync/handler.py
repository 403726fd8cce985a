"""Analytics: from the table's stream, a published post starts its metrics collection on each
platform; every 15 minutes, the metrics whose collection point has come are read from the platforms
(batched, within read budgets) and the insights of the users whose metrics changed are refreshed."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.core.triggers import parse_trigger
    from tidings.wiring import analytics_sync

    return analytics_sync().handle(parse_trigger(event))
