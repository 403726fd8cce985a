"""X (formerly Twitter) through the X API v2, with an OAuth 2.0 user access token.

Sources (docs.x.com): "Create or Edit Post" (`POST /2/tweets` with {"text"}, answering 201
{"data": {"id", "text"}}); "User Posts timeline" (`GET /2/users/{id}/tweets` with `start_time`
(RFC 3339, second granularity), `max_results` 5-100, `tweet.fields`, `pagination_token`, answering
{"data": [...], "meta": {"result_count", "next_token"}}); "Response codes and errors" (problem
details {"title", "detail", "type", "status"}; 400 invalid, 401 bad credentials, 403 not permitted,
429 rate limit or usage cap, 5xx wait and retry); "Rate limits" (`x-rate-limit-limit`,
`x-rate-limit-remaining`, `x-rate-limit-reset` in epoch seconds). A post's `text` comes back with
URLs wrapped as t.co links and `&`, `<`, `>` HTML-escaped; a long post's full text is in `note_tweet`.
Media ("Media upload", chunked): `POST /2/media/upload/initialize` {media_type, total_bytes,
media_category: tweet_image|tweet_gif|tweet_video} answering data.id; `POST
/2/media/upload/{id}/append` multipart {media, segment_index}; `POST /2/media/upload/{id}/finalize`
answering data.processing_info {state, check_after_secs} when processing is needed; `GET
/2/media/upload?command=STATUS&media_id=` until the state is succeeded (or failed); then the post
carries {"media": {"media_ids": [...]}}: up to 4 photos, or one GIF or video. A thread is a chain of
posts, each with {"reply": {"in_reply_to_tweet_id": <the one before>}}.

Metrics (read_metrics), up to 100 posts a call: "Post lookup" (`GET /2/tweets?ids=` up to 100 ids,
`tweet.fields`) with `public_metrics` (like_count -> likes, reply_count -> comments, retweet_count +
quote_count -> shares, bookmark_count -> saves, impression_count -> views) and, per "Metrics"
(developer.x.com/en/docs/x-api/metrics), `non_public_metrics` (impression_count, url_link_clicks ->
clicks; user_profile_clicks is not an engagement Tidings counts), which X serves only with a user
token for the user's own posts created in the last 30 days. X refuses the field for the others with
a 200 whose `errors` hold a ".../not-authorized-for-field" problem and leaves those posts out of
`data`; they are read again with public metrics alone. An id X answers with "Could not find tweet"
(".../resource-not-found") is a deleted post; ".../not-authorized-for-resource" (a protected or
suspended account) is a post that cannot be found.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.http import (
    READBACK_SKEW,
    Media,
    MediaSource,
    bearer,
    call_error,
    json_body,
    parse_retry_after,
    seconds_until_epoch,
    send,
    sized,
    status_kind,
)
from tidings.core.platforms import Platform, is_video, media_violation
from tidings.models.accounts import AccountCredentials
from tidings.models.post_analytics import PostMetrics
from tidings.publishing.base import Published, PublishRequest, text_with_link
from tidings.publishing.clients.metric_reads import count, deleted, not_found, read_in_batches, total
from tidings.publishing.metrics import MetricsRead

_READBACK_PAGES = 5
_THREAD_RESUME_WINDOW = timedelta(hours=24)
_CHUNK_BYTES = 4 * 1024 * 1024
_MAX_PHOTOS = 4
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
LOOKUP_MAX = 100
_PUBLIC_FIELDS = "public_metrics"
_PRIVATE_FIELDS = "public_metrics,non_public_metrics"


class XClient:
    platform: Platform = Platform.TWITTER
    max_ids: int = LOOKUP_MAX

    def __init__(
        self,
        settings: Settings,
        http: httpx.Client,
        clock: Clock = DEFAULT_CLOCK,
        *,
        max_wait: float = 120.0,
        media_http: httpx.Client | None = None,
    ) -> None:
        self.base = settings.x_api_base.rstrip("/")
        self.http = http
        self.media = MediaSource(settings, media_http)
        self.clock = clock
        self.max_wait = max_wait

    def __repr__(self) -> str:
        return f"XClient(base={self.base!r})"

    def publish(self, account: AccountCredentials, request: PublishRequest) -> Published:
        _check_media(request.media_urls)
        if request.thread:
            return self._publish_thread(account, request)
        media_ids = [self._upload(account, url) for url in request.media_urls]
        body: dict[str, Any] = {"text": text_with_link(request)}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        post_id = self._create(account, body)
        return Published(post_id, post_url(post_id), self.clock.now())

    def _create(self, account: AccountCredentials, body: dict[str, Any]) -> str:
        token = account.access_token
        response = send(
            self.http,
            "POST",
            f"{self.base}/2/tweets",
            token=token,
            mutating=True,
            json=body,
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
        return str(post_id)

    def _publish_thread(self, account: AccountCredentials, request: PublishRequest) -> Published:
        """The first post, then each part as a reply to the one before ("Create or Edit Post":
        reply.in_reply_to_tweet_id). Resumable: parts this account already posted in the last day
        (X refuses the same text twice anyway) are found on its timeline and not posted again, so a
        retry after a part failed continues the thread instead of starting a second one."""
        parts = [text_with_link(request), *request.thread]
        posted = self._recent_texts(account, self.clock.now() - _THREAD_RESUME_WINDOW)
        previous: str | None = None
        head: str | None = None
        for index, text in enumerate(parts):
            post_id = posted.get(normalize(text))
            if post_id is None:
                body: dict[str, Any] = {"text": text}
                if index == 0 and request.media_urls:
                    body["media"] = {"media_ids": [self._upload(account, url) for url in request.media_urls]}
                if previous is not None:
                    body["reply"] = {"in_reply_to_tweet_id": previous}
                post_id = self._create(account, body)
            head = head or post_id
            previous = post_id
        assert head is not None
        return Published(head, post_url(head), self.clock.now())

    def _recent_texts(self, account: AccountCredentials, since: datetime) -> dict[str, str]:
        """The account's posts since `since`, by normalized text (the newest wins)."""
        out: dict[str, str] = {}
        for post in self._timeline(account, since):
            text = _text_of(post)
            if text is not None and post.get("id"):
                out.setdefault(normalize(text), str(post["id"]))
        return out

    # -- media -----------------------------------------------------------------------------------

    def _upload(self, account: AccountCredentials, url: str) -> str:
        """Upload one media file in chunks and wait until X has processed it. Uploaded media is not
        a post: every failure here is safe to retry."""
        with self.media.open(self.platform, url) as media:
            total, reader = sized(media)
            init = self._media_call(
                account,
                "POST",
                "/2/media/upload/initialize",
                json={
                    "media_type": media.content_type,
                    "total_bytes": total,
                    "media_category": _category(media),
                },
            )
            media_id = str(init.get("id") or "")
            if not media_id:
                raise call_error(
                    ErrorKind.RETRYABLE,
                    "malformed_response",
                    "media initialize answered without an id",
                    token=None,
                )
            for index, part in enumerate(reader.parts(_CHUNK_BYTES)):
                self._media_call(
                    account,
                    "POST",
                    f"/2/media/upload/{media_id}/append",
                    data={"segment_index": str(index)},
                    files={"media": ("chunk", part, "application/octet-stream")},
                )
        final = self._media_call(account, "POST", f"/2/media/upload/{media_id}/finalize")
        self._wait_processed(account, media_id, final.get("processing_info"))
        return media_id

    def _wait_processed(self, account: AccountCredentials, media_id: str, info: Any) -> None:
        deadline = self.clock.now() + timedelta(seconds=self.max_wait)
        while isinstance(info, dict) and info.get("state") not in (None, "succeeded"):
            if info.get("state") == "failed":
                error = info.get("error")
                detail = error.get("message") if isinstance(error, dict) else None
                raise call_error(
                    ErrorKind.PERMANENT,
                    "media_processing_failed",
                    f"X could not process the media: {detail or 'failed'}",
                    token=account.access_token,
                )
            now = self.clock.now()
            if now >= deadline:
                raise call_error(
                    ErrorKind.RETRYABLE,
                    "media_not_ready",
                    f"X was still processing the media after {self.max_wait:g} s",
                    token=account.access_token,
                )
            wait = info.get("check_after_secs")
            wait = float(wait) if isinstance(wait, int | float) and wait > 0 else 1.0
            self.clock.sleep_until(min(deadline, now + timedelta(seconds=wait)))
            status = self._media_call(
                account, "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id}
            )
            info = status.get("processing_info")

    def _media_call(
        self, account: AccountCredentials, method: str, path: str, **kwargs: Any
    ) -> dict[str, Any]:
        token = account.access_token
        response = send(
            self.http,
            method,
            f"{self.base}{path}",
            token=token,
            mutating=False,
            headers=bearer(token),
            **kwargs,
        )
        if response.status_code not in (200, 201, 202, 204):
            raise x_error(response, token=token, now=self.clock.now())
        data = json_body(response).get("data")
        return data if isinstance(data, dict) else {}

    # -- read-back -------------------------------------------------------------------------------

    def find_published(
        self, account: AccountCredentials, request: PublishRequest, since: datetime
    ) -> Published | None:
        """The account's post with exactly this text (URLs compared as t.co links are), created at
        or after `since` less the clock-skew allowance. A thread counts as published only when every
        part is there; otherwise publishing again resumes it."""
        threshold = since - READBACK_SKEW
        expected = [normalize(text_with_link(request)), *(normalize(t) for t in request.thread)]
        found: dict[str, Published] = {}
        for post in self._timeline(account, threshold):
            match = _match(post, threshold)
            if match is not None and match[0] in expected:
                found.setdefault(match[0], match[1])
                if all(text in found for text in expected):
                    return found[expected[0]]
        return None

    def _timeline(self, account: AccountCredentials, since: datetime) -> Iterator[dict[str, Any]]:
        """The account's posts created since `since`, newest first ("User Posts timeline")."""
        token = account.access_token
        params: dict[str, str | int] = {
            "start_time": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
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
            yield from (p for p in (posts if isinstance(posts, list) else []) if isinstance(p, dict))
            meta = body.get("meta")
            next_token = meta.get("next_token") if isinstance(meta, dict) else None
            if not next_token:
                return
            params["pagination_token"] = str(next_token)

    # -- metrics ---------------------------------------------------------------------------------

    def read_metrics(
        self, account: AccountCredentials, platform_post_ids: Sequence[str]
    ) -> dict[str, MetricsRead]:
        return read_in_batches(
            platform_post_ids,
            self.max_ids,
            lambda ids: self._lookup_metrics(account, ids),
            unaskable=lambda i: None if i.isdigit() else not_found(f"{i!r} is not an X post id"),
        )

    def _lookup_metrics(self, account: AccountCredentials, ids: list[str]) -> dict[str, MetricsRead]:
        """Public and private metrics where X allows both, public alone for the posts it refuses."""
        found, problems = self._lookup(account, ids, _PRIVATE_FIELDS)
        refused = [
            i for i in ids if i not in found and _problem(problems.get(i)) == "not-authorized-for-field"
        ]
        if refused:
            more, again = self._lookup(account, refused, _PUBLIC_FIELDS)
            found.update(more)
            problems.update(again)
        out: dict[str, MetricsRead] = {i: _post_metrics(post) for i, post in found.items()}
        for post_id in (i for i in ids if i not in found):
            problem = problems.get(post_id) or {}
            detail = str(problem.get("detail") or "")
            if _problem(problem) == "resource-not-found":
                out[post_id] = deleted(detail or f"X could not find post {post_id}")
            elif _problem(problem) == "not-authorized-for-resource":
                out[post_id] = not_found(detail or f"X does not show post {post_id}")
        return out

    def _lookup(
        self, account: AccountCredentials, ids: list[str], fields: str
    ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """The posts X answered, and its problem per id it did not (Post lookup answers 200 with both)."""
        token = account.access_token
        response = send(
            self.http,
            "GET",
            f"{self.base}/2/tweets",
            token=token,
            mutating=False,
            params={"ids": ",".join(ids), "tweet.fields": fields},
            headers=bearer(token),
        )
        if response.status_code == 403 and fields != _PUBLIC_FIELDS:
            return self._lookup(account, ids, _PUBLIC_FIELDS)  # a token X gives no private metrics at all
        if response.status_code != 200:
            raise x_error(response, token=token, now=self.clock.now())
        body = json_body(response)
        data = body.get("data")
        posts = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
        found = {str(p["id"]): p for p in posts if isinstance(p, dict) and p.get("id")}
        problems: dict[str, dict[str, Any]] = {}
        errors = body.get("errors")
        for error in errors if isinstance(errors, list) else []:
            if isinstance(error, dict):
                post_id = str(error.get("resource_id") or error.get("value") or "")
                problems.setdefault(post_id, error)
        return found, problems


def _problem(error: dict[str, Any] | None) -> str:
    """The last part of an X problem type (https://api.twitter.com/2/problems/<this>)."""
    kind = error.get("type") if isinstance(error, dict) else None
    return kind.rstrip("/").rsplit("/", 1)[-1] if isinstance(kind, str) else ""


def _post_metrics(post: dict[str, Any]) -> PostMetrics:
    public = post.get("public_metrics")
    public = public if isinstance(public, dict) else {}
    private = post.get("non_public_metrics")
    private = private if isinstance(private, dict) else None
    views = private.get("impression_count") if private else None
    return PostMetrics(
        views=count(views) if count(views) is not None else count(public.get("impression_count")),
        likes=count(public.get("like_count")),
        comments=count(public.get("reply_count")),
        shares=total(public.get("retweet_count"), public.get("quote_count")),
        saves=count(public.get("bookmark_count")),
        clicks=count(private.get("url_link_clicks")) if private else None,
    )


def _check_media(urls: tuple[str, ...]) -> None:
    violation = media_violation(Platform.TWITTER, urls)
    if violation is not None:
        raise call_error(ErrorKind.PERMANENT, "unsupported_media", violation, token=None)


def _category(media: Media) -> str:
    if media.content_type == "image/gif":
        return "tweet_gif"
    if media.content_type.startswith("video/") or is_video(media.url):
        return "tweet_video"
    return "tweet_image"


def _text_of(post: dict[str, Any]) -> str | None:
    note = post.get("note_tweet")
    text = note.get("text") if isinstance(note, dict) and note.get("text") else post.get("text")
    return text if isinstance(text, str) else None


def _match(post: dict[str, Any], threshold: datetime) -> tuple[str, Published] | None:
    """The post's normalized text and what it is, if it was created at or after `threshold`."""
    text = _text_of(post)
    if not post.get("id") or text is None:
        return None
    created = _parse_time(post.get("created_at"))
    if created is not None and created < threshold:
        return None
    return normalize(text), Published(str(post["id"]), post_url(str(post["id"])), created)


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
