"""The dashboard's Post detail, Results and Inbox in a real browser against `tidings dev`: a published
post opened from the Calendar with its per-platform result, link and metrics curve; Results with its
charts (the imported history counted with the published post) and an insight that is dismissed; the
Inbox with a comment from the fake platform and its sentiment, a drafted reply edited, approved and
posted once, and a crisis that holds the queue until "Resume queue" releases it.

Each test has a user of its own (every platform connected on the fakes); the browser and the sign-in
link come from test_dashboard_browser.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from e2e_support import DevStack, eventually, launch
from playwright.sync_api import Browser, Page, expect
from test_crisis_e2e import ANGRY  # a strong negative spike: a high crisis
from test_dashboard_browser import ZONE, browser, login_link, open_page, show_day  # noqa: F401

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    env = {
        "TIDINGS_MIN_GAP_MINUTES": "0",
        # each post's metrics are read 2, 6 and 10 seconds after publishing, by a pass every second (a
        # first read up to 4 s late still leaves a second reading for the curve)
        "TIDINGS_ANALYTICS_CADENCE": "2,6,10",
    }
    args = ["--analytics-interval", "1", "--sweep-interval", "1"]
    with launch(tmp_path_factory.mktemp("tidings-dashboard-views"), env=env, args=args) as running:
        yield running


def signed_in(stack: DevStack, browser: Browser, user: str) -> Page:  # noqa: F811
    page = open_page(browser, login_link(stack, user))
    expect(page.locator("nav.top")).to_contain_text(user)
    return page


def published(
    stack: DevStack, token: str, text: str, platforms: list[str], seconds: float = 2
) -> dict[str, Any]:
    at = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
    created = stack.post("/posts", token, {"content": text, "platforms": platforms, "scheduledTime": at})
    assert created.status_code == 201, created.text
    post_id = created.json()["postId"]

    def done() -> dict[str, Any] | None:
        post = dict(stack.get(f"/posts/{post_id}", token).json())
        return post if post["status"] == "published" else None

    return dict(eventually(done, 60, "the post to be published"))


def result(post: dict[str, Any], platform: str) -> dict[str, Any]:
    (found,) = [r for r in post["results"] if r["platform"] == platform]
    return dict(found)


def set_metrics(stack: DevStack, platform: str, platform_post_id: str, counts: dict[str, int]) -> None:
    body = {"platform": platform, "postId": platform_post_id, "counts": counts}
    resp = httpx.post(f"{stack.fake_url}/_metrics", json=body, timeout=10)
    assert resp.status_code == 200, resp.text


def readings(stack: DevStack, token: str, post_id: str, platform: str, at_least: int) -> bool:
    view = stack.get(f"/analytics/posts/{post_id}", token).json()
    return any(p["platform"] == platform and len(p["history"]) >= at_least for p in view["platforms"])


def add_comment(stack: DevStack, page_post: str, text: str, author: int) -> str:
    """A comment on the fake Facebook post, sent to the stack by Meta's signed webhook; its id."""
    body = {
        "platform": "facebook",
        "postId": page_post,
        "text": text,
        "author": {"id": f"88{author:04d}", "name": f"Neighbour {author}"},
        "webhook": True,
    }
    resp = httpx.post(f"{stack.fake_url}/_comments", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    assert resp.json()["webhook"]["status"] == 200, resp.json()
    return f"facebook.{resp.json()['commentId']}"


def drafted(stack: DevStack, token: str, comment_id: str) -> dict[str, Any] | None:
    """The comment once stored, analysed and given a drafted reply (the stream takes it in)."""
    resp = stack.get(f"/comments/{comment_id}", token)
    if resp.status_code == 404:
        return None
    assert resp.status_code == 200, resp.text
    found = dict(resp.json())
    return found if found["reply"] and found["reply"]["state"] == "draft" else None


def collection_complete(stack: DevStack, token: str, post_id: str, platform: str) -> bool:
    """Every cadence point of the post on `platform` has been read (a late pass reads the points it
    slept through at once, so the number of readings is not known in advance)."""
    view = stack.get(f"/analytics/posts/{post_id}", token).json()
    return any(
        p["platform"] == platform and p["collection"]["status"] == "complete" for p in view["platforms"]
    )


def history_csv() -> str:
    """Past LinkedIn posts of the last months: those published Tuesdays at 10:00 UTC did five times
    as well as the others, enough posts a group for an opportunity insight."""
    lines = ["platform,publishedAt,contentType,reach,likes,comments,shares"]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    tuesday = today - timedelta(days=(today.weekday() - 1) % 7 + 7)
    for n in range(60):
        week, slot = divmod(n, 3)
        when = tuesday - timedelta(weeks=week) + timedelta(days=slot, hours=10 if slot == 0 else 16)
        likes = (100 if slot == 0 else 20) + n % 7  # some spread: no spread is no sample to estimate from
        lines.append(f"linkedin,{when.isoformat()},text,1000,{likes},5,2")
    return "\n".join(lines) + "\n"


def heat_map_counts(
    csv: str, published_at: datetime
) -> tuple[Counter[tuple[str, int]], set[tuple[str, int]]]:
    """The posts of the last 30 days per heat map cell (weekday, hour in the browser's zone): the
    history's rows and the post published at `published_at`; and the cells of rows within an hour of
    the period's start, which the view, reading its period a little later, may or may not count."""
    zone, start = ZoneInfo(ZONE), datetime.now(UTC) - timedelta(days=30)
    counts: Counter[tuple[str, int]] = Counter()
    unsure: set[tuple[str, int]] = set()
    for line in csv.splitlines()[1:]:
        when = datetime.fromisoformat(line.split(",")[1])
        at = when.astimezone(zone)
        if abs(when - start) < timedelta(hours=1):
            unsure.add((at.strftime("%a"), at.hour))
        elif when > start:
            counts[at.strftime("%a"), at.hour] += 1
    at = published_at.astimezone(zone)
    counts[at.strftime("%a"), at.hour] += 1
    return counts, unsure


def test_a_published_post_opens_from_the_calendar_with_its_results_link_and_metrics_curve(
    stack: DevStack,
    browser: Browser,  # noqa: F811
) -> None:
    user, token = stack.connected_user()
    text = f"Sold over asking on Birch Ave {uuid.uuid4().hex[:6]}"
    post = published(stack, token, text, ["twitter", "linkedin"])
    x = result(post, "twitter")
    set_metrics(stack, "twitter", x["platformPostId"], {"views": 4000, "likes": 120, "shares": 30})
    eventually(lambda: readings(stack, token, post["postId"], "twitter", 2), 60, "two readings of the X post")

    page = signed_in(stack, browser, user)
    published_at = datetime.fromisoformat(x["publishedAt"]).astimezone(ZoneInfo(ZONE))
    show_day(page, published_at.date().isoformat())
    page.locator(".post", has_text=text).get_by_role("link").click()

    expect(page.locator(".post-detail h2")).to_contain_text("published")
    expect(page.locator(".content-full")).to_have_text(text)
    row = page.locator('table.results tr[data-platform="twitter"]')
    expect(row).to_contain_text("published")
    expect(row.locator("td").nth(2)).to_have_text(str(x["attempts"]))
    if x["url"]:
        expect(row.get_by_role("link", name="Open on X")).to_have_attribute("href", x["url"])
    else:
        expect(row).to_contain_text(x["platformPostId"])
    expect(page.locator('table.results tr[data-platform="linkedin"]')).to_contain_text("published")

    curve = page.get_by_role("figure", name="Engagements since publishing")
    expect(curve.locator("canvas")).to_be_visible()
    expect(curve.locator(".u-legend")).to_contain_text("X")
    expect(page.locator('table.metrics tr[data-platform="twitter"]')).to_contain_text("4,")


def test_results_show_the_charts_and_an_insight_that_is_dismissed(
    stack: DevStack,
    browser: Browser,  # noqa: F811
) -> None:
    user, token = stack.connected_user()
    csv = history_csv()
    imported = stack.post("/analytics/import", token, {"csv": csv})
    assert imported.status_code == 200, imported.text

    post = published(stack, token, f"Market update {uuid.uuid4().hex[:6]}", ["twitter"])
    x = result(post, "twitter")
    set_metrics(stack, "twitter", x["platformPostId"], {"views": 2000, "likes": 100, "shares": 20})
    # every reading refreshes the insights: the last one is in before they are read
    eventually(
        lambda: collection_complete(stack, token, post["postId"], "twitter"), 60, "the X post's last reading"
    )
    generated = stack.post("/insights/generate", token, {"timezone": "UTC"})
    assert generated.status_code == 200, generated.text
    insights = stack.get("/insights", token).json()["insights"]
    assert insights, "the imported history gives an insight"
    first = insights[0]

    page = signed_in(stack, browser, user)
    page.get_by_role("link", name="Results").click()
    expect(page.locator('.total[data-total="Posts"]')).to_be_visible()
    curve = page.get_by_role("figure", name="Engagement rate over time (by day of publishing)")
    expect(curve.locator("canvas")).to_be_visible()
    expect(curve.locator(".u-legend")).to_contain_text("All platforms")
    # the heat map counts each post of the last 30 days in the weekday and hour it went out, in the
    # user's zone: the published post and the imported history alike
    counts, unsure = heat_map_counts(csv, datetime.fromisoformat(x["publishedAt"]))
    at = datetime.fromisoformat(x["publishedAt"]).astimezone(ZoneInfo(ZONE))
    mine = (at.strftime("%a"), at.hour)
    history_cells = sorted((n, cell) for cell, n in counts.items() if cell != mine and cell not in unsure)
    assert history_cells, "the imported history fills cells of the period"
    for cell in ([mine] if mine not in unsure else []) + [history_cells[-1][1]]:
        n = counts[cell]
        shown = page.locator(f'.hm-cell[data-weekday="{cell[0]}"][data-hour="{cell[1]}"]')
        expect(shown).to_have_text(str(n))
        expect(shown).to_have_attribute("title", re.compile(rf"% over {n} posts?$"))
    expect(
        page.get_by_role("figure", name="Engagement rate by platform").locator('[data-group="twitter"]')
    ).to_be_visible()

    card = page.locator(f'.insight[data-insight-id="{first["id"]}"]')
    expect(card).to_contain_text(first["title"])
    expect(card).to_contain_text(f"{first['impact']} impact")
    expect(card).to_contain_text(f"confidence {round(first['confidence'] * 100)}%")
    card.get_by_role("button", name="Dismiss").click()
    expect(page.get_by_role("status")).to_contain_text("Dismissed")
    expect(card).to_have_count(0)
    dismissed = stack.get("/insights?status=dismissed", token).json()["insights"]
    assert [i["id"] for i in dismissed] == [first["id"]]


def test_a_comment_shows_its_sentiment_and_its_edited_reply_is_posted_once(
    stack: DevStack,
    browser: Browser,  # noqa: F811
) -> None:
    user, token = stack.connected_user()
    post = published(stack, token, f"Open house at 12 Oak St {uuid.uuid4().hex[:6]}", ["facebook"])
    page_post = result(post, "facebook")["platformPostId"]
    comment_id = add_comment(stack, page_post, "Is it still available? Can I book a viewing Saturday?", 1)
    stored = eventually(lambda: drafted(stack, token, comment_id), 60, "the drafted reply")

    page = signed_in(stack, browser, user)
    page.get_by_role("link", name="Inbox").click()
    card = page.locator(f'.comment[data-comment-id="{comment_id}"]')
    expect(card).to_contain_text("Can I book a viewing Saturday?")
    expect(card.locator(".sentiment")).to_have_text(stored["analysis"]["sentiment"])
    expect(card.locator(".comment-status")).to_have_text("needs response")
    reply = card.get_by_role("textbox")
    expect(reply).to_have_value(stored["reply"]["draft"])
    edited = "Yes, it is! Saturday at 11 works, see you at 12 Oak St. - Sam"
    reply.fill(edited)
    card.get_by_role("button", name="Approve reply").click()
    expect(card.locator(".reply-posted")).to_contain_text("Replied")
    expect(card.locator(".reply-posted")).to_contain_text(edited)
    expect(card.locator(".comment-status")).to_have_text("handled")

    platform_comment = comment_id.split(".", 1)[1]
    received = httpx.get(f"{stack.fake_url}/_received", params={"platform": "facebook"}, timeout=30).json()
    replies = [r for r in received if r.get("action") == "reply" and r["commentId"] == platform_comment]
    assert [r["text"] for r in replies] == [edited]


def test_a_held_queue_shows_the_crisis_and_resume_releases_it(
    stack: DevStack,
    browser: Browser,  # noqa: F811
) -> None:
    user, token = stack.connected_user()
    settings = httpx.put(
        f"{stack.api_url}/crises/settings",
        json={"holdQueue": True},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert settings.status_code == 200, settings.text
    post = published(stack, token, f"Open house at 8 Cedar Ln {uuid.uuid4().hex[:6]}", ["facebook"])
    page_post = result(post, "facebook")["platformPostId"]
    for n, text in enumerate(ANGRY):
        add_comment(stack, page_post, text, n)

    def held_crisis() -> dict[str, Any] | None:
        found = stack.get("/crises", token).json()["crises"]
        return found[0] if found and found[0]["queueHeld"] else None

    crisis = eventually(held_crisis, 90, "a crisis holding the queue")
    text = f"Price reduced on 8 Cedar Ln {uuid.uuid4().hex[:6]}"
    at = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    created = stack.post("/posts", token, {"content": text, "platforms": ["facebook"], "scheduledTime": at})
    assert created.status_code == 201, created.text
    held_id = created.json()["postId"]
    eventually(
        lambda: stack.get(f"/posts/{held_id}", token).json()["heldByCrisis"], 60, "the due post to be held"
    )

    page = signed_in(stack, browser, user)
    page.get_by_role("link", name="Inbox").click()
    banner = page.get_by_role("alert", name="Crisis")
    expect(banner).to_contain_text(f"{crisis['severity']} severity")
    expect(banner).to_contain_text("Your scheduled posts are held")
    expect(banner).to_contain_text("negative spike")
    expect(banner.locator(".evidence")).to_contain_text("windowNegative")
    expect(page.locator(".comment.sentiment-negative").first).to_be_visible()

    banner.get_by_role("button", name="Resume queue").click()
    expect(page.get_by_role("status")).to_contain_text("1 held post released")
    expect(banner.get_by_role("button", name="Resume queue")).to_have_count(0)
    released = eventually(
        lambda: (p := stack.get(f"/posts/{held_id}", token).json())["status"] == "published" and p,
        60,
        "the released post to go out",
    )
    assert released["heldByCrisis"] is None
    received = httpx.get(f"{stack.fake_url}/_received", params={"platform": "facebook"}, timeout=30).json()
    assert len([r for r in received if r.get("text", "").startswith(text)]) == 1
