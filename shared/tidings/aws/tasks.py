"""One EventBridge Scheduler one-time schedule per pending task (`task-<id>`), invoking the task runner
(the workflow_step function) with {action: run_task, userId, taskId, run}. `run` is the attempt count
the schedule is for, so a late delivery for an earlier run does nothing."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from tidings.aws import names
from tidings.aws.clients import SchedulerAdapter
from tidings.models.tasks import Task


class TaskScheduleManager(SchedulerAdapter):
    def _request(self, task: Task) -> dict[str, Any]:
        s = self.settings
        # whole seconds, rounded up: a task never runs before its time
        at = datetime.fromtimestamp(math.ceil(task.next_run_at.timestamp()), UTC)
        target: dict[str, Any] = {
            # a Lambda target: Scheduler invokes the function asynchronously with Input as the event
            # (EventBridge Scheduler User Guide, "Using templated targets")
            "Arn": s.task_runner_arn,
            "RoleArn": s.scheduler_role_arn,
            "Input": json.dumps(
                {"action": "run_task", "userId": task.user_id, "taskId": task.task_id, "run": task.attempts}
            ),
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 185},
        }
        return self.one_time(names.task_schedule_name(task.task_id), at, target)

    def upsert(self, task: Task) -> None:
        self.put_schedule(self._request(task))

    def delete(self, task_id: str) -> None:
        self.delete_schedule(names.task_schedule_name(task_id))
