"""The names Tidings gives its EventBridge Scheduler schedules and Step Functions executions.

A name is also an idempotency key: Step Functions refuses a second execution of the same name, and
Scheduler names are at most 64 characters of [0-9A-Za-z-_.] (EventBridge Scheduler API Reference,
CreateSchedule: Name; Step Functions API Reference, StartExecution: name).
"""

from __future__ import annotations

import hashlib


def execution_name(post_id: str, version: int) -> str:
    """One Step Functions execution per post version: the name makes starting it idempotent."""
    return f"post-{post_id}-v{version}"


def resumed_execution_name(post_id: str, version: int, resume: int) -> str:
    """The execution that resumes a post version for the `resume`th time after its own ended unfinished."""
    return f"{execution_name(post_id, version)}-r{resume}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution `name` of a state machine, known before it starts:
    arn:<partition>:states:<region>:<account>:execution:<stateMachineName>:<executionName> (Service
    Authorization Reference, "Actions, resources, and condition keys for AWS Step Functions": the
    execution resource type)."""
    head, _, machine = state_machine_arn.partition(":stateMachine:")
    if not machine:
        raise ValueError(f"not a state machine ARN: {state_machine_arn!r}")
    return f"{head}:execution:{machine}:{name}"


def schedule_name(post_id: str) -> str:
    return f"post-{post_id}"


def task_schedule_name(task_id: str) -> str:
    return f"task-{task_id}"


SYNC_SCHEDULE_PREFIX = "sync-"


def sync_schedule_name(user_id: str, integration_id: str) -> str:
    """Scheduler names are at most 64 of [0-9A-Za-z-_.]: a digest keeps user and integration apart."""
    return SYNC_SCHEDULE_PREFIX + hashlib.sha256(f"{user_id}|{integration_id}".encode()).hexdigest()[:40]


CAMPAIGN_STEP_SCHEDULE_PREFIX = "cstep-"


def campaign_step_schedule_name(user_id: str, campaign_id: str, n: int, timezone: str) -> str:
    """One schedule per campaign step (email n for one time zone): a digest keeps user, campaign and
    zone (up to 30 characters of its own) within Scheduler's 64, and n stays readable."""
    digest = hashlib.sha256(f"{user_id}|{campaign_id}|{timezone}".encode()).hexdigest()[:40]
    return f"{CAMPAIGN_STEP_SCHEDULE_PREFIX}{digest}-{n}"
