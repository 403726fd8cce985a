"""Lambda's SQS event source mapping, played on moto's SQS.

What it reproduces (AWS Lambda Developer Guide: "Using Lambda with Amazon SQS", "Creating and
configuring an Amazon SQS event source mapping", "Handling errors for an SQS event source in Lambda"
(partial batch responses), "Configuring scaling behavior for SQS event source mappings"):

- Up to `maximum_concurrency` pollers (one when the trigger sets none) each receive up to `batch_size`
  messages (long polling, one second at a time), with every attribute, and invoke the function with
  them in Lambda's event shape: `messageId`, `receiptHandle`, `body`, `attributes`
  (`ApproximateReceiveCount`, `SentTimestamp`, `SenderId`, `ApproximateFirstReceiveTimestamp`),
  `messageAttributes`, `md5OfBody`, `eventSource` (`aws:sqs`), `eventSourceARN`, `awsRegion`.
- With `max_batching_window_seconds`, a poller keeps receiving until the batch is full or the window
  has passed.
- A function error leaves every message of the batch in the queue: each comes back when its visibility
  timeout ends. With ReportBatchItemFailures, `{"batchItemFailures": [{"itemIdentifier": <messageId>}]}`
  names the messages that failed: the others are deleted. An empty or absent list is a success; an
  identifier that is empty, not a string or not in the batch fails the whole batch (nothing deleted).
- Dead-lettering is the queue's: its RedrivePolicy (maxReceiveCount, set from the trigger) moves a
  message received that many times to the dead-letter queue, in moto as in SQS.
- Nothing is acknowledged before it is handled: a message is deleted only after the function took
  it, so a batch interrupted anywhere (the function host or moto unreachable, a failed delete) comes
  back when its visibility ends and is handled again (at least once), never lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.local.lambda_host import Invocation
from infra.local.repeats import RepeatedWarnings
from infra.topology import QueueTrigger

log = logging.getLogger("infra.local.queue")

LONG_POLL_SECONDS = 1  # how long one ReceiveMessage waits for messages (kept short: stop is prompt)


@dataclass
class QueuePollerStats:
    invocations: int = 0
    messages_received: int = 0
    messages_deleted: int = 0
    messages_failed: int = 0
    last_error: str | None = None
    errors: list[str] = field(default_factory=list)


def lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message as Lambda hands it to a function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType"),
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class QueuePoller:
    """One SQS event source mapping: a queue -> one function, on `maximum_concurrency` threads."""

    def __init__(
        self,
        trigger: QueueTrigger,
        queue_url: str,
        queue_arn: str,
        invoke: Any,  # (function, event) -> Invocation
        sqs_client: Any,
        *,
        region: str = "us-east-1",
        idle_wait: float = 0.05,
    ) -> None:
        self.trigger = trigger
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self._invoke = invoke
        self._sqs = sqs_client
        self.region = region
        self.idle_wait = idle_wait
        self.stats = QueuePollerStats()
        self._stats_lock = threading.Lock()
        self._stop = threading.Event()
        self._warnings = RepeatedWarnings(log)
        self._threads: list[threading.Thread] = []

    @property
    def concurrency(self) -> int:
        return max(1, self.trigger.maximum_concurrency or 1)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        for index in range(self.concurrency):
            thread = threading.Thread(
                target=self._run, name=f"queue-{self.trigger.function}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.poll_once()
            except Exception as exc:  # keep polling: moto restarts, transient errors
                failure = f"{self.trigger.queue} poller: {type(exc).__name__}: {exc}"
                self._note(failure, self._warnings.warning)
                self._stop.wait(1.0)
                continue
            self._warnings.clear()
            if not busy:
                self._stop.wait(self.idle_wait)

    # -- one batch ---------------------------------------------------------------------------
    def receive(self) -> list[dict[str, Any]]:
        """Up to batch_size messages, gathered for up to the batching window. A message handed out
        again meanwhile (its visibility ran out) is in the batch once, with its latest receipt."""
        wanted = max(1, self.trigger.batch_size)
        until = time.monotonic() + self.trigger.max_batching_window_seconds
        messages: dict[str, dict[str, Any]] = {}
        while len(messages) < wanted and not self._stop.is_set():
            resp = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, wanted - len(messages)),
                WaitTimeSeconds=0 if messages else LONG_POLL_SECONDS,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            for message in resp.get("Messages", []):
                messages[message["MessageId"]] = message
            left = until - time.monotonic()
            if not messages or left <= 0:
                break
            if not resp.get("Messages"):
                self._stop.wait(min(0.1, left))  # nothing new yet: wait within the window
        return list(messages.values())

    def poll_once(self) -> bool:
        """Receive one batch and hand it to the function. True if there was one."""
        messages = self.receive()
        if not messages:
            return False
        with self._stats_lock:
            self.stats.messages_received += len(messages)
            self.stats.invocations += 1
        event = {"Records": [lambda_record(m, self.queue_arn, self.region) for m in messages]}
        invocation: Invocation = self._invoke(self.trigger.function, event)
        done = self.succeeded(messages, invocation)
        self._delete(done)
        with self._stats_lock:
            self.stats.messages_deleted += len(done)
            self.stats.messages_failed += len(messages) - len(done)
        return True

    def succeeded(self, messages: list[dict[str, Any]], invocation: Invocation) -> list[dict[str, Any]]:
        """The messages to delete after this invocation."""
        if invocation.errored:
            self._note(f"{self.trigger.function} raised: {invocation.payload}")
            return []
        if not self.trigger.report_batch_item_failures:
            return messages
        payload = invocation.payload
        failures = payload.get("batchItemFailures") if isinstance(payload, dict) else None
        if not failures:
            return messages
        ids = {m["MessageId"] for m in messages}
        failed: set[str] = set()
        for item in failures:
            ident = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not isinstance(ident, str) or not ident or ident not in ids:
                self._note(f"{self.trigger.function} returned an invalid itemIdentifier: {ident!r}")
                return []
            failed.add(ident)
        return [m for m in messages if m["MessageId"] not in failed]

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            resp = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            for failure in resp.get("Failed", []):
                self._note(f"could not delete a message of {self.trigger.queue}: {failure}")

    def _note(self, message: str, say: Callable[[str], None] = log.info) -> None:
        with self._stats_lock:
            self.stats.last_error = message
            self.stats.errors = [*self.stats.errors[-19:], message]
        say(message)
