"""CRM settings in memory, kept as the table keeps them (the same item, the same defaults, the same
version condition)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from tidings.store.crm_settings import CrmSettings, busy, from_item, to_item
from tidings.store.dynamo import deserialize, serialize


class InMemoryCrmSettingsRepository:
    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, user_id: str) -> CrmSettings:
        with self._lock:
            return from_item(self._items.get(user_id))

    def save(self, user_id: str, settings: CrmSettings, at: datetime) -> CrmSettings:
        item = deserialize(serialize(to_item(user_id, settings, at, settings.version + 1)))
        with self._lock:
            stored = self._items.get(user_id)
            version = int(stored["version"]) if stored else 0
            if version != settings.version:
                raise busy()
            self._items[user_id] = item
        return from_item(item)
