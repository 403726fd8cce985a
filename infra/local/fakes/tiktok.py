"""TikTok on the fake platform server, under /tiktok/:

    POST /v2/post/publish/creator_info/query/   the creator's privacy options and limits
    POST /v2/post/publish/video/init/           a direct post pulled from a URL (PULL_FROM_URL)
    POST /v2/post/publish/status/fetch/         PROCESSING_DOWNLOAD, then PUBLISH_COMPLETE
    POST /v2/video/list/?fields=                the creator's public videos, newest first
    POST /v2/video/query/?fields=               {"filters": {"video_ids": [...]}} (1 to 20): those of
                                                the ids that are the user's public videos
    GET  /v2/user/info/?fields=                 the token's user (connection check)

Sources are named in `tidings.publishing.clients.tiktok` (Content Posting API: "Direct Post",
"Query Creator Info", "Get Post Status"; Display API: "List Videos", "Query Videos", "Get User Info",
"Video Object"); every answer is {data, error: {code, message, log_id}}. video/query is a metric
read: view_count, like_count, comment_count and share_count come from `infra.local.fakes.metrics`
and the faults apply to it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from infra.local.fakes import metrics
from infra.local.fakes.base import Outcome, Reply, Request
from infra.local.fakes.profiles import PROFILES, bearer_account, metric_read, publish, tiktok_reply
from infra.local.fakes.state import Post
from tidings.core.platforms import Platform

if TYPE_CHECKING:
    from infra.local.fakes.platforms import FakePlatformServer

PRIVACY_OPTIONS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]
VIDEO_QUERY_MAX = 20
# the Video Object's fields (Display API), as video/list and video/query take them
VIDEO_FIELDS = frozenset(
    [
        "id",
        "create_time",
        "cover_image_url",
        "share_url",
        "video_description",
        "duration",
        "height",
        "width",
        "title",
        "embed_html",
        "embed_link",
        "like_count",
        "comment_count",
        "share_count",
        "view_count",
    ]
)


def route(fake: FakePlatformServer, req: Request) -> Outcome:
    store, platform = fake.store, Platform.TIKTOK
    path = "/" + "/".join(req.segments[1:]) + "/"
    if path == "/v2/user/info/" and req.method == "GET":
        fake.store.count("tiktok.user.info")
        return _user_info(fake, req)
    if req.method != "POST":
        return tiktok_reply({}, 405, "invalid_params", f"{req.method} is not supported")
    account = store.account_for(platform, req.bearer)
    route = {
        "/v2/post/publish/creator_info/query/": "tiktok.creator_info",
        "/v2/post/publish/video/init/": "tiktok.video.init",
        "/v2/post/publish/status/fetch/": "tiktok.status",
        "/v2/video/list/": "tiktok.video.list",
        "/v2/video/query/": "tiktok.video.query",
    }.get(path)
    if route is None:
        return tiktok_reply({}, 404, "invalid_params", f"no route {req.path}")
    fake.store.count(route)
    if account is None:
        return PROFILES[platform].auth_error()
    body = req.json_object()
    if route == "tiktok.creator_info":
        return tiktok_reply(
            {
                "creator_avatar_url": f"https://p16.tiktokcdn.example/{account}.jpeg",
                "creator_username": f"creator.{account}".lower(),
                "creator_nickname": f"Creator {account}",
                "privacy_level_options": PRIVACY_OPTIONS,
                "comment_disabled": False,
                "duet_disabled": False,
                "stitch_disabled": False,
                "max_video_post_duration_sec": 600,
            }
        )
    if route == "tiktok.video.init":
        return _init(fake, account, body)
    if route == "tiktok.status":
        return _status(fake, account, str(body.get("publish_id", "")))
    if route == "tiktok.video.query":
        return _query(fake, account, req, body)
    return _list(fake, account, req, body)


def _user_info(fake: FakePlatformServer, req: Request) -> Reply:
    """The token's user, with the `fields` asked for (the Display API's user object)."""
    account = bearer_account(fake, Platform.TIKTOK, req)
    if isinstance(account, Reply):
        return account
    fields = [f.strip() for f in req.query.get("fields", "").split(",") if f.strip()]
    if not fields:
        return tiktok_reply({}, 400, "invalid_params", "fields is required")
    user = {
        "open_id": account,
        "union_id": f"union.{account}",
        "display_name": f"Creator {account}",
        "username": f"creator.{account}".lower(),
        "avatar_url": f"https://p16.tiktokcdn.example/{account}.jpeg",
    }
    return tiktok_reply({"user": {k: v for k, v in user.items() if k in fields}})


def _init(fake: FakePlatformServer, account: str, body: dict[str, Any]) -> Outcome:
    store = fake.store
    post_info = body.get("post_info") if isinstance(body.get("post_info"), dict) else {}
    source = body.get("source_info") if isinstance(body.get("source_info"), dict) else {}
    assert isinstance(post_info, dict)
    assert isinstance(source, dict)
    privacy = post_info.get("privacy_level")
    if privacy not in PRIVACY_OPTIONS:
        return tiktok_reply(
            {}, 400, "privacy_level_option_mismatch", "privacy_level must be one of the creator's options"
        )
    if source.get("source") != "PULL_FROM_URL" or not isinstance(source.get("video_url"), str):
        return tiktok_reply({}, 400, "invalid_params", "source_info.source PULL_FROM_URL needs video_url")
    caption = str(post_info.get("title", ""))
    if len(caption.encode("utf-16-le")) // 2 > 2200:
        return tiktok_reply({}, 400, "invalid_params", "post_info.title is longer than 2200 characters")
    url = str(source["video_url"])

    def apply() -> Reply:
        number = store.next_id()
        publish_id = f"v_pub_url~v2-1.{7_400_000_000_000_000_000 + number}"
        video_id = str(7_400_000_000_000_000_000 + number)
        created = time.time()
        post = Post(Platform.TIKTOK, account, video_id, caption, created, [url])
        post.extra.update(
            privacy=privacy, ready_at=created + fake.tiktok_processing_seconds, publish_id=publish_id
        )
        with store.lock:
            store.objects[publish_id] = {"kind": "tt_publish", "owner": account, "post": post}
        store.apply(post, publishId=publish_id)
        return tiktok_reply({"publish_id": publish_id})

    return publish(fake, Platform.TIKTOK, account, caption, apply)


def _status(fake: FakePlatformServer, account: str, publish_id: str) -> Reply:
    with fake.store.lock:
        item = fake.store.objects.get(publish_id)
    if not item or item.get("kind") != "tt_publish" or item["owner"] != account:
        return tiktok_reply({}, 400, "invalid_params", f"publish_id {publish_id!r} not found")
    post: Post = item["post"]
    if time.time() < post.extra["ready_at"]:
        return tiktok_reply({"status": "PROCESSING_DOWNLOAD", "uploaded_bytes": 0, "downloaded_bytes": 1024})
    public = post.extra["privacy"] != "SELF_ONLY"
    return tiktok_reply(
        {
            "status": "PUBLISH_COMPLETE",
            "publicaly_available_post_id": [int(post.post_id)] if public else [],
            "uploaded_bytes": 2048,
            "downloaded_bytes": 2048,
        }
    )


def _public(fake: FakePlatformServer, account: str) -> list[Post]:
    """The user's videos the Display API shows: public ones, once processed; newest first."""
    now = time.time()
    return [
        p
        for p in fake.store.listed(Platform.TIKTOK, account)
        if p.extra["privacy"] != "SELF_ONLY" and now >= p.extra["ready_at"]
    ]


def _video(post: Post, account: str, fields: list[str]) -> dict[str, Any]:
    """A Video Object with the `fields` asked for."""
    with_counts: dict[str, Any] = {
        "id": post.post_id,
        "title": post.text[:150],
        "video_description": post.text[:150],
        "create_time": int(post.created),
        "share_url": f"https://www.tiktok.com/@creator.{account.lower()}/video/{post.post_id}",
    }
    if set(fields) & {"view_count", "like_count", "comment_count", "share_count"}:
        counts = metrics.counts(post)
        with_counts.update(
            view_count=counts["views"],
            like_count=counts["likes"],
            comment_count=counts["comments"],
            share_count=counts["shares"],
        )
    return {k: v for k, v in with_counts.items() if k in fields}


def _fields(req: Request) -> list[str] | Reply:
    fields = [f for f in req.query.get("fields", "").split(",") if f]
    if not fields:
        return tiktok_reply({}, 400, "invalid_params", "fields is required")
    unknown = [f for f in fields if f not in VIDEO_FIELDS]
    if unknown:
        return tiktok_reply({}, 400, "invalid_params", f"unknown field {unknown[0]!r}")
    return fields


def _list(fake: FakePlatformServer, account: str, req: Request, body: dict[str, Any]) -> Reply:
    fields = _fields(req)
    if isinstance(fields, Reply):
        return fields
    try:
        max_count = int(body.get("max_count", 10))
        cursor = int(body.get("cursor", 0) or 0)
    except (TypeError, ValueError):
        return tiktok_reply({}, 400, "invalid_params", "max_count and cursor must be numbers")
    if not 1 <= max_count <= 20:
        return tiktok_reply({}, 400, "invalid_params", "max_count must be between 1 and 20")
    listed = _public(fake, account)
    page = listed[cursor : cursor + max_count]
    with fake.store.lock:
        videos = [_video(p, account, fields) for p in page]
    return tiktok_reply(
        {"videos": videos, "cursor": cursor + len(page), "has_more": cursor + len(page) < len(listed)}
    )


def _query(fake: FakePlatformServer, account: str, req: Request, body: dict[str, Any]) -> Outcome:
    """video/query: of the ids asked for, those that are the user's public videos."""
    fields = _fields(req)
    if isinstance(fields, Reply):
        return fields
    filters = body.get("filters")
    ids = filters.get("video_ids") if isinstance(filters, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        return tiktok_reply({}, 400, "invalid_params", "filters.video_ids must list video ids")
    if len(ids) > VIDEO_QUERY_MAX:
        return tiktok_reply({}, 400, "invalid_params", f"at most {VIDEO_QUERY_MAX} video_ids are allowed")
    mine = {p.post_id: p for p in _public(fake, account)}

    def apply() -> Reply:
        with fake.store.lock:
            videos = [_video(mine[i], account, fields) for i in dict.fromkeys(ids) if i in mine]
        return tiktok_reply({"videos": videos})

    return metric_read(fake, Platform.TIKTOK, account, ids, apply)
