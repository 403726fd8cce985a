"""The dashboard's Campaigns, Workflows and Connections views in a real browser against `tidings
dev`: a campaign's status, paused and resumed from the page, with its emails on the calendar; a
workflow's approval gate approved, or rejected with a reason, from the page; the sample user's
accounts with their health and token expiry.

Same browser and stack as tests/e2e/test_dashboard_browser.py (its fixtures, a stack of this
module's own)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import test_dashboard_browser as base
from playwright.sync_api import Browser, Page, expect
from test_dashboard_browser import ZONE, RunningDev, login_link, open_page, show_day, slot

# the same fixtures: Chromium from @sparticuz/chromium, and a `tidings dev` of this module's own
browser = base.browser
dev = base.dev


def api(dev: RunningDev, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method,
        f"{dev.api_url}{path}",
        headers={"Authorization": f"Bearer {dev.token}"},
        json=body,
        timeout=30,
    )


def until(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 90) -> Any:
    """Read the API again until `done` holds (or the time is up: the caller's assertion says why)."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.3)
        value = read()
    return value


def go(page: Page, view: str) -> None:
    expect(page.locator("nav.top")).to_be_visible()
    page.get_by_role("link", name=view, exact=True).click()


def test_a_campaign_shows_with_its_status_and_is_paused_then_resumed_from_the_page(
    dev: RunningDev, browser: Browser
) -> None:
    name = f"Spring listings {uuid.uuid4().hex[:6]}"
    created = api(
        dev,
        "POST",
        "/campaigns",
        {
            "name": name,
            "template": "custom",
            "emailCount": 2,
            "topic": "Spring homes near the harbour",
            "recipients": [
                {"email": "maya@harbour.example", "firstName": "Maya", "timezone": ZONE},
                {"email": "tom@harbour.example", "firstName": "Tom", "timezone": ZONE},
            ],
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaignId"]
    tomorrow = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=1)).date()
    scheduled = api(
        dev,
        "POST",
        f"/campaigns/{campaign_id}/schedule",
        {"startDate": tomorrow.isoformat(), "sendTime": {"hour": 9, "minute": 0}, "timezone": ZONE},
    )
    assert scheduled.status_code == 200, scheduled.text
    task = api(
        dev,
        "POST",
        "/tasks",
        {
            "type": "action",
            "scheduledAt": datetime(
                tomorrow.year, tomorrow.month, tomorrow.day, 11, 0, tzinfo=ZoneInfo(ZONE)
            ).isoformat(),
            "config": {
                "action": "validate_content",
                "parameters": {"text": "Open house Sunday", "rules": {"maxLength": 100}},
            },
        },
    )
    assert task.status_code == 201, task.text

    page = open_page(browser, login_link(dev, "demo-agent"))
    go(page, "Campaigns")
    row = page.locator(f'tr.campaign[data-campaign-id="{campaign_id}"]')
    expect(row).to_contain_text(name)
    expect(row).to_contain_text("scheduled")
    expect(row).to_contain_text("2")  # recipients

    row.get_by_role("button", name=name).click()
    detail = page.get_by_label(f"Campaign {name}")
    expect(detail.locator("tr.email")).to_have_count(2)
    expect(detail.get_by_label("Sends")).to_contain_text("maya@harbour.example")
    expect(detail.get_by_label("Sends")).to_contain_text("planned")

    detail.get_by_role("button", name="Pause").click()
    expect(detail.get_by_role("status")).to_contain_text("paused")
    expect(detail.get_by_test_id("campaign-status")).to_have_text("paused")
    expect(row).to_contain_text("paused")
    expect(detail.get_by_label("Sends")).to_contain_text("held (paused)")
    assert api(dev, "GET", f"/campaigns/{campaign_id}").json()["status"] == "paused"

    detail.get_by_role("button", name="Resume").click()
    expect(detail.get_by_test_id("campaign-status")).to_have_text("scheduled")
    expect(row).to_contain_text("scheduled")
    assert api(dev, "GET", f"/campaigns/{campaign_id}").json()["status"] == "scheduled"

    # the calendar's second layer: the campaign's emails and the task, at their hours
    go(page, "Calendar")
    show_day(page, tomorrow.isoformat())
    expect(
        page.locator(slot(page, tomorrow.isoformat(), 9)).locator(".layer", has_text=name)
    ).to_contain_text("email 1/2")
    expect(page.locator(slot(page, tomorrow.isoformat(), 11)).locator(".layer.task")).to_contain_text(
        "validate_content"
    )


def waiting_workflow(dev: RunningDev, topic: str) -> dict[str, Any]:
    """A content-to-social run stopped at its approval gate, with its draft written."""
    created = api(
        dev, "POST", "/workflows", {"template": "content-to-social", "parameters": {"topic": topic}}
    )
    assert created.status_code == 201, created.text
    wf_id = created.json()["workflowId"]
    assert api(dev, "POST", f"/workflows/{wf_id}/execute", {"autoApprove": False}).status_code == 202
    wf = until(
        lambda: api(dev, "GET", f"/workflows/{wf_id}").json(),
        lambda w: any(s["status"] == "awaiting_approval" for s in w["steps"]),
    )
    draft = next(s for s in wf["steps"] if s["stepId"] == "draft")
    assert draft["status"] == "awaiting_approval", wf
    return dict(wf)


def test_a_workflow_waiting_for_approval_is_approved_from_the_page_and_completes(
    dev: RunningDev, browser: Browser
) -> None:
    wf = waiting_workflow(dev, f"Open house on Elm {uuid.uuid4().hex[:4]}")
    draft = next(s for s in wf["steps"] if s["stepId"] == "draft")

    page = open_page(browser, login_link(dev, "demo-agent"))
    go(page, "Workflows")
    card = page.locator(f'.approval[data-workflow-id="{wf["workflowId"]}"]')
    expect(card).to_contain_text("draft")
    expect(card.locator(".produced").first).to_contain_text(draft["output"]["text"][:40])

    card.get_by_role("button", name="Approve").click()
    expect(card).to_have_count(0)
    listed = page.locator(f'.workflow[data-workflow-id="{wf["workflowId"]}"]')
    expect(listed.get_by_test_id("workflow-status")).to_have_text("completed", timeout=90_000)

    done = api(dev, "GET", f"/workflows/{wf['workflowId']}").json()
    assert done["status"] == "completed"
    assert next(s for s in done["steps"] if s["stepId"] == "draft")["approval"]["decision"] == "approved"
    listed.get_by_role("button", name=wf["name"]).click()
    expect(listed.get_by_label("Steps")).to_contain_text("approved")


def test_a_workflow_rejected_from_the_page_shows_the_reason(dev: RunningDev, browser: Browser) -> None:
    wf = waiting_workflow(dev, f"Price drop on Oak {uuid.uuid4().hex[:4]}")

    page = open_page(browser, login_link(dev, "demo-agent"))
    go(page, "Workflows")
    card = page.locator(f'.approval[data-workflow-id="{wf["workflowId"]}"]')
    card.get_by_role("button", name="Reject…").click()
    expect(card.get_by_role("button", name="Reject", exact=True)).to_be_disabled()  # a reason is needed
    card.get_by_label("Why reject it?").fill("Off-brand tone: too pushy")
    card.get_by_role("button", name="Reject", exact=True).click()

    listed = page.locator(f'.workflow[data-workflow-id="{wf["workflowId"]}"]')
    expect(listed.locator(".rejection")).to_contain_text("Off-brand tone: too pushy")
    expect(listed.get_by_test_id("workflow-status")).to_have_text("failed", timeout=90_000)
    done = api(dev, "GET", f"/workflows/{wf['workflowId']}").json()
    assert done["status"] == "failed"
    assert "Off-brand tone: too pushy" in done["failureReason"]


def test_connections_show_the_sample_users_accounts_with_health_and_token_expiry(
    dev: RunningDev, browser: Browser
) -> None:
    # a WhatsApp number whose token ends in three days and cannot renew itself
    expires = datetime.now(ZoneInfo(ZONE)) + timedelta(days=3, hours=1)
    connected = api(
        dev,
        "POST",
        "/accounts",
        {
            "platform": "whatsapp",
            "accountId": "106540352242922",
            "accessToken": f"wa-{uuid.uuid4().hex}",
            "expiresAt": expires.isoformat(),
        },
    )
    assert connected.status_code == 201, connected.text

    page = open_page(browser, login_link(dev, "demo-agent"))
    go(page, "Connections")
    accounts = page.get_by_label("Accounts")
    for platform, label in [
        ("facebook", "Facebook"),
        ("instagram", "Instagram"),
        ("twitter", "X"),
        ("linkedin", "LinkedIn"),
        ("youtube", "YouTube"),
        ("tiktok", "TikTok"),
    ]:
        row = accounts.locator(f'tr.account[data-platform="{platform}"]')
        expect(row).to_contain_text(label)
        expect(row.locator(".badge")).to_have_text("healthy")
        expect(row.locator(".expiry")).to_have_text("never")
    whatsapp = accounts.locator('tr.account[data-platform="whatsapp"]')
    expect(whatsapp.locator(".badge")).to_have_text("expiring")
    expect(whatsapp).to_contain_text("cannot be renewed automatically")
    expect(whatsapp.locator(".expiry")).to_contain_text("in 3 days")
    expect(whatsapp.locator(".expiry")).to_contain_text(expires.strftime("%b"))
