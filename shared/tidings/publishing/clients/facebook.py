"""Facebook Pages through the Graph API, with a Page access token.

Sources (developers.facebook.com): Pages API "Getting started" and Graph API reference page/feed
(`POST /{page-id}/feed` with `message` and `link`, answering {"id": "{page-id}_{post-id}"}; reading
`GET /{page-id}/feed` with `fields`, `since` (unix time), `limit` and cursor paging), page/photos
(`POST /{page-id}/photos` with `url` and `caption`, answering {"id", "post_id"}; `published=false`
uploads a photo to attach to a feed post with `attached_media[n]={"media_fbid": id}`) and
page/videos (`POST /{page-id}/videos` with `file_url` and `description`). The token travels in the
Authorization header (OAuth 2.0 bearer, RFC 6750) so it never appears in a URL or a log line.
"""

from __future__ import annotations

import json
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
from tidings.publishing.base import Published, PublishRequest, text_with_link
from tidings.publishing.clients.graph import graph_error, parse_graph_time

_READBACK_PAGES = 5
_READBACK_PAGE_SIZE = 100


class FacebookClient:
    platform: Platform = Platform.FACEBOOK

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
