"""Notification addresses and hourly mail counts in memory, with the table's rules: one entry per
address key, the same limit, a first confirmation time kept, counts that never pass their limit."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from tidings.models.notifications import AddressStatus, NotificationAddress
from tidings.store.notification_addresses import address_key, entry_of, from_entry, list_full


class InMemoryNotificationAddressRepository:
    def __init__(self) -> None:
        self._held: dict[str, dict[str, NotificationAddress]] = {}
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def add(self, address: NotificationAddress, *, limit: int) -> tuple[NotificationAddress, bool]:
        stored = _stored(address)
        with self._lock:
            held = self._held.setdefault(address.user_id, {})
            if stored.email in held:
                return held[stored.email], False
            if len(held) >= limit:
                raise list_full(limit)
            held[stored.email] = stored
        return stored, True

    def all(self, user_id: str) -> list[NotificationAddress]:
        with self._lock:
            held = dict(self._held.get(user_id, {}))
        return [held[email] for email in sorted(held)]

    def confirm(self, user_id: str, email: str, at: datetime) -> NotificationAddress | None:
        with self._lock:
            held = self._held.get(user_id, {})
            found = held.get(address_key(email))
            if found is None:
                return None
            confirmed = _stored(
                replace(found, status=AddressStatus.CONFIRMED, confirmed_at=found.confirmed_at or at)
            )
            held[found.email] = confirmed
        return confirmed

    def remove(self, user_id: str, email: str) -> NotificationAddress | None:
        with self._lock:
            return self._held.get(user_id, {}).pop(address_key(email), None)

    def take_mail(self, user_id: str, hour: str, count: int, limit: int) -> bool:
        with self._lock:
            counted = self._counts.get((user_id, hour), 0)
            if counted + count > limit:
                return False
            self._counts[(user_id, hour)] = counted + count
        return True


def _stored(address: NotificationAddress) -> NotificationAddress:
    """The entry as it reads back from the table (address key, times to the millisecond)."""
    return from_entry(address.user_id, address_key(address.email), entry_of(address))
