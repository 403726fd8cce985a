"""Notification e-mail under `tidings dev`, seen at the local SES front (`GET /_emails`): a new
notification address receives only its confirmation link; once its owner confirms through the link, a
workflow's e-mail step reaches it; a workflow naming an address nobody confirmed is refused."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

RunningDev = Any  # tests/e2e/conftest.py (fixture `start_tidings_dev`)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

OWNER = "ops@harbour.example"


def _emails(dev: RunningDev, to: str) -> list[dict[str, Any]]:
    (line,) = [line for line in dev.output if line.startswith("emails: ")]
    emails: list[dict[str, Any]] = httpx.get(line[len("emails: ") :].strip(), params={"to": to}).json()[
        "emails"
    ]
    return emails


def _wait_for(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"no {what} within 120 s")


def test_only_a_confirmed_address_receives_a_workflows_email(
    start_tidings_dev: Callable[..., RunningDev],
) -> None:
    dev = start_tidings_dev()
    api = httpx.Client(base_url=dev.api_url, headers={"Authorization": f"Bearer {dev.token}"}, timeout=30)
    step = {
        "id": "mail",
        "action": "send_notification",
        "parameters": {"channel": "email", "to": [OWNER], "subject": "Weekly report", "body": "All good."},
    }
    refused = api.post("/workflows", json={"definition": {"name": "Report", "steps": [step]}})
    assert refused.status_code == 422, refused.text
    assert refused.json()["details"]["problems"][0]["addresses"] == [OWNER]

    assert api.post("/notification-addresses", json={"email": OWNER}).status_code == 202
    (confirmation,) = _emails(dev, OWNER)
    link = re.search(r"http://\S+/notification-addresses/confirm/[A-Za-z0-9_-]+", confirmation["text"])
    assert link is not None
    page = httpx.get(link.group(0), headers={"accept": "text/html"})  # what a mail scanner does
    assert page.status_code == 200
    assert '<form method="post">' in page.text
    assert api.get("/notification-addresses").json()["addresses"][0]["status"] == "pending"
    assert httpx.post(link.group(0), headers={"accept": "application/json"}).json()["confirmed"] is True

    created = api.post("/workflows", json={"definition": {"name": "Report", "steps": [step]}})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["workflowId"]
    assert api.post(f"/workflows/{workflow_id}/execute", json={"autoApprove": True}).status_code == 202
    report = _wait_for(
        lambda: [e for e in _emails(dev, OWNER) if e["subject"] == "Weekly report"], "workflow e-mail"
    )
    assert len(report) == 1
    assert report[0]["text"].strip() == "All good."
