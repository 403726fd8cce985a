"""The campaign send rate: each instance's share of the account's rate, spaced on the clock."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from tidings.campaigns.pacing import Pacer, instance_rate
from tidings.core.clock import FakeClock

T0 = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)


def test_each_instance_takes_its_share_of_the_lower_of_the_accounts_and_the_configured_rate() -> None:
    assert instance_rate(14.0, 0.0, 2) == 7.0  # nothing configured: the account's
    assert instance_rate(14.0, 4.0, 2) == 2.0  # a lower configured rate wins
    assert instance_rate(14.0, 50.0, 2) == 7.0  # never more than the account's
    assert instance_rate(1.0, 0.0, 1) == 1.0


@pytest.mark.parametrize(("account", "configured", "concurrency"), [(0.0, 0.0, 2), (14.0, 0.0, 0)])
def test_no_rate_at_all_is_refused(account: float, configured: float, concurrency: int) -> None:
    with pytest.raises(ValueError, match="no send rate"):
        instance_rate(account, configured, concurrency)


def test_sends_start_one_interval_apart_and_the_first_at_once() -> None:
    clock = FakeClock(T0)
    pacer = Pacer(4.0, clock)
    starts = []

    for _ in range(5):
        assert pacer.wait()
        starts.append(clock.now())

    assert [(s - T0).total_seconds() for s in starts] == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_time_spent_between_sends_counts_toward_the_interval() -> None:
    clock = FakeClock(T0)
    pacer = Pacer(2.0, clock)
    pacer.wait()
    clock.advance(timedelta(seconds=0.4))  # rendering and the SES call took 0.4 s

    pacer.wait()

    assert clock.now() == T0 + timedelta(seconds=0.5)


def test_together_the_instances_never_exceed_the_rate_in_any_second() -> None:
    # two instances starting at the same instant, each on its own clock: 14/s shared, 7/s each
    timelines = []
    for _ in range(2):
        clock = FakeClock(T0)
        pacer = Pacer(instance_rate(14.0, 0.0, 2), clock)
        times = []
        for _ in range(40):
            pacer.wait()
            times.append(clock.now())
        timelines.append(times)
    starts = sorted(t for times in timelines for t in times)

    window = timedelta(seconds=1)
    busiest = max(sum(1 for t in starts if s <= t < s + window) for s in starts)
    assert busiest == 14  # never 16: the interval is rounded up, not down, to the microsecond


def test_a_slot_after_the_deadline_is_neither_waited_for_nor_taken() -> None:
    clock = FakeClock(T0)
    pacer = Pacer(1.0, clock)
    pacer.wait()

    assert not pacer.wait(deadline=T0 + timedelta(seconds=0.5))
    assert clock.now() == T0
    assert pacer.wait(deadline=T0 + timedelta(seconds=1))
    assert clock.now() == T0 + timedelta(seconds=1)


def test_a_hold_pushes_the_next_send_back() -> None:
    clock = FakeClock(T0)
    pacer = Pacer(10.0, clock)
    pacer.wait()

    pacer.hold(1.0)
    pacer.wait()

    assert clock.now() == T0 + timedelta(seconds=1)


def test_a_rate_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="above 0"):
        Pacer(0.0, FakeClock(T0))


def test_threads_of_one_instance_each_take_a_slot_of_their_own() -> None:
    clock = FakeClock(T0)
    pacer = Pacer(10.0, clock)

    def take(_: int) -> bool:
        return pacer.wait()

    with ThreadPoolExecutor(max_workers=8) as pool:
        taken = list(pool.map(take, range(40)))

    assert all(taken)
    # forty slots a tenth of a second apart, none taken twice: the next is the forty-first
    assert pacer.next_slot() == T0 + timedelta(seconds=4)
