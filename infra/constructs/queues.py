"""Dead-letter queues: encrypted, TLS only, kept two weeks, and alarmed on (alarms.py)."""

from __future__ import annotations

from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs import checkov
from infra.constructs.constants import FAILURE_QUEUE_RETENTION
from infra.constructs.nag import acknowledge


def dead_letter_queue(scope: Construct, construct_id: str, *, feeds: str) -> sqs.Queue:
    """A standard queue that receives what `feeds` could not deliver."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=FAILURE_QUEUE_RETENTION,
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is itself the dead-letter destination of {feeds}; an alarm fires on its first "
        "message, and a queue behind it would only move the problem.",
    )
    checkov.skip(queue, checkov.SQS_MANAGED_ENCRYPTION)
    return queue
