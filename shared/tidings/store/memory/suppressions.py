"""The suppression list in memory, kept as the table keeps it: one entry per address key, the first
reason kept, the same count and limit, pages in address order with the table's cursors."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from tidings.models.campaigns import Suppression
from tidings.store.suppressions import (
    address_key,
    cursor_start,
    from_item,
    list_full,
    page_cursor,
    to_item,
)


class InMemorySuppressionRepository:
    def __init__(self) -> None:
        self._items: dict[str, dict[str, dict[str, Any]]] = {}  # user -> address -> item
        self._lock = threading.Lock()

    def add(self, suppression: Suppression, *, limit: int | None = None) -> tuple[Suppression, bool]:
        item = to_item(suppression)
        with self._lock:
            held = self._items.setdefault(suppression.user_id, {})
            existing = held.get(item["email"])
            if existing is not None:
                return from_item(existing), False
            if limit is not None and len(held) >= limit:
                raise list_full(limit)
            held[item["email"]] = item
        return from_item(item), True

    def get(self, user_id: str, email: str) -> Suppression | None:
        with self._lock:
            item = self._items.get(user_id, {}).get(address_key(email))
        return from_item(item) if item else None

    def is_suppressed(self, user_id: str, email: str) -> bool:
        with self._lock:
            return address_key(email) in self._items.get(user_id, {})

    def is_suppressed_many(self, user_id: str, emails: Iterable[str]) -> set[str]:
        with self._lock:
            held = set(self._items.get(user_id, {}))
        return {email for email in emails if address_key(email) in held}

    def list(
        self, user_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Suppression], str | None]:
        start = cursor_start(cursor, user_id)
        with self._lock:
            items = sorted(self._items.get(user_id, {}).values(), key=lambda i: str(i["SK"]))
        if start is not None:
            after = str(start["SK"]["S"])
            items = [i for i in items if str(i["SK"]) > after]
        page = items[:limit]
        # like a Query with Limit: a cursor whenever the read stopped at its limit
        last = page_cursor(page[-1], user_id) if page and len(page) == limit else None
        return [from_item(i) for i in page], last

    def remove(self, user_id: str, email: str) -> Suppression | None:
        with self._lock:
            item = self._items.get(user_id, {}).pop(address_key(email), None)
        return from_item(item) if item else None

    def count(self, user_id: str) -> int:
        with self._lock:
            return len(self._items.get(user_id, {}))
