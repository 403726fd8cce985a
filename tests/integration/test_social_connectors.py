"""The social account connection check against the local fake platform server, over real HTTP on
loopback: each platform's "who am I" read names the account; a wrong or expired token is auth_failed;
a token that acts for another account is invalid_settings (or the platform's refusal, when the call
names the account); every HTTP call reaches the observer once; throttles, server errors and no answer
keep the publish clients' classification (platform answers from the fake's own error profiles); and
the access token never appears in an error or a repr."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from infra.local.fakes.platforms import FakePlatformServer
from infra.local.fakes.profiles import PROFILES
from infra.local.fakes.state import WHATSAPP, Channel
from tidings.core.config import Settings
from tidings.core.platforms import Platform
from tidings.integrations.connectors.base import (
    CallRecord,
    CheckResult,
    ConnectorCredentials,
    ConnectorError,
)
from tidings.integrations.connectors.social import (
    SOCIAL_PLATFORMS,
    SocialAccountConnector,
    social_connectors,
)
from tidings.publishing.clients import default_http_client

RUN = uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class Case:
    name: str
    platform: str
    account_id: str
    label: str
    route: str  # the fake's call counter for the check's call
    names_account: bool  # the call addresses the account by id (else it asks "who am I")

    @property
    def channel(self) -> Channel:
        return WHATSAPP if self.platform == "whatsapp" else Platform(self.platform)

    @property
    def token(self) -> str:
        return f"canary-{self.name}-{RUN}"

    @property
    def other_account(self) -> str:
        return f"{self.account_id}2"

    @property
    def expired_account(self) -> str:
        return f"{self.account_id}9"


CASES = [
    Case("facebook", "facebook", "104710000101", "Page 104710000101", "facebook.page.read", True),
    Case("instagram", "instagram", "17841400000101", "@ig_17841400000101", "instagram.user.read", True),
    Case("twitter", "twitter", "2244994101", "@user2244994101", "x.users.me", False),
    Case(
        "linkedin-organization",
        "linkedin",
        "urn:li:organization:5550101",
        "Organization 5550101",
        "linkedin.organizations.read",
        True,
    ),
    Case(
        "linkedin-member",
        "linkedin",
        "urn:li:person:m3mb3r0101",
        "Member m3mb3r0101",
        "linkedin.userinfo",
        False,
    ),
    Case(
        "youtube", "youtube", "UCsocialcheck0101", "Channel UCsocialcheck0101", "youtube.channels.read", False
    ),
    Case("tiktok", "tiktok", "open-id-social-0101", "Creator open-id-social-0101", "tiktok.user.info", False),
    Case(
        "whatsapp",
        "whatsapp",
        "106540352240101",
        "Business 106540352240101 (+1 555-0101)",
        "whatsapp.phone_number.read",
        True,
    ),
]
IDS = [case.name for case in CASES]
ASKS_WHO_AM_I = [case for case in CASES if not case.names_account]
NAMES_ACCOUNT = [case for case in CASES if case.names_account]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatformServer]:
    server = FakePlatformServer()
    server.start()
    expired = datetime.now(UTC) - timedelta(minutes=5)
    for case in CASES:
        server.register_account(case.channel, case.account_id, case.token)
        server.register_account(case.channel, case.other_account, f"{case.token}-other")
        server.register_account(
            case.channel, case.expired_account, f"{case.token}-expired", expires_at=expired
        )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def settings(fake: FakePlatformServer) -> Settings:
    return Settings.from_env({**fake.client_env(), "TIDINGS_HTTP_TIMEOUT_SECONDS": "2"})


@pytest.fixture(scope="module")
def http(settings: Settings) -> Iterator[httpx.Client]:
    client = default_http_client(settings)
    try:
        yield client
    finally:
        client.close()


class Recorder:
    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def __call__(self, record: CallRecord) -> None:
        self.records.append(record)


def creds(account_id: str, token: str) -> ConnectorCredentials:
    return ConnectorCredentials(settings={"accountId": account_id}, secrets={"accessToken": token})


def failure(
    connector: SocialAccountConnector, credentials: ConnectorCredentials, observe: Recorder | None = None
) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        connector.check(credentials, observe or Recorder())
    return caught.value


def assert_hidden(token: str, *things: object) -> None:
    for thing in things:
        assert token not in str(thing)
        assert token not in repr(thing)
        if isinstance(thing, ConnectorError):
            assert token not in thing.message


# -- against the fake -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_check_names_the_connected_account(
    case: Case, fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    connector = SocialAccountConnector(case.platform, http, settings)
    observe = Recorder()
    before = fake.calls().get(case.route, 0)

    result = connector.check(creds(case.account_id, case.token), observe)

    assert result.account_label == case.label
    assert result.facts["id"] == case.account_id
    assert (connector.type, connector.provider) == ("social_media", case.platform)
    # one HTTP call, one record: operation, status, latency, never the URL or a header
    assert fake.calls()[case.route] - before == 1
    assert len(observe.records) == 1
    record = observe.records[0]
    assert (record.status, record.ok) == (200, True)
    assert record.operation.startswith(f"{case.platform}.")
    assert record.latency_ms >= 0
    assert_hidden(case.token, result, connector, creds(case.account_id, case.token), record)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_wrong_token_is_auth_failed(case: Case, settings: Settings, http: httpx.Client) -> None:
    connector = SocialAccountConnector(case.platform, http, settings)
    observe = Recorder()
    wrong = f"wrong-{case.token}"

    error = failure(connector, creds(case.account_id, wrong), observe)

    assert error.code == "auth_failed"
    assert not error.retryable
    assert error.status in (400, 401)
    assert [(r.status, r.ok) for r in observe.records] == [(error.status, False)]
    assert_hidden(wrong, error)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_an_expired_token_is_auth_failed(case: Case, settings: Settings, http: httpx.Client) -> None:
    connector = SocialAccountConnector(case.platform, http, settings)
    expired = f"{case.token}-expired"

    error = failure(connector, creds(case.expired_account, expired))

    assert error.code == "auth_failed"
    assert_hidden(expired, error)


@pytest.mark.parametrize("case", ASKS_WHO_AM_I, ids=[c.name for c in ASKS_WHO_AM_I])
def test_a_token_acting_for_another_account_is_invalid_settings(
    case: Case, settings: Settings, http: httpx.Client
) -> None:
    connector = SocialAccountConnector(case.platform, http, settings)
    observe = Recorder()

    error = failure(connector, creds(case.other_account, case.token), observe)

    assert error.code == "invalid_settings"
    assert case.other_account in error.message
    assert case.account_id.rsplit(":", 1)[-1] in error.message
    assert [r.ok for r in observe.records] == [True]  # the call itself went fine
    assert_hidden(case.token, error)


@pytest.mark.parametrize("case", NAMES_ACCOUNT, ids=[c.name for c in NAMES_ACCOUNT])
def test_reading_another_accounts_node_is_refused(case: Case, settings: Settings, http: httpx.Client) -> None:
    # The call names the configured account; a token of another account may not read it.
    connector = SocialAccountConnector(case.platform, http, settings)

    error = failure(connector, creds(case.other_account, case.token))

    assert error.code == "auth_failed"
    assert_hidden(case.token, error)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_sync_refreshes_the_account_profile(case: Case, settings: Settings, http: httpx.Client) -> None:
    connector = SocialAccountConnector(case.platform, http, settings)
    observe = Recorder()

    result = connector.sync(creds(case.account_id, case.token), None, observe)

    assert result.complete
    assert result.cursor is None
    assert len(result.records) == 1
    record = result.records[0]
    assert (record.kind, record.key) == ("account_profile", case.account_id)
    assert record.attributes["label"] == case.label
    assert record.attributes["id"] == case.account_id
    assert len(observe.records) == 1
    assert_hidden(case.token, result)


def test_a_linkedin_urn_that_is_neither_member_nor_organization_is_refused_without_a_call(
    settings: Settings, http: httpx.Client
) -> None:
    observe = Recorder()
    connector = SocialAccountConnector("linkedin", http, settings)

    error = failure(connector, creds("urn:li:company:42", "any-token"), observe)

    assert error.code == "invalid_settings"
    assert observe.records == []


def test_missing_settings_or_secret_fail_before_any_call(settings: Settings, http: httpx.Client) -> None:
    observe = Recorder()
    connector = SocialAccountConnector("facebook", http, settings)
    missing_id = ConnectorCredentials(settings={}, secrets={"accessToken": "t"})
    missing_token = ConnectorCredentials(settings={"accountId": "1"}, secrets={})

    assert failure(connector, missing_id, observe).code == "invalid_settings"
    assert failure(connector, missing_token, observe).code == "auth_failed"
    assert observe.records == []


def test_every_platform_has_a_connector(settings: Settings, http: httpx.Client) -> None:
    connectors = social_connectors(http, settings)

    assert [c.provider for c in connectors] == list(SOCIAL_PLATFORMS)
    assert {c.provider for c in connectors} == {
        "facebook",
        "instagram",
        "twitter",
        "linkedin",
        "youtube",
        "tiktok",
        "whatsapp",
    }
    for connector in connectors:
        assert connector.type == "social_media"
        assert connector.required_settings == ("accountId",)
        assert connector.required_secrets == ("accessToken",)
    assert SocialAccountConnector("X", http, settings).provider == "twitter"
    with pytest.raises(ValueError, match="pinterest"):
        SocialAccountConnector("pinterest", http, settings)


# -- platform answers the fake cannot be asked for (its faults apply to publishing only) --------------


def mocked(case: Case, handler: Callable[[httpx.Request], httpx.Response]) -> SocialAccountConnector:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return SocialAccountConnector(case.platform, client, Settings())


def profile_reply(make: Callable[..., Any], *args: Any) -> Callable[[httpx.Request], httpx.Response]:
    """The fake's own error answer for the platform (status, body, headers)."""

    def handler(request: httpx.Request) -> httpx.Response:
        reply = make(*args)
        return httpx.Response(reply.status, json=reply.body, headers=reply.headers)

    return handler


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_throttle_is_rate_limited_with_the_wait(case: Case) -> None:
    profile = PROFILES[case.channel]
    connector = mocked(case, profile_reply(profile.rate_limited, 7))

    error = failure(connector, creds(case.account_id, case.token))

    assert error.code == "rate_limited"
    assert error.retryable
    assert error.retry_after == pytest.approx(7, abs=1)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_server_error_is_unreachable(case: Case) -> None:
    observe = Recorder()
    connector = mocked(case, profile_reply(PROFILES[case.channel].server_error))

    error = failure(connector, creds(case.account_id, case.token), observe)

    assert error.code == "unreachable"
    assert error.retryable
    assert [(r.status, r.ok) for r in observe.records] == [(500, False)]


def test_no_answer_is_unreachable_and_recorded_without_a_status(settings: Settings) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    case = CASES[0]
    observe = Recorder()
    connector = mocked(case, refuse)

    error = failure(connector, creds(case.account_id, case.token), observe)

    assert error.code == "unreachable"
    assert len(observe.records) == 1
    assert (observe.records[0].status, observe.records[0].ok) == (None, False)


OTHER_ACCOUNT_BODIES: dict[str, dict[str, Any]] = {
    "facebook": {"id": "999", "name": "Another Page"},
    "instagram": {"id": "999", "username": "another"},
    "twitter": {"data": {"id": "999", "name": "Another", "username": "another"}},
    "linkedin-organization": {"id": 999, "localizedName": "Another"},
    "linkedin-member": {"sub": "999", "name": "Another"},
    "youtube": {"items": [{"id": "UCanother", "snippet": {"title": "Another"}}]},
    "tiktok": {"data": {"user": {"open_id": "999", "display_name": "Another"}}, "error": {"code": "ok"}},
    "whatsapp": {"id": "999", "verified_name": "Another", "display_phone_number": "+1 555-0999"},
}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_an_answer_for_another_account_is_invalid_settings(case: Case) -> None:
    body = OTHER_ACCOUNT_BODIES[case.name]
    connector = mocked(case, lambda request: httpx.Response(200, json=body))

    error = failure(connector, creds(case.account_id, case.token))

    assert error.code == "invalid_settings"
    assert case.account_id in error.message


def echoing_auth_error(case: Case, token: str) -> httpx.Response:
    """A platform's auth error whose message repeats the token it was sent."""
    said = f"token {token} is not valid"
    if case.platform in ("facebook", "instagram", "whatsapp"):
        return httpx.Response(400, json={"error": {"message": said, "type": "OAuthException", "code": 190}})
    if case.platform == "twitter":
        return httpx.Response(401, json={"title": "Unauthorized", "detail": said, "status": 401})
    if case.platform == "linkedin":
        return httpx.Response(401, json={"status": 401, "code": "INVALID_ACCESS_TOKEN", "message": said})
    if case.platform == "youtube":
        return httpx.Response(
            401, json={"error": {"code": 401, "message": said, "errors": [{"reason": "authError"}]}}
        )
    return httpx.Response(401, json={"data": {}, "error": {"code": "access_token_invalid", "message": said}})


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_token_the_platform_echoes_is_redacted(case: Case) -> None:
    connector = mocked(case, lambda request: echoing_auth_error(case, case.token))
    credentials = creds(case.account_id, case.token)

    error = failure(connector, credentials)

    assert error.code == "auth_failed"
    assert "[redacted]" in error.message
    assert_hidden(case.token, error, connector, credentials)


def test_the_token_travels_only_in_the_authorization_header() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "104710000101", "name": "Page"})

    case = CASES[0]
    result: CheckResult = mocked(case, answer).check(creds(case.account_id, case.token), Recorder())

    assert result.account_label == "Page"
    assert case.token not in str(seen[0].url)
    assert seen[0].headers["Authorization"] == f"Bearer {case.token}"
    assert seen[0].url.params["fields"] == "id,name"
