"""Keeps the children of `tidings dev` running: one that exits is restarted, and one that keeps failing
stops the stack with the reason.

`tidings dev` calls `Supervisor.check()` once a second. A child found exited is announced once
(`<name> exited (<how>); restarting it`) and restarted by its own `restart` (which also puts back
what the rest of the stack needs from it: DynamoDB Local on the same port and database, moto on the
same port with the stack provisioned again and the schedules rebuilt, the fake platforms on the same
port with the connected accounts). A restart that fails is tried again on the next check. A child
that exited, or could not be restarted, `max_restarts` times within `window_seconds` is given up:
`check()` returns the reason, and the stack stops with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

MAX_RESTARTS = 3
WINDOW_SECONDS = 60.0


class Child(Protocol):
    def running(self) -> bool: ...

    def exit_description(self) -> str: ...


@dataclass
class _Watched:
    name: str
    child: Callable[[], Child | None]
    restart: Callable[[], None]
    restarts: list[float] = field(default_factory=list)
    last_error: str = ""


class Supervisor:
    def __init__(
        self,
        say: Callable[[str], None],
        *,
        max_restarts: int = MAX_RESTARTS,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._say = say
        self.max_restarts = max_restarts
        self.window_seconds = window_seconds
        self._clock = clock
        self._watched: list[_Watched] = []

    def watch(self, name: str, child: Callable[[], Child | None], restart: Callable[[], None]) -> None:
        """Supervise the process `child()` returns (None: not running) with `restart` to bring it back."""
        self._watched.append(_Watched(name, child, restart))

    def check(self) -> str | None:
        """Restart every watched child that is not running; the reason to stop the stack when one
        keeps failing, else None."""
        for watched in self._watched:
            child = watched.child()
            if child is not None and child.running():
                continue
            now = self._clock()
            watched.restarts = [t for t in watched.restarts if now - t < self.window_seconds]
            if len(watched.restarts) >= self.max_restarts:
                return self._give_up(watched)
            if not watched.last_error:  # once per outage, however many attempts it takes
                how = child.exit_description() if child is not None else "not running"
                self._say(f"{watched.name} exited ({how}); restarting it")
            watched.restarts.append(now)
            try:
                watched.restart()
            except Exception as exc:
                watched.last_error = f"{type(exc).__name__}: {exc}".strip()
                self._say(f"{watched.name} could not be restarted: {watched.last_error.splitlines()[0]}")
                continue
            watched.last_error = ""
            self._say(f"{watched.name} restarted")
        return None

    def _give_up(self, watched: _Watched) -> str:
        window = f"{self.window_seconds:g} s"
        if watched.last_error:
            return (
                f"{watched.name} could not be restarted ({self.max_restarts} attempts within {window}): "
                f"{watched.last_error}"
            )
        return f"{watched.name} keeps failing: it exited {self.max_restarts + 1} times within {window}"
