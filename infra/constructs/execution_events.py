"""The EventBridge rules on Step Functions execution status changes (topology.EXECUTION_STATUS_RULES).

Step Functions sends a "Step Functions Execution Status Change" event (source `aws.states`) to the
default event bus whenever an execution of a Standard state machine changes status, its `detail`
holding the fields of DescribeExecution (Step Functions Developer Guide, "EventBridge (CloudWatch
Events) for Step Functions execution status changes"). Each rule matches one state machine's
executions reaching the rule's statuses and invokes its function asynchronously:

- EventBridge retries a delivery that fails (throttling, the function unavailable) up to
  EVENTBRIDGE_RETRY_ATTEMPTS times within MAX_EVENT_AGE, then sends the event to the rule's
  dead-letter queue (EventBridge User Guide, "Event retry policy and using dead-letter queues");
- an invocation that raises (an event that cannot be read, a table outage) is retried by Lambda twice,
  a minute and then two minutes later (Lambda Developer Guide, "Asynchronous invocation"), then sent
  to the same queue with the error, via the function's on-failure destination.

An alarm watches each queue, and one the function's errors (tidings.stack).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.constants import construct_id
from infra.constructs.queues import dead_letter_queue
from infra.topology import ExecutionStatusRule

LAMBDA_RETRY_ATTEMPTS = 2
EVENTBRIDGE_RETRY_ATTEMPTS = 8
MAX_EVENT_AGE = Duration.hours(6)
EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"


class ExecutionEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        rules: Iterable[ExecutionStatusRule],
        state_machines: Mapping[str, sfn.IStateMachine],
        functions: Mapping[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id_)
        self.rules: dict[str, events.Rule] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for rule in rules:
            name = construct_id(rule.name)
            function = functions[rule.function]
            queue = dead_letter_queue(
                self,
                f"{name}DeadLetters",
                feeds=f"the {rule.state_machine} execution events for {rule.function}",
            )
            function.configure_async_invoke(
                retry_attempts=LAMBDA_RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
                on_failure=destinations.SqsDestination(queue),
            )
            self.rules[rule.name] = events.Rule(
                self,
                name,
                description=f"{rule.state_machine} executions {', '.join(rule.statuses)} -> {rule.function}",
                event_pattern=events.EventPattern(
                    source=["aws.states"],
                    detail_type=[EXECUTION_STATUS_CHANGE],
                    detail={
                        "stateMachineArn": [state_machines[rule.state_machine].state_machine_arn],
                        "status": list(rule.statuses),
                    },
                ),
                targets=[
                    targets.LambdaFunction(
                        function,
                        dead_letter_queue=queue,
                        retry_attempts=EVENTBRIDGE_RETRY_ATTEMPTS,
                        max_event_age=MAX_EVENT_AGE,
                    )
                ],
            )
            self.dead_letter_queues[rule.name] = queue
