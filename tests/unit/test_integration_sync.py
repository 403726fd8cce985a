"""Syncing integrations on demand and periodically: records stored once by key, a sync that stops
part-way resumes from its cursor, a failed sync leaves the cursor where the last good one ended."""

from __future__ import annotations

from datetime import timedelta

import pytest
from integration_fakes import NOW, USER, Call, FakeConnector, contact, hubspot, world

from tidings.core.errors import Conflict, ValidationFailed
from tidings.integrations.connectors.base import ConnectorError
from tidings.integrations.sync_run import PeriodicSyncEvent


def test_a_sync_that_stops_part_way_resumes_from_its_cursor_and_stores_each_record_once() -> None:
    records = [contact(n, NOW - timedelta(days=3) + timedelta(minutes=n)) for n in range(5)]
    connector = FakeConnector(records=records, page=3)
    w = world(connector)
    integration = hubspot(w)

    first = w.syncing.sync(USER, integration.integration_id)
    second = w.syncing.sync(USER, integration.integration_id)

    assert (first.ok, first.records, first.complete) == (True, 3, False)
    assert second.ok
    assert second.complete
    assert connector.since_seen == [None, records[2].updated_at]  # resumed where the first stopped
    stored = w.synced.records(USER, integration.integration_id)
    assert sorted(r.key for r in stored) == ["c0", "c1", "c2", "c3", "c4"]
    latest = w.lifecycle.get(USER, integration.integration_id)
    assert latest.last_successful_sync_at == NOW
    assert latest.last_sync is not None
    assert latest.last_sync.records == second.records


def test_a_failed_sync_keeps_the_cursor_of_the_last_good_one() -> None:
    records = [contact(n, NOW - timedelta(hours=5) + timedelta(minutes=n)) for n in range(2)]
    connector = FakeConnector(records=records)
    w = world(connector)
    integration = hubspot(w)
    w.syncing.sync(USER, integration.integration_id)
    good = w.lifecycle.get(USER, integration.integration_id)

    connector.calls, connector.error = [Call(status=503)], ConnectorError("unreachable", "HubSpot is down")
    w.clock.advance(timedelta(minutes=30))
    failed = w.syncing.sync(USER, integration.integration_id)

    assert not failed.ok
    assert (failed.records, failed.complete) == (0, False)
    after = w.lifecycle.get(USER, integration.integration_id)
    assert after.cursor == good.cursor
    assert after.last_successful_sync_at == NOW
    assert after.last_sync is not None
    assert (after.last_sync.ok, after.last_sync.error_code) == (False, "unreachable")

    connector.calls, connector.error = [Call()], None
    w.clock.advance(timedelta(minutes=30))
    w.syncing.sync(USER, integration.integration_id)
    assert connector.since_seen[-1] == records[-1].updated_at


def test_a_disconnect_while_a_sync_runs_is_not_undone_by_its_outcome() -> None:
    connector = FakeConnector(records=[contact(1, NOW - timedelta(hours=1))])
    w = world(connector)
    integration = hubspot(w)
    w.syncing.set_sync(USER, integration.integration_id, True)
    connector.during = lambda: w.lifecycle.disconnect(USER, integration.integration_id)

    report = w.syncing.sync(USER, integration.integration_id)

    assert report.ok
    after = w.lifecycle.get(USER, integration.integration_id)
    assert (after.status, after.sync_enabled) == ("disconnected", False)
    assert after.last_sync is not None
    assert after.last_sync.records == 1


def test_integrations_that_only_connect_have_nothing_to_sync() -> None:
    endpoint = FakeConnector(
        type="webhook", provider="https", required_settings=("url",), required_secrets=()
    )
    w = world(endpoint)
    hook = w.lifecycle.create(
        USER,
        name="Zap",
        kind="webhook",
        provider="https",
        credentials={"url": "https://hooks.example/in"},
        sync_frequency=None,
        alert_email=None,
    )

    for attempt in (
        lambda: w.syncing.sync(USER, hook.integration_id),
        lambda: w.syncing.set_sync(USER, hook.integration_id, True),
    ):
        with pytest.raises(Conflict) as caught:
            attempt()
        assert caught.value.code == "sync_not_supported"


def test_periodic_sync_starts_and_stops_and_is_audited() -> None:
    w = world()
    integration = hubspot(w)

    w.clock.advance(timedelta(seconds=1))
    on = w.syncing.set_sync(USER, integration.integration_id, True)
    again = w.syncing.set_sync(USER, integration.integration_id, True)
    w.clock.advance(timedelta(seconds=1))
    off = w.syncing.set_sync(USER, integration.integration_id, False)

    assert (on.sync_enabled, again.sync_enabled, off.sync_enabled) == (True, True, False)
    assert w.actions() == [
        "integration.created",
        "integration.sync_started",
        "integration.sync_stopped",
    ]
    w.lifecycle.disconnect(USER, integration.integration_id)
    with pytest.raises(Conflict) as caught:
        w.syncing.set_sync(USER, integration.integration_id, True)
    assert caught.value.code == "integration_disconnected"


def test_a_periodic_run_syncs_only_while_sync_is_on() -> None:
    connector = FakeConnector(records=[contact(n, NOW - timedelta(hours=1)) for n in range(3)])
    w = world(connector)
    integration = hubspot(w)
    event = PeriodicSyncEvent.parse({"userId": USER, "integrationId": integration.integration_id})

    assert w.syncing.run_periodic(event) == {"status": "skipped", "reason": "sync is off"}
    assert connector.since_seen == []
    w.syncing.set_sync(USER, integration.integration_id, True)
    assert w.syncing.run_periodic(event) == {
        "status": "synced",
        "records": 3,
        "complete": True,
        "error": None,
    }

    connector.calls, connector.error = [Call(status=401)], ConnectorError("auth_failed", "revoked")
    failed = w.syncing.run_periodic(event)
    assert (failed["status"], failed["error"]) == ("failed", "auth_failed")
    gone = PeriodicSyncEvent.parse({"userId": USER, "integrationId": "int_deleted"})
    assert w.syncing.run_periodic(gone) == {"status": "skipped", "reason": "sync is off"}


def test_a_periodic_run_over_budget_is_deferred_and_still_reconciles_alerts() -> None:
    connector = FakeConnector()
    w = world(connector)
    integration = hubspot(w)
    w.syncing.set_sync(USER, integration.integration_id, True)
    hours = 4 * 3600
    connector.calls = [Call(status=429)]
    connector.error = ConnectorError("rate_limited", "slow down", retry_after=hours)
    w.lifecycle.test(USER, integration.integration_id)  # the vendor's 429 holds the budget for 4 hours
    w.clock.advance(timedelta(hours=3))  # three hours without a sync: stale for an hourly sync

    result = w.syncing.run_periodic(
        PeriodicSyncEvent.parse({"userId": USER, "integrationId": integration.integration_id})
    )

    assert result == {"status": "deferred", "reason": "rate_limited"}
    assert [a.kind for a in w.alerts.for_user(USER, "open")] == ["stale_sync"]


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"userId": USER},
        {"integrationId": "int_1"},
        {"userId": 7, "integrationId": "int_1"},
        {"userId": ""},
    ],
)
def test_a_malformed_sync_event_is_refused_at_the_boundary(event: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        PeriodicSyncEvent.parse(event)

    assert caught.value.code == "malformed_event"
