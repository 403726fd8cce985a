"""Alerts in memory, with the DynamoDB repository's conditions: one item per user and alert id,
created only when absent, replaced only while it is the raise that was read, resolved only while open,
and its e-mail claimed once per raise."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime

from tidings.core.clock import iso_ms
from tidings.models.integrations import Alert, alert_order
from tidings.store.alerts import resolved_copy


@dataclass(frozen=True)
class _Stored:
    alert: Alert
    integration_name: str
    notify_email: str | None
    emailed_for: str | None = None


class InMemoryAlertRepository:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], _Stored] = {}
        self._lock = threading.Lock()

    def get(self, user_id: str, alert_id: str) -> Alert | None:
        with self._lock:
            stored = self._items.get((user_id, alert_id))
        return stored.alert if stored else None

    def for_user(self, user_id: str, status: str | None = None) -> list[Alert]:
        with self._lock:
            alerts = [s.alert for (user, _), s in self._items.items() if user == user_id]
        return sorted((a for a in alerts if status is None or a.status == status), key=alert_order)

    def put(
        self,
        alert: Alert,
        *,
        integration_name: str,
        notify_email: str | None,
        replacing: datetime | None,
    ) -> bool:
        key = (alert.user_id, alert.alert_id)
        with self._lock:
            current = self._items.get(key)
            if replacing is None and current is not None:
                return False
            if replacing is not None and (current is None or current.alert.raised_at != replacing):
                return False
            emailed = current.emailed_for if current else None
            self._items[key] = _Stored(alert, integration_name, notify_email, emailed)
        return True

    def resolve(self, alert: Alert, by: str, now: datetime) -> Alert | None:
        key = (alert.user_id, alert.alert_id)
        with self._lock:
            current = self._items.get(key)
            if current is None or current.alert.status != "open":
                return None
            if current.alert.raised_at != alert.raised_at:
                return None
            resolved = resolved_copy(current.alert, by, now)
            self._items[key] = replace(current, alert=resolved)
        return resolved_copy(alert, by, now)

    def claim_email(self, user_id: str, alert_id: str, raised_at: str) -> bool:
        with self._lock:
            current = self._items.get((user_id, alert_id))
            if current is None or iso_ms(current.alert.raised_at) != raised_at:
                return False
            if current.emailed_for == raised_at:
                return False
            self._items[(user_id, alert_id)] = replace(current, emailed_for=raised_at)
        return True

    def release_email(self, user_id: str, alert_id: str) -> None:
        with self._lock:
            current = self._items.get((user_id, alert_id))
            if current is not None:
                self._items[(user_id, alert_id)] = replace(current, emailed_for=None)

    def notify_email(self, user_id: str, alert_id: str) -> str | None:
        """Where the alert's e-mail goes, as stored with it."""
        with self._lock:
            stored = self._items.get((user_id, alert_id))
        return stored.notify_email if stored else None
