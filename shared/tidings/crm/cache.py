"""Clients read from a CRM, kept for a while in the memory of one function instance.

Client data stays in the CRM: the cache lives only in the process (never on disk, never in the
table) and is lost when the instance goes. An entry is keyed by (user, integration, client), so one
user never reads, lists or clears another's. It expires after its integration's time-to-live (from the
user's CRM settings, 300 s unless changed; a TTL of 0 caches nothing), and when the cache holds
`max_entries` the least recently used entry makes room. Expiry is checked against the TTL in force at
each read too, so lowering an integration's TTL shortens what is already cached.

Each user's hits and misses are counted for `GET /crm/cache`; clearing a user's cache starts their
counts again. The lists are bounded: entries by `max_entries`, counted users by `max_users` (least
recently seen dropped). Every method may be called from several threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.models.crm import CrmRecord

DEFAULT_TTL_SECONDS = 300
DEFAULT_MAX_ENTRIES = 2_000
DEFAULT_MAX_USERS = 10_000

_Key = tuple[str, str, str]  # (user_id, integration_id, client_id)


@dataclass(frozen=True)
class CachedClient:
    record: CrmRecord
    fetched_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class CacheEntryInfo:
    """What stats say of one entry: which client, when it was read and when it goes. No client data."""

    integration_id: str
    client_id: str
    fetched_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class CacheStats:
    size: int
    entries: tuple[CacheEntryInfo, ...]  # the soonest to expire first
    hits: int
    misses: int

    @property
    def hit_rate(self) -> float | None:
        """Hits over lookups; None before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


@dataclass
class _Counts:
    hits: int = 0
    misses: int = 0


class ClientCache:
    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_users: int = DEFAULT_MAX_USERS,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        if max_entries < 1 or max_users < 1:
            raise ValueError("the cache holds at least one entry and counts at least one user")
        self.max_entries = max_entries
        self.max_users = max_users
        self.clock = clock
        self._entries: OrderedDict[_Key, CachedClient] = OrderedDict()  # least recently used first
        self._by_user: dict[str, set[_Key]] = {}
        self._counts: OrderedDict[str, _Counts] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, user_id: str, integration_id: str, client_id: str, ttl_seconds: int) -> CachedClient | None:
        """The cached client, counted as a hit; None (a miss) when absent or expired, either by the
        expiry it was stored with or by `ttl_seconds`, the integration's TTL now."""
        key = (user_id, integration_id, client_id)
        now = self.clock.now()
        with self._lock:
            counts = self._counts_for(user_id)
            found = self._entries.get(key)
            if found is not None and _alive(found, now, ttl_seconds):
                self._entries.move_to_end(key)
                counts.hits += 1
                return found
            if found is not None:
                self._drop(key)
            counts.misses += 1
            return None

    def put(
        self,
        user_id: str,
        integration_id: str,
        client_id: str,
        record: CrmRecord,
        *,
        fetched_at: datetime,
        ttl_seconds: int,
    ) -> CachedClient | None:
        """Keep `record` for `ttl_seconds` from `fetched_at`; nothing is kept when the TTL is 0 (or the
        record expired already). The entry kept, or None."""
        expires_at = fetched_at + timedelta(seconds=ttl_seconds)
        key = (user_id, integration_id, client_id)
        with self._lock:
            if ttl_seconds <= 0 or expires_at <= self.clock.now():
                self._drop(key)
                return None
            entry = CachedClient(record, fetched_at, expires_at)
            self._entries[key] = entry
            self._entries.move_to_end(key)
            self._by_user.setdefault(user_id, set()).add(key)
            while len(self._entries) > self.max_entries:
                oldest = next(iter(self._entries))
                self._drop(oldest)
            return entry

    def stats(self, user_id: str) -> CacheStats:
        """The user's live entries (expired ones are dropped first) and their counts."""
        now = self.clock.now()
        with self._lock:
            live: list[CacheEntryInfo] = []
            for key in list(self._by_user.get(user_id, ())):
                entry = self._entries[key]
                if entry.expires_at <= now:
                    self._drop(key)
                    continue
                _, integration_id, client_id = key
                live.append(CacheEntryInfo(integration_id, client_id, entry.fetched_at, entry.expires_at))
            counts = self._counts.get(user_id, _Counts())
            live.sort(key=lambda e: (e.expires_at, e.integration_id, e.client_id))
            return CacheStats(len(live), tuple(live), counts.hits, counts.misses)

    def clear(self, user_id: str) -> int:
        """Drop the user's entries and start their counts again; how many entries were dropped."""
        with self._lock:
            keys = list(self._by_user.get(user_id, ()))
            for key in keys:
                self._drop(key)
            self._counts.pop(user_id, None)
            return len(keys)

    def forget(self, user_id: str, integration_id: str, client_id: str) -> None:
        """Drop one client (e.g. the CRM said it no longer exists)."""
        with self._lock:
            self._drop((user_id, integration_id, client_id))

    # -- under the lock ----------------------------------------------------------------------------

    def _drop(self, key: _Key) -> None:
        if self._entries.pop(key, None) is None:
            return
        user_keys = self._by_user.get(key[0])
        if user_keys is not None:
            user_keys.discard(key)
            if not user_keys:
                del self._by_user[key[0]]

    def _counts_for(self, user_id: str) -> _Counts:
        counts = self._counts.get(user_id)
        if counts is None:
            counts = self._counts[user_id] = _Counts()
            while len(self._counts) > self.max_users:
                self._counts.popitem(last=False)
        else:
            self._counts.move_to_end(user_id)
        return counts


def _alive(entry: CachedClient, now: datetime, ttl_seconds: int) -> bool:
    return now < entry.expires_at and now < entry.fetched_at + timedelta(seconds=ttl_seconds)
