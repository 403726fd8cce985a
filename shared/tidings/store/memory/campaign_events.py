"""SES message lookups and first events in memory. `record_first` works on the campaign partitions the
in-memory step and send repositories keep (pass the same `partitions`), under their lock, so a send's
`<kind>_at` and its step's counter change together or not at all, as in the table's transaction."""

from __future__ import annotations

import copy
import threading
from datetime import datetime
from typing import Any

from tidings.core.clock import iso_ms
from tidings.store import keys
from tidings.store.campaign_events import (
    SentMessage,
    StepEventCounts,
    check_kind,
    counts_from_items,
    message_from_item,
    message_to_item,
)
from tidings.store.memory.campaign_sends import InMemorySendRepository, InMemoryStepRepository, _Partitions


class InMemoryCampaignEventRepository:
    def __init__(self, partitions: _Partitions | None = None) -> None:
        self.partitions = partitions or _Partitions()
        self._messages: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def remember(self, message: SentMessage, sent_at: datetime) -> None:
        with self._lock:
            self._messages[message.message_id] = message_to_item(message, sent_at)

    def find(self, message_id: str) -> SentMessage | None:
        with self._lock:
            item = copy.deepcopy(self._messages.get(message_id))
        return message_from_item(item) if item else None

    def record_first(self, message: SentMessage, kind: str, at: datetime) -> bool:
        check_kind(kind)
        p = self.partitions
        pk = keys.campaign_partition(message.user_id, message.campaign_id)
        with p.lock:
            partition = p.items.get(pk, {})
            send = partition.get(keys.campaign_send_sk(message.n, message.email))
            counts = partition.get(keys.campaign_step_counts_sk(message.n, message.timezone))
            if send is None or counts is None or f"{kind}_at" in send:
                return False
            send[f"{kind}_at"] = iso_ms(at)
            counts[kind] = int(counts.get(kind, 0)) + 1
        return True

    def step_counts(self, user_id: str, campaign_id: str) -> list[StepEventCounts]:
        with self.partitions.lock:
            items = self.partitions.under(keys.campaign_partition(user_id, campaign_id), keys.STEP_SK_PREFIX)
        return counts_from_items(items)


def campaign_event_stores() -> tuple[
    InMemoryStepRepository, InMemorySendRepository, InMemoryCampaignEventRepository
]:
    """The step, send and event repositories over one in-memory partition space, as the table holds them."""
    partitions = _Partitions()
    return (
        InMemoryStepRepository(partitions),
        InMemorySendRepository(partitions),
        InMemoryCampaignEventRepository(partitions),
    )
