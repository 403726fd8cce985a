"""The connection check for a connected social account: one documented "who am I" read per platform.

`POST /integrations/{id}/test` on an integration of type ``social_media`` runs `check`: it reads the
account the stored access token acts for, confirms it is the account in the integration's settings
(`accountId`), and answers its name. `sync` is a profile refresh: the same read, as one record.

The calls (base URLs and versions from `tidings.core.config.Settings`, shared with the publish clients):

- facebook: ``GET /{page-id}?fields=id,name`` with the Page access token (Graph API Page reference,
  developers.facebook.com/docs/graph-api/reference/page: `id` and `name` fields);
- instagram: ``GET /{ig-user-id}?fields=id,username`` (Instagram Platform IG User reference,
  developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user);
- twitter (X): ``GET /2/users/me`` answering ``{"data": {"id", "name", "username"}}`` (docs.x.com,
  "Get my User" / Users lookup quickstart "authenticated lookup");
- linkedin: an organization URN ``urn:li:organization:N`` reads ``GET /rest/organizations/N`` with
  `LinkedIn-Version` (learn.microsoft.com/linkedin, Community Management "Organization Lookup":
  ``id``, ``localizedName``, ``vanityName``); a member URN ``urn:li:person:X`` reads the OpenID
  Connect ``GET /v2/userinfo``, whose ``sub`` is the member id (learn.microsoft.com/linkedin,
  "Sign In with LinkedIn using OpenID Connect": ``sub``, ``name``, ``given_name``, ``family_name``);
- youtube: ``GET /youtube/v3/channels?part=id,snippet&mine=true``, the channels the token's user owns
  (developers.google.com/youtube/v3, "Channels: list": ``mine``; ``items[].id``, ``snippet.title``);
- tiktok: ``GET /v2/user/info/?fields=open_id,display_name`` answering ``{"data": {"user": {...}},
  "error": {"code": "ok"}}`` (developers.tiktok.com/doc/tiktok-api-v2-get-user-info);
- whatsapp: ``GET /{phone-number-id}?fields=id,display_phone_number,verified_name`` (WhatsApp Business
  Platform, "WhatsApp Business Account Phone Number API": ``GET /{Version}/{Phone-Number-ID}``).

Failures keep the publish clients' classification (`graph_error`, `x_error`, `youtube_error`,
`tiktok_error`, `whatsapp_error`, the LinkedIn client's) and become a `ConnectorError`: an invalid,
expired or revoked token is ``auth_failed``, a throttle ``rate_limited`` (with the wait the platform
asked for), a 5xx or no answer ``unreachable``. The access token travels only in the Authorization
header and is redacted from every message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.http import bearer, json_body, redact, send
from tidings.core.platforms import ACCOUNT_PLATFORMS, GRAPH_PLATFORMS
from tidings.integrations.connectors.base import (
    CallObserver,
    CheckResult,
    ConnectorCredentials,
    ConnectorError,
    SyncResult,
)
from tidings.models.calls import CallRecord
from tidings.models.integrations import SyncedRecord
from tidings.publishing.clients.graph import graph_error, graph_int
from tidings.publishing.clients.linkedin import LinkedInClient
from tidings.publishing.clients.tiktok import tiktok_error
from tidings.publishing.clients.whatsapp import whatsapp_error
from tidings.publishing.clients.x import x_error
from tidings.publishing.clients.youtube import youtube_error

SOCIAL_PLATFORMS = ACCOUNT_PLATFORMS
_ALIASES = {"x": "twitter"}
_GRAPH_PLATFORMS = GRAPH_PLATFORMS
_LINKEDIN_PERSON = "urn:li:person:"
_LINKEDIN_ORGANIZATION = "urn:li:organization:"

# Graph API "Handling Errors" (developers.facebook.com/docs/graph-api/guides/error-handling):
# 10 is "API Permission Denied" and 200-299 "API Permission": the token lacks a permission.
_GRAPH_PERMISSION_CODES = frozenset({10, *range(200, 300)})

Classify = Callable[[httpx.Response], PlatformCallError | None]


@dataclass(frozen=True)
class _Profile:
    """What the platform answered: the account the token acts for, its name, and a few facts."""

    account_id: str
    label: str
    facts: dict[str, Any] = field(default_factory=dict)


class SocialAccountConnector:
    """The connection check (and profile refresh) for one platform's connected accounts.

    Settings: ``accountId``, the platform account the integration publishes as (Page id, IG user
    id, X user id, LinkedIn person or organization URN, YouTube channel id, TikTok open_id or
    WhatsApp phone-number id). Secrets: ``accessToken``, the token publishing uses.
    """

    type: str = "social_media"
    required_settings: tuple[str, ...] = ("accountId",)
    required_secrets: tuple[str, ...] = ("accessToken",)
    optional_secrets: tuple[str, ...] = ()

    def __init__(
        self, platform: str, http: httpx.Client, settings: Settings, *, clock: Clock = DEFAULT_CLOCK
    ) -> None:
        name = str(platform).strip().lower()
        name = _ALIASES.get(name, name)
        if name not in SOCIAL_PLATFORMS:
            raise ValueError(f"no social account connector for {platform!r} (one of {SOCIAL_PLATFORMS})")
        self.provider: str = name
        self.http = http
        self.clock = clock
        bases = {
            "facebook": settings.facebook_api_base,
            "instagram": settings.instagram_api_base,
            "twitter": settings.x_api_base,
            "linkedin": settings.linkedin_api_base,
            "youtube": settings.youtube_api_base,
            "tiktok": settings.tiktok_api_base,
            "whatsapp": settings.whatsapp_api_base,
        }
        self.base = bases[name].rstrip("/")
        # LinkedIn's versioned headers and error classification live on its publish client.
        self._linkedin = LinkedInClient(settings, http, clock) if name == "linkedin" else None

    def __repr__(self) -> str:
        return f"SocialAccountConnector(provider={self.provider!r}, base={self.base!r})"

    # -- the Connector protocol ------------------------------------------------------------------

    def check(self, creds: ConnectorCredentials, observe: CallObserver) -> CheckResult:
        account_id, token = _credentials(creds)
        profile = self._read_profile(account_id, token, observe)
        if profile.account_id != account_id:
            raise ConnectorError(
                "invalid_settings",
                redact(
                    f"the {self.provider} access token acts for account {profile.account_id!r}, "
                    f"not the configured accountId {account_id!r}",
                    token,
                ),
            )
        return CheckResult(
            account_label=profile.label,
            detail=f"connected to {self.provider} as {profile.label}",
            facts={"id": profile.account_id, **profile.facts},
        )

    def sync(
        self,
        creds: ConnectorCredentials,
        since: datetime | None,
        observe: CallObserver,
        max_records: int = 10_000,
    ) -> SyncResult:
        """A profile refresh: the connected account's current name and facts, as one record. A
        profile has no change feed, so `since` does not narrow anything and no cursor is kept."""
        if max_records < 1:
            return SyncResult(records=(), complete=False)
        result = self.check(creds, observe)
        account_id = str(creds.settings.get("accountId", "")).strip()
        record = SyncedRecord(
            kind="account_profile",
            key=account_id,
            attributes={"label": result.account_label, **result.facts},
        )
        return SyncResult(records=(record,))

    # -- the platform calls ----------------------------------------------------------------------

    def _read_profile(self, account_id: str, token: str, observe: CallObserver) -> _Profile:
        readers: dict[str, Callable[[str, str, CallObserver], _Profile]] = {
            "facebook": self._facebook,
            "instagram": self._instagram,
            "twitter": self._x,
            "linkedin": self._linkedin_profile,
            "youtube": self._youtube,
            "tiktok": self._tiktok,
            "whatsapp": self._whatsapp,
        }
        return readers[self.provider](account_id, token, observe)

    def _facebook(self, account_id: str, token: str, observe: CallObserver) -> _Profile:
        body = self._graph_node(account_id, "id,name", token, observe, "facebook.page.read")
        name = _text(body.get("name"))
        return _Profile(_required(body, "id", self.provider, token), name or account_id, {"name": name})

    def _instagram(self, account_id: str, token: str, observe: CallObserver) -> _Profile:
        body = self._graph_node(account_id, "id,username", token, observe, "instagram.user.read")
        username = _text(body.get("username"))
        label = f"@{username}" if username else account_id
        return _Profile(_required(body, "id", self.provider, token), label, {"username": username})

    def _whatsapp(self, account_id: str, token: str, observe: CallObserver) -> _Profile:
        body = self._graph_node(
            account_id, "id,display_phone_number,verified_name", token, observe, "whatsapp.phone_number.read"
        )
        verified, number = _text(body.get("verified_name")), _text(body.get("display_phone_number"))
        label = f"{verified} ({number})" if verified and number else verified or number or account_id
        facts = {"verified_name": verified, "display_phone_number": number}
        return _Profile(_required(body, "id", self.provider, token), label, facts)

    def _graph_node(
        self, node: str, fields: str, token: str, observe: CallObserver, operation: str
    ) -> dict[str, Any]:
        classify = whatsapp_error if self.provider == "whatsapp" else graph_error
        response = self._get(
            operation,
            f"{self.base}/{quote(node, safe='')}",
            token,
            observe,
            lambda r: None if r.status_code == 200 else classify(r, token=token, now=self.clock.now()),
            params={"fields": fields},
        )
        return json_body(response)

    def _x(self, account_id: str, token: str, observe: CallObserver) -> _Profile:
        response = self._get(
            "twitter.users.me",
            f"{self.base}/2/users/me",
            token,
            observe,
            lambda r: None if r.status_code == 200 else x_error(r, token=token, now=self.clock.now()),
        )
        data = json_body(response).get("data")
        data = data if isinstance(data, dict) else {}
        username, name = _text(data.get("username")), _text(data.get("name"))
        label = f"@{username}" if username else name or account_id
        return _Profile(
            _required(data, "id", self.provider, token), label, {"username": username, "name": name}
        )

    def _linkedin_profile(self, account_id: str, token: str, observe: CallObserver) -> _Profile:
        client = self._linkedin
        assert client is not None

        def classify(response: httpx.Response) -> PlatformCallError | None:
            return None if response.status_code == 200 else client._error(response, token)

        if account_id.startswith(_LINKEDIN_ORGANIZATION):
            number = account_id.removeprefix(_LINKEDIN_ORGANIZATION)
            if not number.isdigit():
                raise ConnectorError(
                    "invalid_settings", f"{account_id!r} is not an organization URN (urn:li:organization:N)"
                )
            response = self._get(
                "linkedin.organizations.get",
                f"{self.base}/rest/organizations/{number}",
                token,
                observe,
                classify,
                headers=client._headers(token),
            )
            body = json_body(response)
            name, vanity = _text(body.get("localizedName")), _text(body.get("vanityName"))
            answered = f"{_LINKEDIN_ORGANIZATION}{_required(body, 'id', self.provider, token)}"
            return _Profile(answered, name or vanity or account_id, {"name": name, "vanityName": vanity})
        if account_id.startswith(_LINKEDIN_PERSON):
            # The OpenID Connect userinfo endpoint is unversioned: no LinkedIn-Version header.
            response = self._get(
                "linkedin.userinfo",
                f"{self.base}/v2/userinfo",
                token,
                observe,
                classify,
                headers=bearer(token),
            )
            body = json_body(response)
            name = _text(body.get("name"))
            answered = f"{_LINKEDIN_PERSON}{_required(body, 'sub', self.provider, token)}"
            return _Profile(answered, name or account_id, {"name": name})
        raise ConnectorError(
            "invalid_settings",
            f"{account_id!r} is neither a member URN (urn:li:person:…) nor an organization URN "
            "(urn:li:organization:…)",
        )

    def _youtube(self, account_id: str, token: str, observe: CallObserver) -> _Profile:
        response = self._get(
            "youtube.channels.list",
            f"{self.base}/youtube/v3/channels",
            token,
            observe,
            lambda r: None if r.status_code == 200 else youtube_error(r, token=token, now=self.clock.now()),
            params={"part": "id,snippet", "mine": "true"},
        )
        items = json_body(response).get("items")
        channels = (
            [c for c in items if isinstance(c, dict) and c.get("id")] if isinstance(items, list) else []
        )
        if not channels:
            raise ConnectorError("not_found", "the token's Google account owns no YouTube channel")
        # `mine` lists every channel the token's user owns; the configured one must be among them.
        chosen = next((c for c in channels if str(c["id"]) == account_id), channels[0])
        snippet = chosen.get("snippet")
        snippet = snippet if isinstance(snippet, dict) else {}
        title, handle = _text(snippet.get("title")), _text(snippet.get("customUrl"))
        return _Profile(
            str(chosen["id"]), title or handle or str(chosen["id"]), {"title": title, "customUrl": handle}
        )

    def _tiktok(self, account_id: str, token: str, observe: CallObserver) -> _Profile:
        def classify(response: httpx.Response) -> PlatformCallError | None:
            error = json_body(response).get("error")
            code = error.get("code") if isinstance(error, dict) else None
            if response.status_code == 200 and code in (None, "ok"):
                return None
            return tiktok_error(response, token=token, now=self.clock.now())

        response = self._get(
            "tiktok.user.info",
            f"{self.base}/v2/user/info/",
            token,
            observe,
            classify,
            params={"fields": "open_id,display_name"},
        )
        data = json_body(response).get("data")
        user = data.get("user") if isinstance(data, dict) else None
        user = user if isinstance(user, dict) else {}
        name = _text(user.get("display_name"))
        return _Profile(
            _required(user, "open_id", self.provider, token), name or account_id, {"display_name": name}
        )

    # -- one HTTP call ---------------------------------------------------------------------------

    def _get(
        self,
        operation: str,
        url: str,
        token: str,
        observe: CallObserver,
        classify: Classify,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One GET, reported to `observe` (never its URL's query or headers); a failure raises a
        ConnectorError with the token redacted."""
        started = time.perf_counter()
        try:
            response = send(
                self.http,
                "GET",
                url,
                token=token,
                mutating=False,
                params=params,
                headers=headers if headers is not None else bearer(token),
            )
        except PlatformCallError as exc:  # no answer: connect failure, timeout, connection lost
            observe(CallRecord(operation, None, _elapsed_ms(started), ok=False))
            raise ConnectorError(
                "unreachable", redact(f"{self.provider} did not answer: {exc.message}", token)
            ) from None
        latency = _elapsed_ms(started)
        failure = classify(response)
        observe(CallRecord(operation, response.status_code, latency, ok=failure is None))
        if failure is not None:
            raise self._connector_error(failure, token)
        return response

    def _connector_error(self, exc: PlatformCallError, token: str) -> ConnectorError:
        code = _connector_code(exc, graph=self.provider in _GRAPH_PLATFORMS)
        message = redact(f"{self.provider} answered {exc.message} ({exc.code})", token)
        retry_after = exc.retry_after if code == "rate_limited" else None
        return ConnectorError(code, message, status=exc.status, retry_after=retry_after)


def social_connectors(http: httpx.Client, settings: Settings) -> list[SocialAccountConnector]:
    """One connector per social platform Tidings connects accounts on."""
    return [SocialAccountConnector(platform, http, settings) for platform in SOCIAL_PLATFORMS]


def _connector_code(exc: PlatformCallError, *, graph: bool) -> str:
    """The publish clients' error kind as a connector error code (see ConnectorError)."""
    if exc.kind is ErrorKind.AUTH_EXPIRED:
        return "auth_failed"
    if exc.kind is ErrorKind.RATE_LIMITED:
        return "rate_limited"
    if exc.kind in (ErrorKind.RETRYABLE, ErrorKind.UNKNOWN_OUTCOME):
        return "unreachable"
    if exc.status in (401, 403):
        return "auth_failed"
    if graph and graph_int(exc.code.split("/")[0]) in _GRAPH_PERMISSION_CODES:
        return "auth_failed"
    if exc.status == 404:
        return "not_found"
    return "invalid_settings"


def _credentials(creds: ConnectorCredentials) -> tuple[str, str]:
    account_id = str(creds.settings.get("accountId") or "").strip()
    token = str(creds.secrets.get("accessToken") or "").strip()
    if not account_id:
        raise ConnectorError("invalid_settings", "accountId (the platform account id) is required")
    if not token:
        raise ConnectorError("auth_failed", "no accessToken is stored for this account")
    return account_id, token


def _required(body: dict[str, Any], key: str, provider: str, token: str) -> str:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise ConnectorError(
            "unexpected_response", redact(f"{provider} answered without the account's {key!r}", token)
        )
    return str(value)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
