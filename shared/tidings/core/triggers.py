"""The ways AWS starts a background function, parsed at the function's boundary.

- A DynamoDB stream batch from an event source mapping: `{"Records": [...]}`, each record with its
  `dynamodb` images (AWS Lambda Developer Guide, "Using Lambda with DynamoDB").
- A periodic run from an EventBridge Scheduler schedule, whose input Tidings sets itself:
  `{"source", "schedule", "scheduledTime"}`, the time filled in by Scheduler
  (EventBridge Scheduler User Guide, "Adding context attributes": <aws.scheduler.scheduled-time>).
- A Step Functions execution status change, from an EventBridge rule: `source` aws.states,
  `detail-type` "Step Functions Execution Status Change", and a `detail` with the fields of
  DescribeExecution (`executionArn`, `stateMachineArn`, `name`, `status`: RUNNING, SUCCEEDED,
  FAILED, TIMED_OUT or ABORTED, `startDate`, `stopDate`, `input` as a JSON string); the input is
  left out (null, `inputDetails.included` false) when input and output together pass 248 KB (Step
  Functions Developer Guide, "EventBridge (CloudWatch Events) for Step Functions execution status
  changes"). Delivery is best effort (EventBridge Events Reference, "AWS Step Functions events").
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

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


EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
# The statuses of an execution that ended without succeeding.
ENDED_UNFINISHED = ("ABORTED", "TIMED_OUT", "FAILED")


class ExecutionDetail(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    execution_arn: str = Field(alias="executionArn", min_length=1, max_length=2048)
    state_machine_arn: str = Field(alias="stateMachineArn", min_length=1, max_length=2048)
    name: str = Field(min_length=1, max_length=80)
    status: str
    input: str | None = None


class ExecutionStatusChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    source: Literal["aws.states"]
    detail_type: Literal["Step Functions Execution Status Change"] = Field(alias="detail-type")
    detail: ExecutionDetail

    @property
    def ended_unfinished(self) -> bool:
        return self.detail.status in ENDED_UNFINISHED

    def input_field(self, name: str) -> str:
        """A string field of the execution's input (ValueError when the input was left out, is not
        JSON, or lacks it: the event cannot be acted on)."""
        if self.detail.input is None:
            raise ValueError(f"the event of {self.detail.execution_arn} carries no input")
        try:
            value = json.loads(self.detail.input).get(name)
        except (ValueError, AttributeError) as exc:
            raise ValueError(f"the input of {self.detail.execution_arn} is not a JSON object") from exc
        if not isinstance(value, str) or not value:
            raise ValueError(f"the input of {self.detail.execution_arn} has no {name}")
        return value


def parse_trigger(event: dict[str, Any]) -> StreamBatch | PeriodicRun:
    """A stream batch when the event has `Records`, else a periodic run. Raises
    pydantic.ValidationError for anything else."""
    if "Records" in event:
        return StreamBatch.model_validate(event)
    return PeriodicRun.model_validate(event)


__all__ = [
    "ExecutionStatusChange",
    "PeriodicRun",
    "StreamBatch",
    "ValidationError",
    "parse_trigger",
]
