"""DynamoDB stream consumer: keeps one EventBridge Scheduler schedule per scheduled post, per pending
task, per integration with periodic sync on and per waiting campaign step.

Reports partial batch failures, so a failing record is retried (and finally sent to the on-failure
destination) without blocking the records after it.
"""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.core.streams import dispatch_batch
    from tidings.core.triggers import StreamBatch
    from tidings.wiring import schedule_keepers

    return dispatch_batch(StreamBatch.model_validate(event).event(), schedule_keepers())
