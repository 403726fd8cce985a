"""One warning for a failure that repeats: while a component of the local stack is down, every poll of
every poller fails the same way, once or ten times a second; the terminal gets the warning once, then
a count now and then, and a line when it stops."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

DEFAULT_EVERY_SECONDS = 30.0


class RepeatedWarnings:
    """Logs a warning the first time it comes; while the same warning keeps coming, its count every
    `every` seconds instead of each one; a different warning, or `clear()` (the call that failed
    works again), ends the run with the count of the repeats not yet reported."""

    def __init__(
        self,
        logger: logging.Logger,
        every: float = DEFAULT_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self.every = every
        self._clock = clock
        self._lock = threading.Lock()
        self._message: str | None = None
        self._unreported = 0
        self._reported_at = 0.0

    def warning(self, message: str) -> None:
        with self._lock:
            now = self._clock()
            if message != self._message:
                self._end_run()
                self._message, self._unreported, self._reported_at = message, 0, now
                self._log.warning("%s", message)
                return
            self._unreported += 1
            if now - self._reported_at >= self.every:
                self._log.warning("%s (%d more times)", message, self._unreported)
                self._unreported, self._reported_at = 0, now

    def clear(self) -> None:
        """The failing call works again."""
        if self._message is None:  # the common case, on every successful poll: no lock taken
            return
        with self._lock:
            self._end_run()
            self._message = None

    def _end_run(self) -> None:
        if self._message is not None and self._unreported:
            self._log.warning("%s (%d more times)", self._message, self._unreported)
        self._unreported = 0
