"""Syncing an integration: on demand (up to 2,000 records, so an API request answers in time) and
periodically (up to 10,000; one EventBridge Scheduler schedule per integration whose sync is on, kept
by the table's stream: `tidings.integrations.schedule_keeper`).

A sync resumes from the integration's cursor (the vendor's own position, or the time of the last
change it saw), stores each record once by its key, and moves the cursor only when it succeeded, so
a failed or interrupted sync is picked up where the last good one ended.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tidings.core.clock import DEFAULT_CLOCK, Clock, parse_iso
from tidings.core.errors import Conflict, TidingsError
from tidings.integrations.connectors.base import CallObserver, ConnectorError
from tidings.integrations.connectors.registry import ConnectorRegistry
from tidings.integrations.credentials import IntegrationCredentials
from tidings.integrations.directory import IntegrationDirectory, record_change
from tidings.integrations.monitoring import IntegrationMonitoring
from tidings.integrations.sync_run import PeriodicSyncEvent
from tidings.models.integrations import Integration, Outcome, Status
from tidings.store.audit import AuditRepository
from tidings.store.synced import SyncedRecordRepository

logger = logging.getLogger(__name__)

ON_DEMAND_MAX_RECORDS = 2_000  # an API request must answer within API Gateway's 30 s
PERIODIC_MAX_RECORDS = 10_000
NOT_SYNCABLE = ("ai", "webhook")


@dataclass(frozen=True)
class SyncReport:
    integration: Integration
    ok: bool
    records: int
    complete: bool
    error: ConnectorError | None


@dataclass(frozen=True)
class _Pulled:
    stored: int
    complete: bool
    cursor: str | None


class IntegrationSyncing:
    def __init__(
        self,
        *,
        directory: IntegrationDirectory,
        credentials: IntegrationCredentials,
        connectors: ConnectorRegistry,
        synced: SyncedRecordRepository,
        monitoring: IntegrationMonitoring,
        audit: AuditRepository,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self.directory = directory
        self.credentials = credentials
        self.connectors = connectors
        self.synced = synced
        self.monitoring = monitoring
        self.audit = audit
        self.clock = clock

    def sync(self, user_id: str, integration_id: str, *, periodic: bool = False) -> SyncReport:
        integration = self.directory.stored(user_id, integration_id)
        _check_syncable(integration)
        self.monitoring.admit(integration)
        since = resume_from(integration)
        limit = PERIODIC_MAX_RECORDS if periodic else ON_DEMAND_MAX_RECORDS

        def pull(observe: CallObserver) -> _Pulled:
            connector = self.connectors.for_integration(integration)
            result = connector.sync(self.credentials.open(integration), since, observe, limit)
            stored = self.synced.upsert(user_id, integration_id, result.records, self.clock.now())
            return _Pulled(stored, result.complete, result.cursor or integration.cursor)

        measured = self.monitoring.measure(integration, pull)
        pulled, error = measured.result, measured.error
        now = self.clock.now()
        outcome = Outcome(
            now,
            error is None,
            error.code if error else None,
            error.message if error else None,
            latency_ms=measured.latency_ms,
            records=pulled.stored if pulled else 0,
            complete=pulled.complete if pulled else None,
        )
        fields: dict[str, Any] = {"last_sync": outcome}
        if pulled is not None:
            fields |= {"last_successful_sync_at": now, "cursor": pulled.cursor}
        updated = self.directory.settle(integration, error=error, **fields)
        self.monitoring.evaluate(updated)
        stored, complete = (pulled.stored, pulled.complete) if pulled else (0, False)
        return SyncReport(updated, error is None, stored, complete, error)

    def set_sync(self, user_id: str, integration_id: str, enabled: bool) -> Integration:
        """Start or stop periodic sync (the stream keeps the schedule in line)."""
        current = self.directory.stored(user_id, integration_id)
        if enabled:
            _check_syncable(current)
        if enabled and current.status == Status.DISCONNECTED:
            raise Conflict(
                "the integration is disconnected; connect it first",
                {"integrationId": integration_id},
                code="integration_disconnected",
            )
        if current.sync_enabled == enabled:
            return current
        saved = self.directory.repo.save(
            replace(current, sync_enabled=enabled, updated_at=self.clock.now()), True
        )
        action = "integration.sync_started" if enabled else "integration.sync_stopped"
        record_change(self.audit, user_id, action, saved, {}, self.clock)
        return saved

    def run_periodic(self, event: PeriodicSyncEvent) -> dict[str, Any]:
        """One run of an integration's schedule: a sync while its sync is on; nothing otherwise."""
        user_id, integration_id = event.user_id, event.integration_id
        integration = self.directory.repo.get(user_id, integration_id)
        if integration is None or not integration.sync_enabled or integration.status == Status.DISCONNECTED:
            # a schedule that outlived its integration's sync (deleted meanwhile): nothing to do
            return {"status": "skipped", "reason": "sync is off"}
        try:
            report = self.sync(user_id, integration_id, periodic=True)
        except TidingsError as exc:  # rate limited by our own budget, or changed meanwhile
            self.monitoring.evaluate(self.directory.repo.require(user_id, integration_id))
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


def _check_syncable(integration: Integration) -> None:
    if integration.type in NOT_SYNCABLE:
        raise Conflict(
            f"{integration.type} integrations have nothing to sync",
            {"integrationId": integration.integration_id},
            code="sync_not_supported",
        )


def resume_from(integration: Integration) -> datetime | None:
    """Where the next sync resumes: the cursor, else the last successful sync."""
    return parse_iso(integration.cursor) if integration.cursor else integration.last_successful_sync_at
