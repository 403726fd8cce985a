"""Facebook Pages through the Graph API, with a Page access token.

Sources (developers.facebook.com): Pages API "Getting started" and Graph API reference page/feed
(`POST /{page-id}/feed` with `message` and `link`, answering {"id": "{page-id}_{post-id}"}; reading
`GET /{page-id}/feed` with `fields`, `since` (unix time), `limit` and cursor paging), page/photos
(`POST /{page-id}/photos` with `url` and `caption`, answering {"id", "post_id"}; `published=false`
uploads a photo to attach to a feed post with `attached_media[n]={"media_fbid": id}`) and
page/videos (`POST /{page-id}/videos` with `file_url` and `description`). The token travels in the
Authorization header (OAuth 2.0 bearer, RFC 6750) so it never appears in a URL or a log line.

Metrics (read_metrics), one post a call, as the Graph API reads one node a call:
- the post node's engagement fields (Graph API reference "Post": `shares` {count}, left out while the
  post has none; the `reactions` and `comments` edges with `.summary(total_count)`, and `.limit(0)` so
  no reactor or comment is sent, per "Field Expansion"): reactions -> likes, comments, shares;
- the post's insights (reference "Page Insights", developers.facebook.com/docs/graph-api/reference/
  insights, `GET /{post-id}/insights?metric=`): the impressions metrics were retired in 2025 for the
  media-view ones, so views are `post_media_view` (times the post's media was viewed), reach is
  `post_total_media_view_unique` (people who viewed it) and clicks `post_clicks`. Meta announces
  further retirements on that page (one for June 2026), so a metric it refuses (code 100, "must be a
  valid insights metric") is dropped for the next set, and a token without the insights permission
  (code 10 or 200) leaves views, reach and clicks unreported (None);
- a video (the id Tidings keeps for a video post has no `{page}_` prefix) has no `shares` field and no
  post insights: views and reach come from "Video Insights" (`GET /{video-id}/video_insights`,
  `total_video_views` and `total_video_views_unique`; Video API guide "Insights").
A deleted post answers code 100 / subcode 33 and becomes MetricsUnavailable("post_deleted").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind
from tidings.core.http import READBACK_SKEW, bearer, call_error, json_body, send
from tidings.core.platforms import Platform, is_video, media_violation
from tidings.models.accounts import AccountCredentials
from tidings.models.post_analytics import PostMetrics
from tidings.publishing.base import Published, PublishRequest, text_with_link
from tidings.publishing.clients.graph import (
    INVALID_PARAMETER,
    PERMISSION_CODES,
    graph_codes,
    graph_error,
    insight_values,
    missing_object,
    parse_graph_time,
)
from tidings.publishing.clients.metric_reads import count, deleted, one_at_a_time
from tidings.publishing.metrics import MetricsRead

_READBACK_PAGES = 5
_READBACK_PAGE_SIZE = 100
_ENGAGEMENT_FIELDS = "reactions.limit(0).summary(total_count),comments.limit(0).summary(total_count)"
# insights metric -> PostMetrics field; each tuple is tried in turn while Meta refuses a metric in it
POST_INSIGHTS = {
    "post_media_view": "views",
    "post_total_media_view_unique": "reach",
    "post_clicks": "clicks",
}
_POST_INSIGHT_SETS = (tuple(POST_INSIGHTS), ("post_media_view", "post_total_media_view_unique"))
VIDEO_INSIGHTS = {"total_video_views": "views", "total_video_views_unique": "reach"}


class FacebookClient:
    platform: Platform = Platform.FACEBOOK
    max_ids: int = 1

    def __init__(self, settings: Settings, http: httpx.Client, clock: Clock = DEFAULT_CLOCK) -> None:
        self.base = settings.facebook_api_base.rstrip("/")
        self.http = http
        self.clock = clock

    def __repr__(self) -> str:
        return f"FacebookClient(base={self.base!r})"

    # -- publish ---------------------------------------------------------------------------------

    def publish(self, account: AccountCredentials, request: PublishRequest) -> Published:
        videos = [url for url in request.media_urls if is_video(url)]
        photos = [url for url in request.media_urls if not is_video(url)]
        violation = media_violation(Platform.FACEBOOK, request.media_urls)
        if violation is not None:
            raise call_error(ErrorKind.PERMANENT, "unsupported_media", violation, token=None)
        if videos:
            return self._publish_video(account, request, videos[0])
        if len(photos) == 1:
            return self._publish_photo(account, request, photos[0])
        if photos:
            return self._publish_album(account, request, photos)
        data = {"message": request.text}
        if request.link:
            data["link"] = request.link
        body = self._post(account, "feed", data, mutating=True)
        post_id = _required_id(body, "id", account)
        return Published(post_id, post_url(post_id), self.clock.now())

    def _publish_video(self, account: AccountCredentials, request: PublishRequest, url: str) -> Published:
        data = {"file_url": url, "description": message_for(request)}
        if request.title:
            data["title"] = request.title
        body = self._post(account, "videos", data, mutating=True)
        video_id = _required_id(body, "id", account)
        page = quote(account.account_id, safe="")
        return Published(video_id, f"https://www.facebook.com/{page}/videos/{video_id}", self.clock.now())

    def _publish_photo(self, account: AccountCredentials, request: PublishRequest, url: str) -> Published:
        body = self._post(account, "photos", {"url": url, "caption": message_for(request)}, mutating=True)
        post_id = str(body.get("post_id") or _required_id(body, "id", account))
        return Published(post_id, post_url(post_id), self.clock.now())

    def _publish_album(
        self, account: AccountCredentials, request: PublishRequest, urls: list[str]
    ) -> Published:
        # Unpublished photo uploads create no post, so their failures are safe to retry.
        media_ids = [
            _required_id(
                self._post(account, "photos", {"url": url, "published": "false"}, mutating=False),
                "id",
                account,
            )
            for url in urls
        ]
        data = {"message": message_for(request)}
        for index, media_id in enumerate(media_ids):
            data[f"attached_media[{index}]"] = json.dumps({"media_fbid": media_id})
        body = self._post(account, "feed", data, mutating=True)
        post_id = _required_id(body, "id", account)
        return Published(post_id, post_url(post_id), self.clock.now())

    def _post(
        self, account: AccountCredentials, edge: str, data: dict[str, str], *, mutating: bool
    ) -> dict[str, Any]:
        url = f"{self.base}/{quote(account.account_id, safe='')}/{edge}"
        token = account.access_token
        response = send(
            self.http, "POST", url, token=token, mutating=mutating, data=data, headers=bearer(token)
        )
        if response.status_code != 200:
            raise graph_error(response, token=token, now=self.clock.now())
        return json_body(response)

    # -- read-back -------------------------------------------------------------------------------

    def find_published(
        self, account: AccountCredentials, request: PublishRequest, since: datetime
    ) -> Published | None:
        """The Page's post whose message is exactly what this request sent, created at or after
        `since` (less the clock-skew allowance). The feed lists the newest first."""
        expected = message_for(request)
        threshold = since - READBACK_SKEW
        token = account.access_token
        params: dict[str, str | int] = {
            "fields": "id,message,created_time,permalink_url",
            "since": int(threshold.timestamp()),
            "limit": _READBACK_PAGE_SIZE,
        }
        url = f"{self.base}/{quote(account.account_id, safe='')}/feed"
        for _ in range(_READBACK_PAGES):
            response = send(
                self.http, "GET", url, token=token, mutating=False, params=params, headers=bearer(token)
            )
            if response.status_code != 200:
                raise graph_error(response, token=token, now=self.clock.now())
            body = json_body(response)
            items = body.get("data")
            for item in items if isinstance(items, list) else []:
                created = parse_graph_time(item.get("created_time"))
                if created is not None and created < threshold:
                    return None
                if item.get("message") == expected and item.get("id"):
                    post_id = str(item["id"])
                    return Published(post_id, str(item.get("permalink_url") or post_url(post_id)), created)
            after = _next_cursor(body)
            if after is None:
                return None
            params["after"] = after
        return None

    # -- metrics ---------------------------------------------------------------------------------

    def read_metrics(
        self, account: AccountCredentials, platform_post_ids: Sequence[str]
    ) -> dict[str, MetricsRead]:
        return one_at_a_time(platform_post_ids, lambda post_id: self._post_metrics(account, post_id))

    def _post_metrics(self, account: AccountCredentials, post_id: str) -> MetricsRead:
        video = "_" not in post_id
        fields = _ENGAGEMENT_FIELDS if video else f"{_ENGAGEMENT_FIELDS},shares"
        response = self._read(account, post_id, {"fields": fields})
        if response.status_code != 200:
            if missing_object(response):
                return deleted(f"Facebook no longer has post {post_id}")
            raise graph_error(response, token=account.access_token, now=self.clock.now())
        node = json_body(response)
        shares = node.get("shares")
        values: dict[str, int | None] = {
            "likes": _summary_total(node, "reactions"),
            "comments": _summary_total(node, "comments"),
            # Graph leaves `shares` out while a post has none
            "shares": None if video else (count(shares.get("count")) if isinstance(shares, dict) else 0),
        }
        if video:
            values.update(self._insights(account, post_id, "video_insights", (tuple(VIDEO_INSIGHTS),)))
        else:
            values.update(self._insights(account, post_id, "insights", _POST_INSIGHT_SETS))
        return PostMetrics(**values)

    def _insights(
        self, account: AccountCredentials, node: str, edge: str, metric_sets: tuple[tuple[str, ...], ...]
    ) -> dict[str, int | None]:
        """Views, reach and clicks from the node's insights edge; None where Meta does not report them."""
        names = {**POST_INSIGHTS, **VIDEO_INSIGHTS}
        for metrics in metric_sets:
            response = self._read(account, f"{node}/{edge}", {"metric": ",".join(metrics)})
            if response.status_code == 200:
                found = insight_values(json_body(response))
                return {names[m]: found.get(m) for m in metrics}
            code, _ = graph_codes(response)
            if code in PERMISSION_CODES or missing_object(response):
                return {}  # not allowed to see insights; or the post went since its node was read
            if code != INVALID_PARAMETER:
                raise graph_error(response, token=account.access_token, now=self.clock.now())
        return {}

    def _read(self, account: AccountCredentials, path: str, params: dict[str, str]) -> httpx.Response:
        token = account.access_token
        url = f"{self.base}/{quote(path, safe='/_')}"
        return send(self.http, "GET", url, token=token, mutating=False, params=params, headers=bearer(token))


def _summary_total(node: dict[str, Any], edge: str) -> int | None:
    value = node.get(edge)
    summary = value.get("summary") if isinstance(value, dict) else None
    return count(summary.get("total_count")) if isinstance(summary, dict) else None


def message_for(request: PublishRequest) -> str:
    """The message the Page shows: the text, plus the link when the call has no link field."""
    if request.media_urls:
        return text_with_link(request)
    return request.text


def post_url(post_id: str) -> str:
    return f"https://www.facebook.com/{quote(post_id, safe='_')}"


def _required_id(body: dict[str, Any], key: str, account: AccountCredentials) -> str:
    value = body.get(key)
    if not value:
        # A success status without the id: the post may exist, so the outcome is unknown.
        raise call_error(
            ErrorKind.UNKNOWN_OUTCOME,
            "malformed_response",
            f"Graph API answered without {key!r}",
            token=account.access_token,
        )
    return str(value)


def _next_cursor(body: dict[str, Any]) -> str | None:
    paging = body.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return str(after) if after else None
