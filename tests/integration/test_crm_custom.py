"""The `custom` connector (any CRM with a JSON REST API, configured with URL templates, a field
mapping and an auth type) against the fake custom CRM over real HTTP on loopback: the connection
check, a client read and mapped (nested paths, list indexes, tags, history, properties), the client
id kept in its place, the three kinds of auth, activities posted one by one with an Idempotency-Key
(posted twice, held once), per-activity refusals, finding what was written, the fake's faults, no
redirect followed, and the network guard refusing a private or http URL when private links are off.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from crm_support import Calls, add_contacts, add_fault, raised

from infra.local.fakes import customcrm
from infra.local.fakes.base import LocalHttpServer, Reply, Request
from infra.local.fakes.vendors import FakeVendorServer
from tidings.core.config import Settings
from tidings.core.errors import ValidationFailed
from tidings.integrations.connectors.base import ConnectorCredentials, ConnectorError
from tidings.integrations.connectors.crm import ActivityWrite, CrmConnector
from tidings.integrations.connectors.custom import CHECK_SENTINEL, CustomCrmConnector
from tidings.publishing.clients import default_http_client

CLIENT_TIMEOUT = 0.5
TOKEN = "crm-bearer-canary-7f3a9e21"
API_KEY = "crm-api-key-canary-51d0c8"
USER, PASSWORD = "tidings-sync", "crm-basic-password-canary-884"
SECRETS = (TOKEN, API_KEY, PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MAPPING = {
    "firstName": "name.first",
    "lastName": "name.last",
    "email": "contact.email",
    "phone": "contact.phone",
    "tags": "labels",
    "history": "activity",
    "preferences.communicationStyle": "prefs.style",
    "preferences.language": "prefs.lang",
    "preferences.contactMethod": "prefs.channel",
    "preferences.timezone": "prefs.tz",
    "properties.budget": "financials.budget.max",
}
SEQUENCE = itertools.count(1)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeVendorServer]:
    with FakeVendorServer(hold_seconds=3.0, retry_after=7) as server:
        customcrm.register(server, customcrm.CustomCredential("bearer", TOKEN))
        yield server


@pytest.fixture(scope="module")
def own(fake: FakeVendorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url) as client:
        for account in (
            {"provider": "custom", "apiKey": API_KEY, "header": "X-Crm-Key"},
            {"provider": "custom", "username": USER, "password": PASSWORD},
        ):
            assert client.post("/_vendors/accounts", json=account).status_code == 201
        yield client


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    client = default_http_client(Settings.from_env({"TIDINGS_HTTP_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT)}))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def connector(http: httpx.Client, own: httpx.Client) -> CustomCrmConnector:
    return CustomCrmConnector(http, allow_private=True)  # the fake is http on loopback


@pytest.fixture(autouse=True)
def _clean(own: httpx.Client) -> None:
    assert own.delete("/_vendors/faults").status_code == 204
    assert own.delete("/_vendors/calls").status_code == 204
    assert own.delete("/_vendors/contacts", params={"provider": "custom"}).status_code == 204
    assert own.delete("/_received").status_code == 204


def creds(
    fake: FakeVendorServer, *, auth: str = "bearer", lookup: bool = True, **settings: str
) -> ConnectorCredentials:
    secrets = {
        "bearer": {"token": TOKEN},
        "header": {"apiKey": API_KEY},
        "basic": {"username": USER, "password": PASSWORD},
    }
    values = {
        "clientUrl": f"{fake.url}/custom/api/clients/{{clientId}}",
        "activitiesUrl": f"{fake.url}/custom/api/activities",
        "authType": auth,
        "fieldMapping": json.dumps(MAPPING),
        **({"activityLookupUrl": f"{fake.url}/custom/api/activities/{{activityId}}"} if lookup else {}),
        **({"authHeader": "X-Crm-Key"} if auth == "header" else {}),
        **settings,
    }
    return ConnectorCredentials(values, secrets[auth])


def error_of(action: Callable[[], object]) -> ConnectorError:
    return raised(action, SECRETS)


def add(own: httpx.Client, *contacts: dict[str, Any]) -> list[str]:
    return add_contacts(own, "custom", *contacts)


def activity(client_id: str, kind: str = "note", **extra: Any) -> ActivityWrite:
    return ActivityWrite(
        activity_id=extra.pop("activity_id", f"act_{next(SEQUENCE):05d}_custom"),
        client_id=client_id,
        type=kind,
        description=extra.pop("description", "Showed 12 Harbour Road"),
        timestamp=extra.pop("timestamp", T0),
        metadata=extra.pop("metadata", {"listing": "12 Harbour Road"}),
    )


def fault(own: httpx.Client, kind: str, **extra: Any) -> None:
    add_fault(own, "custom", kind, **extra)


RICH = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@harbour.example",
    "phone": "+15550100",
    "tags": ["buyer", "waterfront"],
    "properties": {
        "prefs": {"style": "Casual", "lang": "es-MX", "channel": "sms", "tz": "America/Mexico_City"},
        "financials": {"budget": {"max": 450000, "currency": "USD"}},
        "neighbourhood": "Old Harbour",
        "nothing": None,
    },
}


# -- shape and settings ----------------------------------------------------------------------------


def test_the_connector_is_a_crm_connector_that_writes_one_by_one(connector: CustomCrmConnector) -> None:
    assert isinstance(connector, CrmConnector)
    assert (connector.type, connector.provider) == ("crm", "custom")
    assert (connector.batch_max, connector.idempotent_writes) == (1, False)


def test_settings_for_each_auth_kind_are_accepted(
    connector: CustomCrmConnector, fake: FakeVendorServer
) -> None:
    for auth in ("bearer", "header", "basic"):
        connector.validate_credentials(creds(fake, auth=auth))


def test_a_custom_crm_has_nothing_to_sync(connector: CustomCrmConnector, fake: FakeVendorServer) -> None:
    error = error_of(lambda: connector.sync(creds(fake), None, Calls()))

    assert error.code == "invalid_settings"
    assert fake.calls() == {}


# -- check -----------------------------------------------------------------------------------------


def test_check_probes_the_client_url_and_a_404_for_the_probe_id_passes(
    connector: CustomCrmConnector, fake: FakeVendorServer
) -> None:
    calls = Calls()

    result = connector.check(creds(fake), calls)

    assert result.account_label == "127.0.0.1"
    assert result.facts["probeStatus"] == 404
    assert result.facts["activityLookup"] is True
    assert calls.operations() == [("clients.read", 404)]
    assert fake.calls() == {"custom.clients.read": 1}
    assert fake.received("custom") == []  # a check writes nothing


def test_check_reads_the_check_client_when_one_is_named(
    connector: CustomCrmConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    [client] = add(own, RICH)

    result = connector.check(creds(fake, checkClientId=client), Calls())

    assert result.facts["clientFields"] == ["email", "firstName", "lastName", "phone"]
    assert client in result.detail


def test_check_with_a_check_client_the_crm_does_not_have_fails(
    connector: CustomCrmConnector, fake: FakeVendorServer
) -> None:
    error = error_of(lambda: connector.check(creds(fake, checkClientId="no-such-client"), Calls()))

    assert error.code == "not_found"


@pytest.mark.parametrize("auth", ["bearer", "header", "basic"])
def test_wrong_credentials_fail_auth_without_showing_them(
    connector: CustomCrmConnector, fake: FakeVendorServer, auth: str
) -> None:
    good = creds(fake, auth=auth)
    wrong = ConnectorCredentials(good.settings, {k: v[::-1] for k, v in good.secrets.items()})
    calls = Calls()

    error = error_of(lambda: connector.check(wrong, calls))

    assert (error.code, error.status) == ("auth_failed", 401)
    assert calls.operations() == [("clients.read", 401)]
    for value in wrong.secrets.values():
        assert value not in error.message


# -- read one client -------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["bearer", "header", "basic"])
def test_a_client_is_read_and_mapped_with_each_kind_of_auth(
    connector: CustomCrmConnector, fake: FakeVendorServer, own: httpx.Client, auth: str
) -> None:
    [client] = add(own, RICH)

    record = connector.read_client(creds(fake, auth=auth), client, Calls())

    assert (record.id, record.provider) == (client, "custom")
    assert (record.first_name, record.last_name) == ("Ada", "Lovelace")
    assert (record.email, record.phone) == ("ada@harbour.example", "+15550100")
    assert record.tags == ("buyer", "waterfront")
    prefs = record.preferences
    assert (prefs.communication_style, prefs.language, prefs.contact_method) == ("casual", "es-MX", "sms")
    assert prefs.timezone == "America/Mexico_City"
    assert record.properties["budget"] == 450000  # a nested value named by properties.<name>
    assert record.properties["neighbourhood"] == "Old Harbour"  # unmapped keys by their own key
    assert "stage" not in record.properties  # a null value is left out
    for consumed in ("name", "contact", "labels", "prefs", "financials", "activity", "id", "nothing"):
        assert consumed not in record.properties


def test_unmapped_standard_fields_come_from_keys_of_their_own_name(
    connector: CustomCrmConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    [client] = add(
        own,
        {
            "lastName": "Plain",
            "properties": {"firstName": "Top", "email": "top@x.example", "tags": "a, b,,c"},
        },
    )
    bare = creds(fake, fieldMapping="")

    record = connector.read_client(bare, client, Calls())

    assert (record.first_name, record.email, record.tags) == ("Top", "top@x.example", ("a", "b", "c"))
    assert record.properties["name"] == {"first": None, "last": "Plain"}


def test_a_path_can_step_into_a_list(
    connector: CustomCrmConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    [client] = add(
        own, {"properties": {"emails": [{"value": "first@x.example"}, {"value": "second@x.example"}]}}
    )

    record = connector.read_client(creds(fake, fieldMapping='{"email": "emails.1.value"}'), client, Calls())

    assert record.email == "second@x.example"


def test_the_history_is_the_mapped_list_of_what_the_crm_received(
    connector: CustomCrmConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    [client] = add(own, {"lastName": "Busy"})
    for day in range(3):
        connector.write_activities(
            creds(fake),
            [activity(client, "call", description=f"Call {day}", timestamp=T0 + timedelta(days=day))],
            Calls(),
        )

    history = connector.read_client(creds(fake), client, Calls()).history

    assert [(h.type, h.description, h.at) for h in history] == [
        ("call", f"Call {day}", T0 + timedelta(days=day)) for day in (2, 1, 0)
    ]


@pytest.mark.parametrize("client_id", ["../../api/activities", "a/b", "x?y=1", "#frag", "id with spaces"])
def test_a_client_id_is_percent_encoded_into_its_place(
    connector: CustomCrmConnector, fake: FakeVendorServer, client_id: str
) -> None:
    calls = Calls()

    error = error_of(lambda: connector.read_client(creds(fake), client_id, calls))

    assert error.code == "not_found"
    assert fake.calls() == {"custom.clients.read": 1}  # it stayed the id of a client


def test_a_client_the_crm_does_not_have_is_not_found(
    connector: CustomCrmConnector, fake: FakeVendorServer
) -> None:
    error = error_of(lambda: connector.read_client(creds(fake), "4040", Calls()))

    assert (error.code, error.status) == ("not_found", 404)
    assert "client_not_found" in error.message or "no client" in error.message


# -- write activities ------------------------------------------------------------------------------


def test_an_activity_is_posted_with_its_id_as_the_idempotency_key(
    connector: CustomCrmConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    [client] = add(own, {"lastName": "Writer"})
    sent = activity(client, "email_sent", metadata={"campaign": "spring", "opens": 2})
    calls = Calls()

    [result] = connector.write_activities(creds(fake), [sent], calls)

    assert result.ok
    assert result.crm_id is not None
    assert result.crm_id.startswith("act-")
    assert calls.operations() == [("activities.create", 201)]
    [received] = fake.received("custom")
    assert (received.kind, received.key) == ("activity", result.crm_id)
    assert received.body["activityId"] == sent.activity_id
    assert received.body["clientId"] == client
    assert received.body["type"] == "email_sent"
    assert received.body["timestamp"] == "2026-11-02T09:00:00.000Z"
    assert received.body["metadata"] == {"campaign": "spring", "opens": 2}


def test_posting_the_same_activity_again_is_held_once_by_a_crm_that_honours_the_key(
    connector: CustomCrmConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    [client] = add(own, {"lastName": "Twice"})
    sent = activity(client)

    first = connector.write_activities(creds(fake), [sent], Calls())
    again = connector.write_activities(creds(fake), [sent], Calls())

    assert [r.crm_id for r in again] == [r.crm_id for r in first]
    assert len(fake.received("custom")) == 1
    assert len([a for a in customcrm.activities(fake) if a["activityId"] == sent.activity_id]) == 1


def test_an_activity_for_a_client_the_crm_does_not_have_is_refused_alone(
    connector: CustomCrmConnector, fake: FakeVendorServer
) -> None:
    [result] = connector.write_activities(creds(fake), [activity("no-such-client")], Calls())

    assert result.error is not None
    assert (result.error.code, result.error.status) == ("not_found", 404)


def test_an_activity_the_crm_finds_malformed_is_an_invalid_request(
    connector: CustomCrmConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    [client] = add(own, {"lastName": "Blank"})

    [result] = connector.write_activities(creds(fake), [activity(client, description="")], Calls())

    assert result.error is not None
    assert (result.error.code, result.error.status) == ("invalid_request", 422)
    assert "description" in result.error.message


def test_two_activities_in_one_call_are_refused(
    connector: CustomCrmConnector, fake: FakeVendorServer
) -> None:
    with pytest.raises(ValueError, match="one activity"):
        connector.write_activities(creds(fake), [activity("1"), activity("2")], Calls())
    assert fake.calls() == {}


def test_find_written_looks_each_activity_up(
    connector: CustomCrmConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    [client] = add(own, {"lastName": "Found"})
    written, missing = activity(client), activity(client)
    [result] = connector.write_activities(creds(fake), [written], Calls())
    calls = Calls()

    found = connector.find_written(creds(fake), [written, missing], calls)

    assert found == {written.activity_id: result.crm_id}
    assert calls.operations() == [("activities.read", 200), ("activities.read", 404)]


def test_without_a_lookup_url_the_crm_cannot_be_asked(
    connector: CustomCrmConnector, fake: FakeVendorServer
) -> None:
    assert connector.find_written(creds(fake, lookup=False), [activity("1")], Calls()) is None
    assert fake.calls() == {}


# -- faults ----------------------------------------------------------------------------------------


def test_a_lost_answer_is_an_unknown_outcome_that_the_lookup_resolves(
    connector: CustomCrmConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    [client] = add(own, {"lastName": "Lost"})
    sent = activity(client)
    fault(own, "lost_response")

    error = error_of(lambda: connector.write_activities(creds(fake), [sent], Calls()))
    found = connector.find_written(creds(fake), [sent], Calls())

    assert (error.code, error.outcome_unknown) == ("unreachable", True)
    assert found is not None
    assert found[sent.activity_id] is not None
    assert len(fake.received("custom")) == 1


def test_a_server_error_fails_the_call(
    connector: CustomCrmConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    [client] = add(own, {"lastName": "Err"})
    fault(own, "error500")

    error = error_of(lambda: connector.write_activities(creds(fake), [activity(client)], Calls()))

    assert (error.code, error.status, error.retryable) == ("unreachable", 500, True)
    assert fake.received("custom") == []


def test_a_throttle_is_rate_limited_with_its_retry_after(
    connector: CustomCrmConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    [client] = add(own, {"lastName": "Busy"})
    fault(own, "rate_limit", retryAfter=9)

    error = error_of(lambda: connector.read_client(creds(fake), client, Calls()))

    assert (error.code, error.status, error.retry_after) == ("rate_limited", 429, 9.0)


def test_a_read_that_times_out_is_unreachable(
    connector: CustomCrmConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    [client] = add(own, {"lastName": "Slow"})
    fault(own, "timeout")

    error = error_of(lambda: connector.read_client(creds(fake), client, Calls()))

    assert (error.code, error.outcome_unknown) == ("unreachable", False)


def test_a_crm_that_is_down_is_unreachable(connector: CustomCrmConnector, fake: FakeVendorServer) -> None:
    assert fake.calls() == {}
    fake.go_down("custom", 30)

    error = error_of(lambda: connector.check(creds(fake), Calls()))

    assert (error.code, error.retryable) == ("unreachable", True)


class _Redirecting(LocalHttpServer):
    """Answers every request with a redirect, and counts what reached the redirect's target."""

    def __init__(self) -> None:
        super().__init__()
        self.targets = 0

    def respond(self, request: Request) -> Reply:
        if request.path.startswith("/target"):
            self.targets += 1
            return Reply(200, {"id": "1", "firstName": "Followed"})
        return Reply(302, None, {"Location": f"{request.base_url}/target"})


def test_a_redirect_is_never_followed(connector: CustomCrmConnector) -> None:
    with _Redirecting() as server:
        settings = {
            "clientUrl": f"{server.url}/clients/{{clientId}}",
            "activitiesUrl": f"{server.url}/a",
            "authType": "bearer",
        }

        error = error_of(
            lambda: connector.read_client(ConnectorCredentials(settings, {"token": TOKEN}), "1", Calls())
        )

        assert error.code == "unexpected_response"
        assert "redirect" in error.message
        assert server.targets == 0


# -- the network guard -----------------------------------------------------------------------------


def test_a_private_or_http_url_is_refused_when_private_links_are_off(
    http: httpx.Client, fake: FakeVendorServer, own: httpx.Client
) -> None:
    guarded = CustomCrmConnector(http, allow_private=False)
    [client] = add(own, {"lastName": "Guarded"})

    with pytest.raises(ValidationFailed) as refused:
        guarded.validate_credentials(creds(fake))
    read = error_of(lambda: guarded.read_client(creds(fake), client, Calls()))
    write = error_of(lambda: guarded.write_activities(creds(fake), [activity(client)], Calls()))

    assert refused.value.code == "url_refused"
    assert refused.value.details == {"field": "credentials.clientUrl"}
    assert (read.code, write.code) == ("invalid_settings", "invalid_settings")
    assert "https" in read.message
    assert fake.calls() == {}  # nothing reached the CRM


def test_the_probe_id_is_the_documented_one(connector: CustomCrmConnector, fake: FakeVendorServer) -> None:
    seen: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: seen.append(r.url.path)]}) as client:
        CustomCrmConnector(client, allow_private=True).check(creds(fake), Calls())

    assert seen == [f"/custom/api/clients/{CHECK_SENTINEL}"]
