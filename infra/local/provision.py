"""Creates the local stack's resources from infra/topology.py, the file the CDK stack reads.

The table (keys, GSIs, TTL, stream) goes to DynamoDB Local; everything else to moto: the
dead-letter queues, the schedule group and the scheduler's role, one Lambda function per
FunctionSpec (its code is never run by moto: the hook routes invocations to the lambda host),
each state machine rendered with those functions' ARNs, and the periodic schedules as Scheduler
`rate(...)` schedules targeting their functions.

The result, `LocalStack`, carries every ARN and endpoint and the environment the handlers need
(TIDINGS_* settings, AWS_ENDPOINT_URL_* per service, region, fake credentials).
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from infra.local.lambda_host import DEFAULT_ACCOUNT, DEFAULT_REGION, physical_name
from infra.topology import (
    CAMPAIGN_SEND_CONCURRENCY,
    CAMPAIGN_SEND_QUEUE,
    CAMPAIGN_SENDER,
    FUNCTIONS,
    INTEGRATION_SYNC,
    PERIODIC_SCHEDULES,
    PUBLISH_STATE_MACHINE,
    QUEUE_TRIGGERS,
    STATE_MACHINES,
    STREAM_TRIGGERS,
    TABLE,
    TASK_RUNNER,
    WORKFLOW_STATE_MACHINE,
    render_definition,
)
from tidings.aws.schedules import rate_expression

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The Python runtime the functions use on AWS (what moto records for them).
RUNTIME = "python3.13"
RESOURCE_PREFIX = "tidings"
PERIODIC_SCHEDULE_GROUP = "default"
SCHEDULE_GROUP = "tidings"
# Campaign email locally: its configuration set (the stack's default name) and, unless the shell names
# one, its sender.
CAMPAIGN_CONFIGURATION_SET = "tidings-campaigns"
LOCAL_CAMPAIGN_SENDER = "Tidings Local <campaigns@tidings.example>"

# Settings that point at the stack's resources: always the provisioned values.
_RESOURCE_SETTINGS = (
    "TIDINGS_TABLE_NAME",
    "TIDINGS_PUBLISH_STATE_MACHINE_ARN",
    "TIDINGS_SCHEDULE_GROUP",
    "TIDINGS_SCHEDULER_ROLE_ARN",
    "TIDINGS_SCHEDULER_DLQ_ARN",
    "TIDINGS_REGION",
    "TIDINGS_CREDENTIALS_KEY_ID",
    "TIDINGS_UNSUBSCRIBE_SECRET_ARN",
    "TIDINGS_WORKFLOW_STATE_MACHINE_ARN",
    "TIDINGS_TASK_RUNNER_ARN",
    "TIDINGS_INTEGRATION_SYNC_ARN",
    "TIDINGS_CAMPAIGN_SEND_ARN",
    "TIDINGS_CAMPAIGN_SEND_QUEUE_URL",
    "TIDINGS_CAMPAIGN_CONFIGURATION_SET",
    "TIDINGS_CAMPAIGN_SEND_CONCURRENCY",
)

# Services the handlers (and this runtime) reach, and which local endpoint plays each. botocore
# reads AWS_ENDPOINT_URL_<SERVICE> natively; AWS_ENDPOINT_URL catches any other service so that
# nothing ever reaches real AWS from the local stack.
_MOTO_SERVICES = (
    "SFN",
    "SCHEDULER",
    "SQS",
    "SECRETS_MANAGER",
    "KMS",
    "LAMBDA",
    "SES",
    "SESV2",
    "IAM",
    "STS",
)


@dataclass(frozen=True)
class Endpoints:
    dynamodb: str
    moto: str
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT


def aws_env(endpoints: Endpoints) -> dict[str, str]:
    """Region, fake credentials and per-service endpoints for boto3 clients of the local stack."""
    env = {
        "AWS_REGION": endpoints.region,
        "AWS_DEFAULT_REGION": endpoints.region,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        # moto does not do account-id based endpoints; current botocore would try them.
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "AWS_ENDPOINT_URL": endpoints.moto,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoints.dynamodb,
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": endpoints.dynamodb,
    }
    for service in _MOTO_SERVICES:
        env[f"AWS_ENDPOINT_URL_{service}"] = endpoints.moto
    return env


def client(service: str, endpoints: Endpoints, **config: Any) -> Any:
    """A boto3 client of the local stack (explicit endpoint and credentials, no env needed)."""
    endpoint = endpoints.dynamodb if service in ("dynamodb", "dynamodbstreams") else endpoints.moto
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=endpoints.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - local fakes
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=32, **config),
    )


@dataclass
class Queue:
    name: str
    url: str
    arn: str


@dataclass
class LocalStack:
    """Everything provisioned: ARNs, endpoints and the handlers' environment."""

    endpoints: Endpoints
    table_name: str
    table_arn: str
    stream_arn: str
    function_arns: dict[str, str]
    state_machine_arns: dict[str, str]
    schedule_group: str
    scheduler_role_arn: str
    scheduler_dlq: Queue
    stream_failure_queues: dict[str, Queue]
    periodic_schedules: dict[str, str]  # schedule name -> function
    credentials_key_arn: str = ""
    unsubscribe_secret_arn: str = ""
    env: dict[str, str] = field(default_factory=dict)
    # The queues of topology.QUEUE_TRIGGERS by queue name, and their dead-letter queues.
    trigger_queues: dict[str, Queue] = field(default_factory=dict)
    trigger_dead_letters: dict[str, Queue] = field(default_factory=dict)
    campaign_from_address: str = ""  # the verified sender of campaign email (moto's SES)

    @property
    def publish_state_machine_arn(self) -> str:
        return self.state_machine_arns[PUBLISH_STATE_MACHINE]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LocalStack:
        values = dict(data)
        values["endpoints"] = Endpoints(**values["endpoints"])
        values["scheduler_dlq"] = Queue(**values["scheduler_dlq"])
        values["stream_failure_queues"] = {k: Queue(**v) for k, v in values["stream_failure_queues"].items()}
        for name in ("trigger_queues", "trigger_dead_letters"):
            values[name] = {k: Queue(**v) for k, v in values.get(name, {}).items()}
        return cls(**values)

    def client(self, service: str) -> Any:
        return client(service, self.endpoints)


def create_table(ddb: DynamoDBClient, name: str) -> tuple[str, str]:
    keys = {TABLE.partition_key, TABLE.sort_key}
    for index in TABLE.indexes:
        keys |= {index.partition_key, index.sort_key}
    resp = ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in sorted(keys)],
        KeySchema=[
            {"AttributeName": TABLE.partition_key, "KeyType": "HASH"},
            {"AttributeName": TABLE.sort_key, "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in TABLE.indexes
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": TABLE.stream_view},  # type: ignore[typeddict-item]
    )
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    ddb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TABLE.ttl_attribute},
    )
    description = resp["TableDescription"]
    return description["TableArn"], description["LatestStreamArn"]


def open_table(ddb: DynamoDBClient, name: str) -> tuple[str, str] | None:
    """(ARN, stream ARN) of the table a previous run left in DynamoDB Local's database; None if absent."""
    try:
        table = ddb.describe_table(TableName=name)["Table"]
    except ddb.exceptions.ResourceNotFoundException:
        return None
    add_missing_indexes(ddb, name, {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])})
    return table["TableArn"], table["LatestStreamArn"]


def add_missing_indexes(ddb: DynamoDBClient, name: str, present: set[str]) -> None:
    """Create the topology's indexes a table from an older run lacks, one at a time (as DynamoDB
    allows), and wait until each is active."""
    for index in TABLE.indexes:
        if index.name in present:
            continue
        ddb.update_table(
            TableName=name,
            AttributeDefinitions=[
                {"AttributeName": index.partition_key, "AttributeType": "S"},
                {"AttributeName": index.sort_key, "AttributeType": "S"},
            ],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": index.name,
                        "KeySchema": [
                            {"AttributeName": index.partition_key, "KeyType": "HASH"},
                            {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                }
            ],
        )
        for _ in range(60):
            described = ddb.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])
            if any(i["IndexName"] == index.name and i.get("IndexStatus") == "ACTIVE" for i in described):
                break
            time.sleep(0.5)


def _create_credentials_key(kms: Any) -> str:
    """The symmetric key that wraps every credential's data key (the stack's CredentialsKey); the one
    the moto server was started with (`--credentials-key`), if any, found by its alias."""
    alias = f"alias/{RESOURCE_PREFIX}-credentials"
    try:
        found: str = kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
        return found
    except kms.exceptions.NotFoundException:
        pass
    arn: str = kms.create_key(
        Description="Tidings credentials: wraps one data key per stored secret",
        KeyUsage="ENCRYPT_DECRYPT",
        KeySpec="SYMMETRIC_DEFAULT",
    )["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=alias, TargetKeyId=arn)
    return arn


def _create_unsubscribe_secret(secretsmanager: Any, value: str | None = None) -> str:
    """The key of the unsubscribe links (the stack's UnsubscribeKey): `value` (the state directory's,
    so links sent before a restart still work), else generated for this stack; no key is written in
    code and links made by one local stack are refused by another."""
    import secrets

    arn: str = secretsmanager.create_secret(
        Name=f"{RESOURCE_PREFIX}-unsubscribe-key",
        Description="Tidings: the key campaign unsubscribe links are signed and encrypted with",
        SecretString=value or secrets.token_urlsafe(48),
    )["ARN"]
    return arn


def _create_queue(sqs: Any, name: str, attributes: Mapping[str, str] | None = None) -> Queue:
    url = sqs.create_queue(QueueName=name, Attributes=dict(attributes or {}))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Queue(name=name, url=url, arn=arn)


def _create_trigger_queues(sqs: Any) -> tuple[dict[str, Queue], dict[str, Queue]]:
    """Each queue trigger's queue (its visibility timeout six times the function's timeout) and its
    dead-letter queue after maxReceiveCount receives, as the stack's (infra/constructs/campaigns.py)."""
    queues: dict[str, Queue] = {}
    dead_letters: dict[str, Queue] = {}
    for trigger in QUEUE_TRIGGERS:
        dead = _create_queue(sqs, f"{RESOURCE_PREFIX}-{trigger.queue}-dlq")
        redrive = {"deadLetterTargetArn": dead.arn, "maxReceiveCount": str(trigger.max_receive_count)}
        queues[trigger.queue] = _create_queue(
            sqs,
            f"{RESOURCE_PREFIX}-{trigger.queue}",
            {
                "VisibilityTimeout": str(trigger.visibility_timeout_seconds),
                "RedrivePolicy": json.dumps(redrive),
            },
        )
        dead_letters[trigger.queue] = dead
    return queues, dead_letters


def campaign_sender_address() -> str:
    """The sender of local campaign email: the shell's TIDINGS_CAMPAIGN_FROM_ADDRESS, else a local one
    on a reserved domain (RFC 2606 `.example`: it can never reach anyone)."""
    return os.environ.get("TIDINGS_CAMPAIGN_FROM_ADDRESS") or LOCAL_CAMPAIGN_SENDER


def _create_campaign_sender(sesv2: Any, from_address: str) -> None:
    """The sender's domain as a verified identity (moto's SES refuses an unverified sender, as SES does)
    and the configuration set campaign email goes through."""
    domain = parseaddr(from_address)[1].rpartition("@")[2]
    sesv2.create_email_identity(EmailIdentity=domain)
    sesv2.create_configuration_set(ConfigurationSetName=CAMPAIGN_CONFIGURATION_SET)


def _code_zip() -> bytes:
    # moto requires a deployment package; its content is never run (invocations are routed).
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("README.txt", "Tidings local runtime: invocations run in the lambda host.\n")
    return buf.getvalue()


def _role(iam: Any, name: str, service: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    return arn


def provision(
    endpoints: Endpoints,
    *,
    extra_env: Mapping[str, str] | None = None,
    unsubscribe_key: str | None = None,
) -> LocalStack:
    """Create every resource of the topology and return the stack description. A table DynamoDB Local
    kept from a previous run (`-dbPath`) is used as it is, data and stream included."""
    ddb: DynamoDBClient = client("dynamodb", endpoints)
    table_name = RESOURCE_PREFIX
    table_arn, stream_arn = open_table(ddb, table_name) or create_table(ddb, table_name)

    credentials_key_arn = _create_credentials_key(client("kms", endpoints))
    unsubscribe_secret_arn = _create_unsubscribe_secret(client("secretsmanager", endpoints), unsubscribe_key)

    sqs = client("sqs", endpoints)
    scheduler_dlq = _create_queue(sqs, f"{RESOURCE_PREFIX}-scheduler-dlq")
    failure_queues = {
        trigger.function: _create_queue(
            sqs, f"{RESOURCE_PREFIX}-{trigger.function.replace('_', '-')}-failures"
        )
        for trigger in STREAM_TRIGGERS
    }

    trigger_queues, trigger_dead_letters = _create_trigger_queues(sqs)
    from_address = campaign_sender_address()
    _create_campaign_sender(client("sesv2", endpoints), from_address)

    iam = client("iam", endpoints)
    lambda_role = _role(iam, f"{RESOURCE_PREFIX}-lambda", "lambda.amazonaws.com")
    scheduler_role = _role(iam, f"{RESOURCE_PREFIX}-scheduler", "scheduler.amazonaws.com")
    states_role = _role(iam, f"{RESOURCE_PREFIX}-states", "states.amazonaws.com")

    lam = client("lambda", endpoints)
    code = _code_zip()
    function_arns: dict[str, str] = {}
    for spec in FUNCTIONS:
        resp = lam.create_function(
            FunctionName=physical_name(spec),
            Runtime=RUNTIME,
            Role=lambda_role,
            Handler=spec.handler,
            Code={"ZipFile": code},
            Description=spec.description,
            Timeout=spec.timeout_seconds,
            MemorySize=spec.memory_mb,
            Architectures=["arm64"],
        )
        function_arns[spec.name] = resp["FunctionArn"]

    sfn = client("stepfunctions", endpoints)
    state_machine_arns: dict[str, str] = {}
    for machine in STATE_MACHINES:
        resp = sfn.create_state_machine(
            name=f"{RESOURCE_PREFIX}-{machine.name.replace('_', '-')}",
            definition=render_definition(machine, function_arns),
            roleArn=states_role,
            type="STANDARD",
        )
        state_machine_arns[machine.name] = resp["stateMachineArn"]

    scheduler = client("scheduler", endpoints)
    scheduler.create_schedule_group(Name=SCHEDULE_GROUP)
    periodic: dict[str, str] = {}
    for schedule in PERIODIC_SCHEDULES:
        scheduler.create_schedule(
            Name=schedule.name,
            GroupName=PERIODIC_SCHEDULE_GROUP,
            ScheduleExpression=rate_expression(schedule.rate_minutes),
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": function_arns[schedule.function],
                "RoleArn": scheduler_role,
                "Input": json.dumps({"source": "tidings.local", "schedule": schedule.name}),
                "DeadLetterConfig": {"Arn": scheduler_dlq.arn},
            },
            State="ENABLED",
        )
        periodic[schedule.name] = schedule.function

    stack = LocalStack(
        endpoints=endpoints,
        table_name=table_name,
        table_arn=table_arn,
        stream_arn=stream_arn,
        function_arns=function_arns,
        state_machine_arns=state_machine_arns,
        schedule_group=SCHEDULE_GROUP,
        scheduler_role_arn=scheduler_role,
        scheduler_dlq=scheduler_dlq,
        stream_failure_queues=failure_queues,
        periodic_schedules=periodic,
        credentials_key_arn=credentials_key_arn,
        unsubscribe_secret_arn=unsubscribe_secret_arn,
        trigger_queues=trigger_queues,
        trigger_dead_letters=trigger_dead_letters,
        campaign_from_address=from_address,
    )
    stack.env = handler_env(stack, extra_env)
    return stack


def handler_env(stack: LocalStack, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the handlers' environment holds: the user's own TIDINGS_* knobs (e.g.
    TIDINGS_RETRY_INTERVALS from the shell), then `extra_env` (e.g. the fake platforms' API bases),
    then the stack's resources and endpoints, which always win."""
    env = {k: v for k, v in os.environ.items() if k.startswith("TIDINGS_") and k not in _RESOURCE_SETTINGS}
    env.update(extra_env or {})
    # notification e-mail (workflows, alerts) from the campaign sender's verified domain, unless set
    domain = parseaddr(stack.campaign_from_address)[1].rpartition("@")[2]
    if domain:
        env.setdefault("TIDINGS_NOTIFICATION_FROM_EMAIL", f"notifications@{domain}")
    env.update(aws_env(stack.endpoints))
    env.update(
        {
            "TIDINGS_TABLE_NAME": stack.table_name,
            "TIDINGS_PUBLISH_STATE_MACHINE_ARN": stack.publish_state_machine_arn,
            "TIDINGS_SCHEDULE_GROUP": stack.schedule_group,
            "TIDINGS_SCHEDULER_ROLE_ARN": stack.scheduler_role_arn,
            "TIDINGS_SCHEDULER_DLQ_ARN": stack.scheduler_dlq.arn,
            "TIDINGS_REGION": stack.endpoints.region,
            "TIDINGS_CREDENTIALS_KEY_ID": stack.credentials_key_arn,
            "TIDINGS_UNSUBSCRIBE_SECRET_ARN": stack.unsubscribe_secret_arn,
            "TIDINGS_WORKFLOW_STATE_MACHINE_ARN": stack.state_machine_arns[WORKFLOW_STATE_MACHINE],
            "TIDINGS_TASK_RUNNER_ARN": stack.function_arns[TASK_RUNNER],
            "TIDINGS_INTEGRATION_SYNC_ARN": stack.function_arns[INTEGRATION_SYNC],
            "TIDINGS_CAMPAIGN_SEND_QUEUE_URL": stack.trigger_queues[CAMPAIGN_SEND_QUEUE].url,
            "TIDINGS_CAMPAIGN_CONFIGURATION_SET": CAMPAIGN_CONFIGURATION_SET,
            "TIDINGS_CAMPAIGN_SEND_CONCURRENCY": str(CAMPAIGN_SEND_CONCURRENCY),
            "TIDINGS_CAMPAIGN_FROM_ADDRESS": stack.campaign_from_address,
            # the campaign steps' one-time schedules invoke it
            "TIDINGS_CAMPAIGN_SEND_ARN": stack.function_arns[CAMPAIGN_SENDER],
        }
    )
    return env
