"""Live updates in a real browser against `tidings dev`: with the Calendar open, a post that goes out
turns published on the page without a reload, and a comment arriving by the platform's webhook shows
as a toast that leads to the Inbox.

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
