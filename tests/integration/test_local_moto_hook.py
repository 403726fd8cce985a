"""Pin test for the moto hook: moto's Step Functions interpreter runs Lambda tasks in our handlers.

If moto changes `LambdaFunction._invoke_lambda` (or how its interpreter invokes Lambda), these
tests fail loudly: the local runtime would no longer publish anything.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from typing import Any

import boto3
import pytest

from infra.local.lambda_host import LambdaHost

pytestmark = pytest.mark.timeout(120)


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return 'moto ran me'\n")
    return buf.getvalue()


def _function(moto_endpoint: str, name: str) -> str:
    iam = _client("iam", moto_endpoint)
    role_name = f"pin-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    arn: str = _client("lambda", moto_endpoint).create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="handler.lambda_handler",
        Code={"ZipFile": _zip()},
    )["FunctionArn"]
    return arn


def _one_task_machine(moto_endpoint: str, function_arn: str) -> str:
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function_arn, "Payload": {"question.$": "$.question"}},
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }
    arn: str = _client("stepfunctions", moto_endpoint).create_state_machine(
        name=f"pin-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/pin",
    )["stateMachineArn"]
    return arn


def _finished(sfn: Any, execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if description["status"] != "RUNNING" or time.monotonic() > deadline:
            return description
        time.sleep(0.05)


def test_a_state_machine_task_runs_the_routed_handler(lambda_host: LambdaHost, moto_endpoint: str) -> None:
    # Given a handler hosted in this process, and a moto function of the same name
    secret = uuid.uuid4().hex
    calls: list[dict[str, Any]] = []

    def answer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(event)
        return {"answer": f"{event['question']}:{secret}", "functionName": context.function_name}

    lambda_host.register("pin_answer", answer)
    function_arn = _function(moto_endpoint, lambda_host.physical_name("pin_answer"))
    machine = _one_task_machine(moto_endpoint, function_arn)
    sfn = _client("stepfunctions", moto_endpoint)

    # When moto's interpreter runs a one-task execution
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"question": "ping"}))
    result = _finished(sfn, execution["executionArn"])

    # Then the task's output is what our handler returned, not moto's own Lambda behaviour
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"answer": f"ping:{secret}", "functionName": "tidings-pin-answer"}
    assert calls == [{"question": "ping"}]


def test_a_raising_handler_fails_the_task_with_its_error_type(
    lambda_host: LambdaHost, moto_endpoint: str
) -> None:
    class PlatformDown(Exception):
        pass

    def crash(event: dict[str, Any], context: Any) -> None:
        raise PlatformDown("facebook is down")

    lambda_host.register("pin_crash", crash)
    machine = _one_task_machine(
        moto_endpoint, _function(moto_endpoint, lambda_host.physical_name("pin_crash"))
    )
    sfn = _client("stepfunctions", moto_endpoint)

    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"question": "x"}))
    result = _finished(sfn, execution["executionArn"])

    assert result["status"] == "FAILED"
    assert result["error"] == "PlatformDown"
    assert "facebook is down" in result["cause"]


def test_unnamed_executions_each_get_their_own_name(lambda_host: LambdaHost, moto_endpoint: str) -> None:
    lambda_host.register("pin_unnamed", lambda event, context: {"ok": True})
    machine = _one_task_machine(
        moto_endpoint, _function(moto_endpoint, lambda_host.physical_name("pin_unnamed"))
    )
    sfn = _client("stepfunctions", moto_endpoint)

    first = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"question": "a"}))
    second = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"question": "b"}))

    assert first["executionArn"] != second["executionArn"]
    assert _finished(sfn, first["executionArn"])["status"] == "SUCCEEDED"
    assert _finished(sfn, second["executionArn"])["status"] == "SUCCEEDED"
