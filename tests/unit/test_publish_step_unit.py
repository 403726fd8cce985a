"""The publish step as the state machine drives it (`PublishStep.handle(parse_publish_task(event))`), on
the in-memory repositories with fake platforms and a fake clock: what goes out, when, how often, and
what the post says afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from publishing_fakes import (
    DUE,
    FB,
    LI,
    WAITS,
    Fail,
    Publishing,
    X,
    publishing_harness,
)

from tidings.core.clock import iso_ms
from tidings.core.failures import ErrorKind
from tidings.models.posts import PlatformError, PlatformStatus, PostStatus, ScheduledPost
from tidings.publishing.task_events import parse_publish_task


@pytest.fixture
def publishing() -> Publishing:
    return publishing_harness()


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
