"""Refusals of the API the dashboard shows with their message, in a real browser against `tidings
dev`: a post whose metrics are refused still shows, with the reason where the metrics would be; an
account whose health is refused says why in its row, and refused alerts say so above; a calendar
whose tasks are refused says so above the week and still shows its posts; a workflow that cannot be
read again after its approval says why.

The refusal is the API's error body (`{code, message}`) given to the page in place of the API's answer
for that one request (Playwright's routing): the stack has no way to make these reads fail on demand.
The browser and the sign-in link come from test_dashboard_browser.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from e2e_support import DevStack, launch
from playwright.sync_api import Browser, Page, Route, expect
from test_dashboard_browser import ZONE, browser, login_link, show_day  # noqa: F401

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    with launch(tmp_path_factory.mktemp("tidings-dashboard-errors")) as running:
        yield running


def refuse(page: Page, url: str, status: int, code: str, message: str, method: str = "GET") -> None:
    """Answer the page's `method` requests to `url` (a glob) with the API's error body."""

    def answer(route: Route) -> None:
        if route.request.method != method:
            route.fallback()
            return
        body = json.dumps({"code": code, "message": message})
        route.fulfill(status=status, content_type="application/json", body=body)

    page.route(url, answer)


def go(page: Page, view: str) -> None:
    page.get_by_role("link", name=view, exact=True).click()


def opened(stack: DevStack, browser: Browser, user: str, refusals: list[tuple[str, int, str, str]]) -> Page:  # noqa: F811
    """Signed in on the Calendar, each (url glob, status, code, message) refused from the start."""
    page = browser.new_context(timezone_id=ZONE, locale="en-US").new_page()
    for url, status, code, message in refusals:
        refuse(page, url, status, code, message)
    page.goto(login_link(stack, user))
    expect(page.locator("nav.top")).to_contain_text(user)
    return page


def scheduled(stack: DevStack, token: str, text: str, when: datetime) -> str:
    body = {"content": text, "platforms": ["facebook"], "scheduledTime": when.isoformat()}
    created = stack.post("/posts", token, body)
    assert created.status_code == 201, created.text
    return str(created.json()["postId"])


def test_refused_metrics_say_why_and_the_post_still_shows(
    stack: DevStack,
    browser: Browser,  # noqa: F811
) -> None:
    user, token = stack.connected_user()
    text = f"Loft with a roof terrace {uuid.uuid4().hex[:6]}"
    post_id = scheduled(stack, token, text, datetime.now(UTC) + timedelta(days=1))
    page = opened(
        stack,
        browser,
        user,
        [("**/analytics/posts/*", 503, "analytics_unavailable", "metrics are being rebuilt")],
    )

    page.evaluate(f"() => {{ location.hash = '#/posts/{post_id}'; }}")

    expect(page.locator(".post-detail .content-full")).to_have_text(text)
    expect(page.locator(".post-detail tr[data-platform='facebook']")).to_contain_text("Facebook")
    expect(page.locator(".post-detail .problem")).to_have_text(
        "The metrics cannot be shown: metrics are being rebuilt (analytics_unavailable)"
    )


def test_a_refused_health_says_why_in_its_row_and_refused_alerts_above(
    stack: DevStack,
    browser: Browser,  # noqa: F811
) -> None:
    user, _ = stack.connected_user()
    page = opened(
        stack,
        browser,
        user,
        [
            ("**/accounts/*/health", 500, "internal_error", "the token store did not answer"),
            ("**/alerts", 503, "alerts_unavailable", "alerts are being moved"),
        ],
    )

    go(page, "Connections")

    expect(page.locator(".connections > .problem")).to_have_text(
        "alerts: alerts are being moved (alerts_unavailable)"
    )
    rows = page.locator("tr.account")
    expect(rows.first).to_be_visible()
    for row in rows.all():
        expect(row.locator(".problem")).to_have_text(
            "Health unknown: the token store did not answer (internal_error)"
        )
        expect(row.locator("code")).not_to_be_empty()  # the rest of the row is there
    expect(page.get_by_label("Integrations").or_(page.get_by_text("No integration."))).to_be_visible()


def test_a_calendar_whose_tasks_are_refused_says_so_and_shows_its_posts(
    stack: DevStack,
    browser: Browser,  # noqa: F811
) -> None:
    user, token = stack.connected_user()
    text = f"Cottage by the river {uuid.uuid4().hex[:6]}"
    when = datetime.now(UTC) + timedelta(days=1)
    post_id = scheduled(stack, token, text, when)

    page = opened(stack, browser, user, [("**/tasks?*", 429, "throttled", "too many requests, slow down")])

    expect(page.locator(".calendar > .problem")).to_have_text(
        "Not all campaign emails and tasks are shown: tasks: too many requests, slow down (throttled)"
    )
    show_day(page, when.astimezone(ZoneInfo(ZONE)).date().isoformat())
    expect(page.locator(f'.post[data-post-id="{post_id}"]')).to_contain_text(text)


def waiting(stack: DevStack, token: str) -> dict[str, Any]:
    topic = f"Price drop on Oak {uuid.uuid4().hex[:6]}"
    created = stack.post(
        "/workflows", token, {"template": "content-to-social", "parameters": {"topic": topic}}
    )
    assert created.status_code == 201, created.text
    wf_id = created.json()["workflowId"]
    executed = stack.post(f"/workflows/{wf_id}/execute", token, {"autoApprove": False})
    assert executed.status_code == 202, executed.text
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        wf = dict(stack.get(f"/workflows/{wf_id}", token).json())
        if any(s["status"] == "awaiting_approval" for s in wf["steps"]):
            return wf
        time.sleep(0.3)
    raise AssertionError(f"workflow {wf_id} never waited for an approval")


def test_a_workflow_that_cannot_be_read_again_after_its_approval_says_why(
    stack: DevStack,
    browser: Browser,  # noqa: F811
) -> None:
    user, token = stack.connected_user()
    wf = waiting(stack, token)
    wf_id = wf["workflowId"]
    page = opened(
        stack,
        browser,
        user,
        [(f"**/workflows/{wf_id}", 404, "workflow_not_found", "no such workflow")],  # GET only
    )
    go(page, "Workflows")
    card = page.locator(f'.approval[data-workflow-id="{wf_id}"]')

    card.get_by_role("button", name="Approve").click()

    expect(card).to_have_count(0)  # the approval went through (POST is not refused)
    expect(page.locator(".workflows > .problem")).to_have_text(
        f"Could not read the workflow {wf['name']} again: no such workflow (workflow_not_found)"
    )
    expect(page.locator(f'.workflow[data-workflow-id="{wf_id}"]')).to_be_visible()
