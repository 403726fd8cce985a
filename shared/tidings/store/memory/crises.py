"""Crises, crisis settings and the queue hold in memory, with the DynamoDB repositories' conditions: one
active crisis per user, changes only at the version read (a resolution frees the user's active slot),
an e-mail claimed once per occurrence; a due post held only while it is scheduled at its version and
the hold is active for that crisis, released only once the hold has ended. The hold works on the
in-memory post repository's items, as the table's transaction works on both items."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from tidings.core.clock import iso_ms
from tidings.models.crises import Crisis, CrisisSettings, QueueHold
from tidings.models.posts import PostStatus
from tidings.store import keys
from tidings.store.crises import (
    MAX_PAGE,
    CrisisChanged,
    HoldActive,
    crisis_from_item,
    crisis_to_item,
    invalid_token,
    released_copy,
    stored_crisis,
)
from tidings.store.dynamo import deserialize, page_scope, serialize
from tidings.store.memory.posts import InMemoryPostRepository, limited_pages, token_position


def _stored(item: dict[str, Any]) -> dict[str, Any]:
    return deserialize(serialize(item))  # as the table keeps it


class InMemoryCrisisRepository:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._active: dict[str, str] = {}
        self._settings: dict[str, CrisisSettings] = {}
        self._emailed: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def _put(self, crisis: Crisis) -> None:
        self._items[(crisis.user_id, crisis.crisis_id)] = _stored(crisis_to_item(crisis))

    def get(self, user_id: str, crisis_id: str) -> Crisis | None:
        with self._lock:
            item = self._items.get((user_id, crisis_id))
        return crisis_from_item(item) if item else None

    def active(self, user_id: str) -> Crisis | None:
        with self._lock:
            crisis_id = self._active.get(user_id)
        crisis = self.get(user_id, crisis_id) if crisis_id else None
        return crisis if crisis is not None and crisis.active else None

    def open(self, crisis: Crisis) -> Crisis:
        stored = crisis.model_copy(update={"version": 1})
        with self._lock:
            if crisis.user_id in self._active or (crisis.user_id, crisis.crisis_id) in self._items:
                raise CrisisChanged("another crisis is active", {"crisisId": crisis.crisis_id})
            self._active[crisis.user_id] = crisis.crisis_id
            self._put(stored)
        return stored

    def save(self, crisis: Crisis) -> Crisis:
        new = stored_crisis(crisis)
        with self._lock:
            current = self._items.get((crisis.user_id, crisis.crisis_id))
            if current is None or current.get("version") != crisis.version:
                raise CrisisChanged("the crisis changed meanwhile", {"crisisId": crisis.crisis_id})
            self._put(new)
            if not new.active and self._active.get(crisis.user_id) == crisis.crisis_id:
                del self._active[crisis.user_id]
        return new

    def page(self, user_id: str, limit: int, next_token: str | None) -> tuple[list[Crisis], str | None]:
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1 to {MAX_PAGE}")
        scope = page_scope(keys.user_pk(user_id), keys.CRISIS_SK_PREFIX)
        try:
            after = token_position(next_token, "SK", scope)
        except ValueError:
            raise invalid_token() from None
        with self._lock:
            items = sorted(
                (i for (u, _), i in self._items.items() if u == user_id),
                key=lambda i: str(i["SK"]),
                reverse=True,
            )
        if after is not None:
            items = [i for i in items if str(i["SK"]) < after]
        page, token = limited_pages(items, limit, lambda _: True, ("PK", "SK"), scope)
        return [crisis_from_item(i) for i in page], token

    def active_everywhere(self) -> Iterator[Crisis]:
        with self._lock:
            items = sorted((i for i in self._items.values() if "GSI2PK" in i), key=lambda i: str(i["GSI2SK"]))
        yield from (crisis_from_item(i) for i in items)

    def settings(self, user_id: str) -> CrisisSettings:
        with self._lock:
            return self._settings.get(user_id, CrisisSettings())

    def put_settings(self, user_id: str, settings: CrisisSettings) -> CrisisSettings:
        with self._lock:
            self._settings[user_id] = settings
        return settings

    def claim_email(self, user_id: str, crisis_id: str, occurrence: str, now: datetime) -> bool:
        with self._lock:
            if (user_id, crisis_id, occurrence) in self._emailed:
                return False
            self._emailed.add((user_id, crisis_id, occurrence))
            return True

    def release_email(self, user_id: str, crisis_id: str, occurrence: str) -> None:
        with self._lock:
            self._emailed.discard((user_id, crisis_id, occurrence))


class InMemoryQueueHoldRepository:
    def __init__(self, posts: InMemoryPostRepository) -> None:
        self.posts = posts
        self._holds: dict[str, QueueHold] = {}

    def get(self, user_id: str) -> QueueHold | None:
        with self.posts._lock:
            return self._holds.get(user_id)

    def hold(self, user_id: str, crisis_id: str, now: datetime) -> QueueHold:
        with self.posts._lock:
            current = self._holds.get(user_id)
            hold = QueueHold(
                user_id=user_id,
                crisis_id=crisis_id,
                active=True,
                since=now,
                posts=current.posts if current else (),
            )
            self._holds[user_id] = hold
            return hold

    def hold_post(self, user_id: str, post_id: str, version: int, crisis_id: str, now: datetime) -> bool:
        with self.posts._lock:
            hold = self._holds.get(user_id)
            item = self.posts._items.get((user_id, post_id))
            if hold is None or not hold.active or hold.crisis_id != crisis_id or item is None:
                return False
            if (
                item.get("status") != PostStatus.SCHEDULED
                or item.get("version") != version
                or item.get("publish_now") is True
            ):
                return False
            item.update(held_by_crisis=crisis_id, held_at=iso_ms(now))
            item.pop("GSI2PK", None)
            item.pop("GSI2SK", None)
            posts = tuple(sorted({*hold.posts, post_id}))
            self._holds[user_id] = hold.model_copy(update={"posts": posts})
            return True

    def end(self, user_id: str, crisis_id: str, now: datetime) -> QueueHold | None:
        with self.posts._lock:
            hold = self._holds.get(user_id)
            if hold is None or hold.crisis_id != crisis_id:
                return None
            ended = hold.model_copy(update={"active": False, "resumed_at": hold.resumed_at or now})
            self._holds[user_id] = ended
            return ended

    def release_post(self, user_id: str, post_id: str, now: datetime) -> bool:
        with self.posts._lock:
            hold = self._holds.get(user_id)
            item = self.posts._items.get((user_id, post_id))
            change = released_copy(item, now, self.posts.due_shards) if item else None
            if change is not None:
                if hold is not None and hold.active:
                    raise HoldActive("the queue is held again", {"postId": post_id})
                self.posts._items[(user_id, post_id)] = _stored(change[0])
            if hold is not None:
                posts = tuple(p for p in hold.posts if p != post_id)
                self._holds[user_id] = hold.model_copy(update={"posts": posts})
            return change is not None
