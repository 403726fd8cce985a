"""After the local Step Functions restarted (every execution lost), a workflow that was waiting (for
an approval, a resume, a time, or its next step) gets a new execution, once; one in the middle of an
action, or finished, does not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tidings.models.workflows import StepState, StepStatus, Workflow, WorkflowStatus
from tidings.workflows.restart import needs_new_execution, resume_workflows

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def _workflow(status: WorkflowStatus, *steps: StepStatus, workflow_id: str = "wf1") -> Workflow:
    return Workflow(
        user_id="u1",
        workflow_id=workflow_id,
        name="content to social",
        definition={"steps": [{"id": f"s{i}", "action": "generate_content"} for i in range(len(steps))]},
        status=status,
        created_at=NOW,
        updated_at=NOW,
        steps={f"s{i}": StepState(step_id=f"s{i}", status=s) for i, s in enumerate(steps)},
    )


class Runner:
    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []

    def start(self, user_id: str, workflow_id: str) -> str:
        self.started.append((user_id, workflow_id))
        return f"arn:aws:states:us-east-1:123456789012:execution:wf:wf-{workflow_id}"


@pytest.mark.parametrize(
    ("status", "steps"),
    [
        (WorkflowStatus.ACTIVE, (StepStatus.COMPLETED, StepStatus.AWAITING_APPROVAL)),
        (WorkflowStatus.ACTIVE, (StepStatus.COMPLETED, StepStatus.WAITING)),
        (WorkflowStatus.ACTIVE, (StepStatus.COMPLETED, StepStatus.PENDING)),  # approved while it was down
        (WorkflowStatus.PAUSED, (StepStatus.COMPLETED, StepStatus.PENDING)),
    ],
    ids=["awaiting approval", "waiting for a time", "between steps", "paused"],
)
def test_a_waiting_workflow_is_given_a_new_execution(
    status: WorkflowStatus, steps: tuple[StepStatus, ...]
) -> None:
    assert needs_new_execution(_workflow(status, *steps))


@pytest.mark.parametrize(
    ("status", "steps"),
    [
        (WorkflowStatus.ACTIVE, (StepStatus.RUNNING, StepStatus.AWAITING_APPROVAL)),
        (WorkflowStatus.DRAFT, (StepStatus.PENDING,)),
        (WorkflowStatus.COMPLETED, (StepStatus.COMPLETED,)),
        (WorkflowStatus.FAILED, (StepStatus.FAILED,)),
        (WorkflowStatus.CANCELLED, (StepStatus.AWAITING_APPROVAL,)),
    ],
    ids=["an action under way", "never executed", "completed", "failed", "cancelled"],
)
def test_a_workflow_not_waiting_is_left_as_it_is(
    status: WorkflowStatus, steps: tuple[StepStatus, ...]
) -> None:
    assert not needs_new_execution(_workflow(status, *steps))


def test_only_the_workflows_that_need_it_are_started_each_once() -> None:
    runner = Runner()
    workflows = [
        _workflow(WorkflowStatus.ACTIVE, StepStatus.AWAITING_APPROVAL, workflow_id="waiting"),
        _workflow(WorkflowStatus.COMPLETED, StepStatus.COMPLETED, workflow_id="done"),
        _workflow(WorkflowStatus.ACTIVE, StepStatus.RUNNING, workflow_id="busy"),
    ]
    assert resume_workflows(workflows, runner) == 1
    assert runner.started == [("u1", "waiting")]
