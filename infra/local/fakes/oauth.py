"""The fake platforms' OAuth 2.0 token endpoints (refresh_token grant) and expired access tokens.

Served by `infra.local.fakes.platforms.FakePlatformServer`, which routes here:

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

import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from infra.local.fakes.base import Reply, Request, log_id
from infra.local.fakes.graph import graph_token
from infra.local.fakes.profiles import PROFILES, graph_error, li_error
from infra.local.fakes.state import Channel, channel
from tidings.core.platforms import Platform

if TYPE_CHECKING:
    from infra.local.fakes.platforms import FakePlatformServer

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


def expired_token_reply(fake: FakePlatformServer, req: Request) -> Reply | None:
    """The platform's answer to a call made with an access token past its expiry; None otherwise."""
    head = req.segments[0] if req.segments else ""
    owner: Channel | None = _API_PREFIXES.get(head)
    if owner is None and head in _GRAPH:
        owner = channel(head)
    if owner is None:
        return None
    token = graph_token(req) if head in _GRAPH else req.bearer
    if not fake.store.expired(owner, token):
        return None
    if head in _GRAPH:
        with fake.store.lock:
            expiry = fake.store.token_expiry.get((owner, token or ""), time.time())
        status = PROFILES[owner].auth_error().status
        return graph_error(
            status,
            190,
            f"Error validating access token: Session has expired on {_graph_day(expiry)}. "
            f"The current time is {_graph_day(time.time())}.",
            subcode=463,
        )
    if owner is Platform.LINKEDIN:
        return li_error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")
    return PROFILES[owner].auth_error()


def _graph_day(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")


# -- routing ---------------------------------------------------------------------------------------


# The token endpoints, by path.
TOKEN_PATHS: dict[tuple[str, ...], Platform] = {
    ("x", "2", "oauth2", "token"): Platform.TWITTER,
    ("tiktok", "v2", "oauth", "token"): Platform.TIKTOK,
    ("linkedin-oauth", "oauth", "v2", "accessToken"): Platform.LINKEDIN,
    ("google-oauth", "token"): Platform.YOUTUBE,
}
OAUTH_HOSTS = frozenset({"linkedin-oauth", "google-oauth"})  # prefixes that serve only a token endpoint


def serves(req: Request) -> bool:
    """Whether a request is for a token endpoint, an OAuth host, or /_oauth."""
    head = req.segments[0] if req.segments else ""
    return tuple(req.segments) in TOKEN_PATHS or head in OAUTH_HOSTS or head == "_oauth"


def route(fake: FakePlatformServer, req: Request) -> Reply:
    """A token endpoint (under /x, /tiktok, /linkedin-oauth or /google-oauth) or /_oauth."""
    if req.segments[0] == "_oauth":
        return _clients(fake, req, req.segments[1:])
    platform = TOKEN_PATHS.get(tuple(req.segments))
    if platform is not None:
        return _token(fake, platform, req)
    return Reply(404, {"error": "not_found", "error_description": f"no route {req.method} {req.path}"})


def _clients(fake: FakePlatformServer, req: Request, parts: list[str]) -> Reply:
    if parts != ["clients"]:
        return Reply(404, {"error": f"no route {req.method} {req.path}"})
    if req.method == "GET":
        with fake.store.lock:
            clients = sorted((str(p), c[0]) for p, c in fake.store.oauth_clients.items())
        return Reply(200, [{"platform": p, "clientId": c} for p, c in clients])
    if req.method != "POST":
        return Reply(405, {"error": f"{req.method} /_oauth/clients is not supported"})
    body = req.json_object()
    client_id, secret = body.get("clientId"), body.get("clientSecret")
    if not (isinstance(client_id, str) and client_id and isinstance(secret, str)):
        return Reply(400, {"error": "expected {platform, clientId, clientSecret}"})
    try:
        platform = channel(str(body.get("platform")))
    except ValueError as exc:
        return Reply(400, {"error": str(exc)})
    if platform not in _COUNTER:
        return Reply(400, {"error": f"{platform} has no refresh_token grant here"})
    fake.set_oauth_client(platform, client_id, secret)
    return Reply(201, {"platform": str(platform), "clientId": client_id})


# -- the refresh_token grant -----------------------------------------------------------------------


def _oauth_error(platform: Platform, status: int, error: str, description: str, **headers: str) -> Reply:
    body: dict[str, Any] = {"error": error, "error_description": description}
    if platform is Platform.TIKTOK:
        body["log_id"] = log_id()
    return Reply(status, body, {**_NO_STORE, **headers})


def _token(fake: FakePlatformServer, platform: Platform, req: Request) -> Reply:
    fake.store.count(_COUNTER[platform])
    if req.method != "POST":
        return _oauth_error(platform, 405, "invalid_request", f"{req.method} is not supported")
    if "application/x-www-form-urlencoded" not in (req.headers.get("Content-Type") or "").lower():
        return _oauth_error(
            platform, 400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
        )
    form = req.form()
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
    return Reply(200, body, dict(_NO_STORE))


def _refresh_lifetime(platform: Platform) -> int | None:
    if platform is Platform.LINKEDIN:
        return _LINKEDIN_REFRESH_SECONDS
    if platform is Platform.TIKTOK:
        return _TIKTOK_REFRESH_SECONDS
    return None


def _client_refused(
    fake: FakePlatformServer, platform: Platform, req: Request, form: dict[str, str]
) -> Reply | None:
    """The token endpoint's answer to missing or wrong client credentials, None when they match."""
    with fake.store.lock:
        registered = fake.store.oauth_clients.get(platform)
    if platform is Platform.TWITTER:
        basic = req.basic
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
