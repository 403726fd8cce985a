"""The integration manager: what `/integrations` does.

Create (credentials sealed, settings kept apart), list, read, change, delete; a real connection test
through the provider's connector; connect / disconnect; sync on demand and periodically (the table's
stream keeps one EventBridge Scheduler schedule per integration whose sync is on); health, metrics and
rate limits; and alerts reconciled after every test and sync.

Social media integrations are the connected platform accounts (tidings.accounts): their tokens live in
the account record, so publishing and the manager use one credential store. An account connected
through `POST /accounts` shows up here as `social-<platform>` with default settings.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tidings.core.clock import Clock, iso_ms, parse_iso
from tidings.core.errors import Conflict, NotFound, TooManyRequests, ValidationFailed
from tidings.core.platforms import ACCOUNT_PLATFORMS
from tidings.core.secrets import SecretVault, mask
from tidings.integrations.alerts import Alert, AlertStore, conditions
from tidings.integrations.connectors.base import (
    CheckResult,
    Connector,
    ConnectorCredentials,
    ConnectorError,
)
from tidings.integrations.health import Health, assess
from tidings.integrations.ratelimits import IntegrationRateLimits, RateStatus, retry_after_seconds
from tidings.models.accounts import check_token
from tidings.models.calls import CallRecord
from tidings.store.audit import AuditEntry, AuditRepository
from tidings.store.integrations import (
    SOCIAL_PREFIX,
    TYPES,
    Integration,
    IntegrationRepository,
    Outcome,
    Status,
    social_id,
)
from tidings.store.metrics import MetricsStore, Point, Totals
from tidings.store.synced import SyncedRecords

if TYPE_CHECKING:
    from tidings.publishing.tokens import FreshCredentials
    from tidings.store.accounts import AccountRepository

MIN_SYNC_MINUTES, MAX_SYNC_MINUTES = 5, 7 * 24 * 60
DEFAULT_SYNC_MINUTES = 60
_FREQUENCY = re.compile(r"^(\d{1,5})(m|h|d)$")
_UNITS = {"m": 1, "h": 60, "d": 1440}
MAX_VALUE = 8192
ON_DEMAND_MAX_RECORDS = 2_000  # an API request must answer within API Gateway's 30 s
PERIODIC_MAX_RECORDS = 10_000
NOT_SYNCABLE = ("ai", "webhook")


def parse_frequency(value: str) -> int:
    """`15m`, `1h`, `1d` -> minutes, between 5 minutes and 7 days."""
    match = _FREQUENCY.match(value.strip())
    minutes = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
    if not match or not MIN_SYNC_MINUTES <= minutes <= MAX_SYNC_MINUTES:
        raise ValidationFailed(
            "syncFrequency must be minutes, hours or days such as 15m, 1h or 1d, between 5m and 7d",
            {"field": "syncFrequency", "value": value},
            code="invalid_sync_frequency",
        )
    return minutes


def frequency_text(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


@dataclass(frozen=True)
class TestReport:
    integration: Integration
    ok: bool
    latency_ms: int
    result: CheckResult | None
    error: ConnectorError | None
    alerts: list[Alert]


@dataclass(frozen=True)
class SyncReport:
    integration: Integration
    ok: bool
    records: int
    complete: bool
    error: ConnectorError | None


@dataclass(frozen=True)
class Changes:
    name: str | None = None
    sync_frequency: str | None = None
    alert_email: str | None = None
    clear_alert_email: bool = False
    credentials: Mapping[str, Any] | None = None


class IntegrationManager:
    def __init__(
        self,
        *,
        repository: IntegrationRepository,
        vault: SecretVault,
        accounts: AccountRepository,
        fresh: FreshCredentials,
        connectors: Mapping[tuple[str, str], Connector],
        metrics: MetricsStore,
        alerts: AlertStore,
        limits: IntegrationRateLimits,
        synced: SyncedRecords,
        audit: AuditRepository,
        clock: Clock,
        renews: Callable[[str], bool],
    ) -> None:
        self.repo = repository
        self.vault = vault
        self.accounts = accounts
        self.fresh = fresh
        self.connectors = connectors
        self.metrics = metrics
        self.alerts = alerts
        self.limits = limits
        self.synced = synced
        self.audit = audit
        self.clock = clock
        self.renews = renews

    # -- create, read, change, delete -------------------------------------------------------------

    def providers(self, kind: str) -> list[str]:
        return sorted(p for t, p in self.connectors if t == kind)

    def connector(self, integration: Integration) -> Connector:
        return self.connectors[(integration.type, integration.provider)]

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
        if (kind, provider) not in self.connectors:
            raise ValidationFailed(
                f"unsupported {kind} platform {provider!r}",
                {"field": "platform", "supported": self.providers(kind)},
                code="unsupported_platform",
            )
        minutes = parse_frequency(sync_frequency) if sync_frequency else DEFAULT_SYNC_MINUTES
        now = self.clock.now()
        connector = self.connectors[(kind, provider)]
        settings, secrets, expires_at = self._split(connector, credentials, social=kind == "social_media")
        integration_id = social_id(provider) if kind == "social_media" else "int_" + uuid.uuid4().hex[:20]
        integration = Integration(
            user_id=user_id,
            integration_id=integration_id,
            name=name.strip() or provider,
            type=kind,
            provider=provider,
            status=Status.CONNECTED,
            created_at=now,
            updated_at=now,
            settings=settings,
            secret_hint=mask(next(iter(secrets.values()))) if secrets else None,
            expires_at=expires_at,
            sync_frequency_minutes=minutes,
            alert_email=alert_email,
        )
        if kind == "social_media":
            self._connect_account(user_id, provider, settings, secrets, expires_at)
            self.repo.create(integration, None, replace_existing=True)
        else:
            sealed = self.vault.seal(user_id, _subject(integration_id), secrets) if secrets else None
            self.repo.create(integration, sealed, replace_existing=False)
        self._record(user_id, "integration.created", integration, {"type": kind, "platform": provider})
        return integration

    def _split(
        self, connector: Connector, credentials: Mapping[str, Any], *, social: bool
    ) -> tuple[dict[str, str], dict[str, str], datetime | None]:
        allowed_secrets = set(connector.required_secrets) | set(connector.optional_secrets)
        if social:
            allowed_secrets.add("refreshToken")
        allowed = set(connector.required_settings) | allowed_secrets | {"expiresAt"}
        unknown = sorted(k for k in credentials if k not in allowed)
        missing = sorted(
            k for k in (*connector.required_settings, *connector.required_secrets) if not credentials.get(k)
        )
        if unknown or missing:
            raise ValidationFailed(
                "the credentials do not fit this platform",
                {"field": "credentials", "unknown": unknown, "missing": missing, "accepted": sorted(allowed)},
                code="invalid_credentials",
            )
        settings: dict[str, str] = {}
        secrets: dict[str, str] = {}
        for key, value in credentials.items():
            if key == "expiresAt":
                continue
            if not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE:
                raise ValidationFailed(
                    f"credentials.{key} must be a non-empty string of at most {MAX_VALUE} characters",
                    {"field": f"credentials.{key}"},
                    code="invalid_credentials",
                )
            if key in allowed_secrets:
                check_token(value, f"credentials.{key}")
                secrets[key] = value
            else:
                settings[key] = value.strip()
        expires_at = None
        if credentials.get("expiresAt") is not None:
            raw = credentials["expiresAt"]
            try:
                expires_at = parse_iso(str(raw))
            except ValueError:
                raise ValidationFailed(
                    "credentials.expiresAt must be an ISO 8601 time with an offset",
                    {"field": "credentials.expiresAt"},
                    code="invalid_credentials",
                ) from None
        return settings, secrets, expires_at

    def _connect_account(
        self,
        user_id: str,
        platform: str,
        settings: Mapping[str, str],
        secrets: Mapping[str, str],
        expires_at: datetime | None,
    ) -> None:
        self.accounts.connect(
            user_id,
            platform,
            settings["accountId"],
            secrets["accessToken"],
            refresh_token=secrets.get("refreshToken"),
            expires_at=expires_at,
        )

    def for_user(self, user_id: str) -> list[Integration]:
        stored = {i.integration_id: i for i in self.repo.for_user(user_id)}
        for account in self.accounts.list(user_id):
            sid = social_id(account.platform)
            if sid not in stored:
                stored[sid] = self._default_social(user_id, account.platform)
        return sorted(stored.values(), key=lambda i: (i.type, i.created_at, i.integration_id))

    def get(self, user_id: str, integration_id: str) -> Integration:
        found = self.repo.get(user_id, integration_id)
        if found is not None:
            return found
        platform = integration_id.removeprefix(SOCIAL_PREFIX)
        known = integration_id.startswith(SOCIAL_PREFIX) and platform in ACCOUNT_PLATFORMS
        if known and self.accounts.get(user_id, platform) is not None:
            return self._default_social(user_id, platform)
        raise NotFound("no such integration", {"integrationId": integration_id}, code="integration_not_found")

    def _default_social(self, user_id: str, platform: str) -> Integration:
        account = self.accounts.get(user_id, platform)
        assert account is not None
        return Integration(
            user_id=user_id,
            integration_id=social_id(platform),
            name=platform,
            type="social_media",
            provider=platform,
            status=Status.CONNECTED,
            created_at=account.connected_at,
            updated_at=account.connected_at,
            settings={"accountId": account.account_id},
            secret_hint=account.token_hint,
            expires_at=account.expires_at,
        )

    def _stored(self, user_id: str, integration_id: str) -> Integration:
        """The integration as stored, materialising a social account's default record first."""
        integration = self.get(user_id, integration_id)
        if self.repo.get(user_id, integration_id) is None:
            with contextlib.suppress(Conflict):  # created meanwhile by another request
                self.repo.create(integration, None, replace_existing=False)
            return self.repo.require(user_id, integration_id)
        return integration

    def update(self, user_id: str, integration_id: str, changes: Changes) -> Integration:
        current = self._stored(user_id, integration_id)
        updated = current
        details: dict[str, Any] = {}
        if changes.name is not None:
            updated = replace(updated, name=changes.name.strip() or current.name)
            details["name"] = updated.name
        if changes.sync_frequency is not None:
            updated = replace(updated, sync_frequency_minutes=parse_frequency(changes.sync_frequency))
            details["syncFrequency"] = frequency_text(updated.sync_frequency_minutes)
        if changes.alert_email is not None or changes.clear_alert_email:
            updated = replace(updated, alert_email=None if changes.clear_alert_email else changes.alert_email)
            details["alertEmail"] = updated.alert_email
        sealed: Any = True
        if changes.credentials is not None:
            updated, sealed = self._replace_credentials(updated, changes.credentials)
            details["credentials"] = "replaced"
        updated = replace(updated, updated_at=self.clock.now())
        saved = self.repo.save(updated, sealed)
        self._record(user_id, "integration.updated", saved, details)
        return saved

    def _replace_credentials(
        self, current: Integration, credentials: Mapping[str, Any]
    ) -> tuple[Integration, Any]:
        connector = self.connector(current)
        settings, secrets, expires_at = self._split(connector, credentials, social=current.social)
        updated = replace(
            current,
            settings=settings,
            secret_hint=mask(next(iter(secrets.values()))) if secrets else None,
            expires_at=expires_at,
            status=Status.CONNECTED,
        )
        if current.social:
            self._connect_account(current.user_id, current.provider, settings, secrets, expires_at)
            return updated, None
        sealed = (
            self.vault.seal(current.user_id, _subject(current.integration_id), secrets) if secrets else None
        )
        return updated, sealed

    def delete(self, user_id: str, integration_id: str) -> Integration:
        integration = self.get(user_id, integration_id)
        self.repo.delete(user_id, integration_id)
        if integration.social and self.accounts.get(user_id, integration.provider) is not None:
            self.accounts.disconnect(user_id, integration.provider)
        self.synced.delete_all(user_id, integration_id)
        for alert in self.alerts.for_user(user_id, "open"):
            if alert.integration_id == integration_id:
                self.alerts.resolve(user_id, alert.alert_id, user_id, self.clock.now())
        self._record(user_id, "integration.deleted", integration, {})
        return integration

    # -- connect, disconnect ----------------------------------------------------------------------

    def connect(self, user_id: str, integration_id: str, credentials: Mapping[str, Any] | None) -> TestReport:
        current = self._stored(user_id, integration_id)
        if credentials is not None:
            updated, sealed = self._replace_credentials(current, credentials)
            current = self.repo.save(replace(updated, updated_at=self.clock.now()), sealed)
        elif current.status == Status.DISCONNECTED:
            raise ValidationFailed(
                "the integration has no credentials: send them to connect it",
                {"field": "credentials"},
                code="credentials_required",
            )
        self._record(user_id, "integration.connected", current, {})
        return self.test(user_id, integration_id)

    def disconnect(self, user_id: str, integration_id: str) -> Integration:
        current = self._stored(user_id, integration_id)
        if current.social and self.accounts.get(user_id, current.provider) is not None:
            self.accounts.disconnect(user_id, current.provider)
        updated = replace(
            current,
            status=Status.DISCONNECTED,
            sync_enabled=False,
            secret_hint=None,
            updated_at=self.clock.now(),
        )
        saved = self.repo.save(updated, None)  # the sealed secret is dropped with the record's copy
        self._record(user_id, "integration.disconnected", saved, {})
        return saved

    # -- test and sync ----------------------------------------------------------------------------

    def _credentials(self, integration: Integration) -> ConnectorCredentials:
        if integration.status == Status.DISCONNECTED:
            raise Conflict(
                "the integration is disconnected; connect it first",
                {"integrationId": integration.integration_id},
                code="integration_disconnected",
            )
        if integration.social:
            from tidings.publishing.base import PlatformCallError

            try:
                creds = self.fresh.credentials(integration.user_id, integration.provider)
            except PlatformCallError as exc:
                raise ConnectorError("auth_failed", exc.message) from None
            if creds is None:
                raise ConnectorError("auth_failed", f"no {integration.provider} account is connected")
            return ConnectorCredentials({"accountId": creds.account_id}, {"accessToken": creds.access_token})
        sealed = self.repo.sealed(integration.user_id, integration.integration_id)
        secrets = (
            {
                k: str(v)
                for k, v in self.vault.open(
                    integration.user_id, _subject(integration.integration_id), sealed
                ).items()
            }
            if sealed
            else {}
        )
        return ConnectorCredentials(dict(integration.settings), secrets)

    def _budget(self, integration: Integration) -> None:
        now = self.clock.now()
        reservation = self.limits.take(integration.user_id, integration, "api", now)
        if not reservation.granted:
            retry_at = reservation.available_at
            raise TooManyRequests(
                reservation.reason or "the integration's rate limit is used up",
                {
                    "retryAt": iso_ms(retry_at) if retry_at else None,
                    "retryAfterSeconds": retry_after_seconds(retry_at, now),
                },
                code="rate_limited",
            )

    def _after_vendor_error(self, integration: Integration, error: ConnectorError) -> None:
        if error.code == "rate_limited":
            now = self.clock.now()
            until = now + timedelta(seconds=error.retry_after or 60)
            self.limits.hold(
                integration.user_id, integration, "api", until, f"{integration.provider} said 429", now
            )

    def test(self, user_id: str, integration_id: str) -> TestReport:
        integration = self._stored(user_id, integration_id)
        self._budget(integration)
        calls: list[CallRecord] = []
        started = time.monotonic()
        result: CheckResult | None = None
        error: ConnectorError | None = None
        try:
            result = self.connector(integration).check(self._credentials(integration), calls.append)
        except ConnectorError as exc:
            error = exc
            self._after_vendor_error(integration, exc)
        latency = int((time.monotonic() - started) * 1000)
        now = self.clock.now()
        self.metrics.record(user_id, integration_id, calls, now)
        outcome = Outcome(
            now,
            error is None,
            error.code if error else None,
            error.message if error else None,
            latency_ms=latency,
        )
        updated = self._settle(integration, last_test=outcome, error=error)
        alerts = self.evaluate(updated)
        return TestReport(updated, error is None, latency, result, error, alerts)

    def _settle(
        self, integration: Integration, *, error: ConnectorError | None, **outcomes: Any
    ) -> Integration:
        """Store a test or sync outcome on the latest copy of the integration."""
        for _ in range(5):
            latest = self.repo.require(integration.user_id, integration.integration_id)
            status = latest.status
            if latest.status != Status.DISCONNECTED:
                if error is None:
                    status = Status.CONNECTED
                elif error.code in ("auth_failed", "invalid_settings", "not_found"):
                    status = Status.ERROR
            updated = replace(latest, status=status, **outcomes)
            try:
                return self.repo.save(updated, True)
            except Conflict:
                continue
        raise Conflict(
            "the integration is changing too often to record the outcome; try again",
            {"integrationId": integration.integration_id},
            code="integration_busy",
        )

    def sync(self, user_id: str, integration_id: str, *, periodic: bool = False) -> SyncReport:
        integration = self._stored(user_id, integration_id)
        if integration.type in NOT_SYNCABLE:
            raise Conflict(
                f"{integration.type} integrations have nothing to sync",
                {"integrationId": integration_id},
                code="sync_not_supported",
            )
        self._budget(integration)
        calls: list[CallRecord] = []
        started = time.monotonic()
        since = parse_iso(integration.cursor) if integration.cursor else integration.last_successful_sync_at
        error: ConnectorError | None = None
        stored = 0
        complete = False
        cursor = integration.cursor
        try:
            result = self.connector(integration).sync(
                self._credentials(integration),
                since,
                calls.append,
                PERIODIC_MAX_RECORDS if periodic else ON_DEMAND_MAX_RECORDS,
            )
            stored = self.synced.upsert(user_id, integration_id, result.records, self.clock.now())
            complete = result.complete
            cursor = result.cursor or cursor
        except ConnectorError as exc:
            error = exc
            self._after_vendor_error(integration, exc)
        now = self.clock.now()
        self.metrics.record(user_id, integration_id, calls, now)
        outcome = Outcome(
            now,
            error is None,
            error.code if error else None,
            error.message if error else None,
            latency_ms=int((time.monotonic() - started) * 1000),
            records=stored,
            complete=complete if error is None else None,
        )
        fields: dict[str, Any] = {"last_sync": outcome}
        if error is None:
            fields |= {"last_successful_sync_at": now, "cursor": cursor}
        updated = self._settle(integration, error=error, **fields)
        self.evaluate(updated)
        return SyncReport(updated, error is None, stored, complete, error)

    def set_sync(self, user_id: str, integration_id: str, enabled: bool) -> Integration:
        current = self._stored(user_id, integration_id)
        if enabled and current.type in NOT_SYNCABLE:
            raise Conflict(
                f"{current.type} integrations have nothing to sync",
                {"integrationId": integration_id},
                code="sync_not_supported",
            )
        if enabled and current.status == Status.DISCONNECTED:
            raise Conflict(
                "the integration is disconnected; connect it first",
                {"integrationId": integration_id},
                code="integration_disconnected",
            )
        if current.sync_enabled == enabled:
            return current
        saved = self.repo.save(replace(current, sync_enabled=enabled, updated_at=self.clock.now()), True)
        self._record(
            user_id, "integration.sync_started" if enabled else "integration.sync_stopped", saved, {}
        )
        return saved

    # -- health, metrics, limits, alerts ----------------------------------------------------------

    def _expiry(self, integration: Integration) -> tuple[datetime | None, bool]:
        if integration.social:
            account = self.accounts.get(integration.user_id, integration.provider)
            if account is None:
                return None, False
            return account.expires_at, account.refreshable and self.renews(integration.provider)
        return integration.expires_at, False

    def health(self, user_id: str, integration_id: str) -> tuple[Integration, Health, Totals]:
        integration = self.get(user_id, integration_id)
        now = self.clock.now()
        totals = self.metrics.totals(user_id, integration_id, now - timedelta(hours=24))
        expires_at, renews = self._expiry(integration)
        return integration, assess(integration, totals, expires_at, renews, now), totals

    def metric_series(self, user_id: str, integration_id: str, timeframe: str) -> list[Point]:
        self.get(user_id, integration_id)
        return self.metrics.series(user_id, integration_id, timeframe, self.clock.now())

    def rate_limit(self, user_id: str, integration_id: str, operation: str) -> RateStatus:
        integration = self.get(user_id, integration_id)
        return self.limits.status(user_id, integration, operation, self.clock.now())

    def alerts_for(self, user_id: str, status: str | None) -> list[Alert]:
        return self.alerts.for_user(user_id, status)

    def resolve_alert(self, user_id: str, alert_id: str) -> Alert:
        """Resolved by the user (by hand): not raised again for a day unless it gets worse."""
        return self.alerts.resolve(user_id, alert_id, user_id, self.clock.now())

    def evaluate(self, integration: Integration) -> list[Alert]:
        now = self.clock.now()
        totals = self.metrics.totals(
            integration.user_id, integration.integration_id, now - timedelta(hours=24)
        )
        expires_at, renews = self._expiry(integration)
        found = conditions(integration, totals, expires_at, renews, now)
        return self.alerts.reconcile(integration, found, now, integration.alert_email)

    def _record(self, user_id: str, action: str, integration: Integration, details: dict[str, Any]) -> None:
        self.audit.record(
            user_id,
            AuditEntry(
                at=self.clock.now(),
                actor=user_id,
                action=action,
                target=f"integration:{integration.integration_id}",
                details=details,
            ),
        )


def _subject(integration_id: str) -> str:
    return f"integration:{integration_id}"
