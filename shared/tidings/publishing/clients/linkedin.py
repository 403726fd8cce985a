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
401 is an invalid, expired or revoked token, 429 a throttle. Media: "Images API"
(`POST /rest/images?action=initializeUpload` {initializeUploadRequest: {owner}} answering
value.uploadUrl and value.image, then `PUT` the bytes to uploadUrl); "Videos API"
(`POST /rest/videos?action=initializeUpload` {initializeUploadRequest: {owner, fileSizeBytes,
uploadCaptions, uploadThumbnail}} answering value.video, value.uploadToken and
value.uploadInstructions [{uploadUrl, firstByte, lastByte}]; `PUT` each part and keep its ETag;
`POST /rest/videos?action=finalizeUpload` {finalizeUploadRequest: {video, uploadToken,
uploadedPartIds}}; `GET /rest/videos/{urn}` until status AVAILABLE, PROCESSING_FAILED on failure);
a post carries content.media {id} for one image or video, content.multiImage {images: [{id}]} for 2-20.

Metrics (read_metrics), one post a call: "Network Update Social Actions" (`GET
/rest/socialActions/{encoded post URN}`, answering likesSummary {totalLikes, aggregatedTotalLikes} and
commentsSummary {totalFirstLevelComments, aggregatedTotalComments}: comments counts replies too, as
the other platforms do; a post that no longer exists answers 404) for any post; for an
organization's post also "Organization Share Statistics" (`GET
/rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity={org URN}
&shares=List({share URN})` or `&ugcPosts=List({ugcPost URN})`, lifetime statistics without
timeIntervals, answering elements[].totalShareStatistics {impressionCount -> views,
uniqueImpressionsCount -> reach, clickCount -> clicks, shareCount -> shares, likeCount, commentCount,
engagement}, organic activity only). A member's post has no share statistics: views, reach, clicks
and shares stay unreported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.http import (
    READBACK_SKEW,
    MediaSource,
    bearer,
    call_error,
    json_body,
    parse_retry_after,
    send,
    sized,
    status_kind,
)
from tidings.core.platforms import Platform, is_video, media_violation
from tidings.models.accounts import AccountCredentials
from tidings.models.post_analytics import PostMetrics
from tidings.publishing.base import Published, PublishRequest, text_with_link
from tidings.publishing.clients.metric_reads import count, deleted, one_at_a_time
from tidings.publishing.metrics import MetricsRead

_RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")
_HASHTAG = re.compile(r"#(\w+)")
_READBACK_PAGES = 4
_READBACK_PAGE_SIZE = 50
_MAX_IMAGES = 20
_ORGANIZATION = "urn:li:organization:"
_STATISTICS_PARAMETER = {"urn:li:share:": "shares", "urn:li:ugcPost:": "ugcPosts"}


class LinkedInClient:
    platform: Platform = Platform.LINKEDIN
    max_ids: int = 1

    def __init__(
        self,
        settings: Settings,
        http: httpx.Client,
        clock: Clock = DEFAULT_CLOCK,
        *,
        poll_interval: float = 0.25,
        max_wait: float = 120.0,
        media_http: httpx.Client | None = None,
    ) -> None:
        self.base = settings.linkedin_api_base.rstrip("/")
        self.version = settings.linkedin_version
        self.http = http
        self.media = MediaSource(settings, media_http)
        self.clock = clock
        self.poll_interval = poll_interval
        self.max_wait = max_wait

    def __repr__(self) -> str:
        return f"LinkedInClient(base={self.base!r}, version={self.version!r})"

    def _headers(self, token: str) -> dict[str, str]:
        return {**bearer(token), "LinkedIn-Version": self.version, "X-Restli-Protocol-Version": "2.0.0"}

    def publish(self, account: AccountCredentials, request: PublishRequest) -> Published:
        content = self._content(account, request)
        token = account.access_token
        body: dict[str, Any] = {
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
        if content:
            body["content"] = content
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

    # -- media -----------------------------------------------------------------------------------

    def _content(self, account: AccountCredentials, request: PublishRequest) -> dict[str, Any] | None:
        """Upload the post's media (nothing is posted yet, so failures are retryable) and describe it."""
        urls = request.media_urls
        if not urls:
            return None
        videos = [url for url in urls if is_video(url)]
        violation = media_violation(Platform.LINKEDIN, urls)
        if violation is not None:
            raise call_error(ErrorKind.PERMANENT, "unsupported_media", violation, token=None)
        if videos:
            media: dict[str, Any] = {"id": self._upload_video(account, videos[0])}
            if request.title:
                media["title"] = request.title
            return {"media": media}
        images = [self._upload_image(account, url) for url in urls]
        if len(images) == 1:
            return {"media": {"id": images[0]}}
        return {"multiImage": {"images": [{"id": image} for image in images]}}

    def _upload_image(self, account: AccountCredentials, url: str) -> str:
        with self.media.open(self.platform, url) as media:
            value = self._action(
                account,
                "images",
                "initializeUpload",
                {"initializeUploadRequest": {"owner": account.account_id}},
            )
            upload_url, image = value.get("uploadUrl"), value.get("image")
            if not upload_url or not image:
                raise call_error(
                    ErrorKind.RETRYABLE,
                    "malformed_response",
                    "initializeUpload answered no upload URL",
                    token=None,
                )
            total, reader = sized(media)
            self._put(account, str(upload_url), reader.read(total), media.content_type)
        return str(image)

    def _upload_video(self, account: AccountCredentials, url: str) -> str:
        with self.media.open(self.platform, url) as media:
            total, reader = sized(media)
            request = {
                "owner": account.account_id,
                "fileSizeBytes": total,
                "uploadCaptions": False,
                "uploadThumbnail": False,
            }
            value = self._action(account, "videos", "initializeUpload", {"initializeUploadRequest": request})
            video, instructions = value.get("video"), value.get("uploadInstructions")
            if not video or not isinstance(instructions, list) or not instructions:
                raise call_error(
                    ErrorKind.RETRYABLE,
                    "malformed_response",
                    "initializeUpload answered no video",
                    token=None,
                )
            etags = []
            for part in instructions:
                size = int(part["lastByte"]) - int(part["firstByte"]) + 1
                response = self._put(
                    account, str(part["uploadUrl"]), reader.read(size), "application/octet-stream"
                )
                etags.append(response.headers.get("ETag", ""))
        finalize = {"video": video, "uploadToken": value.get("uploadToken", ""), "uploadedPartIds": etags}
        self._action(account, "videos", "finalizeUpload", {"finalizeUploadRequest": finalize})
        self._wait_available(account, str(video))
        return str(video)

    def _wait_available(self, account: AccountCredentials, video: str) -> None:
        deadline = self.clock.now() + timedelta(seconds=self.max_wait)
        interval = self.poll_interval
        while True:
            status = str(self._get(account, f"/rest/videos/{quote(video, safe='')}").get("status") or "")
            if status == "AVAILABLE":
                return
            if status == "PROCESSING_FAILED":
                raise call_error(
                    ErrorKind.PERMANENT,
                    "video_processing_failed",
                    "LinkedIn could not process the video",
                    token=None,
                )
            now = self.clock.now()
            if now >= deadline:
                raise call_error(
                    ErrorKind.RETRYABLE,
                    "video_not_ready",
                    f"LinkedIn was still processing the video after {self.max_wait:g} s ({status})",
                    token=None,
                )
            self.clock.sleep_until(min(deadline, now + timedelta(seconds=interval)))
            interval = min(interval * 1.5, 10.0)

    def _action(
        self, account: AccountCredentials, resource: str, action: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        token = account.access_token
        response = send(
            self.http,
            "POST",
            f"{self.base}/rest/{resource}?action={action}",
            token=token,
            mutating=False,
            json=body,
            headers=self._headers(token),
        )
        if response.status_code not in (200, 201, 204):
            raise self._error(response, token)
        value = json_body(response).get("value")
        return value if isinstance(value, dict) else {}

    def _get(self, account: AccountCredentials, path: str) -> dict[str, Any]:
        token = account.access_token
        response = send(
            self.http, "GET", f"{self.base}{path}", token=token, mutating=False, headers=self._headers(token)
        )
        if response.status_code != 200:
            raise self._error(response, token)
        return json_body(response)

    def _put(self, account: AccountCredentials, url: str, data: bytes, content_type: str) -> httpx.Response:
        token = account.access_token
        headers = {"Content-Type": content_type}
        if _linkedin_host(url, self.base):  # upload URLs are LinkedIn's own; the token goes nowhere else
            headers.update(bearer(token))
        response = send(self.http, "PUT", url, token=token, mutating=False, content=data, headers=headers)
        if response.status_code not in (200, 201):
            raise self._error(response, token)
        return response

    # -- read-back -------------------------------------------------------------------------------

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

    # -- metrics ---------------------------------------------------------------------------------

    def read_metrics(
        self, account: AccountCredentials, platform_post_ids: Sequence[str]
    ) -> dict[str, MetricsRead]:
        return one_at_a_time(platform_post_ids, lambda urn: self._post_metrics(account, urn))

    def _post_metrics(self, account: AccountCredentials, urn: str) -> MetricsRead:
        token = account.access_token
        url = f"{self.base}/rest/socialActions/{quote(urn, safe='')}"
        response = send(self.http, "GET", url, token=token, mutating=False, headers=self._headers(token))
        if response.status_code == 404:
            return deleted(f"LinkedIn no longer has post {urn}")
        if response.status_code != 200:
            raise self._error(response, token)
        actions = json_body(response)
        likes = _summary(actions, "likesSummary", "totalLikes", "aggregatedTotalLikes")
        comments = _summary(actions, "commentsSummary", "aggregatedTotalComments", "totalFirstLevelComments")
        stats = self._share_statistics(account, urn) if account.account_id.startswith(_ORGANIZATION) else {}
        return PostMetrics(
            views=count(stats.get("impressionCount")),
            reach=count(stats.get("uniqueImpressionsCount")),
            likes=likes if likes is not None else count(stats.get("likeCount")),
            comments=comments if comments is not None else count(stats.get("commentCount")),
            shares=count(stats.get("shareCount")),
            clicks=count(stats.get("clickCount")),
        )

    def _share_statistics(self, account: AccountCredentials, urn: str) -> dict[str, Any]:
        """The organization post's lifetime totalShareStatistics ({} when LinkedIn has none for it)."""
        parameter = next((p for prefix, p in _STATISTICS_PARAMETER.items() if urn.startswith(prefix)), None)
        if parameter is None:
            return {}
        organization, post = quote(account.account_id, safe=""), quote(urn, safe="")
        path = (
            "/rest/organizationalEntityShareStatistics?q=organizationalEntity"
            f"&organizationalEntity={organization}&{parameter}=List({post})"
        )
        elements = self._get(account, path).get("elements")
        for element in elements if isinstance(elements, list) else []:
            statistics = element.get("totalShareStatistics") if isinstance(element, dict) else None
            if isinstance(statistics, dict) and urn in (element.get("share"), element.get("ugcPost")):
                return statistics
        return {}

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


def _linkedin_host(url: str, base: str) -> bool:
    host, base_parts = urlsplit(url), urlsplit(base)
    same_origin = (host.scheme, host.netloc) == (base_parts.scheme, base_parts.netloc)
    name = host.hostname or ""
    return same_origin or (
        host.scheme == "https" and (name == "linkedin.com" or name.endswith(".linkedin.com"))
    )


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


def _summary(actions: dict[str, Any], summary: str, *names: str) -> int | None:
    """The first of `names` the social actions' summary carries."""
    values = actions.get(summary)
    if not isinstance(values, dict):
        return None
    return next((c for c in (count(values.get(n)) for n in names) if c is not None), None)


def _ms(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
