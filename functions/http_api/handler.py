"""HTTP API for scheduling: posts, the queue, the optimal time, and the API docs."""

from typing import Any

from tidings.core.observability import correlation_paths, logger


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.api.app import handle
    from tidings.wiring import http_app

    return handle(http_app(), event, context)
