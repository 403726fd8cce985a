"""Scheduled tasks against DynamoDB Local: a run is claimed once, failures retry after the configured
waits up to maxRetries, then fail with the reason; finished tasks carry their TTL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.local.provision import LocalStack
from tidings.core.clock import FakeClock
from tidings.core.errors import Conflict, ValidationFailed
from tidings.models.tasks import TaskStatus
from tidings.store import keys
from tidings.store.dynamo import deserialize, serialize
from tidings.store.tasks import DynamoTaskRepository
from tidings.workflows.action import ActionContext, ActionFailed, ActionServices
from tidings.workflows.tasks import TaskService

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


class Flaky:
    name = "flaky"
    description = "fails as scripted"

    def __init__(self) -> None:
        self.script: list[str] = []
        self.runs: list[int] = []

    def check_params(self, params: dict[str, Any]) -> list[str]:
        return []

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        self.runs.append(ctx.attempt)
        step = self.script.pop(0) if self.script else "ok"
        if step == "retryable":
            raise ActionFailed("upstream 503", retryable=True)
        if step == "permanent":
            raise ActionFailed("refused for good")
        return {"ok": True}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def flaky() -> Flaky:
    return Flaky()


@pytest.fixture
def service(local_stack: LocalStack, clock: FakeClock, flaky: Flaky) -> TaskService:
    repo = DynamoTaskRepository(local_stack.table_name, local_stack.client("dynamodb"))
    unused: Any = None
    services = ActionServices(unused, unused, unused, unused, unused, unused)
    workflows: Any = NoRecipients()
    return TaskService(repo, lambda: workflows, lambda: {"flaky": flaky}, services, clock, [300, 900, 2700])


class NoRecipients:
    """The workflow service as these tasks need it: an action task is checked for e-mail recipients
    not confirmed (none here, the action sends no mail)."""

    def unconfirmed_recipients(self, user_id: str, action: str, params: dict[str, Any]) -> list[str]:
        return []


@pytest.fixture
def user() -> str:
    return f"agent-{uuid.uuid4().hex[:8]}"


def schedule(service: TaskService, user: str, retries: int = 3) -> str:
    task = service.create(
        user, "action", NOW + timedelta(minutes=5), {"action": "flaky", "parameters": {}}, retries
    )
    return task.task_id


def test_a_run_is_claimed_once_and_completes(
    service: TaskService, clock: FakeClock, flaky: Flaky, user: str
) -> None:
    task_id = schedule(service, user)
    clock.set(NOW + timedelta(minutes=5))

    assert service.run(user, task_id, run=0) == {"status": "completed"}
    assert service.run(user, task_id, run=0) == {"status": "skipped"}  # a repeated delivery
    task = service.get(user, task_id)
    assert (task.status, task.attempts, task.result) == (TaskStatus.COMPLETED, 1, {"ok": True})
    assert flaky.runs == [1]


def test_failures_wait_the_configured_intervals_then_fail_with_the_reason(
    service: TaskService, local_stack: LocalStack, clock: FakeClock, flaky: Flaky, user: str
) -> None:
    flaky.script = ["retryable", "retryable", "retryable"]
    task_id = schedule(service, user, retries=2)
    clock.set(NOW + timedelta(minutes=5))

    assert service.run(user, task_id, run=0) == {"status": "retry", "inSeconds": 300}
    first = service.get(user, task_id)
    assert (first.status, first.next_run_at) == (TaskStatus.PENDING, NOW + timedelta(minutes=10))
    assert service.run(user, task_id, run=0) == {"status": "skipped"}  # the old schedule, late
    clock.advance(timedelta(minutes=5))
    assert service.run(user, task_id, run=1) == {"status": "retry", "inSeconds": 900}
    clock.advance(timedelta(minutes=15))
    assert service.run(user, task_id, run=2) == {"status": "failed"}

    task = service.get(user, task_id)
    assert (task.status, task.attempts, task.last_error) == (TaskStatus.FAILED, 3, "upstream 503")
    assert [h["outcome"] for h in task.history] == ["failed", "failed", "failed"]
    raw = local_stack.client("dynamodb").get_item(
        TableName=local_stack.table_name,
        Key=serialize({"PK": keys.user_pk(user), "SK": keys.task_sk(task_id)}),
    )["Item"]
    assert deserialize(raw)["expiresAt"] == int((clock.now() + timedelta(days=30)).timestamp())


def test_a_permanent_failure_is_not_retried(
    service: TaskService, clock: FakeClock, flaky: Flaky, user: str
) -> None:
    flaky.script = ["permanent"]
    task_id = schedule(service, user)
    clock.set(NOW + timedelta(minutes=5))

    assert service.run(user, task_id, run=0) == {"status": "failed"}
    assert service.get(user, task_id).last_error == "refused for good"


def test_cancel_stats_and_bad_requests(service: TaskService, clock: FakeClock, user: str) -> None:
    done, pending = schedule(service, user), schedule(service, user)
    clock.set(NOW + timedelta(minutes=5))
    service.run(user, done, run=0)

    assert service.cancel(user, pending).status == TaskStatus.CANCELLED
    with pytest.raises(Conflict):
        service.cancel(user, done)
    assert service.stats(user) == {
        "total": 2,
        "pending": 0,
        "running": 0,
        "completed": 1,
        "failed": 0,
        "cancelled": 1,
    }
    later = clock.now() + timedelta(minutes=1)
    for when, config, retries, code in (
        (clock.now() - timedelta(minutes=1), {"action": "flaky"}, 1, "scheduled_time_in_past"),
        (later, {"action": "nope"}, 1, "unknown_action"),
        (later, {"action": "flaky"}, 11, "invalid_max_retries"),
    ):
        with pytest.raises(ValidationFailed) as info:
            service.create(user, "action", when, config, retries)
        assert info.value.code == code


def _die_mid_run(service: TaskService, user: str, task_id: str, clock: FakeClock) -> None:
    """What a runner that crashed (or timed out) after claiming the run leaves behind."""
    from tidings.store.tasks import touched

    task = service.get(user, task_id)
    running = touched(task, clock.now(), status=TaskStatus.RUNNING, attempts=task.attempts + 1)
    service.repo.replace(running, TaskStatus.PENDING, attempts=task.attempts)


def test_a_run_whose_runner_died_is_retried_then_failed(
    service: TaskService, clock: FakeClock, flaky: Flaky, user: str
) -> None:
    task_id = schedule(service, user, retries=1)
    clock.set(NOW + timedelta(minutes=5))
    _die_mid_run(service, user, task_id, clock)

    clock.advance(timedelta(minutes=10))
    service.recover_stale(timedelta(minutes=15))
    assert service.get(user, task_id).status == TaskStatus.RUNNING  # not stale yet: it may still finish

    clock.advance(timedelta(minutes=6))
    service.recover_stale(timedelta(minutes=15))
    retried = service.get(user, task_id)
    assert (retried.status, retried.attempts) == (TaskStatus.PENDING, 1)
    assert retried.next_run_at == clock.now() + timedelta(seconds=300)
    assert "runner stopped" in (retried.last_error or "")

    assert service.run(user, task_id, run=1) == {"status": "completed"}  # the retry runs normally
    assert flaky.runs == [2]

    clock.set(NOW)
    second = schedule(service, user, retries=0)
    clock.set(NOW + timedelta(minutes=5))
    _die_mid_run(service, user, second, clock)
    clock.advance(timedelta(minutes=16))
    service.recover_stale(timedelta(minutes=15))
    gone = service.get(user, second)
    assert (gone.status, gone.attempts) == (TaskStatus.FAILED, 1)
    assert [h["outcome"] for h in gone.history] == ["failed"]
