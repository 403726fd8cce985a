"""The publish step: one attempt at publishing a due post, run by the publish state machine.

Attempt 1 claims the post (scheduled -> publishing on the same version; a stale or cancelled post
ends quietly). Every attempt waits until the due time (never sends early), then publishes to each
platform not yet settled, each through the publish ledger, and records the results. The state
machine loops back after `retryInSeconds` while retryable failures remain and attempts are left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from tidings.clock import Clock, iso_ms, parse_iso
from tidings.config import Settings
from tidings.models.posts import (
    ErrorKind,
    PlatformError,
    PlatformResult,
    PlatformStatus,
    PostStatus,
    ScheduledPost,
)
from tidings.platforms import Platform
from tidings.publishing.base import (
    AccountCredentials,
    PlatformCallError,
    PlatformClient,
    Published,
    PublishRequest,
)
from tidings.publishing.render import render
from tidings.store.ledger import LedgerConflict, LedgerEntry, LedgerState, PublishLedger
from tidings.store.posts import PostRepository, StaleWrite

logger = logging.getLogger(__name__)

# Read-back looks this far before the attempt's start, for clock skew between us and the platform.
_READ_BACK_SKEW = timedelta(seconds=120)


class CredentialSource(Protocol):
    def credentials(self, user_id: str, platform: Platform) -> AccountCredentials | None: ...


@dataclass(frozen=True)
class Outcome:
    """One platform's result in this attempt."""

    status: PlatformStatus
    published: Published | None = None
    error: PlatformError | None = None
    retry_after: float | None = None
    published_at: datetime | None = None


class PublishStep:
    def __init__(
        self,
        settings: Settings,
        posts: PostRepository,
        ledger: PublishLedger,
        accounts: CredentialSource,
        clients: Callable[[Platform], PlatformClient],
        clock: Clock,
        pool: ThreadPoolExecutor | None = None,
    ) -> None:
        self.settings = settings
        self.posts = posts
        self.ledger = ledger
        self.accounts = accounts
        self.clients = clients
        self.clock = clock
        self.pool = pool

    # -- the state machine's entry points -----------------------------------------------------------

    def run(self, event: dict[str, Any]) -> dict[str, Any]:
        user_id, post_id = str(event["userId"]), str(event["postId"])
        version, attempt = int(event["version"]), int(event.get("attempt", 1))
        execution_id = str(event["executionId"])
        due_at = parse_iso(str(event["dueAt"]))
        base: dict[str, Any] = {
            k: event[k] for k in ("userId", "postId", "version", "dueAt", "wakeAt") if k in event
        }

        post = self._claimed_post(user_id, post_id, version, execution_id)
        if post is None:
            logger.info("post %s v%s is no longer due here; nothing to do", post_id, version)
            return {**base, "attempt": attempt, "status": "skipped"}

        self.clock.sleep_until(due_at)
        pending = [
            p
            for p in post.platforms
            if post.result_for(p).status in (PlatformStatus.PENDING, PlatformStatus.RETRYING)
        ]
        outcomes = self._publish_all(post, pending, attempt)
        post, retry_in = self._record(post, outcomes, attempt)
        try:
            self.posts.save_claimed(post, execution_id)
        except StaleWrite:
            logger.warning("post %s lost its claim while publishing; results kept in the ledger", post_id)
            return {**base, "attempt": attempt, "status": "skipped"}
        if retry_in is not None:
            return {**base, "attempt": attempt + 1, "status": "retry", "retryInSeconds": retry_in}
        return {**base, "attempt": attempt, "status": "done", "postStatus": str(post.status)}

    def record_crash(self, event: dict[str, Any]) -> dict[str, Any]:
        """The publish task raised: end the post as failed with the error, never leave it hanging."""
        user_id, post_id = str(event["userId"]), str(event["postId"])
        version, execution_id = int(event["version"]), str(event["executionId"])
        error = event.get("error") or {}
        reason = f"publish step crashed: {error.get('Error', 'error')}: {str(error.get('Cause', ''))[:500]}"
        post = self._claimed_post(user_id, post_id, version, execution_id)
        if post is None:
            return {"status": "skipped"}
        now = self.clock.now()
        post = post.model_copy(
            update={
                "status": PostStatus.FAILED,
                "final_reason": reason,
                "completed_at": now,
                "updated_at": now,
            }
        )
        try:
            self.posts.save_claimed(post, execution_id)
        except StaleWrite:
            return {"status": "skipped"}
        return {"status": "failed", "reason": reason}

    # -- claim --------------------------------------------------------------------------------------

    def _claimed_post(
        self, user_id: str, post_id: str, version: int, execution_id: str
    ) -> ScheduledPost | None:
        if not self.posts.claim(user_id, post_id, version, execution_id, self.clock.now()):
            return None
        post = self.posts.get(user_id, post_id)
        if post is None or post.claimed_by != execution_id or post.version != version:
            return None
        return post

    # -- publishing -----------------------------------------------------------------------------------

    def _publish_all(
        self, post: ScheduledPost, platforms: list[Platform], attempt: int
    ) -> dict[Platform, Outcome]:
        if len(platforms) <= 1 or self.pool is None:
            return {p: self._publish_one(post, p, attempt) for p in platforms}
        futures = {p: self.pool.submit(self._publish_one, post, p, attempt) for p in platforms}
        return {p: f.result() for p, f in futures.items()}

    def _publish_one(self, post: ScheduledPost, platform: Platform, attempt: int) -> Outcome:
        try:
            return self._publish_through_ledger(post, platform, attempt)
        except Exception as exc:  # a bug or an AWS error: keep the ledger as is, try again later
            logger.exception("publishing post %s to %s failed unexpectedly", post.post_id, platform)
            return Outcome(
                status=PlatformStatus.RETRYING,
                error=PlatformError(
                    kind=ErrorKind.RETRYABLE, code="internal_error", message=type(exc).__name__
                ),
            )

    def _may_send(self, attempt: int) -> bool:
        """Attempts 1..len(intervals)+1 may send; one more attempt only reconciles unknown outcomes."""
        return attempt <= len(self.settings.retry_intervals) + 1

    def _publish_through_ledger(self, post: ScheduledPost, platform: Platform, attempt: int) -> Outcome:
        user_id, post_id = post.user_id, post.post_id
        entry = self.ledger.get(user_id, post_id, str(platform))
        if entry is not None and entry.state == LedgerState.PUBLISHED:
            return _published(entry)
        if entry is not None and entry.state == LedgerState.FAILED:
            prior = post.result_for(platform).last_error
            return Outcome(status=PlatformStatus.FAILED, error=prior)

        account = self.accounts.credentials(user_id, platform)
        if account is None:
            return Outcome(
                status=PlatformStatus.FAILED,
                error=PlatformError(
                    kind=ErrorKind.PERMANENT,
                    code="account_not_connected",
                    message=f"no {platform} account is connected for this user; nothing was sent",
                ),
            )
        client = self.clients(platform)
        request = render(post, platform)

        if entry is not None and entry.state in (LedgerState.IN_FLIGHT, LedgerState.UNKNOWN):
            # An earlier call's outcome is unknown: read back before anything is sent again.
            stale_after = timedelta(seconds=3 * self.settings.http_timeout_seconds)
            if entry.state == LedgerState.IN_FLIGHT and self.clock.now() - entry.started_at < stale_after:
                return Outcome(
                    status=PlatformStatus.RETRYING,
                    error=PlatformError(
                        kind=ErrorKind.UNKNOWN_OUTCOME,
                        code="call_in_progress",
                        message="an earlier call may still be running",
                    ),
                )
            try:
                found = client.find_published(account, request, since=entry.started_at - _READ_BACK_SKEW)
            except PlatformCallError as exc:
                return Outcome(
                    status=PlatformStatus.RETRYING,
                    error=PlatformError(
                        kind=ErrorKind.UNKNOWN_OUTCOME, code="read_back_failed", message=exc.message
                    ),
                    retry_after=exc.retry_after,
                )
            if found is not None:
                now = self.clock.now()
                self.ledger.settle(
                    user_id,
                    post_id,
                    str(platform),
                    entry.attempt,
                    LedgerState.PUBLISHED,
                    platform_post_id=found.platform_post_id,
                    url=found.url,
                )
                return Outcome(
                    status=PlatformStatus.PUBLISHED, published=found, published_at=found.published_at or now
                )
            if not self._may_send(attempt):
                message = f"gave up after {attempt - 1} attempts: the last call's outcome was unknown and "
                message += "reading back found no post"
                self.ledger.settle(
                    user_id, post_id, str(platform), entry.attempt, LedgerState.FAILED, error=message
                )
                return Outcome(
                    status=PlatformStatus.FAILED,
                    error=PlatformError(kind=ErrorKind.UNKNOWN_OUTCOME, code="gave_up", message=message),
                )
            self.ledger.settle(
                user_id,
                post_id,
                str(platform),
                entry.attempt,
                LedgerState.RETRY,
                error="not found on read-back",
            )
            entry = LedgerEntry(state=LedgerState.RETRY, attempt=entry.attempt, started_at=entry.started_at)

        if not self._may_send(attempt):
            # a reconcile-only attempt: platforms known not to have the post are given up, not sent
            last = post.result_for(platform).last_error
            return Outcome(
                status=PlatformStatus.FAILED,
                error=PlatformError(
                    kind=last.kind if last else ErrorKind.RETRYABLE,
                    code=last.code if last else "gave_up",
                    message=f"gave up after {attempt - 1} attempts: {last.message if last else 'no answer'}",
                ),
            )

        try:
            self.ledger.begin(user_id, post_id, str(platform), attempt, self.clock.now(), previous=entry)
        except LedgerConflict:
            return Outcome(
                status=PlatformStatus.RETRYING,
                error=PlatformError(
                    kind=ErrorKind.UNKNOWN_OUTCOME,
                    code="ledger_conflict",
                    message="another attempt holds this publish",
                ),
            )
        return self._call(client, account, request, post, platform, attempt)

    def _call(
        self,
        client: PlatformClient,
        account: AccountCredentials,
        request: PublishRequest,
        post: ScheduledPost,
        platform: Platform,
        attempt: int,
    ) -> Outcome:
        user_id, post_id, name = post.user_id, post.post_id, str(platform)
        try:
            published = client.publish(account, request)
        except PlatformCallError as exc:
            error = PlatformError(kind=exc.kind, code=exc.code, message=exc.message)
            if exc.kind == ErrorKind.UNKNOWN_OUTCOME:
                self.ledger.settle(user_id, post_id, name, attempt, LedgerState.UNKNOWN, error=exc.message)
                return Outcome(status=PlatformStatus.RETRYING, error=error, retry_after=exc.retry_after)
            if exc.kind.retry_possible:
                self.ledger.settle(user_id, post_id, name, attempt, LedgerState.RETRY, error=exc.message)
                return Outcome(status=PlatformStatus.RETRYING, error=error, retry_after=exc.retry_after)
            self.ledger.settle(user_id, post_id, name, attempt, LedgerState.FAILED, error=exc.message)
            return Outcome(status=PlatformStatus.FAILED, error=error)
        except Exception as exc:
            # Anything else after the call began: we cannot know whether it went out.
            self.ledger.settle(user_id, post_id, name, attempt, LedgerState.UNKNOWN, error=type(exc).__name__)
            raise
        sent_at = self.clock.now()
        self.ledger.settle(
            user_id,
            post_id,
            name,
            attempt,
            LedgerState.PUBLISHED,
            platform_post_id=published.platform_post_id,
            url=published.url,
        )
        return Outcome(status=PlatformStatus.PUBLISHED, published=published, published_at=sent_at)

    # -- results ------------------------------------------------------------------------------------

    def _record(
        self, post: ScheduledPost, outcomes: dict[Platform, Outcome], attempt: int
    ) -> tuple[ScheduledPost, int | None]:
        results = dict(post.results)
        for platform, outcome in outcomes.items():
            before = post.result_for(platform)
            results[platform] = PlatformResult(
                platform=platform,
                status=outcome.status,
                platform_post_id=outcome.published.platform_post_id
                if outcome.published
                else before.platform_post_id,
                url=outcome.published.url if outcome.published else before.url,
                attempts=before.attempts + 1,
                last_error=outcome.error if outcome.status != PlatformStatus.PUBLISHED else before.last_error,
                published_at=outcome.published_at if outcome.status == PlatformStatus.PUBLISHED else None,
            )
        now = self.clock.now()
        retrying = [p for p in post.platforms if results[p].status == PlatformStatus.RETRYING]
        intervals = self.settings.retry_intervals
        unknown = [
            p for p in retrying if (e := results[p].last_error) and e.kind == ErrorKind.UNKNOWN_OUTCOME
        ]
        # After the last sending attempt, one more attempt reads back what is still unknown.
        if retrying and (attempt <= len(intervals) or (unknown and self._may_send(attempt))):
            wait = float(intervals[min(attempt, len(intervals)) - 1]) if intervals else 0.0
            hinted = [o.retry_after for p, o in outcomes.items() if p in retrying and o.retry_after]
            if hinted:
                wait = max(wait, max(hinted))
            retry_in = round(wait)
            updated = post.model_copy(
                update={
                    "results": results,
                    "attempt": attempt,
                    "updated_at": now,
                    "next_attempt_at": now + timedelta(seconds=retry_in),
                }
            )
            return updated, retry_in
        for p in retrying:  # out of attempts: what is still retrying has failed
            last = results[p].last_error
            results[p] = results[p].model_copy(
                update={
                    "status": PlatformStatus.FAILED,
                    "last_error": PlatformError(
                        kind=last.kind if last else ErrorKind.RETRYABLE,
                        code=last.code if last else "gave_up",
                        message=f"gave up after {attempt} attempts: {last.message if last else 'no answer'}",
                    ),
                }
            )
        published = [p for p in post.platforms if results[p].status == PlatformStatus.PUBLISHED]
        failed = [p for p in post.platforms if results[p].status == PlatformStatus.FAILED]
        if not failed:
            status, reason = PostStatus.PUBLISHED, None
        else:
            status = PostStatus.PARTIALLY_PUBLISHED if published else PostStatus.FAILED
            reason = "; ".join(
                f"{p}: {results[p].last_error.code}: {results[p].last_error.message}"  # type: ignore[union-attr]
                for p in failed
            )
        updated = post.model_copy(
            update={
                "results": results,
                "attempt": attempt,
                "status": status,
                "final_reason": reason,
                "next_attempt_at": None,
                "completed_at": now,
                "updated_at": now,
            }
        )
        return updated, None


def _published(entry: LedgerEntry) -> Outcome:
    return Outcome(
        status=PlatformStatus.PUBLISHED,
        published=Published(platform_post_id=entry.platform_post_id or "", url=entry.url),
        published_at=entry.started_at,
    )


__all__ = ["Outcome", "PublishStep", "iso_ms"]
