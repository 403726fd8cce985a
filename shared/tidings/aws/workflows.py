"""Step Functions for workflows: start the generic workflow machine, stop it, answer task tokens.

An execution is named after the workflow (`wf-<workflowId>`), so starting twice starts one run.
Task tokens: `SendTaskSuccess` resumes a state waiting with `.waitForTaskToken` (Step Functions
Developer Guide, "Wait for a Callback with the Task Token"); a token whose task already ended answers
`TaskTimedOut` or `InvalidToken`, which is not an error for us: nobody is waiting any more.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tidings.aws.clients import StepFunctionsAdapter

logger = logging.getLogger(__name__)


def workflow_execution_name(workflow_id: str, resume: int = 0) -> str:
    """`wf-<workflowId>` for a workflow's first execution, `wf-<workflowId>-r<k>` for the k-th that
    carries it on after one ended: a name stays taken for 90 days after its execution closed (Step
    Functions API Reference, StartExecution: `name` must be unique for the account, Region and state
    machine for 90 days), so a continuation needs a name of its own."""
    return f"wf-{workflow_id}" if resume == 0 else f"wf-{workflow_id}-r{resume}"


class StepFunctionsWorkflowRunner(StepFunctionsAdapter):
    def start(self, user_id: str, workflow_id: str, resume: int = 0) -> str:
        """Start the workflow's execution (its `resume`-th continuation when > 0); one that exists
        already under that name is answered with its ARN, so starting twice starts one."""
        arn = self.settings.workflow_state_machine_arn
        name = workflow_execution_name(workflow_id, resume)
        try:
            resp = self.client.start_execution(
                stateMachineArn=arn,
                name=name,
                input=json.dumps({"userId": user_id, "workflowId": workflow_id}),
            )
            return resp["executionArn"]
        except self.client.exceptions.ExecutionAlreadyExists:
            return arn.replace(":stateMachine:", ":execution:") + f":{name}"

    def stop(self, execution_arn: str, cause: str) -> None:
        try:
            self.client.stop_execution(executionArn=execution_arn, cause=cause[:256])
        except self.client.exceptions.ExecutionDoesNotExist:
            logger.warning("execution %s does not exist; nothing to stop", execution_arn)

    def send_success(self, token: str, output: dict[str, Any]) -> None:
        try:
            self.client.send_task_success(taskToken=token, output=json.dumps(output))
        except (self.client.exceptions.TaskTimedOut, self.client.exceptions.InvalidToken):
            logger.info("a task token was answered after its task ended")
