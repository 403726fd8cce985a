"""Reading the comments on a published post, and hiding one, on each platform that allows it, with the
connected account's token (in the Authorization header, never in a URL).

Sources (checked late 2026):
- Facebook, Graph API reference "Object Comments" (`GET /{object-id}/comments` with `fields`,
  `filter=stream` for replies too, `order=reverse_chronological`, `limit`; each comment has `id`,
  `message`, `from` {id, name} where the Page may see it, `created_time`, `parent` {id}) and
  "Comment" (`POST /{comment-id}` with `is_hidden=true` hides it).
- Instagram, Graph API reference "IG Media Comments" (`GET /{ig-media-id}/comments`, top-level
  comments, fields `id,text,timestamp,username,from,parent_id`) and "IG Comment" (`POST
  /{ig-comment-id}` with `hide=true`).
- YouTube Data API v3 `commentThreads.list` (`part=snippet`, `videoId`, `maxResults` up to 100,
  `order=time`; 1 quota unit): each thread's `snippet.topLevelComment` has `id` and `snippet`
  {textOriginal, authorDisplayName, authorChannelId.value, publishedAt}. YouTube has no hide through
  the API for a channel's own comments (moderation is `comments.setModerationStatus`, not offered).
- X API v2 recent search (`GET /2/tweets/search/recent`, `query=conversation_id:<id>`,
  `expansions=author_id`, `tweet.fields=author_id,created_at,conversation_id,referenced_tweets`,
  `max_results` 10 to 100): replies in a post's conversation over the last 7 days. Search is not in
  every access tier: a 403 from it means this app may not search, and the read says so
  (CommentsUnavailable) instead of failing. X has no hide through this API.

Replies, and reading them back when an answer was lost (the reply's ledger, `tidings.engagement.
replies`, asks before sending again):
- Facebook, "Object Comments": `POST /{comment-id}/comments` with `message` answers {"id"}; the
  comment's replies are `GET /{comment-id}/comments`.
- Instagram, "IG Comment Replies": `POST /{ig-comment-id}/replies?message=` answers {"id"}; only
  top-level comments take replies (a reply to a reply is added to its top-level comment), and
  `GET /{ig-comment-id}/replies` lists them.
- YouTube, `comments.insert` (`part=snippet`, {snippet: {parentId, textOriginal}}; 50 quota units):
  replies go to top-level comments only, so a reply to a reply names its thread's top comment;
  `comments.list` with `parentId` lists a comment's replies.
- X, "Create Post" (`POST /2/tweets` with {"text", "reply": {"in_reply_to_tweet_id"}}, 201 with
  {"data": {"id"}}); read back through the conversation's recent search, as comments are read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.http import bearer, json_body, send
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.publishing.clients.graph import graph_error, parse_graph_time

if TYPE_CHECKING:
    import httpx

    from tidings.core.config import Settings

PAGE_SIZE = 100  # comments read per post and pass (the newest)


@dataclass(frozen=True)
class PlatformComment:
    platform_comment_id: str
    platform_post_id: str
    text: str
    created_at: datetime
    author_id: str | None = None
    author_name: str | None = None
    parent_id: str | None = None
    thread_id: str | None = None


class CommentsUnavailable(Exception):
    """The platform does not let this app read (or hide) comments there; the reason says why."""


class CommentReader(Protocol):
    platform: Platform

    def read_comments(self, account: AccountCredentials, platform_post_id: str) -> list[PlatformComment]:
        """The post's newest comments (up to PAGE_SIZE), replies included where the platform lists
        them. PlatformCallError on a failed call; CommentsUnavailable where reading is not allowed."""
        ...

    def hide_comment(self, account: AccountCredentials, platform_comment_id: str) -> None:
        """Hide the comment on the platform; CommentsUnavailable where hiding is not possible."""
        ...


@dataclass(frozen=True)
class ReplyTarget:
    """The comment a reply answers, as the platform named it."""

    platform_comment_id: str
    platform_post_id: str
    parent_id: str | None = None  # the comment it answers, when it is itself a reply
    thread_id: str | None = None


class CommentReplier(Protocol):
    platform: Platform

    def post_reply(self, account: AccountCredentials, target: ReplyTarget, text: str) -> str:
        """Post the account's reply; the platform's id of the reply. PlatformCallError on a failed
        call (UNKNOWN_OUTCOME when no answer came back)."""
        ...

    def find_reply(self, account: AccountCredentials, target: ReplyTarget, text: str) -> str | None:
        """The id of the account's reply with this text under the comment, if there is one."""
        ...


def same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


class _Api:
    """One platform's HTTP calls: the base URL, the shared client, the clock, how errors read."""

    platform: Platform
    base_setting: str

    def __init__(self, settings: Settings, http: httpx.Client, clock: Clock = DEFAULT_CLOCK) -> None:
        self.base = str(getattr(settings, self.base_setting)).rstrip("/")
        self.http = http
        self.clock = clock

    def _error(self, response: httpx.Response, token: str) -> PlatformCallError:
        return graph_error(response, token=token, now=self.clock.now())

    def _call(
        self,
        method: str,
        account: AccountCredentials,
        path: str,
        params: dict[str, str | int],
        *,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One call: a GET's params in the query, a POST's as a form, or in the query beside a JSON
        body."""
        token = account.access_token
        extra: dict[str, Any] = (
            {"params": params} if method == "GET" or json is not None else {"data": params}
        )
        if json is not None:
            extra["json"] = json
        response = send(
            self.http,
            method,
            f"{self.base}/{path}",
            token=token,
            mutating=method != "GET",
            headers=bearer(token),
            **extra,
        )
        if not 200 <= response.status_code < 300:
            raise self._error(response, token)
        return json_body(response)

    def _posted_id(self, body: dict[str, Any]) -> str:
        found = _id(body) or _id(body.get("data"))
        if found is None:
            raise PlatformCallError(
                ErrorKind.UNKNOWN_OUTCOME, "no_reply_id", f"{self.platform} answered no id"
            )
        return found

    def hide_comment(self, account: AccountCredentials, platform_comment_id: str) -> None:
        raise CommentsUnavailable(f"{self.platform} does not let an app hide comments")


def _data(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("data")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _id(value: Any) -> str | None:
    return str(value["id"]) if isinstance(value, dict) and value.get("id") else None


class FacebookComments(_Api):
    platform = Platform.FACEBOOK
    base_setting = "facebook_api_base"

    def read_comments(self, account: AccountCredentials, platform_post_id: str) -> list[PlatformComment]:
        body = self._call(
            "GET",
            account,
            f"{quote(platform_post_id, safe='')}/comments",
            {
                "fields": "id,message,from,created_time,parent{id}",
                "filter": "stream",
                "order": "reverse_chronological",
                "limit": PAGE_SIZE,
            },
        )
        out = []
        for item in _data(body):
            created = parse_graph_time(item.get("created_time"))
            author = as_object(item.get("from"))
            if item.get("id") and created is not None:
                out.append(
                    PlatformComment(
                        platform_comment_id=str(item["id"]),
                        platform_post_id=platform_post_id,
                        text=as_text(item.get("message")),
                        created_at=created,
                        author_id=_id(author),
                        author_name=author.get("name") if isinstance(author.get("name"), str) else None,
                        parent_id=_id(item.get("parent")),
                    )
                )
        return out

    def hide_comment(self, account: AccountCredentials, platform_comment_id: str) -> None:
        self._call("POST", account, quote(platform_comment_id, safe=""), {"is_hidden": "true"})

    def page_post_id(self, account: AccountCredentials, platform_post_id: str) -> str | None:
        """The Page post (`{page-id}_{post-id}`, the id Meta's feed webhooks name) of a video Tidings
        keeps by its video id: a video upload answers only {"id"}, and the video node's `post_id`
        field names its post (Graph API reference "Video", `GET /{video-id}?fields=post_id`). A photo's
        upload answers its `post_id` already, and a feed post's id is its Page post id: None."""
        if "_" in platform_post_id:
            return None
        body = self._call("GET", account, quote(platform_post_id, safe=""), {"fields": "post_id"})
        found = body.get("post_id")
        return str(found) if isinstance(found, str | int) and str(found) else None

    def post_reply(self, account: AccountCredentials, target: ReplyTarget, text: str) -> str:
        path = f"{quote(target.platform_comment_id, safe='')}/comments"
        return self._posted_id(self._call("POST", account, path, {"message": text}))

    def find_reply(self, account: AccountCredentials, target: ReplyTarget, text: str) -> str | None:
        body = self._call(
            "GET",
            account,
            f"{quote(target.platform_comment_id, safe='')}/comments",
            {"fields": "id,message,from", "order": "reverse_chronological", "limit": PAGE_SIZE},
        )
        return _mine(_data(body), account, text, "message")


class InstagramComments(_Api):
    platform = Platform.INSTAGRAM
    base_setting = "instagram_api_base"

    def read_comments(self, account: AccountCredentials, platform_post_id: str) -> list[PlatformComment]:
        body = self._call(
            "GET",
            account,
            f"{quote(platform_post_id, safe='')}/comments",
            {"fields": "id,text,timestamp,username,from,parent_id", "limit": PAGE_SIZE},
        )
        out = []
        for item in _data(body):
            created = parse_graph_time(item.get("timestamp"))
            author = as_object(item.get("from"))
            name = author.get("username") or item.get("username")
            if item.get("id") and created is not None:
                out.append(
                    PlatformComment(
                        platform_comment_id=str(item["id"]),
                        platform_post_id=platform_post_id,
                        text=as_text(item.get("text")),
                        created_at=created,
                        author_id=_id(author),
                        author_name=name if isinstance(name, str) else None,
                        parent_id=str(item["parent_id"]) if item.get("parent_id") else None,
                    )
                )
        return out

    def hide_comment(self, account: AccountCredentials, platform_comment_id: str) -> None:
        self._call("POST", account, quote(platform_comment_id, safe=""), {"hide": "true"})

    def _top(self, target: ReplyTarget) -> str:
        return quote(target.parent_id or target.platform_comment_id, safe="")

    def post_reply(self, account: AccountCredentials, target: ReplyTarget, text: str) -> str:
        return self._posted_id(self._call("POST", account, f"{self._top(target)}/replies", {"message": text}))

    def find_reply(self, account: AccountCredentials, target: ReplyTarget, text: str) -> str | None:
        body = self._call(
            "GET", account, f"{self._top(target)}/replies", {"fields": "id,text,from", "limit": PAGE_SIZE}
        )
        return _mine(_data(body), account, text, "text")


class YouTubeComments(_Api):
    platform = Platform.YOUTUBE
    base_setting = "youtube_api_base"

    def _error(self, response: httpx.Response, token: str) -> PlatformCallError:
        from tidings.publishing.clients.youtube import youtube_error

        return youtube_error(response, token=token, now=self.clock.now())

    def read_comments(self, account: AccountCredentials, platform_post_id: str) -> list[PlatformComment]:
        body = self._call(
            "GET",
            account,
            "youtube/v3/commentThreads",
            {"part": "snippet", "videoId": platform_post_id, "maxResults": PAGE_SIZE, "order": "time"},
        )
        out = []
        items = body.get("items")
        for thread in items if isinstance(items, list) else []:
            top = as_object(as_object(as_object(thread).get("snippet")).get("topLevelComment"))
            snippet = as_object(top.get("snippet"))
            created = parse_graph_time(snippet.get("publishedAt"))
            if not (top.get("id") and created):
                continue
            channel = snippet.get("authorChannelId")
            name = snippet.get("authorDisplayName")
            out.append(
                PlatformComment(
                    platform_comment_id=str(top["id"]),
                    platform_post_id=platform_post_id,
                    text=as_text(snippet.get("textOriginal") or snippet.get("textDisplay")),
                    created_at=created,
                    author_id=str(channel["value"])
                    if isinstance(channel, dict) and channel.get("value")
                    else None,
                    author_name=name if isinstance(name, str) else None,
                    thread_id=str(as_object(thread).get("id") or top["id"]),
                )
            )
        return out

    def _top(self, target: ReplyTarget) -> str:
        # a YouTube reply's id is "<top comment id>.<reply id>"
        return target.parent_id or target.platform_comment_id.split(".", 1)[0]

    def post_reply(self, account: AccountCredentials, target: ReplyTarget, text: str) -> str:
        body = {"snippet": {"parentId": self._top(target), "textOriginal": text}}
        return self._posted_id(
            self._call("POST", account, "youtube/v3/comments", {"part": "snippet"}, json=body)
        )

    def find_reply(self, account: AccountCredentials, target: ReplyTarget, text: str) -> str | None:
        body = self._call(
            "GET",
            account,
            "youtube/v3/comments",
            {
                "part": "snippet",
                "parentId": self._top(target),
                "maxResults": PAGE_SIZE,
                "textFormat": "plainText",
            },
        )
        items = body.get("items")
        for item in items if isinstance(items, list) else []:
            snippet = as_object(as_object(item).get("snippet"))
            author = as_object(snippet.get("authorChannelId")).get("value")
            if author == account.account_id and same_text(as_text(snippet.get("textOriginal")), text):
                return _id(item)
        return None


class XReplies(_Api):
    platform = Platform.TWITTER
    base_setting = "x_api_base"

    def _error(self, response: httpx.Response, token: str) -> PlatformCallError:
        from tidings.publishing.clients.x import x_error

        return x_error(response, token=token, now=self.clock.now())

    def read_comments(self, account: AccountCredentials, platform_post_id: str) -> list[PlatformComment]:
        try:
            body = self._call(
                "GET",
                account,
                "2/tweets/search/recent",
                {
                    "query": f"conversation_id:{platform_post_id}",
                    "expansions": "author_id",
                    "tweet.fields": "author_id,created_at,conversation_id,referenced_tweets",
                    "user.fields": "username,name",
                    "max_results": PAGE_SIZE,
                },
            )
        except PlatformCallError as exc:
            if exc.status == 403:
                raise CommentsUnavailable(f"X does not let this app search replies: {exc}") from exc
            raise
        includes = body.get("includes")
        users = includes.get("users") if isinstance(includes, dict) else None
        names = {str(u["id"]): u for u in users or [] if isinstance(u, dict) and u.get("id")}
        out = []
        for post in _data(body):
            created = parse_graph_time(post.get("created_at"))
            if not (post.get("id") and created) or str(post["id"]) == platform_post_id:
                continue
            author = names.get(str(post.get("author_id")), {})
            replied_to = [
                str(r["id"])
                for r in post.get("referenced_tweets") or []
                if isinstance(r, dict) and r.get("type") == "replied_to" and r.get("id")
            ]
            out.append(
                PlatformComment(
                    platform_comment_id=str(post["id"]),
                    platform_post_id=platform_post_id,
                    text=as_text(post.get("text")),
                    created_at=created,
                    author_id=str(post["author_id"]) if post.get("author_id") else None,
                    author_name=author.get("username") if isinstance(author.get("username"), str) else None,
                    parent_id=next((r for r in replied_to if r != platform_post_id), None),
                    thread_id=str(post.get("conversation_id") or platform_post_id),
                )
            )
        return out

    def post_reply(self, account: AccountCredentials, target: ReplyTarget, text: str) -> str:
        body = {"text": text, "reply": {"in_reply_to_tweet_id": target.platform_comment_id}}
        return self._posted_id(self._call("POST", account, "2/tweets", {}, json=body))

    def find_reply(self, account: AccountCredentials, target: ReplyTarget, text: str) -> str | None:
        from tidings.publishing.clients.x import normalize

        conversation = target.thread_id or target.platform_post_id
        for found in self.read_comments(account, conversation):
            if (
                found.author_id == account.account_id
                and found.parent_id == target.platform_comment_id
                and normalize(found.text) == normalize(text)
            ):
                return found.platform_comment_id
        return None


def _mine(items: list[dict[str, Any]], account: AccountCredentials, text: str, field: str) -> str | None:
    """The id of the first Graph comment the account wrote with this text."""
    for item in items:
        if _id(item.get("from")) == account.account_id and same_text(as_text(item.get(field)), text):
            return str(item["id"])
    return None


class _CommentClient(CommentReader, CommentReplier, Protocol):
    """A platform's client that both reads comments and replies to them."""


_CLIENTS: dict[Platform, Callable[..., _CommentClient]] = {
    Platform.FACEBOOK: FacebookComments,
    Platform.INSTAGRAM: InstagramComments,
    Platform.YOUTUBE: YouTubeComments,
    Platform.TWITTER: XReplies,
}
COMMENT_PLATFORMS = tuple(_CLIENTS)


def _build_clients(settings: Settings, http: httpx.Client, clock: Clock) -> dict[Platform, _CommentClient]:
    return {platform: make(settings, http, clock) for platform, make in _CLIENTS.items()}


def build_comment_readers(
    settings: Settings, http: httpx.Client, clock: Clock = DEFAULT_CLOCK
) -> dict[Platform, CommentReader]:
    """The comment reader of each platform whose comments Tidings reads (LinkedIn's and TikTok's
    comments are not open to this app)."""
    return dict(_build_clients(settings, http, clock))


def build_comment_repliers(
    settings: Settings, http: httpx.Client, clock: Clock = DEFAULT_CLOCK
) -> dict[Platform, CommentReplier]:
    """The reply client of each platform whose comments take replies through Tidings (those it reads)."""
    return dict(_build_clients(settings, http, clock))
