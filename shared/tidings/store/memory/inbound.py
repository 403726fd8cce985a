"""Verified incoming platform events in memory, in the order they arrived, each entry once (by the
table's key: account, time and a digest of the entry)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tidings.store.inbound import entry_key


@dataclass(frozen=True)
class StoredEvent:
    source: str
    object_type: str
    entry: Any
    received_at: datetime


class InMemoryInboundEventRepository:
    def __init__(self) -> None:
        self.events: list[StoredEvent] = []
        self._keys: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def add(self, source: str, object_type: str, entries: Sequence[Any], now: datetime) -> int:
        new = 0
        with self._lock:
            for entry in entries:
                key = entry_key(source, object_type, entry)
                if (key["PK"], key["SK"]) in self._keys:
                    continue
                self._keys.add((key["PK"], key["SK"]))
                self.events.append(StoredEvent(source, object_type, entry, now))
                new += 1
        return new
