"""What the sweeper asks Step Functions, on moto's (execution on): the ARN a resumed execution will
have is known before it starts, and an execution's state reads running, ended or missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.local.provision import LocalStack
from tidings.aws import names
from tidings.aws.clients import ExecutionState
from tidings.aws.publishing import StepFunctionsPublishStarter
from tidings.core.config import get_settings

pytestmark = pytest.mark.timeout(120)


def test_a_resumed_execution_has_the_predicted_arn_and_its_state_follows_it(
    local_stack: LocalStack, local_aws_env: dict[str, str]
) -> None:
    executions = StepFunctionsPublishStarter(get_settings())
    name = names.resumed_execution_name("recovery-probe", 1, 1)
    due = datetime.now(UTC) + timedelta(hours=1)  # the machine waits in its first state

    assert executions.state(executions.execution_arn(name)) == ExecutionState.MISSING
    assert executions.start_named(name, "agent-7", "recovery-probe", 1, due, 2) is True

    arn = executions.execution_arn(name)
    started = executions.client.describe_execution(executionArn=arn)
    assert started["name"] == name
    assert started["input"].count('"attempt": 2') == 1
    assert executions.state(arn) == ExecutionState.RUNNING

    executions.client.stop_execution(executionArn=arn, error="Deploy", cause="aborted by a deploy")

    assert executions.state(arn) == ExecutionState.ENDED
    assert executions.start_named(name, "agent-7", "recovery-probe", 1, due, 2) is False
