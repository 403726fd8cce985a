"""The recovery of workflows whose execution ended without finishing them
(tidings.workflows.recovery), on the table and Step Functions."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.triggers import ExecutionStatusChange
from tidings.workflows.recovery import WorkflowRecovery


@lru_cache(maxsize=1)
def workflow_recovery() -> WorkflowRecovery:
    from tidings.wiring import workflow_engine, workflow_repository, workflow_runner

    return WorkflowRecovery(workflow_repository(), workflow_runner(), workflow_engine(), DEFAULT_CLOCK)


def recover_ended_execution(change: ExecutionStatusChange) -> dict[str, Any]:
    """Recover the workflow of an execution that ended unfinished (the event of the EventBridge rule
    on the workflow machine); a status that is not such an end is ignored."""
    if not change.ended_unfinished:
        return {"ignored": change.detail.status}
    user_id = change.input_field("userId")
    workflow_id = change.input_field("workflowId")
    done = workflow_recovery().recover_ended_execution(user_id, workflow_id, change.detail.execution_arn)
    return {"workflowId": workflow_id, "stepsLost": done.steps_lost, "continuedBy": done.continued_by}
