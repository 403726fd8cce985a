"""Which workflows a new execution carries on once theirs was lost (tidings.workflows.recovery).

A workflow's state lives in the table, step by step; its execution only carries it forward. A new
execution plans from the stored state: a step awaiting an approval waits again (its new task token
replaces the dead one, or the decision already taken is acted on at once), a paused workflow waits
for its resume again, a wait goes on until its time.

A workflow with a step `running` is not carried on as it is: the action was under way when the
execution was lost, and running it again could do twice what it did once; the recovery ends such a
step first (`execution_lost`).
"""

from __future__ import annotations

from tidings.models.workflows import StepStatus, Workflow, WorkflowStatus

RESUMABLE_STATUSES = frozenset({WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED})


def needs_new_execution(workflow: Workflow) -> bool:
    """Whether a workflow whose execution is gone is carried on by a new one."""
    if workflow.status not in RESUMABLE_STATUSES:
        return False
    return not any(state.status == StepStatus.RUNNING for state in workflow.steps.values())
