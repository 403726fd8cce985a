"""The per-user request throttle keeps the same token bucket on DynamoDB Local and in memory: a burst
at once, then the sustained rate, each user on their own, and a wait that says when the next request
may come; requests at once from many threads never get more than the bucket holds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, user_id

from tidings.core.clock import FakeClock
from tidings.store.throttle import (
    Bucket,
    DynamoRequestThrottle,
    InMemoryRequestThrottle,
    RequestThrottle,
    Verdict,
)

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
table = contract_table


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


def throttle_on(table: Table | None, clock: FakeClock, bucket: Bucket) -> RequestThrottle:
    if table is None:
        return InMemoryRequestThrottle(bucket, clock)
    return DynamoRequestThrottle(table.name, table.client, bucket, clock)


def test_a_burst_then_the_rate_per_user(table: Table | None, clock: FakeClock) -> None:
    throttle = throttle_on(table, clock, Bucket(rate_per_second=2, burst=3))
    user, other = user_id(), user_id()

    assert [throttle.admit(user).allowed for _ in range(4)] == [True, True, True, False]
    assert throttle.admit(user) == Verdict(False, 1)
    assert throttle.admit(other).allowed

    clock.advance(timedelta(milliseconds=500))  # one interval: one more request
    assert [throttle.admit(user).allowed for _ in range(2)] == [True, False]
    clock.advance(timedelta(seconds=10))  # idle: the whole burst again
    assert [throttle.admit(user).allowed for _ in range(4)] == [True, True, True, False]


def test_a_long_wait_is_said_in_whole_seconds(table: Table | None, clock: FakeClock) -> None:
    throttle = throttle_on(table, clock, Bucket(rate_per_second=0.2, burst=1))
    user = user_id()
    assert throttle.admit(user).allowed
    assert throttle.admit(user) == Verdict(False, 5)
    clock.advance(timedelta(seconds=3))
    assert throttle.admit(user) == Verdict(False, 2)


def test_requests_at_once_never_get_more_than_the_burst(table: Table | None, clock: FakeClock) -> None:
    throttle = throttle_on(table, clock, Bucket(rate_per_second=1, burst=5))
    user = user_id()
    with ThreadPoolExecutor(max_workers=12) as pool:
        verdicts = list(pool.map(lambda _: throttle.admit(user), range(24)))
    assert sum(v.allowed for v in verdicts) == 5


def test_a_rate_of_zero_turns_the_throttle_off(table: Table | None, clock: FakeClock) -> None:
    throttle = throttle_on(table, clock, Bucket(rate_per_second=0, burst=0))
    assert all(throttle.admit("u1").allowed for _ in range(50))
