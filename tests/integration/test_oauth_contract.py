"""OAuth 2.0 token refresh against the local fake platforms, over real HTTP on loopback: for X,
LinkedIn, YouTube (Google) and TikTok a refresh answers a new access token that publishes with the
real client, with the expected expiry and refresh-token rotation; a refused refresh token is
auth_expired, wrong client credentials are permanent, missing ones fail before any HTTP call; an
expired access token makes every one of the six platform clients raise auth_expired; and no token or
client secret ever appears in an error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from infra.local.fakes.platforms import FakePlatformServer
from tidings.core.clock import FakeClock, SystemClock
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.publishing.base import PlatformClient, PublishRequest
from tidings.publishing.clients import build_client, default_http_client
from tidings.publishing.clients.instagram import InstagramClient
from tidings.publishing.clients.tiktok import TikTokClient
from tidings.publishing.oauth import TokenGrant, TokenRefresher

REFRESHABLE = [Platform.TWITTER, Platform.LINKEDIN, Platform.YOUTUBE, Platform.TIKTOK]
ROTATING = {Platform.TWITTER, Platform.TIKTOK}
# Every secret carries a canary, so a leak into any error text is caught by a substring check.
CANARY = "CANARY"
CLIENTS = {
    Platform.TWITTER: ("x-client-id", f"x-secret-{CANARY}-1"),
    Platform.LINKEDIN: ("li-client-id", f"li-secret-{CANARY}-2"),
    Platform.YOUTUBE: ("google-client-id.apps.example", f"google-secret-{CANARY}-3"),
    Platform.TIKTOK: ("tiktok-client-key", f"tiktok-secret-{CANARY}-4"),
}
CLIENT_ENV = {
    Platform.TWITTER: ("TIDINGS_X_CLIENT_ID", "TIDINGS_X_CLIENT_SECRET"),
    Platform.LINKEDIN: ("TIDINGS_LINKEDIN_CLIENT_ID", "TIDINGS_LINKEDIN_CLIENT_SECRET"),
    Platform.YOUTUBE: ("TIDINGS_GOOGLE_CLIENT_ID", "TIDINGS_GOOGLE_CLIENT_SECRET"),
    Platform.TIKTOK: ("TIDINGS_TIKTOK_CLIENT_KEY", "TIDINGS_TIKTOK_CLIENT_SECRET"),
}
TOKEN_CALLS = {
    Platform.TWITTER: "x.oauth.token",
    Platform.LINKEDIN: "linkedin.oauth.token",
    Platform.YOUTUBE: "google.oauth.token",
    Platform.TIKTOK: "tiktok.oauth.token",
}
EXPIRED_CODES = {
    Platform.FACEBOOK: "190/463",
    Platform.INSTAGRAM: "190/463",
    Platform.LINKEDIN: "EXPIRED_ACCESS_TOKEN",
    Platform.YOUTUBE: "authError",
    Platform.TIKTOK: "access_token_invalid",
}
START = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatformServer]:
    server = FakePlatformServer(
        hold_seconds=3.0,
        instagram_video_seconds=0.2,
        tiktok_processing_seconds=0.2,
        oauth_clients={str(p): pair for p, pair in CLIENTS.items()},
    )
    with server:
        yield server


def settings_for(fake: FakePlatformServer, *, clients: bool = True, **overrides: str) -> Settings:
    # The fake serves the posts' media over http on loopback: the media fetch must be allowed there.
    env = {**fake.client_env(), "TIDINGS_HTTP_TIMEOUT_SECONDS": "5", "TIDINGS_ALLOW_PRIVATE_LINKS": "true"}
    if clients:
        for platform, (id_name, secret_name) in CLIENT_ENV.items():
            env[id_name], env[secret_name] = CLIENTS[platform]
    env.update(overrides)
    return Settings.from_env(env)


@pytest.fixture(scope="module")
def settings(fake: FakePlatformServer) -> Settings:
    return settings_for(fake)


@pytest.fixture(scope="module")
def http(settings: Settings) -> Iterator[httpx.Client]:
    client = default_http_client(settings)
    try:
        yield client
    finally:
        client.close()


def account_id(platform: Platform) -> str:
    suffix = uuid.uuid4().hex[:10]
    return f"urn:li:person:{suffix}" if platform is Platform.LINKEDIN else f"{platform}-account-{suffix}"


def connect(fake: FakePlatformServer, platform: Platform, *, expires_in: timedelta) -> tuple[str, str, str]:
    """A fresh account on the fake: (account id, access token, refresh token)."""
    account = account_id(platform)
    access = f"at-{CANARY}-{uuid.uuid4().hex}"
    refresh = f"rt-{CANARY}-{uuid.uuid4().hex}"
    fake.register_account(
        platform, account, access, expires_at=datetime.now(UTC) + expires_in, refresh_token=refresh
    )
    return account, access, refresh


def make_client(platform: Platform, settings: Settings, http: httpx.Client) -> PlatformClient:
    clock = SystemClock()
    if platform is Platform.INSTAGRAM:
        return InstagramClient(settings, http, clock, poll_interval=0.05, max_wait=10.0)
    if platform is Platform.TIKTOK:
        return TikTokClient(settings, http, clock, poll_interval=0.05, max_wait=10.0)
    return build_client(platform, settings, http, clock)


def request_for(platform: Platform, fake: FakePlatformServer) -> PublishRequest:
    media: tuple[str, ...] = ()
    if platform in (Platform.YOUTUBE, Platform.TIKTOK):
        media = (fake.media_url("tour.mp4"),)
    elif platform is Platform.INSTAGRAM:
        media = (fake.media_url("front.jpg"),)
    return PublishRequest(
        post_id=uuid.uuid4().hex,
        text=f"Open house this Sunday {uuid.uuid4().hex[:10]}",
        media_urls=media,
        title="Open house tour" if platform is Platform.YOUTUBE else None,
    )


def refresh_failure(refresher: TokenRefresher, platform: Platform, refresh_token: str) -> PlatformCallError:
    with pytest.raises(PlatformCallError) as caught:
        refresher.refresh(str(platform), refresh_token)
    return caught.value


def assert_no_secret(error: PlatformCallError, *secrets: str) -> None:
    for text in (str(error), error.message, error.code, repr(error.args)):
        assert CANARY not in text
        for secret in secrets:
            assert secret not in text


# -- a refresh answers a new working token ---------------------------------------------------------


@pytest.mark.parametrize("platform", REFRESHABLE)
def test_a_refresh_answers_a_new_token_that_publishes_with_the_expected_expiry(
    platform: Platform, fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    account, expired, refresh = connect(fake, platform, expires_in=timedelta(minutes=-5))
    clock = FakeClock(START)
    grant = TokenRefresher(settings, http, clock).refresh(str(platform), refresh)

    assert grant.access_token not in ("", expired)
    assert grant.expires_at == START + timedelta(seconds=fake.oauth_token_seconds)
    assert grant.scope
    if platform in ROTATING:  # a new refresh token replaces the one sent
        assert grant.refresh_token not in (None, refresh)
    else:  # LinkedIn answers the same one, Google none: the one sent is kept
        assert grant.refresh_token == refresh
    assert grant.access_token not in repr(grant)
    assert str(grant.refresh_token) not in str(grant)

    client = make_client(platform, settings, http)
    request = request_for(platform, fake)
    published = client.publish(AccountCredentials(platform, account, grant.access_token), request)
    applied = [
        r
        for r in fake.received()
        if r["platform"] == str(platform) and r["postId"] == published.platform_post_id
    ]
    assert len(applied) == 1
    assert applied[0]["accountId"] == account

    with pytest.raises(PlatformCallError) as caught:  # the expired token is still refused
        client.publish(AccountCredentials(platform, account, expired), request_for(platform, fake))
    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    assert_no_secret(caught.value, expired)


@pytest.mark.parametrize("platform", REFRESHABLE)
def test_rotating_platforms_refuse_a_refresh_token_used_once_and_the_others_keep_it(
    platform: Platform, fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    _, _, refresh = connect(fake, platform, expires_in=timedelta(minutes=1))
    refresher = TokenRefresher(settings, http, FakeClock(START))
    first = refresher.refresh(str(platform), refresh)
    if platform in ROTATING:
        error = refresh_failure(refresher, platform, refresh)
        assert (error.kind, error.code) == (ErrorKind.AUTH_EXPIRED, "refresh_failed")
        assert first.refresh_token is not None
        second = refresher.refresh(str(platform), first.refresh_token)
    else:
        second = refresher.refresh(str(platform), refresh)
        assert second.refresh_token == refresh
    assert second.access_token != first.access_token


@pytest.mark.parametrize("platform", REFRESHABLE)
def test_the_previous_access_token_stops_working_except_on_google(
    platform: Platform, fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    account, current, refresh = connect(fake, platform, expires_in=timedelta(minutes=5))
    grant = TokenRefresher(settings, http).refresh(str(platform), refresh)
    assert fake.store.account_for(platform, grant.access_token) == account
    still_valid = fake.store.account_for(platform, current) == account
    assert still_valid is (platform is Platform.YOUTUBE)


# -- refresh failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", REFRESHABLE)
def test_an_unknown_refresh_token_is_auth_expired_and_asks_to_reconnect(
    platform: Platform, fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    bogus = f"rt-{CANARY}-revoked-{uuid.uuid4().hex}"
    error = refresh_failure(TokenRefresher(settings, http), platform, bogus)
    assert (error.kind, error.code, error.status) == (ErrorKind.AUTH_EXPIRED, "refresh_failed", 400)
    assert "invalid_grant" in error.message
    assert "reconnect" in error.message
    assert_no_secret(error, bogus, CLIENTS[platform][1])


@pytest.mark.parametrize("platform", REFRESHABLE)
def test_a_wrong_client_secret_is_a_permanent_operator_problem(
    platform: Platform, fake: FakePlatformServer, http: httpx.Client
) -> None:
    wrong = f"wrong-secret-{CANARY}"
    settings = settings_for(fake, **{CLIENT_ENV[platform][1]: wrong})
    _, _, refresh = connect(fake, platform, expires_in=timedelta(minutes=1))
    error = refresh_failure(TokenRefresher(settings, http), platform, refresh)
    assert (error.kind, error.code, error.status) == (ErrorKind.PERMANENT, "oauth_client_misconfigured", 401)
    assert CLIENT_ENV[platform][1] in error.message
    assert_no_secret(error, wrong, refresh)
    # The refused call did not consume the refresh token: with the right secret it still works.
    TokenRefresher(settings_for(fake), http).refresh(str(platform), refresh)


def test_an_x_confidential_client_without_its_secret_is_refused_as_misconfigured(
    fake: FakePlatformServer, http: httpx.Client
) -> None:
    settings = settings_for(fake, TIDINGS_X_CLIENT_SECRET="")  # sent as a public client: no Basic
    _, _, refresh = connect(fake, Platform.TWITTER, expires_in=timedelta(minutes=1))
    error = refresh_failure(TokenRefresher(settings, http), Platform.TWITTER, refresh)
    assert (error.kind, error.code) == (ErrorKind.PERMANENT, "oauth_client_misconfigured")
    assert "unauthorized_client" in error.message


@pytest.mark.parametrize("platform", REFRESHABLE)
def test_an_unconfigured_client_fails_before_any_http_call(
    platform: Platform, fake: FakePlatformServer
) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    before = fake.calls().get(TOKEN_CALLS[platform], 0)
    with httpx.Client(transport=httpx.MockTransport(record)) as offline:
        error = refresh_failure(TokenRefresher(settings_for(fake, clients=False), offline), platform, "rt-x")
    assert (error.kind, error.code) == (ErrorKind.PERMANENT, "oauth_client_not_configured")
    assert CLIENT_ENV[platform][0] in error.message
    assert sent == []
    assert fake.calls().get(TOKEN_CALLS[platform], 0) == before


@pytest.mark.parametrize("platform", ["facebook", "instagram", "whatsapp"])
def test_meta_tokens_are_not_refreshed(platform: str, fake: FakePlatformServer, http: httpx.Client) -> None:
    refresher = TokenRefresher(settings_for(fake), http)
    assert not refresher.supports(platform)
    with pytest.raises(PlatformCallError) as caught:
        refresher.refresh(platform, "anything")
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "refresh_not_supported")
    assert all(refresher.supports(str(p)) for p in REFRESHABLE)


# -- expired access tokens -------------------------------------------------------------------------


@pytest.mark.parametrize("platform", list(Platform))
def test_an_expired_access_token_makes_every_client_raise_auth_expired(
    platform: Platform, fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    account, token, _ = connect(fake, platform, expires_in=timedelta(seconds=-1))
    client = make_client(platform, settings, http)
    request = request_for(platform, fake)
    with pytest.raises(PlatformCallError) as caught:
        client.publish(AccountCredentials(platform, account, token), request)
    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    if platform in EXPIRED_CODES:
        assert caught.value.code == EXPIRED_CODES[platform]
    assert_no_secret(caught.value, token)
    assert not [r for r in fake.received() if r["text"] == request.text]


def test_a_token_works_until_its_expiry_then_the_platform_refuses_it(
    fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    platform = Platform.TWITTER
    account, token, refresh = connect(fake, platform, expires_in=timedelta(hours=1))
    client = make_client(platform, settings, http)
    client.publish(AccountCredentials(platform, account, token), request_for(platform, fake))
    with httpx.Client() as raw:  # the same token, registered again as already expired
        registered = raw.post(
            f"{fake.url}/_accounts",
            json={
                "platform": "twitter",
                "accountId": account,
                "accessToken": token,
                "expiresAt": (datetime.now(UTC) - timedelta(seconds=1)).isoformat(),
                "refreshToken": refresh,
            },
        )
        assert registered.status_code == 201
        assert token not in registered.text
        malformed = raw.post(
            f"{fake.url}/_accounts",
            json={"platform": "twitter", "accountId": account, "accessToken": token, "expiresAt": "soon"},
        )
        assert malformed.status_code == 400
    with pytest.raises(PlatformCallError) as caught:
        client.publish(AccountCredentials(platform, account, token), request_for(platform, fake))
    assert (caught.value.kind, caught.value.status) == (ErrorKind.AUTH_EXPIRED, 401)
    grant = TokenRefresher(settings, http).refresh("twitter", refresh)
    client.publish(AccountCredentials(platform, account, grant.access_token), request_for(platform, fake))


# -- the fake's token endpoints --------------------------------------------------------------------


def test_token_endpoints_answer_each_platform_s_documented_shape(fake: FakePlatformServer) -> None:
    expected = {
        Platform.TWITTER: {"token_type", "expires_in", "access_token", "scope", "refresh_token"},
        Platform.LINKEDIN: {
            "access_token",
            "expires_in",
            "refresh_token",
            "refresh_token_expires_in",
            "scope",
        },
        Platform.YOUTUBE: {"access_token", "expires_in", "scope", "token_type"},
        Platform.TIKTOK: {
            "access_token",
            "expires_in",
            "open_id",
            "refresh_expires_in",
            "refresh_token",
            "scope",
            "token_type",
        },
    }
    env = fake.client_env()
    urls = {
        Platform.TWITTER: f"{env['TIDINGS_X_API_BASE']}/2/oauth2/token",
        Platform.LINKEDIN: f"{env['TIDINGS_LINKEDIN_OAUTH_BASE']}/oauth/v2/accessToken",
        Platform.YOUTUBE: f"{env['TIDINGS_GOOGLE_OAUTH_BASE']}/token",
        Platform.TIKTOK: f"{env['TIDINGS_TIKTOK_API_BASE']}/v2/oauth/token/",
    }
    with httpx.Client() as raw:
        for platform, keys in expected.items():
            account, _, refresh = connect(fake, platform, expires_in=timedelta(minutes=1))
            client_id, secret = CLIENTS[platform]
            form = {"grant_type": "refresh_token", "refresh_token": refresh}
            auth: tuple[str, str] | None = None
            if platform is Platform.TWITTER:
                form["client_id"], auth = client_id, (client_id, secret)
            elif platform is Platform.TIKTOK:
                form.update(client_key=client_id, client_secret=secret)
            else:
                form.update(client_id=client_id, client_secret=secret)
            answer = raw.post(urls[platform], data=form, auth=auth)
            assert answer.status_code == 200, answer.text
            assert set(answer.json()) == keys
            assert answer.headers["Cache-Control"] == "no-store"
            if platform is Platform.TIKTOK:
                assert answer.json()["open_id"] == account
            as_json = raw.post(urls[platform], json=form, auth=auth)
            assert as_json.status_code == 400
            assert as_json.json()["error"] == "invalid_request"
        refused = raw.post(
            urls[Platform.TIKTOK],
            data={
                "grant_type": "refresh_token",
                "refresh_token": "nope",
                "client_key": "k",
                "client_secret": "s",
            },
        )
        assert refused.status_code == 401
        assert set(refused.json()) == {"error", "error_description", "log_id"}
        assert refused.json()["error"] == "invalid_client"


def test_oauth_clients_register_over_http_and_secrets_are_never_listed(http: httpx.Client) -> None:
    with FakePlatformServer() as server:
        settings = settings_for(server)
        server.register_account(
            Platform.LINKEDIN, "urn:li:person:77", "li-at", refresh_token=f"li-rt-{CANARY}"
        )
        refresher = TokenRefresher(settings, http)
        unknown = refresh_failure(refresher, Platform.LINKEDIN, f"li-rt-{CANARY}")
        assert unknown.code == "oauth_client_misconfigured"
        client_id, secret = CLIENTS[Platform.LINKEDIN]
        with httpx.Client() as raw:
            created = raw.post(
                f"{server.url}/_oauth/clients",
                json={"platform": "linkedin", "clientId": client_id, "clientSecret": secret},
            )
            assert created.status_code == 201
            listed = raw.get(f"{server.url}/_oauth/clients")
            assert listed.json() == [{"platform": "linkedin", "clientId": client_id}]
            assert secret not in created.text + listed.text
            refused = raw.post(f"{server.url}/_oauth/clients", json={"platform": "facebook", "clientId": "a"})
            assert refused.status_code == 400
        grant: TokenGrant = refresher.refresh("linkedin", f"li-rt-{CANARY}")
        assert server.store.account_for(Platform.LINKEDIN, grant.access_token) == "urn:li:person:77"
