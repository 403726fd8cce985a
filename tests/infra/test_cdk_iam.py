"""Least privilege: each function may do what its Access set says and nothing more."""

from __future__ import annotations

from typing import Any

import pytest
from cfn import Template, allowed, as_list, by_path, function, only, ref, render, resources, role_of_function
from synthesis import Synth

from infra.topology import FUNCTIONS, Access, FunctionSpec

LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
READ = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"}
WRITE = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"}
KEY_READ = {"kms:Decrypt", "kms:DescribeKey"}
KEY_WRITE = {"kms:Encrypt", "kms:GenerateDataKey"}
STREAM = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}
STREAM_FAILURES = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
# A function a schedule invokes asynchronously: what fails after Lambda's retries goes to its
# on-failure queue (infra/constructs/async_failures.py).
ASYNC_FAILURES = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
START = {"states:StartExecution", "states:DescribeExecution"}
SCHEDULES = {
    "scheduler:CreateSchedule",
    "scheduler:UpdateSchedule",
    "scheduler:DeleteSchedule",
    "scheduler:GetSchedule",
    "iam:PassRole",
}

# The campaign send queue: consumed through the event source mapping, filled by the step triggers.
QUEUE_CONSUME = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}
# The unsubscribe links' key (Access.UNSUBSCRIBE_LINKS): its one secret, read.
UNSUBSCRIBE_KEY = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
# The app-level secrets (OAuth clients, CRM keys, the Meta app secret), read with opened credentials.
APP_SECRETS = {"secretsmanager:GetSecretValue"}
# A function reading the table's stream and the table (failed batches to its on-failure queue).
STREAM_READER = LOGS | XRAY | STREAM | STREAM_FAILURES | READ | WRITE | KEY_READ | KEY_WRITE
TOKENS = {"states:SendTaskSuccess", "states:SendTaskFailure"}
WORKFLOWS = {"states:StopExecution"} | TOKENS  # StartExecution is in START
EXPECTED_ACTIONS = {
    "http_api": LOGS
    | XRAY
    | READ
    | WRITE
    | KEY_READ
    | KEY_WRITE
    | START
    | WORKFLOWS
    | UNSUBSCRIBE_KEY
    | {"bedrock:InvokeModel", "ses:SendEmail"},
    "schedule_sync": LOGS
    | XRAY
    | STREAM
    | STREAM_FAILURES
    | WRITE
    | KEY_READ
    | KEY_WRITE
    | START
    | SCHEDULES,
    "publish_task": LOGS | XRAY | READ | WRITE | KEY_READ | KEY_WRITE | APP_SECRETS,
    "sweeper": LOGS | XRAY | READ | WRITE | KEY_READ | KEY_WRITE | START | ASYNC_FAILURES,
    # $connect/$disconnect: the user's connections and nothing else (the token is checked with the
    # user pool's public keys, read over HTTPS)
    "live_connections": LOGS | XRAY | READ | WRITE | KEY_READ | KEY_WRITE,
    # the stream, the user's connections, and posting to the live WebSocket API's connections
    "live_fanout": STREAM_READER | {"execute-api:ManageConnections"},
    # describes the workflow machine's executions and starts its continuations; its failed invocations
    # go to the rule's dead-letter queue (the on-failure destination)
    "workflow_recovery": LOGS | XRAY | READ | WRITE | KEY_READ | KEY_WRITE | START | STREAM_FAILURES,
    # the A/B test monitor reads and writes the table (and sends a failed run to its on-failure queue),
    # and nothing else: no schedules, no credentials
    "abtest_monitor": LOGS | XRAY | READ | WRITE | KEY_READ | KEY_WRITE | ASYNC_FAILURES,
    "integration_sync": LOGS | XRAY | READ | WRITE | KEY_READ | KEY_WRITE | APP_SECRETS | ASYNC_FAILURES,
    "analytics_sync": LOGS
    | XRAY
    | STREAM
    | STREAM_FAILURES
    | READ
    | WRITE
    | KEY_READ
    | KEY_WRITE
    | APP_SECRETS,
    "crm_sync": LOGS | XRAY | STREAM | STREAM_FAILURES | READ | WRITE | KEY_READ | KEY_WRITE | APP_SECRETS,
    "event_delivery": LOGS
    | XRAY
    | STREAM
    | STREAM_FAILURES
    | READ
    | WRITE
    | KEY_READ
    | KEY_WRITE
    | APP_SECRETS
    | {"ses:SendEmail"},
    "workflow_step": LOGS
    | XRAY
    | READ
    | WRITE
    | KEY_READ
    | KEY_WRITE
    | START
    | WORKFLOWS
    | ASYNC_FAILURES
    | {"ses:SendEmail", "bedrock:InvokeModel"},
    # SES SendEmail only with sesFromAddress in the context (tests/infra/test_cdk_campaign_send.py)
    "campaign_send": LOGS
    | XRAY
    | READ
    | WRITE
    | KEY_READ
    | KEY_WRITE
    | QUEUE_CONSUME
    | UNSUBSCRIBE_KEY
    | {"sqs:SendMessage", "ses:GetAccount"},
    # sqs:SendMessage: a failed asynchronous invocation (an SES event) goes to its dead-letter queue
    "campaign_events": LOGS
    | XRAY
    | STREAM
    | STREAM_FAILURES
    | READ
    | WRITE
    | KEY_READ
    | KEY_WRITE
    | {"sqs:SendMessage"},
    # reads the stream, the table and the accounts' sealed tokens (to read comments and post replies);
    # drafts replies with the Bedrock model; Comprehend only with -c commentAnalyzer=comprehend
    # (tests/infra/test_cdk_comment_analyzer.py)
    "comment_intake": LOGS
    | XRAY
    | STREAM
    | STREAM_FAILURES
    | READ
    | WRITE
    | KEY_READ
    | KEY_WRITE
    | APP_SECRETS
    | {"bedrock:InvokeModel"},
}


def test_every_topology_function_has_an_expectation_here() -> None:
    assert set(EXPECTED_ACTIONS) == {spec.name for spec in FUNCTIONS}


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_function_may_do_exactly_what_its_access_set_says(template: Template, spec: FunctionSpec) -> None:
    grants = allowed(template, role_of_function(template, spec.name))

    assert set(grants) == EXPECTED_ACTIONS[spec.name]


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_function_role_has_no_managed_policy(template: Template, spec: FunctionSpec) -> None:
    role = template["Resources"][role_of_function(template, spec.name)]

    assert "ManagedPolicyArns" not in role["Properties"]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]


def test_the_sweeper_changes_items_one_at_a_time_and_manages_no_schedules(template: Template) -> None:
    # it writes a stale task back to pending (a conditional PutItem); nothing in batches
    grants = allowed(template, role_of_function(template, "sweeper"))

    assert {action for action in grants if action.startswith("dynamodb:")} >= {"dynamodb:PutItem"}
    assert "dynamodb:BatchWriteItem" not in grants
    assert not {a for a in grants if a.startswith("scheduler:")}


def test_only_the_schedule_sync_manages_schedules_and_passes_the_scheduler_role(template: Template) -> None:
    for spec in FUNCTIONS:
        grants = allowed(template, role_of_function(template, spec.name))
        if spec.name == "schedule_sync":
            continue
        assert not {a for a in grants if a.startswith("scheduler:") or a == "iam:PassRole"}, spec.name


def test_table_reads_reach_the_table_and_its_indexes_only(template: Template) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    grants = allowed(template, role_of_function(template, "sweeper"))

    for action in READ:
        assert grants[action] == {
            f"<{table_id}.Arn>",
            f"<{table_id}.Arn>/index/GSI1",
            f"<{table_id}.Arn>/index/GSI2",
            f"<{table_id}.Arn>/index/GSI3",
        }


def test_table_writes_reach_the_table_only(template: Template) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    grants = allowed(template, role_of_function(template, "publish_task"))

    for action in WRITE:
        assert grants[action] == {f"<{table_id}.Arn>"}


def test_the_table_key_is_usable_only_through_dynamodb(template: Template) -> None:
    key_id, _ = by_path(template, "Table/Key/Resource")
    credentials_key, _ = by_path(template, "CredentialsKey/Resource")
    role_id = role_of_function(template, "publish_task")
    statements = [
        s for s in _statements(template, role_id) if any(a.startswith("kms:") for a in as_list(s["Action"]))
    ]
    table_key = [s for s in statements if [ref(r) for r in as_list(s["Resource"])] == [key_id]]

    assert table_key
    assert all([ref(r) for r in as_list(s["Resource"])] in ([key_id], [credentials_key]) for s in statements)
    for statement in table_key:
        via = statement["Condition"]["StringEquals"]["kms:ViaService"]
        assert render(via) == "dynamodb.<AWS::Region>.amazonaws.com"


def _credentials_actions(template: Template, function_name: str) -> tuple[set[str], list[dict[str, object]]]:
    key_id, _ = by_path(template, "CredentialsKey/Resource")
    statements = [
        s
        for s in _statements(template, role_of_function(template, function_name))
        if [ref(r) for r in as_list(s["Resource"])] == [f"{key_id}.Arn"] or ref(s["Resource"]) == key_id
    ]
    actions = {a for s in statements for a in as_list(s["Action"])}
    return actions, statements


def test_credentials_are_used_only_by_the_api_and_the_publisher(template: Template) -> None:
    api, api_statements = _credentials_actions(template, "http_api")
    publisher, statements = _credentials_actions(template, "publish_task")

    assert api == {"kms:Decrypt", "kms:GenerateDataKey"}  # connects accounts, sends messages
    assert publisher == {"kms:Decrypt", "kms:GenerateDataKey"}  # publishes, reseals renewed tokens
    assert _credentials_actions(template, "sweeper")[0] == set()
    assert _credentials_actions(template, "schedule_sync")[0] == set()
    for statement in [*statements, *api_statements]:
        condition = statement["Condition"]
        assert condition["StringEquals"] == {"kms:EncryptionContext:tidings:purpose": "credentials"}  # type: ignore[index]
        assert condition["Null"] == {"kms:EncryptionContext:tidings:userId": "false"}  # type: ignore[index]


def test_the_credentials_key_rotates_and_is_kept(template: Template) -> None:
    _, key = by_path(template, "CredentialsKey/Resource")

    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def test_publishing_rights_are_on_the_publish_state_machine_only(template: Template) -> None:
    machine_id, machine = by_path(template, "Publishing/PublishPost/StateMachine/Resource")
    _, workflows = by_path(template, "Publishing/RunWorkflow/StateMachine/Resource")
    name = machine["Properties"]["StateMachineName"]
    workflow_arn = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:"
    workflow_arn += workflows["Properties"]["StateMachineName"]
    grants = allowed(template, role_of_function(template, "http_api"))

    assert grants["states:StartExecution"] == {f"<{machine_id}>", workflow_arn}
    assert grants["states:DescribeExecution"] == {
        f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{name}:*"
    }
    assert allowed(template, role_of_function(template, "workflow_step"))["states:StartExecution"] == {
        f"<{machine_id}>",
        workflow_arn,
    }


def test_workflow_rights_are_on_the_workflow_machine_only(template: Template) -> None:
    _, machine = by_path(template, "Publishing/RunWorkflow/StateMachine/Resource")
    name = machine["Properties"]["StateMachineName"]
    arn = f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:{name}"
    api = allowed(template, role_of_function(template, "http_api"))
    step = allowed(template, role_of_function(template, "workflow_step"))

    for grants in (api, step):
        assert grants["states:StopExecution"] == {
            f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{name}:*"
        }
        assert grants["states:SendTaskSuccess"] == grants["states:SendTaskFailure"] == {arn}
    assert step["ses:SendEmail"] == {"arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/*"}
    assert step["bedrock:InvokeModel"] == {
        "arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/*",
        "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:inference-profile/*",
    }


def test_schedule_management_is_limited_to_the_tidings_group_and_role(template: Template) -> None:
    scheduler_role_id, _ = by_path(template, "Scheduling/PublishRole/Resource")
    role_id = role_of_function(template, "schedule_sync")
    grants = allowed(template, role_id)

    for action in SCHEDULES - {"iam:PassRole"}:
        assert grants[action] == {
            "arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/tidings/*"
        }
    (pass_role,) = [s for s in _statements(template, role_id) if s["Action"] == "iam:PassRole"]
    assert ref(pass_role["Resource"]) == scheduler_role_id
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}


def test_each_function_writes_to_its_own_log_group_only(template: Template) -> None:
    for spec in FUNCTIONS:
        _, fn = function(template, spec.name)
        group = ref(fn["Properties"]["LoggingConfig"]["LogGroup"])
        grants = allowed(template, role_of_function(template, spec.name))
        assert grants["logs:CreateLogStream"] == grants["logs:PutLogEvents"] == {f"<{group}.Arn>"}


# Actions AWS authorises on no resource ARN: X-Ray segment upload, CloudWatch Logs vended-log
# delivery (Step Functions logging), and DynamoDB ListStreams.
WILDCARD_ONLY = (
    XRAY
    | {"dynamodb:ListStreams", "xray:GetSamplingRules", "xray:GetSamplingTargets", "ses:GetAccount"}
    | {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)


def _own_policies(template: Template) -> dict[str, dict[str, Any]]:
    """Every policy but that of CDK's BucketDeployment function, which CDK writes with its buckets'
    grants (s3:GetObject*, ...): test_cdk_dashboard_hosting.py checks what that one reaches."""
    return {
        lid: policy
        for lid, policy in resources(template, "AWS::IAM::Policy").items()
        if "/Custom::CDKBucketDeployment" not in policy["Metadata"]["aws:cdk:path"]
    }


def test_no_policy_grants_resource_star_except_where_aws_requires_it(template: Template) -> None:
    for policy_id, policy in resources(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "*" in as_list(statement["Resource"]):
                extra = set(as_list(statement["Action"])) - WILDCARD_ONLY
                assert not extra, f"{policy_id} grants {sorted(extra)} on '*'"


def test_no_policy_uses_wildcard_actions(template: Template) -> None:
    for policy_id, policy in _own_policies(template).items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{policy_id}: {action}"


def _statements(template: Template, role_id: str) -> list[dict[str, object]]:
    from cfn import statements_of_role

    return statements_of_role(template, role_id)


def test_every_kind_of_access_the_topology_can_declare_is_granted_somehow(synth: Synth) -> None:
    assert synth.stack.grants.handled == frozenset(Access)
