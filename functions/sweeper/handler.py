"""Periodic: starts due posts that nobody claimed (a lost schedule, an outage), and retries scheduled
tasks whose runner stopped mid-run."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.core.triggers import PeriodicRun
    from tidings.wiring import periodic_sweep

    PeriodicRun.model_validate(event)
    report = periodic_sweep()
    logger.info("sweep finished", extra=report)
    return report
