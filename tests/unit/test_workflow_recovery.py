"""A workflow stuck on a running step whose execution is gone (aborted, timed out, a local Step
Functions that restarted) is not left `running` for ever: once the step is past its timeout and Step
Functions says the execution ended, the step fails with `execution_lost` (skipped when optional),
without its action running again, and the workflow takes its usual path from there."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from test_workflow_engine import USER, Scripted, Workflows, workflows

from tidings.aws.clients import ExecutionState
from tidings.models.workflows import StepStatus, WorkflowStatus
from tidings.workflows.recovery import DEFAULT_GRACE, recover_lost_steps
from tidings.workflows.restart import resume_workflows

TIMEOUT = 300


@dataclass
class Executions:
    """DescribeExecution: every execution in `state`; the ARNs asked about."""

    state_of: ExecutionState
    asked: list[str] = field(default_factory=list)

    def state(self, execution_arn: str) -> ExecutionState:
        self.asked.append(execution_arn)
        return self.state_of


def stuck(optional: bool = False) -> tuple[Workflows, str, Scripted]:
    """A workflow whose `post` step was running when its execution was lost, `log` after it."""
    action = Scripted()
    w = workflows(action)
    steps: list[dict[str, Any]] = [
        {"id": "post", "action": "scripted", "timeoutSeconds": TIMEOUT, "optional": optional},
        {"id": "log", "action": "scripted", "dependsOn": ["post"]},
    ]
    wf = w.start(steps)
    w.engine.plan(USER, wf)
    assert w.step(wf, "post").status == StepStatus.RUNNING
    return w, wf, action


def recover(w: Workflows, wf: str, executions: Executions) -> int:
    return recover_lost_steps([w.service.get(USER, wf)], executions, w.engine, w.clock.now())


def past_the_timeout(w: Workflows) -> None:
    w.clock.advance(timedelta(seconds=TIMEOUT) + DEFAULT_GRACE + timedelta(seconds=1))


@pytest.mark.parametrize("state", [ExecutionState.ENDED, ExecutionState.MISSING])
def test_a_step_whose_execution_ended_fails_as_lost_and_the_workflow_fails_without_running_it_again(
    state: ExecutionState,
) -> None:
    w, wf, action = stuck()
    past_the_timeout(w)
    executions = Executions(state)

    assert recover(w, wf, executions) == 1

    lost = w.step(wf, "post")
    assert (lost.status, lost.error_code) == (StepStatus.FAILED, "execution_lost")
    assert executions.asked == [w.service.get(USER, wf).execution_arn]
    # a new execution carries the workflow on its failure path; the action never ran again
    assert resume_workflows([w.service.get(USER, wf)], w.machine) == 1
    assert w.engine.plan(USER, wf) == {"status": "failed", "steps": []}
    assert w.engine.finish(USER, wf) == {"status": "failed"}
    done = w.service.get(USER, wf)
    assert done.status == WorkflowStatus.FAILED
    assert done.failure_reason == (
        "step post failed: its execution ended while the step was running; it is not run again"
    )
    assert action.calls == []
    assert w.step(wf, "log").status == StepStatus.PENDING


def test_a_lost_optional_step_is_skipped_and_the_next_steps_run() -> None:
    w, wf, action = stuck(optional=True)
    past_the_timeout(w)

    assert recover(w, wf, Executions(ExecutionState.ENDED)) == 1

    assert w.step(wf, "post").status == StepStatus.SKIPPED
    assert w.engine.plan(USER, wf) == {"status": "run", "steps": ["log"]}
    assert w.engine.run_step(USER, wf, "log") == {"next": "done"}
    assert w.engine.finish(USER, wf) == {"status": "completed"}
    assert len(action.calls) == 1  # `log` only


def test_a_step_whose_execution_still_runs_is_left_to_it() -> None:
    w, wf, _ = stuck()
    past_the_timeout(w)
    executions = Executions(ExecutionState.RUNNING)

    assert recover(w, wf, executions) == 0

    assert len(executions.asked) == 1
    assert w.step(wf, "post").status == StepStatus.RUNNING


def test_a_step_within_its_timeout_is_not_asked_about() -> None:
    w, wf, _ = stuck()
    w.clock.advance(timedelta(seconds=TIMEOUT))  # at its timeout, within the grace
    executions = Executions(ExecutionState.ENDED)

    assert recover(w, wf, executions) == 0

    assert executions.asked == []
    assert w.step(wf, "post").status == StepStatus.RUNNING


def test_a_step_that_finished_meanwhile_is_not_marked_lost() -> None:
    w, wf, _ = stuck()
    past_the_timeout(w)
    read_before = [w.service.get(USER, wf)]
    w.engine.run_step(USER, wf, "post")  # its (late) execution ends it first: timed out

    assert recover_lost_steps(read_before, Executions(ExecutionState.ENDED), w.engine, w.clock.now()) == 0

    assert w.step(wf, "post").error_code == "timeout"
