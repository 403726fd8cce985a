"""Synced records in memory, upserted by (integration, kind, key) like the table's items."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import datetime

from tidings.models.integrations import SyncedRecord


class InMemorySyncedRecordRepository:
    def __init__(self) -> None:
        self._records: dict[tuple[str, str, str, str], tuple[SyncedRecord, datetime]] = {}
        self._lock = threading.Lock()

    def upsert(
        self, user_id: str, integration_id: str, records: Iterable[SyncedRecord], now: datetime
    ) -> int:
        written = 0
        with self._lock:
            for record in records:
                self._records[(user_id, integration_id, record.kind, record.key)] = (record, now)
                written += 1
        return written

    def delete_all(self, user_id: str, integration_id: str) -> None:
        with self._lock:
            for key in [k for k in self._records if k[:2] == (user_id, integration_id)]:
                del self._records[key]

    def records(self, user_id: str, integration_id: str) -> list[SyncedRecord]:
        """What is stored for the integration, by kind and key."""
        with self._lock:
            return [
                record
                for key, (record, _) in sorted(self._records.items(), key=lambda kv: kv[0])
                if key[:2] == (user_id, integration_id)
            ]

    def of_kind(self, user_id: str, integration_id: str, kind: str) -> Iterator[SyncedRecord]:
        return iter([r for r in self.records(user_id, integration_id) if r.kind == kind])

    def count(self, user_id: str, integration_id: str) -> int:
        return len(self.records(user_id, integration_id))
