"""Analytics settings and site metric days in memory, kept as the table keeps them (the same items,
the same defaults, the same key order)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from tidings.core.clock import iso_ms
from tidings.store import keys
from tidings.store.analytics_settings import (
    AnalyticsSettings,
    SiteDay,
    check_changes,
    day_range,
    settings_from_item,
    site_day_from_item,
    site_day_to_item,
)
from tidings.store.dynamo import deserialize, serialize


class InMemoryAnalyticsSettingsRepository:
    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, user_id: str) -> AnalyticsSettings:
        with self._lock:
            item = self._items.get(user_id)
            return settings_from_item(dict(item) if item else None)

    def update(self, user_id: str, changes: Mapping[str, bool], at: datetime) -> AnalyticsSettings:
        check_changes(changes)
        with self._lock:
            item = self._items.setdefault(
                user_id, {"PK": keys.user_pk(user_id), "SK": keys.ANALYTICS_SETTINGS_SK}
            )
            item.update(EntityType=keys.ANALYTICS_SETTINGS_ENTITY, user_id=user_id, updated_at=iso_ms(at))
            item.update({name: bool(value) for name, value in changes.items()})
            return settings_from_item(dict(item))


class InMemorySiteMetricsRepository:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def put_days(self, user_id: str, days: Sequence[SiteDay]) -> int:
        with self._lock:
            for day in days:
                item = deserialize(serialize(site_day_to_item(user_id, day)))
                self._items[(item["PK"], item["SK"])] = item
        return len(days)

    def days(self, user_id: str, source: str, start: date, end: date) -> list[SiteDay]:
        low, high = day_range(source, start, end)
        pk = keys.user_pk(user_id)
        with self._lock:
            found = sorted(
                (sk, item) for (p, sk), item in self._items.items() if p == pk and low <= sk <= high
            )
        return [site_day_from_item(item) for _, item in found]
