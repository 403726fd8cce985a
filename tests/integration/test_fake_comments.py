"""Comments on the fake platform server: a comment added to a published post is what Tidings' comment
readers read on each platform (Facebook, Instagram, YouTube, X), only with the post's account's token;
a hide through Tidings' client and the platforms' replies are recorded in `/_received`; the Meta
webhook the fake sends for a comment passes Tidings' signature check and reads as that comment."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from infra.local.fakes.base import LocalHttpServer, Reply, Request
from infra.local.fakes.platforms import FakePlatformServer
from tidings.core.config import Settings
from tidings.core.failures import PlatformCallError
from tidings.core.platforms import Platform
from tidings.engagement.intake import meta_comments
from tidings.integrations.inbound import check_signature
from tidings.models.accounts import AccountCredentials
from tidings.publishing.clients.comments import CommentReader, CommentsUnavailable, build_comment_readers

PAGE, IG_USER, CHANNEL, X_USER = "104710000077", "17841400000000077", "UCfakeChannel0077", "2244994977"
TOKENS = {
    Platform.FACEBOOK: (PAGE, "EAAG-page-77"),
    Platform.INSTAGRAM: (IG_USER, "EAAG-ig-77"),
    Platform.YOUTUBE: (CHANNEL, "ya29.yt-77"),
    Platform.TWITTER: (X_USER, "x-token-77"),
}
SECRET = "fake-meta-app-secret-77"


class Receiver(LocalHttpServer):
    """Tidings' inbound route standing in: keeps every delivery's headers and raw body."""

    def __init__(self) -> None:
        super().__init__()
        self.deliveries: list[tuple[str | None, bytes]] = []
        self.lock = threading.Lock()

    def respond(self, request: Request) -> Reply:
        with self.lock:
            self.deliveries.append((request.headers.get("X-Hub-Signature-256"), request.body))
        return Reply(200, {"received": 1})


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture(scope="module")
def fake(receiver: Receiver) -> Iterator[FakePlatformServer]:
    with FakePlatformServer(webhook_url=f"{receiver.url}/inbound/meta", meta_app_secret=SECRET) as server:
        for platform, (account, token) in TOKENS.items():
            server.register_account(platform, account, token)
        server.register_account(Platform.FACEBOOK, "104710000078", "EAAG-other-page")
        yield server


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def readers(fake: FakePlatformServer, http: httpx.Client) -> dict[Platform, CommentReader]:
    return build_comment_readers(Settings.from_env(fake.client_env()), http)


def credentials(platform: Platform, token: str | None = None) -> AccountCredentials:
    account, own = TOKENS[platform]
    return AccountCredentials(platform=platform, account_id=account, access_token=token or own)


def publish(fake: FakePlatformServer, http: httpx.Client, platform: Platform, text: str) -> str:
    """A post published on the fake through the platform's API; its id as the platform gives it."""
    account, token = TOKENS[platform]
    auth = {"Authorization": f"Bearer {token}"}
    if platform is Platform.FACEBOOK:
        return str(
            http.post(
                f"{fake.url}/facebook/v23.0/{account}/feed", data={"message": text}, headers=auth
            ).json()["id"]
        )
    if platform is Platform.INSTAGRAM:
        base = f"{fake.url}/instagram/v23.0/{account}"
        container = http.post(
            f"{base}/media", data={"image_url": "https://example.com/a.jpg", "caption": text}, headers=auth
        )
        return str(
            http.post(
                f"{base}/media_publish", data={"creation_id": container.json()["id"]}, headers=auth
            ).json()["id"]
        )
    if platform is Platform.YOUTUBE:
        session = http.post(
            f"{fake.url}/youtube/upload/youtube/v3/videos",
            params={"uploadType": "resumable", "part": "snippet,status"},
            json={"snippet": {"title": text[:90], "description": text}},
            headers=auth,
        )
        return str(http.put(session.headers["Location"], content=b"video bytes", headers=auth).json()["id"])
    return str(http.post(f"{fake.url}/x/2/tweets", json={"text": text}, headers=auth).json()["data"]["id"])


def comment(
    fake: FakePlatformServer, http: httpx.Client, platform: Platform, post_id: str, text: str, **extra: Any
) -> dict[str, Any]:
    body = {
        "platform": str(platform),
        "postId": post_id,
        "text": text,
        "author": {"id": "7001", "name": "ann_reader"},
    }
    resp = http.post(f"{fake.url}/_comments", json={**body, **extra})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


@pytest.mark.parametrize("platform", list(TOKENS))
def test_a_comment_added_on_the_fake_is_read_by_tidings(
    fake: FakePlatformServer, http: httpx.Client, readers: dict[Platform, CommentReader], platform: Platform
) -> None:
    post_id = publish(fake, http, platform, f"Open house on Elm St ({platform})")
    first = comment(fake, http, platform, post_id, "Is the garden south facing?")
    second = comment(fake, http, platform, post_id, "Love the kitchen")

    read = readers[platform].read_comments(credentials(platform), post_id)

    assert [(c.platform_comment_id, c.text) for c in read] == [
        (second["commentId"], "Love the kitchen"),
        (first["commentId"], "Is the garden south facing?"),
    ]
    assert {(c.platform_post_id, c.author_id) for c in read} == {(post_id, "7001")}
    assert read[0].created_at >= read[1].created_at
    with pytest.raises(PlatformCallError):  # another account's token reads nothing
        readers[platform].read_comments(credentials(platform, token="not-a-token"), post_id)


def test_replies_keep_the_comment_they_answer(
    fake: FakePlatformServer, http: httpx.Client, readers: dict[Platform, CommentReader]
) -> None:
    post_id = publish(fake, http, Platform.FACEBOOK, "Price drop on Oak Ave")
    top = comment(fake, http, Platform.FACEBOOK, post_id, "What is the new price?")
    answer = comment(
        fake, http, Platform.FACEBOOK, post_id, "I'd like to know too", parentId=top["commentId"]
    )

    read = readers[Platform.FACEBOOK].read_comments(credentials(Platform.FACEBOOK), post_id)
    assert [(c.platform_comment_id, c.parent_id) for c in read] == [
        (answer["commentId"], top["commentId"]),
        (top["commentId"], None),
    ]

    x_post = publish(fake, http, Platform.TWITTER, "Sold on Birch Rd")
    x_top = comment(fake, http, Platform.TWITTER, x_post, "Congrats!")
    x_answer = comment(fake, http, Platform.TWITTER, x_post, "Agreed", parentId=x_top["commentId"])
    x_read = readers[Platform.TWITTER].read_comments(credentials(Platform.TWITTER), x_post)
    assert [(c.platform_comment_id, c.parent_id, c.thread_id) for c in x_read] == [
        (x_answer["commentId"], x_top["commentId"], x_post),
        (x_top["commentId"], None, x_post),
    ]


@pytest.mark.parametrize("platform", [Platform.FACEBOOK, Platform.INSTAGRAM])
def test_a_hide_through_tidings_reaches_the_fake(
    fake: FakePlatformServer, http: httpx.Client, readers: dict[Platform, CommentReader], platform: Platform
) -> None:
    post_id = publish(fake, http, platform, f"New listing ({platform})")
    spam = comment(fake, http, platform, post_id, "Cheap followers at bit.ly/x")

    readers[platform].hide_comment(credentials(platform), spam["commentId"])

    hides = [e for e in fake.received() if e.get("action") == "hide" and e["commentId"] == spam["commentId"]]
    assert [(h["platform"], h["accountId"], h["hidden"]) for h in hides] == [
        (str(platform), TOKENS[platform][0], True)
    ]
    listed = http.get(f"{fake.url}/_comments", params={"platform": str(platform), "postId": post_id}).json()
    assert [c["hidden"] for c in listed] == [True]
    with pytest.raises(PlatformCallError):
        readers[platform].hide_comment(credentials(platform, token="EAAG-other-page"), spam["commentId"])


def test_youtube_and_x_comments_cannot_be_hidden_through_tidings(
    readers: dict[Platform, CommentReader],
) -> None:
    for platform in (Platform.YOUTUBE, Platform.TWITTER):
        with pytest.raises(CommentsUnavailable):
            readers[platform].hide_comment(credentials(platform), "anything")


def test_replies_on_each_platform_are_recorded(fake: FakePlatformServer, http: httpx.Client) -> None:
    replies = {}
    for platform in TOKENS:
        post_id = publish(fake, http, platform, f"Just listed ({platform})")
        replies[platform] = comment(fake, http, platform, post_id, "Is it still available?")["commentId"]
    auth = {p: {"Authorization": f"Bearer {t}"} for p, (_, t) in TOKENS.items()}
    text = "Yes, viewings on Saturday"

    fb = http.post(
        f"{fake.url}/facebook/v23.0/{replies[Platform.FACEBOOK]}/comments",
        data={"message": text},
        headers=auth[Platform.FACEBOOK],
    )
    ig = http.post(
        f"{fake.url}/instagram/v23.0/{replies[Platform.INSTAGRAM]}/replies",
        data={"message": text},
        headers=auth[Platform.INSTAGRAM],
    )
    yt = http.post(
        f"{fake.url}/youtube/youtube/v3/comments",
        params={"part": "snippet"},
        json={"snippet": {"parentId": replies[Platform.YOUTUBE], "textOriginal": text}},
        headers=auth[Platform.YOUTUBE],
    )
    x = http.post(
        f"{fake.url}/x/2/tweets",
        json={"text": text, "reply": {"in_reply_to_tweet_id": replies[Platform.TWITTER]}},
        headers=auth[Platform.TWITTER],
    )
    assert [r.status_code for r in (fb, ig, yt, x)] == [200, 200, 200, 201]

    recorded = {
        e["platform"]: e for e in fake.received() if e.get("action") == "reply" and e.get("text") == text
    }
    assert {p: recorded[str(p)]["commentId"] for p in TOKENS} == {p: replies[p] for p in TOKENS}
    assert recorded["facebook"]["replyId"] == fb.json()["id"]
    assert recorded["instagram"]["replyId"] == ig.json()["id"]
    assert yt.json()["snippet"]["parentId"] == replies[Platform.YOUTUBE]
    assert recorded["twitter"]["postId"] == x.json()["data"]["id"]
    # a reply to a comment on someone else's post is refused
    other = http.post(
        f"{fake.url}/facebook/v23.0/{replies[Platform.FACEBOOK]}/comments",
        data={"message": text},
        headers={"Authorization": "Bearer EAAG-other-page"},
    )
    assert other.status_code in (400, 401, 403)


@pytest.mark.parametrize("platform", [Platform.FACEBOOK, Platform.INSTAGRAM])
def test_the_webhook_sent_for_a_comment_is_signed_and_reads_as_that_comment(
    fake: FakePlatformServer, http: httpx.Client, receiver: Receiver, platform: Platform
) -> None:
    post_id = publish(fake, http, platform, f"Open house Sunday ({platform})")
    added = comment(fake, http, platform, post_id, "Can I bring my dog?", webhook=True)
    assert added["webhook"] == {"url": f"{receiver.url}/inbound/meta", "status": 200}
    again = http.post(
        f"{fake.url}/_webhooks/send", json={"platform": str(platform), "commentId": added["commentId"]}
    )
    assert again.status_code == 200

    with receiver.lock:
        deliveries = receiver.deliveries[-2:]
    for signature, raw in deliveries:
        check_signature(raw, signature, SECRET)  # raises when the signature does not match
        body = json.loads(raw)
        found = meta_comments(body["object"], body["entry"][0])
        assert [(f.platform, f.account_id, f.comment.platform_comment_id) for f in found] == [
            (platform, TOKENS[platform][0], added["commentId"])
        ]
        assert (found[0].comment.platform_post_id, found[0].comment.text) == (post_id, "Can I bring my dog?")
        assert found[0].comment.parent_id is None
    with pytest.raises(Exception, match="signature"):
        check_signature(deliveries[0][1], deliveries[0][0], "another-secret")


def test_wrong_comment_requests_are_refused(fake: FakePlatformServer, http: httpx.Client) -> None:
    post_id = publish(fake, http, Platform.YOUTUBE, "Walkthrough of 4 Pine Ct")
    base = {"platform": "youtube", "postId": post_id, "text": "hi", "author": {"id": "1", "name": "a"}}
    cases = {
        400: [
            {**base, "platform": "linkedin"},
            {**base, "webhook": True},
            {**base, "author": {}},
            {**base, "text": ""},
        ],
        404: [{**base, "postId": "nope"}, {**base, "parentId": "nope"}],
    }
    for status, bodies in cases.items():
        for body in bodies:
            assert http.post(f"{fake.url}/_comments", json=body).status_code == status, body
