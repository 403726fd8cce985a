"""Integrations in memory, with the DynamoDB repository's conditions: create refuses an existing id
(unless replacing), save refuses a stale revision, and the sealed secret is kept, dropped or replaced
as `save` is told; a new integration takes one of the user's `integrations` quota, a deleted one gives
it back."""

from __future__ import annotations

import threading
from dataclasses import replace

from tidings.core.secrets import SealedSecret
from tidings.models.integrations import Integration
from tidings.store.integrations import busy, exists, not_found
from tidings.store.quotas import INTEGRATIONS, GiveBack, InMemoryQuotas, Take


class InMemoryIntegrationRepository:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], tuple[Integration, SealedSecret | None]] = {}
        self._lock = threading.Lock()
        self.quotas = InMemoryQuotas(lambda user_id, _: sum(uid == user_id for uid, _ in self._items))

    def get(self, user_id: str, integration_id: str) -> Integration | None:
        with self._lock:
            found = self._items.get((user_id, integration_id))
        return found[0] if found else None

    def require(self, user_id: str, integration_id: str) -> Integration:
        found = self.get(user_id, integration_id)
        if found is None:
            raise not_found(integration_id)
        return found

    def sealed(self, user_id: str, integration_id: str) -> SealedSecret | None:
        with self._lock:
            found = self._items.get((user_id, integration_id))
        return found[1] if found else None

    def for_user(self, user_id: str) -> list[Integration]:
        with self._lock:
            return [i for (user, _), (i, _) in sorted(self._items.items()) if user == user_id]

    def create(
        self,
        integration: Integration,
        sealed: SealedSecret | None,
        *,
        replace_existing: bool,
        limit: int | None,
    ) -> None:
        key = (integration.user_id, integration.integration_id)
        with self._lock:
            if key in self._items:
                if not replace_existing:
                    raise exists(integration.integration_id)
            else:
                self.quotas.apply(Take(integration.user_id, INTEGRATIONS, limit))
            self._items[key] = (integration, sealed)

    def save(self, integration: Integration, sealed: SealedSecret | bool | None = True) -> Integration:
        key = (integration.user_id, integration.integration_id)
        with self._lock:
            if key not in self._items:
                raise not_found(integration.integration_id)
            current, stored = self._items[key]
            if current.revision != integration.revision:
                raise busy(integration.integration_id)
            updated = replace(integration, revision=integration.revision + 1)
            secret = stored if sealed is True else sealed if isinstance(sealed, SealedSecret) else None
            self._items[key] = (updated, secret)
        return updated

    def delete(self, user_id: str, integration_id: str) -> Integration | None:
        with self._lock:
            if (user_id, integration_id) not in self._items:
                return None
            self.quotas.apply(GiveBack(user_id, INTEGRATIONS))
            found = self._items.pop((user_id, integration_id))
        return found[0]
