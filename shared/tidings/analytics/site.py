"""Site analytics from GA4, and the sessions it attributes back to each post.

For each GA4 integration of a user (type `analytics`, platform `ga4`, not disconnected), one sync:

1. takes a call from the integration's rate-limit budget (`IntegrationMonitoring.admit`) and runs
   its reports measured (`measure`: the calls' metrics and health, a 429 holding the budget), the
   way the integration use-cases call connectors;
2. opens the integration's sealed credentials; an access token expiring within the refresh margin
   (or refused with 401) is renewed with its refresh token through Google's OAuth token endpoint
   (`tidings.publishing.oauth.TokenRefresher`, the app's Google client TIDINGS_GOOGLE_CLIENT_ID and
   _SECRET, as for YouTube) and sealed again; without a configured client or a refresh token the
   current token is used while it lasts;
3. reads sessions, engaged sessions, key events and revenue per day and landing page over the last
   `lookback_days` and stores one AnalyticsMetrics item per day (`USER#<id> / ANALYTICS#ga4#<date>#
   <propertyId>`);
4. reads the same metrics per utm_source and utm_content of the sessions tagged
   utm_medium=social and utm_campaign=tidings (`tidings.publishing.utm`), from the day of the
   user's earliest published post to today, and writes each post's totals into its PostAnalytics
   record (`site`) with a version-conditional save, retried once on a stale write. Totals over the
   whole span are written (not added), so a sync repeated is harmless. A tagged visit whose post
   Tidings does not track (yet) is counted as unmatched.

Revenue is None when the property reported none in either report (a property without e-commerce
answers totalRevenue 0).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.errors import Conflict, TidingsError
from tidings.core.failures import PlatformCallError
from tidings.core.platforms import Platform
from tidings.core.secrets import SecretVault, mask
from tidings.integrations.connectors.base import CallObserver, ConnectorCredentials, ConnectorError
from tidings.integrations.connectors.ga4 import GA4Connector, LandingPageDay, SiteReport, TaggedVisits
from tidings.integrations.connectors.registry import ConnectorRegistry
from tidings.integrations.credentials import IntegrationCredentials, subject
from tidings.integrations.directory import IntegrationDirectory
from tidings.integrations.monitoring import IntegrationMonitoring
from tidings.models.integrations import Integration, Status
from tidings.models.post_analytics import AnalyticsSource, PostAnalytics, SiteAttribution
from tidings.publishing.oauth import needs_refresh
from tidings.publishing.tokens import Refresher
from tidings.publishing.utm import UTM_CAMPAIGN, UTM_MEDIUM
from tidings.store.analytics_settings import PageMetrics, SiteDay, SiteMetricsRepository
from tidings.store.post_analytics import PostAnalyticsRepository, StaleAnalytics

logger = logging.getLogger(__name__)

GOOGLE = "youtube"  # the TokenRefresher's name for Google's OAuth token endpoint and app client
SOURCE = "ga4"
GA4_FIRST_DAY = date(2015, 8, 14)  # the Data API takes no earlier startDate
_SOURCE_ALIASES = {"x": Platform.TWITTER}


@dataclass(frozen=True)
class PostSite:
    """What GA4 attributes to one post on one platform."""

    platform: Platform
    post_id: str
    sessions: int
    engaged_sessions: int
    conversions: float
    revenue: float | None


@dataclass(frozen=True)
class PropertySync:
    integration_id: str
    property_id: str
    ok: bool
    days: int = 0  # site metric days stored
    posts: int = 0  # posts whose attribution is current
    unmatched: int = 0  # tagged sessions of posts Tidings does not track
    stale: int = 0  # posts that changed twice while written (the next sync writes them)
    complete: bool = True
    error_code: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class SiteSyncReport:
    properties: list[PropertySync]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.properties)


def attribution_by_post(rows: Sequence[TaggedVisits], revenue_reported: bool) -> list[PostSite]:
    """The attribution report's rows per post and platform: utm_source is the platform (as Tidings
    names it; `x` is taken for twitter), utm_content the post id. Rows of another source are not
    Tidings' and are left out; rows of one post and platform are added up."""
    totals: dict[tuple[Platform, str], list[float]] = {}
    for row in rows:
        name = row.source.strip().lower()
        try:
            platform = _SOURCE_ALIASES.get(name) or Platform(name)
        except ValueError:
            continue
        post_id = row.content.strip()
        if not post_id or post_id == "(not set)":
            continue
        sums = totals.setdefault((platform, post_id), [0, 0, 0.0, 0.0])
        m = row.metrics
        for i, value in enumerate((m.sessions, m.engaged_sessions, m.key_events, m.revenue)):
            sums[i] += value
    return [
        PostSite(platform, post_id, int(s[0]), int(s[1]), s[2], s[3] if revenue_reported else None)
        for (platform, post_id), s in sorted(totals.items())
    ]


def site_days(
    property_id: str, rows: Sequence[LandingPageDay], revenue_reported: bool, now: datetime
) -> list[SiteDay]:
    """The landing-page report's rows as one day each: the day's totals and its pages."""
    by_day: dict[date, list[LandingPageDay]] = {}
    for row in rows:
        by_day.setdefault(row.day, []).append(row)
    days: list[SiteDay] = []
    for day, pages in sorted(by_day.items()):
        views = tuple(
            PageMetrics(
                p.landing_page,
                p.metrics.sessions,
                p.metrics.engaged_sessions,
                p.metrics.key_events,
                p.metrics.revenue if revenue_reported else None,
            )
            for p in pages
        )
        days.append(
            SiteDay(
                source=SOURCE,
                property_id=property_id,
                day=day,
                sessions=sum(p.sessions for p in views),
                engaged_sessions=sum(p.engaged_sessions for p in views),
                key_events=sum(p.key_events for p in views),
                revenue=sum(p.metrics.revenue for p in pages) if revenue_reported else None,
                landing_pages=views,
                synced_at=now,
            )
        )
    return days


class GoogleTokens:
    """A GA4 integration's credentials with a usable access token, renewed when it is about to
    expire (or was refused) and the integration holds a refresh token."""

    def __init__(
        self,
        credentials: IntegrationCredentials,
        vault: SecretVault,
        refresher: Refresher | None,
        clock: Clock = DEFAULT_CLOCK,
        margin_seconds: int = 600,
    ) -> None:
        self.credentials = credentials
        self.vault = vault
        self.refresher = refresher
        self.clock = clock
        self.margin_seconds = margin_seconds

    def open(self, integration: Integration) -> ConnectorCredentials:
        creds = self.credentials.open(integration)
        if not needs_refresh(integration.expires_at, self.clock.now(), self.margin_seconds):
            return creds
        try:
            return self.renew(integration, creds)
        except ConnectorError:
            expires_at = integration.expires_at
            if expires_at is not None and expires_at > self.clock.now():
                return creds  # not renewable now, but still valid for this run
            raise

    def renewable(self, creds: ConnectorCredentials) -> bool:
        return self.refresher is not None and bool(creds.secrets.get("refreshToken"))

    def renew(self, integration: Integration, creds: ConnectorCredentials) -> ConnectorCredentials:
        """A new access token, sealed with the integration; ConnectorError (`auth_failed`) when
        Google refuses or the app's OAuth client is not configured."""
        refresh_token = creds.secrets.get("refreshToken")
        if self.refresher is None or not refresh_token:
            raise ConnectorError(
                "auth_failed",
                "the Google access token expired and the integration has no refresh token to renew it; "
                "connect it again with a new accessToken (and a refreshToken to renew it by itself)",
            )
        try:
            grant = self.refresher.refresh(GOOGLE, refresh_token)
        except PlatformCallError as exc:
            raise ConnectorError("auth_failed", exc.message, retry_after=exc.retry_after) from None
        secrets = {
            **creds.secrets,
            "accessToken": grant.access_token,
            "refreshToken": grant.refresh_token or refresh_token,
        }
        user_id, integration_id = integration.user_id, integration.integration_id
        sealed = self.vault.seal(user_id, subject(integration_id), secrets)
        latest = self.credentials.repo.require(user_id, integration_id)
        renewed = replace(
            latest,
            expires_at=grant.expires_at,
            secret_hint=mask(grant.access_token),
            updated_at=self.clock.now(),
        )
        try:
            self.credentials.repo.save(renewed, sealed)
        except Conflict:  # changed meanwhile (another renewal, new credentials): theirs is kept
            logger.warning("the renewed GA4 token of %s was not stored: changed meanwhile", integration_id)
        return ConnectorCredentials(creds.settings, secrets)


@dataclass(frozen=True)
class _Pulled:
    pages: SiteReport[LandingPageDay]
    visits: SiteReport[TaggedVisits] | None


class SiteAnalytics:
    def __init__(
        self,
        *,
        directory: IntegrationDirectory,
        tokens: GoogleTokens,
        connectors: ConnectorRegistry,
        monitoring: IntegrationMonitoring,
        posts: PostAnalyticsRepository,
        site_metrics: SiteMetricsRepository,
        clock: Clock = DEFAULT_CLOCK,
        lookback_days: int = 28,
    ) -> None:
        self.directory = directory
        self.tokens = tokens
        self.connectors = connectors
        self.monitoring = monitoring
        self.posts = posts
        self.site_metrics = site_metrics
        self.clock = clock
        self.lookback_days = lookback_days

    def sync(self, user_id: str) -> SiteSyncReport:
        """Sync every GA4 integration of the user (none: an empty report)."""
        found = [
            i
            for i in self.directory.for_user(user_id)
            if i.type == "analytics" and i.provider == SOURCE and i.status != Status.DISCONNECTED
        ]
        if not found or not self.connectors.serves("analytics", SOURCE):
            return SiteSyncReport([])
        reporter = self.connectors.get("analytics", SOURCE)
        if not isinstance(reporter, GA4Connector):
            raise TypeError(
                f"the GA4 integrations' connector is {type(reporter).__name__}, without site reports"
            )
        return SiteSyncReport([self._sync_property(i, reporter) for i in found])

    def _sync_property(self, integration: Integration, reporter: GA4Connector) -> PropertySync:
        property_id = integration.settings.get("propertyId", "").removeprefix("properties/")
        try:
            self.monitoring.admit(integration)
        except TidingsError as exc:  # our own budget for the integration is used up
            return PropertySync(
                integration.integration_id, property_id, False, error_code=exc.code, error=exc.message
            )
        today = self.clock.now().date()
        first = self._first_published(integration.user_id)

        def pull(observe: CallObserver) -> _Pulled:
            def run(creds: ConnectorCredentials) -> _Pulled:
                pages = reporter.landing_pages(
                    creds, today - timedelta(days=self.lookback_days), today, observe
                )
                visits = None
                if first is not None:
                    visits = reporter.attribution(
                        creds, first, today, observe, medium=UTM_MEDIUM, campaign=UTM_CAMPAIGN
                    )
                return _Pulled(pages, visits)

            creds = self.tokens.open(integration)
            try:
                return run(creds)
            except ConnectorError as exc:
                if exc.code != "auth_failed" or not self.tokens.renewable(creds):
                    raise
                return run(self.tokens.renew(integration, creds))  # refused: renew once and ask again

        measured = self.monitoring.measure(integration, pull)
        updated = self.directory.settle(integration, error=measured.error)
        self.monitoring.evaluate(updated)
        if measured.result is None:
            error = measured.error
            return PropertySync(
                integration.integration_id,
                property_id,
                False,
                error_code=error.code if error else None,
                error=error.message if error else None,
            )
        return self._store(integration, property_id, measured.result)

    def _first_published(self, user_id: str) -> date | None:
        """The day of the user's earliest collected post: attribution runs from there to today."""
        days = [
            r.published_at.date()
            for r in self.posts.for_user(user_id)
            if r.source == AnalyticsSource.COLLECTED
        ]
        return max(min(days), GA4_FIRST_DAY) if days else None

    def _store(self, integration: Integration, property_id: str, pulled: _Pulled) -> PropertySync:
        visits = pulled.visits.rows if pulled.visits else ()
        revenue = any(r.metrics.revenue > 0 for r in pulled.pages.rows) or any(
            v.metrics.revenue > 0 for v in visits
        )
        days = site_days(property_id, pulled.pages.rows, revenue, self.clock.now())
        self.site_metrics.put_days(integration.user_id, days)
        posts = unmatched = stale = 0
        for site in attribution_by_post(visits, revenue):
            outcome = self._attribute(integration.user_id, site)
            posts += outcome == "ok"
            unmatched += outcome == "unmatched"
            stale += outcome == "stale"
        complete = pulled.pages.complete and (pulled.visits.complete if pulled.visits else True)
        return PropertySync(
            integration.integration_id,
            property_id,
            True,
            days=len(days),
            posts=posts,
            unmatched=unmatched,
            stale=stale,
            complete=complete,
        )

    def _attribute(self, user_id: str, site: PostSite) -> str:
        """Write the post's attribution: "ok", "unmatched" (no such record) or "stale"."""
        for _ in range(2):  # a write that lost a race is retried once on the record read again
            record = self.posts.get(user_id, site.platform, site.post_id)
            if record is None:
                return "unmatched"
            if _same(record, site):
                return "ok"
            attribution = SiteAttribution(
                sessions=site.sessions,
                engaged_sessions=site.engaged_sessions,
                conversions=site.conversions,
                revenue=site.revenue,
                updated_at=self.clock.now(),
            )
            try:
                self.posts.save(record.model_copy(update={"site": attribution}))
                return "ok"
            except StaleAnalytics:
                continue
        logger.warning("the attribution of %s on %s changed twice while written", site.post_id, site.platform)
        return "stale"


def _same(record: PostAnalytics, site: PostSite) -> bool:
    current = record.site
    return current is not None and (
        current.sessions,
        current.engaged_sessions,
        current.conversions,
        current.revenue,
    ) == (site.sessions, site.engaged_sessions, site.conversions, site.revenue)
