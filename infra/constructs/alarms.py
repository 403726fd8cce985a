"""Alarms on every dead-letter queue and on failed publish executions, to an encrypted topic."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.constants import (
    EXECUTIONS_ALARM_PERIOD,
    FUNCTION_ERRORS_ALARM_PERIOD,
    QUEUE_ALARM_PERIOD,
)

CLOUDWATCH = "cloudwatch.amazonaws.com"


class Alarms(Construct):
    """Subscribe to `topic` (e-mail, chat, paging) to hear about any of these alarms."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the Tidings alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # CloudWatch can publish to an encrypted topic only with a customer-managed key that lets it
        # use the key (SNS Developer Guide, "Enable compatibility between event sources from AWS
        # services and encrypted topics").
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        self.topic = sns.Topic(
            self, "Topic", display_name="Tidings alarms", master_key=self.key, enforce_ssl=True
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        self.action = actions.SnsAction(self.topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}

    def _add(self, construct_id: str, metric: cloudwatch.IMetric, description: str) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self.action)
        self.alarms[construct_id] = alarm
        return alarm

    def on_dead_letters(self, construct_id: str, queue: sqs.IQueue, what: str) -> cloudwatch.Alarm:
        return self._add(
            construct_id,
            queue.metric_approximate_number_of_messages_visible(
                period=QUEUE_ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            f"{what} could not be delivered: a message is waiting in its dead-letter queue.",
        )

    def on_failed_executions(
        self, construct_id: str, machine: sfn.IStateMachine, what: str
    ) -> cloudwatch.Alarm:
        return self._add(
            construct_id,
            machine.metric_failed(period=EXECUTIONS_ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
            f"An execution of {what} failed.",
        )

    def on_function_errors(
        self, construct_id: str, function: lambda_.IFunction, what: str
    ) -> cloudwatch.Alarm:
        return self._add(
            construct_id,
            function.metric_errors(period=FUNCTION_ERRORS_ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
            f"{what} raised an error (an invocation failed as a whole).",
        )
