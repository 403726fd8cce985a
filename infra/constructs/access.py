"""Least-privilege IAM and environment per function, derived from its topology Access set.

Every Access member maps to exactly the statements below; nothing is granted by default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.campaigns import SesSender
from infra.constructs.constants import (
    ENV_APP_SECRETS_ARN,
    ENV_CAMPAIGN_CONFIGURATION_SET,
    ENV_CAMPAIGN_FROM_ADDRESS,
    ENV_CAMPAIGN_SEND_ARN,
    ENV_CAMPAIGN_SEND_CONCURRENCY,
    ENV_CAMPAIGN_SEND_QUEUE_URL,
    ENV_COMMENT_ANALYZER,
    ENV_CREDENTIALS_KEY_ID,
    ENV_INTEGRATION_SYNC_ARN,
    ENV_PUBLISH_STATE_MACHINE_ARN,
    ENV_SCHEDULE_GROUP,
    ENV_SCHEDULER_DLQ_ARN,
    ENV_SCHEDULER_ROLE_ARN,
    ENV_TABLE_NAME,
    ENV_TASK_RUNNER_ARN,
    ENV_UNSUBSCRIBE_SECRET_ARN,
    ENV_WORKFLOW_STATE_MACHINE_ARN,
)
from infra.constructs.nag import acknowledge, nag_arn
from infra.constructs.table import Table
from infra.topology import CAMPAIGN_SEND_CONCURRENCY, Access

TABLE_READ_ACTIONS = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"]
# TransactWriteItems is authorised through the item actions it carries (DynamoDB Developer Guide,
# "Using IAM with DynamoDB transactions"); ConditionCheckItem is the transaction's condition check.
TABLE_WRITE_ACTIONS = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
]
# A customer-managed table key must be usable by the caller through DynamoDB (AWS KMS Developer
# Guide, "How Amazon DynamoDB uses AWS KMS"); kms:ViaService keeps it to calls DynamoDB makes.
TABLE_KEY_READ_ACTIONS = ["kms:Decrypt", "kms:DescribeKey"]
TABLE_KEY_WRITE_ACTIONS = ["kms:Encrypt", "kms:GenerateDataKey"]
SCHEDULE_ACTIONS = [
    "scheduler:CreateSchedule",
    "scheduler:UpdateSchedule",
    "scheduler:DeleteSchedule",
    "scheduler:GetSchedule",
]
# Envelope encryption of credentials (tidings.aws.vault): GenerateDataKey to seal,
# Decrypt to open. Every call must carry the Tidings encryption context with a user id (AWS KMS
# Developer Guide, "kms:EncryptionContext:context-key" condition key).
CREDENTIALS_SEAL_ACTIONS = ["kms:GenerateDataKey"]
CREDENTIALS_OPEN_ACTIONS = ["kms:Decrypt"]
APP_SECRETS_ACTIONS = ["secretsmanager:GetSecretValue"]
# What the Comprehend comment analyzer calls (tidings.aws.comprehend).
COMPREHEND_ACTIONS = [
    "comprehend:BatchDetectSentiment",
    "comprehend:BatchDetectKeyPhrases",
    "comprehend:DetectToxicContent",
]


@dataclass(frozen=True)
class AccessTargets:
    """The resources an Access set can reach."""

    table: Table
    publish_state_machine: sfn.StateMachine
    publish_state_machine_name: str
    schedule_group_name: str
    scheduler_role: iam.IRole
    scheduler_dlq: sqs.IQueue
    credentials_key: kms.IKey
    workflow_state_machine: sfn.StateMachine
    workflow_state_machine_name: str
    task_runner: lambda_.IFunction
    integration_sync: lambda_.IFunction
    # Email campaigns: the function the step schedules invoke, the send queue, the configuration set,
    # and the sender (None: no sesFromAddress in the context, so nothing may send campaign email).
    campaign_sender: lambda_.IFunction | None = None
    campaign_send_queue: sqs.IQueue | None = None
    campaign_configuration_set: str = ""
    ses_sender: SesSender | None = None
    # The key unsubscribe links are signed and encrypted with (tidings.campaigns.unsubscribe).
    unsubscribe_secret: secretsmanager.ISecret | None = None
    # The app-level secrets (infra.constructs.app_secrets), read by the functions opening credentials.
    app_secrets: secretsmanager.ISecret | None = None
    # The comment analyzer the stack chose ("local" or "comprehend", the commentAnalyzer context).
    comment_analyzer: str = "local"


class AccessGrants:
    """Applies an Access set to one function: IAM statements on its role, TIDINGS_* environment."""

    def __init__(self, scope: Construct, targets: AccessTargets) -> None:
        self.stack = Stack.of(scope)
        self.targets = targets
        self._grants: dict[Access, Callable[[lambda_.Function, iam.Role], None]] = {
            Access.TABLE_READ: self._table_read,
            Access.TABLE_WRITE: self._table_write,
            Access.TABLE_STREAM: self._table_stream,
            Access.START_PUBLISH: self._start_publish,
            Access.MANAGE_SCHEDULES: self._manage_schedules,
            Access.SEAL_CREDENTIALS: self._seal_credentials,
            Access.OPEN_CREDENTIALS: self._open_credentials,
            Access.RUN_WORKFLOWS: self._run_workflows,
            Access.ANSWER_WORKFLOW_TOKENS: self._answer_workflow_tokens,
            Access.RECOVER_WORKFLOWS: self._recover_workflows,
            Access.SEND_EMAIL: self._send_email,
            Access.INVOKE_MODEL: self._invoke_model,
            Access.SEND_CAMPAIGN_EMAIL: self._send_campaign_email,
            Access.ENQUEUE_CAMPAIGN_SENDS: self._enqueue_campaign_sends,
            Access.UNSUBSCRIBE_LINKS: self._unsubscribe_links,
            Access.ANALYSE_TEXT: self._analyse_text,
            Access.POST_TO_CONNECTIONS: self._post_to_connections,
        }
        # Functions that make or read unsubscribe links: the stack gives them the API's public URL
        # once the API exists (`TidingsStack`), since the API's routes are made after the grants.
        self.link_makers: list[lambda_.Function] = []
        # Functions that post to the live WebSocket API's connections: the stack grants them
        # ManageConnections on its @connections and its endpoint once it exists (infra.constructs.live).
        self.live_posters: list[tuple[lambda_.Function, iam.Role]] = []

    @property
    def handled(self) -> frozenset[Access]:
        return frozenset(self._grants)

    def apply(self, function: lambda_.Function, role: iam.Role, access: frozenset[Access]) -> None:
        for member in sorted(access):
            self._grants[member](function, role)

    # -- table --------------------------------------------------------------------------------

    def _key_statement(self, actions: list[str]) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            actions=actions,
            resources=[self.targets.table.key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{Aws.REGION}.amazonaws.com"}},
        )

    def _table_read(self, function: lambda_.Function, role: iam.Role) -> None:
        table = self.targets.table
        index_arns = [f"{table.table.table_arn}/index/{index.name}" for index in table.spec.indexes]
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=TABLE_READ_ACTIONS, resources=[table.table.table_arn, *index_arns])
        )
        role.add_to_principal_policy(self._key_statement(TABLE_KEY_READ_ACTIONS))
        function.add_environment(ENV_TABLE_NAME, table.table.table_name)

    def _table_write(self, function: lambda_.Function, role: iam.Role) -> None:
        table = self.targets.table
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=TABLE_WRITE_ACTIONS, resources=[table.table.table_arn])
        )
        role.add_to_principal_policy(self._key_statement(TABLE_KEY_READ_ACTIONS + TABLE_KEY_WRITE_ACTIONS))
        function.add_environment(ENV_TABLE_NAME, table.table.table_name)

    def _table_stream(self, function: lambda_.Function, role: iam.Role) -> None:
        # The stream read grants come with the event source mapping (infra/constructs/stream.py).
        function.add_environment(ENV_TABLE_NAME, self.targets.table.table.table_name)

    # -- publishing ---------------------------------------------------------------------------

    def _start_publish(self, function: lambda_.Function, role: iam.Role) -> None:
        machine = self.targets.publish_state_machine
        name = self.targets.publish_state_machine_name
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[machine.state_machine_arn])
        )
        executions = self.stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions])
        )
        function.add_environment(ENV_PUBLISH_STATE_MACHINE_ARN, machine.state_machine_arn)
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Execution names are generated per run; the wildcard covers the executions of the publish "
            "state machine only, for DescribeExecution.",
            applies_to=[nag_arn("states", f"execution:{name}:*")],
            with_children=True,
        )

    # -- scheduler ----------------------------------------------------------------------------

    def _manage_schedules(self, function: lambda_.Function, role: iam.Role) -> None:
        targets = self.targets
        group = targets.schedule_group_name
        schedules = self.stack.format_arn(
            service="scheduler", resource="schedule", resource_name=f"{group}/*"
        )
        role.add_to_principal_policy(iam.PolicyStatement(actions=SCHEDULE_ACTIONS, resources=[schedules]))
        # Creating a schedule passes its execution role (EventBridge Scheduler User Guide,
        # "Setting up the execution role"): only the scheduler role, only to Scheduler.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[targets.scheduler_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            )
        )
        function.add_environment(ENV_SCHEDULE_GROUP, group)
        function.add_environment(ENV_SCHEDULER_ROLE_ARN, targets.scheduler_role.role_arn)
        function.add_environment(ENV_SCHEDULER_DLQ_ARN, targets.scheduler_dlq.queue_arn)
        function.add_environment(ENV_TASK_RUNNER_ARN, targets.task_runner.function_arn)
        function.add_environment(ENV_INTEGRATION_SYNC_ARN, targets.integration_sync.function_arn)
        if targets.campaign_sender is not None:  # the campaign step schedules invoke it
            function.add_environment(ENV_CAMPAIGN_SEND_ARN, targets.campaign_sender.function_arn)
        # The schedules' target.
        function.add_environment(
            ENV_PUBLISH_STATE_MACHINE_ARN, targets.publish_state_machine.state_machine_arn
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "One schedule per scheduled post, named at run time; the wildcard is limited to the "
            "Tidings schedule group.",
            applies_to=[nag_arn("scheduler", f"schedule/{group}/*")],
            with_children=True,
        )

    # -- credentials ---------------------------------------------------------------------------

    def _credentials_statement(self, actions: list[str]) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            actions=actions,
            resources=[self.targets.credentials_key.key_arn],
            conditions={
                "StringEquals": {"kms:EncryptionContext:tidings:purpose": "credentials"},
                "Null": {"kms:EncryptionContext:tidings:userId": "false"},
            },
        )

    def _seal_credentials(self, function: lambda_.Function, role: iam.Role) -> None:
        role.add_to_principal_policy(self._credentials_statement(CREDENTIALS_SEAL_ACTIONS))
        function.add_environment(ENV_CREDENTIALS_KEY_ID, self.targets.credentials_key.key_arn)

    def _open_credentials(self, function: lambda_.Function, role: iam.Role) -> None:
        # a refreshed token is sealed anew, so opening goes with sealing
        role.add_to_principal_policy(
            self._credentials_statement(CREDENTIALS_OPEN_ACTIONS + CREDENTIALS_SEAL_ACTIONS)
        )
        function.add_environment(ENV_CREDENTIALS_KEY_ID, self.targets.credentials_key.key_arn)
        # Credentials are renewed and used with the app's own clients (OAuth client secrets, CRM keys;
        # http_api also checks Meta's webhooks with its app secret): GetSecretValue on that secret only.
        # Encrypted with the account's aws/secretsmanager key, which needs no grant of its own.
        secret = self.targets.app_secrets
        if secret is None:
            raise ValueError(f"{Access.OPEN_CREDENTIALS} needs the app secrets")
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=APP_SECRETS_ACTIONS, resources=[secret.secret_arn])
        )
        function.add_environment(ENV_APP_SECRETS_ARN, secret.secret_arn)

    # -- workflows -----------------------------------------------------------------------------

    def _workflow_executions(self) -> str:
        return self.stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.targets.workflow_state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _workflow_machine_arn(self) -> str:
        """Built from the machine's name, not its resource: the machine's own task function answers
        its tokens, and a reference would make the two depend on each other."""
        return self.stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.targets.workflow_state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _answer_workflow_tokens(self, function: lambda_.Function, role: iam.Role) -> None:
        # Task tokens of callback tasks are answered against the state machine that issued them
        # (Step Functions Developer Guide, "Wait for a Callback with the Task Token").
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
                resources=[self._workflow_machine_arn()],
            )
        )
        function.add_environment(ENV_WORKFLOW_STATE_MACHINE_ARN, self._workflow_machine_arn())

    def _run_workflows(self, function: lambda_.Function, role: iam.Role) -> None:
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[self._workflow_machine_arn()])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:StopExecution"], resources=[self._workflow_executions()])
        )
        self._answer_workflow_tokens(function, role)
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "One execution per workflow, named at run time; the wildcard covers the executions of the "
            "workflow state machine only, for StopExecution (cancel).",
            applies_to=[nag_arn("states", f"execution:{self.targets.workflow_state_machine_name}:*")],
            with_children=True,
        )

    def _recover_workflows(self, function: lambda_.Function, role: iam.Role) -> None:
        # DescribeExecution on the workflow machine's executions (is the one a workflow names still
        # running?), StartExecution on the machine (the execution that carries the workflow on).
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[self._workflow_machine_arn()])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[self._workflow_executions()])
        )
        function.add_environment(ENV_WORKFLOW_STATE_MACHINE_ARN, self._workflow_machine_arn())
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Executions are named per workflow at run time; the wildcard covers the executions of the "
            "workflow state machine only, for DescribeExecution.",
            applies_to=[nag_arn("states", f"execution:{self.targets.workflow_state_machine_name}:*")],
            with_children=True,
        )

    # -- notifications and models ---------------------------------------------------------------

    def _send_email(self, function: lambda_.Function, role: iam.Role) -> None:
        identities = self.stack.format_arn(service="ses", resource="identity", resource_name="*")
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ses:SendEmail"], resources=[identities]))
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "The sending identity (a verified domain or address) is the operator's choice at deploy "
            "time; SES authorises SendEmail on identities, limited here to this account and Region.",
            applies_to=[nag_arn("ses", "identity/*")],
            with_children=True,
        )

    def _send_campaign_email(self, function: lambda_.Function, role: iam.Role) -> None:
        targets = self.targets
        # The send quota (SES v2 GetAccount) takes no resource ARN (Service Authorization Reference,
        # "Actions, resources, and condition keys for Amazon Simple Email Service v2").
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ses:GetAccount"], resources=["*"]))
        function.add_environment(ENV_CAMPAIGN_SEND_CONCURRENCY, str(CAMPAIGN_SEND_CONCURRENCY))
        function.add_environment(ENV_CAMPAIGN_CONFIGURATION_SET, targets.campaign_configuration_set)
        sender = targets.ses_sender
        if sender is None:
            return
        # SendEmail is authorised on the identity and, when a message names one, on the configuration
        # set too (same reference); only the configured From address.
        identities = {sender.identity, sender.address}
        resources = [
            self.stack.format_arn(service="ses", resource="identity", resource_name=name)
            for name in sorted(identities)
        ]
        resources.append(
            self.stack.format_arn(
                service="ses", resource="configuration-set", resource_name=sender.configuration_set
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail"],
                resources=resources,
                conditions={"StringEquals": {"ses:FromAddress": sender.address}},
            )
        )
        function.add_environment(ENV_CAMPAIGN_FROM_ADDRESS, sender.from_address)

    def _enqueue_campaign_sends(self, function: lambda_.Function, role: iam.Role) -> None:
        queue = self.targets.campaign_send_queue
        if queue is None:
            raise ValueError(f"{Access.ENQUEUE_CAMPAIGN_SENDS} needs the campaign send queue")
        # SendMessageBatch is authorised as sqs:SendMessage (Amazon SQS Developer Guide, "Amazon SQS
        # API permissions: Actions and resource reference").
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn])
        )
        function.add_environment(ENV_CAMPAIGN_SEND_QUEUE_URL, queue.queue_url)

    def _invoke_model(self, function: lambda_.Function, role: iam.Role) -> None:
        # Converse is authorised as bedrock:InvokeModel on the foundation model or inference profile
        # (Amazon Bedrock User Guide, "Carry out a conversation with the Converse API operations").
        models = f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/*"
        profiles = self.stack.format_arn(service="bedrock", resource="inference-profile", resource_name="*")
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=[models, profiles])
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "The model is chosen by configuration (TIDINGS_BEDROCK_MODEL_ID) after deployment; the grant "
            "is limited to invoking foundation models and this account's inference profiles.",
            applies_to=[
                "Resource::arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/*",
                nag_arn("bedrock", "inference-profile/*"),
            ],
            with_children=True,
        )

    def _analyse_text(self, function: lambda_.Function, role: iam.Role) -> None:
        if self.targets.comment_analyzer != "comprehend":
            return  # the local analyzer calls no AWS service
        function.add_environment(ENV_COMMENT_ANALYZER, "comprehend")
        # Comprehend's detect actions take no resource type, so "*" is the only resource (Service
        # Authorization Reference, "Actions, resources, and condition keys for Amazon Comprehend").
        role.add_to_principal_policy(iam.PolicyStatement(actions=COMPREHEND_ACTIONS, resources=["*"]))
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Comprehend's BatchDetectSentiment, BatchDetectKeyPhrases and DetectToxicContent support no "
            "resource-level permissions; the grant is limited to those three read actions.",
            applies_to=["Resource::*"],
            with_children=True,
        )

    # -- unsubscribe links -----------------------------------------------------------------------

    def _unsubscribe_links(self, function: lambda_.Function, role: iam.Role) -> None:
        secret = self.targets.unsubscribe_secret
        if secret is None:
            raise ValueError(f"{Access.UNSUBSCRIBE_LINKS} needs the unsubscribe secret")
        # GetSecretValue on this secret only (and DescribeSecret, which grant_read adds with it)
        secret.grant_read(role)
        function.add_environment(ENV_UNSUBSCRIBE_SECRET_ARN, secret.secret_arn)
        self.link_makers.append(function)

    # -- live updates --------------------------------------------------------------------------

    def _post_to_connections(self, function: lambda_.Function, role: iam.Role) -> None:
        self.live_posters.append((function, role))
