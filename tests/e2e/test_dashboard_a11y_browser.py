"""Every view of the dashboard in a real browser against `tidings dev`, under the security headers it
has on AWS: axe-core finds no serious or critical accessibility violation on any of them, the page
reports no Content-Security-Policy violation, and the keyboard reaches the navigation and the main
actions (a post is moved with "Move…", no mouse).

axe-core is the root package.json's pinned tool; its axe.min.js is evaluated in the page through the
browser's debugging protocol, which the page's CSP does not govern (a `<script>` added to the page
would be refused by it). With TIDINGS_SCREENSHOTS=1 each view is saved to docs/screenshots/ at
1280x800 (the README shows them); without it nothing is written, so a test run leaves the tree as it
was.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import test_dashboard_browser as base
from playwright.sync_api import Browser, Page, expect
from test_dashboard_browser import ROOT, ZONE, RunningDev, login_link, show_day, slot
from test_dashboard_manage_browser import api, go, waiting_workflow
from test_dashboard_views_browser import history_csv

pytestmark = pytest.mark.e2e

browser = base.browser
dev = base.dev

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


class Watched:
    """A signed-in page whose CSP violations (events and console errors) are collected."""

    def __init__(self, browser: Browser, link: str) -> None:
        context = browser.new_context(timezone_id=ZONE, locale="en-US", viewport=VIEWPORT)  # type: ignore[arg-type]
        self.page = context.new_page()
        self.console: list[str] = []
        self.page.add_init_script(CSP_WATCH)
        self.page.on(
            "console",
            lambda m: self.console.append(m.text) if "Content Security Policy" in m.text else None,
        )
        first = self.page.goto(link)
        assert first is not None
        assert "script-src 'self'" in first.headers["content-security-policy"]
        expect(self.page.locator("nav.top")).to_be_visible()

    def no_csp_violation(self) -> None:
        events = self.page.evaluate("() => window.__cspViolations")
        assert not events, events
        assert not self.console, self.console


def axe_problems(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    results: dict[str, Any] = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        f"{v['impact']} {v['id']}: {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def check(watched: Watched, name: str, problems: dict[str, list[str]]) -> None:
    page = watched.page
    page.wait_for_load_state("networkidle")
    # the view as it is once its reads have answered, not its loading state
    expect(page.get_by_text("Loading…", exact=True)).to_have_count(0)
    found = axe_problems(page)
    if found:
        problems[name] = found
    watched.no_csp_violation()
    if os.environ.get("TIDINGS_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.mouse.move(0, 0)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_every_view_has_no_serious_accessibility_violation_and_no_csp_violation(
    dev: RunningDev,
    browser: Browser,
) -> None:
    tomorrow = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=1)).date()
    at = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, 0, tzinfo=ZoneInfo(ZONE))
    text = f"Open house Sunday at 12 Harbour Road, 2-4 pm {uuid.uuid4().hex[:4]}"
    post = api(
        dev,
        "POST",
        "/posts",
        {"content": text, "platforms": ["facebook", "linkedin"], "scheduledTime": at.isoformat()},
    )
    assert post.status_code == 201, post.text
    name = f"Spring listings {uuid.uuid4().hex[:4]}"
    recipients = [{"email": "maya@harbour.example", "firstName": "Maya", "timezone": ZONE}]
    campaign = api(
        dev,
        "POST",
        "/campaigns",
        {
            "name": name,
            "template": "custom",
            "emailCount": 2,
            "topic": "Spring homes",
            "recipients": recipients,
        },
    )
    assert campaign.status_code == 201, campaign.text
    waiting_workflow(dev, f"Open house on Elm {uuid.uuid4().hex[:4]}")
    # months of past posts, so Results has its totals, curve, heat map and insights to show
    imported = api(dev, "POST", "/analytics/import", {"csv": history_csv()})
    assert imported.status_code == 200, imported.text
    assert api(dev, "POST", "/insights/generate", {"timezone": ZONE}).status_code == 200

    watched = Watched(browser, login_link(dev, "demo-agent"))
    page = watched.page
    problems: dict[str, list[str]] = {}
    show_day(page, tomorrow.isoformat())
    expect(page.locator(".post", has_text=text)).to_be_visible()
    check(watched, "calendar-week", problems)
    page.get_by_role("button", name="Month").click()
    expect(page.locator(".month")).to_be_visible()
    check(watched, "calendar-month", problems)

    go(page, "Compose")
    page.get_by_label("Post").fill("Just listed: a 3 bed craftsman near the park #justlisted")
    expect(page.locator('.preview[data-platform="facebook"]')).to_contain_text("Just listed")
    check(watched, "compose", problems)

    page.goto(f"{page.url.split('#')[0]}#/posts/{post.json()['postId']}")
    expect(page.locator(".post-detail h2")).to_be_visible()
    check(watched, "post-detail", problems)

    go(page, "Results")
    expect(page.locator('.total[data-total="Posts"]')).to_be_visible()
    expect(page.locator(".insight").first).to_be_visible()
    check(watched, "results", problems)
    go(page, "Inbox")
    check(watched, "inbox", problems)
    go(page, "Campaigns")
    row = page.locator("tr.campaign", has_text=name)
    check(watched, "campaigns", problems)
    row.get_by_role("button", name=name).click()
    expect(page.get_by_label(f"Campaign {name}").locator("tr.email")).to_have_count(2)
    check(watched, "campaign", problems)
    go(page, "Workflows")
    expect(page.locator(".approval").first).to_be_visible()
    check(watched, "workflows", problems)
    go(page, "Connections")
    check(watched, "connections", problems)

    assert not problems, "\n".join(f"{view}: {p}" for view, found in problems.items() for p in found)


def focused(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement?.textContent?.trim() ?? ''"))


def test_the_keyboard_reaches_the_navigation_and_moves_a_post_without_a_mouse(
    dev: RunningDev,
    browser: Browser,
) -> None:
    day = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=3)).date()
    text = f"Price drop on Maple Court {uuid.uuid4().hex[:4]}"
    at = datetime(day.year, day.month, day.day, 9, 0, tzinfo=ZoneInfo(ZONE))
    created = api(
        dev, "POST", "/posts", {"content": text, "platforms": ["linkedin"], "scheduledTime": at.isoformat()}
    )
    assert created.status_code == 201, created.text
    post_id = created.json()["postId"]

    watched = Watched(browser, login_link(dev, "demo-agent"))
    page = watched.page
    expect(page.locator(".week")).to_be_visible()
    reached = []
    for _ in range(14):
        page.keyboard.press("Tab")
        reached.append(focused(page))
    for wanted in (
        "Calendar",
        "Compose",
        "Results",
        "Inbox",
        "Campaigns",
        "Workflows",
        "Connections",
        "Today",
    ):
        assert wanted in reached, reached
    show_day(page, day.isoformat())

    card = page.locator(f'.post[data-post-id="{post_id}"]')
    card.get_by_role("button", name="Move…").focus()
    page.keyboard.press("Enter")
    field = page.get_by_label("New time")
    expect(field).to_be_focused()
    field.fill(f"{day.isoformat()}T16:00")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Moved")
    expect(page.locator(slot(page, day.isoformat(), 16)).locator(".post", has_text=text)).to_contain_text(
        "04:00 PM"
    )
    stored = api(dev, "GET", f"/posts/{post_id}").json()
    assert datetime.fromisoformat(stored["scheduledTime"]) == datetime(
        day.year, day.month, day.day, 16, 0, tzinfo=ZoneInfo(ZONE)
    )
    watched.no_csp_violation()
