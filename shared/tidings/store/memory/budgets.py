"""Rate-limit budgets in memory, with the DynamoDB repository's rules: a reservation takes one call from
every window of the budget or from none (a full window refuses it until the latest full window ends),
a blocked budget refuses everything until its block ends, and a block is only ever extended."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime

from tidings.core.clock import iso_ms, parse_iso
from tidings.store.budgets import LIMITS, BudgetRules, Limit, window_key


class InMemoryBudgetRepository(BudgetRules):
    def __init__(self, limits: Mapping[str, tuple[Limit, ...]] = LIMITS) -> None:
        self.limits = limits
        self._counts: dict[tuple[str, str], int] = {}
        self._blocks: dict[tuple[str, str], tuple[str, str]] = {}  # (user, budget) -> (until, reason)
        self._lock = threading.Lock()

    def _take_all(self, user_id: str, key: str, limits: tuple[Limit, ...], now: datetime) -> list[Limit]:
        windows = [self._window(user_id, key, limit, now) for limit in limits]
        with self._lock:
            full = [
                limit
                for limit, window in zip(limits, windows, strict=True)
                if self._counts.get(window, 0) >= limit.count
            ]
            if not full:
                for window in windows:
                    self._counts[window] = self._counts.get(window, 0) + 1
        return full

    def usage_of(
        self, user_id: str, key: str, limits: tuple[Limit, ...], now: datetime
    ) -> list[tuple[Limit, int]]:
        with self._lock:
            return [(limit, self._counts.get(self._window(user_id, key, limit, now), 0)) for limit in limits]

    def block(self, user_id: str, platform: str, until: datetime, reason: str, now: datetime) -> None:
        with self._lock:
            current = self._blocks.get((user_id, platform))
            if current is None or current[0] < iso_ms(until):
                self._blocks[(user_id, platform)] = (iso_ms(until), reason[:500])

    def blocked_until(self, user_id: str, platform: str, now: datetime) -> tuple[datetime, str] | None:
        with self._lock:
            current = self._blocks.get((user_id, platform))
        if current is None:
            return None
        until = parse_iso(current[0])
        return (until, current[1]) if until > now else None

    @staticmethod
    def _window(user_id: str, key: str, limit: Limit, now: datetime) -> tuple[str, str]:
        item_key = window_key(user_id, key, limit, now)
        return item_key["PK"], item_key["SK"]
