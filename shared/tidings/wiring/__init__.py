"""The composition root: builds each use-case with its real collaborators, once per process.

Handlers call these; tests build the use-cases themselves with whatever collaborators they need.
Heavy modules are imported here, inside the functions, so a handler's cold import stays small.
"""

from __future__ import annotations

import secrets
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import Settings, get_settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    from tidings.api.accounts import AccountServices
    from tidings.api.integrations import IntegrationServices
    from tidings.aws.publishing import StepFunctionsPublishStarter
    from tidings.aws.secrets import SecretCache
    from tidings.aws.workflows import StepFunctionsWorkflowRunner
    from tidings.core.streams import StreamConsumer
    from tidings.integrations.connectors.registry import ConnectorRegistry
    from tidings.integrations.credentials import IntegrationCredentials
    from tidings.integrations.directory import IntegrationDirectory
    from tidings.integrations.inbound import MetaInbox
    from tidings.integrations.lifecycle import IntegrationLifecycle
    from tidings.integrations.monitoring import IntegrationMonitoring
    from tidings.integrations.schedule_keeper import IntegrationScheduleKeeper
    from tidings.integrations.sync import IntegrationSyncing
    from tidings.publishing.clients.whatsapp import WhatsAppClient
    from tidings.publishing.step import PublishStep
    from tidings.publishing.tokens import FreshCredentials
    from tidings.scheduling.schedule_keeper import PostScheduleKeeper
    from tidings.scheduling.service import SchedulingService
    from tidings.store.accounts import AccountRepository
    from tidings.store.audit import AuditRepository
    from tidings.store.budgets import BudgetRepository
    from tidings.store.posts import PostRepository
    from tidings.store.throttle import RequestThrottle
    from tidings.store.webhooks import WebhookRepository
    from tidings.store.workflows import WorkflowRepository
    from tidings.webhooks.delivery import WebhookDeliverer
    from tidings.webhooks.events import Event
    from tidings.webhooks.service import WebhookService
    from tidings.workflows.action import ActionServices
    from tidings.workflows.engine import WorkflowEngine
    from tidings.workflows.schedule_keeper import TaskScheduleKeeper
    from tidings.workflows.service import WorkflowService
    from tidings.workflows.tasks import TaskService

_lock = threading.RLock()
# Seals page tokens in a process that has no deployment secret (page_secret).
_process_secret = secrets.token_bytes(32)


@lru_cache(maxsize=1)
def _secrets() -> SecretCache:
    from tidings.aws.secrets import SecretCache

    return SecretCache()


def app_settings() -> Settings:
    """The settings with the app-level secrets (OAuth client secrets, the Meta app secret, ...; see
    `tidings.core.config.APP_SECRET_FIELDS`) from the deployment's Secrets Manager secret when the
    stack names one (`app_secrets_arn`), kept per instance for `SECRET_TTL_SECONDS`; locally, where
    no secret is named, the environment's. What is built once per instance (token renewal, the
    connectors) keeps what it was built with; the Meta webhook check asks at each delivery."""
    s = get_settings()
    if not s.app_secrets_arn:
        return s
    return s.with_app_secrets(_secrets().json_object(s.app_secrets_arn))


@lru_cache(maxsize=1)
def post_repository() -> PostRepository:
    from tidings.store.posts import DynamoPostRepository

    s = get_settings()
    return DynamoPostRepository(s.table_name, due_shards=s.due_shards)


@lru_cache(maxsize=1)
def publish_starter() -> StepFunctionsPublishStarter:
    from tidings.aws.publishing import StepFunctionsPublishStarter

    return StepFunctionsPublishStarter(get_settings())


@lru_cache(maxsize=1)
def account_store() -> AccountRepository:
    from tidings.aws.vault import CredentialVault
    from tidings.store.accounts import DynamoAccountRepository

    s = get_settings()
    return DynamoAccountRepository(s.table_name, CredentialVault(s.credentials_key_id))


@lru_cache(maxsize=1)
def publishing_http() -> httpx.Client:
    from tidings.publishing.clients import default_http_client

    return default_http_client(get_settings())


@lru_cache(maxsize=1)
def user_url_http() -> httpx.Client:
    """The guarded client every URL a user gave is fetched through (media, link checks,
    notifications, webhook integrations, custom CRMs): tidings.core.fetch."""
    from tidings.core.http import guarded_http_client

    return guarded_http_client(get_settings())


@lru_cache(maxsize=1)
def publishing_credentials() -> FreshCredentials:
    from tidings.publishing.oauth import TokenRefresher
    from tidings.publishing.tokens import FreshCredentials

    s = get_settings()
    return FreshCredentials(
        account_store(),
        TokenRefresher(app_settings(), publishing_http(), DEFAULT_CLOCK),
        DEFAULT_CLOCK,
        s.token_refresh_margin_seconds,
    )


@lru_cache(maxsize=1)
def scheduling_service() -> SchedulingService:
    from tidings.scheduling.service import SchedulingService
    from tidings.store.analytics import DynamoAnalyticsRepository

    s = get_settings()
    return SchedulingService(
        settings=s,
        posts=post_repository(),
        analytics=DynamoAnalyticsRepository(s.table_name),
        starter=publish_starter(),
        clock=DEFAULT_CLOCK,
        personalizer=post_personalizer(),  # posts written for a CRM client
    )


@lru_cache(maxsize=1)
def http_app() -> APIGatewayHttpResolver:
    from tidings.api.app import build_app
    from tidings.store.dynamo import use_page_secret

    use_page_secret(page_secret)
    return build_app(
        scheduling_service,
        account_services,
        workflow_service,
        task_service,
        meta_inbox,
        webhook_service,
        integration_services,
        analytics_history=analytics_history_services,
        insights=insight_services,
        analytics=post_analytics_service,
        crm=crm_services,
        campaigns=campaign_service,
        campaign_sending=campaign_sending_services,
        campaign_insights=campaign_insight_services,
        ab_tests=ab_test_service,
        comments=comment_service,
        notification_addresses=notification_addresses,
        throttle=request_throttle,
        crises=crisis_service,
        settings=app_settings,
    )


@lru_cache(maxsize=1)
def request_throttle() -> RequestThrottle:
    """Each user's token bucket in the table (TIDINGS_API_RATE_PER_SECOND, TIDINGS_API_BURST)."""
    from tidings.store.dynamo import dynamodb_client
    from tidings.store.throttle import Bucket, DynamoRequestThrottle

    s = get_settings()
    return DynamoRequestThrottle(s.table_name, dynamodb_client(), Bucket(s.api_rate_per_second, s.api_burst))


def page_secret() -> str | bytes:
    """The secret the API's page tokens are sealed with: the deployment's (see
    `tidings.campaigns.unsubscribe.deployment_secret`), read when a list first pages. A process
    with none configured (a test's app, a function without the setting) seals with a random key of
    its own, so its tokens page within it, as before the app was built."""
    from tidings.campaigns.unsubscribe import UnsubscribeNotConfigured, deployment_secret

    try:
        return deployment_secret(get_settings())
    except UnsubscribeNotConfigured:
        return _process_secret


@lru_cache(maxsize=1)
def account_services() -> AccountServices:
    from tidings.api.accounts import AccountServices
    from tidings.publishing.messaging import MessagingService
    from tidings.publishing.readiness import Readiness

    s = get_settings()
    budgets = budget_store() if s.rate_budgets else None
    readiness = Readiness(app_settings(), post_repository(), account_store(), budgets, DEFAULT_CLOCK)
    return AccountServices(
        accounts=account_store(),
        readiness=readiness,
        messaging=MessagingService(publishing_credentials(), whatsapp_client),
        posts=post_repository(),
        renewable=readiness.oauth_client_configured,
        audit=audit_repository(),
    )


@lru_cache(maxsize=1)
def whatsapp_client() -> WhatsAppClient:
    from tidings.publishing.clients.whatsapp import WhatsAppClient

    return WhatsAppClient(get_settings(), publishing_http(), DEFAULT_CLOCK)


@lru_cache(maxsize=1)
def publish_step() -> PublishStep:
    from concurrent.futures import ThreadPoolExecutor

    from tidings.core.platforms import Platform
    from tidings.publishing.base import PlatformClient
    from tidings.publishing.clients import build_client
    from tidings.publishing.step import PublishStep
    from tidings.store.dynamo import dynamodb_client
    from tidings.store.ledger import DynamoLedgerRepository
    from tidings.store.metrics import DynamoMetricsRepository

    s = get_settings()
    http = publishing_http()
    clients: dict[Platform, PlatformClient] = {}

    def client_for(platform: Platform) -> PlatformClient:
        with _lock:
            if platform not in clients:
                clients[platform] = build_client(platform, s, http, DEFAULT_CLOCK, media_http=user_url_http())
            return clients[platform]

    return PublishStep(
        settings=s,
        posts=post_repository(),
        ledger=DynamoLedgerRepository(s.table_name),
        accounts=publishing_credentials(),
        clients=client_for,
        clock=DEFAULT_CLOCK,
        pool=ThreadPoolExecutor(max_workers=32, thread_name_prefix="publish"),
        budgets=budget_store() if s.rate_budgets else None,
        metrics=DynamoMetricsRepository(s.table_name, dynamodb_client()),
        # read at publish time, for posts with a link only
        utm_tagging=lambda user_id: analytics_settings_service().utm_tagging(user_id),
        holds=queue_holds(),  # a crisis may hold the user's scheduled posts
    )


@lru_cache(maxsize=1)
def budget_store() -> BudgetRepository:
    from tidings.store.budgets import DynamoBudgetRepository, limits_with
    from tidings.store.dynamo import dynamodb_client

    s = get_settings()
    return DynamoBudgetRepository(s.table_name, dynamodb_client(), limits_with(s.rate_budget_overrides))


@lru_cache(maxsize=1)
def post_schedule_keeper() -> PostScheduleKeeper:
    from tidings.aws.publishing import PostScheduleManager
    from tidings.scheduling.schedule_keeper import PostScheduleKeeper

    s = get_settings()
    return PostScheduleKeeper(
        schedules=PostScheduleManager(s),
        starter=publish_starter(),
        posts=post_repository(),
        clock=DEFAULT_CLOCK,
        lead_seconds=s.schedule_lead_seconds,
    )


@lru_cache(maxsize=1)
def workflow_repository() -> WorkflowRepository:
    from tidings.store.workflows import DynamoWorkflowRepository

    return DynamoWorkflowRepository(get_settings().table_name)


@lru_cache(maxsize=1)
def workflow_runner() -> StepFunctionsWorkflowRunner:
    from tidings.aws.workflows import StepFunctionsWorkflowRunner

    return StepFunctionsWorkflowRunner(get_settings())


@lru_cache(maxsize=1)
def workflow_service() -> WorkflowService:
    from tidings.workflows.actions import registry
    from tidings.workflows.gates import check_gate_definition
    from tidings.workflows.service import WorkflowService

    return WorkflowService(
        workflow_repository(),
        workflow_runner(),
        registry,
        check_gate_definition,
        DEFAULT_CLOCK,
        unconfirmed=lambda user_id, emails: notification_mail().unconfirmed(user_id, emails),
    )


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service)  # type: ignore[call-overload]


@lru_cache(maxsize=1)
def action_services() -> ActionServices:
    from tidings.store.analytics import DynamoAnalyticsRepository
    from tidings.workflows.action import ActionServices

    return ActionServices(
        settings=get_settings,
        scheduling=scheduling_service,
        analytics=lambda: DynamoAnalyticsRepository(get_settings().table_name),
        http=user_url_http,
        ses=lru_cache(maxsize=1)(lambda: _client("sesv2")),
        bedrock=lru_cache(maxsize=1)(lambda: _client("bedrock-runtime")),
        personalization=personalization,
        notifications=notification_mail,
    )


@lru_cache(maxsize=1)
def workflow_engine() -> WorkflowEngine:
    from tidings.workflows import gates
    from tidings.workflows.actions import registry
    from tidings.workflows.engine import WorkflowEngine
    from tidings.workflows.notify import completion_notifier

    settings = get_settings()
    services = action_services()

    def evaluate(gate: dict[str, Any], output: dict[str, Any]) -> Any:
        return gates.evaluate(gate, output, http=user_url_http(), settings=settings)

    return WorkflowEngine(
        workflow_repository(),
        registry,
        services,
        workflow_runner(),
        evaluate,
        DEFAULT_CLOCK,
        notify=completion_notifier(services, DEFAULT_CLOCK),
    )


@lru_cache(maxsize=1)
def task_schedule_keeper() -> TaskScheduleKeeper:
    from tidings.aws.tasks import TaskScheduleManager
    from tidings.workflows.schedule_keeper import TaskScheduleKeeper

    return TaskScheduleKeeper(TaskScheduleManager(get_settings()))


@lru_cache(maxsize=1)
def task_service() -> TaskService:
    from tidings.store.tasks import DynamoTaskRepository
    from tidings.workflows.actions import registry
    from tidings.workflows.tasks import TaskService

    s = get_settings()
    return TaskService(
        DynamoTaskRepository(s.table_name),
        workflow_service,
        registry,
        action_services(),
        DEFAULT_CLOCK,
        s.task_retry_intervals,
    )


@lru_cache(maxsize=1)
def meta_inbox() -> MetaInbox:
    from tidings.integrations.inbound import MetaInbox
    from tidings.store.inbound import DynamoInboundEventRepository

    return MetaInbox(DynamoInboundEventRepository(get_settings().table_name))


@lru_cache(maxsize=1)
def webhook_store() -> WebhookRepository:
    from tidings.aws.vault import CredentialVault
    from tidings.store.webhooks import DynamoWebhookRepository

    s = get_settings()
    return DynamoWebhookRepository(s.table_name, CredentialVault(s.credentials_key_id))


@lru_cache(maxsize=1)
def webhook_deliverer() -> WebhookDeliverer:
    from tidings.core.http import guarded_http_client
    from tidings.integrations.alert_mail import AlertMailer
    from tidings.store.alerts import DynamoAlertRepository
    from tidings.store.webhooks import DynamoDeliveryRepository
    from tidings.webhooks.delivery import WebhookDeliverer

    s = get_settings()
    mailer = AlertMailer(DynamoAlertRepository(s.table_name), notification_mail())
    crisis_mail = crisis_mailer()

    def mail(record: Mapping[str, Any], events: list[Event]) -> None:
        mailer.handle(record, events)
        crisis_mail.handle(record, events)

    http = guarded_http_client(s, timeout=s.webhook_timeout_seconds)
    return WebhookDeliverer(
        webhook_store(),
        DynamoDeliveryRepository(s.table_name),
        http,
        DEFAULT_CLOCK,
        retry_intervals=s.webhook_retry_intervals,
        allow_private=s.allow_private_links,
        on_record=mail,
    )


@lru_cache(maxsize=1)
def webhook_service() -> WebhookService:
    from tidings.webhooks.service import WebhookService

    deliverer = webhook_deliverer()
    return WebhookService(
        deliverer.hooks,
        deliverer.deliveries,
        deliverer,
        DEFAULT_CLOCK,
        allow_private=get_settings().allow_private_links,
    )


@lru_cache(maxsize=1)
def integration_directory() -> IntegrationDirectory:
    from tidings.integrations.directory import IntegrationDirectory
    from tidings.store.integrations import DynamoIntegrationRepository

    return IntegrationDirectory(DynamoIntegrationRepository(get_settings().table_name), account_store())


@lru_cache(maxsize=1)
def integration_parts() -> tuple[IntegrationCredentials, ConnectorRegistry, IntegrationMonitoring]:
    """What the integration use-cases share: credentials, connectors and monitoring."""
    import boto3

    from tidings.aws.vault import CredentialVault
    from tidings.integrations.connectors.registry import default_connectors
    from tidings.integrations.credentials import IntegrationCredentials
    from tidings.integrations.monitoring import IntegrationMonitoring
    from tidings.integrations.ratelimits import IntegrationRateLimits
    from tidings.publishing.readiness import Readiness
    from tidings.store.alerts import DynamoAlertRepository
    from tidings.store.metrics import DynamoMetricsRepository

    s = get_settings()
    directory = integration_directory()
    credentials = IntegrationCredentials(
        CredentialVault(s.credentials_key_id), directory.repo, account_store(), publishing_credentials()
    )
    connectors = default_connectors(
        publishing_http(),
        app_settings(),
        lambda: boto3.client("bedrock-runtime"),
        DEFAULT_CLOCK,
        user_http=user_url_http(),
    )
    readiness = Readiness(app_settings(), post_repository(), account_store(), None, DEFAULT_CLOCK)
    monitoring = IntegrationMonitoring(
        directory=directory,
        metrics=DynamoMetricsRepository(s.table_name),
        alerts=DynamoAlertRepository(s.table_name),
        limits=IntegrationRateLimits(budget_store()),
        renews=readiness.oauth_client_configured,
        clock=DEFAULT_CLOCK,
    )
    return credentials, connectors, monitoring


@lru_cache(maxsize=1)
def integration_lifecycle() -> IntegrationLifecycle:
    from tidings.integrations.lifecycle import IntegrationLifecycle
    from tidings.store.synced import DynamoSyncedRecordRepository

    credentials, connectors, monitoring = integration_parts()
    return IntegrationLifecycle(
        directory=integration_directory(),
        credentials=credentials,
        connectors=connectors,
        monitoring=monitoring,
        synced=DynamoSyncedRecordRepository(get_settings().table_name),
        audit=audit_repository(),
        clock=DEFAULT_CLOCK,
        require_confirmed=lambda user_id, emails: notification_mail().require_confirmed(user_id, emails),
    )


@lru_cache(maxsize=1)
def integration_syncing() -> IntegrationSyncing:
    from tidings.integrations.sync import IntegrationSyncing
    from tidings.store.synced import DynamoSyncedRecordRepository

    credentials, connectors, monitoring = integration_parts()
    return IntegrationSyncing(
        directory=integration_directory(),
        credentials=credentials,
        connectors=connectors,
        synced=DynamoSyncedRecordRepository(get_settings().table_name),
        monitoring=monitoring,
        audit=audit_repository(),
        clock=DEFAULT_CLOCK,
    )


@lru_cache(maxsize=1)
def integration_services() -> IntegrationServices:
    from tidings.api.integrations import IntegrationServices

    return IntegrationServices(integration_lifecycle(), integration_syncing(), integration_parts()[2])


@lru_cache(maxsize=1)
def integration_schedule_keeper() -> IntegrationScheduleKeeper:
    from tidings.aws.integrations import IntegrationScheduleManager
    from tidings.integrations.schedule_keeper import IntegrationScheduleKeeper

    return IntegrationScheduleKeeper(IntegrationScheduleManager(get_settings()))


@lru_cache(maxsize=1)
def audit_repository() -> AuditRepository:
    from tidings.store.audit import DynamoAuditRepository
    from tidings.store.dynamo import dynamodb_client

    return DynamoAuditRepository(get_settings().table_name, dynamodb_client())


def schedule_keepers() -> list[StreamConsumer]:
    """What the schedule_sync function's stream batches feed: posts, tasks, integrations, then campaign
    steps."""
    return [
        post_schedule_keeper(),
        task_schedule_keeper(),
        integration_schedule_keeper(),
        campaign_step_keeper(),
    ]


def periodic_sweep() -> dict[str, Any]:
    """The sweeper's run: due posts nobody claimed are started, posts whose execution ended before
    finishing them are resumed, stale task runs are retried."""
    from dataclasses import asdict
    from datetime import timedelta

    from tidings.scheduling.sweeper import sweep

    settings = get_settings()
    starter = publish_starter()
    report = asdict(
        sweep(
            post_repository(),
            starter,
            DEFAULT_CLOCK,
            settings.sweeper_grace_seconds,
            executions=starter,
            attempt_timeout_seconds=settings.publish_attempt_timeout_seconds,
        )
    )
    report["tasks"] = task_service().recover_stale(timedelta(seconds=settings.task_stale_after_seconds))
    return report


# The A/B test builders live in their own module; they are part of this root all the same.
from tidings.wiring.abtests import (  # noqa: E402
    ab_test_monitor,
    ab_test_repository,
    ab_test_service,
)

# And the analytics builders.
from tidings.wiring.analytics import (  # noqa: E402
    analytics_history_services,
    analytics_settings_service,
    analytics_sync,
    history_import,
    insight_service,
    insight_services,
    metrics_collection,
    post_analytics_repository,
    post_analytics_service,
    refresh_insights,
    site_analytics,
)

# And those of campaign email's consequences: suppressions, unsubscribe links, SES events, stats.
from tidings.wiring.campaign_events import (  # noqa: E402
    campaign_event_repository,
    campaign_events,
    campaign_insight_services,
    campaign_stats,
    suppression_repository,
    suppression_service,
    unsubscribe_links,
)

# And those of when campaign email goes out: steps, the send ledger, scheduling, the sends listing.
from tidings.wiring.campaign_sending import (  # noqa: E402
    campaign_scheduling,
    campaign_send_repository,
    campaign_sending_services,
    campaign_step_keeper,
    campaign_step_repository,
)

# And those of the campaigns themselves: the store and generation, changes, previews.
from tidings.wiring.campaigns import (  # noqa: E402
    campaign_repository,
    campaign_service,
)

# And crisis detection's.
from tidings.wiring.crises import crisis_mailer, crisis_service, queue_holds  # noqa: E402

# So do the CRM builders.
from tidings.wiring.crm import (  # noqa: E402
    client_cache,
    client_directory,
    crm_services,
    crm_settings_service,
    personalization,
    post_personalizer,
)

# And those of engagement: the comments.
from tidings.wiring.engagement import comment_intake, comment_service  # noqa: E402

# And those of notification e-mail: the addresses and the mail every notification goes through.
from tidings.wiring.notifications import (  # noqa: E402
    notification_address_repository,
    notification_addresses,
    notification_mail,
)

__all__ = [
    "ab_test_monitor",
    "ab_test_repository",
    "ab_test_service",
    "analytics_history_services",
    "analytics_settings_service",
    "analytics_sync",
    "campaign_event_repository",
    "campaign_events",
    "campaign_insight_services",
    "campaign_repository",
    "campaign_scheduling",
    "campaign_send_repository",
    "campaign_sending_services",
    "campaign_service",
    "campaign_stats",
    "campaign_step_keeper",
    "campaign_step_repository",
    "client_cache",
    "client_directory",
    "comment_intake",
    "comment_service",
    "crisis_mailer",
    "crisis_service",
    "crm_services",
    "crm_settings_service",
    "history_import",
    "insight_service",
    "insight_services",
    "metrics_collection",
    "notification_address_repository",
    "notification_addresses",
    "notification_mail",
    "personalization",
    "post_analytics_repository",
    "post_analytics_service",
    "post_personalizer",
    "queue_holds",
    "refresh_insights",
    "site_analytics",
    "suppression_repository",
    "suppression_service",
    "unsubscribe_links",
]
