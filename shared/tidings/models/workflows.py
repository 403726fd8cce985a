"""A workflow as stored: its definition, parameters, status, and each step's state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class WorkflowStatus(StrEnum):
    DRAFT = "draft"  # created, not executed yet
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_WORKFLOW_STATUSES = frozenset(
    {WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.CANCELLED}
)


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"  # a wait action, until a time
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"  # an optional step that failed, or a step a cancel left undone


DONE_STEP_STATUSES = frozenset({StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED})


class Approval(BaseModel):
    decision: str  # approved | rejected | auto_approved
    by: str | None = None
    reason: str | None = None
    at: datetime


class StepState(BaseModel):
    step_id: str
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0  # runs of the action (fix attempts included)
    fix_attempts: int = 0  # re-runs because a validation or threshold gate failed
    output: dict[str, Any] | None = None
    error: str | None = None
    error_code: str | None = None
    feedback: list[str] = Field(default_factory=list)  # the last gate failures, for the fix attempt
    gate_results: list[dict[str, Any]] = Field(default_factory=list)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_ms: int = 0  # time spent running the action, all runs
    next_run_at: datetime | None = None
    approval: Approval | None = None
    approval_token: str | None = Field(default=None, repr=False)


class Workflow(BaseModel):
    user_id: str
    workflow_id: str
    name: str
    template: str | None = None
    definition: dict[str, Any]
    parameters: dict[str, Any] = Field(default_factory=dict)
    status: WorkflowStatus = WorkflowStatus.DRAFT
    auto_approve: bool = False
    notify: dict[str, Any] | None = None
    execution_arn: str | None = None
    # Executions started after the first one ended without finishing the workflow (the next one is
    # named `wf-<workflowId>-r<resumes + 1>`; tidings.workflows.recovery).
    resumes: int = 0
    resume_token: str | None = Field(default=None, repr=False)
    failure_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    steps: dict[str, StepState] = Field(default_factory=dict)

    def step_state(self, step_id: str) -> StepState:
        return self.steps.get(step_id) or StepState(step_id=step_id)

    def metrics(self) -> dict[str, int]:
        states = [self.step_state(s["id"]) for s in self.definition.get("steps", [])]
        total_ms = 0
        if self.started_at is not None:
            end = self.completed_at or self.updated_at
            total_ms = max(0, int((end - self.started_at).total_seconds() * 1000))
        return {
            "completed": sum(1 for s in states if s.status == StepStatus.COMPLETED),
            "failed": sum(1 for s in states if s.status == StepStatus.FAILED),
            "skipped": sum(1 for s in states if s.status == StepStatus.SKIPPED),
            "pending": sum(1 for s in states if s.status not in DONE_STEP_STATUSES),
            "totalDurationMs": total_ms,
        }
