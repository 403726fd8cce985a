"""Post analytics records in memory, with the table's conditions: one record per post and platform
(an import may be replaced, a collected record never), writes conditional on the version, and the
due index holding active records only, by their next collection time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from tidings.core.clock import iso_ms
from tidings.core.platforms import Platform
from tidings.models.post_analytics import AnalyticsSource, PostAnalytics
from tidings.store import keys
from tidings.store.dynamo import deserialize, encode_token, page_scope, serialize
from tidings.store.memory.posts import token_position
from tidings.store.post_analytics import (
    PAGE_READ_CAP,
    StaleAnalytics,
    analytics_from_item,
    analytics_to_item,
    user_prefix,
)


class InMemoryPostAnalyticsRepository:
    def __init__(self, due_shards: int = 8, page_read_cap: int = PAGE_READ_CAP) -> None:
        self.shards = due_shards
        self.read_cap = page_read_cap
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

    def _user_items(self, user_id: str, platform: Platform | None) -> list[dict[str, Any]]:
        """The user's items (of one platform when given) in key order."""
        pk, prefix = keys.user_pk(user_id), user_prefix(platform)
        with self._lock:
            found = [item for (p, sk), item in self._items.items() if p == pk and sk.startswith(prefix)]
        return sorted(found, key=lambda item: str(item["SK"]))

    def for_user(self, user_id: str, platform: Platform | None = None) -> Iterator[PostAnalytics]:
        for item in self._user_items(user_id, platform):
            yield analytics_from_item(item)

    def page_for_user(
        self,
        user_id: str,
        platform: Platform | None,
        keep: Callable[[PostAnalytics], bool],
        limit: int,
        next_token: str | None = None,
    ) -> tuple[list[PostAnalytics], str | None]:
        scope = page_scope(keys.user_pk(user_id), user_prefix(platform))
        after = token_position(next_token, "SK", scope)
        items = [item for item in self._user_items(user_id, platform) if after is None or item["SK"] > after]
        kept: list[PostAnalytics] = []
        for read, item in enumerate(items[: self.read_cap], start=1):
            record = analytics_from_item(item)
            if keep(record):
                kept.append(record)
            # as the table's query: stopped by the page's limit, or by the read cap (its Limit)
            if len(kept) >= limit or read == self.read_cap:
                return kept, encode_token(serialize({"PK": item["PK"], "SK": item["SK"]}), scope)
        return kept, None

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
