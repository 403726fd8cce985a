"""When a CRM activity whose delivery failed for a passing reason is tried again.

The first wait is `base_seconds` (60 s by default, `TIDINGS_CRM_RETRY_BASE_SECONDS`), doubling with
each attempt up to an hour, or as long as the CRM's `Retry-After` asked when that is longer. Retries
go on for `window` (7 days, `TIDINGS_CRM_RETRY_WINDOW_DAYS`) from the activity's creation (or from
the user's retry of a failed one); the last attempt is made at the window's end, and a transient
failure after that fails the activity with `retry_window_exceeded`.

With the defaults an activity is tried after 1, 2, 4, 8, 16, 32 and 60 minutes, then hourly: about
175 attempts over the 7 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tidings.models.crm import PendingActivity

MAX_WAIT_SECONDS = 3600.0


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 60.0
    window: timedelta = timedelta(days=7)
    max_wait_seconds: float = MAX_WAIT_SECONDS

    def wait(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """The wait after the `attempts`-th attempt failed (1 for the first)."""
        doubled = self.base_seconds * float(2 ** min(max(attempts - 1, 0), 30))
        seconds = min(doubled, self.max_wait_seconds)
        if retry_after is not None:
            seconds = max(seconds, retry_after)
        return timedelta(seconds=seconds)

    def deadline(self, activity: PendingActivity) -> datetime:
        return activity.window_start + self.window

    def next_attempt(
        self, activity: PendingActivity, now: datetime, retry_after: float | None = None
    ) -> datetime | None:
        """When to try `activity` again after the attempt that just failed, or None when its retry
        window is over (the activity fails)."""
        deadline = self.deadline(activity)
        if now >= deadline:
            return None
        return min(now + self.wait(activity.attempts + 1, retry_after), deadline)
