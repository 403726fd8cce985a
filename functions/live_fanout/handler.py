"""Live updates: from the table's stream, each change a dashboard shows as it happens (a post published
or failed, a new comment, an approval waiting, an alert or a crisis) goes to the user's open WebSocket
connections; connections that are gone are forgotten."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.wiring.live import live_fanout

    return live_fanout().handle(event)
