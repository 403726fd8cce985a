"""What the HubSpot and Follow Up Boss CRM connectors share (preferences as Tidings keeps them, typed
values, tags, an activity as a note within the vendor's size, the marker line, the per-account cache)
and the answers the fakes never give, with canned HTTP answers: per-record errors of a HubSpot 207,
a token without the schema scope, Follow Up Boss' 504 and 400 on a note."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.integrations.connectors import crm_fields as fields
from tidings.integrations.connectors.base import ConnectorCredentials, ConnectorError
from tidings.integrations.connectors.crm import ActivityWrite
from tidings.integrations.connectors.followupboss import FollowUpBossConnector
from tidings.integrations.connectors.hubspot import HubSpotConnector
from tidings.models.calls import CallRecord

TOKEN = "pat-na1-unit-crm-canary"
SETTINGS = Settings(
    hubspot_api_base="https://hubspot.test",
    followupboss_api_base="https://fub.test",
    followupboss_system_name="Tidings",
    followupboss_system_key="unit-system-key",
)
HUBSPOT = ConnectorCredentials({}, {"accessToken": TOKEN})
FUB = ConnectorCredentials({}, {"apiKey": "fka_unitCrmKey"})
WHEN = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)

Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def ignore(record: CallRecord) -> None:
    return None


def activity(activity_id: str, client_id: str = "501", **changes: Any) -> ActivityWrite:
    values: dict[str, Any] = {
        "activity_id": activity_id,
        "client_id": client_id,
        "type": "property_view",
        "description": "Viewed 12 Elm St",
        "timestamp": WHEN,
        "metadata": {"listing": "12 Elm St", "price": 450000, "photos": [1, 2]},
    }
    values.update(changes)
    return ActivityWrite(**values)


# -- preferences and values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        ("america_slash_new_york", "America/New_York"),
        ("america_slash_argentina_slash_buenos_aires", "America/Argentina/Buenos_Aires"),
        ("brazil_slash_denoronha", "Brazil/DeNoronha"),
        ("us_slash_central", "US/Central"),
        ("Europe/Lisbon", "Europe/Lisbon"),
        ("europe/lisbon", "Europe/Lisbon"),
        ("mars_slash_olympus", None),
        ("", None),
        (None, None),
        (["Europe/Lisbon"], None),
    ],
)
def test_time_zones_are_iana_names_whatever_the_crm_spelling(value: Any, zone: str | None) -> None:
    assert fields.iana_zone(value) == zone


@pytest.mark.parametrize(
    ("value", "style"),
    [("Formal", "formal"), (" CASUAL ", "casual"), ("chatty", None), (None, None), (1, None)],
)
def test_only_formal_and_casual_are_communication_styles(value: Any, style: str | None) -> None:
    assert fields.communication_style(value) == style


@pytest.mark.parametrize(
    ("value", "kind", "typed"),
    [
        ("450000", "number", 450000),
        ("12.5", "number", 12.5),
        ("-3", "number", -3),
        ("1e3", "number", 1000),
        ("4.5.1", "number", "4.5.1"),
        ("", "number", ""),
        ("450000", "string", "450000"),
        ("true", "bool", True),
        ("FALSE", "booleancheckbox", False),
        ("yes", "bool", "yes"),
        (7, "number", 7),
    ],
)
def test_values_take_the_type_the_crm_declares(value: Any, kind: str, typed: Any) -> None:
    result = fields.typed_value(value, kind)

    assert result == typed
    assert type(result) is type(typed)


@pytest.mark.parametrize(
    ("value", "tags"),
    [
        ("buyer;waterfront", ("buyer", "waterfront")),
        ("buyer, vip; buyer", ("buyer", "vip")),
        (["a", " b ", ""], ("a", "b")),
        (None, ()),
        ("", ()),
    ],
)
def test_tags_split_on_semicolons_and_commas_once_each(value: Any, tags: tuple[str, ...]) -> None:
    assert fields.split_tags(value) == tags


def test_property_settings_must_be_property_names() -> None:
    creds = ConnectorCredentials({"a": "budget_2", "b": "2budget", "c": " hs_x , hs_x,hs_y "}, {})

    assert fields.named_setting(creds, "a", "x") == "budget_2"
    assert fields.named_setting(creds, "missing", "fallback_name") == "fallback_name"
    with pytest.raises(ConnectorError) as caught:
        fields.named_setting(creds, "b", "x")
    assert caught.value.code == "invalid_settings"
    assert fields.named_settings_list(creds, "c") == ("hs_x", "hs_y")


# -- an activity as a note -------------------------------------------------------------------------


def test_a_note_text_ends_with_the_marker_within_its_limit() -> None:
    long = activity("act-9", description="x" * 5_000)

    text = fields.note_text(long, limit=1_000)

    assert len(text) <= 1_000
    assert text.endswith("\n\nTidings activity act-9")
    assert "photos: [1,2]" in text
    assert "…" in text
    assert fields.marked_activity(text, markup=False) == "act-9"


def test_a_note_html_escapes_the_activity_and_keeps_within_its_limit() -> None:
    risky = activity("act-7", description="<script>alert(1)</script> & " * 4_000)

    body = fields.note_html(risky, limit=65_536)

    assert len(body) <= 65_536
    assert "<script>" not in body
    assert body.startswith("<p><strong>Property viewed</strong></p>")
    assert body.endswith("<p>Tidings activity act-7</p>")
    assert fields.marked_activity(body, markup=True) == "act-7"


def test_the_marker_must_be_the_last_line_of_a_note() -> None:
    quoted = "Tidings activity act-1\nSomeone pasted an old note above"

    assert fields.marked_activity(quoted, markup=False) is None
    assert fields.marked_activity("", markup=False) is None
    assert fields.without_marker("Hello\n\nTidings activity act-1", markup=False) == "Hello"
    assert fields.without_marker("<p>Hi <b>there</b></p><p>Tidings activity a</p>", markup=True) == "Hi there"
    # Plain text is not read as HTML: angle brackets stay.
    assert fields.without_marker("Price <500k>", markup=False) == "Price <500k>"


def test_the_per_account_cache_expires_evicts_and_never_keeps_the_secret() -> None:
    clock = FakeClock(WHEN)
    cache: fields.PerAccountCache[int] = fields.PerAccountCache(clock, timedelta(minutes=5), size=2)

    cache.put("secret-one", 1)
    cache.put("secret-two", 2)
    assert (cache.get("secret-one"), cache.get("secret-two")) == (1, 2)
    cache.put("secret-three", 3)  # the oldest goes
    assert (cache.get("secret-one"), cache.get("secret-three")) == (None, 3)
    assert not any("secret" in key for key in cache._entries)
    clock.advance(timedelta(minutes=5))
    assert cache.get("secret-three") is None


# -- HubSpot answers the fake never gives ----------------------------------------------------------


def hubspot_answers(
    upsert: dict[str, Any], upsert_status: int, associate: dict[str, Any], status: int
) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/contacts/batch/read"):
            ids = [i["id"] for i in json.loads(request.content)["inputs"]]
            return httpx.Response(200, json={"status": "COMPLETE", "results": [{"id": i} for i in ids]})
        if path.endswith("/notes/batch/upsert"):
            return httpx.Response(upsert_status, json=upsert)
        if path.endswith("/notes/contacts/batch/create"):
            return httpx.Response(status, json=associate)
        return httpx.Response(
            404, json={"status": "error", "message": "no route", "category": "OBJECT_NOT_FOUND"}
        )

    return handle


def test_hubspot_reads_per_record_errors_of_a_multi_status_upsert_and_association() -> None:
    upsert = {
        "status": "COMPLETE",
        "results": [
            {"id": "11", "properties": {"tidings_activity_id": "a1"}, "new": True},
            {"id": "12", "properties": {}, "objectWriteTraceId": "a2", "new": True},
        ],
        "errors": [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "hs_note_body is too long",
                "objectWriteTraceId": "a3",
            }
        ],
    }
    associate = {
        "status": "COMPLETE",
        "results": [{"fromObjectId": 11, "toObjectId": 501, "labels": []}],
        "errors": [
            {
                "status": "error",
                "category": "RATE_LIMITS",
                "message": "slow down",
                "context": {"fromObjectId": ["12"]},
            }
        ],
    }
    connector = HubSpotConnector(SETTINGS, client(hubspot_answers(upsert, 207, associate, 207)))

    results = connector.write_activities(
        HUBSPOT, [activity("a1"), activity("a2"), activity("a3"), activity("a4")], ignore
    )

    assert [(r.activity_id, r.crm_id, r.error.code if r.error else None) for r in results] == [
        ("a1", "11", None),
        ("a2", "12", "rate_limited"),  # stored but not yet linked: writing again completes it
        ("a3", None, "invalid_request"),
        ("a4", None, "unexpected_response"),
    ]


def test_hubspot_reads_a_contact_without_definitions_when_the_token_lacks_the_schema_scope() -> None:
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == "/crm/v3/properties/contacts":
            return httpx.Response(
                403, json={"status": "error", "message": "missing scopes", "category": "MISSING_SCOPES"}
            )
        if request.url.path == "/crm/v3/objects/contacts/501":
            return httpx.Response(
                200, json={"id": "501", "properties": {"firstname": "Ann", "budget": "450000"}}
            )
        return httpx.Response(200, json={"results": []})

    connector = HubSpotConnector(SETTINGS, client(handle))
    creds = ConnectorCredentials({"extraProperties": "budget"}, HUBSPOT.secrets)

    first = connector.read_client(creds, "501", ignore)
    connector.read_client(creds, "501", ignore)

    assert (first.first_name, first.properties["budget"]) == ("Ann", "450000")
    assert asked.count("/crm/v3/properties/contacts") == 1


def test_hubspot_a_long_property_list_is_read_by_post() -> None:
    definitions = {"results": [{"name": f"custom_property_{n:03d}", "type": "number"} for n in range(150)]}
    seen: list[tuple[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        if request.url.path == "/crm/v3/properties/contacts":
            return httpx.Response(200, json=definitions)
        if request.url.path == "/crm/v3/objects/contacts/batch/read":
            body = json.loads(request.content)
            assert len(body["properties"]) > 150
            return httpx.Response(
                200, json={"results": [{"id": "501", "properties": {"custom_property_007": "7"}}]}
            )
        return httpx.Response(200, json={"results": []})

    record = HubSpotConnector(SETTINGS, client(handle)).read_client(HUBSPOT, "501", ignore)

    assert record.properties == {"custom_property_007": 7}
    assert ("POST", "/crm/v3/objects/contacts/batch/read") in seen


# -- Follow Up Boss answers the fake never gives ---------------------------------------------------


def fub_answering(status: int) -> FollowUpBossConnector:
    answer = httpx.Response(status, json={"errorMessage": "upstream trouble"})
    return FollowUpBossConnector(SETTINGS, client(lambda request: answer))


def test_followupboss_a_gateway_timeout_may_have_stored_the_note() -> None:
    with pytest.raises(ConnectorError) as caught:
        fub_answering(504).write_activities(FUB, [activity("a1", client_id="77")], ignore)

    assert (caught.value.code, caught.value.outcome_unknown, caught.value.retryable) == (
        "unreachable",
        True,
        True,
    )


@pytest.mark.parametrize("status", [400, 422])
def test_followupboss_a_refused_note_fails_alone_as_invalid(status: int) -> None:
    (result,) = fub_answering(status).write_activities(FUB, [activity("a1", client_id="77")], ignore)

    assert result.error is not None
    assert (result.error.code, result.error.status, result.error.outcome_unknown) == (
        "invalid_request",
        status,
        False,
    )
