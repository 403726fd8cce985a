"""One periodic sync run, as the integration_sync function performs it."""

from __future__ import annotations

import logging
from typing import Any

from tidings.core.errors import TidingsError
from tidings.integrations.manager import IntegrationManager
from tidings.store.integrations import Status

logger = logging.getLogger(__name__)


def run_periodic_sync(manager: IntegrationManager, event: dict[str, Any]) -> dict[str, Any]:
    user_id, integration_id = event.get("userId"), event.get("integrationId")
    if not isinstance(user_id, str) or not isinstance(integration_id, str):
        logger.error("a sync event without userId and integrationId: %s", sorted(event))
        return {"status": "ignored", "reason": "malformed event"}
    integration = manager.repo.get(user_id, integration_id)
    if integration is None or not integration.sync_enabled or integration.status == Status.DISCONNECTED:
        # a schedule that outlived its integration's sync (deleted meanwhile): nothing to do
        return {"status": "skipped", "reason": "sync is off"}
    try:
        report = manager.sync(user_id, integration_id, periodic=True)
    except TidingsError as exc:  # rate limited by our own budget, or changed meanwhile
        manager.evaluate(manager.repo.require(user_id, integration_id))
        logger.warning("periodic sync of %s not run: %s", integration_id, exc.code)
        return {"status": "deferred", "reason": exc.code}
    if report.error is not None:
        logger.warning("periodic sync of %s failed: %s", integration_id, report.error.code)
    return {
        "status": "synced" if report.ok else "failed",
        "records": report.records,
        "complete": report.complete,
        "error": report.error.code if report.error else None,
    }
