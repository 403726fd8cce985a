"""The AWS adapters' shared plumbing: a boto3 client made on first use (cold starts stay short), and
the one-time schedule writes both posts and tasks make."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tidings.core.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_stepfunctions import SFNClient


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
