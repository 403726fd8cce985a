"""Compose in a real browser against `tidings dev`: a post written for a CRM client, its personalised
text in the preview and in the scheduled post, the API's refusals (a client the CRM does not have, a
variable with no value) shown with their message and code; a post saved for approval that waits in
Workflows and is scheduled once approved.

Same browser and stack as tests/e2e/test_dashboard_browser.py (its fixtures, a stack of this
module's own). The sample user connects the fake HubSpot with one client, as tests/e2e/test_crm_e2e.py
does."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import test_dashboard_browser as base
from playwright.sync_api import Browser, Page, expect
from test_dashboard_browser import ZONE, RunningDev, login_link, open_page, show_day, slot
from test_dashboard_manage_browser import api, until

browser = base.browser
dev = base.dev

TEMPLATE = "hey {{ firstName }}, homes near ${{ budget }} this week"


@pytest.fixture(scope="module")
def client_id(dev: RunningDev) -> str:
    """Dana Reyes (budget 450,000, formal) in the fake HubSpot, connected as the sample user's CRM."""
    vendors = json.loads((dev.state_dir / "stack.json").read_text())["urls"]["fakeVendors"]
    secret = f"compose-{uuid.uuid4().hex[:10]}"
    account = httpx.post(
        f"{vendors}/_vendors/accounts", json={"provider": "hubspot", "token": secret}, timeout=30
    )
    assert account.status_code == 201, account.text
    contact = {
        "firstName": "Dana",
        "lastName": "Reyes",
        "email": "dana@harbour.example",
        "properties": {"budget": 450_000, "communication_style": "formal", "hs_language": "en"},
    }
    added = httpx.post(
        f"{vendors}/_vendors/contacts", json={"provider": "hubspot", "contacts": [contact]}, timeout=30
    )
    assert added.status_code == 201, added.text
    body: dict[str, Any] = {
        "name": "HubSpot",
        "type": "crm",
        "platform": "hubspot",
        "credentials": {"accessToken": secret},
    }
    connected = api(dev, "POST", "/integrations", body)
    assert connected.status_code == 201, connected.text
    return str(added.json()["ids"][0])


def compose(page: Page, text: str, client: str) -> None:
    expect(page.locator("nav.top")).to_be_visible()
    page.get_by_role("link", name="Compose").click()
    page.get_by_label("CRM client id").fill(client)
    page.get_by_label("Post", exact=True).fill(text)


def test_a_post_for_a_crm_client_is_previewed_and_scheduled_personalised(
    dev: RunningDev, browser: Browser, client_id: str
) -> None:
    marker = uuid.uuid4().hex[:6]
    page = open_page(browser, login_link(dev, "demo-agent"))

    # a client the CRM does not have: the API's message and code
    compose(page, f"{TEMPLATE} {marker}", f"nobody-{marker}")
    expect(page.get_by_role("alert")).to_contain_text("client_not_found")

    page.get_by_label("CRM client id").fill(client_id)
    expect(page.get_by_label("Client", exact=True)).to_contain_text("Dana Reyes")
    expect(page.get_by_label("Client", exact=True)).to_contain_text("formal")
    written = f"Hello Dana, homes near $450,000 this week {marker}"  # formal: "hey" becomes "Hello"
    expect(page.get_by_label("Personalised")).to_contain_text(written)
    expect(page.locator('.preview[data-platform="facebook"]')).to_contain_text(written)

    # a variable the client has no value for: 422 missing_variables, with the variable named
    page.get_by_label("Post", exact=True).fill(f"{TEMPLATE} {{{{ agentName }}}} {marker}")
    expect(page.get_by_role("alert")).to_contain_text("missing_variables")
    expect(page.get_by_role("alert")).to_contain_text("agentName")
    page.get_by_label("Post", exact=True).fill(f"{TEMPLATE} {marker}")
    expect(page.get_by_label("Personalised")).to_contain_text(written)
    expect(page.get_by_role("alert")).to_have_count(0)

    day = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=3)).date()
    page.get_by_label(f"When ({ZONE})").fill(f"{day.isoformat()}T11:00")
    page.get_by_role("button", name="Schedule").click()

    show_day(page, day.isoformat())
    card = page.locator(slot(page, day.isoformat(), 11)).locator(".post", has_text=marker)
    expect(card).to_contain_text(written)
    stored = api(dev, "GET", f"/posts/{card.get_attribute('data-post-id')}").json()
    assert stored["content"] == written
    assert stored["personalization"]["clientId"] == client_id


def test_a_post_saved_for_approval_waits_in_workflows_and_is_scheduled_once_approved(
    dev: RunningDev, browser: Browser, client_id: str
) -> None:
    marker = uuid.uuid4().hex[:6]
    written = f"Hello Dana, homes near $450,000 this week {marker}"
    page = open_page(browser, login_link(dev, "demo-agent"))
    compose(page, f"{TEMPLATE} {marker}", client_id)
    expect(page.get_by_label("Personalised")).to_contain_text(written)
    day = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=4)).date()
    page.get_by_label(f"When ({ZONE})").fill(f"{day.isoformat()}T09:00")
    page.get_by_role("button", name="Save for approval").click()

    saved = page.get_by_role("status")
    expect(saved).to_contain_text("Saved for approval")
    workflow_id = saved.get_attribute("data-workflow-id")
    # the run reaches its approval gate once step `approve` has rendered the text
    until(
        lambda: api(dev, "GET", f"/workflows/{workflow_id}").json(),
        lambda w: any(s["status"] == "awaiting_approval" for s in w["steps"]),
    )
    saved.get_by_role("link", name="Workflows").click()
    page.get_by_role("button", name="Refresh").click()
    card = page.locator(f'.approval[data-workflow-id="{workflow_id}"]')
    expect(card).to_contain_text("waits for your decision")
    expect(card.locator(".produced").first).to_contain_text(written)

    card.get_by_role("button", name="Approve").click()
    listed = page.locator(f'.workflow[data-workflow-id="{workflow_id}"]')
    expect(listed.get_by_test_id("workflow-status")).to_have_text("completed", timeout=90_000)
    done = api(dev, "GET", f"/workflows/{workflow_id}").json()
    post_id = next(s for s in done["steps"] if s["stepId"] == "schedule")["output"]["postId"]
    post = until(lambda: api(dev, "GET", f"/posts/{post_id}").json(), lambda p: "content" in p)
    assert post["content"] == written
    assert post["status"] == "scheduled"
    assert datetime.fromisoformat(post["scheduledTime"]) == datetime(
        day.year, day.month, day.day, 9, 0, tzinfo=ZoneInfo(ZONE)
    )
