"""Scheduled tasks: a run is claimed once (a late or repeated delivery, or a second runner, does
nothing), failures come back after the configured waits until the retries are used up, a runner that
died mid-run is recovered, and a pending task can be cancelled. The task service gets the in-memory
repository, a fake clock and scripted actions as parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tidings.core.clock import FakeClock
from tidings.core.errors import Conflict, ValidationFailed
from tidings.models.tasks import Task, TaskStatus
from tidings.models.workflows import Workflow, WorkflowStatus
from tidings.store.memory.tasks import InMemoryTaskRepository
from tidings.store.memory.workflows import InMemoryWorkflowRepository
from tidings.store.tasks import TaskRepository, touched
from tidings.workflows import gates
from tidings.workflows.action import ActionContext, ActionFailed, ActionServices
from tidings.workflows.service import WorkflowService
from tidings.workflows.tasks import TaskService

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
DUE = NOW + timedelta(minutes=30)
USER = "agent-3"
WAITS = [300, 900, 2700]


class RunnerKilled(BaseException):
    """The Lambda runtime ending a run mid-way (a timeout): nothing in the service catches it."""


@dataclass
class Outcomes:
    """An action whose runs take the next scripted outcome (an exception to raise, or an output)."""

    script: list[BaseException | dict[str, Any]] = field(default_factory=list)
    name: str = "post_digest"
    description: str = "sends the weekly digest"
    attempts: list[int] = field(default_factory=list)

    def check_params(self, params: dict[str, Any]) -> list[str]:
        return [] if params.get("audience") in (None, "all", "leads") else ["audience is all or leads"]

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        self.attempts.append(ctx.attempt)
        outcome = self.script.pop(0) if self.script else {"sent": 12}
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class InterleavedRepository:
    """A TaskRepository through which `meanwhile` happens once, right after the first read of a task:
    another runner (or a cancel) acting between this service's read and its conditional write."""

    def __init__(self, inner: TaskRepository, meanwhile: Callable[[], object]) -> None:
        self.inner = inner
        self.meanwhile: Callable[[], object] | None = meanwhile

    def _interleave(self) -> None:
        if self.meanwhile is not None:
            action, self.meanwhile = self.meanwhile, None
            action()

    def create(self, task: Task, *, limit: int, draft: Workflow | None = None) -> None:
        self.inner.create(task, limit=limit, draft=draft)

    def get(self, user_id: str, task_id: str) -> Task | None:
        task = self.inner.get(user_id, task_id)
        self._interleave()
        return task

    def all(self, user_id: str) -> list[Task]:
        return self.inner.all(user_id)

    def running_since(self, before: datetime, limit: int = 100) -> list[Task]:
        tasks = self.inner.running_since(before, limit)
        self._interleave()
        return tasks

    def replace(self, task: Task, expect: TaskStatus, *, attempts: int | None = None) -> None:
        self.inner.replace(task, expect, attempts=attempts)


def _unused() -> Any:
    raise AssertionError("this collaborator should not be used")


class NoWorkflows:
    """The workflow service of an action task: asked only which recipients are unconfirmed (none)."""

    def unconfirmed_recipients(self, user_id: str, action: str, parameters: dict[str, Any]) -> list[str]:
        return []

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"an action task should not use the workflow service's {name}")


def task_service(
    action: Outcomes,
    clock: FakeClock,
    repo: TaskRepository | None = None,
    workflows: Callable[[], WorkflowService] = NoWorkflows,  # type: ignore[assignment]
) -> TaskService:
    services = ActionServices(_unused, _unused, _unused, _unused, _unused, _unused)
    return TaskService(
        repo or InMemoryTaskRepository(), workflows, lambda: {action.name: action}, services, clock, WAITS
    )


def schedule(service: TaskService, retries: int = 3, parameters: dict[str, Any] | None = None) -> str:
    config = {"action": "post_digest", "parameters": parameters or {"audience": "leads"}}
    return service.create(USER, "action", DUE.isoformat(), config, retries).task_id


def test_a_failing_task_comes_back_after_each_configured_wait_until_it_succeeds() -> None:
    clock = FakeClock(NOW)
    action = Outcomes([ActionFailed("mail API 503", retryable=True), TimeoutError(), {"sent": 40}])
    service = task_service(action, clock)
    task_id = schedule(service)
    assert service.get(USER, task_id).next_run_at == DUE

    clock.set(DUE)
    assert service.run(USER, task_id, run=0) == {"status": "retry", "inSeconds": 300}
    waiting = service.get(USER, task_id)
    assert (waiting.status, waiting.attempts, waiting.last_error) == (TaskStatus.PENDING, 1, "mail API 503")
    assert waiting.next_run_at == DUE + timedelta(seconds=300)

    clock.advance(timedelta(seconds=300))
    assert service.run(USER, task_id, run=1) == {"status": "retry", "inSeconds": 900}
    assert service.get(USER, task_id).last_error == "TimeoutError"  # an unexpected error is retried too

    clock.advance(timedelta(seconds=900))
    assert service.run(USER, task_id, run=2) == {"status": "completed"}
    done = service.get(USER, task_id)
    assert (done.status, done.result, done.last_error, done.completed_at) == (
        TaskStatus.COMPLETED,
        {"sent": 40},
        None,
        DUE + timedelta(seconds=1200),
    )
    assert [h["outcome"] for h in done.history] == ["failed", "failed", "completed"]
    assert action.attempts == [1, 2, 3]


def test_a_task_fails_with_the_reason_once_its_retries_are_used_up_or_at_once_when_permanent() -> None:
    clock = FakeClock(NOW)
    unavailable = ActionFailed("mail API 503", retryable=True)
    action = Outcomes([unavailable, unavailable, ActionFailed("unsubscribed")])
    service = task_service(action, clock)
    flaky, refused = schedule(service, retries=1), schedule(service, retries=3)

    clock.set(DUE)
    assert service.run(USER, flaky, run=0) == {"status": "retry", "inSeconds": 300}
    clock.advance(timedelta(seconds=300))
    assert service.run(USER, flaky, run=1) == {"status": "failed"}
    failed = service.get(USER, flaky)
    assert (failed.status, failed.attempts, failed.last_error) == (TaskStatus.FAILED, 2, "mail API 503")

    assert service.run(USER, refused, run=0) == {"status": "failed"}
    assert service.get(USER, refused).last_error == "unsubscribed"
    assert service.stats(USER) == {
        "total": 2,
        "pending": 0,
        "running": 0,
        "completed": 0,
        "failed": 2,
        "cancelled": 0,
    }


def test_a_late_or_repeated_delivery_of_a_run_does_nothing() -> None:
    clock = FakeClock(NOW)
    action = Outcomes([ActionFailed("mail API 503", retryable=True)])
    service = task_service(action, clock)
    task_id = schedule(service)
    clock.set(DUE)

    assert service.run(USER, task_id, run=0) == {"status": "retry", "inSeconds": 300}
    assert service.run(USER, task_id, run=0) == {"status": "skipped"}  # the first schedule, delivered again
    clock.advance(timedelta(seconds=300))
    assert service.run(USER, task_id, run=1) == {"status": "completed"}
    assert service.run(USER, task_id, run=1) == {"status": "skipped"}
    assert service.run(USER, "no-such-task") == {"status": "skipped"}
    assert action.attempts == [1, 2]


@pytest.mark.parametrize(
    ("first", "outcome"),
    [
        ({"sent": 12}, {"status": "completed"}),
        (ActionFailed("503", retryable=True), {"status": "retry", "inSeconds": 300}),
    ],
)
def test_two_runners_of_the_same_run_run_it_once(
    first: ActionFailed | dict[str, Any], outcome: dict[str, Any]
) -> None:
    clock = FakeClock(NOW)
    action = Outcomes([first])
    shared = InMemoryTaskRepository()
    other = task_service(action, clock, shared)
    task_id = schedule(other)
    clock.set(DUE)
    results: list[dict[str, Any]] = []
    # this runner reads the pending task, then the other runner claims the run and ends it first
    # (completed, or failed and pending again for its next run)
    racing = InterleavedRepository(shared, lambda: results.append(other.run(USER, task_id, run=0)))
    late = task_service(action, clock, racing)

    assert late.run(USER, task_id, run=0) == {"status": "skipped"}
    assert results == [outcome]
    assert action.attempts == [1]
    assert late.get(USER, task_id).attempts == 1


def test_a_run_whose_runner_died_is_retried_once_it_is_stale_and_then_runs_normally() -> None:
    clock = FakeClock(NOW)
    action = Outcomes([RunnerKilled()])
    service = task_service(action, clock)
    task_id = schedule(service, retries=2)
    clock.set(DUE)
    with pytest.raises(RunnerKilled):
        service.run(USER, task_id, run=0)
    assert service.get(USER, task_id).status == TaskStatus.RUNNING

    clock.advance(timedelta(minutes=10))
    assert service.recover_stale(timedelta(minutes=15)) == {"recovered": 0, "failed": 0}
    assert service.get(USER, task_id).status == TaskStatus.RUNNING  # it may still finish

    clock.advance(timedelta(minutes=6))
    assert service.recover_stale(timedelta(minutes=15)) == {"recovered": 1, "failed": 0}
    retried = service.get(USER, task_id)
    assert (retried.status, retried.attempts) == (TaskStatus.PENDING, 1)
    assert retried.next_run_at == clock.now() + timedelta(seconds=300)
    assert "runner stopped" in (retried.last_error or "")

    clock.advance(timedelta(seconds=300))
    assert service.run(USER, task_id, run=1) == {"status": "completed"}
    assert action.attempts == [1, 2]


def test_a_stale_claim_loses_to_the_run_that_finished_meanwhile() -> None:
    clock = FakeClock(NOW)
    shared = InMemoryTaskRepository()
    service = task_service(Outcomes(), clock, shared)
    task_id = schedule(service)
    clock.set(DUE)
    pending = service.get(USER, task_id)
    running = touched(pending, clock.now(), status=TaskStatus.RUNNING, attempts=1)
    shared.replace(running, TaskStatus.PENDING, attempts=0)  # a slow runner's claim
    clock.advance(timedelta(minutes=20))
    finished = touched(running, clock.now(), status=TaskStatus.COMPLETED, result={"sent": 3})
    # the recovery lists the run as stale, then the slow runner records its result
    racing = InterleavedRepository(shared, lambda: shared.replace(finished, TaskStatus.RUNNING))
    recovery = task_service(Outcomes(), clock, racing)

    assert recovery.recover_stale(timedelta(minutes=15)) == {"recovered": 0, "failed": 0}
    done = service.get(USER, task_id)
    assert (done.status, done.result, done.attempts) == (TaskStatus.COMPLETED, {"sent": 3}, 1)


def test_only_a_pending_task_can_be_cancelled_and_a_cancel_loses_to_a_run_that_started() -> None:
    clock = FakeClock(NOW)
    action = Outcomes()
    shared = InMemoryTaskRepository()
    service = task_service(action, clock, shared)
    kept, ran, raced = schedule(service), schedule(service), schedule(service)

    cancelled = service.cancel(USER, kept)
    assert (cancelled.status, cancelled.completed_at) == (TaskStatus.CANCELLED, NOW)
    clock.set(DUE)
    assert service.run(USER, kept, run=0) == {"status": "skipped"}
    service.run(USER, ran, run=0)
    with pytest.raises(Conflict) as info:
        service.cancel(USER, ran)
    assert info.value.code == "task_not_cancellable"

    racing = InterleavedRepository(shared, lambda: service.run(USER, raced, run=0))
    with pytest.raises(Conflict) as info:
        task_service(action, clock, racing).cancel(USER, raced)
    assert "started meanwhile" in info.value.message
    assert service.get(USER, raced).status == TaskStatus.COMPLETED
    assert action.attempts == [1, 1]


@pytest.mark.parametrize(
    ("when", "config", "retries", "code"),
    [
        (NOW - timedelta(minutes=1), {"action": "post_digest"}, 1, "scheduled_time_in_past"),
        (DUE, {"action": "post_weekly"}, 1, "unknown_action"),
        (DUE, {"action": "post_digest", "parameters": {"audience": "everyone"}}, 1, "invalid_parameters"),
        (DUE, {"action": "post_digest"}, 11, "invalid_max_retries"),
        (DUE.replace(tzinfo=None), {"action": "post_digest"}, 1, "invalid_time"),
    ],
)
def test_a_task_that_could_never_run_is_refused_when_it_is_created(
    when: datetime, config: dict[str, Any], retries: int, code: str
) -> None:
    service = task_service(Outcomes(), FakeClock(NOW))
    with pytest.raises(ValidationFailed) as info:
        service.create(USER, "action", when.isoformat(), config, retries)
    assert info.value.code == code
    assert service.list_tasks(USER, None) == []


def test_a_workflow_task_creates_the_workflow_at_once_and_executes_it_when_due() -> None:
    clock = FakeClock(NOW)
    started: list[str] = []

    class Runner:
        def start(self, user_id: str, workflow_id: str) -> str:
            started.append(workflow_id)
            return f"arn:execution:{workflow_id}"

        def stop(self, execution_arn: str, cause: str) -> None:
            raise AssertionError("nothing is cancelled here")

        def send_success(self, token: str, output: dict[str, Any]) -> None:
            raise AssertionError("nothing waits here")

    action = Outcomes()
    stored = InMemoryWorkflowRepository()
    workflows = WorkflowService(
        stored,
        Runner(),
        lambda: {action.name: action},
        gates.check_gate_definition,
        clock,
    )
    service = task_service(action, clock, InMemoryTaskRepository(stored), workflows=lambda: workflows)
    definition = {"name": "Digest", "steps": [{"id": "send", "action": "post_digest"}]}

    with pytest.raises(ValidationFailed) as info:
        service.create(USER, "workflow", DUE.isoformat(), {"definition": {"name": "Empty", "steps": []}}, 0)
    assert info.value.code == "invalid_definition"
    task = service.create(
        USER, "workflow", DUE.isoformat(), {"definition": definition, "autoApprove": True}, 0
    )
    workflow_id = task.config["workflowId"]
    assert workflows.get(USER, workflow_id).status == WorkflowStatus.DRAFT
    assert started == []

    clock.set(DUE)
    assert service.run(USER, task.task_id, run=0) == {"status": "completed"}
    assert started == [workflow_id]
    assert service.get(USER, task.task_id).result == {"workflowId": workflow_id, "workflowStatus": "active"}
    assert workflows.get(USER, workflow_id).auto_approve is True


def test_an_action_task_mailing_an_address_not_confirmed_is_refused_when_created() -> None:
    from tidings.notifications.service import RecipientUnconfirmed
    from tidings.workflows.actions import registry
    from tidings.workflows.gates import check_gate_definition

    confirmed = {"ops@harbour.example"}
    workflows = WorkflowService(
        None,  # type: ignore[arg-type]  # nothing is stored
        None,  # type: ignore[arg-type]
        registry,
        check_gate_definition,
        FakeClock(NOW),
        quota=10,
        unconfirmed=lambda user, emails: [e for e in emails if e not in confirmed],
    )
    repo = InMemoryTaskRepository()
    service = TaskService(
        repo, lambda: workflows, registry, ActionServices(*[_unused] * 6), FakeClock(NOW), WAITS
    )

    def mail(to: list[str]) -> Task:
        parameters = {"channel": "email", "to": to, "subject": "Weekly", "body": "Report"}
        config = {"action": "send_notification", "parameters": parameters}
        return service.create(USER, "action", DUE.isoformat(), config, 0)

    with pytest.raises(RecipientUnconfirmed) as refused:
        mail(["ops@harbour.example", "list@elsewhere.example"])
    assert (refused.value.status, refused.value.code) == (422, "recipient_unconfirmed")
    assert refused.value.details == {"addresses": ["list@elsewhere.example"]}
    assert repo.all(USER) == []  # nothing scheduled
    assert mail(["ops@harbour.example"]).config["parameters"]["to"] == ["ops@harbour.example"]
