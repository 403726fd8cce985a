"""A workflow stuck on a running step, against moto's Step Functions and DynamoDB Local: while the
execution it names runs, the step is left to it; once that execution is gone, the step is stored failed
with `execution_lost`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.local.provision import LocalStack
from tidings.aws import names
from tidings.aws.publishing import StepFunctionsPublishStarter
from tidings.aws.workflows import StepFunctionsWorkflowRunner, workflow_execution_name
from tidings.core.clock import SystemClock
from tidings.core.config import get_settings
from tidings.models.workflows import StepState, StepStatus, Workflow, WorkflowStatus
from tidings.store.workflows import DynamoWorkflowRepository
from tidings.workflows.engine import WorkflowEngine
from tidings.workflows.recovery import recover_lost_steps

pytestmark = pytest.mark.timeout(120)


def _unused(*_: Any) -> Any:
    raise AssertionError("not used by the recovery")


NO_SERVICES: Any = None  # the recovery runs no action


def _stuck(repo: DynamoWorkflowRepository, execution_arn: str) -> Workflow:
    now = datetime.now(UTC)
    workflow = Workflow(
        user_id=f"agent-{uuid.uuid4().hex[:8]}",
        workflow_id=f"wf{uuid.uuid4().hex[:12]}",
        name="stuck",
        definition={
            "name": "stuck",
            "steps": [{"id": "post", "action": "schedule_post", "timeoutSeconds": 60}],
        },
        status=WorkflowStatus.ACTIVE,
        execution_arn=execution_arn,
        created_at=now - timedelta(hours=1),
        updated_at=now - timedelta(hours=1),
        started_at=now - timedelta(hours=1),
        steps={
            "post": StepState(step_id="post", status=StepStatus.RUNNING, started_at=now - timedelta(hours=1))
        },
    )
    repo.create(workflow)
    return workflow


def test_a_running_step_is_left_to_a_live_execution_and_ends_as_lost_when_its_execution_is_gone(
    local_stack: LocalStack, local_aws_env: dict[str, str]
) -> None:
    settings = get_settings()
    repo = DynamoWorkflowRepository(settings.table_name)
    runner = StepFunctionsWorkflowRunner(settings)
    clock = SystemClock()
    engine = WorkflowEngine(repo, dict, NO_SERVICES, runner, _unused, clock)
    # an execution that runs for an hour (a publish execution waiting for its post's time)
    publish = StepFunctionsPublishStarter(settings)
    name = names.resumed_execution_name(f"probe-{uuid.uuid4().hex[:8]}", 1, 1)
    assert publish.start_named(name, "agent-7", "probe", 1, datetime.now(UTC) + timedelta(hours=1), 1)
    live = _stuck(repo, publish.execution_arn(name))
    gone_id = f"wf{uuid.uuid4().hex[:12]}"
    gone_arn = settings.workflow_state_machine_arn.replace(":stateMachine:", ":execution:")
    gone = _stuck(repo, f"{gone_arn}:{workflow_execution_name(gone_id)}")

    assert recover_lost_steps([live, gone], runner, engine, clock.now()) == 1

    kept = repo.get(live.user_id, live.workflow_id)
    lost = repo.get(gone.user_id, gone.workflow_id)
    assert kept is not None
    assert lost is not None
    assert kept.step_state("post").status == StepStatus.RUNNING
    assert (lost.step_state("post").status, lost.step_state("post").error_code) == (
        StepStatus.FAILED,
        "execution_lost",
    )
    assert lost.failure_reason is not None
    publish.client.stop_execution(executionArn=publish.execution_arn(name), cause="test over")
