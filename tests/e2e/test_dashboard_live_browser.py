"""Live updates in a real browser against `tidings dev`: with the Calendar open, a post that goes out
turns published on the page without a reload; a comment arriving by the platform's webhook shows as a
toast that leads to the Inbox; with Workflows open, a run that comes to wait for an approval shows
there, ready to approve, without a reload.

The browser, the sign-in link and the helpers come from test_dashboard_browser and
test_dashboard_views_browser; the stack is this module's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from e2e_support import DevStack, launch
from playwright.sync_api import Browser, Page, expect
from test_dashboard_browser import ZONE, browser, show_day  # noqa: F401
from test_dashboard_views_browser import add_comment, published, result, signed_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    with launch(
        tmp_path_factory.mktemp("tidings-dashboard-live"), env={"TIDINGS_MIN_GAP_MINUTES": "0"}
    ) as running:
        yield running


def live_page(stack: DevStack, browser: Browser, user: str) -> Page:  # noqa: F811
    """Signed in, with the live connection open (the page says so)."""
    page = signed_in(stack, browser, user)
    expect(page.locator(".live-state")).to_have_text("● live")
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads
    return page


def test_a_post_going_out_while_the_calendar_is_open_turns_published_without_a_reload(
    stack: DevStack,
    browser: Browser,  # noqa: F811
) -> None:
    user, token = stack.connected_user()
    text = f"Sunday open house at 4 Birch Lane {uuid.uuid4().hex[:6]}"
    later = datetime.now(UTC) + timedelta(minutes=10)
    created = stack.post(
        "/posts", token, {"content": text, "platforms": ["facebook"], "scheduledTime": later.isoformat()}
    )
    assert created.status_code == 201, created.text
    post_id = created.json()["postId"]

    page = live_page(stack, browser, user)
    show_day(page, later.astimezone(ZoneInfo(ZONE)).date().isoformat())
    card = page.locator(f'.post[data-post-id="{post_id}"]')
    expect(card.locator(".status")).to_have_text("scheduled")

    soon = datetime.now(UTC) + timedelta(seconds=3)
    moved = stack.patch(f"/posts/{post_id}", token, {"scheduledTime": soon.isoformat()})
    assert moved.status_code == 200, moved.text

    expect(card.locator(".status")).to_have_text("published", timeout=60_000)
    expect(card.locator(".platform.result-published")).to_have_text(["Facebook"])
    assert page.evaluate("() => window.sameDocument === true")


def test_a_comment_arriving_by_webhook_shows_a_toast_that_leads_to_the_inbox(
    stack: DevStack,
    browser: Browser,  # noqa: F811
) -> None:
    user, token = stack.connected_user()
    post = published(stack, token, f"Garden flat on Rose Street {uuid.uuid4().hex[:6]}", ["facebook"])
    page_post = result(post, "facebook")["platformPostId"]
    page = live_page(stack, browser, user)

    question = "Does the garden get the afternoon sun?"
    comment_id = add_comment(stack, page_post, question, 2)

    toast = page.locator(".toast", has_text=question)
    expect(toast).to_contain_text("New comment from Neighbour 2")
    toast.get_by_role("link").click()
    expect(page.locator(f'.comment[data-comment-id="{comment_id}"]')).to_contain_text(question)
    expect(toast).to_have_count(0)
    assert page.evaluate("() => window.sameDocument === true")


def test_a_workflow_that_comes_to_wait_for_approval_shows_on_workflows_without_a_reload(
    stack: DevStack,
    browser: Browser,  # noqa: F811
) -> None:
    user, token = stack.connected_user()
    page = live_page(stack, browser, user)
    page.get_by_role("link", name="Workflows", exact=True).click()
    expect(page.locator(".workflows")).to_contain_text("Nothing waits for your approval.")

    topic = f"Open house on Elm {uuid.uuid4().hex[:6]}"
    created = stack.post(
        "/workflows", token, {"template": "content-to-social", "parameters": {"topic": topic}}
    )
    assert created.status_code == 201, created.text
    wf_id = created.json()["workflowId"]
    executed = stack.post(f"/workflows/{wf_id}/execute", token, {"autoApprove": False})
    assert executed.status_code == 202, executed.text

    card = page.locator(f'.approval[data-workflow-id="{wf_id}"]')
    expect(card).to_contain_text("Step draft", timeout=90_000)
    wf = stack.get(f"/workflows/{wf_id}", token).json()
    draft = next(s for s in wf["steps"] if s["stepId"] == "draft")
    assert draft["status"] == "awaiting_approval", wf
    expect(card.locator(".produced").first).to_contain_text(draft["output"]["text"][:40])
    expect(card.get_by_role("button", name="Approve")).to_be_enabled()
    expect(page.locator(f'.workflow[data-workflow-id="{wf_id}"]')).to_have_count(1)  # listed below too
    expect(page.locator(".toast", has_text="Approval waiting")).to_have_count(1)
    assert page.evaluate("() => window.sameDocument === true")
