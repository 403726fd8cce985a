"""The integration use-cases (lifecycle, sync, monitoring) on DynamoDB Local and moto's KMS and
Scheduler, with the real connectors against the local fake vendors and platforms: sealed
credentials, connection tests, syncs that resume, metrics and health, rate limits shared through the
table, alerts raised and resolved, periodic sync schedules kept by the stream, tenancy, and no secret
anywhere it should not be."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from infra.local.fakes.platforms import FakePlatformServer
from infra.local.fakes.vendors import FakeVendorServer
from infra.local.provision import LocalStack
from tidings.aws import names
from tidings.aws.vault import CredentialVault
from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.errors import Conflict, NotFound, TooManyRequests, ValidationFailed
from tidings.integrations.connectors.registry import ConnectorRegistry, crm_and_analytics_connectors
from tidings.integrations.connectors.social import social_connectors
from tidings.integrations.credentials import IntegrationCredentials
from tidings.integrations.directory import IntegrationDirectory
from tidings.integrations.lifecycle import Changes, IntegrationLifecycle
from tidings.integrations.monitoring import IntegrationMonitoring
from tidings.integrations.ratelimits import IntegrationRateLimits
from tidings.integrations.schedule_keeper import IntegrationScheduleKeeper
from tidings.integrations.sync import IntegrationSyncing
from tidings.models.calls import CallRecord
from tidings.publishing.clients import default_http_client
from tidings.publishing.tokens import FreshCredentials
from tidings.store import keys
from tidings.store.accounts import DynamoAccountRepository
from tidings.store.alerts import DynamoAlertRepository
from tidings.store.audit import DynamoAuditRepository
from tidings.store.budgets import DynamoBudgetRepository
from tidings.store.dynamo import serialize
from tidings.store.integrations import DynamoIntegrationRepository, to_item
from tidings.store.metrics import DynamoMetricsRepository
from tidings.store.synced import DynamoSyncedRecordRepository

HUBSPOT_TOKEN = "pat-na1-canary-7a1f-manager-token"
GA4_TOKEN = "ya29.canary-manager-ga4-token"
PAGE, PAGE_TOKEN = "104857600099001", "EAAB-canary-manager-page-token"
PORTAL, PROPERTY = "7300077", "318270001"
CANARIES = (HUBSPOT_TOKEN, GA4_TOKEN, PAGE_TOKEN)
NOW = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def vendors() -> Iterator[FakeVendorServer]:
    server = FakeVendorServer(hold_seconds=2.0, retry_after=7)
    server.start()
    with httpx.Client(base_url=server.url) as own:
        for account in (
            {"provider": "hubspot", "token": HUBSPOT_TOKEN, "portalId": PORTAL},
            {"provider": "ga4", "token": GA4_TOKEN, "propertyId": PROPERTY},
        ):
            assert own.post("/_vendors/accounts", json=account).status_code == 201
    yield server
    server.stop()


@pytest.fixture(scope="module")
def platforms() -> Iterator[FakePlatformServer]:
    with FakePlatformServer() as server:
        server.register_account("facebook", PAGE, PAGE_TOKEN)
        yield server


@dataclass
class World:
    lifecycle: IntegrationLifecycle
    syncing: IntegrationSyncing
    monitoring: IntegrationMonitoring
    accounts: DynamoAccountRepository
    alerts: DynamoAlertRepository
    metrics: DynamoMetricsRepository
    synced: DynamoSyncedRecordRepository
    limits: IntegrationRateLimits
    audit: DynamoAuditRepository
    clock: FakeClock
    stack: LocalStack
    vendors: FakeVendorServer

    def raw(self, user: str, sk: str) -> dict[str, Any]:
        resp = self.stack.client("dynamodb").get_item(
            TableName=self.stack.table_name, Key=serialize({"PK": keys.user_pk(user), "SK": sk})
        )
        return dict(resp.get("Item", {}))


@pytest.fixture
def world(
    local_stack: LocalStack, vendors: FakeVendorServer, platforms: FakePlatformServer
) -> Iterator[World]:
    settings = Settings.from_env(
        {**vendors.client_env(), **platforms.client_env(), "TIDINGS_HTTP_TIMEOUT_SECONDS": "1"}
    )
    clock = FakeClock(NOW)
    ddb = local_stack.client("dynamodb")
    vault = CredentialVault(local_stack.credentials_key_arn, local_stack.client("kms"))
    accounts = DynamoAccountRepository(local_stack.table_name, vault, ddb, clock)
    http = default_http_client(settings)
    connectors = ConnectorRegistry(
        [*social_connectors(http, settings), *crm_and_analytics_connectors(http, settings)]
    )
    table = local_stack.table_name
    repository = DynamoIntegrationRepository(table, ddb)
    directory = IntegrationDirectory(repository, accounts)
    credentials = IntegrationCredentials(
        vault, repository, accounts, FreshCredentials(accounts, None, clock, 600)
    )
    alerts, metrics = DynamoAlertRepository(table, ddb), DynamoMetricsRepository(table, ddb)
    synced, audit = DynamoSyncedRecordRepository(table, ddb), DynamoAuditRepository(table, ddb)
    limits = IntegrationRateLimits(DynamoBudgetRepository(table, ddb))
    monitoring = IntegrationMonitoring(
        directory=directory, metrics=metrics, alerts=alerts, limits=limits, clock=clock
    )
    parts: dict[str, Any] = {
        "directory": directory,
        "credentials": credentials,
        "connectors": connectors,
        "monitoring": monitoring,
        "synced": synced,
        "audit": audit,
        "clock": clock,
    }
    yield World(
        IntegrationLifecycle(**parts),
        IntegrationSyncing(**parts),
        monitoring,
        accounts,
        alerts,
        metrics,
        synced,
        limits,
        audit,
        clock,
        local_stack,
        vendors,
    )
    http.close()


@pytest.fixture
def user() -> str:
    return f"agent-{uuid.uuid4().hex[:8]}"


def _hubspot(world: World, user: str, token: str = HUBSPOT_TOKEN, **extra: Any) -> Any:
    return world.lifecycle.create(
        user,
        name="Harbour CRM",
        kind="crm",
        provider="hubspot",
        credentials={"accessToken": token, **extra},
        sync_frequency="1h",
        alert_email=None,
    )


def _seed_contacts(world: World, count: int, start: datetime) -> None:
    contacts = [
        {
            "firstName": f"Grace{i}",
            "lastName": "Hopper",
            "email": f"grace{i}@harbour.example",
            "updatedAt": (start + timedelta(minutes=i)).isoformat(),
        }
        for i in range(count)
    ]
    with httpx.Client(base_url=world.vendors.url) as own:
        own.delete("/_vendors/contacts", params={"provider": "hubspot"})
        assert (
            own.post("/_vendors/contacts", json={"provider": "hubspot", "contacts": contacts}).status_code
            == 201
        )


def test_credentials_are_sealed_and_only_a_hint_is_kept(world: World, user: str) -> None:
    integration = _hubspot(world, user)

    raw = world.raw(user, keys.integration_sk(integration.integration_id))
    assert HUBSPOT_TOKEN not in json.dumps(raw, default=str)
    assert "cred_ciphertext" in raw
    assert integration.secret_hint == "••••" + HUBSPOT_TOKEN[-4:]
    assert integration.settings == {}
    assert HUBSPOT_TOKEN not in repr(world.lifecycle.for_user(user))
    (entry,) = world.audit.page(user, 10, None)[0]
    assert entry.action == "integration.created"
    assert HUBSPOT_TOKEN not in json.dumps(entry.details)


def test_a_connection_test_goes_through_the_vendor_and_is_measured(world: World, user: str) -> None:
    integration = _hubspot(world, user)

    report = world.lifecycle.test(user, integration.integration_id)

    assert report.ok
    assert report.result is not None
    assert PORTAL in report.result.account_label
    assert report.integration.last_test is not None
    assert report.integration.last_test.ok
    _, health, totals = world.monitoring.health(user, integration.integration_id)
    assert totals.requests >= 1
    assert totals.errors == 0
    assert health.status == "healthy"


def test_wrong_credentials_fail_the_test_and_mark_the_integration(world: World, user: str) -> None:
    integration = _hubspot(world, user, token="pat-na1-not-the-right-token-000")

    report = world.lifecycle.test(user, integration.integration_id)

    assert not report.ok
    assert report.error is not None
    assert report.error.code == "auth_failed"
    assert report.integration.status == "error"
    assert "pat-na1-not-the-right-token-000" not in report.error.message
    _, _, totals = world.monitoring.health(user, integration.integration_id)
    assert totals.errors >= 1


def test_a_sync_stores_each_record_once_and_resumes_from_its_cursor(world: World, user: str) -> None:
    _seed_contacts(world, 130, NOW - timedelta(days=3))
    integration = _hubspot(world, user)

    first = world.syncing.sync(user, integration.integration_id)
    again = world.syncing.sync(user, integration.integration_id)

    assert first.ok
    assert first.records == 130
    assert first.complete
    assert world.synced.count(user, integration.integration_id) == 130
    assert again.ok
    assert again.records <= 1  # only what changed at or after the cursor comes again
    assert world.synced.count(user, integration.integration_id) == 130
    stored = world.lifecycle.get(user, integration.integration_id)
    assert stored.last_successful_sync_at == NOW
    assert stored.cursor is not None


def test_error_rate_alert_is_raised_and_resolved_when_it_clears(world: World, user: str) -> None:
    integration = _hubspot(world, user)
    metrics = world.metrics
    calls = [CallRecord("contacts.list", 200, 120, True)] * 8 + [
        CallRecord("contacts.list", 500, 900, False)
    ] * 2
    metrics.record(user, integration.integration_id, calls, NOW)

    (raised,) = world.monitoring.evaluate(world.lifecycle.get(user, integration.integration_id))
    assert (raised.kind, raised.severity, raised.status) == ("error_rate", "medium", "open")
    _, health, _ = world.monitoring.health(user, integration.integration_id)
    assert health.status != "healthy"

    metrics.record(user, integration.integration_id, [CallRecord("contacts.list", 200, 80, True)] * 40, NOW)
    (resolved,) = world.monitoring.evaluate(world.lifecycle.get(user, integration.integration_id))
    assert (resolved.alert_id, resolved.status, resolved.resolved_by) == (
        raised.alert_id,
        "resolved",
        "tidings",
    )
    assert world.alerts.for_user(user, "open") == []


def test_expiring_tokens_raise_alerts_by_severity_until_renewed(world: World, user: str) -> None:
    integration = _hubspot(world, user, expiresAt=(NOW + timedelta(hours=20)).isoformat())

    (alert,) = world.monitoring.evaluate(integration)
    assert (alert.kind, alert.severity) == ("token_expiring", "high")

    world.clock.advance(timedelta(hours=21))
    changed = world.monitoring.evaluate(world.lifecycle.get(user, integration.integration_id))
    assert {(a.kind, a.severity, a.status) for a in changed} == {
        ("token_expired", "critical", "open"),
        ("token_expiring", "high", "resolved"),  # one condition gave way to the worse one
    }

    renewed = world.lifecycle.update(
        user,
        integration.integration_id,
        Changes(
            credentials={"accessToken": HUBSPOT_TOKEN, "expiresAt": (NOW + timedelta(days=90)).isoformat()}
        ),
    )
    assert {(a.kind, a.status) for a in world.monitoring.evaluate(renewed)} == {("token_expired", "resolved")}


def test_a_manually_resolved_alert_stays_resolved_unless_it_gets_worse(world: World, user: str) -> None:
    integration = _hubspot(world, user, expiresAt=(NOW + timedelta(days=3)).isoformat())
    (alert,) = world.monitoring.evaluate(integration)
    assert alert.severity == "medium"

    world.monitoring.resolve_alert(user, alert.alert_id)
    assert world.monitoring.evaluate(integration) == []
    world.clock.advance(timedelta(days=2, hours=12))  # now within a day of expiry: worse
    (again,) = world.monitoring.evaluate(world.lifecycle.get(user, integration.integration_id))
    assert (again.severity, again.status) == ("high", "open")


def test_stale_periodic_sync_raises_an_alert(world: World, user: str) -> None:
    integration = _hubspot(world, user)
    world.syncing.set_sync(user, integration.integration_id, True)

    world.clock.advance(timedelta(hours=2, minutes=1))
    (stale,) = world.monitoring.evaluate(world.lifecycle.get(user, integration.integration_id))
    assert (stale.kind, stale.severity) == ("stale_sync", "medium")
    _, health, _ = world.monitoring.health(user, integration.integration_id)
    assert {p.name for p in health.parts} >= {"syncFreshness"}
    assert next(p for p in health.parts if p.name == "syncFreshness").score < 0.7
    world.clock.advance(timedelta(hours=1))
    _, later, _ = world.monitoring.health(user, integration.integration_id)
    assert next(p for p in later.parts if p.name == "syncFreshness").score == 0.0


def test_rate_limits_are_shared_and_answer_when_a_call_may_go(world: World, user: str) -> None:
    integration = world.lifecycle.create(
        user,
        name="Site",
        kind="analytics",
        provider="ga4",
        credentials={"accessToken": GA4_TOKEN, "propertyId": PROPERTY},
        sync_frequency=None,
        alert_email=None,
    )
    for _ in range(10):  # GA4: 10 requests a second
        assert world.limits.take(user, integration, "api", NOW).granted

    status = world.monitoring.rate_limit(user, integration.integration_id, "api")
    assert not status.allowed
    assert status.retry_at == NOW + timedelta(seconds=1)
    burst = next(w for w in status.windows if w.limit.window_seconds == 1)
    assert (burst.used, burst.view()["remaining"]) == (10, 0)
    with pytest.raises(TooManyRequests) as caught:
        world.lifecycle.test(user, integration.integration_id)
    assert caught.value.details["retryAfterSeconds"] >= 1

    world.clock.advance(timedelta(seconds=1))
    assert world.monitoring.rate_limit(user, integration.integration_id, "api").allowed
    with pytest.raises(ValidationFailed):
        world.monitoring.rate_limit(user, integration.integration_id, "publish")  # not a social account


def test_a_social_account_is_an_integration_sharing_the_publishing_budget(world: World, user: str) -> None:
    world.accounts.connect(user, "facebook", PAGE, PAGE_TOKEN)

    (listed,) = world.lifecycle.for_user(user)
    assert (listed.integration_id, listed.type, listed.provider) == (
        "social-facebook",
        "social_media",
        "facebook",
    )
    report = world.lifecycle.test(user, "social-facebook")
    assert report.ok, report.error
    status = world.monitoring.rate_limit(user, "social-facebook", "publish")
    assert status.allowed

    world.lifecycle.disconnect(user, "social-facebook")
    assert world.accounts.get(user, "facebook") is None
    with pytest.raises(Conflict):
        world.lifecycle.test(user, "social-facebook")


def test_disconnect_drops_the_secret_and_connect_restores_it(world: World, user: str) -> None:
    integration = _hubspot(world, user)

    world.lifecycle.disconnect(user, integration.integration_id)
    raw = world.raw(user, keys.integration_sk(integration.integration_id))
    assert "cred_ciphertext" not in raw
    with pytest.raises(Conflict) as caught:
        world.lifecycle.test(user, integration.integration_id)
    assert caught.value.code == "integration_disconnected"
    with pytest.raises(ValidationFailed):
        world.lifecycle.connect(user, integration.integration_id, None)

    report = world.lifecycle.connect(user, integration.integration_id, {"accessToken": HUBSPOT_TOKEN})
    assert report.ok
    assert report.integration.status == "connected"


def test_bad_input_is_refused_with_codes(world: World, user: str) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"kind": "crm", "provider": "pipedrive", "credentials": {"accessToken": "x" * 20}},
            "unsupported_platform",
        ),
        ({"kind": "spreadsheet", "provider": "hubspot", "credentials": {}}, "unknown_type"),
        ({"kind": "crm", "provider": "hubspot", "credentials": {}}, "invalid_credentials"),
        (
            {"kind": "crm", "provider": "hubspot", "credentials": {"accessToken": "a", "x": "y"}},
            "invalid_credentials",
        ),
        ({"kind": "crm", "provider": "hubspot", "credentials": {"accessToken": 7}}, "invalid_credentials"),
        (
            {
                "kind": "crm",
                "provider": "hubspot",
                "credentials": {"accessToken": "tok", "expiresAt": "soon"},
            },
            "invalid_credentials",
        ),
        (
            {
                "kind": "crm",
                "provider": "hubspot",
                "credentials": {"accessToken": "tok"},
                "sync_frequency": "1m",
            },
            "invalid_sync_frequency",
        ),
    ]
    for case, code in cases:
        args = {"name": "x", "sync_frequency": None, "alert_email": None} | case
        with pytest.raises(ValidationFailed) as caught:
            world.lifecycle.create(user, **args)
        assert caught.value.code == code, case
    assert world.lifecycle.for_user(user) == []


def test_another_users_integration_is_not_found(world: World, user: str) -> None:
    integration = _hubspot(world, user)
    intruder = "intruder-" + user
    for call in (world.lifecycle.get, world.lifecycle.test, world.syncing.sync, world.lifecycle.delete):
        with pytest.raises(NotFound):
            call(intruder, integration.integration_id)  # type: ignore[operator]
    with pytest.raises(NotFound):
        world.monitoring.rate_limit(intruder, integration.integration_id, "api")


def test_delete_removes_credentials_records_and_open_alerts(world: World, user: str) -> None:
    _seed_contacts(world, 5, NOW - timedelta(days=1))
    integration = _hubspot(world, user, expiresAt=(NOW + timedelta(hours=2)).isoformat())
    world.syncing.sync(user, integration.integration_id)
    assert world.alerts.for_user(user, "open")

    world.lifecycle.delete(user, integration.integration_id)

    assert world.raw(user, keys.integration_sk(integration.integration_id)) == {}
    assert world.synced.count(user, integration.integration_id) == 0
    assert world.alerts.for_user(user, "open") == []


class RecordingSchedules:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def upsert(self, integration: Any) -> None:
        self.calls.append(("upsert", integration.sync_frequency_minutes))

    def delete(self, user_id: str, integration_id: str) -> None:
        self.calls.append(("delete", integration_id))


def _record(new: Any | None, old: Any | None) -> dict[str, Any]:
    images: dict[str, Any] = {}
    if new is not None:
        images["NewImage"] = serialize(to_item(new))
    if old is not None:
        images["OldImage"] = serialize(to_item(old))
    return {"dynamodb": images}


def test_the_stream_keeps_one_schedule_per_synced_integration(world: World, user: str) -> None:
    from dataclasses import replace

    off = _hubspot(world, user)
    on = replace(off, sync_enabled=True)
    faster = replace(on, sync_frequency_minutes=15)
    schedules = RecordingSchedules()
    sync = IntegrationScheduleKeeper(schedules)

    sync.apply(_record(off, None), [])
    assert schedules.calls == []
    sync.apply(_record(on, off), [])
    sync.apply(_record(on, on), [])  # a test or sync outcome changes nothing here
    assert schedules.calls == [("upsert", 60)]
    sync.apply(_record(faster, on), [])
    sync.apply(_record(replace(faster, status="disconnected"), faster), [])
    sync.apply(_record(None, faster), [])
    gone = ("delete", off.integration_id)
    assert schedules.calls == [("upsert", 60), ("upsert", 15), gone, gone]


def test_recurring_schedules_on_eventbridge_scheduler(
    world: World, user: str, local_aws_env: dict[str, str]
) -> None:
    from dataclasses import replace

    from tidings.aws.integrations import IntegrationScheduleManager

    settings = Settings.from_env(local_aws_env)
    scheduler = world.stack.client("scheduler")
    manager = IntegrationScheduleManager(settings, scheduler)
    integration = replace(_hubspot(world, user), sync_enabled=True, sync_frequency_minutes=90)
    name = names.sync_schedule_name(user, integration.integration_id)

    manager.upsert(integration)
    manager.upsert(integration)  # idempotent
    got = scheduler.get_schedule(Name=name, GroupName=settings.schedule_group)
    assert got["ScheduleExpression"] == "rate(90 minutes)"
    assert got["Target"]["Arn"] == settings.integration_sync_arn
    assert json.loads(got["Target"]["Input"]) == {"userId": user, "integrationId": integration.integration_id}

    manager.delete(user, integration.integration_id)
    manager.delete(user, integration.integration_id)
    listed = [s["Name"] for s in scheduler.list_schedules(GroupName=settings.schedule_group)["Schedules"]]
    assert name not in listed


def test_no_secret_reaches_views_errors_or_the_audit(world: World, user: str) -> None:
    from tidings.api.integrations import integration_view

    integration = _hubspot(world, user)
    world.lifecycle.test(user, integration.integration_id)
    world.lifecycle.update(
        user, integration.integration_id, Changes(credentials={"accessToken": HUBSPOT_TOKEN})
    )
    views = json.dumps([integration_view(i).model_dump(mode="json") for i in world.lifecycle.for_user(user)])
    audit = json.dumps([e.details for e in world.audit.page(user, 50, None)[0]])
    for canary in CANARIES:
        assert canary not in views
        assert canary not in audit


class StubSes:
    """Records SendEmail requests; fails the first `failures` of them."""

    def __init__(self, failures: int = 0) -> None:
        self.sent: list[dict[str, Any]] = []
        self.failures = failures

    def send_email(self, **request: Any) -> dict[str, Any]:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("SES throttled")
        self.sent.append(request)
        return {"MessageId": f"m-{len(self.sent)}"}


def _alert_record(world: World, user: str, alert_id: str) -> dict[str, Any]:
    item = world.raw(user, keys.alert_sk(alert_id))
    return {"dynamodb": {"NewImage": item}}


def test_a_raised_alert_is_emailed_once_and_retried_if_ses_fails(world: World, user: str) -> None:
    from tidings.aws.mail import SesMail
    from tidings.integrations.alert_mail import AlertMailer
    from tidings.models.notifications import NotificationAddress
    from tidings.notifications.service import NotificationMail
    from tidings.store.memory.notification_addresses import InMemoryNotificationAddressRepository
    from tidings.webhooks.events import events_from_record

    integration = world.lifecycle.create(
        user,
        name="Harbour CRM",
        kind="crm",
        provider="hubspot",
        credentials={"accessToken": HUBSPOT_TOKEN, "expiresAt": (NOW - timedelta(minutes=1)).isoformat()},
        sync_frequency=None,
        alert_email="ops@harbour.example",
    )
    (alert,) = world.monitoring.evaluate(integration)
    record = _alert_record(world, user, alert.alert_id)
    ses = StubSes(failures=1)
    addresses = InMemoryNotificationAddressRepository()
    addresses.add(NotificationAddress(user, "ops@harbour.example", "pending", NOW), limit=10)
    addresses.confirm(user, "ops@harbour.example", NOW)
    mail = NotificationMail(addresses, SesMail(ses), "alerts@tidings.example", FakeClock(NOW), per_hour=30)
    mailer = AlertMailer(world.alerts, mail)

    events = events_from_record(record)
    with pytest.raises(RuntimeError):
        mailer.handle(record, events)  # the stream retries the record
    assert mailer.handle(record, events) is True
    assert mailer.handle(record, events) is False  # the same raise, read again
    refreshed = {
        "dynamodb": {"NewImage": record["dynamodb"]["NewImage"], "OldImage": record["dynamodb"]["NewImage"]}
    }
    assert mailer.handle(refreshed, events_from_record(refreshed)) is False  # no raise in it

    (sent,) = ses.sent
    assert sent["Destination"] == {"ToAddresses": ["ops@harbour.example"]}
    assert "CRITICAL" in sent["Content"]["Simple"]["Subject"]["Data"]
    assert alert.alert_id in sent["Content"]["Simple"]["Body"]["Text"]["Data"]
    assert HUBSPOT_TOKEN not in json.dumps(sent)


def test_a_periodic_run_syncs_only_while_sync_is_on(world: World, user: str) -> None:
    from tidings.integrations.sync_run import PeriodicSyncEvent

    _seed_contacts(world, 3, NOW - timedelta(hours=5))
    integration = _hubspot(world, user)
    event = PeriodicSyncEvent.parse({"userId": user, "integrationId": integration.integration_id})

    assert world.syncing.run_periodic(event) == {"status": "skipped", "reason": "sync is off"}
    world.syncing.set_sync(user, integration.integration_id, True)
    assert world.syncing.run_periodic(event) == {
        "status": "synced",
        "records": 3,
        "complete": True,
        "error": None,
    }
    with pytest.raises(ValidationFailed) as caught:
        PeriodicSyncEvent.parse({"userId": user})
    assert caught.value.code == "malformed_event"
