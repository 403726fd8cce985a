"""Benchmark: one campaign email to 10,000 recipients through `tidings dev`, the whole sending path.

The local SES front's quota is raised (`POST <front>/_quota`, by default 200 a second and 100,000 a
day) so that the run would take about a minute at that rate, then a one-email campaign (`template:
custom`) is created with 10,000 recipients in one body and scheduled at the next whole minute (UTC).
At that second the step's schedule fires campaign_send, which writes a `planned` send per recipient
to the ledger and queues them (ten a message); the queue poller's instances (the mapping's maximum
concurrency C) drain the queue into the front, each paced to the account's rate divided by C. While
it runs, the front's GetAccount (`SentLast24Hours`: the emails it took) and the send queue's depth
are read every half second (`progress` in the results shows whether the fan-out or the sending held
the run back); at the end the front's `/_emails`, once.

Measured from the step's send time: when the first and the last email were recorded by the front
(the total time), sends per second over that time and between the first and the last email, against
the rate the front allows and the rate the stack paced to (C instances times the rate each took);
the emails the front recorded, the distinct recipients and the duplicates (recorded minus distinct,
target 0); the campaign's final status and its stats (GET /campaigns/{id}/stats).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from e2e_support import DevStack, launch

from tidings.campaigns.pacing import instance_rate

TOPIC = "Spring open houses across the north shore"
FINAL = {"completed", "failed", "cancelled"}


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _sent_so_far(front: str) -> int:
    account = httpx.get(f"{front}/v2/email/account", timeout=30).json()
    return int(account["SendQuota"]["SentLast24Hours"])


def _sqs(stack: DevStack) -> tuple[Any, str]:
    return stack.aws_client("sqs"), stack.stack_info()["env"]["TIDINGS_CAMPAIGN_SEND_QUEUE_URL"]


def _in_queue(sqs: tuple[Any, str]) -> int:
    """Messages in the send queue, waiting or held by an instance (ten sends each)."""
    client, url = sqs
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[n]) for n in names)


def _create(api: httpx.Client, recipients: int) -> tuple[str, float]:
    people = [
        {"email": f"r{i:05d}@bench.example", "firstName": f"Reader{i}", "timezone": "UTC"}
        for i in range(recipients)
    ]
    started = time.monotonic()
    resp = api.post(
        "/campaigns",
        json={
            "name": f"Bench: one email to {recipients:,}",
            "template": "custom",
            "emailCount": 1,
            "topic": TOPIC,
            "variables": {"agentName": "Sam Rivera"},
            "recipients": people,
        },
    )
    if resp.status_code != 201:
        raise RuntimeError(f"the campaign was not created: {resp.status_code} {resp.text[:500]}")
    return str(resp.json()["campaignId"]), time.monotonic() - started


def _schedule(api: httpx.Client, campaign_id: str, spare_seconds: float) -> tuple[datetime, float]:
    """Scheduled at the next whole minute at least `spare_seconds` away (sendTime has no seconds)."""
    start = (datetime.now(UTC) + timedelta(seconds=spare_seconds + 60)).replace(second=0, microsecond=0)
    started = time.monotonic()
    resp = api.post(
        f"/campaigns/{campaign_id}/schedule",
        json={
            "startDate": start.date().isoformat(),
            "sendTime": {"hour": start.hour, "minute": start.minute},
            "timezone": "UTC",
        },
    )
    if resp.status_code != 200:
        raise RuntimeError(f"the campaign was not scheduled: {resp.status_code} {resp.text[:500]}")
    return _at(resp.json()["firstSendAt"]), time.monotonic() - started


def _wait_sent(
    front: str, sqs: tuple[Any, str], recipients: int, start: datetime, timeout: float
) -> list[tuple[float, int, int]]:
    """(seconds after the start, emails the front accepted, messages in the send queue) every half
    second until all went out, or nothing more went out for a minute, or the timeout."""
    samples: list[tuple[float, int, int]] = []
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        sent = _sent_so_far(front)
        at = round((datetime.now(UTC) - start).total_seconds(), 1)
        samples.append((at, sent, _in_queue(sqs)))
        if sent >= recipients:
            break
        if sent != last or at < 0:
            last, since = sent, time.monotonic()
        elif time.monotonic() - since > 60:
            break
        time.sleep(0.5)
    return samples


def _wait_final(api: httpx.Client, campaign_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        campaign: dict[str, Any] = api.get(f"/campaigns/{campaign_id}").json()
        if campaign["status"] in FINAL or time.monotonic() > deadline:
            return campaign
        time.sleep(1)


def _paced(stack: DevStack, front_rate: float) -> dict[str, Any]:
    """The rate the stack paces to: the account's (or a lower configured one) over C instances."""
    env = stack.stack_info()["env"]
    concurrency = int(env.get("TIDINGS_CAMPAIGN_SEND_CONCURRENCY", "1"))
    configured = float(env.get("TIDINGS_CAMPAIGN_SEND_RATE", "0") or 0)
    each = instance_rate(front_rate, configured, concurrency)
    return {
        "instances": concurrency,
        "configured_rate": configured or None,
        "per_instance": round(each, 3),
        "total": round(each * concurrency, 3),
    }


def _busiest_second(times: list[datetime]) -> int:
    return max(Counter(int(t.timestamp()) for t in times).values(), default=0)


def run_campaign(
    state_dir: Path, recipients: int, rate: float, daily: float = 100_000, timeout: float = 900
) -> dict[str, Any]:
    with launch(state_dir) as stack:
        front = stack.stack_info()["urls"]["ses"]
        quota = httpx.post(
            f"{front}/_quota", json={"maxSendRate": rate, "max24HourSend": daily}, timeout=10
        ).json()
        headers = {"Authorization": f"Bearer {stack.demo_token}"}
        with httpx.Client(base_url=stack.api_url, headers=headers, timeout=300) as api:
            campaign_id, create_seconds = _create(api, recipients)
            start, schedule_seconds = _schedule(api, campaign_id, spare_seconds=20)
            samples = _wait_sent(front, _sqs(stack), recipients, start, timeout)
            campaign = _wait_final(api, campaign_id)
            stats = api.get(f"/campaigns/{campaign_id}/stats").json()
        emails = httpx.get(f"{front}/_emails", timeout=300).json()["emails"]
        mine = [e for e in emails if e["to"][0].endswith("@bench.example")]
        times = sorted(_at(e["sentAt"]) for e in mine)
        distinct = len({e["to"][0].lower() for e in mine})
        first = (times[0] - start).total_seconds() if times else float("nan")
        total = (times[-1] - start).total_seconds() if times else float("nan")
        spread = (times[-1] - times[0]).total_seconds() if len(times) > 1 else float("nan")
        totals = stats["totals"]
        return {
            "recipients": recipients,
            "create_seconds": round(create_seconds, 2),
            "schedule_seconds": round(schedule_seconds, 2),
            "start": start.isoformat(),
            "first_email_after_start_s": round(first, 2),
            "total_seconds": round(total, 2),
            "sends_per_second": round(len(mine) / total, 1) if total > 0 else None,
            "sends_per_second_first_to_last": round((len(mine) - 1) / spread, 1) if spread > 0 else None,
            "busiest_second": _busiest_second(times),
            "front_quota": quota,
            "paced": _paced(stack, float(quota["maxSendRate"])),
            "recorded": len(mine),
            "distinct": distinct,
            "duplicates": len(mine) - distinct,
            "status": campaign["status"],
            "final_reason": campaign.get("finalReason"),
            "stats": {
                k: totals.get(k)
                for k in ("recipients", "sent", "skipped", "failed", "skippedReasons", "failedReasons")
            },
            # (seconds after the start, emails the front had accepted, messages in the send queue)
            "progress": [s for s in samples[::4] if s[0] > -2] + samples[-1:],
        }


def campaign_rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    label = f"campaign to {r['recipients']:,}"
    paced = r["paced"]
    return [
        (label, "create / schedule", f"{r['create_seconds']} s / {r['schedule_seconds']} s"),
        (
            label,
            "start -> first / last email",
            f"{r['first_email_after_start_s']} s / {r['total_seconds']} s",
        ),
        (
            label,
            "sends/s (from start; first to last)",
            f"{r['sends_per_second']}; {r['sends_per_second_first_to_last']}",
        ),
        (
            label,
            "rate: front / paced (instances x each)",
            f"{r['front_quota']['maxSendRate']:g} / {paced['total']:g} "
            f"({paced['instances']} x {paced['per_instance']:g})",
        ),
        (label, "recorded / distinct / duplicates", f"{r['recorded']} / {r['distinct']} / {r['duplicates']}"),
        (label, "status; sent / skipped / failed", _outcome(r)),
    ]


def _outcome(r: dict[str, Any]) -> str:
    s = r["stats"]
    return f"{r['status']}; {s['sent']} / {s['skipped']} / {s['failed']}"
