"""Workflows whose execution ended, against moto's Step Functions (Lambda tasks routed to the
handlers) and DynamoDB Local: a workflow whose execution still runs is left to it; one whose execution
is gone while a step ran has that step ended as lost and is carried on by `wf-<id>-r1`, once (the
execution's event delivered afterwards does nothing more), and then finishes."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.local.lambda_host import LambdaHost
from infra.local.provision import LocalStack
from tidings.aws import names
from tidings.aws.publishing import StepFunctionsPublishStarter
from tidings.aws.workflows import StepFunctionsWorkflowRunner, workflow_execution_name
from tidings.core.config import get_settings
from tidings.models.workflows import StepState, StepStatus, Workflow, WorkflowStatus
from tidings.store.workflows import DynamoWorkflowRepository

pytestmark = pytest.mark.timeout(120)


def _stuck(
    repo: DynamoWorkflowRepository, status: WorkflowStatus, execution_arn: str, wf_id: str
) -> Workflow:
    now = datetime.now(UTC)
    workflow = Workflow(
        user_id=f"agent-{uuid.uuid4().hex[:8]}",
        workflow_id=wf_id,
        name="stuck",
        definition={
            "name": "stuck",
            "steps": [{"id": "post", "action": "schedule_post", "timeoutSeconds": 600, "optional": True}],
        },
        status=status,
        execution_arn=execution_arn,
        created_at=now - timedelta(minutes=1),
        updated_at=now - timedelta(minutes=1),
        started_at=now - timedelta(minutes=1),
        steps={"post": StepState(step_id="post", status=StepStatus.RUNNING, started_at=now)},
    )
    repo.create(workflow)
    return workflow


def _until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"never: {what}")


def test_a_workflow_whose_execution_still_runs_is_left_to_it(
    local_stack: LocalStack, local_aws_env: dict[str, str]
) -> None:
    from tidings.wiring.workflow_recovery import workflow_recovery

    settings = get_settings()
    repo = DynamoWorkflowRepository(settings.table_name)
    # an execution that runs for an hour (a publish execution waiting for its post's time)
    publish = StepFunctionsPublishStarter(settings)
    name = names.resumed_execution_name(f"probe-{uuid.uuid4().hex[:8]}", 1, 1)
    assert publish.start_named(name, "agent-7", "probe", 1, datetime.now(UTC) + timedelta(hours=1), 1)
    live = _stuck(repo, WorkflowStatus.ACTIVE, publish.execution_arn(name), f"wf{uuid.uuid4().hex[:12]}")

    done = workflow_recovery().recover(live)

    kept = repo.get(live.user_id, live.workflow_id)
    assert kept is not None
    assert (done.steps_lost, done.continued_by) == (0, None)
    assert kept.step_state("post").status == StepStatus.RUNNING
    publish.client.stop_execution(executionArn=publish.execution_arn(name), cause="test over")


def test_a_workflow_whose_execution_is_gone_loses_its_running_step_and_one_continuation_finishes_it(
    local_stack: LocalStack, local_aws_env: dict[str, str], lambda_host: LambdaHost
) -> None:
    """As after a restart of moto, which forgot every execution: the one the workflow names is gone."""
    from tidings.wiring import workflow_service
    from tidings.wiring.workflow_recovery import workflow_recovery

    settings = get_settings()
    repo = DynamoWorkflowRepository(settings.table_name)
    sfn = StepFunctionsWorkflowRunner(settings).client
    wf_id = f"wf{uuid.uuid4().hex[:12]}"
    machine = settings.workflow_state_machine_arn
    first = machine.replace(":stateMachine:", ":execution:") + f":{workflow_execution_name(wf_id)}"
    workflow = _stuck(repo, WorkflowStatus.PAUSED, first, wf_id)

    assert workflow_recovery().recover_all([workflow]) == (1, 1)

    stored = repo.get(workflow.user_id, wf_id)
    assert stored is not None
    lost = stored.step_state("post")
    assert (lost.status, lost.error_code) == (StepStatus.SKIPPED, "execution_lost")
    continuation = f"{first}-r1"
    assert (stored.execution_arn, stored.resumes) == (continuation, 1)
    assert sfn.describe_execution(executionArn=continuation)["status"] == "RUNNING"
    # the event of the lost execution, delivered now, and a second pass start nothing more
    event = {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": first,
            "stateMachineArn": machine,
            "name": workflow_execution_name(wf_id),
            "status": "ABORTED",
            "input": json.dumps({"userId": workflow.user_id, "workflowId": wf_id}),
        },
    }
    again = lambda_host.invoke("workflow_recovery", event)
    assert again.payload == {"workflowId": wf_id, "stepsLost": 0, "continuedBy": None}
    assert workflow_recovery().recover_all([repo.get(workflow.user_id, wf_id) or workflow]) == (0, 0)
    runs = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in runs if e["name"].startswith(f"wf-{wf_id}")] == [f"wf-{wf_id}-r1"]

    # the continuation waits for the resume (the workflow is paused), then finishes the workflow
    _until(lambda: (repo.get(workflow.user_id, wf_id) or workflow).resume_token, "the continuation waits")
    workflow_service().resume(workflow.user_id, wf_id)
    done = _until(
        lambda: (w := repo.get(workflow.user_id, wf_id)) and w.status == WorkflowStatus.COMPLETED and w,
        "the workflow completes",
    )
    assert done.metrics()["skipped"] == 1
