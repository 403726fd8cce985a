"""The in-memory workflow and task repositories keep the DynamoDB ones' contract: every test runs the same
calls on both (the latter on a table of its own in DynamoDB Local) and expects the same outcome, down to
which writes are refused, how values come back and how pages are cut."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.models.tasks import Task, TaskStatus, TaskType
from tidings.models.workflows import StepState, StepStatus, Workflow, WorkflowStatus
from tidings.store.memory.tasks import InMemoryTaskRepository
from tidings.store.memory.workflows import InMemoryWorkflowRepository
from tidings.store.tasks import DynamoTaskRepository, TaskRepository, touched
from tidings.store.workflows import DynamoWorkflowRepository, WorkflowRepository

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)


table = contract_table


@pytest.fixture
def workflows(table: Table | None) -> WorkflowRepository:
    if table is None:
        return InMemoryWorkflowRepository()
    return DynamoWorkflowRepository(table.name, table.client)


@pytest.fixture
def tasks(table: Table | None) -> TaskRepository:
    if table is None:
        return InMemoryTaskRepository()
    return DynamoTaskRepository(table.name, table.client)


@pytest.fixture
def user() -> str:
    return user_id()


def workflow(user: str, workflow_id: str, status: WorkflowStatus = WorkflowStatus.DRAFT) -> Workflow:
    return Workflow(
        user_id=user,
        workflow_id=workflow_id,
        name="Contract",
        definition={"name": "Contract", "steps": [{"id": "a", "action": "x"}, {"id": "b", "action": "x"}]},
        status=status,
        created_at=NOW,
        updated_at=NOW,
        steps={"a": StepState(step_id="a"), "b": StepState(step_id="b")},
    )


def step(status: StepStatus, **fields: Any) -> StepState:
    return StepState(step_id="a", status=status, **fields)


def test_workflow_writes_are_refused_under_the_same_conditions(
    workflows: WorkflowRepository, user: str
) -> None:
    repo, wf = workflows, workflow(user, "wf-1")
    awaiting = step(StepStatus.AWAITING_APPROVAL, approval_token="token-1")
    active = {
        "status": str(WorkflowStatus.ACTIVE),
        "auto_approve": True,
        "notify": None,
        "execution_arn": "arn",
    }
    transcript = [
        outcome(lambda: repo.create(wf)),
        outcome(lambda: repo.create(wf)),
        outcome(
            lambda: repo.update(
                user, "wf-1", LATER, expect=[WorkflowStatus.ACTIVE], set_fields=active, limit=5
            )
        ),
        outcome(
            lambda: repo.update(
                user, "wf-1", LATER, expect=[WorkflowStatus.DRAFT], set_fields=active, limit=5
            )
        ),
        outcome(lambda: repo.update(user, "wf-404", LATER, set_fields={"failure_reason": "x"})),
        outcome(lambda: repo.put_step(user, "wf-404", awaiting, LATER)),
        outcome(lambda: repo.put_step_if(user, "wf-1", awaiting, LATER, expect=StepStatus.AWAITING_APPROVAL)),
        outcome(lambda: repo.put_step(user, "wf-1", awaiting, LATER)),
        outcome(
            lambda: repo.put_step_if(
                user, "wf-1", step(StepStatus.COMPLETED), LATER, expect="awaiting_approval"
            )
        ),
        outcome(
            lambda: repo.put_step_if(user, "wf-1", step(StepStatus.FAILED), LATER, expect="awaiting_approval")
        ),
        outcome(
            lambda: repo.put_step_if(
                user, "wf-1", StepState(step_id="ghost"), LATER, expect=StepStatus.PENDING
            )
        ),
        outcome(
            lambda: repo.update(
                user,
                "wf-1",
                LATER,
                expect=[WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED],
                remove=["execution_arn"],
            )
        ),
    ]

    assert transcript == [
        "ok",
        "WorkflowExists",
        "StatusConflict",
        "ok",
        "StatusConflict",
        "StatusConflict",
        "StatusConflict",
        "ok",
        "ok",
        "StatusConflict",
        "StatusConflict",
        "ok",
    ]
    stored = repo.get(user, "wf-1")
    assert stored is not None
    assert (stored.status, stored.auto_approve, stored.notify, stored.execution_arn) == (
        WorkflowStatus.ACTIVE,
        True,
        None,
        None,
    )
    assert {s.step_id: s.status for s in stored.steps.values()} == {
        "a": StepStatus.COMPLETED,
        "b": StepStatus.PENDING,
    }
    assert stored.updated_at == LATER
    assert repo.get(user, "wf-404") is None


def test_values_come_back_as_the_table_gives_them(workflows: WorkflowRepository, user: str) -> None:
    workflows.create(workflow(user, "wf-1"))
    output = {"score": 2.0, "ratio": 0.25, "tags": ["a", "b"], "nested": {"none": None, "flag": False}}
    workflows.put_step(user, "wf-1", step(StepStatus.COMPLETED, output=output), LATER)
    workflows.update(user, "wf-1", LATER, set_fields={"parameters": {"days": 30.0, "weights": [1.5, 2.0]}})

    stored = workflows.get(user, "wf-1")
    assert stored is not None
    assert stored.steps["a"].output == {
        "score": 2,
        "ratio": 0.25,
        "tags": ["a", "b"],
        "nested": {"none": None, "flag": False},
    }
    assert type(stored.steps["a"].output["score"]) is int
    assert stored.parameters == {"days": 30, "weights": [1.5, 2]}
    # what a caller holds is its own copy
    stored.steps["a"].output["nested"]["flag"] = True
    stored.parameters["weights"].append(3)
    again = workflows.get(user, "wf-1")
    assert again is not None
    assert again.steps["a"].output is not None
    assert again.steps["a"].output["nested"] == {"none": None, "flag": False}
    assert again.parameters["weights"] == [1.5, 2]


def test_pages_are_cut_the_same_way(workflows: WorkflowRepository, user: str) -> None:
    for n in range(1, 6):
        status = WorkflowStatus.ACTIVE if n % 2 else WorkflowStatus.DRAFT
        workflows.create(workflow(user, f"wf-{n}", status))

    def pages(status: WorkflowStatus | None, limit: int) -> list[list[str]]:
        out, token = [], None
        while True:
            page, token = workflows.page(user, status, limit, token)
            out.append([w.workflow_id for w in page])
            if token is None:
                return out

    assert pages(WorkflowStatus.ACTIVE, 2) == [["wf-5", "wf-3"], ["wf-1"]]
    assert pages(None, 2) == [["wf-5", "wf-4"], ["wf-3", "wf-2"], ["wf-1"]]
    assert pages(None, 5) == [["wf-5", "wf-4", "wf-3", "wf-2", "wf-1"], []]
    assert pages(WorkflowStatus.PAUSED, 3) == [[]]
    with pytest.raises(ValueError, match="nextToken"):
        workflows.page(user, None, 2, "not-a-token")


def task(user: str, task_id: str) -> Task:
    return Task(
        user_id=user,
        task_id=task_id,
        type=TaskType.ACTION,
        config={"action": "x", "parameters": {"rate": 1.0}},
        scheduled_at=NOW,
        next_run_at=NOW,
        max_retries=2,
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_task_run_is_claimed_once_and_leaves_the_running_index_when_it_ends(
    tasks: TaskRepository, user: str
) -> None:
    pending = task(user, "t-1")
    claimed = touched(pending, LATER, status=TaskStatus.RUNNING, attempts=1)
    finished = touched(claimed, LATER, status=TaskStatus.COMPLETED, completed_at=LATER, result={"n": 3.0})
    transcript = [
        outcome(lambda: tasks.create(pending, limit=10)),
        outcome(lambda: tasks.create(pending, limit=10)),
        outcome(lambda: tasks.replace(claimed, TaskStatus.PENDING, attempts=1)),
        outcome(lambda: tasks.replace(claimed, TaskStatus.RUNNING)),
        outcome(lambda: tasks.replace(claimed, TaskStatus.PENDING, attempts=0)),
        outcome(lambda: tasks.replace(claimed, TaskStatus.PENDING, attempts=0)),
        outcome(lambda: tasks.replace(task(user, "t-404"), TaskStatus.PENDING)),
    ]
    assert transcript == [
        "ok",
        "TaskExists",
        "TaskConflict",
        "TaskConflict",
        "ok",
        "TaskConflict",
        "TaskConflict",
    ]

    def running(before: datetime) -> list[tuple[str, int]]:
        return [(t.task_id, t.attempts) for t in tasks.running_since(before)]

    assert running(LATER) == []  # started at LATER: not before it
    assert running(LATER + timedelta(milliseconds=1)) == [("t-1", 1)]
    tasks.replace(finished, TaskStatus.RUNNING)
    assert running(LATER + timedelta(hours=1)) == []
    stored = tasks.get(user, "t-1")
    assert stored is not None
    assert (stored.status, stored.attempts, stored.result, stored.completed_at) == (
        TaskStatus.COMPLETED,
        1,
        {"n": 3},
        LATER,
    )
    assert tasks.get(user, "t-404") is None


def test_a_users_tasks_are_listed_by_id(tasks: TaskRepository, user: str) -> None:
    for task_id in ("t-c", "t-a", "t-b"):
        tasks.create(task(user, task_id), limit=10)

    assert [t.task_id for t in tasks.all(user)] == ["t-a", "t-b", "t-c"]
    assert tasks.all(f"{user}-nobody") == []
