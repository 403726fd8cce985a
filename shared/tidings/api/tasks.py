"""HTTP routes for scheduled tasks: schedule, list, stats, read, cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from tidings.api.common import json_response, responses
from tidings.api.models import CreateTaskRequest, TaskList, TaskStatsView, TaskView

if TYPE_CHECKING:
    from tidings.models.tasks import Task
    from tidings.workflows.tasks import TaskService


def task_view(task: Task) -> TaskView:
    return TaskView(
        task_id=task.task_id,
        type=str(task.type),
        status=str(task.status),
        config=task.config,
        scheduled_at=task.scheduled_at,
        next_run_at=task.next_run_at,
        max_retries=task.max_retries,
        attempts=task.attempts,
        last_error=task.last_error,
        result=task.result,
        history=task.history,
        created_at=task.created_at,
        completed_at=task.completed_at,
    )


def register_task_routes(
    app: APIGatewayHttpResolver, service: Callable[[], TaskService], user_id: Callable[[], str]
) -> None:
    @app.post(
        "/tasks",
        summary="Schedule a workflow or a single action for a time",
        responses=responses(201, "The task", TaskView, 400, 404, 409),
    )
    def create_task(body: Annotated[CreateTaskRequest, Body()]) -> Response[str]:
        task = service().create(user_id(), body.type, body.scheduled_at, body.config, body.max_retries)
        return json_response(201, task_view(task))

    @app.get(
        "/tasks", summary="Your scheduled tasks, by next run", responses=responses(200, "Tasks", TaskList)
    )
    def list_tasks(
        status: Annotated[
            str | None, Query(description="pending, running, completed, failed, cancelled")
        ] = None,
    ) -> Response[str]:
        return json_response(
            200, TaskList(tasks=[task_view(t) for t in service().list_tasks(user_id(), status)])
        )

    @app.get("/tasks/stats", summary="Tasks by status", responses=responses(200, "Counts", TaskStatsView))
    def task_stats() -> Response[str]:
        return json_response(200, TaskStatsView(**service().stats(user_id())))

    @app.get("/tasks/<taskId>", summary="One task", responses=responses(200, "The task", TaskView, 404))
    def get_task(taskId: str) -> Response[str]:
        return json_response(200, task_view(service().get(user_id(), taskId)))

    @app.delete(
        "/tasks/<taskId>",
        summary="Cancel a pending task",
        responses=responses(200, "The cancelled task", TaskView, 404, 409),
    )
    def cancel_task(taskId: str) -> Response[str]:
        return json_response(200, task_view(service().cancel(user_id(), taskId)))
