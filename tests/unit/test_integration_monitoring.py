"""Watching integrations: metrics from the calls tests and syncs make, health, rate-limit refusals
(the integration's own budget and the vendor's 429), alerts raised, refreshed and resolved, and the
e-mail a raise sends; on the in-memory repositories with scripted connectors passed in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from integration_fakes import NOW, TOKEN, USER, Call, FakeConnector, World, hubspot, world
from notification_fakes import confirmed_mail

from tidings.core.errors import NotFound, TooManyRequests
from tidings.integrations.alert_mail import AlertMailer
from tidings.integrations.connectors.base import ConnectorError
from tidings.integrations.lifecycle import Changes
from tidings.models.integrations import Alert, Integration
from tidings.store.alerts import to_item
from tidings.store.dynamo import serialize
from tidings.webhooks.events import events_from_record


def test_every_call_of_a_test_is_counted_in_the_metrics_and_the_health() -> None:
    connector = FakeConnector(calls=[Call(200, 100.0), Call(500, 900.0), Call(200, 300.0)])
    w = world(connector)
    integration = hubspot(w)

    w.lifecycle.test(USER, integration.integration_id)
    w.clock.advance(timedelta(hours=2))
    w.lifecycle.test(USER, integration.integration_id)

    _, health, totals = w.monitoring.health(USER, integration.integration_id)
    assert (totals.requests, totals.errors) == (6, 2)
    assert totals.average_latency_ms == pytest.approx(433.33, abs=0.01)
    error_part = next(p for p in health.parts if p.name == "errorRate")
    assert error_part.score == 0.0  # a third of the calls failed
    assert health.status != "healthy"
    hours = w.monitoring.metric_series(USER, integration.integration_id, "24h")
    assert len(hours) == 24
    busy = [(p.start, p.totals.requests, p.totals.errors) for p in hours if p.totals.requests]
    assert busy == [(NOW, 3, 1), (NOW + timedelta(hours=2), 3, 1)]
    week = w.monitoring.metric_series(USER, integration.integration_id, "7d")
    assert sum(p.totals.requests for p in week) == 6


def test_an_error_rate_alert_is_raised_and_resolves_itself_when_the_calls_recover() -> None:
    connector = FakeConnector(calls=[Call()] * 8 + [Call(500)] * 2)
    w = world(connector)
    integration = hubspot(w)

    raised = w.lifecycle.test(USER, integration.integration_id).alerts

    assert [(a.kind, a.severity, a.status) for a in raised] == [("error_rate", "medium", "open")]
    connector.calls = [Call()] * 40
    resolved = w.lifecycle.test(USER, integration.integration_id).alerts
    assert [(a.alert_id, a.status, a.resolved_by) for a in resolved] == [
        (raised[0].alert_id, "resolved", "tidings")
    ]
    assert w.monitoring.alerts_for(USER, "open") == []


def test_an_expiring_token_raises_alerts_by_severity_until_it_is_renewed() -> None:
    w = world()
    integration = hubspot(w, expiresAt=(NOW + timedelta(hours=20)).isoformat())

    (expiring,) = w.monitoring.evaluate(integration)
    assert (expiring.kind, expiring.severity) == ("token_expiring", "high")
    assert w.monitoring.evaluate(integration) == []  # the same condition again changes nothing

    w.clock.advance(timedelta(hours=21))
    changed = w.monitoring.evaluate(w.lifecycle.get(USER, integration.integration_id))
    assert {(a.kind, a.severity, a.status) for a in changed} == {
        ("token_expired", "critical", "open"),
        ("token_expiring", "high", "resolved"),
    }
    assert [a.kind for a in w.monitoring.alerts_for(USER, "open")] == ["token_expired"]

    renewed = w.lifecycle.update(
        USER,
        integration.integration_id,
        Changes(credentials={"accessToken": TOKEN, "expiresAt": (NOW + timedelta(days=90)).isoformat()}),
    )
    assert {(a.kind, a.status) for a in w.monitoring.evaluate(renewed)} == {("token_expired", "resolved")}


def test_a_token_that_renews_by_itself_raises_no_expiry_alert() -> None:
    for renews, expected in ((True, []), (False, ["token_expiring"])):
        w = world(FakeConnector.social("linkedin"), renews=renews)
        w.accounts.connect(
            USER,
            "linkedin",
            "urn:li:person:abc",
            "AQX-linkedin-token-0000",
            refresh_token="AQX-refresh-0000",
            expires_at=NOW + timedelta(hours=3),
        )

        alerts = w.monitoring.evaluate(w.lifecycle.get(USER, "social-linkedin"))

        assert [a.kind for a in alerts] == expected


def test_a_manually_resolved_alert_stays_resolved_for_a_day_unless_it_gets_worse() -> None:
    w = world()
    integration = hubspot(w, expiresAt=(NOW + timedelta(days=3)).isoformat())
    (alert,) = w.monitoring.evaluate(integration)
    assert alert.severity == "medium"

    resolved = w.monitoring.resolve_alert(USER, alert.alert_id)

    assert (resolved.status, resolved.resolved_by) == ("resolved", USER)
    assert w.monitoring.evaluate(integration) == []
    assert w.monitoring.alerts_for(USER, "open") == []
    w.clock.advance(timedelta(days=2, hours=12))  # now within a day of expiry: worse
    (again,) = w.monitoring.evaluate(w.lifecycle.get(USER, integration.integration_id))
    assert (again.alert_id, again.severity, again.status) == (alert.alert_id, "high", "open")
    with pytest.raises(NotFound) as caught:
        w.monitoring.resolve_alert(USER, "alr_unknown")
    assert caught.value.code == "alert_not_found"


def test_a_manually_resolved_alert_comes_back_within_the_day_when_it_gets_worse() -> None:
    w = world()
    integration = hubspot(w, expiresAt=(NOW + timedelta(days=7, hours=1)).isoformat())
    (alert,) = w.monitoring.evaluate(integration)
    assert alert.severity == "low"
    w.monitoring.resolve_alert(USER, alert.alert_id)

    w.clock.advance(timedelta(hours=2))  # under a week left: medium, two hours after the resolution
    (again,) = w.monitoring.evaluate(integration)

    assert (again.alert_id, again.severity, again.status) == (alert.alert_id, "medium", "open")


def test_a_stale_periodic_sync_raises_an_alert_that_a_good_sync_resolves() -> None:
    w = world()
    integration = hubspot(w)
    w.syncing.set_sync(USER, integration.integration_id, True)

    w.clock.advance(timedelta(hours=2, minutes=1))
    (stale,) = w.monitoring.evaluate(w.lifecycle.get(USER, integration.integration_id))
    assert (stale.kind, stale.severity) == ("stale_sync", "medium")

    w.syncing.sync(USER, integration.integration_id)
    assert w.monitoring.alerts_for(USER, "open") == []


def test_an_integration_over_its_own_budget_is_refused_until_the_window_ends() -> None:
    ga4 = FakeConnector(type="analytics", provider="ga4", required_settings=("propertyId",))
    w = world(ga4)
    integration = w.lifecycle.create(
        USER,
        name="Site",
        kind="analytics",
        provider="ga4",
        credentials={"accessToken": TOKEN, "propertyId": "318270001"},
        sync_frequency=None,
        alert_email=None,
    )
    for _ in range(10):  # GA4 allows 10 requests a second
        w.lifecycle.test(USER, integration.integration_id)

    with pytest.raises(TooManyRequests) as caught:
        w.lifecycle.test(USER, integration.integration_id)

    assert caught.value.code == "rate_limited"
    assert caught.value.details["retryAfterSeconds"] == 1
    assert len(ga4.seen) == 10  # the refused test never reached the vendor
    status = w.monitoring.rate_limit(USER, integration.integration_id, "api")
    assert (status.allowed, status.retry_at, status.source) == (
        False,
        NOW + timedelta(seconds=1),
        "documented",
    )
    w.clock.advance(timedelta(seconds=1))
    assert w.monitoring.rate_limit(USER, integration.integration_id, "api").allowed
    assert w.lifecycle.test(USER, integration.integration_id).ok


def test_a_vendors_429_holds_the_integration_until_the_time_it_gave() -> None:
    connector = FakeConnector(
        calls=[Call(429)], error=ConnectorError("rate_limited", "slow down", retry_after=30)
    )
    w = world(connector)
    integration = hubspot(w)

    first = w.lifecycle.test(USER, integration.integration_id)
    with pytest.raises(TooManyRequests) as caught:
        w.syncing.sync(USER, integration.integration_id)

    assert first.error is not None
    assert first.error.code == "rate_limited"
    assert caught.value.details["retryAfterSeconds"] == 30
    assert len(connector.seen) == 1
    held = w.monitoring.rate_limit(USER, integration.integration_id, "api")
    assert (held.allowed, held.reason) == (False, "hubspot said 429")
    connector.calls, connector.error = [Call()], None
    w.clock.advance(timedelta(seconds=30))
    assert w.syncing.sync(USER, integration.integration_id).ok


class FakeMail:
    def __init__(self, failures: int = 0) -> None:
        self.sent: list[tuple[str, list[str], str, str]] = []
        self.failures = failures

    def send_text(self, sender: str, to: Any, subject: str, body: str) -> str:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("SES throttled")
        self.sent.append((sender, list(to), subject, body))
        return f"m-{len(self.sent)}"


def expired_token_alert(w: World, alert_email: str) -> tuple[Integration, Alert, dict[str, Any]]:
    """A CRM integration whose token has expired, the alert that raises, and its stream record."""
    integration = w.lifecycle.create(
        USER,
        name="Harbour CRM",
        kind="crm",
        provider="hubspot",
        credentials={"accessToken": TOKEN, "expiresAt": (NOW - timedelta(minutes=1)).isoformat()},
        sync_frequency=None,
        alert_email=alert_email,
    )
    (alert,) = w.monitoring.evaluate(integration)
    record = {"dynamodb": {"NewImage": serialize(to_item(alert, integration.name, integration.alert_email))}}
    return integration, alert, record


def test_a_raised_alert_is_emailed_once_even_when_its_record_comes_again_or_sending_fails() -> None:
    w = world()
    integration, alert, record = expired_token_alert(w, "ops@harbour.example")
    events = events_from_record(record)
    mail = FakeMail(failures=1)
    mailer = AlertMailer(w.alerts, confirmed_mail(mail, w.clock, USER, "ops@harbour.example"))

    with pytest.raises(RuntimeError):
        mailer.handle(record, events)  # the stream retries the record
    assert mailer.handle(record, events) is True
    assert mailer.handle(record, events) is False  # the same raise, read again
    w.clock.advance(timedelta(minutes=5))
    w.monitoring.evaluate(integration)  # the alert is refreshed, not raised again
    assert mailer.handle(record, events) is False

    ((sender, to, subject, body),) = mail.sent
    assert (sender, to) == ("alerts@tidings.example", ["ops@harbour.example"])
    assert "CRITICAL" in subject
    assert alert.alert_id in body
    assert TOKEN not in subject + body


def test_an_alert_to_an_address_not_confirmed_is_skipped_and_not_retried() -> None:
    w = world()
    _, _, record = expired_token_alert(w, "stranger@elsewhere.example")
    mail = FakeMail()
    mailer = AlertMailer(w.alerts, confirmed_mail(mail, w.clock, USER, "ops@harbour.example"))

    assert mailer.handle(record, events_from_record(record)) is False
    assert mailer.handle(record, events_from_record(record)) is False
    assert mail.sent == []
