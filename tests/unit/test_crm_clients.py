"""Reading a client from the CRM through the cache: transient failures retried after 1, 2 and 4 s (or
the CRM's Retry-After) on a FakeClock, a CRM that stays down is a 503 naming the provider, an unknown
client a 404, refused credentials a 502 saying to reconnect, and a cache hit never reaches the CRM."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from crm_fakes import CrmWorld, FakeCrm, client, crm_world
from integration_fakes import NOW, USER

from tidings.core.errors import Conflict, TidingsError
from tidings.crm.settings import IntegrationChange, SettingsChange
from tidings.integrations.connectors.base import ConnectorError

DOWN = ConnectorError("unreachable", "HubSpot answered 503", status=503)


def hubspot_world(*failures: ConnectorError, max_retries: int = 3) -> tuple[CrmWorld, FakeCrm, str]:
    crm = FakeCrm(clients={"501": client("501")}, failures=list(failures))
    w = crm_world(crm, max_retries=max_retries)
    return w, crm, w.crm("hubspot").integration_id


def waits(crm: FakeCrm) -> list[float]:
    """Seconds between consecutive reads of the CRM."""
    times = [at for _, at in crm.reads]
    return [(b - a).total_seconds() for a, b in pairwise(times)]


def test_a_client_is_read_once_then_served_from_the_cache() -> None:
    w, crm, integration_id = hubspot_world()

    first = w.clients.get(USER, "501")
    w.base.clock.advance(timedelta(seconds=60))
    second = w.clients.get(USER, "501", integration_id=integration_id)

    assert (first.cached, second.cached) == (False, True)
    assert first.record == second.record == client("501")
    assert first.integration.integration_id == second.integration.integration_id == integration_id
    assert second.fetched_at == first.fetched_at == NOW  # when the CRM answered, not when it was served
    assert [client_id for client_id, _ in crm.reads] == ["501"]
    stats = w.cache.stats(USER)
    assert (stats.size, stats.hits, stats.misses) == (1, 1, 1)


def test_after_its_ttl_the_client_is_read_again() -> None:
    w, crm, _ = hubspot_world()

    w.clients.get(USER, "501")
    w.base.clock.advance(timedelta(seconds=300))
    again = w.clients.get(USER, "501")

    assert not again.cached
    assert len(crm.reads) == 2


def test_a_ttl_of_zero_reads_the_crm_every_time() -> None:
    w, crm, integration_id = hubspot_world()
    w.settings.put(
        USER, SettingsChange(integrations={integration_id: IntegrationChange(cache_ttl_seconds=0)})
    )

    w.clients.get(USER, "501")
    w.clients.get(USER, "501")

    assert len(crm.reads) == 2
    assert w.cache.stats(USER).size == 0


def test_transient_failures_are_retried_after_1_2_and_4_seconds() -> None:
    w, crm, _ = hubspot_world(DOWN, DOWN, ConnectorError("unreachable", "timed out"))

    found = w.clients.get(USER, "501")

    assert found.record == client("501")
    assert waits(crm) == [1.0, 2.0, 4.0]
    assert found.fetched_at == NOW + timedelta(seconds=7)


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    w, crm, _ = hubspot_world(ConnectorError("rate_limited", "429", status=429, retry_after=12))

    w.clients.get(USER, "501")

    assert waits(crm) == [12.0]


def test_a_crm_that_stays_down_is_a_503_naming_the_provider() -> None:
    w, crm, integration_id = hubspot_world(DOWN, DOWN, DOWN, DOWN)

    with pytest.raises(TidingsError) as refused:
        w.clients.get(USER, "501")

    error = refused.value
    assert (error.status, error.code) == (503, "crm_unavailable")
    assert "HubSpot" in error.message
    assert error.details == {
        "integrationId": integration_id,
        "provider": "hubspot",
        "attempts": 4,
        "reason": "unreachable",
    }
    assert waits(crm) == [1.0, 2.0, 4.0]
    assert w.cache.stats(USER).size == 0


def test_a_read_gives_up_before_its_budget_so_the_api_answers_in_time() -> None:
    limited = ConnectorError("rate_limited", "429", status=429, retry_after=12)
    w, crm, _ = hubspot_world(limited, limited, limited, limited)

    with pytest.raises(TidingsError) as refused:
        w.clients.get(USER, "501")

    assert refused.value.code == "crm_unavailable"
    assert waits(crm) == [12.0]  # a second wait of 12 s would end past the read's 20 s
    assert refused.value.details["attempts"] == 2


def test_max_retries_is_configurable() -> None:
    w, crm, _ = hubspot_world(DOWN, DOWN, max_retries=1)

    with pytest.raises(TidingsError) as refused:
        w.clients.get(USER, "501")

    assert refused.value.code == "crm_unavailable"
    assert refused.value.details["attempts"] == 2
    assert len(crm.reads) == 2


def test_a_crm_that_keeps_rate_limiting_says_when_to_come_back() -> None:
    limited = ConnectorError("rate_limited", "429", status=429, retry_after=3)
    w, _, _ = hubspot_world(limited, limited, limited, limited)

    with pytest.raises(TidingsError) as refused:
        w.clients.get(USER, "501")

    assert (refused.value.status, refused.value.code) == (503, "crm_unavailable")
    assert refused.value.details["retryAfterSeconds"] == 3
    assert "429" in refused.value.message


def test_an_unknown_client_is_a_404_and_is_not_retried() -> None:
    w, crm, _ = hubspot_world()

    with pytest.raises(TidingsError) as refused:
        w.clients.get(USER, "999")

    assert (refused.value.status, refused.value.code) == (404, "client_not_found")
    assert refused.value.details["clientId"] == "999"
    assert len(crm.reads) == 1
    assert w.cache.stats(USER).size == 0


def test_refused_credentials_are_a_502_telling_to_reconnect() -> None:
    w, crm, integration_id = hubspot_world(ConnectorError("auth_failed", "401", status=401))

    with pytest.raises(TidingsError) as refused:
        w.clients.get(USER, "501")

    assert (refused.value.status, refused.value.code) == (502, "crm_auth_failed")
    assert f"/integrations/{integration_id}/connect" in refused.value.message
    assert len(crm.reads) == 1


def test_a_malformed_answer_is_a_502_with_the_connectors_code() -> None:
    w, _, _ = hubspot_world(ConnectorError("unexpected_response", "no properties"))

    with pytest.raises(TidingsError) as refused:
        w.clients.get(USER, "501")

    assert (refused.value.status, refused.value.code) == (502, "crm_error")
    assert refused.value.details["reason"] == "unexpected_response"


@pytest.mark.parametrize(
    "client_id",
    ["", "   ", "x" * 201, "50\n1", "a\x00b", "contacts/501", "..", "a..b", "a\\b"],
)
def test_a_client_id_that_cannot_be_valid_is_a_400_before_the_crm_is_asked(client_id: str) -> None:
    w, crm, _ = hubspot_world()

    with pytest.raises(TidingsError) as refused:
        w.clients.get(USER, client_id)

    assert (refused.value.status, refused.value.code) == (400, "invalid_client_id")
    assert crm.reads == []


@pytest.mark.parametrize("client_id", ["003Dn00000AbCdEfGH", "x" * 200, "maya@harbour.example", "a.b-c_d"])
def test_every_plausible_crm_id_is_asked_for(client_id: str) -> None:
    w, crm, _ = hubspot_world()
    crm.clients[client_id] = client(client_id)

    assert w.clients.get(USER, client_id).record.id == client_id


def test_each_crm_call_is_reported_to_the_integrations_metrics() -> None:
    w, _, integration_id = hubspot_world(DOWN)

    w.clients.get(USER, "501")

    points = w.base.monitoring.metric_series(USER, integration_id, "24h")
    totals = [p.totals for p in points if p.totals.requests]
    assert sum(t.requests for t in totals) == 2
    assert sum(t.errors for t in totals) == 1


def test_no_crm_connected_and_a_disconnected_integration_are_409s() -> None:
    w = crm_world(FakeCrm())

    with pytest.raises(Conflict) as none:
        w.clients.get(USER, "501")
    integration = w.crm("hubspot")
    w.base.lifecycle.disconnect(USER, integration.integration_id)
    with pytest.raises(Conflict) as disconnected:
        w.clients.get(USER, "501", integration_id=integration.integration_id)

    assert none.value.code == "no_crm_connected"
    assert disconnected.value.code == "integration_not_connected"


def test_the_cache_is_per_user_and_per_integration() -> None:
    crm = FakeCrm(clients={"501": client("501")})
    other = FakeCrm(provider="followupboss", clients={"501": client("501", provider="followupboss")})
    w = crm_world(crm, other)
    hub = w.crm("hubspot")
    w.base.clock.advance(timedelta(minutes=1))
    fub = w.crm("followupboss")

    w.clients.get(USER, "501")
    from_fub = w.clients.get(USER, "501", integration_id=fub.integration_id)
    w.clients.get(USER, "501", integration_id=hub.integration_id)

    assert from_fub.record.provider == "followupboss"
    assert (len(crm.reads), len(other.reads)) == (1, 1)
    assert w.cache.stats("someone-else").size == 0
    with pytest.raises(Conflict):  # another user has no CRM: nothing of USER's is served to them
        w.clients.get("someone-else", "501")
