"""The composition root's analytics part: settings, history import, site analytics, insights, metrics
collection and the analytics_sync function's use-case."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from tidings import wiring as root
from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings

if TYPE_CHECKING:
    from tidings.analytics.collection import MetricsCollection
    from tidings.analytics.history_import import HistoryImport
    from tidings.analytics.insights.service import InsightService
    from tidings.analytics.service import AnalyticsSync, PostAnalyticsService
    from tidings.analytics.settings import AnalyticsSettingsService
    from tidings.analytics.site import SiteAnalytics
    from tidings.api.analytics_history import AnalyticsHistoryServices
    from tidings.api.insights import InsightServices
    from tidings.store.post_analytics import PostAnalyticsRepository


@lru_cache(maxsize=1)
def analytics_settings_service() -> AnalyticsSettingsService:
    from tidings.analytics.settings import AnalyticsSettingsService
    from tidings.store.analytics_settings import DynamoAnalyticsSettingsRepository

    return AnalyticsSettingsService(
        DynamoAnalyticsSettingsRepository(get_settings().table_name), DEFAULT_CLOCK
    )


@lru_cache(maxsize=1)
def history_import() -> HistoryImport:
    from tidings.analytics.history_import import HistoryImport
    from tidings.store.post_analytics import DynamoPostAnalyticsRepository

    s = get_settings()
    return HistoryImport(DynamoPostAnalyticsRepository(s.table_name, due_shards=s.due_shards), DEFAULT_CLOCK)


@lru_cache(maxsize=1)
def analytics_history_services() -> AnalyticsHistoryServices:
    from tidings.api.analytics_history import AnalyticsHistoryServices

    return AnalyticsHistoryServices(analytics_settings_service(), history_import())


@lru_cache(maxsize=1)
def site_analytics() -> SiteAnalytics:
    """GA4 site metrics per day and the sessions attributed to each UTM-tagged post."""
    from tidings.analytics.site import GoogleTokens, SiteAnalytics
    from tidings.aws.vault import CredentialVault
    from tidings.publishing.oauth import TokenRefresher
    from tidings.store.analytics_settings import DynamoSiteMetricsRepository
    from tidings.store.post_analytics import DynamoPostAnalyticsRepository

    s = get_settings()
    credentials, connectors, monitoring = root.integration_parts()
    tokens = GoogleTokens(
        credentials,
        CredentialVault(s.credentials_key_id),
        TokenRefresher(root.app_settings(), root.publishing_http(), DEFAULT_CLOCK),
        DEFAULT_CLOCK,
        s.token_refresh_margin_seconds,
    )
    return SiteAnalytics(
        directory=root.integration_directory(),
        tokens=tokens,
        connectors=connectors,
        monitoring=monitoring,
        posts=DynamoPostAnalyticsRepository(s.table_name, due_shards=s.due_shards),
        site_metrics=DynamoSiteMetricsRepository(s.table_name),
        clock=DEFAULT_CLOCK,
    )


@lru_cache(maxsize=1)
def insight_service() -> InsightService:
    from tidings.analytics.insights.service import InsightService
    from tidings.store.insights import DynamoInsightRepository
    from tidings.store.post_analytics import DynamoPostAnalyticsRepository

    s = get_settings()
    return InsightService(
        DynamoPostAnalyticsRepository(s.table_name, due_shards=s.due_shards),
        DynamoInsightRepository(s.table_name),
        DEFAULT_CLOCK,
    )


@lru_cache(maxsize=1)
def insight_services() -> InsightServices:
    from tidings.analytics.summary import AnalyticsSummary
    from tidings.api.insights import InsightServices

    insights = insight_service()
    return InsightServices(insights, AnalyticsSummary(insights.records, DEFAULT_CLOCK))


@lru_cache(maxsize=1)
def post_analytics_repository() -> PostAnalyticsRepository:
    from tidings.store.post_analytics import DynamoPostAnalyticsRepository

    s = get_settings()
    return DynamoPostAnalyticsRepository(s.table_name, due_shards=s.due_shards)


@lru_cache(maxsize=1)
def metrics_collection() -> MetricsCollection:
    from datetime import timedelta

    from tidings.analytics.collection import MetricsCollection
    from tidings.publishing.clients import build_metrics_readers

    s = get_settings()
    return MetricsCollection(
        post_analytics_repository(),
        build_metrics_readers(s, root.publishing_http(), DEFAULT_CLOCK),
        root.publishing_credentials().credentials,
        root.budget_store() if s.rate_budgets else None,
        DEFAULT_CLOCK,
        [timedelta(seconds=seconds) for seconds in s.analytics_cadence],
    )


def refresh_insights(users: set[str]) -> int:
    """After a collection or a sync: the insights of these users, for those who leave them on."""
    settings = analytics_settings_service()
    return insight_service().refresh(users, enabled=settings.insights_enabled)


@lru_cache(maxsize=1)
def analytics_sync() -> AnalyticsSync:
    from tidings.analytics.service import AnalyticsSync

    return AnalyticsSync(metrics_collection(), after_collection=refresh_insights)


def _site_posts(user_id: str) -> int:
    return sum(p.posts for p in site_analytics().sync(user_id).properties)


@lru_cache(maxsize=1)
def post_analytics_service() -> PostAnalyticsService:
    from tidings.analytics.service import PostAnalyticsService

    s = get_settings()
    return PostAnalyticsService(
        post_analytics_repository(),
        root.post_repository(),
        metrics_collection(),
        budgets=root.budget_store() if s.rate_budgets else None,
        site_sync=_site_posts,
        insights=refresh_insights,
        clock=DEFAULT_CLOCK,
    )
