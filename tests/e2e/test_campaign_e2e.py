"""End to end on the local stack: a 3-email campaign (delays shrunk to seconds) to recipients in three
time zones, sent while SES throttles some sends and loses the answer of one after taking the message
(the local SES front's faults, on chosen recipients, plus a background rate of throttling). Each email
arrives at the recipient's local send time, never before; one recipient unsubscribes through the link
of the first email and gets nothing more; everybody else gets each email exactly once. A fourth
recipient, in a zone whose send time is hours away, is planned at that zone's local time and receives
nothing during the test."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

RunningDev = Any  # tests/e2e/conftest.py

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

# Three zones that keep UTC's offset all year (so their send time comes within the test whatever the
# date), and one that is hours away.
NEAR = {
    "ana@harbour.example": "Africa/Abidjan",
    "ben@harbour.example": "Atlantic/Reykjavik",
    "cleo@harbour.example": "Africa/Dakar",
}
FAR = ("dev@harbour.example", "America/New_York")  # west of UTC: the same wall time comes hours later
QUITTER = "ben@harbour.example"
DELAY = 25  # seconds between emails


def _emails_url(dev: RunningDev) -> str:
    (line,) = [line for line in dev.output if line.startswith("emails: ")]
    return line[len("emails: ") :].strip()


def _sent(url: str) -> list[dict[str, Any]]:
    emails: list[dict[str, Any]] = httpx.get(url, timeout=10).json()["emails"]
    return emails


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def _all_sends(api: httpx.Client, campaign_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/campaigns/{campaign_id}/sends", params=params).json()
        found += page["sends"]
        cursor = page.get("nextCursor")
        if not cursor:
            return found


def test_a_drip_campaign_arrives_at_local_time_once_each_and_stops_for_who_unsubscribes(
    start_tidings_dev: Callable[..., RunningDev],
) -> None:
    dev = start_tidings_dev(args=["--sandbox-faults", "ses:rate_limit:0.2"])
    emails = _emails_url(dev)
    api = httpx.Client(base_url=dev.api_url, headers={"Authorization": f"Bearer {dev.token}"}, timeout=30)
    people = [*NEAR.items(), FAR]
    created = api.post(
        "/campaigns",
        json={
            "name": "Harbour Point: three notes",
            "template": "custom",
            "emailCount": 3,
            "delayDays": DELAY,
            "delayUnit": "seconds",  # allowed under tidings dev
            "topic": "Homes near Harbour Point for {{ firstName }}",
            "variables": {"agentName": "Sam Rivera"},
            "recipients": [
                {"email": email, "firstName": email.split("@")[0].title(), "timezone": zone}
                for email, zone in people
            ],
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaignId"]
    start = (datetime.now(UTC) + timedelta(seconds=80)).replace(second=0, microsecond=0)
    scheduled = api.post(
        f"/campaigns/{campaign_id}/schedule",
        json={
            "startDate": start.date().isoformat(),
            "sendTime": {"hour": start.hour, "minute": start.minute},
            "timezone": "UTC",
            "recipientLocalTime": True,
        },
    )
    assert scheduled.status_code == 200, scheduled.text
    front = emails.rsplit("/_emails", 1)[0]
    faults = [
        {"kind": "lost_response", "count": 1, "to": "ana@harbour.example"},  # SES took it, answer lost
        {"kind": "throttle", "count": 2, "to": "cleo@harbour.example"},  # 429 TooManyRequests twice
    ]
    for fault in faults:
        assert httpx.post(f"{front}/_faults", json=fault, timeout=10).status_code == 200

    planned = {(s["email"], s["n"]): s for s in _all_sends(api, campaign_id)}
    far_email, far_zone = FAR
    far_first = _at(planned[(far_email, 1)]["sendAt"]).astimezone(ZoneInfo(far_zone))
    assert (far_first.hour, far_first.minute) == (start.hour, start.minute)  # its own local time
    assert _at(planned[(far_email, 1)]["sendAt"]) != start
    for email in NEAR:
        assert [_at(planned[(email, n)]["sendAt"]) for n in (1, 2, 3)] == [
            start + timedelta(seconds=DELAY * i) for i in range(3)
        ]

    # the quitter's first email, then one click on its one-click unsubscribe link
    first = _wait(lambda: [e for e in _sent(emails) if e["to"] == [QUITTER]], 240, "the first email")[0]
    link = first["headers"]["List-Unsubscribe"].strip("<>")
    quit_answer = httpx.post(
        link,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert quit_answer.status_code == 200, quit_answer.text

    def done() -> bool:
        sends = _all_sends(api, campaign_id)
        near = [s for s in sends if s["email"] in NEAR]
        return len(near) == 9 and all(s["status"] in ("sent", "skipped", "failed") for s in near)

    _wait(done, 300, "every near recipient's three sends to be settled")
    went = [e for e in _sent(emails) if e["to"][0] in NEAR]
    copies = Counter((e["to"][0], e["subject"]) for e in went)
    assert max(copies.values()) == 1, f"sent twice: {[k for k, n in copies.items() if n > 1]}"
    per_person = Counter(e["to"][0] for e in went)
    assert per_person == {"ana@harbour.example": 3, "cleo@harbour.example": 3, QUITTER: 1}
    sends = {(s["email"], s["n"]): s for s in _all_sends(api, campaign_id)}
    for (email, n), send in sends.items():
        if email in NEAR and send["status"] == "sent":
            assert _at(send["sentAt"]) >= _at(planned[(email, n)]["sendAt"])  # never before its time
    left = httpx.get(f"{front}/_faults", timeout=10).json()["faults"]
    assert all(f.get("count") in (0, None) for f in left if f.get("to")), left  # each fault was met
    assert sends[("ana@harbour.example", 1)]["status"] == "sent"  # counted sent, never sent again
    assert sum(s["attempts"] for k, s in sends.items() if k[0] == "cleo@harbour.example") >= 5
    assert sends[(QUITTER, 2)]["status"] == sends[(QUITTER, 3)]["status"] == "skipped"
    assert sends[(QUITTER, 2)]["reason"] == sends[(QUITTER, 3)]["reason"] == "suppressed:unsubscribed"
    assert [e for e in _sent(emails) if e["to"] == [far_email]] == []  # hours away
    suppressed = api.get("/suppressions").json()
    assert QUITTER in [s["email"] for s in suppressed["suppressions"]]
