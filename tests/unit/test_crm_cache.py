"""The in-memory client cache: entries live for their integration's TTL (moved by a FakeClock), the
least recently used goes when the cache is full, and each user's stats and clear see only their own
entries."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from crm_fakes import client

from tidings.core.clock import FakeClock
from tidings.crm.cache import CacheEntryInfo, ClientCache

NOW = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)


def cache(max_entries: int = 100) -> tuple[ClientCache, FakeClock]:
    clock = FakeClock(NOW)
    return ClientCache(max_entries=max_entries, clock=clock), clock


def test_an_entry_is_served_until_its_ttl_ends_then_it_is_a_miss() -> None:
    c, clock = cache()
    record = client("501")
    c.put("u1", "crm-1", "501", record, fetched_at=NOW, ttl_seconds=300)

    clock.advance(timedelta(seconds=299))
    hit = c.get("u1", "crm-1", "501", 300)
    clock.advance(timedelta(seconds=1))
    expired = c.get("u1", "crm-1", "501", 300)

    assert hit is not None
    assert (hit.record, hit.fetched_at, hit.expires_at) == (record, NOW, NOW + timedelta(seconds=300))
    assert expired is None
    stats = c.stats("u1")
    assert (stats.size, stats.hits, stats.misses, stats.hit_rate) == (0, 1, 1, 0.5)


def test_a_lowered_ttl_shortens_what_is_cached_already() -> None:
    c, clock = cache()
    c.put("u1", "crm-1", "501", client(), fetched_at=NOW, ttl_seconds=3600)
    clock.advance(timedelta(seconds=120))

    assert c.get("u1", "crm-1", "501", 3600) is not None
    assert c.get("u1", "crm-1", "501", 60) is None  # the user lowered the TTL to a minute
    assert c.get("u1", "crm-1", "501", 3600) is None  # and the stale entry is gone


def test_a_ttl_of_zero_keeps_nothing() -> None:
    c, _ = cache()

    assert c.put("u1", "crm-1", "501", client(), fetched_at=NOW, ttl_seconds=0) is None
    assert c.get("u1", "crm-1", "501", 0) is None
    assert c.stats("u1").size == 0


def test_the_least_recently_used_entry_makes_room() -> None:
    c, _ = cache(max_entries=3)
    for n in range(3):
        c.put("u1", "crm-1", f"c{n}", client(f"c{n}"), fetched_at=NOW, ttl_seconds=300)
    c.get("u1", "crm-1", "c0", 300)  # c0 is used: c1 is now the least recently used

    c.put("u2", "crm-9", "c3", client("c3"), fetched_at=NOW, ttl_seconds=300)

    assert c.get("u1", "crm-1", "c1", 300) is None
    assert c.get("u1", "crm-1", "c0", 300) is not None
    assert c.get("u1", "crm-1", "c2", 300) is not None
    assert c.get("u2", "crm-9", "c3", 300) is not None
    assert c.stats("u1").size + c.stats("u2").size == 3


def test_stats_list_entries_without_client_data_soonest_to_expire_first() -> None:
    c, clock = cache()
    c.put("u1", "crm-1", "501", client("501"), fetched_at=NOW, ttl_seconds=600)
    clock.advance(timedelta(seconds=10))
    c.put("u1", "crm-2", "77", client("77"), fetched_at=clock.now(), ttl_seconds=60)
    c.get("u1", "crm-1", "501", 600)
    c.get("u1", "crm-1", "404", 600)
    c.get("u1", "crm-1", "501", 600)

    stats = c.stats("u1")

    assert stats.entries == (
        CacheEntryInfo("crm-2", "77", NOW + timedelta(seconds=10), NOW + timedelta(seconds=70)),
        CacheEntryInfo("crm-1", "501", NOW, NOW + timedelta(seconds=600)),
    )
    assert (stats.size, stats.hits, stats.misses) == (2, 2, 1)
    assert stats.hit_rate == pytest.approx(2 / 3)
    assert c.stats("u9").hit_rate is None  # no lookups yet: no rate rather than a made-up 0


def test_one_users_stats_and_clear_never_touch_anothers() -> None:
    c, _ = cache()
    c.put("u1", "crm-1", "501", client(), fetched_at=NOW, ttl_seconds=300)
    c.put("u2", "crm-1", "501", client(), fetched_at=NOW, ttl_seconds=300)  # same ids, other user
    c.get("u1", "crm-1", "501", 300)
    c.get("u2", "crm-1", "501", 300)
    c.get("u2", "crm-1", "502", 300)

    assert c.clear("u1") == 1

    assert (c.stats("u1").size, c.stats("u1").hits, c.stats("u1").misses) == (0, 0, 0)
    assert c.get("u1", "crm-1", "501", 300) is None
    after = c.stats("u2")
    assert (after.size, after.hits, after.misses) == (1, 1, 1)
    assert c.get("u2", "crm-1", "501", 300) is not None


def test_forget_drops_one_client() -> None:
    c, _ = cache()
    c.put("u1", "crm-1", "501", client("501"), fetched_at=NOW, ttl_seconds=300)
    c.put("u1", "crm-1", "502", client("502"), fetched_at=NOW, ttl_seconds=300)

    c.forget("u1", "crm-1", "501")

    assert [e.client_id for e in c.stats("u1").entries] == ["502"]


def test_counted_users_are_bounded() -> None:
    c = ClientCache(max_entries=10, max_users=2, clock=FakeClock(NOW))
    for user in ("u1", "u2", "u3"):
        c.get(user, "crm-1", "501", 300)

    assert c.stats("u1").misses == 0  # the least recently seen user's counts made room
    assert (c.stats("u2").misses, c.stats("u3").misses) == (1, 1)


def test_threads_reading_and_writing_at_once_leave_consistent_counts() -> None:
    c, _ = cache(max_entries=50)
    barrier = threading.Barrier(8)

    def work(n: int) -> None:
        barrier.wait()
        for i in range(200):
            key = f"c{(n * 7 + i) % 80}"
            if c.get("u1", "crm-1", key, 300) is None:
                c.put("u1", "crm-1", key, client(key), fetched_at=NOW, ttl_seconds=300)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    stats = c.stats("u1")
    assert stats.hits + stats.misses == 8 * 200
    assert stats.size == 50
    assert len({e.client_id for e in stats.entries}) == 50


def test_a_cache_must_hold_something() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ClientCache(max_entries=0)
