"""The fake Graph API (Facebook Pages, Instagram) through facebook-business (Meta's official Business
SDK), with each session's documented `GRAPH` URL set to the fake's prefix: the Page read, a feed post
and the feed read back through the SDK's cursor, and Instagram's two-step publish (container, status,
media_publish) with the publishing limit; Graph errors as the SDK's FacebookRequestError. A post's
metrics read through the SDK (the post's shares, its reactions' summary, its insights; an Instagram
media's insights) are the ones Tidings' own readers report."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from facebook_business.adobjects.igmedia import IGMedia
from facebook_business.adobjects.iguser import IGUser
from facebook_business.adobjects.page import Page
from facebook_business.adobjects.pagepost import PagePost
from facebook_business.api import FacebookAdsApi, FacebookSession
from facebook_business.exceptions import FacebookRequestError

from infra.local.fakes.platforms import FakePlatformServer
from tidings.core.config import Settings
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.models.post_analytics import PostMetrics
from tidings.publishing.clients import build_metrics_readers

PAGE, PAGE_TOKEN = "104710000001", "EAAG-page-token"
IG_USER, IG_TOKEN = "17841400000000001", "EAAG-ig-token"
VERSION = "v23.0"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(instagram_video_seconds=0.1) as server:
        server.register_account(Platform.FACEBOOK, PAGE, PAGE_TOKEN)
        server.register_account(Platform.INSTAGRAM, IG_USER, IG_TOKEN)
        yield server


def api_for(fake: FakePlatformServer, prefix: str, token: str) -> FacebookAdsApi:
    session = FacebookSession(access_token=token)
    session.GRAPH = f"{fake.url}/{prefix}"
    return FacebookAdsApi(session, api_version=VERSION)


def test_the_page_is_read_with_its_fields(fake: FakePlatformServer) -> None:
    page = Page(PAGE, api=api_for(fake, "facebook", PAGE_TOKEN)).api_get(fields=["id", "name"])

    assert (page["id"], page["name"]) == (PAGE, f"Page {PAGE}")


def test_a_feed_post_is_read_back_through_the_cursor(fake: FakePlatformServer) -> None:
    page = Page(PAGE, api=api_for(fake, "facebook", PAGE_TOKEN))
    texts = [f"Open house {n} {time.time()}" for n in range(3)]
    ids = [page.create_feed(params={"message": text})["id"] for text in texts]

    feed = list(page.get_feed(fields=["message", "created_time"], params={"limit": 2}))

    assert all(i.startswith(f"{PAGE}_") for i in ids)
    assert [post["id"] for post in feed[:3]] == list(reversed(ids))
    assert [post["message"] for post in feed[:3]] == list(reversed(texts))


def test_instagram_publishes_a_container_once_it_is_finished(fake: FakePlatformServer) -> None:
    api = api_for(fake, "instagram", IG_TOKEN)
    user = IGUser(IG_USER, api=api)
    video = fake.media_url("tour.mp4")

    container = user.create_media(params={"video_url": video, "media_type": "REELS", "caption": "Tour"})
    status = "IN_PROGRESS"
    for _ in range(50):
        status = api.call("GET", (container["id"],), params={"fields": "status_code"}).json()["status_code"]
        if status == "FINISHED":
            break
        time.sleep(0.05)
    published = user.create_media_publish(params={"creation_id": container["id"]})
    limit = user.get_content_publishing_limit(fields=["quota_usage", "config"])

    assert status == "FINISHED"
    assert [r["mediaUrls"] for r in fake.received() if r["postId"] == published["id"]] == [[video]]
    assert limit[0]["quota_usage"] >= 1
    assert limit[0]["config"]["quota_total"] == fake.instagram_quota_total


def test_graph_errors_are_facebook_request_errors(fake: FakePlatformServer) -> None:
    with pytest.raises(FacebookRequestError) as raised:
        Page(PAGE, api=api_for(fake, "facebook", "EAAG-wrong")).api_get(fields=["id"])

    assert raised.value.api_error_code() == 190
    assert raised.value.api_error_type() == "OAuthException"
    # The SDK warns of a field it does not know, then sends the call; the fake answers Graph's error.
    with pytest.warns(UserWarning, match="no_such_field"), pytest.raises(FacebookRequestError) as unknown:
        Page(PAGE, api=api_for(fake, "facebook", PAGE_TOKEN)).api_get(fields=["no_such_field"])
    assert unknown.value.api_error_code() == 100


COUNTS = {"views": 4200, "reach": 3100, "likes": 180, "comments": 21, "shares": 9, "saves": 14, "clicks": 57}


def tidings_reads(
    fake: FakePlatformServer, platform: Platform, account: str, token: str, post_id: str
) -> PostMetrics:
    """The post's metrics as Tidings' own reader reports them."""
    with httpx.Client() as http:
        reader = build_metrics_readers(Settings.from_env(fake.client_env()), http)[platform]
        read = reader.read_metrics(AccountCredentials(platform, account, token), [post_id])[post_id]
    assert isinstance(read, PostMetrics)
    return read


def test_a_page_post_s_metrics_read_through_the_sdk_are_tidings_metrics(fake: FakePlatformServer) -> None:
    api = api_for(fake, "facebook", PAGE_TOKEN)
    post_id = Page(PAGE, api=api).create_feed(params={"message": f"Metrics {time.time()}"})["id"]
    fake.set_metrics(Platform.FACEBOOK, post_id, COUNTS, grow=False)
    post = PagePost(post_id, api=api)

    shares = post.api_get(fields=["shares"])["shares"]["count"]
    reactions = post.get_reactions(params={"summary": "total_count", "limit": 0}).total()
    # the SDK's own type check warns of the list it declares (list<Object>), then sends it as JSON
    with pytest.warns(UserWarning, match="value of metric"):
        rows = post.get_insights(params={"metric": ["post_media_view", "post_total_media_view_unique"]})
    insights = {row["name"]: row["values"][0]["value"] for row in rows}

    read = tidings_reads(fake, Platform.FACEBOOK, PAGE, PAGE_TOKEN, post_id)
    assert (shares, reactions) == (read.shares, read.likes)
    assert insights == {"post_media_view": read.views, "post_total_media_view_unique": read.reach}


def test_an_instagram_media_s_insights_through_the_sdk_are_tidings_metrics(fake: FakePlatformServer) -> None:
    api = api_for(fake, "instagram", IG_TOKEN)
    user = IGUser(IG_USER, api=api)
    container = user.create_media(params={"image_url": fake.media_url("front.jpg"), "caption": "Front"})
    media_id = user.create_media_publish(params={"creation_id": container["id"]})["id"]
    fake.set_metrics(Platform.INSTAGRAM, media_id, COUNTS, grow=False)

    names = ["views", "reach", "likes", "comments", "shares", "saved"]
    rows = IGMedia(media_id, api=api).get_insights(params={"metric": names})
    insights = {row["name"]: row["values"][0]["value"] for row in rows}

    read = tidings_reads(fake, Platform.INSTAGRAM, IG_USER, IG_TOKEN, media_id)
    assert insights == {
        "views": read.views,
        "reach": read.reach,
        "likes": read.likes,
        "comments": read.comments,
        "shares": read.shares,
        "saved": read.saves,
    }
