"""Periodic integration sync: each integration with sync on has a recurring schedule that invokes this
with {userId, integrationId}; the sync resumes from the integration's cursor, and its alerts are
reconciled afterwards (a failing or stale sync raises one)."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.integrations.sync_run import run_periodic_sync
    from tidings.wiring import integration_manager

    return run_periodic_sync(integration_manager(), event)
