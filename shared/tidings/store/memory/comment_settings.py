"""Comment settings in memory, stored as the table's items are (so what is written reads back the
same way)."""

from __future__ import annotations

import threading
from typing import Any

from tidings.models.comments import CommentSettings
from tidings.store.comment_settings import settings_from_item, settings_to_item


class InMemoryCommentSettingsRepository:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, user_id: str) -> CommentSettings:
        with self._lock:
            return settings_from_item(user_id, self.items.get(user_id))

    def put(self, settings: CommentSettings) -> CommentSettings:
        with self._lock:
            self.items[settings.user_id] = settings_to_item(settings)
        return settings
