"""The campaign send rate: how fast one function instance may call SES so that all of them together
stay within the account's maximum send rate.

The arithmetic. SES refuses what goes over the account's `MaxSendRate` R (emails a second; SES v2
GetAccount `SendQuota`), or over a lower rate the operator sets (`TIDINGS_CAMPAIGN_SEND_RATE`). The
queue's event source mapping runs at most C instances of campaign_send at once (its maximum
concurrency, `TIDINGS_CAMPAIGN_SEND_CONCURRENCY`; the function's reserved concurrency is C + 1, the
extra one for the step triggers, which send nothing). Each instance starts its sends at least 1 / (R/C)
seconds apart, so over any second it sends at most R/C (rounded up by one at the second's edge), and C
instances at most R. An instance has a few sends under way at once (their SES calls overlap), each
taking the next slot before it starts, so one whose SES calls take longer than C/R seconds still
keeps the pace; the rate is a ceiling, never a target.

Example: R = 14 (SES's usual first production quota), C = 2: each instance sends one email every
1/7 s; 10,000 recipients take 10,000 / 14 = 714 s, about 12 minutes.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta

from tidings.core.clock import Clock


def instance_rate(account_rate: float, configured_rate: float, concurrency: int) -> float:
    """Emails a second one instance may send: the lower of the account's rate and the configured one
    (0: none configured), shared by `concurrency` instances. ValueError for a rate that is not above 0."""
    rate = min(account_rate, configured_rate) if configured_rate > 0 else account_rate
    if rate <= 0 or concurrency < 1:
        raise ValueError(f"no send rate: the account allows {account_rate}/s over {concurrency} instances")
    return rate / concurrency


class Pacer:
    """Spaces one instance's sends `1 / rate` seconds apart, on the clock it is given. Threads of one
    instance share it: each takes its own slot, one after the other."""

    def __init__(self, rate: float, clock: Clock) -> None:
        if rate <= 0:
            raise ValueError("the rate must be above 0 emails a second")
        # rounded up to the microsecond: a rounded-down interval would fit one send too many a second
        self.interval = timedelta(microseconds=math.ceil(1_000_000 / rate))
        self.clock = clock
        self._next: datetime | None = None
        self._lock = threading.Lock()

    def next_slot(self) -> datetime:
        """When the next send may start."""
        with self._lock:
            return self._slot()

    def _slot(self) -> datetime:
        now = self.clock.now()
        return now if self._next is None or self._next < now else self._next

    def wait(self, deadline: datetime | None = None) -> bool:
        """Take the next slot and wait for it; False, without waiting or taking it, when the slot is
        after `deadline`."""
        with self._lock:
            slot = self._slot()
            if deadline is not None and slot > deadline:
                return False
            self._next = slot + self.interval
        self.clock.sleep_until(slot)
        return True

    def hold(self, seconds: float) -> None:
        """No send before `seconds` from now (after SES throttled one: other senders share the rate)."""
        with self._lock:
            until = self.clock.now() + timedelta(seconds=seconds)
            if self._next is None or self._next < until:
                self._next = until
