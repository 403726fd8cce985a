"""The publish step against DynamoDB Local with scripted platforms: claims by version, never sends
before the due time, never sends twice, reconciles unknown outcomes, retries and gives up as told."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from local_aws import fresh_table

from tidings.core.clock import FakeClock, iso_ms
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.models.posts import PlatformStatus, PostStatus, ScheduledPost
from tidings.publishing.base import Published, PublishRequest
from tidings.publishing.step import PublishStep
from tidings.publishing.task_events import parse_publish_task
from tidings.store.budgets import DynamoBudgetRepository, limits_with
from tidings.store.ledger import DynamoLedgerRepository, LedgerState
from tidings.store.posts import DynamoPostRepository

DUE = datetime(2026, 3, 2, 12, 0, 0, 250_000, tzinfo=UTC)


@dataclass
class ScriptedPlatform:
    """A platform whose answers are scripted per call: "ok", "retryable", "rate_limited", "permanent",
    "auth", "lost" (applied, answer lost) or "timeout" (not applied, no answer)."""

    platform: Platform
    clock: FakeClock
    script: list[str] = field(default_factory=list)
    applied: list[PublishRequest] = field(default_factory=list)
    sent_at: list[datetime] = field(default_factory=list)
    read_backs: int = 0

    def publish(self, account: AccountCredentials, request: PublishRequest) -> Published:
        self.sent_at.append(self.clock.now())
        step = self.script.pop(0) if self.script else "ok"
        if step in ("ok", "lost"):
            self.applied.append(request)
        if step == "ok":
            return Published(f"{self.platform}-{len(self.applied)}", f"https://{self.platform}.example/p")
        kinds = {
            "retryable": ErrorKind.RETRYABLE,
            "rate_limited": ErrorKind.RATE_LIMITED,
            "permanent": ErrorKind.PERMANENT,
            "auth": ErrorKind.AUTH_EXPIRED,
            "lost": ErrorKind.UNKNOWN_OUTCOME,
            "timeout": ErrorKind.UNKNOWN_OUTCOME,
        }
        retry_after = 1200.0 if step == "rate_limited" else None
        raise PlatformCallError(kinds[step], step, f"scripted {step}", retry_after=retry_after)

    def find_published(
        self, account: AccountCredentials, request: PublishRequest, since: datetime
    ) -> Published | None:
        self.read_backs += 1
        for i, applied in enumerate(self.applied):
            if applied.text == request.text:
                return Published(f"{self.platform}-{i + 1}", f"https://{self.platform}.example/p")
        return None


class Accounts:
    def __init__(self, connected: set[Platform]) -> None:
        self.connected = connected

    def credentials(self, user_id: str, platform: Platform) -> AccountCredentials | None:
        if platform not in self.connected:
            return None
        return AccountCredentials(platform, f"{platform}-account", "token-canary-123")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(DUE - timedelta(seconds=2))


@dataclass
class World:
    step: PublishStep
    posts: DynamoPostRepository
    ledger: DynamoLedgerRepository
    platforms: dict[Platform, ScriptedPlatform]
    clock: FakeClock
    accounts: Accounts

    def post(self, platforms: list[Platform], **changes: Any) -> ScheduledPost:
        changes.setdefault("user_id", f"agent-{uuid.uuid4().hex[:8]}")
        p = ScheduledPost(
            post_id=uuid.uuid4().hex,
            content=f"Open house {uuid.uuid4().hex[:6]}",
            platforms=platforms,
            scheduled_time=DUE,
            media_urls=["https://cdn.example.com/tour.mp4"],
            created_at=DUE - timedelta(hours=1),
            updated_at=DUE - timedelta(hours=1),
            **changes,
        )
        self.posts.put_new(p)
        return p

    def run(
        self, post: ScheduledPost, attempt: int = 1, version: int = 1, execution: str = "exec-1"
    ) -> dict[str, Any]:
        return self.step.handle(
            parse_publish_task(
                {
                    "userId": post.user_id,
                    "postId": post.post_id,
                    "version": version,
                    "dueAt": iso_ms(DUE),
                    "wakeAt": "2026-03-02T11:59:58Z",
                    "attempt": attempt,
                    "executionId": execution,
                }
            )
        )

    def stored(self, post: ScheduledPost) -> ScheduledPost:
        found = self.posts.get(post.user_id, post.post_id)
        assert found is not None
        return found


@pytest.fixture
def world(ddb: tuple[Any, str], clock: FakeClock) -> World:
    client, table = ddb
    settings = Settings(table_name=table, retry_intervals=[300, 900, 2700], http_timeout_seconds=10)
    posts = DynamoPostRepository(table, client)
    ledger = DynamoLedgerRepository(table, client)
    platforms = {p: ScriptedPlatform(p, clock) for p in Platform}
    accounts = Accounts(set(Platform))
    step = PublishStep(settings, posts, ledger, accounts, lambda p: platforms[p], clock)
    return World(step, posts, ledger, platforms, clock, accounts)


def test_publishes_every_platform_once_at_the_due_time(world: World) -> None:
    post = world.post([Platform.FACEBOOK, Platform.TWITTER])
    out = world.run(post)
    assert out["status"] == "done"
    assert out["postStatus"] == "published"
    for platform in (Platform.FACEBOOK, Platform.TWITTER):
        fake = world.platforms[platform]
        assert len(fake.applied) == 1
        assert fake.sent_at[0] >= DUE  # never before the due time
    stored = world.stored(post)
    assert stored.status == PostStatus.PUBLISHED
    result = stored.result_for(Platform.TWITTER)
    assert result.status == PlatformStatus.PUBLISHED
    assert result.platform_post_id == "twitter-1"
    assert result.attempts == 1
    assert result.published_at is not None
    assert result.published_at >= DUE
    assert world.ledger.get(post.user_id, post.post_id, "twitter").state == LedgerState.PUBLISHED  # type: ignore[union-attr]


def test_a_stale_version_or_cancelled_post_ends_quietly(world: World) -> None:
    post = world.post([Platform.FACEBOOK])
    assert world.run(post, version=2)["status"] == "skipped"
    cancelled = world.post([Platform.FACEBOOK], status=PostStatus.CANCELLED)
    assert world.run(cancelled)["status"] == "skipped"
    assert world.platforms[Platform.FACEBOOK].applied == []


def test_a_second_execution_cannot_take_a_claimed_post(world: World) -> None:
    post = world.post([Platform.FACEBOOK])
    world.run(post, execution="exec-1")
    assert world.run(post, execution="exec-2")["status"] == "skipped"
    assert len(world.platforms[Platform.FACEBOOK].applied) == 1


def test_a_redelivered_task_does_not_post_again(world: World) -> None:
    post = world.post([Platform.FACEBOOK])
    world.run(post)
    again = world.run(post)  # same execution, same attempt: Step Functions retried the task
    assert again["status"] in ("done", "skipped")
    assert len(world.platforms[Platform.FACEBOOK].applied) == 1


def test_retryable_failure_backs_off_and_retries_only_that_platform(world: World) -> None:
    world.platforms[Platform.TWITTER].script = ["retryable"]
    post = world.post([Platform.FACEBOOK, Platform.TWITTER])
    first = world.run(post)
    assert first["status"] == "retry"
    assert first["retryInSeconds"] == 300
    assert first["attempt"] == 2
    mid = world.stored(post)
    assert mid.status == PostStatus.PUBLISHING
    assert mid.result_for(Platform.TWITTER).status == PlatformStatus.RETRYING
    assert mid.result_for(Platform.TWITTER).last_error.code == "retryable"  # type: ignore[union-attr]
    world.clock.advance(timedelta(seconds=300))
    second = world.run(post, attempt=2)
    assert second["postStatus"] == "published"
    assert len(world.platforms[Platform.FACEBOOK].applied) == 1
    assert len(world.platforms[Platform.TWITTER].applied) == 1
    assert world.stored(post).result_for(Platform.TWITTER).attempts == 2


def test_rate_limit_waits_as_long_as_the_platform_asks(world: World) -> None:
    world.platforms[Platform.FACEBOOK].script = ["rate_limited"]
    out = world.run(world.post([Platform.FACEBOOK]))
    assert out["retryInSeconds"] == 1200


def test_lost_response_is_reconciled_by_reading_back_not_by_posting_again(world: World) -> None:
    fake = world.platforms[Platform.LINKEDIN]
    fake.script = ["lost"]
    post = world.post([Platform.LINKEDIN])
    assert world.run(post)["status"] == "retry"
    assert world.ledger.get(post.user_id, post.post_id, "linkedin").state == LedgerState.UNKNOWN  # type: ignore[union-attr]
    world.clock.advance(timedelta(seconds=300))
    out = world.run(post, attempt=2)
    assert out["postStatus"] == "published"
    assert fake.read_backs == 1
    assert len(fake.applied) == 1
    assert len(fake.sent_at) == 1  # no second publish call at all
    assert world.stored(post).result_for(Platform.LINKEDIN).platform_post_id == "linkedin-1"


def test_timeout_with_nothing_applied_is_sent_again_after_read_back(world: World) -> None:
    fake = world.platforms[Platform.TWITTER]
    fake.script = ["timeout"]
    post = world.post([Platform.TWITTER])
    world.run(post)
    world.clock.advance(timedelta(seconds=300))
    assert world.run(post, attempt=2)["postStatus"] == "published"
    assert fake.read_backs == 1
    assert len(fake.applied) == 1


def test_a_call_that_died_mid_flight_is_reconciled_before_anything_else(world: World) -> None:
    post = world.post([Platform.FACEBOOK])
    assert world.posts.claim(post.user_id, post.post_id, 1, "exec-1", world.clock.now())
    # an earlier attempt wrote its ledger entry and died before settling it
    world.ledger.begin(post.user_id, post.post_id, "facebook", 1, world.clock.now(), previous=None)
    world.clock.advance(timedelta(minutes=5))
    out = world.run(post, attempt=2)
    assert out["postStatus"] == "published"
    assert world.platforms[Platform.FACEBOOK].read_backs == 1
    assert len(world.platforms[Platform.FACEBOOK].applied) == 1


def test_permanent_error_stops_at_once_with_the_reason(world: World) -> None:
    world.platforms[Platform.TWITTER].script = ["auth"]
    post = world.post([Platform.FACEBOOK, Platform.TWITTER])
    out = world.run(post)
    assert out["status"] == "done"
    stored = world.stored(post)
    assert stored.status == PostStatus.PARTIALLY_PUBLISHED
    assert "twitter: auth" in (stored.final_reason or "")
    assert stored.result_for(Platform.TWITTER).last_error.kind == ErrorKind.AUTH_EXPIRED  # type: ignore[union-attr]


def test_gives_up_after_the_configured_attempts(world: World) -> None:
    fake = world.platforms[Platform.FACEBOOK]
    fake.script = ["retryable"] * 10
    post = world.post([Platform.FACEBOOK])
    waits = []
    attempt = 1
    while True:
        out = world.run(post, attempt=attempt)
        if out["status"] != "retry":
            break
        waits.append(out["retryInSeconds"])
        world.clock.advance(timedelta(seconds=out["retryInSeconds"]))
        attempt = out["attempt"]
    assert waits == [300, 900, 2700]
    assert len(fake.sent_at) == 4
    stored = world.stored(post)
    assert stored.status == PostStatus.FAILED
    assert "gave up after 4 attempts" in (stored.final_reason or "")


def test_no_connected_account_fails_clearly_and_sends_nothing(world: World) -> None:
    world.accounts.connected.discard(Platform.TIKTOK)
    post = world.post([Platform.TIKTOK])
    world.run(post)
    stored = world.stored(post)
    assert stored.status == PostStatus.FAILED
    assert stored.result_for(Platform.TIKTOK).last_error.code == "account_not_connected"  # type: ignore[union-attr]
    assert world.platforms[Platform.TIKTOK].sent_at == []


def test_record_crash_marks_the_post_failed(world: World) -> None:
    post = world.post([Platform.FACEBOOK])
    out = world.step.handle(
        parse_publish_task(
            {
                "action": "record_crash",
                "userId": post.user_id,
                "postId": post.post_id,
                "version": 1,
                "executionId": "exec-9",
                "error": {"Error": "Lambda.Unknown", "Cause": "boom"},
            }
        )
    )
    assert out["status"] == "failed"
    stored = world.stored(post)
    assert stored.status == PostStatus.FAILED
    assert "Lambda.Unknown" in (stored.final_reason or "")


@pytest.fixture(scope="module")
def ddb(dynamodb_endpoint: str) -> Iterator[tuple[Any, str]]:
    with fresh_table(dynamodb_endpoint) as table:
        yield table


def run_to_the_end(world: World, post: ScheduledPost) -> list[int]:
    waits, attempt = [], 1
    while True:
        out = world.run(post, attempt=attempt)
        if out["status"] != "retry":
            return waits
        waits.append(out["retryInSeconds"])
        world.clock.advance(timedelta(seconds=out["retryInSeconds"]))
        attempt = out["attempt"]


def test_a_lost_answer_on_the_last_attempt_is_read_back_not_reported_failed(world: World) -> None:
    fake = world.platforms[Platform.TWITTER]
    fake.script = ["retryable", "retryable", "retryable", "lost"]
    post = world.post([Platform.TWITTER])
    waits = run_to_the_end(world, post)
    assert waits == [300, 900, 2700, 2700]  # the extra wait only reads back
    assert len(fake.sent_at) == 4
    assert fake.read_backs == 1
    assert world.stored(post).status == PostStatus.PUBLISHED


def test_an_unknown_outcome_that_never_shows_up_ends_failed_after_reading_back(world: World) -> None:
    fake = world.platforms[Platform.TWITTER]
    fake.script = ["retryable", "retryable", "retryable", "timeout"]
    post = world.post([Platform.TWITTER])
    run_to_the_end(world, post)
    assert len(fake.sent_at) == 4
    assert fake.applied == []
    stored = world.stored(post)
    assert stored.status == PostStatus.FAILED
    assert "reading back found no post" in (stored.final_reason or "")


# -- rate-limit budgets ------------------------------------------------------------------------------


def _with_budgets(world: World, ddb: tuple[Any, str], overrides: str) -> DynamoBudgetRepository:
    client, table = ddb
    budgets = DynamoBudgetRepository(table, client, limits_with(overrides))
    world.step.budgets = budgets
    return budgets


def test_a_post_over_budget_waits_for_the_next_window_without_using_an_attempt(
    world: World, ddb: tuple[Any, str]
) -> None:
    _with_budgets(world, ddb, "twitter:1/86400")
    first = world.post([Platform.TWITTER])
    world.run(first)
    second = world.post([Platform.TWITTER], user_id=first.user_id)

    out = world.run(second, execution="exec-2")

    stored = world.stored(second)
    result = stored.result_for(Platform.TWITTER)
    assert out["status"] == "retry"
    next_window = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
    assert out["retryInSeconds"] == round((next_window - world.clock.now()).total_seconds())
    assert result.status == PlatformStatus.RETRYING
    assert result.attempts == 0
    assert result.last_error is not None
    assert result.last_error.code == "budget_delayed"
    assert len(world.platforms[Platform.TWITTER].applied) == 1  # nothing sent for the second post

    world.clock.set(next_window + timedelta(seconds=1))
    world.run(second, attempt=2, execution="exec-2")
    assert world.stored(second).status == PostStatus.PUBLISHED
    assert world.stored(second).result_for(Platform.TWITTER).attempts == 1
    assert len(world.platforms[Platform.TWITTER].applied) == 2


def test_a_platform_429_holds_the_accounts_other_posts(world: World, ddb: tuple[Any, str]) -> None:
    budgets = _with_budgets(world, ddb, "")
    first = world.post([Platform.LINKEDIN])
    budgets.block(
        first.user_id, "linkedin", DUE + timedelta(minutes=20), "linkedin answered 429", world.clock.now()
    )

    out = world.run(first)

    assert out["status"] == "retry"
    assert world.stored(first).result_for(Platform.LINKEDIN).last_error.code == "budget_delayed"  # type: ignore[union-attr]
    assert world.platforms[Platform.LINKEDIN].sent_at == []


def test_a_rate_limited_answer_holds_the_accounts_next_posts_until_the_platform_said(
    world: World, ddb: tuple[Any, str]
) -> None:
    budgets = _with_budgets(world, ddb, "")
    world.platforms[Platform.TIKTOK].script = ["rate_limited"]  # scripted Retry-After: 1200 s
    first = world.post([Platform.TIKTOK])
    world.run(first)
    second = world.post([Platform.TIKTOK], user_id=first.user_id)

    out = world.run(second, execution="exec-2")

    held = budgets.blocked_until(first.user_id, "tiktok", world.clock.now())
    assert held is not None
    assert held[0] == DUE + timedelta(seconds=1200)
    assert out["status"] == "retry"
    assert world.stored(second).result_for(Platform.TIKTOK).last_error.code == "budget_delayed"  # type: ignore[union-attr]
    assert len(world.platforms[Platform.TIKTOK].sent_at) == 1  # only the first post's call went out


def test_only_the_platform_call_is_left_for_the_due_time(world: World) -> None:
    post = world.post([Platform.FACEBOOK, Platform.LINKEDIN])

    world.run(post)

    for platform in (Platform.FACEBOOK, Platform.LINKEDIN):
        entry = world.ledger.get(post.user_id, post.post_id, str(platform))
        assert entry is not None
        assert entry.started_at < DUE  # the ledger entry was written while waiting for the due time
        assert world.platforms[platform].sent_at == [DUE]  # the call went out at the due time, not before
