"""Webhooks and their deliveries in memory.

`InMemoryWebhookRepository` is the same `WebhookRegistry` as the table's (the per-user quota, the
secret sealed by the vault it is given, the audit, the caches) over records kept in memory.
`InMemoryDeliveryRepository` keeps the table's conditions: one delivery per (webhook, event), a due
delivery claimed only as it was read, and the due index and the delivery log read in the table's order.
"""

from __future__ import annotations

import copy
import threading
from datetime import datetime
from typing import Any

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.secrets import SecretVault
from tidings.store import keys
from tidings.store.audit import AuditRepository
from tidings.store.dynamo import deserialize, serialize
from tidings.store.memory.audit import InMemoryAuditRepository, newest_first_page
from tidings.store.quotas import WEBHOOKS, GiveBack, InMemoryQuotas, Take
from tidings.store.webhooks import (
    Delivery,
    DeliveryStatus,
    Webhook,
    WebhookRegistry,
    attempt_changes,
    delivery_from_item,
    due_upper_bound,
    lease_sort_key,
    new_delivery_item,
    webhook_from_item,
)


def _stored(item: dict[str, Any]) -> dict[str, Any]:
    return deserialize(serialize(item))


class InMemoryWebhookRepository(WebhookRegistry):
    def __init__(
        self, vault: SecretVault, audit: AuditRepository | None = None, clock: Clock = DEFAULT_CLOCK
    ) -> None:
        super().__init__(vault, audit or InMemoryAuditRepository(), clock)
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._records_lock = threading.Lock()
        self.quotas = InMemoryQuotas(lambda user_id, _: sum(uid == user_id for uid, _ in self._items))

    def for_user(self, user_id: str) -> list[Webhook]:
        with self._records_lock:
            found = sorted((wid, item) for (uid, wid), item in self._items.items() if uid == user_id)
        return [webhook_from_item(item) for _, item in found]

    def _item(self, user_id: str, webhook_id: str) -> dict[str, Any] | None:
        with self._records_lock:
            return copy.deepcopy(self._items.get((user_id, webhook_id)))

    def _insert(self, item: dict[str, Any], take: Take) -> None:
        with self._records_lock:
            self.quotas.apply(take)
            self._items[(item["user_id"], item["webhook_id"])] = _stored(item)

    def _remove(self, user_id: str, webhook_id: str) -> dict[str, Any] | None:
        with self._records_lock:
            if (user_id, webhook_id) not in self._items:
                return None
            self.quotas.apply(GiveBack(user_id, WEBHOOKS))
            return self._items.pop((user_id, webhook_id))


class InMemoryDeliveryRepository:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def create(
        self,
        user_id: str,
        webhook_id: str,
        event_id: str,
        event_type: str,
        body: str,
        now: datetime,
        lease_until: datetime,
    ) -> Delivery | None:
        item = _stored(new_delivery_item(user_id, webhook_id, event_id, event_type, body, now, lease_until))
        with self._lock:
            if (user_id, webhook_id, event_id) in self._seen:
                return None
            self._seen.add((user_id, webhook_id, event_id))
            self._items[(user_id, item["SK"])] = item
        return delivery_from_item(copy.deepcopy(item))

    def due(self, now: datetime, limit: int = 100) -> list[Delivery]:
        upper = due_upper_bound(now)
        with self._lock:
            found = [
                copy.deepcopy(item)
                for item in self._items.values()
                if item.get("GSI2PK") == keys.DELIVERY_DUE_PK and str(item["GSI2SK"]) <= upper
            ]
        found.sort(key=lambda item: str(item["GSI2SK"]))
        return [delivery_from_item(item) for item in found[:limit]]

    def claim(self, delivery: Delivery, lease_until: datetime) -> bool:
        with self._lock:
            item = self._items.get((delivery.user_id, delivery.sk))
            if item is None or delivery.due_sort_key is None or item.get("GSI2SK") != delivery.due_sort_key:
                return False
            item["GSI2SK"] = lease_sort_key(delivery, lease_until)
            item["status"] = DeliveryStatus.SENDING
            return True

    def record_attempt(
        self,
        delivery: Delivery,
        attempt: dict[str, Any],
        *,
        status: str,
        next_attempt_at: datetime | None,
    ) -> Delivery:
        sets, removes = attempt_changes(delivery, attempt, status=status, next_attempt_at=next_attempt_at)
        with self._lock:
            item = self._items[(delivery.user_id, delivery.sk)]
            item.update(_stored(sets))
            for name in removes:
                item.pop(name, None)
            recorded = copy.deepcopy(item)
        return delivery_from_item(recorded)

    def page(
        self, user_id: str, webhook_id: str, limit: int, next_token: str | None
    ) -> tuple[list[Delivery], str | None]:
        with self._lock:
            items = [copy.deepcopy(item) for (uid, _), item in self._items.items() if uid == user_id]
        found, token = newest_first_page(
            items, keys.user_pk(user_id), keys.delivery_prefix(webhook_id), limit, next_token
        )
        return [delivery_from_item(item) for item in found], token
