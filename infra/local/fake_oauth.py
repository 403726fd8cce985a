"""The fake platforms' OAuth 2.0 token endpoints (refresh_token grant) and expired access tokens.

Served by `infra.local.fake_platforms.FakePlatformServer`, which routes here (importing this module
late: it imports that one):

    POST /x/2/oauth2/token                      X: form grant_type, refresh_token, client_id; HTTP Basic
                                                client_id:client_secret for a confidential client
    POST /linkedin-oauth/oauth/v2/accessToken   LinkedIn: form grant_type, refresh_token, client_id,
                                                client_secret
    POST /google-oauth/token                    Google (YouTube): the same form as LinkedIn
    POST /tiktok/v2/oauth/token/                TikTok: form client_key, client_secret, grant_type,
                                                refresh_token
    POST /_oauth/clients                        {platform, clientId, clientSecret}: the app credentials a
                                                token endpoint accepts (GET lists the client ids)

Sources: docs.x.com "OAuth 2.0 Authorization Code Flow with PKCE" (step 5, refresh token; answer
token_type, expires_in, access_token, scope, refresh_token); LinkedIn "Programmatic Refresh Tokens"
(learn.microsoft.com; answer access_token, expires_in, refresh_token, refresh_token_expires_in,
scope; the refresh token's lifetime keeps running from the first grant); Google "Using OAuth 2.0 for
Web Server Applications", refreshing an access token (answer access_token, expires_in, scope,
token_type, no refresh token); TikTok "Refresh a User Access Token" (answer access_token,
expires_in, open_id, refresh_expires_in, refresh_token, scope, token_type; refresh tokens rotate)
and TikTok "Error Handling" for OAuth ({error, error_description, log_id}); RFC 6749 section 5.2 for
the error codes (invalid_grant 400, invalid_client 401).

A refresh with a known refresh token and the registered client credentials issues a new access token
for the same account, valid `FakePlatformServer.oauth_token_seconds` (default 3600). X and TikTok rotate
the refresh token (the one sent stops working) and, like LinkedIn, the previous access token stops
working; Google keeps the refresh token and leaves the previous access token valid until it expires.

Expired access tokens: every platform call made with a registered token past its expiry gets the
platform's own answer (Graph: code 190, subcode 463 "Session has expired"; LinkedIn: 401
EXPIRED_ACCESS_TOKEN; X, YouTube and TikTok: their usual 401), before the route itself runs.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from infra.local.fake_platforms import (
    PROFILES,
    Outcome,
    _count,
    _graph_error,
    _li_error,
    _log_id,
    _platform,
    _Reply,
    _Request,
)
from tidings.core.platforms import Platform

if TYPE_CHECKING:
    from infra.local.fake_platforms import FakePlatformServer

# The URL prefix of each platform's API, for the expired-token check.
_API_PREFIXES: dict[str, Platform] = {
    "facebook": Platform.FACEBOOK,
    "instagram": Platform.INSTAGRAM,
    "x": Platform.TWITTER,
    "linkedin": Platform.LINKEDIN,
    "youtube": Platform.YOUTUBE,
    "tiktok": Platform.TIKTOK,
}
_GRAPH = frozenset({"facebook", "instagram", "whatsapp"})
_ROTATING = frozenset({Platform.TWITTER, Platform.TIKTOK})  # a refresh answers a new refresh token
_LINKEDIN_REFRESH_SECONDS = 365 * 86400  # LinkedIn: refresh tokens live a year from the first grant
_TIKTOK_REFRESH_SECONDS = 365 * 86400
_COUNTER = {
    Platform.TWITTER: "x.oauth.token",
    Platform.LINKEDIN: "linkedin.oauth.token",
    Platform.YOUTUBE: "google.oauth.token",
    Platform.TIKTOK: "tiktok.oauth.token",
}
_SCOPES = {
    Platform.TWITTER: "tweet.read tweet.write users.read media.write offline.access",
    Platform.LINKEDIN: "w_member_social,r_basicprofile",
    Platform.YOUTUBE: (
        "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.readonly"
    ),
    Platform.TIKTOK: "user.info.basic,video.publish,video.list",
}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 section 5.1


# -- expired access tokens -------------------------------------------------------------------------


def expired_token_reply(fake: FakePlatformServer, req: _Request) -> _Reply | None:
    """The platform's answer to a call made with an access token past its expiry; None otherwise."""
    head = req.segments[0] if req.segments else ""
    channel: Any = _API_PREFIXES.get(head)
    if channel is None and head in _GRAPH:
        try:
            channel = _platform(head)
        except ValueError:
            return None
    if channel is None:
        return None
    token = req.bearer
    if token is None and head in _GRAPH:
        token = req.params().get("access_token")
    if not fake.store.expired(channel, token):
        return None
    if head in _GRAPH:
        with fake.store.lock:
            expiry = fake.store.token_expiry.get((channel, token or ""), time.time())
        status = PROFILES[channel].auth_error().status if channel in PROFILES else 400
        return _graph_error(
            status,
            190,
            f"Error validating access token: Session has expired on {_graph_day(expiry)}. "
            f"The current time is {_graph_day(time.time())}.",
            subcode=463,
        )
    if channel is Platform.LINKEDIN:
        return _li_error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")
    return PROFILES[channel].auth_error()


def _graph_day(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")


# -- routing ---------------------------------------------------------------------------------------


def route(fake: FakePlatformServer, req: _Request) -> Outcome:
    """A token endpoint (under /x, /tiktok, /linkedin-oauth or /google-oauth) or /_oauth."""
    head, parts = req.segments[0], req.segments[1:]
    if head == "_oauth":
        return _clients(fake, req, parts)
    if head == "x" and parts == ["2", "oauth2", "token"]:
        return _token(fake, Platform.TWITTER, req)
    if head == "tiktok" and parts == ["v2", "oauth", "token"]:
        return _token(fake, Platform.TIKTOK, req)
    if head == "linkedin-oauth" and parts == ["oauth", "v2", "accessToken"]:
        return _token(fake, Platform.LINKEDIN, req)
    if head == "google-oauth" and parts == ["token"]:
        return _token(fake, Platform.YOUTUBE, req)
    return _Reply(404, {"error": "not_found", "error_description": f"no route {req.method} {req.path}"})


def _clients(fake: FakePlatformServer, req: _Request, parts: list[str]) -> _Reply:
    if parts != ["clients"]:
        return _Reply(404, {"error": f"no route {req.method} {req.path}"})
    if req.method == "GET":
        with fake.store.lock:
            clients = sorted((str(p), c[0]) for p, c in fake.store.oauth_clients.items())
        return _Reply(200, [{"platform": p, "clientId": c} for p, c in clients])
    if req.method != "POST":
        return _Reply(405, {"error": f"{req.method} /_oauth/clients is not supported"})
    body = req.json()
    client_id, secret = body.get("clientId"), body.get("clientSecret")
    if not (isinstance(client_id, str) and client_id and isinstance(secret, str)):
        return _Reply(400, {"error": "expected {platform, clientId, clientSecret}"})
    try:
        platform = _platform(str(body.get("platform")))
    except ValueError as exc:
        return _Reply(400, {"error": str(exc)})
    if platform not in _COUNTER:
        return _Reply(400, {"error": f"{platform} has no refresh_token grant here"})
    fake.set_oauth_client(platform, client_id, secret)
    return _Reply(201, {"platform": str(platform), "clientId": client_id})


# -- the refresh_token grant -----------------------------------------------------------------------


def _oauth_error(platform: Platform, status: int, error: str, description: str, **headers: str) -> _Reply:
    body: dict[str, Any] = {"error": error, "error_description": description}
    if platform is Platform.TIKTOK:
        body["log_id"] = _log_id()
    return _Reply(status, body, {**_NO_STORE, **headers})


def _token(fake: FakePlatformServer, platform: Platform, req: _Request) -> _Reply:
    _count(fake, _COUNTER[platform])
    if req.method != "POST":
        return _oauth_error(platform, 405, "invalid_request", f"{req.method} is not supported")
    if "application/x-www-form-urlencoded" not in (req.headers.get("Content-Type") or "").lower():
        return _oauth_error(
            platform, 400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
        )
    form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
    refused = _client_refused(fake, platform, req, form)
    if refused is not None:
        return refused
    if form.get("grant_type") != "refresh_token":
        return _oauth_error(
            platform, 400, "unsupported_grant_type", "Only grant_type=refresh_token is served here"
        )
    sent = form.get("refresh_token", "")
    if not sent:
        return _oauth_error(platform, 400, "invalid_request", "Missing required parameter: refresh_token")
    store, now = fake.store, time.time()
    with store.lock:
        entry = store.refresh_tokens.get((platform, sent))
        lifetime = _refresh_lifetime(platform)
        if entry is not None and lifetime is not None and now >= entry[1] + lifetime:
            del store.refresh_tokens[(platform, sent)]
            entry = None
        if entry is not None and platform in _ROTATING:
            del store.refresh_tokens[(platform, sent)]  # used once: the answer carries its successor
    if entry is None:
        return _oauth_error(
            platform,
            400,
            "invalid_grant",
            "Token has been expired or revoked."
            if platform is Platform.YOUTUBE
            else "The provided refresh token is invalid, expired, revoked, or was issued to another client.",
        )
    account, issued = entry
    seconds = int(fake.oauth_token_seconds)
    access = f"{_COUNTER[platform].split('.')[0]}-at-{uuid.uuid4().hex}"
    renewed = f"{_COUNTER[platform].split('.')[0]}-rt-{uuid.uuid4().hex}" if platform in _ROTATING else None
    store.register(
        platform,
        account,
        access,
        datetime.fromtimestamp(now + seconds, UTC),
        renewed,
        keep_other_tokens=platform is Platform.YOUTUBE,
    )
    scope = _SCOPES[platform]
    if platform is Platform.TWITTER:
        body: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": seconds,
            "access_token": access,
            "scope": scope,
            "refresh_token": renewed,
        }
    elif platform is Platform.LINKEDIN:
        body = {
            "access_token": access,
            "expires_in": seconds,
            "refresh_token": sent,
            "refresh_token_expires_in": max(0, int(issued + _LINKEDIN_REFRESH_SECONDS - now)),
            "scope": scope,
        }
    elif platform is Platform.YOUTUBE:
        body = {"access_token": access, "expires_in": seconds, "scope": scope, "token_type": "Bearer"}
    else:
        body = {
            "access_token": access,
            "expires_in": seconds,
            "open_id": account,
            "refresh_expires_in": _TIKTOK_REFRESH_SECONDS,
            "refresh_token": renewed,
            "scope": scope,
            "token_type": "Bearer",
        }
    return _Reply(200, body, dict(_NO_STORE))


def _refresh_lifetime(platform: Platform) -> int | None:
    if platform is Platform.LINKEDIN:
        return _LINKEDIN_REFRESH_SECONDS
    if platform is Platform.TIKTOK:
        return _TIKTOK_REFRESH_SECONDS
    return None


def _client_refused(
    fake: FakePlatformServer, platform: Platform, req: _Request, form: dict[str, str]
) -> _Reply | None:
    """The token endpoint's answer to missing or wrong client credentials, None when they match."""
    with fake.store.lock:
        registered = fake.store.oauth_clients.get(platform)
    if platform is Platform.TWITTER:
        basic = _basic(req.headers.get("Authorization"))
        if basic is not None:
            if registered is None or basic != registered:
                return _oauth_error(
                    platform,
                    401,
                    "invalid_client",
                    "Client authentication failed",
                    **{"WWW-Authenticate": 'Basic realm="api.x.com"'},
                )
            return None
        # A public client sends only client_id; a confidential one must authenticate with Basic.
        if registered is not None and registered[1]:
            return _oauth_error(platform, 401, "unauthorized_client", "Missing valid authorization header")
        if registered is None or form.get("client_id") != registered[0]:
            return _oauth_error(platform, 401, "invalid_client", "Client authentication failed")
        return None
    id_field = "client_key" if platform is Platform.TIKTOK else "client_id"
    sent = (form.get(id_field, ""), form.get("client_secret", ""))
    if registered is None or sent != registered or not sent[0]:
        description = (
            "The OAuth client was not found."
            if platform is Platform.YOUTUBE
            else "Client authentication failed: unknown client or wrong client secret"
        )
        return _oauth_error(platform, 401, "invalid_client", description)
    return None


def _basic(header: str | None) -> tuple[str, str] | None:
    """(client id, secret) from an HTTP Basic Authorization header."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    client_id, _, secret = decoded.partition(":")
    return client_id, secret
