"""The dashboard in a real browser against `tidings dev`: sign in with the printed single-use link,
see the week's posts in the user's time zone, write and schedule a post with its live preview and
best time, drag it to another hour, and see a refused move with the API's reason.

The browser is the Chromium the npm package @sparticuz/chromium ships inside the package (the
dashboard's dev dependency, installed by `make setup`), driven by Playwright's Python client: no
browser download, no system package.
"""

from __future__ import annotations

import fcntl
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

pytestmark = pytest.mark.e2e

# `RunningDev` comes from tests/e2e/conftest.py (fixture `start_tidings_dev`).
RunningDev = Any
ROOT = Path(__file__).resolve().parents[2]
ZONE = "America/New_York"  # the browser's zone, so the calendar's hours are not the machine's


def chromium_path() -> str:
    """The browser's path. The package unpacks it into the temporary directory on first use and
    takes an existing file there as done, so workers running test files side by side take turns
    (a lock file) and none launches a half-written browser."""
    script = "import('@sparticuz/chromium').then(m => m.default.executablePath()).then(p => console.log(p))"
    with open(Path(tempfile.gettempdir()) / "tidings-chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(
            ["node", "-e", script], cwd=ROOT / "dashboard", capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 0, f"no Chromium from @sparticuz/chromium (run make setup): {done.stderr}"
    return done.stdout.strip()


@pytest.fixture(scope="module")
def dev(start_tidings_dev: Callable[..., RunningDev]) -> RunningDev:
    return start_tidings_dev()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--no-zygote", "--disable-gpu"]
        )
        yield browser
        browser.close()


def sign_in_link(dev: RunningDev) -> str:
    return str(next(line.split(": ", 1)[1] for line in dev.output if line.startswith("dashboard: ")))


def login_link(dev: RunningDev, user: str) -> str:
    done = subprocess.run(
        [str(Path(dev.process.args[0])), "login", user, "--state-dir", str(dev.state_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dashboard: ")
    return done.stdout.split(": ", 1)[1].strip()


def open_page(browser: Browser, link: str) -> Page:
    page = browser.new_context(timezone_id=ZONE, locale="en-US").new_page()
    page.goto(link)
    return page


def schedule(dev: RunningDev, content: str, when: datetime, platforms: list[str]) -> dict[str, object]:
    resp = httpx.post(
        f"{dev.api_url}/posts",
        headers={"Authorization": f"Bearer {dev.token}"},
        json={"content": content, "platforms": platforms, "scheduledTime": when.isoformat()},
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def show_day(page: Page, day: str) -> None:
    """The week holding `day` (it may be next week's)."""
    expect(page.locator(".week")).to_be_visible()
    if page.locator(f'.slot[data-day="{day}"]').count() == 0:
        page.get_by_role("button", name="Next").click()
    expect(page.locator(f'.slot[data-day="{day}"]').first).to_be_visible()


def slot(page: Page, day: str, hour: int) -> str:
    return f'.slot[data-day="{day}"][data-hour="{hour}"]'


def drag(page: Page, source: Locator, target: Locator) -> None:
    """An HTML5 drag and drop, as the browser fires it: dragstart on the card, dragover and drop on
    the slot, one DataTransfer carrying what the card put in it."""
    data = page.evaluate_handle("() => new DataTransfer()")
    source.dispatch_event("dragstart", {"dataTransfer": data})
    target.dispatch_event("dragover", {"dataTransfer": data})
    target.dispatch_event("drop", {"dataTransfer": data})


def test_a_sign_in_link_works_once_and_tidings_login_makes_another(dev: RunningDev, browser: Browser) -> None:
    link = sign_in_link(dev)
    page = open_page(browser, link)
    expect(page.locator("nav.top")).to_contain_text("demo-agent")
    assert "code=" not in page.url  # the spent code leaves the address bar and the history

    again = open_page(browser, link)
    expect(again.get_by_role("alert")).to_contain_text("already used")
    expect(again.locator("nav.top")).to_have_count(0)

    other = open_page(browser, login_link(dev, "agent-browser"))
    expect(other.locator("nav.top")).to_contain_text("agent-browser")


def test_the_week_shows_scheduled_posts_at_their_hour_in_the_users_time_zone(
    dev: RunningDev, browser: Browser
) -> None:
    tomorrow = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=1)).date()
    when = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 15, 30, tzinfo=ZoneInfo(ZONE))
    text = f"Open house on Elm Street {uuid.uuid4().hex[:6]}"
    schedule(dev, text, when, ["facebook", "linkedin"])

    page = open_page(browser, login_link(dev, "demo-agent"))
    show_day(page, tomorrow.isoformat())
    card = page.locator(slot(page, tomorrow.isoformat(), 15)).locator(".post", has_text=text)
    expect(card).to_contain_text("03:30 PM")
    expect(card).to_contain_text("scheduled")
    expect(card.locator(".platform")).to_have_text(["Facebook", "LinkedIn"])


def test_compose_schedule_then_drag_to_another_hour_and_a_refused_move_says_why(
    dev: RunningDev, browser: Browser
) -> None:
    day = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=2)).date()
    blocker = f"Price drop {uuid.uuid4().hex[:6]}"
    schedule(dev, blocker, datetime(day.year, day.month, day.day, 14, 0, tzinfo=ZoneInfo(ZONE)), ["facebook"])
    text = f"Just listed: 3 bed craftsman {uuid.uuid4().hex[:6]}"

    page = open_page(browser, login_link(dev, "demo-agent"))
    page.get_by_role("link", name="Compose").click()
    page.get_by_label("Post").fill(text)
    page.get_by_label("Hashtags").fill("#justlisted realestate")
    preview = page.locator('.preview[data-platform="facebook"]')
    expect(preview).to_contain_text(f"{text}")
    expect(preview).to_contain_text("#justlisted #realestate")
    expect(page.get_by_label("Best time")).to_contain_text("confidence", timeout=20_000)
    # too long for X: the preview says so before anything is sent
    page.get_by_label("X").check()
    page.get_by_label("Post").fill("x" * 300)
    expect(page.locator('.preview[data-platform="twitter"]')).to_contain_text("too long")
    page.get_by_label("X").uncheck()
    page.get_by_label("Post").fill(text)

    page.get_by_label(f"When ({ZONE})").fill(f"{day.isoformat()}T10:00")
    page.get_by_role("button", name="Schedule").click()

    show_day(page, day.isoformat())
    card = page.locator(".post", has_text=text)
    expect(page.locator(slot(page, day.isoformat(), 10)).locator(".post", has_text=text)).to_be_visible()

    drag(page, card, page.locator(slot(page, day.isoformat(), 12)))
    expect(page.get_by_role("status")).to_contain_text("Moved")
    expect(page.locator(slot(page, day.isoformat(), 12)).locator(".post", has_text=text)).to_contain_text(
        "12:00 PM"
    )
    post_id = card.get_attribute("data-post-id")
    stored = httpx.get(
        f"{dev.api_url}/posts/{post_id}", headers={"Authorization": f"Bearer {dev.token}"}, timeout=30
    ).json()
    assert datetime.fromisoformat(stored["scheduledTime"]) == datetime(
        day.year, day.month, day.day, 12, 0, tzinfo=ZoneInfo(ZONE)
    )

    # 14:00 already has a Facebook post: the queue keeps posts on a platform 30 minutes apart
    drag(page, card, page.locator(slot(page, day.isoformat(), 14)))
    expect(page.get_by_role("alert")).to_contain_text("min_delay_violated")
    expect(page.locator(slot(page, day.isoformat(), 12)).locator(".post", has_text=text)).to_be_visible()
