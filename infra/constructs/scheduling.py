"""EventBridge Scheduler: the group of per-post schedules, its role and DLQ, and periodic schedules."""

from __future__ import annotations

import json

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.constants import PERIODIC_MAX_EVENT_AGE, PERIODIC_RETRY_ATTEMPTS, construct_id
from infra.constructs.queues import dead_letter_queue
from infra.topology import CAMPAIGN_SENDER, INTEGRATION_SYNC, TASK_RUNNER, PeriodicSchedule
from tidings.aws.schedules import rate_expression


def scheduler_principal() -> iam.ServicePrincipal:
    # Confused-deputy protection: only schedules of this account may assume the role
    # (EventBridge Scheduler User Guide, "Setting up the execution role").
    return iam.ServicePrincipal(
        "scheduler.amazonaws.com",
        conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
    )


def _send_to(queue: sqs.IQueue) -> iam.PolicyStatement:
    # Scheduler delivers dead-letter events with the schedule's execution role (EventBridge
    # Scheduler User Guide, "Configuring a dead-letter queue": sqs:SendMessage on the queue).
    return iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn])


class Scheduling(Construct):
    """The schedule group the schedule_sync function keeps one `at(...)` schedule per post in.

    Those schedules start the publish state machine with `publish_role`, and send what they could
    not deliver to `dead_letter_queue`. Periodic schedules (the sweeper) invoke their function with
    a role of their own that may invoke that function only.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        group_name: str,
        publish_state_machine: sfn.IStateMachine,
        periodic: tuple[PeriodicSchedule, ...],
        functions: dict[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id_)
        self.group_name = group_name
        self.group = scheduler.CfnScheduleGroup(self, "Group", name=group_name)
        self.dead_letter_queue = dead_letter_queue(self, "DeadLetterQueue", feeds="the Scheduler schedules")

        self.publish_role = iam.Role(
            self,
            "PublishRole",
            assumed_by=scheduler_principal(),
            description="Assumed by the per-post, per-task, per-integration and per-campaign-step "
            "schedules: starts the publish state machine, invokes the task runner, the integration sync "
            "and the campaign sender",
        )
        self.publish_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[publish_state_machine.state_machine_arn]
            )
        )
        self.publish_role.add_to_principal_policy(_send_to(self.dead_letter_queue))
        # the per-task schedules invoke the task runner, the per-integration ones the sync function, the
        # campaign steps' ones the campaign sender
        invoked = [
            functions[TASK_RUNNER].function_arn,
            functions[INTEGRATION_SYNC].function_arn,
            functions[CAMPAIGN_SENDER].function_arn,
        ]
        self.publish_role.add_to_principal_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=invoked)
        )

        self.periodic: dict[str, scheduler.CfnSchedule] = {}
        for spec in periodic:
            self._add_periodic(spec, functions[spec.function])

    def _add_periodic(self, spec: PeriodicSchedule, function: lambda_.IFunction) -> None:
        scope = Construct(self, construct_id(spec.name))
        role = iam.Role(
            scope,
            "Role",
            assumed_by=scheduler_principal(),
            description=f"Assumed by the {spec.name} schedule to invoke its function",
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn])
        )
        role.add_to_principal_policy(_send_to(self.dead_letter_queue))
        self.periodic[spec.name] = scheduler.CfnSchedule(
            scope,
            "Schedule",
            description=f"Invokes {spec.function} every {spec.rate_minutes} minute(s)",
            schedule_expression=rate_expression(spec.rate_minutes),
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=function.function_arn,
                role_arn=role.role_arn,
                input=json.dumps(
                    {
                        "source": "tidings.periodic",
                        "schedule": spec.name,
                        # Replaced by Scheduler at each invocation (User Guide, "Context attributes").
                        "scheduledTime": "<aws.scheduler.scheduled-time>",
                    }
                ),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=PERIODIC_RETRY_ATTEMPTS,
                    maximum_event_age_in_seconds=PERIODIC_MAX_EVENT_AGE.to_seconds(),
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                    arn=self.dead_letter_queue.queue_arn
                ),
            ),
        )
