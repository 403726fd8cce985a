"""The infra tier: one synth of the real stack per session, shared by every test.

The stack is built exactly as `cdk synth` builds it (infra.stack.build, with cdk.json's feature
flags), into a temporary cloud assembly; its wall time is printed in the test summary.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from synthesis import Synth, synthesise

_SYNTH_SECONDS = pytest.StashKey[float]()


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Synth:
    started = time.perf_counter()
    result = synthesise(tmp_path_factory.mktemp("cdk.out"))
    request.config.stash[_SYNTH_SECONDS] = time.perf_counter() - started
    return result


@pytest.fixture(scope="session")
def template(synth: Synth) -> dict[str, Any]:
    return synth.json


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    seconds = config.stash.get(_SYNTH_SECONDS, None)
    if seconds is not None:
        terminalreporter.write_line(f"infra: stack synthesised once in {seconds:.1f} s")
