"""Start `tidings dev` as a subprocess, as a user would, and stop it with no process left behind.

Fixture `start_tidings_dev` (module-scoped factory): `start_tidings_dev(env=None, args=None,
state_dir=None)` runs `tidings dev --port 0 --state-dir <a new tmp dir, or state_dir> [args]` with
os.environ plus `env`, waits for its `ready` line, and returns a `RunningDev` with the printed URLs
(`api_url`, `docs_url`, `fake_url`), the sample user's `token`, the `curl` line, the output so far,
and the pids of the stack (`pids()`, from stack.json). `RunningDev.stop()` sends SIGINT (Ctrl-C) and
waits; at the end of the module every stack still running is stopped, and any process of it still
alive is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import expect

# A view fed by the stack's stream (a comment analysed, a post published) can take longer than
# Playwright's default 5 s to show while other test files run beside this one (make test runs
# several workers): wait up to 20 s before an expectation fails.
expect.set_options(timeout=20_000)

ROOT = Path(__file__).resolve().parents[2]
TIDINGS = str(Path(sys.executable).with_name("tidings"))
START_TIMEOUT = 240.0
STOP_TIMEOUT = 90.0


class DevStartError(RuntimeError):
    pass


@dataclass
class RunningDev:
    process: subprocess.Popen[str]
    state_dir: Path
    output: list[str] = field(default_factory=list)
    api_url: str = ""
    docs_url: str = ""
    fake_url: str = ""
    token: str = ""
    curl: str = ""
    _pids: dict[str, int] = field(default_factory=dict)

    def pids(self) -> dict[str, int]:
        """The stack's processes (tidings dev and its children), as written in stack.json."""
        if not self._pids:
            data = json.loads((self.state_dir / "stack.json").read_text())
            self._pids = {name: pid for name, pid in data["pids"].items() if isinstance(pid, int)}
        return dict(self._pids)

    def stop(self, sig: int = signal.SIGINT, timeout: float = STOP_TIMEOUT) -> int:
        """Send `sig` (Ctrl-C by default) and wait for `tidings dev` to exit; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """Last resort: kill `tidings dev` and whatever of its stack is still alive."""
        pids = dict(self._pids)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def _launch(state_dir: Path, env: dict[str, str] | None, args: list[str] | None) -> RunningDev:
    process = subprocess.Popen(
        [TIDINGS, "dev", "--port", "0", "--state-dir", str(state_dir), *(args or [])],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: a fallback kill reaches all of it
    )
    dev = RunningDev(process, state_dir)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            dev.output.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, name="tidings-dev-output", daemon=True).start()
    prefixes = {"API: ": "api_url", "API docs: ": "docs_url", "fake platforms: ": "fake_url"}
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            tail = "\n".join(dev.output[-40:])
            dev.kill()
            raise DevStartError(f"tidings dev did not print `ready`:\n{tail}")
        for prefix, attribute in prefixes.items():
            if line.startswith(prefix):
                setattr(dev, attribute, line[len(prefix) :].strip())
        if line.startswith("token (demo-agent): "):
            dev.token = line.split(": ", 1)[1].strip()
        if line.startswith("curl "):
            dev.curl = line
        if line == "ready":
            dev.pids()
            return dev


@pytest.fixture(scope="module")
def start_tidings_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RunningDev]]:
    started: list[RunningDev] = []

    def start(
        env: dict[str, str] | None = None, args: list[str] | None = None, state_dir: Path | None = None
    ) -> RunningDev:
        dev = _launch(state_dir or tmp_path_factory.mktemp("tidings-dev"), env, args)
        started.append(dev)
        return dev

    yield start
    for dev in started:
        try:
            dev.stop()
        except subprocess.TimeoutExpired:
            pass
        finally:
            dev.kill()
