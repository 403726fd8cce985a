"""Reading comments from YouTube and X: what each call asks for, how the answer becomes comments (author,
time, thread, the comment answered), what is left out (the post itself, items without an id or a
time, malformed parts), and how a refusal reads (X search outside the app's tier is `unavailable`,
not a failure)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from platform_hosts import SETTINGS

from tidings.core.clock import FakeClock
from tidings.core.failures import PlatformCallError
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.publishing.clients.comments import CommentReader, CommentsUnavailable, build_comment_readers

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
VIDEO, TWEET = "dQw4w9WgXcQ", "1850000000000000001"


def reader(
    platform: Platform, answer: Callable[[httpx.Request], httpx.Response]
) -> tuple[CommentReader, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    return build_comment_readers(SETTINGS, http, FakeClock(NOW))[platform], seen


def account(platform: Platform) -> AccountCredentials:
    return AccountCredentials(platform=platform, account_id="acct-1", access_token="token-1")


def thread(thread_id: str, top: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "youtube#commentThread",
        "id": thread_id,
        "snippet": {"videoId": VIDEO, "topLevelComment": top},
    }


def yt_comment(comment_id: str, **snippet: Any) -> dict[str, Any]:
    return {"kind": "youtube#comment", "id": comment_id, "snippet": snippet}


def test_youtube_threads_become_comments_with_their_author_and_thread() -> None:
    body = {
        "items": [
            thread(
                "UgzA",
                yt_comment(
                    "UgzA",
                    textOriginal="Is the basement finished?",
                    textDisplay="Is the basement <b>finished</b>?",
                    authorDisplayName="Ann Reader",
                    authorChannelId={"value": "UCann"},
                    publishedAt="2026-11-02T09:30:00Z",
                ),
            ),
            thread(
                "UgzB",
                yt_comment(
                    "UgzB", textDisplay="Nice", authorDisplayName=7, publishedAt="2026-11-02T09:00:00Z"
                ),
            ),
            thread("UgzC", yt_comment("UgzC", textOriginal="no time")),
            thread("UgzD", {"snippet": {"textOriginal": "no id", "publishedAt": "2026-11-02T09:00:00Z"}}),
            "not a thread",
        ]
    }
    yt, seen = reader(Platform.YOUTUBE, lambda r: httpx.Response(200, json=body))

    read = yt.read_comments(account(Platform.YOUTUBE), VIDEO)

    (request,) = seen
    assert request.url.path.endswith("/youtube/v3/commentThreads")
    assert dict(request.url.params) == {
        "part": "snippet",
        "videoId": VIDEO,
        "maxResults": "100",
        "order": "time",
    }
    assert request.headers["Authorization"] == "Bearer token-1"
    assert [(c.platform_comment_id, c.text, c.author_id, c.author_name, c.thread_id) for c in read] == [
        ("UgzA", "Is the basement finished?", "UCann", "Ann Reader", "UgzA"),
        ("UgzB", "Nice", None, None, "UgzB"),  # textDisplay when there is no textOriginal
    ]
    assert [c.created_at for c in read] == [
        datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        datetime(2026, 11, 2, 9, tzinfo=UTC),
    ]
    assert {(c.platform_post_id, c.parent_id) for c in read} == {(VIDEO, None)}


def test_a_youtube_refusal_is_a_platform_error() -> None:
    error = {
        "error": {"code": 403, "message": "Comments are disabled", "errors": [{"reason": "commentsDisabled"}]}
    }
    yt, _ = reader(Platform.YOUTUBE, lambda r: httpx.Response(403, json=error))

    with pytest.raises(PlatformCallError) as refused:
        yt.read_comments(account(Platform.YOUTUBE), VIDEO)
    assert refused.value.status == 403


def x_answer() -> dict[str, Any]:
    return {
        "data": [
            {  # a reply to a reply
                "id": "1850000000000000003",
                "text": "Same question here",
                "author_id": "42",
                "created_at": "2026-11-02T09:45:00.000Z",
                "conversation_id": TWEET,
                "referenced_tweets": [{"type": "replied_to", "id": "1850000000000000002"}],
            },
            {  # a reply to the post
                "id": "1850000000000000002",
                "text": "What's the asking price?",
                "author_id": "41",
                "created_at": "2026-11-02T09:40:00.000Z",
                "conversation_id": TWEET,
                "referenced_tweets": [{"type": "quoted", "id": "9"}, {"type": "replied_to", "id": TWEET}],
            },
            {"id": TWEET, "text": "the post itself", "created_at": "2026-11-02T09:00:00.000Z"},
            {"id": "1850000000000000004", "text": "no time"},
        ],
        "includes": {"users": [{"id": "41", "username": "ann", "name": "Ann"}, {"name": "no id"}]},
        "meta": {"result_count": 4},
    }


def test_x_replies_in_the_conversation_become_comments() -> None:
    x, seen = reader(Platform.TWITTER, lambda r: httpx.Response(200, json=x_answer()))

    read = x.read_comments(account(Platform.TWITTER), TWEET)

    (request,) = seen
    assert request.url.path.endswith("/2/tweets/search/recent")
    params = dict(request.url.params)
    assert params["query"] == f"conversation_id:{TWEET}"
    assert (params["expansions"], params["max_results"]) == ("author_id", "100")
    assert {"author_id", "created_at", "conversation_id", "referenced_tweets"} <= set(
        params["tweet.fields"].split(",")
    )
    assert [(c.platform_comment_id, c.author_id, c.author_name, c.parent_id, c.thread_id) for c in read] == [
        ("1850000000000000003", "42", None, "1850000000000000002", TWEET),
        ("1850000000000000002", "41", "ann", None, TWEET),  # an answer to the post is top-level
    ]
    assert read[1].created_at == datetime(2026, 11, 2, 9, 40, tzinfo=UTC)
    assert read[1].text == "What's the asking price?"


def test_x_without_replies_reads_nothing() -> None:
    x, _ = reader(Platform.TWITTER, lambda r: httpx.Response(200, json={"meta": {"result_count": 0}}))

    assert x.read_comments(account(Platform.TWITTER), TWEET) == []


def test_x_search_outside_the_apps_tier_is_unavailable_not_a_failure() -> None:
    forbidden = {"title": "Client Forbidden", "detail": "This endpoint requires a higher tier", "status": 403}
    x, _ = reader(Platform.TWITTER, lambda r: httpx.Response(403, json=forbidden))
    throttled = {"title": "Too Many Requests", "status": 429}
    busy, _ = reader(
        Platform.TWITTER, lambda r: httpx.Response(429, json=throttled, headers={"retry-after": "5"})
    )

    with pytest.raises(CommentsUnavailable):
        x.read_comments(account(Platform.TWITTER), TWEET)
    with pytest.raises(PlatformCallError):
        busy.read_comments(account(Platform.TWITTER), TWEET)
