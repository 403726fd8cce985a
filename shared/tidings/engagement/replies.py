"""Replies to comments: drafted in the user's voice when a comment comes to need an answer, approved
by the user (as drafted, or edited) or written by them, checked by the gate of posts
(`tidings.workflows.content.reply`), then posted once through the platform's reply endpoint; or
posted by auto-reply, when the user turned it on for the platform and the comment is neither negative
nor one to escalate.

Posted at most once. The reply on the comment item is its ledger, with the publish ledger's rules
(`tidings.store.ledger`): an attempt first moves it to `sending` in a write conditional on the
comment's version, so only one attempt ever calls the platform; only that attempt records how the call
ended (`posted` with the platform's reply id, which also marks the comment `handled`, in the same
write); a call whose answer was lost leaves it `unknown`, and the reply is read back from the
platform before anything is sent again. A `sending` reply older than three HTTP timeouts is treated
as unknown (its attempt died mid-call).

Where it happens: the comment_intake function drafts from the stream (a comment that became
`needs_response` with no reply yet), posts auto-replies, and retries what is left `approved` (a
failure that may pass) or `unknown`, up to MAX_ATTEMPTS platform calls, after which the reply is
`failed` with the reason and the user may approve it again. The approve and reply routes post
directly and answer at once: 200 posted, 202 when the platform failed in a way that may pass or did not
answer (the stream goes on with it), 502 when the platform refused it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.errors import Conflict, ServiceUnavailable, UpstreamFailed, ValidationFailed
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.engagement.accounts import connected_account
from tidings.models.accounts import AccountCredentials
from tidings.models.comments import (
    AUTO_APPROVER,
    Comment,
    CommentReply,
    CommentSettings,
    CommentStatus,
    ReplyState,
    comment_not_found,
    split_comment_id,
)
from tidings.publishing.clients.comments import CommentReplier, ReplyTarget, same_text
from tidings.publishing.messaging import CredentialSource
from tidings.store import keys
from tidings.store.comment_settings import CommentSettingsRepository
from tidings.store.comments import CommentChanged, CommentRepository, comment_from_item
from tidings.store.dynamo import deserialize_stream_image, record_of
from tidings.workflows.content.catalogue import TONES
from tidings.workflows.content.reply import (
    DraftedReply,
    ReplyRequest,
    ReplyVoice,
    draft_reply,
    reply_problems,
)
from tidings.workflows.content.request import BrandVoice

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # platform calls for one approval before the reply is failed
REPLYABLE = frozenset({CommentStatus.NEW, CommentStatus.NEEDS_RESPONSE, CommentStatus.DISMISSED})
_SETTLE_TRIES = 3
_PENDING = (ReplyState.APPROVED, ReplyState.UNKNOWN, ReplyState.SENDING)


def voice_of(settings: CommentSettings) -> ReplyVoice:
    return ReplyVoice(
        tone=settings.tone,
        brand=BrandVoice(
            name=settings.brand_name,
            tagline=settings.brand_tagline,
            phrases=tuple(settings.brand_phrases),
            avoid=tuple(settings.brand_avoid),
            signature=settings.signature,
        ),
    )


def may_auto_reply(comment: Comment, settings: CommentSettings) -> bool:
    """Auto-reply posts only where the user turned it on for the platform, and only for a comment the
    analysis says needs a response (never one to escalate) whose sentiment is not negative."""
    analysis = comment.analysis
    return (
        settings.auto_reply_on(comment.platform)
        and analysis is not None
        and analysis.decision == "needs_response"
        and analysis.sentiment != "negative"
    )


def target_of(comment: Comment) -> ReplyTarget:
    return ReplyTarget(
        platform_comment_id=comment.platform_comment_id,
        platform_post_id=comment.platform_post_id,
        parent_id=comment.parent_id,
        thread_id=comment.thread_id,
    )


class ReplyDrafter(Protocol):
    def draft(self, comment: Comment, settings: CommentSettings) -> DraftedReply: ...


class ContentReplyDrafter:
    """Drafts with the content package: the Bedrock model when one is configured, else the template."""

    def __init__(self, model: Callable[[], Any] | None = None, model_id: str = "") -> None:
        self.model = model
        self.model_id = model_id

    def draft(self, comment: Comment, settings: CommentSettings) -> DraftedReply:
        analysis = comment.analysis
        request = ReplyRequest(
            comment_text=comment.text,
            platform=comment.platform,
            reasons=tuple(analysis.reasons) if analysis else (),
            keywords=tuple(analysis.keywords) if analysis else (),
            author_name=comment.author_name,
        )
        model = self.model() if self.model is not None and self.model_id.strip() else None
        return draft_reply(request, voice_of(settings), model=model, model_id=self.model_id)


@dataclass(frozen=True)
class ReplyOutcome:
    comment: Comment

    @property
    def posted(self) -> bool:
        reply = self.comment.reply
        return reply is not None and reply.state is ReplyState.POSTED


class ReplyService:
    def __init__(
        self,
        comments: CommentRepository,
        settings: CommentSettingsRepository,
        repliers: Mapping[Platform, CommentReplier],
        credentials: Callable[[], CredentialSource],
        drafter: ReplyDrafter,
        *,
        stale_after: timedelta = timedelta(seconds=30),
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self.comments = comments
        self.settings_repo = settings
        self.repliers = repliers
        self.credentials = credentials
        self.drafter = drafter
        self.stale_after = stale_after
        self.clock = clock

    # -- settings -----------------------------------------------------------------------------------

    def settings(self, user_id: str) -> CommentSettings:
        return self.settings_repo.get(user_id)

    def save_settings(self, settings: CommentSettings) -> CommentSettings:
        unknown = sorted(p for p in settings.auto_reply if p not in {str(p) for p in self.repliers})
        if unknown:
            raise ValidationFailed(
                f"auto-reply is not available on {', '.join(unknown)}",
                {"field": "autoReply", "supported": sorted(str(p) for p in self.repliers)},
                code="reply_not_supported",
            )
        if settings.tone not in TONES:
            raise ValidationFailed(
                f"unknown tone {settings.tone!r}",
                {"field": "tone", "supported": list(TONES)},
                code="invalid_tone",
            )
        return self.settings_repo.put(settings.model_copy(update={"updated_at": self.clock.now()}))

    # -- the user's calls ---------------------------------------------------------------------------

    def write(self, user_id: str, comment_id: str, text: str) -> ReplyOutcome:
        """A reply the user wrote: through the gate, then posted once."""
        return self.approve(user_id, comment_id, text=text)

    def approve(self, user_id: str, comment_id: str, text: str | None = None) -> ReplyOutcome:
        """Approve the drafted reply (or `text` in its place) and post it. Approving a reply already
        posted answers it as it is, nothing sent again (with another text: 409 reply_already_posted)."""
        comment = self._get(user_id, comment_id)
        replier = self._replier(comment)
        reply = comment.reply
        if reply is not None and reply.state in (ReplyState.UNKNOWN, ReplyState.SENDING):
            comment = self._reconcile_now(comment, replier)
            reply = comment.reply
        if reply is not None and reply.state is ReplyState.POSTED:
            if text is None or same_text(text, reply.text):
                return ReplyOutcome(comment)
            raise Conflict(
                "this comment's reply is posted already",
                {"platformReplyId": reply.platform_reply_id},
                code="reply_already_posted",
            )
        if comment.status not in REPLYABLE:
            raise Conflict(
                f"a {comment.status} comment cannot be answered",
                {"status": str(comment.status), "allowedFrom": sorted(str(s) for s in REPLYABLE)},
                code="comment_status_conflict",
            )
        chosen = text if text is not None else (reply.text if reply is not None else None)
        if chosen is None:
            raise Conflict(
                "there is no drafted reply to approve: send the reply's text",
                {"commentId": comment_id},
                code="no_reply_draft",
            )
        problems = reply_problems(chosen, comment.platform, voice_of(self.settings(user_id)))
        if problems:
            raise ValidationFailed(
                f"the reply was refused: {'; '.join(problems)}", {"reasons": problems}, code="reply_rejected"
            )
        account = self._account(comment)
        approved = CommentReply(
            text=chosen,
            state=ReplyState.APPROVED,
            draft=reply.draft if reply is not None else None,
            drafted_by=reply.drafted_by
            if reply is not None and same_text(chosen, reply.draft or "")
            else None,
            approved_by=user_id,
            approved_at=self.clock.now(),
        )
        held = self._begin(comment, approved)
        done = self._send(held, account, replier)
        reply = done.reply
        if reply is not None and reply.state is ReplyState.FAILED:
            raise UpstreamFailed(
                f"{comment.platform} refused the reply: {reply.last_error}",
                {"platform": str(comment.platform), "platformCode": reply.last_error_code},
                code="platform_refused",
            )
        return ReplyOutcome(done)

    # -- from the stream ----------------------------------------------------------------------------

    def advance(self, user_id: str, comment_id: str) -> Comment | None:
        """Take the comment's reply one step on: draft it (and post it, for auto-reply), post an
        approved one, or read back an unknown one. Idempotent: reads the comment as it is now."""
        comment = self.comments.get(user_id, comment_id)
        if comment is None:
            return None
        reply = comment.reply
        if reply is None:
            if comment.status is not CommentStatus.NEEDS_RESPONSE or comment.platform not in self.repliers:
                return comment
            return self._draft(comment)
        replier = self.repliers.get(comment.platform)
        if replier is None or reply.state not in _PENDING:
            return comment
        if reply.state is not ReplyState.APPROVED:
            try:
                comment = self._reconcile(comment, replier)
            except PlatformCallError as exc:
                logger.warning("reply of %s could not be read back yet: %s", comment_id, exc.message)
                return comment
            reply = comment.reply
            if reply is None or reply.state is not ReplyState.APPROVED:
                return comment
        if reply.attempts >= MAX_ATTEMPTS:
            return self._give_up(comment)
        account = self.credentials().credentials(user_id, comment.platform)
        if account is None:
            return self._save_reply(
                comment,
                reply.model_copy(
                    update={
                        "state": ReplyState.FAILED,
                        "last_error": f"no {comment.platform} account is connected",
                        "last_error_code": "account_not_connected",
                    }
                ),
            )
        return self._send(self._begin(comment, reply), account, replier)

    def _draft(self, comment: Comment) -> Comment:
        settings = self.settings(comment.user_id)
        drafted = self.drafter.draft(comment, settings)
        reply = CommentReply(text=drafted.text, draft=drafted.text, drafted_by=drafted.source)
        problems = reply_problems(drafted.text, comment.platform, voice_of(settings))
        if problems:
            reply = reply.model_copy(
                update={"last_error": "; ".join(problems), "last_error_code": "reply_rejected"}
            )
        elif may_auto_reply(comment, settings):
            reply = reply.model_copy(
                update={
                    "state": ReplyState.APPROVED,
                    "approved_by": AUTO_APPROVER,
                    "approved_at": self.clock.now(),
                }
            )
        try:
            return self._save_reply(comment, reply)
        except CommentChanged:
            logger.info("comment %s changed while its reply was drafted; left as it is", comment.comment_id)
            return comment
        # an approved draft is posted when its own change comes back through the stream

    # -- the ledger ---------------------------------------------------------------------------------

    def _begin(self, comment: Comment, reply: CommentReply) -> Comment:
        """Hold the reply for one platform call (conditional on the comment's version):
        CommentChanged when another attempt or change came first."""
        return self._save_reply(
            comment,
            reply.model_copy(
                update={
                    "state": ReplyState.SENDING,
                    "attempts": reply.attempts + 1,
                    "attempt_started_at": self.clock.now(),
                }
            ),
        )

    def _send(self, held: Comment, account: AccountCredentials, replier: CommentReplier) -> Comment:
        reply = held.reply
        assert reply is not None
        try:
            reply_id = replier.post_reply(account, target_of(held), reply.text)
        except PlatformCallError as exc:
            if exc.kind == ErrorKind.UNKNOWN_OUTCOME:
                state = ReplyState.UNKNOWN
            elif exc.kind.retry_possible:
                state = ReplyState.APPROVED if reply.attempts < MAX_ATTEMPTS else ReplyState.FAILED
            else:
                state = ReplyState.FAILED
            message = exc.message
            if state is ReplyState.FAILED and exc.kind.retry_possible:
                message = f"gave up after {reply.attempts} attempts: {exc.message}"
            return self._settle(held, state, error=(exc.code, message))
        except Exception as exc:
            self._settle(held, ReplyState.UNKNOWN, error=("unexpected", type(exc).__name__))
            raise
        return self._settle(held, ReplyState.POSTED, reply_id=reply_id)

    def _settle(
        self,
        held: Comment,
        state: ReplyState,
        *,
        reply_id: str | None = None,
        error: tuple[str, str] | None = None,
    ) -> Comment:
        """Record how the held attempt ended, if it still holds the reply (another change to the
        comment meanwhile is read again; another attempt holding it wins)."""
        attempt = held.reply.attempts if held.reply else 0
        current: Comment | None = held
        for _ in range(_SETTLE_TRIES):
            reply = current.reply if current is not None else None
            if (
                current is None
                or reply is None
                or reply.attempts != attempt
                or reply.state not in _PENDING[1:]
            ):
                logger.warning(
                    "reply of %s was taken by another attempt; outcome %s not recorded",
                    held.comment_id,
                    state,
                )
                return current or held
            update: dict[str, Any] = {"state": state}
            if error is not None:
                update.update(last_error_code=error[0], last_error=error[1])
            status = current.status
            if state is ReplyState.POSTED:
                update.update(
                    platform_reply_id=reply_id,
                    posted_at=self.clock.now(),
                    last_error=None,
                    last_error_code=None,
                )
                status = CommentStatus.HANDLED
            try:
                return self._save_reply(current, reply.model_copy(update=update), status)
            except CommentChanged:
                current = self.comments.get(held.user_id, held.comment_id)
        raise CommentChanged("the comment kept changing while its reply was recorded", {})

    def _reconcile(self, comment: Comment, replier: CommentReplier) -> Comment:
        """A reply whose call may have gone out (unknown, or sending longer than a call can take):
        read back from the platform; posted when found there, else approved again (known not posted).
        A reply still being sent is left alone. PlatformCallError when the read fails."""
        reply = comment.reply
        assert reply is not None
        started = reply.attempt_started_at
        if reply.state is ReplyState.SENDING and started and self.clock.now() - started < self.stale_after:
            return comment
        account = self._account(comment)
        found = replier.find_reply(account, target_of(comment), reply.text)
        if found is not None:
            return self._settle(comment, ReplyState.POSTED, reply_id=found)
        return self._settle(
            comment, ReplyState.APPROVED, error=("not_found_on_read_back", "not found on read-back")
        )

    def _reconcile_now(self, comment: Comment, replier: CommentReplier) -> Comment:
        """`_reconcile` for a caller waiting on the answer: a reply still being sent is 409, a read that
        failed 503 (nothing is sent again before it is known)."""
        try:
            comment = self._reconcile(comment, replier)
        except PlatformCallError as exc:
            raise ServiceUnavailable(
                f"whether the reply went out is not known yet: {exc.message}",
                {"platform": str(comment.platform), "retryable": True},
                code="reply_outcome_unknown",
            ) from exc
        if comment.reply is not None and comment.reply.state is ReplyState.SENDING:
            raise Conflict(
                "the reply is being posted now", {"commentId": comment.comment_id}, code="reply_in_progress"
            )
        return comment

    def _give_up(self, comment: Comment) -> Comment:
        reply = comment.reply
        assert reply is not None
        message = f"gave up after {reply.attempts} attempts: {reply.last_error or 'no answer'}"
        return self._save_reply(
            comment, reply.model_copy(update={"state": ReplyState.FAILED, "last_error": message})
        )

    # -- helpers ------------------------------------------------------------------------------------

    def _save_reply(
        self, comment: Comment, reply: CommentReply, status: CommentStatus | None = None
    ) -> Comment:
        update: dict[str, Any] = {"reply": reply, "updated_at": self.clock.now()}
        if status is not None:
            update["status"] = status
        return self.comments.save(comment.model_copy(update=update))

    def _get(self, user_id: str, comment_id: str) -> Comment:
        split_comment_id(comment_id)
        comment = self.comments.get(user_id, comment_id)
        if comment is None:
            raise comment_not_found(comment_id)
        return comment

    def _replier(self, comment: Comment) -> CommentReplier:
        replier = self.repliers.get(comment.platform)
        if replier is None:
            raise ValidationFailed(
                f"{comment.platform} comments cannot be answered through Tidings",
                {"platform": str(comment.platform), "supported": sorted(str(p) for p in self.repliers)},
                code="reply_not_supported",
            )
        return replier

    def _account(self, comment: Comment) -> AccountCredentials:
        return connected_account(self.credentials(), comment.user_id, comment.platform)


def _wants_reply_work(image: dict[str, Any]) -> bool:
    reply = image.get("reply")
    if isinstance(reply, dict):
        return reply.get("state") in {str(s) for s in _PENDING if s is not ReplyState.SENDING}
    return image.get("status") == str(CommentStatus.NEEDS_RESPONSE)


class ReplyStep:
    """StreamConsumer of changed comments: a comment that needs a response and has no reply gets a
    draft (posted at once under auto-reply); a reply left approved or unknown is taken on."""

    def __init__(self, replies: ReplyService) -> None:
        self.replies = replies

    def wants(self, record: dict[str, Any]) -> bool:
        if record.get("eventName") != "MODIFY" or not record_of(record, keys.COMMENT_ENTITY):
            return False
        return _wants_reply_work(deserialize_stream_image(record["dynamodb"].get("NewImage", {})))

    def apply(self, record: dict[str, Any], deferred: list[Any]) -> None:
        comment = comment_from_item(deserialize_stream_image(record["dynamodb"]["NewImage"]))
        try:
            self.replies.advance(comment.user_id, comment.comment_id)
        except CommentChanged:
            # another change came first: its own record takes the reply on from there
            logger.info("comment %s changed while its reply was taken on", comment.comment_id)

    def flush(self, deferred: list[Any]) -> None:
        """Nothing is deferred: each reply moves on as its record arrives."""
