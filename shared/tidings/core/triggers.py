"""The two ways AWS starts a background function, parsed at the function's boundary.

- A DynamoDB stream batch from an event source mapping: `{"Records": [...]}`, each record with its
  `dynamodb` images (AWS Lambda Developer Guide, "Using Lambda with DynamoDB").
- A periodic run from an EventBridge Scheduler schedule, whose input Tidings sets itself:
  `{"source", "schedule", "scheduledTime"}`, the time filled in by Scheduler
  (EventBridge Scheduler User Guide, "Adding context attributes": <aws.scheduler.scheduled-time>).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tidings.core.clock import parse_iso


class StreamBatch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    records: list[dict[str, Any]] = Field(alias="Records")

    def event(self) -> dict[str, Any]:
        """The batch in the shape stream consumers read."""
        return {"Records": self.records}


class PeriodicRun(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    source: str = Field(min_length=1, max_length=64)
    schedule: str = Field(min_length=1, max_length=64)
    scheduled_time: str | None = Field(default=None, alias="scheduledTime")

    @property
    def scheduled_at(self) -> datetime | None:
        """When Scheduler meant to run it; None when the caller said nothing (or not a time)."""
        try:
            return parse_iso(self.scheduled_time) if self.scheduled_time else None
        except ValueError:
            return None


def parse_trigger(event: dict[str, Any]) -> StreamBatch | PeriodicRun:
    """A stream batch when the event has `Records`, else a periodic run. Raises
    pydantic.ValidationError for anything else."""
    if "Records" in event:
        return StreamBatch.model_validate(event)
    return PeriodicRun.model_validate(event)


__all__ = ["PeriodicRun", "StreamBatch", "ValidationError", "parse_trigger"]
