"""The fake vendor server run alone, as `python -m infra.local.fakes.vendors`: it prints its URL,
serves the vendors' APIs and its own endpoints, and exits cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def test_as_a_process_it_prints_its_url_serves_and_exits_on_sigterm() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.fakes.vendors", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("fake vendors: http://127.0.0.1:")
        url = line.removeprefix("fake vendors: ")
        seeded = httpx.post(
            f"{url}/_vendors/accounts", json={"provider": "hubspot", "token": "t"}, timeout=10
        )
        assert seeded.status_code == 201
        details = httpx.get(
            f"{url}/hubspot/account-info/v3/details", headers={"Authorization": "Bearer t"}, timeout=10
        )
        assert details.json()["portalId"] == int(seeded.json()["portalId"])

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
