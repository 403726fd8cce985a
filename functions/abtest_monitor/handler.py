"""Periodic (every 2 hours): evaluates the running A/B tests from their variants' post analytics and
decides those that reached their minimum sample (a winner recorded as an insight, `abtest.completed`
sent to webhooks through the stream)."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.core.triggers import PeriodicRun
    from tidings.wiring import ab_test_monitor

    PeriodicRun.model_validate(event)
    report = ab_test_monitor()
    logger.info("A/B tests checked", extra=report)
    return report
