"""Strategy insights in memory, with the DynamoDB repository's conditions: one item per user and
insight id, kept as the table keeps it; created only when absent, replaced or deleted only while it is
the version that was read."""

from __future__ import annotations

import threading
from typing import Any

from tidings.store import keys
from tidings.store.dynamo import deserialize, serialize
from tidings.store.insights import Insight, from_item, stored_copy, to_item


class InMemoryInsightRepository:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(user_id: str, insight_id: str) -> tuple[str, str]:
        return (keys.user_pk(user_id), keys.insight_sk(insight_id))

    def get(self, user_id: str, insight_id: str) -> Insight | None:
        with self._lock:
            item = self._items.get(self._key(user_id, insight_id))
        return from_item(item) if item else None

    def for_user(self, user_id: str) -> list[Insight]:
        pk = keys.user_pk(user_id)
        with self._lock:
            items = sorted((sk, item) for (key, sk), item in self._items.items() if key == pk)
        return [from_item(item) for _, item in items]

    def save(self, insight: Insight, replacing: int | None) -> Insight | None:
        stored = stored_copy(insight, replacing)
        key = self._key(insight.user_id, insight.insight_id)
        with self._lock:
            current = self._items.get(key)
            if replacing is None and current is not None:
                return None
            if replacing is not None and (current is None or int(current["version"]) != replacing):
                return None
            self._items[key] = deserialize(serialize(to_item(stored)))  # as the table keeps it
        return stored

    def delete(self, user_id: str, insight_id: str, version: int) -> bool:
        key = self._key(user_id, insight_id)
        with self._lock:
            current = self._items.get(key)
            if current is None or int(current["version"]) != version:
                return False
            del self._items[key]
        return True
