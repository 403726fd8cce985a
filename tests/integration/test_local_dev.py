"""Pieces of `tidings dev` that run without the whole stack."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

from infra.local.cli import curl_command
from infra.local.dev import fake_client_env
from infra.local.fakes.platforms import FakePlatformServer


def test_the_fake_platforms_in_their_own_process_get_the_same_client_settings() -> None:
    # The dev process computes the clients' API bases from the fake's URL; they must match the
    # fake's own view of them.
    with FakePlatformServer() as server:
        assert fake_client_env(server.url) == server.client_env()


def test_the_curl_command_sends_json_due_a_minute_after_it_is_run() -> None:
    # Given the printed command, with curl swapped for something that prints its arguments
    command = curl_command("http://127.0.0.1:3000", "a.b.c").replace("curl ", "printf '%s\\n' ", 1)

    # When a shell runs it
    args = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True).stdout

    # Then the body is JSON with a real UTC time in it
    lines = args.splitlines()
    body = json.loads(lines[lines.index("-d") + 1])
    due = datetime.fromisoformat(body["scheduledTime"].replace("Z", "+00:00"))
    assert 30 < (due - datetime.now(UTC)).total_seconds() <= 61
    assert "Authorization: Bearer a.b.c" in lines
