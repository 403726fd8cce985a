"""Post analytics records in memory, with the table's conditions: one record per post and platform
(an import may be replaced, a collected record never), writes conditional on the version, and the
due index holding active records only, by their next collection time."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from tidings.core.clock import iso_ms
from tidings.core.platforms import Platform
from tidings.models.post_analytics import AnalyticsSource, PostAnalytics
from tidings.store import keys
from tidings.store.dynamo import deserialize, serialize
from tidings.store.post_analytics import (
    StaleAnalytics,
    analytics_from_item,
    analytics_to_item,
)


class InMemoryPostAnalyticsRepository:
    def __init__(self, due_shards: int = 8) -> None:
        self.shards = due_shards
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _put(self, record: PostAnalytics) -> None:
        item = deserialize(serialize(analytics_to_item(record, self.shards)))  # as the table keeps it
        self._items[(item["PK"], item["SK"])] = item

    def _replaceable(self, record: PostAnalytics) -> bool:
        item = self._items.get(self._key(record))
        return item is None or item.get("source") == str(AnalyticsSource.IMPORTED)

    @staticmethod
    def _key(record: PostAnalytics) -> tuple[str, str]:
        return (keys.user_pk(record.user_id), keys.analytics_sk(str(record.platform), record.post_id))

    def track(self, record: PostAnalytics) -> bool:
        with self._lock:
            if not self._replaceable(record):
                return False
            self._put(record)
            return True

    def get(self, user_id: str, platform: Platform, post_id: str) -> PostAnalytics | None:
        with self._lock:
            item = self._items.get((keys.user_pk(user_id), keys.analytics_sk(str(platform), post_id)))
        return analytics_from_item(item) if item else None

    def for_post(self, user_id: str, post_id: str) -> list[PostAnalytics]:
        found = [self.get(user_id, platform, post_id) for platform in Platform]
        return [record for record in found if record is not None]

    def for_user(self, user_id: str, platform: Platform | None = None) -> Iterator[PostAnalytics]:
        prefix = "POST_ANALYTICS#" + (f"{platform}#" if platform else "")
        with self._lock:
            items = sorted(
                (sk, item)
                for (pk, sk), item in self._items.items()
                if pk == f"USER#{user_id}" and sk.startswith(prefix)
            )
        for _, item in items:
            yield analytics_from_item(item)

    def due(self, before: datetime, limit: int = 1000) -> list[PostAnalytics]:
        upper = iso_ms(before) + "#~"
        with self._lock:
            indexed = [item for item in self._items.values() if "GSI2PK" in item and item["GSI2SK"] < upper]
        # one shard after another, as the table's repository queries them
        by_shard = sorted(indexed, key=lambda item: (int(item["GSI2PK"].rsplit("#", 1)[1]), item["GSI2SK"]))
        return [analytics_from_item(item) for item in by_shard[:limit]]

    def save(self, record: PostAnalytics) -> PostAnalytics:
        stored = record.model_copy(update={"version": record.version + 1})
        with self._lock:
            item = self._items.get(self._key(record))
            if item is None or int(item.get("version") or 0) != record.version:
                raise StaleAnalytics(
                    "the post's analytics changed meanwhile",
                    {"postId": record.post_id, "platform": str(record.platform)},
                )
            self._put(stored)
        return stored

    def put_imported(self, records: Sequence[PostAnalytics]) -> int:
        written = 0
        with self._lock:
            for record in records:
                if self._replaceable(record):
                    self._put(record)
                    written += 1
        return written
