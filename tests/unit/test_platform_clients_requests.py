"""What each client sends (the documented request shapes) and how its read-back decides that a post
on the platform is the one a request created: same account, exactly the same text, not older than
the attempt (less a small clock-skew allowance)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from platform_hosts import SETTINGS

from tidings.core.clock import FakeClock
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.publishing.base import PlatformClient, PublishRequest
from tidings.publishing.clients import build_client
from tidings.publishing.clients.linkedin import little_text

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TOKEN = "token-1"
VIDEO = "https://media.test/clip.mp4"
PHOTO = "https://media.test/a.jpg"
PHOTO2 = "https://media.test/b.jpg"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A platform played by one handler function; every request is kept."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.handler(request)


def client(platform: Platform, handler: Handler) -> tuple[PlatformClient, Recorder]:
    recorder = Recorder(handler)
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    # The handler plays the media host too: the media is fetched through the same mock.
    return build_client(platform, SETTINGS, http, FakeClock(NOW), media_http=http), recorder


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode(), keep_blank_values=True).items()}


def at(offset_seconds: float) -> datetime:
    return NOW + timedelta(seconds=offset_seconds)


def graph_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


# -- Facebook --------------------------------------------------------------------------------------


def test_facebook_feed_post_sends_message_and_link_as_form_fields() -> None:
    fb, sent = client(Platform.FACEBOOK, lambda r: httpx.Response(200, json={"id": "1234_5"}))
    request = PublishRequest(post_id="p1", text="Open house Sunday", link="https://example.com/l/1")
    published = fb.publish(AccountCredentials(Platform.FACEBOOK, "1234", TOKEN), request)
    assert [r.url.path for r in sent.requests] == ["/v23.0/1234/feed"]
    assert form(sent.requests[0]) == {"message": "Open house Sunday", "link": "https://example.com/l/1"}
    assert published.platform_post_id == "1234_5"
    assert published.url == "https://www.facebook.com/1234_5"


def test_facebook_photo_post_puts_the_link_in_the_caption() -> None:
    answer = httpx.Response(200, json={"id": "77", "post_id": "1234_78"})
    fb, sent = client(Platform.FACEBOOK, lambda r: answer)
    request = PublishRequest(
        post_id="p1", text="New listing", link="https://example.com/l/1", media_urls=(PHOTO,)
    )
    published = fb.publish(AccountCredentials(Platform.FACEBOOK, "1234", TOKEN), request)
    assert sent.requests[0].url.path == "/v23.0/1234/photos"
    assert form(sent.requests[0]) == {"url": PHOTO, "caption": "New listing\n\nhttps://example.com/l/1"}
    assert published.platform_post_id == "1234_78"


def test_facebook_several_photos_are_uploaded_unpublished_then_attached_to_one_post() -> None:
    ids = iter(["501", "502"])

    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/photos"):
            return httpx.Response(200, json={"id": next(ids)})
        return httpx.Response(200, json={"id": "1234_9"})

    fb, sent = client(Platform.FACEBOOK, platform)
    request = PublishRequest(post_id="p1", text="Two views", media_urls=(PHOTO, PHOTO2))
    fb.publish(AccountCredentials(Platform.FACEBOOK, "1234", TOKEN), request)
    uploads, post = sent.requests[:2], sent.requests[2]
    assert [form(r) for r in uploads] == [
        {"url": PHOTO, "published": "false"},
        {"url": PHOTO2, "published": "false"},
    ]
    assert form(post) == {
        "message": "Two views",
        "attached_media[0]": json.dumps({"media_fbid": "501"}),
        "attached_media[1]": json.dumps({"media_fbid": "502"}),
    }


def test_facebook_video_post_passes_the_url_for_facebook_to_fetch() -> None:
    fb, sent = client(Platform.FACEBOOK, lambda r: httpx.Response(200, json={"id": "900"}))
    request = PublishRequest(post_id="p1", text="Tour", media_urls=(VIDEO,))
    published = fb.publish(AccountCredentials(Platform.FACEBOOK, "1234", TOKEN), request)
    assert sent.requests[0].url.path == "/v23.0/1234/videos"
    assert form(sent.requests[0]) == {"file_url": VIDEO, "description": "Tour"}
    assert published.url == "https://www.facebook.com/1234/videos/900"


def _feed(*pages: list[dict[str, Any]]) -> Handler:
    def platform(request: httpx.Request) -> httpx.Response:
        index = int(request.url.params.get("after", "0"))
        body: dict[str, Any] = {"data": pages[index]}
        if index + 1 < len(pages):
            body["paging"] = {"cursors": {"after": str(index + 1)}, "next": "https://graph.test/next"}
        return httpx.Response(200, json=body)

    return platform


def test_facebook_read_back_finds_the_exact_message_after_the_attempt_started() -> None:
    page = [
        {"id": "1234_3", "message": "Hello again", "created_time": graph_time(at(5))},
        {
            "id": "1234_2",
            "message": "Hello",
            "created_time": graph_time(at(2)),
            "permalink_url": "https://fb/2",
        },
        {"id": "1234_1", "message": "Hello", "created_time": graph_time(at(-3600))},
    ]
    fb, sent = client(Platform.FACEBOOK, _feed(page))
    found = fb.find_published(
        AccountCredentials(Platform.FACEBOOK, "1234", TOKEN), PublishRequest(post_id="p1", text="Hello"), NOW
    )
    assert found is not None
    assert (found.platform_post_id, found.url, found.published_at) == ("1234_2", "https://fb/2", at(2))
    params = sent.requests[0].url.params
    assert sent.requests[0].url.path == "/v23.0/1234/feed"
    assert params["since"] == str(int((NOW - timedelta(seconds=30)).timestamp()))
    assert set(params["fields"].split(",")) >= {"id", "message", "created_time"}


def test_facebook_read_back_ignores_the_same_text_from_before_the_attempt() -> None:
    page = [{"id": "1234_1", "message": "Hello", "created_time": graph_time(at(-120))}]
    fb, _ = client(Platform.FACEBOOK, _feed(page))
    found = fb.find_published(
        AccountCredentials(Platform.FACEBOOK, "1234", TOKEN), PublishRequest(post_id="p1", text="Hello"), NOW
    )
    assert found is None


def test_facebook_read_back_follows_the_cursor_to_the_next_page() -> None:
    first = [
        {"id": f"1234_{n}", "message": f"other {n}", "created_time": graph_time(at(60))} for n in range(3)
    ]
    second = [{"id": "1234_9", "message": "Hello", "created_time": graph_time(at(1))}]
    fb, sent = client(Platform.FACEBOOK, _feed(first, second))
    found = fb.find_published(
        AccountCredentials(Platform.FACEBOOK, "1234", TOKEN), PublishRequest(post_id="p1", text="Hello"), NOW
    )
    assert found is not None
    assert found.platform_post_id == "1234_9"
    assert sent.requests[1].url.params["after"] == "1"


def test_facebook_read_back_of_a_photo_post_looks_for_the_caption_it_sent() -> None:
    page = [{"id": "1234_4", "message": "Look\n\nhttps://example.com/x", "created_time": graph_time(at(1))}]
    fb, _ = client(Platform.FACEBOOK, _feed(page))
    request = PublishRequest(post_id="p1", text="Look", link="https://example.com/x", media_urls=(PHOTO,))
    found = fb.find_published(AccountCredentials(Platform.FACEBOOK, "1234", TOKEN), request, NOW)
    assert found is not None


# -- X ---------------------------------------------------------------------------------------------


def test_x_publish_sends_the_text_as_json() -> None:
    x, sent = client(
        Platform.TWITTER, lambda r: httpx.Response(201, json={"data": {"id": "19", "text": "t"}})
    )
    published = x.publish(
        AccountCredentials(Platform.TWITTER, "42", TOKEN), PublishRequest(post_id="p", text="Hi")
    )
    assert sent.requests[0].url.path == "/2/tweets"
    assert json.loads(sent.requests[0].content) == {"text": "Hi"}
    assert published.url == "https://x.com/i/web/status/19"


def test_x_read_back_matches_text_that_x_returns_with_wrapped_links_and_escaped_characters() -> None:
    sent_text = "Rates & fees <today>: https://example.com/rates?x=1 #mortgage"
    as_returned = "Rates &amp; fees &lt;today&gt;: https://t.co/AbCdEf123 #mortgage"
    posts = [
        {
            "id": "3",
            "text": "Rates &amp; fees &lt;today&gt;: https://t.co/Zz #mortgages",
            "created_at": "2026-01-05T09:00:05.000Z",
        },
        {"id": "2", "text": as_returned, "created_at": "2026-01-05T09:00:01.000Z"},
    ]
    x, sent = client(
        Platform.TWITTER, lambda r: httpx.Response(200, json={"data": posts, "meta": {"result_count": 2}})
    )
    found = x.find_published(
        AccountCredentials(Platform.TWITTER, "42", TOKEN), PublishRequest("p", sent_text), NOW
    )
    assert found is not None
    assert found.platform_post_id == "2"
    params = sent.requests[0].url.params
    assert sent.requests[0].url.path == "/2/users/42/tweets"
    assert params["start_time"] == "2026-01-05T08:59:30Z"
    assert "created_at" in params["tweet.fields"]


def test_x_read_back_finds_nothing_when_no_post_has_the_text() -> None:
    posts = [{"id": "2", "text": "Hello world", "created_at": "2026-01-05T09:00:01.000Z"}]
    x, _ = client(
        Platform.TWITTER, lambda r: httpx.Response(200, json={"data": posts, "meta": {"result_count": 1}})
    )
    found = x.find_published(
        AccountCredentials(Platform.TWITTER, "42", TOKEN), PublishRequest("p", "Hello"), NOW
    )
    assert found is None


def test_x_read_back_pages_with_the_pagination_token() -> None:
    pages = [
        {"data": [{"id": "5", "text": "other"}], "meta": {"result_count": 1, "next_token": "tok2"}},
        {"data": [{"id": "4", "text": "Hello"}], "meta": {"result_count": 1}},
    ]
    x, sent = client(Platform.TWITTER, lambda r: httpx.Response(200, json=pages[len(sent.requests) - 1]))
    found = x.find_published(
        AccountCredentials(Platform.TWITTER, "42", TOKEN), PublishRequest("p", "Hello"), NOW
    )
    assert found is not None
    assert found.platform_post_id == "4"
    assert sent.requests[1].url.params["pagination_token"] == "tok2"


# -- LinkedIn --------------------------------------------------------------------------------------


def test_linkedin_publish_sends_the_documented_post_and_version_headers() -> None:
    li, sent = client(
        Platform.LINKEDIN, lambda r: httpx.Response(201, headers={"x-restli-id": "urn:li:share:7"})
    )
    author = "urn:li:organization:2414183"
    published = li.publish(
        AccountCredentials(Platform.LINKEDIN, author, TOKEN), PublishRequest("p", "We're hiring")
    )
    request = sent.requests[0]
    assert request.url.path == "/rest/posts"
    assert request.headers["LinkedIn-Version"] == "202610"
    assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert json.loads(request.content) == {
        "author": author,
        "commentary": "We're hiring",
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    assert published.platform_post_id == "urn:li:share:7"
    assert published.url == "https://www.linkedin.com/feed/update/urn:li:share:7/"


@pytest.mark.parametrize(
    ("plain", "little"),
    [
        ("Plain words, nothing else.", "Plain words, nothing else."),
        ("Q&A (live) at 5pm", "Q&A \\(live\\) at 5pm"),
        ("Join us #OpenHouse!", "Join us {hashtag|\\#|OpenHouse}!"),
        (
            "#first_time buyers @ [home] <3 ~ *",
            "{hashtag|\\#|first\\_time} buyers \\@ \\[home\\] \\<3 \\~ \\*",
        ),
        ("a\\b|c{d}", "a\\\\b\\|c\\{d\\}"),
    ],
)
def test_linkedin_commentary_is_little_text(plain: str, little: str) -> None:
    assert little_text(plain) == little


def test_linkedin_read_back_finds_the_authors_post_by_its_commentary() -> None:
    author = "urn:li:person:abc"
    ms = int(at(2).timestamp() * 1000)
    elements = [
        {"id": "urn:li:share:9", "commentary": "Something else", "createdAt": ms, "lastModifiedAt": ms},
        {
            "id": "urn:li:share:8",
            "commentary": "Open house \\(Sunday\\)",
            "createdAt": ms,
            "lastModifiedAt": ms,
        },
    ]
    li, sent = client(
        Platform.LINKEDIN, lambda r: httpx.Response(200, json={"elements": elements, "paging": {}})
    )
    request = PublishRequest("p", "Open house (Sunday)")
    found = li.find_published(AccountCredentials(Platform.LINKEDIN, author, TOKEN), request, NOW)
    assert found is not None
    assert (found.platform_post_id, found.published_at) == ("urn:li:share:8", at(2))
    query = sent.requests[0].url.query.decode()
    assert "author=urn%3Ali%3Aperson%3Aabc" in query
    assert "q=author" in query
    assert sent.requests[0].headers["LinkedIn-Version"] == "202610"


def test_linkedin_read_back_ignores_the_same_commentary_from_before_the_attempt() -> None:
    old = int(at(-600).timestamp() * 1000)
    elements = [{"id": "urn:li:share:1", "commentary": "Hello", "createdAt": old, "lastModifiedAt": old}]
    li, _ = client(Platform.LINKEDIN, lambda r: httpx.Response(200, json={"elements": elements}))
    found = li.find_published(
        AccountCredentials(Platform.LINKEDIN, "urn:li:person:a", TOKEN), PublishRequest("p", "Hello"), NOW
    )
    assert found is None


# -- Instagram -------------------------------------------------------------------------------------


def _instagram(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("/content_publishing_limit"):
        return httpx.Response(200, json={"data": [{"quota_usage": 0, "config": {"quota_total": 100}}]})
    if path.endswith("/media") and request.method == "POST":
        return httpx.Response(200, json={"id": f"c{len(form(request))}"})
    if request.method == "GET" and "/media" not in path:
        return httpx.Response(
            200, json={"status_code": "FINISHED", "permalink": "https://www.instagram.com/p/z/"}
        )
    return httpx.Response(200, json={"id": "m1"})


def test_instagram_image_then_publish_with_the_container_id() -> None:
    ig, sent = client(Platform.INSTAGRAM, _instagram)
    ig.publish(
        AccountCredentials(Platform.INSTAGRAM, "1784", TOKEN),
        PublishRequest("p", "Caption", media_urls=(PHOTO,)),
    )
    limit, create, publish = sent.requests[0], sent.requests[1], sent.requests[3]
    assert (limit.url.path, limit.url.params["fields"]) == (
        "/v23.0/1784/content_publishing_limit",
        "quota_usage,config",
    )
    assert (create.url.path, form(create)) == (
        "/v23.0/1784/media",
        {"image_url": PHOTO, "caption": "Caption"},
    )
    assert (publish.url.path, form(publish)) == ("/v23.0/1784/media_publish", {"creation_id": "c2"})


def test_instagram_video_goes_out_as_a_reel() -> None:
    ig, sent = client(Platform.INSTAGRAM, _instagram)
    ig.publish(
        AccountCredentials(Platform.INSTAGRAM, "1784", TOKEN),
        PublishRequest("p", "Tour", media_urls=(VIDEO,)),
    )
    assert form(sent.requests[1]) == {"video_url": VIDEO, "media_type": "REELS", "caption": "Tour"}


def test_instagram_several_images_go_out_as_a_carousel() -> None:
    ig, sent = client(Platform.INSTAGRAM, _instagram)
    request = PublishRequest("p", "Rooms", media_urls=(PHOTO, PHOTO2))
    ig.publish(AccountCredentials(Platform.INSTAGRAM, "1784", TOKEN), request)
    creates = [form(r) for r in sent.requests if r.method == "POST" and r.url.path.endswith("/media")]
    assert creates == [
        {"image_url": PHOTO, "is_carousel_item": "true"},
        {"image_url": PHOTO2, "is_carousel_item": "true"},
        {"media_type": "CAROUSEL", "children": "c2,c2", "caption": "Rooms"},
    ]


def test_instagram_read_back_matches_the_caption() -> None:
    data = [
        {"id": "m3", "caption": "Rooms!", "timestamp": graph_time(at(3))},
        {
            "id": "m2",
            "caption": "Rooms",
            "timestamp": graph_time(at(2)),
            "permalink": "https://www.instagram.com/p/q/",
        },
    ]
    ig, sent = client(Platform.INSTAGRAM, lambda r: httpx.Response(200, json={"data": data}))
    found = ig.find_published(
        AccountCredentials(Platform.INSTAGRAM, "1784", TOKEN), PublishRequest("p", "Rooms"), NOW
    )
    assert found is not None
    assert (found.platform_post_id, found.url) == ("m2", "https://www.instagram.com/p/q/")
    assert sent.requests[0].url.path == "/v23.0/1784/media"


# -- YouTube ---------------------------------------------------------------------------------------

CLIP = b"\x00\x00\x00\x18ftypmp42" * 10


def _youtube(request: httpx.Request) -> httpx.Response:
    if request.url.host == "media.test":
        return httpx.Response(200, content=CLIP, headers={"Content-Type": "video/mp4"})
    if request.method == "POST":
        return httpx.Response(
            200, headers={"Location": "https://youtube.test/upload/youtube/v3/videos?upload_id=u9"}
        )
    return httpx.Response(201, json={"id": "vid9", "snippet": {"publishedAt": "2026-01-05T09:00:02Z"}})


def test_youtube_opens_a_resumable_session_then_puts_the_video_bytes() -> None:
    yt, sent = client(Platform.YOUTUBE, _youtube)
    request = PublishRequest("p", "Full tour of 12 Elm St", media_urls=(VIDEO,), title="12 Elm St")
    published = yt.publish(AccountCredentials(Platform.YOUTUBE, "UCx", TOKEN), request)
    fetch, start, upload = sent.requests
    assert fetch.url == VIDEO
    assert start.url.params["uploadType"] == "resumable"
    assert start.url.params["part"] == "snippet,status"
    assert start.headers["X-Upload-Content-Length"] == str(len(CLIP))
    assert start.headers["X-Upload-Content-Type"] == "video/mp4"
    assert json.loads(start.content) == {
        "snippet": {"title": "12 Elm St", "description": "Full tour of 12 Elm St"},
        "status": {"privacyStatus": "public"},
    }
    assert upload.method == "PUT"
    assert upload.url.params["upload_id"] == "u9"
    assert upload.content == CLIP
    assert upload.headers["Content-Type"] == "video/mp4"
    assert (published.platform_post_id, published.url) == ("vid9", "https://www.youtube.com/watch?v=vid9")
    assert published.published_at == at(2)


def _channel(videos: dict[str, tuple[str, str]]) -> Handler:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/search"):
            items = [
                {
                    "id": {"kind": "youtube#video", "videoId": vid},
                    "snippet": {"title": title.replace("'", "&#39;"), "publishedAt": "2026-01-05T09:00:02Z"},
                }
                for vid, (title, _) in videos.items()
            ]
            return httpx.Response(200, json={"items": items})
        wanted = request.url.params["id"].split(",")
        items = [
            {
                "id": vid,
                "snippet": {
                    "title": videos[vid][0],
                    "description": videos[vid][1],
                    "publishedAt": "2026-01-05T09:00:02Z",
                },
            }
            for vid in wanted
        ]
        return httpx.Response(200, json={"items": items})

    return platform


def test_youtube_read_back_confirms_title_and_description() -> None:
    videos = {"a": ("Buyer's guide", "An older cut"), "b": ("Buyer's guide", "Step by step")}
    yt, sent = client(Platform.YOUTUBE, _channel(videos))
    request = PublishRequest("p", "Step by step", media_urls=(VIDEO,), title="Buyer's guide")
    found = yt.find_published(AccountCredentials(Platform.YOUTUBE, "UCx", TOKEN), request, NOW)
    assert found is not None
    assert found.platform_post_id == "b"
    assert sent.requests[0].url.params["forMine"] == "true"
    assert sent.requests[1].url.params["id"] == "a,b"


def test_youtube_read_back_finds_nothing_when_the_description_differs() -> None:
    yt, _ = client(Platform.YOUTUBE, _channel({"a": ("Buyer's guide", "Another text")}))
    request = PublishRequest("p", "Step by step", media_urls=(VIDEO,), title="Buyer's guide")
    assert yt.find_published(AccountCredentials(Platform.YOUTUBE, "UCx", TOKEN), request, NOW) is None


# -- TikTok ----------------------------------------------------------------------------------------


def _videos(*videos: dict[str, Any]) -> Handler:
    ok = {"code": "ok", "message": "", "log_id": "L"}
    return lambda r: httpx.Response(
        200, json={"data": {"videos": list(videos), "has_more": False}, "error": ok}
    )


def test_tiktok_read_back_matches_the_listed_caption() -> None:
    tt, sent = client(
        Platform.TIKTOK,
        _videos(
            {"id": "2", "video_description": "Tour!", "create_time": int(at(5).timestamp())},
            {
                "id": "1",
                "video_description": "Tour",
                "create_time": int(at(2).timestamp()),
                "share_url": "https://tt/1",
            },
        ),
    )
    found = tt.find_published(
        AccountCredentials(Platform.TIKTOK, "o", TOKEN), PublishRequest("p", "Tour"), NOW
    )
    assert found is not None
    assert (found.platform_post_id, found.url) == ("1", "https://tt/1")
    assert sent.requests[0].url.path == "/v2/video/list/"
    assert "video_description" in sent.requests[0].url.params["fields"]


def test_tiktok_read_back_matches_a_long_caption_on_its_listed_prefix() -> None:
    caption = "A" * 100 + " " + "B" * 100
    tt, _ = client(
        Platform.TIKTOK,
        _videos({"id": "7", "video_description": caption[:150], "create_time": int(at(1).timestamp())}),
    )
    found = tt.find_published(
        AccountCredentials(Platform.TIKTOK, "o", TOKEN), PublishRequest("p", caption), NOW
    )
    assert found is not None
    assert found.platform_post_id == "7"


def test_tiktok_read_back_ignores_a_video_from_before_the_attempt() -> None:
    tt, _ = client(
        Platform.TIKTOK,
        _videos({"id": "7", "video_description": "Tour", "create_time": int(at(-300).timestamp())}),
    )
    assert (
        tt.find_published(AccountCredentials(Platform.TIKTOK, "o", TOKEN), PublishRequest("p", "Tour"), NOW)
        is None
    )


# -- media uploads on X and LinkedIn ---------------------------------------------------------------

BIG = bytes(range(256)) * (4 * 1024 * 4 + 8)  # 4 MiB and 2 KiB: two chunks


def _x_with_media(states: list[str]) -> Handler:
    def platform(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.url.host == "media.test":
            kind = "video/mp4" if path.endswith(".mp4") else "image/jpeg"
            return httpx.Response(
                200, content=BIG if kind == "video/mp4" else b"jpeg", headers={"Content-Type": kind}
            )
        if path == "/2/media/upload/initialize":
            return httpx.Response(200, json={"data": {"id": "m7", "media_key": "7_m7"}})
        if path.endswith("/append"):
            return httpx.Response(200, json={"data": {}})
        if path.endswith("/finalize"):
            info = {"state": "pending", "check_after_secs": 2} if states else None
            return httpx.Response(200, json={"data": {"id": "m7", "processing_info": info}})
        if path == "/2/media/upload":
            return httpx.Response(
                200, json={"data": {"id": "m7", "processing_info": {"state": states.pop(0)}}}
            )
        return httpx.Response(201, json={"data": {"id": "19", "text": "t"}})

    return platform


def test_x_video_goes_up_in_chunks_and_waits_for_processing_before_the_post() -> None:
    x, sent = client(Platform.TWITTER, _x_with_media(["in_progress", "succeeded"]))
    request = PublishRequest(post_id="p", text="Tour", media_urls=(VIDEO,))
    x.publish(AccountCredentials(Platform.TWITTER, "42", TOKEN), request)
    calls = [(r.method, r.url.path) for r in sent.requests if r.url.host == "x.test"]
    assert calls == [
        ("POST", "/2/media/upload/initialize"),
        ("POST", "/2/media/upload/m7/append"),
        ("POST", "/2/media/upload/m7/append"),
        ("POST", "/2/media/upload/m7/finalize"),
        ("GET", "/2/media/upload"),
        ("GET", "/2/media/upload"),
        ("POST", "/2/tweets"),
    ]
    init = json.loads(sent.requests[1].content)
    assert init == {"media_type": "video/mp4", "total_bytes": len(BIG), "media_category": "tweet_video"}
    appended = [r for r in sent.requests if r.url.path.endswith("/append")]
    assert b'name="segment_index"\r\n\r\n0' in appended[0].content
    assert b'name="segment_index"\r\n\r\n1' in appended[1].content
    assert sum(len(r.content) for r in appended) > len(BIG)
    assert sent.requests[5].url.params["command"] == "STATUS"
    assert json.loads(sent.requests[-1].content) == {"text": "Tour", "media": {"media_ids": ["m7"]}}


def test_x_photo_needs_no_processing_wait() -> None:
    x, sent = client(Platform.TWITTER, _x_with_media([]))
    request = PublishRequest(post_id="p", text="Front", media_urls=(PHOTO,))
    x.publish(AccountCredentials(Platform.TWITTER, "42", TOKEN), request)
    assert json.loads(sent.requests[1].content)["media_category"] == "tweet_image"
    assert not [r for r in sent.requests if r.method == "GET" and r.url.host == "x.test"]


def test_x_media_that_fails_processing_is_permanent_and_never_posted() -> None:
    x, sent = client(Platform.TWITTER, _x_with_media(["failed"]))
    with pytest.raises(PlatformCallError) as caught:
        x.publish(
            AccountCredentials(Platform.TWITTER, "42", TOKEN),
            PublishRequest("p", "Tour", media_urls=(VIDEO,)),
        )
    assert caught.value.kind is ErrorKind.PERMANENT
    assert not [r for r in sent.requests if r.url.path == "/2/tweets"]


def _linkedin_with_media(video_states: list[str]) -> Handler:
    def platform(request: httpx.Request) -> httpx.Response:
        path, action = request.url.path, request.url.params.get("action")
        if request.url.host == "media.test":
            kind = "video/mp4" if path.endswith(".mp4") else "image/jpeg"
            return httpx.Response(
                200, content=BIG if kind == "video/mp4" else b"jpeg", headers={"Content-Type": kind}
            )
        if path == "/rest/images" and action == "initializeUpload":
            n = len([r for r in sent_requests if r.url.path == "/rest/images"])
            value = {"uploadUrl": f"https://www.linkedin.com/dms-uploads/i{n}", "image": f"urn:li:image:I{n}"}
            return httpx.Response(200, json={"value": value})
        if path == "/rest/videos" and action == "initializeUpload":
            parts = [
                {"uploadUrl": "https://www.linkedin.com/dms-uploads/p0", "firstByte": 0, "lastByte": 4194303},
                {
                    "uploadUrl": "https://www.linkedin.com/dms-uploads/p1",
                    "firstByte": 4194304,
                    "lastByte": len(BIG) - 1,
                },
            ]
            value = {"video": "urn:li:video:V1", "uploadInstructions": parts, "uploadToken": "tk"}
            return httpx.Response(200, json={"value": value})
        if path.startswith("/dms-uploads/"):
            return httpx.Response(201, headers={"ETag": f"etag-{path[-2:]}"})
        if path == "/rest/videos" and action == "finalizeUpload":
            return httpx.Response(200)
        if path.startswith("/rest/videos/"):
            return httpx.Response(200, json={"status": video_states.pop(0)})
        return httpx.Response(201, headers={"x-restli-id": "urn:li:share:5"})

    sent_requests: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        sent_requests.append(request)
        return platform(request)

    return recording


def test_linkedin_images_are_uploaded_then_posted_as_a_multi_image() -> None:
    li, sent = client(Platform.LINKEDIN, _linkedin_with_media([]))
    author = "urn:li:person:abc"
    li.publish(
        AccountCredentials(Platform.LINKEDIN, author, TOKEN),
        PublishRequest("p", "Rooms", media_urls=(PHOTO, PHOTO2)),
    )
    inits = [json.loads(r.content) for r in sent.requests if r.url.path == "/rest/images"]
    assert inits == [{"initializeUploadRequest": {"owner": author}}] * 2
    uploads = [r for r in sent.requests if r.url.path.startswith("/dms-uploads/")]
    assert [(r.method, r.content, r.headers["Authorization"]) for r in uploads] == [
        ("PUT", b"jpeg", f"Bearer {TOKEN}")
    ] * 2
    post = json.loads(sent.requests[-1].content)
    assert post["content"] == {
        "multiImage": {"images": [{"id": "urn:li:image:I1"}, {"id": "urn:li:image:I2"}]}
    }


def test_linkedin_video_is_uploaded_in_parts_finalized_and_awaited() -> None:
    li, sent = client(Platform.LINKEDIN, _linkedin_with_media(["PROCESSING", "AVAILABLE"]))
    author = "urn:li:organization:9"
    request = PublishRequest("p", "Tour", media_urls=(VIDEO,), title="Tour video")
    li.publish(AccountCredentials(Platform.LINKEDIN, author, TOKEN), request)
    init = json.loads(
        next(r for r in sent.requests if r.url.params.get("action") == "initializeUpload").content
    )
    assert init == {
        "initializeUploadRequest": {
            "owner": author,
            "fileSizeBytes": len(BIG),
            "uploadCaptions": False,
            "uploadThumbnail": False,
        }
    }
    parts = [r for r in sent.requests if r.url.path.startswith("/dms-uploads/")]
    assert b"".join(r.content for r in parts) == BIG
    final = json.loads(
        next(r for r in sent.requests if r.url.params.get("action") == "finalizeUpload").content
    )
    assert final == {
        "finalizeUploadRequest": {
            "video": "urn:li:video:V1",
            "uploadToken": "tk",
            "uploadedPartIds": ["etag-p0", "etag-p1"],
        }
    }
    assert len([r for r in sent.requests if r.url.path.startswith("/rest/videos/")]) == 2
    assert json.loads(sent.requests[-1].content)["content"] == {
        "media": {"id": "urn:li:video:V1", "title": "Tour video"}
    }
