"""Starting the publish state machine and keeping one EventBridge Scheduler schedule per post.

Both are idempotent: an execution is named after the post version (`post-<id>-v<version>`), and a
schedule after the post (`post-<id>`).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from tidings.aws import names
from tidings.aws.clients import ExecutionState, SchedulerAdapter, StepFunctionsAdapter
from tidings.core.clock import iso_ms

# Universal target: Scheduler calls StartExecution with the JSON in Input as its request parameters,
# which lets us name the execution (source: EventBridge Scheduler User Guide, "Using universal targets").
SFN_START_EXECUTION_TARGET = "arn:aws:scheduler:::aws-sdk:sfn:startExecution"


def execution_input(
    user_id: str, post_id: str, version: int, due_at: datetime, wake_lead_seconds: int, attempt: int = 1
) -> dict[str, Any]:
    wake = due_at - timedelta(seconds=wake_lead_seconds)
    # A Wait on a timestamp resolves to the second; wake at or before the due second and let the
    # publish step wait the remaining milliseconds itself.
    wake_floor = datetime.fromtimestamp(math.floor(wake.timestamp()), UTC)
    return {
        "userId": user_id,
        "postId": post_id,
        "version": version,
        "dueAt": iso_ms(due_at),
        "wakeAt": wake_floor.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "attempt": attempt,
    }


def schedule_time(due_at: datetime, lead_seconds: int) -> datetime:
    """When the one-time schedule fires: `lead_seconds` early, floored to the second.

    EventBridge Scheduler fires a one-time `at()` schedule within the minute of its time even with the
    flexible window OFF (Scheduler User Guide, "Schedule types"), so the lead (default 120 s) covers
    that minute and the execution waits the rest."""
    at = due_at - timedelta(seconds=lead_seconds)
    return datetime.fromtimestamp(math.floor(at.timestamp()), UTC)


class PublishStarter(Protocol):
    def start(self, user_id: str, post_id: str, version: int, due_at: datetime) -> bool:
        """Start the publish execution for this post version. False when it already existed."""
        ...


class PublishExecutions(PublishStarter, Protocol):
    """Starting, naming and asking after publish executions: what the sweeper needs to resume a post
    whose execution ended before finishing it."""

    def state(self, execution_arn: str) -> ExecutionState: ...

    def execution_arn(self, name: str) -> str:
        """The ARN the execution `name` has (or will have once started)."""
        ...

    def start_named(
        self, name: str, user_id: str, post_id: str, version: int, due_at: datetime, attempt: int
    ) -> bool:
        """Start the execution `name` for this post version at `attempt`. False when it already existed."""
        ...


class StepFunctionsPublishStarter(StepFunctionsAdapter):
    def start(self, user_id: str, post_id: str, version: int, due_at: datetime) -> bool:
        return self.start_named(names.execution_name(post_id, version), user_id, post_id, version, due_at, 1)

    def start_named(
        self, name: str, user_id: str, post_id: str, version: int, due_at: datetime, attempt: int
    ) -> bool:
        lead = self.settings.publish_wake_lead_seconds
        payload = execution_input(user_id, post_id, version, due_at, lead, attempt)
        try:
            self.client.start_execution(
                stateMachineArn=self.settings.publish_state_machine_arn, name=name, input=json.dumps(payload)
            )
        except self.client.exceptions.ExecutionAlreadyExists:
            return False
        return True

    def execution_arn(self, name: str) -> str:
        return names.execution_arn(self.settings.publish_state_machine_arn, name)


class PostScheduleManager(SchedulerAdapter):
    """Creates, moves and deletes the one-time schedule of a scheduled post."""

    def _request(self, user_id: str, post_id: str, version: int, due_at: datetime) -> dict[str, Any]:
        s = self.settings
        at = schedule_time(due_at, s.schedule_lead_seconds)
        target: dict[str, Any] = {
            "Arn": SFN_START_EXECUTION_TARGET,
            "RoleArn": s.scheduler_role_arn,
            "Input": json.dumps(
                {
                    "StateMachineArn": s.publish_state_machine_arn,
                    "Name": names.execution_name(post_id, version),
                    "Input": json.dumps(
                        execution_input(user_id, post_id, version, due_at, s.publish_wake_lead_seconds)
                    ),
                }
            ),
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 185},
        }
        return self.one_time(names.schedule_name(post_id), at, target)

    def upsert(self, user_id: str, post_id: str, version: int, due_at: datetime) -> None:
        self.put_schedule(self._request(user_id, post_id, version, due_at))

    def delete(self, post_id: str) -> None:
        self.delete_schedule(names.schedule_name(post_id))
