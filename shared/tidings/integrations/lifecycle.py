"""An integration's life: create it (credentials sealed, settings kept apart), read, change and delete
it, connect and disconnect it, and test its connection for real through the provider's connector.
Every change goes to the user's audit trail, never with a secret in it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.config import get_settings
from tidings.core.errors import ValidationFailed
from tidings.core.secrets import SealedSecret
from tidings.integrations.connectors.base import CheckResult, ConnectorError
from tidings.integrations.connectors.registry import ConnectorRegistry
from tidings.integrations.credentials import IntegrationCredentials
from tidings.integrations.directory import IntegrationDirectory, record_change
from tidings.integrations.frequency import DEFAULT_SYNC_MINUTES, frequency_text, parse_frequency
from tidings.integrations.monitoring import IntegrationMonitoring
from tidings.models.integrations import TYPES, Alert, Integration, Outcome, Status, social_id
from tidings.store.audit import AuditRepository
from tidings.store.synced import SyncedRecordRepository


@dataclass(frozen=True)
class TestReport:
    integration: Integration
    ok: bool
    latency_ms: int
    result: CheckResult | None
    error: ConnectorError | None
    alerts: list[Alert]


@dataclass(frozen=True)
class Changes:
    name: str | None = None
    sync_frequency: str | None = None
    alert_email: str | None = None
    clear_alert_email: bool = False
    credentials: Mapping[str, Any] | None = None


def new_integration_id() -> str:
    return "int_" + uuid.uuid4().hex[:20]


class IntegrationLifecycle:
    def __init__(
        self,
        *,
        directory: IntegrationDirectory,
        credentials: IntegrationCredentials,
        connectors: ConnectorRegistry,
        monitoring: IntegrationMonitoring,
        synced: SyncedRecordRepository,
        audit: AuditRepository,
        clock: Clock = DEFAULT_CLOCK,
        new_id: Callable[[], str] = new_integration_id,
        quota: int | None = None,
        require_confirmed: Callable[[str, list[str]], None] | None = None,
    ) -> None:
        self.directory = directory
        self.credentials = credentials
        self.connectors = connectors
        self.monitoring = monitoring
        self.synced = synced
        self.audit = audit
        self.clock = clock
        self.new_id = new_id
        self.quota = get_settings().quota_integrations if quota is None else quota
        # refuses (422 recipient_unconfirmed) an alert address the user has not confirmed
        # (`tidings.notifications`); None: no check (alert e-mail is checked again when sent)
        self.require_confirmed = require_confirmed

    # -- create, read, change, delete -------------------------------------------------------------

    def create(
        self,
        user_id: str,
        *,
        name: str,
        kind: str,
        provider: str,
        credentials: Mapping[str, Any],
        sync_frequency: str | None,
        alert_email: str | None,
    ) -> Integration:
        if kind not in TYPES:
            raise ValidationFailed(
                f"unknown integration type {kind!r}",
                {"field": "type", "supported": list(TYPES)},
                code="unknown_type",
            )
        provider = "twitter" if kind == "social_media" and provider == "x" else provider
        if not self.connectors.serves(kind, provider):
            raise ValidationFailed(
                f"unsupported {kind} platform {provider!r}",
                {"field": "platform", "supported": self.connectors.providers(kind)},
                code="unsupported_platform",
            )
        minutes = parse_frequency(sync_frequency) if sync_frequency else DEFAULT_SYNC_MINUTES
        self._check_alert_email(user_id, alert_email)
        social = kind == "social_media"
        split = self.credentials.split(self.connectors.get(kind, provider), credentials, social=social)
        now = self.clock.now()
        integration = Integration(
            user_id=user_id,
            integration_id=social_id(provider) if social else self.new_id(),
            name=name.strip() or provider,
            type=kind,
            provider=provider,
            status=Status.CONNECTED,
            created_at=now,
            updated_at=now,
            settings=split.settings,
            secret_hint=split.hint,
            expires_at=split.expires_at,
            sync_frequency_minutes=minutes,
            alert_email=alert_email,
        )
        sealed = self.credentials.keep(integration, split)
        # A social integration stands for its account: connecting again replaces it (taking no
        # place in the quota when it was stored already).
        self.directory.repo.create(integration, sealed, replace_existing=social, limit=self.quota)
        self._record(user_id, "integration.created", integration, {"type": kind, "platform": provider})
        return integration

    def _check_alert_email(self, user_id: str, alert_email: str | None) -> None:
        if alert_email is not None and self.require_confirmed is not None:
            self.require_confirmed(user_id, [alert_email])

    def providers(self, kind: str) -> list[str]:
        return self.connectors.providers(kind)

    def for_user(self, user_id: str) -> list[Integration]:
        return self.directory.for_user(user_id)

    def get(self, user_id: str, integration_id: str) -> Integration:
        return self.directory.get(user_id, integration_id)

    def update(self, user_id: str, integration_id: str, changes: Changes) -> Integration:
        current = self.directory.stored(user_id, integration_id)
        updated = current
        details: dict[str, Any] = {}
        if changes.name is not None:
            updated = replace(updated, name=changes.name.strip() or current.name)
            details["name"] = updated.name
        if changes.sync_frequency is not None:
            updated = replace(updated, sync_frequency_minutes=parse_frequency(changes.sync_frequency))
            details["syncFrequency"] = frequency_text(updated.sync_frequency_minutes)
        if changes.alert_email is not None or changes.clear_alert_email:
            self._check_alert_email(user_id, changes.alert_email)
            updated = replace(updated, alert_email=None if changes.clear_alert_email else changes.alert_email)
            details["alertEmail"] = updated.alert_email
        sealed: SealedSecret | bool | None = True  # keep the stored secret unless the credentials change
        if changes.credentials is not None:
            updated, sealed = self._replace_credentials(updated, changes.credentials)
            details["credentials"] = "replaced"
        saved = self.directory.repo.save(replace(updated, updated_at=self.clock.now()), sealed)
        self._record(user_id, "integration.updated", saved, details)
        return saved

    def _replace_credentials(
        self, current: Integration, credentials: Mapping[str, Any]
    ) -> tuple[Integration, SealedSecret | None]:
        connector = self.connectors.for_integration(current)
        split = self.credentials.split(connector, credentials, social=current.social)
        updated = replace(
            current,
            settings=split.settings,
            secret_hint=split.hint,
            expires_at=split.expires_at,
            status=Status.CONNECTED,
        )
        return updated, self.credentials.keep(updated, split)

    def delete(self, user_id: str, integration_id: str) -> Integration:
        """Delete the integration with its credentials, what it synced and its open alerts."""
        integration = self.directory.get(user_id, integration_id)
        self.directory.repo.delete(user_id, integration_id)
        if self.directory.account(integration) is not None:
            self.directory.accounts.disconnect(user_id, integration.provider)
        self.synced.delete_all(user_id, integration_id)
        self.monitoring.close_alerts(user_id, integration_id)
        self._record(user_id, "integration.deleted", integration, {})
        return integration

    # -- connect, disconnect, test ----------------------------------------------------------------

    def connect(self, user_id: str, integration_id: str, credentials: Mapping[str, Any] | None) -> TestReport:
        """Connect with new credentials (or the stored ones, unless it was disconnected), then test."""
        current = self.directory.stored(user_id, integration_id)
        if credentials is not None:
            updated, sealed = self._replace_credentials(current, credentials)
            current = self.directory.repo.save(replace(updated, updated_at=self.clock.now()), sealed)
        elif current.status == Status.DISCONNECTED:
            raise ValidationFailed(
                "the integration has no credentials: send them to connect it",
                {"field": "credentials"},
                code="credentials_required",
            )
        self._record(user_id, "integration.connected", current, {})
        return self.test(user_id, integration_id)

    def disconnect(self, user_id: str, integration_id: str) -> Integration:
        """Drop the credentials and stop syncing; the integration and its history stay."""
        current = self.directory.stored(user_id, integration_id)
        if self.directory.account(current) is not None:
            self.directory.accounts.disconnect(user_id, current.provider)
        updated = replace(
            current,
            status=Status.DISCONNECTED,
            sync_enabled=False,
            secret_hint=None,
            updated_at=self.clock.now(),
        )
        saved = self.directory.repo.save(updated, None)  # the sealed secret goes with the record's copy
        self._record(user_id, "integration.disconnected", saved, {})
        return saved

    def test(self, user_id: str, integration_id: str) -> TestReport:
        """A real call through the provider's API: its outcome is kept on the integration (an
        `auth_failed` marks it `error`), measured, and the alerts reconciled."""
        integration = self.directory.stored(user_id, integration_id)
        self.monitoring.admit(integration)
        connector = self.connectors.for_integration(integration)
        measured = self.monitoring.measure(
            integration, lambda observe: connector.check(self.credentials.open(integration), observe)
        )
        error = measured.error
        outcome = Outcome(
            self.clock.now(),
            error is None,
            error.code if error else None,
            error.message if error else None,
            latency_ms=measured.latency_ms,
        )
        updated = self.directory.settle(integration, error=error, last_test=outcome)
        alerts = self.monitoring.evaluate(updated)
        return TestReport(updated, error is None, measured.latency_ms, measured.result, error, alerts)

    def _record(self, user_id: str, action: str, integration: Integration, details: dict[str, Any]) -> None:
        record_change(self.audit, user_id, action, integration, details, self.clock)
