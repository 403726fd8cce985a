"""HubSpot and Follow Up Boss as CRM connectors against the fake vendors over loopback HTTP: a client
read (names, preferences, tags, custom properties typed as the CRM declares them, recent history,
an unknown client), activity write-back (what the CRM stores, per-record failures, batch limits,
exactly once: a HubSpot batch written twice keeps one note per activity; a Follow Up Boss note whose
answer was lost is found again by its marker), and faults (a server error, a throttle's wait, a
lost answer as an unknown outcome)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from infra.local.fakes.vendors import FakeVendorServer
from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.errors import ValidationFailed
from tidings.core.http import default_http_client
from tidings.integrations.connectors.base import ConnectorCredentials, ConnectorError
from tidings.integrations.connectors.crm import ActivityWrite, CrmConnector
from tidings.integrations.connectors.followupboss import FollowUpBossConnector
from tidings.integrations.connectors.hubspot import HubSpotConnector
from tidings.models.calls import CallRecord
from tidings.models.crm import ClientPreferences

CLIENT_TIMEOUT = 0.5  # seconds; the fake holds a `timeout` fault for longer
HUBSPOT_TOKEN = "pat-na1-canary-crm-7d21-hubspot"
FUB_KEY = "fka_canaryCrmFollowUpBossKey88"
SYSTEM_NAME, SYSTEM_KEY = "TidingsCrmTests", "canary-crm-system-key-31"
SECRETS = (HUBSPOT_TOKEN, FUB_KEY, SYSTEM_KEY)
HUBSPOT = ConnectorCredentials({}, {"accessToken": HUBSPOT_TOKEN})
FUB = ConnectorCredentials({}, {"apiKey": FUB_KEY})
WHEN = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)

ANN = {
    "id": "501",
    "firstName": "Ann",
    "lastName": "Lee",
    "email": "ann@harbour.example",
    "phone": "+15550100501",
    "lifecycleStage": "lead",
    "properties": {
        "hs_language": "es",
        "hs_timezone": "america_slash_los_angeles",
        "communication_style": "Formal",
        "preferred_contact_method": "SMS",
        "tags": ["buyer", "waterfront"],
        "budget": 450000,
        "pre_approved": True,
        "neighborhood": "Ballard",
        "city": "Seattle",
        "hs_analytics_source": "ORGANIC_SEARCH",
    },
}
BEN = {
    "id": "502",
    "firstName": "Ben",
    "email": "ben@harbour.example",
    "properties": {
        "mobilephone": "+15550100999",
        "communication_style": "chatty",
        "hs_timezone": "mars_slash_olympus",
        "tone": "casual",
        "labels": "seller; investor",
    },
}
CARA = {
    "id": "77",
    "firstName": "Cara",
    "lastName": "Diaz",
    "email": "cara@harbour.example",
    "phone": "+15550100077",
    "stage": "Hot Prospect",
    "source": "Zillow",
    "tags": ["relocating"],
    "properties": {
        "customCommunicationStyle": "casual",
        "customLanguage": "en-US",
        "customContactMethod": "Phone",
        "customTimezone": "america/chicago",
        "customBudget": 625000,
        "customMoveDate": "2026-06-01",
        "customNotes": "",
        "price": 640000,
    },
}


# -- fixtures ----------------------------------------------------------------------------------------


class Faults:
    """Adds a fault to the fake just before a request whose path ends with `suffix` goes out (an
    httpx request hook), so a fault can hit the second call of a write rather than the first."""

    def __init__(self, fake: FakeVendorServer) -> None:
        self.fake = fake
        self.armed: list[tuple[str, str, str]] = []

    def on(self, suffix: str, provider: str, kind: str) -> None:
        self.armed.append((suffix, provider, kind))

    def __call__(self, request: httpx.Request) -> None:
        for armed in list(self.armed):
            suffix, provider, kind = armed
            if request.url.path.endswith(suffix):
                self.armed.remove(armed)
                self.fake.add_fault(provider, kind)


@pytest.fixture
def fake() -> Iterator[FakeVendorServer]:
    with FakeVendorServer(hold_seconds=2.0, retry_after=7) as server:
        server.register_hubspot(HUBSPOT_TOKEN, "7300042")
        server.register_followupboss(FUB_KEY, domain="harbourrealty")
        server.add_contacts("hubspot", [ANN, BEN])
        server.add_contacts("followupboss", [CARA])
        yield server


@pytest.fixture
def settings(fake: FakeVendorServer) -> Settings:
    return Settings.from_env(
        {
            **fake.client_env(),
            "TIDINGS_HTTP_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT),
            "TIDINGS_FOLLOWUPBOSS_SYSTEM_NAME": SYSTEM_NAME,
            "TIDINGS_FOLLOWUPBOSS_SYSTEM_KEY": SYSTEM_KEY,
        }
    )


@pytest.fixture
def faults(fake: FakeVendorServer) -> Faults:
    return Faults(fake)


@pytest.fixture
def http(settings: Settings, faults: Faults) -> Iterator[httpx.Client]:
    client = default_http_client(settings)
    client.event_hooks["request"] = [faults]
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def hubspot(settings: Settings, http: httpx.Client) -> HubSpotConnector:
    return HubSpotConnector(settings, http)


@pytest.fixture
def fub(settings: Settings, http: httpx.Client) -> FollowUpBossConnector:
    return FollowUpBossConnector(settings, http)


@pytest.fixture
def own(fake: FakeVendorServer) -> Iterator[httpx.Client]:
    """A plain client for the fake's HubSpot and Follow Up Boss APIs, to look at what they keep."""
    with httpx.Client(base_url=fake.url) as client:
        yield client


class Calls:
    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def __call__(self, record: CallRecord) -> None:
        self.records.append(record)

    @property
    def operations(self) -> list[str]:
        return [r.operation for r in self.records]


def activity(n: int, client_id: str = "501", **changes: Any) -> ActivityWrite:
    values: dict[str, Any] = {
        "activity_id": f"act-{n:04d}",
        "client_id": client_id,
        "type": "email_sent",
        "description": f"Sent the Ballard listing #{n} <with a link>",
        "timestamp": WHEN + timedelta(minutes=n),
        "metadata": {"subject": "New listing", "opens": n},
    }
    values.update(changes)
    return ActivityWrite(**values)


def error_of(action: Callable[[], object]) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        action()
    for secret in SECRETS:
        assert secret not in str(caught.value)
    return caught.value


def hubspot_get(own: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    response = own.get(f"/hubspot{path}", params=params, headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def received(fake: FakeVendorServer, provider: str, kind: str) -> list[str]:
    return [r.key for r in fake.received(provider) if r.kind == kind]


def test_both_are_crm_connectors_with_their_write_shape(
    hubspot: HubSpotConnector, fub: FollowUpBossConnector
) -> None:
    assert isinstance(hubspot, CrmConnector)
    assert isinstance(fub, CrmConnector)
    assert (hubspot.batch_max, hubspot.idempotent_writes) == (100, True)
    assert (fub.batch_max, fub.idempotent_writes) == (1, False)


# -- HubSpot: reading a client -------------------------------------------------------------------


def test_hubspot_reads_a_contact_with_preferences_tags_and_typed_custom_properties(
    hubspot: HubSpotConnector,
) -> None:
    calls = Calls()

    record = hubspot.read_client(HUBSPOT, "501", calls)

    assert (record.id, record.provider, record.full_name) == ("501", "hubspot", "Ann Lee")
    assert (record.email, record.phone) == ("ann@harbour.example", "+15550100501")
    assert record.preferences == ClientPreferences(
        communication_style="formal", language="es", contact_method="sms", timezone="America/Los_Angeles"
    )
    assert record.tags == ("buyer", "waterfront")
    # A number property arrives as a number and a checkbox as a bool, though HubSpot sends text.
    assert record.properties["budget"] == 450000
    assert record.properties["pre_approved"] is True
    assert record.properties["neighborhood"] == "Ballard"
    assert record.properties["city"] == "Seattle"
    assert record.properties["lifecyclestage"] == "lead"
    # Mapped properties are not repeated, and a HubSpot-defined one is only read when asked for.
    for mapped in ("firstname", "email", "hs_language", "communication_style", "tags", "hs_object_id"):
        assert mapped not in record.properties
    assert "hs_analytics_source" not in record.properties
    assert record.history == ()
    assert calls.operations == ["properties.contacts", "contacts.read", "contacts.notes"]
    assert all(r.ok for r in calls.records)


def test_hubspot_settings_name_the_preference_tag_and_extra_properties(hubspot: HubSpotConnector) -> None:
    creds = ConnectorCredentials(
        {
            "communicationStyleProperty": "tone",
            "tagsProperty": "labels",
            "extraProperties": "hs_analytics_source, website",
        },
        HUBSPOT.secrets,
    )

    ann = hubspot.read_client(creds, "501", Calls())
    ben = hubspot.read_client(creds, "502", Calls())

    assert ann.properties["hs_analytics_source"] == "ORGANIC_SEARCH"
    assert ann.properties["communication_style"] == "Formal"  # no longer the style property
    assert (ben.preferences.communication_style, ben.tags) == ("casual", ("seller", "investor"))


def test_hubspot_takes_the_mobile_phone_and_leaves_out_unknown_preference_values(
    hubspot: HubSpotConnector,
) -> None:
    record = hubspot.read_client(HUBSPOT, "502", Calls())

    assert record.phone == "+15550100999"
    assert "mobilephone" not in record.properties
    assert (record.preferences.communication_style, record.preferences.timezone) == (None, None)
    assert (record.last_name, record.tags) == (None, ())


def test_hubspot_reads_property_definitions_once_an_hour(settings: Settings, http: httpx.Client) -> None:
    clock = FakeClock(WHEN)
    connector = HubSpotConnector(settings, http, clock)
    calls = Calls()

    connector.read_client(HUBSPOT, "501", calls)
    connector.read_client(HUBSPOT, "502", calls)
    clock.advance(timedelta(minutes=61))
    connector.read_client(HUBSPOT, "501", calls)

    assert calls.operations.count("properties.contacts") == 2
    assert calls.operations.count("contacts.read") == 3


def test_hubspot_an_unknown_contact_is_not_found(hubspot: HubSpotConnector) -> None:
    calls = Calls()

    error = error_of(lambda: hubspot.read_client(HUBSPOT, "999", calls))

    assert (error.code, error.status, error.retryable) == ("not_found", 404, False)
    assert [(r.operation, r.status, r.ok) for r in calls.records][-1] == ("contacts.read", 404, False)


def test_hubspot_a_client_id_cannot_reach_another_path(hubspot: HubSpotConnector) -> None:
    error = error_of(lambda: hubspot.read_client(HUBSPOT, "../../account-info/v3/details", Calls()))

    assert error.code == "not_found"


def test_hubspot_history_is_the_ten_newest_notes_without_markup(hubspot: HubSpotConnector) -> None:
    hubspot.write_activities(HUBSPOT, [activity(n) for n in range(12)], Calls())

    history = hubspot.read_client(HUBSPOT, "501", Calls()).history

    assert len(history) == 10
    assert [h.at for h in history] == [WHEN + timedelta(minutes=n) for n in range(11, 1, -1)]
    newest = history[0]
    assert newest.type == "note"
    assert newest.description.splitlines() == [
        "Email sent",
        "Sent the Ballard listing #11 <with a link>",
        "subject: New listing",
        "opens: 11",
    ]


# -- HubSpot: writing activities -----------------------------------------------------------------


def test_hubspot_writes_each_activity_as_a_note_on_its_contact(
    hubspot: HubSpotConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    calls = Calls()

    results = hubspot.write_activities(HUBSPOT, [activity(1), activity(2, client_id="502")], calls)

    assert [(r.activity_id, r.ok) for r in results] == [("act-0001", True), ("act-0002", True)]
    note = hubspot_get(
        own,
        f"/crm/v3/objects/notes/{results[0].crm_id}",
        properties="hs_timestamp,hs_note_body,tidings_activity_id",
    )
    props = note["properties"]
    assert props["tidings_activity_id"] == "act-0001"
    assert props["hs_timestamp"] == "2026-03-02T15:31:00.000Z"
    assert "Sent the Ballard listing #1 &lt;with a link&gt;" in props["hs_note_body"]
    assert "<li>opens: 1</li>" in props["hs_note_body"]
    assert props["hs_note_body"].endswith("<p>Tidings activity act-0001</p>")
    linked = hubspot_get(own, "/crm/v4/objects/contacts/502/associations/notes")["results"]
    assert [str(r["toObjectId"]) for r in linked] == [results[1].crm_id]
    assert linked[0]["associationTypes"][0]["typeId"] == 201
    assert received(fake, "hubspot", "note") == [results[0].crm_id, results[1].crm_id]
    assert calls.operations == ["contacts.batch.read", "notes.upsert", "notes.associate"]


def test_hubspot_writing_the_same_activities_twice_keeps_one_note_each(
    hubspot: HubSpotConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    batch = [activity(n) for n in range(5)]

    first = hubspot.write_activities(HUBSPOT, batch, Calls())
    again = hubspot.write_activities(HUBSPOT, batch, Calls())

    assert [r.crm_id for r in again] == [r.crm_id for r in first]
    assert all(r.ok for r in first + again)
    assert len(received(fake, "hubspot", "note")) == 5
    assert len(received(fake, "hubspot", "association")) == 5
    linked = hubspot_get(own, "/crm/v4/objects/contacts/501/associations/notes")["results"]
    assert len(linked) == 5


def test_hubspot_an_activity_given_twice_in_a_batch_is_one_note(
    hubspot: HubSpotConnector, fake: FakeVendorServer
) -> None:
    results = hubspot.write_activities(HUBSPOT, [activity(1), activity(2), activity(1)], Calls())

    assert [(r.activity_id, r.ok) for r in results] == [
        ("act-0001", True),
        ("act-0002", True),
        ("act-0001", True),
    ]
    assert results[0].crm_id == results[2].crm_id
    assert len(received(fake, "hubspot", "note")) == 2


def test_hubspot_an_activity_for_an_unknown_contact_fails_alone(
    hubspot: HubSpotConnector, fake: FakeVendorServer
) -> None:
    results = hubspot.write_activities(
        HUBSPOT, [activity(1), activity(2, client_id="9999"), activity(3)], Calls()
    )

    assert [r.ok for r in results] == [True, False, True]
    failed = results[1].error
    assert failed is not None
    assert (failed.code, failed.retryable) == ("not_found", False)
    assert "9999" in failed.message
    assert len(received(fake, "hubspot", "note")) == 2  # no note is left behind for it


def test_hubspot_a_write_carries_at_most_100_activities(
    hubspot: HubSpotConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    calls = Calls()

    with pytest.raises(ValueError, match="at most 100"):
        hubspot.write_activities(HUBSPOT, [activity(n) for n in range(101)], calls)

    assert calls.records == []
    inputs = [
        {"idProperty": "tidings_activity_id", "id": f"x{n}", "properties": {"hs_timestamp": "0"}}
        for n in range(101)
    ]
    refused = own.post(
        "/hubspot/crm/v3/objects/notes/batch/upsert",
        json={"inputs": inputs},
        headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"},
    )
    assert (refused.status_code, refused.json()["category"]) == (400, "VALIDATION_ERROR")
    assert received(fake, "hubspot", "note") == []


def test_hubspot_without_the_unique_note_property_the_write_fails_as_settings(
    hubspot: HubSpotConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    archived = own.delete(
        "/hubspot/crm/v3/properties/notes/tidings_activity_id",
        headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"},
    )
    assert archived.status_code == 204

    error = error_of(lambda: hubspot.write_activities(HUBSPOT, [activity(1)], Calls()))

    assert (error.code, error.retryable) == ("invalid_settings", False)
    assert "tidings_activity_id" in error.message
    assert "unique" in error.message
    assert received(fake, "hubspot", "note") == []


def test_hubspot_bad_property_settings_are_refused_before_an_integration_is_kept(
    hubspot: HubSpotConnector,
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        hubspot.validate_credentials(
            ConnectorCredentials({"activityIdProperty": "id; drop"}, HUBSPOT.secrets)
        )

    assert (caught.value.code, caught.value.details["field"]) == (
        "invalid_credentials",
        "credentials.activityIdProperty",
    )
    with pytest.raises(ValidationFailed):
        hubspot.validate_credentials(
            ConnectorCredentials({"extraProperties": "budget, 9lives"}, HUBSPOT.secrets)
        )
    hubspot.validate_credentials(
        ConnectorCredentials({"extraProperties": "budget, hs_lead_status"}, HUBSPOT.secrets)
    )


def test_hubspot_find_written_names_the_notes_it_holds(hubspot: HubSpotConnector) -> None:
    written = hubspot.write_activities(HUBSPOT, [activity(1), activity(2)], Calls())
    calls = Calls()

    found = hubspot.find_written(HUBSPOT, [activity(1), activity(2), activity(3)], calls)

    assert found == {"act-0001": written[0].crm_id, "act-0002": written[1].crm_id}
    assert calls.operations == ["notes.search"]


# -- HubSpot: faults -----------------------------------------------------------------------------


def test_hubspot_a_lost_upsert_answer_is_an_unknown_outcome_and_writing_again_adds_nothing(
    hubspot: HubSpotConnector, fake: FakeVendorServer, faults: Faults
) -> None:
    batch = [activity(n) for n in range(3)]
    faults.on("/notes/batch/upsert", "hubspot", "lost_response")

    error = error_of(lambda: hubspot.write_activities(HUBSPOT, batch, Calls()))

    assert (error.code, error.outcome_unknown, error.retryable) == ("unreachable", True, True)
    assert len(received(fake, "hubspot", "note")) == 3  # HubSpot stored them; the answer was lost
    assert set(hubspot.find_written(HUBSPOT, batch, Calls()) or {}) == {"act-0000", "act-0001", "act-0002"}
    results = hubspot.write_activities(HUBSPOT, batch, Calls())
    assert all(r.ok for r in results)
    assert len(received(fake, "hubspot", "note")) == 3
    assert len(received(fake, "hubspot", "association")) == 3


def test_hubspot_a_timed_out_association_is_an_unknown_outcome(
    hubspot: HubSpotConnector, faults: Faults
) -> None:
    faults.on("/notes/contacts/batch/create", "hubspot", "timeout")

    error = error_of(lambda: hubspot.write_activities(HUBSPOT, [activity(1)], Calls()))

    assert (error.code, error.outcome_unknown) == ("unreachable", True)


def test_hubspot_a_lost_read_answer_is_unreachable_but_not_unknown(
    hubspot: HubSpotConnector, fake: FakeVendorServer
) -> None:
    fake.add_fault("hubspot", "lost_response")

    error = error_of(lambda: hubspot.write_activities(HUBSPOT, [activity(1)], Calls()))

    assert (error.code, error.outcome_unknown) == ("unreachable", False)
    assert received(fake, "hubspot", "note") == []


@pytest.mark.parametrize(
    ("kind", "code", "status", "retry_after"),
    [("error500", "unreachable", 500, None), ("rate_limit", "rate_limited", 429, 10.0)],
)
def test_hubspot_server_errors_and_throttles_fail_the_whole_write(
    hubspot: HubSpotConnector,
    fake: FakeVendorServer,
    faults: Faults,
    kind: str,
    code: str,
    status: int,
    retry_after: float | None,
) -> None:
    faults.on("/notes/batch/upsert", "hubspot", kind)

    error = error_of(lambda: hubspot.write_activities(HUBSPOT, [activity(1)], Calls()))

    # HubSpot's 429 names its ten-second rolling window rather than sending Retry-After.
    assert (error.code, error.status, error.retry_after, error.outcome_unknown) == (
        code,
        status,
        retry_after,
        False,
    )
    assert received(fake, "hubspot", "note") == []


# -- Follow Up Boss: reading a client ------------------------------------------------------------


def test_followupboss_reads_a_person_with_custom_fields_preferences_and_tags(
    fub: FollowUpBossConnector, fake: FakeVendorServer
) -> None:
    calls = Calls()

    record = fub.read_client(FUB, "77", calls)

    assert (record.id, record.provider, record.full_name) == ("77", "followupboss", "Cara Diaz")
    assert (record.email, record.phone, record.tags) == (
        "cara@harbour.example",
        "+15550100077",
        ("relocating",),
    )
    assert record.preferences == ClientPreferences(
        communication_style="casual", language="en-US", contact_method="phone", timezone="America/Chicago"
    )
    assert record.properties["customBudget"] == 625000
    assert record.properties["customMoveDate"] == "2026-06-01"
    assert (record.properties["stage"], record.properties["source"]) == ("Hot Prospect", "Zillow")
    assert record.properties["price"] == 640000
    assert "customNotes" not in record.properties  # empty
    assert "customLanguage" not in record.properties  # a preference
    assert calls.operations == ["customFields.list", "people.read", "notes.list", "events.list"]
    assert set(fake.systems()) == {SYSTEM_NAME}


def test_followupboss_settings_name_the_preference_fields(fub: FollowUpBossConnector) -> None:
    creds = ConnectorCredentials({"languageField": "customMoveDate"}, FUB.secrets)

    record = fub.read_client(creds, "77", Calls())

    assert record.preferences.language == "2026-06-01"
    assert record.properties["customLanguage"] == "en-US"


@pytest.mark.parametrize("client_id", ["78", "abc", "77/../identity"])
def test_followupboss_an_unknown_person_is_not_found(fub: FollowUpBossConnector, client_id: str) -> None:
    error = error_of(lambda: fub.read_client(FUB, client_id, Calls()))

    assert (error.code, error.retryable) == ("not_found", False)


def test_followupboss_history_is_notes_and_events_newest_first(
    fub: FollowUpBossConnector, own: httpx.Client
) -> None:
    event = {
        "type": "Viewed Property",
        "person": {"id": 77},
        "message": "Viewed 12 Elm St",
        "occurredAt": "2026-01-10T12:00:00Z",
    }
    assert own.post("/followupboss/v1/events", json=event, auth=(FUB_KEY, "")).status_code == 200
    for n in range(3):
        fub.write_activities(FUB, [activity(n, client_id="77", type="call")], Calls())

    history = fub.read_client(FUB, "77", Calls()).history

    assert [h.type for h in history] == ["note", "note", "note", "Viewed Property"]
    assert history[0].description.splitlines() == [
        "Call (Tidings)",
        "Sent the Ballard listing #2 <with a link>",
        "subject: New listing",
        "opens: 2",
    ]
    assert (history[-1].description, history[-1].at) == (
        "Viewed 12 Elm St",
        datetime(2026, 1, 10, 12, tzinfo=UTC),
    )


def test_followupboss_history_keeps_the_ten_newest(fub: FollowUpBossConnector) -> None:
    for n in range(12):
        fub.write_activities(FUB, [activity(n, client_id="77")], Calls())

    history = fub.read_client(FUB, "77", Calls()).history

    assert [h.description.splitlines()[1] for h in history] == [
        f"Sent the Ballard listing #{n} <with a link>" for n in range(11, 1, -1)
    ]


def test_followupboss_history_shows_events(fub: FollowUpBossConnector, own: httpx.Client) -> None:
    event = {
        "type": "Saved Property",
        "person": {"id": 77},
        "property": {"street": "12 Elm St", "city": "Austin"},
    }
    assert own.post("/followupboss/v1/events", json=event, auth=(FUB_KEY, "")).status_code == 200

    history = fub.read_client(FUB, "77", Calls()).history

    assert [(h.type, h.description) for h in history] == [("Saved Property", "12 Elm St, Austin")]


# -- Follow Up Boss: writing activities ----------------------------------------------------------


def test_followupboss_writes_an_activity_as_a_note_ending_with_its_marker(
    fub: FollowUpBossConnector, fake: FakeVendorServer, own: httpx.Client
) -> None:
    calls = Calls()

    (result,) = fub.write_activities(FUB, [activity(5, client_id="77", type="meeting")], calls)

    assert result.ok
    assert result.crm_id is not None
    note = own.get(f"/followupboss/v1/notes/{result.crm_id}", auth=(FUB_KEY, "")).json()
    assert (note["personId"], note["subject"], note["isHtml"]) == (77, "Meeting (Tidings)", False)
    assert note["body"].splitlines() == [
        "Sent the Ballard listing #5 <with a link>",
        "subject: New listing",
        "opens: 5",
        "",
        "Tidings activity act-0005",
    ]
    assert received(fake, "followupboss", "note") == [result.crm_id]
    assert [(r.operation, r.status) for r in calls.records] == [("notes.create", 201)]


def test_followupboss_an_activity_for_an_unknown_person_fails_alone(
    fub: FollowUpBossConnector, fake: FakeVendorServer
) -> None:
    (missing,) = fub.write_activities(FUB, [activity(1, client_id="78")], Calls())
    (not_a_person,) = fub.write_activities(FUB, [activity(2, client_id="ann@harbour.example")], Calls())

    assert missing.error is not None
    assert (missing.error.code, missing.error.status) == ("not_found", 404)
    assert not_a_person.error is not None
    assert not_a_person.error.code == "not_found"
    assert received(fake, "followupboss", "note") == []


def test_followupboss_writes_one_activity_a_call(fub: FollowUpBossConnector) -> None:
    with pytest.raises(ValueError, match="at most 1"):
        fub.write_activities(FUB, [activity(1, client_id="77"), activity(2, client_id="77")], Calls())


def test_followupboss_a_lost_answer_is_unknown_and_the_note_is_found_by_its_marker(
    fub: FollowUpBossConnector, fake: FakeVendorServer
) -> None:
    lost = activity(1, client_id="77")
    fub.write_activities(FUB, [activity(2, client_id="77")], Calls())
    fake.add_fault("followupboss", "lost_response")

    error = error_of(lambda: fub.write_activities(FUB, [lost], Calls()))
    found = fub.find_written(FUB, [lost, activity(3, client_id="77")], Calls())

    assert (error.code, error.outcome_unknown) == ("unreachable", True)
    stored = [r for r in fake.received("followupboss") if r.kind == "note"]
    assert len(stored) == 2
    held = next(r for r in stored if r.body["body"].endswith("Tidings activity act-0001"))
    assert found == {"act-0001": held.key}


def test_followupboss_a_timed_out_write_is_an_unknown_outcome(
    fub: FollowUpBossConnector, fake: FakeVendorServer
) -> None:
    fake.add_fault("followupboss", "timeout")

    error = error_of(lambda: fub.write_activities(FUB, [activity(1, client_id="77")], Calls()))

    assert (error.code, error.outcome_unknown) == ("unreachable", True)
    assert fub.find_written(FUB, [activity(1, client_id="77")], Calls()) == {}


def post_notes(own: httpx.Client, count: int) -> None:
    for n in range(count):
        note = {"personId": 77, "subject": "Call", "body": f"Left a voicemail {n}"}
        assert own.post("/followupboss/v1/notes", json=note, auth=(FUB_KEY, "")).status_code == 201


def test_followupboss_find_written_pages_back_through_the_persons_notes(
    fub: FollowUpBossConnector, own: httpx.Client
) -> None:
    (early,) = fub.write_activities(FUB, [activity(1, client_id="77")], Calls())
    post_notes(own, 120)
    calls = Calls()

    found = fub.find_written(FUB, [activity(1, client_id="77")], calls)

    assert found == {"act-0001": early.crm_id}
    assert calls.operations == ["notes.list", "notes.list"]


def test_followupboss_find_written_looks_no_further_back_than_eight_days(
    settings: Settings, http: httpx.Client, own: httpx.Client
) -> None:
    fub = FollowUpBossConnector(settings, http, FakeClock(datetime.now(UTC) + timedelta(days=9)))
    fub.write_activities(FUB, [activity(1, client_id="77")], Calls())
    post_notes(own, 120)
    calls = Calls()

    found = fub.find_written(FUB, [activity(1, client_id="77")], calls)

    assert found == {}
    assert calls.operations == ["notes.list"]


@pytest.mark.parametrize(
    ("kind", "code", "status", "retry_after"),
    [("error500", "unreachable", 500, None), ("rate_limit", "rate_limited", 429, 7.0)],
)
def test_followupboss_server_errors_and_throttles_fail_the_write(
    fub: FollowUpBossConnector,
    fake: FakeVendorServer,
    kind: str,
    code: str,
    status: int,
    retry_after: float | None,
) -> None:
    fake.add_fault("followupboss", kind)

    error = error_of(lambda: fub.write_activities(FUB, [activity(1, client_id="77")], Calls()))

    assert (error.code, error.status, error.retry_after, error.outcome_unknown) == (
        code,
        status,
        retry_after,
        False,
    )
    assert received(fake, "followupboss", "note") == []


def test_followupboss_bad_field_settings_are_refused(fub: FollowUpBossConnector) -> None:
    with pytest.raises(ValidationFailed) as caught:
        fub.validate_credentials(ConnectorCredentials({"timezoneField": "custom Zone"}, FUB.secrets))

    assert caught.value.details["field"] == "credentials.timezoneField"
