"""Workflows in the table (`USER#<id> / WORKFLOW#<workflowId>`), one item each with its steps' states.

Steps running side by side update only their own `steps.<stepId>` entry, so they never overwrite each
other; status changes are conditional on the status they leave. `WorkflowRepository` is what the
use-cases need; `DynamoWorkflowRepository` is the table's, and `tidings.store.memory.workflows` holds
one in memory with the same conditions.

A running workflow (active or paused: it holds a Step Functions execution and may wait on schedules)
counts in the user's `workflow_runs` quota (`tidings.store.quotas`): taken in the same transaction
as the status change that starts it, given back in the one that ends it (completed, failed or
cancelled). Drafts are not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms
from tidings.models.workflows import StepState, Workflow, WorkflowStatus
from tidings.store import keys
from tidings.store.dynamo import (
    decode_token,
    deserialize,
    dynamodb_client,
    encode_token,
    page_scope,
    serialize,
    serialize_value,
)
from tidings.store.quotas import (
    WORKFLOW_RUNS,
    Counted,
    DynamoQuotas,
    GiveBack,
    ItemConditionFailed,
    QuotaChange,
    Take,
)

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_dynamodb import DynamoDBClient


class StatusConflict(Exception):
    """The workflow was not in a status the change may leave (or is not stored at all)."""


class WorkflowExists(StatusConflict):
    """A workflow with this id is already stored."""


class WorkflowRepository(Protocol):
    def create(self, workflow: Workflow) -> None:
        """Store a new workflow (WorkflowExists when its id is taken)."""
        ...

    def get(self, user_id: str, workflow_id: str) -> Workflow | None: ...

    def page(
        self, user_id: str, status: WorkflowStatus | None, limit: int, next_token: str | None
    ) -> tuple[list[Workflow], str | None]:
        """Up to `limit` workflows (in `status`, when given), last id first, and the next page's token
        (ValueError for a token this store did not issue)."""
        ...

    def put_step(self, user_id: str, workflow_id: str, state: StepState, now: datetime) -> None:
        """Replace one step's state (and only it); StatusConflict when the workflow is not stored."""
        ...

    def put_step_if(
        self, user_id: str, workflow_id: str, state: StepState, now: datetime, *, expect: str
    ) -> None:
        """Replace one step's state if it is still in status `expect` (else StatusConflict)."""
        ...

    def update(
        self,
        user_id: str,
        workflow_id: str,
        now: datetime,
        *,
        expect: Iterable[WorkflowStatus] | None = None,
        set_fields: dict[str, Any] | None = None,
        remove: Iterable[str] = (),
        limit: int | None = None,
        expect_fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Set (and remove) top-level fields if the workflow is in one of the `expect` statuses (any
        status when None or empty) and each of `expect_fields` holds its value (None: the field is
        absent), else StatusConflict. A status change that starts a run takes the `workflow_runs`
        quota (`limit`; Conflict `quota_exceeded`), one that ends it gives it back."""
        ...


RUN_STATUSES = frozenset({str(WorkflowStatus.ACTIVE), str(WorkflowStatus.PAUSED)})
# What the `workflow_runs` quota counts: the user's workflows running.
COUNTED = Counted(WORKFLOW_RUNS, keys.WORKFLOW_SK_PREFIX, tuple(sorted(RUN_STATUSES)))


def run_quota_change(user_id: str, was: str, becomes: Any, limit: int | None) -> QuotaChange | None:
    """What moving a workflow from status `was` to `becomes` (None: no status change) does to the
    user's `workflow_runs` quota."""
    if becomes is None or (was in RUN_STATUSES) == (str(becomes) in RUN_STATUSES):
        return None
    if was in RUN_STATUSES:
        return GiveBack(user_id, WORKFLOW_RUNS)
    if limit is None:
        raise ValueError("a status change that starts a workflow run needs the quota's limit")
    return Take(user_id, WORKFLOW_RUNS, limit)


def workflow_to_item(workflow: Workflow) -> dict[str, Any]:
    return {
        "PK": keys.user_pk(workflow.user_id),
        "SK": keys.workflow_sk(workflow.workflow_id),
        "EntityType": keys.WORKFLOW_ENTITY,
        **workflow.model_dump(mode="json", exclude_none=True),
    }


_KEYS = ("PK", "SK", "EntityType")


def workflow_from_item(item: dict[str, Any]) -> Workflow:
    return Workflow.model_validate({k: v for k, v in item.items() if k not in _KEYS})


class DynamoWorkflowRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()
        self.quotas = DynamoQuotas(self.table, self.client, COUNTED)

    def _key(self, user_id: str, workflow_id: str) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": keys.workflow_sk(workflow_id)})

    def create(self, workflow: Workflow) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(workflow_to_item(workflow)),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise WorkflowExists() from exc

    def get(self, user_id: str, workflow_id: str) -> Workflow | None:
        resp = self.client.get_item(
            TableName=self.table, Key=self._key(user_id, workflow_id), ConsistentRead=True
        )
        return workflow_from_item(deserialize(resp["Item"])) if "Item" in resp else None

    def page(
        self, user_id: str, status: WorkflowStatus | None, limit: int, next_token: str | None
    ) -> tuple[list[Workflow], str | None]:
        out: list[Workflow] = []
        scope = page_scope(keys.user_pk(user_id), keys.WORKFLOW_SK_PREFIX)
        start = decode_token(next_token, scope)
        while len(out) < limit:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
                "ExpressionAttributeValues": serialize(
                    {":pk": keys.user_pk(user_id), ":prefix": keys.WORKFLOW_SK_PREFIX}
                    | ({":status": str(status)} if status else {})
                ),
                "Limit": limit - len(out),
                "ScanIndexForward": False,
            }
            if status:
                kwargs["FilterExpression"] = "#status = :status"
                kwargs["ExpressionAttributeNames"] = {"#status": "status"}
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = self.client.query(**kwargs)
            out += [workflow_from_item(deserialize(i)) for i in resp.get("Items", [])]
            start = resp.get("LastEvaluatedKey")
            if not start:
                break
        return out, encode_token(start, scope)

    def put_step(self, user_id: str, workflow_id: str, state: StepState, now: datetime) -> None:
        """Replace one step's state (and only it)."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(user_id, workflow_id),
                UpdateExpression="SET steps.#step = :state, updated_at = :now",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#step": state.step_id},
                ExpressionAttributeValues={
                    ":state": serialize_value(state.model_dump(mode="json", exclude_none=True)),
                    ":now": serialize_value(iso_ms(now)),
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise StatusConflict() from exc

    def put_step_if(
        self, user_id: str, workflow_id: str, state: StepState, now: datetime, *, expect: str
    ) -> None:
        """Replace one step's state if it is still in status `expect` (else StatusConflict)."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(user_id, workflow_id),
                UpdateExpression="SET steps.#step = :state, updated_at = :now",
                ConditionExpression="steps.#step.#st = :expected",
                ExpressionAttributeNames={"#step": state.step_id, "#st": "status"},
                ExpressionAttributeValues={
                    ":state": serialize_value(state.model_dump(mode="json", exclude_none=True)),
                    ":now": serialize_value(iso_ms(now)),
                    ":expected": serialize_value(expect),
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise StatusConflict() from exc

    def update(
        self,
        user_id: str,
        workflow_id: str,
        now: datetime,
        *,
        expect: Iterable[WorkflowStatus] | None = None,
        set_fields: dict[str, Any] | None = None,
        remove: Iterable[str] = (),
        limit: int | None = None,
        expect_fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Set (and remove) top-level fields, if the workflow is in one of the `expect` statuses.

        A status change is tried once per group of the expected statuses that affects the quota
        alike (running, not running), each with its quota change in the same transaction."""
        fields = {**(set_fields or {}), "updated_at": iso_ms(now)}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": serialize_value(value) for i, value in enumerate(fields.values())}
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        removed = list(remove)
        if removed:
            names |= {f"#r{i}": name for i, name in enumerate(removed)}
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removed)))
        expected = [str(s) for s in expect] if expect is not None else []
        becomes = (set_fields or {}).get("status")
        if becomes is None:
            groups = [expected]
        else:
            every = expected or [str(s) for s in WorkflowStatus]
            groups = [
                g
                for g in (
                    [s for s in every if s in RUN_STATUSES],
                    [s for s in every if s not in RUN_STATUSES],
                )
                if g
            ]
        condition_fields = ""
        for i, (name, value) in enumerate((expect_fields or {}).items()):
            names[f"#c{i}"] = name
            if value is None:
                condition_fields += f" AND attribute_not_exists(#c{i})"
            else:
                values[f":c{i}"] = serialize_value(value)
                condition_fields += f" AND #c{i} = :c{i}"
        for group in groups:
            condition = "attribute_exists(PK)" + condition_fields
            group_values = dict(values)
            group_names = dict(names)
            if group:
                group_names["#status"] = "status"
                group_values |= {f":e{i}": serialize_value(s) for i, s in enumerate(group)}
                condition += " AND #status IN (" + ", ".join(f":e{i}" for i in range(len(group))) + ")"
            update = {
                "TableName": self.table,
                "Key": self._key(user_id, workflow_id),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": group_names,
                "ExpressionAttributeValues": group_values,
            }
            change = run_quota_change(user_id, group[0], becomes, limit) if group else None
            try:
                self.quotas.write([{"Update": update}], change)
                return
            except ItemConditionFailed:
                continue
        raise StatusConflict()
