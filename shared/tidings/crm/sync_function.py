"""The crm_sync function's use-case: from the table's stream, new and retried activities are
delivered (`tidings.crm.delivery`) and published posts written for a client become activities
(`tidings.crm.post_activities`); every minute, what is due is delivered from the due index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tidings.core.streams import StreamConsumer, dispatch_batch
from tidings.core.triggers import PeriodicRun, StreamBatch
from tidings.crm.delivery import ActivityDelivery


class CrmSync:
    def __init__(self, delivery: ActivityDelivery, consumers: Sequence[StreamConsumer] = ()) -> None:
        self.delivery = delivery
        self.consumers: list[StreamConsumer] = [delivery.stream, *consumers]

    def handle(self, trigger: StreamBatch | PeriodicRun) -> dict[str, Any]:
        if isinstance(trigger, StreamBatch):
            return dispatch_batch(trigger.event(), self.consumers)
        return self.delivery.run_due().as_dict()
