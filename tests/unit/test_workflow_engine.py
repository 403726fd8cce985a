"""The workflow engine and the workflow service together, as the run_workflow state machine drives them:
plan, run a step through its gates (fix attempts with the gate's reasons), wait for approvals and
resumes on task tokens, cancel, finish. Collaborators are passed in: the in-memory repository, a fake
state machine (start, stop, task-token answers), scripted actions, a fake clock; the gates are the real
ones. The workflow function's events go through the same use-case the handler calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.errors import Conflict
from tidings.models.workflows import StepState, StepStatus, Workflow, WorkflowStatus
from tidings.store.memory.tasks import InMemoryTaskRepository
from tidings.store.memory.workflows import InMemoryWorkflowRepository
from tidings.workflows import gates
from tidings.workflows.action import Action, ActionContext, ActionFailed, ActionServices
from tidings.workflows.engine import WorkflowEngine
from tidings.workflows.service import WorkflowService
from tidings.workflows.step_events import WorkflowStepEvent, handle_step_event
from tidings.workflows.tasks import TaskService

NOW = datetime(2026, 4, 6, 10, 0, tzinfo=UTC)
USER = "agent-7"
EVENTS = Path(__file__).resolve().parents[2] / "events" / "workflow_step"
LONG = "Spacious family home with a large garden, a renovated kitchen and room for everyone to grow."
SHORT = "Family home, big garden."


def _unused() -> Any:
    raise AssertionError("this collaborator should not be used")


@dataclass
class Writer:
    """Writes `draft`; a fix attempt (one that received gate feedback) writes `fixed`, if any."""

    draft: str
    fixed: str | None = None
    name: str = "write"
    description: str = "writes a draft"
    feedback_seen: list[tuple[str, ...]] = field(default_factory=list)

    def check_params(self, params: dict[str, Any]) -> list[str]:
        return []

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        self.feedback_seen.append(ctx.feedback)
        return {"text": self.fixed if ctx.feedback and self.fixed else self.draft}


@dataclass
class Scripted:
    """Each run takes the next outcome: an exception to raise or an output; then {"ok": True}."""

    outcomes: list[Exception | dict[str, Any]] = field(default_factory=list)
    name: str = "scripted"
    description: str = "does as scripted"
    calls: list[dict[str, Any]] = field(default_factory=list)

    def check_params(self, params: dict[str, Any]) -> list[str]:
        return []

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(params)
        outcome = self.outcomes.pop(0) if self.outcomes else {"ok": True}
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@dataclass
class FakeStateMachine:
    """Starts and stops executions and receives task-token answers, as Step Functions would."""

    started: list[str] = field(default_factory=list)
    stopped: list[tuple[str, str]] = field(default_factory=list)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def start(self, user_id: str, workflow_id: str) -> str:
        self.started.append(workflow_id)
        return f"arn:aws:states:us-east-1:123456789012:execution:run-workflow:{workflow_id}"

    def stop(self, execution_arn: str, cause: str) -> None:
        self.stopped.append((execution_arn, cause))

    def send_success(self, token: str, output: dict[str, Any]) -> None:
        self.answers[token] = output


@dataclass
class Workflows:
    clock: FakeClock
    repo: InMemoryWorkflowRepository
    machine: FakeStateMachine
    service: WorkflowService
    engine: WorkflowEngine
    notified: list[Workflow]

    def start(self, steps: list[dict[str, Any]], **execute: Any) -> str:
        wf = self.service.create(
            USER, template_name=None, definition={"name": "Test", "steps": steps}, parameters={}
        )
        options = {"auto_approve": False, "notify": None} | execute
        self.service.execute(USER, wf.workflow_id, **options)
        return wf.workflow_id

    def step(self, workflow_id: str, step_id: str) -> StepState:
        return self.service.get(USER, workflow_id).step_state(step_id)


def workflows(*actions: Action, repo: InMemoryWorkflowRepository | None = None) -> Workflows:
    clock = FakeClock(NOW)
    repo = repo or InMemoryWorkflowRepository()
    machine = FakeStateMachine()
    registry = {a.name: a for a in actions}
    notified: list[Workflow] = []
    services = ActionServices(_unused, _unused, _unused, _unused, _unused, _unused)

    def evaluate(gate: dict[str, Any], output: dict[str, Any]) -> Any:
        return gates.evaluate(gate, output, http=None, settings=Settings())

    engine = WorkflowEngine(
        repo, lambda: registry, services, machine, evaluate, clock, notify=notified.append
    )
    service = WorkflowService(repo, machine, lambda: registry, gates.check_gate_definition, clock)
    return Workflows(clock, repo, machine, service, engine, notified)


def length_gate(maximum: int, fixes: int) -> dict[str, Any]:
    return {"type": "validation", "rules": {"maxLength": maximum}, "maxFixAttempts": fixes}


# -- plan ------------------------------------------------------------------------------------------


def test_plan_starts_the_steps_whose_dependencies_are_met_then_those_they_unblock() -> None:
    writer, echo = Writer(SHORT), Scripted()
    w = workflows(writer, echo)
    wf = w.start(
        [
            {"id": "draft", "action": "write"},
            {
                "id": "post",
                "action": "scripted",
                "dependsOn": ["draft"],
                "parameters": {"text": "${steps.draft.output.text}"},
            },
            {"id": "log", "action": "scripted"},
        ]
    )
    assert w.machine.started == [wf]
    assert w.service.get(USER, wf).status == WorkflowStatus.ACTIVE

    assert w.engine.plan(USER, wf) == {"status": "run", "steps": ["draft", "log"]}
    assert (w.step(wf, "draft").status, w.step(wf, "draft").started_at) == (StepStatus.RUNNING, NOW)
    assert w.step(wf, "post").status == StepStatus.PENDING

    for step in ("draft", "log"):
        assert w.engine.run_step(USER, wf, step) == {"next": "done"}
    assert w.engine.plan(USER, wf) == {"status": "run", "steps": ["post"]}
    assert w.engine.run_step(USER, wf, "post") == {"next": "done"}
    assert echo.calls[-1] == {"text": SHORT}  # the draft's output, resolved into the next step

    assert w.engine.plan(USER, wf) == {"status": "done", "steps": []}
    assert w.engine.finish(USER, wf) == {"status": "completed"}
    done = w.service.get(USER, wf)
    assert (done.status, done.completed_at, done.metrics()["completed"]) == (WorkflowStatus.COMPLETED, NOW, 3)


# -- gates -----------------------------------------------------------------------------------------


def test_a_step_that_passes_its_gate_completes_and_the_user_is_notified_at_the_end() -> None:
    w = workflows(Writer(SHORT))
    notify = {"channel": "webhook", "url": "https://hooks.example/done"}
    wf = w.start([{"id": "draft", "action": "write", "gates": [length_gate(40, 0)]}], notify=notify)
    w.engine.plan(USER, wf)

    assert w.engine.run_step(USER, wf, "draft") == {"next": "done"}
    state = w.step(wf, "draft")
    assert state.status == StepStatus.COMPLETED
    assert state.output == {"text": SHORT}
    assert state.gate_results == [{"type": "validation", "passed": True, "reasons": []}]

    assert w.engine.finish(USER, wf) == {"status": "completed"}
    assert [(n.workflow_id, n.status) for n in w.notified] == [(wf, WorkflowStatus.COMPLETED)]


def test_a_gate_failure_sends_its_reasons_to_a_fix_attempt_which_can_pass() -> None:
    writer = Writer(LONG, fixed=SHORT)
    w = workflows(writer)
    wf = w.start([{"id": "draft", "action": "write", "gates": [length_gate(40, 2)]}])
    w.engine.plan(USER, wf)
    reason = f"text is {len(LONG)} characters; at most 40 allowed"

    assert w.engine.run_step(USER, wf, "draft") == {"next": "retry", "waitSeconds": 0}
    retrying = w.step(wf, "draft")
    assert (retrying.status, retrying.fix_attempts, retrying.feedback) == (StepStatus.RUNNING, 1, [reason])

    assert w.engine.run_step(USER, wf, "draft") == {"next": "done"}
    assert writer.feedback_seen == [(), (reason,)]
    fixed = w.step(wf, "draft")
    assert (fixed.status, fixed.output, fixed.attempts, fixed.feedback) == (
        StepStatus.COMPLETED,
        {"text": SHORT},
        2,
        [],
    )


def test_a_gate_still_failing_after_the_fix_attempts_fails_the_step_and_the_workflow() -> None:
    writer = Writer(LONG)  # cannot fix anything
    w = workflows(writer)
    wf = w.start([{"id": "draft", "action": "write", "gates": [length_gate(40, 1)]}])
    w.engine.plan(USER, wf)

    assert w.engine.run_step(USER, wf, "draft") == {"next": "retry", "waitSeconds": 0}
    assert w.engine.run_step(USER, wf, "draft") == {"next": "done"}
    assert len(writer.feedback_seen) == 2
    state = w.step(wf, "draft")
    assert (state.status, state.error_code) == (StepStatus.FAILED, "gate_failed")
    assert state.error == (
        "the validation gate failed after 1 fix attempt(s): "
        f"text is {len(LONG)} characters; at most 40 allowed"
    )

    assert w.engine.plan(USER, wf) == {"status": "failed", "steps": []}
    assert w.engine.finish(USER, wf) == {"status": "failed"}
    failed = w.service.get(USER, wf)
    assert failed.status == WorkflowStatus.FAILED
    assert (failed.failure_reason or "").startswith("step draft failed: the validation gate failed")


def test_a_retryable_failure_waits_by_the_retry_policy_and_a_permanent_one_fails_at_once() -> None:
    flaky = Scripted([ActionFailed("upstream 503", retryable=True), {"sent": True}])
    refused = Scripted([ActionFailed("account suspended")], name="refuse")
    w = workflows(flaky, refused)
    retry = {"attempts": 3, "initialIntervalSeconds": 10, "backoffRate": 3}
    wf = w.start(
        [
            {"id": "send", "action": "scripted", "retry": retry},
            {"id": "extra", "action": "refuse", "retry": retry, "optional": True},
        ]
    )
    w.engine.plan(USER, wf)

    assert w.engine.run_step(USER, wf, "send") == {"next": "retry", "waitSeconds": 10}
    assert (w.step(wf, "send").status, w.step(wf, "send").error) == (StepStatus.RUNNING, "upstream 503")
    assert w.engine.run_step(USER, wf, "send") == {"next": "done"}
    assert (w.step(wf, "send").status, w.step(wf, "send").attempts) == (StepStatus.COMPLETED, 2)

    assert w.engine.run_step(USER, wf, "extra") == {"next": "done"}
    assert len(refused.calls) == 1
    assert (w.step(wf, "extra").status, w.step(wf, "extra").error) == (
        StepStatus.SKIPPED,
        "account suspended",
    )
    assert w.engine.finish(USER, wf) == {"status": "completed"}  # the failed step was optional


# -- people ----------------------------------------------------------------------------------------


def test_an_approval_waits_on_its_task_token_until_the_user_approves() -> None:
    w = workflows(Writer(SHORT))
    wf = w.start([{"id": "draft", "action": "write", "gates": [{"type": "approval"}]}])
    w.engine.plan(USER, wf)

    assert w.engine.run_step(USER, wf, "draft") == {"next": "approval"}
    assert w.engine.await_approval(USER, wf, "draft", "token-1") == {"waiting": True}
    assert w.step(wf, "draft").status == StepStatus.AWAITING_APPROVAL
    assert w.machine.answers == {}

    w.clock.advance(timedelta(hours=3))
    w.service.approve(USER, wf, "draft")
    assert w.machine.answers == {"token-1": {"decision": "approved"}}
    state = w.step(wf, "draft")
    assert state.status == StepStatus.COMPLETED
    assert state.approval is not None
    assert (state.approval.decision, state.approval.by, state.ended_at) == (
        "approved",
        USER,
        NOW + timedelta(hours=3),
    )
    with pytest.raises(Conflict):
        w.service.approve(USER, wf, "draft")  # decided once
    assert w.engine.finish(USER, wf) == {"status": "completed"}


def test_a_decision_made_before_the_token_arrives_is_answered_at_once() -> None:
    w = workflows(Writer(SHORT))
    wf = w.start([{"id": "draft", "action": "write", "gates": [{"type": "approval"}]}])
    w.engine.plan(USER, wf)
    w.engine.run_step(USER, wf, "draft")

    w.service.reject(USER, wf, "draft", "wrong price")
    assert w.engine.await_approval(USER, wf, "draft", "token-2") == {"waiting": False}
    assert w.machine.answers == {"token-2": {"decided": True}}
    assert (w.step(wf, "draft").status, w.step(wf, "draft").error) == (
        StepStatus.FAILED,
        "rejected: wrong price",
    )
    assert w.engine.finish(USER, wf) == {"status": "failed"}
    assert w.service.get(USER, wf).failure_reason == "step draft was rejected: wrong price"


def test_auto_approve_completes_an_approval_step_without_waiting() -> None:
    w = workflows(Writer(SHORT))
    wf = w.start([{"id": "draft", "action": "write", "gates": [{"type": "approval"}]}], auto_approve=True)
    w.engine.plan(USER, wf)

    assert w.engine.run_step(USER, wf, "draft") == {"next": "done"}
    approval = w.step(wf, "draft").approval
    assert approval is not None
    assert approval.decision == "auto_approved"


def test_a_paused_workflow_plans_nothing_until_resumed_through_its_token() -> None:
    w = workflows(Scripted())
    wf = w.start([{"id": "one", "action": "scripted"}])

    w.service.pause(USER, wf)
    assert w.engine.plan(USER, wf) == {"status": "paused", "steps": []}
    assert w.engine.await_resume(USER, wf, "resume-1") == {"waiting": True}
    assert w.machine.answers == {}

    w.service.resume(USER, wf)
    assert w.machine.answers == {"resume-1": {"resumed": True}}
    assert w.engine.plan(USER, wf) == {"status": "run", "steps": ["one"]}
    # a resume that comes before the pause's token: the token is answered as soon as it arrives
    assert w.engine.await_resume(USER, wf, "resume-2") == {"waiting": False}
    assert w.machine.answers["resume-2"] == {"resumed": True}


def test_cancel_stops_the_execution_skips_what_is_left_and_runs_nothing_more() -> None:
    action = Scripted()
    w = workflows(action)
    wf = w.start(
        [
            {"id": "first", "action": "scripted"},
            {"id": "second", "action": "scripted", "dependsOn": ["first"]},
        ],
        notify={"channel": "webhook", "url": "https://hooks.example/done"},
    )
    w.engine.plan(USER, wf)

    cancelled = w.service.cancel(USER, wf)
    assert cancelled.status == WorkflowStatus.CANCELLED
    assert w.machine.stopped == [
        (f"arn:aws:states:us-east-1:123456789012:execution:run-workflow:{wf}", "cancelled by the user")
    ]
    assert {s.step_id: (s.status, s.error) for s in cancelled.steps.values()} == {
        "first": (StepStatus.SKIPPED, "cancelled"),
        "second": (StepStatus.SKIPPED, "cancelled"),
    }
    # the execution's tasks that were already under way find nothing to do
    assert w.engine.run_step(USER, wf, "first") == {"next": "done"}
    assert action.calls == []
    assert w.engine.plan(USER, wf) == {"status": "cancelled", "steps": []}
    assert w.engine.finish(USER, wf) == {"status": "cancelled"}
    assert w.notified == []
    with pytest.raises(Conflict) as info:
        w.service.resume(USER, wf)
    assert info.value.code == "invalid_workflow_state"


def test_a_step_whose_turn_comes_while_a_cancel_is_being_recorded_runs_nothing() -> None:
    action = Scripted()
    w = workflows(action)
    wf = w.start([{"id": "first", "action": "scripted"}])
    w.engine.plan(USER, wf)
    # the cancel's first write (the workflow's status) is in; its steps are not marked yet
    w.repo.update(USER, wf, NOW, set_fields={"status": str(WorkflowStatus.CANCELLED)})

    assert w.engine.run_step(USER, wf, "first") == {"next": "done"}
    assert action.calls == []


def test_a_step_that_crashed_or_whose_approval_timed_out_ends_with_the_reason() -> None:
    w = workflows(Writer(SHORT))
    wf = w.start(
        [
            {"id": "draft", "action": "write", "gates": [{"type": "approval", "timeoutHours": 1}]},
            {"id": "other", "action": "write"},
        ]
    )
    w.engine.plan(USER, wf)
    w.engine.run_step(USER, wf, "draft")

    timeout = {"Error": "States.Timeout", "Cause": ""}
    assert w.engine.step_crashed(USER, wf, "draft", timeout) == {"next": "done"}
    crash = {"Error": "Lambda.Unknown", "Cause": "The function timed out"}
    assert w.engine.step_crashed(USER, wf, "other", crash) == {"next": "done"}
    draft, other = w.step(wf, "draft"), w.step(wf, "other")
    assert (draft.status, draft.error_code, draft.error) == (
        StepStatus.FAILED,
        "timeout",
        "no decision before the approval timed out",
    )
    assert (other.error_code, other.error) == ("crashed", "Lambda.Unknown: The function timed out")


# -- the workflow function's events ----------------------------------------------------------------


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / f"{name}.json").read_text()))


def test_the_sample_events_plan_run_and_finish_a_workflow_through_the_handlers_use_case() -> None:
    w = workflows(Writer(SHORT))
    plan = sample("plan")
    user, workflow_id = plan["userId"], plan["workflowId"]
    w.repo.create(
        Workflow(
            user_id=user,
            workflow_id=workflow_id,
            name="Sample",
            definition={"name": "Sample", "steps": [{"id": "check", "action": "write"}]},
            status=WorkflowStatus.ACTIVE,
            created_at=NOW,
            updated_at=NOW,
            steps={"check": StepState(step_id="check")},
        )
    )
    tasks = TaskService(InMemoryTaskRepository(), _unused, dict, w.engine.services, w.clock, [])

    def handle(event: dict[str, Any], *, engine: Callable[[], WorkflowEngine] = lambda: w.engine) -> Any:
        return handle_step_event(WorkflowStepEvent.parse(event), engine=engine, tasks=lambda: tasks)

    assert handle(plan) == {"status": "run", "steps": ["check"]}
    assert handle(sample("run_step")) == {"next": "done"}
    assert handle(sample("finish")) == {"status": "completed"}
    assert handle(sample("run_task"), engine=_unused) == {"status": "skipped"}  # no such task


def test_each_workflow_task_event_reaches_its_part_of_the_engine() -> None:
    w = workflows(Writer(SHORT))
    wf = w.start(
        [
            {"id": "draft", "action": "write", "gates": [{"type": "approval"}]},
            {"id": "other", "action": "write"},
        ]
    )

    def send(action: str, **fields: Any) -> Any:
        event = {"action": action, "userId": USER, "workflowId": wf, **fields}
        return handle_step_event(WorkflowStepEvent.parse(event), engine=lambda: w.engine, tasks=_unused)

    assert send("plan") == {"status": "run", "steps": ["draft", "other"]}
    assert send("run_step", stepId="draft") == {"next": "approval"}
    assert send("await_approval", stepId="draft", token="token-1") == {"waiting": True}
    crash = {"Error": "Lambda.Unknown", "Cause": "out of memory"}
    assert send("step_crashed", stepId="other", error=crash) == {"next": "done"}
    w.service.pause(USER, wf)
    assert send("await_resume", token="token-2") == {"waiting": True}

    w.service.resume(USER, wf)
    w.service.approve(USER, wf, "draft")
    assert w.machine.answers == {"token-2": {"resumed": True}, "token-1": {"decision": "approved"}}
    assert send("finish") == {"status": "failed"}
    assert w.service.get(USER, wf).failure_reason == "step other failed: Lambda.Unknown: out of memory"


@pytest.mark.parametrize(
    ("event", "named"),
    [
        ({"action": "run_step", "userId": "u", "workflowId": "w"}, "stepId"),
        ({"action": "explode", "userId": "u", "workflowId": "w"}, "'explode'"),
        ({"userId": "u", "workflowId": "w"}, "action"),
        ({"action": "await_approval", "userId": "u", "workflowId": "w", "stepId": "s", "token": ""}, "token"),
        ({"action": "run_task", "userId": "u", "taskId": "t", "run": "first"}, "run"),
    ],
)
def test_an_event_that_is_not_one_of_the_workflow_tasks_is_refused_naming_what_is_wrong(
    event: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError) as info:
        WorkflowStepEvent.parse(event)
    assert named in str(info.value)
