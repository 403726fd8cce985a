"""LinkedIn through the versioned Posts API (`/rest/posts`).

Sources (learn.microsoft.com/linkedin, Community Management "Posts API"): create with
`POST /rest/posts` {author, commentary, visibility, distribution {feedDistribution,
targetEntities, thirdPartyDistributionChannels}, lifecycleState, isReshareDisabledByAuthor},
answering 201 with the new post's URN in the `x-restli-id` header; find by author with
`GET /rest/posts?author={encoded URN}&q=author&count=&start=&sortBy=LAST_MODIFIED`, answering
{"elements": [...], "paging": {...}}; every call carries `LinkedIn-Version: YYYYMM` and
`X-Restli-Protocol-Version: 2.0.0`. "Versioning": an inactive version answers 426
{"status": 426, "code": "NONEXISTENT_VERSION", "message": "Requested version ... is not active"}.
"little Text Format": reserved characters in `commentary` must be escaped with a backslash, and a
hashtag is written `{hashtag|\\#|tag}`. Errors are {"status", "serviceErrorCode", "code", "message"};
401 is an invalid, expired or revoked token, 429 a throttle.
"""

from __future__ import annotations

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
    send,
    status_kind,
    text_with_link,
)

_RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")
_HASHTAG = re.compile(r"#(\w+)")
_READBACK_PAGES = 4
_READBACK_PAGE_SIZE = 50


class LinkedInClient:
    platform: Platform = Platform.LINKEDIN

    def __init__(self, settings: Settings, http: httpx.Client, clock: Clock = DEFAULT_CLOCK) -> None:
        self.base = settings.linkedin_api_base.rstrip("/")
        self.version = settings.linkedin_version
        self.http = http
        self.clock = clock

    def __repr__(self) -> str:
        return f"LinkedInClient(base={self.base!r}, version={self.version!r})"

    def _headers(self, token: str) -> dict[str, str]:
        return {**bearer(token), "LinkedIn-Version": self.version, "X-Restli-Protocol-Version": "2.0.0"}

    def publish(self, account: AccountCredentials, request: PublishRequest) -> Published:
        if request.media_urls:
            raise call_error(
                ErrorKind.PERMANENT,
                "unsupported_media",
                "media attachments are not supported for LinkedIn by this client: post it without media",
                token=None,
            )
        token = account.access_token
        body = {
            "author": account.account_id,
            "commentary": little_text(text_with_link(request)),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        response = send(
            self.http,
            "POST",
            f"{self.base}/rest/posts",
            token=token,
            mutating=True,
            json=body,
            headers=self._headers(token),
        )
        if response.status_code not in (200, 201):
            raise self._error(response, token)
        urn = response.headers.get("x-restli-id") or json_body(response).get("id")
        if not urn:
            raise call_error(
                ErrorKind.UNKNOWN_OUTCOME,
                "malformed_response",
                "LinkedIn answered without x-restli-id",
                token=token,
            )
        return Published(str(urn), post_url(str(urn)), self.clock.now())

    def find_published(
        self, account: AccountCredentials, request: PublishRequest, since: datetime
    ) -> Published | None:
        """The author's post whose commentary is exactly what this request sent, created at or after
        `since` less the clock-skew allowance (posts come most recently modified first)."""
        plain = text_with_link(request)
        expected = {little_text(plain), plain}
        threshold_ms = int((since - READBACK_SKEW).timestamp() * 1000)
        token = account.access_token
        author = quote(account.account_id, safe="")
        for page in range(_READBACK_PAGES):
            start = page * _READBACK_PAGE_SIZE
            url = (
                f"{self.base}/rest/posts?author={author}&q=author"
                f"&count={_READBACK_PAGE_SIZE}&start={start}&sortBy=LAST_MODIFIED"
            )
            response = send(self.http, "GET", url, token=token, mutating=False, headers=self._headers(token))
            if response.status_code != 200:
                raise self._error(response, token)
            elements = json_body(response).get("elements")
            if not isinstance(elements, list) or not elements:
                return None
            for post in elements:
                if not isinstance(post, dict):
                    continue
                created = _ms(post.get("createdAt")) or _ms(post.get("publishedAt"))
                modified = _ms(post.get("lastModifiedAt")) or created
                if modified is not None and modified < threshold_ms:
                    return None
                if post.get("commentary") in expected and post.get("id") and (created or 0) >= threshold_ms:
                    published = datetime.fromtimestamp(created / 1000, UTC) if created else None
                    return Published(str(post["id"]), post_url(str(post["id"])), published)
            if len(elements) < _READBACK_PAGE_SIZE:
                return None
        return None

    def _error(self, response: httpx.Response, token: str) -> PlatformCallError:
        status = response.status_code
        body = json_body(response)
        message = str(body.get("message") or f"LinkedIn answered HTTP {status}")
        code = str(body.get("code") or body.get("serviceErrorCode") or f"http_{status}")
        if status == 426:
            return call_error(
                ErrorKind.PERMANENT,
                code,
                f"LinkedIn-Version {self.version} not supported: update TIDINGS_LINKEDIN_VERSION to an "
                f"active YYYYMM version (LinkedIn serves each version for about a year). "
                f"LinkedIn said: {message}",
                token=token,
                status=status,
            )
        kind = status_kind(status)
        retry_after = None
        if kind is ErrorKind.RATE_LIMITED:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self.clock.now())
        return call_error(kind, code, message, token=token, status=status, retry_after=retry_after)


def little_text(text: str) -> str:
    """Plain text as LinkedIn's little text: reserved characters escaped, #tags as hashtag templates."""
    out: list[str] = []
    position = 0
    for match in _HASHTAG.finditer(text):
        out.append(_RESERVED.sub(r"\\\1", text[position : match.start()]))
        out.append("{hashtag|\\#|" + _RESERVED.sub(r"\\\1", match.group(1)) + "}")
        position = match.end()
    out.append(_RESERVED.sub(r"\\\1", text[position:]))
    return "".join(out)


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


def _ms(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
