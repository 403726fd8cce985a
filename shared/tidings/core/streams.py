"""One DynamoDB stream batch, handed record by record to the consumers that want each record.

Lambda's event source mapping retries a batch from the sequence number a handler reports as its
first failure (ReportBatchItemFailures; AWS Lambda Developer Guide, "Using Lambda with DynamoDB",
"Configuring partial batch response"). A consumer may defer part of its work to the end of the batch
(say, one write per user instead of one per record); the batch then reports failure from the first
record whose deferred work is not written yet, so everything from there is done again, idempotently.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class StreamConsumer(Protocol):
    """Keeps something in line with one kind of record. Every action must be idempotent."""

    def wants(self, record: dict[str, Any]) -> bool:
        """Whether the record concerns this consumer (cheap: read before any parsing)."""
        ...

    def apply(self, record: dict[str, Any], deferred: list[Any]) -> None:
        """Act on the record; work that is better done once per batch goes to `deferred`."""
        ...

    def flush(self, deferred: list[Any]) -> None:
        """Do the work `apply` deferred during this batch. Raises when it fails."""
        ...


def _failure(sequence: str) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": sequence}]}


def dispatch_batch(event: dict[str, Any], consumers: Sequence[StreamConsumer]) -> dict[str, Any]:
    """Apply each record of a stream batch to the first consumer that wants it (records nobody wants
    are skipped), then flush what the consumers deferred. Answers the partial batch response."""
    deferred: list[list[Any]] = [[] for _ in consumers]
    first_deferred: str | None = None  # the first record whose deferred work is still to be done
    for record in event.get("Records", []):
        index = next((i for i, c in enumerate(consumers) if c.wants(record)), None)
        if index is None:
            continue
        sequence = record.get("dynamodb", {}).get("SequenceNumber", "")
        before = len(deferred[index])
        try:
            consumers[index].apply(record, deferred[index])
        except Exception:
            logger.exception("stream record %s failed; it will be retried", sequence)
            return _failure(first_deferred or sequence)
        if first_deferred is None and len(deferred[index]) > before:
            first_deferred = sequence
    for consumer, work in zip(consumers, deferred, strict=True):
        if not work:
            continue
        try:
            consumer.flush(work)
        except Exception:
            logger.exception("deferred stream work failed; it will be retried")
            return _failure(first_deferred or "")
    return {"batchItemFailures": []}
