"""The workflow state machine's tasks: plan the next steps, run one step, wait for an approval or a
resume (task tokens), finish."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.wiring import workflow_engine

    engine = workflow_engine()
    user_id, workflow_id = str(event["userId"]), str(event.get("workflowId", ""))
    logger.append_keys(workflow_id=workflow_id, step_id=event.get("stepId"), action=event.get("action"))
    action = event.get("action")
    if action == "plan":
        return engine.plan(user_id, workflow_id)
    if action == "run_step":
        return engine.run_step(user_id, workflow_id, str(event["stepId"]))
    if action == "await_approval":
        return engine.await_approval(user_id, workflow_id, str(event["stepId"]), str(event["token"]))
    if action == "await_resume":
        return engine.await_resume(user_id, workflow_id, str(event["token"]))
    if action == "step_crashed":
        return engine.step_crashed(user_id, workflow_id, str(event["stepId"]), event.get("error") or {})
    if action == "run_task":
        from tidings.wiring import task_service

        run = event.get("run")
        return task_service().run(user_id, str(event["taskId"]), int(run) if run is not None else None)
    if action == "finish":
        return engine.finish(user_id, workflow_id)
    raise ValueError(f"unknown workflow task action {action!r}")
