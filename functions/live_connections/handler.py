"""The WebSocket API's $connect, $disconnect and ping routes: a dashboard's live connection is kept for
the user its access token (the `token` query parameter) names, and forgotten when it closes; the page's
keepalive (`{"action": "ping"}` every few minutes, so API Gateway does not close the connection after
10 minutes idle) is answered at once, without reading or writing anything."""

from typing import Any

from tidings.core.observability import logger

PING_ROUTE = "ping"  # infra.topology.LIVE_PING_ROUTE


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    if request.get("eventType") == "MESSAGE":
        # the message reaching API Gateway is what keeps the connection open; the route is one-way,
        # so this answer goes nowhere
        return {"statusCode": 200 if request.get("routeKey") == PING_ROUTE else 400}

    from tidings.core.errors import TidingsError
    from tidings.wiring.live import live_connections

    connection_id = str(request.get("connectionId") or "")
    if not connection_id:
        return {"statusCode": 400}
    if request.get("eventType") == "DISCONNECT":
        live_connections().disconnect(connection_id)
        return {"statusCode": 200}
    token = (event.get("queryStringParameters") or {}).get("token")
    try:
        user_id = live_connections().connect(connection_id, token)
    except TidingsError as exc:
        # API Gateway makes no connection when $connect answers anything but 2xx
        logger.info("live connection refused", extra={"code": exc.code, "reason": exc.message})
        return {"statusCode": exc.status, "body": exc.code}
    logger.info("live connection opened", extra={"user": user_id})
    return {"statusCode": 200}
