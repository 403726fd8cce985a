"""The CRM routes through the API app (HTTP API v2 events, `handle`) with in-memory collaborators and a
fake CRM: clients through the cache, the cache's stats and clearing, the CRM settings, and every bad
input a 4xx with `{code, message, details}`."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, NoReturn

import pytest
from api_events import call
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from crm_fakes import CrmWorld, FakeCrm, client, crm_world
from integration_fakes import USER, FakeConnector

from tidings.api.app import build_app
from tidings.api.crm import CrmServices


def _no_scheduling() -> NoReturn:
    raise AssertionError("the CRM routes need no scheduling service")


class Api:
    def __init__(self) -> None:
        self.crm = FakeCrm(clients={"501": client("501")})
        self.world: CrmWorld = crm_world(
            self.crm, FakeCrm(provider="followupboss"), FakeConnector(type="analytics", provider="ga4")
        )
        w = self.world
        services = CrmServices(clients=w.clients, settings=w.settings, cache=w.cache)
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

    assert api("DELETE", "/crm/cache", user="someone-else") == (204, None)
    assert api("GET", "/crm/cache")[1]["size"] == 1  # another user's clear leaves these alone
    assert api("DELETE", "/crm/cache") == (204, None)
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


def test_the_routes_are_in_the_openapi_document(api: Api) -> None:
    status, doc = api("GET", "/openapi.json")

    assert status == 200
    assert {"/crm/cache", "/crm/settings"} <= set(doc["paths"])
    assert set(doc["paths"]["/crm/cache"]) == {"get", "delete"}
    assert set(doc["paths"]["/crm/settings"]) == {"get", "put"}
