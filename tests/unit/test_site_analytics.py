"""GA4 site analytics: the attribution mapping (utm_source and utm_content to a post on a platform),
days from the landing-page report, and the use-case on the in-memory integrations world with the real
GA4 connector answering canned reports: daily metrics stored, each post's attribution written with a
version-conditional save (retried once), the token renewed with its refresh token, calls measured."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from integration_fakes import NOW, USER, World, world

from tidings.analytics.site import GoogleTokens, SiteAnalytics, attribution_by_post, site_days
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.integrations.connectors.ga4 import GA4Connector, LandingPageDay, SiteMetrics, TaggedVisits
from tidings.integrations.credentials import subject
from tidings.models.integrations import Integration, Status
from tidings.models.post_analytics import AnalyticsSource, PostAnalytics, PostMetrics
from tidings.store.memory.analytics_settings import InMemorySiteMetricsRepository
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository
from tidings.store.post_analytics import StaleAnalytics

ACCESS, REFRESH, RENEWED = "ya29.unit-access-0001", "1//unit-refresh-0001", "ya29.unit-renewed-0002"


def visits(
    source: str, content: str, sessions: int, key_events: float = 0.0, revenue: float = 0.0
) -> TaggedVisits:
    return TaggedVisits(source, content, SiteMetrics(sessions, sessions // 2, key_events, revenue))


# -- the mapping ---------------------------------------------------------------------------------------


def test_sessions_are_attributed_to_the_post_and_platform_their_tags_name() -> None:
    rows = [
        visits("facebook", "p1", 10, 1.0),
        visits("Facebook", "p1", 4),  # the same source, written otherwise by hand
        visits("x", "p2", 6, 2.5),
        visits("linkedin", "p1", 3),
        visits("newsletter", "p1", 50),  # not a platform: not Tidings' tag
        visits("facebook", "(not set)", 7),
        visits("facebook", "", 7),
    ]

    found = {(s.platform, s.post_id): s for s in attribution_by_post(rows, revenue_reported=False)}

    assert set(found) == {(Platform.FACEBOOK, "p1"), (Platform.TWITTER, "p2"), (Platform.LINKEDIN, "p1")}
    facebook = found[(Platform.FACEBOOK, "p1")]
    assert (facebook.sessions, facebook.engaged_sessions, facebook.conversions, facebook.revenue) == (
        14,
        7,
        1.0,
        None,
    )
    assert found[(Platform.TWITTER, "p2")].conversions == 2.5


def test_revenue_is_kept_only_where_the_property_reports_it() -> None:
    (site,) = attribution_by_post([visits("tiktok", "p3", 5, 1.0, 0.0)], revenue_reported=True)
    assert site.revenue == 0.0


def test_landing_page_rows_become_one_day_each_with_totals() -> None:
    day1, day2 = date(2026, 8, 1), date(2026, 8, 2)
    rows = [
        LandingPageDay(day1, "/", SiteMetrics(10, 6, 1.0, 20.0)),
        LandingPageDay(day1, "/listing/42", SiteMetrics(5, 4, 2.0, 0.0)),
        LandingPageDay(day2, "/", SiteMetrics(3, 1, 0.0, 0.0)),
    ]

    first, second = site_days("123", rows, True, NOW)

    assert (first.day, first.sessions, first.engaged_sessions, first.key_events, first.revenue) == (
        day1,
        15,
        10,
        3.0,
        20.0,
    )
    assert [p.landing_page for p in first.landing_pages] == ["/", "/listing/42"]
    assert first.metrics_id == "ga4#2026-08-01#123"
    assert second.revenue == 0.0
    assert site_days("123", rows, False, NOW)[0].revenue is None


# -- the use-case ---------------------------------------------------------------------------------------


@dataclass
class Google:
    """The GA4 Data API as canned answers: landing pages and tagged visits, each asked report kept."""

    pages: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (date, page, metrics)
    tagged: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (source, content, metrics)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # tokens answered 401

    def __call__(self, request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        self.tokens.append(token)
        if token in self.refuse:
            return httpx.Response(
                401, json={"error": {"code": 401, "message": "bad", "status": "UNAUTHENTICATED"}}
            )
        body = json.loads(request.content)
        self.bodies.append(body)
        names = [d["name"] for d in body["dimensions"]]
        rows = self.pages if names == ["date", "landingPage"] else self.tagged
        dims = (
            [[a, b] for a, b, _ in rows]
            if names == ["date", "landingPage"]
            else [[a, "social", "tidings", b] for a, b, _ in rows]
        )
        start = int(body.get("offset", "0"))
        page = slice(start, start + int(body["limit"]))
        total, rows, dims = len(rows), rows[page], dims[page]
        return httpx.Response(
            200,
            json={
                "dimensionHeaders": [{"name": n} for n in names],
                "metricHeaders": [
                    {"name": "sessions", "type": "TYPE_INTEGER"},
                    {"name": "engagedSessions", "type": "TYPE_INTEGER"},
                    {"name": "keyEvents", "type": "TYPE_FLOAT"},
                    {"name": "totalRevenue", "type": "TYPE_CURRENCY"},
                ],
                "rows": [
                    {"dimensionValues": [{"value": v} for v in d], "metricValues": [{"value": v} for v in m]}
                    for d, (_, _, m) in zip(dims, rows, strict=True)
                ],
                "rowCount": total,
                "metadata": {"currencyCode": "USD", "timeZone": "America/Los_Angeles"},
            },
        )


@dataclass
class Refresher:
    answer: PlatformCallError | None = None
    asked: list[tuple[str, str]] = field(default_factory=list)

    def supports(self, platform: str) -> bool:
        return True

    def refresh(self, platform: str, refresh_token: str) -> Any:
        self.asked.append((platform, refresh_token))
        if self.answer is not None:
            raise self.answer

        @dataclass(frozen=True)
        class Grant:
            access_token: str = RENEWED
            refresh_token: str | None = None
            expires_at: datetime | None = NOW + timedelta(hours=1)

        return Grant()


@dataclass
class Site:
    world: World
    google: Google
    refresher: Refresher
    posts: InMemoryPostAnalyticsRepository
    days: InMemorySiteMetricsRepository
    use_case: SiteAnalytics

    def connect(self, **credentials: Any) -> Integration:
        return self.world.lifecycle.create(
            USER,
            name="Harbour site",
            kind="analytics",
            provider="ga4",
            credentials={"propertyId": "123456789", "accessToken": ACCESS, **credentials},
            sync_frequency=None,
            alert_email=None,
        )

    def track(self, platform: Platform, post_id: str, days_ago: int = 3) -> None:
        self.posts.track(
            PostAnalytics(
                user_id=USER,
                post_id=post_id,
                platform=platform,
                published_at=NOW - timedelta(days=days_ago),
                latest=PostMetrics(likes=3),
            )
        )

    def secrets(self, integration: Integration) -> dict[str, Any]:
        sealed = self.world.repository.sealed(USER, integration.integration_id)
        assert sealed is not None
        return self.world.vault.open(USER, subject(integration.integration_id), sealed)


@pytest.fixture
def site() -> Site:
    google = Google()
    settings = Settings(ga4_data_api_base="https://ga4.test")
    w = world(GA4Connector(settings, httpx.Client(transport=httpx.MockTransport(google)), page_size=2))
    w.clock.set(NOW)
    refresher = Refresher()
    posts, days = InMemoryPostAnalyticsRepository(), InMemorySiteMetricsRepository()
    credentials = w.lifecycle.credentials
    tokens = GoogleTokens(credentials, w.vault, refresher, w.clock, margin_seconds=600)
    use_case = SiteAnalytics(
        directory=w.lifecycle.directory,
        tokens=tokens,
        connectors=w.lifecycle.connectors,
        monitoring=w.monitoring,
        posts=posts,
        site_metrics=days,
        clock=w.clock,
    )
    return Site(w, google, refresher, posts, days, use_case)


def test_a_sync_stores_days_and_writes_each_posts_attribution(site: Site) -> None:
    integration = site.connect()
    site.track(Platform.FACEBOOK, "p1", days_ago=10)
    site.track(Platform.LINKEDIN, "p1")
    site.google.pages = [
        ("20260802", "/", ["12", "7", "1", "0"]),
        ("20260802", "/listing/42", ["5", "5", "2", "0"]),
        ("20260803", "/", ["3", "1", "0", "0"]),
    ]
    site.google.tagged = [
        ("facebook", "p1", ["9", "6", "2", "0"]),
        ("linkedin", "p1", ["2", "1", "0", "0"]),
        ("twitter", "p-unknown", ["4", "2", "0", "0"]),
    ]

    report = site.use_case.sync(USER)

    (synced,) = report.properties
    assert (synced.ok, synced.days, synced.posts, synced.unmatched, synced.complete) == (True, 2, 2, 1, True)
    facebook = site.posts.get(USER, Platform.FACEBOOK, "p1")
    assert facebook is not None
    assert facebook.site is not None
    assert (facebook.site.sessions, facebook.site.engaged_sessions, facebook.site.conversions) == (9, 6, 2.0)
    assert facebook.site.revenue is None  # the property reported no revenue
    assert facebook.version == 2
    stored = site.days.days(USER, "ga4", date(2026, 8, 1), date(2026, 8, 3))
    assert [(d.day, d.sessions, d.key_events) for d in stored] == [
        (date(2026, 8, 2), 17, 3.0),
        (date(2026, 8, 3), 3, 0.0),
    ]
    pages, _, tagged, _ = site.google.bodies  # page size 2: the three page rows come in two pages
    assert pages["dateRanges"] == [{"startDate": "2026-07-06", "endDate": "2026-08-03"}]
    assert tagged["dateRanges"] == [{"startDate": "2026-07-24", "endDate": "2026-08-03"}]  # the first post
    assert tagged["dimensionFilter"]["andGroup"]["expressions"][0]["filter"]["fieldName"] == "sessionMedium"
    assert site.world.metrics.hourly(USER, integration.integration_id, NOW - timedelta(hours=1))

    again = site.use_case.sync(USER)  # the same totals: nothing is written again
    assert again.properties[0].posts == 2
    assert site.posts.get(USER, Platform.FACEBOOK, "p1").version == 2  # type: ignore[union-attr]


def test_without_ga4_or_tracked_posts_nothing_is_asked(site: Site) -> None:
    assert site.use_case.sync(USER).properties == []

    site.connect()
    report = site.use_case.sync(USER)

    assert report.ok
    assert [set(b) >= {"dimensionFilter"} for b in site.google.bodies] == [False]  # landing pages only


def test_a_stale_write_is_retried_once_on_the_record_read_again(site: Site) -> None:
    site.connect()
    site.track(Platform.FACEBOOK, "p1")
    site.google.tagged = [("facebook", "p1", ["9", "6", "2", "0"])]
    real_save = site.posts.save
    raced: list[int] = []

    def save(record: PostAnalytics) -> PostAnalytics:
        if not raced:  # a collection pass wrote the record first
            raced.append(1)
            current = site.posts.get(USER, Platform.FACEBOOK, "p1")
            assert current is not None
            real_save(current.model_copy(update={"latest": PostMetrics(likes=8)}))
        return real_save(record)

    site.posts.save = save  # type: ignore[method-assign]

    assert site.use_case.sync(USER).properties[0].posts == 1
    stored = site.posts.get(USER, Platform.FACEBOOK, "p1")
    assert stored is not None
    assert stored.site is not None
    assert stored.latest == PostMetrics(likes=8)  # the collection's write is kept
    assert stored.site.sessions == 9


def test_a_post_that_keeps_changing_is_left_for_the_next_sync(site: Site) -> None:
    site.connect()
    site.track(Platform.FACEBOOK, "p1")
    site.google.tagged = [("facebook", "p1", ["9", "6", "2", "0"])]

    def always_stale(record: PostAnalytics) -> PostAnalytics:
        raise StaleAnalytics("changed")

    site.posts.save = always_stale  # type: ignore[method-assign]

    synced = site.use_case.sync(USER).properties[0]
    assert (synced.ok, synced.posts, synced.stale) == (True, 0, 1)


def test_a_token_about_to_expire_is_renewed_first_and_sealed_again(site: Site) -> None:
    integration = site.connect(refreshToken=REFRESH, expiresAt=(NOW + timedelta(minutes=5)).isoformat())

    assert site.use_case.sync(USER).ok

    assert site.refresher.asked == [("youtube", REFRESH)]  # Google's token endpoint and client
    assert set(site.google.tokens) == {RENEWED}
    assert site.secrets(integration) == {"accessToken": RENEWED, "refreshToken": REFRESH}
    stored = site.world.repository.require(USER, integration.integration_id)
    assert stored.expires_at == NOW + timedelta(hours=1)
    assert stored.secret_hint == "••••0002"


def test_a_refused_token_is_renewed_once_and_the_report_asked_again(site: Site) -> None:
    site.connect(refreshToken=REFRESH)  # no known expiry
    site.google.refuse = {ACCESS}

    assert site.use_case.sync(USER).ok
    assert site.google.tokens == [ACCESS, RENEWED]


def test_renewal_that_fails_uses_a_token_still_valid_and_reports_an_expired_one(site: Site) -> None:
    site.refresher.answer = PlatformCallError(
        ErrorKind.PERMANENT, "oauth_client_not_configured", "set TIDINGS_GOOGLE_CLIENT_ID"
    )
    integration = site.connect(refreshToken=REFRESH, expiresAt=(NOW + timedelta(minutes=5)).isoformat())
    assert site.use_case.sync(USER).ok
    assert set(site.google.tokens) == {ACCESS}

    site.world.clock.advance(timedelta(minutes=10))  # now it has expired
    synced = site.use_case.sync(USER).properties[0]
    assert (synced.ok, synced.error_code) == (False, "auth_failed")
    assert "TIDINGS_GOOGLE_CLIENT_ID" in (synced.error or "")
    assert site.world.repository.require(USER, integration.integration_id).status == Status.ERROR


def test_an_expired_token_without_a_refresh_token_is_reported(site: Site) -> None:
    site.connect(expiresAt=(NOW - timedelta(minutes=1)).isoformat())

    synced = site.use_case.sync(USER).properties[0]

    assert (synced.ok, synced.error_code) == (False, "auth_failed")
    assert site.refresher.asked == []
    assert site.google.tokens == []


def test_a_disconnected_integration_is_not_synced(site: Site) -> None:
    integration = site.connect()
    site.world.lifecycle.disconnect(USER, integration.integration_id)

    assert site.use_case.sync(USER).properties == []


def test_an_integration_over_its_budget_is_reported_not_called(site: Site) -> None:
    site.connect()
    for _ in range(200):
        report = site.use_case.sync(USER)
        if not report.ok:
            break
    synced = report.properties[0]
    assert (synced.ok, synced.error_code) == (False, "rate_limited")


def test_imported_history_does_not_widen_the_attribution_span(site: Site) -> None:
    site.connect()
    site.track(Platform.FACEBOOK, "p1", days_ago=2)
    site.posts.put_imported(
        [
            PostAnalytics(
                user_id=USER,
                post_id="imp_old",
                platform=Platform.FACEBOOK,
                published_at=NOW - timedelta(days=900),
                source=AnalyticsSource.IMPORTED,
                latest=PostMetrics(likes=1),
            )
        ]
    )

    site.use_case.sync(USER)

    tagged = [b for b in site.google.bodies if "dimensionFilter" in b]
    assert tagged[0]["dateRanges"][0]["startDate"] == "2026-08-01"
