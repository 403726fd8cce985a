"""Provisioning creates, on DynamoDB Local and moto, what infra/topology.py declares."""

from __future__ import annotations

import json

import pytest

from infra.local.lambda_host import physical_name
from infra.local.provision import LocalStack
from infra.topology import FUNCTIONS, PERIODIC_SCHEDULES, STATE_MACHINES, STREAM_TRIGGERS, TABLE
from tidings.aws.schedules import rate_expression

pytestmark = pytest.mark.timeout(120)


def test_the_table_has_the_declared_keys_indexes_stream_and_ttl(local_stack: LocalStack) -> None:
    ddb = local_stack.client("dynamodb")

    table = ddb.describe_table(TableName=local_stack.table_name)["Table"]

    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        TABLE.partition_key: "HASH",
        TABLE.sort_key: "RANGE",
    }
    indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {index.name for index in TABLE.indexes}
    for index in TABLE.indexes:
        keys = {k["AttributeName"]: k["KeyType"] for k in indexes[index.name]["KeySchema"]}
        assert keys == {index.partition_key: "HASH", index.sort_key: "RANGE"}
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": TABLE.stream_view}
    assert table["LatestStreamArn"] == local_stack.stream_arn
    ttl = ddb.describe_time_to_live(TableName=local_stack.table_name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", TABLE.ttl_attribute)


def test_each_function_exists_with_its_settings(local_stack: LocalStack) -> None:
    lam = local_stack.client("lambda")

    for spec in FUNCTIONS:
        config = lam.get_function_configuration(FunctionName=physical_name(spec))
        assert config["FunctionArn"] == local_stack.function_arns[spec.name]
        assert (config["Timeout"], config["MemorySize"]) == (spec.timeout_seconds, spec.memory_mb)


def test_state_machines_are_rendered_with_the_functions_arns(local_stack: LocalStack) -> None:
    sfn = local_stack.client("stepfunctions")

    for machine in STATE_MACHINES:
        definition = sfn.describe_state_machine(stateMachineArn=local_stack.state_machine_arns[machine.name])[
            "definition"
        ]
        assert "${" not in definition
        for function in machine.lambda_substitutions.values():
            assert local_stack.function_arns[function] in definition
        json.loads(definition)


def test_periodic_schedules_target_their_functions(local_stack: LocalStack) -> None:
    scheduler = local_stack.client("scheduler")

    for periodic in PERIODIC_SCHEDULES:
        schedule = scheduler.get_schedule(Name=periodic.name, GroupName="default")
        assert schedule["ScheduleExpression"] == rate_expression(periodic.rate_minutes)
        assert schedule["Target"]["Arn"] == local_stack.function_arns[periodic.function]
        assert schedule["Target"]["DeadLetterConfig"]["Arn"] == local_stack.scheduler_dlq.arn
    group = scheduler.get_schedule_group(Name=local_stack.schedule_group)
    assert group["State"] == "ACTIVE"


def test_queues_exist_and_the_handlers_environment_points_at_the_stack(local_stack: LocalStack) -> None:
    sqs = local_stack.client("sqs")
    for queue in [local_stack.scheduler_dlq, *local_stack.stream_failure_queues.values()]:
        assert sqs.get_queue_url(QueueName=queue.name)["QueueUrl"] == queue.url
    assert set(local_stack.stream_failure_queues) == {t.function for t in STREAM_TRIGGERS}

    env = local_stack.env
    assert env["TIDINGS_TABLE_NAME"] == local_stack.table_name
    assert env["TIDINGS_PUBLISH_STATE_MACHINE_ARN"] == local_stack.publish_state_machine_arn
    assert env["TIDINGS_SCHEDULE_GROUP"] == local_stack.schedule_group
    assert env["TIDINGS_SCHEDULER_ROLE_ARN"] == local_stack.scheduler_role_arn
    assert env["TIDINGS_SCHEDULER_DLQ_ARN"] == local_stack.scheduler_dlq.arn
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == local_stack.endpoints.dynamodb
    assert env["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] == local_stack.endpoints.dynamodb
    for service in ("SFN", "SCHEDULER", "SQS", "SECRETS_MANAGER", "KMS", "LAMBDA", "SES"):
        assert env[f"AWS_ENDPOINT_URL_{service}"] == local_stack.endpoints.moto
    assert env["AWS_ACCOUNT_ID_ENDPOINT_MODE"] == "disabled"


def test_the_stack_description_survives_a_round_trip_through_json(local_stack: LocalStack) -> None:
    assert LocalStack.from_json(json.loads(json.dumps(local_stack.to_json()))) == local_stack
