"""The GA4 connector's site reports against the fake vendor server: the landing-page report paged by
offset, the attribution report narrowed to Tidings' tags, the fake's own control of tagged visits,
Google's errors; and the site analytics use-case end to end over HTTP (tagged visits registered on
the fake become each post's attribution), with the integration's calls measured."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from memory_integrations import memory_integrations

from infra.local.fakes.vendors import FakeVendorServer
from tidings.analytics.site import GoogleTokens, SiteAnalytics
from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.platforms import Platform
from tidings.integrations.connectors.base import ConnectorCredentials, ConnectorError
from tidings.integrations.connectors.ga4 import GA4Connector
from tidings.models.calls import CallRecord
from tidings.models.post_analytics import PostAnalytics, PostMetrics
from tidings.publishing.clients import default_http_client
from tidings.store.memory.analytics_settings import InMemorySiteMetricsRepository
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository

PROPERTY, OTHER_PROPERTY = "246813579", "975318642"
TOKEN = "ya29.site-reports-canary-token-77"
TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeVendorServer]:
    with FakeVendorServer(hold_seconds=1.0) as server:
        server.register_ga4(TOKEN, PROPERTY)
        yield server


@pytest.fixture(scope="module")
def own(fake: FakeVendorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url) as client:
        yield client


@pytest.fixture(scope="module")
def settings(fake: FakeVendorServer) -> Settings:
    return Settings.from_env({**fake.client_env(), "TIDINGS_HTTP_TIMEOUT_SECONDS": "0.5"})


@pytest.fixture(scope="module")
def http(settings: Settings) -> Iterator[httpx.Client]:
    client = default_http_client(settings)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _clean(own: httpx.Client) -> None:
    for path, params in (
        ("/_vendors/faults", {}),
        ("/_vendors/calls", {}),
        ("/_vendors/ga4", {"propertyId": PROPERTY}),
        ("/ga4/_visits", {"propertyId": PROPERTY}),
    ):
        assert own.delete(path, params=params).status_code == 204


def visit(own: httpx.Client, **fields: Any) -> None:
    body = {"propertyId": PROPERTY, "postId": "p1", "platform": "facebook", "sessions": 3, **fields}
    answer = own.post("/ga4/_visits", json=body)
    assert answer.status_code == 201, answer.text


def day(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


CREDS = ConnectorCredentials({"propertyId": PROPERTY}, {"accessToken": TOKEN})


# -- the reports -----------------------------------------------------------------------------------------


def test_landing_pages_come_per_day_and_page_paged_by_offset(
    fake: FakeVendorServer, own: httpx.Client, settings: Settings, http: httpx.Client
) -> None:
    visit(own, date=day(2), landingPage="/listing/42", sessions=4, engagedSessions=3, conversions=1)
    visit(own, date=day(2), landingPage="/", platform="linkedin", sessions=2, engagedSessions=1)
    visit(own, date=day(1), landingPage="/listing/42", sessions=5, engagedSessions=5, revenue=250.0)
    own.post("/_vendors/ga4", json={"propertyId": PROPERTY, "rows": [{"date": day(1), "sessions": 20}]})
    calls: list[CallRecord] = []

    report = GA4Connector(settings, http, page_size=2).landing_pages(
        CREDS, TODAY - timedelta(days=7), TODAY, calls.append
    )

    rows = [
        (r.day.isoformat(), r.landing_page, r.metrics.sessions, r.metrics.key_events) for r in report.rows
    ]
    assert rows == [
        (day(2), "/", 2, 0.0),
        (day(2), "/listing/42", 4, 1.0),
        (day(1), "(not set)", 20, 0.0),  # traffic without a campaign
        (day(1), "/listing/42", 5, 0.0),
    ]
    assert report.rows[-1].metrics.revenue == 250.0
    assert (report.complete, report.currency) == (True, "USD")
    assert [c.status for c in calls] == [200, 200]
    assert fake.calls()["ga4.runReport"] == 2


def test_attribution_sums_tidings_tagged_sessions_per_source_and_post(
    own: httpx.Client, settings: Settings, http: httpx.Client
) -> None:
    visit(own, date=day(3), sessions=4, engagedSessions=2, conversions=1)
    visit(own, date=day(1), sessions=6, engagedSessions=5, conversions=2, revenue=80.5)
    visit(own, platform="twitter", postId="p2", sessions=2)
    visit(own, medium="email", sessions=100)  # tagged by hand for a newsletter: not Tidings'
    visit(own, campaign="spring", sessions=100)

    report = GA4Connector(settings, http).attribution(
        CREDS, TODAY - timedelta(days=30), TODAY, lambda r: None, medium="social", campaign="tidings"
    )

    found = {(r.source, r.content): r.metrics for r in report.rows}
    assert set(found) == {("facebook", "p1"), ("twitter", "p2")}
    assert (found["facebook", "p1"].sessions, found["facebook", "p1"].engaged_sessions) == (10, 7)
    assert (found["facebook", "p1"].key_events, found["facebook", "p1"].revenue) == (3.0, 80.5)


def test_a_report_stops_at_its_row_limit_and_says_so(
    own: httpx.Client, settings: Settings, http: httpx.Client
) -> None:
    for n in range(5):
        visit(own, postId=f"p{n}")

    report = GA4Connector(settings, http, page_size=2).attribution(
        CREDS, TODAY, TODAY, lambda r: None, medium="social", campaign="tidings", max_rows=3
    )

    assert (len(report.rows), report.complete) == (3, False)


@pytest.mark.parametrize(
    ("creds", "fault", "code"),
    [
        (
            ConnectorCredentials({"propertyId": PROPERTY}, {"accessToken": "ya29.unknown"}),
            None,
            "auth_failed",
        ),
        (ConnectorCredentials({"propertyId": OTHER_PROPERTY}, {"accessToken": TOKEN}), None, "auth_failed"),
        (CREDS, "rate_limit", "rate_limited"),
        (CREDS, "error500", "unreachable"),
        (CREDS, "timeout", "unreachable"),
    ],
)
def test_googles_errors_are_classified(
    fake: FakeVendorServer,
    settings: Settings,
    http: httpx.Client,
    creds: ConnectorCredentials,
    fault: str | None,
    code: str,
) -> None:
    if fault:
        fake.add_fault("ga4", fault)
    with pytest.raises(ConnectorError) as caught:
        GA4Connector(settings, http).landing_pages(creds, TODAY, TODAY, lambda r: None)
    assert caught.value.code == code
    assert "ya29" not in caught.value.message


def test_the_fake_refuses_what_google_would(own: httpx.Client) -> None:
    url = f"/ga4/v1beta/properties/{PROPERTY}:runReport"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    base: dict[str, Any] = {"dateRanges": [{"startDate": "7daysAgo", "endDate": "today"}]}
    bad = [
        {**base, "metrics": [{"name": "conversions"}]},  # the retired name of keyEvents
        {**base, "metrics": [{"name": "sessions"}], "dimensions": [{"name": "sessionAdContent"}]},
        {**base, "metrics": [{"name": "sessions"}], "metricFilter": {"filter": {"fieldName": "sessions"}}},
        {**base, "metrics": [{"name": "sessions"}], "dimensionFilter": {"filter": {"fieldName": "sessions"}}},
        {**base, "metrics": [{"name": "sessions"}], "orderBys": [{"dimension": {"dimensionName": "date"}}]},
    ]
    for body in bad:
        answer = own.post(url, json=body, headers=headers)
        assert (answer.status_code, answer.json()["error"]["status"]) == (400, "INVALID_ARGUMENT"), body


def test_the_fake_orders_by_a_metric_and_filters_by_list_and_negation(own: httpx.Client) -> None:
    for post_id, sessions in (("p1", 3), ("p2", 9), ("p3", 5)):
        visit(own, postId=post_id, sessions=sessions)
    body = {
        "dateRanges": [{"startDate": "today", "endDate": "today"}],
        "dimensions": [{"name": "sessionManualAdContent"}],
        "metrics": [{"name": "sessions"}],
        "dimensionFilter": {
            "andGroup": {
                "expressions": [
                    {
                        "filter": {
                            "fieldName": "sessionManualAdContent",
                            "inListFilter": {"values": ["p1", "p2", "p3"]},
                        }
                    },
                    {
                        "notExpression": {
                            "filter": {"fieldName": "sessionManualAdContent", "stringFilter": {"value": "p1"}}
                        }
                    },
                ]
            }
        },
        "orderBys": [{"metric": {"metricName": "sessions"}, "desc": True}],
    }

    answer = own.post(
        f"/ga4/v1beta/properties/{PROPERTY}:runReport",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).json()

    assert [(r["dimensionValues"][0]["value"], r["metricValues"][0]["value"]) for r in answer["rows"]] == [
        ("p2", "9"),
        ("p3", "5"),
    ]


def test_the_visits_control_checks_what_it_is_given(own: httpx.Client) -> None:
    for body in (
        {"propertyId": "G-1", "postId": "p1", "platform": "facebook", "sessions": 1},
        {"propertyId": PROPERTY, "platform": "facebook", "sessions": 1},
        {"propertyId": PROPERTY, "postId": "p1", "platform": "facebook", "sessions": -1},
        {"propertyId": PROPERTY, "postId": "p1", "platform": "facebook", "sessions": 1.5},
        {"propertyId": PROPERTY, "postId": "p1", "platform": "facebook", "date": "yesterday"},
    ):
        assert own.post("/ga4/_visits", json=body).status_code == 400, body
    visit(own, conversions=2)
    listed = own.get("/ga4/_visits", params={"propertyId": PROPERTY}).json()
    assert [(v["content"], v["source"], v["medium"], v["campaign"], v["key_events"]) for v in listed] == [
        ("p1", "facebook", "social", "tidings", 2.0)
    ]


# -- the use-case over HTTP ----------------------------------------------------------------------------


def test_tagged_visits_become_each_posts_attribution(
    own: httpx.Client, settings: Settings, http: httpx.Client
) -> None:
    clock = FakeClock(datetime.now(UTC))
    world = memory_integrations([GA4Connector(settings, http, clock)], clock)
    directory, credentials, connectors = world.directory, world.credentials, world.connectors
    vault, metrics, monitoring = world.vault, world.metrics, world.monitoring
    integration = world.lifecycle.create(
        "agent-7",
        name="Site",
        kind="analytics",
        provider="ga4",
        credentials={"propertyId": PROPERTY, "accessToken": TOKEN},
        sync_frequency=None,
        alert_email=None,
    )
    posts, days = InMemoryPostAnalyticsRepository(), InMemorySiteMetricsRepository()
    published = clock.now() - timedelta(days=2)
    for platform in (Platform.FACEBOOK, Platform.INSTAGRAM):
        posts.track(PostAnalytics(user_id="agent-7", post_id="p1", platform=platform, published_at=published))
    visit(own, sessions=7, engagedSessions=4, conversions=1, date=day(1))
    visit(own, platform="instagram", sessions=3, engagedSessions=3)
    site = SiteAnalytics(
        directory=directory,
        tokens=GoogleTokens(credentials, vault, None, clock),
        connectors=connectors,
        monitoring=monitoring,
        posts=posts,
        site_metrics=days,
        clock=clock,
    )

    report = site.sync("agent-7")

    assert report.ok
    assert (report.properties[0].posts, report.properties[0].days) == (2, 2)
    facebook = posts.get("agent-7", Platform.FACEBOOK, "p1")
    instagram = posts.get("agent-7", Platform.INSTAGRAM, "p1")
    assert facebook is not None
    assert facebook.site is not None
    assert instagram is not None
    assert instagram.site is not None
    assert (facebook.site.sessions, facebook.site.conversions, instagram.site.sessions) == (7, 1.0, 3)
    assert facebook.latest is None or facebook.latest == PostMetrics()  # the platform's metrics untouched
    hourly = metrics.hourly("agent-7", integration.integration_id, clock.now() - timedelta(hours=1))
    assert sum(point.totals.requests for point in hourly) == 2
