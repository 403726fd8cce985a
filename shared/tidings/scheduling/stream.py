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
from tidings.scheduling.sync import ScheduleSync, is_post_record
from tidings.workflows.task_sync import TaskSync, is_task_record

logger = logging.getLogger(__name__)


def handle_batch(
    event: dict[str, Any],
    sync: ScheduleSync,
    tasks: TaskSync | None = None,
    integrations: IntegrationSync | None = None,
) -> dict[str, Any]:
    for record in event.get("Records", []):
        post = is_post_record(record)
        task = tasks is not None and is_task_record(record)
        integration = integrations is not None and is_integration_record(record)
        if not (post or task or integration):
            continue
        try:
            if post:
                sync.apply(record)
            elif task and tasks is not None:
                tasks.apply(record)
            elif integrations is not None:
                integrations.apply(record)
        except Exception:
            sequence = record.get("dynamodb", {}).get("SequenceNumber", "")
            logger.exception("stream record %s failed; it will be retried", sequence)
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
    return {"batchItemFailures": []}
