"""Verified incoming platform events in memory, in the order they arrived."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class StoredEvent:
    source: str
    object_type: str
    entry: Any
    received_at: datetime


class InMemoryInboundEventRepository:
    def __init__(self) -> None:
        self.events: list[StoredEvent] = []
        self._lock = threading.Lock()

    def add(self, source: str, object_type: str, entries: Sequence[Any], now: datetime) -> int:
        with self._lock:
            self.events.extend(StoredEvent(source, object_type, entry, now) for entry in entries)
        return len(entries)
