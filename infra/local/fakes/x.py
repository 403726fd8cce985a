"""X API v2 on the fake platform server, under /x/:

    POST /2/tweets                         a post: text, reply.in_reply_to_tweet_id, media.media_ids
    GET  /2/tweets/{id}, /2/tweets?ids=    post lookup (up to 100 ids), with tweet.fields and
                                           expansions=author_id; public_metrics and, for the
                                           token's own posts under 30 days old, non_public_metrics
    GET  /2/users/me                       the token's user, with user.fields
    GET  /2/tweets/search/recent           replies in a conversation: `infra.local.fakes.comments`
    GET  /2/users/{id}/tweets              the user's timeline: start_time, max_results 5-100,
                                           pagination_token, tweet.fields
    POST /2/media/upload/initialize, /{id}/append, /{id}/finalize; GET ?command=STATUS   media

Sources (docs.x.com): "Create or Edit Post"; "Post lookup" (x-api/posts/lookup and its quickstart:
{"data": {id, text, edit_history_tweet_ids}} by default, more with `tweet.fields`; an id that cannot
be read is not a 404 but a 200 with an `errors` entry "Could not find tweet with id: [...]" of type
resource-not-found, beside the `data` found); "User lookup" (`GET /2/users/me`); "User Posts
timeline"; "Media upload" (chunked); "Metrics" (public_metrics {retweet_count, reply_count,
like_count, quote_count, bookmark_count, impression_count}; non_public_metrics {impression_count,
url_link_clicks, user_profile_clicks} and organic_metrics only for the token's own posts created in
the last 30 days: for another post the field is refused with a 200 whose `errors` hold a "Field
Authorization Error" (type .../not-authorized-for-field) and the post is left out of `data`). Every
answer carries x-rate-limit-limit, -remaining, -reset. A lookup that asks for metrics is a metric
read: the counts come from `infra.local.fakes.metrics` and the faults apply to it.
"""

from __future__ import annotations

import email.policy
import hashlib
import html
import re
import time
from email.parser import BytesParser
from typing import TYPE_CHECKING, Any

from infra.local.fakes import comments, metrics
from infra.local.fakes.base import Outcome, Reply, Request, iso_z, parse_time
from infra.local.fakes.profiles import PROFILES, metric_read, publish, x_problem
from infra.local.fakes.state import Post, Store
from tidings.core.platforms import Platform, x_weighted_length

if TYPE_CHECKING:
    from infra.local.fakes.platforms import FakePlatformServer

PLATFORM = Platform.TWITTER
LOOKUP_MAX = 100
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
# The `tweet.fields` and `user.fields` X accepts (Post lookup, User lookup); the fake fills those it
# models and leaves the others out, as X does for a field a post has no value for.
TWEET_FIELDS = frozenset(
    [
        "attachments",
        "author_id",
        "card_uri",
        "community_id",
        "context_annotations",
        "conversation_id",
        "created_at",
        "display_text_range",
        "edit_controls",
        "edit_history_tweet_ids",
        "entities",
        "geo",
        "id",
        "in_reply_to_user_id",
        "lang",
        "media_metadata",
        "non_public_metrics",
        "note_tweet",
        "organic_metrics",
        "possibly_sensitive",
        "promoted_metrics",
        "public_metrics",
        "referenced_tweets",
        "reply_settings",
        "scopes",
        "source",
        "text",
        "withheld",
    ]
)
USER_FIELDS = frozenset(
    [
        "affiliation",
        "connection_status",
        "created_at",
        "description",
        "entities",
        "id",
        "location",
        "most_recent_tweet_id",
        "name",
        "pinned_tweet_id",
        "profile_banner_url",
        "profile_image_url",
        "protected",
        "public_metrics",
        "receives_your_dm",
        "subscription_type",
        "url",
        "username",
        "verified",
        "verified_type",
        "withheld",
    ]
)
_NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
_FIELD_REFUSED = "https://api.twitter.com/2/problems/not-authorized-for-field"
PRIVATE_FIELDS = ("non_public_metrics", "organic_metrics", "promoted_metrics")
METRIC_FIELDS = frozenset(("public_metrics", *PRIVATE_FIELDS))
PRIVATE_DAYS = 30
_INVALID = "One or more parameters to your request was invalid."


def rate_headers() -> dict[str, str]:
    reset = str(int(time.time()) + 900)
    return {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "99", "x-rate-limit-reset": reset}


def as_returned(text: str) -> str:
    """How X returns a post's text: links wrapped as t.co, &, < and > escaped."""
    wrapped = _URL.sub(lambda m: "https://t.co/" + hashlib.sha1(m.group(0).encode()).hexdigest()[:10], text)  # noqa: S324
    return html.escape(wrapped, quote=False)


def route(fake: FakePlatformServer, req: Request) -> Outcome:
    store = fake.store
    account = store.account_for(PLATFORM, req.bearer)
    parts = req.segments[1:]
    if parts == ["2", "tweets", "search", "recent"] and req.method == "GET":
        store.count("x.search.read")
        return comments.x_search(fake, req)
    if parts == ["2", "tweets"] and req.method == "POST":
        store.count("x.tweets")
        return _denied() if account is None else _post(fake, account, req.json_object())
    if parts[:2] == ["2", "tweets"] and len(parts) <= 3 and req.method == "GET":
        store.count("x.tweets.read")
        ids = parts[2:] or [i for i in req.query.get("ids", "").split(",") if i]
        return _denied() if account is None else _lookup(fake, account, req, ids, single=len(parts) == 3)
    if parts[:3] == ["2", "media", "upload"]:
        store.count("x.media")
        return _denied() if account is None else _media(fake, account, req, parts[3:])
    if parts == ["2", "users", "me"] and req.method == "GET":
        store.count("x.users.me")
        return _denied() if account is None else _me(store, account, req)
    if len(parts) == 4 and parts[:2] == ["2", "users"] and parts[3] == "tweets" and req.method == "GET":
        store.count("x.timeline.read")
        if account is None or account != parts[2]:
            return _denied()
        return _timeline(store, account, req)
    return x_problem(404, "Not Found Error", f"no route {req.method} {req.path}")


def _denied() -> Reply:
    return PROFILES[PLATFORM].auth_error()


def _fields(req: Request, name: str, known: frozenset[str]) -> list[str] | Reply:
    wanted = [f for f in req.query.get(name, "").split(",") if f]
    unknown = [f for f in wanted if f not in known]
    if unknown:
        reply = x_problem(400, "Invalid Request", _INVALID)
        message = (
            f"The `{name}` query parameter value [{unknown[0]}] is not one of [{', '.join(sorted(known))}]"
        )
        reply.body["errors"] = [{"parameters": {name: [unknown[0]]}, "message": message}]
        return reply
    return wanted


def _user(account: str, fields: list[str], store: Store) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": account,
        "name": f"X user {account}",
        "username": f"user{account}",
        "created_at": "2020-01-01T00:00:00.000Z",
        "description": "",
        "protected": False,
        "verified": False,
        "profile_image_url": f"https://pbs.twimg.com/profile_images/{account}/normal.jpg",
        "public_metrics": {
            "followers_count": 0,
            "following_count": 0,
            "tweet_count": len(store.listed(PLATFORM, account)),
            "listed_count": 0,
            "like_count": 0,
            "media_count": 0,
        },
    }
    return {k: v for k, v in values.items() if k in ("id", "name", "username") or k in fields}


def _me(store: Store, account: str, req: Request) -> Reply:
    fields = _fields(req, "user.fields", USER_FIELDS)
    if isinstance(fields, Reply):
        return fields
    return Reply(200, {"data": _user(account, fields, store)}, rate_headers())


def _tweet(store: Store, post: Post, fields: list[str]) -> dict[str, Any]:
    """A post as X returns it: id, text, edit_history_tweet_ids and the `tweet.fields` asked for
    (private metrics only where `_refused` found none to refuse)."""
    parent = post.extra.get("in_reply_to")
    replies = sum(
        1 for p in store.listed(PLATFORM, post.account) if p.extra.get("in_reply_to") == post.post_id
    )
    with store.lock:
        counts = metrics.counts(post)
    quotes = counts["shares"] // 4
    private = {
        "impression_count": counts["views"],
        "url_link_clicks": counts["clicks"],
        "user_profile_clicks": counts["clicks"] // 3,
    }
    values: dict[str, Any] = {
        "id": post.post_id,
        "text": as_returned(post.text),
        "edit_history_tweet_ids": [post.post_id],
        "created_at": iso_z(post.created),
        "author_id": post.account,
        "conversation_id": post.extra.get("conversation_id", post.post_id),
        "lang": "en",
        "possibly_sensitive": False,
        "reply_settings": "everyone",
        "public_metrics": {
            "retweet_count": counts["shares"] - quotes,
            "reply_count": counts["comments"] + replies,
            "like_count": counts["likes"],
            "quote_count": quotes,
            "bookmark_count": counts["saves"],
            "impression_count": counts["views"],
        },
        "non_public_metrics": private,
        "organic_metrics": {
            **private,
            "retweet_count": counts["shares"] - quotes,
            "reply_count": counts["comments"] + replies,
            "like_count": counts["likes"],
        },
    }
    if parent:
        values["in_reply_to_user_id"] = post.account
        values["referenced_tweets"] = [{"type": "replied_to", "id": parent}]
    if post.extra.get("media_ids"):
        values["attachments"] = {"media_keys": [f"7_{m}" for m in post.extra["media_ids"]]}
    always = ("id", "text", "edit_history_tweet_ids")
    return {k: v for k, v in values.items() if k in always or k in fields}


def _refused(post: Post, account: str, fields: list[str], parameter: str) -> dict[str, Any] | None:
    """X's Field Authorization Error when the call asks for private metrics of a post that is not the
    token's own or is older than 30 days; None when it may have them."""
    asked = [f for f in fields if f in PRIVATE_FIELDS]
    if not asked or (post.account == account and time.time() - post.created < PRIVATE_DAYS * 86400):
        return None
    return {
        "value": post.post_id,
        "detail": (
            f"Sorry, you are not authorized to access '{asked[0]}' on the Tweet with ids: [{post.post_id}]."
        ),
        "title": "Field Authorization Error",
        "resource_type": "tweet",
        "parameter": parameter,
        "resource_id": post.post_id,
        "field": asked[0],
        "section": "data",
        "type": _FIELD_REFUSED,
    }


def _lookup(fake: FakePlatformServer, account: str, req: Request, ids: list[str], *, single: bool) -> Outcome:
    if not ids or len(ids) > LOOKUP_MAX or not all(i.isdigit() for i in ids):
        reply = x_problem(400, "Invalid Request", _INVALID)
        if len(ids) > LOOKUP_MAX:
            count = f"[{len(ids)}] is not between 1 and {LOOKUP_MAX}"
            message = f"The number of values in the `ids` query parameter list {count}"
            reply.body["errors"] = [{"parameters": {"ids": [",".join(ids)]}, "message": message}]
        return reply
    fields = _fields(req, "tweet.fields", TWEET_FIELDS)
    if isinstance(fields, Reply):
        return fields
    if METRIC_FIELDS & set(fields):
        fake.store.count("x.tweets.metrics")
        return metric_read(
            fake, PLATFORM, account, ids, lambda: _found(fake.store, account, req, ids, fields, single)
        )
    return _found(fake.store, account, req, ids, fields, single)


def _found(
    store: Store, account: str, req: Request, ids: list[str], fields: list[str], single: bool
) -> Reply:
    found, errors = [], []
    for tweet_id in ids:
        post = store.find(PLATFORM, tweet_id)
        refused = None if post is None else _refused(post, account, fields, "id" if single else "ids")
        if refused is not None:
            errors.append(refused)
        elif post is None:
            errors.append(
                {
                    "value": tweet_id,
                    "detail": f"Could not find tweet with id: [{tweet_id}].",
                    "title": "Not Found Error",
                    "resource_type": "tweet",
                    "parameter": "id" if single else "ids",
                    "resource_id": tweet_id,
                    "type": _NOT_FOUND,
                }
            )
        else:
            found.append(post)
    body: dict[str, Any] = {}
    if found:
        tweets = [_tweet(store, p, fields) for p in found]
        body["data"] = tweets[0] if single else tweets
        if "author_id" in req.query.get("expansions", "").split(","):
            authors = dict.fromkeys(p.account for p in found)
            body["includes"] = {"users": [_user(a, [], store) for a in authors]}
    if errors:
        body["errors"] = errors
    return Reply(200, body, rate_headers())


def _post(fake: FakePlatformServer, account: str, body: dict[str, Any]) -> Outcome:
    store = fake.store
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return x_problem(400, "Invalid Request", _INVALID)
    if x_weighted_length(text) > 280:
        return x_problem(403, "Forbidden", "Your Tweet text is too long.")
    media = body.get("media") if isinstance(body.get("media"), dict) else {}
    media_ids = [str(m) for m in (media or {}).get("media_ids", [])]
    now = time.time()
    with store.lock:
        usable = [
            store.objects.get(m, {}).get("owner") == account
            and store.objects[m].get("finalized")
            and now >= store.objects[m]["ready_at"]
            for m in media_ids
        ]
    if not all(usable) or len(media_ids) > 4:
        return x_problem(400, "Invalid Request", "Your media IDs are invalid.")
    reply = body.get("reply") if isinstance(body.get("reply"), dict) else None
    in_reply_to = str(reply.get("in_reply_to_tweet_id", "")) if reply else None
    parent = None
    answered = None  # a comment on the account's post (another user's reply) that this post answers
    if in_reply_to is not None:
        parent = next((p for p in store.listed(PLATFORM, account) if p.post_id == in_reply_to), None)
        answered = comments.find(fake, PLATFORM, in_reply_to) if parent is None else None
        if answered is not None and answered.post.account != account:
            answered = None
        if parent is None and answered is None:
            return x_problem(400, "Invalid Request", "The post you are replying to does not exist.")

    def apply() -> Reply:
        post_id = str(1_900_000_000_000_000_000 + store.next_id())
        with store.lock:
            urls = [store.objects[m]["url"] for m in media_ids if store.objects[m].get("url")]
        post = Post(PLATFORM, account, post_id, text, time.time(), urls)
        post.extra["media_ids"] = media_ids
        extra: dict[str, Any] = {"mediaIds": media_ids}
        if parent is not None:
            post.extra["in_reply_to"] = parent.post_id
            post.extra["conversation_id"] = parent.extra.get("conversation_id", parent.post_id)
            extra["inReplyTo"] = parent.post_id
        if answered is not None:  # a reply to a comment: listed in its conversation, recorded as one
            post.extra["in_reply_to"] = answered.comment_id
            post.extra["conversation_id"] = answered.post.post_id
            comments.add_reply(fake, answered, text, post_id)
            extra.update(inReplyTo=answered.comment_id, action="reply", commentId=answered.comment_id)
        store.apply(post, **extra)
        data = {"id": post_id, "text": as_returned(text), "edit_history_tweet_ids": [post_id]}
        return Reply(201, {"data": data}, rate_headers())

    return publish(fake, PLATFORM, account, text, apply)


def _multipart(req: Request) -> dict[str, bytes]:
    """The fields of a multipart/form-data body."""
    content_type = req.headers.get("Content-Type") or ""
    if "multipart/form-data" not in content_type:
        return {}
    raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + req.body
    message = BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    fields: dict[str, bytes] = {}
    for part in message.walk():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            fields[name] = payload if isinstance(payload, bytes) else b""
    return fields


def _media_initialize(fake: FakePlatformServer, account: str, req: Request) -> Reply:
    params = req.params()
    try:
        total = int(params.get("total_bytes", ""))
    except ValueError:
        return x_problem(400, "Invalid Request", "total_bytes is required")
    category = params.get("media_category", "tweet_image")
    if total <= 0 or category not in ("tweet_image", "tweet_gif", "tweet_video", "amplify_video"):
        return x_problem(400, "Invalid Request", "total_bytes and a post media_category are required")
    media_id = str(1_880_000_000_000_000_000 + fake.store.next_id())
    with fake.store.lock:
        fake.store.objects[media_id] = {
            "kind": "x_media",
            "owner": account,
            "total": total,
            "video": category in ("tweet_video", "amplify_video"),
            "segments": {},
            "finalized": False,
            "ready_at": float("inf"),
        }
    return Reply(200, {"data": {"id": media_id, "media_key": f"7_{media_id}", "expires_after_secs": 86400}})


def _media(fake: FakePlatformServer, account: str, req: Request, rest: list[str]) -> Reply:
    """The chunked media upload: initialize, append, finalize, and STATUS."""
    store = fake.store
    if rest == ["initialize"] and req.method == "POST":
        return _media_initialize(fake, account, req)
    media_id = rest[0] if rest else req.query.get("media_id", "")
    with store.lock:
        item = store.objects.get(media_id)
    if not item or item.get("kind") != "x_media" or item["owner"] != account:
        return x_problem(400, "Invalid Request", f"media_id {media_id} is not valid")
    if rest[1:] == ["append"] and req.method == "POST":
        fields = _multipart(req)
        if "media" not in fields or not fields.get("segment_index", b"").isdigit():
            return x_problem(400, "Invalid Request", "media and segment_index are required")
        with store.lock:
            item["segments"][int(fields["segment_index"])] = fields["media"]
        return Reply(200, {"data": {"expires_at": int(time.time()) + 86400}})
    if rest[1:] == ["finalize"] and req.method == "POST":
        with store.lock:
            data_bytes = b"".join(item["segments"][i] for i in sorted(item["segments"]))
            size = len(data_bytes)
            if size != item["total"]:
                return x_problem(
                    400, "Invalid Request", f"File size mismatch: {size} of {item['total']} bytes"
                )
            item["finalized"] = True
            item["segments"] = {}
            item["url"] = store.served_media.get(hashlib.sha256(data_bytes).digest())
            item["ready_at"] = time.time() + (fake.x_video_seconds if item["video"] else 0.0)
        data: dict[str, Any] = {"id": media_id, "media_key": f"7_{media_id}", "size": size}
        if item["video"]:
            data["processing_info"] = {"state": "pending", "check_after_secs": 1}
        return Reply(200, {"data": data})
    if not rest and req.method == "GET" and req.query.get("command") == "STATUS":
        done = time.time() >= item["ready_at"]
        info = (
            {"state": "succeeded", "progress_percent": 100}
            if done
            else {"state": "in_progress", "check_after_secs": 1}
        )
        return Reply(200, {"data": {"id": media_id, "media_key": f"7_{media_id}", "processing_info": info}})
    return x_problem(404, "Not Found Error", f"no route {req.method} {req.path}")


def _timeline(store: Store, account: str, req: Request) -> Reply:
    try:
        max_results = int(req.query.get("max_results", "10"))
        offset = int(req.query.get("pagination_token", "0") or 0)
    except ValueError:
        return x_problem(400, "Invalid Request", _INVALID)
    if not 5 <= max_results <= 100:
        return x_problem(
            400, "Invalid Request", "The `max_results` query parameter value is not between 5 and 100"
        )
    start = parse_time(req.query["start_time"]) if "start_time" in req.query else 0.0
    if start is None:
        return x_problem(400, "Invalid Request", "The `start_time` query parameter value is not a valid time")
    fields = _fields(req, "tweet.fields", TWEET_FIELDS)
    if isinstance(fields, Reply):
        return fields
    posts = [p for p in store.listed(PLATFORM, account) if p.created >= start]
    page = posts[offset : offset + max_results]
    errors = [e for e in (_refused(p, account, fields, "id") for p in page) if e is not None]
    data = [_tweet(store, p, fields) for p in page if _refused(p, account, fields, "id") is None]
    meta: dict[str, Any] = {"result_count": len(data)}
    if data:
        meta.update(newest_id=data[0]["id"], oldest_id=data[-1]["id"])
    if offset + max_results < len(posts):
        meta["next_token"] = str(offset + max_results)
    body: dict[str, Any] = {"meta": meta}
    if data:
        body["data"] = data
    if errors:
        body["errors"] = errors
    return Reply(200, body, rate_headers())
