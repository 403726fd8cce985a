"""Settings, parsed once from the environment with pydantic. Nothing else reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from tidings.core.platforms import Platform

_PREFIX = "TIDINGS_"


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseModel):
    """Every knob of Tidings. Environment variable = TIDINGS_ + field name in upper case."""

    table_name: str = "tidings"
    region: str = Field(default="us-east-1")
    publish_state_machine_arn: str = ""
    workflow_state_machine_arn: str = ""
    # The function scheduled tasks invoke (the workflow_step function), and the waits between a
    # failed task's runs (seconds).
    task_runner_arn: str = ""
    integration_sync_arn: str = ""  # the function periodic integration syncs invoke
    task_retry_intervals: list[int] = Field(default_factory=lambda: [300, 900, 2700])
    schedule_group: str = "tidings"
    scheduler_role_arn: str = ""
    scheduler_dlq_arn: str = ""

    # Back-off between publish attempts on retryable failures (seconds).
    retry_intervals: list[int] = Field(default_factory=lambda: [300, 900, 2700])
    # A one-time schedule fires within its minute, so it is set this long before the due time
    # and the state machine waits the rest to the second.
    schedule_lead_seconds: int = 120
    # The machine's Wait ends this long before the due time; the publish step waits the remainder
    # itself, to the millisecond (a Wait on a timestamp is precise only to the second).
    publish_wake_lead_seconds: int = 2
    # How long POST /posts/publish-now waits for results before answering 202.
    publish_now_wait_seconds: float = 20.0

    default_platforms: list[Platform] = Field(default_factory=lambda: [Platform.FACEBOOK, Platform.INSTAGRAM])
    auto_optimize: bool = True
    max_queue_per_platform: int = 100
    min_gap_minutes: int = 30
    # The sweeper starts posts this long overdue that nobody claimed, and resumes posts this long
    # past their next attempt whose execution ended.
    sweeper_grace_seconds: int = 90
    # The publish task's Lambda timeout (infra/topology.py): Lambda stops an invocation then, so an
    # attempt started longer ago is over, whatever it left behind.
    publish_attempt_timeout_seconds: int = 120
    # A task still `running` this long after it started lost its runner (the runner's timeout is 300 s).
    task_stale_after_seconds: int = 900
    due_shards: int = 8

    # The KMS key that wraps each credential's data key (an id, ARN or alias).
    credentials_key_id: str = "alias/tidings-credentials"

    http_timeout_seconds: float = 10.0
    facebook_api_base: str = "https://graph.facebook.com/v23.0"
    instagram_api_base: str = "https://graph.facebook.com/v23.0"
    x_api_base: str = "https://api.x.com"
    linkedin_api_base: str = "https://api.linkedin.com"
    linkedin_version: str = "202610"
    youtube_api_base: str = "https://www.googleapis.com"
    tiktok_api_base: str = "https://open.tiktokapis.com"
    # OAuth 2.0 token refresh (tidings.publishing.oauth): the token hosts that differ from the API
    # hosts, the app's client credentials per platform, and how long before expiry to refresh.
    linkedin_oauth_base: str = "https://www.linkedin.com"
    google_oauth_base: str = "https://oauth2.googleapis.com"
    x_client_id: str = ""
    x_client_secret: str = Field(default="", repr=False)
    linkedin_client_id: str = ""
    linkedin_client_secret: str = Field(default="", repr=False)
    google_client_id: str = ""
    google_client_secret: str = Field(default="", repr=False)
    tiktok_client_key: str = ""
    tiktok_client_secret: str = Field(default="", repr=False)
    token_refresh_margin_seconds: int = 600
    # The Secrets Manager secret (a JSON object) holding the app-level secrets, APP_SECRET_FIELDS by
    # their field names; the stack sets it. Its values take the place of those settings (which stay
    # for local runs, from the environment): see `with_app_secrets`.
    app_secrets_arn: str = ""
    # Rate-limit budgets (tidings.store.budgets): on by default. `rate_budget_overrides` replaces
    # a platform's documented limits with per-account ones, "platform:count/seconds" comma-separated
    # (e.g. "twitter:2/60" in a test, or a raised limit an operator negotiated).
    rate_budgets: bool = True
    rate_budget_overrides: str = ""
    whatsapp_api_base: str = "https://graph.facebook.com/v23.0"
    # Workflows. The Amazon Bedrock model (or inference profile) id generate_content uses when a step asks
    # for a model; empty means no model configured, and such a step fails instead of falling back.
    bedrock_model_id: str = ""
    # The verified SES identity notification e-mails come from; empty means e-mail is not configured.
    notification_from_email: str = ""
    # Notification e-mail (workflow notifications, alert e-mails) goes only to addresses the user
    # confirmed through a link (tidings.notifications): at most this many addresses a user, links valid
    # this many hours, and at most `notification_mail_per_hour` messages a user each UTC hour
    # (confirmation e-mails included; 0 sends none).
    notification_addresses_max: int = Field(default=10, ge=1, le=100)
    notification_link_hours: int = Field(default=72, ge=1, le=720)
    notification_mail_per_hour: int = Field(default=30, ge=0)
    # Live updates (tidings.live): at most this many open dashboard connections a user; the WebSocket
    # API's management endpoint (https://{api-id}.execute-api.{region}.amazonaws.com/{stage}) the
    # fan-out posts to; the issuer, app client ids (comma-separated) and key set URL of the access
    # tokens a connection opens with (the Cognito user pool's, set by the stack).
    live_connections_max: int = Field(default=10, ge=1, le=100)
    live_endpoint_url: str = ""
    live_issuer_url: str = ""
    live_client_ids: str = ""
    live_jwks_url: str = ""
    # Campaign sending (tidings.campaigns.sending). The From of campaign email ("Acme <news@acme.example>"
    # or the address; a verified SES identity covers it) and the SES configuration set it goes through
    # (both set by the stack from its context); empty: campaigns cannot send and fail with
    # sending_not_configured. The queue the steps' sends go through, the function the step schedules
    # invoke, and how many instances send at once (the queue mapping's maximum concurrency).
    campaign_from_address: str = ""
    campaign_configuration_set: str = ""
    campaign_send_queue_url: str = ""
    campaign_send_arn: str = ""
    campaign_send_concurrency: int = Field(default=2, ge=1)
    # Emails a second all instances together may send: at most the account's SES maximum send rate
    # (read with GetAccount), lower when this is set (0: the account's rate).
    campaign_send_rate: float = Field(default=0.0, ge=0.0)
    # How long a campaign send whose SES answer was lost waits for SES's Send event (which marks it sent)
    # before it is sent again: longer than SES takes to publish the event to EventBridge and Lambda.
    campaign_send_confirm_seconds: int = Field(default=300, ge=1, le=43_200)
    # Allow http:// and private, loopback or link-local addresses in webhook URLs and link checks
    # (local development only: in production they could reach internal services).
    allow_private_links: bool = False
    # The ports of the local runtime's own services on this machine (DynamoDB Local, moto, the lambda
    # host, the API, the SES front), set by `tidings dev`: a user-given URL may not reach them on a
    # non-public address even with `allow_private_links` (tidings.core.netguard).
    local_runtime_ports: list[int] = Field(default_factory=list)
    # Meta (Facebook/Instagram) webhooks: the app secret that signs each delivery, and the token the
    # subscription handshake must echo. Empty: incoming Meta webhooks are refused.
    meta_app_secret: str = Field(default="", repr=False)
    meta_webhook_verify_token: str = Field(default="", repr=False)
    # Comments (tidings.engagement): how long a published post is watched for comments, how many of a
    # user's most recent watched posts one read covers, and how often a user may sync by hand (s).
    comment_watch_days: int = Field(default=7, ge=1, le=90)
    comment_fetch_max_posts: int = Field(default=25, ge=1, le=200)
    comment_sync_cooldown_seconds: int = Field(default=60, ge=0)
    # Replies (tidings.engagement.replies): a reply `sending` this long lost its attempt (longer than
    # comment_intake's 300 s timeout, the longest of the functions that send replies) and the periodic
    # reply pass reads it back; the first wait before a reply is tried again (doubling, with jitter);
    # how many replies one pass takes on, in all and per user.
    reply_lease_seconds: int = Field(default=360, ge=60)
    reply_retry_base_seconds: int = Field(default=60, ge=1, le=3600)
    reply_pass_limit: int = Field(default=50, ge=1, le=500)
    reply_pass_per_user: int = Field(default=5, ge=1, le=500)
    # Outgoing webhooks: the waits before each retry of a failed delivery (seconds; one attempt more
    # than there are intervals), and how long one attempt waits for the receiver's answer.
    webhook_retry_intervals: list[int] = Field(default_factory=lambda: [60, 300, 1800, 7200, 21600])
    webhook_timeout_seconds: float = 10.0
    # CRM and analytics connectors (tidings.integrations.connectors): API hosts, and the integrating
    # system Follow Up Boss registered for this app (its X-System / X-System-Key headers).
    hubspot_api_base: str = "https://api.hubapi.com"
    followupboss_api_base: str = "https://api.followupboss.com"
    ga4_data_api_base: str = "https://analyticsdata.googleapis.com"
    followupboss_system_name: str = ""
    followupboss_system_key: str = Field(default="", repr=False)
    # CRM calls: retries of a transient failure (after 1, 2, 4 s... or the CRM's Retry-After), and
    # how many clients one function instance keeps in memory (tidings.crm.cache).
    crm_max_retries: int = Field(default=3, ge=0, le=6)
    crm_cache_max_entries: int = Field(default=2_000, ge=1)
    # Salesforce (tidings.integrations.connectors.salesforce): the login host whose token endpoint
    # renews access tokens (an integration may name https://test.salesforce.com for a sandbox), the
    # REST API version, and the connected app's client credentials unless an integration has its own.
    salesforce_login_base: str = "https://login.salesforce.com"
    salesforce_api_version: str = "v67.0"
    salesforce_client_id: str = ""
    salesforce_client_secret: str = Field(default="", repr=False)
    # Analytics: when a published post's metrics are read, in seconds after publishing (1 h, 6 h,
    # 24 h, 3 days, 7 days, 28 days); the periodic pass that reads what is due runs every 15 minutes
    # (infra/topology.py, the analytics-collection schedule).
    analytics_cadence: list[int] = Field(
        default_factory=lambda: [3600, 21_600, 86_400, 259_200, 604_800, 2_419_200]
    )
    # CRM activity write-back (tidings.crm.delivery): the wait before a failed delivery is tried
    # again (doubling with each attempt, at most an hour), how long transient failures are retried
    # before the activity fails with retry_window_exceeded, and the activities a user may record a day.
    crm_retry_base_seconds: int = Field(default=60, ge=1)
    crm_retry_window_days: int = Field(default=7, ge=1)
    crm_activity_daily_limit: int = Field(default=10_000, ge=1)
    # Campaign unsubscribe links (tidings.campaigns.unsubscribe): the API's public URL they point to
    # (the stack sets it; `tidings dev` sets the local API's), and the key their tokens are signed and
    # encrypted with: the Secrets Manager secret that holds it (the stack's, or one `tidings dev`
    # generates), or the key itself. Without either, no unsubscribe link can be made.
    public_api_url: str = ""
    unsubscribe_secret_arn: str = ""
    unsubscribe_secret: str = Field(default="", repr=False)
    # Campaign generation (tidings.campaigns.service): campaigns a user may keep (each can hold up to
    # 10,000 recipients and a schedule per email and zone), the longest sequence, and the defaults of
    # POST /campaigns. `campaign_seconds_delays_allowed` lets a campaign's delays be counted in seconds
    # (`delayUnit: "seconds"`): for tests and demos only, so off unless the runtime turns it on.
    campaign_max_per_user: int = Field(default=100, ge=1)
    campaign_max_emails: int = Field(default=10, ge=1, le=10)
    campaign_default_template: str = "nurture"
    campaign_default_delay_days: int = Field(default=3, ge=0, le=365)
    campaign_auto_schedule: bool = False
    # What autoSchedule chooses: the day after creation, at this hour in each recipient's own zone
    # (recipients without one: this zone).
    campaign_auto_send_hour: int = Field(default=9, ge=0, le=23)
    campaign_auto_timezone: str = "UTC"
    campaign_seconds_delays_allowed: bool = False
    # Campaigns a user may have written by the Bedrock model a day (each is a paid model call).
    campaign_model_daily_limit: int = Field(default=20, ge=0)
    # Comment analysis (tidings.engagement.analysis): "local" (VADER and word lists, no AWS calls) or
    # "comprehend" (Amazon Comprehend for sentiment, toxicity and key phrases; English).
    comment_analyzer: Literal["local", "comprehend"] = "local"
    # Per-user quotas on what holds a schedule or a standing cost (tidings.store.quotas; README,
    # "Security"): webhooks, tasks not finished (pending or running), workflows running (active or
    # paused), integrations (each may sync on a schedule), scheduled posts on all platforms together
    # (besides max_queue_per_platform). Campaigns: campaign_max_per_user.
    quota_webhooks: int = Field(default=20, ge=0)
    quota_tasks: int = Field(default=100, ge=0)
    quota_workflow_runs: int = Field(default=20, ge=0)
    quota_integrations: int = Field(default=20, ge=0)
    quota_scheduled_posts: int = Field(default=300, ge=0)
    # Per-user request throttle of the API (tidings.store.throttle): a token bucket per user in the
    # table, refilled at `api_rate_per_second`, holding at most `api_burst` requests (0: off).
    api_rate_per_second: float = Field(default=20.0, ge=0.0)
    api_burst: int = Field(default=100, ge=0)

    @field_validator(
        "retry_intervals",
        "task_retry_intervals",
        "webhook_retry_intervals",
        "default_platforms",
        "analytics_cadence",
        "local_runtime_ports",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("retry_intervals", "task_retry_intervals", "webhook_retry_intervals")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(v < 0 for v in value):
            raise ValueError("retry intervals must be >= 0 seconds")
        return value

    @field_validator("analytics_cadence")
    @classmethod
    def _rising(cls, value: list[int]) -> list[int]:
        if not value or value[0] <= 0 or any(b <= a for a, b in pairwise(value)):
            raise ValueError("the analytics cadence must be rising delays in seconds, the first above 0")
        return value

    def with_app_secrets(self, values: Mapping[str, Any]) -> Settings:
        """These settings with the app-level secrets `values` holds (a JSON object read from
        `app_secrets_arn`) in place of the environment's; a key that names no app secret is an error,
        so a misspelt one is not silently ignored, and an empty value keeps the environment's."""
        unknown = sorted(set(values) - set(APP_SECRET_FIELDS))
        if unknown:
            raise ValueError(f"the app secrets hold keys that name no app secret: {', '.join(unknown)}")
        given = {name: str(value) for name, value in values.items() if isinstance(value, str) and value}
        return self.model_copy(update=given) if given else self

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            key = _PREFIX + name.upper()
            if key in env:
                values[name] = env[key]
        if "region" not in values:
            values["region"] = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        return cls.model_validate(values)


# The app-level secrets: the app's own OAuth clients and keys with each platform or vendor, the same
# for every user. On AWS they are read from the `app_secrets_arn` secret, locally from the environment.
APP_SECRET_FIELDS = (
    "x_client_secret",
    "linkedin_client_secret",
    "google_client_secret",
    "tiktok_client_secret",
    "meta_app_secret",
    "meta_webhook_verify_token",
    "salesforce_client_secret",
    "followupboss_system_key",
)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
