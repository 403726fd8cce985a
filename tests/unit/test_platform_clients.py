"""How every platform client classifies what goes wrong, and keeps its token out of every error.

Each client runs against an httpx.MockTransport that plays the platform: the happy path answers as
the documentation shows, and one call (the one that publishes) answers the case under test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from platform_hosts import SETTINGS

from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.http import parse_retry_after
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.publishing.base import PlatformClient, PublishRequest
from tidings.publishing.clients import build_client, default_http_client
from tidings.publishing.clients.instagram import InstagramClient
from tidings.publishing.clients.tiktok import TikTokClient

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # 01:00 in Los Angeles
CANARY = "EAAB-canary-7f3c9d1e-token"
TOKEN = "token-1"
ACCOUNTS = {
    Platform.FACEBOOK: "1234",
    Platform.INSTAGRAM: "1784",
    Platform.TWITTER: "42",
    Platform.LINKEDIN: "urn:li:person:abc",
    Platform.YOUTUBE: "UCchannel",
    Platform.TIKTOK: "open-1",
}
VIDEO = "https://media.test/clip.mp4"
PHOTO = "https://media.test/photo.jpg"
MEDIA = {
    Platform.INSTAGRAM: (PHOTO,),
    Platform.YOUTUBE: (VIDEO,),
    Platform.TIKTOK: (VIDEO,),
}
# The call that publishes, per platform: where the case under test answers.
PUBLISH_CALL = {
    Platform.FACEBOOK: ("POST", r"/1234/feed$"),
    Platform.INSTAGRAM: ("POST", r"/1784/media_publish$"),
    Platform.TWITTER: ("POST", r"/2/tweets$"),
    Platform.LINKEDIN: ("POST", r"/rest/posts$"),
    Platform.YOUTUBE: ("PUT", r"/upload/youtube/v3/videos$"),
    Platform.TIKTOK: ("POST", r"/v2/post/publish/video/init/$"),
}

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if isinstance(body, str):
        return httpx.Response(status, text=body, headers=headers)
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


@dataclass
class Script:
    """A mock platform: the last matching route answers; every request is kept."""

    routes: list[tuple[str, re.Pattern[str], list[Answer]]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, pattern: str, *answers: Answer) -> Script:
        """Answer matching calls with `answers` in turn, the last one for every further call."""
        self.routes.append((method, re.compile(pattern), list(answers)))
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        for method, pattern, answers in reversed(self.routes):
            if request.method == method and pattern.search(request.url.path):
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if isinstance(answer, Exception):
                    raise answer
                if callable(answer) and not isinstance(answer, httpx.Response):
                    return answer(request)
                return answer
        return reply(404, {"error": f"unexpected {request.method} {request.url}"})

    def calls(self, method: str, pattern: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.url.path)]


def happy(platform: Platform) -> Script:
    """The platform answering every call of a publish as its documentation shows."""
    script = Script()
    if platform is Platform.FACEBOOK:
        script.on("POST", r"/1234/feed$", reply(200, {"id": "1234_99"}))
    elif platform is Platform.INSTAGRAM:
        usage = {"data": [{"quota_usage": 3, "config": {"quota_total": 100, "quota_duration": 86400}}]}
        script.on("GET", r"/1784/content_publishing_limit$", reply(200, usage))
        script.on("POST", r"/1784/media$", reply(200, {"id": "c1"}))
        script.on("GET", r"/c1$", reply(200, {"status_code": "FINISHED", "id": "c1"}))
        script.on("POST", r"/1784/media_publish$", reply(200, {"id": "m1"}))
        script.on("GET", r"/m1$", reply(200, {"id": "m1", "permalink": "https://www.instagram.com/p/abc/"}))
    elif platform is Platform.TWITTER:
        script.on("POST", r"/2/tweets$", reply(201, {"data": {"id": "1900", "text": "Hello"}}))
    elif platform is Platform.LINKEDIN:
        script.on("POST", r"/rest/posts$", reply(201, None, {"x-restli-id": "urn:li:share:77"}))
    elif platform is Platform.YOUTUBE:
        script.on(
            "GET",
            r"/clip.mp4$",
            httpx.Response(200, content=b"\0" * 64, headers={"Content-Type": "video/mp4"}),
        )
        session = "https://youtube.test/upload/youtube/v3/videos?uploadType=resumable&upload_id=u1"
        script.on("POST", r"/upload/youtube/v3/videos$", reply(200, None, {"Location": session}))
        video = {"id": "vid1", "snippet": {"publishedAt": "2026-01-05T09:00:01Z"}}
        script.on("PUT", r"/upload/youtube/v3/videos$", reply(201, video))
    elif platform is Platform.TIKTOK:
        ok = {"code": "ok", "message": "", "log_id": "L1"}
        creator = {"creator_username": "maker", "privacy_level_options": ["PUBLIC_TO_EVERYONE", "SELF_ONLY"]}
        script.on("POST", r"/creator_info/query/$", reply(200, {"data": creator, "error": ok}))
        script.on("POST", r"/video/init/$", reply(200, {"data": {"publish_id": "pub1"}, "error": ok}))
        done = {"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7400]}
        script.on("POST", r"/status/fetch/$", reply(200, {"data": done, "error": ok}))
    return script


def client_for(platform: Platform, script: Script, clock: FakeClock | None = None) -> PlatformClient:
    http = httpx.Client(transport=httpx.MockTransport(script))
    # The script plays the media host too: the media is fetched through the same mock.
    return build_client(platform, SETTINGS, http, clock or FakeClock(NOW), media_http=http)


def account(platform: Platform, token: str = TOKEN) -> AccountCredentials:
    return AccountCredentials(platform, ACCOUNTS[platform], token)


def request_for(platform: Platform, text: str = "Hello") -> PublishRequest:
    return PublishRequest(post_id="p1", text=text, media_urls=MEDIA.get(platform, ()))


def publish_error(platform: Platform, answer: Answer, token: str = TOKEN) -> PlatformCallError:
    method, pattern = PUBLISH_CALL[platform]
    script = happy(platform).on(method, pattern, answer)
    with pytest.raises(PlatformCallError) as caught:
        client_for(platform, script).publish(account(platform, token), request_for(platform))
    return caught.value


def graph(code: int, message: str, subcode: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1"}
    if subcode:
        error["error_subcode"] = subcode
    return {"error": error}


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": "about:blank", "status": status}


def linkedin(status: int, code: str, message: str) -> dict[str, Any]:
    return {"status": status, "code": code, "message": message}


def google(status: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "error": {"code": status, "message": message, "errors": [{"reason": reason, "domain": "youtube"}]}
    }


def tiktok(status_code: str, message: str) -> dict[str, Any]:
    return {"data": {}, "error": {"code": status_code, "message": message, "log_id": "L1"}}


def buc(minutes: int) -> dict[str, str]:
    usage = {
        "1234": [
            {"type": "pages", "call_count": 100, "total_time": 5, "estimated_time_to_regain_access": minutes}
        ]
    }
    return {"X-Business-Use-Case-Usage": json.dumps(usage)}


FB, IG, X, LI, YT, TT = (
    Platform.FACEBOOK,
    Platform.INSTAGRAM,
    Platform.TWITTER,
    Platform.LINKEDIN,
    Platform.YOUTUBE,
    Platform.TIKTOK,
)
R, RL, AUTH, PERM, UNKNOWN = (
    ErrorKind.RETRYABLE,
    ErrorKind.RATE_LIMITED,
    ErrorKind.AUTH_EXPIRED,
    ErrorKind.PERMANENT,
    ErrorKind.UNKNOWN_OUTCOME,
)
UNTIL_PACIFIC_MIDNIGHT = 23 * 3600.0  # NOW is 01:00 in Los Angeles

# (platform, answer of the publishing call, expected kind, expected retry_after or None, message part)
CASES: dict[str, tuple[Platform, httpx.Response, ErrorKind, float | None, str]] = {
    "fb-page-throttle": (FB, reply(400, graph(32, "Page request limit reached"), buc(5)), RL, 300.0, "Page"),
    "fb-app-throttle": (
        FB,
        reply(403, graph(4, "Application request limit"), {"Retry-After": "7"}),
        RL,
        7.0,
        "",
    ),
    "fb-user-throttle": (FB, reply(400, graph(17, "User request limit reached")), RL, None, "User request"),
    "fb-spam-throttle": (
        FB,
        reply(400, graph(613, "Calls to this api have exceeded the rate limit")),
        RL,
        None,
        "",
    ),
    "fb-buc-throttle": (
        FB,
        reply(400, graph(80001, "There have been too many calls to this Page")),
        RL,
        None,
        "",
    ),
    "fb-expired-token": (FB, reply(400, graph(190, "Session has expired", 463)), AUTH, None, "expired"),
    "fb-api-unknown": (FB, reply(500, graph(1, "An unknown error has occurred.")), R, None, "unknown error"),
    "fb-api-service": (FB, reply(400, graph(2, "Service temporarily unavailable")), R, None, ""),
    "fb-gateway-html": (FB, reply(502, "<html>Bad Gateway</html>"), R, None, "502"),
    "fb-invalid-param": (
        FB,
        reply(400, graph(100, "Invalid parameter: link")),
        PERM,
        None,
        "Invalid parameter",
    ),
    "fb-duplicate": (FB, reply(400, graph(506, "Duplicate status message")), PERM, None, "Duplicate"),
    "ig-throttle": (IG, reply(400, graph(4, "Application request limit reached")), RL, None, ""),
    "ig-expired-token": (IG, reply(400, graph(190, "Error validating access token")), AUTH, None, ""),
    "ig-transient": (IG, reply(500, graph(2, "Unexpected error")), R, None, ""),
    "ig-not-ready": (
        IG,
        reply(400, graph(9007, "Media ID is not available", 2207027)),
        PERM,
        None,
        "Media ID",
    ),
    "x-throttle-reset": (
        X,
        reply(
            429,
            problem(429, "Too Many Requests", "Too Many Requests"),
            {"x-rate-limit-reset": str(int(NOW.timestamp()) + 60)},
        ),
        RL,
        60.0,
        "Too Many",
    ),
    "x-throttle-retry-after": (
        X,
        reply(429, problem(429, "Too Many Requests", "Slow down"), {"Retry-After": "12"}),
        RL,
        12.0,
        "",
    ),
    "x-unauthorized": (X, reply(401, problem(401, "Unauthorized", "Unauthorized")), AUTH, None, ""),
    "x-duplicate": (
        X,
        reply(
            403, problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
        ),
        PERM,
        None,
        "duplicate content",
    ),
    "x-invalid": (X, reply(400, problem(400, "Invalid Request", "text is too long")), PERM, None, "too long"),
    "x-server": (X, reply(503, problem(503, "Service Unavailable", "Service Unavailable")), R, None, ""),
    "x-gateway-timeout": (X, reply(504, "Gateway Timeout"), UNKNOWN, None, ""),
    "li-throttle": (
        LI,
        reply(429, linkedin(429, "TOO_MANY_REQUESTS", "throttled"), {"Retry-After": "30"}),
        RL,
        30.0,
        "throttled",
    ),
    "li-expired": (
        LI,
        reply(401, linkedin(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")),
        AUTH,
        None,
        "expired",
    ),
    "li-invalid": (
        LI,
        reply(422, linkedin(422, "UNPROCESSABLE_ENTITY", "/commentary: too long")),
        PERM,
        None,
        "commentary",
    ),
    "li-forbidden": (
        LI,
        reply(403, linkedin(403, "ACCESS_DENIED", "Not enough permissions")),
        PERM,
        None,
        "",
    ),
    "li-server": (
        LI,
        reply(500, linkedin(500, "INTERNAL_SERVER_ERROR", "Internal Server Error")),
        R,
        None,
        "",
    ),
    "yt-quota": (
        YT,
        reply(403, google(403, "quotaExceeded", "You have exceeded your quota")),
        RL,
        UNTIL_PACIFIC_MIDNIGHT,
        "quota",
    ),
    "yt-rate": (
        YT,
        reply(429, google(429, "rateLimitExceeded", "Rate Limit Exceeded"), {"Retry-After": "10"}),
        RL,
        10.0,
        "",
    ),
    "yt-upload-limit": (YT, reply(400, google(400, "uploadLimitExceeded", "upload limit")), RL, 86400.0, ""),
    "yt-auth": (
        YT,
        reply(401, google(401, "authError", "Invalid Credentials")),
        AUTH,
        None,
        "Invalid Credentials",
    ),
    "yt-forbidden": (YT, reply(403, google(403, "forbidden", "Access forbidden")), PERM, None, "forbidden"),
    "yt-backend": (YT, reply(500, google(500, "backendError", "Backend Error")), R, None, ""),
    "tt-throttle": (
        TT,
        reply(429, tiktok("rate_limit_exceeded", "The API rate limit was exceeded"), {"Retry-After": "20"}),
        RL,
        20.0,
        "rate limit",
    ),
    "tt-daily-cap": (
        TT,
        reply(403, tiktok("spam_risk_too_many_posts", "too many posts today")),
        RL,
        None,
        "",
    ),
    "tt-token": (
        TT,
        reply(401, tiktok("access_token_invalid", "The access token is invalid")),
        AUTH,
        None,
        "",
    ),
    "tt-scope": (
        TT,
        reply(401, tiktok("scope_not_authorized", "video.publish not authorized")),
        AUTH,
        None,
        "",
    ),
    "tt-privacy": (
        TT,
        reply(400, tiktok("privacy_level_option_mismatch", "privacy level")),
        PERM,
        None,
        "privacy",
    ),
    "tt-internal": (TT, reply(500, tiktok("internal_error", "Something went wrong")), R, None, ""),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_each_documented_failure_gets_its_kind(case: str) -> None:
    platform, answer, kind, retry_after, message = CASES[case]
    error = publish_error(platform, answer)
    assert error.kind is kind
    assert error.retry_after == (pytest.approx(retry_after) if retry_after is not None else None)
    assert message in error.message
    assert error.status == answer.status_code


@pytest.mark.parametrize("platform", list(PUBLISH_CALL))
def test_a_call_that_never_left_is_retryable(platform: Platform) -> None:
    error = publish_error(platform, httpx.ConnectError("connection refused"))
    assert error.kind is ErrorKind.RETRYABLE


@pytest.mark.parametrize("platform", list(PUBLISH_CALL))
def test_a_connect_timeout_is_retryable(platform: Platform) -> None:
    error = publish_error(platform, httpx.ConnectTimeout("connect timed out"))
    assert error.kind is ErrorKind.RETRYABLE


@pytest.mark.parametrize("platform", list(PUBLISH_CALL))
def test_a_publish_without_an_answer_has_an_unknown_outcome(platform: Platform) -> None:
    assert publish_error(platform, httpx.ReadTimeout("read timed out")).kind is ErrorKind.UNKNOWN_OUTCOME
    dropped = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    assert publish_error(platform, dropped).kind is ErrorKind.UNKNOWN_OUTCOME


@pytest.mark.parametrize("platform", list(PUBLISH_CALL))
def test_a_success_status_without_the_new_id_has_an_unknown_outcome(platform: Platform) -> None:
    status = {Platform.TWITTER: 201, Platform.LINKEDIN: 201, Platform.YOUTUBE: 201}.get(platform, 200)
    body = {"data": {}, "error": {"code": "ok"}} if platform is Platform.TIKTOK else {}
    assert publish_error(platform, reply(status, body)).kind is ErrorKind.UNKNOWN_OUTCOME


@pytest.mark.parametrize("platform", list(PUBLISH_CALL))
def test_a_read_back_that_times_out_is_retryable(platform: Platform) -> None:
    script = Script().on("GET", r".*", httpx.ReadTimeout("read timed out"))
    script.on("POST", r".*", httpx.ReadTimeout("read timed out"))
    with pytest.raises(PlatformCallError) as caught:
        client_for(platform, script).find_published(account(platform), request_for(platform), NOW)
    assert caught.value.kind is ErrorKind.RETRYABLE


def test_linkedin_426_tells_the_operator_to_update_the_configured_version() -> None:
    body = linkedin(426, "NONEXISTENT_VERSION", "Requested version 202610 is not active")
    error = publish_error(Platform.LINKEDIN, reply(426, body))
    assert error.kind is ErrorKind.PERMANENT
    assert error.code == "NONEXISTENT_VERSION"
    assert "LinkedIn-Version 202610 not supported: update TIDINGS_LINKEDIN_VERSION" in error.message


def test_retry_after_as_an_http_date_counts_from_the_clock() -> None:
    when = "Mon, 05 Jan 2026 09:02:00 GMT"  # two minutes after NOW
    error = publish_error(
        Platform.LINKEDIN, reply(429, linkedin(429, "TOO_MANY_REQUESTS", "x"), {"Retry-After": when})
    )
    assert error.retry_after == pytest.approx(120.0)


# -- the token never leaks ------------------------------------------------------------------------


def _echoing(platform: Platform) -> httpx.Response:
    """An error answer that quotes the token back, as a careless platform might."""
    text = f"token {CANARY} is invalid"
    bodies: dict[Platform, tuple[int, Any]] = {
        Platform.FACEBOOK: (400, graph(190, text)),
        Platform.INSTAGRAM: (400, graph(190, text)),
        Platform.TWITTER: (401, problem(401, f"Unauthorized {CANARY}", text)),
        Platform.LINKEDIN: (401, linkedin(401, CANARY, text)),
        Platform.YOUTUBE: (401, google(401, "authError", text)),
        Platform.TIKTOK: (401, tiktok("access_token_invalid", text)),
    }
    status, body = bodies[platform]
    return reply(status, body)


def _assert_no_canary(error: PlatformCallError) -> None:
    for shown in (str(error), repr(error), error.message, error.code, repr(error.args)):
        assert CANARY not in shown


@pytest.mark.parametrize("platform", list(PUBLISH_CALL))
def test_a_token_quoted_back_by_the_platform_never_reaches_the_error(platform: Platform) -> None:
    error = publish_error(platform, _echoing(platform), token=CANARY)
    assert error.kind is ErrorKind.AUTH_EXPIRED
    _assert_no_canary(error)


@pytest.mark.parametrize("platform", list(PUBLISH_CALL))
def test_a_transport_error_naming_the_token_never_reaches_the_error(platform: Platform) -> None:
    error = publish_error(platform, httpx.ReadError(f"reset while sending {CANARY}"), token=CANARY)
    _assert_no_canary(error)


@pytest.mark.parametrize("platform", list(PUBLISH_CALL))
def test_the_token_travels_only_in_the_authorization_header(platform: Platform) -> None:
    script = happy(platform)
    client = client_for(platform, script)
    client.publish(account(platform, CANARY), request_for(platform))
    assert CANARY not in repr(client)
    assert CANARY not in repr(account(platform, CANARY))
    for sent in script.requests:
        assert CANARY not in str(sent.url)
        assert CANARY.encode() not in sent.content
    platform_calls = [r for r in script.requests if r.url.host != "media.test"]
    assert all(r.headers["Authorization"] == f"Bearer {CANARY}" for r in platform_calls)
    media_calls = [r for r in script.requests if r.url.host == "media.test"]
    assert all("Authorization" not in r.headers for r in media_calls)


# -- Instagram's container and TikTok's publish status ---------------------------------------------


def test_instagram_polls_the_container_through_the_clock_until_it_is_finished() -> None:
    clock = FakeClock(NOW)
    progress = reply(200, {"status_code": "IN_PROGRESS"})
    script = happy(Platform.INSTAGRAM).on(
        "GET", r"/c1$", progress, progress, reply(200, {"status_code": "FINISHED"})
    )
    client = client_for(Platform.INSTAGRAM, script, clock)
    published = client.publish(account(Platform.INSTAGRAM), request_for(Platform.INSTAGRAM, "Reel"))
    assert published.platform_post_id == "m1"
    assert published.url == "https://www.instagram.com/p/abc/"
    assert len(script.calls("GET", r"/c1$")) == 3
    assert clock.now() > NOW  # it waited between polls, on the clock


@pytest.mark.parametrize("status", ["ERROR", "EXPIRED"])
def test_instagram_container_that_fails_is_permanent_and_never_published(status: str) -> None:
    script = happy(Platform.INSTAGRAM).on(
        "GET", r"/c1$", reply(200, {"status_code": status, "status": "2207026"})
    )
    with pytest.raises(PlatformCallError) as caught:
        client_for(Platform.INSTAGRAM, script).publish(
            account(Platform.INSTAGRAM), request_for(Platform.INSTAGRAM)
        )
    assert caught.value.kind is ErrorKind.PERMANENT
    assert status in caught.value.message
    assert script.calls("POST", r"/media_publish$") == []


def test_instagram_stops_waiting_for_a_slow_container_and_says_retry() -> None:
    script = happy(Platform.INSTAGRAM).on("GET", r"/c1$", reply(200, {"status_code": "IN_PROGRESS"}))
    clock = FakeClock(NOW)
    http = httpx.Client(transport=httpx.MockTransport(script))
    client = InstagramClient(SETTINGS, http, clock, poll_interval=1.0, max_wait=30.0)
    with pytest.raises(PlatformCallError) as caught:
        client.publish(account(Platform.INSTAGRAM), request_for(Platform.INSTAGRAM))
    assert caught.value.kind is ErrorKind.RETRYABLE
    assert clock.now() == NOW + timedelta(seconds=30)
    assert script.calls("POST", r"/media_publish$") == []


def test_tiktok_polls_the_publish_status_until_complete() -> None:
    ok = {"code": "ok", "message": "", "log_id": "L"}
    pending = reply(200, {"data": {"status": "PROCESSING_DOWNLOAD"}, "error": ok})
    done = reply(
        200, {"data": {"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7401]}, "error": ok}
    )
    script = happy(Platform.TIKTOK).on("POST", r"/status/fetch/$", pending, pending, done)
    clock = FakeClock(NOW)
    published = client_for(Platform.TIKTOK, script, clock).publish(
        account(Platform.TIKTOK), request_for(Platform.TIKTOK)
    )
    assert published.platform_post_id == "7401"
    assert published.url == "https://www.tiktok.com/@maker/video/7401"
    assert [json.loads(r.content)["publish_id"] for r in script.calls("POST", r"/status/fetch/$")] == [
        "pub1"
    ] * 3
    assert clock.now() > NOW


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("file_format_check_failed", ErrorKind.PERMANENT),
        ("spam_risk_text", ErrorKind.PERMANENT),
        ("internal", ErrorKind.RETRYABLE),
        ("video_pull_failed", ErrorKind.RETRYABLE),
        ("auth_removed", ErrorKind.AUTH_EXPIRED),
        ("spam_risk_too_many_posts", ErrorKind.RATE_LIMITED),
    ],
)
def test_tiktok_failed_publish_carries_the_fail_reason(reason: str, kind: ErrorKind) -> None:
    ok = {"code": "ok", "message": "", "log_id": "L"}
    failed = reply(200, {"data": {"status": "FAILED", "fail_reason": reason}, "error": ok})
    script = happy(Platform.TIKTOK).on("POST", r"/status/fetch/$", failed)
    with pytest.raises(PlatformCallError) as caught:
        client_for(Platform.TIKTOK, script).publish(account(Platform.TIKTOK), request_for(Platform.TIKTOK))
    assert caught.value.kind is kind
    assert reason in caught.value.message


def test_tiktok_status_that_cannot_be_read_after_init_is_an_unknown_outcome() -> None:
    script = happy(Platform.TIKTOK).on(
        "POST", r"/status/fetch/$", reply(500, tiktok("internal_error", "oops"))
    )
    with pytest.raises(PlatformCallError) as caught:
        client_for(Platform.TIKTOK, script).publish(account(Platform.TIKTOK), request_for(Platform.TIKTOK))
    assert caught.value.kind is ErrorKind.UNKNOWN_OUTCOME


def test_tiktok_publish_still_processing_after_the_wait_is_an_unknown_outcome() -> None:
    ok = {"code": "ok", "message": "", "log_id": "L"}
    pending = reply(200, {"data": {"status": "PROCESSING_UPLOAD"}, "error": ok})
    script = happy(Platform.TIKTOK).on("POST", r"/status/fetch/$", pending)
    clock = FakeClock(NOW)
    client = TikTokClient(SETTINGS, httpx.Client(transport=httpx.MockTransport(script)), clock, max_wait=20.0)
    with pytest.raises(PlatformCallError) as caught:
        client.publish(account(Platform.TIKTOK), request_for(Platform.TIKTOK))
    assert caught.value.kind is ErrorKind.UNKNOWN_OUTCOME
    assert clock.now() == NOW + timedelta(seconds=20)


def test_tiktok_posts_as_publicly_as_the_creator_allows() -> None:
    script = happy(Platform.TIKTOK)
    client_for(Platform.TIKTOK, script).publish(account(Platform.TIKTOK), request_for(Platform.TIKTOK))
    init = json.loads(script.calls("POST", r"/video/init/$")[0].content)
    assert init["post_info"]["privacy_level"] == "PUBLIC_TO_EVERYONE"
    assert init["source_info"] == {"source": "PULL_FROM_URL", "video_url": VIDEO}


def test_tiktok_unaudited_creator_posts_privately() -> None:
    ok = {"code": "ok", "message": "", "log_id": "L"}
    private = {"creator_username": "maker", "privacy_level_options": ["SELF_ONLY"]}
    script = happy(Platform.TIKTOK).on(
        "POST", r"/creator_info/query/$", reply(200, {"data": private, "error": ok})
    )
    done = {"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": []}
    script.on("POST", r"/status/fetch/$", reply(200, {"data": done, "error": ok}))
    published = client_for(Platform.TIKTOK, script).publish(
        account(Platform.TIKTOK), request_for(Platform.TIKTOK)
    )
    assert (
        json.loads(script.calls("POST", r"/video/init/$")[0].content)["post_info"]["privacy_level"]
        == "SELF_ONLY"
    )
    assert published.platform_post_id == "pub1"  # no public post id for a private post
    assert published.url is None


# -- YouTube's upload ----------------------------------------------------------------------------


def test_youtube_missing_media_is_permanent_and_opens_no_upload() -> None:
    script = happy(Platform.YOUTUBE).on("GET", r"/clip.mp4$", reply(404, "not found"))
    with pytest.raises(PlatformCallError) as caught:
        client_for(Platform.YOUTUBE, script).publish(account(Platform.YOUTUBE), request_for(Platform.YOUTUBE))
    assert caught.value.kind is ErrorKind.PERMANENT
    assert script.calls("POST", r"/upload/") == []


def test_youtube_incomplete_upload_is_retryable() -> None:
    error = publish_error(Platform.YOUTUBE, reply(308, None, {"Range": "bytes=0-9"}))
    assert error.kind is ErrorKind.RETRYABLE


def test_youtube_session_that_cannot_open_is_retryable_not_unknown() -> None:
    script = happy(Platform.YOUTUBE).on("POST", r"/upload/youtube/v3/videos$", httpx.ReadTimeout("timed out"))
    with pytest.raises(PlatformCallError) as caught:
        client_for(Platform.YOUTUBE, script).publish(account(Platform.YOUTUBE), request_for(Platform.YOUTUBE))
    assert caught.value.kind is ErrorKind.RETRYABLE


# -- media a platform cannot take ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "media"),
    [
        (Platform.INSTAGRAM, ()),
        (Platform.YOUTUBE, ()),
        (Platform.YOUTUBE, (PHOTO,)),
        (Platform.TIKTOK, (PHOTO,)),
        (Platform.TWITTER, (PHOTO,) * 5),
        (Platform.TWITTER, (VIDEO, PHOTO)),
        (Platform.LINKEDIN, (VIDEO, PHOTO)),
        (Platform.LINKEDIN, (PHOTO,) * 21),
        (Platform.FACEBOOK, (VIDEO, PHOTO)),
    ],
)
def test_media_a_platform_cannot_take_is_refused_before_any_call(
    platform: Platform, media: tuple[str, ...]
) -> None:
    script = happy(platform)
    request = PublishRequest(post_id="p1", text="Hello", media_urls=media)
    with pytest.raises(PlatformCallError) as caught:
        client_for(platform, script).publish(account(platform), request)
    assert caught.value.kind is ErrorKind.PERMANENT
    assert script.requests == []


# -- Retry-After -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("Mon, 05 Jan 2026 09:00:30 GMT", 30.0),
        ("Mon, 05 Jan 2026 08:59:00 GMT", 0.0),  # already past
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_parsed_from_seconds_or_an_http_date(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(header, NOW) == seconds


# -- the registry and the shared HTTP client -------------------------------------------------------


@pytest.mark.parametrize("platform", list(Platform))
def test_every_platform_has_a_real_client(platform: Platform) -> None:
    client = build_client(platform, SETTINGS, httpx.Client(transport=httpx.MockTransport(Script())))
    assert client.platform is platform


def test_build_client_accepts_the_platform_name() -> None:
    client = build_client("twitter", SETTINGS, httpx.Client(transport=httpx.MockTransport(Script())))  # type: ignore[arg-type]
    assert client.platform is Platform.TWITTER
    with pytest.raises(ValueError, match="myspace"):
        build_client("myspace", SETTINGS, httpx.Client())  # type: ignore[arg-type]


@pytest.mark.parametrize(("seconds", "connect"), [(3.0, 3.0), (20.0, 5.0)])
def test_the_shared_client_takes_its_timeouts_from_settings(seconds: float, connect: float) -> None:
    with default_http_client(Settings(http_timeout_seconds=seconds)) as http:
        assert http.timeout.read == seconds
        assert http.timeout.write == seconds
        assert http.timeout.connect == connect
        assert http.headers["User-Agent"].startswith("tidings/")


def test_instagram_at_its_publishing_limit_waits_without_creating_anything() -> None:
    full = {"data": [{"quota_usage": 25, "config": {"quota_total": 25, "quota_duration": 86400}}]}
    script = happy(Platform.INSTAGRAM).on("GET", r"/1784/content_publishing_limit$", reply(200, full))
    with pytest.raises(PlatformCallError) as caught:
        client_for(Platform.INSTAGRAM, script).publish(
            account(Platform.INSTAGRAM), request_for(Platform.INSTAGRAM)
        )
    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert caught.value.code == "publishing_limit_reached"
    assert caught.value.retry_after == 3600.0
    assert script.calls("POST", r"/1784/media$") == []
