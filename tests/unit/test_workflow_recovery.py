"""A workflow whose execution ended without finishing it (aborted, timed out, failed, or forgotten by a
local Step Functions that restarted) is not left `running` for ever: once Step Functions says the
execution it names ended, its running steps fail with `execution_lost` (skipped when optional) without
their action running again, and a new execution `wf-<id>-r<k>` carries it on its usual path. An event
delivered twice, or two recoveries at once, start one continuation; a late run of the lost step
changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from test_workflow_engine import USER, Scripted, Workflows, workflows

from tidings.aws.clients import ExecutionState
from tidings.models.workflows import StepStatus, WorkflowStatus
from tidings.workflows.recovery import WorkflowRecovery

ARN = "arn:aws:states:us-east-1:123456789012:execution:run-workflow:"


@dataclass
class Executions:
    """Step Functions as the recovery sees it: DescribeExecution answers `state_of` for every execution
    not started here (those run); StartExecution of a name already taken starts nothing."""

    state_of: ExecutionState
    asked: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)

    def state(self, execution_arn: str) -> ExecutionState:
        self.asked.append(execution_arn)
        if execution_arn.removeprefix(ARN) in self.started:
            return ExecutionState.RUNNING
        return self.state_of

    def start(self, user_id: str, workflow_id: str, resume: int = 0) -> str:
        name = f"wf-{workflow_id}-r{resume}"
        if name not in self.started:
            self.started.append(name)
        return ARN + name


def stuck(optional: bool = False) -> tuple[Workflows, str, Scripted]:
    """A workflow whose `post` step was running when its execution ended, `log` after it."""
    action = Scripted()
    w = workflows(action)
    steps: list[dict[str, Any]] = [
        {"id": "post", "action": "scripted", "timeoutSeconds": 300, "optional": optional},
        {"id": "log", "action": "scripted", "dependsOn": ["post"]},
    ]
    wf = w.start(steps)
    w.engine.plan(USER, wf)
    assert w.step(wf, "post").status == StepStatus.RUNNING
    return w, wf, action


def recovery(w: Workflows, executions: Executions) -> WorkflowRecovery:
    return WorkflowRecovery(w.repo, executions, w.engine, w.clock)


def ended(w: Workflows, wf: str) -> str:
    arn = w.service.get(USER, wf).execution_arn
    assert arn is not None
    return arn


@pytest.mark.parametrize("state", [ExecutionState.ENDED, ExecutionState.MISSING])
def test_a_running_step_of_an_ended_execution_fails_as_lost_and_a_continuation_fails_the_workflow(
    state: ExecutionState,
) -> None:
    w, wf, action = stuck()
    executions = Executions(state)
    first = ended(w, wf)

    done = recovery(w, executions).recover_ended_execution(USER, wf, first)

    lost = w.step(wf, "post")
    assert (lost.status, lost.error_code) == (StepStatus.FAILED, "execution_lost")
    assert (done.steps_lost, done.continued_by) == (1, f"{ARN}wf-{wf}-r1")
    assert executions.asked == [first]
    stored = w.service.get(USER, wf)
    assert (stored.execution_arn, stored.resumes) == (f"{ARN}wf-{wf}-r1", 1)
    # the continuation takes the workflow on its failure path; the action never runs again
    assert w.engine.plan(USER, wf) == {"status": "failed", "steps": []}
    assert w.engine.finish(USER, wf) == {"status": "failed"}
    assert w.service.get(USER, wf).failure_reason == (
        "step post failed: its execution ended while the step was running; it is not run again"
    )
    assert action.calls == []
    assert w.step(wf, "log").status == StepStatus.PENDING


def test_a_lost_optional_step_is_skipped_and_the_continuation_runs_the_next_steps() -> None:
    w, wf, action = stuck(optional=True)

    done = recovery(w, Executions(ExecutionState.ENDED)).recover_ended_execution(USER, wf, ended(w, wf))

    assert done.continued_by == f"{ARN}wf-{wf}-r1"
    assert w.step(wf, "post").status == StepStatus.SKIPPED
    assert w.engine.plan(USER, wf) == {"status": "run", "steps": ["log"]}
    assert w.engine.run_step(USER, wf, "log") == {"next": "done"}
    assert w.engine.finish(USER, wf) == {"status": "completed"}
    assert len(action.calls) == 1  # `log` only


def test_the_same_event_twice_starts_one_continuation() -> None:
    w, wf, _ = stuck(optional=True)
    executions = Executions(ExecutionState.ENDED)
    first = ended(w, wf)

    again = [recovery(w, executions).recover_ended_execution(USER, wf, first) for _ in range(2)]

    assert [(d.steps_lost, d.continued_by) for d in again] == [(1, f"{ARN}wf-{wf}-r1"), (0, None)]
    assert executions.started == [f"wf-{wf}-r1"]


def test_two_recoveries_reading_the_same_state_start_one_continuation_and_one_records_it() -> None:
    w, wf, _ = stuck(optional=True)
    executions = Executions(ExecutionState.ENDED)
    first = ended(w, wf)
    read_before = w.service.get(USER, wf)

    one = recovery(w, executions).recover(read_before)
    other = recovery(w, executions).recover(read_before)  # read the same state before the first wrote

    assert one.continued_by == f"{ARN}wf-{wf}-r1"
    assert other.continued_by is None
    assert executions.started == [f"wf-{wf}-r1"]
    assert w.service.get(USER, wf).resumes == 1
    assert first != w.service.get(USER, wf).execution_arn


def test_a_second_loss_is_carried_on_by_the_next_name() -> None:
    w, wf, _ = stuck(optional=True)
    executions = Executions(ExecutionState.ENDED)
    recovery(w, executions).recover_ended_execution(USER, wf, ended(w, wf))
    w.engine.plan(USER, wf)  # the continuation runs `log`, and is lost in turn
    executions.started.clear()  # ... it ended

    done = recovery(w, executions).recover_ended_execution(USER, wf, f"{ARN}wf-{wf}-r1")

    assert done.continued_by == f"{ARN}wf-{wf}-r2"
    assert w.step(wf, "log").error_code == "execution_lost"


def test_an_execution_the_workflow_no_longer_names_changes_nothing() -> None:
    w, wf, _ = stuck()
    executions = Executions(ExecutionState.ENDED)

    done = recovery(w, executions).recover_ended_execution(USER, wf, f"{ARN}wf-{wf}-older")

    assert (done.steps_lost, done.continued_by) == (0, None)
    assert executions.asked == []
    assert w.step(wf, "post").status == StepStatus.RUNNING


def test_a_workflow_whose_execution_still_runs_is_left_to_it() -> None:
    w, wf, _ = stuck()
    executions = Executions(ExecutionState.RUNNING)

    done = recovery(w, executions).recover_ended_execution(USER, wf, ended(w, wf))

    assert (done.steps_lost, done.continued_by) == (0, None)
    assert w.step(wf, "post").status == StepStatus.RUNNING


def test_a_cancelled_workflow_is_not_carried_on() -> None:
    w, wf, _ = stuck()
    first = ended(w, wf)
    w.service.cancel(USER, wf)  # its execution is stopped: ABORTED
    executions = Executions(ExecutionState.ENDED)

    done = recovery(w, executions).recover_ended_execution(USER, wf, first)

    assert (done.steps_lost, done.continued_by) == (0, None)
    assert executions.started == []
    assert w.service.get(USER, wf).status == WorkflowStatus.CANCELLED


@dataclass
class RecoveredWhileRunning(Scripted):
    """An action still running in the Lambda invocation of an execution that was stopped meanwhile: the
    recovery ends its step while it runs; then it answers `outcome` (a retry, a success)."""

    recover: Any = None
    outcome: Exception | dict[str, Any] = field(default_factory=lambda: {"ok": True})

    def run(self, ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(params)
        self.recover()
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@pytest.mark.parametrize("outcome", [{"ok": True}, RuntimeError("throttled")], ids=["success", "retry"])
def test_a_run_that_outlived_its_execution_does_not_undo_the_loss(outcome: Any) -> None:
    action = RecoveredWhileRunning(outcome=outcome)
    w = workflows(action)
    wf = w.start([{"id": "post", "action": "scripted", "retry": {"attempts": 3}}])
    w.engine.plan(USER, wf)
    executions = Executions(ExecutionState.ENDED)
    first = ended(w, wf)
    action.recover = lambda: recovery(w, executions).recover_ended_execution(USER, wf, first)

    assert w.engine.run_step(USER, wf, "post") == {"next": "done"}

    # the step stays lost: its late success or retry is dropped, so the continuation never runs it again
    assert w.step(wf, "post").error_code == "execution_lost"
    assert w.engine.plan(USER, wf) == {"status": "failed", "steps": []}
    assert len(action.calls) == 1


def test_a_waiting_workflow_whose_execution_was_forgotten_gets_a_new_one_once() -> None:
    w, wf, _ = stuck()
    w.engine.run_step(USER, wf, "post")  # done: `log` is next, nothing running
    executions = Executions(ExecutionState.MISSING)
    stored = [w.service.get(USER, wf)]

    assert recovery(w, executions).recover_all(stored) == (0, 1)
    assert recovery(w, executions).recover_all([w.service.get(USER, wf)]) == (0, 0)  # now it runs
    assert executions.started == [f"wf-{wf}-r1"]
