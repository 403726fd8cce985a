"""The fake Graph API (Facebook Pages, Instagram) through facebook-business (Meta's official Business
SDK), with each session's documented `GRAPH` URL set to the fake's prefix: the Page read, a feed post
and the feed read back through the SDK's cursor, and Instagram's two-step publish (container, status,
media_publish) with the publishing limit; Graph errors as the SDK's FacebookRequestError."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from facebook_business.adobjects.iguser import IGUser
from facebook_business.adobjects.page import Page
from facebook_business.api import FacebookAdsApi, FacebookSession
from facebook_business.exceptions import FacebookRequestError

from infra.local.fakes.platforms import FakePlatformServer
from tidings.core.platforms import Platform

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
