"""Helpers for tests on the local stack's AWS services: waiting for what happens on other threads, a
function that records the batches an event source hands it, an SES v2 client of a local endpoint
configured as campaign sending's, an SQS queue with a dead-letter queue, and a fresh table on DynamoDB
Local."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Whether `predicate` became true within `timeout` seconds (polled every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@dataclass
class RecordingFunction:
    """A function that records each batch of records it receives and answers `respond(records)` (or
    raises what it raises)."""

    respond: Callable[[list[dict[str, Any]]], Any] = lambda records: None
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self.lock:
            self.batches.append(event["Records"])
        return self.respond(event["Records"])


def ses_client(endpoint: str) -> Any:
    """An SES v2 client of `endpoint` that never retries by itself (as tidings.aws.campaign_mail's)."""
    return boto3.client(
        "sesv2",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=3, read_timeout=10
        ),
    )


@dataclass(frozen=True)
class QueuePair:
    url: str
    arn: str
    dead_letter_url: str


def queue_with_dead_letters(sqs: Any, name: str, *, visibility_seconds: int, max_receives: int) -> QueuePair:
    """A queue whose messages move to `<name>-dlq` after `max_receives` receives."""
    dead = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dead_arn, "maxReceiveCount": str(max_receives)}
            ),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return QueuePair(url, arn, dead)


@contextmanager
def fresh_table(dynamodb_endpoint: str) -> Iterator[tuple[Any, str]]:
    """A DynamoDB Local client and a new table of Tidings' shape, deleted afterwards."""
    from infra.local.provision import create_table

    client = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    name = f"tidings-{uuid.uuid4().hex[:8]}"
    create_table(client, name)
    try:
        yield client, name
    finally:
        client.delete_table(TableName=name)
