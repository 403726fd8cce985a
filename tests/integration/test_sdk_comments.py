"""Comments on the fake platforms through the vendors' official SDKs, as a second client beside
Tidings' comment readers: facebook-business (a Page post's comments and replies, an Instagram media's
comments, a hide and a reply), google-api-python-client (commentThreads.list and comments.insert from
the shipped YouTube discovery document), and tweepy (recent search of a post's conversation). What the
SDKs read is what Tidings' readers read on the same posts."""

from __future__ import annotations

import json
from typing import Any

import httpx
import tweepy
from facebook_business.adobjects.comment import Comment
from facebook_business.adobjects.igcomment import IGComment
from facebook_business.adobjects.igmedia import IGMedia
from facebook_business.adobjects.pagepost import PagePost
from facebook_business.api import FacebookAdsApi, FacebookSession
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.discovery_cache import get_static_doc
from sdk_support import send_to
from test_fake_comments import TOKENS, comment, credentials, publish
from test_fake_comments import fake as fake_platforms
from test_fake_comments import http as http_client
from test_fake_comments import receiver as webhook_receiver

from infra.local.fakes.platforms import FakePlatformServer
from tidings.core.config import Settings
from tidings.core.platforms import Platform
from tidings.publishing.clients.comments import build_comment_readers

# the fake platforms as test_fake_comments starts them
receiver = webhook_receiver
fake = fake_platforms
http = http_client


def ours(
    fake: FakePlatformServer, http: httpx.Client, platform: Platform, post_id: str
) -> list[tuple[str, str]]:
    reader = build_comment_readers(Settings.from_env(fake.client_env()), http)[platform]
    return sorted(
        (c.platform_comment_id, c.text) for c in reader.read_comments(credentials(platform), post_id)
    )


def graph_api(fake: FakePlatformServer, prefix: str, platform: Platform) -> FacebookAdsApi:
    session = FacebookSession(access_token=TOKENS[platform][1])
    session.GRAPH = f"{fake.url}/{prefix}"
    return FacebookAdsApi(session, api_version="v23.0")


def test_facebook_business_reads_hides_and_answers_page_comments(
    fake: FakePlatformServer, http: httpx.Client
) -> None:
    api = graph_api(fake, "facebook", Platform.FACEBOOK)
    post_id = publish(fake, http, Platform.FACEBOOK, "Open house at 9 Elm St")
    question = comment(fake, http, Platform.FACEBOOK, post_id, "Is parking included?")
    spam = comment(fake, http, Platform.FACEBOOK, post_id, "Win a prize at bit.ly/zz")

    read = list(
        PagePost(post_id, api=api).get_comments(
            fields=["id", "message", "from", "created_time"], params={"filter": "stream"}
        )
    )
    assert sorted((c["id"], c["message"]) for c in read) == ours(fake, http, Platform.FACEBOOK, post_id)
    assert {c["from"]["id"] for c in read} == {"7001"}

    Comment(spam["commentId"], api=api).api_update(params={"is_hidden": True})
    reply = Comment(question["commentId"], api=api).create_comment(params={"message": "Yes, two spaces"})

    replies = list(Comment(question["commentId"], api=api).get_comments(fields=["id", "message", "parent"]))
    assert [(r["id"], r["message"]) for r in replies] == [(reply["id"], "Yes, two spaces")]
    actions = {
        (e["action"], e["commentId"]) for e in fake.received() if e.get("postId") == post_id and "action" in e
    }
    assert actions == {("hide", spam["commentId"]), ("reply", question["commentId"])}


def test_facebook_business_reads_and_hides_instagram_comments(
    fake: FakePlatformServer, http: httpx.Client
) -> None:
    api = graph_api(fake, "instagram", Platform.INSTAGRAM)
    media_id = publish(fake, http, Platform.INSTAGRAM, "Sunset from the terrace")
    first = comment(fake, http, Platform.INSTAGRAM, media_id, "Stunning view")
    comment(fake, http, Platform.INSTAGRAM, media_id, "Price?")

    read = list(IGMedia(media_id, api=api).get_comments(fields=["id", "text", "timestamp", "username"]))
    assert sorted((c["id"], c["text"]) for c in read) == ours(fake, http, Platform.INSTAGRAM, media_id)
    assert [c["text"] for c in read] == ["Price?", "Stunning view"]  # newest first

    IGComment(first["commentId"], api=api).api_update(params={"hide": True})
    IGComment(first["commentId"], api=api).create_reply(params={"message": "Thank you!"})
    hidden = IGComment(first["commentId"], api=api).api_get(fields=["id", "hidden"])
    assert hidden["hidden"] is True
    replies = list(IGComment(first["commentId"], api=api).get_replies(fields=["id", "text"]))
    assert [r["text"] for r in replies] == ["Thank you!"]


def youtube(fake: FakePlatformServer) -> Any:
    document = json.loads(get_static_doc("youtube", "v3") or "{}")
    document["rootUrl"] = f"{fake.url}/youtube/"
    return build_from_document(document, credentials=Credentials(TOKENS[Platform.YOUTUBE][1]))


def test_google_api_client_lists_comment_threads_and_replies(
    fake: FakePlatformServer, http: httpx.Client
) -> None:
    client = youtube(fake)
    video_id = publish(fake, http, Platform.YOUTUBE, "Walkthrough of 4 Pine Ct")
    first = comment(fake, http, Platform.YOUTUBE, video_id, "Great tour")
    comment(fake, http, Platform.YOUTUBE, video_id, "What is the HOA fee?")

    threads = (
        client.commentThreads().list(part="snippet", videoId=video_id, maxResults=100, order="time").execute()
    )
    tops = [t["snippet"]["topLevelComment"] for t in threads["items"]]
    assert sorted((c["id"], c["snippet"]["textOriginal"]) for c in tops) == ours(
        fake, http, Platform.YOUTUBE, video_id
    )
    assert [c["snippet"]["textOriginal"] for c in tops] == ["What is the HOA fee?", "Great tour"]

    body = {"snippet": {"parentId": first["commentId"], "textOriginal": "Thanks for watching"}}
    reply = client.comments().insert(part="snippet", body=body).execute()
    assert reply["snippet"]["parentId"] == first["commentId"]
    with_replies = client.commentThreads().list(part="snippet,replies", videoId=video_id).execute()
    answered = next(t for t in with_replies["items"] if t["id"] == first["commentId"])
    assert [c["id"] for c in answered["replies"]["comments"]] == [reply["id"]]
    assert answered["snippet"]["totalReplyCount"] == 1


def test_tweepy_searches_a_posts_conversation(fake: FakePlatformServer, http: httpx.Client) -> None:
    client = tweepy.Client(TOKENS[Platform.TWITTER][1])
    send_to(client.session, "https://api.twitter.com/", f"{fake.url}/x/")
    post_id = publish(fake, http, Platform.TWITTER, "Just sold: 12 Oak Ave")
    comment(fake, http, Platform.TWITTER, post_id, "Congratulations!")
    comment(fake, http, Platform.TWITTER, post_id, "Any similar homes nearby?")

    found = client.search_recent_tweets(
        f"conversation_id:{post_id}",
        expansions=["author_id"],
        tweet_fields=["author_id", "created_at", "conversation_id", "referenced_tweets"],
        max_results=10,
        user_auth=False,
    )

    assert sorted((t.id, t.text) for t in found.data) == [
        (int(i), text) for i, text in ours(fake, http, Platform.TWITTER, post_id)
    ]
    assert {str(t.conversation_id) for t in found.data} == {post_id}
    assert [u.username for u in found.includes["users"]] == ["ann_reader"]
