"""The HubSpot, Follow Up Boss and Google Analytics 4 connectors against the local fake vendors over
real HTTP on loopback: the connection check, wrong credentials, throttles, server errors and
timeouts, paged syncs that stop at max_records and resume from their cursor, `since`, one CallRecord
per HTTP call, and no secret in any error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from infra.local.fakes.vendors import FakeVendorServer
from tidings.core.config import Settings
from tidings.integrations.connectors.base import (
    CallRecord,
    Connector,
    ConnectorCredentials,
    ConnectorError,
)
from tidings.integrations.connectors.followupboss import FollowUpBossConnector
from tidings.integrations.connectors.ga4 import GA4Connector
from tidings.integrations.connectors.hubspot import HubSpotConnector
from tidings.integrations.connectors.registry import crm_and_analytics_connectors
from tidings.publishing.clients import default_http_client

CLIENT_TIMEOUT = 0.5  # seconds; the fake holds a `timeout` fault for longer
HUBSPOT_TOKEN = "pat-na1-canary-3b9d0c77-hubspot-token"
FUB_KEY = "fka_canary0Qm7ZsUfollowupbossKey"
GA4_TOKEN = "ya29.canary-ga4-access-token-51c2"
SYSTEM_NAME, SYSTEM_KEY = "TidingsContractTests", "canary-fub-system-key-9e41"
PORTAL, PROPERTY, OTHER_PROPERTY = "7300042", "318273645", "999000111"
SECRETS = (HUBSPOT_TOKEN, FUB_KEY, GA4_TOKEN, SYSTEM_KEY)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeVendorServer]:
    server = FakeVendorServer(hold_seconds=3.0, retry_after=7)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def own(fake: FakeVendorServer) -> Iterator[httpx.Client]:
    """A plain client for the fake's own endpoints, with the valid credentials registered."""
    with httpx.Client(base_url=fake.url) as client:
        for account in (
            {"provider": "hubspot", "token": HUBSPOT_TOKEN, "portalId": PORTAL},
            {
                "provider": "followupboss",
                "apiKey": FUB_KEY,
                "domain": "harbourrealty",
                "userEmail": "o@h.example",
            },
            {"provider": "ga4", "token": GA4_TOKEN, "propertyId": PROPERTY},
        ):
            assert client.post("/_vendors/accounts", json=account).status_code == 201
        yield client


@pytest.fixture(scope="module")
def settings(fake: FakeVendorServer) -> Settings:
    return Settings.from_env(
        {
            **fake.client_env(),
            "TIDINGS_HTTP_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT),
            "TIDINGS_FOLLOWUPBOSS_SYSTEM_NAME": SYSTEM_NAME,
            "TIDINGS_FOLLOWUPBOSS_SYSTEM_KEY": SYSTEM_KEY,
        }
    )


@pytest.fixture(scope="module")
def http(settings: Settings) -> Iterator[httpx.Client]:
    client = default_http_client(settings)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _clean(fake: FakeVendorServer, own: httpx.Client) -> None:
    assert own.delete("/_vendors/faults").status_code == 204
    assert own.delete("/_vendors/calls").status_code == 204
    for provider in ("hubspot", "followupboss"):
        assert own.delete("/_vendors/contacts", params={"provider": provider}).status_code == 204
    assert own.delete("/_vendors/ga4", params={"propertyId": PROPERTY}).status_code == 204


class Calls:
    """An observer that keeps every CallRecord."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def __call__(self, record: CallRecord) -> None:
        self.records.append(record)


@dataclass(frozen=True)
class Vendor:
    provider: str
    build: Callable[[Settings, httpx.Client], Connector]
    creds: ConnectorCredentials
    wrong: ConnectorCredentials
    check_calls: int  # HTTP calls one check makes


VENDORS = [
    Vendor(
        "hubspot",
        lambda s, h: HubSpotConnector(s, h),
        ConnectorCredentials({}, {"accessToken": HUBSPOT_TOKEN}),
        ConnectorCredentials({}, {"accessToken": HUBSPOT_TOKEN[::-1]}),
        2,
    ),
    Vendor(
        "followupboss",
        lambda s, h: FollowUpBossConnector(s, h),
        ConnectorCredentials({}, {"apiKey": FUB_KEY}),
        ConnectorCredentials({}, {"apiKey": FUB_KEY[::-1]}),
        1,
    ),
    Vendor(
        "ga4",
        lambda s, h: GA4Connector(s, h),
        ConnectorCredentials({"propertyId": PROPERTY}, {"accessToken": GA4_TOKEN}),
        ConnectorCredentials({"propertyId": PROPERTY}, {"accessToken": GA4_TOKEN[::-1]}),
        1,
    ),
]
CRMS = [v for v in VENDORS if v.provider != "ga4"]


def by_provider(vendor: Vendor) -> str:
    return vendor.provider


def assert_no_secret(*texts: Any) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text)
            assert secret[::-1] not in str(text)


def error_of(action: Callable[[], object]) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        action()
    error = caught.value
    assert_no_secret(error, repr(error), error.message, error.args)
    return error


def seed_contacts(own: httpx.Client, provider: str, count: int, *, start: datetime, step: timedelta) -> None:
    contacts = [
        {
            "firstName": f"Ada{i}",
            "lastName": "Lovelace",
            "email": f"ada{i}@harbour.example",
            "phone": f"+1555010{i:04d}",
            "lifecycleStage": "lead" if i % 2 else "customer",
            "updatedAt": (start + step * i).isoformat(),
        }
        for i in range(count)
    ]
    assert (
        own.post("/_vendors/contacts", json={"provider": provider, "contacts": contacts}).status_code == 201
    )


def seed_days(own: httpx.Client, first: date, last: date) -> None:
    rows = []
    day = first
    while day <= last:
        n = (day - first).days + 1
        rows.append(
            {
                "date": day.isoformat(),
                "sessions": 10 * n,
                "activeUsers": 7 * n,
                "screenPageViews": 25 * n,
                "engagementRate": 0.5,
            }
        )
        day += timedelta(days=1)
    assert own.post("/_vendors/ga4", json={"propertyId": PROPERTY, "rows": rows}).status_code == 201


def total_calls(fake: FakeVendorServer) -> int:
    return sum(fake.calls().values())


# -- the registry ----------------------------------------------------------------------------------


def test_the_crm_and_analytics_connectors_are_built_with_their_names_and_required_secrets(
    settings: Settings, http: httpx.Client
) -> None:
    connectors = crm_and_analytics_connectors(http, settings)

    assert [(c.type, c.provider) for c in connectors] == [
        ("crm", "hubspot"),
        ("crm", "followupboss"),
        ("crm", "salesforce"),
        ("crm", "custom"),
        ("analytics", "ga4"),
    ]
    assert [c.required_secrets for c in connectors] == [
        ("accessToken",),
        ("apiKey",),
        ("refreshToken",),
        (),
        ("accessToken",),
    ]
    assert [c.required_settings for c in connectors] == [
        (),
        (),
        (),
        ("clientUrl", "activitiesUrl", "authType"),
        ("propertyId",),
    ]


# -- check -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS, ids=by_provider)
def test_check_names_the_account_with_one_record_per_call(
    vendor: Vendor, settings: Settings, http: httpx.Client, fake: FakeVendorServer
) -> None:
    calls = Calls()

    result = vendor.build(settings, http).check(vendor.creds, calls)

    expected = {"hubspot": PORTAL, "followupboss": "harbourrealty", "ga4": f"properties/{PROPERTY}"}
    assert result.account_label == expected[vendor.provider]
    assert len(calls.records) == vendor.check_calls == total_calls(fake)
    assert all(r.ok and r.status == 200 and r.latency_ms >= 0 for r in calls.records)
    assert_no_secret(result, result.facts, result.detail)


def test_followupboss_calls_carry_the_registered_system(
    settings: Settings, http: httpx.Client, fake: FakeVendorServer
) -> None:
    before = len(fake.systems())

    FollowUpBossConnector(settings, http).check(VENDORS[1].creds, Calls())

    assert fake.systems()[before:] == [SYSTEM_NAME]


@pytest.mark.parametrize("vendor", VENDORS, ids=by_provider)
def test_wrong_credentials_fail_auth_without_showing_them(
    vendor: Vendor, settings: Settings, http: httpx.Client
) -> None:
    calls = Calls()

    error = error_of(lambda: vendor.build(settings, http).check(vendor.wrong, calls))

    assert (error.code, error.status, error.retryable) == ("auth_failed", 401, False)
    assert [(r.status, r.ok) for r in calls.records] == [(401, False)]


def test_a_ga4_token_without_access_to_the_property_is_refused(
    settings: Settings, http: httpx.Client
) -> None:
    creds = ConnectorCredentials({"propertyId": OTHER_PROPERTY}, {"accessToken": GA4_TOKEN})

    error = error_of(lambda: GA4Connector(settings, http).check(creds, Calls()))

    assert (error.code, error.status) == ("auth_failed", 403)
    assert "PERMISSION_DENIED" in error.message


@pytest.mark.parametrize("vendor", VENDORS, ids=by_provider)
def test_missing_settings_fail_before_any_call(
    vendor: Vendor, settings: Settings, http: httpx.Client, fake: FakeVendorServer
) -> None:
    calls = Calls()
    bare = ConnectorCredentials({}, {})

    error = error_of(lambda: vendor.build(settings, http).check(bare, calls))

    assert error.code == "invalid_settings"
    assert calls.records == []
    assert total_calls(fake) == 0


def test_a_ga4_property_id_must_be_digits(
    settings: Settings, http: httpx.Client, fake: FakeVendorServer
) -> None:
    creds = ConnectorCredentials({"propertyId": "G-ABC123"}, {"accessToken": GA4_TOKEN})

    error = error_of(lambda: GA4Connector(settings, http).sync(creds, None, Calls()))

    assert error.code == "invalid_settings"
    assert total_calls(fake) == 0


# -- vendor failures -------------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS, ids=by_provider)
def test_a_throttle_is_rate_limited_with_the_vendors_wait(
    vendor: Vendor, settings: Settings, http: httpx.Client, own: httpx.Client
) -> None:
    fault = {"provider": vendor.provider, "kind": "rate_limit", "count": 1, "retryAfter": 7}
    assert own.post("/_vendors/faults", json=fault).status_code == 201
    calls = Calls()

    error = error_of(lambda: vendor.build(settings, http).sync(vendor.creds, None, calls))

    # HubSpot names its rolling 10-second window; Follow Up Boss sends Retry-After; the GA4 Data API
    # gives no delay for an exhausted quota.
    expected = {"hubspot": 10.0, "followupboss": 7.0, "ga4": None}
    assert (error.code, error.status, error.retryable) == ("rate_limited", 429, True)
    assert error.retry_after == expected[vendor.provider]
    assert [(r.status, r.ok) for r in calls.records] == [(429, False)]


@pytest.mark.parametrize("vendor", VENDORS, ids=by_provider)
def test_a_server_error_is_unreachable(
    vendor: Vendor, settings: Settings, http: httpx.Client, own: httpx.Client
) -> None:
    assert (
        own.post("/_vendors/faults", json={"provider": vendor.provider, "kind": "error500"}).status_code
        == 201
    )
    calls = Calls()

    error = error_of(lambda: vendor.build(settings, http).check(vendor.creds, calls))

    assert (error.code, error.status, error.retryable) == ("unreachable", 500, True)
    assert [(r.status, r.ok) for r in calls.records] == [(500, False)]


@pytest.mark.parametrize("vendor", VENDORS, ids=by_provider)
def test_a_timeout_is_unreachable_with_no_status(
    vendor: Vendor, settings: Settings, http: httpx.Client, own: httpx.Client
) -> None:
    assert (
        own.post("/_vendors/faults", json={"provider": vendor.provider, "kind": "timeout"}).status_code == 201
    )
    calls = Calls()

    error = error_of(lambda: vendor.build(settings, http).check(vendor.creds, calls))

    assert (error.code, error.status, error.retryable) == ("unreachable", None, True)
    assert [(r.status, r.ok) for r in calls.records] == [(None, False)]
    assert calls.records[0].latency_ms >= CLIENT_TIMEOUT * 1000 * 0.9


@pytest.mark.parametrize("vendor", VENDORS, ids=by_provider)
def test_a_fault_lasts_for_its_count_of_calls(
    vendor: Vendor, settings: Settings, http: httpx.Client, own: httpx.Client
) -> None:
    assert (
        own.post(
            "/_vendors/faults", json={"provider": vendor.provider, "kind": "error500", "count": 2}
        ).status_code
        == 201
    )
    connector = vendor.build(settings, http)

    for _ in range(2):
        assert error_of(lambda: connector.check(vendor.creds, Calls())).code == "unreachable"
    assert connector.check(vendor.creds, Calls()).account_label


# -- CRM syncs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", CRMS, ids=by_provider)
def test_a_crm_sync_pages_through_every_contact(
    vendor: Vendor, settings: Settings, http: httpx.Client, own: httpx.Client, fake: FakeVendorServer
) -> None:
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    seed_contacts(own, vendor.provider, 250, start=start, step=timedelta(minutes=1))
    calls = Calls()

    result = vendor.build(settings, http).sync(vendor.creds, None, calls)

    assert result.complete
    assert len(result.records) == len({r.key for r in result.records}) == 250
    assert len(calls.records) == total_calls(fake) == 3  # pages of 100
    assert all(r.ok and r.status == 200 for r in calls.records)
    updated = [r.updated_at for r in result.records]
    assert updated == sorted(u for u in updated if u is not None)  # oldest change first
    assert result.cursor == (start + timedelta(minutes=249)).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
    first = result.records[0]
    assert first.kind == "contact"
    assert first.attributes["firstName"] == "Ada0"
    assert first.attributes["lastName"] == "Lovelace"
    assert first.attributes["email"] == "ada0@harbour.example"
    assert first.attributes["phone"] == "+15550100000"
    assert first.attributes["lifecycleStage"] == "customer"
    assert first.updated_at == start


@pytest.mark.parametrize("vendor", CRMS, ids=by_provider)
def test_a_crm_sync_stops_at_max_records_and_resumes_from_its_cursor(
    vendor: Vendor, settings: Settings, http: httpx.Client, own: httpx.Client
) -> None:
    seed_contacts(
        own, vendor.provider, 250, start=datetime(2026, 3, 2, 8, 0, tzinfo=UTC), step=timedelta(minutes=1)
    )
    connector = vendor.build(settings, http)

    first = connector.sync(vendor.creds, None, Calls(), max_records=130)
    assert first.cursor is not None
    resumed = connector.sync(vendor.creds, datetime.fromisoformat(first.cursor), Calls())

    assert (len(first.records), first.complete) == (130, False)
    assert resumed.complete
    assert {r.key for r in first.records} | {r.key for r in resumed.records} == {
        r.key for r in connector.sync(vendor.creds, None, Calls()).records
    }
    assert first.records[-1].key in {r.key for r in resumed.records}  # the cursor's own record comes again


@pytest.mark.parametrize("vendor", CRMS, ids=by_provider)
def test_a_crm_sync_since_brings_only_later_changes(
    vendor: Vendor, settings: Settings, http: httpx.Client, own: httpx.Client
) -> None:
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    seed_contacts(own, vendor.provider, 20, start=start, step=timedelta(hours=1))
    since = start + timedelta(hours=12)

    result = vendor.build(settings, http).sync(vendor.creds, since, Calls())

    assert result.complete
    assert [r.attributes["firstName"] for r in result.records] == [f"Ada{i}" for i in range(12, 20)]
    assert all(r.updated_at is not None and r.updated_at >= since for r in result.records)


@pytest.mark.parametrize("vendor", CRMS, ids=by_provider)
def test_a_crm_sync_with_nothing_new_keeps_the_cursor(
    vendor: Vendor, settings: Settings, http: httpx.Client
) -> None:
    since = datetime(2026, 4, 1, tzinfo=UTC)

    result = vendor.build(settings, http).sync(vendor.creds, since, Calls())

    assert (result.records, result.complete, result.cursor) == ((), True, "2026-04-01T00:00:00.000Z")


@pytest.mark.parametrize("vendor", CRMS, ids=by_provider)
def test_a_failure_mid_sync_reports_every_call_made(
    vendor: Vendor, settings: Settings, http: httpx.Client, own: httpx.Client, fake: FakeVendorServer
) -> None:
    seed_contacts(
        own, vendor.provider, 150, start=datetime(2026, 3, 2, tzinfo=UTC), step=timedelta(minutes=1)
    )
    calls = Calls()

    def observe(record: CallRecord) -> None:
        calls(record)
        if len(calls.records) == 1:  # the first page is in: the vendor throttles the next call
            fake.add_fault(vendor.provider, "rate_limit")

    error = error_of(lambda: vendor.build(settings, http).sync(vendor.creds, None, observe))

    assert error.code == "rate_limited"
    assert [(r.status, r.ok) for r in calls.records] == [(200, True), (429, False)]


# -- GA4 syncs -------------------------------------------------------------------------------------


def test_a_ga4_sync_pages_by_offset_through_each_day_since(
    settings: Settings, http: httpx.Client, own: httpx.Client, fake: FakeVendorServer
) -> None:
    today = datetime.now(UTC).date()
    seed_days(own, today - timedelta(days=60), today)
    calls = Calls()

    result = GA4Connector(settings, http, page_size=15).sync(
        VENDORS[2].creds, datetime.combine(today - timedelta(days=39), datetime.min.time(), UTC), calls
    )

    assert result.complete
    assert [r.key for r in result.records] == [
        (today - timedelta(days=d)).isoformat() for d in range(39, -1, -1)
    ]
    assert len(calls.records) == total_calls(fake) == 3  # 40 days in pages of 15
    day = result.records[0]
    assert day.kind == "site_metrics"
    assert day.attributes == {
        "date": day.key,
        "sessions": 220,
        "activeUsers": 154,
        "screenPageViews": 550,
        "engagementRate": 0.5,
    }
    assert isinstance(day.attributes["sessions"], int)
    assert result.cursor == f"{today.isoformat()}T00:00:00.000Z"


def test_a_ga4_sync_defaults_to_the_last_28_days(
    settings: Settings, http: httpx.Client, own: httpx.Client
) -> None:
    today = datetime.now(UTC).date()
    seed_days(own, today - timedelta(days=60), today)

    result = GA4Connector(settings, http).sync(VENDORS[2].creds, None, Calls())

    assert result.records[0].key == (today - timedelta(days=28)).isoformat()
    assert len(result.records) == 29


def test_a_ga4_sync_stops_at_max_records(settings: Settings, http: httpx.Client, own: httpx.Client) -> None:
    today = datetime.now(UTC).date()
    seed_days(own, today - timedelta(days=60), today)
    since = datetime.combine(today - timedelta(days=20), datetime.min.time(), UTC)

    result = GA4Connector(settings, http).sync(VENDORS[2].creds, since, Calls(), max_records=5)

    assert (len(result.records), result.complete) == (5, False)
    assert result.cursor == f"{(today - timedelta(days=16)).isoformat()}T00:00:00.000Z"


def test_a_ga4_property_without_data_syncs_nothing(settings: Settings, http: httpx.Client) -> None:
    result = GA4Connector(settings, http).sync(VENDORS[2].creds, None, Calls())

    assert (result.records, result.complete, result.cursor) == ((), True, None)


# -- the fake's own endpoints ----------------------------------------------------------------------


def test_the_fake_counts_calls_per_route_and_refuses_malformed_seeds(
    fake: FakeVendorServer, own: httpx.Client, settings: Settings, http: httpx.Client
) -> None:
    HubSpotConnector(settings, http).check(VENDORS[0].creds, Calls())

    assert own.get("/_vendors/calls").json() == {"hubspot.account.details": 1, "hubspot.contacts.list": 1}
    assert own.post("/_vendors/faults", json={"provider": "hubspot", "kind": "melt"}).status_code == 400
    assert own.post("/_vendors/contacts", json={"provider": "ga4", "contacts": [{}]}).status_code == 400
    assert (
        own.post("/_vendors/ga4", json={"propertyId": PROPERTY, "rows": [{"date": "x"}]}).status_code == 400
    )
    assert own.post("/_vendors/accounts", json={"provider": "ga4", "token": "t"}).status_code == 400
