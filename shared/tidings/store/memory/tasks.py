"""Scheduled tasks in memory, with the DynamoDB repository's conditions: create refuses a taken id, and
a task is replaced only from the status (and attempt count, when given) the change expects, which is
how a run is claimed once. Items are kept as the table keeps them, index keys included, so
`running_since` reads the same sparse index of running tasks. A task's draft workflow goes to the
in-memory workflows it is given, with the task or not at all."""

from __future__ import annotations

import copy
import threading
from datetime import datetime
from typing import Any

from tidings.core.clock import iso_ms
from tidings.models.tasks import Task, TaskStatus
from tidings.models.workflows import Workflow
from tidings.store import keys
from tidings.store.dynamo import deserialize, serialize
from tidings.store.memory.workflows import InMemoryWorkflowRepository
from tidings.store.quotas import TASKS, InMemoryQuotas, Take
from tidings.store.tasks import (
    UNFINISHED,
    TaskConflict,
    TaskExists,
    quota_change,
    task_from_item,
    task_to_item,
)


class InMemoryTaskRepository:
    def __init__(self, workflows: InMemoryWorkflowRepository | None = None) -> None:
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.quotas = InMemoryQuotas(self._unfinished)
        self.workflows = workflows

    def _unfinished(self, user_id: str, _: str) -> int:
        """The user's tasks not finished (read under the repository's lock)."""
        return sum(
            uid == user_id and item.get("status") in UNFINISHED for (uid, _), item in self._items.items()
        )

    def create(self, task: Task, *, limit: int, draft: Workflow | None = None) -> None:
        item = deserialize(serialize(task_to_item(task)))
        with self._lock:
            key = (task.user_id, task.task_id)
            if key in self._items:
                raise TaskExists()

            def store() -> None:
                self.quotas.apply(Take(task.user_id, TASKS, limit))
                self._items[key] = item

            if draft is None:
                store()
            elif self.workflows is None:
                raise ValueError("a task with a draft workflow needs the in-memory workflows")
            else:
                self.workflows.create(draft, then=store)

    def get(self, user_id: str, task_id: str) -> Task | None:
        with self._lock:
            item = copy.deepcopy(self._items.get((user_id, task_id)))
        return task_from_item(item) if item is not None else None

    def all(self, user_id: str) -> list[Task]:
        with self._lock:
            items = [copy.deepcopy(item) for (uid, _), item in self._items.items() if uid == user_id]
        return [task_from_item(item) for item in sorted(items, key=lambda item: str(item["SK"]))]

    def running_since(self, before: datetime, limit: int = 100) -> list[Task]:
        cutoff = iso_ms(before)
        with self._lock:
            items = [
                copy.deepcopy(item)
                for item in self._items.values()
                if item.get("GSI2PK") == keys.RUNNING_TASKS_PK and str(item["GSI2SK"]) < cutoff
            ]
        items.sort(key=lambda item: str(item["GSI2SK"]))
        return [task_from_item(item) for item in items[:limit]]

    def replace(self, task: Task, expect: TaskStatus, *, attempts: int | None = None) -> None:
        item = deserialize(serialize(task_to_item(task)))
        with self._lock:
            key = (task.user_id, task.task_id)
            current = self._items.get(key)
            if (
                current is None
                or current.get("status") != str(expect)
                or (attempts is not None and current.get("attempts") != attempts)
            ):
                raise TaskConflict()
            self.quotas.apply(quota_change(task, expect))
            self._items[key] = item
