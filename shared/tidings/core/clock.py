"""The one clock: every "now" in Tidings goes through a Clock, so tests can move time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def sleep_until(self, moment: datetime) -> None:
        """Block until `moment` (returns at once when it has passed)."""
        ...


class SystemClock:
    """Wall-clock time. `sleep_until` sleeps coarse, then spins the last milliseconds
    so a due post is sent within a millisecond or two of its time, never before it."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep_until(self, moment: datetime) -> None:
        target = moment.timestamp()
        while True:
            remaining = target - time.time()
            if remaining <= 0:
                return
            if remaining > 0.005:
                time.sleep(remaining - 0.003)
            else:
                time.sleep(0)


class FakeClock:
    """A clock that only moves when told to; `sleep_until` jumps to the moment."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment

    def sleep_until(self, moment: datetime) -> None:
        with self._lock:
            if moment > self._now:
                self._now = moment


def to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("datetime must carry a timezone offset")
    return moment.astimezone(UTC)


def iso_ms(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds and a Z, the one format stored and returned."""
    return to_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ceil_ms(moment: datetime) -> datetime:
    """`moment` rounded up to a whole millisecond."""
    extra = moment.microsecond % 1000
    return moment if extra == 0 else moment + timedelta(microseconds=1000 - extra)


def parse_offset_time(value: object) -> datetime:
    """A time given by a caller: a datetime, or ISO 8601 text, always with a UTC offset.
    Raises ValueError saying what is wrong."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    else:
        raise ValueError("a time is ISO 8601 text with a UTC offset")
    if moment.tzinfo is None:
        raise ValueError("a time needs a UTC offset, e.g. 2027-05-01T09:30:00-04:00")
    return moment


def parse_iso(value: str) -> datetime:
    return to_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


DEFAULT_CLOCK: Clock = SystemClock()
