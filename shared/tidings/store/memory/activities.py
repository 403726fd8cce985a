"""CRM activities in memory, with the table's conditions: an id stored once, every change conditional
on the version that was read, the listing newest first with the same filtered paging, the due index
holding pending activities only, and the daily count taken within its limit or not at all."""

from __future__ import annotations

import threading
from collections.abc import Collection
from datetime import datetime
from typing import Any

from tidings.models.crm import PendingActivity
from tidings.store import keys
from tidings.store.activities import (
    FILTERED_READ_CAP,
    ActivityRecords,
    activity_from_item,
    activity_to_item,
    cursor_start,
    due_upper_bound,
    oldest_first,
    page_token,
)
from tidings.store.dynamo import deserialize, serialize


class InMemoryPendingActivityRepository(ActivityRecords):
    def __init__(self, due_shards: int = 8) -> None:
        self.shards = due_shards
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def _stored(self, activity: PendingActivity) -> dict[str, Any]:
        return deserialize(serialize(activity_to_item(activity, self.shards)))  # as the table keeps it

    def create(self, activity: PendingActivity) -> tuple[PendingActivity, bool]:
        key = (activity.user_id, activity.activity_id)
        with self._lock:
            existing = self._items.get(key)
            if existing is not None:
                return activity_from_item(existing), False
            self._items[key] = self._stored(activity)
        return activity, True

    def get(self, user_id: str, activity_id: str) -> PendingActivity | None:
        with self._lock:
            item = self._items.get((user_id, activity_id))
        return activity_from_item(item) if item is not None else None

    def get_many(self, user_id: str, activity_ids: Collection[str]) -> dict[str, PendingActivity]:
        with self._lock:
            items = [self._items.get((user_id, i)) for i in dict.fromkeys(activity_ids)]
        found = (activity_from_item(item) for item in items if item is not None)
        return {activity.activity_id: activity for activity in found}

    def page(
        self, user_id: str, *, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[PendingActivity], str | None]:
        start = cursor_start(cursor, user_id)
        after = str(deserialize(start)["GSI1SK"]) if start else None
        pk = keys.activities_by_time_pk(user_id)
        with self._lock:
            ordered = sorted(
                (item for item in self._items.values() if item["GSI1PK"] == pk),
                key=lambda item: str(item["GSI1SK"]),
                reverse=True,
            )
        if after is not None:
            ordered = [item for item in ordered if str(item["GSI1SK"]) < after]
        # read as the table's repository queries: pages of `Limit` items, filtered after reading
        kept: list[dict[str, Any]] = []
        read = 0
        while True:
            wanted = limit - len(kept)
            size = wanted if status is None else max(wanted, 200)
            chunk, ordered = ordered[:size], ordered[size:]
            read += len(chunk)
            kept += [item for item in chunk if status is None or item["status"] == status]
            more = bool(ordered) or len(chunk) == size  # DynamoDB answers a last key for a full page
            if len(kept) >= limit:
                kept = kept[:limit]
                return [activity_from_item(i) for i in kept], page_token(kept[-1], user_id)
            if not more:
                return [activity_from_item(i) for i in kept], None
            if read >= FILTERED_READ_CAP:
                return [activity_from_item(i) for i in kept], page_token(chunk[-1], user_id)

    def due(self, now: datetime, limit: int = 500) -> list[PendingActivity]:
        upper = due_upper_bound(now)
        with self._lock:
            indexed = [item for item in self._items.values() if "GSI2PK" in item and item["GSI2SK"] < upper]
        return oldest_first(indexed, limit)

    def _replace(self, item: dict[str, Any], expected_version: int) -> bool:
        key = (str(item["user_id"]), str(item["activity_id"]))
        with self._lock:
            current = self._items.get(key)
            if current is None or int(current.get("version") or 0) != expected_version:
                return False
            self._items[key] = deserialize(serialize(item))
        return True

    def take_quota(self, user_id: str, day: str, count: int, limit: int) -> bool:
        if count <= 0:
            return True
        with self._lock:
            used = self._counts.get((user_id, day), 0)
            if used + count > limit:
                return False
            self._counts[(user_id, day)] = used + count
        return True

    def give_back(self, user_id: str, day: str, count: int) -> None:
        if count <= 0:
            return
        with self._lock:
            if (user_id, day) in self._counts:
                self._counts[(user_id, day)] -= count

    def counted(self, user_id: str, day: str) -> int:
        with self._lock:
            return self._counts.get((user_id, day), 0)

    def raw_item(self, user_id: str, activity_id: str) -> dict[str, Any] | None:
        """The stored item as the table would hold it (tests read its index attributes)."""
        with self._lock:
            item = self._items.get((user_id, activity_id))
        return dict(item) if item is not None else None
