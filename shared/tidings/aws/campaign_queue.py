"""The campaign send queue (Amazon SQS): messages in batches of ten, and a message's next try.

SendMessageBatch takes at most 10 entries and answers which it took and which failed (Amazon SQS API
Reference, SendMessageBatch: `Successful`, `Failed` with `SenderFault`); failed entries that are not
the sender's fault are sent again. ChangeMessageVisibility makes a received message visible again
after the given seconds (at most 12 hours from its first receipt), so a send that must wait comes
back then rather than after the queue's whole visibility timeout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10  # SendMessageBatch's limit
ATTEMPTS = 3  # tries of an entry SQS did not take before giving up
MAX_VISIBILITY_SECONDS = 43_200


class EnqueueFailed(Exception):
    """Some messages could not be queued: the caller's work must be tried again."""


class SqsSendQueue:
    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        return self._client

    def enqueue(self, bodies: Sequence[str]) -> None:
        """Queue every body; EnqueueFailed naming what SQS would not take."""
        for start in range(0, len(bodies), BATCH):
            pending = {str(i): body for i, body in enumerate(bodies[start : start + BATCH])}
            errors: list[str] = []
            for _ in range(ATTEMPTS):
                resp = self.client.send_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": key, "MessageBody": body} for key, body in pending.items()],
                )
                failed = resp.get("Failed", [])
                errors = [f"{f['Code']}: {f.get('Message', '')}" for f in failed]
                if any(f.get("SenderFault") for f in failed):
                    raise EnqueueFailed("; ".join(errors))
                pending = {f["Id"]: pending[f["Id"]] for f in failed}
                if not pending:
                    break
            if pending:
                raise EnqueueFailed("; ".join(errors))

    def retry_after(self, receipt_handle: str, seconds: int) -> None:
        """The received message becomes visible again in `seconds`."""
        self.client.change_message_visibility(
            QueueUrl=self.queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(seconds, MAX_VISIBILITY_SECONDS)),
        )
