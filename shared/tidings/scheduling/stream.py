"""The stream consumer's batch loop with partial batch responses.

Records are applied in order. At the first record that fails, the batch stops and that record's
sequence number is reported: Lambda retries from it (the records after it come again, which is safe
because every action is idempotent), bisects on errors, and after the mapping's maximum retries sends
the record to the on-failure destination, so one bad record never blocks the shard.
Source: AWS Lambda Developer Guide, "Using Lambda with DynamoDB" (ReportBatchItemFailures).
"""

from __future__ import annotations

import logging
from typing import Any

from tidings.integrations.schedules import IntegrationSync, is_integration_record
from tidings.scheduling.sync import DropFromQueue, ScheduleSync, is_post_record
from tidings.workflows.task_sync import TaskSync, is_task_record

logger = logging.getLogger(__name__)


def handle_batch(
    event: dict[str, Any],
    sync: ScheduleSync,
    tasks: TaskSync | None = None,
    integrations: IntegrationSync | None = None,
) -> dict[str, Any]:
    drops: list[DropFromQueue] = []
    first_drop: str | None = None  # the first record whose queue removal is still to be written
    for record in event.get("Records", []):
        post = is_post_record(record)
        task = tasks is not None and is_task_record(record)
        integration = integrations is not None and is_integration_record(record)
        if not (post or task or integration):
            continue
        sequence = record.get("dynamodb", {}).get("SequenceNumber", "")
        try:
            if post:
                before = len(drops)
                sync.apply(record, drops)
                if first_drop is None and len(drops) > before:
                    first_drop = sequence
            elif task and tasks is not None:
                tasks.apply(record)
            elif integrations is not None:
                integrations.apply(record)
        except Exception:
            logger.exception("stream record %s failed; it will be retried", sequence)
            # from the first record whose queue removal is not written yet: all idempotent again
            return {"batchItemFailures": [{"itemIdentifier": first_drop or sequence}]}
    if drops:
        try:
            sync.drop_from_queues(drops)
        except Exception:
            logger.exception("queue index removals failed; they will be retried")
            return {"batchItemFailures": [{"itemIdentifier": first_drop}]}
    return {"batchItemFailures": []}
