"""Integration call metrics in memory: hourly counters that every `record` adds to under one lock, so
concurrent adds all count (as DynamoDB's ADD does)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime

from tidings.models.calls import CallRecord
from tidings.models.integrations import Point, Totals, hour_of
from tidings.store.metrics import call_totals


class InMemoryMetricsRepository:
    def __init__(self) -> None:
        self._hours: dict[tuple[str, str, datetime], Totals] = {}
        self._lock = threading.Lock()

    def record(self, user_id: str, integration_id: str, calls: Iterable[CallRecord], now: datetime) -> None:
        added = call_totals(calls)
        if not added.requests:
            return
        key = (user_id, integration_id, hour_of(now))
        with self._lock:
            self._hours[key] = self._hours.get(key, Totals()) + added

    def hourly(self, user_id: str, integration_id: str, since: datetime) -> list[Point]:
        start = hour_of(since)
        with self._lock:
            return [
                Point(hour, totals)
                for (user, integration, hour), totals in sorted(self._hours.items(), key=lambda kv: kv[0][2])
                if user == user_id and integration == integration_id and hour >= start
            ]
