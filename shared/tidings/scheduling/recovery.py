"""Posts left `publishing` by an execution that ended without finishing them, and when an attempt
counts as running.

A post's execution can end without finishing it: aborted, timed out, lost in a failed deploy, or (in
the local runtime) forgotten by a Step Functions that restarted. Nothing else would ever touch such a
post again, so the sweeper resumes it: it hands the claim to a new execution of the same version,
which goes on through the publish ledger and read-back exactly as the next attempt would have, so
a platform that already has the post never gets it twice.

How a stuck post is told from a slow one: the post says when it should next show progress (its next
attempt, or its attempt in flight plus the publish task's timeout, after which Lambda has stopped
it); only once that is past (with the sweeper's grace) is Step Functions asked about the execution
that holds the claim (DescribeExecution). A lease alone would take over from an execution that is
merely late (a Wait that fires late, a throttled start) and leave two executions racing for the
post; the execution's own status is the fact, and the lease only keeps the sweeper from asking
about every post in flight. After a restart of the whole local runtime no execution and no attempt
from before can be alive, so its start-up recovery resumes such posts at once (`executions_gone`),
still through DescribeExecution, the conditional hand-over, the ledger and read-back.

A user may cancel a `publishing` post unless an attempt is running (`attempt_in_flight`): between
attempts, or once its execution is gone. The execution's next attempt then finds the post cancelled
at its claim and ends quietly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tidings.aws import names
from tidings.aws.clients import ExecutionState
from tidings.models.posts import PostStatus, ScheduledPost


def attempt_in_flight(post: ScheduledPost, now: datetime, attempt_timeout: timedelta) -> bool:
    """Whether an attempt of the post may be running right now: one began (its claim) less than the
    publish task's timeout ago."""
    started = post.attempt_started_at
    return post.status == PostStatus.PUBLISHING and started is not None and now < started + attempt_timeout


def progress_deadline(post: ScheduledPost, attempt_timeout: timedelta) -> datetime | None:
    """When a `publishing` post should have moved on at the latest: the end of its attempt in flight,
    else its next attempt (None unless it is publishing)."""
    if post.status != PostStatus.PUBLISHING:
        return None
    if post.attempt_started_at is not None:
        return post.attempt_started_at + attempt_timeout
    return post.next_progress_at()


def overdue(
    post: ScheduledPost,
    now: datetime,
    grace: timedelta,
    attempt_timeout: timedelta,
    *,
    executions_gone: bool = False,
) -> bool:
    """Whether a `publishing` post is more than `grace` past the moment it should have moved on.

    With `executions_gone` (every execution and every attempt that existed is known to be dead: the
    local runtime started again, its Step Functions and its Lambda host with it) nothing can be late
    or still sending, so a post is overdue from the start of its attempt in flight, or from its next
    attempt, with no timeout and no grace. Never so where an execution may be alive (on AWS)."""
    if executions_gone:
        progress = post.next_progress_at()
        return progress is not None and progress <= now
    deadline = progress_deadline(post, attempt_timeout)
    return deadline is not None and now > deadline + grace


@dataclass(frozen=True)
class Resume:
    """Hand the post's claim to the execution `execution_name`, which resumes it at `attempt`."""

    execution_name: str
    attempt: int


def plan_resume(post: ScheduledPost, execution: ExecutionState) -> Resume | None:
    """What to do with an overdue `publishing` post whose claiming execution is in `execution`: None
    while that execution still runs (it goes on by itself), else resume it in a new execution named
    after the post version and the count of its resumes, at the attempt after the last recorded."""
    if execution == ExecutionState.RUNNING or post.status != PostStatus.PUBLISHING:
        return None
    name = names.resumed_execution_name(post.post_id, post.version, post.resumes + 1)
    return Resume(execution_name=name, attempt=post.attempt + 1)
