"""The CRM routes through the API app (HTTP API v2 events, `handle`) with in-memory collaborators and a
fake CRM: clients through the cache, the cache's stats and clearing, the CRM settings, and every bad
input a 4xx with `{code, message, details}`."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, NoReturn
from urllib.parse import quote

import pytest
from api_events import call
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from crm_fakes import CrmWorld, FakeCrm, client, crm_world
from integration_fakes import NOW, USER, FakeConnector

from tidings.api.app import build_app
from tidings.api.crm import CrmServices
from tidings.crm.activities import ActivityLog
from tidings.crm.personalization import Personalization
from tidings.integrations.connectors.base import ConnectorError
from tidings.models.crm import ClientPreferences, HistoryEntry
from tidings.store.memory.activities import InMemoryPendingActivityRepository


def _no_scheduling() -> NoReturn:
    raise AssertionError("the CRM routes need no scheduling service")


class Api:
    def __init__(self) -> None:
        self.crm = FakeCrm(clients={"501": client("501")})
        self.world: CrmWorld = crm_world(
            self.crm, FakeCrm(provider="followupboss"), FakeConnector(type="analytics", provider="ga4")
        )
        w = self.world
        self.pending = InMemoryPendingActivityRepository()
        self.log = ActivityLog(self.pending, w.base.clock, daily_limit=5)
        services = CrmServices(
            clients=w.clients,
            settings=w.settings,
            cache=w.cache,
            activities=self.log,
            personalization=Personalization(w.clients, w.base.clock),
        )
        self.app: APIGatewayHttpResolver = build_app(_no_scheduling, crm=lambda: services)

    def __call__(
        self, method: str, path: str, body: Any = None, user: str = USER, **kw: Any
    ) -> tuple[int, Any]:
        raw = body if body is None or isinstance(body, str) else json.dumps(body)
        return call(self.app, method, path, body=raw, user=user, **kw)

    def later(self, seconds: float = 60) -> None:
        self.world.base.clock.advance(timedelta(seconds=seconds))


@pytest.fixture
def api() -> Api:
    return Api()


def get_client(api: Api, client_id: str, **kw: Any) -> tuple[int, Any]:
    raw = quote(client_id, safe="")
    return api("GET", f"/crm/clients/{raw}", path_parameters={"clientId": client_id}, **kw)


def test_a_client_as_tidings_sees_it_then_from_the_cache(api: Api) -> None:
    hub = api.world.crm("hubspot")
    api.crm.clients["501"] = client(
        "501",
        preferences=ClientPreferences("casual", "es-MX", "sms", "America/Mexico_City"),
        tags=("buyer", "vip"),
        properties={"annual_budget": 450000, "Budget": 1},
        history=(HistoryEntry("note", "Asked about schools", NOW - timedelta(days=2)),),
    )

    status, body = get_client(api, "501")
    api.later()
    status_again, again = get_client(api, "501", query={"integrationId": hub.integration_id})

    assert (status, status_again) == (200, 200)
    assert body == {
        "id": "501",
        "firstName": "Maya",
        "lastName": "Okafor",
        "fullName": "Maya Okafor",
        "email": "maya@harbour.example",
        "phone": "+1 555 0100",
        "preferences": {
            "communicationStyle": "casual",
            "language": "es-MX",
            "contactMethod": "sms",
            "timezone": "America/Mexico_City",
        },
        "tags": ["buyer", "vip"],
        "customFields": [
            {"name": "Budget", "alias": "budget", "value": 1},
            {"name": "annual_budget", "alias": "annualBudget", "value": 450000},
        ],
        "history": [{"type": "note", "description": "Asked about schools", "at": "2026-08-01T09:00:00.000Z"}],
        "source": {
            "provider": "hubspot",
            "integrationId": hub.integration_id,
            "fetchedAt": "2026-08-03T09:00:00.000Z",
            "cached": False,
        },
    }
    assert again["source"] == body["source"] | {"cached": True}
    assert len(api.crm.reads) == 1


@pytest.mark.parametrize(
    ("failures", "client_id", "status", "code"),
    [
        ([], "999", 404, "client_not_found"),
        ([ConnectorError("unreachable", "503")] * 4, "501", 503, "crm_unavailable"),
        ([ConnectorError("auth_failed", "401")], "501", 502, "crm_auth_failed"),
        ([], "contacts/501", 400, "invalid_client_id"),
        ([], "..", 400, "invalid_client_id"),
        ([], "a\x00b", 400, "invalid_client_id"),
        ([], "x" * 201, 400, "invalid_client_id"),
    ],
)
def test_client_lookups_that_fail_say_why(
    api: Api, failures: list[ConnectorError], client_id: str, status: int, code: str
) -> None:
    api.world.crm("hubspot")
    api.crm.failures = list(failures)

    answered, error = get_client(api, client_id)

    assert (answered, error["code"]) == (status, code), error
    assert set(error) == {"code", "message", "details"}
    if code == "crm_unavailable":
        assert "HubSpot" in error["message"]
        assert error["details"]["provider"] == "hubspot"


def test_a_client_id_is_taken_as_the_crm_gives_it(api: Api) -> None:
    api.world.crm("hubspot")
    api.crm.clients["maya@harbour.example"] = client("maya@harbour.example")

    status, body = get_client(api, "maya@harbour.example")

    assert (status, body["id"]) == (200, "maya@harbour.example")
    assert api.crm.reads[0][0] == "maya@harbour.example"


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({}, 409, "no_crm_connected"),
        ({"integrationId": "int_nope"}, 404, "integration_not_found"),
        ({"integrationId": "x" * 129}, 422, "validation_error"),
    ],
)
def test_a_client_needs_a_crm_of_the_user(api: Api, query: dict[str, str], status: int, code: str) -> None:
    answered, error = get_client(api, "501", query=query)

    assert (answered, error["code"]) == (status, code)
    assert api.crm.reads == []


def test_personalize_for_a_client(api: Api) -> None:
    hub = api.world.crm("hubspot")

    status, body = api(
        "POST",
        "/crm/personalize",
        {
            "template": "hey {{firstName}}, homes near ${{budget}}. thanks, {{agentName}} {{agentPhone}}",
            "clientId": "501",
            "contentType": "email",
            "variables": {"agentName": "Sam"},
            "fallbacks": {"agentPhone": "(555) 0199"},
        },
    )

    assert status == 200
    assert body == {
        "content": "Hello Maya, homes near $450,000. Thank you, Sam (555) 0199",
        "variables": {
            "agentName": "Sam",
            "agentPhone": "(555) 0199",
            "budget": "450,000",
            "firstName": "Maya",
        },
        "missing": ["agentPhone"],
        "clientId": "501",
        "integrationId": hub.integration_id,
        "fields": ["budget", "firstName"],
        "personalizedAt": "2026-08-03T09:00:00.000Z",
        "style": "formal",
        "language": "en",
    }


def test_personalize_without_a_client_uses_only_the_variables(api: Api) -> None:
    status, body = api("POST", "/crm/personalize", {"template": "Hi {{name}}", "variables": {"name": "Ann"}})

    assert status == 200
    assert (body["content"], body["clientId"], body["integrationId"], body["style"]) == (
        "Hi Ann",
        None,
        None,
        None,
    )
    assert api.crm.reads == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        ({}, 422, "validation_error"),
        ({"template": 5}, 422, "validation_error"),
        ({"template": "Hi {{name}}"}, 422, "missing_variables"),
        ({"template": "Hi {{name"}, 422, "template_invalid"),
        ({"template": "{{ ''.__class__.__mro__ }}"}, 400, "template_unsafe"),
        ({"template": "Hi", "contentType": "fax"}, 422, "invalid_content_type"),
        ({"template": "Hi", "variables": ["a"]}, 422, "validation_error"),
        ({"template": "Hi", "fallbacks": {"a": 1}}, 422, "validation_error"),
        ({"template": "Hi", "integrationId": "HUB"}, 422, "validation_error"),
        ({"template": "Hi {{firstName}}", "clientId": "999"}, 404, "client_not_found"),
        ({"template": "Hi {{firstName}}", "clientId": "/"}, 400, "invalid_client_id"),
        (
            {"template": "Hi {{firstName}}", "clientId": "501", "integrationId": "int_nope"},
            404,
            "integration_not_found",
        ),
        ({"template": "Hi", "colour": "red"}, 422, "validation_error"),
    ],
)
def test_bad_personalize_requests_are_4xx(api: Api, body: Any, status: int, code: str) -> None:
    hub = api.world.crm("hubspot")
    if not isinstance(body, str):
        body = json.loads(json.dumps(body).replace('"HUB"', f'"{hub.integration_id}"'))

    answered, error = api("POST", "/crm/personalize", body)

    assert (answered, error["code"]) == (status, code), error
    assert set(error) == {"code", "message", "details"}


def test_a_missing_variable_is_named(api: Api) -> None:
    api.world.crm("hubspot")

    status, error = api(
        "POST", "/crm/personalize", {"template": "{{firstName}}, call {{agentName}}", "clientId": "501"}
    )

    assert (status, error["code"], error["details"]["missing"]) == (422, "missing_variables", ["agentName"])


def test_the_cache_route_reports_entries_and_hit_rate_and_delete_empties_it(api: Api) -> None:
    hub = api.world.crm("hubspot")
    assert api("GET", "/crm/cache") == (
        200,
        {"size": 0, "entries": [], "hits": 0, "misses": 0, "hitRate": None},
    )
    api.world.clients.get(USER, "501")
    api.world.clients.get(USER, "501")
    api.world.clients.get(USER, "501")

    status, body = api("GET", "/crm/cache")

    assert status == 200
    assert body == {
        "size": 1,
        "entries": [
            {
                "integrationId": hub.integration_id,
                "clientId": "501",
                "fetchedAt": "2026-08-03T09:00:00.000Z",
                "expiresAt": "2026-08-03T09:05:00.000Z",
            }
        ],
        "hits": 2,
        "misses": 1,
        "hitRate": pytest.approx(2 / 3),
    }
    assert "Maya" not in json.dumps(body)  # the stats carry no client data
    assert api("GET", "/crm/cache", user="someone-else")[1]["size"] == 0

    assert api("DELETE", "/crm/cache", user="someone-else") == (
        200,
        {"size": 0, "entries": [], "hits": 0, "misses": 0, "hitRate": None},
    )
    assert api("GET", "/crm/cache")[1]["size"] == 1  # another user's clear leaves these alone
    assert api("DELETE", "/crm/cache") == (
        200,
        {"size": 0, "entries": [], "hits": 0, "misses": 0, "hitRate": None},
    )
    assert api("GET", "/crm/cache") == (
        200,
        {"size": 0, "entries": [], "hits": 0, "misses": 0, "hitRate": None},
    )


def test_settings_read_with_defaults_and_change_partially(api: Api) -> None:
    fub = api.world.crm("followupboss", "Office")
    api.later()
    hub = api.world.crm("hubspot")

    status, before = api("GET", "/crm/settings")

    assert status == 200
    assert before == {
        "defaultIntegrationId": None,
        "effectiveIntegrationId": fub.integration_id,
        "integrations": {
            fub.integration_id: {
                "name": "Office",
                "provider": "followupboss",
                "status": "connected",
                "cacheTtlSeconds": 300,
                "writeBack": {"postPublished": False, "emailSent": False, "emailOpened": False},
            },
            hub.integration_id: {
                "name": "Harbour CRM",
                "provider": "hubspot",
                "status": "connected",
                "cacheTtlSeconds": 300,
                "writeBack": {"postPublished": False, "emailSent": False, "emailOpened": False},
            },
        },
        "updatedAt": None,
    }

    status, after = api(
        "PUT",
        "/crm/settings",
        {
            "defaultIntegrationId": hub.integration_id,
            "integrations": {
                hub.integration_id: {"cacheTtlSeconds": 0, "writeBack": {"postPublished": True}}
            },
        },
    )

    assert status == 200
    assert (after["defaultIntegrationId"], after["effectiveIntegrationId"]) == (hub.integration_id,) * 2
    assert after["integrations"][hub.integration_id]["cacheTtlSeconds"] == 0
    assert after["integrations"][hub.integration_id]["writeBack"] == {
        "postPublished": True,
        "emailSent": False,
        "emailOpened": False,
    }
    assert after["integrations"][fub.integration_id] == before["integrations"][fub.integration_id]
    assert after["updatedAt"] == "2026-08-03T09:01:00.000Z"
    assert api.world.settings.write_back_enabled(USER, hub.integration_id, "post_published")

    status, again = api(
        "PUT", "/crm/settings", {"integrations": {hub.integration_id: {"writeBack": {"emailSent": True}}}}
    )
    assert again["defaultIntegrationId"] == hub.integration_id  # not sent: kept
    assert again["integrations"][hub.integration_id]["writeBack"]["postPublished"] is True

    status, reset = api(
        "PUT", "/crm/settings", {"defaultIntegrationId": None, "integrations": {hub.integration_id: None}}
    )
    assert status == 200
    assert (reset["defaultIntegrationId"], reset["effectiveIntegrationId"]) == (None, fub.integration_id)
    assert reset["integrations"][hub.integration_id]["cacheTtlSeconds"] == 300
    assert api("GET", "/crm/settings", user="someone-else")[1]["integrations"] == {}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        ({"integrations": {"HUB": {"cacheTtlSeconds": 86_401}}}, 422, "invalid_crm_settings"),
        ({"integrations": {"HUB": {"cacheTtlSeconds": -5}}}, 422, "invalid_crm_settings"),
        ({"integrations": {"HUB": {"cacheTtlSeconds": "300"}}}, 422, "validation_error"),
        ({"integrations": {"HUB": {"cacheTtlSeconds": 1.5}}}, 422, "validation_error"),
        ({"integrations": {"HUB": {"cacheTtlSeconds": None}}}, 422, "validation_error"),
        ({"integrations": {"HUB": {"writeBack": {"postPublished": "yes"}}}}, 422, "validation_error"),
        ({"integrations": {"HUB": {"writeBack": {"postOpened": True}}}}, 422, "validation_error"),
        ({"integrations": {"HUB": {"ttl": 5}}}, 422, "validation_error"),
        ({"integrations": ["HUB"]}, 422, "validation_error"),
        ({"defaultCrm": "HUB"}, 422, "validation_error"),
        ({"defaultIntegrationId": ""}, 422, "validation_error"),
        ({"defaultIntegrationId": "int_nope"}, 404, "integration_not_found"),
        ({"integrations": {"int_nope": {"cacheTtlSeconds": 5}}}, 404, "integration_not_found"),
        ({"defaultIntegrationId": "GA4"}, 422, "not_a_crm"),
        ({"integrations": {"x" * 129: {"cacheTtlSeconds": 5}}}, 422, "validation_error"),
        ({"integrations": {f"i{n}": {} for n in range(101)}}, 422, "validation_error"),
        ([], 422, "validation_error"),
    ],
)
def test_bad_settings_are_4xx_and_change_nothing(api: Api, body: Any, status: int, code: str) -> None:
    hub = api.world.crm("hubspot")
    ga4 = api.world.analytics()
    if not isinstance(body, str):
        body = json.loads(
            json.dumps(body).replace("HUB", hub.integration_id).replace("GA4", ga4.integration_id)
        )

    answered, error = api("PUT", "/crm/settings", body)

    assert (answered, error["code"]) == (status, code), error
    assert set(error) == {"code", "message", "details"}
    assert api.world.settings.settings(USER).version == 0


def activity(n: int = 1, **changes: Any) -> dict[str, Any]:
    return {
        "clientId": "501",
        "type": "property_view",
        "description": f"Viewed 12 Harbour Lane ({n})",
        "timestamp": "2026-08-03T08:30:00-04:00",
        "metadata": {"listingId": "L-12"},
    } | changes


def test_one_activity_or_a_batch_is_stored_and_answered_202(api: Api) -> None:
    hub = api.world.crm("hubspot")

    status, one = api("POST", "/crm/activities", activity(1, idempotencyKey="view-1"))
    status_batch, batch = api(
        "POST", "/crm/activities", {"activities": [activity(2), activity(3, type="call")]}
    )

    assert status == status_batch == 202
    (first,) = one["activities"]
    assert (first["status"], first["created"]) == ("pending", True)
    assert [(a["status"], a["created"]) for a in batch["activities"]] == [("pending", True)] * 2
    status, again = api("POST", "/crm/activities", activity(1, idempotencyKey="view-1"))
    assert (status, again["activities"]) == (
        202,
        [{"id": first["id"], "status": "pending", "created": False}],
    )

    status, listed = api("GET", "/crm/activities")
    assert status == 200
    assert len(listed["activities"]) == 3
    assert listed["nextCursor"] is None
    status, read = api("GET", f"/crm/activities/{first['id']}", path_parameters={"activityId": first["id"]})
    assert status == 200
    assert read == {
        "id": first["id"],
        "clientId": "501",
        "type": "property_view",
        "description": "Viewed 12 Harbour Lane (1)",
        "timestamp": "2026-08-03T12:30:00.000Z",
        "metadata": {"listingId": "L-12"},
        "integrationId": hub.integration_id,
        "provider": "hubspot",
        "origin": "api",
        "idempotencyKey": "view-1",
        "status": "pending",
        "attempts": 0,
        "lastError": None,
        "nextAttemptAt": "2026-08-03T09:00:00.000Z",
        "crmId": None,
        "syncedAt": None,
        "createdAt": "2026-08-03T09:00:00.000Z",
        "updatedAt": "2026-08-03T09:00:00.000Z",
    }
    status, other = api(
        "GET",
        f"/crm/activities/{first['id']}",
        user="someone-else",
        path_parameters={"activityId": first["id"]},
    )
    assert (status, other["code"]) == (404, "activity_not_found")


def test_activities_go_to_the_named_crm_or_the_default(api: Api) -> None:
    hub = api.world.crm("hubspot")
    api.later()
    fub = api.world.crm("followupboss")

    api("POST", "/crm/activities", activity(1))
    api("POST", "/crm/activities", {"activities": [activity(2, integrationId=fub.integration_id)]})
    status, mixed = api(
        "POST",
        "/crm/activities",
        {"activities": [activity(3), activity(4, integrationId=fub.integration_id)]},
    )

    found = {a["description"]: a["integrationId"] for a in api("GET", "/crm/activities")[1]["activities"]}
    assert found == {
        "Viewed 12 Harbour Lane (1)": hub.integration_id,
        "Viewed 12 Harbour Lane (2)": fub.integration_id,
    }
    assert (status, mixed["code"]) == (422, "mixed_integrations")
    assert mixed["details"]["integrationIds"] == sorted([hub.integration_id, fub.integration_id])


def test_a_failed_activity_can_be_retried_and_the_list_filters_by_status(api: Api) -> None:
    api.world.crm("hubspot")
    ids = [
        a["id"]
        for a in api("POST", "/crm/activities", {"activities": [activity(1), activity(2)]})[1]["activities"]
    ]
    clock = api.world.base.clock
    held = api.pending.get(USER, ids[0])
    assert held is not None
    claimed = api.pending.claim(held, clock.now(), clock.now() + timedelta(minutes=1))
    assert claimed is not None
    api.pending.mark_failed(
        claimed, clock.now(), error_code="invalid_request", error="HubSpot refused the note"
    )

    status, failed = api("GET", "/crm/activities", query={"status": "failed"})
    assert status == 200
    assert [(a["id"], a["attempts"], a["lastError"]) for a in failed["activities"]] == [
        (ids[0], 1, {"code": "invalid_request", "message": "HubSpot refused the note"})
    ]
    assert [a["id"] for a in api("GET", "/crm/activities", query={"status": "pending"})[1]["activities"]] == [
        ids[1]
    ]

    api.later()
    status, retried = api("POST", f"/crm/activities/{ids[0]}/retry", path_parameters={"activityId": ids[0]})
    assert (status, retried["status"], retried["nextAttemptAt"]) == (
        202,
        "pending",
        "2026-08-03T09:01:00.000Z",
    )
    status, again = api("POST", f"/crm/activities/{ids[0]}/retry", path_parameters={"activityId": ids[0]})
    assert (status, again["code"]) == (409, "activity_not_failed")


def test_the_activity_list_pages_with_a_cursor(api: Api) -> None:
    api.world.crm("hubspot")
    for n in range(3):
        api("POST", "/crm/activities", activity(n))
        api.later(1)

    status, first = api("GET", "/crm/activities", query={"limit": "2"})
    status2, second = api("GET", "/crm/activities", query={"limit": "2", "cursor": first["nextCursor"]})

    assert (status, status2) == (200, 200)
    assert [a["description"][-2] for a in first["activities"] + second["activities"]] == ["2", "1", "0"]
    assert second["nextCursor"] is None


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        ([], 422, "validation_error"),
        ({"activities": "all"}, 422, "validation_error"),
        ({"activities": []}, 422, "no_activities"),
        ({"activities": [activity(n) for n in range(101)]}, 422, "too_many_activities"),
        (activity(type="tweet"), 422, "invalid_activity_type"),
        (activity(clientId=""), 422, "invalid_client_id"),
        (activity(clientId=501), 422, "validation_error"),
        (activity(description=" "), 422, "empty_description"),
        (activity(description="x" * 10_001), 422, "description_too_long"),
        (activity(timestamp="2026-08-03T08:30:00"), 422, "time_without_offset"),
        (activity(timestamp="yesterday"), 422, "validation_error"),
        (activity(timestamp="2026-08-09T08:30:00Z"), 422, "timestamp_in_future"),
        (activity(metadata=["a"]), 422, "validation_error"),
        (activity(metadata={"blob": "x" * 9000}), 422, "metadata_too_large"),
        (activity(idempotencyKey=""), 422, "invalid_idempotency_key"),
        (activity(integrationId="int_nope"), 404, "integration_not_found"),
        (activity(integrationId="GA4"), 422, "not_a_crm"),
        (activity(colour="red"), 422, "validation_error"),
        ({"activities": [activity(1), activity(2, type="tweet")]}, 422, "invalid_activity_type"),
    ],
)
def test_bad_activities_are_4xx_and_store_nothing(api: Api, body: Any, status: int, code: str) -> None:
    api.world.crm("hubspot")
    ga4 = api.world.analytics()
    if not isinstance(body, str):
        body = json.loads(json.dumps(body).replace('"GA4"', f'"{ga4.integration_id}"'))

    answered, error = api("POST", "/crm/activities", body)

    assert (answered, error["code"]) == (status, code), error
    assert set(error) == {"code", "message", "details"}
    assert api("GET", "/crm/activities")[1]["activities"] == []


def test_a_bad_item_of_a_batch_is_named_by_its_index(api: Api) -> None:
    api.world.crm("hubspot")

    status, error = api("POST", "/crm/activities", {"activities": [activity(1), activity(2, description="")]})

    assert (status, error["code"], error["details"]["index"], error["details"]["field"]) == (
        422,
        "empty_description",
        1,
        "description",
    )


def test_activities_need_a_connected_crm_and_respect_the_daily_limit(api: Api) -> None:
    status, error = api("POST", "/crm/activities", activity(1))
    assert (status, error["code"]) == (409, "no_crm_connected")

    api.world.crm("hubspot")
    assert api("POST", "/crm/activities", {"activities": [activity(n) for n in range(5)]})[0] == 202
    status, error = api("POST", "/crm/activities", activity(6))
    assert (status, error["code"]) == (429, "activity_limit_reached")
    assert error["details"]["retryAfterSeconds"] > 0


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"status": "done"}, "invalid_status"),
        ({"limit": "0"}, "invalid_limit"),
        ({"limit": "101"}, "invalid_limit"),
        ({"limit": "ten"}, "validation_error"),
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
        ({"status": "x" * 11}, "validation_error"),
    ],
)
def test_a_bad_activity_query_is_a_422(api: Api, query: dict[str, str], code: str) -> None:
    status, error = api("GET", "/crm/activities", query=query)

    assert (status, error["code"]) == (422, code), error


def test_unknown_or_unusable_activity_ids_are_404(api: Api) -> None:
    for path, method in (
        ("/crm/activities/act_nothing", "GET"),
        ("/crm/activities/act_nothing/retry", "POST"),
    ):
        status, error = api(method, path, path_parameters={"activityId": "act_nothing"})
        assert (status, error["code"]) == (404, "activity_not_found")
    status, error = api("GET", "/crm/activities/a b", path_parameters={"activityId": "a b"})
    assert (status, error["code"]) == (404, "not_found")


def test_the_routes_are_in_the_openapi_document(api: Api) -> None:
    status, doc = api("GET", "/openapi.json")

    assert status == 200
    assert {"/crm/cache", "/crm/settings", "/crm/clients/{clientId}", "/crm/personalize"} <= set(doc["paths"])
    assert set(doc["paths"]["/crm/cache"]) == {"get", "delete"}
    assert set(doc["paths"]["/crm/settings"]) == {"get", "put"}
    assert set(doc["paths"]["/crm/activities"]) == {"get", "post"}
    assert "/crm/activities/{activityId}/retry" in doc["paths"]
    schema = doc["paths"]["/crm/activities"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    shapes = {ref["$ref"].rsplit("/", 1)[-1] for ref in schema["oneOf"]}
    assert shapes == {"ActivityBody", "ActivityBatch"}
