"""Posts left `publishing` when their execution ended (aborted, timed out, a failed deploy, a local Step
Functions that restarted): the sweeper resumes them through the ledger and read-back, never posting
twice, and leaves alone the ones whose execution still runs; a user cancels a post between attempts
(or a stuck one) and its next attempt ends without publishing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from publishing_fakes import DUE, FB, LI, Fail, Publishing, publishing_harness

from infra.topology import FUNCTIONS
from tidings.aws import names
from tidings.aws.clients import ExecutionState
from tidings.core.config import Settings
from tidings.core.errors import Conflict
from tidings.core.failures import ErrorKind
from tidings.models.posts import PlatformStatus, PostStatus, ScheduledPost
from tidings.scheduling.recovery import attempt_in_flight, overdue, plan_resume
from tidings.scheduling.service import PostChanges, SchedulingService
from tidings.scheduling.sweeper import Recovery, SweepReport, recover, sweep
from tidings.store.memory.analytics import InMemoryAnalyticsRepository

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:tidings-publish-post"
GRACE, TIMEOUT = 90, 120


@dataclass
class FakeExecutions:
    """Step Functions as the sweeper sees it: each execution's state (a started one runs), the ones
    started, and whether StartExecution is down."""

    states: dict[str, ExecutionState] = field(default_factory=dict)
    started: list[tuple[str, int]] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    down: bool = False

    def start(self, user_id: str, post_id: str, version: int, due_at: datetime) -> bool:
        return self.start_named(names.execution_name(post_id, version), user_id, post_id, version, due_at, 1)

    def start_named(
        self, name: str, user_id: str, post_id: str, version: int, due_at: datetime, attempt: int
    ) -> bool:
        if self.down:
            raise ConnectionError("states.us-east-1.amazonaws.com is unreachable")
        arn = self.execution_arn(name)
        if arn in self.states:
            return False
        self.states[arn] = ExecutionState.RUNNING
        self.started.append((name, attempt))
        return True

    def execution_arn(self, name: str) -> str:
        return names.execution_arn(MACHINE, name)

    def state(self, execution_arn: str) -> ExecutionState:
        self.asked.append(execution_arn)
        return self.states.get(execution_arn, ExecutionState.MISSING)


@dataclass
class World:
    publishing: Publishing
    executions: FakeExecutions

    def sweep(self) -> SweepReport:
        p = self.publishing
        return sweep(
            p.posts,
            self.executions,
            p.clock,
            GRACE,
            executions=self.executions,
            attempt_timeout_seconds=TIMEOUT,
        )

    def recover_after_restart(self) -> Recovery:
        """The local runtime's recovery at its start: every execution from before is gone."""
        p = self.publishing
        return recover(p.posts, self.executions, p.clock, GRACE, TIMEOUT, executions_gone=True)

    def scheduling(self) -> SchedulingService:
        p = self.publishing
        settings = Settings(publish_attempt_timeout_seconds=TIMEOUT)
        return SchedulingService(settings, p.posts, InMemoryAnalyticsRepository(), self.executions, p.clock)

    def live(self, platform: str) -> int:
        return len(self.publishing.platforms[platform].live)  # type: ignore[index]


@pytest.fixture
def world() -> World:
    return World(publishing_harness(), FakeExecutions())


FIRST = names.execution_arn(MACHINE, "post-first-v1")


def waiting_for_retry(world: World) -> ScheduledPost:
    """A post out on LinkedIn, waiting 5 minutes to retry Facebook, claimed by FIRST."""
    p = world.publishing
    p.platforms[FB].script = [Fail(ErrorKind.RETRYABLE, "server_error")]
    post = p.schedule(FB, LI)
    out = p.attempt(post, execution=FIRST)
    assert (out["status"], out["retryInSeconds"]) == ("retry", 300)
    world.executions.states[FIRST] = ExecutionState.RUNNING
    return post


def in_flight(world: World) -> ScheduledPost:
    """A Facebook post whose first attempt FIRST just claimed."""
    p = world.publishing
    post = p.schedule(FB)
    assert p.posts.claim(post.user_id, post.post_id, 1, FIRST, p.clock.now())
    return post


def test_a_post_whose_execution_ended_between_attempts_is_resumed_and_published_once(world: World) -> None:
    p = world.publishing
    post = waiting_for_retry(world)
    world.executions.states[FIRST] = ExecutionState.ENDED  # aborted during its back-off

    p.clock.advance(timedelta(seconds=300 + GRACE - 1))
    assert world.sweep().stalled == 0  # its next attempt is not past by the grace yet

    p.clock.advance(timedelta(seconds=2))
    report = world.sweep()

    resumed_name = names.resumed_execution_name(post.post_id, 1, 1)
    assert (report.stalled, report.resumed) == (1, 1)
    assert world.executions.started == [(resumed_name, 2)]
    stored = p.stored(post)
    assert stored.claimed_by == world.executions.execution_arn(resumed_name)
    assert stored.resumes == 1
    assert world.sweep().resumed == 0  # the resumed execution runs: nothing more to do

    out = p.attempt(post, 2, execution=world.executions.execution_arn(resumed_name))

    assert (out["status"], out["postStatus"]) == ("done", "published")
    assert (world.live(FB), world.live(LI)) == (1, 1)  # LinkedIn is not posted a second time


def test_a_post_whose_execution_still_runs_is_left_to_it(world: World) -> None:
    p = world.publishing
    post = waiting_for_retry(world)
    p.clock.advance(timedelta(hours=2))  # a late Wait: the execution goes on by itself

    report = world.sweep()

    assert (report.stalled, report.execution_running, report.resumed) == (1, 1, 0)
    assert world.executions.started == []
    assert p.stored(post).claimed_by == FIRST


def test_a_post_waiting_for_its_next_attempt_is_not_even_asked_about(world: World) -> None:
    waiting_for_retry(world)
    world.publishing.clock.advance(timedelta(seconds=299))

    assert world.sweep() == SweepReport(due=0, started=0, already_running=0, failed=0)
    assert world.executions.asked == []


def test_an_attempt_that_died_after_the_call_went_out_is_read_back_not_sent_again(world: World) -> None:
    p = world.publishing
    post = p.schedule(FB)
    now = p.clock.now()
    # The attempt claimed the post, began the ledger entry and the post went live; then the
    # execution was aborted and its Lambda stopped before recording anything.
    assert p.posts.claim(post.user_id, post.post_id, 1, FIRST, now)
    p.step.ledger.begin(post.user_id, post.post_id, str(FB), 1, now, previous=None)
    p.platforms[FB].live.append((now, post.content))
    world.executions.states[FIRST] = ExecutionState.ENDED

    p.clock.advance(timedelta(seconds=TIMEOUT + GRACE - 1))
    assert world.sweep().stalled == 0  # the attempt might still be running
    assert world.executions.asked == []
    p.clock.advance(timedelta(seconds=2))
    assert world.sweep().resumed == 1

    name, attempt = world.executions.started[0]
    out = p.attempt(post, attempt, execution=world.executions.execution_arn(name))

    assert out["postStatus"] == "published"
    assert world.live(FB) == 1
    assert p.stored(post).result_for(FB).status == PlatformStatus.PUBLISHED


def test_a_resume_whose_start_failed_is_resumed_again_by_a_later_sweep(world: World) -> None:
    p = world.publishing
    post = waiting_for_retry(world)
    world.executions.states[FIRST] = ExecutionState.ENDED
    p.clock.advance(timedelta(hours=1))
    world.executions.down = True

    assert world.sweep().failed == 1
    world.executions.down = False
    assert world.sweep().resumed == 0  # within the grace of the hand-over
    p.clock.advance(timedelta(seconds=GRACE + 1))
    assert world.sweep().resumed == 1

    second = names.resumed_execution_name(post.post_id, 1, 2)
    assert world.executions.started == [(second, 2)]
    assert p.stored(post).claimed_by == world.executions.execution_arn(second)


def test_two_sweeps_of_the_same_stuck_post_resume_it_once(world: World) -> None:
    p = world.publishing
    post = waiting_for_retry(world)
    world.executions.states[FIRST] = ExecutionState.ENDED
    p.clock.advance(timedelta(hours=1))
    stale = p.stored(post)  # what a second sweeper read before the first handed the post over

    assert world.sweep().resumed == 1
    assert not p.posts.hand_over(post.user_id, post.post_id, 1, FIRST, "another-arn", p.clock.now())
    assert plan_resume(stale, ExecutionState.ENDED) is not None  # it would have tried, and lost
    assert len(world.executions.started) == 1


# -- after a restart of the whole local runtime ------------------------------------------------------


def test_a_post_caught_mid_attempt_by_a_restart_is_resumed_at_once_and_published_once(world: World) -> None:
    p = world.publishing
    post = p.schedule(FB)
    now = p.clock.now()
    # The attempt claimed the post, began the ledger entry and the post went live; then the runtime
    # was killed before anything was recorded (moto forgot FIRST) and started again 10 s later.
    assert p.posts.claim(post.user_id, post.post_id, 1, FIRST, now)
    p.step.ledger.begin(post.user_id, post.post_id, str(FB), 1, now, previous=None)
    p.platforms[FB].live.append((now, post.content))
    p.clock.advance(timedelta(seconds=10))

    assert world.sweep().stalled == 0  # the sweeper still waits for the attempt's deadline
    report = world.recover_after_restart()

    assert report == Recovery(stalled=1, resumed=1)
    assert world.executions.asked == [FIRST]  # Step Functions still confirms it is gone
    name, attempt = world.executions.started[0]
    assert name == names.resumed_execution_name(post.post_id, 1, 1)
    arn = world.executions.execution_arn(name)
    out = p.attempt(post, attempt, execution=arn)
    # The call may still be on its way at the platform: the read-back waits until it cannot be,
    # 3 HTTP timeouts after it began, without counting an attempt or taking the 5-minute back-off.
    assert (out["status"], out["retryInSeconds"]) == ("retry", 20)
    assert p.stored(post).result_for(FB).attempts == 0
    p.clock.advance(timedelta(seconds=20))
    out = p.attempt(post, out["attempt"], execution=arn)
    assert out["postStatus"] == "published"
    assert world.live(FB) == 1  # read back, not sent again


def test_the_restart_recovery_leaves_a_post_an_execution_started_since_the_restart_holds(
    world: World,
) -> None:
    post = in_flight(world)
    world.executions.states[FIRST] = ExecutionState.RUNNING  # started by the rebuild, after the restart

    assert world.recover_after_restart() == Recovery(stalled=1, running=1)
    assert world.executions.started == []
    assert world.publishing.stored(post).claimed_by == FIRST


def test_two_restart_recoveries_of_the_same_post_resume_it_once(world: World) -> None:
    p = world.publishing
    post = in_flight(world)
    stale = p.stored(post)  # what a second recovery read before the first handed the post over

    assert world.recover_after_restart().resumed == 1
    assert world.recover_after_restart() == Recovery(stalled=1, running=1)  # the successor runs
    assert not p.posts.hand_over(post.user_id, post.post_id, 1, FIRST, "another-arn", p.clock.now())
    assert plan_resume(stale, ExecutionState.MISSING) is not None  # it would have tried, and lost
    assert len(world.executions.started) == 1


def test_the_restart_recovery_keeps_a_back_off_that_is_not_over(world: World) -> None:
    p = world.publishing
    waiting_for_retry(world)
    world.executions.states.clear()  # the restart: moto forgot FIRST
    p.clock.advance(timedelta(seconds=299))

    assert world.recover_after_restart() == Recovery()
    p.clock.advance(timedelta(seconds=1))
    assert world.recover_after_restart().resumed == 1  # at its next attempt, with no grace


# -- the rules -------------------------------------------------------------------------------------


def publishing_post(**fields: object) -> ScheduledPost:
    return ScheduledPost(
        user_id="agent-7",
        post_id="p1",
        content="Open house Sunday",
        platforms=[FB],
        scheduled_time=DUE,
        created_at=DUE,
        updated_at=DUE,
        status=PostStatus.PUBLISHING,
        claimed_by=FIRST,
        **fields,  # type: ignore[arg-type]
    )


def test_an_attempt_counts_as_running_until_the_task_timeout_from_its_claim() -> None:
    timeout = timedelta(seconds=TIMEOUT)
    running = publishing_post(attempt_started_at=DUE)

    assert attempt_in_flight(running, DUE + timeout - timedelta(milliseconds=1), timeout)
    assert not attempt_in_flight(running, DUE + timeout, timeout)
    assert not attempt_in_flight(publishing_post(next_attempt_at=DUE), DUE, timeout)


def test_a_post_is_overdue_only_past_its_deadline_and_the_grace() -> None:
    grace, timeout = timedelta(seconds=GRACE), timedelta(seconds=TIMEOUT)
    waiting = publishing_post(next_attempt_at=DUE)
    running = publishing_post(attempt_started_at=DUE, next_attempt_at=DUE - timedelta(hours=1))

    assert not overdue(waiting, DUE + grace, grace, timeout)
    assert overdue(waiting, DUE + grace + timedelta(seconds=1), grace, timeout)
    assert not overdue(running, DUE + timeout + grace, grace, timeout)
    assert overdue(running, DUE + timeout + grace + timedelta(seconds=1), grace, timeout)
    done = publishing_post(next_attempt_at=DUE).model_copy(update={"status": PostStatus.PUBLISHED})
    assert not overdue(done, DUE + timedelta(days=1), grace, timeout)


def test_with_the_executions_gone_a_post_is_overdue_from_its_attempt_or_next_attempt() -> None:
    grace, timeout = timedelta(seconds=GRACE), timedelta(seconds=TIMEOUT)
    running = publishing_post(attempt_started_at=DUE, next_attempt_at=DUE - timedelta(hours=1))
    waiting = publishing_post(next_attempt_at=DUE)
    done = running.model_copy(update={"status": PostStatus.PUBLISHED})

    assert not overdue(running, DUE + timedelta(seconds=1), grace, timeout)  # before its deadline
    assert overdue(running, DUE, grace, timeout, executions_gone=True)
    assert not overdue(waiting, DUE - timedelta(seconds=1), grace, timeout, executions_gone=True)
    assert overdue(waiting, DUE, grace, timeout, executions_gone=True)
    assert not overdue(done, DUE + timedelta(days=1), grace, timeout, executions_gone=True)


def test_a_resume_is_named_by_version_and_count_and_goes_on_at_the_next_attempt() -> None:
    post = publishing_post(attempt=2, resumes=1, version=3)

    assert plan_resume(post, ExecutionState.RUNNING) is None
    for state in (ExecutionState.ENDED, ExecutionState.MISSING):
        plan = plan_resume(post, state)
        assert plan is not None
        assert (plan.execution_name, plan.attempt) == ("post-p1-v3-r2", 3)


# -- cancel and edit -----------------------------------------------------------------------------


def test_a_post_waiting_between_attempts_can_be_cancelled_and_its_next_attempt_sends_nothing(
    world: World,
) -> None:
    p = world.publishing
    post = waiting_for_retry(world)
    p.clock.advance(timedelta(seconds=60))

    cancelled = world.scheduling().cancel(post.user_id, post.post_id)

    assert cancelled.status == PostStatus.CANCELLED
    assert cancelled.result_for(LI).status == PlatformStatus.PUBLISHED  # what went out is still shown
    p.clock.advance(timedelta(seconds=240))
    assert p.attempt(post, 2, execution=FIRST)["status"] == "skipped"
    assert world.live(FB) == 0
    assert p.stored(post).status == PostStatus.CANCELLED


def test_a_post_stuck_mid_attempt_can_be_cancelled_once_the_attempt_is_over(world: World) -> None:
    p, post = world.publishing, in_flight(world)
    service = world.scheduling()

    with pytest.raises(Conflict) as refused:
        service.cancel(post.user_id, post.post_id)
    assert refused.value.code == "publish_in_progress"

    p.clock.advance(timedelta(seconds=TIMEOUT))
    assert service.cancel(post.user_id, post.post_id).status == PostStatus.CANCELLED
    assert world.sweep().stalled == 0  # nothing left to resume


def test_an_attempt_that_starts_while_a_cancel_is_decided_wins_over_it(world: World) -> None:
    p = world.publishing
    post = waiting_for_retry(world)
    p.clock.advance(timedelta(seconds=300))

    class AttemptStartsFirst:
        """The post store, where the next attempt claims the post just before the cancel is written."""

        def __getattr__(self, name: str) -> object:
            return getattr(p.posts, name)

        def cancel(self, *args: object, **kwargs: object) -> ScheduledPost:
            assert p.posts.claim(post.user_id, post.post_id, 1, FIRST, p.clock.now())
            return p.posts.cancel(*args, **kwargs)  # type: ignore[arg-type]

    service = world.scheduling()
    service.posts = AttemptStartsFirst()  # type: ignore[assignment]

    with pytest.raises(Conflict) as refused:
        service.cancel(post.user_id, post.post_id)

    assert refused.value.code == "publish_in_progress"
    assert p.stored(post).status == PostStatus.PUBLISHING


def test_editing_a_post_being_published_is_refused_with_why(world: World) -> None:
    p, post = world.publishing, in_flight(world)
    service = world.scheduling()
    change = PostChanges(content="Open house moved to Saturday")

    with pytest.raises(Conflict) as running:
        service.update(post.user_id, post.post_id, change)
    p.clock.advance(timedelta(seconds=TIMEOUT))
    with pytest.raises(Conflict) as waiting:
        service.update(post.user_id, post.post_id, change)

    assert running.value.code == "publish_in_progress"
    assert waiting.value.code == "post_not_editable"
    assert waiting.value.details["cancellable"] is True


def test_an_attempt_is_deemed_over_no_sooner_than_lambda_stops_the_publish_task() -> None:
    task = next(spec for spec in FUNCTIONS if spec.name == "publish_task")

    assert Settings().publish_attempt_timeout_seconds >= task.timeout_seconds
