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
`needs_response` with no reply yet) and posts auto-replies (a reply approved and never tried). The
approve and reply routes post directly and answer at once: 200 posted, 202 when the platform failed in
a way that may pass or did not answer, 502 when the platform refused it.

Retries wait: a call that failed in a way that may pass, or whose answer was lost, and a read-back that
failed, leave the reply pending with `next_attempt_at` after a back-off (`ReplyBackoff`: doubling from
TIDINGS_REPLY_RETRY_BASE_SECONDS, with jitter), and the periodic reply pass (`ReplyPass`, the
reply-retries schedule of comment_intake, every minute) takes it on then, never the stream. Every
pending reply has such a time: while `sending`, the end of its lease (TIDINGS_REPLY_LEASE_SECONDS,
longer than any function that sends replies runs), so a reply whose process died mid-call (a timeout,
a crash) is read back and finished by the pass; a fresh approval, the same lease, should its stream
record be lost. The counts are bounded: MAX_ATTEMPTS platform calls per approval, MAX_CHECKS failed
read-backs in a row; then the reply is `failed` with the reason on the comment, and the user may
approve it again (one failed while its outcome was unknown, `outcome_unknown`, is read back first).
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
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
MAX_CHECKS = 5  # failed read-backs of an unknown outcome in a row before the reply is failed
OUTCOME_UNKNOWN = "outcome_unknown"  # last_error_code of a reply failed while in doubt
# The periodic run of comment_intake that takes on the replies due (infra/topology.py names it too).
REPLY_RETRIES = "reply-retries"
DEFAULT_LEASE = timedelta(seconds=360)
REPLYABLE = frozenset({CommentStatus.NEW, CommentStatus.NEEDS_RESPONSE, CommentStatus.DISMISSED})
_SETTLE_TRIES = 3
_PENDING = (ReplyState.APPROVED, ReplyState.UNKNOWN, ReplyState.SENDING)


@dataclass(frozen=True)
class ReplyBackoff:
    """The wait before a reply is tried again after its `failures`-th failure: `base_seconds`
    doubling, at most `max_seconds`, with "equal jitter" (AWS Architecture Blog, "Exponential Backoff
    And Jitter"): half the wait fixed, half random, so the retries of many replies failed together
    spread out and none comes back at once."""

    base_seconds: float = 60.0
    max_seconds: float = 900.0

    def wait(self, failures: int, rand: float) -> timedelta:
        capped = min(self.base_seconds * 2.0 ** min(max(failures - 1, 0), 20), self.max_seconds)
        return timedelta(seconds=capped / 2 + capped / 2 * min(max(rand, 0.0), 1.0))


def in_doubt(reply: CommentReply) -> bool:
    """Whether the reply may have gone out without Tidings knowing: it is read back before anything
    is sent again."""
    return reply.state in (ReplyState.UNKNOWN, ReplyState.SENDING) or (
        reply.state is ReplyState.FAILED and reply.last_error_code == OUTCOME_UNKNOWN
    )


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
        lease: timedelta = DEFAULT_LEASE,
        backoff: ReplyBackoff | None = None,
        jitter: Callable[[], float] = random.random,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self.comments = comments
        self.settings_repo = settings
        self.repliers = repliers
        self.credentials = credentials
        self.drafter = drafter
        self.stale_after = stale_after
        self.lease = max(lease, stale_after)  # a call is never taken from its attempt while it may run
        self.backoff = backoff or ReplyBackoff()
        self.jitter = jitter
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
        if reply is not None and in_doubt(reply):
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
        approved one never tried, or, once due (`next_attempt_at`), try a failed one again or read
        back one in doubt. Idempotent: reads the comment as it is now; a reply waiting for its
        back-off is left to the periodic pass."""
        comment = self.comments.get(user_id, comment_id)
        if comment is None:
            return None
        reply = comment.reply
        if reply is None:
            if comment.status is not CommentStatus.NEEDS_RESPONSE or comment.platform not in self.repliers:
                return comment
            return self._draft(comment)
        replier = self.repliers.get(comment.platform)
        if replier is None or reply.state not in _PENDING or not self._takes_now(reply):
            return comment
        if reply.state is not ReplyState.APPROVED:
            try:
                comment = self._reconcile(comment, replier)
            except PlatformCallError as exc:
                logger.warning("reply of %s could not be read back yet: %s", comment_id, exc.message)
                return self._check_failed(comment, exc)
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
                        "next_attempt_at": None,
                    }
                ),
            )
        return self._send(self._begin(comment, reply), account, replier)

    def _takes_now(self, reply: CommentReply) -> bool:
        """An approved reply never tried is taken at once; any other pending one when it is due."""
        if reply.state is ReplyState.APPROVED and reply.attempts == 0:
            return True
        return reply.next_attempt_at is None or reply.next_attempt_at <= self.clock.now()

    def _retry_at(self, failures: int) -> datetime:
        return self.clock.now() + self.backoff.wait(failures, self.jitter())

    def _check_failed(self, comment: Comment, exc: PlatformCallError) -> Comment:
        """A read-back that failed: read again after a back-off, or, after MAX_CHECKS in a row, the
        reply is failed in doubt (read back first should the user approve it again)."""
        reply = comment.reply
        assert reply is not None
        checks = reply.checks + 1
        if checks >= MAX_CHECKS:
            message = (
                f"whether the reply was posted could not be read back after {checks} tries: {exc.message}"
            )
            return self._settle(comment, ReplyState.FAILED, error=(OUTCOME_UNKNOWN, message), checks=checks)
        return self._settle(
            comment,
            ReplyState.UNKNOWN,
            error=(exc.code, f"could not be read back yet: {exc.message}"),
            next_at=self._retry_at(checks),
            checks=checks,
        )

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
                    # the stream posts it at once; the periodic pass should its record be lost
                    "next_attempt_at": self.clock.now() + self.lease,
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
                    "next_attempt_at": self.clock.now() + self.lease,  # read back if it never ends
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
                state = ReplyState.UNKNOWN  # read back after the back-off, then sent again if not there
            elif exc.kind.retry_possible:
                state = ReplyState.APPROVED if reply.attempts < MAX_ATTEMPTS else ReplyState.FAILED
            else:
                state = ReplyState.FAILED
            message = exc.message
            if state is ReplyState.FAILED and exc.kind.retry_possible:
                message = f"gave up after {reply.attempts} attempts: {exc.message}"
            next_at = None if state is ReplyState.FAILED else self._retry_at(reply.attempts)
            return self._settle(held, state, error=(exc.code, message), next_at=next_at)
        except Exception as exc:
            self._settle(
                held,
                ReplyState.UNKNOWN,
                error=("unexpected", type(exc).__name__),
                next_at=self._retry_at(reply.attempts),
            )
            raise
        return self._settle(held, ReplyState.POSTED, reply_id=reply_id)

    def _settle(
        self,
        held: Comment,
        state: ReplyState,
        *,
        reply_id: str | None = None,
        error: tuple[str, str] | None = None,
        next_at: datetime | None = None,
        checks: int = 0,
    ) -> Comment:
        """Record how the held attempt (or read-back) ended, if it still holds the reply (another
        change to the comment meanwhile is read again; another attempt holding it wins). A pending
        outcome is taken on again at `next_at` (the lease's end when not given)."""
        attempt = held.reply.attempts if held.reply else 0
        current: Comment | None = held
        for _ in range(_SETTLE_TRIES):
            reply = current.reply if current is not None else None
            if current is None or reply is None or reply.attempts != attempt or not in_doubt(reply):
                logger.warning(
                    "reply of %s was taken by another attempt; outcome %s not recorded",
                    held.comment_id,
                    state,
                )
                return current or held
            pending = state in _PENDING
            update: dict[str, Any] = {
                "state": state,
                "checks": checks,
                "next_attempt_at": (next_at or self.clock.now() + self.lease) if pending else None,
            }
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
        # the platform's replies under the comment by the account (Graph API "Comment" edge
        # /{comment-id}/comments; Instagram "IG Comment" /{ig-comment-id}/replies; YouTube Data API
        # "Comments: list" with parentId; X API v2 recent search on the conversation): see each client
        found = replier.find_reply(account, target_of(comment), reply.text)
        if found is not None:
            return self._settle(comment, ReplyState.POSTED, reply_id=found)
        # known not posted: the caller sends it at once (the lease or back-off was the wait)
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
            comment,
            reply.model_copy(
                update={"state": ReplyState.FAILED, "last_error": message, "next_attempt_at": None}
            ),
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
    """A comment that needs a response and has no reply (to draft), or a reply approved and never
    tried (auto-reply); retries are the periodic pass's, after their back-off."""
    reply = image.get("reply")
    if isinstance(reply, dict):
        return reply.get("state") == str(ReplyState.APPROVED) and not reply.get("attempts")
    return image.get("status") == str(CommentStatus.NEEDS_RESPONSE)


class ReplyStep:
    """StreamConsumer of changed comments: a comment that needs a response and has no reply gets a
    draft (posted at once under auto-reply); a reply approved and never tried is posted."""

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


@dataclass
class ReplyPassReport:
    due: int = 0  # replies the index said were due (at most the pass's limit)
    taken: int = 0  # taken on by this pass
    posted: int = 0
    failed: int = 0  # failed for good (or given up) by this pass
    pending: int = 0  # still pending after it: waiting for their next attempt, or taken by another
    left: int = 0  # due, left for the next pass (the per-user limit, or the pass's time)
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f"replies{k[:1].upper()}{k[1:]}": v for k, v in asdict(self).items()}


class ReplyPass:
    """The periodic reply pass (comment_intake's reply-retries schedule): the replies due in the
    reply index (a retry whose back-off is over, a call or a read-back whose lease ended, a fresh
    approval the stream missed), each taken on through `ReplyService.advance`, the ledger's path: one
    in doubt is read back first and sent only when the platform shows no reply. One pass is bounded:
    at most `limit` replies, `per_user` of one user (the rest wait for the next pass, still due), and
    no reply started after `time_budget`."""

    def __init__(
        self,
        replies: ReplyService,
        *,
        limit: int = 50,
        per_user: int = 5,
        time_budget: timedelta = timedelta(seconds=120),
    ) -> None:
        self.replies = replies
        self.limit = limit
        self.per_user = per_user
        self.time_budget = time_budget

    def run(self) -> dict[str, int]:
        return self.run_due().as_dict()

    def run_due(self) -> ReplyPassReport:
        clock = self.replies.clock
        started = clock.now()
        report = ReplyPassReport()
        due = self.replies.comments.due_replies(started, self.limit)
        report.due = len(due)
        per_user: Counter[str] = Counter()
        for comment in due:
            if per_user[comment.user_id] >= self.per_user or clock.now() - started >= self.time_budget:
                report.left += 1
                continue
            per_user[comment.user_id] += 1
            report.taken += 1
            try:
                after = self.replies.advance(comment.user_id, comment.comment_id)
            except CommentChanged:
                report.pending += 1  # another change came first; its outcome stands
                continue
            except Exception:
                report.errors += 1
                logger.exception("the reply of %s could not be taken on; it stays due", comment.comment_id)
                continue
            reply = after.reply if after is not None else None
            if reply is not None and reply.state is ReplyState.POSTED:
                report.posted += 1
            elif reply is not None and reply.state is ReplyState.FAILED:
                report.failed += 1
            else:
                report.pending += 1
        if report.due:
            logger.info("reply pass: %s", report.as_dict())
        return report
