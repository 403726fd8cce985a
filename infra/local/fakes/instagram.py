"""Instagram content publishing on the fake platform server (Graph API), under /instagram/<version>/:

    POST /{ig-user-id}/media                     a container: image_url, or media_type REELS|VIDEO with
                                                 video_url (IN_PROGRESS for `instagram_video_seconds`),
                                                 or CAROUSEL with 2-10 children (is_carousel_item)
    GET  /{container-id}?fields=status_code      IN_PROGRESS, FINISHED, PUBLISHED
    POST /{ig-user-id}/media_publish             creation_id: publishes a FINISHED container
    GET  /{ig-user-id}/media                     read-back, newest first
    GET  /{media-id}?fields=...                  a published media (permalink, caption, timestamp,
                                                 like_count, comments_count)
    GET  /{media-id}/insights?metric=            views, reach, likes, comments, shares, saved,
                                                 total_interactions; a retired metric (impressions,
                                                 plays, video_views) answers code 100
    GET  /{ig-user-id}?fields=id,username        the IG user (connection check)
    GET  /{ig-user-id}/content_publishing_limit  quota_usage and config over a rolling 24 h
    GET  /{media-id}/comments, POST /{comment-id}[/replies]   comments: `infra.local.fakes.comments`

Sources are named in `tidings.publishing.clients.instagram` ("Content Publishing": publishing before
FINISHED fails with code 9007 / subcode 2207027; the publishing limit is enforced on media_publish).
Insights and the media's counts are metric reads: the counts come from `infra.local.fakes.metrics`,
the faults apply to them, and a deleted or unknown media answers code 100 / subcode 33.
"""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any

from infra.local.fakes import comments, metrics
from infra.local.fakes.base import Outcome, Reply, Request
from infra.local.fakes.graph import (
    graph_auth,
    graph_node,
    graph_page,
    graph_time,
    insights_reply,
    missing_node,
    on_node,
    unsupported,
)
from infra.local.fakes.graph import usage_headers as usage
from infra.local.fakes.profiles import graph_error, metric_read, publish
from infra.local.fakes.state import Post, Store
from tidings.core.platforms import Platform

if TYPE_CHECKING:
    from infra.local.fakes.platforms import FakePlatformServer

PLATFORM = Platform.INSTAGRAM
DAY = 86400
MEDIA_INSIGHTS = {
    "views": "views",
    "reach": "reach",
    "likes": "likes",
    "comments": "comments",
    "shares": "shares",
    "saved": "saves",
}
_COUNT_FIELDS = {"like_count": "likes", "comments_count": "comments"}


@on_node
def route(fake: FakePlatformServer, req: Request, node: str, edge: str) -> Outcome:
    store, params = fake.store, req.params()
    on_comments = comments.graph_route(fake, PLATFORM, req, node, edge)
    if on_comments is not None:
        return on_comments
    if req.method == "GET" and not edge:
        return _node(fake, req, node, params)
    if req.method == "GET" and edge == "insights":
        return _media_read(fake, req, node, params, edge)
    known = {
        ("GET", "media"): "instagram.media.read",
        ("GET", "content_publishing_limit"): "instagram.limit.read",
        ("POST", "media"): "instagram.media",
        ("POST", "media_publish"): "instagram.media_publish",
    }
    counter = known.get((req.method, edge))
    if counter is None:
        return unsupported(req)
    store.count(counter)
    denied = graph_auth(fake, PLATFORM, req, node)
    if denied:
        return denied
    if counter == "instagram.media.read":
        items = [
            {
                "id": p.post_id,
                "caption": p.text,
                "timestamp": graph_time(p.created),
                "permalink": p.extra.get("permalink"),
            }
            for p in store.listed(PLATFORM, node)
        ]
        return graph_page(items, req)
    if counter == "instagram.limit.read":
        limit = {"quota_total": fake.instagram_quota_total, "quota_duration": DAY}
        return Reply(200, {"data": [{"quota_usage": _quota_used(store, node), "config": limit}]})
    if counter == "instagram.media":
        return _container(fake, node, params)
    return _publish(fake, node, params.get("creation_id", ""))


def _container(fake: FakePlatformServer, owner: str, params: dict[str, str]) -> Reply:
    media_type = params.get("media_type", "").upper()
    children = [c for c in params.get("children", "").split(",") if c]
    if media_type == "CAROUSEL":
        if not 2 <= len(children) <= 10:
            return graph_error(400, 100, "A carousel needs 2 to 10 children")
        urls: list[str] = []
        with fake.store.lock:
            for child in children:
                item = fake.store.objects.get(child)
                if not item or item.get("owner") != owner or not item.get("carousel_item"):
                    return graph_error(400, 100, f"Invalid child container {child}")
                urls.extend(item["media_urls"])
        ready_in = 0.0
    elif media_type in ("REELS", "VIDEO"):
        if not params.get("video_url"):
            return graph_error(400, 100, "The parameter video_url is required")
        urls, ready_in = [params["video_url"]], fake.instagram_video_seconds
    elif media_type in ("", "IMAGE"):
        if not params.get("image_url"):
            return graph_error(400, 100, "The parameter image_url is required")
        urls, ready_in = [params["image_url"]], 0.0
    else:
        return graph_error(400, 100, f"Unsupported media_type {media_type}")
    container = str(17_000_000_000_000_000 + fake.store.next_id())
    with fake.store.lock:
        fake.store.objects[container] = {
            "kind": "ig_container",
            "owner": owner,
            "caption": params.get("caption", ""),
            "media_urls": urls,
            "carousel_item": params.get("is_carousel_item", "").lower() == "true",
            "ready_at": time.time() + ready_in,
            "published": False,
        }
    return Reply(200, {"id": container}, usage(owner))


def _status(item: dict[str, Any]) -> str:
    if item["published"]:
        return "PUBLISHED"
    return "FINISHED" if time.time() >= item["ready_at"] else "IN_PROGRESS"


def _node(fake: FakePlatformServer, req: Request, node: str, params: dict[str, str]) -> Outcome:
    with fake.store.lock:
        item = dict(fake.store.objects.get(node) or {})
    if item.get("kind") == "ig_container":
        fake.store.count("instagram.container.status")
        denied = graph_auth(fake, PLATFORM, req, item["owner"])
        if denied:
            return denied
        return Reply(200, {"status_code": _status(item), "status": _status(item), "id": node})
    if item.get("kind") == "ig_media":
        fields = params.get("fields", "id").split(",")
        if set(fields) & set(_COUNT_FIELDS) or fake.store.find(PLATFORM, node) is None:
            return _media_read(fake, req, node, params, "")  # a deleted media is gone for every read
        denied = graph_auth(fake, PLATFORM, req, item["owner"])
        if denied:
            return denied
        return Reply(200, {"id": node, **{k: v for k, v in item.items() if k in fields}})
    if fake.store.registered(PLATFORM, node):
        fake.store.count("instagram.user.read")
        return graph_auth(fake, PLATFORM, req, node) or graph_node(
            params, {"id": node, "username": f"ig_{node}", "name": f"Account {node}"}
        )
    return graph_error(400, 100, f"Unsupported get request. Object with ID '{node}' does not exist")


def _media_read(
    fake: FakePlatformServer, req: Request, node: str, params: dict[str, str], edge: str
) -> Outcome:
    """A media's insights, or its node with counts: a metric read."""
    fake.store.count("instagram.insights.read" if edge else "instagram.media.counts.read")
    post = fake.store.find(PLATFORM, node)
    if post is None:
        return missing_node(node)
    denied = graph_auth(fake, PLATFORM, req, post.account)
    if denied:
        return denied
    with fake.store.lock:
        counts = metrics.counts(post)
        item = dict(fake.store.objects.get(node) or {})

    def apply() -> Reply:
        if edge:
            values = {metric: counts[field] for metric, field in MEDIA_INSIGHTS.items()}
            values["total_interactions"] = sum(counts[f] for f in ("likes", "comments", "shares", "saves"))
            return insights_reply(node, edge, params, values, _invalid_metric)
        values = {**item, **{name: counts[field] for name, field in _COUNT_FIELDS.items()}}
        fields = params.get("fields", "id").split(",")
        return Reply(200, {"id": node, **{k: v for k, v in values.items() if k in fields}})

    return metric_read(fake, PLATFORM, post.account, [node, edge], apply)


def _invalid_metric(index: int, name: str) -> Reply:
    known = ", ".join([*MEDIA_INSIGHTS, "total_interactions"])
    return graph_error(400, 100, f"(#100) metric[{index}] must be one of the following values: {known}")


def _quota_used(store: Store, owner: str) -> int:
    day_ago = time.time() - DAY
    return sum(1 for p in store.listed(PLATFORM, owner, include_deleted=True) if p.created >= day_ago)


def _publish(fake: FakePlatformServer, owner: str, creation_id: str) -> Outcome:
    store = fake.store
    with store.lock:
        item = store.objects.get(creation_id)
        snapshot = dict(item) if item else None
    if not snapshot or snapshot.get("kind") != "ig_container" or snapshot.get("owner") != owner:
        return graph_error(400, 100, f"Invalid parameter creation_id {creation_id}")
    if snapshot.get("carousel_item"):
        return graph_error(400, 100, "A carousel item cannot be published on its own")
    if _status(snapshot) != "FINISHED":
        return graph_error(400, 9007, "Media ID is not available", subcode=2207027)
    if _quota_used(store, owner) >= fake.instagram_quota_total:
        # the publishing limit is enforced on media_publish (IG Content Publishing, "Rate limit")
        return graph_error(400, 9, "Application request limit reached", subcode=2207042)

    def apply() -> Reply:
        with store.lock:
            container = store.objects[creation_id]
            if container["published"]:
                return graph_error(400, 9007, "The media has already been published", subcode=2207001)
            container["published"] = True
        media_id = str(18_000_000_000_000_000 + store.next_id())
        permalink = f"https://www.instagram.com/p/{_shortcode(int(media_id))}/"
        created = time.time()
        post = Post(PLATFORM, owner, media_id, snapshot["caption"], created, snapshot["media_urls"])
        post.extra["permalink"] = permalink
        with store.lock:
            store.objects[media_id] = {
                "kind": "ig_media",
                "owner": owner,
                "caption": snapshot["caption"],
                "permalink": permalink,
                "timestamp": graph_time(created),
            }
        store.apply(post)
        return Reply(200, {"id": media_id}, usage(owner))

    return publish(fake, PLATFORM, owner, snapshot["caption"], apply)


def _shortcode(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(8, "big")).decode().rstrip("=")
