"""Comments on the posts the fake published: added by a test or a demo, read on each platform's
documented comment endpoints, hidden and answered through them, and announced to Tidings as Meta's
signed webhooks.

The fake's own endpoints:

    POST /_comments        {platform, postId, text, author: {id, name}, parentId?, webhook?}: a comment
                           on a post the fake published (`postId` as the fake gave it: a Facebook
                           post, photo or video id, an Instagram media id, a YouTube video id, an X
                           post id), or an answer to a comment (`parentId`); 201 with the comment
                           ({platform, commentId, postId, accountId, text, author, parentId,
                           createdAt, hidden}) and, with `"webhook": true` (Facebook and Instagram),
                           what the webhook delivery got ({url, status} or {url, error})
    GET  /_comments        every comment added, oldest first (`?platform=`, `?postId=` narrow it)
    POST /_webhooks/send   {platform, commentId}: sends that comment's webhook (again)
    GET|POST /_webhooks    {url, appSecret}: where webhooks go (Tidings' `POST /inbound/meta`) and
                           the Meta app secret they are signed with; GET shows the URL and whether a
                           secret is set. The process takes both at start from `--webhook-url` and
                           `--app-secret` (or TIDINGS_FAKE_WEBHOOK_URL, TIDINGS_FAKE_META_APP_SECRET)

A webhook is one POST of the documented payload (Graph API "Webhooks Reference: Page", field `feed`,
item `comment`; Instagram "Webhooks", field `comments`) with `X-Hub-Signature-256: sha256=<hex
HMAC-SHA256 of the raw body with the app secret>`.

The platforms' endpoints (the clients in `tidings.publishing.clients.comments` call the reads and
hides):

    Facebook   GET  /{post-id}/comments          fields id, message, from, created_time, parent{id},
                                                 is_hidden; filter=stream lists replies too (the
                                                 default, toplevel, only top-level comments);
                                                 order=reverse_chronological|chronological; cursor paging
               GET  /{comment-id}/comments       the comment's replies
               POST /{comment-id}                is_hidden=true|false: {"success": true}
               POST /{comment-id}/comments       message: the Page's reply, {"id"}
    Instagram  GET  /{media-id}/comments         top-level comments, newest first: id, text,
                                                 timestamp, username, from {id, username}, hidden,
                                                 parent_id, media {id}
               GET  /{comment-id}/replies        the comment's replies
               POST /{comment-id}                hide=true|false: {"success": true}
               POST /{comment-id}/replies        message: the account's reply, {"id"}
    YouTube    GET  /youtube/v3/commentThreads   part=snippet[,replies], videoId, maxResults (1-100),
                                                 order=time|relevance, pageToken
               POST /youtube/v3/comments         part=snippet, {snippet: {parentId, textOriginal}}:
                                                 the channel's reply (youtube#comment)
               GET  /youtube/v3/comments         comments.list by parentId: a top-level comment's
                                                 replies, oldest first; maxResults (1-100), pageToken
    X          GET  /2/tweets/search/recent      query=conversation_id:<id> (the replies to a post
                                                 in the last 7 days), expansions=author_id,
                                                 tweet.fields, user.fields, max_results 10-100
               POST /2/tweets                    reply.in_reply_to_tweet_id naming a comment: the
                                                 account's reply (see `infra.local.fakes.x`)

`GET /_received` lists each hide ({action: "hide", commentId, hidden}) and reply ({action: "reply",
commentId, replyId, text}) beside the publishes. A comment is read only with the token of the account
whose post it is on; faults are not injected into comment calls.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.local.fakes.base import Outcome, Reply, Request, int_param, iso_z
from infra.local.fakes.graph import expanded_fields, graph_auth, graph_page, graph_time, unsupported
from infra.local.fakes.profiles import bearer_account, google_error, graph_error, x_problem
from infra.local.fakes.state import Channel, Post, channel
from tidings.core.platforms import Platform

if TYPE_CHECKING:
    from infra.local.fakes.platforms import FakePlatformServer

COMMENT_PLATFORMS = (Platform.FACEBOOK, Platform.INSTAGRAM, Platform.YOUTUBE, Platform.TWITTER)
WEBHOOK_PLATFORMS = (Platform.FACEBOOK, Platform.INSTAGRAM)
SEARCH_DAYS = 7  # X's recent search reaches back 7 days


@dataclass
class Comment:
    platform: Channel
    comment_id: str
    post: Post  # the post commented on
    text: str
    author_id: str
    author_name: str
    created: float
    parent_id: str | None = None
    hidden: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "platform": str(self.platform),
            "commentId": self.comment_id,
            "postId": self.post.post_id,
            "accountId": self.post.account,
            "text": self.text,
            "author": {"id": self.author_id, "name": self.author_name},
            "parentId": self.parent_id,
            "createdAt": iso_z(self.created),
            "hidden": self.hidden,
        }


# -- the store's comments --------------------------------------------------------------------------


def _new_id(fake: FakePlatformServer, platform: Channel, post: Post, parent: Comment | None) -> str:
    n = fake.store.next_id()
    if platform is Platform.FACEBOOK:
        return f"{post.post_id.rsplit('_', 1)[-1]}_{10**6 + n}"
    if platform is Platform.INSTAGRAM:
        return str(17_900_000_000_000_000 + n)
    if platform is Platform.YOUTUBE:
        top = f"UgzFake{n:010d}AaABAg"
        return f"{parent.comment_id}.{top}" if parent else top
    return str(1_950_000_000_000_000_000 + n)


def add(
    fake: FakePlatformServer,
    platform: Channel,
    post: Post,
    text: str,
    author_id: str,
    author_name: str,
    parent: Comment | None = None,
    comment_id: str | None = None,
) -> Comment:
    """A comment on `post` (an answer to `parent` when given)."""
    comment = Comment(
        platform=platform,
        comment_id=comment_id or _new_id(fake, platform, post, parent),
        post=post,
        text=text,
        author_id=author_id,
        author_name=author_name,
        created=time.time(),
        parent_id=parent.comment_id if parent else None,
    )
    with fake.store.lock:
        fake.store.comments[(platform, comment.comment_id)] = comment
    return comment


def find(fake: FakePlatformServer, platform: Channel, comment_id: str) -> Comment | None:
    with fake.store.lock:
        found = fake.store.comments.get((platform, comment_id))
    return found if isinstance(found, Comment) else None


def on_post(fake: FakePlatformServer, platform: Channel, post: Post) -> list[Comment]:
    """The post's comments, replies included, oldest first."""
    with fake.store.lock:
        return [
            c
            for c in fake.store.comments.values()
            if isinstance(c, Comment) and c.platform == platform and c.post is post
        ]


def replies(fake: FakePlatformServer, comment: Comment) -> list[Comment]:
    return [c for c in on_post(fake, comment.platform, comment.post) if c.parent_id == comment.comment_id]


def _record(fake: FakePlatformServer, comment: Comment, action: str, **extra: Any) -> None:
    with fake.store.lock:
        fake.store.received.append(
            {
                "platform": str(comment.platform),
                "accountId": comment.post.account,
                "action": action,
                "commentId": comment.comment_id,
                "postId": comment.post.post_id,
                "receivedAt": iso_z(time.time()),
                **extra,
            }
        )


def hide(fake: FakePlatformServer, comment: Comment, hidden: bool) -> None:
    with fake.store.lock:
        comment.hidden = hidden
    _record(fake, comment, "hide", hidden=hidden)


def add_reply(fake: FakePlatformServer, comment: Comment, text: str, reply_id: str | None = None) -> Comment:
    """The account's reply to a comment, listed among the post's comments (`reply_id`: the id the
    platform gave it elsewhere, an X post's)."""
    account = comment.post.account
    name = {Platform.FACEBOOK: f"Page {account}", Platform.INSTAGRAM: f"ig_{account}"}.get(
        Platform(str(comment.platform)), account
    )
    return add(fake, comment.platform, comment.post, text, account, name, comment, reply_id)


def answer(fake: FakePlatformServer, comment: Comment, text: str) -> Comment:
    """The account's reply to a comment: listed among the post's comments and in /_received."""
    reply = add_reply(fake, comment, text)
    _record(fake, comment, "reply", replyId=reply.comment_id, text=text)
    return reply


# -- webhooks --------------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """X-Hub-Signature-256 of a delivery."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_payload(comment: Comment) -> dict[str, Any]:
    """The Meta webhook that announces the comment."""
    post, now = comment.post, int(time.time())
    author = {"id": comment.author_id}
    if comment.platform is Platform.INSTAGRAM:
        value: dict[str, Any] = {
            "from": {**author, "username": comment.author_name},
            "media": {"id": post.post_id, "media_product_type": "FEED"},
            "id": comment.comment_id,
            "text": comment.text,
        }
        if comment.parent_id:
            value["parent_id"] = comment.parent_id
        return {
            "object": "instagram",
            "entry": [{"id": post.account, "time": now, "changes": [{"field": "comments", "value": value}]}],
        }
    value = {
        "from": {**author, "name": comment.author_name},
        "post": {"status_type": "mobile_status_update", "is_published": True, "id": post.post_id},
        "message": comment.text,
        "post_id": post.post_id,
        "comment_id": comment.comment_id,
        "created_time": int(comment.created),
        "item": "comment",
        "parent_id": comment.parent_id or post.post_id,
        "verb": "add",
    }
    return {
        "object": "page",
        "entry": [{"id": post.account, "time": now, "changes": [{"field": "feed", "value": value}]}],
    }


def send_webhook(fake: FakePlatformServer, comment: Comment) -> dict[str, Any]:
    """POST the comment's webhook to the configured URL; what the delivery got."""
    url, secret = fake.webhook_url, fake.meta_app_secret
    if not url or not secret:
        return {"url": url, "error": "no webhook URL or app secret is set (POST /_webhooks)"}
    body = json.dumps(webhook_payload(comment), separators=(",", ":")).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(secret, body)},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer_:
            return {"url": url, "status": answer_.status}
    except urllib.error.HTTPError as exc:
        return {"url": url, "status": exc.code}
    except OSError as exc:
        return {"url": url, "error": str(exc)}


# -- the fake's own endpoints ----------------------------------------------------------------------


def own_route(fake: FakePlatformServer, req: Request) -> Reply:
    name = req.segments[0]
    if name == "_webhooks" and req.segments[1:] == ["send"] and req.method == "POST":
        body = req.json_object()
        target = _named_comment(fake, body.get("platform"), body.get("commentId"))
        if isinstance(target, Reply):
            return target
        return Reply(200, {"comment": target.describe(), "webhook": send_webhook(fake, target)})
    if name == "_webhooks" and len(req.segments) == 1:
        if req.method == "POST":
            body = req.json_object()
            url, secret = body.get("url"), body.get("appSecret")
            if not isinstance(url, str | None) or not isinstance(secret, str | None):
                return Reply(400, {"error": "expected {url?, appSecret?} as strings"})
            fake.webhook_url = url if url is not None else fake.webhook_url
            fake.meta_app_secret = secret if secret is not None else fake.meta_app_secret
        elif req.method != "GET":
            return Reply(405, {"error": f"{req.method} /_webhooks is not supported"})
        return Reply(200, {"url": fake.webhook_url, "appSecretSet": bool(fake.meta_app_secret)})
    if name == "_comments" and req.method == "GET":
        with fake.store.lock:
            every = [c for c in fake.store.comments.values() if isinstance(c, Comment)]
        if "platform" in req.query:
            every = [c for c in every if str(c.platform) == req.query["platform"]]
        if "postId" in req.query:
            every = [c for c in every if req.query["postId"] in (c.post.post_id, *c.post.aliases)]
        return Reply(200, [c.describe() for c in every])
    if name == "_comments" and req.method == "POST":
        return _add_comment(fake, req.json_object())
    return Reply(404, {"error": f"no route {req.method} {req.path}"})


def _named_comment(fake: FakePlatformServer, platform: Any, comment_id: Any) -> Comment | Reply:
    try:
        resolved = channel(str(platform))
    except ValueError:
        return Reply(400, {"error": f"unknown platform {platform!r}"})
    found = find(fake, resolved, str(comment_id))
    if found is None:
        return Reply(404, {"error": f"no {resolved} comment {comment_id!r}"})
    if resolved not in WEBHOOK_PLATFORMS:
        return Reply(400, {"error": f"{resolved} sends no webhooks for comments"})
    return found


def _add_comment(fake: FakePlatformServer, body: dict[str, Any]) -> Reply:
    try:
        platform = channel(str(body.get("platform")))
    except ValueError as exc:
        return Reply(400, {"error": str(exc)})
    if platform not in COMMENT_PLATFORMS:
        return Reply(400, {"error": f"the fake keeps no comments on {platform}"})
    text, post_id, author = body.get("text"), body.get("postId"), body.get("author") or {}
    if not (isinstance(text, str) and text and isinstance(post_id, str) and isinstance(author, dict)):
        return Reply(400, {"error": "expected {platform, postId, text, author: {id, name}, parentId?}"})
    author_id, author_name = author.get("id"), author.get("name")
    if not (isinstance(author_id, str) and author_id and isinstance(author_name, str) and author_name):
        return Reply(400, {"error": "author needs an id and a name"})
    post = fake.store.find(platform, post_id)
    if post is None:
        return Reply(404, {"error": f"the fake published no {platform} post {post_id!r}"})
    parent = None
    if body.get("parentId") is not None:
        parent = find(fake, platform, str(body["parentId"]))
        if parent is None or parent.post is not post:
            return Reply(404, {"error": f"no comment {body['parentId']!r} on that post"})
    webhook = body.get("webhook") is True
    if webhook and platform not in WEBHOOK_PLATFORMS:
        return Reply(400, {"error": f"{platform} sends no webhooks for comments"})
    comment = add(fake, platform, post, text, author_id, author_name, parent)
    out: dict[str, Any] = comment.describe()
    if webhook:
        out["webhook"] = send_webhook(fake, comment)
    return Reply(201, out)


# -- Facebook and Instagram (Graph) ----------------------------------------------------------------


def graph_route(
    fake: FakePlatformServer, platform: Platform, req: Request, node: str, edge: str
) -> Outcome | None:
    """A Facebook or Instagram comment call, or None when the call is not about comments."""
    comment = find(fake, platform, node)
    if comment is not None:
        return graph_auth(fake, platform, req, comment.post.account) or _on_comment(
            fake, platform, req, comment, edge
        )
    if edge != "comments" or req.method != "GET":
        return None
    post = fake.store.find(platform, node)
    if post is None:
        return None  # the platform module answers for a node it does not know
    fake.store.count(f"{platform}.comments.read")
    denied = graph_auth(fake, platform, req, post.account)
    if denied:
        return denied
    every = on_post(fake, platform, post)
    stream = platform is Platform.FACEBOOK and req.params().get("filter") == "stream"
    listed = every if stream else [c for c in every if c.parent_id is None]
    # Facebook lists oldest first unless asked otherwise; Instagram newest first
    default = "chronological" if platform is Platform.FACEBOOK else "reverse_chronological"
    if req.params().get("order", default) == "reverse_chronological":
        listed = list(reversed(listed))
    return _graph_list(platform, req, listed)


def _on_comment(
    fake: FakePlatformServer, platform: Platform, req: Request, comment: Comment, edge: str
) -> Outcome:
    """A call on a comment's node: read it, hide it, read or post its replies."""
    listing = "comments" if platform is Platform.FACEBOOK else "replies"
    params = req.params()
    if req.method == "POST" and not edge:
        flag = "is_hidden" if platform is Platform.FACEBOOK else "hide"
        if flag not in params:
            return graph_error(400, 100, f"(#100) The parameter {flag} is required")
        hide(fake, comment, params[flag].lower() == "true")
        return Reply(200, {"success": True})
    if req.method == "POST" and edge == listing:
        if not params.get("message"):
            return graph_error(400, 100, "(#100) The parameter message is required")
        return Reply(200, {"id": answer(fake, comment, params["message"]).comment_id})
    if req.method == "GET" and edge == listing:
        return _graph_list(platform, req, replies(fake, comment))
    if req.method == "GET" and not edge:
        return _graph_list(platform, req, [comment], single=True)
    return unsupported(req)


def _graph_comment(platform: Platform, comment: Comment, fields: dict[str, str]) -> dict[str, Any]:
    if platform is Platform.FACEBOOK:
        values: dict[str, Any] = {
            "id": comment.comment_id,
            "message": comment.text,
            "from": {"id": comment.author_id, "name": comment.author_name},
            "created_time": graph_time(comment.created),
            "is_hidden": comment.hidden,
            "can_hide": comment.author_id != comment.post.account,
        }
        if comment.parent_id:
            values["parent"] = {"id": comment.parent_id}
        wanted = fields or {"id": "", "message": "", "created_time": ""}
    else:
        values = {
            "id": comment.comment_id,
            "text": comment.text,
            "timestamp": graph_time(comment.created),
            "username": comment.author_name,
            "from": {"id": comment.author_id, "username": comment.author_name},
            "hidden": comment.hidden,
            "media": {"id": comment.post.post_id},
            "like_count": 0,
        }
        if comment.parent_id:
            values["parent_id"] = comment.parent_id
        wanted = fields or {"id": "", "text": "", "timestamp": ""}
    return {k: v for k, v in values.items() if k == "id" or k in wanted}


def _graph_list(platform: Platform, req: Request, listed: list[Comment], *, single: bool = False) -> Reply:
    fields = expanded_fields(req.params())
    unknown = [f for f in fields if f not in _GRAPH_FIELDS[platform]]
    if unknown:
        kind = "Comment" if platform is Platform.FACEBOOK else "IGComment"
        return graph_error(
            400, 100, f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type ({kind})"
        )
    items = [_graph_comment(platform, c, fields) for c in listed]
    return Reply(200, items[0]) if single else graph_page(items, req)


_GRAPH_FIELDS = {
    Platform.FACEBOOK: frozenset(
        {"id", "message", "from", "created_time", "parent", "is_hidden", "can_hide"}
    ),
    Platform.INSTAGRAM: frozenset(
        {"id", "text", "timestamp", "username", "from", "hidden", "parent_id", "media", "like_count"}
    ),
}


# -- YouTube ---------------------------------------------------------------------------------------


def _yt_comment(comment: Comment) -> dict[str, Any]:
    published = iso_z(comment.created, millis=False)
    snippet: dict[str, Any] = {
        "channelId": comment.post.account,
        "videoId": comment.post.post_id,
        "textDisplay": comment.text,
        "textOriginal": comment.text,
        "authorDisplayName": comment.author_name,
        "authorChannelId": {"value": comment.author_id},
        "canRate": True,
        "viewerRating": "none",
        "likeCount": 0,
        "publishedAt": published,
        "updatedAt": published,
    }
    if comment.parent_id:
        snippet["parentId"] = comment.parent_id
    return {"kind": "youtube#comment", "id": comment.comment_id, "snippet": snippet}


def youtube_threads(fake: FakePlatformServer, req: Request, account: str) -> Reply:
    """commentThreads.list by videoId."""
    parts = {p.strip() for p in req.query.get("part", "").split(",") if p.strip()}
    if not parts or not parts <= {"id", "snippet", "replies"}:
        return google_error(400, "invalidParameter", "part must be id, snippet and/or replies")
    video = req.query.get("videoId", "")
    limit = int_param(req.query.get("maxResults"), 20)
    offset = int_param(req.query.get("pageToken"), 0)
    if not video:
        return google_error(400, "missingRequiredParameter", "No filter selected. Expected: videoId")
    if limit is None or not 1 <= limit <= 100 or offset is None or offset < 0:
        return google_error(400, "invalidParameter", "maxResults must be 1 to 100; pageToken as given")
    post = fake.store.find(Platform.YOUTUBE, video)
    if post is None:
        return google_error(
            404,
            "videoNotFound",
            "The video identified by the videoId parameter could not be found.",
            "youtube.commentThread",
        )
    if post.account != account:
        return google_error(
            403,
            "forbidden",
            "The comment thread could not be retrieved with these credentials.",
            "youtube.commentThread",
        )
    every = on_post(fake, Platform.YOUTUBE, post)
    tops = [c for c in every if c.parent_id is None]
    if req.query.get("order", "time") == "time":
        tops = list(reversed(tops))
    items = []
    for top in tops[offset : offset + limit]:
        answers = [c for c in every if c.parent_id == top.comment_id]
        thread: dict[str, Any] = {"kind": "youtube#commentThread", "id": top.comment_id}
        if "snippet" in parts:
            thread["snippet"] = {
                "channelId": account,
                "videoId": video,
                "topLevelComment": _yt_comment(top),
                "canReply": True,
                "totalReplyCount": len(answers),
                "isPublic": True,
            }
        if "replies" in parts and answers:
            thread["replies"] = {"comments": [_yt_comment(c) for c in answers]}
        items.append(thread)
    body: dict[str, Any] = {
        "kind": "youtube#commentThreadListResponse",
        "pageInfo": {"totalResults": len(items), "resultsPerPage": limit},
        "items": items,
    }
    if offset + limit < len(tops):
        body["nextPageToken"] = str(offset + limit)
    return Reply(200, body)


def youtube_replies(fake: FakePlatformServer, req: Request, account: str) -> Reply:
    """comments.list by parentId: the replies to a top-level comment."""
    parts = {p.strip() for p in req.query.get("part", "").split(",") if p.strip()}
    if not parts or not parts <= {"id", "snippet"}:
        return google_error(400, "invalidParameter", "part must be id and/or snippet")
    parent_id = req.query.get("parentId", "")
    limit = int_param(req.query.get("maxResults"), 20)
    offset = int_param(req.query.get("pageToken"), 0)
    if not parent_id:
        return google_error(
            400, "missingRequiredParameter", "No filter selected. Expected one of: id, parentId"
        )
    if limit is None or not 1 <= limit <= 100 or offset is None or offset < 0:
        return google_error(400, "invalidParameter", "maxResults must be 1 to 100; pageToken as given")
    parent = find(fake, Platform.YOUTUBE, parent_id)
    if parent is None:
        return google_error(404, "commentNotFound", "The comment could not be found.", "youtube.comment")
    if parent.post.account != account:
        return google_error(
            403, "forbidden", "The comments could not be retrieved with these credentials.", "youtube.comment"
        )
    answers = replies(fake, parent)
    body: dict[str, Any] = {
        "kind": "youtube#commentListResponse",
        "pageInfo": {"totalResults": len(answers), "resultsPerPage": limit},
        "items": [_yt_comment(c) for c in answers[offset : offset + limit]],
    }
    if offset + limit < len(answers):
        body["nextPageToken"] = str(offset + limit)
    return Reply(200, body)


def youtube_insert(fake: FakePlatformServer, req: Request, account: str) -> Reply:
    """comments.insert: the channel's reply to a top-level comment."""
    if "snippet" not in req.query.get("part", ""):
        return google_error(400, "invalidParameter", "part=snippet is required")
    snippet = req.json_object().get("snippet")
    snippet = snippet if isinstance(snippet, dict) else {}
    parent_id, text = snippet.get("parentId"), snippet.get("textOriginal")
    if not isinstance(text, str) or not text.strip():
        return google_error(400, "commentTextRequired", "The comment must contain text.", "youtube.comment")
    parent = find(fake, Platform.YOUTUBE, str(parent_id)) if parent_id else None
    if parent is None or parent.parent_id is not None:
        return google_error(
            404, "parentCommentNotFound", "The parent comment could not be found.", "youtube.comment"
        )
    if parent.post.account != account:
        return google_error(
            403, "forbidden", "The comment cannot be created with these credentials.", "youtube.comment"
        )
    return Reply(200, _yt_comment(answer(fake, parent, text)))


# -- X ---------------------------------------------------------------------------------------------


def x_search(fake: FakePlatformServer, req: Request) -> Reply:
    """Recent search, for `conversation_id:<id>` queries: the replies to the account's post."""
    account = bearer_account(fake, Platform.TWITTER, req)
    if isinstance(account, Reply):
        return account
    query = req.query.get("query", "").strip()
    limit = int_param(req.query.get("max_results"), 10)
    if limit is None or not 10 <= limit <= 100:
        return x_problem(
            400, "Invalid Request", "The `max_results` query parameter value is not between 10 and 100"
        )
    if not query.startswith("conversation_id:") or " " in query:
        return x_problem(400, "Invalid Request", "The fake searches only `conversation_id:<id>`")
    post = fake.store.find(Platform.TWITTER, query.partition(":")[2])
    since = time.time() - SEARCH_DAYS * 86400
    found = [] if post is None else [c for c in on_post(fake, Platform.TWITTER, post) if c.created >= since]
    found = list(reversed(found))[:limit]
    fields = {f for f in req.query.get("tweet.fields", "").split(",") if f}
    data = []
    for c in found:
        parent = c.parent_id or c.post.post_id
        values = {
            "id": c.comment_id,
            "text": c.text,
            "edit_history_tweet_ids": [c.comment_id],
            "author_id": c.author_id,
            "created_at": iso_z(c.created),
            "conversation_id": c.post.post_id,
            "in_reply_to_user_id": c.post.account,
            "referenced_tweets": [{"type": "replied_to", "id": parent}],
        }
        data.append(
            {k: v for k, v in values.items() if k in ("id", "text", "edit_history_tweet_ids") or k in fields}
        )
    body: dict[str, Any] = {"meta": {"result_count": len(data)}}
    if data:
        body["data"] = data
        body["meta"].update(newest_id=data[0]["id"], oldest_id=data[-1]["id"])
        if "author_id" in req.query.get("expansions", "").split(","):
            users = {c.author_id: c.author_name for c in found}
            body["includes"] = {"users": [{"id": i, "name": n, "username": n} for i, n in users.items()]}
    from infra.local.fakes.x import rate_headers

    return Reply(200, body, rate_headers())
