"""A scheduled task: a workflow or a single action, run at a time, retried with back-off."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class TaskType(StrEnum):
    WORKFLOW = "workflow"
    ACTION = "action"


class TaskStatus(StrEnum):
    PENDING = "pending"  # waiting for its time (the first run or a retry)
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_TASK_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class Task(BaseModel):
    user_id: str
    task_id: str
    type: TaskType
    config: dict[str, Any]
    scheduled_at: datetime
    next_run_at: datetime
    max_retries: int = 3
    attempts: int = 0
    status: TaskStatus = TaskStatus.PENDING
    last_error: str | None = None
    result: dict[str, Any] | None = None
    history: list[dict[str, Any]] = Field(default_factory=list)  # one entry per run
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
