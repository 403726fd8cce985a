"""Workflows whose execution was lost (the local runtime's Step Functions keeps its executions in
memory; a restart of it forgets every one), resumed from what the table holds.

A workflow's state lives in the table, step by step; its execution only carries it forward, and it is
named after the workflow (`wf-<workflowId>`), so starting it again for a workflow is one new run at
most while Step Functions lives. A new execution plans from the stored state: a step awaiting an
approval waits again (its new task token replaces the dead one, or the decision already taken is
acted on at once), a paused workflow waits for its resume again, a wait goes on until its time.

A workflow with a step `running` is not resumed: the action was under way when the execution was
lost, and running it again could do twice what it did once; it stays as it is, visible on
GET /workflows/{id}.
"""

from __future__ import annotations

from collections.abc import Iterable

from tidings.models.workflows import StepStatus, Workflow, WorkflowStatus
from tidings.workflows.service import WorkflowRunner

RESUMABLE_STATUSES = frozenset({WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED})


def needs_new_execution(workflow: Workflow) -> bool:
    """Whether a workflow whose execution is gone is carried on by a new one."""
    if workflow.status not in RESUMABLE_STATUSES:
        return False
    return not any(state.status == StepStatus.RUNNING for state in workflow.steps.values())


def resume_workflows(workflows: Iterable[Workflow], runner: WorkflowRunner) -> int:
    """Start the execution of each workflow that needs one again; how many were started."""
    started = 0
    for workflow in workflows:
        if needs_new_execution(workflow):
            runner.start(workflow.user_id, workflow.workflow_id)
            started += 1
    return started
