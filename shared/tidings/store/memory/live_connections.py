"""Live connections in memory, with the table's rules: the same per-user limit, stale connections
neither counted nor listed, the connection's user known from its id alone."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from tidings.store.live_connections import LiveConnection, connections_full, entry_of, open_ids


class InMemoryLiveConnectionRepository:
    def __init__(self) -> None:
        self._entries: dict[str, dict[str, dict[str, Any]]] = {}
        self._owners: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, connection: LiveConnection, *, limit: int) -> None:
        with self._lock:
            entries = self._entries.setdefault(connection.user_id, {})
            if connection.connection_id in entries:
                return
            if len(entries) >= limit:
                for stale in set(entries) - set(open_ids(entries, connection.connected_at)):
                    del entries[stale]
                if len(entries) >= limit:
                    raise connections_full(limit)
            entries[connection.connection_id] = entry_of(connection)
            self._owners[connection.connection_id] = connection.user_id

    def remove(self, connection_id: str) -> str | None:
        with self._lock:
            user_id = self._owners.pop(connection_id, None)
            if user_id is not None:
                self._entries.get(user_id, {}).pop(connection_id, None)
            return user_id

    def open_for(self, user_id: str, now: datetime) -> list[str]:
        with self._lock:
            return open_ids(dict(self._entries.get(user_id, {})), now)
