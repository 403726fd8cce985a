"""End to end on the local stack: a wave of angry comments on a post published to the fake platforms,
sent by Meta's signed webhook, opens a crisis with its evidence and sends crisis.detected; with
holdQueue on, a scheduled post whose time comes during the crisis is held (nothing reaches the
platform) until the user resumes the queue, and then it goes out once. Three angry comments make no
crisis."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest
from e2e_support import DevStack, Receiver, eventually, launch

pytestmark = pytest.mark.e2e

# Each reads as negative to the local analyzer, none of them asks to be escalated: a strong negative
# spike alone (12 of 12 negative against the default baseline share of 10 %) is a high crisis.
ANGRY = [
    "Terrible agent, never returned my calls. Awful experience.",
    "Worst listing photos I have ever seen, totally misleading and dishonest.",
    "This house is a disaster, the roof leaks and you hid it. Disgusting.",
    "Horrible service, rude staff, I regret working with you.",
    "The open house was a waste of time, filthy rooms and a bad smell.",
    "Overpriced and awful, a terrible waste of money.",
    "Your team ignored every email. Pathetic and unprofessional.",
    "Avoid this agency, they lied about the flooding. Awful.",
    "Sad to see such a poorly run business, very disappointing.",
    "I hate how you treated my parents at the viewing, cruel and rude.",
    "Terrible company, you broke every promise and I am angry.",
    "The worst buying experience of my life, stressful and miserable.",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    env = {"TIDINGS_MIN_GAP_MINUTES": "0"}
    with launch(tmp_path_factory.mktemp("tidings-crisis"), env=env) as running:
        yield running


def put(stack: DevStack, path: str, token: str, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.put(f"{stack.api_url}{path}", json=body, headers=headers, timeout=60)


def schedule(stack: DevStack, token: str, text: str, seconds: float) -> str:
    at = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
    created = stack.post("/posts", token, {"content": text, "platforms": ["facebook"], "scheduledTime": at})
    assert created.status_code == 201, created.text
    return str(created.json()["postId"])


def post_in(stack: DevStack, token: str, post_id: str, status: str) -> dict[str, Any] | None:
    post = dict(stack.get(f"/posts/{post_id}", token).json())
    return post if post["status"] == status else None


def facebook_post(stack: DevStack, token: str) -> str:
    """A Facebook post published now; the id the platform gave it (what Meta's webhooks name)."""
    post_id = schedule(stack, token, f"Open house at 8 Cedar Ln {uuid.uuid4().hex[:8]}", 2)
    post = eventually(lambda: post_in(stack, token, post_id, "published"), 60, "the post to be published")
    return str(post["results"][0]["platformPostId"])


def received(stack: DevStack, text: str) -> list[dict[str, Any]]:
    """What the fake Facebook received with `text`: the publishes of that post."""
    found = httpx.get(f"{stack.fake_url}/_received", params={"platform": "facebook"}, timeout=30).json()
    return [r for r in found if r.get("text", "").startswith(text)]


def comment_by_webhook(stack: DevStack, page_post: str, text: str, author: int) -> str:
    """A comment on the fake's post, sent to the stack by Meta's signed webhook; its Tidings id."""
    body = {
        "platform": "facebook",
        "postId": page_post,
        "text": text,
        "author": {"id": f"77{author:04d}", "name": f"Neighbour {author}"},
        "webhook": True,
    }
    resp = httpx.post(f"{stack.fake_url}/_comments", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    assert resp.json()["webhook"]["status"] == 200, resp.json()
    return f"facebook.{resp.json()['commentId']}"


def analysed(stack: DevStack, token: str, comment_ids: list[str]) -> list[dict[str, Any]] | None:
    listed = stack.get("/comments?limit=100", token)
    assert listed.status_code == 200, listed.text
    found = {c["commentId"]: c for c in listed.json()["comments"] if c["analysis"]}
    return [found[i] for i in comment_ids] if set(comment_ids) <= set(found) else None


def crises(stack: DevStack, token: str) -> list[dict[str, Any]]:
    listed = stack.get("/crises", token)
    assert listed.status_code == 200, listed.text
    return list(listed.json()["crises"])


def test_angry_comments_open_a_crisis_that_holds_the_queue_until_resumed(stack: DevStack) -> None:
    _, token = stack.connected_user()
    receiver = Receiver([])
    try:
        hook = stack.post("/webhooks", token, {"url": receiver.url, "events": ["crisis.detected"]})
        assert hook.status_code == 201, hook.text
        settings = put(stack, "/crises/settings", token, {"holdQueue": True})
        assert settings.status_code == 200, settings.text
        assert stack.get("/crises/settings", token).json() == {"holdQueue": True, "alertEmail": None}
        page_post = facebook_post(stack, token)

        ids = [comment_by_webhook(stack, page_post, text, n) for n, text in enumerate(ANGRY)]
        stored = eventually(lambda: analysed(stack, token, ids), 90, "the comments' analysis")
        assert {c["analysis"]["sentiment"] for c in stored} == {"negative"}

        def crisis_on_all() -> dict[str, Any] | None:
            found = crises(stack, token)
            spike = found[0]["evidence"].get("negative_spike", {}) if found else {}
            return found[0] if spike.get("windowComments") == len(ANGRY) else None

        crisis = eventually(crisis_on_all, 90, "a crisis assessed on every comment")
        crisis_id = crisis["crisisId"]
        assert len(crises(stack, token)) == 1
        assert (crisis["status"], crisis["severity"]) == ("open", "high")
        assert crisis["signals"] == ["negative_spike"]
        spike = crisis["evidence"]["negative_spike"]
        assert (spike["windowNegative"], spike["baseline"], spike["baselineShare"]) == (12, "default", 0.1)
        assert spike["rise"] == pytest.approx(0.9)
        assert crisis["queueHeld"] is True
        events = [e["event"] for e in crisis["timeline"]]
        assert events[0] == "opened"
        assert "queue_held" in events
        assert stack.get(f"/crises/{crisis_id}", token).json()["crisisId"] == crisis_id

        # the hold: a post due during the crisis stays scheduled and never reaches the platform
        text = f"Price reduced on 8 Cedar Ln {uuid.uuid4().hex[:8]}"
        held_id = schedule(stack, token, text, 5)
        held = eventually(
            lambda: (p := post_in(stack, token, held_id, "scheduled")) and p["heldByCrisis"] and p,
            60,
            "the due post to be held",
        )
        assert held["heldByCrisis"] == crisis_id
        assert received(stack, text) == []

        # resuming releases it: its time has passed, so it goes out now, once
        resumed = stack.post(f"/crises/{crisis_id}/resume-queue", token, {})
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["releasedPosts"] == [held_id]
        assert resumed.json()["crisis"]["queueHeld"] is False
        published = eventually(lambda: post_in(stack, token, held_id, "published"), 60, "the released post")
        assert published["heldByCrisis"] is None
        assert len(received(stack, text)) == 1
        again = stack.post(f"/crises/{crisis_id}/resume-queue", token, {})
        assert (again.status_code, again.json()["code"]) == (409, "queue_not_held")

        # crisis.detected reached the user's webhook, once for the severity the crisis reached
        def detected() -> list[dict[str, Any]]:
            bodies = [json.loads(b) for b in receiver.bodies]
            return [e for e in bodies if e["type"] == "crisis.detected"]

        (event,) = eventually(detected, 60, "the crisis.detected event")
        assert (event["data"]["crisisId"], event["data"]["severity"]) == (crisis_id, "high")
        assert event["data"]["evidence"]["negative_spike"]["windowNegative"] >= 5

        resolved = stack.post(f"/crises/{crisis_id}/resolve", token, {})
        assert resolved.status_code == 200, resolved.text
        assert (resolved.json()["status"], resolved.json()["resolvedBy"]) == ("resolved", "user")
        twice = stack.post(f"/crises/{crisis_id}/resolve", token, {})
        assert (twice.status_code, twice.json()["code"]) == (409, "crisis_not_active")
        assert len(received(stack, text)) == 1
    finally:
        receiver.close()


def test_three_angry_comments_make_no_crisis(stack: DevStack) -> None:
    _, token = stack.connected_user()
    assert put(stack, "/crises/settings", token, {"holdQueue": True}).status_code == 200
    page_post = facebook_post(stack, token)
    angry = [comment_by_webhook(stack, page_post, text, n) for n, text in enumerate(ANGRY[:3])]
    eventually(lambda: analysed(stack, token, angry), 90, "the comments' analysis")
    # The stream is read in order, one batch at a time, and the crisis is evaluated at the end of the
    # batch that carries the stored analyses. A comment written after those analyses is in that batch
    # or a later one; a second, written once the first is analysed, is in a later batch: once it is
    # analysed too, the evaluation after the angry comments has run.
    for n, text in enumerate(["Lovely garden, congratulations!", "Great photos, beautiful home."]):
        later = [comment_by_webhook(stack, page_post, text, 10 + n)]
        eventually(partial(analysed, stack, token, later), 60, "a later comment's analysis")

    assert crises(stack, token) == []
