"""X (formerly Twitter) through the X API v2, with an OAuth 2.0 user access token.

Sources (docs.x.com): "Create or Edit Post" (`POST /2/tweets` with {"text"}, answering 201
{"data": {"id", "text"}}); "User Posts timeline" (`GET /2/users/{id}/tweets` with `start_time`
(RFC 3339, second granularity), `max_results` 5-100, `tweet.fields`, `pagination_token`, answering
{"data": [...], "meta": {"result_count", "next_token"}}); "Response codes and errors" (problem
details {"title", "detail", "type", "status"}; 400 invalid, 401 bad credentials, 403 not permitted,
429 rate limit or usage cap, 5xx wait and retry); "Rate limits" (`x-rate-limit-limit`,
`x-rate-limit-remaining`, `x-rate-limit-reset` in epoch seconds). A post's `text` comes back with
URLs wrapped as t.co links and `&`, `<`, `>` HTML-escaped; a long post's full text is in `note_tweet`.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from tidings.clock import DEFAULT_CLOCK, Clock
from tidings.config import Settings
from tidings.models.posts import ErrorKind
from tidings.platforms import Platform
from tidings.publishing.base import AccountCredentials, PlatformCallError, Published, PublishRequest
from tidings.publishing.http import (
    READBACK_SKEW,
    bearer,
    call_error,
    json_body,
    parse_retry_after,
    seconds_until_epoch,
    send,
    status_kind,
    text_with_link,
)

_READBACK_PAGES = 5
_URL = re.compile(r"https?://\S+", re.IGNORECASE)


class XClient:
    platform: Platform = Platform.TWITTER

    def __init__(self, settings: Settings, http: httpx.Client, clock: Clock = DEFAULT_CLOCK) -> None:
        self.base = settings.x_api_base.rstrip("/")
        self.http = http
        self.clock = clock

    def __repr__(self) -> str:
        return f"XClient(base={self.base!r})"

    def publish(self, account: AccountCredentials, request: PublishRequest) -> Published:
        if request.media_urls:
            raise call_error(
                ErrorKind.PERMANENT,
                "unsupported_media",
                "media attachments are not supported for X by this client: publish the post without media",
                token=None,
            )
        token = account.access_token
        response = send(
            self.http,
            "POST",
            f"{self.base}/2/tweets",
            token=token,
            mutating=True,
            json={"text": text_with_link(request)},
            headers=bearer(token),
        )
        if response.status_code not in (200, 201):
            raise x_error(response, token=token, now=self.clock.now())
        data = json_body(response).get("data")
        post_id = data.get("id") if isinstance(data, dict) else None
        if not post_id:
            raise call_error(
                ErrorKind.UNKNOWN_OUTCOME, "malformed_response", "X answered without data.id", token=token
            )
        return Published(str(post_id), post_url(str(post_id)), self.clock.now())

    def find_published(
        self, account: AccountCredentials, request: PublishRequest, since: datetime
    ) -> Published | None:
        """The account's post with exactly this text (URLs compared as t.co links are), created at
        or after `since` less the clock-skew allowance."""
        expected = normalize(text_with_link(request))
        threshold = since - READBACK_SKEW
        token = account.access_token
        params: dict[str, str | int] = {
            "start_time": threshold.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "max_results": 100,
            "tweet.fields": "created_at,note_tweet",
        }
        url = f"{self.base}/2/users/{quote(account.account_id, safe='')}/tweets"
        for _ in range(_READBACK_PAGES):
            response = send(
                self.http, "GET", url, token=token, mutating=False, params=params, headers=bearer(token)
            )
            if response.status_code != 200:
                raise x_error(response, token=token, now=self.clock.now())
            body = json_body(response)
            posts = body.get("data")
            for post in posts if isinstance(posts, list) else []:
                found = _match(post, expected, threshold)
                if found is not None:
                    return found
            meta = body.get("meta")
            next_token = meta.get("next_token") if isinstance(meta, dict) else None
            if not next_token:
                return None
            params["pagination_token"] = str(next_token)
        return None


def _match(post: Any, expected: str, threshold: datetime) -> Published | None:
    if not isinstance(post, dict) or not post.get("id"):
        return None
    note = post.get("note_tweet")
    text = note.get("text") if isinstance(note, dict) and note.get("text") else post.get("text")
    if not isinstance(text, str) or normalize(text) != expected:
        return None
    created = _parse_time(post.get("created_at"))
    if created is not None and created < threshold:
        return None
    return Published(str(post["id"]), post_url(str(post["id"])), created)


def normalize(text: str) -> str:
    """Text as X compares: HTML entities decoded, every URL the same placeholder (X wraps links)."""
    return _URL.sub("\x00url", html.unescape(text)).strip()


def post_url(post_id: str) -> str:
    return f"https://x.com/i/web/status/{quote(post_id, safe='')}"


def x_error(response: httpx.Response, *, token: str, now: datetime) -> PlatformCallError:
    status = response.status_code
    body = json_body(response)
    detail = body.get("detail") or body.get("title")
    errors = body.get("errors")
    if not detail and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        detail = errors[0].get("detail") or errors[0].get("message")
    message = str(detail or f"X answered HTTP {status}")
    code = str(body.get("type") or body.get("title") or f"http_{status}")
    kind = status_kind(status)
    retry_after = None
    if kind is ErrorKind.RATE_LIMITED:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
        if retry_after is None:
            retry_after = seconds_until_epoch(response.headers.get("x-rate-limit-reset"), now)
    return call_error(kind, code, message, token=token, status=status, retry_after=retry_after)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None
