"""The fake X API through tweepy (4.17), X's most used Python SDK, as a second client beside ours:
with an OAuth 2.0 user token (`Client(token)`, `user_auth=False`), as tweepy documents for the
Authorization Code Flow with PKCE. Covers what our own client does (create a post, a reply, read the
timeline, `users/me`) and the post lookups tweepy users call (`get_tweet`, `get_tweets`), including
the public metrics Tidings' own reader reports for the same posts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
import tweepy
from sdk_support import send_to

from infra.local.fakes.platforms import FakePlatformServer
from infra.local.fakes.state import FaultSpec
from tidings.core.config import Settings
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.models.post_analytics import PostMetrics
from tidings.publishing.clients.x import XClient

USER, TOKEN = "2244994945", "x-user-token"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatformServer]:
    with FakePlatformServer() as server:
        server.register_account(Platform.TWITTER, USER, TOKEN)
        yield server


def client_for(fake: FakePlatformServer, token: str = TOKEN) -> tweepy.Client:
    client = tweepy.Client(token)
    send_to(client.session, "https://api.twitter.com/", f"{fake.url}/x/")
    return client


@pytest.fixture
def client(fake: FakePlatformServer) -> tweepy.Client:
    return client_for(fake)


def test_get_me_answers_the_token_user(client: tweepy.Client) -> None:
    me = client.get_me(user_auth=False, user_fields=["created_at", "public_metrics"])

    assert isinstance(me.data, tweepy.User)
    assert (me.data.id, me.data.username) == (int(USER), f"user{USER}")
    assert isinstance(me.data.created_at, datetime)
    assert "tweet_count" in me.data.public_metrics


def test_a_created_post_is_read_back_by_id(client: tweepy.Client, fake: FakePlatformServer) -> None:
    created = client.create_tweet(text="Open house Sunday & tea", user_auth=False)
    post_id = created.data["id"]

    read = client.get_tweet(
        post_id, tweet_fields=["created_at", "author_id", "public_metrics"], expansions=["author_id"]
    )

    tweet = read.data
    assert isinstance(tweet, tweepy.Tweet)
    assert (str(tweet.id), tweet.text) == (post_id, "Open house Sunday &amp; tea")
    assert tweet.edit_history_tweet_ids == [int(post_id)]
    assert str(tweet.author_id) == USER
    assert abs(tweet.created_at.timestamp() - time.time()) < 60
    assert tweet.public_metrics["reply_count"] == 0
    assert [str(u.id) for u in read.includes["users"]] == [USER]
    assert any(r["postId"] == post_id for r in fake.received())


def test_a_reply_is_in_the_conversation_of_its_parent(client: tweepy.Client) -> None:
    first = client.create_tweet(text="Thread 1/2", user_auth=False).data["id"]
    second = client.create_tweet(text="Thread 2/2", in_reply_to_tweet_id=first, user_auth=False).data["id"]

    fields = ["conversation_id", "referenced_tweets", "public_metrics", "in_reply_to_user_id"]
    reply = client.get_tweet(second, tweet_fields=fields).data
    parent = client.get_tweet(first, tweet_fields=fields).data

    assert str(reply.conversation_id) == first
    assert [(r.type, str(r.id)) for r in reply.referenced_tweets] == [("replied_to", first)]
    assert str(reply.in_reply_to_user_id) == USER
    assert parent.public_metrics["reply_count"] == 1


def test_get_tweets_returns_those_found_and_an_error_for_the_others(client: tweepy.Client) -> None:
    found = [client.create_tweet(text=f"Listing {n}", user_auth=False).data["id"] for n in range(2)]
    missing = "1"

    answer = client.get_tweets([*found, missing])

    assert [str(t.id) for t in answer.data] == found
    assert len(answer.errors) == 1
    error = answer.errors[0]
    assert error["resource_id"] == missing
    assert error["detail"] == f"Could not find tweet with id: [{missing}]."
    assert error["type"].endswith("/resource-not-found")


def test_get_tweet_of_an_unknown_id_answers_200_with_the_error(client: tweepy.Client) -> None:
    answer = client.get_tweet("42")

    assert answer.data is None
    assert answer.errors[0]["title"] == "Not Found Error"


def test_the_timeline_pages_with_the_paginator(client: tweepy.Client) -> None:
    for n in range(6):
        client.create_tweet(text=f"Timeline {n} {time.time()}", user_auth=False)

    pages = list(
        tweepy.Paginator(
            client.get_users_tweets,
            USER,
            max_results=5,
            tweet_fields=["created_at"],
            user_auth=False,
            limit=2,
        )
    )

    assert len(pages) == 2
    assert len(pages[0].data) == 5
    assert pages[0].meta["next_token"]
    newest_first = [t.created_at for page in pages for t in page.data]
    assert newest_first == sorted(newest_first, reverse=True)


def test_errors_arrive_as_tweepys_exceptions(fake: FakePlatformServer, client: tweepy.Client) -> None:
    with pytest.raises(tweepy.Unauthorized):
        client_for(fake, "not-a-token").get_me(user_auth=False)
    with pytest.raises(tweepy.Forbidden):
        client.create_tweet(text="x" * 281, user_auth=False)
    with pytest.raises(tweepy.BadRequest):
        client.get_tweet("42", tweet_fields=["not_a_field"])


def test_a_throttled_post_raises_too_many_requests_with_the_reset(fake: FakePlatformServer) -> None:
    fake.set_faults(FaultSpec.parse("twitter:rate_limit:1"))
    try:
        with pytest.raises(tweepy.TooManyRequests) as raised:
            client_for(fake).create_tweet(text="Throttled", user_auth=False)
    finally:
        fake.set_faults(FaultSpec())

    assert raised.value.reset_time is not None
    assert raised.value.reset_time >= int(time.time())


def test_get_tweets_public_metrics_are_what_tidings_reads(
    client: tweepy.Client, fake: FakePlatformServer
) -> None:
    ids = [
        client.create_tweet(text=f"Metrics {n} {time.time()}", user_auth=False).data["id"] for n in range(3)
    ]
    for n, post_id in enumerate(ids):
        counts = {"views": 700 + n, "likes": 30 + n, "comments": 4, "shares": 9, "saves": 2}
        fake.set_metrics(Platform.TWITTER, post_id, counts, grow=False)

    answer = client.get_tweets(ids, tweet_fields=["public_metrics"])
    with httpx.Client() as http:
        reads = XClient(Settings.from_env(fake.client_env()), http).read_metrics(
            AccountCredentials(Platform.TWITTER, USER, TOKEN), ids
        )

    assert [str(t.id) for t in answer.data] == ids
    for tweet in answer.data:
        public, read = tweet.public_metrics, reads[str(tweet.id)]
        assert isinstance(read, PostMetrics)
        assert (read.views, read.likes, read.comments, read.saves) == (
            public["impression_count"],
            public["like_count"],
            public["reply_count"],
            public["bookmark_count"],
        )
        assert read.shares == public["retweet_count"] + public["quote_count"]
