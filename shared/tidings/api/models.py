"""Request and response shapes of the HTTP API (camelCase JSON). Separate from the domain entity;
the mapping is explicit in `post_view`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, SecretStr
from pydantic.alias_generators import to_camel

from tidings.core.clock import iso_ms
from tidings.models.posts import ScheduledPost

Timestamp = Annotated[datetime, PlainSerializer(iso_ms, return_type=str)]


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


TemplateValue = Annotated[str, Field(max_length=2000)] | int | float | bool


class ForClient(ApiModel):
    """A post written for a CRM client."""

    client_id: str | None = Field(
        default=None,
        max_length=200,
        description="A CRM client: the content (and thread) are templates rendered from the client's "
        "record before the post is stored, e.g. 'Hi {{firstName}}'",
    )
    crm_integration_id: str | None = Field(
        default=None, max_length=100, description="The CRM integration to read the client from (default CRM)"
    )
    variables: dict[str, TemplateValue] = Field(
        default_factory=dict, max_length=100, description="Template values of your own (agentName, ...)"
    )
    fallbacks: dict[str, Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=dict, max_length=100, description="Values for template variables the client lacks"
    )


class CreatePostRequest(ForClient):
    content: str = Field(max_length=70_000, description="The post text")
    platforms: list[str] | None = Field(
        default=None, max_length=6, description="Target platforms; the configured defaults when omitted"
    )
    scheduled_time: datetime | None = Field(
        default=None,
        description="ISO 8601 with a UTC offset; omitted with auto-optimise on, the optimal time is used",
    )
    hashtags: list[Annotated[str, Field(max_length=101)]] = Field(default_factory=list, max_length=100)
    thread: list[Annotated[str, Field(max_length=4000)]] = Field(
        default_factory=list,
        max_length=24,
        description="Follow-up parts: on X, replies under the first post (a thread); elsewhere appended",
    )
    media_urls: list[Annotated[str, Field(max_length=2048)]] = Field(default_factory=list, max_length=20)
    link: str | None = Field(default=None, max_length=2048)
    content_type: str | None = Field(default=None, max_length=40, description="e.g. text, image, video, link")
    timezone: str | None = Field(default=None, max_length=64, description="IANA time zone of the author")


class PublishNowRequest(ForClient):
    content: str = Field(max_length=70_000)
    platforms: list[str] | None = Field(default=None, max_length=6)
    hashtags: list[Annotated[str, Field(max_length=101)]] = Field(default_factory=list, max_length=100)
    thread: list[Annotated[str, Field(max_length=4000)]] = Field(default_factory=list, max_length=24)
    media_urls: list[Annotated[str, Field(max_length=2048)]] = Field(default_factory=list, max_length=20)
    link: str | None = Field(default=None, max_length=2048)
    content_type: str | None = Field(default=None, max_length=40)
    timezone: str | None = Field(default=None, max_length=64)


class UpdatePostRequest(ApiModel):
    scheduled_time: datetime | None = None
    platforms: list[str] | None = Field(default=None, max_length=6)
    content: str | None = Field(default=None, max_length=70_000)
    hashtags: list[Annotated[str, Field(max_length=101)]] | None = Field(default=None, max_length=100)
    thread: list[Annotated[str, Field(max_length=4000)]] | None = Field(default=None, max_length=24)


class BatchRequest(ApiModel):
    posts: list[CreatePostRequest] = Field(min_length=1, max_length=50)


class ErrorBody(ApiModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class PlatformErrorView(ApiModel):
    kind: str
    code: str
    message: str


class PlatformResultView(ApiModel):
    platform: str
    status: str
    platform_post_id: str | None = None
    url: str | None = None
    attempts: int = 0
    last_error: PlatformErrorView | None = None
    published_at: Timestamp | None = None


class PersonalizationView(ApiModel):
    client_id: str
    integration_id: str
    provider: str
    fields: list[str]
    personalized_at: Timestamp


class PostView(ApiModel):
    post_id: str
    content: str
    platforms: list[str]
    scheduled_time: Timestamp
    timezone: str | None = None
    hashtags: list[str]
    thread: list[str]
    media_urls: list[str]
    link: str | None = None
    content_type: str | None = None
    status: str
    version: int
    optimized_time: bool
    results: list[PlatformResultView]
    attempt: int
    next_attempt_at: Timestamp | None = None
    final_reason: str | None = None
    created_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None = None
    personalization: PersonalizationView | None = None
    held_by_crisis: str | None = Field(
        default=None,
        description="The crisis holding the post: its time came while the queue was held "
        "(POST /crises/{id}/resume-queue releases it)",
    )
    held_at: Timestamp | None = None


class PostList(ApiModel):
    posts: list[PostView]
    next_token: str | None = None


class BatchItemResult(ApiModel):
    index: int
    ok: bool
    post: PostView | None = None
    error: ErrorBody | None = None


class BatchResult(ApiModel):
    created: int
    failed: int
    results: list[BatchItemResult]


class PublishNowResult(ApiModel):
    post_id: str
    status: str
    complete: bool = Field(
        description="False when the platforms took longer than the API waits: poll the post"
    )
    results: list[PlatformResultView]
    post: PostView


class QueueStats(ApiModel):
    total_scheduled: int
    next_post_time: Timestamp | None = None
    by_platform: dict[str, int]
    by_status: dict[str, int]


class OptimalTimeView(ApiModel):
    platform: str
    timezone: str
    recommended_time: datetime
    confidence: float
    reasoning: str
    alternatives: list[datetime]
    based_on_posts: int
    data_quality: str


def post_view(post: ScheduledPost) -> PostView:
    results = []
    for platform in post.platforms:
        r = post.result_for(platform)
        results.append(
            PlatformResultView(
                platform=str(platform),
                status=str(r.status),
                platform_post_id=r.platform_post_id,
                url=r.url,
                attempts=r.attempts,
                last_error=(
                    PlatformErrorView(
                        kind=str(r.last_error.kind), code=r.last_error.code, message=r.last_error.message
                    )
                    if r.last_error
                    else None
                ),
                published_at=r.published_at,
            )
        )
    return PostView(
        post_id=post.post_id,
        content=post.content,
        platforms=[str(p) for p in post.platforms],
        scheduled_time=post.scheduled_time,
        timezone=post.timezone,
        hashtags=post.hashtags,
        thread=post.thread,
        media_urls=post.media_urls,
        link=post.link,
        content_type=post.content_type,
        status=str(post.status),
        version=post.version,
        optimized_time=post.optimized_time,
        results=results,
        attempt=post.attempt,
        next_attempt_at=post.next_attempt_at,
        final_reason=post.final_reason,
        created_at=post.created_at,
        updated_at=post.updated_at,
        completed_at=post.completed_at,
        held_by_crisis=post.held_by_crisis,
        held_at=post.held_at,
        personalization=(
            PersonalizationView(
                client_id=post.personalization.client_id,
                integration_id=post.personalization.integration_id,
                provider=post.personalization.provider,
                fields=post.personalization.fields,
                personalized_at=post.personalization.personalized_at,
            )
            if post.personalization
            else None
        ),
    )


# -- accounts --------------------------------------------------------------------------------------


class ConnectAccountRequest(ApiModel):
    platform: str = Field(
        max_length=20, description="facebook, instagram, twitter, linkedin, youtube, tiktok or whatsapp"
    )
    account_id: str = Field(
        max_length=200,
        description="Page id, IG user id, X user id, LinkedIn person/organization URN, YouTube channel id, "
        "TikTok open id or WhatsApp phone-number id",
    )
    access_token: SecretStr = Field(max_length=8192, description="Stored encrypted; never shown again")
    refresh_token: SecretStr | None = Field(default=None, max_length=8192)
    expires_at: datetime | None = Field(default=None, description="When the access token expires (ISO 8601)")


class AccountView(ApiModel):
    id: str = Field(description="The account's id in this API: its platform")
    platform: str
    account_id: str
    connected_at: Timestamp
    expires_at: Timestamp | None = None
    has_refresh_token: bool
    renews_automatically: bool
    token_hint: str = Field(description="The token's last characters, to tell tokens apart")
    refreshed_at: Timestamp | None = None


class AccountList(ApiModel):
    accounts: list[AccountView]


class ScheduledRef(ApiModel):
    post_id: str
    scheduled_time: Timestamp


class AccountHealthView(ApiModel):
    platform: str
    account_id: str
    status: str = Field(description="healthy, expiring or expired")
    expires_at: Timestamp | None = None
    seconds_until_expiry: int | None = None
    renews_automatically: bool
    message: str
    posts_after_expiry: list[ScheduledRef]


# -- preview and dry runs --------------------------------------------------------------------------


class MediaPreviewView(ApiModel):
    url: str
    kind: str


class PlatformPreviewView(ApiModel):
    platform: str
    text: str
    length: int = Field(description="As the platform counts it (X: weighted)")
    limit: int
    link: str | None = None
    link_in_text: bool
    media: list[MediaPreviewView]
    media_as: str | None = None
    title: str | None = None


class PreviewView(ApiModel):
    post_id: str
    scheduled_time: Timestamp
    platforms: list[PlatformPreviewView]


class DraftRequest(ApiModel):
    """A post being written, not stored: what the composer previews and checks as it is typed."""

    content: str = Field(max_length=70_000)
    platforms: list[str] = Field(min_length=1, max_length=6)
    scheduled_time: datetime | None = Field(
        default=None, description="ISO 8601 with a UTC offset; the checks run for now when omitted"
    )
    hashtags: list[Annotated[str, Field(max_length=101)]] = Field(default_factory=list, max_length=100)
    thread: list[Annotated[str, Field(max_length=4000)]] = Field(default_factory=list, max_length=24)
    media_urls: list[Annotated[str, Field(max_length=2048)]] = Field(default_factory=list, max_length=20)
    link: str | None = Field(default=None, max_length=2048)


class ProblemView(ApiModel):
    check: str = Field(description="validation, account, token, budget or api_version")
    code: str
    message: str
    platform: str | None = None
    severity: str = Field(description="error: it would fail; warning: it goes out, but not as planned")
    details: dict[str, Any] = Field(default_factory=dict)


class DryRunView(ApiModel):
    post_id: str
    scheduled_time: Timestamp
    platforms: list[str]
    ok: bool
    problems: list[ProblemView]


class DraftPreviewView(ApiModel):
    scheduled_time: Timestamp
    platforms: list[PlatformPreviewView]
    ok: bool = Field(description="No problem of severity error: once scheduled, it would go out")
    problems: list[ProblemView]


class QueueDryRunView(ApiModel):
    days: int
    checked_posts: int
    posts_with_problems: int
    errors: int
    warnings: int
    posts: list[DryRunView]


# -- messages --------------------------------------------------------------------------------------


class TemplateRequest(ApiModel):
    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=15, description="e.g. en_US")
    components: list[dict[str, Any]] | None = Field(default=None, max_length=20)


class WhatsAppMessageRequest(ApiModel):
    to: str = Field(max_length=32, description="The contact's number in international format")
    text: str | None = Field(default=None, max_length=4096)
    template: TemplateRequest | None = Field(
        default=None, description="An approved template, sent when the 24-hour window is closed"
    )


class MessageSentView(ApiModel):
    message_id: str
    to: str
    kind: str
    fell_back_to_template: bool


# -- workflows -------------------------------------------------------------------------------------


class CreateWorkflowRequest(ApiModel):
    template: str | None = Field(
        default=None, max_length=64, description="content-to-social, listing-campaign, ..."
    )
    parameters: dict[str, Any] = Field(default_factory=dict)
    definition: dict[str, Any] | None = Field(
        default=None, description="A custom definition (see the README)"
    )


class NotifyTarget(ApiModel):
    channel: str = Field(description="webhook or email")
    url: str | None = Field(default=None, max_length=2048)
    to: list[Annotated[str, Field(max_length=254)]] | None = Field(default=None, max_length=20)


class ExecuteWorkflowRequest(ApiModel):
    auto_approve: bool = Field(default=False, description="Pass approval gates without a person")
    notify_on_completion: bool = False
    notify: NotifyTarget | None = Field(default=None, description="Where the completion notice goes")


class RejectStepRequest(ApiModel):
    reason: str = Field(min_length=1, max_length=2000)


class ApprovalView(ApiModel):
    decision: str
    by: str | None = None
    reason: str | None = None
    at: Timestamp


class StepView(ApiModel):
    step_id: str
    action: str
    status: str
    optional: bool
    depends_on: list[str]
    attempts: int
    fix_attempts: int
    output: dict[str, Any] | None = None
    error: str | None = None
    error_code: str | None = None
    duration_ms: int
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    next_run_at: Timestamp | None = None
    gate_results: list[dict[str, Any]]
    approval: ApprovalView | None = None


class WorkflowMetricsView(ApiModel):
    completed: int
    failed: int
    skipped: int
    pending: int
    total_duration_ms: int


class WorkflowView(ApiModel):
    workflow_id: str
    name: str
    template: str | None = None
    status: str
    auto_approve: bool
    parameters: dict[str, Any]
    failure_reason: str | None = None
    created_at: Timestamp
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    metrics: WorkflowMetricsView
    steps: list[StepView]
    definition: dict[str, Any]


class WorkflowList(ApiModel):
    workflows: list[WorkflowView]
    next_token: str | None = None


class WorkflowTemplatesView(ApiModel):
    templates: list[dict[str, Any]]


# -- scheduled tasks -------------------------------------------------------------------------------


class CreateTaskRequest(ApiModel):
    type: str = Field(description="workflow or action")
    scheduled_at: datetime = Field(description="ISO 8601 with an offset")
    config: dict[str, Any] = Field(
        description="workflow: {workflowId} or {template, parameters} or {definition}, with autoApprove?, "
        "notify?; action: {action, parameters}"
    )
    max_retries: int = Field(default=3, ge=0, le=10)


class TaskView(ApiModel):
    task_id: str
    type: str
    status: str
    config: dict[str, Any]
    scheduled_at: Timestamp
    next_run_at: Timestamp
    max_retries: int
    attempts: int
    last_error: str | None = None
    result: dict[str, Any] | None = None
    history: list[dict[str, Any]]
    created_at: Timestamp
    completed_at: Timestamp | None = None


class TaskList(ApiModel):
    tasks: list[TaskView]


class TaskStatsView(ApiModel):
    total: int
    pending: int
    running: int
    completed: int
    failed: int
    cancelled: int


class AuditEntryView(ApiModel):
    at: Timestamp
    actor: str
    action: str
    target: str
    details: dict[str, Any]


class AuditList(ApiModel):
    entries: list[AuditEntryView]
    next_token: str | None = None
