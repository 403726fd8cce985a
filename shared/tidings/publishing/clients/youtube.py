"""YouTube through the YouTube Data API v3: a resumable videos.insert upload, with an OAuth 2.0 token.

Sources (developers.google.com/youtube/v3): "Resumable Uploads" (step 1: `POST
/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status` with the video resource as JSON
and `X-Upload-Content-Length` / `X-Upload-Content-Type`, answering 200 with the session URL in
`Location`; step 2: `PUT` the bytes to that URL with `Content-Length` and `Content-Type`, answering
201 (or 200) with the video resource; 308 means the upload is incomplete); "Videos: insert"
(`snippet.title` at most 100 characters without `<` or `>`, `snippet.description`,
`status.privacyStatus`); "Search: list" (`forMine=true&type=video&part=snippet`, titles come back
HTML-escaped); "Videos: list" (`id=` a comma-separated list, full snippet); "Errors" (body
{"error": {"code", "message", "errors": [{"domain", "reason"}]}}; `quotaExceeded` (403, the daily
quota resets at midnight Pacific time), `rateLimitExceeded`, `userRateLimitExceeded`,
`uploadLimitExceeded` (retry in 24 hours), 401 `authError`).

Metrics (read_metrics), up to 50 videos a call: "Videos: list" (`GET /youtube/v3/videos?part=statistics
&id=<comma-separated ids>`, 1 quota unit a call; the `id` filter takes up to 50 ids) answering
items[].statistics {viewCount -> views, likeCount -> likes, commentCount -> comments} as digit
strings; likeCount is left out when the owner hides it and commentCount when comments are off, so
those stay unreported. A video the answer does not list was deleted (or made unreachable).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
from tidings.core.platforms import Platform, is_video
from tidings.models.accounts import AccountCredentials
from tidings.models.post_analytics import PostMetrics
from tidings.publishing.base import Published, PublishRequest, text_with_link
from tidings.publishing.clients.metric_reads import count, deleted, read_in_batches
from tidings.publishing.metrics import MetricsRead

TITLE_MAX = 100
_QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_READBACK_PAGES = 2
VIDEOS_LIST_MAX = 50


_STAGED_PART = 1024 * 1024  # the size of each piece of a staged video sent in the upload


class YouTubeClient:
    platform: Platform = Platform.YOUTUBE
    max_ids: int = VIDEOS_LIST_MAX

    def __init__(
        self,
        settings: Settings,
        http: httpx.Client,
        clock: Clock = DEFAULT_CLOCK,
        *,
        privacy_status: str = "public",
        media_http: httpx.Client | None = None,
    ) -> None:
        self.base = settings.youtube_api_base.rstrip("/")
        self.http = http
        self.media = MediaSource(settings, media_http)
        self.clock = clock
        self.privacy_status = privacy_status

    def __repr__(self) -> str:
        return f"YouTubeClient(base={self.base!r})"

    def publish(self, account: AccountCredentials, request: PublishRequest) -> Published:
        videos = [url for url in request.media_urls if is_video(url)]
        if len(videos) != 1:
            raise call_error(
                ErrorKind.PERMANENT,
                "media_required",
                "a YouTube upload needs exactly one video (.mp4, .mov, .m4v or .webm)",
                token=None,
            )
        token = account.access_token
        with self.media.open(self.platform, videos[0]) as media:
            if media.content_type.startswith(("image/", "text/", "audio/")):
                raise call_error(
                    ErrorKind.PERMANENT,
                    "media_not_video",
                    f"{videos[0]} is {media.content_type}, not a video",
                    token=None,
                )
            content: Any = media.chunks
            length = media.length
            if length is None:  # the upload must declare its size: stage the file first
                length, reader = sized(media)
                content = reader.parts(_STAGED_PART)
            session = self._start_session(account, request, media.content_type, length)
            headers = {"Content-Type": media.content_type, "Content-Length": str(length)}
            if _same_origin(session, self.base):
                headers.update(bearer(token))
            response = send(
                self.http, "PUT", session, token=token, mutating=True, content=content, headers=headers
            )
        if response.status_code == 308:
            raise call_error(
                ErrorKind.RETRYABLE,
                "upload_incomplete",
                "YouTube did not receive the whole video",
                token=token,
            )
        if response.status_code not in (200, 201):
            raise youtube_error(response, token=token, now=self.clock.now())
        video = json_body(response)
        video_id = video.get("id")
        if not video_id:
            raise call_error(
                ErrorKind.UNKNOWN_OUTCOME,
                "malformed_response",
                "YouTube answered without the video id",
                token=token,
            )
        snippet = video.get("snippet")
        published = _parse_time(snippet.get("publishedAt")) if isinstance(snippet, dict) else None
        return Published(str(video_id), video_url(str(video_id)), published or self.clock.now())

    def _start_session(
        self, account: AccountCredentials, request: PublishRequest, content_type: str, length: int
    ) -> str:
        # Opening a session creates no video, so its failures are retryable.
        token = account.access_token
        resource = {
            "snippet": {"title": title_for(request), "description": text_with_link(request)},
            "status": {"privacyStatus": self.privacy_status},
        }
        response = send(
            self.http,
            "POST",
            f"{self.base}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
            token=token,
            mutating=False,
            json=resource,
            headers={
                **bearer(token),
                "X-Upload-Content-Type": content_type,
                "X-Upload-Content-Length": str(length),
            },
        )
        if response.status_code != 200:
            raise youtube_error(response, token=token, now=self.clock.now())
        location: str | None = response.headers.get("Location")
        if not location:
            raise call_error(
                ErrorKind.RETRYABLE, "malformed_response", "YouTube opened no upload session", token=token
            )
        return location

    def find_published(
        self, account: AccountCredentials, request: PublishRequest, since: datetime
    ) -> Published | None:
        """The channel's video with exactly this title and description, published at or after `since`
        less the clock-skew allowance: candidates by title from search, confirmed with videos.list."""
        title, description = title_for(request), text_with_link(request)
        threshold = since - READBACK_SKEW
        candidates: list[str] = []
        params: dict[str, str | int] = {
            "part": "snippet",
            "forMine": "true",
            "type": "video",
            "order": "date",
            "maxResults": 50,
        }
        for _ in range(_READBACK_PAGES):
            body = self._get(account, "search", params)
            items = body.get("items")
            older = False
            for item in items if isinstance(items, list) else []:
                snippet = item.get("snippet") if isinstance(item, dict) else None
                ident = item.get("id") if isinstance(item, dict) else None
                if not isinstance(snippet, dict) or not isinstance(ident, dict) or not ident.get("videoId"):
                    continue
                published = _parse_time(snippet.get("publishedAt"))
                if published is not None and published < threshold:
                    older = True
                    continue
                if html.unescape(str(snippet.get("title", ""))) == title:
                    candidates.append(str(ident["videoId"]))
            token = body.get("nextPageToken")
            if older or not token:
                break
            params["pageToken"] = str(token)
        if not candidates:
            return None
        body = self._get(account, "videos", {"part": "snippet", "id": ",".join(candidates)})
        for video in body.get("items") or []:
            snippet = video.get("snippet") if isinstance(video, dict) else None
            if not isinstance(snippet, dict):
                continue
            published = _parse_time(snippet.get("publishedAt"))
            matches = snippet.get("title") == title and snippet.get("description") == description
            if matches and video.get("id") and (published is None or published >= threshold):
                return Published(str(video["id"]), video_url(str(video["id"])), published)
        return None

    def read_metrics(
        self, account: AccountCredentials, platform_post_ids: Sequence[str]
    ) -> dict[str, MetricsRead]:
        return read_in_batches(
            platform_post_ids,
            self.max_ids,
            lambda ids: self._statistics(account, ids),
            left_out=lambda v: deleted(f"YouTube no longer lists video {v}"),
        )

    def _statistics(self, account: AccountCredentials, ids: list[str]) -> dict[str, MetricsRead]:
        items = self._get(account, "videos", {"part": "statistics", "id": ",".join(ids)}).get("items")
        out: dict[str, MetricsRead] = {}
        for item in items if isinstance(items, list) else []:
            statistics = item.get("statistics") if isinstance(item, dict) else None
            if isinstance(statistics, dict) and item.get("id") in ids:
                out[str(item["id"])] = PostMetrics(
                    views=count(statistics.get("viewCount")),
                    likes=count(statistics.get("likeCount")),
                    comments=count(statistics.get("commentCount")),
                )
        return out

    def _get(
        self, account: AccountCredentials, resource: str, params: dict[str, str | int]
    ) -> dict[str, Any]:
        token = account.access_token
        response = send(
            self.http,
            "GET",
            f"{self.base}/youtube/v3/{resource}",
            token=token,
            mutating=False,
            params=params,
            headers=bearer(token),
        )
        if response.status_code != 200:
            raise youtube_error(response, token=token, now=self.clock.now())
        return json_body(response)


def title_for(request: PublishRequest) -> str:
    """The video title: the request's title, else the text's first line; at most 100 characters,
    without the `<` and `>` YouTube rejects."""
    source = request.title or (request.text.strip().splitlines() or [""])[0]
    title = source.replace("<", "").replace(">", "").strip()
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1].rstrip() + "…"


def video_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={quote(video_id, safe='')}"


def youtube_error(response: httpx.Response, *, token: str, now: datetime) -> PlatformCallError:
    status = response.status_code
    error = json_body(response).get("error")
    error = error if isinstance(error, dict) else {}
    details = error.get("errors")
    first = details[0] if isinstance(details, list) and details and isinstance(details[0], dict) else {}
    reason = str(first.get("reason") or error.get("status") or f"http_{status}")
    message = str(error.get("message") or first.get("message") or f"YouTube answered HTTP {status}")
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
    if reason in _QUOTA_REASONS:
        kind = ErrorKind.RATE_LIMITED
        retry_after = retry_after if retry_after is not None else _until_pacific_midnight(now)
    elif reason in _RATE_REASONS:
        kind = ErrorKind.RATE_LIMITED
    elif reason == "uploadLimitExceeded":
        kind = ErrorKind.RATE_LIMITED
        retry_after = retry_after if retry_after is not None else 24 * 3600.0
    elif status == 401 or reason == "authError":
        kind = ErrorKind.AUTH_EXPIRED
    else:
        kind = status_kind(status)
    if kind is not ErrorKind.RATE_LIMITED:
        retry_after = None
    return call_error(kind, reason, message, token=token, status=status, retry_after=retry_after)


def _until_pacific_midnight(now: datetime) -> float | None:
    try:
        pacific = ZoneInfo("America/Los_Angeles")
    except ZoneInfoNotFoundError:
        return None
    local = now.astimezone(pacific)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(0.0, (midnight.astimezone(UTC) - now.astimezone(UTC)).total_seconds())


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None
