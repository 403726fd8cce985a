"""Key patterns of the single table (see DESIGN.md, "Data"). One place for every key."""

from __future__ import annotations

import zlib

POST_ENTITY = "ScheduledPost"
QUEUE_ENTITY = "PostQueue"
LEDGER_ENTITY = "PublishLedger"
ACCOUNT_ENTITY = "PlatformAccount"
ANALYTICS_ENTITY = "PostAnalytics"


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def post_sk(post_id: str) -> str:
    return f"SCHEDULED_POST#{post_id}"


POST_SK_PREFIX = "SCHEDULED_POST#"
QUEUE_SK = "POST_QUEUE"


def ledger_sk(post_id: str, platform: str) -> str:
    return f"PUBLISH_LEDGER#{post_id}#{platform}"


def account_sk(platform: str) -> str:
    return f"ACCOUNT#{platform}"


def analytics_sk(platform: str, post_id: str) -> str:
    return f"POST_ANALYTICS#{platform}#{post_id}"


ANALYTICS_SK_PREFIX = "POST_ANALYTICS#"


def posts_by_time_pk(user_id: str) -> str:
    """GSI1 partition: one user's posts, sorted by scheduled time."""
    return f"USER#{user_id}#POSTS"


def time_sort_key(time_iso: str, post_id: str) -> str:
    return f"{time_iso}#{post_id}"


def due_shard(post_id: str, shards: int) -> int:
    return zlib.crc32(post_id.encode()) % max(1, shards)


def due_pk(shard: int) -> str:
    """GSI2 partition (sparse, scheduled posts only) for the sweeper."""
    return f"DUE#{shard}"


def due_sort_key(time_iso: str, user_id: str, post_id: str) -> str:
    return f"{time_iso}#{user_id}#{post_id}"


def publishing_pk(shard: int) -> str:
    """GSI2 partition (sparse, `publishing` posts only), sorted by when each should next show
    progress, so the sweeper finds a post whose execution ended before it finished."""
    return f"PUBLISHING#{shard}"


BUDGET_ENTITY = "RateBudget"
APP_PK = "APP"  # limits a platform counts per app (all users together)


def budget_sk(platform: str, window_seconds: int, window_start: int) -> str:
    return f"BUDGET#{platform}#{window_seconds}#{window_start}"


def budget_block_sk(platform: str) -> str:
    return f"BUDGET#{platform}#BLOCKED"


WORKFLOW_ENTITY = "Workflow"
WORKFLOW_SK_PREFIX = "WORKFLOW#"


def workflow_sk(workflow_id: str) -> str:
    return f"{WORKFLOW_SK_PREFIX}{workflow_id}"


TASK_ENTITY = "ScheduledTask"
TASK_SK_PREFIX = "TASK#"


def task_sk(task_id: str) -> str:
    return f"{TASK_SK_PREFIX}{task_id}"


# GSI2 partition (sparse): tasks while they run, by when they started, so a run whose runner died
# is found and retried.
RUNNING_TASKS_PK = "TASK_RUNNING"


def running_task_sort_key(started_iso: str, user_id: str, task_id: str) -> str:
    return f"{started_iso}#{user_id}#{task_id}"


PLATFORM_EVENT_ENTITY = "PlatformEvent"


def platform_events_pk(source: str, account_id: str) -> str:
    """One platform account's incoming events (a Meta entry's `id`: the Page or IG account)."""
    return f"PLATFORM_EVENTS#{source}#{account_id}"


AUDIT_ENTITY = "AuditEntry"
AUDIT_SK_PREFIX = "AUDIT#"


def audit_sk(at_iso: str, entry_id: str) -> str:
    return f"{AUDIT_SK_PREFIX}{at_iso}#{entry_id}"


WEBHOOK_ENTITY = "Webhook"
WEBHOOK_SK_PREFIX = "WEBHOOK#"
DELIVERY_ENTITY = "WebhookDelivery"
# GSI2 partition (sparse): deliveries that are being sent or wait for a retry, by the time they are due.
DELIVERY_DUE_PK = "WEBHOOK_DUE"


def webhook_sk(webhook_id: str) -> str:
    return f"{WEBHOOK_SK_PREFIX}{webhook_id}"


def delivery_prefix(webhook_id: str) -> str:
    return f"WEBHOOK_DELIVERY#{webhook_id}#"


def delivery_sk(webhook_id: str, created_iso: str, event_id: str) -> str:
    return f"{delivery_prefix(webhook_id)}{created_iso}#{event_id}"


def delivery_due_sort_key(due_iso: str, user_id: str, webhook_id: str, event_id: str) -> str:
    return f"{due_iso}#{user_id}#{webhook_id}#{event_id}"


ALERT_ENTITY = "Alert"
ALERT_SK_PREFIX = "ALERT#"


def alert_sk(alert_id: str) -> str:
    return f"{ALERT_SK_PREFIX}{alert_id}"


INTEGRATION_ENTITY = "Integration"
INTEGRATION_SK_PREFIX = "INTEGRATION#"
METRICS_ENTITY = "IntegrationMetrics"
SYNCED_ENTITY = "SyncedRecord"


def integration_sk(integration_id: str) -> str:
    return f"{INTEGRATION_SK_PREFIX}{integration_id}"


def metrics_prefix(integration_id: str) -> str:
    return f"INTEGRATION_METRICS#{integration_id}#"


def metrics_sk(integration_id: str, hour_iso: str) -> str:
    return f"{metrics_prefix(integration_id)}{hour_iso}"


def synced_sk(integration_id: str, kind: str, key: str) -> str:
    return f"SYNCED#{integration_id}#{kind}#{key}"


def metrics_due_pk(shard: int) -> str:
    """GSI2 partition (sparse): post analytics whose next collection point is ahead, by its time."""
    return f"METRICS_DUE#{shard}"


INSIGHT_ENTITY = "StrategyInsight"
INSIGHT_SK_PREFIX = "INSIGHT#"


def insight_sk(insight_id: str) -> str:
    return f"{INSIGHT_SK_PREFIX}{insight_id}"


ANALYTICS_SETTINGS_ENTITY = "AnalyticsSettings"
ANALYTICS_SETTINGS_SK = "ANALYTICS_SETTINGS"  # one item per user: PK USER#<id>
ANALYTICS_METRICS_ENTITY = "AnalyticsMetrics"
ANALYTICS_METRICS_SK_PREFIX = "ANALYTICS#"


def analytics_metrics_sk(metrics_id: str) -> str:
    """The design's AnalyticsMetrics item: site metrics, e.g. `ga4#<YYYY-MM-DD>#<propertyId>`."""
    return f"{ANALYTICS_METRICS_SK_PREFIX}{metrics_id}"


CRM_SETTINGS_ENTITY = "CrmSettings"
CRM_SETTINGS_SK = "CRM_SETTINGS"  # one item per user: PK USER#<id>


PENDING_ACTIVITY_ENTITY = "PendingActivity"
PENDING_ACTIVITY_SK_PREFIX = "PENDING_ACTIVITY#"
ACTIVITY_COUNT_ENTITY = "ActivityCount"


def pending_activity_sk(activity_id: str) -> str:
    return f"{PENDING_ACTIVITY_SK_PREFIX}{activity_id}"


def activities_by_time_pk(user_id: str) -> str:
    """GSI1 partition: one user's CRM activities, sorted by when they were recorded."""
    return f"USER#{user_id}#ACTIVITIES"


def activity_due_pk(shard: int) -> str:
    """GSI2 partition (sparse): pending CRM activities, by when their next delivery is due."""
    return f"ACTIVITY_DUE#{shard}"


def activity_count_sk(day: str) -> str:
    """The count of activities a user recorded on a UTC day (`YYYY-MM-DD`)."""
    return f"ACTIVITY_COUNT#{day}"


CAMPAIGN_ENTITY = "EmailCampaign"
CAMPAIGN_SK_PREFIX = "CAMPAIGN#"
CAMPAIGN_COUNT_SK = "CAMPAIGN_COUNT"  # one item per user: how many campaigns the user keeps
CAMPAIGN_COUNT_ENTITY = "CampaignCount"
RECIPIENT_ENTITY = "CampaignRecipient"
RECIPIENT_SK_PREFIX = "RECIPIENT#"


def campaign_sk(campaign_id: str) -> str:
    return f"{CAMPAIGN_SK_PREFIX}{campaign_id}"


def campaigns_by_status_pk(user_id: str, status: str) -> str:
    """GSI1 partition: one user's campaigns in one status, sorted by creation time."""
    return f"USER#{user_id}#CAMPAIGNS#{status}"


def campaign_partition(user_id: str, campaign_id: str) -> str:
    """A campaign's own partition: its recipients (`RECIPIENT#<email>`) and what it sends (`STEP#`,
    `SEND#`). Every read of it names its sort-key prefix."""
    return f"CAMPAIGN#{user_id}#{campaign_id}"


def recipient_sk(email: str) -> str:
    return f"{RECIPIENT_SK_PREFIX}{email}"


# What a campaign sends, in its partition (`campaign_partition`): its steps and their counts, its
# audience by time zone and the send ledger.
CAMPAIGN_STEP_ENTITY = "CampaignStep"
CAMPAIGN_STEP_COUNTS_ENTITY = "CampaignStepCounts"
CAMPAIGN_AUDIENCE_ENTITY = "CampaignAudience"
CAMPAIGN_SEND_ENTITY = "CampaignSend"
STEP_SK_PREFIX = "STEP#"
AUDIENCE_SK_PREFIX = "ZONE#"
SEND_SK_PREFIX = "SEND#"


def campaign_step_sk(n: int, timezone: str) -> str:
    return f"{STEP_SK_PREFIX}{n}#{timezone}"


def campaign_step_counts_sk(n: int, timezone: str) -> str:
    return f"{campaign_step_sk(n, timezone)}#COUNTS"


def campaign_audience_prefix(timezone: str) -> str:
    return f"{AUDIENCE_SK_PREFIX}{timezone}#"


def campaign_audience_sk(timezone: str, chunk: int) -> str:
    return f"{campaign_audience_prefix(timezone)}{chunk:04d}"


def campaign_sends_prefix(n: int) -> str:
    return f"{SEND_SK_PREFIX}{n}#"


def campaign_send_sk(n: int, email: str) -> str:
    return f"{campaign_sends_prefix(n)}{email}"


SUPPRESSION_ENTITY = "Suppression"
SUPPRESSION_SK_PREFIX = "SUPPRESSION#"
# One item per user: how many addresses their suppression list holds (for the per-user limit).
SUPPRESSION_COUNT_SK = "SUPPRESSION_COUNT"


def suppression_sk(address: str) -> str:
    """An address of the user's suppression list, as `tidings.store.suppressions.address_key` gives it."""
    return f"{SUPPRESSION_SK_PREFIX}{address}"


# A user's notification addresses (one map) and their notification e-mails counted per UTC hour
# (tidings.store.notification_addresses).
NOTIFICATION_ADDRESSES_ENTITY = "NotificationAddresses"
NOTIFICATION_ADDRESSES_SK = "NOTIFICATION_ADDRESSES"
NOTIFICATION_MAIL_COUNT_ENTITY = "NotificationMailCount"


def notification_mail_sk(hour: str) -> str:
    return f"NOTIFICATION_MAIL#{hour}"


SES_MESSAGE_ENTITY = "SesMessage"
SES_MESSAGE_SK = "SES_MESSAGE"


def ses_message_pk(message_id: str) -> str:
    """The campaign send an SES message id belongs to (SES events name only the message)."""
    return f"SES_MESSAGE#{message_id}"


COMMENT_ENTITY = "Comment"
COMMENT_SK_PREFIX = "COMMENT#"
COMMENT_WATCH_ENTITY = "CommentWatch"
COMMENT_WATCH_SK_PREFIX = "COMMENT_WATCH#"
COMMENT_SYNC_SK = "COMMENT_SYNC"  # when the user last asked for a sync (POST /comments/sync)
COMMENT_POST_ENTITY = "CommentPost"
COMMENT_POST_SK_PREFIX = "COMMENT_POST#"
COMMENT_SETTINGS_ENTITY = "CommentSettings"
COMMENT_SETTINGS_SK = "COMMENT_SETTINGS"  # auto-reply, hiding and the reply voice (PUT /comments/settings)


def comment_sk(comment_id: str) -> str:
    return f"{COMMENT_SK_PREFIX}{comment_id}"


def comments_by_time_pk(user_id: str) -> str:
    """GSI1 partition: one user's comments, sorted by when they were written."""
    return f"USER#{user_id}#COMMENTS"


def comment_watch_sk(platform: str, platform_post_id: str) -> str:
    return f"{COMMENT_WATCH_SK_PREFIX}{platform}#{platform_post_id}"


def comment_post_sk(platform: str, platform_post_id: str) -> str:
    """A platform id a published post is known by, linked to the Tidings post."""
    return f"{COMMENT_POST_SK_PREFIX}{platform}#{platform_post_id}"


def unlinked_comments_pk(user_id: str, platform: str, platform_post_id: str) -> str:
    """GSI2 partition (sparse): one user's comments on one platform post not tied to a Tidings post."""
    return f"USER#{user_id}#UNLINKED#{platform}#{platform_post_id}"


def reply_due_pk(shard: int) -> str:
    """GSI3 partition (sparse): comments of every user whose reply is pending, by when the periodic
    reply pass takes it on."""
    return f"REPLY_DUE#{shard}"


def comment_watch_pk(shard: int) -> str:
    """GSI2 partition (sparse): watched posts of every user, by the end of their watch."""
    return f"COMMENT_WATCH#{shard}"


def account_owner_pk(platform: str, account_id: str) -> str:
    """GSI1 partition: the users who connected this platform account (a Meta webhook names only it)."""
    return f"ACCOUNT_OWNER#{platform}#{account_id}"


CRISIS_ENTITY = "Crisis"
CRISIS_SK_PREFIX = "CRISIS#"
CRISIS_ACTIVE_SK = "CRISIS_ACTIVE"  # the user's one open or monitoring crisis (its id)
CRISIS_HOLD_SK = "CRISIS_HOLD"  # the user's queue hold, read by the publish step
CRISIS_SETTINGS_SK = "CRISIS_SETTINGS"


def crisis_sk(crisis_id: str) -> str:
    return f"{CRISIS_SK_PREFIX}{crisis_id}"


def active_crises_pk(shard: int) -> str:
    """GSI2 partition (sparse): crises while open or monitoring, for the periodic evaluation."""
    return f"CRISES_ACTIVE#{shard}"


# Live updates (tidings.store.live_connections): a user's open WebSocket connections as one map, and
# one item per connection naming its user (the WebSocket API's $disconnect event names only the
# connection).
LIVE_CONNECTIONS_ENTITY = "LiveConnections"
LIVE_CONNECTIONS_SK = "LIVE_CONNECTIONS"
LIVE_CONNECTION_ENTITY = "LiveConnection"
LIVE_CONNECTION_SK = "LIVE_CONNECTION"


def live_connection_pk(connection_id: str) -> str:
    return f"LIVE_CONNECTION#{connection_id}"
