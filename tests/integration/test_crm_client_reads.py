"""A client read from the fake HubSpot through the real connector, over loopback HTTP, by the client
directory and the CRM routes: the integration's sealed token opened for the call, the answer cached
for the integration's TTL, server errors retried after 1, 2 and 4 s (on a FakeClock: no real waiting),
a HubSpot that stays down a 503 naming it, and the same client personalised."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import httpx
import pytest
from memory_integrations import memory_integrations

from infra.local.api_gateway import RouteTable, build_event
from infra.local.fakes.vendors import FakeVendorServer
from infra.topology import ROUTES
from tidings.api.app import build_app, handle
from tidings.api.crm import CrmServices
from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.errors import TidingsError
from tidings.core.http import default_http_client
from tidings.crm.activities import ActivityLog
from tidings.crm.cache import ClientCache
from tidings.crm.clients import ClientDirectory
from tidings.crm.personalization import Personalization
from tidings.crm.settings import CrmSettingsService
from tidings.integrations.connectors.hubspot import HubSpotConnector
from tidings.store.memory.activities import InMemoryPendingActivityRepository
from tidings.store.memory.crm_settings import InMemoryCrmSettingsRepository

USER = "agent-crm-reads"
TOKEN = "pat-na1-canary-reads-5e0a-hubspot"
NOW = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)
ANN = {
    "id": "501",
    "firstName": "Ann",
    "lastName": "Lee",
    "email": "ann@harbour.example",
    "phone": "+15550100501",
    "properties": {
        "hs_language": "es",
        "communication_style": "Formal",
        "tags": ["buyer", "waterfront"],
        "budget": 450000,
        "neighborhood": "Ballard",
    },
}


@dataclass
class Stack:
    fake: FakeVendorServer
    clock: FakeClock
    clients: ClientDirectory
    cache: ClientCache
    services: CrmServices
    integration_id: str

    def contact_reads(self) -> int:
        return self.fake.calls().get("hubspot.contacts.read", 0)

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request as the local API gateway turns it into an event (its route table and path
        parameters), answered by the API app with these CRM services."""

        def never() -> NoReturn:
            raise AssertionError("no scheduling here")

        match = RouteTable(ROUTES).match(method, path)
        assert match is not None, path
        event = build_event(
            method=method,
            raw_path=path,
            raw_query="",
            headers=[("content-type", "application/json")],
            body=json.dumps(body).encode() if body is not None else b"",
            match=match,
            request_id="r1",
            epoch_ms=int(NOW.timestamp() * 1000),
            claims={"sub": USER},
        )
        answer = handle(build_app(never, crm=lambda: self.services), event, None)
        return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture
def stack() -> Iterator[Stack]:
    with FakeVendorServer(hold_seconds=2.0, retry_after=3) as fake:
        fake.register_hubspot(TOKEN, "7300042")
        fake.add_contacts("hubspot", [ANN])
        settings = Settings.from_env({**fake.client_env(), "TIDINGS_HTTP_TIMEOUT_SECONDS": "1"})
        http = default_http_client(settings)
        try:
            yield _stack(fake, settings, http)
        finally:
            http.close()


def _stack(fake: FakeVendorServer, settings: Settings, http: httpx.Client) -> Stack:
    clock = FakeClock(NOW)
    world = memory_integrations([HubSpotConnector(settings, http, clock)], clock)
    integration = world.lifecycle.create(
        USER,
        name="Harbour HubSpot",
        kind="crm",
        provider="hubspot",
        credentials={"accessToken": TOKEN},
        sync_frequency=None,
        alert_email=None,
    )
    settings_service = CrmSettingsService(InMemoryCrmSettingsRepository(), world.directory, clock)
    cache = ClientCache(clock=clock)
    clients = ClientDirectory(
        settings=settings_service,
        credentials=world.credentials,
        connectors=world.connectors,
        monitoring=world.monitoring,
        cache=cache,
        clock=clock,
    )
    services = CrmServices(
        clients=clients,
        settings=settings_service,
        cache=cache,
        activities=ActivityLog(InMemoryPendingActivityRepository(), clock),
        personalization=Personalization(clients, clock),
    )
    return Stack(fake, clock, clients, cache, services, integration.integration_id)


def test_a_client_is_read_from_hubspot_once_and_then_from_the_cache(stack: Stack) -> None:
    first = stack.clients.get(USER, "501")
    stack.clock.advance(timedelta(seconds=299))
    second = stack.clients.get(USER, "501")
    stack.clock.advance(timedelta(seconds=1))
    third = stack.clients.get(USER, "501")

    assert (first.cached, second.cached, third.cached) == (False, True, False)
    assert (first.record.full_name, first.record.provider) == ("Ann Lee", "hubspot")
    assert first.record.preferences.communication_style == "formal"
    assert first.record.tags == ("buyer", "waterfront")
    assert first.record.properties["budget"] == 450000
    assert stack.contact_reads() == 2
    assert stack.cache.stats(USER).hits == 1


def test_the_client_route_answers_what_hubspot_holds(stack: Stack) -> None:
    status, body = stack.api("GET", "/crm/clients/501")

    assert status == 200
    assert (body["id"], body["fullName"], body["email"]) == ("501", "Ann Lee", "ann@harbour.example")
    assert body["preferences"]["language"] == "es"
    assert {"name": "budget", "alias": "budget", "value": 450000} in body["customFields"]
    assert body["source"] == {
        "provider": "hubspot",
        "integrationId": stack.integration_id,
        "fetchedAt": "2026-08-03T09:00:00.000Z",
        "cached": False,
    }
    unknown, error = stack.api("GET", "/crm/clients/999")
    assert (unknown, error["code"]) == (404, "client_not_found")
    escaping, error = stack.api("GET", "/crm/clients/..%2F..%2Faccount-info")
    assert (escaping, error["code"]) == (400, "invalid_client_id")
    assert stack.contact_reads() == 2  # 501 and 999; the id that could not be valid reached nothing


def test_server_errors_are_retried_after_1_2_and_4_seconds(stack: Stack) -> None:
    stack.fake.add_fault("hubspot", "error500", count=3)

    found = stack.clients.get(USER, "501")

    assert found.record.full_name == "Ann Lee"
    assert found.fetched_at == NOW + timedelta(seconds=1 + 2 + 4)


def test_a_hubspot_that_stays_down_is_a_503_naming_it(stack: Stack) -> None:
    stack.fake.add_fault("hubspot", "error500", count=50)

    with pytest.raises(TidingsError) as refused:
        stack.clients.get(USER, "501")

    assert (refused.value.status, refused.value.code) == (503, "crm_unavailable")
    assert "HubSpot" in refused.value.message
    assert refused.value.details["attempts"] == 4
    assert stack.clock.now() == NOW + timedelta(seconds=7)
    assert stack.cache.stats(USER).size == 0


def test_a_throttled_read_waits_out_hubspots_rolling_window(stack: Stack) -> None:
    stack.fake.add_fault("hubspot", "rate_limit", count=1)

    found = stack.clients.get(USER, "501")

    # HubSpot's 429 names its 10-second window (X-HubSpot-RateLimit-Interval-Milliseconds), longer
    # than the first back-off of 1 s
    assert found.fetched_at == NOW + timedelta(seconds=10)
    assert found.record.full_name == "Ann Lee"


def test_the_client_is_personalised_through_the_route(stack: Stack) -> None:
    status, body = stack.api(
        "POST",
        "/crm/personalize",
        {"template": "hey {{firstName}}, homes in {{neighborhood}} near ${{budget}}", "clientId": "501"},
    )

    assert status == 200
    assert body["content"] == "Hello Ann, homes in Ballard near $450,000"
    assert (body["style"], body["language"], body["fields"]) == (
        "formal",
        "es",
        ["budget", "firstName", "neighborhood"],
    )
