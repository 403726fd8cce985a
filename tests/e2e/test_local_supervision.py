"""A child of `tidings dev` that dies is restarted and the stack goes on: moto killed (it forgets its
schedules and executions) and DynamoDB Local killed (it comes back with its data); posts still go out,
once each. A child that cannot be restarted stops the stack with a non-zero exit naming it."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from e2e_support import eventually

from infra.local.processes import pid_alive

RunningDev = Any  # tests/e2e/conftest.py

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]


def _api(dev: RunningDev, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method, f"{dev.api_url}{path}", headers={"Authorization": f"Bearer {dev.token}"}, timeout=30, **kwargs
    )


def _schedule(dev: RunningDev, text: str, when: datetime, platforms: list[str]) -> str:
    body = {"content": text, "platforms": platforms, "scheduledTime": when.isoformat()}
    resp = _api(dev, "POST", "/posts", json=body)
    assert resp.status_code == 201, resp.text
    post_id: str = resp.json()["postId"]
    return post_id


def _post(dev: RunningDev, post_id: str) -> dict[str, Any]:
    resp = _api(dev, "GET", f"/posts/{post_id}")
    assert resp.status_code == 200, resp.text
    post: dict[str, Any] = resp.json()
    return post


def _published(dev: RunningDev, post_id: str) -> bool:
    return bool(_post(dev, post_id)["status"] == "published")


def _received(dev: RunningDev, text: str) -> list[str]:
    return sorted(
        r["platform"] for r in httpx.get(f"{dev.fake_url}/_received", timeout=10).json() if r["text"] == text
    )


def _lateness(post: dict[str, Any]) -> float:
    due = datetime.fromisoformat(post["scheduledTime"])
    last = max(datetime.fromisoformat(r["publishedAt"]) for r in post["results"])
    return (last - due).total_seconds()


def _said(dev: RunningDev, line: str, timeout: float) -> float:
    """When (monotonic) the stack printed `line`, waiting for it up to `timeout`."""
    eventually(lambda: line in dev.output, timeout, repr(line))
    return time.monotonic()


def _kill_group(pid: int) -> None:
    os.killpg(pid, signal.SIGKILL)


def test_moto_killed_is_restarted_and_the_posts_due_meanwhile_go_out_once(
    start_tidings_dev: Callable[..., RunningDev],
) -> None:
    dev = start_tidings_dev()
    # Given a post due in a minute (its execution waits in moto)
    later_text = f"after the outage {time.time()}"
    later = _schedule(dev, later_text, datetime.now(UTC) + timedelta(seconds=40), ["linkedin"])

    # When moto is killed, and a post falls due while it is down
    _kill_group(dev.pids()["moto"])
    killed = time.monotonic()
    during_text = f"during the outage {time.time()}"
    during = _schedule(dev, during_text, datetime.now(UTC) + timedelta(seconds=1), ["facebook", "twitter"])

    # Then the stack says so once and restarts it
    restarted = _said(dev, "moto restarted", 60)
    outage = restarted - killed
    assert dev.output.count("moto exited (killed by SIGKILL); restarting it") == 1
    assert dev.process.poll() is None
    # And both posts go out, once on each platform: the one due meanwhile right after the restart
    # (not at the sweeper's next pass), late by no more than the outage and the rebuild
    eventually(lambda: _published(dev, during) and _published(dev, later), 90, "both posts to go out")
    assert _lateness(_post(dev, during)) < outage + 10, (outage, _post(dev, during))
    time.sleep(2)
    assert _received(dev, during_text) == ["facebook", "twitter"]
    assert _received(dev, later_text) == ["linkedin"]
    assert dev.stop(signal.SIGINT) == 0


def test_dynamodb_local_killed_comes_back_with_its_data(start_tidings_dev: Callable[..., RunningDev]) -> None:
    dev = start_tidings_dev()
    before_text = f"scheduled before {time.time()}"
    before = _schedule(dev, before_text, datetime.now(UTC) + timedelta(seconds=30), ["linkedin"])

    # When DynamoDB Local is killed (a few seconds later: it writes its database file lazily, and what
    # it took in the last moment before a kill -9 may not be in it)
    time.sleep(5)
    _kill_group(dev.pids()["dynamodb-local"])

    # Then it is restarted with its data: the API answers again and the post is still there
    _said(dev, "DynamoDB Local restarted", 120)
    assert dev.output.count("DynamoDB Local exited (killed by SIGKILL); restarting it") == 1
    assert _post(dev, before)["status"] == "scheduled"
    after_text = f"scheduled after {time.time()}"
    after = _schedule(dev, after_text, datetime.now(UTC) + timedelta(seconds=5), ["facebook", "twitter"])
    # And both posts go out once on each platform
    eventually(lambda: _published(dev, before) and _published(dev, after), 90, "both posts to go out")
    time.sleep(2)
    assert _received(dev, before_text) == ["linkedin"]
    assert _received(dev, after_text) == ["facebook", "twitter"]
    # And the pollers' failures while it was down were each logged once, not once per poll
    failures = [line.split(" WARNING ", 1)[1] for line in dev.output if " WARNING infra.local." in line]
    assert len(failures) == len(set(failures)), failures
    assert dev.stop(signal.SIGINT) == 0


def test_a_child_that_cannot_be_restarted_stops_the_stack_naming_it(
    start_tidings_dev: Callable[..., RunningDev],
) -> None:
    dev = start_tidings_dev()
    others = {name: pid for name, pid in dev.pids().items() if name in ("moto", "dynamodb-local")}
    port = urlsplit(dev.fake_url).port
    assert port is not None

    # When the fake platforms die and something else takes their port, so they cannot come back
    _kill_group(dev.pids()["fake-platforms"])
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    eventually(lambda: _bound(squatter, port), 10, "the fake platforms' port to be free")
    squatter.listen()
    try:
        # Then the stack stops with a non-zero exit, saying which child and why
        assert dev.process.wait(timeout=120) == 1
    finally:
        squatter.close()
    assert dev.output.count("fake platforms exited (killed by SIGKILL); restarting it") == 1
    stopping = [line for line in dev.output if line.startswith("stopping: ")]
    assert stopping, dev.output[-20:]
    assert stopping[0].startswith("stopping: fake platforms could not be restarted (3 attempts within 60 s)")
    # And it stopped cleanly: no child left behind
    assert not any(pid_alive(pid) for pid in others.values())


def _bound(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


PEOPLE = ["ana@harbour.example", "ben@harbour.example", "cleo@harbour.example"]


def test_campaign_sends_whose_queue_moto_lost_go_out_once_after_it_restarts(
    start_tidings_dev: Callable[..., RunningDev],
) -> None:
    dev = start_tidings_dev()
    (line,) = [line for line in dev.output if line.startswith("emails: ")]
    emails = line[len("emails: ") :].strip()
    ses = emails.removesuffix("/_emails")

    def sent() -> list[str]:
        return sorted(e["to"][0] for e in httpx.get(emails, timeout=10).json()["emails"])

    # Given a campaign whose step fired and queued its sends, none of which SES takes yet (each try
    # answered 500: released, its message back on the queue after a back-off)
    assert httpx.post(f"{ses}/_faults", json={"kind": "error500"}, timeout=10).status_code < 300
    body = {
        "name": "Queued when moto died",
        "template": "custom",
        "emailCount": 1,
        "topic": "Open house this Sunday",
        "variables": {"agentName": "Sam Rivera"},
        "recipients": [{"email": e, "firstName": e.split("@")[0].title(), "timezone": "UTC"} for e in PEOPLE],
    }
    created = _api(dev, "POST", "/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaignId"]
    start = (datetime.now(UTC) + timedelta(seconds=80)).replace(second=0, microsecond=0)
    schedule = {
        "startDate": start.date().isoformat(),
        "sendTime": {"hour": start.hour, "minute": start.minute},
        "timezone": "UTC",
    }
    assert _api(dev, "POST", f"/campaigns/{campaign_id}/schedule", json=schedule).status_code == 200

    def status() -> str:
        return str(_api(dev, "GET", f"/campaigns/{campaign_id}").json()["status"])

    eventually(lambda: status() == "active", 150, "the campaign's step to fire")
    assert sent() == []

    # When moto, which holds the send queue, is killed before the messages were consumed, and SES
    # takes mail again
    _kill_group(dev.pids()["moto"])
    assert httpx.delete(f"{ses}/_faults", timeout=10).status_code < 300
    _said(dev, "moto restarted", 60)

    # Then the restart queues the unsent recipients again and each gets the email once
    rebuilt = [line for line in dev.output if "schedules rebuilt:" in line]
    assert "3 campaign sends requeued" in rebuilt[-1], rebuilt
    eventually(lambda: status() == "completed", 90, "the campaign to complete")
    assert sent() == PEOPLE
    sends = _api(dev, "GET", f"/campaigns/{campaign_id}/sends").json()["sends"]
    assert [s["status"] for s in sends] == ["sent"] * 3
    assert dev.stop(signal.SIGINT) == 0
