"""The one declarative description of Tidings' topology.

Two readers: the CDK stack (infra/stack.py) builds AWS resources from it, and the local runtime
(infra/local) plays the same topology on one machine. A route, trigger, schedule or state machine
task is declared here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
STATE_MACHINES_DIR = Path(__file__).resolve().parent / "statemachines"


class Access(StrEnum):
    """What a function may do; each maps to least-privilege IAM in the stack."""

    TABLE_READ = "table:read"
    TABLE_WRITE = "table:write"
    TABLE_STREAM = "table:stream"
    START_PUBLISH = "publish:start"  # start/describe executions of the publish state machine
    MANAGE_SCHEDULES = "scheduler:manage"  # create/update/delete one-time schedules, pass the role
    SEAL_CREDENTIALS = "credentials:seal"  # new data keys under the credentials key (store secrets)
    # unwrap data keys (read secrets), reseal refreshed ones, and read the app-level secrets (OAuth
    # clients, CRM keys, the Meta app secret) they are renewed and used with
    OPEN_CREDENTIALS = "credentials:open"
    RUN_WORKFLOWS = "workflows:run"  # start/stop executions of the workflow machine, answer its task tokens
    ANSWER_WORKFLOW_TOKENS = "workflows:tokens"  # answer the workflow machine's task tokens
    # describe executions of the workflow machine and start the executions that carry a workflow on
    RECOVER_WORKFLOWS = "workflows:recover"
    SEND_EMAIL = "ses:send"  # send email through SES (notifications)
    # send campaign email through the configured SES identity and configuration set only, and read the
    # account's send quota (SES v2 GetAccount)
    SEND_CAMPAIGN_EMAIL = "ses:campaigns"
    ENQUEUE_CAMPAIGN_SENDS = "campaigns:enqueue"  # send messages to the campaign send queue
    INVOKE_MODEL = "bedrock:invoke"  # call a Bedrock model through the Converse API
    # make and read campaign unsubscribe links: read their key (a Secrets Manager secret) and know the
    # API's public URL they point to
    UNSUBSCRIBE_LINKS = "unsubscribe:links"
    # analyse comment text with Amazon Comprehend (sentiment, key phrases, toxicity); granted only
    # when the stack turns Comprehend on (`cdk deploy -c commentAnalyzer=comprehend`)
    ANALYSE_TEXT = "comprehend:detect"
    # post to the live WebSocket API's connections (execute-api:ManageConnections on its @connections
    # only) and know its management endpoint
    POST_TO_CONNECTIONS = "live:post"


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    description: str
    access: frozenset[Access]
    timeout_seconds: int = 30
    memory_mb: int = 512
    handler: str = "handler.lambda_handler"
    # Reserved concurrency: at most this many instances at once, and never fewer available to it
    # (see CONCURRENCY_BUDGET); None would leave it to the account's shared pool.
    reserved_concurrency: int | None = None

    @property
    def folder(self) -> Path:
        return FUNCTIONS_DIR / self.name

    @property
    def module(self) -> str:
        return f"functions.{self.name}.handler"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # HTTP API route syntax: /posts/{postId}
    function: str
    authorized: bool = True

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class WebSocketRoute:
    """A route of the live WebSocket API ($connect, $disconnect, or the `action` of a message the page
    sends), integrated with `function`."""

    route_key: str
    function: str


@dataclass(frozen=True)
class StreamTrigger:
    """A DynamoDB stream event source mapping on the table."""

    function: str
    batch_size: int = 100
    max_batching_window_seconds: int = 0
    maximum_retry_attempts: int = 5
    maximum_record_age_seconds: int = 3600
    bisect_on_error: bool = True
    report_batch_item_failures: bool = True
    # Only these entity types reach the function (a Lambda event filter on EntityType).
    entity_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueTrigger:
    """An SQS event source mapping: the stack's queue `queue` -> `function` (Lambda Developer Guide,
    "Using Lambda with Amazon SQS").

    The queue's visibility timeout is six times the function's timeout (the guide's advice, so a batch
    throttled or retried by Lambda is not delivered twice meanwhile); a message received
    `max_receive_count` times without being deleted moves to the queue's dead-letter queue. With
    ReportBatchItemFailures, only the messages the function names as failed come back.
    """

    function: str
    queue: str
    batch_size: int = 10
    max_batching_window_seconds: int = 0
    report_batch_item_failures: bool = True
    max_receive_count: int = 5
    # The event source mapping's ScalingConfig.MaximumConcurrency (2 to 1,000), None: no limit.
    maximum_concurrency: int | None = None
    visibility_timeout_factor: int = 6

    @property
    def visibility_timeout_seconds(self) -> int:
        return self.visibility_timeout_factor * function(self.function).timeout_seconds


@dataclass(frozen=True)
class PeriodicSchedule:
    name: str
    function: str
    rate_minutes: int


@dataclass(frozen=True)
class ExecutionStatusRule:
    """An EventBridge rule on the "Step Functions Execution Status Change" events of one state
    machine's executions reaching one of `statuses`, invoking `function` asynchronously (EventBridge
    Events Reference, "AWS Step Functions events"; Step Functions Developer Guide, "EventBridge
    (CloudWatch Events) for Step Functions execution status changes"). Undeliverable events and
    failed invocations end in a dead-letter queue, alarmed. Locally, the runtime polls its Step
    Functions for such executions and invokes the function with the same event."""

    name: str
    state_machine: str
    function: str
    statuses: tuple[str, ...] = ("ABORTED", "TIMED_OUT", "FAILED")


@dataclass(frozen=True)
class StateMachineSpec:
    name: str
    definition_file: Path
    # ${Name} placeholder in the ASL -> the function whose ARN replaces it.
    lambda_substitutions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: str
    sort_key: str


@dataclass(frozen=True)
class TableSpec:
    """The single table: string keys PK/SK, overloaded sparse GSIs, stream NEW_AND_OLD_IMAGES."""

    logical_name: str = "tidings"
    partition_key: str = "PK"
    sort_key: str = "SK"
    indexes: tuple[IndexSpec, ...] = (
        # GSI1: a user's posts by scheduled time (GSI1PK USER#<id>#POSTS, GSI1SK <time>#<postId>).
        IndexSpec("GSI1", "GSI1PK", "GSI1SK"),
        # GSI2: sparse, scheduled posts only, sharded by due time for the sweeper
        # (GSI2PK DUE#<shard>, GSI2SK <time>#<userId>#<postId>).
        IndexSpec("GSI2", "GSI2PK", "GSI2SK"),
        # GSI3: sparse, comments whose reply is pending, sharded, by when the reply pass takes it on
        # (GSI3PK REPLY_DUE#<shard>, GSI3SK <time>#<userId>#<commentId>).
        IndexSpec("GSI3", "GSI3PK", "GSI3SK"),
    )
    ttl_attribute: str = "expiresAt"
    stream_view: str = "NEW_AND_OLD_IMAGES"


TABLE = TableSpec()

POST_ENTITY = "ScheduledPost"
TASK_ENTITY = "ScheduledTask"
WORKFLOW_ENTITY = "Workflow"
ALERT_ENTITY = "Alert"
INTEGRATION_ENTITY = "Integration"
INSIGHT_ENTITY = "StrategyInsight"
CAMPAIGN_STEP_ENTITY = "CampaignStep"  # one schedule per waiting step (schedule_sync)
CAMPAIGN_ENTITY = "EmailCampaign"
CAMPAIGN_SEND_ENTITY = "CampaignSend"
AB_TEST_ENTITY = "ABTest"
# The periodic pass that evaluates running A/B tests and decides those that can be.
AB_TEST_MONITOR = "abtest-monitor"
# SES's events of campaign email (an EventBridge rule on the configuration set's events) and the
# stream of campaign sends go to this function.
CAMPAIGN_EVENTS = "campaign_events"
# Scheduled tasks invoke this function (action run_task).
TASK_RUNNER = "workflow_step"
# Workflow executions that ended unfinished (aborted, timed out, failed) are recovered by this one.
WORKFLOW_RECOVERY = "workflow_recovery"
# Periodic integration syncs invoke this one.
INTEGRATION_SYNC = "integration_sync"
# The periodic pass that reads published posts' metrics when due.
ANALYTICS_COLLECTION = "analytics-collection"
PENDING_ACTIVITY_ENTITY = "PendingActivity"
# The periodic run that delivers CRM activities whose retry is due.
CRM_ACTIVITY_RETRY = "crm-activity-retry"
# Comments: Meta webhook entries, posts just published and new comments come from the stream; the
# watched posts' comments are read on this schedule (for accounts whose platform sends no webhook).
COMMENT_INTAKE = "comment_intake"
COMMENT_FETCH = "comment-fetch"
COMMENT_FETCH_MINUTES = 15
# Replies: those stuck in `sending` past their lease, and retries after their back-off, are taken on by
# this pass of comment_intake (tidings.engagement.replies.REPLY_RETRIES names it too).
REPLY_RETRIES = "reply-retries"
PLATFORM_EVENT_ENTITY = "PlatformEvent"
COMMENT_ENTITY = "Comment"
CRISIS_ENTITY = "Crisis"  # a crisis opened or more severe: crisis.detected (event_delivery)
# Live updates: the WebSocket API's $connect/$disconnect and the stream fan-out to open dashboards.
LIVE_CONNECTIONS = "live_connections"
LIVE_FANOUT = "live_fanout"
# Email campaigns: each step's one-time schedule invokes this function, which fans the step out to the
# campaign send queue and sends what that queue holds.
CAMPAIGN_SENDER = "campaign_send"
CAMPAIGN_SEND_QUEUE = "campaign-sends"
# Instances of campaign_send that send at once (the queue mapping's maximum concurrency): each sends at
# most 1/CAMPAIGN_SEND_CONCURRENCY of the SES send rate, so together they stay within it. One more
# instance is reserved for the step triggers, which send nothing.
CAMPAIGN_SEND_CONCURRENCY = 2

# Lambda concurrency (Lambda Developer Guide, "Lambda quotas": 1,000 concurrent executions per account
# and Region by default; "Configuring reserved concurrency": at least 100 always stay unreserved).
# Every function reserves the instances it may run at once, so one function's burst (one user's
# webhook storm, a campaign's fan-out, a backlog of stream records) can take neither the instances
# the others need nor the account's whole pool; a function at its reservation is throttled, and its
# callers retry (Step Functions on Lambda.TooManyRequestsException, Lambda's own queue for
# asynchronous events, the stream and queue mappings). Together they reserve at most
# CONCURRENCY_BUDGET, half the default quota, leaving the rest to the account's other functions.
ACCOUNT_CONCURRENCY = 1000
UNRESERVED_CONCURRENCY_MINIMUM = 100
CONCURRENCY_BUDGET = 500
# The HTTP API's stage lets at most this many requests in at once (its burst limit,
# infra/constructs/constants.py), so http_api never needs more instances.
API_CONCURRENCY = 100
# 200 posts due at the same second publish at once (README, "Tests and benchmarks").
PUBLISH_CONCURRENCY = 200
# A DynamoDB stream mapping runs one instance per shard; the table's stream has a few shards.
STREAM_CONCURRENCY = 20

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        name="http_api",
        description="HTTP API: posts, the queue, the optimal time, accounts, dry runs and messages",
        # opens credentials too: it sends WhatsApp messages through the user's number and tests
        # integrations (an `ai` integration's test asks its Bedrock model for one token)
        access=frozenset(
            {
                Access.TABLE_READ,
                Access.TABLE_WRITE,
                Access.START_PUBLISH,
                Access.OPEN_CREDENTIALS,
                Access.RUN_WORKFLOWS,
                Access.INVOKE_MODEL,
                Access.UNSUBSCRIBE_LINKS,  # unsubscribe tokens, and the page tokens sealed with its secret
                Access.SEND_EMAIL,  # the confirmation link of a new notification address
            }
        ),
        timeout_seconds=29,
        reserved_concurrency=API_CONCURRENCY,
    ),
    FunctionSpec(
        name="schedule_sync",
        description="Keeps one Scheduler schedule per scheduled post, pending task, synced integration and "
        "waiting campaign step",
        # writes the table too: it drops posts that left `scheduled` from the user's queue index
        access=frozenset(
            {Access.TABLE_STREAM, Access.TABLE_WRITE, Access.MANAGE_SCHEDULES, Access.START_PUBLISH}
        ),
        timeout_seconds=60,
        reserved_concurrency=STREAM_CONCURRENCY,
    ),
    FunctionSpec(
        name="publish_task",
        description="Claims a due post and publishes it to each platform with a publish ledger",
        access=frozenset({Access.TABLE_READ, Access.TABLE_WRITE, Access.OPEN_CREDENTIALS}),
        timeout_seconds=120,
        reserved_concurrency=PUBLISH_CONCURRENCY,
    ),
    FunctionSpec(
        name="workflow_step",
        description="The workflow state machine's tasks: plan, run a step with its gates, wait for people",
        # actions schedule and publish posts, send notifications, and may call a model
        access=frozenset(
            {
                Access.TABLE_READ,
                Access.TABLE_WRITE,
                Access.START_PUBLISH,
                Access.ANSWER_WORKFLOW_TOKENS,
                Access.RUN_WORKFLOWS,  # scheduled tasks start workflows
                Access.SEND_EMAIL,
                Access.INVOKE_MODEL,
            }
        ),
        timeout_seconds=300,
        # workflow steps and scheduled tasks of all users at once
        reserved_concurrency=50,
    ),
    FunctionSpec(
        name=WORKFLOW_RECOVERY,
        description="Recovers a workflow whose execution ended unfinished: its running steps end as lost, "
        "a new execution carries it on",
        # reads the workflow, ends its running steps, records the execution carrying it on
        access=frozenset({Access.TABLE_READ, Access.TABLE_WRITE, Access.RECOVER_WORKFLOWS}),
        timeout_seconds=60,
        # executions rarely end unfinished; more at once wait in Lambda's queue (an EventBridge rule)
        reserved_concurrency=5,
    ),
    FunctionSpec(
        name="integration_sync",
        description="Periodic integration sync: CRM contacts, site analytics, account profiles",
        access=frozenset({Access.TABLE_READ, Access.TABLE_WRITE, Access.OPEN_CREDENTIALS}),
        timeout_seconds=300,
        # each integration syncs at most every 5 minutes; more at once wait in Lambda's queue
        reserved_concurrency=20,
    ),
    FunctionSpec(
        name="event_delivery",
        description="Sends post, workflow, alert and insight events to the users' webhooks (signed, with "
        "retries) and alert e-mails",
        # reads the stream, writes the delivery log, opens each webhook's sealed signing secret, e-mails
        # raised alerts through SES
        access=frozenset(
            {
                Access.TABLE_STREAM,
                Access.TABLE_READ,
                Access.TABLE_WRITE,
                Access.OPEN_CREDENTIALS,
                Access.SEND_EMAIL,
            }
        ),
        timeout_seconds=120,
        reserved_concurrency=STREAM_CONCURRENCY,
    ),
    FunctionSpec(
        name="analytics_sync",
        description="Starts metrics collection for published posts, reads due metrics from the platforms "
        "and refreshes insights",
        # reads the stream, reads and writes post analytics and read budgets, opens account credentials
        # (renewing tokens) to call the platforms
        access=frozenset(
            {Access.TABLE_STREAM, Access.TABLE_READ, Access.TABLE_WRITE, Access.OPEN_CREDENTIALS}
        ),
        timeout_seconds=300,
        # nothing it does is urgent: records wait for up to 5 s to make full batches
        reserved_concurrency=10,
    ),
    FunctionSpec(
        name="crm_sync",
        description="Writes recorded CRM activities to the users' CRMs in batches, exactly once, retrying "
        "for up to 7 days",
        # reads the stream and the due index, claims and settles activities, records the CRM calls'
        # metrics and alerts, opens the CRM integrations' sealed credentials
        access=frozenset(
            {Access.TABLE_STREAM, Access.TABLE_READ, Access.TABLE_WRITE, Access.OPEN_CREDENTIALS}
        ),
        # a delivery's lease on an activity is as long as this (tidings.crm.delivery.LEASE)
        timeout_seconds=300,
        # activities go out in batches, and the CRMs' own rate limits allow few calls at once
        reserved_concurrency=10,
    ),
    FunctionSpec(
        name=CAMPAIGN_SENDER,
        description="Email campaigns: fans a due step out to the send queue, and sends the queue's emails "
        "through SES within the account's send rate, each at most once",
        # reads campaigns, recipients and suppressions, writes the send ledger and step counters, reads
        # CRM clients (sealed credentials) to personalise each email
        access=frozenset(
            {
                Access.TABLE_READ,
                Access.TABLE_WRITE,
                Access.OPEN_CREDENTIALS,
                Access.ENQUEUE_CAMPAIGN_SENDS,
                Access.SEND_CAMPAIGN_EMAIL,
                Access.UNSUBSCRIBE_LINKS,  # every email carries its recipient's unsubscribe link
            }
        ),
        timeout_seconds=120,
        reserved_concurrency=CAMPAIGN_SEND_CONCURRENCY + 1,
    ),
    FunctionSpec(
        name=CAMPAIGN_EVENTS,
        description="Campaign email events: SES bounces and complaints suppress the address, deliveries, "
        "opens and clicks are counted once per send; sends marked sent are remembered by their SES "
        "message id and written back to the CRM",
        # reads the stream of sends, writes suppressions, message lookups, first events and their
        # counters, reads campaigns, recipients and CRM settings and records CRM activities
        access=frozenset({Access.TABLE_STREAM, Access.TABLE_READ, Access.TABLE_WRITE}),
        timeout_seconds=60,
        # the stream of sends, and SES's events (asynchronous: throttled ones wait in Lambda's queue)
        reserved_concurrency=STREAM_CONCURRENCY,
    ),
    FunctionSpec(
        name=COMMENT_INTAKE,
        description="Comments: maps verified Meta webhook entries to the users who connected the account, "
        "watches published posts, reads watched posts' comments every 15 minutes, analyses new comments, "
        "drafts replies and posts approved ones",
        # reads the stream (webhook entries, posts, comments), reads accounts and writes comments and
        # watches, opens the accounts' sealed tokens (renewing them) to read comments from the platforms
        # and post replies, drafts replies with the Bedrock model when one is configured, analyses
        # comments with Comprehend when the stack turns it on
        access=frozenset(
            {
                Access.TABLE_STREAM,
                Access.TABLE_READ,
                Access.TABLE_WRITE,
                Access.OPEN_CREDENTIALS,
                Access.INVOKE_MODEL,
                Access.ANALYSE_TEXT,
            }
        ),
        timeout_seconds=300,
        reserved_concurrency=STREAM_CONCURRENCY,
    ),
    FunctionSpec(
        name=LIVE_CONNECTIONS,
        description="The live WebSocket API's $connect, $disconnect and ping: checks the connection's "
        "access token and keeps the user's open connections, within the per-user limit; answers a "
        "page's keepalive without reading anything",
        # reads the connection's user, writes the user's connections
        access=frozenset({Access.TABLE_READ, Access.TABLE_WRITE}),
        timeout_seconds=10,
        memory_mb=256,
        # new connections of all users at once (a dashboard opens one and keeps it); a ping returns at
        # once, so 5 take thousands of pages pinging every 5 minutes
        reserved_concurrency=5,
    ),
    FunctionSpec(
        name=LIVE_FANOUT,
        description="Live updates: posts published or failed, new comments, approvals waiting, alerts and "
        "crises go from the stream to the user's open dashboard connections",
        # reads the stream and the user's connections, forgets those that are gone, posts to them
        access=frozenset(
            {Access.TABLE_STREAM, Access.TABLE_READ, Access.TABLE_WRITE, Access.POST_TO_CONNECTIONS}
        ),
        timeout_seconds=30,
        memory_mb=256,
        reserved_concurrency=10,
    ),
    FunctionSpec(
        name="abtest_monitor",
        description="Evaluates running A/B tests from their variants' post analytics, decides those that "
        "reached their minimum sample and records the winner as an insight",
        # reads tests, posts and post analytics; writes tests, insights and cancels variant posts
        access=frozenset({Access.TABLE_READ, Access.TABLE_WRITE}),
        timeout_seconds=300,
        # one run every 2 hours; a second only if a run is retried while one still runs
        reserved_concurrency=2,
    ),
    FunctionSpec(
        name="sweeper",
        description="Starts any due post that nobody claimed (lost schedule, outage); retries stale tasks",
        # writes the table too: a task whose runner stopped goes back to pending (or failed)
        access=frozenset({Access.TABLE_READ, Access.TABLE_WRITE, Access.START_PUBLISH}),
        timeout_seconds=120,
        # one run every 5 minutes; a second only if a run is retried while one still runs
        reserved_concurrency=2,
    ),
)

_API = "http_api"
ROUTES: tuple[Route, ...] = (
    Route("POST", "/posts", _API),
    Route("POST", "/posts/batch", _API),
    Route("POST", "/posts/publish-now", _API),
    Route("GET", "/posts", _API),
    Route("GET", "/posts/{postId}", _API),
    Route("PATCH", "/posts/{postId}", _API),
    Route("DELETE", "/posts/{postId}", _API),
    Route("GET", "/queue/stats", _API),
    Route("GET", "/optimal-time", _API),
    Route("POST", "/accounts", _API),
    Route("GET", "/accounts", _API),
    Route("DELETE", "/accounts/{accountId}", _API),
    Route("GET", "/accounts/{accountId}/health", _API),
    Route("POST", "/accounts/{accountId}/rotate", _API),
    Route("GET", "/audit", _API),
    Route("GET", "/posts/{postId}/preview", _API),
    Route("POST", "/posts/preview", _API),
    Route("POST", "/posts/{postId}/dry-run", _API),
    Route("GET", "/queue/dry-run", _API),
    Route("POST", "/messages/whatsapp", _API),
    Route("GET", "/workflow-templates", _API),
    Route("POST", "/workflows", _API),
    Route("GET", "/workflows", _API),
    Route("GET", "/workflows/{workflowId}", _API),
    Route("POST", "/workflows/{workflowId}/execute", _API),
    Route("POST", "/workflows/{workflowId}/pause", _API),
    Route("POST", "/workflows/{workflowId}/resume", _API),
    Route("POST", "/workflows/{workflowId}/cancel", _API),
    Route("POST", "/workflows/{workflowId}/steps/{stepId}/approve", _API),
    Route("POST", "/workflows/{workflowId}/steps/{stepId}/reject", _API),
    Route("POST", "/tasks", _API),
    Route("GET", "/tasks", _API),
    Route("GET", "/tasks/stats", _API),
    Route("GET", "/tasks/{taskId}", _API),
    Route("DELETE", "/tasks/{taskId}", _API),
    Route("POST", "/webhooks", _API),
    Route("GET", "/webhooks", _API),
    Route("GET", "/webhooks/{webhookId}", _API),
    Route("DELETE", "/webhooks/{webhookId}", _API),
    Route("POST", "/webhooks/{webhookId}/test", _API),
    Route("GET", "/webhooks/{webhookId}/deliveries", _API),
    Route("POST", "/integrations", _API),
    Route("GET", "/integrations", _API),
    Route("GET", "/integrations/{integrationId}", _API),
    Route("PATCH", "/integrations/{integrationId}", _API),
    Route("DELETE", "/integrations/{integrationId}", _API),
    Route("POST", "/integrations/{integrationId}/test", _API),
    Route("POST", "/integrations/{integrationId}/connect", _API),
    Route("POST", "/integrations/{integrationId}/disconnect", _API),
    Route("POST", "/integrations/{integrationId}/sync", _API),
    Route("POST", "/integrations/{integrationId}/sync/start", _API),
    Route("POST", "/integrations/{integrationId}/sync/stop", _API),
    Route("GET", "/integrations/{integrationId}/health", _API),
    Route("GET", "/integrations/{integrationId}/metrics", _API),
    Route("GET", "/integrations/{integrationId}/rate-limit", _API),
    Route("GET", "/analytics/posts/{postId}", _API),
    Route("POST", "/analytics/sync", _API),
    Route("GET", "/alerts", _API),
    Route("POST", "/alerts/{alertId}/resolve", _API),
    Route("GET", "/insights", _API),
    Route("POST", "/insights/generate", _API),
    Route("GET", "/insights/{insightId}", _API),
    Route("POST", "/insights/{insightId}/dismiss", _API),
    Route("POST", "/ab-tests", _API),
    Route("GET", "/ab-tests", _API),
    Route("GET", "/ab-tests/{testId}", _API),
    Route("POST", "/ab-tests/{testId}/stop", _API),
    Route("GET", "/analytics/summary", _API),
    Route("GET", "/analytics/readings", _API),
    Route("GET", "/analytics/settings", _API),
    Route("PUT", "/analytics/settings", _API),
    Route("POST", "/analytics/import", _API),
    Route("GET", "/crm/clients/{clientId}", _API),
    Route("POST", "/crm/personalize", _API),
    Route("GET", "/crm/cache", _API),
    Route("DELETE", "/crm/cache", _API),
    Route("GET", "/crm/settings", _API),
    Route("PUT", "/crm/settings", _API),
    Route("POST", "/crm/activities", _API),
    Route("GET", "/crm/activities", _API),
    Route("GET", "/crm/activities/{activityId}", _API),
    Route("POST", "/crm/activities/{activityId}/retry", _API),
    Route("POST", "/campaigns", _API),
    Route("GET", "/campaigns", _API),
    Route("GET", "/campaigns/{campaignId}", _API),
    Route("PATCH", "/campaigns/{campaignId}", _API),
    Route("DELETE", "/campaigns/{campaignId}", _API),
    Route("POST", "/campaigns/{campaignId}/emails/{n}/preview", _API),
    Route("POST", "/campaigns/{campaignId}/schedule", _API),
    Route("POST", "/campaigns/{campaignId}/pause", _API),
    Route("POST", "/campaigns/{campaignId}/resume", _API),
    Route("POST", "/campaigns/{campaignId}/cancel", _API),
    Route("GET", "/campaigns/{campaignId}/sends", _API),
    Route("GET", "/campaigns/{campaignId}/stats", _API),
    Route("GET", "/comments", _API),
    Route("POST", "/comments/sync", _API),
    Route("GET", "/comments/{commentId}", _API),
    Route("POST", "/comments/{commentId}/hide", _API),
    Route("POST", "/comments/{commentId}/dismiss", _API),
    Route("GET", "/crises", _API),
    Route("GET", "/crises/settings", _API),
    Route("PUT", "/crises/settings", _API),
    Route("GET", "/crises/{crisisId}", _API),
    Route("POST", "/crises/{crisisId}/resolve", _API),
    Route("POST", "/crises/{crisisId}/resume-queue", _API),
    Route("POST", "/comments/{commentId}/reply", _API),
    Route("POST", "/comments/{commentId}/reply/approve", _API),
    Route("GET", "/comments/settings", _API),
    Route("PUT", "/comments/settings", _API),
    Route("GET", "/notification-addresses", _API),
    Route("POST", "/notification-addresses", _API),
    Route("DELETE", "/notification-addresses/{email}", _API),
    Route("GET", "/notification-addresses/confirm/{token}", _API, authorized=False),
    Route("POST", "/notification-addresses/confirm/{token}", _API, authorized=False),
    Route("GET", "/suppressions", _API),
    Route("POST", "/suppressions", _API),
    Route("DELETE", "/suppressions/{email}", _API),
    # the links in campaign emails, followed by recipients and POSTed by mailbox providers (RFC 8058):
    # the link's signed token is checked instead of a JWT
    Route("GET", "/unsubscribe/{token}", _API, authorized=False),
    Route("POST", "/unsubscribe/{token}", _API, authorized=False),
    # called by Meta, not by users: the signature (or verify token) is checked instead of a JWT
    Route("GET", "/inbound/meta", _API, authorized=False),
    Route("POST", "/inbound/meta", _API, authorized=False),
    Route("GET", "/openapi.json", _API, authorized=False),
    Route("GET", "/docs", _API, authorized=False),
)

STREAM_TRIGGERS: tuple[StreamTrigger, ...] = (
    # campaign steps' counters are items of their own (CampaignStepCounts), which never come here
    StreamTrigger(
        function="schedule_sync",
        entity_types=(POST_ENTITY, TASK_ENTITY, INTEGRATION_ENTITY, CAMPAIGN_STEP_ENTITY),
    ),
    # a receiver that answers slowly delays only this mapping, never the schedules of due posts; events
    # are gathered for up to a second, so a busy stream makes few, full invocations
    StreamTrigger(
        function="event_delivery",
        entity_types=(
            POST_ENTITY,
            WORKFLOW_ENTITY,
            ALERT_ENTITY,
            INSIGHT_ENTITY,
            CAMPAIGN_ENTITY,
            COMMENT_ENTITY,
            AB_TEST_ENTITY,
            CRISIS_ENTITY,
        ),
        max_batching_window_seconds=1,
    ),
    # posts that were just published start their metrics collection; nothing here is urgent (the
    # first reading is an hour away), so records are gathered for up to 5 s
    StreamTrigger(function="analytics_sync", entity_types=(POST_ENTITY,), max_batching_window_seconds=5),
    # activities just recorded (or retried) go to the CRM within a second or so, gathered into batches;
    # a post written for a client that was published becomes an activity when the user turned it on
    StreamTrigger(
        function="crm_sync",
        entity_types=(PENDING_ACTIVITY_ENTITY, POST_ENTITY),
        max_batching_window_seconds=1,
    ),
    # campaign sends: one marked sent is remembered by its SES message id within a second or so (SES
    # reports its delivery seconds later), and written back to the CRM with the first opens
    StreamTrigger(
        function=CAMPAIGN_EVENTS, entity_types=(CAMPAIGN_SEND_ENTITY,), max_batching_window_seconds=1
    ),
    # a webhook entry becomes comments within a second or so; a post just published is watched; new
    # comments are analysed per batch, so records are gathered for up to a second
    StreamTrigger(
        function=COMMENT_INTAKE,
        entity_types=(PLATFORM_EVENT_ENTITY, POST_ENTITY, COMMENT_ENTITY),
        max_batching_window_seconds=1,
    ),
    # what an open dashboard shows as it happens: no batching window, a page should hear at once
    StreamTrigger(
        function=LIVE_FANOUT,
        entity_types=(POST_ENTITY, WORKFLOW_ENTITY, ALERT_ENTITY, COMMENT_ENTITY, CRISIS_ENTITY),
    ),
)

# The live WebSocket API (infra/constructs/live.py; locally infra/local/websocket_api.py). A message
# the page sends takes the route its `action` names (the API's route selection expression).
LIVE_ROUTE_SELECTION = "$request.body.action"
# The page's keepalive, `{"action": "ping"}` every 5 minutes: API Gateway closes a connection idle for
# 10 minutes ("Quotas for configuring and running a WebSocket API": idle connection timeout).
LIVE_PING_ROUTE = "ping"
WEBSOCKET_ROUTES: tuple[WebSocketRoute, ...] = (
    WebSocketRoute("$connect", LIVE_CONNECTIONS),
    WebSocketRoute("$disconnect", LIVE_CONNECTIONS),
    WebSocketRoute(LIVE_PING_ROUTE, LIVE_CONNECTIONS),
)

QUEUE_TRIGGERS: tuple[QueueTrigger, ...] = (
    # up to 10 messages of up to 10 sends each per invocation; a throttled send comes back after its
    # back-off (the function shortens its message's visibility), and a message received 10 times
    # without success goes to the dead-letter queue (alarmed)
    QueueTrigger(
        function=CAMPAIGN_SENDER,
        queue=CAMPAIGN_SEND_QUEUE,
        batch_size=10,
        max_receive_count=10,
        maximum_concurrency=CAMPAIGN_SEND_CONCURRENCY,
    ),
)

PERIODIC_SCHEDULES: tuple[PeriodicSchedule, ...] = (
    # what is due of the published posts' metrics (a missed pass is caught up by the next)
    PeriodicSchedule(name=ANALYTICS_COLLECTION, function="analytics_sync", rate_minutes=15),
    PeriodicSchedule(name="due-post-sweeper", function="sweeper", rate_minutes=5),
    PeriodicSchedule(name="webhook-retries", function="event_delivery", rate_minutes=1),
    # CRM activities whose retry is due, and those a delivery left behind
    PeriodicSchedule(name=CRM_ACTIVITY_RETRY, function="crm_sync", rate_minutes=1),
    # running A/B tests: metrics arrive at 1 h, 6 h, 24 h... after publishing, so every 2 hours is enough
    PeriodicSchedule(name=AB_TEST_MONITOR, function="abtest_monitor", rate_minutes=120),
    # the comments of watched posts, read from the platforms
    PeriodicSchedule(name=COMMENT_FETCH, function=COMMENT_INTAKE, rate_minutes=COMMENT_FETCH_MINUTES),
    # replies due again: a retry after its back-off, a call or read-back whose lease ended
    PeriodicSchedule(name=REPLY_RETRIES, function=COMMENT_INTAKE, rate_minutes=1),
)


def asynchronously_invoked() -> frozenset[str]:
    """The functions invoked asynchronously: Lambda queues the event, retries it, then drops it.

    Those of the periodic schedules and those the per-task, per-integration and per-campaign-step
    schedules invoke (EventBridge Scheduler invokes Lambda asynchronously), and those EventBridge rules
    invoke: campaign_events and the execution status rules' functions. Each has an on-failure
    destination (infra/constructs/async_failures.py); every other function is invoked synchronously
    only.
    """
    periodic = {schedule.function for schedule in PERIODIC_SCHEDULES}
    rules = {CAMPAIGN_EVENTS} | {rule.function for rule in EXECUTION_STATUS_RULES}
    return frozenset(periodic | rules | {TASK_RUNNER, INTEGRATION_SYNC, CAMPAIGN_SENDER})


STATE_MACHINES: tuple[StateMachineSpec, ...] = (
    StateMachineSpec(
        name="publish_post",
        definition_file=STATE_MACHINES_DIR / "publish_post.asl.json",
        lambda_substitutions={"PublishTaskFunctionArn": "publish_task"},
    ),
    StateMachineSpec(
        name="run_workflow",
        definition_file=STATE_MACHINES_DIR / "run_workflow.asl.json",
        lambda_substitutions={"WorkflowStepFunctionArn": "workflow_step"},
    ),
)

PUBLISH_STATE_MACHINE = "publish_post"
WORKFLOW_STATE_MACHINE = "run_workflow"

EXECUTION_STATUS_RULES: tuple[ExecutionStatusRule, ...] = (
    # A publish execution that ends unfinished is not here: the sweeper resumes its post within 5
    # minutes (tidings.scheduling.recovery), from the index of publishing posts, which also covers an
    # event EventBridge never delivered (Step Functions events are best effort).
    ExecutionStatusRule(
        name="workflow-executions-ended", state_machine=WORKFLOW_STATE_MACHINE, function=WORKFLOW_RECOVERY
    ),
)


def function(name: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def state_machine(name: str) -> StateMachineSpec:
    for spec in STATE_MACHINES:
        if spec.name == name:
            return spec
    raise KeyError(name)


def render_definition(spec: StateMachineSpec, arns: dict[str, str]) -> str:
    """The ASL text with ${Name} replaced by ARNs (what CDK's definitionSubstitutions does)."""
    text = spec.definition_file.read_text()
    for placeholder, fn in spec.lambda_substitutions.items():
        text = text.replace("${" + placeholder + "}", arns[fn])
    return text
