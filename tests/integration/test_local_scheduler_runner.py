"""The scheduler runner fires the schedules moto stores: at(), rate(), templated and universal targets."""

from __future__ import annotations

import functools
import json
import math
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import ClientError
from local_aws import wait_for

from infra.local.lambda_host import LambdaHost
from infra.local.provision import Endpoints
from infra.local.provision import client as new_client
from infra.local.scheduler_runner import SchedulerRunner

pytestmark = pytest.mark.timeout(120)

ROLE = "arn:aws:iam::123456789012:role/scheduler"


@functools.cache
def client(service: str, endpoints: Endpoints, connect_timeout: float = 60) -> Any:
    """One client per service and endpoint (building a boto3 client costs tens of milliseconds)."""
    return new_client(service, endpoints, connect_timeout=connect_timeout)


class Calls:
    def __init__(self) -> None:
        self.events: list[tuple[float, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, event: Any, context: Any) -> dict[str, bool]:
        with self.lock:
            self.events.append((time.time(), event))
        return {"ok": True}


@pytest.fixture
def group(local_endpoints: Endpoints) -> str:
    name = f"g-{uuid.uuid4().hex[:10]}"
    client("scheduler", local_endpoints).create_schedule_group(Name=name)
    return name


@pytest.fixture
def host() -> LambdaHost:
    return LambdaHost(functions=())


@pytest.fixture
def make_runner(local_endpoints: Endpoints, host: LambdaHost, group: str) -> Iterator[Any]:
    runners: list[SchedulerRunner] = []

    def make(**kwargs: Any) -> SchedulerRunner:
        options: dict[str, Any] = {"discovery_interval": 0.1, "groups": [group], "retry_base_seconds": 0.05}
        options.update(kwargs)
        factory = options.pop("clients", lambda service: client(service, local_endpoints))
        runner = SchedulerRunner(factory, host.invoke, **options)
        runner.start()
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.stop()


def _at(seconds_ahead: float, zone: str = "UTC") -> tuple[str, float]:
    """An at() expression `seconds_ahead` (rounded up to a whole second) from now, in `zone`."""
    due = math.ceil(time.time() + seconds_ahead)
    local = datetime.fromtimestamp(due, UTC).astimezone(ZoneInfo(zone))
    return f"at({local.strftime('%Y-%m-%dT%H:%M:%S')})", float(due)


def _schedule(
    local_endpoints: Endpoints, group: str, expression: str, target: dict[str, Any], **extra: Any
) -> str:
    name = f"s-{uuid.uuid4().hex[:10]}"
    client("scheduler", local_endpoints).create_schedule(
        Name=name,
        GroupName=group,
        ScheduleExpression=expression,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"RoleArn": ROLE, **target},
        **extra,
    )
    return name


def _exists(local_endpoints: Endpoints, group: str, name: str) -> bool:
    try:
        client("scheduler", local_endpoints).get_schedule(GroupName=group, Name=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    return True


def _pass_machine(local_endpoints: Endpoints) -> str:
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    arn: str = client("stepfunctions", local_endpoints).create_state_machine(
        name=f"m-{uuid.uuid4().hex[:10]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    return arn


def _queue(local_endpoints: Endpoints) -> tuple[str, str]:
    sqs = client("sqs", local_endpoints)
    url = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_a_one_time_schedule_fires_at_its_second_and_is_deleted_after(
    local_endpoints: Endpoints, group: str, host: LambdaHost, make_runner: Any, zone: str
) -> None:
    # Given a function target and a one-time schedule 2 seconds ahead, in `zone`, deleted after completion
    calls = Calls()
    host.register("at_target", calls)
    expression, due = _at(2, zone)
    name = _schedule(
        local_endpoints,
        group,
        expression,
        {"Arn": host.function_arn("at_target"), "Input": json.dumps({"hello": zone})},
        ScheduleExpressionTimezone=zone,
        ActionAfterCompletion="DELETE",
    )

    # When the runner plays it
    runner = make_runner()

    # Then the function gets the schedule's input once, not before the due second
    assert wait_for(lambda: len(calls.events) == 1)
    fired_at, event = calls.events[0]
    assert event == {"hello": zone}
    assert fired_at >= due
    assert [(f.name, f.due, f.outcome) for f in runner.fired] == [(name, due, "delivered")]
    # And the schedule is gone afterwards
    assert wait_for(lambda: not _exists(local_endpoints, group, name))
    assert len(calls.events) == 1


def test_a_one_time_schedule_without_delete_stays_and_fires_only_once(
    local_endpoints: Endpoints, group: str, host: LambdaHost, make_runner: Any
) -> None:
    calls = Calls()
    host.register("once_target", calls)
    expression, _ = _at(1)
    name = _schedule(local_endpoints, group, expression, {"Arn": host.function_arn("once_target")})

    runner = make_runner()

    assert wait_for(lambda: len(calls.events) == 1)
    passes = runner.discovery_passes
    assert wait_for(lambda: runner.discovery_passes >= passes + 5)
    assert len(calls.events) == 1
    assert _exists(local_endpoints, group, name)


def test_a_moved_one_time_schedule_fires_at_its_new_time_only(
    local_endpoints: Endpoints, group: str, host: LambdaHost, make_runner: Any
) -> None:
    # Given a schedule far ahead that the runner already knows
    calls = Calls()
    host.register("moved_target", calls)
    far, _ = _at(3600)
    name = _schedule(local_endpoints, group, far, {"Arn": host.function_arn("moved_target")})
    runner = make_runner()
    assert wait_for(lambda: runner.get_schedule_calls >= 1)

    # When it is moved to a second from now
    near, due = _at(1)
    client("scheduler", local_endpoints).update_schedule(
        Name=name,
        GroupName=group,
        ScheduleExpression=near,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"RoleArn": ROLE, "Arn": host.function_arn("moved_target")},
    )

    # Then it fires at the new time
    assert wait_for(lambda: len(calls.events) == 1)
    assert calls.events[0][0] >= due


def test_the_universal_sfn_target_starts_the_named_execution_and_a_duplicate_counts_as_delivered(
    local_endpoints: Endpoints, group: str, make_runner: Any
) -> None:
    # Given two schedules whose universal target starts the same named execution
    machine = _pass_machine(local_endpoints)
    dlq_url, dlq_arn = _queue(local_endpoints)
    execution_name = f"post-{uuid.uuid4().hex[:8]}"
    expression, _ = _at(1)
    names = []
    for version in (1, 2):
        params = {
            "StateMachineArn": machine,
            "Name": execution_name,
            "Input": json.dumps({"version": version}),
        }
        names.append(
            _schedule(
                local_endpoints,
                group,
                expression,
                {
                    "Arn": "arn:aws:scheduler:::aws-sdk:sfn:startExecution",
                    "Input": json.dumps(params),
                    "DeadLetterConfig": {"Arn": dlq_arn},
                },
                ActionAfterCompletion="DELETE",
            )
        )

    # When both fire
    runner = make_runner()
    assert wait_for(lambda: len(runner.fired) == 2)

    # Then exactly one execution of that name ran, and both schedules were delivered and deleted
    sfn = client("stepfunctions", local_endpoints)
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == [execution_name]
    assert {f.outcome for f in runner.fired} == {"delivered"}
    assert wait_for(lambda: not any(_exists(local_endpoints, group, n) for n in names))
    assert client("sqs", local_endpoints).receive_message(QueueUrl=dlq_url).get("Messages", []) == []


def test_a_state_machine_target_starts_an_execution_with_the_schedules_input(
    local_endpoints: Endpoints, group: str, make_runner: Any
) -> None:
    machine = _pass_machine(local_endpoints)
    expression, _ = _at(1)
    _schedule(local_endpoints, group, expression, {"Arn": machine, "Input": json.dumps({"postId": "p-1"})})

    make_runner()

    sfn = client("stepfunctions", local_endpoints)
    assert wait_for(lambda: len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1)
    execution = sfn.list_executions(stateMachineArn=machine)["executions"][0]
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"postId": "p-1"}


def test_a_rate_schedule_fires_again_and_again(
    local_endpoints: Endpoints, group: str, host: LambdaHost, make_runner: Any
) -> None:
    # Given a rate(5 minutes) schedule whose period is shortened locally to 0.3 s
    calls = Calls()
    host.register("sweep_target", calls)
    name = _schedule(local_endpoints, group, "rate(5 minutes)", {"Arn": host.function_arn("sweep_target")})

    make_runner(period_overrides={name: 0.3})

    # Then it keeps firing, and stays (a recurring schedule without an end date is never deleted)
    assert wait_for(lambda: len(calls.events) >= 3)
    assert _exists(local_endpoints, group, name)


def test_a_failing_target_is_retried_per_its_policy_then_dead_lettered(
    local_endpoints: Endpoints, group: str, make_runner: Any
) -> None:
    # Given Step Functions unreachable, and a schedule allowing 2 retries, with a DLQ
    dlq_url, dlq_arn = _queue(local_endpoints)
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:unreachable"
    expression, _ = _at(1)
    name = _schedule(
        local_endpoints,
        group,
        expression,
        {
            "Arn": machine,
            "Input": json.dumps({"postId": "p-9"}),
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
            "DeadLetterConfig": {"Arn": dlq_arn},
        },
        ActionAfterCompletion="DELETE",
    )

    def clients(service: str) -> Any:
        if service == "stepfunctions":
            return client(service, Endpoints(dynamodb="", moto="http://127.0.0.1:9"), connect_timeout=0.5)
        return client(service, local_endpoints)

    # When it fires
    runner = make_runner(clients=clients)

    # Then after 3 attempts the input lands in the DLQ with the failure described
    assert wait_for(lambda: len(runner.fired) == 1)
    assert runner.fired[0].outcome == "dead-lettered"
    assert runner.fired[0].attempts == 3
    message = client("sqs", local_endpoints).receive_message(
        QueueUrl=dlq_url, MessageAttributeNames=["All"], WaitTimeSeconds=5
    )["Messages"][0]
    assert json.loads(message["Body"]) == {"postId": "p-9"}
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["RETRY_ATTEMPTS"] == "2"
    assert attributes["TARGET_ARN"] == machine
    assert attributes["SCHEDULE_ARN"].endswith(f"schedule/{group}/{name}")
    assert attributes["ERROR_CODE"]
    assert wait_for(lambda: not _exists(local_endpoints, group, name))


def test_a_client_error_is_not_retried(local_endpoints: Endpoints, group: str, make_runner: Any) -> None:
    # Given a target state machine that does not exist (a 4xx answer)
    dlq_url, dlq_arn = _queue(local_endpoints)
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:does-not-exist"
    expression, _ = _at(1)
    _schedule(local_endpoints, group, expression, {"Arn": machine, "DeadLetterConfig": {"Arn": dlq_arn}})

    runner = make_runner()

    assert wait_for(lambda: len(runner.fired) == 1)
    assert (runner.fired[0].outcome, runner.fired[0].attempts) == ("dead-lettered", 1)
    message = client("sqs", local_endpoints).receive_message(
        QueueUrl=dlq_url, MessageAttributeNames=["All"], WaitTimeSeconds=5
    )["Messages"][0]
    assert message["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "StateMachineDoesNotExist"


def test_discovery_reads_only_new_or_changed_schedules(
    local_endpoints: Endpoints, group: str, host: LambdaHost, make_runner: Any
) -> None:
    # Given 250 schedules far in the future (more than two pages of ListSchedules)
    host.register("far_target", Calls())
    far, _ = _at(7200)
    names = [
        _schedule(local_endpoints, group, far, {"Arn": host.function_arn("far_target")}) for _ in range(250)
    ]

    # When the runner has listed them several times
    runner = make_runner()
    assert wait_for(lambda: runner.get_schedule_calls >= 250)
    passes = runner.discovery_passes
    assert wait_for(lambda: runner.discovery_passes >= passes + 3)

    # Then each was read once
    assert runner.get_schedule_calls == 250

    # And a changed one is read again, once
    client("scheduler", local_endpoints).update_schedule(
        Name=names[0],
        GroupName=group,
        ScheduleExpression=_at(3600)[0],
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"RoleArn": ROLE, "Arn": host.function_arn("far_target")},
    )
    assert wait_for(lambda: runner.get_schedule_calls == 251)
    passes = runner.discovery_passes
    assert wait_for(lambda: runner.discovery_passes >= passes + 2)
    assert runner.get_schedule_calls == 251
