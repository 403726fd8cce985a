"""Periodic: starts due posts that nobody claimed (a lost schedule, an outage), and retries scheduled
tasks whose runner stopped mid-run."""

from dataclasses import asdict
from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from datetime import timedelta

    from tidings.core.clock import DEFAULT_CLOCK
    from tidings.core.config import get_settings
    from tidings.scheduling.sweeper import sweep
    from tidings.wiring import post_repository, publish_starter, task_service

    settings = get_settings()
    report = asdict(
        sweep(post_repository(), publish_starter(), DEFAULT_CLOCK, settings.sweeper_grace_seconds)
    )
    report["tasks"] = task_service().recover_stale(timedelta(seconds=settings.task_stale_after_seconds))
    logger.info("sweep finished", extra=report)
    return report
