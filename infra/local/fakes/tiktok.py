"""TikTok on the fake platform server, under /tiktok/:

    POST /v2/post/publish/creator_info/query/   the creator's privacy options and limits
    POST /v2/post/publish/video/init/           a direct post pulled from a URL (PULL_FROM_URL)
    POST /v2/post/publish/status/fetch/         PROCESSING_DOWNLOAD, then PUBLISH_COMPLETE
    POST /v2/video/list/?fields=                the creator's public videos, newest first
    GET  /v2/user/info/?fields=                 the token's user (connection check)

Sources are named in `tidings.publishing.clients.tiktok` (Content Posting API: "Direct Post",
"Query Creator Info", "Get Post Status"; Display API: "List Videos", "Get User Info"); every answer
is {data, error: {code, message, log_id}}.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from infra.local.fakes.base import Outcome, Reply, Request
from infra.local.fakes.profiles import PROFILES, bearer_account, publish, tiktok_reply
from infra.local.fakes.state import Post
from tidings.core.platforms import Platform

if TYPE_CHECKING:
    from infra.local.fakes.platforms import FakePlatformServer

PRIVACY_OPTIONS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]


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


def _list(fake: FakePlatformServer, account: str, req: Request, body: dict[str, Any]) -> Reply:
    fields = [f for f in req.query.get("fields", "").split(",") if f]
    if not fields:
        return tiktok_reply({}, 400, "invalid_params", "fields is required")
    try:
        max_count = int(body.get("max_count", 10))
        cursor = int(body.get("cursor", 0) or 0)
    except (TypeError, ValueError):
        return tiktok_reply({}, 400, "invalid_params", "max_count and cursor must be numbers")
    if not 1 <= max_count <= 20:
        return tiktok_reply({}, 400, "invalid_params", "max_count must be between 1 and 20")
    now = time.time()
    listed = [
        p
        for p in fake.store.listed(Platform.TIKTOK, account)
        if p.extra["privacy"] != "SELF_ONLY" and now >= p.extra["ready_at"]
    ]
    page = listed[cursor : cursor + max_count]
    videos = []
    for p in page:
        video = {
            "id": p.post_id,
            "title": p.text[:150],
            "video_description": p.text[:150],
            "create_time": int(p.created),
            "share_url": f"https://www.tiktok.com/@creator.{account.lower()}/video/{p.post_id}",
        }
        videos.append({k: v for k, v in video.items() if k in fields})
    return tiktok_reply(
        {"videos": videos, "cursor": cursor + len(page), "has_more": cursor + len(page) < len(listed)}
    )
