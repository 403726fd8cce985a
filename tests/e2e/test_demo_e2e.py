"""`tidings dev --demo` as `make dev ARGS=--demo` runs it: its sample posts are published, then its
short campaign (three emails 5 s apart to three sample recipients) is planned, sent and completed, each
step printed, and the local SES front holds each email once per recipient."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from infra.local.demo import CAMPAIGN_DELAY_SECONDS, CAMPAIGN_RECIPIENTS

# `RunningDev` comes from tests/e2e/conftest.py (fixture `start_tidings_dev`).
RunningDev = Any

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

FINISHED = re.compile(r"demo: campaign (\S+) (completed|failed|cancelled): ")
SENT = re.compile(r"demo: campaign email (\d) sent to (\S+) at ")
PEOPLE = {email for email, _ in CAMPAIGN_RECIPIENTS}


def _demo_lines(dev: RunningDev, timeout: float) -> list[str]:
    """The demo's lines once its campaign finished (or the timeout passed, or the demo stopped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in list(dev.output) if line.startswith("demo: ")]
        if any(FINISHED.match(line) or "demo: stopped" in line for line in lines):
            return lines
        time.sleep(1)
    return [line for line in list(dev.output) if line.startswith("demo: ")]


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_the_demo_publishes_its_posts_then_sends_its_campaign_once_per_recipient_and_email(
    start_tidings_dev: Callable[..., RunningDev],
) -> None:
    dev = start_tidings_dev(args=["--demo"])
    (emails_line,) = [line for line in dev.output if line.startswith("emails: ")]
    emails_url = emails_line[len("emails: ") :].strip()

    lines = _demo_lines(dev, timeout=420)

    printed = "\n".join(lines)
    assert not [line for line in lines if "stopped" in line or "could not" in line], printed
    # the posts, as before
    assert any("demo: done: the fake platforms received 6 of 6 publishes" in line for line in lines), printed
    # the campaign: each email planned for everybody, each sent to everybody once, then its outcome
    planned = [line for line in lines if re.match(r"demo: campaign email \d planned for ", line)]
    assert len(planned) == 3, printed
    assert all(f"to {', '.join(sorted(PEOPLE))}" in line for line in planned), printed
    sent = Counter(m.groups() for line in lines if (m := SENT.match(line)))
    assert sent == {(str(n), email): 1 for n in (1, 2, 3) for email in PEOPLE}, printed
    (finished,) = [m for line in lines if (m := FINISHED.match(line))]
    campaign_id, status = finished.groups()
    assert status == "completed"
    assert (
        f"completed: 9 sent (email 1: 3, email 2: 3, email 3: 3), 0 skipped, 0 failed; "
        f"the SES front recorded 9 of 9 (see {emails_url})" in lines[-1]
    )

    # what the SES front holds: each email once per recipient
    went = [
        e
        for e in httpx.get(emails_url, timeout=10).json()["emails"]
        if e["tags"].get("tidings_campaign") == campaign_id
    ]
    assert Counter((e["to"][0], e["tags"]["tidings_email"]) for e in went) == {
        (email, str(n)): 1 for n in (1, 2, 3) for email in PEOPLE
    }
    # and each went out at its planned time, the emails CAMPAIGN_DELAY_SECONDS apart
    api = httpx.Client(base_url=dev.api_url, headers={"Authorization": f"Bearer {dev.token}"}, timeout=30)
    sends = api.get(f"/campaigns/{campaign_id}/sends", params={"limit": 100}).json()["sends"]
    assert {s["status"] for s in sends} == {"sent"}
    due = {s["n"]: _when(s["sendAt"]) for s in sends}
    assert [(due[n + 1] - due[n]).total_seconds() for n in (1, 2)] == [CAMPAIGN_DELAY_SECONDS] * 2
    for s in sends:
        late = (_when(s["sentAt"]) - _when(s["sendAt"])).total_seconds()
        assert 0 <= late < 10, s
