"""Workflows stuck on a running step whose execution is gone: aborted or timed out on AWS, forgotten by
a local Step Functions that restarted. Nothing else would ever move such a step, so the workflow would
show `running` for ever.

As with posts (tidings.scheduling.recovery), a slow step is told from a stuck one by the execution's
own status, never by a lease alone: only a step `running` for longer than its `timeoutSeconds` (and a
grace) is looked at, since a live execution ends such a step itself at its next run (the engine's
timeout), and only then is Step Functions asked about the workflow's execution (DescribeExecution).
While it runs (or waits for a redrive) the step is left alone; once it ended or is gone, the step fails
with `execution_lost` (skipped when optional) and is not run again: its action may have done what it
does (a post scheduled, an email sent), and running it blindly could do it twice. The workflow then
takes its usual path: a failed step fails it, a skipped optional one lets the next steps run, once a
new execution carries it on (the local restart starts one: tidings.workflows.restart).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from tidings.aws.clients import ExecutionState
from tidings.models.workflows import StepStatus, Workflow
from tidings.workflows.definitions import WorkflowDefinition
from tidings.workflows.restart import RESUMABLE_STATUSES

DEFAULT_GRACE = timedelta(seconds=90)


class Executions(Protocol):
    def state(self, execution_arn: str) -> ExecutionState: ...


class LostSteps(Protocol):
    def step_lost(self, user_id: str, workflow_id: str, step_id: str) -> bool: ...


def overdue_steps(workflow: Workflow, now: datetime, grace: timedelta) -> list[str]:
    """The steps of an active or paused workflow `running` for longer than their timeout and `grace`."""
    if workflow.status not in RESUMABLE_STATUSES:
        return []
    definition = WorkflowDefinition.model_validate(workflow.definition)
    overdue = []
    for step in definition.steps:
        state = workflow.step_state(step.id)
        if state.status != StepStatus.RUNNING or state.started_at is None:
            continue
        if now > state.started_at + timedelta(seconds=step.timeout_seconds) + grace:
            overdue.append(step.id)
    return overdue


def recover_lost_steps(
    workflows: Iterable[Workflow],
    executions: Executions,
    engine: LostSteps,
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
) -> int:
    """End every overdue running step whose workflow's execution ended or is gone; how many."""
    ended = 0
    for workflow in workflows:
        overdue = overdue_steps(workflow, now, grace)
        if not overdue:
            continue
        arn = workflow.execution_arn
        if arn is not None and executions.state(arn) == ExecutionState.RUNNING:
            continue  # a late execution ends the step itself
        ended += sum(engine.step_lost(workflow.user_id, workflow.workflow_id, sid) for sid in overdue)
    return ended
