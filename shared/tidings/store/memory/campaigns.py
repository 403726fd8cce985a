"""Campaigns and their recipients in memory, kept as the table keeps them: the same items, the same
version condition, the same per-user count, the same listing order and cursors."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from tidings.models.campaigns import Campaign, Recipient
from tidings.store import keys
from tidings.store.campaigns import (
    MAX_PAGE,
    busy,
    campaign_from_item,
    campaign_to_item,
    check_recipients,
    check_size,
    exists,
    limit_reached,
    listing_cursor,
    listing_start,
    not_found,
    recipient_cursor,
    recipient_from_item,
    recipient_to_item,
    recipients_start,
)
from tidings.store.dynamo import deserialize, serialize


def _stored(item: dict[str, Any]) -> dict[str, Any]:
    return deserialize(serialize(item))


class InMemoryCampaignRepository:
    def __init__(self) -> None:
        self._campaigns: dict[tuple[str, str], dict[str, Any]] = {}
        self._counts: dict[str, int] = {}
        self._recipients: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}  # by SK
        self._lock = threading.RLock()

    def create(self, campaign: Campaign, *, limit: int) -> Campaign:
        item = campaign_to_item(replace(campaign, version=1, recipient_count=0))
        check_size(item)
        key = (campaign.user_id, campaign.campaign_id)
        with self._lock:
            if key in self._campaigns:
                raise exists(campaign.campaign_id)
            if self._counts.get(campaign.user_id, 0) >= limit:
                raise limit_reached(limit)
            self._campaigns[key] = _stored(item)
            self._counts[campaign.user_id] = self._counts.get(campaign.user_id, 0) + 1
            return campaign_from_item(self._campaigns[key])

    def get(self, user_id: str, campaign_id: str) -> Campaign | None:
        with self._lock:
            item = self._campaigns.get((user_id, campaign_id))
            return campaign_from_item(item) if item is not None else None

    def list(
        self, user_id: str, *, status: str | None = None, limit: int = 25, cursor: str | None = None
    ) -> tuple[list[Campaign], str | None]:
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1 to {MAX_PAGE}")
        start = listing_start(cursor, user_id, status)
        with self._lock:
            items = [i for (user, _), i in self._campaigns.items() if user == user_id]
        if status is None:
            items.sort(key=lambda i: i["SK"], reverse=True)
        else:
            pk = keys.campaigns_by_status_pk(user_id, status)
            items = [i for i in items if i["GSI1PK"] == pk]
            items.sort(key=lambda i: (i["GSI1SK"], i["PK"], i["SK"]), reverse=True)
        if start is not None:
            after = deserialize(start)
            position = (after["SK"],) if status is None else (after["GSI1SK"], after["PK"], after["SK"])

            def before(item: dict[str, Any]) -> bool:
                own = (item["SK"],) if status is None else (item["GSI1SK"], item["PK"], item["SK"])
                return own < position

            items = [i for i in items if before(i)]
        page = items[:limit]
        more = len(items) > limit
        following = listing_cursor(page[-1], user_id, status) if more else None
        return [campaign_from_item(i) for i in page], following

    def update(self, campaign: Campaign, expected_version: int) -> Campaign:
        item = campaign_to_item(replace(campaign, version=expected_version + 1))
        check_size(item)
        key = (campaign.user_id, campaign.campaign_id)
        with self._lock:
            stored = self._campaigns.get(key)
            if stored is None:
                raise not_found(campaign.campaign_id)
            if int(stored["version"]) != expected_version:
                raise busy()
            new = _stored({k: v for k, v in item.items() if v is not None})
            new["recipient_count"] = stored.get("recipient_count", 0)
            self._campaigns[key] = new
            return campaign_from_item(new)

    def delete(self, user_id: str, campaign_id: str, *, expected_version: int | None = None) -> None:
        key = (user_id, campaign_id)
        with self._lock:
            stored = self._campaigns.get(key)
            if stored is None:
                raise not_found(campaign_id)
            if expected_version is not None and int(stored["version"]) != expected_version:
                raise busy()
            del self._campaigns[key]
            self._counts[user_id] = max(0, self._counts.get(user_id, 1) - 1)
            self._recipients.pop(key, None)

    def put_recipients(self, user_id: str, campaign_id: str, recipients: Sequence[Recipient]) -> int:
        check_recipients(recipients)
        key = (user_id, campaign_id)
        with self._lock:
            stored = self._campaigns.get(key)
            if stored is None:
                raise not_found(campaign_id)
            items = [_stored(recipient_to_item(user_id, campaign_id, r)) for r in recipients]
            self._recipients[key] = {i["SK"]: i for i in items}
            stored["recipient_count"] = len(recipients)
            return len(recipients)

    def _sorted_recipients(self, user_id: str, campaign_id: str) -> builtins.list[dict[str, Any]]:
        with self._lock:
            held = dict(self._recipients.get((user_id, campaign_id), {}))
        return [held[sk] for sk in sorted(held)]

    def recipients(self, user_id: str, campaign_id: str) -> Iterator[Recipient]:
        for item in self._sorted_recipients(user_id, campaign_id):
            yield recipient_from_item(item)

    def recipient_page(
        self, user_id: str, campaign_id: str, *, limit: int = 100, cursor: str | None = None
    ) -> tuple[builtins.list[Recipient], str | None]:
        start = recipients_start(cursor, user_id, campaign_id, limit)
        items = self._sorted_recipients(user_id, campaign_id)
        if start is not None:
            after = deserialize(start)["SK"]
            items = [i for i in items if i["SK"] > after]
        page = items[:limit]
        more = len(items) > limit
        following = recipient_cursor(page[-1], user_id, campaign_id) if more else None
        return [recipient_from_item(i) for i in page], following

    def recipient(self, user_id: str, campaign_id: str, email: str) -> Recipient | None:
        with self._lock:
            item = self._recipients.get((user_id, campaign_id), {}).get(keys.recipient_sk(email))
        return recipient_from_item(item) if item is not None else None

    def count(self, user_id: str) -> int:
        with self._lock:
            return self._counts.get(user_id, 0)
