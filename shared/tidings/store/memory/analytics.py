"""Post analytics in memory: stored as the table stores them (the engagement summed from its parts when
a record has none) and read in the table's key order, up to the limit."""

from __future__ import annotations

import threading
from typing import Any

from tidings.core.platforms import Platform
from tidings.models.analytics import EngagementSample
from tidings.store.analytics import analytics_item, is_measured, sample_from_item, samples_prefix
from tidings.store.dynamo import deserialize, serialize


class InMemoryAnalyticsRepository:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def put(self, user_id: str, post_id: str, sample: EngagementSample, metrics: dict[str, float]) -> None:
        item = deserialize(serialize(analytics_item(user_id, post_id, sample, metrics)))
        with self._lock:
            self._items[(user_id, item["SK"])] = item

    def samples(self, user_id: str, platform: Platform, limit: int = 2000) -> list[EngagementSample]:
        prefix = samples_prefix(platform)
        with self._lock:
            found = sorted(
                (sk, item)
                for (uid, sk), item in self._items.items()
                if uid == user_id and sk.startswith(prefix) and is_measured(item)
            )
        return [sample_from_item(item, platform) for _, item in found[:limit]]
