"""The publish ledger in memory, with the DynamoDB repository's conditions: an entry moves to
`in_flight` only from nothing or from `retry` on the attempt last read, and only the attempt that
holds it (`in_flight` or `unknown` on that attempt) settles it; anything else is a LedgerConflict."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from tidings.core.clock import iso_ms
from tidings.store.ledger import LedgerConflict, LedgerEntry, LedgerState, entry_from_item

_HELD = (LedgerState.IN_FLIGHT, LedgerState.UNKNOWN)


class InMemoryLedgerRepository:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, user_id: str, post_id: str, platform: str) -> LedgerEntry | None:
        with self._lock:
            item = self._items.get((user_id, post_id, platform))
            return entry_from_item(item) if item is not None else None

    def begin(
        self,
        user_id: str,
        post_id: str,
        platform: str,
        attempt: int,
        now: datetime,
        previous: LedgerEntry | None,
    ) -> None:
        key = (user_id, post_id, platform)
        with self._lock:
            current = self._items.get(key)
            if previous is None:
                free = current is None
            else:
                free = (
                    current is not None
                    and current["state"] == LedgerState.RETRY
                    and current["attempt"] == previous.attempt
                )
            if not free:
                raise LedgerConflict()
            item = self._items.setdefault(key, {})
            item.update(state=str(LedgerState.IN_FLIGHT), attempt=attempt, started_at=iso_ms(now))

    def settle(
        self,
        user_id: str,
        post_id: str,
        platform: str,
        attempt: int,
        state: LedgerState,
        *,
        platform_post_id: str | None = None,
        url: str | None = None,
        error: str | None = None,
    ) -> None:
        with self._lock:
            item = self._items.get((user_id, post_id, platform))
            if item is None or item["attempt"] != attempt or item["state"] not in _HELD:
                raise LedgerConflict()
            item["state"] = str(state)
            for name, value in (("platform_post_id", platform_post_id), ("url", url), ("last_error", error)):
                if value is not None:
                    item[name] = value
