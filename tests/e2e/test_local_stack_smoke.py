"""Smoke test of the local runtime: `tidings dev` starts, says where everything is, serves the API
with its JWT check, `tidings token` and `tidings invoke` work against it, and Ctrl-C leaves nothing
behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

# `RunningDev` comes from tests/e2e/conftest.py (fixture `start_tidings_dev`).
RunningDev = Any
ROOT = Path(__file__).resolve().parents[2]
TIDINGS = str(Path(sys.executable).with_name("tidings"))

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _gone(pids: list[int], timeout: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


def _tidings(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TIDINGS, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def dev(start_tidings_dev: Callable[..., RunningDev]) -> RunningDev:
    return start_tidings_dev()


def test_tidings_dev_prints_where_everything_is(dev: RunningDev) -> None:
    assert dev.api_url.startswith("http://127.0.0.1:")
    assert dev.docs_url == f"{dev.api_url}/docs"
    assert dev.fake_url.startswith("http://127.0.0.1:")
    assert dev.token.count(".") == 2
    assert dev.curl.startswith(f"curl -sS -X POST {dev.api_url}/posts")
    assert dev.output.index("ready") > dev.output.index(dev.curl)
    assert set(dev.pids()) == {"tidings", "dynamodb-local", "moto", "fake-platforms"}


def test_docs_are_public_and_the_posts_need_a_token(dev: RunningDev) -> None:
    assert httpx.get(dev.docs_url, timeout=30).status_code == 200
    assert httpx.get(f"{dev.api_url}/posts", timeout=30).status_code == 401
    bearer = {"Authorization": f"Bearer {dev.token}"}
    assert httpx.get(f"{dev.api_url}/posts", headers=bearer, timeout=30).status_code == 200
    assert httpx.get(f"{dev.fake_url}/_received", timeout=30).status_code == 200


def test_the_printed_curl_command_schedules_a_post(dev: RunningDev) -> None:
    result = subprocess.run(["bash", "-c", dev.curl], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    post = json.loads(result.stdout)
    assert post["status"] == "scheduled"
    assert post["platforms"] == ["facebook", "twitter"]
    bearer = {"Authorization": f"Bearer {dev.token}"}
    stored = httpx.get(f"{dev.api_url}/posts/{post['postId']}", headers=bearer, timeout=30)
    assert stored.status_code == 200


def test_tidings_token_prints_a_token_the_api_accepts(dev: RunningDev) -> None:
    result = _tidings("token", "someone-else", "--ttl", "120", "--state-dir", str(dev.state_dir))

    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    resp = httpx.get(f"{dev.api_url}/posts", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert resp.status_code == 200
    assert resp.json()["posts"] == []  # another user: none of demo-agent's posts


def test_tidings_connect_connects_a_user_on_every_platform(dev: RunningDev) -> None:
    result = _tidings("connect", "new-agent", "--state-dir", str(dev.state_dir))

    assert result.returncode == 0, result.stderr
    platforms = [line.split(":", 1)[0] for line in result.stdout.splitlines()]
    assert sorted(platforms) == ["facebook", "instagram", "linkedin", "tiktok", "twitter", "youtube"]


def test_tidings_invoke_runs_one_handler_against_the_running_stack(dev: RunningDev, tmp_path: Path) -> None:
    event = json.loads((ROOT / "events" / "http_api" / "openapi_document.json").read_text())
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(event))

    result = _tidings("invoke", "http_api", str(event_file), "--state-dir", str(dev.state_dir))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["statusCode"] == 200


def test_tidings_invoke_says_what_is_wrong(dev: RunningDev, tmp_path: Path) -> None:
    event_file = tmp_path / "event.json"
    event_file.write_text("{}")

    unknown = _tidings("invoke", "no_such_function", str(event_file), "--state-dir", str(dev.state_dir))
    no_stack = _tidings("invoke", "sweeper", str(event_file), "--state-dir", str(tmp_path / "nothing"))

    assert unknown.returncode == 1
    assert "unknown function 'no_such_function'" in unknown.stderr
    assert "http_api" in unknown.stderr
    assert no_stack.returncode == 1
    assert "no local stack is running" in no_stack.stderr


def _marked(marker: str) -> list[int]:
    """Live processes whose environment carries `marker` (children inherit it from tidings dev)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"TIDINGS_SMOKE_MARKER={marker}".encode() in environ.split(b"\0") and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def _wait_unmarked(marker: str, timeout: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _marked(marker):
        time.sleep(0.1)
    return _marked(marker)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_leaves_no_process_behind(start_tidings_dev: Callable[..., RunningDev], sig: int) -> None:
    # Given a running stack and its processes
    marker = uuid.uuid4().hex
    dev = start_tidings_dev(env={"TIDINGS_SMOKE_MARKER": marker})
    pids = list(dev.pids().values())
    assert all(_alive(pid) for pid in pids)
    assert set(pids) <= set(_marked(marker))

    # When the user presses Ctrl-C (or the stack is sent SIGTERM)
    code = dev.stop(sig)

    # Then it exits cleanly, and not one of its processes is left
    assert code == 0
    assert _gone(pids) == []
    assert _wait_unmarked(marker) == []
    assert not (dev.state_dir / "stack.json").exists()


def test_a_failed_start_says_why_and_leaves_no_process_behind(tmp_path: Path) -> None:
    # Given the API port already taken
    marker = uuid.uuid4().hex
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        # When tidings dev starts on it (after its other processes are up)
        result = subprocess.run(
            [TIDINGS, "dev", "--port", str(port), "--state-dir", str(tmp_path)],
            cwd=ROOT,
            env={**os.environ, "TIDINGS_SMOKE_MARKER": marker},
            capture_output=True,
            text=True,
            timeout=300,
        )

    # Then it fails with the reason and a way out, and stops what it had started
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr
    assert "--port 0" in result.stderr
    assert _wait_unmarked(marker) == []


def test_bad_sandbox_faults_are_refused_before_anything_starts(tmp_path: Path) -> None:
    result = _tidings(
        "dev", "--port", "0", "--state-dir", str(tmp_path), "--sandbox-faults", "facebook:melt:2"
    )

    assert result.returncode == 1
    assert "--sandbox-faults" in result.stderr
