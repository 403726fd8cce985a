"""The fake platform server: the six social platforms' publishing APIs and WhatsApp's Cloud API, in
their documented shapes, on one local server, with the OAuth token endpoints and the fake's own
endpoints. Each platform is a module of this package (facebook, instagram, x, linkedin, youtube,
tiktok, whatsapp, oauth); this one composes them.

The real HTTP clients in `tidings.publishing.clients` run against it unchanged, with base URLs from
`FakePlatformServer.client_env()` (or `client_env_for(url)` for a server in another process). It
never fetches anything from the internet: media URLs are recorded as given, and
`GET /_media/<name>[?bytes=N]` serves a few bytes, distinct per URL, for clients that upload bytes
(YouTube, X, LinkedIn); uploaded bytes are traced back to that URL, so every platform's applied
publish lists the post's media URLs.

Prefixes: /facebook/<version>, /instagram/<version>, /x, /linkedin, /youtube, /tiktok,
/whatsapp/<version>, and the token endpoints /x/2/oauth2/token, /linkedin-oauth/oauth/v2/accessToken,
/google-oauth/token, /tiktok/v2/oauth/token/ (each module's docstring lists its endpoints).

The connection-check reads answer for the account the token belongs to, with names derived from the
account id (Page "Page {id}", IG "ig_{id}", X "@user{id}", organization "Organization {N}", member
"Member {id}", channel "Channel {id}", TikTok "Creator {open_id}", WhatsApp "Business {id}"); a read
of another account's node answers the platform's auth error (LinkedIn: 403 ACCESS_DENIED), and a
"me" read answers the token's own account, whatever account the caller expected.

The fake's own endpoints: `POST /_accounts` {platform, accountId, accessToken, expiresAt?,
refreshToken?} registers an account (every platform call checks its token belongs to the account it
acts on, and answers the platform's own auth error otherwise; a token past its ISO 8601 `expiresAt`
gets the platform's expired-token error); `POST /_oauth/clients` {platform, clientId, clientSecret}
registers the app credentials the token endpoints accept (`GET` lists the client ids); `GET
/_received` lists every publish the fake applied, in order, and `DELETE /_received` clears that list
(each entry: platform, accountId, text as a reader sees it, postId, receivedAt in ISO UTC with
milliseconds, mediaUrls, link, title, and per platform extras such as mediaIds); `GET|POST /_faults`
reads or replaces the fault spec {faults, seed}; `GET|POST /_limits` {instagramQuotaTotal};
`GET /_calls` counts the calls per route; `POST /_whatsapp/templates` {phoneNumberId, name,
language} approves a WhatsApp template and `POST /_whatsapp/inbound` {phoneNumberId, from, at?}
records a customer's message, opening the 24-hour window in which free-form text reaches them;
`GET|POST /_metrics` reads or shapes a published post's metrics, or deletes it on the platform
(`infra.local.fakes.metrics` documents the counts' formula and the control); `POST /_comments` adds
a comment to a published post, served on the platforms' comment reads and sent as Meta's signed
webhook on request, `GET|POST /_webhooks` and `POST /_webhooks/send` (`infra.local.fakes.comments`).

Metric reads serve every post the fake published, with counts that grow with the post's age: the
Facebook post node, its insights and video_insights, Instagram media insights, X post lookups with
metrics fields, LinkedIn socialActions and share statistics, YouTube videos.list with statistics,
TikTok video/query (each platform module lists its endpoints and limits).

Faults (`platform:kind:rate`, comma-separated) apply to the call that publishes (the feed/photos/
videos POST, media_publish, tweets, posts, the YouTube bytes PUT, TikTok's video/init, WhatsApp's
messages POST) and to the metric reads above, never to read-backs or to the fake's own endpoints:
`error500` answers the platform's 500
body; `rate_limit` answers 429 with Retry-After and the platform's rate-limit headers; `timeout` holds
the request past the client's timeout, never applies it, then closes the connection; `lost_response`
applies the post (or reads the metrics), then closes the connection without answering. With a seed,
whether a fault fires depends only on (seed, platform, text or ids read, attempt number), so a run is
reproducible whatever the order of concurrent requests.

Run alone: `python -m infra.local.fakes.platforms --port 8900 --faults facebook:error500:0.3 --seed 7`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from infra.local.fakes import (
    comments,
    facebook,
    instagram,
    linkedin,
    metrics,
    oauth,
    tiktok,
    whatsapp,
    x,
    youtube,
)
from infra.local.fakes.base import LocalHttpServer, Outcome, Reply, Request, parse_time
from infra.local.fakes.state import WHATSAPP, FaultSpec, FaultSpecError, Post, Store, channel
from tidings.core.platforms import Platform

READY_PREFIX = "fake platforms: "
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


class FakePlatformServer(LocalHttpServer):
    """The fake platforms, in-process (`start()`/`stop()`, or as a context manager) or as a process.

    `hold_seconds` is how long a `timeout` fault holds a request (longer than the clients' timeout);
    `retry_after` the seconds a `rate_limit` fault asks for; `instagram_video_seconds`,
    `tiktok_processing_seconds`, `x_video_seconds` and `linkedin_video_seconds` how long a video
    stays in processing; `linkedin_min_version` the oldest LinkedIn-Version served (default: twelve
    months back, as LinkedIn serves each monthly version for about a year), newer than the current
    month is refused; `oauth_clients` the app credentials ({platform: (client id, secret)}) the token
    endpoints accept and `oauth_token_seconds` the lifetime of the access tokens they issue;
    `webhook_url` and `meta_app_secret` where comment webhooks go and what signs them.
    """

    name = "fake platform server"
    thread_name = "fake-platforms"
    backlog = 1024
    software = "tidings-fake-platforms"

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
        webhook_url: str | None = None,
        meta_app_secret: str = "",
    ) -> None:
        super().__init__(host, port)
        # where Meta webhooks of comments go (Tidings' POST /inbound/meta), signed with the app secret
        self.webhook_url = webhook_url
        self.meta_app_secret = meta_app_secret
        self.store = Store(faults or FaultSpec(), seed)
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
        self.store.register(channel(platform), account_id, access_token, expires_at, refresh_token)

    def set_oauth_client(self, platform: Platform | str, client_id: str, client_secret: str) -> None:
        """The app credentials the platform's token endpoint accepts."""
        with self.store.lock:
            self.store.oauth_clients[channel(platform)] = (client_id, client_secret)

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

    def set_metrics(
        self, platform: Platform | str, post_id: str, counts: dict[str, int], *, grow: bool = True
    ) -> dict[str, Any]:
        """Set some of a published post's counts (as `POST /_metrics`); its state afterwards."""
        post = self._metric_post(platform, post_id)
        with self.store.lock:
            metrics.set_counts(post, counts, grow=grow)
            return metrics.describe(post)

    def delete_post(self, platform: Platform | str, post_id: str, *, deleted: bool = True) -> None:
        """Delete a published post on its platform (or restore it)."""
        post = self._metric_post(platform, post_id)
        with self.store.lock:
            post.deleted = deleted

    def post_metrics(self, platform: Platform | str, post_id: str) -> dict[str, Any]:
        """A published post's state as `GET /_metrics` answers it."""
        post = self._metric_post(platform, post_id)
        with self.store.lock:
            return metrics.describe(post)

    def _metric_post(self, platform: Platform | str, post_id: str) -> Post:
        post = metrics.resolve(self, channel(platform), post_id)
        if post is None:
            raise KeyError(f"the fake published no {platform} post {post_id!r}")
        return post

    def media_url(self, name: str) -> str:
        return f"{self.url}/_media/{quote(name)}"

    def linkedin_version_active(self, version: str) -> bool:
        return linkedin.version_active(version, self.linkedin_min_version)

    # the routes

    def respond(self, request: Request) -> Outcome:
        head = request.segments[0] if request.segments else ""
        if head == "":
            return Reply(200, {"service": "tidings fake platforms", "platforms": [str(p) for p in Platform]})
        if oauth.serves(request):
            return oauth.route(self, request)
        if head.startswith("_"):
            return _own(self, request)
        handler = _PLATFORM_ROUTES.get(head)
        if handler is None:
            return Reply(404, {"error": f"no fake platform at /{head}"})
        return oauth.expired_token_reply(self, request) or handler(self, request)


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


_PLATFORM_ROUTES: dict[str, Callable[[FakePlatformServer, Request], Outcome]] = {
    "facebook": facebook.route,
    "instagram": instagram.route,
    "x": x.route,
    "linkedin": linkedin.route,
    "youtube": youtube.route,
    "tiktok": tiktok.route,
    WHATSAPP: whatsapp.route,
}


# -- the fake's own endpoints ----------------------------------------------------------------------


def _own(fake: FakePlatformServer, req: Request) -> Outcome:
    name, rest = req.segments[0], req.segments[1:]
    if name == "_accounts":
        return _accounts(fake, req)
    if name == "_faults":
        return _faults(fake, req)
    if name == "_whatsapp":
        return whatsapp.route(fake, req)
    if name == "_received" and req.method == "GET":
        entries = fake.received()
        if "platform" in req.query:
            entries = [e for e in entries if e["platform"] == str(channel(req.query["platform"]))]
        return Reply(200, entries)
    if name == "_received" and req.method == "DELETE":
        fake.clear_received()
        return Reply(204)
    if name == "_limits":
        return _limits(fake, req)
    if name == "_metrics":
        return metrics.route(fake, req)
    if name in ("_comments", "_webhooks"):
        return comments.own_route(fake, req)
    if name == "_calls" and req.method == "GET":
        return Reply(200, fake.calls())
    if name == "_media" and req.method in ("GET", "HEAD") and rest:
        return _media(fake, rest[-1], req)
    return Reply(404, {"error": f"no route {req.method} {req.path}"})


def _limits(fake: FakePlatformServer, req: Request) -> Reply:
    if req.method == "POST":
        total = req.json_object().get("instagramQuotaTotal")
        if not isinstance(total, int) or total < 0:
            return Reply(400, {"error": "instagramQuotaTotal must be a non-negative integer"})
        fake.instagram_quota_total = total
    elif req.method != "GET":
        return Reply(405, {"error": f"{req.method} /_limits is not supported"})
    return Reply(200, {"instagramQuotaTotal": fake.instagram_quota_total})


def _accounts(fake: FakePlatformServer, req: Request) -> Reply:
    store = fake.store
    if req.method == "GET":
        with store.lock:
            accounts = sorted({(str(p), a) for (p, _), a in store.tokens.items()})
        return Reply(200, [{"platform": p, "accountId": a} for p, a in accounts])
    if req.method != "POST":
        return Reply(405, {"error": f"{req.method} /_accounts is not supported"})
    body = req.json_object()
    platform, account_id, token = body.get("platform"), body.get("accountId"), body.get("accessToken")
    if not (isinstance(account_id, str) and account_id and isinstance(token, str) and token):
        return Reply(400, {"error": "expected {platform, accountId, accessToken}"})
    try:
        resolved = channel(str(platform))
    except ValueError as exc:
        return Reply(400, {"error": str(exc)})
    expires, refresh = body.get("expiresAt"), body.get("refreshToken")
    expires_at = parse_time(expires) if isinstance(expires, str) else None
    if (expires is not None and expires_at is None) or not isinstance(refresh, str | None):
        return Reply(400, {"error": "expiresAt must be ISO 8601 with an offset; refreshToken a string"})
    moment = datetime.fromtimestamp(expires_at, UTC) if expires_at is not None else None
    store.register(resolved, account_id, token, moment, refresh or None)
    return Reply(201, {"platform": str(resolved), "accountId": account_id})


def _faults(fake: FakePlatformServer, req: Request) -> Reply:
    if req.method == "GET":
        return Reply(200, {"faults": str(fake.store.faults), "seed": fake.store.seed})
    if req.method not in ("POST", "PUT"):
        return Reply(405, {"error": f"{req.method} /_faults is not supported"})
    body = req.json_object()
    try:
        spec = FaultSpec.parse(body.get("faults") or "")
    except FaultSpecError as exc:
        return Reply(400, {"error": str(exc)})
    seed = body.get("seed")
    fake.set_faults(spec, seed if isinstance(seed, int) else None)
    return Reply(200, {"faults": str(spec), "seed": fake.store.seed})


def _media(fake: FakePlatformServer, name: str, req: Request) -> Reply:
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
    return Reply(200, payload, content_type=_CONTENT_TYPES.get(extension, "application/octet-stream"))


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
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get("TIDINGS_FAKE_WEBHOOK_URL") or None,
        help="where comment webhooks go (Tidings' POST /inbound/meta); also POST /_webhooks",
    )
    parser.add_argument(
        "--app-secret",
        default=os.environ.get("TIDINGS_FAKE_META_APP_SECRET", ""),
        help="the Meta app secret that signs comment webhooks (X-Hub-Signature-256)",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        faults = FaultSpec.parse(args.faults)
    except FaultSpecError as exc:
        parser.error(str(exc))
    server = FakePlatformServer(
        args.host,
        args.port,
        faults,
        args.seed,
        hold_seconds=args.hold_seconds,
        webhook_url=args.webhook_url,
        meta_app_secret=args.app_secret,
    )
    server.serve_until_signalled(READY_PREFIX)
    return 0


if __name__ == "__main__":
    sys.exit(main())
