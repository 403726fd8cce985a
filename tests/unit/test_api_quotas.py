"""Through the API: integrations, scheduled tasks and running workflows past their quota are answered
409 quota_exceeded naming the quota and its limit, a refused request leaves nothing behind, and
removing or finishing one frees its place, while other users go on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from api_events import call
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from integration_fakes import TOKEN, world

from tidings.api.app import build_app
from tidings.api.integrations import IntegrationServices
from tidings.core.clock import FakeClock
from tidings.store.memory.tasks import InMemoryTaskRepository
from tidings.store.memory.workflows import InMemoryWorkflowRepository
from tidings.workflows import gates
from tidings.workflows.action import ActionContext, ActionServices
from tidings.workflows.service import WorkflowService
from tidings.workflows.tasks import TaskService

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


def _no_posts() -> Any:
    raise AssertionError("no post route is called here")


def quota_refusal(answer: tuple[int, dict[str, Any]]) -> tuple[int, str, dict[str, Any]]:
    status, body = answer
    return status, body.get("code", ""), body.get("details", {})


def integrations_app(quota: int) -> APIGatewayHttpResolver:
    w = world(quota=quota)
    services = IntegrationServices(w.lifecycle, w.syncing, w.monitoring)
    return build_app(_no_posts, integrations=lambda: services)


def new_integration(n: int) -> str:
    credentials = {"accessToken": TOKEN}
    return json.dumps({"name": f"CRM {n}", "type": "crm", "platform": "hubspot", "credentials": credentials})


def test_an_integration_past_the_quota_is_refused_naming_it_and_a_deletion_frees_one() -> None:
    app = integrations_app(quota=2)
    made = [call(app, "POST", "/integrations", body=new_integration(n)) for n in range(2)]
    refused = call(app, "POST", "/integrations", body=new_integration(2))

    assert [status for status, _ in made] == [201, 201]
    assert quota_refusal(refused) == (409, "quota_exceeded", {"quota": "integrations", "limit": 2})
    listed = call(app, "GET", "/integrations")[1]["integrations"]
    assert sorted(i["name"] for i in listed) == ["CRM 0", "CRM 1"]
    gone = made[0][1]["integrationId"]
    assert call(app, "DELETE", f"/integrations/{gone}", path_parameters={"integrationId": gone})[0] == 200
    assert call(app, "POST", "/integrations", body=new_integration(3))[0] == 201
    assert call(app, "POST", "/integrations", body=new_integration(4), user="u2")[0] == 201


class Digest:
    name = "post_digest"
    description = "sends the weekly digest"

    def check_params(self, params: dict[str, Any]) -> list[str]:
        return []

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"sent": 1}


class Runner:
    def start(self, user_id: str, workflow_id: str) -> str:
        return f"arn:execution:{workflow_id}"

    def stop(self, execution_arn: str, cause: str) -> None:
        return None

    def send_success(self, token: str, output: dict[str, Any]) -> None:
        return None


def workflow_app(*, tasks: int = 100, runs: int = 20) -> APIGatewayHttpResolver:
    clock, actions = FakeClock(NOW), {Digest.name: Digest()}
    drafts = InMemoryWorkflowRepository()
    workflows = WorkflowService(
        drafts, Runner(), lambda: actions, gates.check_gate_definition, clock, quota=runs
    )
    services = ActionServices(_no_posts, _no_posts, _no_posts, _no_posts, _no_posts, _no_posts)
    task_repo = InMemoryTaskRepository(drafts)
    service = TaskService(task_repo, lambda: workflows, lambda: actions, services, clock, [300], quota=tasks)
    return build_app(_no_posts, workflow_service=lambda: workflows, task_service=lambda: service)


DEFINITION = {"name": "Digest", "steps": [{"id": "send", "action": "post_digest"}]}


def new_task(config: dict[str, Any]) -> str:
    due = (NOW + timedelta(hours=1)).isoformat()
    return json.dumps({"type": "workflow", "scheduledAt": due, "config": config, "maxRetries": 0})


def test_a_task_past_the_quota_is_refused_naming_it_and_leaves_no_draft_workflow() -> None:
    app = workflow_app(tasks=2)
    made = [call(app, "POST", "/tasks", body=new_task({"definition": DEFINITION})) for _ in range(2)]
    refused = call(app, "POST", "/tasks", body=new_task({"definition": DEFINITION}))

    assert [status for status, _ in made] == [201, 201]
    assert quota_refusal(refused) == (409, "quota_exceeded", {"quota": "tasks", "limit": 2})
    drafts = call(app, "GET", "/workflows")[1]["workflows"]
    assert sorted(w["workflowId"] for w in drafts) == sorted(t["config"]["workflowId"] for _, t in made)
    cancelled = made[0][1]["taskId"]
    assert call(app, "DELETE", f"/tasks/{cancelled}", path_parameters={"taskId": cancelled})[0] == 200
    assert call(app, "POST", "/tasks", body=new_task({"definition": DEFINITION}))[0] == 201
    assert call(app, "POST", "/tasks", body=new_task({"definition": DEFINITION}), user="u2")[0] == 201


def test_a_workflow_run_past_the_quota_is_refused_naming_it_and_stays_a_draft() -> None:
    app = workflow_app(runs=1)
    ids = [
        call(app, "POST", "/workflows", body=json.dumps({"definition": DEFINITION}))[1]["workflowId"]
        for _ in range(2)
    ]

    def execute(workflow_id: str) -> tuple[int, dict[str, Any]]:
        path = f"/workflows/{workflow_id}/execute"
        return call(app, "POST", path, body="{}", path_parameters={"workflowId": workflow_id})

    assert execute(ids[0])[0] == 202
    assert quota_refusal(execute(ids[1])) == (409, "quota_exceeded", {"quota": "workflow_runs", "limit": 1})
    path = f"/workflows/{ids[1]}"
    assert call(app, "GET", path, path_parameters={"workflowId": ids[1]})[1]["status"] == "draft"
    cancel = f"/workflows/{ids[0]}/cancel"
    assert call(app, "POST", cancel, path_parameters={"workflowId": ids[0]})[0] == 200
    assert execute(ids[1])[0] == 202


def test_the_openapi_document_names_409_where_a_quota_may_refuse() -> None:
    status, doc = call(workflow_app(), "GET", "/openapi.json")

    assert status == 200
    assert "409" in doc["paths"]["/tasks"]["post"]["responses"]
    assert "409" in doc["paths"]["/workflows/{workflowId}/execute"]["post"]["responses"]
