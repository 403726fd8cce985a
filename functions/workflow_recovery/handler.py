"""Step Functions said an execution of the workflow machine ended unfinished (aborted, timed out,
failed): its workflow's running steps end as lost and a new execution carries it on."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.core.triggers import ExecutionStatusChange
    from tidings.wiring.workflow_recovery import recover_ended_execution

    change = ExecutionStatusChange.model_validate(event)
    logger.append_keys(execution=change.detail.name, status=change.detail.status)
    result = recover_ended_execution(change)
    logger.info("workflow recovery", extra=result)
    return result
