"""The scheduled post and its per-platform results: the domain entity, not an API shape."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from tidings.core.clock import ceil_ms
from tidings.core.failures import ErrorKind
from tidings.core.platforms import Platform


class PostStatus(StrEnum):
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    PARTIALLY_PUBLISHED = "partially_published"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATUSES = frozenset(
    {PostStatus.PUBLISHED, PostStatus.PARTIALLY_PUBLISHED, PostStatus.FAILED, PostStatus.CANCELLED}
)


class PlatformStatus(StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"
    RETRYING = "retrying"
    FAILED = "failed"


class PlatformError(BaseModel):
    kind: ErrorKind
    code: str
    message: str


class PlatformResult(BaseModel):
    platform: Platform
    status: PlatformStatus = PlatformStatus.PENDING
    platform_post_id: str | None = None
    url: str | None = None
    attempts: int = 0
    last_error: PlatformError | None = None
    published_at: datetime | None = None


class PostPersonalization(BaseModel):
    """The client a post was written for: its text was rendered from the client's CRM record."""

    client_id: str
    integration_id: str
    provider: str
    fields: list[str] = Field(default_factory=list)  # the client's fields the text used
    personalized_at: datetime


class ScheduledPost(BaseModel):
    user_id: str
    post_id: str
    content: str
    platforms: list[Platform]
    scheduled_time: datetime
    timezone: str | None = None
    hashtags: list[str] = Field(default_factory=list)
    # Follow-up parts: on X each is a reply to the one before (a thread); elsewhere they are
    # appended to the text.
    thread: list[str] = Field(default_factory=list)
    media_urls: list[str] = Field(default_factory=list)
    link: str | None = None
    content_type: str | None = None
    status: PostStatus = PostStatus.SCHEDULED
    version: int = 1
    created_at: datetime
    updated_at: datetime
    publish_now: bool = False
    optimized_time: bool = False
    results: dict[Platform, PlatformResult] = Field(default_factory=dict)
    # The execution that claimed the post, the attempt it is on, and why it ended as it did.
    claimed_by: str | None = None
    attempt: int = 0
    next_attempt_at: datetime | None = None
    # When the attempt now running began (set by the claim, cleared when the attempt is recorded):
    # None between attempts.
    attempt_started_at: datetime | None = None
    # How many times the sweeper handed the post to a new execution after its own ended unfinished.
    resumes: int = 0
    final_reason: str | None = None
    completed_at: datetime | None = None
    personalization: PostPersonalization | None = None
    # The crisis that held the post when its time came (tidings.engagement.crisis): it stays
    # `scheduled`, out of the sweeper's index, until the user resumes the queue.
    held_by_crisis: str | None = None
    held_at: datetime | None = None

    @field_validator("scheduled_time")
    @classmethod
    def _whole_milliseconds(cls, value: datetime) -> datetime:
        """Times are kept to the millisecond; a finer time is rounded up, so the post is never sent
        before the moment that was asked for."""
        return ceil_ms(value)

    def result_for(self, platform: Platform) -> PlatformResult:
        return self.results.get(platform) or PlatformResult(platform=platform)

    def next_progress_at(self) -> datetime | None:
        """When a post being published should next show progress: the start of its attempt in flight,
        else its next attempt (else its last change); None unless it is `publishing`."""
        if self.status != PostStatus.PUBLISHING:
            return None
        return self.attempt_started_at or self.next_attempt_at or self.updated_at
