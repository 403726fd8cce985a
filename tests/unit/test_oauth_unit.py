"""tidings.publishing.oauth without a network: `needs_refresh`, the documented request of each
platform's refresh_token grant, how an answer becomes a TokenGrant, and how every failure is
classified (httpx.MockTransport stands in for the token endpoints)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import httpx
import pytest

from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.publishing.oauth import TokenGrant, TokenRefresher, needs_refresh

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
REFRESH = "rt-CANARY-refresh-0001"
SECRET = "CANARY-client-secret"
CONFIGURED = Settings(
    x_client_id="x-id",
    x_client_secret=SECRET,
    linkedin_client_id="li-id",
    linkedin_client_secret=SECRET,
    google_client_id="g-id",
    google_client_secret=SECRET,
    tiktok_client_key="tt-key",
    tiktok_client_secret=SECRET,
)
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def sent() -> list[httpx.Request]:
    return []


def refresher(handler: Handler, sent: list[httpx.Request], settings: Settings = CONFIGURED) -> TokenRefresher:
    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return handler(request)

    return TokenRefresher(settings, httpx.Client(transport=httpx.MockTransport(record)), FakeClock(NOW))


def answer(status: int, body: object = None, headers: dict[str, str] | None = None) -> Handler:
    return lambda _request: httpx.Response(status, json=body, headers=headers)


def failure(refresh: TokenRefresher, platform: str = "twitter", token: str = REFRESH) -> PlatformCallError:
    with pytest.raises(PlatformCallError) as caught:
        refresh.refresh(platform, token)
    return caught.value


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


# -- needs_refresh ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expires_in", "expected"),
    [
        (None, False),
        (timedelta(hours=2), False),
        (timedelta(seconds=601), False),
        (timedelta(seconds=600), True),
        (timedelta(seconds=30), True),
        (timedelta(seconds=0), True),
        (timedelta(hours=-1), True),
    ],
)
def test_needs_refresh_within_the_margin_or_after_expiry(
    expires_in: timedelta | None, expected: bool
) -> None:
    expires_at = NOW + expires_in if expires_in is not None else None
    assert needs_refresh(expires_at, NOW, 600) is expected


def test_a_zero_margin_refreshes_only_at_or_after_expiry() -> None:
    assert not needs_refresh(NOW + timedelta(seconds=1), NOW, 0)
    assert needs_refresh(NOW, NOW, 0)


# -- secrets stay out of reprs ---------------------------------------------------------------------


def test_a_grant_never_shows_its_tokens() -> None:
    grant = TokenGrant("at-CANARY", "rt-CANARY", NOW, "tweet.write")
    assert "CANARY" not in repr(grant)
    assert "CANARY" not in str(grant)
    assert "tweet.write" in repr(grant)


def test_settings_keep_client_secrets_out_of_their_repr() -> None:
    assert SECRET not in repr(CONFIGURED)
    assert "x-id" in repr(CONFIGURED)
    assert CONFIGURED.token_refresh_margin_seconds == 600
    env = Settings.from_env(
        {"TIDINGS_GOOGLE_CLIENT_SECRET": "s", "TIDINGS_TOKEN_REFRESH_MARGIN_SECONDS": "90"}
    )
    assert (env.google_client_secret, env.token_refresh_margin_seconds) == ("s", 90)
    assert env.linkedin_oauth_base == "https://www.linkedin.com"
    assert env.google_oauth_base == "https://oauth2.googleapis.com"


# -- the documented requests -----------------------------------------------------------------------


def ok(body: dict[str, object]) -> Handler:
    return answer(200, body)


def test_x_confidential_client_refreshes_with_basic_auth_and_rotates(sent: list[httpx.Request]) -> None:
    body = {
        "token_type": "bearer",
        "expires_in": 7200,
        "access_token": "at-2",
        "scope": "s",
        "refresh_token": "rt-2",
    }
    grant = refresher(ok(body), sent).refresh("twitter", REFRESH)
    (request,) = sent
    assert (request.method, str(request.url)) == ("POST", "https://api.x.com/2/oauth2/token")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"x-id:{SECRET}".encode()).decode()
    assert form(request) == {"grant_type": "refresh_token", "refresh_token": REFRESH, "client_id": "x-id"}
    assert grant == TokenGrant("at-2", "rt-2", NOW + timedelta(seconds=7200), "s")


def test_x_public_client_sends_its_client_id_without_basic_auth(sent: list[httpx.Request]) -> None:
    public = CONFIGURED.model_copy(update={"x_client_secret": ""})
    refresher(ok({"access_token": "at", "expires_in": 60}), sent, public).refresh("x", REFRESH)
    (request,) = sent
    assert "Authorization" not in request.headers
    assert form(request)["client_id"] == "x-id"


def test_linkedin_refresh_sends_the_client_credentials_in_the_form(sent: list[httpx.Request]) -> None:
    body = {
        "access_token": "at",
        "expires_in": 5184000,
        "refresh_token": REFRESH,
        "refresh_token_expires_in": 31_000_000,
        "scope": "w_member_social",
    }
    grant = refresher(ok(body), sent).refresh("linkedin", REFRESH)
    (request,) = sent
    assert str(request.url) == "https://www.linkedin.com/oauth/v2/accessToken"
    assert form(request) == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": "li-id",
        "client_secret": SECRET,
    }
    assert "Authorization" not in request.headers
    assert grant.expires_at == NOW + timedelta(days=60)
    assert grant.refresh_token == REFRESH


def test_google_answers_no_refresh_token_so_the_one_sent_is_kept(sent: list[httpx.Request]) -> None:
    body = {"access_token": "ya29.new", "expires_in": 3599, "scope": "youtube.upload", "token_type": "Bearer"}
    grant = refresher(ok(body), sent).refresh("youtube", REFRESH)
    (request,) = sent
    assert str(request.url) == "https://oauth2.googleapis.com/token"
    assert form(request) == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": "g-id",
        "client_secret": SECRET,
    }
    assert grant == TokenGrant("ya29.new", REFRESH, NOW + timedelta(seconds=3599), "youtube.upload")


def test_tiktok_refresh_uses_client_key_and_rotates(sent: list[httpx.Request]) -> None:
    body = {
        "access_token": "act.new",
        "expires_in": "86400",  # some servers send numbers as strings
        "open_id": "open-1",
        "refresh_expires_in": 31536000,
        "refresh_token": "rft.new",
        "scope": "video.publish",
        "token_type": "Bearer",
    }
    grant = refresher(ok(body), sent).refresh("tiktok", REFRESH)
    (request,) = sent
    assert str(request.url) == "https://open.tiktokapis.com/v2/oauth/token/"
    assert form(request) == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_key": "tt-key",
        "client_secret": SECRET,
    }
    assert grant == TokenGrant("act.new", "rft.new", NOW + timedelta(days=1), "video.publish")


def test_an_answer_without_expires_in_has_no_known_expiry(sent: list[httpx.Request]) -> None:
    grant = refresher(ok({"access_token": "at"}), sent).refresh("linkedin", REFRESH)
    assert grant.expires_at is None
    assert grant.scope is None


def test_base_urls_come_from_settings(sent: list[httpx.Request]) -> None:
    local = CONFIGURED.model_copy(
        update={
            "x_api_base": "http://fake/x/",
            "linkedin_oauth_base": "http://fake/li",
            "google_oauth_base": "http://fake/g",
            "tiktok_api_base": "http://fake/tt",
        }
    )
    for platform in ("twitter", "linkedin", "youtube", "tiktok"):
        refresher(ok({"access_token": "at"}), sent, local).refresh(platform, REFRESH)
    assert [str(r.url) for r in sent] == [
        "http://fake/x/2/oauth2/token",
        "http://fake/li/oauth/v2/accessToken",
        "http://fake/g/token",
        "http://fake/tt/v2/oauth/token/",
    ]


# -- classification --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
         ErrorKind.AUTH_EXPIRED, "refresh_failed"),
        (400, {"error": "invalid_request", "error_description": "Value passed for the token was invalid."},
         ErrorKind.AUTH_EXPIRED, "refresh_failed"),
        (401, {"error": "access_denied"}, ErrorKind.AUTH_EXPIRED, "refresh_failed"),
        (200, {"error": "invalid_grant", "error_description": "expired", "log_id": "2026"},
         ErrorKind.AUTH_EXPIRED, "refresh_failed"),
        (401, {"error": "invalid_client", "error_description": "Unauthorized"},
         ErrorKind.PERMANENT, "oauth_client_misconfigured"),
        (400, {"error": "unauthorized_client"}, ErrorKind.PERMANENT, "oauth_client_misconfigured"),
        (401, None, ErrorKind.PERMANENT, "oauth_client_misconfigured"),
        (403, None, ErrorKind.PERMANENT, "refresh_rejected"),
        (500, {"error": "server_error"}, ErrorKind.RETRYABLE, "refresh_unavailable"),
        (503, None, ErrorKind.RETRYABLE, "refresh_unavailable"),
        (504, None, ErrorKind.RETRYABLE, "refresh_unavailable"),
        (400, {"error": "temporarily_unavailable"}, ErrorKind.RETRYABLE, "refresh_unavailable"),
        (200, {"token_type": "bearer"}, ErrorKind.RETRYABLE, "refresh_bad_answer"),
    ],
)  # fmt: skip
def test_failures_are_classified(
    status: int, body: object, kind: ErrorKind, code: str, sent: list[httpx.Request]
) -> None:
    error = failure(refresher(answer(status, body), sent))
    assert (error.kind, error.code, error.status) == (kind, code, status)
    if kind is ErrorKind.AUTH_EXPIRED:
        assert "reconnect the X account" in error.message
    if code == "oauth_client_misconfigured":
        assert "TIDINGS_X_CLIENT_ID and TIDINGS_X_CLIENT_SECRET" in error.message


def test_a_throttle_is_rate_limited_with_retry_after(sent: list[httpx.Request]) -> None:
    throttled = answer(429, {"error": "rate_limit_exceeded"}, {"Retry-After": "42"})
    error = failure(refresher(throttled, sent), "tiktok")
    assert (error.kind, error.code, error.retry_after) == (
        ErrorKind.RATE_LIMITED,
        "refresh_rate_limited",
        42.0,
    )


@pytest.mark.parametrize(
    "exception",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow"),
        httpx.ReadTimeout("no answer"),
        httpx.RemoteProtocolError("closed without a response"),
        httpx.ReadError("reset"),
    ],
)
def test_transport_failures_are_retryable_since_a_refresh_is_safe_to_repeat(
    exception: Exception, sent: list[httpx.Request]
) -> None:
    def fail(_request: httpx.Request) -> httpx.Response:
        raise exception

    error = failure(refresher(fail, sent), "youtube")
    assert error.kind is ErrorKind.RETRYABLE


def test_secrets_echoed_by_the_platform_never_reach_the_error(sent: list[httpx.Request]) -> None:
    basic = base64.b64encode(f"x-id:{SECRET}".encode()).decode()
    echo = f"bad token {REFRESH} for client secret {SECRET} ({basic})"
    for status, error_code in ((400, "invalid_grant"), (401, "invalid_client"), (503, "server_error")):
        error = failure(refresher(answer(status, {"error": error_code, "error_description": echo}), sent))
        for text in (str(error), error.message, error.code):
            assert "CANARY" not in text
            assert basic not in text
        assert "[redacted]" in error.message


def test_an_unconfigured_client_fails_before_any_request_and_names_the_settings(
    sent: list[httpx.Request],
) -> None:
    bare = Settings()
    for platform, names in (
        ("twitter", "TIDINGS_X_CLIENT_ID"),
        ("linkedin", "TIDINGS_LINKEDIN_CLIENT_ID and TIDINGS_LINKEDIN_CLIENT_SECRET"),
        ("youtube", "TIDINGS_GOOGLE_CLIENT_ID and TIDINGS_GOOGLE_CLIENT_SECRET"),
        ("tiktok", "TIDINGS_TIKTOK_CLIENT_KEY and TIDINGS_TIKTOK_CLIENT_SECRET"),
    ):
        error = failure(refresher(answer(200, {"access_token": "never"}), sent, bare), platform)
        assert (error.kind, error.code) == (ErrorKind.PERMANENT, "oauth_client_not_configured")
        assert names in error.message
    half = Settings(linkedin_client_id="li-id")
    error = failure(refresher(answer(200, {}), sent, half), "linkedin")
    assert error.message.endswith("set TIDINGS_LINKEDIN_CLIENT_SECRET")
    assert sent == []


def test_an_empty_refresh_token_is_auth_expired_without_a_request(sent: list[httpx.Request]) -> None:
    error = failure(refresher(answer(200, {"access_token": "never"}), sent), "linkedin", "")
    assert (error.kind, error.code) == (ErrorKind.AUTH_EXPIRED, "refresh_failed")
    assert sent == []


@pytest.mark.parametrize("platform", ["facebook", "instagram", "whatsapp", "myspace"])
def test_platforms_without_a_refresh_grant_are_refused_without_a_request(
    platform: str, sent: list[httpx.Request]
) -> None:
    refresh = refresher(answer(200, {"access_token": "never"}), sent)
    assert not refresh.supports(platform)
    error = failure(refresh, platform)
    assert (error.kind, error.code) == (ErrorKind.PERMANENT, "refresh_not_supported")
    assert sent == []


def test_supported_platforms_accept_any_case_and_the_x_alias(sent: list[httpx.Request]) -> None:
    refresh = refresher(answer(200, {}), sent)
    assert all(refresh.supports(p) for p in ("twitter", "X", "LinkedIn", "youtube", "tiktok"))
