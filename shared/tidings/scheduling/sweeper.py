"""Finds due posts that nobody claimed (a lost schedule, an outage) and starts them, and resumes posts
left `publishing` by an execution that ended without finishing them (see tidings.scheduling.recovery).

Runs every few minutes. Starting is idempotent (the execution is named after the post version), so a
post whose execution is merely waiting is left alone and nothing is started twice. A resume first
moves the claim (conditionally, from the execution that ended) to the execution it then starts, so
two sweeps never resume one post twice, and a resume whose start failed is found and resumed again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tidings.aws.publishing import PublishExecutions, PublishStarter
from tidings.core.clock import Clock
from tidings.models.posts import ScheduledPost
from tidings.scheduling.recovery import overdue, plan_resume
from tidings.store.posts import PostRepository

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    due: int
    started: int
    already_running: int
    failed: int
    # `publishing` posts past the moment they should have moved on, and what became of them
    stalled: int = 0
    resumed: int = 0
    execution_running: int = 0


@dataclass(frozen=True)
class Recovery:
    """`publishing` posts found past the moment they should have moved on: resumed, left to their
    running execution, or not resumed for an error."""

    stalled: int = 0
    resumed: int = 0
    running: int = 0
    failed: int = 0


def sweep(
    posts: PostRepository,
    starter: PublishStarter,
    clock: Clock,
    grace_seconds: int,
    *,
    executions: PublishExecutions | None = None,
    attempt_timeout_seconds: int = 120,
) -> SweepReport:
    cutoff = clock.now() - timedelta(seconds=grace_seconds)
    due = posts.due_unclaimed(cutoff)
    started = already = failed = 0
    for post in due:
        try:
            if starter.start(post.user_id, post.post_id, post.version, post.scheduled_time):
                started += 1
                logger.warning(
                    "started overdue post %s v%s (due %s)", post.post_id, post.version, post.scheduled_time
                )
            else:
                already += 1
        except Exception:
            failed += 1
            logger.exception("could not start overdue post %s", post.post_id)
    recovery = Recovery()
    if executions is not None:
        recovery = recover(posts, executions, clock, grace_seconds, attempt_timeout_seconds)
    return SweepReport(
        due=len(due),
        started=started,
        already_running=already,
        failed=failed + recovery.failed,
        stalled=recovery.stalled,
        resumed=recovery.resumed,
        execution_running=recovery.running,
    )


def recover(
    posts: PostRepository,
    executions: PublishExecutions,
    clock: Clock,
    grace_seconds: int,
    timeout_seconds: int,
    *,
    executions_gone: bool = False,
) -> Recovery:
    """Resume the `publishing` posts whose execution ended without finishing them. Each is first
    overdue (tidings.scheduling.recovery.overdue: past its attempt's timeout and the grace, or, with
    `executions_gone`, at once), then its execution is asked about and the claim handed over
    conditionally. `executions_gone` is for the local runtime's start only, never for the sweeper."""
    now = clock.now()
    grace, timeout = timedelta(seconds=grace_seconds), timedelta(seconds=timeout_seconds)
    listed = posts.publishing_before(now if executions_gone else now - grace)
    stalled = [p for p in listed if overdue(p, now, grace, timeout, executions_gone=executions_gone)]
    resumed = running = failed = 0
    for post in stalled:
        try:
            outcome = _resume(posts, executions, post, now)
        except Exception:
            failed += 1
            logger.exception("could not resume post %s", post.post_id)
            continue
        resumed += outcome == "resumed"
        running += outcome == "running"
    return Recovery(stalled=len(stalled), resumed=resumed, running=running, failed=failed)


def _resume(posts: PostRepository, executions: PublishExecutions, post: ScheduledPost, now: datetime) -> str:
    holder = post.claimed_by or ""  # a publishing post always has its claimant
    state = executions.state(holder)
    plan = plan_resume(post, state)
    if plan is None:
        return "running"
    successor = executions.execution_arn(plan.execution_name)
    if not posts.hand_over(post.user_id, post.post_id, post.version, holder, successor, now):
        return "moved_on"  # cancelled, finished or resumed meanwhile
    executions.start_named(
        plan.execution_name, post.user_id, post.post_id, post.version, post.scheduled_time, plan.attempt
    )
    logger.warning(
        "resumed post %s v%s at attempt %s in %s: its execution %s was %s",
        post.post_id,
        post.version,
        plan.attempt,
        plan.execution_name,
        holder,
        state,
    )
    return "resumed"
