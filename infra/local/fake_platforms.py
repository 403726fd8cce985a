"""A local fake of the six social platforms' publishing APIs, in their documented shapes.

The real HTTP clients in `tidings.publishing.clients` run against it unchanged, with base URLs from
`FakePlatformServer.client_env()` (or `client_env_for(url)` for a server in another process). It
never fetches anything from the internet: media URLs are recorded as given, and
`GET /_media/<name>[?bytes=N]` serves a few bytes, distinct per URL, for clients that upload bytes
(YouTube, X, LinkedIn); uploaded bytes are traced back to that URL, so every platform's applied
publish lists the post's media URLs.

Endpoints, under one prefix per platform (sources are named in each client module):

    /facebook/<version>/{page-id}/feed|photos|videos   POST publish, GET /{page-id}/feed read-back
    /facebook/<version>/{page-id}?fields=id,name        GET the Page (connection check)
    /instagram/<version>/{ig-user-id}/media             POST container, GET read-back
    /instagram/<version>/{container-or-media-id}        GET status_code / permalink
    /instagram/<version>/{ig-user-id}?fields=id,username  GET the IG user (connection check)
    /instagram/<version>/{ig-user-id}/media_publish     POST publish
    /x/2/tweets, /x/2/users/{id}/tweets                 POST publish, GET read-back
    /x/2/users/me                                       GET the token's user (connection check)
    /x/2/media/upload/initialize|{id}/append|{id}/finalize, GET ?command=STATUS   chunked media
    /linkedin/rest/posts                                POST publish, GET ?q=author read-back
    /linkedin/rest/images|videos?action=..., /linkedin/dms-uploads/{token}        media uploads
    /linkedin/rest/organizations/{id}                   GET the organization (connection check)
    /linkedin/v2/userinfo                               GET the member, OpenID Connect (connection check)
    /youtube/upload/youtube/v3/videos                   POST resumable session, PUT bytes
    /youtube/youtube/v3/search|videos                   GET read-back
    /youtube/youtube/v3/channels?part=id,snippet&mine=true  GET the token's channel (connection check)
    /tiktok/v2/post/publish/creator_info/query/|video/init/|status/fetch/, /tiktok/v2/video/list/
    /tiktok/v2/user/info/?fields=open_id,display_name   GET the token's user (connection check)
    /whatsapp/<version>/{phone-number-id}/messages      POST a text or template message (WhatsApp is a
                                                        messaging channel, not a Platform: fake_whatsapp.py)
    /whatsapp/<version>/{phone-number-id}?fields=...    GET the phone number (connection check)

The connection-check reads answer for the account the token belongs to, with names derived from the
account id (Page "Page {id}", IG "ig_{id}", X "@user{id}", organization "Organization {N}", member
"Member {id}", channel "Channel {id}", TikTok "Creator {open_id}", WhatsApp "Business {id}"); a read
of another account's node answers the platform's auth error (LinkedIn: 403 ACCESS_DENIED), and a
"me" read answers the token's own account, whatever account the caller expected.

and the OAuth 2.0 refresh_token grants (infra/local/fake_oauth.py, sources named there):

    /x/2/oauth2/token, /linkedin-oauth/oauth/v2/accessToken, /google-oauth/token, /tiktok/v2/oauth/token/

and the fake's own: `POST /_accounts` {platform, accountId, accessToken, expiresAt?, refreshToken?}
registers an account (every platform call checks its token belongs to the account it acts on, and
answers the platform's own auth error otherwise; a token past its ISO 8601 `expiresAt` gets the
platform's expired-token error); `POST /_oauth/clients` {platform, clientId, clientSecret} registers
the app credentials the token endpoints accept (`GET` lists the client ids); `GET /_received` lists
every publish the fake applied, in order, and `DELETE /_received` clears that list (each entry:
platform, accountId, text as a reader sees it, postId, receivedAt in ISO UTC with milliseconds,
mediaUrls, link, title, and per platform extras such as mediaIds); `GET|POST /_faults` reads or
replaces the fault spec {faults, seed};
`GET /_calls` counts the calls per route; `POST /_whatsapp/templates` {phoneNumberId, name, language}
approves a WhatsApp template and `POST /_whatsapp/inbound` {phoneNumberId, from, at?} records a
customer's message, opening the 24-hour window in which free-form text reaches them.

Faults (`platform:kind:rate`, comma-separated) apply to the call that publishes (the feed/photos/
videos POST, media_publish, tweets, posts, the YouTube bytes PUT, TikTok's video/init, WhatsApp's
messages POST), never to reads or to the fake's own endpoints:
`error500` answers the platform's 500 body; `rate_limit` answers 429 with Retry-After and the
platform's rate-limit headers; `timeout` holds the request past the client's timeout, never applies
it, then closes the connection; `lost_response` applies the post, then closes the connection without
answering. With a seed, whether a fault fires depends only on (seed, platform, text, attempt number),
so a run is reproducible whatever the order of concurrent requests.

Run alone: `python -m infra.local.fake_platforms --port 8900 --faults facebook:error500:0.3 --seed 7`.
"""

from __future__ import annotations

import argparse
import base64
import email.policy
import hashlib
import html
import itertools
import json
import random
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from infra.local.fake_http import FakeHandler, FakeHttpServer, FakeRequest
from tidings.core.platforms import Platform, x_weighted_length

# -- faults ----------------------------------------------------------------------------------------


class FaultKind(StrEnum):
    ERROR500 = "error500"
    RATE_LIMIT = "rate_limit"
    TIMEOUT = "timeout"
    LOST_RESPONSE = "lost_response"


class FaultSpecError(ValueError):
    """A malformed fault spec."""


# WhatsApp is a messaging channel, not a Platform; the fake serves it under this name beside them.
WHATSAPP = "whatsapp"
Channel = Platform | str  # a Platform, or WHATSAPP

_PLATFORM_NAMES: dict[str, Channel | None] = {
    **{str(p): p for p in Platform},
    "x": Platform.TWITTER,
    WHATSAPP: WHATSAPP,
    "all": None,
    "*": None,
}


@dataclass(frozen=True)
class Fault:
    platform: Channel | None  # None: every platform
    kind: FaultKind
    rate: float

    def __str__(self) -> str:
        return f"{self.platform or 'all'}:{self.kind}:{self.rate:g}"


@dataclass(frozen=True)
class FaultSpec:
    """Faults to inject, from comma-separated `platform:kind:rate` items."""

    faults: tuple[Fault, ...] = ()

    @classmethod
    def parse(cls, spec: str | None) -> FaultSpec:
        if spec is None or not spec.strip():
            return cls()
        faults = []
        for raw in spec.split(","):
            item = raw.strip()
            if not item:
                continue
            parts = item.split(":")
            if len(parts) != 3:
                raise FaultSpecError(
                    f"fault {item!r}: expected platform:kind:rate, e.g. facebook:error500:0.3"
                )
            name, kind, rate_text = (p.strip() for p in parts)
            if name.lower() not in _PLATFORM_NAMES:
                known = ", ".join(sorted(_PLATFORM_NAMES))
                raise FaultSpecError(f"fault {item!r}: unknown platform {name!r} (one of {known})")
            try:
                fault_kind = FaultKind(kind.lower())
            except ValueError:
                known = ", ".join(k.value for k in FaultKind)
                raise FaultSpecError(f"fault {item!r}: unknown kind {kind!r} (one of {known})") from None
            try:
                rate = float(rate_text)
            except ValueError:
                raise FaultSpecError(f"fault {item!r}: rate {rate_text!r} is not a number") from None
            if not 0.0 <= rate <= 1.0:
                raise FaultSpecError(f"fault {item!r}: rate {rate_text} is outside 0..1")
            faults.append(Fault(_PLATFORM_NAMES[name.lower()], fault_kind, rate))
        return cls(tuple(faults))

    def for_platform(self, platform: Channel) -> list[Fault]:
        return [f for f in self.faults if f.platform in (None, platform)]

    def __str__(self) -> str:
        return ",".join(str(f) for f in self.faults)


# -- the fake's state ------------------------------------------------------------------------------


def _iso_z(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _graph_time(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _parse_rfc3339(value: str) -> float | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo else None


@dataclass
class _Post:
    """A post on a fake platform: what its read-back endpoints list."""

    platform: Channel
    account: str
    post_id: str
    text: str  # exactly as the platform stores it (LinkedIn: little text; YouTube: description)
    created: float
    media_urls: list[str] = field(default_factory=list)
    link: str | None = None
    title: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class _Store:
    """Everything the fake knows, behind one lock. Reads and writes are in-memory and short."""

    def __init__(self, faults: FaultSpec, seed: int | None) -> None:
        self.lock = threading.Lock()
        self.faults = faults
        self.seed = seed
        self._random = random.Random()
        self._ids = itertools.count(1)
        self.tokens: dict[tuple[Channel, str], str] = {}  # (platform, token) -> account id
        self.token_expiry: dict[tuple[Channel, str], float] = {}  # (platform, token) -> epoch seconds
        # (platform, refresh token) -> (account id, issued at in epoch seconds)
        self.refresh_tokens: dict[tuple[Channel, str], tuple[str, float]] = {}
        self.oauth_clients: dict[Channel, tuple[str, str]] = {}  # platform -> (client id, secret)
        self.posts: dict[tuple[Channel, str], list[_Post]] = {}  # (platform, account) -> oldest first
        self.objects: dict[str, dict[str, Any]] = {}  # IG containers, unpublished photos, sessions...
        self.received: list[dict[str, Any]] = []
        self.attempts: Counter[tuple[Channel, str, str]] = Counter()
        self.calls: Counter[str] = Counter()
        self.served_media: dict[bytes, str] = {}  # digest of bytes served by /_media -> their URL
        self.whatsapp_templates: set[tuple[str, str, str]] = set()  # (phone-number id, name, language)
        self.whatsapp_inbound: dict[tuple[str, str], float] = {}  # (phone-number id, wa_id) -> last message

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def register(
        self,
        platform: Channel,
        account_id: str,
        token: str,
        expires_at: datetime | None = None,
        refresh_token: str | None = None,
        *,
        keep_other_tokens: bool = False,
    ) -> None:
        """The account's access token (replacing its others unless `keep_other_tokens`), valid until
        `expires_at` (None: never expires), and its refresh token when given (replacing its others)."""
        with self.lock:
            if not keep_other_tokens:
                for key in [k for k, v in self.tokens.items() if k[0] == platform and v == account_id]:
                    del self.tokens[key]
                    self.token_expiry.pop(key, None)
            self.tokens[(platform, token)] = account_id
            if expires_at is None:
                self.token_expiry.pop((platform, token), None)
            else:
                self.token_expiry[(platform, token)] = expires_at.timestamp()
            if refresh_token:
                owned = [k for k, v in self.refresh_tokens.items() if k[0] == platform and v[0] == account_id]
                for key in owned:
                    del self.refresh_tokens[key]
                self.refresh_tokens[(platform, refresh_token)] = (account_id, time.time())

    def account_for(self, platform: Channel, token: str | None) -> str | None:
        """The account a token acts for; None for an unknown or expired token."""
        if not token:
            return None
        with self.lock:
            account = self.tokens.get((platform, token))
            expiry = self.token_expiry.get((platform, token))
        if expiry is not None and time.time() >= expiry:
            return None
        return account

    def expired(self, platform: Channel, token: str | None) -> bool:
        """Whether a token is one the fake issued and has expired."""
        if not token:
            return False
        with self.lock:
            expiry = self.token_expiry.get((platform, token))
        return expiry is not None and time.time() >= expiry

    def draw_fault(self, platform: Channel, account: str, key: str) -> FaultKind | None:
        """Whether this publish attempt meets a fault. Seeded: a pure function of the seed, the
        platform, the text and how many times this text was attempted on this account."""
        with self.lock:
            faults = self.faults.for_platform(platform)
            attempt = self.attempts[(platform, account, key)]
            self.attempts[(platform, account, key)] += 1
            for index, fault in enumerate(faults):
                if self.seed is None:
                    draw = self._random.random()
                else:
                    material = f"{self.seed}|{platform}|{account}|{key}|{attempt}|{index}|{fault.kind}"
                    digest = hashlib.blake2b(material.encode(), digest_size=8).digest()
                    draw = int.from_bytes(digest, "big") / 2**64
                if draw < fault.rate:
                    return fault.kind
        return None

    def apply(self, post: _Post, received_text: str | None = None, **extra: Any) -> None:
        """Record a post as published: listed by read-backs and in /_received."""
        with self.lock:
            self.posts.setdefault((post.platform, post.account), []).append(post)
            self.received.append(
                {
                    "platform": str(post.platform),
                    "accountId": post.account,
                    "text": post.text if received_text is None else received_text,
                    "postId": post.post_id,
                    "receivedAt": _iso_z(post.created),
                    "mediaUrls": list(post.media_urls),
                    "link": post.link,
                    "title": post.title,
                    **extra,
                }
            )

    def media_source(self, data: bytes) -> str | None:
        """The /_media URL these bytes were served from, when a client uploads what it fetched."""
        with self.lock:
            return self.served_media.get(hashlib.sha256(data).digest())

    def listed(self, platform: Platform, account: str) -> list[_Post]:
        """The account's posts, newest first."""
        with self.lock:
            return list(reversed(self.posts.get((platform, account), [])))


# -- HTTP plumbing ---------------------------------------------------------------------------------


@dataclass
class _Reply:
    status: int
    body: Any = None  # dict/list -> JSON, bytes -> as is, None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


class _Drop:
    """Close the connection without answering."""


DROP = _Drop()
Outcome = _Reply | _Drop


class _Request(FakeRequest):
    @property
    def bearer(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        if auth.lower().startswith(("bearer ", "oauth ")):
            return auth.split(" ", 1)[1].strip()
        return None

    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def params(self) -> dict[str, str]:
        """Query parameters merged with a form or JSON body (Graph accepts all three)."""
        merged = dict(self.query)
        content_type = (self.headers.get("Content-Type") or "").lower()
        if "application/json" in content_type:
            merged.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in self.json().items()})
        elif self.body:
            merged.update(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))
        return merged


def _log_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + f"{random.getrandbits(40):010X}"


# -- platform error bodies -------------------------------------------------------------------------


def _graph_error(status: int, code: int, message: str, *, subcode: int | None = None, **extra: Any) -> _Reply:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": _log_id(),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return _Reply(status, {"error": error})


def _x_problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(
        status, {"title": title, "detail": detail, "type": "about:blank", "status": status}, headers or {}
    )


def _li_error(status: int, code: str, message: str, service_code: int | None = None) -> _Reply:
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    return _Reply(status, body)


def _google_error(status: int, reason: str, message: str, domain: str = "global", state: str = "") -> _Reply:
    return _Reply(
        status,
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
                "status": state,
            }
        },
    )


def _tiktok(data: dict[str, Any], status: int = 200, code: str = "ok", message: str = "") -> _Reply:
    return _Reply(status, {"data": data, "error": {"code": code, "message": message, "log_id": _log_id()}})


@dataclass(frozen=True)
class _Profile:
    """How one platform answers an unknown token, a server error and a throttle."""

    auth_error: Callable[[], _Reply]
    server_error: Callable[[], _Reply]
    rate_limited: Callable[[int], _Reply]


def _graph_throttle(code: int, message: str) -> Callable[[int], _Reply]:
    def reply(retry_after: int) -> _Reply:
        out = _graph_error(429, code, message, is_transient=True)
        usage = [{"type": "pages", "call_count": 100, "total_cputime": 40, "total_time": 40}]
        usage[0]["estimated_time_to_regain_access"] = max(1, (retry_after + 59) // 60)
        out.headers = {
            "Retry-After": str(retry_after),
            "X-App-Usage": json.dumps({"call_count": 100, "total_cputime": 40, "total_time": 40}),
            "X-Business-Use-Case-Usage": json.dumps({"fake-business": usage}),
        }
        return out

    return reply


def _x_throttle(retry_after: int) -> _Reply:
    reset = int(time.time()) + retry_after
    return _x_problem(
        429,
        "Too Many Requests",
        "Too Many Requests",
        {
            "Retry-After": str(retry_after),
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(reset),
        },
    )


def _li_throttle(retry_after: int) -> _Reply:
    out = _li_error(
        429,
        "TOO_MANY_REQUESTS",
        "Resource level throttle APPLICATION DAY limit for calls to this resource is reached",
    )
    out.headers = {"Retry-After": str(retry_after)}
    return out


def _google_throttle(retry_after: int) -> _Reply:
    out = _google_error(429, "rateLimitExceeded", "Rate Limit Exceeded", "usageLimits", "RESOURCE_EXHAUSTED")
    out.headers = {"Retry-After": str(retry_after)}
    return out


def _tiktok_throttle(retry_after: int) -> _Reply:
    out = _tiktok({}, 429, "rate_limit_exceeded", "The API rate limit was exceeded. Please try again later.")
    out.headers = {"Retry-After": str(retry_after)}
    return out


_GRAPH_AUTH = "Invalid OAuth access token - Cannot parse access token"
PROFILES: dict[Channel, _Profile] = {
    Platform.FACEBOOK: _Profile(
        lambda: _graph_error(400, 190, _GRAPH_AUTH),
        lambda: _graph_error(500, 1, "An unknown error has occurred.", is_transient=True),
        _graph_throttle(32, "Page request limit reached"),
    ),
    Platform.INSTAGRAM: _Profile(
        lambda: _graph_error(400, 190, _GRAPH_AUTH),
        lambda: _graph_error(
            500, 2, "An unexpected error has occurred. Please retry your request later.", is_transient=True
        ),
        _graph_throttle(80002, "There have been too many calls to this Instagram account."),
    ),
    Platform.TWITTER: _Profile(
        lambda: _x_problem(401, "Unauthorized", "Unauthorized"),
        lambda: _x_problem(500, "Internal Server Error", "Internal Server Error"),
        _x_throttle,
    ),
    Platform.LINKEDIN: _Profile(
        lambda: _li_error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600),
        lambda: _li_error(500, "INTERNAL_SERVER_ERROR", "Internal Server Error"),
        _li_throttle,
    ),
    Platform.YOUTUBE: _Profile(
        lambda: _google_error(
            401, "authError", "Request had invalid authentication credentials.", state="UNAUTHENTICATED"
        ),
        lambda: _google_error(500, "backendError", "Backend Error", state="INTERNAL"),
        _google_throttle,
    ),
    Platform.TIKTOK: _Profile(
        lambda: _tiktok(
            {}, 401, "access_token_invalid", "The access token is invalid or not found in the request."
        ),
        lambda: _tiktok({}, 500, "internal_error", "Something went wrong. Please try again later."),
        _tiktok_throttle,
    ),
    WHATSAPP: _Profile(
        lambda: _graph_error(401, 190, _GRAPH_AUTH),
        lambda: _graph_error(
            500,
            131000,
            "(#131000) Something went wrong",
            error_data={"messaging_product": "whatsapp", "details": "Something went wrong"},
        ),
        _graph_throttle(130429, "(#130429) Rate limit hit"),
    ),
}


# -- the server ------------------------------------------------------------------------------------

_CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/x-m4v",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
}
_GRAPH_VERSION = re.compile(r"^v\d+\.\d+$")
_LINKEDIN_VERSION = re.compile(r"^(\d{4})(\d{2})(?:\.\d{2})?$")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_LITTLE_HASHTAG = re.compile(r"\{hashtag\|\\?(#|\uff03)\|([^}]*)\}")
_LITTLE_ESCAPE = re.compile(r"\\(.)")
TIKTOK_PRIVACY_OPTIONS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]


def _months_back(months: int) -> str:
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 1 - months
    return f"{index // 12:04d}{index % 12 + 1:02d}"


def little_to_plain(text: str) -> str:
    """LinkedIn little text as a reader sees it: hashtag templates as #tag, escapes removed."""
    return _LITTLE_ESCAPE.sub(r"\1", _LITTLE_HASHTAG.sub(lambda m: "#" + m.group(2), text))


class FakePlatformServer(FakeHttpServer):
    """The fake platforms, in-process (`start()`/`stop()`, or as a context manager) or as a process.

    `hold_seconds` is how long a `timeout` fault holds a request (longer than the clients' timeout);
    `retry_after` the seconds a `rate_limit` fault asks for; `instagram_video_seconds`,
    `tiktok_processing_seconds`, `x_video_seconds` and `linkedin_video_seconds` how long a video
    stays in processing; `linkedin_min_version` the oldest LinkedIn-Version served (default: twelve
    months back, as LinkedIn serves each monthly version for about a year), newer than the current
    month is refused; `oauth_clients` the app credentials ({platform: (client id, secret)}) the token
    endpoints accept and `oauth_token_seconds` the lifetime of the access tokens they issue.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultSpec | None = None,
        seed: int | None = None,
        *,
        hold_seconds: float = 15.0,
        retry_after: int = 1,
        instagram_video_seconds: float = 0.3,
        tiktok_processing_seconds: float = 0.3,
        x_video_seconds: float = 0.3,
        linkedin_video_seconds: float = 0.3,
        linkedin_min_version: str | None = None,
        oauth_clients: dict[str, tuple[str, str]] | None = None,
        oauth_token_seconds: int = 3600,
    ) -> None:
        super().__init__(
            host, port, _Handler, name="fake platform server", thread_name="fake-platforms", backlog=1024
        )
        self.store = _Store(faults or FaultSpec(), seed)
        for name, (client_id, client_secret) in (oauth_clients or {}).items():
            self.set_oauth_client(name, client_id, client_secret)
        self.oauth_token_seconds = oauth_token_seconds
        self.hold_seconds = hold_seconds
        self.retry_after = retry_after
        self.instagram_video_seconds = instagram_video_seconds
        self.tiktok_processing_seconds = tiktok_processing_seconds
        self.x_video_seconds = x_video_seconds
        self.linkedin_video_seconds = linkedin_video_seconds
        self.linkedin_min_version = linkedin_min_version
        # API-published posts per account in a rolling 24 h (GET /_limits, POST /_limits to change)
        self.instagram_quota_total = 100

    def client_env(self) -> dict[str, str]:
        """The settings that point the real clients at this server."""
        return client_env_for(self.url)

    # in-process conveniences (the HTTP endpoints do the same)

    def register_account(
        self,
        platform: Platform | str,
        account_id: str,
        access_token: str,
        *,
        expires_at: datetime | None = None,
        refresh_token: str | None = None,
    ) -> None:
        """An account whose `access_token` works until `expires_at` (None: forever), and that the token
        endpoint renews with `refresh_token`."""
        self.store.register(_platform(platform), account_id, access_token, expires_at, refresh_token)

    def set_oauth_client(self, platform: Platform | str, client_id: str, client_secret: str) -> None:
        """The app credentials the platform's token endpoint accepts."""
        with self.store.lock:
            self.store.oauth_clients[_platform(platform)] = (client_id, client_secret)

    def received(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [dict(entry) for entry in self.store.received]

    def clear_received(self) -> None:
        with self.store.lock:
            self.store.received.clear()

    def set_faults(self, faults: FaultSpec, seed: int | None = None) -> None:
        with self.store.lock:
            self.store.faults = faults
            self.store.seed = seed

    def calls(self) -> dict[str, int]:
        with self.store.lock:
            return dict(self.store.calls)

    def media_url(self, name: str) -> str:
        return f"{self.url}/_media/{quote(name)}"

    def linkedin_version_active(self, version: str) -> bool:
        match = _LINKEDIN_VERSION.match(version.strip())
        if not match:
            return False
        month = match.group(1) + match.group(2)
        oldest = self.linkedin_min_version or _months_back(12)
        return oldest <= month <= _months_back(0)


def client_env_for(url: str) -> dict[str, str]:
    """The settings that point the real clients at a fake platform server at `url` (for example one
    running in another process)."""
    url = url.rstrip("/")
    return {
        "TIDINGS_FACEBOOK_API_BASE": f"{url}/facebook/v23.0",
        "TIDINGS_INSTAGRAM_API_BASE": f"{url}/instagram/v23.0",
        "TIDINGS_X_API_BASE": f"{url}/x",
        "TIDINGS_LINKEDIN_API_BASE": f"{url}/linkedin",
        "TIDINGS_YOUTUBE_API_BASE": f"{url}/youtube",
        "TIDINGS_TIKTOK_API_BASE": f"{url}/tiktok",
        "TIDINGS_LINKEDIN_OAUTH_BASE": f"{url}/linkedin-oauth",
        "TIDINGS_GOOGLE_OAUTH_BASE": f"{url}/google-oauth",
        "TIDINGS_WHATSAPP_API_BASE": f"{url}/whatsapp/v23.0",
    }


def _platform(value: Platform | str) -> Channel:
    name = str(value).lower()
    if name not in _PLATFORM_NAMES or _PLATFORM_NAMES[name] is None:
        raise ValueError(f"unknown platform {value!r}")
    platform = _PLATFORM_NAMES[name]
    assert platform is not None
    return platform


class _Handler(FakeHandler):
    server_fake: FakePlatformServer

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self, method: str) -> None:
        fake = self.server_fake
        request = self._request(_Request, method, self._read_body())
        try:
            outcome = _route(fake, request)
        except Exception as exc:  # a bug in the fake must answer, not hang the client
            outcome = _Reply(500, {"error": f"fake platform server error: {type(exc).__name__}: {exc}"})
        if isinstance(outcome, _Drop):
            self.close_connection = True
            return
        self._send(outcome, head=method == "HEAD")

    def _send(self, reply: _Reply, *, head: bool = False) -> None:
        if reply.body is None:
            payload = b""
        elif isinstance(reply.body, bytes):
            payload = reply.body
        else:
            payload = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        if payload or reply.body is not None:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload and not head:
            self.wfile.write(payload)


# -- routing ---------------------------------------------------------------------------------------


def _route(fake: FakePlatformServer, req: _Request) -> Outcome:
    head = req.segments[0] if req.segments else ""
    if head == "":
        return _Reply(200, {"service": "tidings fake platforms", "platforms": [str(p) for p in Platform]})
    if head.startswith("_"):
        return _own(fake, req)
    handler = _PLATFORM_ROUTES.get(head)
    if handler is None:
        return _Reply(404, {"error": f"no fake platform at /{head}"})
    return _expired_token(fake, req) or handler(fake, req)


def _oauth(fake: FakePlatformServer, req: _Request) -> Outcome:
    """The token endpoints and /_oauth (fake_oauth imports this module, so it is imported here late)."""
    # Run as `python -m`, this module is __main__: fake_oauth must build on it, not on a second copy.
    sys.modules.setdefault("infra.local.fake_platforms", sys.modules[__name__])
    from infra.local import fake_oauth

    return fake_oauth.route(fake, req)


def _expired_token(fake: FakePlatformServer, req: _Request) -> _Reply | None:
    """The platform's own error for an access token past its expiry, None otherwise."""
    sys.modules.setdefault("infra.local.fake_platforms", sys.modules[__name__])  # as in _oauth
    from infra.local import fake_oauth

    return fake_oauth.expired_token_reply(fake, req)


def _own(fake: FakePlatformServer, req: _Request) -> Outcome:
    name, rest = req.segments[0], req.segments[1:]
    if name == "_accounts":
        return _accounts(fake, req)
    if name == "_faults":
        return _faults(fake, req)
    if name == "_oauth":
        return _oauth(fake, req)
    if name == "_whatsapp":
        return _whatsapp(fake, req)
    if name == "_received" and req.method == "GET":
        entries = fake.received()
        if "platform" in req.query:
            entries = [e for e in entries if e["platform"] == str(_platform(req.query["platform"]))]
        return _Reply(200, entries)
    if name == "_received" and req.method == "DELETE":
        fake.clear_received()
        return _Reply(204)
    if name == "_limits":
        return _limits(fake, req)
    if name == "_calls" and req.method == "GET":
        return _Reply(200, fake.calls())
    if name == "_media" and req.method in ("GET", "HEAD") and rest:
        return _media(fake, rest[-1], req)
    return _Reply(404, {"error": f"no route {req.method} {req.path}"})


def _limits(fake: FakePlatformServer, req: _Request) -> _Reply:
    if req.method == "POST":
        total = req.json().get("instagramQuotaTotal")
        if not isinstance(total, int) or total < 0:
            return _Reply(400, {"error": "instagramQuotaTotal must be a non-negative integer"})
        fake.instagram_quota_total = total
    elif req.method != "GET":
        return _Reply(405, {"error": f"{req.method} /_limits is not supported"})
    return _Reply(200, {"instagramQuotaTotal": fake.instagram_quota_total})


def _accounts(fake: FakePlatformServer, req: _Request) -> _Reply:
    store = fake.store
    if req.method == "GET":
        with store.lock:
            accounts = sorted({(str(p), a) for (p, _), a in store.tokens.items()})
        return _Reply(200, [{"platform": p, "accountId": a} for p, a in accounts])
    if req.method != "POST":
        return _Reply(405, {"error": f"{req.method} /_accounts is not supported"})
    body = req.json()
    platform, account_id, token = body.get("platform"), body.get("accountId"), body.get("accessToken")
    if not (isinstance(account_id, str) and account_id and isinstance(token, str) and token):
        return _Reply(400, {"error": "expected {platform, accountId, accessToken}"})
    try:
        resolved = _platform(str(platform))
    except ValueError as exc:
        return _Reply(400, {"error": str(exc)})
    expires, refresh = body.get("expiresAt"), body.get("refreshToken")
    expires_at = _parse_rfc3339(expires) if isinstance(expires, str) else None
    if (expires is not None and expires_at is None) or not isinstance(refresh, str | None):
        return _Reply(400, {"error": "expiresAt must be ISO 8601 with an offset; refreshToken a string"})
    moment = datetime.fromtimestamp(expires_at, UTC) if expires_at is not None else None
    store.register(resolved, account_id, token, moment, refresh or None)
    return _Reply(201, {"platform": str(resolved), "accountId": account_id})


def _faults(fake: FakePlatformServer, req: _Request) -> _Reply:
    if req.method == "GET":
        return _Reply(200, {"faults": str(fake.store.faults), "seed": fake.store.seed})
    if req.method not in ("POST", "PUT"):
        return _Reply(405, {"error": f"{req.method} /_faults is not supported"})
    body = req.json()
    try:
        spec = FaultSpec.parse(body.get("faults") or "")
    except FaultSpecError as exc:
        return _Reply(400, {"error": str(exc)})
    seed = body.get("seed")
    fake.set_faults(spec, seed if isinstance(seed, int) else None)
    return _Reply(200, {"faults": str(spec), "seed": fake.store.seed})


def _media(fake: FakePlatformServer, name: str, req: _Request) -> _Reply:
    """A few bytes standing in for a media file, distinct per URL, so that bytes a client uploads
    can be traced back to the media URL of the post."""
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    try:
        size = max(1, min(int(req.query.get("bytes", "2048")), 16 * 1024 * 1024))
    except ValueError:
        size = 2048
    url = req.base_url + req.path + ("?" + urlencode(req.query) if req.query else "")
    pattern = hashlib.sha256(url.encode()).digest()
    payload = (pattern * (size // len(pattern) + 1))[:size]
    with fake.store.lock:
        fake.store.served_media[hashlib.sha256(payload).digest()] = url
    return _Reply(200, payload, content_type=_CONTENT_TYPES.get(extension, "application/octet-stream"))


def _publish(
    fake: FakePlatformServer, platform: Channel, account: str, key: str, apply: Callable[[], _Reply]
) -> Outcome:
    """Run one publish call through the fault injector."""
    fault = fake.store.draw_fault(platform, account, key)
    profile = PROFILES[platform]
    if fault is FaultKind.ERROR500:
        return profile.server_error()
    if fault is FaultKind.RATE_LIMIT:
        return profile.rate_limited(fake.retry_after)
    if fault is FaultKind.TIMEOUT:
        fake.stopping.wait(fake.hold_seconds)
        return DROP
    reply = apply()
    if fault is FaultKind.LOST_RESPONSE and reply.status < 300:
        return DROP
    return reply


def _count(fake: FakePlatformServer, route: str) -> None:
    with fake.store.lock:
        fake.store.calls[route] += 1


# -- Facebook and Instagram (Graph API) ------------------------------------------------------------


def _graph_auth(fake: FakePlatformServer, platform: Channel, req: _Request, owner: str) -> _Reply | None:
    token = req.bearer or req.params().get("access_token")
    if fake.store.account_for(platform, token) != owner:
        return PROFILES[platform].auth_error()
    return None


def _graph_usage_headers(account: str) -> dict[str, str]:
    usage = {account: [{"type": "pages", "call_count": 1, "total_cputime": 1, "total_time": 1}]}
    usage[account][0]["estimated_time_to_regain_access"] = 0
    return {
        "X-App-Usage": json.dumps({"call_count": 1, "total_cputime": 1, "total_time": 1}),
        "X-Business-Use-Case-Usage": json.dumps(usage),
    }


def _graph_page(items: list[dict[str, Any]], req: _Request, path: str, default_limit: int = 25) -> _Reply:
    try:
        limit = max(1, min(int(req.query.get("limit", default_limit)), 100))
        offset = int(req.query.get("after", "0") or 0)
    except ValueError:
        return _graph_error(400, 100, "Invalid parameter")
    page = items[offset : offset + limit]
    body: dict[str, Any] = {"data": page}
    if page:
        body["paging"] = {"cursors": {"before": str(offset), "after": str(offset + len(page))}}
        if offset + limit < len(items):
            params = {k: v for k, v in req.query.items() if k not in ("after", "access_token")}
            params["after"] = str(offset + len(page))
            query = "&".join(f"{quote(k)}={quote(str(v))}" for k, v in params.items())
            body["paging"]["next"] = f"{req.base_url}{path}?{query}"
    return _Reply(200, body)


def _graph_node(params: dict[str, str], values: dict[str, Any], default: tuple[str, ...] = ("id",)) -> _Reply:
    """A Graph node read: the id and the `fields` asked for (`default` when none), error 100 for a
    field the node does not have."""
    wanted = [f.strip() for f in params.get("fields", "").split(",") if f.strip()] or list(default)
    unknown = [f for f in wanted if f not in values]
    if unknown:
        return _graph_error(400, 100, f"(#100) Tried accessing nonexisting field ({unknown[0]})")
    return _Reply(200, {"id": values["id"], **{f: values[f] for f in wanted}})


def _registered(store: _Store, platform: Channel, account: str) -> bool:
    """Whether some token acts for `account` on `platform`."""
    with store.lock:
        return any(p == platform and a == account for (p, _), a in store.tokens.items())


def _facebook(fake: FakePlatformServer, req: _Request) -> Outcome:
    store, platform = fake.store, Platform.FACEBOOK
    if len(req.segments) < 3 or not _GRAPH_VERSION.match(req.segments[1]):
        return _graph_error(400, 2500, "Unknown path components")
    node, edge = req.segments[2], (req.segments[3] if len(req.segments) > 3 else "")
    params = req.params()
    if req.method == "GET" and not edge:
        _count(fake, "facebook.page.read")
        return _graph_auth(fake, platform, req, node) or _graph_node(
            params, {"id": node, "name": f"Page {node}"}, default=("id", "name")
        )
    if req.method == "GET" and edge in ("feed", "posts", "published_posts"):
        _count(fake, "facebook.feed.read")
        return _graph_auth(fake, platform, req, node) or _facebook_feed(fake, req, node, params)
    if req.method != "POST" or edge not in ("feed", "photos", "videos"):
        return _graph_error(
            400, 100, f"Unsupported {req.method.lower()} request.", type="GraphMethodException"
        )
    _count(fake, f"facebook.{edge}")
    denied = _graph_auth(fake, platform, req, node)
    if denied:
        return denied
    if edge == "photos" and params.get("published", "true").lower() == "false":
        if not params.get("url"):
            return _graph_error(400, 324, "Requires upload file")
        photo_id = str(10**14 + store.next_id())
        with store.lock:
            store.objects[photo_id] = {"kind": "fb_photo", "owner": node, "url": params["url"]}
        return _Reply(200, {"id": photo_id}, _graph_usage_headers(node))
    prepared = _facebook_content(store, node, edge, params)
    if isinstance(prepared, _Reply):
        return prepared
    text, media = prepared

    def apply() -> _Reply:
        number = store.next_id()
        post_id = f"{node}_{10**15 + number}"
        link = params.get("link") or None
        store.apply(_Post(platform, node, post_id, text, time.time(), media, link, params.get("title")))
        if edge == "photos":
            return _Reply(200, {"id": str(10**14 + number), "post_id": post_id}, _graph_usage_headers(node))
        if edge == "videos":
            return _Reply(200, {"id": str(10**14 + number)}, _graph_usage_headers(node))
        return _Reply(200, {"id": post_id}, _graph_usage_headers(node))

    return _publish(fake, platform, node, text, apply)


def _facebook_feed(fake: FakePlatformServer, req: _Request, node: str, params: dict[str, str]) -> _Reply:
    try:
        since = float(params.get("since") or 0)
    except ValueError:
        return _graph_error(400, 100, "(#100) The parameter since must be a unix time")
    items = [
        {
            "id": p.post_id,
            "message": p.text,
            "created_time": _graph_time(p.created),
            "permalink_url": f"https://www.facebook.com/{p.post_id}",
        }
        for p in fake.store.listed(Platform.FACEBOOK, node)
        if p.created >= since
    ]
    reply = _graph_page(items, req, req.path)
    reply.headers.update(_graph_usage_headers(node))
    return reply


def _facebook_content(
    store: _Store, node: str, edge: str, params: dict[str, str]
) -> tuple[str, list[str]] | _Reply:
    """The text and media a feed, photos or videos call publishes, or the Graph error it earns."""
    if edge == "photos":
        if not params.get("url"):
            return _graph_error(400, 324, "Requires upload file")
        return params.get("caption", ""), [params["url"]]
    if edge == "videos":
        if not params.get("file_url"):
            return _graph_error(400, 100, "(#100) file_url or source is required")
        return params.get("description", ""), [params["file_url"]]
    media: list[str] = []
    for key in sorted(k for k in params if k.startswith("attached_media[")):
        try:
            media_fbid = str(json.loads(params[key])["media_fbid"])
        except (json.JSONDecodeError, KeyError, TypeError):
            return _graph_error(400, 100, f"Invalid parameter {key}")
        with store.lock:
            photo = store.objects.get(media_fbid)
        if not photo or photo.get("owner") != node:
            return _graph_error(400, 100, f"Invalid media_fbid {media_fbid}")
        media.append(str(photo["url"]))
    text = params.get("message", "")
    if not text and not params.get("link") and not media:
        return _graph_error(400, 100, "(#100) Missing message or attachment")
    return text, media


def _instagram(fake: FakePlatformServer, req: _Request) -> Outcome:
    store, platform = fake.store, Platform.INSTAGRAM
    if len(req.segments) < 3 or not _GRAPH_VERSION.match(req.segments[1]):
        return _graph_error(400, 2500, "Unknown path components")
    node, edge = req.segments[2], (req.segments[3] if len(req.segments) > 3 else "")
    params = req.params()
    if req.method == "GET" and not edge:
        return _instagram_object(fake, req, node, params)
    if req.method == "GET" and edge == "media":
        _count(fake, "instagram.media.read")
        denied = _graph_auth(fake, platform, req, node)
        if denied:
            return denied
        items = [
            {
                "id": p.post_id,
                "caption": p.text,
                "timestamp": _graph_time(p.created),
                "permalink": p.extra.get("permalink"),
            }
            for p in store.listed(platform, node)
        ]
        return _graph_page(items, req, req.path)
    if req.method == "GET" and edge == "content_publishing_limit":
        denied = _graph_auth(fake, platform, req, node)
        if denied:
            return denied
        used = _instagram_quota_used(store, node)
        total = fake.instagram_quota_total
        return _Reply(
            200, {"data": [{"quota_usage": used, "config": {"quota_total": total, "quota_duration": 86400}}]}
        )
    if req.method == "POST" and edge == "media":
        _count(fake, "instagram.media")
        denied = _graph_auth(fake, platform, req, node)
        if denied:
            return denied
        return _instagram_container(fake, node, params)
    if req.method == "POST" and edge == "media_publish":
        _count(fake, "instagram.media_publish")
        denied = _graph_auth(fake, platform, req, node)
        if denied:
            return denied
        return _instagram_publish(fake, node, params.get("creation_id", ""))
    return _graph_error(400, 100, f"Unsupported {req.method.lower()} request.", type="GraphMethodException")


def _instagram_container(fake: FakePlatformServer, owner: str, params: dict[str, str]) -> _Reply:
    media_type = params.get("media_type", "").upper()
    children = [c for c in params.get("children", "").split(",") if c]
    if media_type == "CAROUSEL":
        if not 2 <= len(children) <= 10:
            return _graph_error(400, 100, "A carousel needs 2 to 10 children")
        urls: list[str] = []
        with fake.store.lock:
            for child in children:
                item = fake.store.objects.get(child)
                if not item or item.get("owner") != owner or not item.get("carousel_item"):
                    return _graph_error(400, 100, f"Invalid child container {child}")
                urls.extend(item["media_urls"])
        ready_in = 0.0
    elif media_type in ("REELS", "VIDEO"):
        if not params.get("video_url"):
            return _graph_error(400, 100, "The parameter video_url is required")
        urls, ready_in = [params["video_url"]], fake.instagram_video_seconds
    elif media_type in ("", "IMAGE"):
        if not params.get("image_url"):
            return _graph_error(400, 100, "The parameter image_url is required")
        urls, ready_in = [params["image_url"]], 0.0
    else:
        return _graph_error(400, 100, f"Unsupported media_type {media_type}")
    container = str(17_000_000_000_000_000 + fake.store.next_id())
    with fake.store.lock:
        fake.store.objects[container] = {
            "kind": "ig_container",
            "owner": owner,
            "caption": params.get("caption", ""),
            "media_urls": urls,
            "carousel_item": params.get("is_carousel_item", "").lower() == "true",
            "ready_at": time.time() + ready_in,
            "published": False,
        }
    return _Reply(200, {"id": container}, _graph_usage_headers(owner))


def _container_status(item: dict[str, Any]) -> str:
    if item["published"]:
        return "PUBLISHED"
    return "FINISHED" if time.time() >= item["ready_at"] else "IN_PROGRESS"


def _instagram_object(fake: FakePlatformServer, req: _Request, node: str, params: dict[str, str]) -> _Reply:
    with fake.store.lock:
        item = dict(fake.store.objects.get(node) or {})
    if item.get("kind") == "ig_container":
        _count(fake, "instagram.container.status")
        denied = _graph_auth(fake, Platform.INSTAGRAM, req, item["owner"])
        if denied:
            return denied
        return _Reply(
            200, {"status_code": _container_status(item), "status": _container_status(item), "id": node}
        )
    if item.get("kind") == "ig_media":
        denied = _graph_auth(fake, Platform.INSTAGRAM, req, item["owner"])
        if denied:
            return denied
        fields = params.get("fields", "id").split(",")
        values = {"id": node, **{k: v for k, v in item.items() if k in fields}}
        return _Reply(200, values)
    if _registered(fake.store, Platform.INSTAGRAM, node):
        _count(fake, "instagram.user.read")
        return _graph_auth(fake, Platform.INSTAGRAM, req, node) or _graph_node(
            params, {"id": node, "username": f"ig_{node}", "name": f"Account {node}"}
        )
    return _graph_error(400, 100, f"Unsupported get request. Object with ID '{node}' does not exist")


def _instagram_quota_used(store: _Store, owner: str) -> int:
    day_ago = time.time() - 86400
    return sum(1 for p in store.listed(Platform.INSTAGRAM, owner) if p.created >= day_ago)


def _instagram_publish(fake: FakePlatformServer, owner: str, creation_id: str) -> Outcome:
    store = fake.store
    with store.lock:
        item = store.objects.get(creation_id)
        snapshot = dict(item) if item else None
    if not snapshot or snapshot.get("kind") != "ig_container" or snapshot.get("owner") != owner:
        return _graph_error(400, 100, f"Invalid parameter creation_id {creation_id}")
    if snapshot.get("carousel_item"):
        return _graph_error(400, 100, "A carousel item cannot be published on its own")
    if _container_status(snapshot) != "FINISHED":
        return _graph_error(400, 9007, "Media ID is not available", subcode=2207027)
    if _instagram_quota_used(store, owner) >= fake.instagram_quota_total:
        # the publishing limit is enforced on media_publish (IG Content Publishing, "Rate limit")
        return _graph_error(400, 9, "Application request limit reached", subcode=2207042)

    def apply() -> _Reply:
        with store.lock:
            container = store.objects[creation_id]
            if container["published"]:
                return _graph_error(400, 9007, "The media has already been published", subcode=2207001)
            container["published"] = True
        media_id = str(18_000_000_000_000_000 + store.next_id())
        permalink = f"https://www.instagram.com/p/{_shortcode(int(media_id))}/"
        created = time.time()
        post = _Post(
            Platform.INSTAGRAM, owner, media_id, snapshot["caption"], created, snapshot["media_urls"]
        )
        post.extra["permalink"] = permalink
        with store.lock:
            store.objects[media_id] = {
                "kind": "ig_media",
                "owner": owner,
                "caption": snapshot["caption"],
                "permalink": permalink,
                "timestamp": _graph_time(created),
            }
        store.apply(post)
        return _Reply(200, {"id": media_id}, _graph_usage_headers(owner))

    return _publish(fake, Platform.INSTAGRAM, owner, snapshot["caption"], apply)


def _shortcode(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(8, "big")).decode().rstrip("=")


# -- X ---------------------------------------------------------------------------------------------


def _x_rate_headers() -> dict[str, str]:
    return {
        "x-rate-limit-limit": "100",
        "x-rate-limit-remaining": "99",
        "x-rate-limit-reset": str(int(time.time()) + 900),
    }


def _x_as_returned(text: str) -> str:
    """How X returns a post's text: links wrapped as t.co, &, < and > escaped."""
    wrapped = _URL.sub(lambda m: "https://t.co/" + hashlib.sha1(m.group(0).encode()).hexdigest()[:10], text)  # noqa: S324
    return html.escape(wrapped, quote=False)


def _x(fake: FakePlatformServer, req: _Request) -> Outcome:
    platform = Platform.TWITTER
    account = fake.store.account_for(platform, req.bearer)
    parts = req.segments[1:]
    if parts == ["2", "oauth2", "token"]:
        return _oauth(fake, req)
    if parts == ["2", "tweets"] and req.method == "POST":
        _count(fake, "x.tweets")
        return PROFILES[platform].auth_error() if account is None else _x_post(fake, account, req.json())
    if parts[:3] == ["2", "media", "upload"]:
        _count(fake, "x.media")
        return PROFILES[platform].auth_error() if account is None else _x_media(fake, account, req, parts[3:])
    if parts == ["2", "users", "me"] and req.method == "GET":
        _count(fake, "x.users.me")
        if account is None:
            return PROFILES[platform].auth_error()
        user = {"id": account, "name": f"X user {account}", "username": f"user{account}"}
        return _Reply(200, {"data": user}, _x_rate_headers())
    if len(parts) == 4 and parts[:2] == ["2", "users"] and parts[3] == "tweets" and req.method == "GET":
        _count(fake, "x.timeline.read")
        if account is None or account != parts[2]:
            return PROFILES[platform].auth_error()
        return _x_timeline(fake.store, account, req)
    return _x_problem(404, "Not Found Error", f"no route {req.method} {req.path}")


def _x_post(fake: FakePlatformServer, account: str, body: dict[str, Any]) -> Outcome:
    store = fake.store
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return _x_problem(400, "Invalid Request", "One or more parameters to your request was invalid.")
    if x_weighted_length(text) > 280:
        return _x_problem(403, "Forbidden", "Your Tweet text is too long.")
    media = body.get("media") if isinstance(body.get("media"), dict) else {}
    media_ids = [str(m) for m in (media or {}).get("media_ids", [])]
    now = time.time()
    with store.lock:
        usable = [
            store.objects.get(m, {}).get("owner") == account
            and store.objects[m].get("finalized")
            and now >= store.objects[m]["ready_at"]
            for m in media_ids
        ]
    if not all(usable) or len(media_ids) > 4:
        return _x_problem(400, "Invalid Request", "Your media IDs are invalid.")
    reply = body.get("reply") if isinstance(body.get("reply"), dict) else None
    in_reply_to = str(reply.get("in_reply_to_tweet_id", "")) if reply else None
    if in_reply_to is not None and not any(
        p.post_id == in_reply_to for p in store.listed(Platform.TWITTER, account)
    ):
        return _x_problem(400, "Invalid Request", "The post you are replying to does not exist.")

    def apply() -> _Reply:
        post_id = str(1_900_000_000_000_000_000 + store.next_id())
        with store.lock:
            urls = [store.objects[m]["url"] for m in media_ids if store.objects[m].get("url")]
        extra: dict[str, Any] = {"mediaIds": media_ids}
        if in_reply_to is not None:
            extra["inReplyTo"] = in_reply_to
        store.apply(_Post(Platform.TWITTER, account, post_id, text, time.time(), urls), **extra)
        data = {"id": post_id, "text": _x_as_returned(text), "edit_history_tweet_ids": [post_id]}
        return _Reply(201, {"data": data}, _x_rate_headers())

    return _publish(fake, Platform.TWITTER, account, text, apply)


def _multipart(req: _Request) -> dict[str, bytes]:
    """The fields of a multipart/form-data body."""
    content_type = req.headers.get("Content-Type") or ""
    if "multipart/form-data" not in content_type:
        return {}
    raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + req.body
    message = BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    fields: dict[str, bytes] = {}
    for part in message.walk():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            fields[name] = payload if isinstance(payload, bytes) else b""
    return fields


def _x_media(fake: FakePlatformServer, account: str, req: _Request, rest: list[str]) -> _Reply:
    """The chunked media upload: initialize, append, finalize, and STATUS."""
    store = fake.store
    if rest == ["initialize"] and req.method == "POST":
        params = req.params()
        try:
            total = int(params.get("total_bytes", ""))
        except ValueError:
            return _x_problem(400, "Invalid Request", "total_bytes is required")
        category = params.get("media_category", "tweet_image")
        if total <= 0 or category not in ("tweet_image", "tweet_gif", "tweet_video", "amplify_video"):
            return _x_problem(400, "Invalid Request", "total_bytes and a post media_category are required")
        media_id = str(1_880_000_000_000_000_000 + store.next_id())
        with store.lock:
            store.objects[media_id] = {
                "kind": "x_media",
                "owner": account,
                "total": total,
                "video": category in ("tweet_video", "amplify_video"),
                "segments": {},
                "finalized": False,
                "ready_at": float("inf"),
            }
        return _Reply(
            200, {"data": {"id": media_id, "media_key": f"7_{media_id}", "expires_after_secs": 86400}}
        )
    media_id = rest[0] if rest else req.query.get("media_id", "")
    with store.lock:
        item = store.objects.get(media_id)
    if not item or item.get("kind") != "x_media" or item["owner"] != account:
        return _x_problem(400, "Invalid Request", f"media_id {media_id} is not valid")
    if rest[1:] == ["append"] and req.method == "POST":
        fields = _multipart(req)
        if "media" not in fields or not fields.get("segment_index", b"").isdigit():
            return _x_problem(400, "Invalid Request", "media and segment_index are required")
        with store.lock:
            item["segments"][int(fields["segment_index"])] = fields["media"]
        return _Reply(200, {"data": {"expires_at": int(time.time()) + 86400}})
    if rest[1:] == ["finalize"] and req.method == "POST":
        with store.lock:
            data_bytes = b"".join(item["segments"][i] for i in sorted(item["segments"]))
            size = len(data_bytes)
            if size != item["total"]:
                return _x_problem(
                    400, "Invalid Request", f"File size mismatch: {size} of {item['total']} bytes"
                )
            item["finalized"] = True
            item["segments"] = {}
            item["url"] = store.served_media.get(hashlib.sha256(data_bytes).digest())
            item["ready_at"] = time.time() + (fake.x_video_seconds if item["video"] else 0.0)
        data: dict[str, Any] = {"id": media_id, "media_key": f"7_{media_id}", "size": size}
        if item["video"]:
            data["processing_info"] = {"state": "pending", "check_after_secs": 1}
        return _Reply(200, {"data": data})
    if not rest and req.method == "GET" and req.query.get("command") == "STATUS":
        done = time.time() >= item["ready_at"]
        info = (
            {"state": "succeeded", "progress_percent": 100}
            if done
            else {"state": "in_progress", "check_after_secs": 1}
        )
        return _Reply(200, {"data": {"id": media_id, "media_key": f"7_{media_id}", "processing_info": info}})
    return _x_problem(404, "Not Found Error", f"no route {req.method} {req.path}")


def _x_timeline(store: _Store, account: str, req: _Request) -> _Reply:
    try:
        max_results = int(req.query.get("max_results", "10"))
        offset = int(req.query.get("pagination_token", "0") or 0)
    except ValueError:
        return _x_problem(400, "Invalid Request", "One or more parameters to your request was invalid.")
    if not 5 <= max_results <= 100:
        return _x_problem(
            400, "Invalid Request", "The `max_results` query parameter value is not between 5 and 100"
        )
    start = _parse_rfc3339(req.query["start_time"]) if "start_time" in req.query else 0.0
    if start is None:
        return _x_problem(
            400, "Invalid Request", "The `start_time` query parameter value is not a valid time"
        )
    fields = req.query.get("tweet.fields", "").split(",")
    posts = [p for p in store.listed(Platform.TWITTER, account) if p.created >= start]
    page = posts[offset : offset + max_results]
    data = []
    for p in page:
        item = {"id": p.post_id, "text": _x_as_returned(p.text), "edit_history_tweet_ids": [p.post_id]}
        if "created_at" in fields:
            item["created_at"] = _iso_z(p.created)
        data.append(item)
    meta: dict[str, Any] = {"result_count": len(data)}
    if data:
        meta.update(newest_id=data[0]["id"], oldest_id=data[-1]["id"])
    if offset + max_results < len(posts):
        meta["next_token"] = str(offset + max_results)
    body: dict[str, Any] = {"meta": meta}
    if data:
        body["data"] = data
    return _Reply(200, body, _x_rate_headers())


# -- LinkedIn --------------------------------------------------------------------------------------


def _linkedin(fake: FakePlatformServer, req: _Request) -> Outcome:
    platform = Platform.LINKEDIN
    parts = req.segments[1:]
    if parts[:1] == ["dms-uploads"] and len(parts) == 2 and req.method == "PUT":
        _count(fake, "linkedin.upload")
        return _linkedin_upload(fake, req, parts[1])
    if parts == ["v2", "userinfo"] and req.method == "GET":
        _count(fake, "linkedin.userinfo")
        return _linkedin_userinfo(fake, req)
    if parts[:1] != ["rest"] or len(parts) < 2:
        return _li_error(404, "NOT_FOUND", f"No route {req.method} {req.path}")
    refused = _linkedin_headers(fake, req)
    if refused:
        return refused
    account = fake.store.account_for(platform, req.bearer)
    if account is None:
        return PROFILES[platform].auth_error()
    resource = parts[1]
    if resource == "posts" and len(parts) == 2 and req.method == "GET":
        _count(fake, "linkedin.posts.read")
        return _linkedin_find(fake, req, account)
    if resource == "posts" and len(parts) == 2 and req.method == "POST":
        _count(fake, "linkedin.posts")
        return _linkedin_post(fake, account, req.json())
    if resource in ("images", "videos") and len(parts) == 2 and req.method == "POST":
        _count(fake, f"linkedin.{resource}")
        return _linkedin_media_action(fake, req, account, resource)
    if resource == "videos" and len(parts) == 3 and req.method == "GET":
        _count(fake, "linkedin.videos.read")
        return _linkedin_video(fake, account, parts[2])
    if resource == "organizations" and len(parts) == 3 and req.method == "GET":
        _count(fake, "linkedin.organizations.read")
        return _linkedin_organization(account, parts[2])
    return _li_error(404, "NOT_FOUND", f"No route {req.method} {req.path}")


def _linkedin_organization(account: str, number: str) -> _Reply:
    """An organization, for a token that administers it (its account is the organization's URN)."""
    if not number.isdigit():
        return _li_error(400, "ILLEGAL_ARGUMENT", f"Invalid organization id {number!r}")
    if account != f"urn:li:organization:{number}":
        return _li_error(403, "ACCESS_DENIED", "Not enough permissions to access: organizations.GET")
    return _Reply(
        200,
        {
            "id": int(number),
            "localizedName": f"Organization {number}",
            "vanityName": f"organization-{number}",
            "primaryOrganizationType": "NONE",
        },
    )


def _linkedin_userinfo(fake: FakePlatformServer, req: _Request) -> _Reply:
    """The OpenID Connect userinfo of the member the token acts for (unversioned: no LinkedIn-Version)."""
    account = fake.store.account_for(Platform.LINKEDIN, req.bearer)
    if account is None:
        return PROFILES[Platform.LINKEDIN].auth_error()
    if not account.startswith("urn:li:person:"):
        return _li_error(403, "ACCESS_DENIED", "Not enough permissions to access: userinfo.GET.NO_VERSION")
    member = account.removeprefix("urn:li:person:")
    return _Reply(
        200,
        {
            "sub": member,
            "name": f"Member {member}",
            "given_name": "Member",
            "family_name": member,
            "locale": {"country": "US", "language": "en"},
        },
    )


def _linkedin_post(fake: FakePlatformServer, account: str, body: dict[str, Any]) -> Outcome:
    store = fake.store
    problem = _linkedin_invalid(body)
    if problem:
        return _li_error(422, "UNPROCESSABLE_ENTITY", problem)
    if body["author"] != account:
        return _li_error(
            403, "ACCESS_DENIED", "Not enough permissions to access: partnerApiPostsExternal.CREATE"
        )
    media_ids = _linkedin_content_ids(body.get("content"))
    with store.lock:
        ready = all(
            store.objects.get(m, {}).get("owner") == account and store.objects[m].get("status") == "AVAILABLE"
            for m in media_ids
        )
    if not ready:
        return _li_error(
            422, "UNPROCESSABLE_ENTITY", "/content: media is missing, not yours, or not yet AVAILABLE"
        )
    commentary = str(body.get("commentary", ""))

    def apply() -> _Reply:
        urn = f"urn:li:share:{7_300_000_000_000_000_000 + store.next_id()}"
        with store.lock:
            urls = [store.objects[m]["url"] for m in media_ids if store.objects[m].get("url")]
        post = _Post(Platform.LINKEDIN, account, urn, commentary, time.time(), urls)
        post.extra.update(visibility=body["visibility"], distribution=body["distribution"])
        store.apply(post, received_text=little_to_plain(commentary), mediaIds=media_ids)
        return _Reply(201, None, {"x-restli-id": urn, "x-linkedin-id": urn})

    return _publish(fake, Platform.LINKEDIN, account, commentary, apply)


def _linkedin_content_ids(content: Any) -> list[str]:
    if not isinstance(content, dict):
        return []
    media = content.get("media")
    if isinstance(media, dict):
        return [str(media.get("id", ""))]
    multi = content.get("multiImage")
    images = multi.get("images") if isinstance(multi, dict) else None
    return [str(i.get("id", "")) for i in images if isinstance(i, dict)] if isinstance(images, list) else [""]


_LI_PART_BYTES = 4 * 1024 * 1024


def _linkedin_media_action(fake: FakePlatformServer, req: _Request, account: str, resource: str) -> _Reply:
    store, action, body = fake.store, req.query.get("action"), req.json()
    if action == "initializeUpload":
        init = body.get("initializeUploadRequest")
        if not isinstance(init, dict) or init.get("owner") != account:
            return _li_error(
                403, "ACCESS_DENIED", "The owner must be the authenticated member or organization"
            )
        number = store.next_id()
        expires = int((time.time() + 86400) * 1000)
        if resource == "images":
            image, token = f"urn:li:image:D4E10AQ{number:010d}", f"img-{uuid.uuid4().hex}"
            with store.lock:
                store.objects[image] = {"kind": "li_image", "owner": account, "status": "WAITING_UPLOAD"}
                store.objects[token] = {
                    "kind": "li_upload",
                    "owner": account,
                    "target": image,
                    "expected": None,
                }
            url = f"{req.base_url}/linkedin/dms-uploads/{token}"
            return _Reply(200, {"value": {"uploadUrlExpiresAt": expires, "uploadUrl": url, "image": image}})
        size = init.get("fileSizeBytes")
        if not isinstance(size, int) or size <= 0:
            return _li_error(400, "ILLEGAL_ARGUMENT", "/initializeUploadRequest/fileSizeBytes is required")
        video = f"urn:li:video:D5E10AQ{number:010d}"
        instructions, tokens = [], []
        for first in range(0, size, _LI_PART_BYTES):
            last = min(size, first + _LI_PART_BYTES) - 1
            token = f"vid-{uuid.uuid4().hex}"
            tokens.append(token)
            instructions.append(
                {
                    "uploadUrl": f"{req.base_url}/linkedin/dms-uploads/{token}",
                    "firstByte": first,
                    "lastByte": last,
                }
            )
            with store.lock:
                store.objects[token] = {
                    "kind": "li_upload",
                    "owner": account,
                    "target": video,
                    "expected": last - first + 1,
                }
        with store.lock:
            store.objects[video] = {
                "kind": "li_video",
                "owner": account,
                "status": "WAITING_UPLOAD",
                "tokens": tokens,
                "etags": {},
            }
        value = {
            "uploadUrlsExpireAt": expires,
            "video": video,
            "uploadInstructions": instructions,
            "uploadToken": "",
        }
        return _Reply(200, {"value": value})
    if action == "finalizeUpload" and resource == "videos":
        final = (
            body.get("finalizeUploadRequest") if isinstance(body.get("finalizeUploadRequest"), dict) else {}
        )
        assert isinstance(final, dict)
        with store.lock:
            entry = store.objects.get(str(final.get("video")))
            if not entry or entry.get("kind") != "li_video" or entry["owner"] != account:
                return _li_error(404, "NOT_FOUND", "No such video")
            expected = [entry["etags"].get(t) for t in entry["tokens"]]
            if final.get("uploadedPartIds") != expected or None in expected:
                return _li_error(
                    400,
                    "ILLEGAL_ARGUMENT",
                    "/finalizeUploadRequest/uploadedPartIds do not match the uploaded parts",
                )
            entry["status"] = "PROCESSING"
            parts = entry.pop("parts", {})
            whole = b"".join(parts.get(t, b"") for t in entry["tokens"])
            entry["url"] = store.served_media.get(hashlib.sha256(whole).digest())
            entry["ready_at"] = time.time() + fake.linkedin_video_seconds
        return _Reply(200, None)
    return _li_error(400, "ILLEGAL_ARGUMENT", f"Unsupported action {action!r} on /rest/{resource}")


def _linkedin_upload(fake: FakePlatformServer, req: _Request, token: str) -> _Reply:
    store = fake.store
    with store.lock:
        upload = dict(store.objects.get(token) or {})
    if upload.get("kind") != "li_upload":
        return _li_error(404, "NOT_FOUND", "Unknown upload URL")
    if req.bearer is not None and store.account_for(Platform.LINKEDIN, req.bearer) != upload["owner"]:
        return PROFILES[Platform.LINKEDIN].auth_error()
    if upload["expected"] is not None and len(req.body) != upload["expected"]:
        return _li_error(400, "ILLEGAL_ARGUMENT", f"Expected {upload['expected']} bytes, got {len(req.body)}")
    etag = hashlib.md5(req.body).hexdigest()  # noqa: S324 - an ETag, not security
    with store.lock:
        target = store.objects[upload["target"]]
        if target["kind"] == "li_image":
            target["status"] = "AVAILABLE"
            target["url"] = store.served_media.get(hashlib.sha256(req.body).digest())
        else:
            target["etags"][token] = etag
            target.setdefault("parts", {})[token] = req.body
    return _Reply(201, None, {"ETag": etag})


def _linkedin_video(fake: FakePlatformServer, account: str, urn: str) -> _Reply:
    with fake.store.lock:
        video = fake.store.objects.get(urn)
        if not video or video.get("kind") != "li_video" or video["owner"] != account:
            return _li_error(404, "NOT_FOUND", f"No video {urn}")
        if video["status"] == "PROCESSING" and time.time() >= video["ready_at"]:
            video["status"] = "AVAILABLE"
        status = video["status"]
    return _Reply(200, {"id": urn, "owner": account, "status": status})


def _linkedin_headers(fake: FakePlatformServer, req: _Request) -> _Reply | None:
    version = req.headers.get("LinkedIn-Version")
    if not version:
        return _li_error(
            400,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        )
    if not fake.linkedin_version_active(version):
        return _li_error(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
    if req.headers.get("X-Restli-Protocol-Version") != "2.0.0":
        return _li_error(
            400, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version 2.0.0 is required for this resource"
        )
    return None


def _linkedin_find(fake: FakePlatformServer, req: _Request, account: str) -> _Reply:
    if req.query.get("q") != "author" or req.query.get("author") != account:
        return _li_error(
            403, "ACCESS_DENIED", "Not enough permissions to access: partnerApiPostsExternal.FINDER-author"
        )
    try:
        count = max(1, min(int(req.query.get("count", "10")), 100))
        start = max(0, int(req.query.get("start", "0")))
    except ValueError:
        return _li_error(400, "ILLEGAL_ARGUMENT", "Invalid count or start")
    posts = fake.store.listed(Platform.LINKEDIN, account)
    elements = [
        {
            "id": p.post_id,
            "author": p.account,
            "commentary": p.text,
            "visibility": p.extra.get("visibility", "PUBLIC"),
            "lifecycleState": "PUBLISHED",
            "createdAt": int(p.created * 1000),
            "publishedAt": int(p.created * 1000),
            "lastModifiedAt": int(p.created * 1000),
            "distribution": p.extra.get("distribution"),
            "isReshareDisabledByAuthor": False,
        }
        for p in posts[start : start + count]
    ]
    paging = {"start": start, "count": count, "total": len(posts), "links": []}
    return _Reply(200, {"elements": elements, "paging": paging})


def _linkedin_invalid(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("author"), str) or not body["author"].startswith(
        ("urn:li:person:", "urn:li:organization:")
    ):
        return "/author: a person or organization URN is required"
    if body.get("visibility") not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"):
        return "/visibility: must be one of PUBLIC, CONNECTIONS, LOGGED_IN, CONTAINER"
    distribution = body.get("distribution")
    if not isinstance(distribution, dict) or distribution.get("feedDistribution") not in (
        "MAIN_FEED",
        "NONE",
    ):
        return "/distribution/feedDistribution: is required"
    if body.get("lifecycleState") != "PUBLISHED":
        return "/lifecycleState: only PUBLISHED is supported here"
    commentary = body.get("commentary", "")
    if not isinstance(commentary, str) or len(little_to_plain(commentary)) > 3000:
        return "/commentary: at most 3000 characters"
    return None


# -- YouTube ---------------------------------------------------------------------------------------


def _youtube(fake: FakePlatformServer, req: _Request) -> Outcome:
    parts = req.segments[1:]
    if parts == ["upload", "youtube", "v3", "videos"]:
        if req.method == "POST":
            _count(fake, "youtube.upload.start")
            return _youtube_session(fake, req)
        if req.method == "PUT":
            _count(fake, "youtube.upload.put")
            return _youtube_upload(fake, req)
    if parts[:3] == ["youtube", "v3", "search"] and req.method == "GET":
        _count(fake, "youtube.search.read")
        return _youtube_search(fake, req)
    if parts[:3] == ["youtube", "v3", "videos"] and req.method == "GET":
        _count(fake, "youtube.videos.read")
        return _youtube_videos(fake, req)
    if parts[:3] == ["youtube", "v3", "channels"] and req.method == "GET":
        _count(fake, "youtube.channels.read")
        return _youtube_channels(fake, req)
    return _google_error(404, "notFound", f"No route {req.method} {req.path}", state="NOT_FOUND")


def _youtube_session(fake: FakePlatformServer, req: _Request) -> _Reply:
    account = fake.store.account_for(Platform.YOUTUBE, req.bearer)
    if account is None:
        return PROFILES[Platform.YOUTUBE].auth_error()
    if req.query.get("uploadType") != "resumable" or "snippet" not in req.query.get("part", ""):
        return _google_error(400, "invalidParameter", "uploadType=resumable and part=snippet are required")
    resource = req.json()
    snippet = resource.get("snippet") if isinstance(resource.get("snippet"), dict) else {}
    title = snippet.get("title") if isinstance(snippet, dict) else None
    if not isinstance(title, str) or not title.strip() or len(title) > 100 or "<" in title or ">" in title:
        return _google_error(
            400, "invalidTitle", "The request metadata specifies an invalid video title.", "youtube.video"
        )
    declared = req.headers.get("X-Upload-Content-Length")
    upload_id = hashlib.sha1(f"{time.time()}-{fake.store.next_id()}".encode()).hexdigest()  # noqa: S324
    with fake.store.lock:
        fake.store.objects[upload_id] = {
            "kind": "yt_session",
            "owner": account,
            "resource": resource,
            "length": int(declared) if declared and declared.isdigit() else None,
            "content_type": req.headers.get("X-Upload-Content-Type") or "video/*",
            "done": None,
        }
    part = quote(req.query["part"], safe=",")
    location = f"{req.base_url}{req.path}?uploadType=resumable&part={part}&upload_id={upload_id}"
    return _Reply(200, None, {"Location": location, "X-GUploader-UploadID": upload_id})


def _youtube_upload(fake: FakePlatformServer, req: _Request) -> Outcome:
    store, platform = fake.store, Platform.YOUTUBE
    upload_id = req.query.get("upload_id", "")
    with store.lock:
        session = dict(store.objects.get(upload_id) or {})
    if session.get("kind") != "yt_session":
        return _google_error(404, "notFound", "Upload session not found", state="NOT_FOUND")
    if req.bearer is not None and store.account_for(platform, req.bearer) != session["owner"]:
        return PROFILES[platform].auth_error()
    if session.get("done"):
        return _Reply(200, session["done"])
    expected = session["length"]
    if expected is not None and len(req.body) < expected:
        return _Reply(308, None, {"Range": f"bytes=0-{len(req.body) - 1}"} if req.body else {})
    resource = session["resource"]
    snippet = dict(resource.get("snippet") or {})
    status = dict(resource.get("status") or {})
    description = str(snippet.get("description", ""))

    def apply() -> _Reply:
        created = time.time()
        video_id = base64.urlsafe_b64encode(hashlib.sha1(upload_id.encode()).digest()[:8]).decode()[:11]  # noqa: S324
        snippet.update(publishedAt=_iso_z(created).replace(".000Z", "Z"), channelId=session["owner"])
        status.update(uploadStatus="uploaded", privacyStatus=status.get("privacyStatus", "public"))
        video = {"kind": "youtube#video", "id": video_id, "snippet": snippet, "status": status}
        source = store.media_source(req.body)
        media = [source] if source else []
        title = str(snippet.get("title"))
        post = _Post(platform, session["owner"], video_id, description, created, media, None, title)
        post.extra["video"] = video
        with store.lock:
            store.objects[upload_id]["done"] = video
        store.apply(post, mediaBytes=len(req.body), contentType=req.headers.get("Content-Type"))
        return _Reply(201, video)

    return _publish(fake, platform, session["owner"], description, apply)


def _youtube_search(fake: FakePlatformServer, req: _Request) -> _Reply:
    account = fake.store.account_for(Platform.YOUTUBE, req.bearer)
    if account is None:
        return PROFILES[Platform.YOUTUBE].auth_error()
    if req.query.get("forMine") != "true" or req.query.get("type") != "video":
        return _google_error(400, "invalidSearchFilter", "forMine=true requires type=video", "youtube.search")
    try:
        limit = max(0, min(int(req.query.get("maxResults", "5")), 50))
        offset = int(req.query.get("pageToken", "0") or 0)
    except ValueError:
        return _google_error(400, "invalidPageToken", "The request specifies an invalid page token.")
    videos = fake.store.listed(Platform.YOUTUBE, account)
    items = [
        {
            "kind": "youtube#searchResult",
            "id": {"kind": "youtube#video", "videoId": p.post_id},
            "snippet": {
                "publishedAt": p.extra["video"]["snippet"]["publishedAt"],
                "channelId": account,
                "title": html.escape(p.title or ""),
                "description": p.text[:160],
            },
        }
        for p in videos[offset : offset + limit]
    ]
    body: dict[str, Any] = {
        "kind": "youtube#searchListResponse",
        "pageInfo": {"totalResults": len(videos), "resultsPerPage": limit},
        "items": items,
    }
    if offset + limit < len(videos):
        body["nextPageToken"] = str(offset + limit)
    return _Reply(200, body)


def _youtube_videos(fake: FakePlatformServer, req: _Request) -> _Reply:
    account = fake.store.account_for(Platform.YOUTUBE, req.bearer)
    if account is None:
        return PROFILES[Platform.YOUTUBE].auth_error()
    wanted = [v for v in req.query.get("id", "").split(",") if v]
    by_id = {p.post_id: p for p in fake.store.listed(Platform.YOUTUBE, account)}
    items = [
        {"kind": "youtube#video", "id": v, "snippet": by_id[v].extra["video"]["snippet"]}
        for v in wanted
        if v in by_id
    ]
    return _Reply(
        200, {"kind": "youtube#videoListResponse", "items": items, "pageInfo": {"totalResults": len(items)}}
    )


def _youtube_channels(fake: FakePlatformServer, req: _Request) -> _Reply:
    """channels.list with mine=true: the channel the token's user owns."""
    account = fake.store.account_for(Platform.YOUTUBE, req.bearer)
    if account is None:
        return PROFILES[Platform.YOUTUBE].auth_error()
    parts = [p.strip() for p in req.query.get("part", "").split(",") if p.strip()]
    if not parts:
        return _google_error(400, "required", "Required parameter: part", state="INVALID_ARGUMENT")
    if req.query.get("mine") != "true":
        return _google_error(
            400, "missingRequiredParameter", "No filter selected. Expected: mine", state="INVALID_ARGUMENT"
        )
    channel: dict[str, Any] = {"kind": "youtube#channel", "id": account}
    if "snippet" in parts:
        channel["snippet"] = {
            "title": f"Channel {account}",
            "description": "",
            "customUrl": f"@channel{account.lower()}",
            "publishedAt": "2020-01-01T00:00:00Z",
        }
    return _Reply(
        200,
        {
            "kind": "youtube#channelListResponse",
            "pageInfo": {"totalResults": 1, "resultsPerPage": 5},
            "items": [channel],
        },
    )


# -- TikTok ----------------------------------------------------------------------------------------


def _tiktok_route(fake: FakePlatformServer, req: _Request) -> Outcome:
    store, platform = fake.store, Platform.TIKTOK
    path = "/" + "/".join(req.segments[1:]) + "/"
    if path == "/v2/oauth/token/":
        return _oauth(fake, req)
    if path == "/v2/user/info/" and req.method == "GET":
        _count(fake, "tiktok.user.info")
        return _tiktok_user_info(fake, req)
    if req.method != "POST":
        return _tiktok({}, 405, "invalid_params", f"{req.method} is not supported")
    account = store.account_for(platform, req.bearer)
    route = {
        "/v2/post/publish/creator_info/query/": "tiktok.creator_info",
        "/v2/post/publish/video/init/": "tiktok.video.init",
        "/v2/post/publish/status/fetch/": "tiktok.status",
        "/v2/video/list/": "tiktok.video.list",
    }.get(path)
    if route is None:
        return _tiktok({}, 404, "invalid_params", f"no route {req.path}")
    _count(fake, route)
    if account is None:
        return PROFILES[platform].auth_error()
    body = req.json()
    if route == "tiktok.creator_info":
        return _tiktok(
            {
                "creator_avatar_url": f"https://p16.tiktokcdn.example/{account}.jpeg",
                "creator_username": f"creator.{account}".lower(),
                "creator_nickname": f"Creator {account}",
                "privacy_level_options": TIKTOK_PRIVACY_OPTIONS,
                "comment_disabled": False,
                "duet_disabled": False,
                "stitch_disabled": False,
                "max_video_post_duration_sec": 600,
            }
        )
    if route == "tiktok.video.init":
        return _tiktok_init(fake, account, body)
    if route == "tiktok.status":
        return _tiktok_status(fake, account, str(body.get("publish_id", "")))
    return _tiktok_list(fake, account, req, body)


def _tiktok_user_info(fake: FakePlatformServer, req: _Request) -> _Reply:
    """The token's user, with the `fields` asked for (the Display API's user object)."""
    account = fake.store.account_for(Platform.TIKTOK, req.bearer)
    if account is None:
        return PROFILES[Platform.TIKTOK].auth_error()
    fields = [f.strip() for f in req.query.get("fields", "").split(",") if f.strip()]
    if not fields:
        return _tiktok({}, 400, "invalid_params", "fields is required")
    user = {
        "open_id": account,
        "union_id": f"union.{account}",
        "display_name": f"Creator {account}",
        "username": f"creator.{account}".lower(),
        "avatar_url": f"https://p16.tiktokcdn.example/{account}.jpeg",
    }
    return _tiktok({"user": {k: v for k, v in user.items() if k in fields}})


def _tiktok_init(fake: FakePlatformServer, account: str, body: dict[str, Any]) -> Outcome:
    store = fake.store
    post_info = body.get("post_info") if isinstance(body.get("post_info"), dict) else {}
    source = body.get("source_info") if isinstance(body.get("source_info"), dict) else {}
    assert isinstance(post_info, dict)
    assert isinstance(source, dict)
    privacy = post_info.get("privacy_level")
    if privacy not in TIKTOK_PRIVACY_OPTIONS:
        return _tiktok(
            {}, 400, "privacy_level_option_mismatch", "privacy_level must be one of the creator's options"
        )
    if source.get("source") != "PULL_FROM_URL" or not isinstance(source.get("video_url"), str):
        return _tiktok({}, 400, "invalid_params", "source_info.source PULL_FROM_URL needs video_url")
    caption = str(post_info.get("title", ""))
    if len(caption.encode("utf-16-le")) // 2 > 2200:
        return _tiktok({}, 400, "invalid_params", "post_info.title is longer than 2200 characters")
    url = str(source["video_url"])

    def apply() -> _Reply:
        number = store.next_id()
        publish_id = f"v_pub_url~v2-1.{7_400_000_000_000_000_000 + number}"
        video_id = str(7_400_000_000_000_000_000 + number)
        created = time.time()
        post = _Post(Platform.TIKTOK, account, video_id, caption, created, [url])
        post.extra.update(
            privacy=privacy, ready_at=created + fake.tiktok_processing_seconds, publish_id=publish_id
        )
        with store.lock:
            store.objects[publish_id] = {"kind": "tt_publish", "owner": account, "post": post}
        store.apply(post, publishId=publish_id)
        return _tiktok({"publish_id": publish_id})

    return _publish(fake, Platform.TIKTOK, account, caption, apply)


def _tiktok_status(fake: FakePlatformServer, account: str, publish_id: str) -> _Reply:
    with fake.store.lock:
        item = fake.store.objects.get(publish_id)
    if not item or item.get("kind") != "tt_publish" or item["owner"] != account:
        return _tiktok({}, 400, "invalid_params", f"publish_id {publish_id!r} not found")
    post: _Post = item["post"]
    if time.time() < post.extra["ready_at"]:
        return _tiktok({"status": "PROCESSING_DOWNLOAD", "uploaded_bytes": 0, "downloaded_bytes": 1024})
    public = post.extra["privacy"] != "SELF_ONLY"
    return _tiktok(
        {
            "status": "PUBLISH_COMPLETE",
            "publicaly_available_post_id": [int(post.post_id)] if public else [],
            "uploaded_bytes": 2048,
            "downloaded_bytes": 2048,
        }
    )


def _tiktok_list(fake: FakePlatformServer, account: str, req: _Request, body: dict[str, Any]) -> _Reply:
    fields = [f for f in req.query.get("fields", "").split(",") if f]
    if not fields:
        return _tiktok({}, 400, "invalid_params", "fields is required")
    try:
        max_count = int(body.get("max_count", 10))
        cursor = int(body.get("cursor", 0) or 0)
    except (TypeError, ValueError):
        return _tiktok({}, 400, "invalid_params", "max_count and cursor must be numbers")
    if not 1 <= max_count <= 20:
        return _tiktok({}, 400, "invalid_params", "max_count must be between 1 and 20")
    now = time.time()
    listed = [
        p
        for p in fake.store.listed(Platform.TIKTOK, account)
        if p.extra["privacy"] != "SELF_ONLY" and now >= p.extra["ready_at"]
    ]
    page = listed[cursor : cursor + max_count]
    videos = []
    for p in page:
        video = {
            "id": p.post_id,
            "title": p.text[:150],
            "video_description": p.text[:150],
            "create_time": int(p.created),
            "share_url": f"https://www.tiktok.com/@creator.{account.lower()}/video/{p.post_id}",
        }
        videos.append({k: v for k, v in video.items() if k in fields})
    return _tiktok(
        {"videos": videos, "cursor": cursor + len(page), "has_more": cursor + len(page) < len(listed)}
    )


# -- WhatsApp --------------------------------------------------------------------------------------


def _whatsapp(fake: FakePlatformServer, req: _Request) -> Outcome:
    """/whatsapp/... and /_whatsapp/...: served by fake_whatsapp, which builds on this module."""
    from infra.local.fake_whatsapp import whatsapp_route

    return whatsapp_route(fake, req)


_PLATFORM_ROUTES: dict[str, Callable[[FakePlatformServer, _Request], Outcome]] = {
    "facebook": _facebook,
    "instagram": _instagram,
    "x": _x,
    "linkedin": _linkedin,
    "youtube": _youtube,
    "tiktok": _tiktok_route,
    "linkedin-oauth": _oauth,
    "google-oauth": _oauth,
    WHATSAPP: _whatsapp,
}


# -- as a process ----------------------------------------------------------------------------------


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake social platform APIs for local runs and tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--faults", default="", help="comma-separated platform:kind:rate items")
    parser.add_argument("--seed", type=int, default=None, help="makes fault injection reproducible")
    parser.add_argument(
        "--hold-seconds", type=float, default=15.0, help="how long a timeout fault holds a call"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        faults = FaultSpec.parse(args.faults)
    except FaultSpecError as exc:
        parser.error(str(exc))
    server = FakePlatformServer(args.host, args.port, faults, args.seed, hold_seconds=args.hold_seconds)
    server.serve_until_signalled("fake platforms: ")
    return 0


if __name__ == "__main__":
    # Run as `python -m`, this module is __main__: the modules imported late (fake_whatsapp, fake_oauth)
    # must build on it, not on a second copy whose classes and fault kinds are different objects.
    sys.modules.setdefault("infra.local.fake_platforms", sys.modules[__name__])
    sys.exit(main())
