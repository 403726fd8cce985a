"""The in-memory integration, alert, metrics and synced-record repositories keep the DynamoDB ones'
contract: every test runs the same calls on both (DynamoDB Local for the table) and expects the same
outcome, down to which writes are refused and how values come back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.core.secrets import SealedSecret
from tidings.models.calls import CallRecord
from tidings.models.integrations import Alert, Integration, SyncedRecord
from tidings.store.alerts import AlertRepository, DynamoAlertRepository
from tidings.store.integrations import DynamoIntegrationRepository, IntegrationRepository
from tidings.store.memory.alerts import InMemoryAlertRepository
from tidings.store.memory.integrations import InMemoryIntegrationRepository
from tidings.store.memory.metrics import InMemoryMetricsRepository
from tidings.store.memory.synced import InMemorySyncedRecordRepository
from tidings.store.metrics import DynamoMetricsRepository, MetricsRepository
from tidings.store.synced import DynamoSyncedRecordRepository

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
SEALED = SealedSecret("arn:aws:kms:us-east-1:000000000000:key/k", b"wrapped", b"n" * 12, b"cipher")
OTHER = SealedSecret("arn:aws:kms:us-east-1:000000000000:key/k", b"wrapped-2", b"m" * 12, b"cipher-2")


table = contract_table


@pytest.fixture
def integrations(table: Table | None) -> IntegrationRepository:
    if table is None:
        return InMemoryIntegrationRepository()
    return DynamoIntegrationRepository(table.name, table.client)


@pytest.fixture
def alerts(table: Table | None) -> AlertRepository:
    if table is None:
        return InMemoryAlertRepository()
    return DynamoAlertRepository(table.name, table.client)


@pytest.fixture
def metrics(table: Table | None) -> MetricsRepository:
    if table is None:
        return InMemoryMetricsRepository()
    return DynamoMetricsRepository(table.name, table.client)


@pytest.fixture
def synced(table: Table | None) -> InMemorySyncedRecordRepository | DynamoSyncedRecordRepository:
    if table is None:
        return InMemorySyncedRecordRepository()
    return DynamoSyncedRecordRepository(table.name, table.client)


@pytest.fixture
def user() -> str:
    return user_id()


def integration(user: str, integration_id: str = "int_1") -> Integration:
    return Integration(
        user_id=user,
        integration_id=integration_id,
        name="Harbour CRM",
        type="crm",
        provider="hubspot",
        status="connected",
        created_at=NOW,
        updated_at=NOW,
        settings={"portal": "7300077"},
        secret_hint="••••oken",
        expires_at=NOW + timedelta(days=30),
    )


def alert(user: str, raised_at: datetime = NOW, severity: str = "medium") -> Alert:
    return Alert(
        user_id=user,
        alert_id="alr_contract",
        integration_id="int_1",
        kind="token_expiring",
        severity=severity,
        status="open",
        message="The token expires within a week.",
        raised_at=raised_at,
        last_seen_at=raised_at,
        details={"expiresAt": "2026-07-05T12:00:00.000Z"},
    )


def test_integration_writes_are_refused_under_the_same_conditions(
    integrations: IntegrationRepository, user: str
) -> None:
    repo, first = integrations, integration(user)

    assert outcome(lambda: repo.create(first, SEALED, replace_existing=False, limit=None)) == "ok"
    assert outcome(lambda: repo.create(first, None, replace_existing=False, limit=None)) == "Conflict"
    saved = repo.save(replace(first, name="Renamed"))
    assert saved.revision == 2
    assert outcome(lambda: repo.save(replace(first, name="Stale"))) == "Conflict"  # read at revision 1
    assert outcome(lambda: repo.save(integration(user, "int_missing"))) == "NotFound"
    assert outcome(lambda: repo.require(user, "int_missing")) == "NotFound"
    assert repo.get(user, "int_1") == saved
    assert outcome(lambda: repo.create(first, None, replace_existing=True, limit=None)) == "ok"
    assert repo.get(user, "int_1") == first


def test_a_save_keeps_drops_or_replaces_the_sealed_secret(
    integrations: IntegrationRepository, user: str
) -> None:
    repo = integrations
    repo.create(integration(user), SEALED, replace_existing=False, limit=None)

    kept = repo.save(repo.require(user, "int_1"), True)
    assert repo.sealed(user, "int_1") == SEALED
    replaced = repo.save(kept, OTHER)
    assert repo.sealed(user, "int_1") == OTHER
    repo.save(replaced, None)
    assert repo.sealed(user, "int_1") is None


def test_integrations_are_listed_per_user_and_deleted_once(
    integrations: IntegrationRepository, user: str
) -> None:
    repo = integrations
    repo.create(integration(user, "int_a"), None, replace_existing=False, limit=None)
    repo.create(integration(user, "int_b"), None, replace_existing=False, limit=None)
    repo.create(integration("other-" + user, "int_c"), None, replace_existing=False, limit=None)

    assert sorted(i.integration_id for i in repo.for_user(user)) == ["int_a", "int_b"]
    deleted = repo.delete(user, "int_a")
    assert deleted is not None
    assert deleted.integration_id == "int_a"
    assert repo.delete(user, "int_a") is None
    assert [i.integration_id for i in repo.for_user(user)] == ["int_b"]


def test_an_alert_is_one_item_written_only_under_its_conditions(alerts: AlertRepository, user: str) -> None:
    repo, raised = alerts, alert(user)

    assert repo.put(raised, integration_name="Harbour", notify_email=None, replacing=None)
    assert not repo.put(raised, integration_name="Harbour", notify_email=None, replacing=None)
    later = NOW + timedelta(minutes=1)
    refreshed = replace(raised, last_seen_at=later, severity="high")
    assert not repo.put(refreshed, integration_name="Harbour", notify_email=None, replacing=later)
    assert repo.put(refreshed, integration_name="Harbour", notify_email=None, replacing=NOW)
    assert repo.get(user, raised.alert_id) == refreshed
    assert repo.for_user(user, "open") == [refreshed]
    assert repo.for_user(user, "resolved") == []

    resolved = repo.resolve(refreshed, "tidings", later)
    assert resolved is not None
    assert (resolved.status, resolved.resolved_at, resolved.resolved_by) == ("resolved", later, "tidings")
    assert repo.resolve(refreshed, "tidings", later) is None  # only while open
    assert repo.get(user, raised.alert_id) == resolved


def test_a_raise_is_emailed_once_and_a_new_raise_drops_the_old_resolution(
    alerts: AlertRepository, user: str
) -> None:
    repo, raised = alerts, alert(user)
    repo.put(raised, integration_name="Harbour", notify_email="ops@harbour.example", replacing=None)
    stamp = "2026-07-01T12:00:00.000Z"

    assert not repo.claim_email(user, raised.alert_id, "2026-07-01T11:00:00.000Z")  # not this raise
    assert repo.claim_email(user, raised.alert_id, stamp)
    assert not repo.claim_email(user, raised.alert_id, stamp)
    repo.release_email(user, raised.alert_id)
    assert repo.claim_email(user, raised.alert_id, stamp)
    refreshed = replace(raised, last_seen_at=NOW + timedelta(minutes=5))
    repo.put(refreshed, integration_name="Harbour", notify_email="ops@harbour.example", replacing=NOW)
    assert not repo.claim_email(user, raised.alert_id, stamp)  # a refresh keeps the claim

    resolved = repo.resolve(refreshed, user, NOW + timedelta(minutes=6))
    assert resolved is not None
    again = alert(user, raised_at=NOW + timedelta(hours=1), severity="high")
    assert repo.put(again, integration_name="Harbour", notify_email=None, replacing=NOW)
    assert repo.get(user, raised.alert_id) == again
    assert repo.claim_email(user, raised.alert_id, "2026-07-01T13:00:00.000Z")


def test_metrics_add_up_by_hour(metrics: MetricsRepository, user: str) -> None:
    ok, failed = CallRecord("contacts.list", 200, 80.0, True), CallRecord("contacts.list", 500, 3000.0, False)

    metrics.record(user, "int_1", [ok, ok, failed], NOW + timedelta(minutes=5))
    metrics.record(user, "int_1", [ok], NOW + timedelta(minutes=50))
    metrics.record(user, "int_1", [failed], NOW + timedelta(hours=1, minutes=1))
    metrics.record(user, "int_1", [], NOW + timedelta(hours=3))
    metrics.record(user, "int_2", [ok], NOW)

    points = metrics.hourly(user, "int_1", NOW - timedelta(hours=1))
    assert [(p.start, p.totals.requests, p.totals.errors) for p in points] == [
        (NOW, 4, 1),
        (NOW + timedelta(hours=1), 1, 1),
    ]
    assert points[0].totals.latency_ms_total == pytest.approx(3240.0)
    assert points[0].totals.histogram[0] == 3  # up to 100 ms
    assert [p.start for p in metrics.hourly(user, "int_1", NOW + timedelta(minutes=59))] == [
        NOW,
        NOW + timedelta(hours=1),
    ]
    assert [p.start for p in metrics.hourly(user, "int_1", NOW + timedelta(hours=1))] == [
        NOW + timedelta(hours=1)
    ]


def test_synced_records_are_kept_once_by_key_and_deleted_per_integration(
    synced: InMemorySyncedRecordRepository | DynamoSyncedRecordRepository, user: str
) -> None:
    first = [SyncedRecord("contact", f"c{n}", {"email": f"p{n}@harbour.example"}, NOW) for n in range(30)]
    changed = [SyncedRecord("contact", "c0", {"email": "new@harbour.example"}, NOW + timedelta(hours=1))]

    assert synced.upsert(user, "int_1", first, NOW) == 30
    assert synced.upsert(user, "int_1", changed, NOW) == 1
    assert synced.upsert(user, "int_2", changed, NOW) == 1
    assert synced.count(user, "int_1") == 30
    synced.delete_all(user, "int_1")
    assert synced.count(user, "int_1") == 0
    assert synced.count(user, "int_2") == 1
