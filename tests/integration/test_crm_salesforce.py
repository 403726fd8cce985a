"""The Salesforce connector against the fake Salesforce over real HTTP on loopback: sign-in with a
refresh token and a new session when the old one expires, the connection check and its facts,
contacts synced through SOQL with `nextRecordsUrl` paging, one contact or lead read with its recent
Tasks, activities upserted as Tasks by the activity id (written twice, held once), per-record
refusals, finding what was written, the fake's faults and the org's daily API limit, and no secret
in any error.

Salesforce publishes no official Python SDK (its official clients are for Java, Node.js, mobile and
the CLI; simple-salesforce is a community library), so the connector's own httpx client is the
only client exercised here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from crm_support import Calls, add_contacts, add_fault, raised

from infra.local.fakes import salesforce as fake_salesforce
from infra.local.fakes.vendors import FakeVendorServer
from tidings.core.config import Settings
from tidings.integrations.connectors.base import ConnectorCredentials, ConnectorError
from tidings.integrations.connectors.crm import ActivityWrite, CrmConnector
from tidings.integrations.connectors.salesforce import SalesforceConnector
from tidings.publishing.clients import default_http_client

CLIENT_TIMEOUT = 0.5  # seconds; the fake holds a `timeout` fault for longer
REFRESH = "5Aep861canary.salesforce.refresh.token.Qx7"
CLIENT_ID, CLIENT_SECRET = "3MVG9canary-connected-app-key", "canary-consumer-secret-2207"
SECRETS = (REFRESH, CLIENT_SECRET)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def connector_settings(fake: FakeVendorServer, **extra: str) -> Settings:
    """Settings pointing the connector at the fake (whose instance URL is http on loopback)."""
    return Settings.from_env(
        {
            **fake.client_env(),
            "TIDINGS_HTTP_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT),
            "TIDINGS_ALLOW_PRIVATE_LINKS": "true",
            "TIDINGS_SALESFORCE_CLIENT_ID": CLIENT_ID,
            "TIDINGS_SALESFORCE_CLIENT_SECRET": CLIENT_SECRET,
            **extra,
        }
    )


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeVendorServer]:
    with FakeVendorServer(hold_seconds=3.0, retry_after=7) as server:
        yield server


@pytest.fixture(scope="module")
def own(fake: FakeVendorServer) -> Iterator[httpx.Client]:
    """A plain client for the fake's own endpoints, with the org registered through them."""
    with httpx.Client(base_url=fake.url) as client:
        account = {
            "provider": "salesforce",
            "refreshToken": REFRESH,
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "orgId": "00D5e000000TIDAEA2",
        }
        assert client.post("/_vendors/accounts", json=account).status_code == 201
        yield client


@pytest.fixture(scope="module")
def settings(fake: FakeVendorServer) -> Settings:
    return connector_settings(fake)


@pytest.fixture(scope="module")
def http(settings: Settings) -> Iterator[httpx.Client]:
    client = default_http_client(settings)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def connector(settings: Settings, http: httpx.Client, own: httpx.Client) -> SalesforceConnector:
    """A new connector each test: no session kept from another test."""
    return SalesforceConnector(settings, http, page_size=200)


@pytest.fixture(autouse=True)
def _clean(own: httpx.Client) -> None:
    assert own.delete("/_vendors/faults").status_code == 204
    assert own.delete("/_vendors/calls").status_code == 204
    assert own.delete("/_vendors/contacts", params={"provider": "salesforce"}).status_code == 204
    assert own.delete("/_received").status_code == 204


CREDS = ConnectorCredentials({}, {"refreshToken": REFRESH})


def error_of(action: Callable[[], object]) -> ConnectorError:
    return raised(action, SECRETS)


def add(own: httpx.Client, *contacts: dict[str, Any]) -> list[str]:
    return add_contacts(own, "salesforce", *contacts)


SEQUENCE = itertools.count(1)


def activity(n: int, client_id: str, kind: str = "email_sent", **extra: Any) -> ActivityWrite:
    """Activity `n` of a test; its id is new for each call unless given (the fake keeps Tasks)."""
    return ActivityWrite(
        activity_id=extra.pop("activity_id", f"act_{next(SEQUENCE):05d}_{n}"),
        client_id=client_id,
        type=kind,
        description=extra.pop("description", f"Sent the listing at {n} Harbour Road"),
        timestamp=extra.pop("timestamp", T0 + timedelta(days=n)),
        metadata=extra.pop("metadata", {}),
    )


def fault(own: httpx.Client, kind: str, **extra: Any) -> None:
    add_fault(own, "salesforce", kind, **extra)


def tasks_for(fake: FakeVendorServer, batch: list[ActivityWrite]) -> list[dict[str, Any]]:
    """The Tasks the fake holds for these activities."""
    wanted = {a.activity_id for a in batch}
    return [t for t in fake_salesforce.tasks(fake) if t.get("Tidings_Activity_Id__c") in wanted]


# -- the connector's shape -------------------------------------------------------------------------


def test_the_connector_is_a_crm_connector_that_upserts_up_to_200_tasks(
    connector: SalesforceConnector,
) -> None:
    assert isinstance(connector, CrmConnector)
    assert (connector.type, connector.provider) == ("crm", "salesforce")
    assert (connector.batch_max, connector.idempotent_writes) == (200, True)
    assert connector.required_secrets == ("refreshToken",)


# -- sign-in and the check -------------------------------------------------------------------------


def test_check_signs_in_and_reports_the_org_its_api_usage_and_the_activity_field(
    connector: SalesforceConnector,
) -> None:
    calls = Calls()

    result = connector.check(CREDS, calls)

    assert result.account_label == "00D5e000000TIDAEA2"
    assert calls.operations() == [("oauth.token", 200), ("limits", 200), ("task.describe", 200)]
    facts = result.facts
    assert facts["orgId"] == "00D5e000000TIDAEA2"
    assert facts["instanceUrl"].endswith("/salesforce/instances/00D5e000000TIDAEA2")
    assert facts["activityIdField"] == "Tidings_Activity_Id__c"
    assert facts["apiVersion"] == "v67.0"
    # Sforce-Limit-Info: api-usage=<used>/<limit>, as counted by the org before this answer.
    assert facts["apiRequestsLimit"] == facts["dailyApiRequestsMax"] == 15_000
    assert facts["apiRequestsUsed"] >= 1
    assert facts["dailyApiRequestsRemaining"] == 15_000 - facts["apiRequestsUsed"]
    for secret in SECRETS:
        assert secret not in f"{result}"


def test_every_instance_answer_carries_the_limit_header(
    connector: SalesforceConnector, fake: FakeVendorServer
) -> None:
    seen: list[str | None] = []
    with httpx.Client(
        event_hooks={"response": [lambda r: seen.append(r.headers.get("Sforce-Limit-Info"))]}
    ) as http:
        SalesforceConnector(connector_settings(fake), http).check(CREDS, Calls())

    assert seen[0] is None  # the token endpoint is the login host's, not the org's API
    used = [int(h.split("=")[1].split("/")[0]) for h in seen[1:] if h]
    assert len(used) == 2
    assert used[1] == used[0] + 1


def test_a_refresh_token_salesforce_does_not_know_fails_auth_without_showing_it(
    connector: SalesforceConnector,
) -> None:
    calls = Calls()
    wrong = ConnectorCredentials({}, {"refreshToken": REFRESH[::-1]})

    error = error_of(lambda: connector.check(wrong, calls))

    assert (error.code, error.status, error.retryable) == ("auth_failed", 400, False)
    assert "invalid_grant" in error.message
    assert REFRESH[::-1] not in error.message
    assert calls.operations() == [("oauth.token", 400)]


def test_a_wrong_client_secret_fails_auth(connector: SalesforceConnector) -> None:
    creds = ConnectorCredentials({}, {"refreshToken": REFRESH, "clientSecret": "not-the-secret-0000"})

    error = error_of(lambda: connector.check(creds, Calls()))

    assert (error.code, error.status) == ("auth_failed", 400)
    assert "invalid_client" in error.message
    assert "not-the-secret-0000" not in error.message


def test_a_session_is_kept_and_renewed_once_when_salesforce_ends_it(
    connector: SalesforceConnector, own: httpx.Client
) -> None:
    [client] = add(own, {"firstName": "Ada", "lastName": "Lovelace"})
    calls = Calls()
    connector.read_client(CREDS, client, calls)
    connector.read_client(CREDS, client, calls)
    assert [op for op, _ in calls.operations()].count("oauth.token") == 1

    ended = own.delete("/_vendors/sessions", params={"provider": "salesforce"})
    assert ended.status_code == 200
    assert ended.json()["ended"] >= 1
    later = Calls()
    record = connector.read_client(CREDS, client, later)

    assert record.first_name == "Ada"
    assert later.operations() == [
        ("contact.read", 401),
        ("oauth.token", 200),
        ("contact.read", 200),
        ("tasks.query", 200),
    ]


def test_a_session_refused_again_after_renewal_fails_auth(
    connector: SalesforceConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    fake_salesforce.register(fake, "instant-expiry-refresh-2", client_id=CLIENT_ID, session_seconds=1e-9)
    creds = ConnectorCredentials({}, {"refreshToken": "instant-expiry-refresh-2"})
    calls = Calls()

    error = error_of(lambda: connector.sync(creds, None, calls))

    assert (error.code, error.status) == ("auth_failed", 401)
    assert "INVALID_SESSION_ID" in error.message
    assert [op for op, _ in calls.operations()] == [
        "oauth.token",
        "contacts.query",
        "oauth.token",
        "contacts.query",
    ]


def test_an_instance_url_that_is_not_https_is_refused_unless_private_links_are_allowed(
    fake: FakeVendorServer, http: httpx.Client, own: httpx.Client
) -> None:
    strict = SalesforceConnector(connector_settings(fake, TIDINGS_ALLOW_PRIVATE_LINKS="false"), http)
    calls = Calls()

    error = error_of(lambda: strict.check(CREDS, calls))

    assert error.code == "unexpected_response"
    assert "not https" in error.message
    assert calls.operations() == [("oauth.token", 200)]  # nothing went to the http instance


def test_check_says_when_task_lacks_the_activity_id_field(
    connector: SalesforceConnector, fake: FakeVendorServer
) -> None:
    fake_salesforce.register(fake, "org-without-field-refresh", client_id=CLIENT_ID, external_id_fields=())
    creds = ConnectorCredentials({}, {"refreshToken": "org-without-field-refresh"})

    error = error_of(lambda: connector.check(creds, Calls()))

    assert error.code == "invalid_settings"
    assert "Tidings_Activity_Id__c" in error.message
    assert "External ID" in error.message


def test_check_accepts_another_activity_field_the_org_has(
    connector: SalesforceConnector, fake: FakeVendorServer
) -> None:
    fake_salesforce.register(
        fake, "org-own-field-refresh", client_id=CLIENT_ID, external_id_fields=("Ext_Key__c",)
    )
    creds = ConnectorCredentials({"activityIdField": "Ext_Key__c"}, {"refreshToken": "org-own-field-refresh"})

    assert connector.check(creds, Calls()).facts["activityIdField"] == "Ext_Key__c"


# -- sync ------------------------------------------------------------------------------------------


def seed(own: httpx.Client, count: int) -> list[str]:
    return add(
        own,
        *(
            {
                "firstName": f"Ada{i}",
                "lastName": "Lovelace",
                "email": f"ada{i}@harbour.example",
                "source": "Web",
                "updatedAt": (T0 + timedelta(seconds=i)).isoformat(),
            }
            for i in range(count)
        ),
    )


def test_sync_pages_through_next_records_urls_oldest_change_first(
    connector: SalesforceConnector, own: httpx.Client
) -> None:
    ids = seed(own, 450)
    calls = Calls()

    result = connector.sync(CREDS, None, calls)

    assert [r.key for r in result.records] == ids
    assert result.complete
    assert result.cursor == "2026-11-02T09:07:29.000Z"
    first = result.records[0]
    assert first.kind == "contact"
    assert first.attributes["email"] == "ada0@harbour.example"
    assert first.attributes["source"] == "Web"
    assert [op for op, _ in calls.operations()] == [
        "oauth.token",
        "contacts.query",
        "contacts.query",
        "contacts.query",
    ]


def test_sync_stops_at_max_records_and_resumes_from_its_cursor(
    connector: SalesforceConnector, own: httpx.Client
) -> None:
    ids = seed(own, 450)

    first = connector.sync(CREDS, None, Calls(), max_records=300)
    assert first.cursor is not None
    rest = connector.sync(CREDS, datetime.fromisoformat(first.cursor), Calls())

    assert not first.complete
    assert [r.key for r in first.records] == ids[:300]
    assert rest.complete
    # The record at exactly the cursor's second comes again (upserted by key), none is missed.
    assert [r.key for r in rest.records] == ids[299:]


def test_sync_since_leaves_out_contacts_changed_before(
    connector: SalesforceConnector, own: httpx.Client
) -> None:
    ids = seed(own, 5)

    result = connector.sync(CREDS, T0 + timedelta(seconds=3, milliseconds=400), Calls())

    assert [r.key for r in result.records] == ids[3:]


def test_sync_leaves_leads_out(connector: SalesforceConnector, own: httpx.Client) -> None:
    [contact, _lead] = add(own, {"lastName": "Contact"}, {"lastName": "Lead", "kind": "Lead"})

    assert [r.key for r in connector.sync(CREDS, None, Calls()).records] == [contact]


# -- read one client -------------------------------------------------------------------------------


def test_a_contact_is_read_with_its_preferences_tags_and_every_other_field(
    connector: SalesforceConnector, own: httpx.Client
) -> None:
    [client] = add(
        own,
        {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "ada@harbour.example",
            "phone": "+15550100",
            "source": "Referral",
            "properties": {
                "Communication_Style__c": "Formal",
                "Preferred_Language__c": "es-MX",
                "Preferred_Contact_Method__c": "SMS",
                "Time_Zone__c": "America/Mexico_City",
                "Tags__c": "buyer;first-home; waterfront",
                "Annual_Budget__c": 450000,
                "Empty__c": None,
            },
        },
    )

    record = connector.read_client(CREDS, client, Calls())

    assert (record.id, record.provider) == (client, "salesforce")
    assert (record.first_name, record.last_name, record.full_name) == ("Ada", "Lovelace", "Ada Lovelace")
    assert (record.email, record.phone) == ("ada@harbour.example", "+15550100")
    assert record.preferences.communication_style == "formal"
    assert record.preferences.language == "es-MX"
    assert record.preferences.contact_method == "SMS"
    assert record.preferences.timezone == "America/Mexico_City"
    assert record.tags == ("buyer", "first-home", "waterfront")
    assert record.properties["Annual_Budget__c"] == 450000  # numbers stay numbers
    assert record.properties["LeadSource"] == "Referral"
    for gone in (
        "attributes",
        "Id",
        "FirstName",
        "Email",
        "Tags__c",
        "Time_Zone__c",
        "IsDeleted",
        "SystemModstamp",
        "Empty__c",
        "MobilePhone",
    ):
        assert gone not in record.properties
    assert record.history == ()


def test_the_preference_fields_can_be_named_in_the_settings(
    connector: SalesforceConnector, own: httpx.Client
) -> None:
    [client] = add(
        own,
        {
            "lastName": "Hopper",
            "properties": {
                "Tone__c": "Casual",
                "Lang__c": "fr",
                "Labels__c": "vip",
                "Communication_Style__c": "Formal",
            },
        },
    )
    creds = ConnectorCredentials(
        {"communicationStyleField": "Tone__c", "languageField": "Lang__c", "tagsField": "Labels__c"},
        {"refreshToken": REFRESH},
    )

    record = connector.read_client(creds, client, Calls())

    assert (record.preferences.communication_style, record.preferences.language) == ("casual", "fr")
    assert record.tags == ("vip",)
    assert record.properties["Communication_Style__c"] == "Formal"  # not the configured field: a property


def test_a_style_salesforce_holds_that_is_neither_formal_nor_casual_stays_a_property(
    connector: SalesforceConnector, own: httpx.Client
) -> None:
    [client] = add(
        own,
        {
            "lastName": "Curie",
            "properties": {"Communication_Style__c": "Friendly", "Time_Zone__c": "Mars/Olympus"},
        },
    )

    record = connector.read_client(CREDS, client, Calls())

    assert record.preferences.communication_style is None
    assert record.properties["Communication_Style__c"] == "Friendly"
    assert record.preferences.timezone is None


def test_a_lead_is_read_from_its_own_object(connector: SalesforceConnector, own: httpx.Client) -> None:
    [lead] = add(
        own,
        {"firstName": "Lin", "lastName": "Lead", "kind": "Lead", "properties": {"Company": "Acme Realty"}},
    )
    calls = Calls()

    record = connector.read_client(CREDS, lead, calls)

    assert lead.startswith("00Q")
    assert record.last_name == "Lead"
    assert record.properties["Company"] == "Acme Realty"
    assert calls.operations()[1] == ("lead.read", 200)


def test_a_15_character_id_reads_the_same_record(connector: SalesforceConnector, own: httpx.Client) -> None:
    [client] = add(own, {"lastName": "Short"})

    assert connector.read_client(CREDS, client[:15], Calls()).id == client


def test_a_client_salesforce_does_not_have_is_not_found(
    connector: SalesforceConnector, own: httpx.Client
) -> None:
    calls = Calls()

    error = error_of(lambda: connector.read_client(CREDS, "0035e0000009999AAA", calls))

    assert (error.code, error.status) == ("not_found", 404)
    assert calls.operations() == [("oauth.token", 200), ("contact.read", 404)]


def test_an_id_of_another_object_tries_contact_then_lead(connector: SalesforceConnector) -> None:
    calls = Calls()

    error = error_of(lambda: connector.read_client(CREDS, "0015e0000009999AAA", calls))

    assert error.code == "not_found"
    assert [op for op, _ in calls.operations()] == ["oauth.token", "contact.read", "lead.read"]


@pytest.mark.parametrize("client_id", ["", "003' OR Name != '", "../../limits", "0035e00000099"])
def test_a_malformed_id_is_not_found_without_a_call(
    connector: SalesforceConnector, fake: FakeVendorServer, client_id: str
) -> None:
    error = error_of(lambda: connector.read_client(CREDS, client_id, Calls()))

    assert error.code == "not_found"
    assert fake.calls() == {}


def test_the_history_is_the_clients_ten_latest_tasks(
    connector: SalesforceConnector, own: httpx.Client
) -> None:
    [client, other] = add(own, {"lastName": "Busy"}, {"lastName": "Other"})
    written = [activity(n, client, "call" if n % 2 else "email_sent") for n in range(12)]
    connector.write_activities(CREDS, written, Calls())
    connector.write_activities(CREDS, [activity(40, other)], Calls())

    history = connector.read_client(CREDS, client, Calls()).history

    assert len(history) == 10
    assert [h.at.date() if h.at else None for h in history] == [
        (T0 + timedelta(days=n)).date() for n in range(11, 1, -1)
    ]
    assert history[0].type == "call"
    assert history[1].type == "email"
    assert history[1].description == "Email sent: Sent the listing at 10 Harbour Road"


# -- write activities ------------------------------------------------------------------------------


def test_activities_become_completed_tasks_on_the_client(
    connector: SalesforceConnector, own: httpx.Client, fake: FakeVendorServer
) -> None:
    [client] = add(own, {"lastName": "Writer"})
    batch = [
        activity(1, client, "email_opened", metadata={"campaign": "spring", "opens": 2}),
        activity(2, client, "call", description="Talked about the\nopen house"),
        activity(3, client, "property_view", description="x" * 400),
    ]
    calls = Calls()

    results = connector.write_activities(CREDS, batch, calls)

    assert [r.ok for r in results] == [True, True, True]
    assert all(r.crm_id and r.crm_id.startswith("00T") for r in results)
    assert [op for op, _ in calls.operations()] == ["oauth.token", "tasks.upsert"]
    tasks = {t["Tidings_Activity_Id__c"]: t for t in tasks_for(fake, batch)}
    opened, called, viewed = (tasks[a.activity_id] for a in batch)
    assert opened["Id"] == results[0].crm_id
    assert (opened["WhoId"], opened["Status"], opened["TaskSubtype"]) == (client, "Completed", "Email")
    assert opened["Subject"] == "Email opened: Sent the listing at 1 Harbour Road"
    assert opened["ActivityDate"] == "2026-11-03"
    assert opened["Description"] == "Sent the listing at 1 Harbour Road\n\ncampaign: spring\nopens: 2"
    assert (called["TaskSubtype"], called["Subject"]) == ("Call", "Call: Talked about the open house")
    assert viewed["TaskSubtype"] == "Task"
    assert len(viewed["Subject"]) == 255
    assert viewed["Description"] == "x" * 400
    received = fake.received("salesforce")
    assert sorted(r.key for r in received) == sorted(r.crm_id for r in results if r.crm_id)
    assert {r.kind for r in received} == {"task"}


def test_writing_the_same_activities_again_updates_the_tasks_and_never_duplicates_them(
    connector: SalesforceConnector, own: httpx.Client, fake: FakeVendorServer
) -> None:
    [client] = add(own, {"lastName": "Twice"})
    batch = [activity(n, client) for n in range(3)]
    first = connector.write_activities(CREDS, batch, Calls())
    calls = Calls()

    again = connector.write_activities(CREDS, batch, calls)

    assert [r.crm_id for r in again] == [r.crm_id for r in first]
    assert all(r.ok for r in again)
    assert len(tasks_for(fake, batch)) == 3
    assert len(fake.received("salesforce")) == 3
    # The update refused only the create-only TaskSubtype: the ids were read back with a query.
    assert [op for op, _ in calls.operations()] == ["tasks.upsert", "tasks.find"]


def test_one_refused_record_does_not_stop_the_others(
    connector: SalesforceConnector, own: httpx.Client, fake: FakeVendorServer
) -> None:
    [client] = add(own, {"lastName": "Mixed"})
    batch = [
        activity(1, client),
        activity(2, "0035e0000009999AAA"),  # no such contact
        activity(3, "not-an-id"),
        activity(4, "0015e0000009999AAA"),  # an Account's id
        activity(5, client),
    ]

    results = connector.write_activities(CREDS, batch, Calls())

    assert [r.ok for r in results] == [True, False, False, False, True]
    errors = [r.error for r in results if r.error is not None]
    assert [e.code for e in errors] == ["not_found", "not_found", "not_found"]
    assert "INVALID_CROSS_REFERENCE_KEY" in errors[0].message
    assert "MALFORMED_ID" in errors[1].message
    assert "FIELD_INTEGRITY_EXCEPTION" in errors[2].message
    assert len(tasks_for(fake, batch)) == 2


def test_the_same_activity_twice_in_one_batch_is_refused_for_both(
    connector: SalesforceConnector, own: httpx.Client
) -> None:
    [client] = add(own, {"lastName": "Dup"})
    batch = [
        activity(1, client, activity_id="act_twice_in_one"),
        activity(1, client, activity_id="act_twice_in_one"),
    ]

    results = connector.write_activities(CREDS, batch, Calls())

    assert [r.error.code if r.error else None for r in results] == ["invalid_request", "invalid_request"]
    assert results[0].error is not None
    assert "DUPLICATE_VALUE" in results[0].error.message


def test_more_than_200_activities_are_refused_before_any_call(
    connector: SalesforceConnector, fake: FakeVendorServer
) -> None:
    with pytest.raises(ValueError, match="200"):
        connector.write_activities(CREDS, [activity(n, "0035e0000009999AAA") for n in range(201)], Calls())
    assert fake.calls() == {}


def test_the_fake_refuses_more_than_200_records_as_salesforce_does(own: httpx.Client) -> None:
    form = {"grant_type": "refresh_token", "refresh_token": REFRESH, "client_id": CLIENT_ID}
    signed = own.post(
        "/salesforce/services/oauth2/token", data={**form, "client_secret": CLIENT_SECRET}
    ).json()
    records = [{"attributes": {"type": "Task"}, "Tidings_Activity_Id__c": f"a{n}"} for n in range(201)]

    answer = httpx.patch(
        f"{signed['instance_url']}/services/data/v67.0/composite/sobjects/Task/Tidings_Activity_Id__c",
        json={"allOrNone": False, "records": records},
        headers={"Authorization": f"Bearer {signed['access_token']}"},
    )

    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_writing_without_the_activity_field_in_the_org_is_invalid_settings(
    connector: SalesforceConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    fake_salesforce.register(fake, "no-field-writes-refresh", client_id=CLIENT_ID, external_id_fields=())
    creds = ConnectorCredentials({}, {"refreshToken": "no-field-writes-refresh"})
    [client] = add(own, {"lastName": "Nowhere"})

    error = error_of(lambda: connector.write_activities(creds, [activity(1, client)], Calls()))

    assert error.code == "invalid_settings"
    assert "Tidings_Activity_Id__c" in error.message


def test_find_written_names_the_tasks_salesforce_holds(
    connector: SalesforceConnector, own: httpx.Client
) -> None:
    [client] = add(own, {"lastName": "Found"})
    written = [activity(1, client), activity(2, client, activity_id=f"act_{next(SEQUENCE)}_it's_quoted\\")]
    results = connector.write_activities(CREDS, written, Calls())
    missing = activity(3, client)

    found = connector.find_written(CREDS, [*written, missing], Calls())

    assert found == {a.activity_id: r.crm_id for a, r in zip(written, results, strict=True)}


# -- faults ----------------------------------------------------------------------------------------


def test_a_server_error_is_unreachable(connector: SalesforceConnector, own: httpx.Client) -> None:
    connector.check(CREDS, Calls())
    fault(own, "error500")
    calls = Calls()

    error = error_of(lambda: connector.sync(CREDS, None, calls))

    assert (error.code, error.status, error.retryable) == ("unreachable", 500, True)
    assert "UNKNOWN_EXCEPTION" in error.message


def test_a_throttle_is_rate_limited(connector: SalesforceConnector, own: httpx.Client) -> None:
    connector.check(CREDS, Calls())
    fault(own, "rate_limit")

    error = error_of(lambda: connector.sync(CREDS, None, Calls()))

    assert (error.code, error.status, error.retryable) == ("rate_limited", 403, True)
    assert "REQUEST_LIMIT_EXCEEDED" in error.message


def test_an_org_past_its_daily_api_limit_is_rate_limited(
    connector: SalesforceConnector, fake: FakeVendorServer
) -> None:
    fake_salesforce.register(fake, "small-org-refresh", client_id=CLIENT_ID, daily_limit=2)
    creds = ConnectorCredentials({}, {"refreshToken": "small-org-refresh"})
    connector.sync(creds, None, Calls())
    connector.sync(creds, None, Calls())

    error = error_of(lambda: connector.sync(creds, None, Calls()))

    assert (error.code, error.status) == ("rate_limited", 403)


def test_a_read_that_times_out_is_unreachable_with_nothing_applied(
    connector: SalesforceConnector, own: httpx.Client
) -> None:
    [client] = add(own, {"lastName": "Slow"})
    connector.check(CREDS, Calls())
    fault(own, "timeout")

    error = error_of(lambda: connector.read_client(CREDS, client, Calls()))

    assert (error.code, error.outcome_unknown) == ("unreachable", False)


def test_a_lost_answer_to_a_write_is_an_unknown_outcome_and_writing_again_holds_it_once(
    connector: SalesforceConnector, own: httpx.Client, fake: FakeVendorServer
) -> None:
    [client] = add(own, {"lastName": "Lost"})
    batch = [activity(n, client) for n in range(4)]
    connector.check(CREDS, Calls())
    fault(own, "lost_response")

    error = error_of(lambda: connector.write_activities(CREDS, batch, Calls()))
    assert (error.code, error.outcome_unknown, error.retryable) == ("unreachable", True, True)
    assert len(tasks_for(fake, batch)) == 4  # it had landed

    again = connector.write_activities(CREDS, batch, Calls())

    assert all(r.ok and r.crm_id for r in again)
    assert len(tasks_for(fake, batch)) == 4
    assert len(fake.received("salesforce")) == 4


def test_an_org_that_is_down_is_unreachable(connector: SalesforceConnector, own: httpx.Client) -> None:
    fault(own, "down", seconds=30)

    error = error_of(lambda: connector.check(CREDS, Calls()))

    assert (error.code, error.retryable) == ("unreachable", True)
