"""The publish step as the state machine drives it (`PublishStep.handle(parse_publish_task(event))`), on
the in-memory repositories with fake platforms and a fake clock: what goes out, when, how often, and
what the post says afterwards."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tidings.core.clock import FakeClock, iso_ms
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.models.posts import PlatformError, PlatformStatus, PostStatus, ScheduledPost
from tidings.publishing.base import Published, PublishRequest
from tidings.publishing.step import PublishStep
from tidings.publishing.task_events import parse_publish_task
from tidings.store.budgets import Limit
from tidings.store.memory.accounts import InMemoryAccountRepository
from tidings.store.memory.budgets import InMemoryBudgetRepository
from tidings.store.memory.ledger import InMemoryLedgerRepository
from tidings.store.memory.posts import InMemoryPostRepository

DUE = datetime(2026, 9, 14, 17, 30, 0, 400_000, tzinfo=UTC)
WAITS = [300, 900, 2700]
FB, X, LI = Platform.FACEBOOK, Platform.TWITTER, Platform.LINKEDIN
ACCOUNT_IDS = {FB: "104729384756", X: "44196397", LI: "urn:li:person:8675309"}


@dataclass(frozen=True)
class Fail:
    """The platform's answer to one call: an error, after which the post may or may not be live."""

    kind: ErrorKind
    code: str
    went_out: bool = False
    retry_after: float | None = None


@dataclass
class FakePlatform:
    """A platform that answers each call with the next scripted Fail (or accepts it) and keeps what
    went live, so a test sees what its followers would."""

    platform: Platform
    clock: FakeClock
    script: list[Fail] = field(default_factory=list)
    live: list[tuple[datetime, str]] = field(default_factory=list)
    calls: list[datetime] = field(default_factory=list)
    read_backs: int = 0

    def publish(self, account: AccountCredentials, request: PublishRequest) -> Published:
        assert account.account_id == ACCOUNT_IDS[self.platform]
        now = self.clock.now()
        self.calls.append(now)
        answer = self.script.pop(0) if self.script else None
        if answer is None or answer.went_out:
            self.live.append((now, request.text))
        if answer is not None:
            raise PlatformCallError(
                answer.kind,
                answer.code,
                f"{self.platform} said {answer.code}",
                retry_after=answer.retry_after,
            )
        return self._published(len(self.live) - 1)

    def find_published(
        self, account: AccountCredentials, request: PublishRequest, since: datetime
    ) -> Published | None:
        self.read_backs += 1
        found = [i for i, (at, text) in enumerate(self.live) if text == request.text and at >= since]
        return self._published(found[0]) if found else None

    def _published(self, index: int) -> Published:
        return Published(f"{self.platform}-{index}", f"https://{self.platform}.example/{index}")


@dataclass
class Publishing:
    step: PublishStep
    posts: InMemoryPostRepository
    budgets: InMemoryBudgetRepository
    platforms: dict[Platform, FakePlatform]
    clock: FakeClock
    user: str = "agent-7"

    def schedule(self, *platforms: Platform, user: str | None = None, **fields: Any) -> ScheduledPost:
        post = ScheduledPost(
            user_id=user or self.user,
            post_id=uuid.uuid4().hex,
            content=f"Just listed: 3 bed craftsman, {uuid.uuid4().hex[:4]}",
            platforms=list(platforms),
            scheduled_time=DUE,
            created_at=DUE - timedelta(days=1),
            updated_at=DUE - timedelta(days=1),
            **fields,
        )
        self.posts.put_new(post)
        return post

    def attempt(
        self, post: ScheduledPost, attempt: int = 1, *, version: int = 1, execution: str = "exec-1"
    ) -> dict[str, Any]:
        event = {
            "userId": post.user_id,
            "postId": post.post_id,
            "version": version,
            "dueAt": iso_ms(post.scheduled_time),
            "wakeAt": iso_ms(post.scheduled_time - timedelta(seconds=2)),
            "attempt": attempt,
            "executionId": execution,
        }
        return self.step.handle(parse_publish_task(event))

    def until_done(self, post: ScheduledPost) -> list[int]:
        """Run attempts as the state machine would, waiting as told; the waits."""
        waits: list[int] = []
        out = self.attempt(post)
        while out["status"] == "retry":
            waits.append(out["retryInSeconds"])
            self.clock.advance(timedelta(seconds=out["retryInSeconds"]))
            out = self.attempt(post, out["attempt"])
        return waits

    def stored(self, post: ScheduledPost) -> ScheduledPost:
        found = self.posts.get(post.user_id, post.post_id)
        assert found is not None
        return found


@pytest.fixture
def publishing() -> Publishing:
    clock = FakeClock(DUE - timedelta(seconds=2))
    accounts = InMemoryAccountRepository(clock=clock)
    for user in ("agent-7", "agent-8"):
        for platform, account_id in ACCOUNT_IDS.items():
            accounts.connect(user, str(platform), account_id, f"token-{platform}-0123456789")
    platforms = {p: FakePlatform(p, clock) for p in (FB, X, LI)}
    posts = InMemoryPostRepository()
    budgets = InMemoryBudgetRepository({"twitter": (Limit(1, 86_400),)})
    step = PublishStep(
        Settings(retry_intervals=WAITS, http_timeout_seconds=10),
        posts,
        InMemoryLedgerRepository(),
        accounts,
        lambda platform: platforms[platform],
        clock,
        budgets=budgets,
    )
    return Publishing(step, posts, budgets, platforms, clock)


def test_a_due_post_goes_out_once_on_each_platform_at_its_time(publishing: Publishing) -> None:
    post = publishing.schedule(FB, LI)

    out = publishing.attempt(post)

    assert (out["status"], out["postStatus"]) == ("done", "published")
    assert out["dueAt"] == iso_ms(DUE)  # the machine's own fields come back as they were
    for platform in (FB, LI):
        assert publishing.platforms[platform].live == [(DUE, post.content)]
    stored = publishing.stored(post)
    assert stored.status == PostStatus.PUBLISHED
    assert stored.result_for(LI).platform_post_id == "linkedin-0"
    assert stored.result_for(LI).url == "https://linkedin.example/0"
    assert stored.result_for(LI).published_at == DUE


def test_a_post_changed_or_cancelled_since_its_schedule_was_made_is_skipped(publishing: Publishing) -> None:
    moved = publishing.schedule(FB)
    cancelled = publishing.schedule(FB)
    publishing.posts.cancel(cancelled.user_id, cancelled.post_id, DUE - timedelta(minutes=1))

    assert publishing.attempt(moved, version=2)["status"] == "skipped"
    assert publishing.attempt(cancelled)["status"] == "skipped"
    assert publishing.attempt(cancelled, version=2)["status"] == "skipped"

    assert publishing.platforms[FB].calls == []
    assert publishing.stored(moved).status == PostStatus.SCHEDULED
    assert publishing.stored(cancelled).status == PostStatus.CANCELLED


def test_a_second_execution_or_a_repeated_task_does_not_post_again(publishing: Publishing) -> None:
    post = publishing.schedule(X)
    publishing.attempt(post)

    assert publishing.attempt(post, execution="exec-2")["status"] == "skipped"
    publishing.attempt(post)  # Step Functions ran the same task again
    assert len(publishing.platforms[X].live) == 1


def test_one_platform_failing_retryably_is_retried_after_the_back_off_alone(publishing: Publishing) -> None:
    publishing.platforms[LI].script = [Fail(ErrorKind.RETRYABLE, "server_error")]
    post = publishing.schedule(FB, LI)

    first = publishing.attempt(post)

    assert (first["status"], first["attempt"], first["retryInSeconds"]) == ("retry", 2, 300)
    between = publishing.stored(post)
    assert between.status == PostStatus.PUBLISHING
    assert between.result_for(FB).status == PlatformStatus.PUBLISHED
    assert between.result_for(LI).status == PlatformStatus.RETRYING
    assert between.result_for(LI).last_error == PlatformError(
        kind=ErrorKind.RETRYABLE, code="server_error", message="linkedin said server_error"
    )
    assert between.next_attempt_at == DUE + timedelta(seconds=300)

    publishing.clock.advance(timedelta(seconds=300))
    second = publishing.attempt(post, 2)

    assert second["postStatus"] == "published"
    assert len(publishing.platforms[FB].calls) == 1
    assert publishing.platforms[LI].calls == [DUE, DUE + timedelta(seconds=300)]
    assert publishing.stored(post).result_for(LI).attempts == 2


def test_an_answer_lost_after_the_post_went_out_is_read_back_not_posted_twice(publishing: Publishing) -> None:
    li = publishing.platforms[LI]
    li.script = [Fail(ErrorKind.UNKNOWN_OUTCOME, "connection_dropped", went_out=True)]
    post = publishing.schedule(LI)

    waits = publishing.until_done(post)

    assert waits == [300]
    assert li.read_backs == 1
    assert len(li.calls) == 1  # nothing was sent a second time
    assert len(li.live) == 1
    stored = publishing.stored(post)
    assert stored.status == PostStatus.PUBLISHED
    assert stored.result_for(LI).platform_post_id == "linkedin-0"


def test_a_timeout_that_posted_nothing_is_sent_again_once_read_back_finds_nothing(
    publishing: Publishing,
) -> None:
    fb = publishing.platforms[FB]
    fb.script = [Fail(ErrorKind.UNKNOWN_OUTCOME, "timeout")]
    post = publishing.schedule(FB)

    publishing.until_done(post)

    assert fb.read_backs == 1
    assert len(fb.calls) == 2
    assert len(fb.live) == 1
    assert publishing.stored(post).status == PostStatus.PUBLISHED


def test_a_permanent_error_stops_at_once_with_its_reason(publishing: Publishing) -> None:
    publishing.platforms[LI].script = [Fail(ErrorKind.PERMANENT, "duplicate_content")]
    post = publishing.schedule(FB, LI)

    out = publishing.attempt(post)

    assert (out["status"], out["postStatus"]) == ("done", "partially_published")
    stored = publishing.stored(post)
    assert stored.final_reason == "linkedin: duplicate_content: linkedin said duplicate_content"
    assert stored.result_for(LI).status == PlatformStatus.FAILED
    assert stored.result_for(LI).last_error is not None
    assert stored.result_for(LI).last_error.kind == ErrorKind.PERMANENT
    assert len(publishing.platforms[LI].calls) == 1


def test_an_expired_authorization_on_every_platform_fails_the_post(publishing: Publishing) -> None:
    publishing.platforms[FB].script = [Fail(ErrorKind.AUTH_EXPIRED, "token_expired")]
    post = publishing.schedule(FB)
    assert publishing.attempt(post)["postStatus"] == "failed"
    assert "token_expired" in (publishing.stored(post).final_reason or "")


def test_a_used_up_rate_budget_defers_the_post_without_sending_or_using_an_attempt(
    publishing: Publishing,
) -> None:
    first = publishing.schedule(X)
    publishing.attempt(first)
    second = publishing.schedule(X)

    out = publishing.attempt(second, execution="exec-2")

    next_day = datetime(2026, 9, 15, tzinfo=UTC)
    assert out["status"] == "retry"
    assert out["retryInSeconds"] == round((next_day - DUE).total_seconds())
    held = publishing.stored(second).result_for(X)
    assert (held.status, held.attempts) == (PlatformStatus.RETRYING, 0)
    assert held.last_error is not None
    assert held.last_error.code == "budget_delayed"
    assert len(publishing.platforms[X].calls) == 1

    publishing.clock.set(next_day)
    assert publishing.attempt(second, 2, execution="exec-2")["postStatus"] == "published"
    assert publishing.stored(second).result_for(X).attempts == 1
    assert len(publishing.platforms[X].live) == 2


def test_a_rate_limited_answer_waits_as_asked_and_holds_the_accounts_next_posts(
    publishing: Publishing,
) -> None:
    publishing.platforms[LI].script = [Fail(ErrorKind.RATE_LIMITED, "throttled", retry_after=1800.0)]
    first = publishing.schedule(LI)

    assert publishing.attempt(first)["retryInSeconds"] == 1800
    second = publishing.schedule(LI)
    out = publishing.attempt(second, execution="exec-2")

    assert out["status"] == "retry"
    assert publishing.budgets.blocked_until(first.user_id, "linkedin", DUE) is not None
    assert publishing.stored(second).result_for(LI).last_error.code == "budget_delayed"  # type: ignore[union-attr]
    assert len(publishing.platforms[LI].calls) == 1
    other_user = publishing.schedule(LI, user="agent-8")
    assert publishing.attempt(other_user, execution="exec-3")["postStatus"] == "published"


def test_retries_give_up_after_the_configured_waits_with_the_last_reason(publishing: Publishing) -> None:
    publishing.platforms[FB].script = [Fail(ErrorKind.RETRYABLE, "server_error")] * 4
    post = publishing.schedule(FB)

    waits = publishing.until_done(post)

    assert waits == WAITS
    assert len(publishing.platforms[FB].calls) == 4
    stored = publishing.stored(post)
    assert stored.status == PostStatus.FAILED
    assert (
        stored.final_reason == "facebook: server_error: gave up after 4 attempts: facebook said server_error"
    )


def test_a_platform_without_a_connected_account_fails_without_sending(publishing: Publishing) -> None:
    post = publishing.schedule(FB, user="agent-without-accounts")
    publishing.attempt(post)
    stored = publishing.stored(post)
    assert stored.status == PostStatus.FAILED
    assert stored.result_for(FB).last_error.code == "account_not_connected"  # type: ignore[union-attr]
    assert publishing.platforms[FB].calls == []


def crash(publishing: Publishing, post: ScheduledPost, execution: str) -> dict[str, Any]:
    event = {
        "action": "record_crash",
        "userId": post.user_id,
        "postId": post.post_id,
        "version": 1,
        "executionId": execution,
        "error": {"Error": "Sandbox.Timedout", "Cause": "Task timed out after 60.00 seconds"},
    }
    return publishing.step.handle(parse_publish_task(event))


def test_a_crashed_attempt_is_recorded_as_failed_with_the_error(publishing: Publishing) -> None:
    post = publishing.schedule(FB)

    out = crash(publishing, post, "exec-1")

    reason = "publish step crashed: Sandbox.Timedout: Task timed out after 60.00 seconds"
    assert out == {"status": "failed", "reason": reason}
    stored = publishing.stored(post)
    assert (stored.status, stored.final_reason, stored.completed_at) == (
        PostStatus.FAILED,
        reason,
        stored.updated_at,
    )
    assert publishing.platforms[FB].calls == []


def test_a_crash_of_an_execution_that_does_not_hold_the_post_changes_nothing(publishing: Publishing) -> None:
    post = publishing.schedule(FB)
    publishing.attempt(post)

    assert crash(publishing, post, "exec-2") == {"status": "skipped"}
    assert publishing.stored(post).status == PostStatus.PUBLISHED
