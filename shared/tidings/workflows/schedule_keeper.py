"""Keeps one schedule per pending task, from the table's stream: created when a task becomes pending
(new, or waiting for a retry), moved when its time changes, deleted when it leaves `pending`."""

from __future__ import annotations

from typing import Any, Protocol

from tidings.models.tasks import Task, TaskStatus
from tidings.store.dynamo import deserialize_stream_image, record_of
from tidings.store.keys import TASK_ENTITY
from tidings.store.tasks import task_from_item


class TaskSchedules(Protocol):
    def upsert(self, task: Task) -> None: ...
    def delete(self, task_id: str) -> None: ...


def _image(record: dict[str, Any], name: str) -> Task | None:
    raw = record.get("dynamodb", {}).get(name)
    if not raw:
        return None
    item = deserialize_stream_image(raw)
    return task_from_item(item) if item.get("EntityType") == TASK_ENTITY else None


def is_task_record(record: dict[str, Any]) -> bool:
    return record_of(record, TASK_ENTITY)


class TaskScheduleKeeper:
    def __init__(self, schedules: TaskSchedules) -> None:
        self.schedules = schedules

    def wants(self, record: dict[str, Any]) -> bool:
        return is_task_record(record)

    def flush(self, deferred: list[Any]) -> None:
        """Nothing is deferred: each task's schedule is kept as its record arrives."""

    def apply(self, record: dict[str, Any], deferred: list[Any] | None = None) -> None:
        old, new = _image(record, "OldImage"), _image(record, "NewImage")
        was_pending = old is not None and old.status == TaskStatus.PENDING
        if new is not None and new.status == TaskStatus.PENDING:
            unchanged = (
                was_pending
                and old is not None
                and (old.next_run_at, old.attempts) == (new.next_run_at, new.attempts)
            )
            if not unchanged:
                self.schedules.upsert(new)
        elif was_pending and old is not None:
            self.schedules.delete(old.task_id)
