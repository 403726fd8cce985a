"""Per-user quotas keep the same count on DynamoDB Local and in memory: requests creating at once never
pass the limit, a refused one leaves nothing written, a deletion frees its place, and a counter never
drops below zero."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.core.clock import FakeClock
from tidings.models.integrations import Integration
from tidings.models.tasks import Task, TaskStatus, TaskType
from tidings.models.workflows import Workflow, WorkflowStatus
from tidings.store.dynamo import serialize
from tidings.store.integrations import DynamoIntegrationRepository, IntegrationRepository, to_item
from tidings.store.memory.accounts import InMemorySecretVault
from tidings.store.memory.integrations import InMemoryIntegrationRepository
from tidings.store.memory.tasks import InMemoryTaskRepository
from tidings.store.memory.webhooks import InMemoryWebhookRepository
from tidings.store.memory.workflows import InMemoryWorkflowRepository
from tidings.store.quotas import INTEGRATIONS, TASKS, WEBHOOKS, WORKFLOW_RUNS, quota_sk
from tidings.store.tasks import DynamoTaskRepository, TaskRepository, touched
from tidings.store.webhooks import DynamoWebhookRepository, WebhookRegistry
from tidings.store.workflows import DynamoWorkflowRepository, WorkflowRepository

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
LIMIT = 5
table = contract_table


@pytest.fixture
def hooks(table: Table | None) -> WebhookRegistry:
    if table is None:
        return InMemoryWebhookRepository(InMemorySecretVault(), clock=FakeClock(NOW))
    return DynamoWebhookRepository(table.name, InMemorySecretVault(), table.client, FakeClock(NOW))


@pytest.fixture
def tasks(table: Table | None) -> TaskRepository:
    return InMemoryTaskRepository() if table is None else DynamoTaskRepository(table.name, table.client)


@pytest.fixture
def workflows(table: Table | None) -> WorkflowRepository:
    return (
        InMemoryWorkflowRepository() if table is None else DynamoWorkflowRepository(table.name, table.client)
    )


@pytest.fixture
def integrations(table: Table | None) -> IntegrationRepository:
    if table is None:
        return InMemoryIntegrationRepository()
    return DynamoIntegrationRepository(table.name, table.client)


def new_integration(user: str, integration_id: str) -> Integration:
    social = integration_id.startswith("social-")
    return Integration(
        user_id=user,
        integration_id=integration_id,
        name=integration_id,
        type="social_media" if social else "crm",
        provider=integration_id.removeprefix("social-") if social else "hubspot",
        status="connected",
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.fixture
def tasks_and_drafts(table: Table | None) -> tuple[TaskRepository, WorkflowRepository]:
    if table is None:
        drafts = InMemoryWorkflowRepository()
        return InMemoryTaskRepository(drafts), drafts
    return DynamoTaskRepository(table.name, table.client), DynamoWorkflowRepository(table.name, table.client)


def new_draft(user: str, workflow_id: str) -> Workflow:
    return Workflow(
        user_id=user, workflow_id=workflow_id, name="w", definition={}, created_at=NOW, updated_at=NOW
    )


def new_task(user: str, task_id: str) -> Task:
    return Task(
        user_id=user,
        task_id=task_id,
        type=TaskType.ACTION,
        config={"action": "post_digest"},
        scheduled_at=NOW,
        next_run_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )


def test_webhooks_created_at_once_never_pass_the_quota(hooks: WebhookRegistry) -> None:
    user = user_id()

    def create(i: int) -> str:
        return outcome(
            lambda: hooks.create(user, f"https://crm.example.com/{i}", ["post.failed"], None, limit=LIMIT)
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(create, range(24)))

    assert outcomes.count("ok") == LIMIT
    assert outcomes.count("Conflict") == 24 - LIMIT
    assert len(hooks.for_user(user)) == LIMIT


def test_webhooks_deleted_at_once_free_each_place_once(hooks: WebhookRegistry) -> None:
    user = user_id()
    made = [
        hooks.create(user, f"https://crm.example.com/{i}", ["post.failed"], None, limit=LIMIT)
        for i in range(3)
    ]
    target = made[0].webhook.webhook_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda _: outcome(lambda: hooks.delete(user, target)), range(4)))

    assert sorted(outcomes) == ["NotFound", "NotFound", "NotFound", "ok"]
    for i in range(3):  # two held, so three more fit and no fourth
        hooks.create(user, f"https://crm.example.com/new-{i}", ["post.failed"], None, limit=LIMIT)
    assert outcome(
        lambda: hooks.create(user, "https://crm.example.com/x", ["post.failed"], None, limit=LIMIT)
    ) == ("Conflict")


def test_a_missing_counter_is_counted_from_the_users_webhooks_before_a_take(hooks: WebhookRegistry) -> None:
    user = user_id()
    made = [
        hooks.create(user, f"https://crm.example.com/{i}", ["post.failed"], None, limit=LIMIT)
        for i in range(3)
    ]
    hooks.quotas.forget(user, WEBHOOKS)  # as if these were registered before webhooks were counted

    def create(i: int) -> str:
        return outcome(
            lambda: hooks.create(user, f"https://crm.example.com/n{i}", ["post.failed"], None, limit=LIMIT)
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(create, range(8)))

    assert sorted(outcomes) == ["Conflict"] * 6 + ["ok"] * 2
    hooks.delete(user, made[0].webhook.webhook_id)
    assert [create(10), create(11)] == ["ok", "Conflict"]


def test_a_missing_counter_is_counted_from_the_users_tasks_before_a_give_back(tasks: TaskRepository) -> None:
    user = user_id()
    first = new_task(user, "t-1")
    tasks.create(first, limit=3)
    tasks.create(new_task(user, "t-2"), limit=3)
    tasks.quotas.forget(user, TASKS)

    tasks.replace(touched(first, NOW, status=TaskStatus.CANCELLED, completed_at=NOW), TaskStatus.PENDING)

    made = [outcome(lambda n=n: tasks.create(new_task(user, f"t-{n}"), limit=3)) for n in range(3, 6)]
    assert made == ["ok", "ok", "Conflict"]


def test_a_missing_counter_is_counted_from_the_users_running_workflows(workflows: WorkflowRepository) -> None:
    user = user_id()
    for n in range(4):
        workflows.create(new_draft(user, f"wf-{n}"))
    active = {"status": str(WorkflowStatus.ACTIVE)}

    def start(n: int) -> str:
        return outcome(
            lambda: workflows.update(
                user, f"wf-{n}", NOW, expect=[WorkflowStatus.DRAFT], set_fields=active, limit=2
            )
        )

    assert start(0) == "ok"
    workflows.quotas.forget(user, WORKFLOW_RUNS)
    assert [start(1), start(2)] == ["ok", "Conflict"]  # drafts are not counted, the running one is


def test_a_counter_written_before_records_were_counted_is_counted_again(table: Table | None) -> None:
    if table is None:
        pytest.skip("counters of that form exist only in tables written before")
    user = user_id()
    repo = DynamoIntegrationRepository(table.name, table.client)
    for n in range(2):  # stored before integrations were counted, and a counter begun at zero after
        table.client.put_item(
            TableName=table.name, Item=serialize(to_item(new_integration(user, f"int_{n}")))
        )
    old = {"PK": f"USER#{user}", "SK": quota_sk(INTEGRATIONS), "EntityType": "Quota", "n": 0}
    table.client.put_item(TableName=table.name, Item=serialize(old))

    made = [
        outcome(
            lambda n=n: repo.create(
                new_integration(user, f"int_new{n}"), None, replace_existing=False, limit=3
            )
        )
        for n in range(2)
    ]

    assert made == ["ok", "Conflict"]
    assert repo.quotas.used(user, INTEGRATIONS) == 3


def test_tasks_count_until_they_finish_and_a_retry_keeps_its_place(tasks: TaskRepository) -> None:
    user = user_id()
    first, second = new_task(user, "t-1"), new_task(user, "t-2")
    tasks.create(first, limit=2)
    tasks.create(second, limit=2)
    assert outcome(lambda: tasks.create(new_task(user, "t-3"), limit=2)) == "Conflict"

    running = touched(first, NOW, status=TaskStatus.RUNNING, attempts=1)
    tasks.replace(running, TaskStatus.PENDING, attempts=0)
    tasks.replace(touched(running, NOW, status=TaskStatus.PENDING), TaskStatus.RUNNING)  # a retry waits
    assert outcome(lambda: tasks.create(new_task(user, "t-3"), limit=2)) == "Conflict"

    tasks.replace(touched(second, NOW, status=TaskStatus.CANCELLED, completed_at=NOW), TaskStatus.PENDING)
    tasks.create(new_task(user, "t-3"), limit=2)
    assert outcome(lambda: tasks.create(new_task(user, "t-4"), limit=2)) == "Conflict"
    assert tasks.get(user, "t-4") is None


def test_running_workflows_count_from_their_start_to_their_end(workflows: WorkflowRepository) -> None:
    user = user_id()
    for n in range(3):
        workflows.create(
            Workflow(
                user_id=user, workflow_id=f"wf-{n}", name="w", definition={}, created_at=NOW, updated_at=NOW
            )
        )
    active = {"status": str(WorkflowStatus.ACTIVE)}

    def start(n: int) -> str:
        return outcome(
            lambda: workflows.update(
                user, f"wf-{n}", NOW, expect=[WorkflowStatus.DRAFT], set_fields=active, limit=2
            )
        )

    def cancel(n: int) -> None:
        every = [WorkflowStatus.DRAFT, WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED]
        workflows.update(
            user, f"wf-{n}", NOW, expect=every, set_fields={"status": str(WorkflowStatus.CANCELLED)}
        )

    assert [start(0), start(1), start(2)] == ["ok", "ok", "Conflict"]
    stored = workflows.get(user, "wf-2")
    assert stored is not None
    assert stored.status == WorkflowStatus.DRAFT
    workflows.update(user, "wf-1", NOW, expect=[WorkflowStatus.ACTIVE], set_fields={"status": "paused"})
    assert start(2) == "Conflict"  # paused still holds its run

    cancel(0)
    assert start(2) == "ok"
    workflows.create(
        Workflow(user_id=user, workflow_id="wf-3", name="w", definition={}, created_at=NOW, updated_at=NOW)
    )
    cancel(3)  # a draft held nothing: cancelling it frees nothing
    workflows.create(
        Workflow(user_id=user, workflow_id="wf-4", name="w", definition={}, created_at=NOW, updated_at=NOW)
    )
    assert start(4) == "Conflict"


def test_integrations_created_at_once_never_pass_the_quota(integrations: IntegrationRepository) -> None:
    user = user_id()

    def create(i: int) -> str:
        made = new_integration(user, f"int_{i}")
        return outcome(lambda: integrations.create(made, None, replace_existing=False, limit=LIMIT))

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(create, range(24)))

    assert outcomes.count("ok") == LIMIT
    assert outcomes.count("Conflict") == 24 - LIMIT
    assert len(integrations.for_user(user)) == LIMIT


def test_connecting_the_same_account_at_once_takes_one_place(integrations: IntegrationRepository) -> None:
    user = user_id()
    social = new_integration(user, "social-facebook")

    def connect(_: int) -> str:
        return outcome(lambda: integrations.create(social, None, replace_existing=True, limit=LIMIT))

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(connect, range(8)))

    assert outcomes == ["ok"] * 8
    for i in range(LIMIT - 1):  # the account holds one place, so four others fit and no fifth
        integrations.create(new_integration(user, f"int_{i}"), None, replace_existing=False, limit=LIMIT)
    extra = new_integration(user, "int_extra")
    assert (
        outcome(lambda: integrations.create(extra, None, replace_existing=False, limit=LIMIT)) == "Conflict"
    )
    assert outcome(lambda: integrations.create(social, None, replace_existing=True, limit=LIMIT)) == "ok"


def test_a_deleted_integration_frees_its_place_once(integrations: IntegrationRepository) -> None:
    user = user_id()
    for name in ("social-facebook", "int_a"):
        integrations.create(new_integration(user, name), None, replace_existing=True, limit=2)
    late = new_integration(user, "int_b")
    assert outcome(lambda: integrations.create(late, None, replace_existing=False, limit=2)) == "Conflict"

    with ThreadPoolExecutor(max_workers=4) as pool:
        deleted = list(pool.map(lambda _: integrations.delete(user, "social-facebook"), range(4)))

    assert sum(d is not None for d in deleted) == 1
    integrations.create(late, None, replace_existing=False, limit=2)
    social = new_integration(user, "social-facebook")  # gone, so connecting it again is new
    assert outcome(lambda: integrations.create(social, None, replace_existing=True, limit=2)) == "Conflict"
    integrations.create(social, None, replace_existing=True, limit=None)  # counted, not refused
    integrations.delete(user, "int_a")
    assert outcome(
        lambda: integrations.create(new_integration(user, "int_c"), None, replace_existing=False, limit=2)
    ) == ("Conflict")


def test_a_task_and_its_draft_workflow_are_stored_together_or_not_at_all(
    tasks_and_drafts: tuple[TaskRepository, WorkflowRepository],
) -> None:
    tasks, drafts = tasks_and_drafts
    user = user_id()
    tasks.create(new_task(user, "t-1"), limit=1, draft=new_draft(user, "wf-1"))
    assert tasks.get(user, "t-1") is not None
    assert drafts.get(user, "wf-1") is not None

    refused = [
        outcome(lambda: tasks.create(new_task(user, "t-2"), limit=1, draft=new_draft(user, "wf-2"))),
        outcome(lambda: tasks.create(new_task(user, "t-1"), limit=5, draft=new_draft(user, "wf-3"))),
        outcome(lambda: tasks.create(new_task(user, "t-4"), limit=5, draft=new_draft(user, "wf-1"))),
    ]

    assert refused == ["Conflict", "TaskExists", "WorkflowExists"]
    assert [t.task_id for t in tasks.all(user)] == ["t-1"]
    assert [drafts.get(user, w) for w in ("wf-2", "wf-3")] == [None, None]
    tasks.create(new_task(user, "t-5"), limit=2)  # the refusals took no place
    assert outcome(lambda: tasks.create(new_task(user, "t-6"), limit=2)) == "Conflict"
