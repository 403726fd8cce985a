"""Connectors that answer as scripted and report their calls, and a world that wires the integration
use-cases on the in-memory repositories (integrations, alerts, metrics, synced records, budgets,
connected accounts, audit) with the in-memory secret vault, which binds what it seals to its owner
and subject as the KMS vault does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tidings.core.clock import FakeClock
from tidings.integrations.connectors.base import (
    CallObserver,
    CheckResult,
    ConnectorCredentials,
    ConnectorError,
    SyncResult,
)
from tidings.integrations.connectors.registry import ConnectorRegistry
from tidings.integrations.credentials import IntegrationCredentials
from tidings.integrations.directory import IntegrationDirectory
from tidings.integrations.lifecycle import IntegrationLifecycle
from tidings.integrations.monitoring import IntegrationMonitoring
from tidings.integrations.ratelimits import IntegrationRateLimits
from tidings.integrations.sync import IntegrationSyncing
from tidings.models.calls import CallRecord
from tidings.models.integrations import SyncedRecord
from tidings.store.memory.accounts import InMemoryAccountRepository, InMemorySecretVault
from tidings.store.memory.alerts import InMemoryAlertRepository
from tidings.store.memory.audit import InMemoryAuditRepository
from tidings.store.memory.budgets import InMemoryBudgetRepository
from tidings.store.memory.integrations import InMemoryIntegrationRepository
from tidings.store.memory.metrics import InMemoryMetricsRepository
from tidings.store.memory.synced import InMemorySyncedRecordRepository

NOW = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)
USER = "agent-7"
TOKEN = "pat-na1-unit-canary-0042-token"


@dataclass
class Call:
    """One scripted vendor call: its outcome (None is a 200), reported to the observer."""

    status: int = 200
    latency_ms: float = 120.0


@dataclass
class FakeConnector:
    """A vendor's connector that answers as scripted. `check` makes the calls in `calls` (each
    reported) and then raises `error` if set; `sync` serves `records` oldest change first from `since`,
    at most `page` (or `max_records`) of them, with the latest change seen as its cursor."""

    type: str = "crm"
    provider: str = "hubspot"
    required_settings: tuple[str, ...] = ()
    required_secrets: tuple[str, ...] = ("accessToken",)
    optional_secrets: tuple[str, ...] = ()
    calls: list[Call] = field(default_factory=lambda: [Call()])
    error: ConnectorError | None = None
    records: list[SyncedRecord] = field(default_factory=list)
    page: int = 1000
    during: Callable[[], object] | None = None  # what happens elsewhere while the vendor answers
    seen: list[ConnectorCredentials] = field(default_factory=list)
    since_seen: list[datetime | None] = field(default_factory=list)

    @classmethod
    def social(cls, platform: str) -> FakeConnector:
        """A social platform's connector: the account id as setting, its token as secret."""
        return cls(type="social_media", provider=platform, required_settings=("accountId",))

    def _call(self, operation: str, observe: CallObserver) -> None:
        for call in self.calls:
            observe(CallRecord(operation, call.status, call.latency_ms, call.status < 400))
        if self.during is not None:
            self.during()
        if self.error is not None:
            raise self.error

    def check(self, creds: ConnectorCredentials, observe: CallObserver) -> CheckResult:
        self.seen.append(creds)
        self._call("account.read", observe)
        return CheckResult(account_label=f"{self.provider} account", detail="ok")

    def sync(
        self,
        creds: ConnectorCredentials,
        since: datetime | None,
        observe: CallObserver,
        max_records: int = 10_000,
    ) -> SyncResult:
        self.seen.append(creds)
        self.since_seen.append(since)
        self._call("records.list", observe)
        due = sorted(
            (r for r in self.records if since is None or (r.updated_at and r.updated_at >= since)),
            key=lambda r: (r.updated_at or NOW, r.key),
        )
        taken = due[: min(self.page, max_records)]
        cursor = max((r.updated_at for r in taken if r.updated_at), default=since)
        return SyncResult(
            tuple(taken), complete=len(taken) == len(due), cursor=cursor.isoformat() if cursor else None
        )


def contact(n: int, at: datetime) -> SyncedRecord:
    return SyncedRecord("contact", f"c{n}", {"email": f"person{n}@harbour.example"}, at)


@dataclass
class World:
    lifecycle: IntegrationLifecycle
    syncing: IntegrationSyncing
    monitoring: IntegrationMonitoring
    repository: InMemoryIntegrationRepository
    alerts: InMemoryAlertRepository
    metrics: InMemoryMetricsRepository
    synced: InMemorySyncedRecordRepository
    budgets: InMemoryBudgetRepository
    accounts: InMemoryAccountRepository
    audit: InMemoryAuditRepository
    vault: InMemorySecretVault
    clock: FakeClock

    def actions(self) -> list[str]:
        """The audited actions on the user's integrations, oldest first."""
        entries, _ = self.audit.page(USER, 100, None)
        return [e.action for e in sorted(entries, key=lambda e: e.at) if e.target.startswith("integration:")]


def world(*connectors: Any, renews: bool = False, quota: int = 20) -> World:
    """The three use-cases on in-memory repositories, with these connectors (the fake HubSpot when
    none is given) and at most `quota` integrations a user."""
    clock = FakeClock(NOW)
    repository = InMemoryIntegrationRepository()
    vault, audit = InMemorySecretVault(), InMemoryAuditRepository()
    accounts = InMemoryAccountRepository(vault, audit, clock)
    directory = IntegrationDirectory(repository, accounts)
    credentials = IntegrationCredentials(vault, repository, accounts, accounts)
    alerts, metrics = InMemoryAlertRepository(), InMemoryMetricsRepository()
    synced, budgets = InMemorySyncedRecordRepository(), InMemoryBudgetRepository()
    monitoring = IntegrationMonitoring(
        directory=directory,
        metrics=metrics,
        alerts=alerts,
        limits=IntegrationRateLimits(budgets),
        renews=lambda platform: renews,
        clock=clock,
    )
    registry = ConnectorRegistry(connectors or [FakeConnector()])
    common: dict[str, Any] = {
        "directory": directory,
        "credentials": credentials,
        "connectors": registry,
        "monitoring": monitoring,
        "synced": synced,
        "audit": audit,
        "clock": clock,
    }
    lifecycle = IntegrationLifecycle(**common, quota=quota)
    syncing = IntegrationSyncing(**common)
    return World(
        lifecycle,
        syncing,
        monitoring,
        repository,
        alerts,
        metrics,
        synced,
        budgets,
        accounts,
        audit,
        vault,
        clock,
    )


def hubspot(w: World, token: str = TOKEN, **extra: Any) -> Any:
    return w.lifecycle.create(
        USER,
        name="Harbour CRM",
        kind="crm",
        provider="hubspot",
        credentials={"accessToken": token, **extra},
        sync_frequency="1h",
        alert_email=None,
    )
