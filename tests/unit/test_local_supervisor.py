"""The local runtime's supervisor of its children, and its collapsing of repeated warnings: what the
terminal shows when a child exits, when the stack restarts it, and when it gives up."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from infra.local.repeats import RepeatedWarnings
from infra.local.supervisor import Supervisor


@dataclass
class FakeChild:
    alive: bool = True
    how: str = "killed by SIGKILL"

    def running(self) -> bool:
        return self.alive

    def exit_description(self) -> str:
        return self.how


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _supervised(restart_fails: bool = False) -> tuple[Supervisor, FakeChild, list[str], list[int], Clock]:
    said: list[str] = []
    restarts: list[int] = []
    child = FakeChild()
    clock = Clock()

    def restart() -> None:
        restarts.append(1)
        if restart_fails:
            raise RuntimeError("port 4566 is taken\nfull output")
        child.alive = True

    supervisor = Supervisor(said.append, max_restarts=3, window_seconds=60, clock=clock)
    supervisor.watch("moto", lambda: child, restart)
    return supervisor, child, said, restarts, clock


def test_a_running_child_is_left_alone() -> None:
    supervisor, _, said, restarts, _ = _supervised()
    assert supervisor.check() is None
    assert said == []
    assert restarts == []


def test_an_exited_child_is_announced_once_and_restarted() -> None:
    supervisor, child, said, restarts, _ = _supervised()
    child.alive = False
    assert supervisor.check() is None
    assert said == ["moto exited (killed by SIGKILL); restarting it", "moto restarted"]
    assert restarts == [1]
    assert supervisor.check() is None  # running again: nothing more
    assert len(said) == 2


def test_a_child_that_keeps_exiting_stops_the_stack_with_the_reason() -> None:
    supervisor, child, _, restarts, clock = _supervised()
    for second in (0, 10, 20):
        clock.now = second
        child.alive = False
        assert supervisor.check() is None
    clock.now = 30
    child.alive = False
    reason = supervisor.check()
    assert reason == "moto keeps failing: it exited 4 times within 60 s"
    assert len(restarts) == 3


def test_exits_spread_over_more_than_the_window_are_each_restarted() -> None:
    supervisor, child, _, restarts, clock = _supervised()
    for second in (0, 25, 50, 75, 100, 125):
        clock.now = second
        child.alive = False
        assert supervisor.check() is None
    assert len(restarts) == 6


def test_a_restart_that_fails_is_tried_again_then_given_up_naming_the_child_and_the_error() -> None:
    supervisor, child, said, restarts, clock = _supervised(restart_fails=True)
    child.alive = False
    results = []
    for second in range(4):
        clock.now = second
        results.append(supervisor.check())
    assert results[:3] == [None, None, None]
    assert results[3] is not None
    assert results[3].startswith("moto could not be restarted (3 attempts within 60 s): RuntimeError: port")
    assert len(restarts) == 3
    assert said[0] == "moto exited (killed by SIGKILL); restarting it"  # said once, not per attempt
    assert said.count("moto exited (killed by SIGKILL); restarting it") == 1
    assert said[1] == "moto could not be restarted: RuntimeError: port 4566 is taken"


class Records:
    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def __call__(self) -> list[str]:
        return self._caplog.messages


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Records:
    caplog.set_level(logging.WARNING, logger="test.repeats")
    return Records(caplog)


def test_a_repeated_warning_is_logged_once_then_counted_now_and_then(records: Records) -> None:
    clock = Clock()
    warnings = RepeatedWarnings(logging.getLogger("test.repeats"), every=30, clock=clock)
    for tick in range(100):  # ten a second for ten seconds
        clock.now = tick / 10
        warnings.warning("stream poller: EndpointConnectionError")
    assert records() == ["stream poller: EndpointConnectionError"]
    clock.now = 31
    warnings.warning("stream poller: EndpointConnectionError")
    assert records()[-1] == "stream poller: EndpointConnectionError (100 more times)"
    clock.now = 32
    warnings.warning("stream poller: EndpointConnectionError")
    warnings.clear()
    assert records()[-1] == "stream poller: EndpointConnectionError (1 more times)"
    assert len(records()) == 3


def test_a_different_warning_or_a_recovery_starts_afresh(records: Records) -> None:
    warnings = RepeatedWarnings(logging.getLogger("test.repeats"), every=30, clock=Clock())
    warnings.warning("a")
    warnings.warning("b")
    warnings.clear()
    warnings.warning("b")
    assert records() == ["a", "b", "b"]
