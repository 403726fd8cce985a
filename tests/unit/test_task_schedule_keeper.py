"""The stream keeps one schedule per pending task: made when a task becomes pending (new, or waiting for
a retry), moved when its time changes, deleted when it leaves pending; other changes touch nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tidings.models.tasks import Task, TaskStatus, TaskType
from tidings.store.dynamo import serialize
from tidings.store.tasks import task_to_item, touched
from tidings.workflows.schedule_keeper import TaskScheduleKeeper

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
PENDING = Task(
    user_id="agent-3",
    task_id="t-1",
    type=TaskType.ACTION,
    config={"action": "post_digest"},
    scheduled_at=NOW,
    next_run_at=NOW,
    created_at=NOW,
    updated_at=NOW,
)
RUNNING = touched(PENDING, NOW, status=TaskStatus.RUNNING, attempts=1)
RETRY = touched(RUNNING, NOW, status=TaskStatus.PENDING, next_run_at=NOW + timedelta(minutes=5))
MOVED = touched(PENDING, NOW, next_run_at=NOW + timedelta(hours=1))
NOTED = touched(PENDING, NOW, last_error="nothing that changes the schedule")
DONE = touched(RUNNING, NOW, status=TaskStatus.COMPLETED, completed_at=NOW)


@dataclass
class Schedules:
    calls: list[tuple[str, str, datetime | None]] = field(default_factory=list)

    def upsert(self, task: Task) -> None:
        self.calls.append(("upsert", task.task_id, task.next_run_at))

    def delete(self, task_id: str) -> None:
        self.calls.append(("delete", task_id, None))


def record(old: Task | None, new: Task | None) -> dict[str, Any]:
    images = {
        name: serialize(task_to_item(task))
        for name, task in (("OldImage", old), ("NewImage", new))
        if task is not None
    }
    return {"eventName": "MODIFY", "dynamodb": images}


@pytest.mark.parametrize(
    ("old", "new", "calls"),
    [
        (None, PENDING, [("upsert", "t-1", NOW)]),
        (PENDING, MOVED, [("upsert", "t-1", NOW + timedelta(hours=1))]),
        (PENDING, NOTED, []),
        (PENDING, RUNNING, [("delete", "t-1", None)]),
        (RUNNING, RETRY, [("upsert", "t-1", NOW + timedelta(minutes=5))]),
        (RUNNING, DONE, []),
        (PENDING, None, [("delete", "t-1", None)]),
    ],
)
def test_one_schedule_follows_each_pending_task(
    old: Task | None, new: Task | None, calls: list[tuple[str, str, datetime | None]]
) -> None:
    schedules = Schedules()
    sync = TaskScheduleKeeper(schedules)
    change = record(old, new)

    assert sync.wants(change)
    sync.apply(change, [])
    assert schedules.calls == calls


def test_records_of_other_entities_are_not_a_tasks_business() -> None:
    post = {
        "dynamodb": {"NewImage": serialize({"PK": "USER#u", "SK": "POST#p", "EntityType": "ScheduledPost"})}
    }
    assert not TaskScheduleKeeper(Schedules()).wants(post)
