"""The workflow state machine's tasks (plan the next steps, run one step, wait for an approval or a
resume on a task token, record a crashed step, finish) and scheduled tasks' runs."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.wiring import task_service, workflow_engine
    from tidings.workflows.step_events import WorkflowStepEvent, handle_step_event

    task = WorkflowStepEvent.parse(event)
    logger.append_keys(**task.log_keys())
    return handle_step_event(task, engine=workflow_engine, tasks=task_service)
