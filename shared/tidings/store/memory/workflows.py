"""Workflows in memory, with the DynamoDB repository's conditions: create refuses a taken id, a step's
state is replaced only on a stored workflow (and, with `put_step_if`, only from the status it expects),
and a top-level update only from the statuses it expects. Values are stored as DynamoDB would give
them back (floats with a whole value come back as ints), and pages and their tokens are those of the
table: last id first, the status filter applied after the limit, tokens interchangeable."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from tidings.core.clock import iso_ms
from tidings.models.workflows import StepState, Workflow, WorkflowStatus
from tidings.store import keys
from tidings.store.dynamo import (
    decode_token,
    deserialize,
    encode_token,
    page_scope,
    serialize,
    serialize_value,
)
from tidings.store.quotas import InMemoryQuotas
from tidings.store.workflows import (
    RUN_STATUSES,
    StatusConflict,
    WorkflowExists,
    run_quota_change,
    workflow_from_item,
    workflow_to_item,
)


def _stored(value: Any) -> Any:
    """`value` as the table would return it."""
    return deserialize({"value": serialize_value(value)})["value"]


class InMemoryWorkflowRepository:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.quotas = InMemoryQuotas(self._running)

    def _running(self, user_id: str, _: str) -> int:
        """The user's workflows running (read under the repository's lock)."""
        return sum(
            uid == user_id and item.get("status") in RUN_STATUSES for (uid, _), item in self._items.items()
        )

    def create(self, workflow: Workflow, *, then: Callable[[], None] | None = None) -> None:
        """Store a new workflow; `then` (another write of the same transaction, such as its task's)
        runs under the lock before it is stored, and nothing is stored when it raises."""
        item = deserialize(serialize(workflow_to_item(workflow)))
        with self._lock:
            key = (workflow.user_id, workflow.workflow_id)
            if key in self._items:
                raise WorkflowExists()
            if then is not None:
                then()
            self._items[key] = item

    def get(self, user_id: str, workflow_id: str) -> Workflow | None:
        with self._lock:
            item = copy.deepcopy(self._items.get((user_id, workflow_id)))
        return workflow_from_item(item) if item is not None else None

    def page(
        self, user_id: str, status: WorkflowStatus | None, limit: int, next_token: str | None
    ) -> tuple[list[Workflow], str | None]:
        scope = page_scope(keys.user_pk(user_id), keys.WORKFLOW_SK_PREFIX)
        start = decode_token(next_token, scope)
        after = str(deserialize(start)["SK"]) if start else None
        with self._lock:
            items = sorted(
                (copy.deepcopy(item) for (uid, _), item in self._items.items() if uid == user_id),
                key=lambda item: str(item["SK"]),
                reverse=True,
            )
        remaining = [item for item in items if after is None or str(item["SK"]) < after]
        out: list[Workflow] = []
        while len(out) < limit:
            # like a query with Limit and a filter: `wanted` items are read, then filtered
            wanted = limit - len(out)
            read, remaining = remaining[:wanted], remaining[wanted:]
            out += [workflow_from_item(i) for i in read if status is None or i.get("status") == str(status)]
            start = serialize({"PK": read[-1]["PK"], "SK": read[-1]["SK"]}) if len(read) == wanted else None
            if not start:
                break
        return out, encode_token(start, scope)

    def put_step(self, user_id: str, workflow_id: str, state: StepState, now: datetime) -> None:
        self._set_step(user_id, workflow_id, state, now, expect=None)

    def put_step_if(
        self, user_id: str, workflow_id: str, state: StepState, now: datetime, *, expect: str
    ) -> None:
        self._set_step(user_id, workflow_id, state, now, expect=str(expect))

    def _set_step(
        self, user_id: str, workflow_id: str, state: StepState, now: datetime, *, expect: str | None
    ) -> None:
        with self._lock:
            item = self._items.get((user_id, workflow_id))
            if item is None:
                raise StatusConflict()
            steps = item["steps"]
            if expect is not None and (steps.get(state.step_id) or {}).get("status") != expect:
                raise StatusConflict()
            steps[state.step_id] = _stored(state.model_dump(mode="json", exclude_none=True))
            item["updated_at"] = iso_ms(now)

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
        fields = {**(set_fields or {}), "updated_at": iso_ms(now)}
        expected = [str(s) for s in expect] if expect is not None else []
        with self._lock:
            item = self._items.get((user_id, workflow_id))
            if item is None or (expected and item.get("status") not in expected):
                raise StatusConflict()
            if any(item.get(name) != _stored(value) for name, value in (expect_fields or {}).items()):
                raise StatusConflict()
            self.quotas.apply(run_quota_change(user_id, str(item.get("status")), fields.get("status"), limit))
            for name, value in fields.items():
                item[name] = _stored(value)
            for name in remove:
                item.pop(name, None)
