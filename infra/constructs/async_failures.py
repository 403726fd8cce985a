"""Where failed asynchronous invocations go.

Lambda retries an asynchronous invocation that fails (twice, by default) and then drops the event
unless the function has an on-failure destination (Lambda Developer Guide, "Asynchronous
invocation"). Schedules and EventBridge rules invoke functions asynchronously, so each function they
invoke gets an SQS queue as its on-failure destination, alarmed like every dead-letter queue; a
function whose construct already gave it one (campaign_events shares its queue with its rule) keeps
it. Every other function is invoked synchronously only, and is marked so for checkov
(tests/infra/test_checkov.py checks that no schedule or rule invokes it).
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs import checkov
from infra.constructs.constants import construct_id
from infra.constructs.queues import dead_letter_queue

# The child CDK gives a function for its asynchronous invocation settings (configure_async_invoke).
EVENT_INVOKE_CONFIG = "EventInvokeConfig"


class AsyncFailures(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        functions: dict[str, lambda_.Function],
        invoked_async: Iterable[str],
    ) -> None:
        super().__init__(scope, construct_id_)
        self.queues: dict[str, sqs.Queue] = {}
        asynchronous = set(invoked_async)
        unknown = sorted(asynchronous - set(functions))
        if unknown:
            raise ValueError(f"invoked asynchronously but no function of the stack: {unknown}")
        for name, function in functions.items():
            if name in asynchronous and not has_async_config(function):
                queue = dead_letter_queue(
                    self, construct_id(name), feeds=f"the asynchronous invocations of {name}"
                )
                function.configure_async_invoke(on_failure=destinations.SqsDestination(queue))
                self.queues[name] = queue
            # a construct that invokes a function asynchronously may set its destination itself
            if name in asynchronous or has_async_config(function):
                checkov.skip(function, checkov.ON_FAILURE_DESTINATION)
            else:
                checkov.skip(function, checkov.INVOKED_SYNCHRONOUSLY)


def has_async_config(function: lambda_.Function) -> bool:
    return function.node.try_find_child(EVENT_INVOKE_CONFIG) is not None
