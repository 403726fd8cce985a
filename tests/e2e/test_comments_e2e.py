"""End to end on the local stack: comments on a post published to the fake platforms come in through
Meta's signed webhook (the fake sends it to the stack's /inbound/meta with the app secret tidings dev
gave it) and through a read of the watched post (POST /comments/sync); each is stored once however
often it comes, tied to its post (a webhook sent as the post is published may come before the
stream links the post), analysed, and one that asks a question raises comment.needs_response; a hide
reaches the platform."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from e2e_support import DevStack, Receiver, eventually, launch

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    env = {"TIDINGS_MIN_GAP_MINUTES": "0", "TIDINGS_COMMENT_SYNC_COOLDOWN_SECONDS": "0"}
    with launch(tmp_path_factory.mktemp("tidings-comments"), env=env) as running:
        yield running


def published(stack: DevStack, token: str, platforms: list[str], *, media: bool = True) -> dict[str, str]:
    """A post published now on `platforms` (with a video unless `media` is False); the platforms' ids
    of it."""
    at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    body: dict[str, Any] = {
        "content": f"Open house at 8 Cedar Ln {time.time()}",
        "platforms": platforms,
        "scheduledTime": at,
    }
    if media:
        body["mediaUrls"] = [f"{stack.fake_url}/_media/tour.mp4"]  # YouTube takes a video
    created = stack.post("/posts", token, body)
    assert created.status_code == 201, created.text
    post_id = created.json()["postId"]

    def done() -> dict[str, Any] | None:
        post = dict(stack.get(f"/posts/{post_id}", token).json())
        return post if post["status"] == "published" else None

    post = eventually(done, 60, "the post to be published")
    return {"postId": post_id, **{r["platform"]: r["platformPostId"] for r in post["results"]}}


def add_comment(stack: DevStack, platform: str, post_id: str, text: str, **extra: Any) -> dict[str, Any]:
    body = {
        "platform": platform,
        "postId": post_id,
        "text": text,
        "author": {"id": "9001", "name": "Jo Buyer"},
    }
    resp = httpx.post(f"{stack.fake_url}/_comments", json={**body, **extra}, timeout=30)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def comments(stack: DevStack, token: str) -> list[dict[str, Any]]:
    resp = stack.get("/comments?limit=100", token)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["comments"])


def analysed(stack: DevStack, token: str, comment_id: str) -> dict[str, Any] | None:
    found = [c for c in comments(stack, token) if c["commentId"] == comment_id]
    return found[0] if found and found[0]["analysis"] else None


def on_post(comment: dict[str, Any] | None) -> dict[str, Any] | None:
    """The comment once it is tied to its Tidings post (a webhook may come before the link)."""
    return comment if comment and comment["postId"] else None


def test_comments_by_webhook_and_by_read_are_stored_once_analysed_and_acted_on(stack: DevStack) -> None:
    _, token = stack.connected_user()
    receiver = Receiver([])
    try:
        hook = stack.post("/webhooks", token, {"url": receiver.url, "events": ["comment.needs_response"]})
        assert hook.status_code == 201, hook.text
        # a Facebook feed post: Meta's webhook names it by the same id its publish answered (a video's
        # comments name the Page post, not the video id Tidings keeps)
        post = published(stack, token, ["facebook"], media=False)
        video = published(stack, token, ["youtube"])

        # through Meta's webhook, signed by the fake with the stack's app secret, sent as soon as the
        # post is published: it may come before the stream has linked the post, and is tied to it then
        question = add_comment(
            stack,
            "facebook",
            post["facebook"],
            "Is it still available? Can I book a viewing Saturday?",
            webhook=True,
        )
        assert question["webhook"]["status"] == 200, question["webhook"]
        webhook_id = f"facebook.{question['commentId']}"
        first = eventually(
            lambda: on_post(analysed(stack, token, webhook_id)), 60, "the webhook comment's analysis and post"
        )
        assert (first["source"], first["postId"], first["status"]) == (
            "webhook",
            post["postId"],
            "needs_response",
        )
        assert first["analysis"]["decision"] == "needs_response"
        assert first["analysis"]["sentiment"] in ("positive", "neutral", "negative", "mixed")

        # through the read of the watched post (YouTube sends no webhook)
        praise = add_comment(stack, "youtube", video["youtube"], "Beautiful kitchen, love the light")
        read_id = f"youtube.{praise['commentId']}"

        def synced() -> dict[str, Any] | None:
            sync = stack.post("/comments/sync", token, {})
            assert sync.status_code == 200, sync.text
            return analysed(stack, token, read_id)

        second = eventually(synced, 60, "the read comment's analysis")
        assert (second["source"], second["postId"], second["text"]) == (
            "fetch",
            video["postId"],
            praise["text"],
        )
        assert second["analysis"]["decision"] != "needs_response"

        # read again, and the question sent again by webhook: still one of each
        assert stack.post("/comments/sync", token, {}).status_code == 200
        again = httpx.post(
            f"{stack.fake_url}/_webhooks/send",
            json={"platform": "facebook", "commentId": question["commentId"]},
            timeout=30,
        )
        assert again.json()["webhook"]["status"] == 200
        # a later webhook of the same Page: once it is in, the one sent before it was taken too
        spam = add_comment(
            stack, "facebook", post["facebook"], "Cheap followers here bit.ly/x1 bit.ly/x2", webhook=True
        )
        assert spam["webhook"]["status"] == 200
        spam_id = f"facebook.{spam['commentId']}"
        eventually(lambda: analysed(stack, token, spam_id), 60, "the spam comment's analysis")
        ids = [c["commentId"] for c in comments(stack, token)]
        assert sorted(ids) == sorted([webhook_id, spam_id, read_id])
        assert next(c for c in comments(stack, token) if c["commentId"] == webhook_id)["source"] == "webhook"

        # one event for the comment that asks for an answer
        def needs_response_events() -> list[dict[str, Any]]:
            events = [json.loads(b) for b in receiver.bodies]
            return [e for e in events if e["type"] == "comment.needs_response"]

        (event,) = eventually(needs_response_events, 60, "the comment.needs_response event")
        assert (event["data"]["commentId"], event["data"]["platformPostId"]) == (webhook_id, post["facebook"])
        # the event tells the comment as its analysis left it: analysed before the link, with no post yet
        assert event["data"]["postId"] in (post["postId"], None)

        # a hide goes to the platform first
        hidden = stack.post(f"/comments/{spam_id}/hide", token, {})
        assert hidden.status_code == 200, hidden.text
        assert hidden.json()["status"] == "hidden"
        received = httpx.get(
            f"{stack.fake_url}/_received", params={"platform": "facebook"}, timeout=30
        ).json()
        hides = [e for e in received if e.get("action") == "hide" and e["commentId"] == spam["commentId"]]
        assert [(h["hidden"], h["postId"]) for h in hides] == [(True, post["facebook"])]
        assert stack.post(f"/comments/{read_id}/hide", token, {}).json()["code"] == "hide_not_supported"

        # another user sees none of them
        _, other = stack.connected_user()
        assert comments(stack, other) == []
        assert stack.get(f"/comments/{webhook_id}", other).status_code == 404
    finally:
        receiver.close()


def test_a_drafted_reply_is_approved_and_posted_once_and_auto_reply_posts_by_itself(stack: DevStack) -> None:
    """A question that comes in by webhook gets a reply drafted in the user's voice; approving it posts
    it once on the fake (approving again answers the same reply); with auto-reply on for the platform,
    the next question's reply is posted without asking."""
    _, token = stack.connected_user()
    settings = {"tone": "professional", "brandName": "Cedar Homes", "signature": "- Sam, Cedar Homes"}
    assert stack.put("/comments/settings", token, settings).status_code == 200
    post = published(stack, token, ["facebook"])

    def reply_of(comment_id: str, state: str) -> dict[str, Any] | None:
        found = stack.get(f"/comments/{comment_id}", token).json()
        return found if found.get("reply") and found["reply"]["state"] == state else None

    def replies_on_fake(platform_comment_id: str) -> list[dict[str, Any]]:
        received = httpx.get(
            f"{stack.fake_url}/_received", params={"platform": "facebook"}, timeout=30
        ).json()
        return [e for e in received if e.get("action") == "reply" and e["commentId"] == platform_comment_id]

    asked = add_comment(
        stack, "facebook", post["facebook"], "Is it still available? Can I view it Sunday?", webhook=True
    )
    comment_id = f"facebook.{asked['commentId']}"
    drafted = eventually(lambda: reply_of(comment_id, "draft"), 60, "the drafted reply")
    assert drafted["reply"]["draft"].endswith("- Sam, Cedar Homes")
    assert "!" not in drafted["reply"]["draft"]  # the professional tone
    assert replies_on_fake(asked["commentId"]) == []

    approved = stack.post(f"/comments/{comment_id}/reply/approve", token, {})
    again = stack.post(f"/comments/{comment_id}/reply/approve", token, {})

    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["reply"]["state"]) == ("handled", "posted")
    assert again.status_code == 200
    assert again.json()["reply"]["platformReplyId"] == approved.json()["reply"]["platformReplyId"]
    (posted,) = replies_on_fake(asked["commentId"])
    assert (posted["text"], posted["replyId"]) == (
        drafted["reply"]["draft"],
        approved.json()["reply"]["platformReplyId"],
    )

    # auto-reply on for Facebook: the next question's reply goes out by itself, once
    assert (
        stack.put("/comments/settings", token, {**settings, "autoReply": {"facebook": True}}).status_code
        == 200
    )
    second = add_comment(
        stack, "facebook", post["facebook"], "Great home! What is the asking price?", webhook=True
    )
    auto = eventually(lambda: reply_of(f"facebook.{second['commentId']}", "posted"), 60, "the auto-reply")
    assert (auto["status"], auto["reply"]["approvedBy"]) == ("handled", "auto")
    assert [e["text"] for e in replies_on_fake(second["commentId"])] == [auto["reply"]["text"]]


def test_a_reply_left_sending_by_a_process_that_died_is_finished_once_by_the_reply_pass(
    stack: DevStack,
) -> None:
    """A reply the ledger holds in `sending` whose process died before the platform had it (written as
    that process left it, its lease over) is read back by the reply-retries pass, found missing, and
    posted: one reply on the fake, the comment handled."""
    from tidings.models.comments import ReplyState
    from tidings.store.comments import DynamoCommentRepository

    user, token = stack.connected_user()
    post = published(stack, token, ["facebook"], media=False)
    asked = add_comment(
        stack, "facebook", post["facebook"], "Is it still available? Open Sunday?", webhook=True
    )
    comment_id = f"facebook.{asked['commentId']}"

    def drafted() -> dict[str, Any] | None:
        found = dict(stack.get(f"/comments/{comment_id}", token).json())
        return found if found.get("reply") and found["reply"]["state"] == "draft" else None

    draft = eventually(drafted, 60, "the drafted reply")["reply"]["draft"]
    repo = DynamoCommentRepository(
        stack.stack_info()["env"]["TIDINGS_TABLE_NAME"], stack.aws_client("dynamodb")
    )
    held = repo.get(user, comment_id)
    assert held is not None
    assert held.reply is not None
    died_at = datetime.now(UTC) - timedelta(hours=1)
    sending = held.reply.model_copy(
        update={
            "state": ReplyState.SENDING,
            "approved_by": user,
            "approved_at": died_at,
            "attempts": 1,
            "attempt_started_at": died_at,
            "next_attempt_at": died_at + timedelta(minutes=6),  # its lease, long over
        }
    )
    repo.save(held.model_copy(update={"reply": sending}))

    def posted() -> dict[str, Any] | None:
        found = dict(stack.get(f"/comments/{comment_id}", token).json())
        return found if found["reply"]["state"] == "posted" else None

    done = eventually(posted, 180, "the reply pass to finish the reply")  # the pass runs every minute

    assert done["status"] == "handled"
    assert done["reply"]["attempts"] == 2  # the read-back found nothing: sent once more
    received = httpx.get(f"{stack.fake_url}/_received", params={"platform": "facebook"}, timeout=30).json()
    replies = [e for e in received if e.get("action") == "reply" and e["commentId"] == asked["commentId"]]
    assert [(r["text"], r["replyId"]) for r in replies] == [(draft, done["reply"]["platformReplyId"])]
    time.sleep(65)  # another pass: nothing more is sent
    received = httpx.get(f"{stack.fake_url}/_received", params={"platform": "facebook"}, timeout=30).json()
    assert (
        len([e for e in received if e.get("action") == "reply" and e["commentId"] == asked["commentId"]]) == 1
    )
