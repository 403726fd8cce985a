"""Instagram (professional accounts) through the Instagram Graph API's content publishing flow.

Sources (developers.facebook.com/docs/instagram-platform): "Content Publishing" and IG User media
(`POST /{ig-user-id}/media` with `image_url`, or `video_url` and `media_type=REELS`, and `caption`;
carousel items with `is_carousel_item=true`, then `media_type=CAROUSEL` with `children`; answering
{"id": container id}), IG Container (`GET /{container-id}?fields=status_code`: EXPIRED, ERROR,
FINISHED, IN_PROGRESS, PUBLISHED; `status` carries the error subcode), IG User media_publish
(`POST /{ig-user-id}/media_publish` with `creation_id`, answering {"id": media id}; publishing
before FINISHED fails), IG User media (`GET /{ig-user-id}/media?fields=id,caption,timestamp,permalink`,
newest first, cursor paging) and IG Media (`permalink`). Errors and throttling as in graph.py.

Metrics (read_metrics), one media a call: "Instagram Media Insights"
(`GET /{ig-media-id}/insights?metric=views,reach,likes,comments,shares,saved,total_interactions`;
`impressions`, `plays` and `video_views` were retired in 2025 in favour of `views`); `saved` is
Tidings' saves, `total_interactions` is their sum and is not kept. Where Meta answers no insights for
the media (code 10 "Not enough viewers for the media to show insights", or code 100 for a metric the
media type lacks), likes and comments come from the media node's `like_count` and `comments_count`
("IG Media" reference). A deleted media answers code 100 / subcode 33: MetricsUnavailable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.http import READBACK_SKEW, bearer, call_error, json_body, send
from tidings.core.platforms import Platform, is_video
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
_READBACK_PAGE_SIZE = 50
_MAX_POLL_INTERVAL = 10.0
# IG media insights metric -> PostMetrics field (total_interactions is asked for, not kept)
MEDIA_INSIGHTS = {
    "views": "views",
    "reach": "reach",
    "likes": "likes",
    "comments": "comments",
    "shares": "shares",
    "saved": "saves",
}
_INSIGHT_METRICS = ",".join([*MEDIA_INSIGHTS, "total_interactions"])


class InstagramClient:
    platform: Platform = Platform.INSTAGRAM
    max_ids: int = 1

    def __init__(
        self,
        settings: Settings,
        http: httpx.Client,
        clock: Clock = DEFAULT_CLOCK,
        *,
        poll_interval: float = 0.25,
        max_wait: float = 120.0,
    ) -> None:
        self.base = settings.instagram_api_base.rstrip("/")
        self.http = http
        self.clock = clock
        self.poll_interval = poll_interval
        self.max_wait = max_wait

    def __repr__(self) -> str:
        return f"InstagramClient(base={self.base!r})"

    # -- publish ---------------------------------------------------------------------------------

    def publish(self, account: AccountCredentials, request: PublishRequest) -> Published:
        if not request.media_urls:
            raise call_error(
                ErrorKind.PERMANENT,
                "media_required",
                "an Instagram post needs an image or a video",
                token=None,
            )
        self._check_publishing_limit(account)
        caption = text_with_link(request)
        if len(request.media_urls) == 1:
            container = self._create_container(
                account, {**_media_fields(request.media_urls[0]), "caption": caption}
            )
        else:
            children = [
                self._create_container(
                    account, {**_media_fields(url, carousel=True), "is_carousel_item": "true"}
                )
                for url in request.media_urls
            ]
            for child, url in zip(children, request.media_urls, strict=True):
                if is_video(url):
                    self._wait_until_finished(account, child)
            container = self._create_container(
                account, {"media_type": "CAROUSEL", "children": ",".join(children), "caption": caption}
            )
        self._wait_until_finished(account, container)
        body = self._post(account, "media_publish", {"creation_id": container}, mutating=True)
        media_id = body.get("id")
        if not media_id:
            raise call_error(
                ErrorKind.UNKNOWN_OUTCOME,
                "malformed_response",
                "media_publish answered without an id",
                token=account.access_token,
            )
        published_at = self.clock.now()
        return Published(str(media_id), self._permalink(account, str(media_id)), published_at)

    def _check_publishing_limit(self, account: AccountCredentials) -> None:
        """Read the account's rolling 24 h publishing usage first, so a post over the limit waits
        instead of being refused (GET /{ig-user-id}/content_publishing_limit, IG Graph API reference;
        the documented quota has varied, so the answer's quota_total decides)."""
        body = self._get(
            account, f"{account.account_id}/content_publishing_limit", {"fields": "quota_usage,config"}
        )
        data = body.get("data")
        entry = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        used, config = entry.get("quota_usage"), entry.get("config") or {}
        total = config.get("quota_total") if isinstance(config, dict) else None
        if isinstance(used, int) and isinstance(total, int) and used >= total:
            raise call_error(
                ErrorKind.RATE_LIMITED,
                "publishing_limit_reached",
                f"the Instagram account published {used} of its {total} posts allowed in 24 hours",
                token=account.access_token,
                retry_after=3600.0,
            )

    def _create_container(self, account: AccountCredentials, data: dict[str, str]) -> str:
        # A container is not a post: creating one publishes nothing, so its failures are retryable.
        body = self._post(account, "media", data, mutating=False)
        container = body.get("id")
        if not container:
            raise call_error(
                ErrorKind.RETRYABLE,
                "malformed_response",
                "media answered without an id",
                token=account.access_token,
            )
        return str(container)

    def _wait_until_finished(self, account: AccountCredentials, container: str) -> None:
        """Poll the container until FINISHED, sleeping through the clock with a growing interval."""
        deadline = self.clock.now() + timedelta(seconds=self.max_wait)
        interval = self.poll_interval
        while True:
            body = self._get(account, container, {"fields": "status_code,status"})
            status_code = str(body.get("status_code") or "")
            if status_code == "FINISHED":
                return
            if status_code in ("ERROR", "EXPIRED"):
                detail = body.get("status") or status_code
                raise call_error(
                    ErrorKind.PERMANENT,
                    f"container_{status_code.lower()}",
                    f"Instagram could not prepare the media (container {status_code}: {detail})",
                    token=account.access_token,
                )
            if status_code == "PUBLISHED":
                raise call_error(
                    ErrorKind.UNKNOWN_OUTCOME,
                    "container_published",
                    "the media container was already published",
                    token=account.access_token,
                )
            now = self.clock.now()
            if now >= deadline:
                raise call_error(
                    ErrorKind.RETRYABLE,
                    "container_not_ready",
                    f"Instagram was still processing the media after {self.max_wait:g} s ({status_code})",
                    token=account.access_token,
                )
            self.clock.sleep_until(min(deadline, now + timedelta(seconds=interval)))
            interval = min(interval * 1.5, _MAX_POLL_INTERVAL)

    def _permalink(self, account: AccountCredentials, media_id: str) -> str | None:
        """The post's URL. The post is already published, so a failure here only loses the URL."""
        try:
            permalink = self._get(account, media_id, {"fields": "permalink"}).get("permalink")
        except PlatformCallError:
            return None
        return str(permalink) if permalink else None

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

    def _get(self, account: AccountCredentials, path: str, params: dict[str, str | int]) -> dict[str, Any]:
        response = self._read(account, path, params)
        if response.status_code != 200:
            raise graph_error(response, token=account.access_token, now=self.clock.now())
        return json_body(response)

    def _read(self, account: AccountCredentials, path: str, params: dict[str, str | int]) -> httpx.Response:
        token = account.access_token
        url = f"{self.base}/{path}"
        return send(self.http, "GET", url, token=token, mutating=False, params=params, headers=bearer(token))

    # -- metrics ---------------------------------------------------------------------------------

    def read_metrics(
        self, account: AccountCredentials, platform_post_ids: Sequence[str]
    ) -> dict[str, MetricsRead]:
        return one_at_a_time(platform_post_ids, lambda media_id: self._media_metrics(account, media_id))

    def _media_metrics(self, account: AccountCredentials, media_id: str) -> MetricsRead:
        path = quote(media_id, safe="")
        response = self._read(account, f"{path}/insights", {"metric": _INSIGHT_METRICS})
        if response.status_code == 200:
            found = insight_values(json_body(response))
            return PostMetrics(**{field: found.get(metric) for metric, field in MEDIA_INSIGHTS.items()})
        if missing_object(response):
            return deleted(f"Instagram no longer has media {media_id}")
        code, _ = graph_codes(response)
        if code not in PERMISSION_CODES and code != INVALID_PARAMETER:
            raise graph_error(response, token=account.access_token, now=self.clock.now())
        # no insights for this media: its public counts are still there
        node = self._read(account, path, {"fields": "like_count,comments_count"})
        if node.status_code != 200:
            if missing_object(node):
                return deleted(f"Instagram no longer has media {media_id}")
            raise graph_error(node, token=account.access_token, now=self.clock.now())
        body = json_body(node)
        return PostMetrics(likes=count(body.get("like_count")), comments=count(body.get("comments_count")))

    # -- read-back -------------------------------------------------------------------------------

    def find_published(
        self, account: AccountCredentials, request: PublishRequest, since: datetime
    ) -> Published | None:
        """The account's media whose caption is exactly what this request sent, posted at or after
        `since` less the clock-skew allowance. The media edge lists the newest first."""
        expected = text_with_link(request)
        threshold = since - READBACK_SKEW
        params: dict[str, str | int] = {
            "fields": "id,caption,timestamp,permalink",
            "limit": _READBACK_PAGE_SIZE,
        }
        path = f"{quote(account.account_id, safe='')}/media"
        for _ in range(_READBACK_PAGES):
            body = self._get(account, path, params)
            items = body.get("data")
            for item in items if isinstance(items, list) else []:
                created = parse_graph_time(item.get("timestamp"))
                if created is not None and created < threshold:
                    return None
                if item.get("caption") == expected and item.get("id"):
                    permalink = item.get("permalink")
                    return Published(str(item["id"]), str(permalink) if permalink else None, created)
            paging = body.get("paging")
            cursors = paging.get("cursors") if isinstance(paging, dict) else None
            after = cursors.get("after") if isinstance(cursors, dict) else None
            if not (isinstance(paging, dict) and paging.get("next") and after):
                return None
            params["after"] = str(after)
        return None


def _media_fields(url: str, *, carousel: bool = False) -> dict[str, str]:
    if is_video(url):
        return {"video_url": url, "media_type": "VIDEO" if carousel else "REELS"}
    return {"image_url": url}
