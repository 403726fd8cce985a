"""The integration use-cases on the in-memory repositories (integrations, connected accounts, the
secret vault, metrics, alerts, budgets, synced records, audit) around real connectors: what the
tests that run a connector against a fake vendor over HTTP build their use-case on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tidings.core.clock import FakeClock
from tidings.integrations.connectors.base import Connector
from tidings.integrations.connectors.registry import ConnectorRegistry
from tidings.integrations.credentials import IntegrationCredentials
from tidings.integrations.directory import IntegrationDirectory
from tidings.integrations.lifecycle import IntegrationLifecycle
from tidings.integrations.monitoring import IntegrationMonitoring
from tidings.integrations.ratelimits import IntegrationRateLimits
from tidings.store.memory.accounts import InMemoryAccountRepository, InMemorySecretVault
from tidings.store.memory.alerts import InMemoryAlertRepository
from tidings.store.memory.audit import InMemoryAuditRepository
from tidings.store.memory.budgets import InMemoryBudgetRepository
from tidings.store.memory.integrations import InMemoryIntegrationRepository
from tidings.store.memory.metrics import InMemoryMetricsRepository
from tidings.store.memory.synced import InMemorySyncedRecordRepository


@dataclass(frozen=True)
class MemoryIntegrations:
    vault: InMemorySecretVault
    directory: IntegrationDirectory
    credentials: IntegrationCredentials
    connectors: ConnectorRegistry
    metrics: InMemoryMetricsRepository
    monitoring: IntegrationMonitoring
    lifecycle: IntegrationLifecycle


def memory_integrations(connectors: Iterable[Connector], clock: FakeClock) -> MemoryIntegrations:
    vault, audit = InMemorySecretVault(), InMemoryAuditRepository()
    accounts = InMemoryAccountRepository(vault, audit, clock)
    repository = InMemoryIntegrationRepository()
    directory = IntegrationDirectory(repository, accounts)
    credentials = IntegrationCredentials(vault, repository, accounts, accounts)
    registry = ConnectorRegistry(connectors)
    metrics = InMemoryMetricsRepository()
    monitoring = IntegrationMonitoring(
        directory=directory,
        metrics=metrics,
        alerts=InMemoryAlertRepository(),
        limits=IntegrationRateLimits(InMemoryBudgetRepository()),
        clock=clock,
    )
    lifecycle = IntegrationLifecycle(
        directory=directory,
        credentials=credentials,
        connectors=registry,
        monitoring=monitoring,
        synced=InMemorySyncedRecordRepository(),
        audit=audit,
        clock=clock,
    )
    return MemoryIntegrations(vault, directory, credentials, registry, metrics, monitoring, lifecycle)
