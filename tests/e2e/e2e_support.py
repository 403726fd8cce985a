"""Start `tidings dev` as a subprocess and talk to it as a client would (used by e2e tests and the
benchmarks)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import httpx

ROOT = Path(__file__).resolve().parents[2]
TIDINGS = str(Path(sys.executable).with_name("tidings"))


@dataclass
class DevStack:
    api_url: str
    fake_url: str
    demo_token: str
    state_dir: Path
    process: subprocess.Popen[str]
    queue_limit: int = 100
    output: list[str] = field(default_factory=list)

    # -- users --------------------------------------------------------------------------------------

    def token(self, user_id: str) -> str:
        out = subprocess.run(
            [TIDINGS, "token", user_id, "--state-dir", str(self.state_dir)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip().splitlines()[-1]

    def connect(self, user_id: str) -> None:
        subprocess.run(
            [TIDINGS, "connect", user_id, "--state-dir", str(self.state_dir)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )

    def connected_user(self) -> tuple[str, str]:
        """A fresh user with every platform connected on the fake, and a token for it."""
        user = f"agent-{uuid.uuid4().hex[:8]}"
        self.connect(user)
        return user, self.token(user)

    # -- HTTP ---------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, token: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.request(method, f"{self.api_url}{path}", json=body, headers=headers, timeout=60)

    def get(self, path: str, token: str) -> httpx.Response:
        return self._call("GET", path, token)

    def post(self, path: str, token: str, body: Any) -> httpx.Response:
        return self._call("POST", path, token, body)

    def patch(self, path: str, token: str, body: Any) -> httpx.Response:
        return self._call("PATCH", path, token, body)

    def put(self, path: str, token: str, body: Any) -> httpx.Response:
        return self._call("PUT", path, token, body)

    def delete(self, path: str, token: str) -> httpx.Response:
        return self._call("DELETE", path, token)

    def stack_info(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.state_dir / "stack.json").read_text())
        return data

    def aws_client(self, service: str) -> Any:
        """A boto3 client of the stack's `service`: DynamoDB Local for dynamodb, moto for the others."""
        urls = self.stack_info()["urls"]
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=urls["dynamodb" if service == "dynamodb" else "moto"],
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


_LINES = {"API: ": "api", "fake platforms: ": "fake", "token (demo-agent): ": "token"}


def eventually(check: Callable[[], Any], timeout: float, what: str = "the condition") -> Any:
    """The first truthy answer of `check`, asked every quarter second; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def launch(
    state_dir: Path, env: dict[str, str] | None = None, args: list[str] | None = None
) -> Iterator[DevStack]:
    """Run `tidings dev --port 0` until the block ends; stop it with SIGINT and wait for it."""
    proc = subprocess.Popen(
        [TIDINGS, "dev", "--port", "0", "--state-dir", str(state_dir), *(args or [])],
        cwd=ROOT,
        # The per-user request throttle is off unless a test sets it: the suites send requests
        # faster than a person would, and the throttle has tests of its own.
        env={**os.environ, "TIDINGS_API_RATE_PER_SECOND": "0", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    found: dict[str, str] = {}
    output: list[str] = []
    deadline = time.monotonic() + 180
    for raw in proc.stdout:
        line = raw.rstrip("\n")
        output.append(line)
        for prefix, key in _LINES.items():
            if line.startswith(prefix):
                found[key] = line[len(prefix) :].strip()
        if line.strip() == "ready" or time.monotonic() > deadline:
            break
    if set(found) != set(_LINES.values()):
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        raise RuntimeError("tidings dev did not start:\n" + "\n".join(output[-40:]))

    def drain() -> None:  # keep reading so the stack never blocks on a full pipe
        assert proc.stdout is not None
        for raw in proc.stdout:
            output.append(raw.rstrip("\n"))

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    limit = int((env or {}).get("TIDINGS_MAX_QUEUE_PER_PLATFORM", "100"))
    stack = DevStack(found["api"], found["fake"], found["token"], state_dir, proc, limit, output)
    try:
        yield stack
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Receiver:
    """A local webhook receiver: answers from a script (then 200), records bodies, headers and arrival
    times."""

    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.arrivals: list[float] = []
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.bodies.append(self.rfile.read(int(self.headers.get("content-length", 0))))
                receiver.headers.append(dict(self.headers))
                receiver.arrivals.append(time.monotonic())
                status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
