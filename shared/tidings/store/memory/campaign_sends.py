"""Campaign steps, audiences and the send ledger in memory, with the DynamoDB repositories' conditions,
orders and page cuts: items are kept as the table keeps them, in one sorted key space per campaign,
and the reads and moves are the same code as the table's (`StepStore`, `SendStore`) over these
items, so listings read them in the same key order and each move is refused under the same
conditions."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from tidings.core.clock import iso_ms
from tidings.models.campaigns import CampaignStep, Send
from tidings.store import keys
from tidings.store.campaign_sends import (
    AudienceZone,
    SendConflict,
    SendStore,
    StepConflict,
    StepStore,
    audience_items,
    counts_item,
    counts_key,
    send_to_item,
    step_to_item,
)
from tidings.store.dynamo import deserialize, serialize


class _Partitions:
    """Items by campaign partition, then sort key; shared by the two repositories of one test, like
    the table."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, dict[str, Any]]] = {}
        self.lock = threading.RLock()

    def put(self, item: dict[str, Any]) -> None:
        stored = deserialize(serialize(item))  # as the table would keep it (no None attributes)
        with self.lock:
            self.items.setdefault(str(item["PK"]), {})[str(item["SK"])] = stored

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.items.get(pk, {}).get(sk)
            return copy.deepcopy(found) if found is not None else None

    def under(self, pk: str, prefix: str, after: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            partition = self.items.get(pk, {})
            return [
                copy.deepcopy(partition[sk])
                for sk in sorted(partition)
                if sk.startswith(prefix) and (after is None or sk > after)
            ]

    def delete_under(self, pk: str, *prefixes: str) -> None:
        with self.lock:
            partition = self.items.get(pk, {})
            for sk in [sk for sk in partition if sk.startswith(prefixes)]:
                del partition[sk]

    def put_if(self, item: dict[str, Any], expected: int, statuses: Sequence[str], attribute: str) -> bool:
        """The table's conditional put: only over an item at version `expected` in `statuses`."""
        with self.lock:
            current = self.get(str(item["PK"]), str(item["SK"]))
            if current is None or current["version"] != expected or current[attribute] not in statuses:
                return False
            self.put(item)
            return True


class _InMemory:
    def __init__(self, partitions: _Partitions | None = None) -> None:
        self._p = partitions or _Partitions()

    def _item(self, user_id: str, campaign_id: str, sk: str) -> dict[str, Any] | None:
        return self._p.get(keys.campaign_partition(user_id, campaign_id), sk)

    def _under(
        self, user_id: str, campaign_id: str, prefix: str, after: str | None = None
    ) -> Iterator[dict[str, Any]]:
        return iter(self._p.under(keys.campaign_partition(user_id, campaign_id), prefix, after))

    def _items(self, user_id: str, campaign_id: str, sks: Sequence[str]) -> list[dict[str, Any]]:
        pk = keys.campaign_partition(user_id, campaign_id)
        return [item for sk in sks if (item := self._p.get(pk, sk)) is not None]


class InMemoryStepRepository(_InMemory, StepStore):
    def replace_plan(
        self,
        user_id: str,
        campaign_id: str,
        steps: Sequence[CampaignStep],
        audience: Sequence[AudienceZone],
    ) -> None:
        pk = keys.campaign_partition(user_id, campaign_id)
        with self._p.lock:
            self._p.delete_under(pk, keys.STEP_SK_PREFIX, keys.AUDIENCE_SK_PREFIX)
            for zone in audience:
                for item in audience_items(user_id, campaign_id, zone):
                    self._p.put(item)
            for step in steps:
                self._p.put(counts_item(step))
                self._p.put(step_to_item(step))

    def _put_step(self, step: CampaignStep, expected: int, states: Sequence[str]) -> None:
        if not self._p.put_if(step_to_item(step), expected, states, "state"):
            raise StepConflict()

    def _add_counts(self, user_id: str, campaign_id: str, sk: str, deltas: dict[str, int]) -> bool:
        with self._p.lock:
            stored = self._p.items.get(keys.campaign_partition(user_id, campaign_id), {}).get(sk)
            if stored is None:
                return False
            for name, value in deltas.items():
                stored[name] = int(stored.get(name, 0)) + value
        return True

    def delete_plan(self, user_id: str, campaign_id: str) -> None:
        pk = keys.campaign_partition(user_id, campaign_id)
        self._p.delete_under(pk, keys.STEP_SK_PREFIX, keys.AUDIENCE_SK_PREFIX, keys.SEND_SK_PREFIX)


class InMemorySendRepository(_InMemory, SendStore):
    def create_if_absent(self, send: Send) -> bool:
        pk = keys.campaign_partition(send.user_id, send.campaign_id)
        with self._p.lock:
            if self._p.get(pk, keys.campaign_send_sk(send.n, send.email)) is not None:
                return False
            self._p.put(send_to_item(send))
        return True

    def _move(self, before: Send, after: Send, statuses: Sequence[str], counter: str | None = None) -> Send:
        with self._p.lock:  # the move and its count together, or neither (the table's transaction)
            if not self._p.put_if(send_to_item(after), before.version, statuses, "status"):
                raise SendConflict()
            if counter is not None:
                key = counts_key(after)
                counts = self._p.items.setdefault(key["PK"], {}).setdefault(key["SK"], dict(key))
                counts[counter] = int(counts.get(counter, 0)) + 1
        return after

    def _first(self, user_id: str, campaign_id: str, n: int, email: str, name: str, at: datetime) -> bool:
        pk = keys.campaign_partition(user_id, campaign_id)
        with self._p.lock:
            stored = self._p.items.get(pk, {}).get(keys.campaign_send_sk(n, email))
            if stored is None or name in stored:
                return False
            stored[name] = iso_ms(at)
        return True


def campaign_send_stores() -> tuple[InMemoryStepRepository, InMemorySendRepository]:
    """Both repositories over one in-memory partition space, as the table holds them."""
    partitions = _Partitions()
    return InMemoryStepRepository(partitions), InMemorySendRepository(partitions)
