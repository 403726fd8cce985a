"""The user's comments: listing and reading them, syncing now, hiding one on its platform, dismissing
one; and turning a platform's comment into Tidings' (one per user and platform comment id).

What the analysis decides sets the status: a decision that asks for an answer makes the comment
`needs_response` (which sends the `comment.needs_response` webhook event); any other leaves it `new`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.errors import Conflict, TooManyRequests, UpstreamFailed, ValidationFailed
from tidings.core.failures import PlatformCallError
from tidings.core.platforms import Platform
from tidings.engagement.accounts import connected_account
from tidings.models.accounts import AccountCredentials
from tidings.models.comments import (
    DISMISSABLE,
    HIDEABLE,
    MAX_COMMENT_TEXT,
    Comment,
    CommentAnalysis,
    CommentSource,
    CommentStatus,
    comment_not_found,
    split_comment_id,
)
from tidings.publishing.clients.comments import CommentReader, CommentsUnavailable, PlatformComment
from tidings.store.comments import CommentFilter, CommentPage, CommentRepository

if TYPE_CHECKING:
    from tidings.engagement.replies import ReplyService

# analysis decisions (tidings.engagement.analysis.DECISIONS) that ask for an answer from the brand
RESPOND_DECISIONS = frozenset({"needs_response", "escalate"})
MAX_PAGE = 100


def from_platform(
    user_id: str,
    platform: Platform,
    comment: PlatformComment,
    post_id: str | None,
    source: CommentSource,
    now: datetime,
) -> Comment:
    return Comment(
        user_id=user_id,
        platform=platform,
        platform_comment_id=comment.platform_comment_id,
        platform_post_id=comment.platform_post_id,
        post_id=post_id,
        author_id=comment.author_id,
        author_name=comment.author_name,
        text=comment.text[:MAX_COMMENT_TEXT],
        created_at=comment.created_at,
        parent_id=comment.parent_id,
        thread_id=comment.thread_id,
        source=source,
        received_at=now,
        updated_at=now,
    )


def status_after(comment: Comment, analysis: CommentAnalysis) -> CommentStatus:
    """The status a new comment takes with its analysis (a comment the user moved keeps its own)."""
    if comment.status is CommentStatus.NEW and analysis.decision in RESPOND_DECISIONS:
        return CommentStatus.NEEDS_RESPONSE
    return comment.status


class Credentials(Protocol):
    def credentials(self, user_id: str, platform: str) -> AccountCredentials | None: ...


@dataclass
class FetchReport:
    posts_read: int = 0
    comments_seen: int = 0
    comments_new: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)  # {platform, postId, reason}

    def add(self, other: FetchReport) -> None:
        self.posts_read += other.posts_read
        self.comments_seen += other.comments_seen
        self.comments_new += other.comments_new
        self.skipped.extend(other.skipped)

    def as_dict(self) -> dict[str, Any]:
        return {
            "postsRead": self.posts_read,
            "commentsSeen": self.comments_seen,
            "commentsNew": self.comments_new,
            "skipped": list(self.skipped),
        }


class UserFetcher(Protocol):
    def fetch_user(self, user_id: str) -> FetchReport: ...


class Analyzer(Protocol):
    def analyze(self, comments: Sequence[Comment], recent_texts: Sequence[str]) -> list[CommentAnalysis]:
        """One analysis per comment, in order."""
        ...


class CommentService:
    def __init__(
        self,
        comments: CommentRepository,
        fetcher: Callable[[], UserFetcher],
        readers: Mapping[Platform, CommentReader],
        credentials: Callable[[], Credentials],
        *,
        sync_every: timedelta = timedelta(seconds=60),
        clock: Clock = DEFAULT_CLOCK,
        replies: Callable[[], ReplyService] | None = None,
    ) -> None:
        self.comments = comments
        self.fetcher = fetcher
        self.readers = readers
        self.credentials = credentials
        self.sync_every = sync_every
        self.clock = clock
        self.replies = replies

    def reply_service(self) -> ReplyService:
        """Replies and the comment settings (`tidings.engagement.replies`)."""
        if self.replies is None:
            raise RuntimeError("replies are not wired into this comment service")
        return self.replies()

    def list(
        self, user_id: str, filters: CommentFilter, limit: int = 50, next_token: str | None = None
    ) -> CommentPage:
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationFailed(
                f"limit must be between 1 and {MAX_PAGE}", {"field": "limit"}, code="invalid_limit"
            )
        return self.comments.page(user_id, filters, limit, next_token)

    def get(self, user_id: str, comment_id: str) -> Comment:
        split_comment_id(comment_id)
        comment = self.comments.get(user_id, comment_id)
        if comment is None:
            raise comment_not_found(comment_id)
        return comment

    def sync(self, user_id: str) -> FetchReport:
        """Read the comments of the user's recent posts now: at most once a `sync_every`."""
        retry_at = self.comments.claim_sync(user_id, self.clock.now(), self.sync_every)
        if retry_at is not None:
            wait = max(1, int((retry_at - self.clock.now()).total_seconds() + 0.999))
            raise TooManyRequests(
                f"comments were synced less than {int(self.sync_every.total_seconds())} s ago",
                {"retryAfterSeconds": wait},
                code="sync_too_soon",
            )
        return self.fetcher().fetch_user(user_id)

    def dismiss(self, user_id: str, comment_id: str) -> Comment:
        comment = self.get(user_id, comment_id)
        if comment.status is CommentStatus.DISMISSED:
            return comment
        _check_move(comment, DISMISSABLE, CommentStatus.DISMISSED)
        return self._move(comment, CommentStatus.DISMISSED)

    def hide(self, user_id: str, comment_id: str) -> Comment:
        """Hide the comment on its platform, then mark it hidden."""
        comment = self.get(user_id, comment_id)
        if comment.status is CommentStatus.HIDDEN:
            return comment
        _check_move(comment, HIDEABLE, CommentStatus.HIDDEN)
        reader = self.readers.get(comment.platform)
        if reader is None:
            raise _not_hideable(comment, f"{comment.platform} comments cannot be hidden through Tidings")
        account = connected_account(self.credentials(), user_id, comment.platform)
        try:
            reader.hide_comment(account, comment.platform_comment_id)
        except CommentsUnavailable as exc:
            raise _not_hideable(comment, str(exc)) from exc
        except PlatformCallError as exc:
            raise UpstreamFailed(
                f"{comment.platform} did not hide the comment: {exc.message}",
                {"platform": str(comment.platform), "platformCode": exc.code, "kind": str(exc.kind)},
                code="platform_refused",
            ) from exc
        return self._move(comment, CommentStatus.HIDDEN)

    def _move(self, comment: Comment, status: CommentStatus) -> Comment:
        return self.comments.save(
            comment.model_copy(update={"status": status, "updated_at": self.clock.now()})
        )


def _check_move(comment: Comment, allowed: frozenset[CommentStatus], to: CommentStatus) -> None:
    if comment.status not in allowed:
        raise Conflict(
            f"a {comment.status} comment cannot become {to}",
            {"status": str(comment.status), "allowedFrom": sorted(str(s) for s in allowed)},
            code="comment_status_conflict",
        )


def _not_hideable(comment: Comment, message: str) -> ValidationFailed:
    return ValidationFailed(message, {"platform": str(comment.platform)}, code="hide_not_supported")


class AnalysisAdapter:
    """An Analyzer over the analysis package's interface (`tidings.engagement.analysis`: CommentText,
    AnalysisContext, and a CommentAnalyzer whose analyze answers one Analysis per comment). The
    analysis may decide to hide only where the user allows it (`allow_hide`, their comment settings;
    never without it). The comments given are one user's."""

    def __init__(
        self, analyzer: Any, clock: Clock = DEFAULT_CLOCK, allow_hide: Callable[[str], bool] | None = None
    ) -> None:
        self.analyzer = analyzer
        self.clock = clock
        self.allow_hide = allow_hide

    def analyze(self, comments: Sequence[Comment], recent_texts: Sequence[str]) -> list[CommentAnalysis]:
        analysis = importlib.import_module("tidings.engagement.analysis")
        texts = [
            analysis.CommentText(
                comment_id=c.comment_id,
                text=c.text,
                platform=str(c.platform),
                author_id=c.author_id,
                post_id=c.post_id or c.platform_post_id,
            )
            for c in comments
        ]
        allow = bool(comments) and self.allow_hide is not None and self.allow_hide(comments[0].user_id)
        context = analysis.AnalysisContext(allow_hide=allow, recent_texts=list(recent_texts))
        now = self.clock.now()
        return [
            CommentAnalysis(
                sentiment=str(a.sentiment),
                scores={str(k): float(v) for k, v in a.scores.items()},
                toxicity=float(a.toxicity),
                toxicity_labels=list(a.toxicity_labels),
                spam=bool(a.spam),
                spam_reasons=list(a.spam_reasons),
                keywords=list(a.keywords),
                decision=str(a.decision),
                reasons=list(a.reasons),
                analyzed_at=now,
            )
            for a in self.analyzer.analyze(texts, context)
        ]
