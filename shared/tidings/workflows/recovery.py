"""Workflows whose Step Functions execution ended without finishing them: aborted, timed out, failed
(a task that kept failing, a failed deploy), or forgotten by a local Step Functions that restarted.
Nothing else would ever move such a workflow: a step would show `running` for ever, an approval
would wait on a dead task token.

The execution's own status is the fact, never a lease: a workflow is recovered only once Step
Functions says the execution it names ended or is gone (DescribeExecution); while it runs (or waits
for a redrive) it is left to it. Then:

- each step still `running` fails with `execution_lost` (skipped when optional) and is never run
  again: its action may have done what it does (a post scheduled, an email sent), and running it
  blindly could do it twice. A run of that step still going on in a Lambda invocation that outlived
  its execution cannot undo this: every write of a run is conditional on the step's status
  (WorkflowEngine.run_step), so it is dropped;
- a new execution carries the workflow on from the stored state and takes it on its usual path: a
  failed step fails it, a skipped one lets the next steps run, an approval or a pause waits again on
  a new token, a wait goes on until its time. `wf-<id>` stays taken for 90 days after its execution
  closed, so the k-th continuation is `wf-<id>-r<k>`, k counted on the workflow (`resumes`). Two
  recoveries of the same ended execution (an event delivered twice, an event and a restart) start
  the same name, which Step Functions starts once, and only the one whose conditional write still
  finds the ended execution on the workflow records it; a later one finds another execution named
  there and does nothing.

On AWS an EventBridge rule on the workflow machine's ABORTED, TIMED_OUT and FAILED status changes runs
`recover_ended_execution` for that execution (functions/workflow_recovery); the local runtime plays
that rule by polling its Step Functions, and its restart runs `recover` for every stored workflow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from tidings.aws.clients import ExecutionState
from tidings.core.clock import Clock
from tidings.models.workflows import StepStatus, Workflow
from tidings.store.workflows import StatusConflict, WorkflowRepository
from tidings.workflows.restart import RESUMABLE_STATUSES, needs_new_execution


class Executions(Protocol):
    def state(self, execution_arn: str) -> ExecutionState: ...

    def start(self, user_id: str, workflow_id: str, resume: int = 0) -> str: ...


class LostSteps(Protocol):
    def step_lost(self, user_id: str, workflow_id: str, step_id: str) -> bool: ...


@dataclass(frozen=True)
class Recovered:
    """What a recovery did: steps ended as lost, and the execution that carries the workflow on
    (None when none was started by this recovery)."""

    steps_lost: int = 0
    continued_by: str | None = None


def running_steps(workflow: Workflow) -> list[str]:
    return [sid for sid, state in workflow.steps.items() if state.status == StepStatus.RUNNING]


class WorkflowRecovery:
    def __init__(
        self, repo: WorkflowRepository, executions: Executions, engine: LostSteps, clock: Clock
    ) -> None:
        self.repo = repo
        self.executions = executions
        self.engine = engine
        self.clock = clock

    def recover(self, workflow: Workflow) -> Recovered:
        """Recover an active or paused workflow whose execution ended or is gone; nothing while it
        runs."""
        if workflow.status not in RESUMABLE_STATUSES:
            return Recovered()
        ended = workflow.execution_arn
        if ended is not None and self.executions.state(ended) == ExecutionState.RUNNING:
            return Recovered()
        lost = sum(
            self.engine.step_lost(workflow.user_id, workflow.workflow_id, sid)
            for sid in running_steps(workflow)
        )
        current = self.repo.get(workflow.user_id, workflow.workflow_id)
        if current is None or current.execution_arn != ended or not needs_new_execution(current):
            return Recovered(lost)
        resume = current.resumes + 1
        arn = self.executions.start(current.user_id, current.workflow_id, resume)
        try:
            self.repo.update(
                current.user_id,
                current.workflow_id,
                self.clock.now(),
                expect=RESUMABLE_STATUSES,
                set_fields={"execution_arn": arn, "resumes": resume},
                expect_fields={"execution_arn": ended},
            )
        except StatusConflict:
            # another recovery recorded this same continuation first, or the workflow ended meanwhile
            return Recovered(lost)
        return Recovered(lost, arn)

    def recover_ended_execution(self, user_id: str, workflow_id: str, execution_arn: str) -> Recovered:
        """Step Functions said `execution_arn` ended: recover its workflow if that execution is still
        the one the workflow names (else it was recovered already, or a newer one carries it)."""
        workflow = self.repo.get(user_id, workflow_id)
        if workflow is None or workflow.execution_arn not in (execution_arn, None):
            return Recovered()
        return self.recover(workflow)

    def recover_all(self, workflows: Iterable[Workflow]) -> tuple[int, int]:
        """`recover` each workflow: how many steps ended lost, how many workflows were carried on by a
        new execution (the local runtime's restart, whose Step Functions forgot every execution)."""
        lost = continued = 0
        for workflow in workflows:
            done = self.recover(workflow)
            lost += done.steps_lost
            continued += done.continued_by is not None
        return lost, continued
