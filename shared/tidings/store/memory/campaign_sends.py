"""Campaign steps, audiences and the send ledger in memory, with the DynamoDB repositories' conditions,
orders and page cuts: items are kept as the table keeps them, in one sorted key space per campaign, so
listings read them in the same key order, and each move is refused under the same conditions."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from tidings.core.clock import iso_ms
from tidings.models.campaigns import CampaignStep, Send, SendStatus, StepState
from tidings.store import keys
from tidings.store.campaign_sends import (
    CLAIM_FROM,
    COUNTERS,
    FAIL_FROM,
    RELEASE_FROM,
    SENT_FROM,
    SKIP_FROM,
    AudienceZone,
    SendConflict,
    SendPage,
    StepConflict,
    audience_items,
    check_page,
    claimed,
    counts_item,
    decode_cursor,
    ledger_prefix,
    moved_step,
    page_of,
    send_from_item,
    send_to_item,
    sent,
    settled,
    single_page,
    step_from_item,
    step_to_item,
    steps_from_items,
    zones_from_items,
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
        self.items.setdefault(str(item["PK"]), {})[str(item["SK"])] = stored

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        found = self.items.get(pk, {}).get(sk)
        return copy.deepcopy(found) if found is not None else None

    def under(self, pk: str, prefix: str, after: str | None = None) -> list[dict[str, Any]]:
        partition = self.items.get(pk, {})
        return [
            copy.deepcopy(partition[sk])
            for sk in sorted(partition)
            if sk.startswith(prefix) and (after is None or sk > after)
        ]

    def delete_under(self, pk: str, *prefixes: str) -> None:
        partition = self.items.get(pk, {})
        for sk in [sk for sk in partition if sk.startswith(prefixes)]:
            del partition[sk]


class InMemoryStepRepository:
    def __init__(self, partitions: _Partitions | None = None) -> None:
        self._p = partitions or _Partitions()

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

    def steps(self, user_id: str, campaign_id: str) -> list[CampaignStep]:
        with self._p.lock:
            items = self._p.under(keys.campaign_partition(user_id, campaign_id), keys.STEP_SK_PREFIX)
        return steps_from_items(items)

    def get_step(self, user_id: str, campaign_id: str, n: int, timezone: str) -> CampaignStep | None:
        pk = keys.campaign_partition(user_id, campaign_id)
        with self._p.lock:
            item = self._p.get(pk, keys.campaign_step_sk(n, timezone))
            counts = self._p.get(pk, keys.campaign_step_counts_sk(n, timezone))
        return step_from_item(item, counts) if item is not None else None

    def audience(self, user_id: str, campaign_id: str) -> list[AudienceZone]:
        with self._p.lock:
            items = self._p.under(keys.campaign_partition(user_id, campaign_id), keys.AUDIENCE_SK_PREFIX)
        return zones_from_items(items)

    def zone_recipients(self, user_id: str, campaign_id: str, timezone: str) -> list[str]:
        pk = keys.campaign_partition(user_id, campaign_id)
        with self._p.lock:
            items = self._p.under(pk, keys.campaign_audience_prefix(timezone))
        return [email for zone in zones_from_items(items) for email in zone.emails]

    def _put_step(self, step: CampaignStep, expected: int, states: Sequence[str]) -> None:
        pk = keys.campaign_partition(step.user_id, step.campaign_id)
        with self._p.lock:
            current = self._p.get(pk, keys.campaign_step_sk(step.n, step.timezone))
            if current is None or current["version"] != expected or current["state"] not in states:
                raise StepConflict()
            self._p.put(step_to_item(step))

    def move_step(
        self,
        step: CampaignStep,
        now: datetime,
        *,
        state: str,
        send_at: datetime | None = None,
        local_time: str | None = None,
    ) -> CampaignStep:
        moved = moved_step(step, now, state, send_at, local_time)
        self._put_step(moved, step.version, StepState.ALL)
        return moved

    def mark_fired(
        self, user_id: str, campaign_id: str, n: int, timezone: str, version: int, now: datetime
    ) -> CampaignStep:
        with self._p.lock:
            current = self.get_step(user_id, campaign_id, n, timezone)
            if current is None or current.version != version or current.state != StepState.WAITING:
                raise StepConflict()
            fired = moved_step(current, now, StepState.FIRED)
            self._put_step(fired, version, (StepState.WAITING,))
        return fired

    def add_counts(
        self,
        user_id: str,
        campaign_id: str,
        n: int,
        timezone: str,
        *,
        sent: int = 0,
        skipped: int = 0,
        failed: int = 0,
        opened: int = 0,
        clicked: int = 0,
    ) -> bool:
        deltas = dict(zip(COUNTERS, (sent, skipped, failed, opened, clicked), strict=True))
        pk = keys.campaign_partition(user_id, campaign_id)
        with self._p.lock:
            stored = self._p.items.get(pk, {}).get(keys.campaign_step_counts_sk(n, timezone))
            if stored is None:
                return False
            for name, value in deltas.items():
                stored[name] = int(stored.get(name, 0)) + value
        return True

    def delete_plan(self, user_id: str, campaign_id: str) -> None:
        pk = keys.campaign_partition(user_id, campaign_id)
        with self._p.lock:
            self._p.delete_under(pk, keys.STEP_SK_PREFIX, keys.AUDIENCE_SK_PREFIX, keys.SEND_SK_PREFIX)


class InMemorySendRepository:
    def __init__(self, partitions: _Partitions | None = None) -> None:
        self._p = partitions or _Partitions()

    def create_if_absent(self, send: Send) -> bool:
        pk = keys.campaign_partition(send.user_id, send.campaign_id)
        with self._p.lock:
            if self._p.get(pk, keys.campaign_send_sk(send.n, send.email)) is not None:
                return False
            self._p.put(send_to_item(send))
        return True

    def get(self, user_id: str, campaign_id: str, n: int, email: str) -> Send | None:
        with self._p.lock:
            item = self._p.get(keys.campaign_partition(user_id, campaign_id), keys.campaign_send_sk(n, email))
        return send_from_item(item) if item is not None else None

    def _move(self, before: Send, after: Send, statuses: Sequence[str]) -> Send:
        pk = keys.campaign_partition(before.user_id, before.campaign_id)
        with self._p.lock:
            current = self._p.get(pk, keys.campaign_send_sk(before.n, before.email))
            if current is None or current["version"] != before.version or current["status"] not in statuses:
                raise SendConflict()
            self._p.put(send_to_item(after))
        return after

    def claim(self, send: Send, now: datetime, lease: timedelta) -> Send:
        return self._move(send, claimed(send, now, lease), CLAIM_FROM)

    def mark_sent(
        self, send: Send, message_id: str | None, sent_at: datetime, *, reason: str | None = None
    ) -> Send:
        return self._move(send, sent(send, message_id, sent_at, reason), SENT_FROM)

    def mark_skipped(self, send: Send, reason: str, now: datetime) -> Send:
        return self._move(send, settled(send, SendStatus.SKIPPED, reason, now), SKIP_FROM)

    def mark_failed(self, send: Send, reason: str, now: datetime) -> Send:
        return self._move(send, settled(send, SendStatus.FAILED, reason, now), FAIL_FROM)

    def release(self, send: Send, now: datetime, reason: str | None = None) -> Send:
        return self._move(send, settled(send, SendStatus.PLANNED, reason, now), RELEASE_FROM)

    def _first(self, user_id: str, campaign_id: str, n: int, email: str, name: str, at: datetime) -> bool:
        pk = keys.campaign_partition(user_id, campaign_id)
        with self._p.lock:
            stored = self._p.items.get(pk, {}).get(keys.campaign_send_sk(n, email))
            if stored is None or name in stored:
                return False
            stored[name] = iso_ms(at)
        return True

    def record_open(self, user_id: str, campaign_id: str, n: int, email: str, at: datetime) -> bool:
        return self._first(user_id, campaign_id, n, email, "opened_at", at)

    def record_click(self, user_id: str, campaign_id: str, n: int, email: str, at: datetime) -> bool:
        return self._first(user_id, campaign_id, n, email, "clicked_at", at)

    def iter_sends(
        self, user_id: str, campaign_id: str, n: int, *, after_email: str | None = None
    ) -> Iterator[Send]:
        after = keys.campaign_send_sk(n, after_email) if after_email is not None else None
        pk = keys.campaign_partition(user_id, campaign_id)
        with self._p.lock:
            items = self._p.under(pk, keys.campaign_sends_prefix(n), after)
        return iter([send_from_item(item) for item in items])

    def list_sends(
        self,
        user_id: str,
        campaign_id: str,
        *,
        n: int | None = None,
        email: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> SendPage:
        check_page(limit, status)
        prefix = ledger_prefix(n, email)
        after = decode_cursor(cursor, prefix)
        pk = keys.campaign_partition(user_id, campaign_id)
        with self._p.lock:
            if n is not None and email is not None:
                return single_page(self._p.get(pk, prefix), status)
            items = self._p.under(pk, prefix, after)
        return page_of(items, email, status, limit)

    def skip_planned(self, user_id: str, campaign_id: str, reason: str, now: datetime) -> int:
        pk = keys.campaign_partition(user_id, campaign_id)
        skipped = 0
        with self._p.lock:
            for item in self._p.under(pk, keys.SEND_SK_PREFIX):
                if item.get("status") == SendStatus.PLANNED:
                    self.mark_skipped(send_from_item(item), reason, now)
                    skipped += 1
        return skipped


def campaign_send_stores() -> tuple[InMemoryStepRepository, InMemorySendRepository]:
    """Both repositories over one in-memory partition space, as the table holds them."""
    partitions = _Partitions()
    return InMemoryStepRepository(partitions), InMemorySendRepository(partitions)
