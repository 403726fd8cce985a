"""Once its execution was lost, a workflow that was waiting (for an approval, a resume, a time, or its
next step) is carried on by a new execution; one in the middle of an action (until the recovery ended
that step: tests/unit/test_workflow_recovery.py), or finished, is not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tidings.models.workflows import StepState, StepStatus, Workflow, WorkflowStatus
from tidings.workflows.restart import needs_new_execution

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
