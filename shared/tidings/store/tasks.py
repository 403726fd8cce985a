"""Scheduled tasks in the table (`USER#<id> / TASK#<taskId>`); finished ones expire by TTL.

`TaskRepository` is what the task service needs; `DynamoTaskRepository` is the table's, and
`tidings.store.memory.tasks` holds one in memory with the same conditions.

A task counts in the user's `tasks` quota (`tidings.store.quotas`) from its creation until it
finishes: taken in the transaction that stores it, given back in the one that writes it completed,
failed or cancelled, so only tasks that still hold a schedule or a run count.

A task that runs a new workflow (from a template or a definition) is stored with the workflow's draft
in that same transaction, so a task refused (its quota, a taken id) leaves no draft behind, nor a
draft without its task after a crash."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms
from tidings.models.tasks import FINAL_TASK_STATUSES, Task, TaskStatus
from tidings.models.workflows import Workflow
from tidings.store import keys
from tidings.store.dynamo import deserialize, dynamodb_client, query_prefix, serialize, serialize_value
from tidings.store.quotas import (
    TASKS,
    Counted,
    DynamoQuotas,
    GiveBack,
    ItemConditionFailed,
    QuotaChange,
    Take,
)
from tidings.store.workflows import WorkflowExists, workflow_to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

FINISHED_TASK_RETENTION = timedelta(days=30)
_KEYS = ("PK", "SK", "EntityType", "expiresAt", "GSI2PK", "GSI2SK")
# What the `tasks` quota counts: the user's tasks not finished.
UNFINISHED = tuple(str(s) for s in TaskStatus if s not in FINAL_TASK_STATUSES)
COUNTED = Counted(TASKS, keys.TASK_SK_PREFIX, UNFINISHED)


class TaskConflict(Exception):
    """The task was not in the status the change expects (or is not stored at all)."""


class TaskExists(TaskConflict):
    """A task with this id is already stored."""


class TaskRepository(Protocol):
    def create(self, task: Task, *, limit: int, draft: Workflow | None = None) -> None:
        """Store a new task (TaskExists when its id is taken; Conflict `quota_exceeded` when the user
        has `limit` tasks not finished) and, in the same write, the `draft` workflow it runs, when
        given (WorkflowExists when its id is taken); refused, neither is stored."""
        ...

    def get(self, user_id: str, task_id: str) -> Task | None: ...

    def all(self, user_id: str) -> list[Task]:
        """The user's tasks, by id."""
        ...

    def running_since(self, before: datetime, limit: int = 100) -> list[Task]:
        """Tasks of any user that started running before `before` and are still running, oldest first."""
        ...

    def replace(self, task: Task, expect: TaskStatus, *, attempts: int | None = None) -> None:
        """Write the task if it is still in status `expect` (and on attempt `attempts`, when given),
        else TaskConflict; a task that finishes gives back its quota."""
        ...


def quota_change(task: Task, expect: TaskStatus) -> QuotaChange | None:
    """What writing `task` over one in status `expect` does to the user's `tasks` quota."""
    if task.status in FINAL_TASK_STATUSES and expect not in FINAL_TASK_STATUSES:
        return GiveBack(task.user_id, TASKS)
    return None


def task_to_item(task: Task) -> dict[str, Any]:
    item: dict[str, Any] = {
        "PK": keys.user_pk(task.user_id),
        "SK": keys.task_sk(task.task_id),
        "EntityType": keys.TASK_ENTITY,
        **task.model_dump(mode="json", exclude_none=True),
    }
    if task.status in FINAL_TASK_STATUSES:
        finished = task.completed_at or task.updated_at
        item["expiresAt"] = int((finished + FINISHED_TASK_RETENTION).timestamp())
    if task.status == TaskStatus.RUNNING:
        item["GSI2PK"] = keys.RUNNING_TASKS_PK
        item["GSI2SK"] = keys.running_task_sort_key(iso_ms(task.updated_at), task.user_id, task.task_id)
    return item


def task_from_item(item: dict[str, Any]) -> Task:
    return Task.model_validate({k: v for k, v in item.items() if k not in _KEYS})


class DynamoTaskRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()
        self.quotas = DynamoQuotas(self.table, self.client, COUNTED)

    def create(self, task: Task, *, limit: int, draft: Workflow | None = None) -> None:
        items = [task_to_item(task)] + ([workflow_to_item(draft)] if draft is not None else [])
        puts = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": serialize(item),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
            for item in items
        ]
        try:
            self.quotas.write(puts, Take(task.user_id, TASKS, limit))
        except ItemConditionFailed as exc:
            raise (TaskExists() if exc.index == 0 else WorkflowExists()) from exc

    def get(self, user_id: str, task_id: str) -> Task | None:
        resp = self.client.get_item(
            TableName=self.table,
            Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.task_sk(task_id)}),
            ConsistentRead=True,
        )
        return task_from_item(deserialize(resp["Item"])) if "Item" in resp else None

    def all(self, user_id: str) -> list[Task]:
        items = query_prefix(self.client, self.table, keys.user_pk(user_id), keys.TASK_SK_PREFIX)
        return [task_from_item(item) for item in items]

    def running_since(self, before: datetime, limit: int = 100) -> list[Task]:
        """Tasks that started running before `before` and are still running."""
        resp = self.client.query(
            TableName=self.table,
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk AND GSI2SK < :before",
            ExpressionAttributeValues=serialize({":pk": keys.RUNNING_TASKS_PK, ":before": iso_ms(before)}),
            Limit=limit,
        )
        return [task_from_item(deserialize(item)) for item in resp.get("Items", [])]

    def replace(self, task: Task, expect: TaskStatus, *, attempts: int | None = None) -> None:
        """Write the task if it is still in status `expect` (and on attempt `attempts`, when given)."""
        condition = "#st = :expect"
        values: dict[str, Any] = {":expect": serialize_value(str(expect))}
        if attempts is not None:
            condition += " AND attempts = :attempts"
            values[":attempts"] = serialize_value(attempts)
        put = {
            "TableName": self.table,
            "Item": serialize(task_to_item(task)),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": values,
        }
        try:
            self.quotas.write([{"Put": put}], quota_change(task, expect))
        except ItemConditionFailed as exc:
            raise TaskConflict() from exc


def touched(task: Task, now: datetime, **changes: Any) -> Task:
    return task.model_copy(update={**changes, "updated_at": now})
