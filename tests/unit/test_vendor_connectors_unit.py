"""The vendor connectors' requests and their reading of answers, with canned HTTP answers: request
shapes, rate-limit waits, HubSpot's search window, Follow Up Boss paging without a token, Google's
error statuses, malformed answers, transport failures, and secrets kept out of every error."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.integrations.connectors.base import ConnectorCredentials, ConnectorError
from tidings.integrations.connectors.followupboss import FollowUpBossConnector
from tidings.integrations.connectors.ga4 import GA4Connector
from tidings.integrations.connectors.hubspot import SEARCH_WINDOW, HubSpotConnector
from tidings.integrations.connectors.vendors import code_for_status, parse_time, watermark
from tidings.models.calls import CallRecord

TOKEN = "pat-na1-unit-canary-token"
API_KEY = "fka_unitCanaryKey"
BASIC = base64.b64encode(f"{API_KEY}:".encode()).decode()
NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
SETTINGS = Settings(
    hubspot_api_base="https://hubspot.test",
    followupboss_api_base="https://fub.test",
    ga4_data_api_base="https://ga4.test",
    followupboss_system_name="Tidings",
    followupboss_system_key="unit-system-key",
)
HUBSPOT = ConnectorCredentials({}, {"accessToken": TOKEN})
FUB = ConnectorCredentials({}, {"apiKey": API_KEY})
GA4 = ConnectorCredentials({"propertyId": "properties/123"}, {"accessToken": TOKEN})

Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def records() -> tuple[list[CallRecord], Callable[[CallRecord], None]]:
    kept: list[CallRecord] = []
    return kept, kept.append


def failure(action: Callable[[], object]) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        action()
    for secret in (TOKEN, API_KEY, BASIC, "unit-system-key"):
        assert secret not in str(caught.value)
        assert secret not in repr(caught.value)
    return caught.value


def contact(number: int, modified: datetime) -> dict[str, Any]:
    stamp = modified.isoformat().replace("+00:00", "Z")
    return {
        "id": str(number),
        "properties": {"firstname": f"C{number}", "lastmodifieddate": stamp},
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
    }


# -- shared plumbing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "invalid_settings"),
        (401, "auth_failed"),
        (403, "auth_failed"),
        (404, "not_found"),
        (408, "unreachable"),
        (409, "unexpected_response"),
        (422, "invalid_settings"),
        (429, "rate_limited"),
        (500, "unreachable"),
        (503, "unreachable"),
    ],
)
def test_http_statuses_map_to_connector_codes(status: int, code: str) -> None:
    assert code_for_status(status) == code


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2012-04-23T02:23:11Z", datetime(2012, 4, 23, 2, 23, 11, tzinfo=UTC)),
        ("2012-04-23T04:23:11+02:00", datetime(2012, 4, 23, 2, 23, 11, tzinfo=UTC)),
        ("2012-04-23T02:23:11", datetime(2012, 4, 23, 2, 23, 11, tzinfo=UTC)),
        (1335147791000, datetime(2012, 4, 23, 2, 23, 11, tzinfo=UTC)),
        ("1335147791000", datetime(2012, 4, 23, 2, 23, 11, tzinfo=UTC)),
        ("", None),
        ("yesterday", None),
        (True, None),
        (None, None),
    ],
)
def test_times_are_read_from_iso_8601_or_epoch_milliseconds(value: Any, expected: datetime | None) -> None:
    assert parse_time(value) == expected


def test_the_watermark_is_the_latest_change_else_since() -> None:
    early, late = NOW - timedelta(hours=2), NOW
    assert watermark([early, None, late], None) == "2026-05-20T12:00:00.000Z"
    assert watermark([], early) == "2026-05-20T10:00:00.000Z"
    assert watermark([None], None) is None


def test_a_transport_failure_is_unreachable_and_redacted() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused while sending Bearer {TOKEN}", request=request)

    kept, observe = records()

    error = failure(lambda: HubSpotConnector(SETTINGS, client(refuse)).check(HUBSPOT, observe))

    assert (error.code, error.status) == ("unreachable", None)
    assert "[redacted]" in error.message
    assert [(r.operation, r.status, r.ok) for r in kept] == [("account.details", None, False)]


def test_a_success_that_is_not_json_is_an_unexpected_response() -> None:
    kept, observe = records()
    http = client(lambda request: httpx.Response(200, text="<html>maintenance</html>"))

    error = failure(lambda: FollowUpBossConnector(SETTINGS, http).check(FUB, observe))

    assert error.code == "unexpected_response"
    assert [(r.status, r.ok) for r in kept] == [(200, True)]


@pytest.mark.parametrize(
    "build",
    [
        lambda http: HubSpotConnector(SETTINGS, http).sync(HUBSPOT, None, lambda r: None, max_records=0),
        lambda http: FollowUpBossConnector(SETTINGS, http).sync(FUB, None, lambda r: None, max_records=0),
        lambda http: GA4Connector(SETTINGS, http).sync(GA4, None, lambda r: None, max_records=0),
    ],
)
def test_max_records_must_be_positive(build: Callable[[httpx.Client], object]) -> None:
    with pytest.raises(ValueError, match="max_records"):
        build(client(lambda request: httpx.Response(500)))


# -- HubSpot ---------------------------------------------------------------------------------------


def test_hubspot_searches_oldest_change_first_from_since_in_milliseconds() -> None:
    seen: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.url == "https://hubspot.test/crm/v3/objects/contacts/search"
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"total": 0, "results": []})

    result = HubSpotConnector(SETTINGS, client(answer)).sync(HUBSPOT, NOW, lambda r: None, max_records=40)

    assert result.complete
    assert result.records == ()
    (body,) = seen
    assert body["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert body["filterGroups"] == [
        {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "1779278400000"}]}
    ]
    assert body["limit"] == 40
    assert "after" not in body
    assert {"firstname", "lastname", "email", "phone", "lifecyclestage"} <= set(body["properties"])


def test_hubspot_starts_the_search_again_past_its_window() -> None:
    bodies: list[dict[str, Any]] = []
    t0 = NOW - timedelta(days=10)

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if len(bodies) == 1:  # the last page of the window
            results = [contact(1, t0), contact(2, t0 + timedelta(minutes=1))]
            return httpx.Response(
                200,
                json={"total": 20_000, "results": results, "paging": {"next": {"after": str(SEARCH_WINDOW)}}},
            )
        # the same query from the last modification time: contact 2 again, then a new one
        results = [contact(2, t0 + timedelta(minutes=1)), contact(3, t0 + timedelta(minutes=2))]
        return httpx.Response(200, json={"total": 2, "results": results})

    result = HubSpotConnector(SETTINGS, client(answer)).sync(HUBSPOT, None, lambda r: None)

    assert [r.key for r in result.records] == ["1", "2", "3"]
    assert result.complete
    assert "filterGroups" not in bodies[0]
    restart = bodies[1]["filterGroups"][0]["filters"][0]
    assert restart["value"] == str(int((t0 + timedelta(minutes=1)).timestamp() * 1000))
    assert "after" not in bodies[1]


@pytest.mark.parametrize(
    ("headers", "policy", "wait"),
    [
        ({"Retry-After": "3"}, "TEN_SECONDLY_ROLLING", 3.0),
        ({"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, "TEN_SECONDLY_ROLLING", 10.0),
        ({"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, "DAILY", None),
        ({}, "SECONDLY", None),
    ],
)
def test_hubspot_throttles_wait_for_what_hubspot_said(
    headers: dict[str, str], policy: str, wait: float | None
) -> None:
    body = {
        "status": "error",
        "message": "You have reached your limit.",
        "errorType": "RATE_LIMIT",
        "policyName": policy,
    }
    http = client(lambda request: httpx.Response(429, json=body, headers=headers))

    error = failure(lambda: HubSpotConnector(SETTINGS, http, FakeClock(NOW)).check(HUBSPOT, lambda r: None))

    assert (error.code, error.retry_after) == ("rate_limited", wait)
    assert policy in error.message


def test_hubspot_missing_scopes_fail_auth_with_hubspots_reason() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/account-info/v3/details":
            return httpx.Response(200, json={"portalId": 62515, "uiDomain": "app-eu1.hubspot.com"})
        body = {
            "status": "error",
            "message": f"This app hasn't been granted all required scopes; {TOKEN} lacks contacts read",
            "category": "MISSING_SCOPES",
        }
        return httpx.Response(403, json=body)

    kept, observe = records()

    error = failure(lambda: HubSpotConnector(SETTINGS, client(answer)).check(HUBSPOT, observe))

    assert (error.code, error.status) == ("auth_failed", 403)
    assert "MISSING_SCOPES" in error.message
    assert "[redacted]" in error.message
    assert [(r.operation, r.ok) for r in kept] == [("account.details", True), ("contacts.list", False)]


def test_hubspot_account_details_without_a_portal_are_unexpected() -> None:
    http = client(lambda request: httpx.Response(200, json={"timeZone": "US/Eastern"}))

    assert failure(lambda: HubSpotConnector(SETTINGS, http).check(HUBSPOT, lambda r: None)).code == (
        "unexpected_response"
    )


# -- Follow Up Boss --------------------------------------------------------------------------------


def test_followupboss_sends_basic_auth_and_the_registered_system() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"accountId": 88, "accountName": "Harbour Realty", "email": "o@h.example"}
        )

    result = FollowUpBossConnector(SETTINGS, client(answer)).check(FUB, lambda r: None)

    assert result.account_label == "Harbour Realty"
    assert result.facts["accountId"] == "88"
    (request,) = seen
    assert request.url == "https://fub.test/v1/identity"
    assert request.headers["Authorization"] == f"Basic {BASIC}"
    assert request.headers["X-System"] == "Tidings"
    assert request.headers["X-System-Key"] == "unit-system-key"


def test_followupboss_identity_without_an_account_is_unexpected() -> None:
    http = client(lambda request: httpx.Response(200, json={"user": {"id": 3}}))

    assert failure(lambda: FollowUpBossConnector(SETTINGS, http).check(FUB, lambda r: None)).code == (
        "unexpected_response"
    )


def test_followupboss_errors_hide_the_key_and_its_basic_form() -> None:
    body = {
        "errorMessage": f"Unknown key {API_KEY} (Authorization: Basic {BASIC}, system key unit-system-key)"
    }
    http = client(lambda request: httpx.Response(401, json=body))

    error = failure(lambda: FollowUpBossConnector(SETTINGS, http).check(FUB, lambda r: None))

    assert (error.code, error.status) == ("auth_failed", 401)
    assert error.message.count("[redacted]") == 3


def test_followupboss_throttle_waits_for_retry_after() -> None:
    headers = {"Retry-After": "8", "X-RateLimit-Context": "global", "X-RateLimit-Remaining": "0"}
    http = client(
        lambda request: httpx.Response(429, json={"errorMessage": "Too many requests"}, headers=headers)
    )

    error = failure(lambda: FollowUpBossConnector(SETTINGS, http).sync(FUB, None, lambda r: None))

    assert (error.code, error.retry_after) == ("rate_limited", 8.0)
    assert "global limit" in error.message


def test_followupboss_pages_by_offset_when_no_next_token_is_given() -> None:
    since = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    queries: list[dict[str, str]] = []

    def person(number: int, updated: str) -> dict[str, Any]:
        return {
            "id": number,
            "updated": updated,
            "firstName": f"P{number}",
            "emails": [
                {"value": f"old{number}@x.example"},
                {"value": f"p{number}@x.example", "isPrimary": True},
            ],
            "phones": [{"value": "+15550100"}],
        }

    def answer(request: httpx.Request) -> httpx.Response:
        queries.append(dict(request.url.params))
        if "offset" not in request.url.params:
            people = [person(1, "2026-05-01T09:29:59Z"), person(2, "2026-05-01T09:30:00Z")]
        else:
            people = [person(3, "2026-05-02T00:00:00Z")]
        metadata = {"collection": "people", "total": 3, "offset": len(queries) - 1, "limit": 2}
        return httpx.Response(200, json={"_metadata": metadata, "people": people})

    result = FollowUpBossConnector(SETTINGS, client(answer), page_size=2).sync(FUB, since, lambda r: None)

    # A person updated a second before `since` (the filter is exclusive) is not brought in.
    assert [r.key for r in result.records] == ["2", "3"]
    assert result.records[0].attributes["email"] == "p2@x.example"
    assert result.records[0].attributes["phone"] == "+15550100"
    assert queries[0]["updatedAfter"] == "2026-05-01T09:29:59Z"
    assert queries[0]["sort"] == "updated"
    assert queries[0]["limit"] == "2"
    assert queries[1]["offset"] == "2"
    assert result.complete
    assert result.cursor == "2026-05-02T00:00:00.000Z"


def test_followupboss_stops_on_an_empty_page_even_with_a_token() -> None:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, json={"_metadata": {"next": "abc", "total": 9}, "people": []})

    result = FollowUpBossConnector(SETTINGS, client(answer)).sync(FUB, None, lambda r: None)

    assert (result.records, result.complete, calls) == ((), True, 1)


# -- Google Analytics 4 ----------------------------------------------------------------------------


def report(days: list[str], *, row_count: int) -> dict[str, Any]:
    return {
        "dimensionHeaders": [{"name": "date"}],
        "metricHeaders": [
            {"name": "sessions", "type": "TYPE_INTEGER"},
            {"name": "activeUsers", "type": "TYPE_INTEGER"},
            {"name": "screenPageViews", "type": "TYPE_INTEGER"},
            {"name": "engagementRate", "type": "TYPE_FLOAT"},
        ],
        "rows": [
            {
                "dimensionValues": [{"value": day}],
                "metricValues": [{"value": "12"}, {"value": "9"}, {"value": "40"}, {"value": "0.6153846"}],
            }
            for day in days
        ],
        "rowCount": row_count,
    }


def test_ga4_asks_for_days_in_order_and_pages_by_offset() -> None:
    bodies: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url == "https://ga4.test/v1beta/properties/123:runReport"
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        bodies.append(json.loads(request.content))
        page = [["20260518", "20260519"], ["20260520"]][len(bodies) - 1]
        return httpx.Response(200, json=report(page, row_count=3))

    result = GA4Connector(SETTINGS, client(answer), FakeClock(NOW), page_size=2).sync(
        GA4, NOW - timedelta(days=2), lambda r: None
    )

    assert [r.key for r in result.records] == ["2026-05-18", "2026-05-19", "2026-05-20"]
    assert result.records[0].attributes == {
        "date": "2026-05-18",
        "sessions": 12,
        "activeUsers": 9,
        "screenPageViews": 40,
        "engagementRate": 0.6153846,
    }
    first, second = bodies
    assert first["dateRanges"] == [{"startDate": "2026-05-18", "endDate": "today"}]
    assert first["dimensions"] == [{"name": "date"}]
    assert [m["name"] for m in first["metrics"]] == [
        "sessions",
        "activeUsers",
        "screenPageViews",
        "engagementRate",
    ]
    assert first["orderBys"] == [{"dimension": {"dimensionName": "date"}, "desc": False}]
    assert first["keepEmptyRows"] is True
    assert (first["limit"], "offset" in first) == ("2", False)
    assert second["offset"] == "2"


def test_ga4_check_reads_the_quota_and_time_zone() -> None:
    body = {
        "metricHeaders": [{"name": "activeUsers", "type": "TYPE_INTEGER"}],
        "metadata": {"currencyCode": "EUR", "timeZone": "Europe/Lisbon"},
        "propertyQuota": {"tokensPerDay": {"consumed": 1, "remaining": 199_990}},
    }
    seen: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=body)

    result = GA4Connector(SETTINGS, client(answer)).check(GA4, lambda r: None)

    assert result.account_label == "properties/123"
    assert result.facts == {
        "propertyId": "123",
        "timeZone": "Europe/Lisbon",
        "currencyCode": "EUR",
        "tokensPerDayRemaining": 199_990,
    }
    assert seen[0]["returnPropertyQuota"] is True
    assert seen[0]["limit"] == "1"
    assert seen[0]["dateRanges"] == [{"startDate": "yesterday", "endDate": "yesterday"}]


@pytest.mark.parametrize(
    ("status", "state", "code"),
    [
        (400, "INVALID_ARGUMENT", "invalid_settings"),
        (401, "UNAUTHENTICATED", "auth_failed"),
        (403, "PERMISSION_DENIED", "auth_failed"),
        (404, "NOT_FOUND", "not_found"),
        (429, "RESOURCE_EXHAUSTED", "rate_limited"),
        (500, "INTERNAL", "unreachable"),
        (503, "UNAVAILABLE", "unreachable"),
    ],
)
def test_ga4_errors_are_read_from_googles_status(status: int, state: str, code: str) -> None:
    body = {"error": {"code": status, "message": f"bad things near {TOKEN}", "status": state}}
    http = client(lambda request: httpx.Response(status, json=body))

    error = failure(lambda: GA4Connector(SETTINGS, http).check(GA4, lambda r: None))

    assert (error.code, error.status) == (code, status)
    assert state in error.message


def test_ga4_quota_errors_wait_for_a_retry_info_delay() -> None:
    detail = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}
    body = {
        "error": {"code": 429, "message": "Exhausted", "status": "RESOURCE_EXHAUSTED", "details": [detail]}
    }
    http = client(lambda request: httpx.Response(429, json=body))

    error = failure(lambda: GA4Connector(SETTINGS, http).sync(GA4, None, lambda r: None))

    assert (error.code, error.retry_after) == ("rate_limited", 2.5)


@pytest.mark.parametrize(
    "broken",
    [
        report(["2026-05-18"], row_count=1),  # not YYYYMMDD
        {**report(["20260518"], row_count=1), "dimensionHeaders": []},
        {**report(["20260518"], row_count=1), "rowCount": "1"},
        {
            **report(["20260518"], row_count=1),
            "rows": [{"dimensionValues": [{"value": "20260518"}], "metricValues": [{"value": "n/a"}] * 4}],
        },
    ],
)
def test_ga4_reports_unlike_their_schema_are_unexpected(broken: dict[str, Any]) -> None:
    http = client(lambda request: httpx.Response(200, json=broken))

    assert failure(lambda: GA4Connector(SETTINGS, http).sync(GA4, None, lambda r: None)).code == (
        "unexpected_response"
    )


def test_ga4_without_rows_or_row_count_is_an_empty_complete_sync() -> None:
    http = client(
        lambda request: httpx.Response(200, json={"metricHeaders": [], "kind": "analyticsData#runReport"})
    )
    since = NOW - timedelta(days=3)

    result = GA4Connector(SETTINGS, http, FakeClock(NOW)).sync(GA4, since, lambda r: None)

    assert (result.records, result.complete, result.cursor) == ((), True, "2026-05-17T12:00:00.000Z")


def test_ga4_since_in_the_future_asks_for_today_only() -> None:
    bodies: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"kind": "analyticsData#runReport"})

    GA4Connector(SETTINGS, client(answer), FakeClock(NOW)).sync(GA4, NOW + timedelta(days=3), lambda r: None)

    assert bodies[0]["dateRanges"][0]["startDate"] == "2026-05-20"
