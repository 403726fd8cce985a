"""TikTok through the Content Posting API (direct post, pulled from a URL), with a user access token.

Sources (developers.tiktok.com/doc): "Query Creator Info" (`POST /v2/post/publish/creator_info/query/`,
answering data.creator_username and data.privacy_level_options); "Direct Post"
(`POST /v2/post/publish/video/init/` with post_info {title, privacy_level, disable_duet,
disable_comment, disable_stitch} and source_info {source: PULL_FROM_URL, video_url}, answering
data.publish_id; 6 requests a minute per token); "Get Post Status"
(`POST /v2/post/publish/status/fetch/` with {publish_id}, answering data.status PROCESSING_DOWNLOAD,
PROCESSING_UPLOAD, PUBLISH_COMPLETE, SEND_TO_USER_INBOX or FAILED with data.fail_reason, and
data.publicaly_available_post_id once moderation has cleared a public post; 30 requests a minute);
"Error Handling" (every answer carries error {code, message, log_id}, code "ok" on success;
access_token_invalid and scope_not_authorized 401, invalid_params 400, rate_limit_exceeded 429,
internal_error 500); Display API "List Videos" (`POST /v2/video/list/?fields=...` with max_count
(at most 20) and cursor, answering data.videos, data.cursor, data.has_more) and the Video Object
(create_time in epoch seconds, video_description and title at most 150 characters).

Read-back: a TikTok publish is known by the publish_id its init call answers; when that answer was
lost there is no id to ask about, so find_published reads the creator's videos with video.list and
matches the caption and the creation time. video.list lists public videos only: a SELF_ONLY post, or
a public one still in moderation, is not listed, and then find_published answers None.

Metrics (read_metrics), up to 20 videos a call: Display API "Query Videos" (`POST
/v2/video/query/?fields=id,view_count,like_count,comment_count,share_count` with {"filters":
{"video_ids": [...]}}, at most 20 ids, scope video.list), answering data.videos[] for the ids that
are the user's videos: view_count -> views, like_count -> likes, comment_count -> comments,
share_count -> shares. A video id the answer leaves out is a deleted video. A post Tidings knows only
by its publish id (a private post, or one still in moderation) has no video to ask about: it is
MetricsUnavailable("post_not_found") without a call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.http import (
    READBACK_SKEW,
    bearer,
    call_error,
    json_body,
    parse_retry_after,
    send,
    status_kind,
)
from tidings.core.platforms import Platform, is_video
from tidings.models.accounts import AccountCredentials
from tidings.models.post_analytics import PostMetrics
from tidings.publishing.base import Published, PublishRequest, text_with_link
from tidings.publishing.clients.metric_reads import count, deleted, not_found, read_in_batches
from tidings.publishing.metrics import MetricsRead

# Most public first: a post goes out as publicly as the creator's account allows.
PRIVACY_PREFERENCE = ("PUBLIC_TO_EVERYONE", "FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY")
_AUTH_CODES = frozenset({"access_token_invalid", "scope_not_authorized", "scope_permission_missed"})
_RATE_CODES = frozenset({"rate_limit_exceeded", "spam_risk_too_many_posts", "reached_active_user_cap"})
_RETRYABLE_FAILURES = frozenset({"internal", "video_pull_failed", "photo_pull_failed"})
_LISTED_CAPTION_MAX = 150
_READBACK_PAGES = 5
_MAX_POLL_INTERVAL = 10.0
VIDEO_QUERY_MAX = 20
_QUERY_PATH = "/v2/video/query/?fields=id,view_count,like_count,comment_count,share_count"


class TikTokClient:
    platform: Platform = Platform.TIKTOK
    max_ids: int = VIDEO_QUERY_MAX

    def __init__(
        self,
        settings: Settings,
        http: httpx.Client,
        clock: Clock = DEFAULT_CLOCK,
        *,
        poll_interval: float = 0.25,
        max_wait: float = 120.0,
    ) -> None:
        self.base = settings.tiktok_api_base.rstrip("/")
        self.http = http
        self.clock = clock
        self.poll_interval = poll_interval
        self.max_wait = max_wait

    def __repr__(self) -> str:
        return f"TikTokClient(base={self.base!r})"

    def publish(self, account: AccountCredentials, request: PublishRequest) -> Published:
        videos = [url for url in request.media_urls if is_video(url)]
        if len(videos) != 1:
            raise call_error(
                ErrorKind.PERMANENT,
                "media_required",
                "a TikTok post needs exactly one video (.mp4, .mov, .m4v or .webm)",
                token=None,
            )
        creator = self._call(account, "/v2/post/publish/creator_info/query/", {}, mutating=False)
        options = creator.get("privacy_level_options")
        privacy = _privacy(options if isinstance(options, list) else [])
        if privacy is None:
            raise call_error(
                ErrorKind.PERMANENT,
                "privacy_level_unavailable",
                f"the creator account offers no known privacy level ({options!r})",
                token=account.access_token,
            )
        init = {
            "post_info": {
                "title": text_with_link(request),
                "privacy_level": privacy,
                "disable_duet": False,
                "disable_comment": False,
                "disable_stitch": False,
            },
            "source_info": {"source": "PULL_FROM_URL", "video_url": videos[0]},
        }
        data = self._call(account, "/v2/post/publish/video/init/", init, mutating=True)
        publish_id = data.get("publish_id")
        if not publish_id:
            raise call_error(
                ErrorKind.UNKNOWN_OUTCOME,
                "malformed_response",
                "video/init answered without a publish_id",
                token=account.access_token,
            )
        return self._wait_for_post(account, str(publish_id), str(creator.get("creator_username") or ""))

    def _wait_for_post(self, account: AccountCredentials, publish_id: str, username: str) -> Published:
        """Poll the publish until TikTok says it is complete or failed. The post is already on its
        way, so anything short of a definite answer is an unknown outcome, never a plain retry."""
        deadline = self.clock.now() + timedelta(seconds=self.max_wait)
        interval = self.poll_interval
        while True:
            try:
                status = self._call(
                    account, "/v2/post/publish/status/fetch/", {"publish_id": publish_id}, mutating=False
                )
            except PlatformCallError as exc:
                raise call_error(
                    ErrorKind.UNKNOWN_OUTCOME,
                    exc.code,
                    f"publish {publish_id} started but its status could not be read: {exc.message}",
                    token=account.access_token,
                    status=exc.status,
                ) from None
            state = str(status.get("status") or "")
            if state == "PUBLISH_COMPLETE":
                return self._completed(publish_id, status, username)
            if state == "FAILED":
                raise _failure(str(status.get("fail_reason") or "unknown"), account.access_token)
            now = self.clock.now()
            if now >= deadline:
                raise call_error(
                    ErrorKind.UNKNOWN_OUTCOME,
                    "publish_pending",
                    f"publish {publish_id} was still {state or 'pending'} after {self.max_wait:g} s",
                    token=account.access_token,
                )
            self.clock.sleep_until(min(deadline, now + timedelta(seconds=interval)))
            interval = min(interval * 1.5, _MAX_POLL_INTERVAL)

    def _completed(self, publish_id: str, status: dict[str, Any], username: str) -> Published:
        post_ids = status.get("publicaly_available_post_id")  # sic: TikTok's field name
        if isinstance(post_ids, list) and post_ids:
            post_id = str(post_ids[0])
            url = f"https://www.tiktok.com/@{quote(username)}/video/{post_id}" if username else None
            return Published(post_id, url, self.clock.now())
        # A private post, or a public one still in moderation: the publish id is all there is.
        return Published(publish_id, None, self.clock.now())

    def _call(
        self, account: AccountCredentials, path: str, body: dict[str, Any], *, mutating: bool
    ) -> dict[str, Any]:
        token = account.access_token
        response = send(
            self.http,
            "POST",
            f"{self.base}{path}",
            token=token,
            mutating=mutating,
            json=body,
            headers={**bearer(token), "Content-Type": "application/json; charset=UTF-8"},
        )
        answer = json_body(response)
        error = answer.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        if response.status_code != 200 or (code not in (None, "ok")):
            raise tiktok_error(response, token=token, now=self.clock.now())
        data = answer.get("data")
        return data if isinstance(data, dict) else {}

    def find_published(
        self, account: AccountCredentials, request: PublishRequest, since: datetime
    ) -> Published | None:
        """The creator's listed video whose caption is this request's, created at or after `since`
        less the clock-skew allowance (see the module doc for what video.list cannot see)."""
        caption = text_with_link(request)
        threshold = int((since - READBACK_SKEW).timestamp())
        token = account.access_token
        body: dict[str, Any] = {"max_count": 20}
        url = f"{self.base}/v2/video/list/?fields=id,title,video_description,create_time,share_url"
        for _ in range(_READBACK_PAGES):
            response = send(
                self.http, "POST", url, token=token, mutating=False, json=body, headers=bearer(token)
            )
            answer = json_body(response)
            error = answer.get("error")
            if response.status_code != 200 or (
                isinstance(error, dict) and error.get("code") not in (None, "ok")
            ):
                raise tiktok_error(response, token=token, now=self.clock.now())
            data = answer.get("data")
            data = data if isinstance(data, dict) else {}
            for video in data.get("videos") or []:
                if not isinstance(video, dict) or not video.get("id"):
                    continue
                created = video.get("create_time")
                if isinstance(created, int) and created < threshold:
                    return None
                if _caption_matches(caption, video):
                    when = datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None
                    share = video.get("share_url")
                    return Published(str(video["id"]), str(share) if share else None, when)
            if not data.get("has_more") or data.get("cursor") is None:
                return None
            body["cursor"] = data["cursor"]
        return None

    # -- metrics ---------------------------------------------------------------------------------

    def read_metrics(
        self, account: AccountCredentials, platform_post_ids: Sequence[str]
    ) -> dict[str, MetricsRead]:
        return read_in_batches(
            platform_post_ids,
            self.max_ids,
            lambda ids: self._query_videos(account, ids),
            unaskable=lambda i: None if i.isdigit() else not_found(_NO_VIDEO_ID),
            left_out=lambda i: deleted(f"TikTok no longer has video {i}"),
        )

    def _query_videos(self, account: AccountCredentials, ids: list[str]) -> dict[str, MetricsRead]:
        data = self._call(account, _QUERY_PATH, {"filters": {"video_ids": ids}}, mutating=False)
        videos = data.get("videos")
        return {
            str(video["id"]): PostMetrics(
                views=count(video.get("view_count")),
                likes=count(video.get("like_count")),
                comments=count(video.get("comment_count")),
                shares=count(video.get("share_count")),
            )
            for video in (videos if isinstance(videos, list) else [])
            if isinstance(video, dict) and str(video.get("id")) in ids
        }


_NO_VIDEO_ID = "TikTok gave this post no public video id (a private post, or one still in moderation)"


def _caption_matches(caption: str, video: dict[str, Any]) -> bool:
    listed = [v for v in (video.get("video_description"), video.get("title")) if isinstance(v, str)]
    if caption in listed:
        return True
    # The listing truncates captions to 150 characters: a long caption matches on that prefix.
    return len(caption) > _LISTED_CAPTION_MAX and caption[:_LISTED_CAPTION_MAX] in listed


def _privacy(options: list[Any]) -> str | None:
    for level in PRIVACY_PREFERENCE:
        if level in options:
            return level
    return None


def _failure(reason: str, token: str) -> PlatformCallError:
    if reason in _RETRYABLE_FAILURES:
        kind = ErrorKind.RETRYABLE
    elif reason == "auth_removed":
        kind = ErrorKind.AUTH_EXPIRED
    elif reason == "spam_risk_too_many_posts":
        kind = ErrorKind.RATE_LIMITED
    else:
        kind = ErrorKind.PERMANENT
    return call_error(kind, reason, f"TikTok could not publish the video: {reason}", token=token)


def tiktok_error(response: httpx.Response, *, token: str, now: datetime) -> PlatformCallError:
    status = response.status_code
    error = json_body(response).get("error")
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code") or f"http_{status}")
    message = str(error.get("message") or f"TikTok answered HTTP {status} ({code})")
    retry_after = None
    if code in _AUTH_CODES or status == 401:
        kind = ErrorKind.AUTH_EXPIRED
    elif code in _RATE_CODES or status == 429:
        kind = ErrorKind.RATE_LIMITED
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
    elif code == "internal_error":
        kind = ErrorKind.UNKNOWN_OUTCOME if status == 504 else ErrorKind.RETRYABLE
    else:
        kind = status_kind(status) if status >= 400 else ErrorKind.PERMANENT
    return call_error(kind, code, message, token=token, status=status, retry_after=retry_after)
