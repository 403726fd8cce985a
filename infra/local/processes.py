"""Child processes of the local runtime: started in their own process group, stopped for good.

Every child runs in a new session (so a Ctrl-C in the terminal reaches only `tidings dev`, which
then stops its children in order) and, on Linux, asks the kernel to kill it if its parent dies,
so not even a `kill -9` of the parent leaves a DynamoDB Local or a moto server behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (for programs that cannot bind port 0 themselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class StartupError(RuntimeError):
    """A child did not become ready; the message carries the tail of its output."""


class ChildProcess:
    """A subprocess in its own process group whose output is collected line by line."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        echo: IO[str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._echo = echo
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._tail: list[str] = []
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            self.argv,
            env=self._env,
            cwd=self._cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # only prctl: takes no locks
        )
        self._reader = threading.Thread(target=self._read, name=f"{self.name}-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            line = raw.rstrip("\n")
            self._tail = [*self._tail[-39:], line]
            self._lines.put(line)
            if self._echo is not None:
                with contextlib.suppress(ValueError, OSError):
                    self._echo.write(f"[{self.name}] {line}\n")
        self._lines.put(None)

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float) -> str:
        """The first output line matching `predicate`; raises StartupError on exit or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StartupError(f"{self.name} did not start within {timeout:.0f}s:\n{self.output_tail()}")
            try:
                line = self._lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                raise StartupError(f"{self.name} exited during start-up:\n{self.output_tail()}")
            if predicate(line):
                return line

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def exit_description(self) -> str:
        """How the process ended: its exit code or the signal that killed it."""
        code = self._proc.poll() if self._proc is not None else None
        if code is None:
            return "still running" if self._proc is not None else "never started"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"

    def respawn(self, argv: Sequence[str] | None = None) -> None:
        """Start the program again (it exited, or is stopped first), with `argv` instead when given."""
        self.stop(grace_seconds=1.0)
        if argv is not None:
            self.argv = list(argv)
        self._lines = queue.Queue()
        self._tail = []
        self.start()

    def output_tail(self) -> str:
        return "\n".join(self._tail[-20:])

    def stop(self, grace_seconds: float = 5.0) -> None:
        """SIGTERM the whole process group, SIGKILL it after `grace_seconds`, and reap the child."""
        proc = self._proc
        if proc is None:
            return
        stop_process_group(proc.pid, grace_seconds, proc)
        if self._reader is not None:
            self._reader.join(timeout=2)
        if proc.stdout is not None:
            with contextlib.suppress(OSError):
                proc.stdout.close()


def stop_process_group(pid: int, grace_seconds: float, proc: subprocess.Popen[str] | None = None) -> None:
    """Stop the process group led by `pid` (a child started with start_new_session=True)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_seconds)
    while time.monotonic() < deadline and group_alive(pid):
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
