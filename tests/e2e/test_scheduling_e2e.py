"""End to end: `tidings dev` runs the whole stack; these tests act as a client over HTTP and check
what the fake platforms really received."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from e2e_support import DevStack, launch

ALL = ["facebook", "instagram", "twitter", "linkedin", "youtube", "tiktok"]
FINAL = {"published", "partially_published", "failed", "cancelled"}

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    # a small queue limit keeps the queue-full case quick; every test uses users of its own
    with launch(tmp_path_factory.mktemp("tidings"), env={"TIDINGS_MAX_QUEUE_PER_PLATFORM": "5"}) as running:
        yield running


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def wait_for(
    stack: DevStack, token: str, post_id: str, statuses: set[str], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        post = stack.get(f"/posts/{post_id}", token).json()
        if post["status"] in statuses or time.monotonic() > deadline:
            return post
        time.sleep(0.2)


def received(stack: DevStack, text: str) -> list[dict[str, Any]]:
    return [
        r for r in httpx.get(f"{stack.fake_url}/_received", timeout=10).json() if r["text"].startswith(text)
    ]


def test_post_is_published_at_its_second_on_every_platform(stack: DevStack) -> None:
    _, token = stack.connected_user()
    text = f"Just listed {uuid.uuid4().hex[:8]}"
    due = datetime.now(UTC) + timedelta(seconds=6)
    media = [f"{stack.fake_url}/_media/tour.mp4"]
    resp = stack.post(
        "/posts", token, {"content": text, "platforms": ALL, "scheduledTime": iso(due), "mediaUrls": media}
    )
    assert resp.status_code == 201, resp.text
    post_id = resp.json()["postId"]
    post = wait_for(stack, token, post_id, FINAL)
    assert post["status"] == "published", post
    applied = received(stack, text)
    assert Counter(r["platform"] for r in applied) == Counter(ALL)
    for r in applied:
        at = datetime.fromisoformat(r["receivedAt"].replace("Z", "+00:00"))
        assert at >= due, r  # never early
        assert (at - due).total_seconds() < 2.0, r  # at its second
    for result in post["results"]:
        assert result["status"] == "published"
        assert result["platformPostId"]
        assert result["attempts"] == 1
        assert result["publishedAt"].endswith("Z")
        assert len(result["publishedAt"].split(".")[1]) == 4  # milliseconds + Z


def test_cancelled_post_is_never_published(stack: DevStack) -> None:
    _, token = stack.connected_user()
    text = f"Cancelled {uuid.uuid4().hex[:8]}"
    due = datetime.now(UTC) + timedelta(seconds=5)
    post_id = stack.post(
        "/posts", token, {"content": text, "platforms": ["facebook"], "scheduledTime": iso(due)}
    ).json()["postId"]
    cancelled = stack.delete(f"/posts/{post_id}", token)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 3)
    assert received(stack, text) == []
    assert stack.get(f"/posts/{post_id}", token).json()["status"] == "cancelled"
    assert stack.delete(f"/posts/{post_id}", token).status_code == 409


def test_rescheduled_post_is_published_once_at_the_new_time(stack: DevStack) -> None:
    _, token = stack.connected_user()
    text = f"Moved {uuid.uuid4().hex[:8]}"
    # Margins wide enough that a loaded machine still moves the post before its first time comes.
    first = datetime.now(UTC) + timedelta(seconds=12)
    post_id = stack.post(
        "/posts", token, {"content": text, "platforms": ["twitter"], "scheduledTime": iso(first)}
    ).json()["postId"]
    later = datetime.now(UTC) + timedelta(seconds=16)
    moved = stack.patch(f"/posts/{post_id}", token, {"scheduledTime": iso(later)})
    assert moved.status_code == 200, moved.text
    assert moved.json()["version"] == 2
    post = wait_for(stack, token, post_id, FINAL)
    assert post["status"] == "published"
    applied = received(stack, text)
    assert len(applied) == 1
    at = datetime.fromisoformat(applied[0]["receivedAt"].replace("Z", "+00:00"))
    assert at >= later
    assert stack.patch(f"/posts/{post_id}", token, {"content": "too late"}).status_code == 409


def test_publish_now_answers_with_a_result_per_platform(stack: DevStack) -> None:
    _, token = stack.connected_user()
    text = f"Price drop {uuid.uuid4().hex[:8]}"
    resp = stack.post("/posts/publish-now", token, {"content": text, "platforms": ["facebook", "linkedin"]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["complete"] is True
    assert {r["platform"]: r["status"] for r in body["results"]} == {
        "facebook": "published",
        "linkedin": "published",
    }
    assert all(r["url"] for r in body["results"])
    assert len(received(stack, text)) == 2


def test_unconnected_platform_fails_with_a_clear_reason(stack: DevStack) -> None:
    token = stack.token(f"new-user-{uuid.uuid4().hex[:6]}")  # no accounts connected
    resp = stack.post("/posts/publish-now", token, {"content": "Hello", "platforms": ["twitter"]})
    body = resp.json()
    assert body["status"] == "failed"
    assert body["results"][0]["lastError"]["code"] == "account_not_connected"


def test_queue_stats_and_listing(stack: DevStack) -> None:
    _, token = stack.connected_user()
    later = datetime.now(UTC) + timedelta(days=2)
    ids = [
        stack.post(
            "/posts",
            token,
            {
                "content": f"Listing {i}",
                "platforms": ["linkedin"],
                "scheduledTime": iso(later + timedelta(hours=i)),
            },
        ).json()["postId"]
        for i in (2, 1)
    ]
    listed = stack.get("/posts?status=scheduled&platform=linkedin", token).json()["posts"]
    assert [p["postId"] for p in listed] == list(reversed(ids))
    stats = stack.get("/queue/stats", token).json()
    assert stats["totalScheduled"] == 2
    assert stats["byPlatform"]["linkedin"] == 2


def test_another_users_post_is_not_found(stack: DevStack) -> None:
    _, token = stack.connected_user()
    other = stack.token(f"intruder-{uuid.uuid4().hex[:6]}")
    when = iso(datetime.now(UTC) + timedelta(days=1))
    post_id = stack.post(
        "/posts", token, {"content": "Mine", "platforms": ["facebook"], "scheduledTime": when}
    ).json()["postId"]
    for resp in (
        stack.get(f"/posts/{post_id}", other),
        stack.patch(f"/posts/{post_id}", other, {"content": "hacked"}),
        stack.delete(f"/posts/{post_id}", other),
    ):
        assert resp.status_code == 404
        assert resp.json()["code"] == "post_not_found"
    assert stack.get(f"/posts/{post_id}", token).json()["content"] == "Mine"


def test_every_bad_input_gets_its_4xx(stack: DevStack) -> None:
    _, token = stack.connected_user()
    soon = datetime.now(UTC) + timedelta(days=3)
    ok = {"content": "Open house", "platforms": ["facebook"], "scheduledTime": iso(soon)}
    first = stack.post("/posts", token, ok)
    assert first.status_code == 201
    cases: list[tuple[str, Any, int, str]] = [
        (
            "past time",
            {**ok, "scheduledTime": iso(datetime.now(UTC) - timedelta(minutes=1))},
            422,
            "scheduled_time_in_past",
        ),
        ("unknown platform", {**ok, "platforms": ["myspace"]}, 422, "unknown_platform"),
        ("empty content", {**ok, "content": "  "}, 422, "empty_content"),
        ("too long for X", {**ok, "platforms": ["twitter"], "content": "x" * 300}, 422, "content_too_long"),
        ("wrong types", {**ok, "platforms": "facebook"}, 422, "validation_error"),
        ("unknown field", {**ok, "userId": "someone-else"}, 422, "validation_error"),
        ("min delay", {**ok, "scheduledTime": iso(soon + timedelta(minutes=10))}, 409, "min_delay_violated"),
    ]
    for name, body, status, code in cases:
        resp = stack.post("/posts", token, body)
        assert resp.status_code == status, (name, resp.text)
        assert resp.json()["code"] == code, name
    conflict = stack.post("/posts", token, cases[-1][1]).json()
    assert conflict["details"]["conflictingPostId"] == first.json()["postId"]
    malformed = httpx.post(
        f"{stack.api_url}/posts",
        content=b'{"content": ',
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "malformed_json"
    assert stack.get("/posts/does-not-exist", token).status_code == 404
    assert httpx.get(f"{stack.api_url}/posts", timeout=10).status_code == 401
    huge = stack.post("/posts", token, {"content": "x" * (300 * 1024), "platforms": ["facebook"]})
    assert (huge.status_code, huge.json()["code"]) == (413, "payload_too_large")
    assert huge.json()["details"]["limit"] == 256 * 1024


def test_queue_full(stack: DevStack) -> None:
    _, token = stack.connected_user()
    base = datetime.now(UTC) + timedelta(days=30)
    # the stack runs with a queue limit of 5 per platform for this test to stay quick
    for i in range(stack.queue_limit):
        body = {
            "content": f"Q{i}",
            "platforms": ["tiktok"],
            "mediaUrls": ["https://cdn.example.com/v.mp4"],
            "scheduledTime": iso(base + timedelta(hours=i)),
        }
        assert stack.post("/posts", token, body).status_code == 201
    body["scheduledTime"] = iso(base + timedelta(days=5))
    resp = stack.post("/posts", token, body)
    assert resp.status_code == 409
    assert resp.json()["code"] == "queue_full"


def test_docs_and_openapi_are_served(stack: DevStack) -> None:
    doc = httpx.get(f"{stack.api_url}/openapi.json", timeout=10)
    assert doc.status_code == 200
    paths = doc.json()["paths"]
    for path in (
        "/posts",
        "/posts/batch",
        "/posts/publish-now",
        "/posts/{postId}",
        "/queue/stats",
        "/optimal-time",
    ):
        assert path in paths
    assert httpx.get(f"{stack.api_url}/docs", timeout=10).status_code == 200


def test_meta_webhooks_need_no_bearer_token_but_a_signature(stack: DevStack) -> None:
    body = b'{"object":"page","entry":[]}'
    unsigned = httpx.post(f"{stack.api_url}/inbound/meta", content=body, timeout=10)
    handshake = httpx.get(
        f"{stack.api_url}/inbound/meta",
        params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "42"},
        timeout=10,
    )
    # the gateway lets them through without a JWT; the signature check (tidings dev sets an app
    # secret, which the fake platforms sign their comment webhooks with) refuses them
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "invalid_signature")
    assert handshake.status_code == 403
