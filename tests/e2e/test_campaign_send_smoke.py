"""Smoke test of campaign sending under `tidings dev`: a campaign created and scheduled through the API
goes out on its own (the step's schedule fires campaign_send, which fills the queue, which the queue
poller drains into SES) and every email shows at the printed `emails: <URL>`, each once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

# `RunningDev` comes from tests/e2e/conftest.py (fixture `start_tidings_dev`).
RunningDev = Any

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PEOPLE = ["ana@harbour.example", "ben@harbour.example", "cleo@harbour.example"]


def _emails_url(dev: RunningDev) -> str:
    (line,) = [line for line in dev.output if line.startswith("emails: ")]
    return line[len("emails: ") :].strip()


def _sent(url: str) -> list[dict[str, Any]]:
    emails: list[dict[str, Any]] = httpx.get(url, timeout=10).json()["emails"]
    return emails


def test_a_scheduled_campaign_goes_out_through_the_local_stack_once_per_recipient_and_email(
    start_tidings_dev: Callable[..., RunningDev],
) -> None:
    dev = start_tidings_dev()
    emails = _emails_url(dev)
    assert emails.startswith("http://127.0.0.1:")
    assert _sent(emails) == []
    api = httpx.Client(base_url=dev.api_url, headers={"Authorization": f"Bearer {dev.token}"}, timeout=30)

    created = api.post(
        "/campaigns",
        json={
            "name": "Smoke: two quick emails",
            "template": "custom",
            "emailCount": 2,
            "delayDays": 5,
            "delayUnit": "seconds",  # allowed under tidings dev
            "topic": "Open house this Sunday",
            "variables": {"agentName": "Sam Rivera"},
            "recipients": [
                {"email": e, "firstName": e.split("@")[0].title(), "timezone": "UTC"} for e in PEOPLE
            ],
        },
    )
    assert created.status_code == 201, created.text
    campaign = created.json()
    # the first email at the next whole minute with at least 20 s to spare (sendTime has no seconds)
    start = (datetime.now(UTC) + timedelta(seconds=80)).replace(second=0, microsecond=0)
    scheduled = api.post(
        f"/campaigns/{campaign['campaignId']}/schedule",
        json={
            "startDate": start.date().isoformat(),
            "sendTime": {"hour": start.hour, "minute": start.minute},
            "timezone": "UTC",
        },
    )
    assert scheduled.status_code == 200, scheduled.text

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(_sent(emails)) < 2 * len(PEOPLE):
        time.sleep(1)

    went = _sent(emails)
    per_recipient = Counter(e["to"][0] for e in went)
    assert per_recipient == dict.fromkeys(PEOPLE, 2)
    assert len({e["subject"] for e in went}) == 2  # two different emails, each to everybody once
    for email in went:
        assert email["headers"]["List-Unsubscribe"].startswith(f"<{dev.api_url}/unsubscribe/")
        assert email["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert email["text"]
        assert email["html"]
    sends = api.get(f"/campaigns/{campaign['campaignId']}/sends").json()
    assert {s["status"] for s in sends["sends"]} == {"sent"}
    deadline = time.monotonic() + 30
    while (
        time.monotonic() < deadline
        and api.get(f"/campaigns/{campaign['campaignId']}").json()["status"] != "completed"
    ):
        time.sleep(0.5)
    assert api.get(f"/campaigns/{campaign['campaignId']}").json()["status"] == "completed"
