"""What each metrics reader sends (the documented request shapes) and how it reads what the platform
answers in the cases the fake platform server does not play: Meta refusing an insights metric or the
insights permission, Instagram's "not enough viewers", X refusing private metrics for a whole token,
YouTube hiding a count, and the builder of the six readers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from platform_hosts import SETTINGS

from tidings.core.clock import FakeClock
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.models.post_analytics import MetricsUnavailable, PostMetrics
from tidings.publishing.clients import build_metrics_readers
from tidings.publishing.metrics import MetricsReader

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TOKEN = "token-1"
Handler = Callable[[httpx.Request], httpx.Response]


class Played:
    """A platform played by routes (method, path regex) -> handler; every request is kept."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[httpx.Request] = []
        self.by_query: list[tuple[str, str, Handler]] = []

    def on(self, method: str, pattern: str, handler: Handler) -> Played:
        self.routes.append((method, re.compile(pattern), handler))
        return self

    def on_query(self, name: str, value: str, handler: Handler) -> Played:
        """Answer any request whose query parameter `name` is `value` (before the routes)."""
        self.by_query.append((name, value, handler))
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        for name, value, handler in self.by_query:
            if query(request).get(name) == value:
                return handler(request)
        for method, pattern, handler in reversed(self.routes):
            if request.method == method and pattern.search(request.url.path):
                return handler(request)
        return httpx.Response(404, json={"error": f"unexpected {request.method} {request.url}"})


def answer(status: int, body: object = None, headers: dict[str, str] | None = None) -> Handler:
    return lambda _: httpx.Response(status, json=body, headers=headers)


def reader(platform: Platform, played: Played) -> MetricsReader:
    http = httpx.Client(transport=httpx.MockTransport(played))
    return build_metrics_readers(SETTINGS, http, FakeClock(NOW))[platform]


def query(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}


def unavailable(read: PostMetrics | MetricsUnavailable, reason: str) -> None:
    assert isinstance(read, MetricsUnavailable)
    assert read.reason == reason


def graph_error(code: int, subcode: int | None = None, status: int = 400) -> Handler:
    error: dict[str, object] = {"message": f"error {code}", "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return answer(status, {"error": error})


def insights(**values: int) -> Handler:
    data = [
        {"name": k, "period": "lifetime", "values": [{"value": v}], "id": f"x/insights/{k}"}
        for k, v in values.items()
    ]
    return answer(200, {"data": data})


def test_the_builder_makes_the_six_readers_with_their_batch_limits() -> None:
    readers = build_metrics_readers(SETTINGS, httpx.Client(transport=httpx.MockTransport(Played())))
    assert {platform: r.max_ids for platform, r in readers.items()} == {
        Platform.FACEBOOK: 1,
        Platform.INSTAGRAM: 1,
        Platform.TWITTER: 100,
        Platform.LINKEDIN: 1,
        Platform.YOUTUBE: 50,
        Platform.TIKTOK: 20,
    }
    assert all(r.platform is platform for platform, r in readers.items())


# -- Facebook ----------------------------------------------------------------------------------------

FB = AccountCredentials(Platform.FACEBOOK, "1234", TOKEN)


def test_facebook_reads_the_post_node_then_its_insights_with_the_current_metric_names() -> None:
    node = {
        "id": "1234_5",
        "reactions": {"data": [], "summary": {"total_count": 40}},
        "comments": {"data": [], "summary": {"total_count": 6}},
    }
    played = (
        Played()
        .on("GET", r"/1234_5$", answer(200, node))
        .on(
            "GET",
            r"/1234_5/insights$",
            insights(post_media_view=900, post_total_media_view_unique=610, post_clicks=31),
        )
    )

    read = reader(Platform.FACEBOOK, played).read_metrics(FB, ["1234_5"])["1234_5"]

    assert read == PostMetrics(
        views=900, reach=610, likes=40, comments=6, shares=0, clicks=31
    )  # no `shares`: 0
    fields, metrics = query(played.requests[0])["fields"], query(played.requests[1])["metric"]
    assert fields == "reactions.limit(0).summary(total_count),comments.limit(0).summary(total_count),shares"
    assert metrics == "post_media_view,post_total_media_view_unique,post_clicks"
    assert all(
        r.headers["Authorization"] == f"Bearer {TOKEN}" and TOKEN not in str(r.url) for r in played.requests
    )


def test_facebook_drops_a_metric_meta_refuses_and_reports_none_without_the_insights_permission() -> None:
    node = {"id": "1234_5", "shares": {"count": 4}}
    refusing = (
        Played()
        .on("GET", r"/1234_5$", answer(200, node))
        .on("GET", r"/1234_5/insights$", graph_error(100))  # "must be a valid insights metric"
        .on_query(
            "metric",
            "post_media_view,post_total_media_view_unique",
            insights(post_media_view=10, post_total_media_view_unique=8),
        )
    )
    no_permission = (
        Played()
        .on("GET", r"/1234_5$", answer(200, node))
        .on("GET", r"/insights$", graph_error(10, status=403))
    )

    refused = reader(Platform.FACEBOOK, refusing).read_metrics(FB, ["1234_5"])["1234_5"]
    unpermitted = reader(Platform.FACEBOOK, no_permission).read_metrics(FB, ["1234_5"])["1234_5"]

    assert refused == PostMetrics(views=10, reach=8, shares=4)
    assert unpermitted == PostMetrics(shares=4)


def test_facebook_reads_a_video_s_video_insights_and_a_deleted_post_as_deleted() -> None:
    played = (
        Played()
        .on("GET", r"/777$", answer(200, {"id": "777", "reactions": {"summary": {"total_count": 2}}}))
        .on("GET", r"/777/video_insights$", insights(total_video_views=50, total_video_views_unique=30))
        .on("GET", r"/1234_9$", graph_error(100, 33))
    )

    reads = reader(Platform.FACEBOOK, played).read_metrics(FB, ["777", "1234_9"])

    assert reads["777"] == PostMetrics(views=50, reach=30, likes=2)
    assert "shares" not in query(played.requests[0])["fields"]
    unavailable(reads["1234_9"], "post_deleted")


def test_facebook_throttling_on_insights_fails_the_read_with_when_to_retry() -> None:
    played = (
        Played()
        .on("GET", r"/1234_5$", answer(200, {"id": "1234_5"}))
        .on(
            "GET",
            r"/insights$",
            lambda r: httpx.Response(
                400,
                json={"error": {"code": 32, "message": "Page request limit reached"}},
                headers={"Retry-After": "120"},
            ),
        )
    )
    with pytest.raises(PlatformCallError) as caught:
        reader(Platform.FACEBOOK, played).read_metrics(FB, ["1234_5"])
    assert (caught.value.kind, caught.value.retry_after) == (ErrorKind.RATE_LIMITED, 120.0)


# -- Instagram -----------------------------------------------------------------------------------------

IG = AccountCredentials(Platform.INSTAGRAM, "1784", TOKEN)


def test_instagram_maps_saved_to_saves_and_reads_total_value_answers() -> None:
    data = [
        {"name": "views", "period": "lifetime", "values": [{"value": 500}]},
        {"name": "reach", "period": "lifetime", "total_value": {"value": 320}},
        {"name": "saved", "period": "lifetime", "values": [{"value": 12}]},
        {"name": "total_interactions", "period": "lifetime", "values": [{"value": 99}]},
    ]
    played = Played().on("GET", r"/m1/insights$", answer(200, {"data": data}))

    read = reader(Platform.INSTAGRAM, played).read_metrics(IG, ["m1"])["m1"]

    assert read == PostMetrics(views=500, reach=320, saves=12)
    assert query(played.requests[0])["metric"] == "views,reach,likes,comments,shares,saved,total_interactions"


def test_instagram_without_insights_for_the_media_reads_its_public_counts() -> None:
    played = (
        Played()
        .on("GET", r"/m1/insights$", graph_error(10, status=400))  # (#10) Not enough viewers
        .on("GET", r"/m1$", answer(200, {"id": "m1", "like_count": 7, "comments_count": 2}))
    )

    read = reader(Platform.INSTAGRAM, played).read_metrics(IG, ["m1"])["m1"]

    assert read == PostMetrics(likes=7, comments=2)
    assert query(played.requests[1])["fields"] == "like_count,comments_count"


# -- X ----------------------------------------------------------------------------------------------------

X = AccountCredentials(Platform.TWITTER, "42", TOKEN)


def tweet(post_id: str, private: bool = True) -> dict[str, object]:
    body: dict[str, object] = {
        "id": post_id,
        "public_metrics": {
            "like_count": 5,
            "reply_count": 1,
            "retweet_count": 3,
            "quote_count": 1,
            "bookmark_count": 2,
            "impression_count": 80,
        },
    }
    if private:
        body["non_public_metrics"] = {"impression_count": 81, "url_link_clicks": 4, "user_profile_clicks": 9}
    return body


def test_x_asks_private_metrics_once_and_public_ones_again_only_for_the_refused_posts() -> None:
    refused = {
        "resource_id": "2",
        "title": "Field Authorization Error",
        "type": "https://api.twitter.com/2/problems/not-authorized-for-field",
    }
    missing = {
        "resource_id": "3",
        "detail": "Could not find tweet with id: [3].",
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }

    def lookup(request: httpx.Request) -> httpx.Response:
        params = query(request)
        if "non_public_metrics" in params["tweet.fields"]:
            return httpx.Response(200, json={"data": [tweet("1")], "errors": [refused, missing]})
        return httpx.Response(200, json={"data": [tweet(i, private=False) for i in params["ids"].split(",")]})

    played = Played().on("GET", r"/2/tweets$", lookup)

    reads = reader(Platform.TWITTER, played).read_metrics(X, ["1", "2", "3", "not-an-id"])

    assert reads["1"] == PostMetrics(views=81, likes=5, comments=1, shares=4, saves=2, clicks=4)
    assert reads["2"] == PostMetrics(views=80, likes=5, comments=1, shares=4, saves=2)
    unavailable(reads["3"], "post_deleted")
    unavailable(reads["not-an-id"], "post_not_found")
    assert [query(r)["ids"] for r in played.requests] == ["1,2,3", "2"]
    assert [query(r)["tweet.fields"] for r in played.requests] == [
        "public_metrics,non_public_metrics",
        "public_metrics",
    ]


def test_x_falls_back_to_public_metrics_when_the_token_gets_no_private_ones_at_all() -> None:
    played = Played().on(
        "GET",
        r"/2/tweets$",
        lambda r: (
            httpx.Response(403, json={"title": "Forbidden"})
            if "non_public" in query(r)["tweet.fields"]
            else httpx.Response(200, json={"data": [tweet("1", private=False)]})
        ),
    )

    read = reader(Platform.TWITTER, played).read_metrics(X, ["1"])["1"]

    assert read == PostMetrics(views=80, likes=5, comments=1, shares=4, saves=2)  # no clicks


def test_x_throttling_waits_until_the_rate_limit_reset() -> None:
    reset = str(int(NOW.timestamp()) + 600)
    played = Played().on(
        "GET", r"/2/tweets$", answer(429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": reset})
    )
    with pytest.raises(PlatformCallError) as caught:
        reader(Platform.TWITTER, played).read_metrics(X, ["1"])
    assert (caught.value.kind, caught.value.retry_after) == (ErrorKind.RATE_LIMITED, 600.0)


# -- LinkedIn ---------------------------------------------------------------------------------------------

ACTIONS = {
    "likesSummary": {"totalLikes": 11, "aggregatedTotalLikes": 11},
    "commentsSummary": {"totalFirstLevelComments": 3, "aggregatedTotalComments": 5},
}


def test_linkedin_reads_a_member_post_s_social_actions_only() -> None:
    played = Played().on("GET", r"/rest/socialActions/", answer(200, ACTIONS))
    member = AccountCredentials(Platform.LINKEDIN, "urn:li:person:abc", TOKEN)

    read = reader(Platform.LINKEDIN, played).read_metrics(member, ["urn:li:share:9"])["urn:li:share:9"]

    assert read == PostMetrics(likes=11, comments=5)
    (request,) = played.requests
    assert request.url.raw_path.decode() == "/rest/socialActions/urn%3Ali%3Ashare%3A9"
    assert (request.headers["LinkedIn-Version"], request.headers["X-Restli-Protocol-Version"]) == (
        "202610",
        "2.0.0",
    )


def test_linkedin_adds_an_organization_post_s_share_statistics() -> None:
    statistics = {
        "uniqueImpressionsCount": 700,
        "shareCount": 6,
        "engagement": 0.05,
        "clickCount": 21,
        "likeCount": 10,
        "impressionCount": 1000,
        "commentCount": 4,
    }
    element = {
        "organizationalEntity": "urn:li:organization:5",
        "ugcPost": "urn:li:ugcPost:9",
        "totalShareStatistics": statistics,
    }
    played = (
        Played()
        .on("GET", r"/rest/socialActions/", answer(200, ACTIONS))
        .on("GET", r"/rest/organizationalEntityShareStatistics$", answer(200, {"elements": [element]}))
    )
    org = AccountCredentials(Platform.LINKEDIN, "urn:li:organization:5", TOKEN)

    read = reader(Platform.LINKEDIN, played).read_metrics(org, ["urn:li:ugcPost:9"])["urn:li:ugcPost:9"]

    assert read == PostMetrics(views=1000, reach=700, likes=11, comments=5, shares=6, clicks=21)
    assert played.requests[1].url.raw_path.decode() == (
        "/rest/organizationalEntityShareStatistics?q=organizationalEntity"
        "&organizationalEntity=urn%3Ali%3Aorganization%3A5&ugcPosts=List(urn%3Ali%3AugcPost%3A9)"
    )


def test_linkedin_a_post_that_is_gone_answers_404_and_a_retired_version_426() -> None:
    gone = Played().on("GET", r"/rest/socialActions/", answer(404, {"status": 404, "code": "NOT_FOUND"}))
    retired = Played().on(
        "GET", r"/rest/socialActions/", answer(426, {"status": 426, "code": "NONEXISTENT_VERSION"})
    )
    member = AccountCredentials(Platform.LINKEDIN, "urn:li:person:abc", TOKEN)

    read = reader(Platform.LINKEDIN, gone).read_metrics(member, ["urn:li:share:9"])["urn:li:share:9"]
    with pytest.raises(PlatformCallError) as caught:
        reader(Platform.LINKEDIN, retired).read_metrics(member, ["urn:li:share:9"])

    unavailable(read, "post_deleted")
    assert caught.value.kind is ErrorKind.PERMANENT
    assert "TIDINGS_LINKEDIN_VERSION" in caught.value.message


# -- YouTube and TikTok ----------------------------------------------------------------------------------

YT = AccountCredentials(Platform.YOUTUBE, "UCx", TOKEN)
TT = AccountCredentials(Platform.TIKTOK, "open-1", TOKEN)


def test_youtube_reads_statistics_of_up_to_50_videos_a_call_and_leaves_hidden_counts_unreported() -> None:
    def videos(request: httpx.Request) -> httpx.Response:
        ids = query(request)["id"].split(",")
        items = [
            {"id": i, "statistics": {"viewCount": "120", "commentCount": "4"}} for i in ids if i != "gone"
        ]
        return httpx.Response(200, json={"items": items})

    played = Played().on("GET", r"/youtube/v3/videos$", videos)
    ids = [f"v{n}" for n in range(60)] + ["gone"]

    reads = reader(Platform.YOUTUBE, played).read_metrics(YT, ids)

    assert reads["v0"] == PostMetrics(views=120, comments=4)  # likeCount hidden by the owner
    unavailable(reads["gone"], "post_deleted")
    assert [len(query(r)["id"].split(",")) for r in played.requests] == [50, 11]
    assert {query(r)["part"] for r in played.requests} == {"statistics"}


def test_youtube_quota_exhaustion_waits_until_midnight_pacific() -> None:
    error = {"error": {"code": 403, "message": "quota", "errors": [{"reason": "quotaExceeded"}]}}
    played = Played().on("GET", r"/youtube/v3/videos$", answer(403, error))
    with pytest.raises(PlatformCallError) as caught:
        reader(Platform.YOUTUBE, played).read_metrics(YT, ["v1"])
    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert caught.value.retry_after == 23 * 3600.0  # 01:00 in Los Angeles


def test_tiktok_queries_the_video_ids_with_the_count_fields() -> None:
    ok = {"code": "ok", "message": "", "log_id": "L"}
    video = {"id": "7400", "view_count": 900, "like_count": 70, "comment_count": 8, "share_count": 5}
    played = Played().on(
        "POST", r"/v2/video/query/$", answer(200, {"data": {"videos": [video]}, "error": ok})
    )

    reads = reader(Platform.TIKTOK, played).read_metrics(TT, ["7400", "7401"])

    assert reads["7400"] == PostMetrics(views=900, likes=70, comments=8, shares=5)
    unavailable(reads["7401"], "post_deleted")
    (request,) = played.requests
    assert query(request)["fields"] == "id,view_count,like_count,comment_count,share_count"
    assert json.loads(request.content) == {"filters": {"video_ids": ["7400", "7401"]}}


def test_tiktok_an_invalid_token_is_an_expired_authorization() -> None:
    error = {"data": {}, "error": {"code": "access_token_invalid", "message": "invalid", "log_id": "L"}}
    played = Played().on("POST", r"/v2/video/query/$", answer(401, error))
    with pytest.raises(PlatformCallError) as caught:
        reader(Platform.TIKTOK, played).read_metrics(TT, ["7400"])
    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
