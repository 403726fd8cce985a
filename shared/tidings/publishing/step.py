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
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tidings.core.clock import Clock, iso_ms
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.http import observing, parse_retry_after
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.models.calls import CallRecord
from tidings.models.posts import PlatformError, PlatformResult, PlatformStatus, PostStatus, ScheduledPost
from tidings.publishing.base import PlatformClient, Published, PublishRequest
from tidings.publishing.render import render
from tidings.publishing.task_events import PublishAttempt, PublishCrash
from tidings.store.budgets import BudgetRepository, block_from_headers
from tidings.store.crises import QueueHoldReader
from tidings.store.ledger import LedgerConflict, LedgerEntry, LedgerRepository, LedgerState
from tidings.store.posts import PostRepository, StaleWrite

if TYPE_CHECKING:
    import httpx

    from tidings.store.metrics import MetricsRepository

logger = logging.getLogger(__name__)

# Read-back looks this far before the attempt's start, for clock skew between us and the platform.
_READ_BACK_SKEW = timedelta(seconds=120)


class CredentialSource(Protocol):
    def credentials(self, user_id: str, platform: Platform) -> AccountCredentials | None: ...


_T = TypeVar("_T")


@dataclass(frozen=True)
class _Ready:
    """A platform call prepared before the due time: only the call itself is left."""

    client: PlatformClient
    account: AccountCredentials
    request: PublishRequest
    post: ScheduledPost
    platform: Platform
    attempt: int


@dataclass(frozen=True)
class Outcome:
    """One platform's result in this attempt."""

    status: PlatformStatus
    published: Published | None = None
    error: PlatformError | None = None
    retry_after: float | None = None
    published_at: datetime | None = None
    # Held back before anything was sent (a rate-limit budget, an earlier call whose outcome cannot be
    # read back yet): not an attempt.
    deferred: bool = False


class PublishStep:
    def __init__(
        self,
        settings: Settings,
        posts: PostRepository,
        ledger: LedgerRepository,
        accounts: CredentialSource,
        clients: Callable[[Platform], PlatformClient],
        clock: Clock,
        pool: ThreadPoolExecutor | None = None,
        budgets: BudgetRepository | None = None,
        metrics: MetricsRepository | None = None,
        utm_tagging: Callable[[str], bool] | None = None,
        holds: QueueHoldReader | None = None,
    ) -> None:
        self.budgets = budgets
        # the user's queue hold (tidings.store.crises): a crisis may hold scheduled posts
        self.holds = holds
        # each platform call's status and latency, for the health of the account's integration
        self.metrics = metrics
        # whether a user turned UTM tagging of post links on (tidings.publishing.utm); off without it
        self.utm_tagging = utm_tagging
        self.settings = settings
        self.posts = posts
        self.ledger = ledger
        self.accounts = accounts
        self.clients = clients
        self.clock = clock
        self.pool = pool

    # -- the state machine's entry points -----------------------------------------------------------

    def handle(self, task: PublishAttempt | PublishCrash) -> dict[str, Any]:
        """The publish task's one entry point: an attempt, or the record of a crashed one."""
        if isinstance(task, PublishCrash):
            return self.record_crash(task)
        return self.run(task)

    def run(self, task: PublishAttempt) -> dict[str, Any]:
        user_id, post_id, version, attempt = task.user_id, task.post_id, task.version, task.attempt
        execution_id, due_at = task.execution_id, task.due
        base = task.echo()

        if attempt == 1 and self._held(user_id, post_id, version):
            logger.warning("post %s v%s held by a crisis: kept scheduled until resumed", post_id, version)
            return {**base, "attempt": attempt, "status": "skipped", "heldByCrisis": True}
        post = self._claimed_post(user_id, post_id, version, execution_id)
        if post is None:
            logger.info("post %s v%s is no longer due here; nothing to do", post_id, version)
            return {**base, "attempt": attempt, "status": "skipped"}

        pending = [
            p
            for p in post.platforms
            if post.result_for(p).status in (PlatformStatus.PENDING, PlatformStatus.RETRYING)
        ]
        # Everything but the platform call happens before the due time (budgets, credentials, the
        # ledger, read-backs), so the call itself goes out a few milliseconds after it.
        held = self._reserve_budgets(post, pending, due_at)
        utm = self._tags_links(post)
        prepared = self._for_each(
            post, [p for p in pending if p not in held], lambda p, platform: self._prepare(p, platform, utm)
        )
        self.clock.sleep_until(due_at)
        ready = {p: r for p, r in prepared.items() if isinstance(r, _Ready)}
        outcomes: dict[Platform, Outcome] = {p: r for p, r in prepared.items() if isinstance(r, Outcome)}
        outcomes.update(self._for_each(post, list(ready), lambda _, platform: self._send(ready[platform])))
        outcomes.update(held)
        post, retry_in = self._record(post, outcomes, attempt)
        try:
            self.posts.save_claimed(post, execution_id)
        except StaleWrite:
            logger.warning("post %s lost its claim while publishing; results kept in the ledger", post_id)
            return {**base, "attempt": attempt, "status": "skipped"}
        if retry_in is not None:
            return {**base, "attempt": attempt + 1, "status": "retry", "retryInSeconds": retry_in}
        return {**base, "attempt": attempt, "status": "done", "postStatus": str(post.status)}

    def record_crash(self, task: PublishCrash) -> dict[str, Any]:
        """The publish task raised: end the post as failed with the error, never leave it hanging."""
        user_id, post_id, version, execution_id = task.user_id, task.post_id, task.version, task.execution_id
        error = task.error
        reason = f"publish step crashed: {error.get('Error', 'error')}: {str(error.get('Cause', ''))[:500]}"
        post = self._claimed_post(user_id, post_id, version, execution_id)
        if post is None:
            return {"status": "skipped"}
        now = self.clock.now()
        post = post.model_copy(
            update={
                "status": PostStatus.FAILED,
                "final_reason": reason,
                "attempt_started_at": None,
                "completed_at": now,
                "updated_at": now,
            }
        )
        try:
            self.posts.save_claimed(post, execution_id)
        except StaleWrite:
            return {"status": "skipped"}
        return {"status": "failed", "reason": reason}

    def _reserve_budgets(
        self, post: ScheduledPost, platforms: list[Platform], due_at: datetime
    ) -> dict[Platform, Outcome]:
        """Take a send from each platform's rate-limit budget, in the window of the moment it will be
        sent, before waiting for that moment; the platforms whose budget is used up (or that a platform
        told us to hold) wait for it: deferred, not sent."""
        if self.budgets is None:
            return {}
        held: dict[Platform, Outcome] = {}
        now = max(self.clock.now(), due_at)
        for platform in platforms:
            try:
                reservation = self.budgets.reserve(post.user_id, str(platform), now)
            except Exception:  # the budget store is unavailable: send, as without budgets
                logger.exception("rate-limit budget check failed for %s", platform)
                continue
            if reservation.granted:
                continue
            available_at = reservation.available_at or now + timedelta(minutes=1)
            held[platform] = Outcome(
                status=PlatformStatus.RETRYING,
                deferred=True,
                retry_after=max(1.0, (available_at - now).total_seconds()),
                error=PlatformError(
                    kind=ErrorKind.RATE_LIMITED,
                    code="budget_delayed",
                    message=f"{reservation.reason}; delayed until {iso_ms(available_at)}, nothing was sent",
                ),
            )
        return held

    def _observe(self, user_id: str, platform: Platform, response: httpx.Response) -> None:
        """Let the platform's rate-limit answers correct the budget for every later send."""
        if self.budgets is None:
            return
        now = self.clock.now()
        block = block_from_headers(str(platform), response.headers, now)
        if block is None and response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"), now) or 60.0
            block = (now + timedelta(seconds=retry_after), f"{platform} answered 429 Too Many Requests")
        if block is not None:
            self._hold(user_id, platform, (block[0] - now).total_seconds(), block[1])

    def _measure(self, user_id: str, platform: Platform, calls: list[CallRecord]) -> None:
        """Count the platform's answers for the account's integration (`social-<platform>`); a failure
        here never touches publishing."""
        if self.metrics is None or not calls:
            return
        try:
            self.metrics.record(user_id, f"social-{platform}", calls, self.clock.now())
        except Exception:
            logger.exception("could not record %s call metrics", platform)

    def _hold(self, user_id: str, platform: Platform, seconds: float, reason: str) -> None:
        """Every later send of the account on `platform` waits `seconds` (a platform said so: a 429,
        a usage header, Instagram's publishing limit, YouTube's daily quota, TikTok's post cap)."""
        if self.budgets is None or seconds <= 0:
            return
        now = self.clock.now()
        try:
            self.budgets.block(user_id, str(platform), now + timedelta(seconds=seconds), reason, now)
        except Exception:
            logger.exception("could not record the %s rate-limit hold", platform)

    def _account(self, user_id: str, platform: Platform) -> AccountCredentials | Outcome:
        """The account's credentials, or the outcome that stops this platform before anything is sent."""
        try:
            account = self.accounts.credentials(user_id, platform)
        except PlatformCallError as exc:  # the token expired, or renewing it failed
            error = PlatformError(kind=exc.kind, code=exc.code, message=exc.message)
            if exc.kind.retry_possible:
                return Outcome(status=PlatformStatus.RETRYING, error=error, retry_after=exc.retry_after)
            return Outcome(status=PlatformStatus.FAILED, error=error)
        if account is None:
            return Outcome(
                status=PlatformStatus.FAILED,
                error=PlatformError(
                    kind=ErrorKind.PERMANENT,
                    code="account_not_connected",
                    message=f"no {platform} account is connected for this user; nothing was sent",
                ),
            )
        return account

    # -- claim --------------------------------------------------------------------------------------

    def _held(self, user_id: str, post_id: str, version: int) -> bool:
        """Whether a crisis holds the user's queue (one GetItem): the post, still scheduled at `version`,
        is then marked held_by_crisis with its time kept instead of being claimed. A hold that cannot be
        read lets the post go out, as without crisis detection."""
        if self.holds is None:
            return False
        try:
            hold = self.holds.get(user_id)
            if hold is None or not hold.active:
                return False
            return self.holds.hold_post(user_id, post_id, version, hold.crisis_id, self.clock.now())
        except Exception:
            logger.exception("could not read or apply the queue hold of %s; publishing", user_id)
            return False

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

    def _for_each(
        self,
        post: ScheduledPost,
        platforms: list[Platform],
        step: Callable[[ScheduledPost, Platform], _T],
    ) -> dict[Platform, _T | Outcome]:
        """`step` for each platform, side by side when there are several; a platform whose step
        raises (a bug, an AWS error) is retried later, with the ledger as it is."""

        def guarded(platform: Platform) -> _T | Outcome:
            calls: list[CallRecord] = []

            def watch(response: httpx.Response) -> None:
                self._observe(post.user_id, platform, response)
                calls.append(_call_record(platform, response))

            try:
                with observing(watch):
                    return step(post, platform)
            except Exception as exc:
                logger.exception("publishing post %s to %s failed unexpectedly", post.post_id, platform)
                return Outcome(
                    status=PlatformStatus.RETRYING,
                    error=PlatformError(
                        kind=ErrorKind.RETRYABLE, code="internal_error", message=type(exc).__name__
                    ),
                )
            finally:
                self._measure(post.user_id, platform, calls)

        if len(platforms) <= 1 or self.pool is None:
            return {p: guarded(p) for p in platforms}
        futures = {p: self.pool.submit(guarded, p) for p in platforms}
        return {p: f.result() for p, f in futures.items()}

    def _may_send(self, attempt: int) -> bool:
        """Attempts 1..len(intervals)+1 may send; one more attempt only reconciles unknown outcomes."""
        return attempt <= len(self.settings.retry_intervals) + 1

    def _tags_links(self, post: ScheduledPost) -> bool:
        """Whether the post's link goes out with UTM tags; an unreadable setting sends it untagged."""
        if self.utm_tagging is None or not post.link:
            return False
        try:
            return self.utm_tagging(post.user_id)
        except Exception:
            logger.exception("could not read whether %s tags links; sending the link untagged", post.user_id)
            return False

    def _prepare(self, post: ScheduledPost, platform: Platform, utm: bool = False) -> _Ready | Outcome:
        """Everything before the platform call: the ledger (what earlier attempts did), the account,
        a read-back of an unknown outcome, and the ledger entry that marks this attempt in flight.
        Each platform counts its own attempts: one held back by a budget has not used one."""
        attempt = post.result_for(platform).attempts + 1
        user_id, post_id = post.user_id, post.post_id
        entry = self.ledger.get(user_id, post_id, str(platform))
        if entry is not None and entry.state == LedgerState.PUBLISHED:
            return _published(entry)
        if entry is not None and entry.state == LedgerState.FAILED:
            prior = post.result_for(platform).last_error
            return Outcome(status=PlatformStatus.FAILED, error=prior)

        account = self._account(user_id, platform)
        if isinstance(account, Outcome):
            return account
        client = self.clients(platform)
        request = render(post, platform, utm=utm)

        if entry is not None and entry.state in (LedgerState.IN_FLIGHT, LedgerState.UNKNOWN):
            # An earlier call's outcome is unknown: read back before anything is sent again.
            stale_after = timedelta(seconds=3 * self.settings.http_timeout_seconds)
            age = self.clock.now() - entry.started_at
            if entry.state == LedgerState.IN_FLIGHT and age < stale_after:
                # Nothing is sent: held back, not an attempt, until a read-back can tell.
                return Outcome(
                    status=PlatformStatus.RETRYING,
                    deferred=True,
                    retry_after=max(1.0, (stale_after - age).total_seconds()),
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
        return _Ready(client, account, request, post, platform, attempt)

    def _send(self, ready: _Ready) -> Outcome:
        client, account, request, post = ready.client, ready.account, ready.request, ready.post
        platform, attempt = ready.platform, ready.attempt
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
                if exc.kind == ErrorKind.RATE_LIMITED and exc.retry_after:
                    self._hold(user_id, platform, exc.retry_after, exc.message)
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
                attempts=before.attempts + (0 if outcome.deferred else 1),
                last_error=outcome.error if outcome.status != PlatformStatus.PUBLISHED else before.last_error,
                published_at=outcome.published_at if outcome.status == PlatformStatus.PUBLISHED else None,
            )
        now = self.clock.now()
        retrying = [p for p in post.platforms if results[p].status == PlatformStatus.RETRYING]
        deferred = [p for p in retrying if p in outcomes and outcomes[p].deferred]
        for p in retrying:
            if p not in deferred and not self._another_attempt(results[p]):
                results[p] = _gave_up(results[p])
        retrying = [p for p in retrying if results[p].status == PlatformStatus.RETRYING]
        if retrying:
            retry_in = round(self._wait_before_next(retrying, results, outcomes))
            updated = post.model_copy(
                update={
                    "results": results,
                    "attempt": attempt,
                    "updated_at": now,
                    "next_attempt_at": now + timedelta(seconds=retry_in),
                    "attempt_started_at": None,  # between attempts now
                }
            )
            return updated, retry_in
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
                "attempt_started_at": None,
                "completed_at": now,
                "updated_at": now,
            }
        )
        return updated, None

    def _another_attempt(self, result: PlatformResult) -> bool:
        """After the last sending attempt, one more attempt only reads back an unknown outcome."""
        intervals = self.settings.retry_intervals
        unknown = result.last_error is not None and result.last_error.kind == ErrorKind.UNKNOWN_OUTCOME
        return result.attempts <= len(intervals) or (unknown and self._may_send(result.attempts))

    def _wait_before_next(
        self,
        retrying: list[Platform],
        results: dict[Platform, PlatformResult],
        outcomes: dict[Platform, Outcome],
    ) -> float:
        """The back-off of the platform furthest along, or longer when a platform or a budget said so;
        a run where every platform was only held back by a budget waits just for the budget."""
        intervals = self.settings.retry_intervals
        attempted = [p for p in retrying if not (p in outcomes and outcomes[p].deferred)]
        wait = 0.0
        if attempted and intervals:
            furthest = max(results[p].attempts for p in attempted)
            wait = float(intervals[min(max(furthest, 1), len(intervals)) - 1])
        hinted = [o.retry_after for p, o in outcomes.items() if p in retrying and o.retry_after]
        return max([wait, *hinted])


def _gave_up(result: PlatformResult) -> PlatformResult:
    last = result.last_error
    return result.model_copy(
        update={
            "status": PlatformStatus.FAILED,
            "last_error": PlatformError(
                kind=last.kind if last else ErrorKind.RETRYABLE,
                code=last.code if last else "gave_up",
                message=f"gave up after {result.attempts} attempts: {last.message if last else 'no answer'}",
            ),
        }
    )


def _published(entry: LedgerEntry) -> Outcome:
    return Outcome(
        status=PlatformStatus.PUBLISHED,
        published=Published(platform_post_id=entry.platform_post_id or "", url=entry.url),
        published_at=entry.started_at,
    )


__all__ = ["Outcome", "PublishStep", "iso_ms"]


def _call_record(platform: Platform, response: httpx.Response) -> CallRecord:
    try:
        latency = response.elapsed.total_seconds() * 1000
    except RuntimeError:  # a streamed answer not read to the end has no elapsed time
        latency = 0.0
    status = response.status_code
    return CallRecord(f"{platform}.{response.request.method.lower()}", status, latency, status < 400)
