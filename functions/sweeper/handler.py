"""Periodic: starts due posts that nobody claimed (a lost schedule, an outage)."""

from dataclasses import asdict
from typing import Any

from tidings.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.clock import DEFAULT_CLOCK
    from tidings.config import get_settings
    from tidings.scheduling.sweeper import sweep
    from tidings.wiring import post_repository, publish_starter

    report = sweep(post_repository(), publish_starter(), DEFAULT_CLOCK, get_settings().sweeper_grace_seconds)
    logger.info("sweep finished", extra=asdict(report))
    return asdict(report)
