"""One CRM call with its in-call retries: a transient failure (no answer, a 5xx, a 429) is tried again
after 1, 2 and 4 seconds (`max_retries` 3 by default, from the settings), or after the `Retry-After`
the CRM asked for when that is longer (capped, so one call never waits past `max_wait_seconds`).

Vendors' guidance is the same: HubSpot ("API usage guidelines": back off on 429 and honour
Retry-After), Follow Up Boss ("Rate Limiting": 429 with Retry-After in seconds; "Error Responses":
retry 5xx with backoff), Salesforce ("REST API Developer Guide", "Status Codes and Error
Responses": 503 when the server is unavailable, retry later).

Waiting goes through the clock (`Clock.sleep_until`), so tests move a FakeClock instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from tidings.core.clock import Clock
from tidings.integrations.connectors.base import ConnectorError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3  # retries after the first try: 3 means waits of 1, 2 and 4 seconds
    base_delay_seconds: float = 1.0
    max_wait_seconds: float = 30.0  # the longest single wait, whatever Retry-After says
    # No retry starts past this many seconds from the first try (None: no limit); a caller that must
    # answer within API Gateway's 30 s gives up in time and says the CRM is unavailable.
    budget_seconds: float | None = None

    def delay(self, retry: int, error: ConnectorError) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry) after `error`."""
        backoff = self.base_delay_seconds * float(2**retry)
        asked = error.retry_after if error.retry_after is not None else 0.0
        return min(max(backoff, asked), self.max_wait_seconds)


def call_with_retries(
    call: Callable[[ConnectorError | None], T],
    policy: RetryPolicy,
    clock: Clock,
    *,
    on_retry: Callable[[int, ConnectorError, float], None] | None = None,
) -> T:
    """`call(previous_error)` until it succeeds, a non-retryable error, or `policy.max_retries`
    retries; the last error is raised. `call` gets the error of the try before (None on the first),
    so a write whose outcome was unknown can reconcile before writing again. `on_retry(retry, error,
    seconds)` hears each wait (for logs and metrics)."""
    previous: ConnectorError | None = None
    retry = 0
    started = clock.now()
    while True:
        try:
            return call(previous)
        except ConnectorError as exc:
            if not exc.retryable or retry >= policy.max_retries:
                raise
            seconds = policy.delay(retry, exc)
            if policy.budget_seconds is not None:
                spent = (clock.now() - started).total_seconds()
                if spent + seconds >= policy.budget_seconds:
                    raise
            if on_retry is not None:
                on_retry(retry, exc, seconds)
            clock.sleep_until(clock.now() + timedelta(seconds=seconds))
            previous = exc
            retry += 1
