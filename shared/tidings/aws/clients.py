"""The AWS adapters' shared plumbing: a boto3 client made on first use (cold starts stay short), and
the one-time schedule writes both posts and tasks make."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tidings.core.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_stepfunctions import SFNClient


class ExecutionState(StrEnum):
    """What Step Functions says of an execution (API Reference, DescribeExecution: `status` is
    RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE; ExecutionDoesNotExist)."""

    # RUNNING, or PENDING_REDRIVE: a redrive goes on as the same execution, holding what it held
    RUNNING = "running"
    ENDED = "ended"  # SUCCEEDED, FAILED, TIMED_OUT or ABORTED: it never moves anything again
    MISSING = "missing"  # never started, gone from the history, or a local Step Functions that restarted


_LIVE_STATUSES = frozenset({"RUNNING", "PENDING_REDRIVE"})


class StepFunctionsAdapter:
    def __init__(self, settings: Settings, client: SFNClient | None = None) -> None:
        self.settings = settings
        self._client = client

    @property
    def client(self) -> SFNClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("stepfunctions")
        return self._client

    def state(self, execution_arn: str) -> ExecutionState:
        """DescribeExecution's answer: running (or pending a redrive), ended, or missing."""
        try:
            status = self.client.describe_execution(executionArn=execution_arn)["status"]
        except self.client.exceptions.ExecutionDoesNotExist:
            return ExecutionState.MISSING
        return ExecutionState.RUNNING if status in _LIVE_STATUSES else ExecutionState.ENDED


class SchedulerAdapter:
    def __init__(self, settings: Settings, client: EventBridgeSchedulerClient | None = None) -> None:
        self.settings = settings
        self._client = client

    @property
    def client(self) -> EventBridgeSchedulerClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("scheduler")
        return self._client

    def one_time(self, name: str, at: datetime, target: dict[str, Any]) -> dict[str, Any]:
        """CreateSchedule's request for a one-time schedule in our group at `at` (UTC, to the second),
        deleted once it fired (ActionAfterCompletion DELETE), whose undeliverable events go to the
        dead-letter queue when one is configured (EventBridge Scheduler User Guide, "Schedule types",
        "Deleting a schedule", "Configuring a dead-letter queue")."""
        dlq = self.settings.scheduler_dlq_arn
        return {
            "Name": name,
            "GroupName": self.settings.schedule_group,
            "ScheduleExpression": f"at({at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')})",
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "State": "ENABLED",
            "Target": {**target, "DeadLetterConfig": {"Arn": dlq}} if dlq else target,
        }

    def put_schedule(self, request: dict[str, Any]) -> None:
        """Create the schedule, or replace it when one of that name exists (idempotent)."""
        try:
            self.client.create_schedule(**request)
        except self.client.exceptions.ConflictException:
            self.client.update_schedule(**request)

    def delete_schedule(self, name: str) -> None:
        """Delete the schedule of that name in our group; one already gone is fine."""
        try:
            self.client.delete_schedule(Name=name, GroupName=self.settings.schedule_group)
        except self.client.exceptions.ResourceNotFoundException:
            return
