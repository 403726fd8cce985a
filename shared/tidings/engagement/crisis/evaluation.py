"""Where crisis evaluation runs: in the comment_intake function, as a stream consumer of comments whose
analysis was just stored (each user of the batch evaluated once, at its end), and in the function's
periodic run (every active crisis evaluated again, so one calms down without new comments)."""

from __future__ import annotations

import logging
from typing import Any

from tidings.engagement.crisis.service import CrisisService
from tidings.store import keys
from tidings.store.dynamo import record_of

logger = logging.getLogger(__name__)


def analysis_stored(record: dict[str, Any]) -> bool:
    """A comment record whose new image has an analysis its old one lacked (read before any parsing)."""
    images = record.get("dynamodb", {})
    return (
        record.get("eventName") == "MODIFY"
        and record_of(record, keys.COMMENT_ENTITY)
        and "analysis" in images.get("NewImage", {})
        and "analysis" not in images.get("OldImage", {})
    )


class CrisisEvaluationStep:
    """StreamConsumer: the users whose comments were just analysed, evaluated once each per batch. A user
    whose evaluation fails does not stop the others; the batch then fails (and is retried, then sent to
    the mapping's failure destination), and evaluating again is harmless."""

    def __init__(self, service: CrisisService) -> None:
        self.service = service

    def wants(self, record: dict[str, Any]) -> bool:
        return analysis_stored(record)

    def apply(self, record: dict[str, Any], deferred: list[Any]) -> None:
        user_id = record["dynamodb"]["NewImage"].get("user_id", {}).get("S")
        if user_id:
            deferred.append(user_id)

    def flush(self, deferred: list[Any]) -> None:
        failed = []
        for user_id in dict.fromkeys(deferred):
            try:
                self.service.evaluate(user_id)
            except Exception:
                logger.exception("crisis evaluation of %s failed", user_id)
                failed.append(user_id)
        if failed:
            raise RuntimeError(f"crisis evaluation failed for {len(failed)} users")

    def periodic(self) -> dict[str, int]:
        return self.service.evaluate_active()
