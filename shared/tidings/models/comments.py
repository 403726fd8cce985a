"""Comments on a user's posts, taken in from the platforms (Meta webhooks, or a periodic read), as
entities with no I/O.

A comment is one per user and platform comment id, whichever way it came in: its id is
`<platform>.<platform comment id>` (platform names hold no dot; platform ids may). It carries what the
platform said (post, author, text, time, parent), where it stands for the user (`status`), what the
analysis made of it, and the reply once one is posted.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from tidings.core.errors import NotFound
from tidings.core.platforms import Platform

MAX_COMMENT_TEXT = 8_000  # longer texts are cut (YouTube allows 10,000; Meta 8,000)


class CommentStatus(StrEnum):
    NEW = "new"  # just taken in; the analysis comes next
    NEEDS_RESPONSE = "needs_response"  # the analysis asks for an answer
    HANDLED = "handled"  # answered
    HIDDEN = "hidden"  # hidden on the platform through Tidings
    DISMISSED = "dismissed"  # the user decided nothing is to be done


class CommentSource(StrEnum):
    WEBHOOK = "webhook"
    FETCH = "fetch"


# Where a user may move a comment by hand, from which statuses.
DISMISSABLE = frozenset({CommentStatus.NEW, CommentStatus.NEEDS_RESPONSE})
HIDEABLE = frozenset({CommentStatus.NEW, CommentStatus.NEEDS_RESPONSE, CommentStatus.DISMISSED})


class CommentAnalysis(BaseModel):
    """What the analyzer said about the comment (tidings.engagement.analysis)."""

    model_config = ConfigDict(frozen=True)

    sentiment: str
    scores: dict[str, float] = Field(default_factory=dict)
    toxicity: float = 0.0
    toxicity_labels: list[str] = Field(default_factory=list)
    spam: bool = False
    spam_reasons: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    decision: str
    reasons: list[str] = Field(default_factory=list)
    analyzed_at: datetime


class ReplyState(StrEnum):
    """Where a reply stands. From `approved` on it follows the publish ledger's states: an attempt
    moves it to `sending` (a conditional write) before the platform call, and only that attempt
    records the outcome; `unknown` is read back from the platform before anything is sent again."""

    DRAFT = "draft"  # drafted by Tidings, waiting for the user
    APPROVED = "approved"  # to be posted (again, after a failure that may pass)
    SENDING = "sending"  # an attempt holds it: the platform call may be under way
    UNKNOWN = "unknown"  # sent, and no answer came back
    POSTED = "posted"
    FAILED = "failed"  # refused for good, or given up; the user may approve it again


AUTO_APPROVER = "auto"  # approved_by of a reply posted by auto-reply


class CommentReply(BaseModel):
    """The answer to the comment: drafted or written, approved, then posted once."""

    model_config = ConfigDict(frozen=True)

    text: str  # as it is (or was) posted
    state: ReplyState = ReplyState.DRAFT
    draft: str | None = None  # what Tidings drafted, kept when the user edits it
    drafted_by: str | None = None  # "template" or "bedrock"; None for a reply the user wrote
    approved_by: str | None = None  # the user's id, or AUTO_APPROVER
    approved_at: datetime | None = None
    attempts: int = 0  # platform calls begun
    attempt_started_at: datetime | None = None
    # While pending (approved, sending, unknown): when the periodic reply pass takes it on if nothing
    # else did (a retry's back-off, or the end of the lease of a call or of the stream's turn); the
    # reply index's sort key (tidings.store.comments).
    next_attempt_at: datetime | None = None
    checks: int = 0  # read-backs of an unknown outcome that failed in a row
    last_error: str | None = None
    last_error_code: str | None = None
    platform_reply_id: str | None = None
    posted_at: datetime | None = None


class CommentSettings(BaseModel):
    """What the user set for their comments: auto-reply per platform (off unless turned on), whether
    the analysis may decide to hide, and the voice replies are drafted in."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    auto_reply: dict[str, bool] = Field(default_factory=dict)  # platform -> on
    allow_hide: bool = False
    tone: str = "friendly"
    brand_name: str = ""
    brand_tagline: str = ""
    brand_phrases: list[str] = Field(default_factory=list)
    brand_avoid: list[str] = Field(default_factory=list)  # never in a reply (the gate refuses them)
    signature: str = ""  # signs each reply, e.g. "- Dana, Acme Realty"
    updated_at: datetime | None = None

    def auto_reply_on(self, platform: str) -> bool:
        return self.auto_reply.get(str(platform), False)


class Comment(BaseModel):
    user_id: str
    platform: Platform
    platform_comment_id: str
    platform_post_id: str
    post_id: str | None = None  # Tidings' post, when Tidings published the one commented on
    author_id: str | None = None
    author_name: str | None = None
    text: str
    created_at: datetime
    parent_id: str | None = None  # the platform id of the comment this one answers
    thread_id: str | None = None  # the platform's thread (YouTube thread, X conversation)
    status: CommentStatus = CommentStatus.NEW
    source: CommentSource
    received_at: datetime
    updated_at: datetime
    analysis: CommentAnalysis | None = None
    reply: CommentReply | None = None
    version: int = 1

    @property
    def comment_id(self) -> str:
        return comment_id(self.platform, self.platform_comment_id)


def comment_id(platform: str, platform_comment_id: str) -> str:
    return f"{platform}.{platform_comment_id}"


def split_comment_id(value: str) -> tuple[Platform, str]:
    """The platform and platform comment id of a comment id; NotFound for anything else."""
    platform, _, platform_id = value.partition(".")
    if platform not in {str(p) for p in Platform} or not platform_id:
        raise comment_not_found(value)
    return Platform(platform), platform_id


def comment_not_found(value: str) -> NotFound:
    return NotFound(f"no comment {value!r}", {"commentId": value}, code="comment_not_found")


class WatchedPost(BaseModel):
    """A published post whose comments are read periodically until `watch_until`."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    platform: Platform
    platform_post_id: str
    post_id: str | None
    published_at: datetime
    watch_until: datetime


class PostLink(BaseModel):
    """One platform id a published post is known by, and the Tidings post it is: the id its publish
    answered, and the ids the platform's webhooks name it by where they differ."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    platform: Platform
    platform_post_id: str
    post_id: str
