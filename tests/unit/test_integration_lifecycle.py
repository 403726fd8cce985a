"""Creating, changing, connecting, testing and deleting integrations, on the in-memory repositories
with the in-memory vault and accounts and scripted connectors passed in."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from integration_fakes import NOW, TOKEN, USER, Call, FakeConnector, contact, hubspot, world

from tidings.core.errors import Conflict, NotFound, ValidationFailed
from tidings.core.secrets import CredentialError
from tidings.integrations.connectors.base import ConnectorError
from tidings.integrations.credentials import subject
from tidings.integrations.lifecycle import Changes


def test_created_credentials_are_sealed_for_the_user_and_the_integration_only() -> None:
    w = world()

    integration = hubspot(w)

    sealed = w.repository.sealed(USER, integration.integration_id)
    assert sealed is not None
    assert TOKEN.encode() not in sealed.ciphertext
    assert TOKEN not in repr(integration)
    assert integration.settings == {}
    assert integration.secret_hint == "••••" + TOKEN[-4:]
    opened = w.vault.open(USER, subject(integration.integration_id), sealed)
    assert opened == {"accessToken": TOKEN}
    with pytest.raises(CredentialError):
        w.vault.open("intruder", subject(integration.integration_id), sealed)
    assert w.actions() == ["integration.created"]
    entries, _ = w.audit.page(USER, 100, None)
    assert TOKEN not in json.dumps([e.details for e in entries])


def test_a_test_reaches_the_vendor_with_the_opened_token_and_keeps_the_outcome() -> None:
    connector = FakeConnector()
    w = world(connector)
    integration = hubspot(w)

    report = w.lifecycle.test(USER, integration.integration_id)

    assert report.ok
    assert report.error is None
    assert report.result is not None
    assert report.result.account_label == "hubspot account"
    assert [c.secrets for c in connector.seen] == [{"accessToken": TOKEN}]
    stored = w.lifecycle.get(USER, integration.integration_id)
    assert stored.status == "connected"
    assert stored.last_test is not None
    assert stored.last_test.ok


def test_refused_credentials_fail_the_test_and_mark_the_integration_in_error() -> None:
    connector = FakeConnector(
        calls=[Call(status=401)], error=ConnectorError("auth_failed", "HubSpot said 401", status=401)
    )
    w = world(connector)
    integration = hubspot(w)

    report = w.lifecycle.test(USER, integration.integration_id)

    assert not report.ok
    assert report.error is not None
    assert report.error.code == "auth_failed"
    stored = w.lifecycle.get(USER, integration.integration_id)
    assert stored.status == "error"
    assert stored.last_test is not None
    assert (stored.last_test.ok, stored.last_test.error_code) == (False, "auth_failed")

    connector.calls, connector.error = [Call()], None  # the user fixed it at HubSpot's end
    assert w.lifecycle.test(USER, integration.integration_id).ok
    assert w.lifecycle.get(USER, integration.integration_id).status == "connected"


def test_an_unreachable_vendor_fails_the_test_but_keeps_the_integration_connected() -> None:
    w = world(FakeConnector(calls=[Call(status=503)], error=ConnectorError("unreachable", "HubSpot is down")))
    integration = hubspot(w)

    report = w.lifecycle.test(USER, integration.integration_id)

    assert (report.ok, report.error.code if report.error else None) == (False, "unreachable")
    assert w.lifecycle.get(USER, integration.integration_id).status == "connected"


@pytest.mark.parametrize(
    ("kind", "provider", "credentials", "code"),
    [
        ("spreadsheet", "hubspot", {"accessToken": TOKEN}, "unknown_type"),
        ("crm", "salesforce", {"accessToken": TOKEN}, "unsupported_platform"),
        ("crm", "hubspot", {}, "invalid_credentials"),
        ("crm", "hubspot", {"accessToken": TOKEN, "portal": "7"}, "invalid_credentials"),
        ("crm", "hubspot", {"accessToken": 7}, "invalid_credentials"),
        ("crm", "hubspot", {"accessToken": TOKEN, "expiresAt": "soon"}, "invalid_credentials"),
    ],
)
def test_bad_input_is_refused_with_a_code_and_nothing_is_stored(
    kind: str, provider: str, credentials: dict[str, object], code: str
) -> None:
    w = world()

    with pytest.raises(ValidationFailed) as caught:
        w.lifecycle.create(
            USER,
            name="x",
            kind=kind,
            provider=provider,
            credentials=credentials,
            sync_frequency=None,
            alert_email=None,
        )

    assert caught.value.code == code
    assert w.lifecycle.for_user(USER) == []
    assert w.actions() == []


def test_disconnect_drops_the_secret_and_connect_needs_new_credentials() -> None:
    connector = FakeConnector()
    w = world(connector)
    integration = hubspot(w)
    w.syncing.set_sync(USER, integration.integration_id, True)

    gone = w.lifecycle.disconnect(USER, integration.integration_id)

    assert (gone.status, gone.sync_enabled, gone.secret_hint) == ("disconnected", False, None)
    assert w.repository.sealed(USER, integration.integration_id) is None
    with pytest.raises(Conflict) as refused:
        w.lifecycle.test(USER, integration.integration_id)
    assert refused.value.code == "integration_disconnected"
    with pytest.raises(ValidationFailed) as missing:
        w.lifecycle.connect(USER, integration.integration_id, None)
    assert missing.value.code == "credentials_required"

    report = w.lifecycle.connect(USER, integration.integration_id, {"accessToken": TOKEN + "-new"})

    assert report.ok
    assert report.integration.status == "connected"
    assert connector.seen[-1].secrets == {"accessToken": TOKEN + "-new"}


def test_changes_are_kept_and_replaced_credentials_reach_the_vendor() -> None:
    connector = FakeConnector()
    w = world(connector)
    integration = hubspot(w)

    changed = w.lifecycle.update(
        USER,
        integration.integration_id,
        Changes(name="Harbour", sync_frequency="15m", alert_email="ops@harbour.example"),
    )
    assert (changed.name, changed.sync_frequency_minutes, changed.alert_email) == (
        "Harbour",
        15,
        "ops@harbour.example",
    )
    w.lifecycle.update(USER, integration.integration_id, Changes(credentials={"accessToken": TOKEN + "-2"}))
    cleared = w.lifecycle.update(USER, integration.integration_id, Changes(clear_alert_email=True))

    assert cleared.alert_email is None
    assert cleared.name == "Harbour"
    w.lifecycle.test(USER, integration.integration_id)
    assert connector.seen[-1].secrets == {"accessToken": TOKEN + "-2"}
    with pytest.raises(ValidationFailed) as caught:
        w.lifecycle.update(USER, integration.integration_id, Changes(sync_frequency="1m"))
    assert caught.value.code == "invalid_sync_frequency"


def test_delete_removes_the_integration_its_records_and_open_alerts() -> None:
    w = world(FakeConnector(records=[contact(1, NOW - timedelta(hours=1))]))
    integration = hubspot(w, expiresAt=(NOW + timedelta(hours=2)).isoformat())
    w.syncing.sync(USER, integration.integration_id)
    assert w.synced.count(USER, integration.integration_id) == 1
    assert w.alerts.for_user(USER, "open")  # the token expires within a day

    w.lifecycle.delete(USER, integration.integration_id)

    assert w.synced.count(USER, integration.integration_id) == 0
    assert w.alerts.for_user(USER, "open") == []
    with pytest.raises(NotFound):
        w.lifecycle.get(USER, integration.integration_id)


def test_another_users_integration_is_not_found() -> None:
    w = world()
    integration = hubspot(w)

    for call in (w.lifecycle.get, w.lifecycle.test, w.syncing.sync, w.lifecycle.delete):
        with pytest.raises(NotFound):
            call("intruder", integration.integration_id)  # type: ignore[operator]
    with pytest.raises(NotFound):
        w.monitoring.rate_limit("intruder", integration.integration_id, "api")


def test_a_connected_account_is_a_social_integration_tested_with_its_own_token() -> None:
    facebook = FakeConnector.social("facebook")
    w = world(facebook)
    w.accounts.connect(USER, "facebook", "104857600099001", "EAAB-page-token-000000")

    (listed,) = w.lifecycle.for_user(USER)
    report = w.lifecycle.test(USER, "social-facebook")

    assert (listed.integration_id, listed.type, listed.provider) == (
        "social-facebook",
        "social_media",
        "facebook",
    )
    assert report.ok
    assert facebook.seen[-1].settings == {"accountId": "104857600099001"}
    assert facebook.seen[-1].secrets == {"accessToken": "EAAB-page-token-000000"}
    w.lifecycle.disconnect(USER, "social-facebook")
    assert w.accounts.get(USER, "facebook") is None


def test_creating_a_social_integration_connects_the_account() -> None:
    facebook = FakeConnector.social("facebook")
    w = world(facebook)

    created = w.lifecycle.create(
        USER,
        name="Page",
        kind="social_media",
        provider="facebook",
        credentials={"accountId": "104857600099001", "accessToken": "EAAB-page-token-000000"},
        sync_frequency=None,
        alert_email=None,
    )

    assert created.integration_id == "social-facebook"
    account = w.accounts.get(USER, "facebook")
    assert account is not None
    assert account.account_id == "104857600099001"
    assert w.repository.sealed(USER, "social-facebook") is None  # the token lives with the account
