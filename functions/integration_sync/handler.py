"""Periodic integration sync: each integration with sync on has a recurring schedule that invokes this
with {userId, integrationId}; the sync resumes from the integration's cursor, and its alerts are
reconciled afterwards (a failing or stale sync raises one)."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.core.errors import ValidationFailed
    from tidings.integrations.sync_run import PeriodicSyncEvent
    from tidings.wiring import integration_syncing

    try:
        request = PeriodicSyncEvent.parse(event)
    except ValidationFailed as exc:
        # retrying the same event cannot help: say so and end
        logger.error("a sync event without userId and integrationId", extra={"fields": exc.details})
        return {"status": "ignored", "reason": "malformed event"}
    return integration_syncing().run_periodic(request)
