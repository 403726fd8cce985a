"""HTTP routes for workflows: templates, create, execute, follow, pause, resume, cancel, approve, reject."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from tidings.api.common import json_response, responses
from tidings.api.models import (
    ApprovalView,
    CreateWorkflowRequest,
    ExecuteWorkflowRequest,
    RejectStepRequest,
    StepView,
    WorkflowList,
    WorkflowMetricsView,
    WorkflowTemplatesView,
    WorkflowView,
)
from tidings.core.errors import ValidationFailed

if TYPE_CHECKING:
    from tidings.models.workflows import Workflow
    from tidings.workflows.service import WorkflowService


def workflow_view(wf: Workflow) -> WorkflowView:
    steps = []
    for raw in wf.definition.get("steps", []):
        state = wf.step_state(raw["id"])
        steps.append(
            StepView(
                step_id=raw["id"],
                action=raw["action"],
                status=str(state.status),
                optional=bool(raw.get("optional", False)),
                depends_on=list(raw.get("dependsOn", [])),
                attempts=state.attempts,
                fix_attempts=state.fix_attempts,
                output=state.output,
                error=state.error,
                error_code=state.error_code,
                duration_ms=state.duration_ms,
                started_at=state.started_at,
                ended_at=state.ended_at,
                next_run_at=state.next_run_at,
                gate_results=state.gate_results,
                approval=ApprovalView(**state.approval.model_dump()) if state.approval else None,
            )
        )
    m = wf.metrics()
    return WorkflowView(
        workflow_id=wf.workflow_id,
        name=wf.name,
        template=wf.template,
        status=str(wf.status),
        auto_approve=wf.auto_approve,
        parameters=wf.parameters,
        failure_reason=wf.failure_reason,
        created_at=wf.created_at,
        started_at=wf.started_at,
        completed_at=wf.completed_at,
        metrics=WorkflowMetricsView(
            completed=m["completed"],
            failed=m["failed"],
            skipped=m["skipped"],
            pending=m["pending"],
            total_duration_ms=m["totalDurationMs"],
        ),
        steps=steps,
        definition=wf.definition,
    )


def register_workflow_routes(
    app: APIGatewayHttpResolver, service: Callable[[], WorkflowService], user_id: Callable[[], str]
) -> None:
    @app.get(
        "/workflow-templates",
        summary="The built-in workflow templates and their parameters",
        responses=responses(200, "Templates", WorkflowTemplatesView),
    )
    def list_templates() -> Response[str]:
        return json_response(200, WorkflowTemplatesView(templates=service().templates()))

    @app.post(
        "/workflows",
        summary="Create a workflow from a template or a custom definition",
        responses=responses(201, "The workflow, not yet executed", WorkflowView, 400),
    )
    def create_workflow(body: Annotated[CreateWorkflowRequest, Body()]) -> Response[str]:
        wf = service().create(
            user_id(), template_name=body.template, definition=body.definition, parameters=body.parameters
        )
        return json_response(201, workflow_view(wf))

    @app.get(
        "/workflows", summary="Your workflows, newest first", responses=responses(200, "A page", WorkflowList)
    )
    def list_workflows(
        status: Annotated[
            str | None, Query(description="draft, active, paused, completed, failed, cancelled")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 25,
        next_token: Annotated[str | None, Query(alias="nextToken", max_length=2048)] = None,
    ) -> Response[str]:
        workflows, token = service().list_workflows(user_id(), status, limit, next_token)
        return json_response(
            200, WorkflowList(workflows=[workflow_view(w) for w in workflows], next_token=token)
        )

    @app.get(
        "/workflows/<workflowId>",
        summary="One workflow with every step's status, attempts, output, error and duration",
        responses=responses(200, "The workflow", WorkflowView, 404),
    )
    def get_workflow(workflowId: str) -> Response[str]:
        return json_response(200, workflow_view(service().get(user_id(), workflowId)))

    @app.post(
        "/workflows/<workflowId>/execute",
        summary="Run the workflow",
        responses=responses(202, "Running", WorkflowView, 400, 404, 409),
    )
    def execute_workflow(workflowId: str, body: Annotated[ExecuteWorkflowRequest, Body()]) -> Response[str]:
        notify = body.notify.model_dump(exclude_none=True) if body.notify else None
        if body.notify_on_completion and notify is None:
            raise ValidationFailed(
                "notifyOnCompletion needs notify: {channel: webhook, url} or {channel: email, to}",
                {"field": "notify"},
                code="invalid_notify",
            )
        wf = service().execute(
            user_id(),
            workflowId,
            auto_approve=body.auto_approve,
            notify=notify if body.notify_on_completion else None,
        )
        return json_response(202, workflow_view(wf))

    for verb in ("pause", "resume", "cancel"):
        _state_route(app, service, user_id, verb)

    @app.post(
        "/workflows/<workflowId>/steps/<stepId>/approve",
        summary="Approve a step waiting at its approval gate",
        responses=responses(200, "The workflow", WorkflowView, 404, 409),
    )
    def approve_step(workflowId: str, stepId: str) -> Response[str]:
        return json_response(200, workflow_view(service().approve(user_id(), workflowId, stepId)))

    @app.post(
        "/workflows/<workflowId>/steps/<stepId>/reject",
        summary="Reject a step at its approval gate: the workflow stops with the reason",
        responses=responses(200, "The workflow", WorkflowView, 404, 409),
    )
    def reject_step(
        workflowId: str, stepId: str, body: Annotated[RejectStepRequest, Body()]
    ) -> Response[str]:
        return json_response(200, workflow_view(service().reject(user_id(), workflowId, stepId, body.reason)))


def _state_route(
    app: APIGatewayHttpResolver, service: Callable[[], WorkflowService], user_id: Callable[[], str], verb: str
) -> None:
    def handler(workflowId: str) -> Response[str]:
        method = getattr(service(), verb)
        return json_response(200, workflow_view(method(user_id(), workflowId)))

    handler.__name__ = f"{verb}_workflow"
    app.post(
        f"/workflows/<workflowId>/{verb}",
        summary={
            "pause": "Pause: no new step starts until resumed",
            "resume": "Resume a paused workflow",
            "cancel": "Cancel: stop the workflow",
        }[verb],
        responses=responses(200, "The workflow", WorkflowView, 404, 409),
    )(handler)
