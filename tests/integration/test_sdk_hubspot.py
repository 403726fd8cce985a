"""The fake HubSpot through hubspot-api-client (12.0), HubSpot's official Python SDK, pointed at the
fake with its `host` setting: the contacts list (properties sent as repeated query parameters), a
contact by id (with its custom properties), batch read, search with filters, sorts and paging,
`get_all`, notes upserted by a unique property, created (a held unique value refused), searched and
associated to a contact through the associations v4 API, and errors as the SDK's exceptions. (The
SDK has no account-info API; our own connector's account details call is covered in
test_vendor_connectors.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import hubspot
import pytest
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiPost,
    PublicAssociationMultiPost,
    PublicObjectId,
)
from hubspot.crm.contacts import (
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
)
from hubspot.crm.contacts.exceptions import ApiException, NotFoundException
from hubspot.crm.objects.notes import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.objects.notes import PublicObjectSearchRequest as NoteSearchRequest
from hubspot.crm.objects.notes.exceptions import ApiException as NotesApiException

from infra.local.fakes.vendors import FakeVendorServer

TOKEN = "pat-na1-fake"
PROPERTIES = ["firstname", "lastname", "email", "phone", "lifecyclestage"]
BASE = datetime(2026, 3, 1, tzinfo=UTC)


def _contact(n: int) -> dict[str, object]:
    return {
        "id": str(100 + n),
        "firstName": f"Ann{n}",
        "lastName": "Agent",
        "email": f"ann{n}@example.com",
        "phone": f"+1555000{n:04d}",
        "lifecycleStage": "lead" if n % 2 else "customer",
        "createdAt": BASE.isoformat(),
        "updatedAt": (BASE + timedelta(hours=n)).isoformat(),
        "properties": {"budget": 450000 + n, "hs_language": "es"} if n == 3 else {},
    }


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeVendorServer]:
    with FakeVendorServer(hold_seconds=1.0) as server:
        server.register_hubspot(TOKEN, "4411")
        server.add_contacts("hubspot", [_contact(n) for n in range(5)])
        yield server


def client_for(fake: FakeVendorServer, token: str = TOKEN) -> hubspot.Client:
    return hubspot.Client.create(access_token=token, host=f"{fake.url}/hubspot")


@pytest.fixture
def client(fake: FakeVendorServer) -> hubspot.Client:
    return client_for(fake)


def test_get_page_returns_every_property_asked_for(client: hubspot.Client) -> None:
    page = client.crm.contacts.basic_api.get_page(limit=2, properties=PROPERTIES)

    assert [c.id for c in page.results] == ["100", "101"]
    first = page.results[0]
    assert {k: first.properties[k] for k in PROPERTIES} == {
        "firstname": "Ann0",
        "lastname": "Agent",
        "email": "ann0@example.com",
        "phone": "+15550000000",
        "lifecyclestage": "customer",
    }
    assert first.created_at == BASE
    assert first.archived is False
    assert page.paging.next.after == "102"


def test_get_all_follows_the_paging_cursor(client: hubspot.Client, fake: FakeVendorServer) -> None:
    fake.clear_calls()

    everyone = client.crm.contacts.get_all(properties=["email"])

    assert [c.properties["email"] for c in everyone] == [f"ann{n}@example.com" for n in range(5)]
    assert fake.calls()["hubspot.contacts.list"] >= 1


def test_a_contact_is_read_by_id_or_by_email(client: hubspot.Client) -> None:
    by_id = client.crm.contacts.basic_api.get_by_id("103", properties=["email", "lifecyclestage"])
    by_email = client.crm.contacts.basic_api.get_by_id("ann3@example.com", id_property="email")

    assert by_id.properties["email"] == "ann3@example.com"
    assert by_id.properties["lifecyclestage"] == "lead"
    assert by_email.id == "103"


def test_an_unknown_contact_is_not_found(client: hubspot.Client) -> None:
    with pytest.raises(NotFoundException) as raised:
        client.crm.contacts.basic_api.get_by_id("999")

    assert json.loads(raised.value.body)["category"] == "OBJECT_NOT_FOUND"


def test_batch_read_returns_the_contacts_asked_for(client: hubspot.Client) -> None:
    request = BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id="101"), SimplePublicObjectId(id="104")],
        properties=["firstname"],
        properties_with_history=[],
    )

    answer = client.crm.contacts.batch_api.read(batch_read_input_simple_public_object_id=request)

    assert answer.status == "COMPLETE"
    assert sorted((c.id, c.properties["firstname"]) for c in answer.results) == [
        ("101", "Ann1"),
        ("104", "Ann4"),
    ]


def test_search_filters_sorts_and_pages(client: hubspot.Client) -> None:
    since = int((BASE + timedelta(hours=1)).timestamp() * 1000)
    request = PublicObjectSearchRequest(
        filter_groups=[
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since)}]}
        ],
        sorts=[{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
        properties=["email", "lastmodifieddate"],
        limit=3,
    )

    first = client.crm.contacts.search_api.do_search(public_object_search_request=request)
    request.after = first.paging.next.after
    second = client.crm.contacts.search_api.do_search(public_object_search_request=request)

    assert first.total == 4
    assert [c.id for c in first.results] == ["104", "103", "102"]
    assert [c.id for c in second.results] == ["101"]
    assert second.paging is None


def test_a_bad_token_raises_the_sdks_401(fake: FakeVendorServer) -> None:
    with pytest.raises(ApiException) as raised:
        client_for(fake, "pat-na1-wrong").crm.contacts.basic_api.get_page(limit=1)

    assert raised.value.status == 401
    assert json.loads(raised.value.body)["category"] == "INVALID_AUTHENTICATION"
    assert raised.value.headers["X-HubSpot-RateLimit-Max"] == "100"


def test_a_throttle_raises_429_with_hubspots_rate_limit_body(
    fake: FakeVendorServer, client: hubspot.Client
) -> None:
    fake.add_fault("hubspot", "rate_limit")

    with pytest.raises(ApiException) as raised:
        client.crm.contacts.basic_api.get_page(limit=1)

    assert raised.value.status == 429
    body = json.loads(raised.value.body)
    assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "TEN_SECONDLY_ROLLING")
    assert raised.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"


# -- notes and associations -------------------------------------------------------------------------


def _upsert(client: hubspot.Client, key: str, body: str) -> object:
    note = SimplePublicObjectBatchInputUpsert(
        id_property="tidings_activity_id",
        id=key,
        properties={"hs_timestamp": "2026-03-01T10:00:00Z", "hs_note_body": body},
    )
    batch = BatchInputSimplePublicObjectBatchInputUpsert(inputs=[note])
    return client.crm.objects.notes.batch_api.upsert(
        batch_input_simple_public_object_batch_input_upsert=batch
    )


def _associate(client: hubspot.Client, note_id: str, contact_id: str) -> object:
    link = PublicAssociationMultiPost(
        _from=PublicObjectId(id=note_id),
        to=PublicObjectId(id=contact_id),
        types=[AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=202)],
    )
    batch = BatchInputPublicAssociationMultiPost(inputs=[link])
    return client.crm.associations.v4.batch_api.create(
        "notes", "contacts", batch_input_public_association_multi_post=batch
    )


def test_a_contact_read_by_id_answers_its_custom_properties_as_text(client: hubspot.Client) -> None:
    contact = client.crm.contacts.basic_api.get_by_id("103", properties=["budget", "hs_language", "nothing"])

    assert contact.properties["budget"] == "450003"
    assert contact.properties["hs_language"] == "es"
    assert contact.properties.get("nothing") is None


def test_notes_upserted_twice_by_their_unique_property_are_one_note(
    client: hubspot.Client, fake: FakeVendorServer
) -> None:
    first = _upsert(client, "sdk-act-1", "<p>Called about the listing</p>")
    again = _upsert(client, "sdk-act-1", "<p>Called about the listing, again</p>")

    (created,) = first.results  # type: ignore[attr-defined]
    (updated,) = again.results  # type: ignore[attr-defined]
    assert (created.new, updated.new) == (True, False)
    assert created.id == updated.id
    assert updated.properties["hs_note_body"] == "<p>Called about the listing, again</p>"
    assert [r.key for r in fake.received("hubspot") if r.kind == "note"].count(created.id) == 1


def test_a_second_note_with_a_held_unique_value_is_refused_with_409(client: hubspot.Client) -> None:
    _upsert(client, "sdk-act-2", "first")
    note = SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": "2026-03-01T10:00:00Z", "tidings_activity_id": "sdk-act-2"},
        associations=[],
    )

    with pytest.raises(NotesApiException) as raised:
        client.crm.objects.notes.basic_api.create(simple_public_object_input_for_create=note)

    assert raised.value.status == 409
    assert json.loads(raised.value.body)["category"] == "CONFLICT"


def test_a_note_is_associated_to_a_contact_and_found_by_search(client: hubspot.Client) -> None:
    (note,) = _upsert(client, "sdk-act-3", "Met at the open house").results  # type: ignore[attr-defined]
    made: Any = _associate(client, note.id, "102")
    listed = client.crm.associations.v4.basic_api.get_page("contacts", "102", "notes", limit=500)
    search = NoteSearchRequest(
        filter_groups=[
            {"filters": [{"propertyName": "tidings_activity_id", "operator": "IN", "values": ["sdk-act-3"]}]}
        ],
        properties=["tidings_activity_id"],
        limit=10,
    )
    found = client.crm.objects.notes.search_api.do_search(public_object_search_request=search)

    assert [(str(r.from_object_id), str(r.to_object_id)) for r in made.results] == [(note.id, "102")]
    assert [str(r.to_object_id) for r in listed.results] == [note.id]
    assert [r.id for r in found.results] == [note.id]


def test_associating_a_note_to_an_unknown_contact_is_a_multi_status(client: hubspot.Client) -> None:
    (note,) = _upsert(client, "sdk-act-4", "x").results  # type: ignore[attr-defined]
    answer: Any = _associate(client, note.id, "999")

    assert answer.results == []
    assert answer.num_errors == 1
    assert answer.errors[0].context == {"toObjectId": ["999"]}
