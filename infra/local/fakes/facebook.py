"""Facebook Pages on the fake platform server (Graph API), under /facebook/<version>/:

    GET  /{page-id}?fields=id,name              the Page (connection check)
    GET  /{page-id}/feed|posts|published_posts  read-back, newest first, `since` and cursor paging
    POST /{page-id}/feed                        message, link, attached_media[i]={"media_fbid"}
    POST /{page-id}/photos                      url, caption; published=false for an album's photo
    POST /{page-id}/videos                      file_url, description, title

Sources are named in `tidings.publishing.clients.facebook`; the answers follow them ({"id":
"{page}_{post}"} for the feed, {"id", "post_id"} for a photo, {"id"} for a video).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from infra.local.fakes.base import Outcome, Reply, Request
from infra.local.fakes.graph import graph_auth, graph_node, graph_page, graph_time, on_node, unsupported
from infra.local.fakes.graph import usage_headers as usage
from infra.local.fakes.profiles import graph_error, publish
from infra.local.fakes.state import Post, Store
from tidings.core.platforms import Platform

if TYPE_CHECKING:
    from infra.local.fakes.platforms import FakePlatformServer

PLATFORM = Platform.FACEBOOK


@on_node
def route(fake: FakePlatformServer, req: Request, node: str, edge: str) -> Outcome:
    store, params = fake.store, req.params()
    if req.method == "GET" and not edge:
        store.count("facebook.page.read")
        return graph_auth(fake, PLATFORM, req, node) or graph_node(
            params, {"id": node, "name": f"Page {node}"}, default=("id", "name")
        )
    if req.method == "GET" and edge in ("feed", "posts", "published_posts"):
        store.count("facebook.feed.read")
        return graph_auth(fake, PLATFORM, req, node) or _feed(fake, req, node, params)
    if req.method != "POST" or edge not in ("feed", "photos", "videos"):
        return unsupported(req)
    store.count(f"facebook.{edge}")
    denied = graph_auth(fake, PLATFORM, req, node)
    if denied:
        return denied
    if edge == "photos" and params.get("published", "true").lower() == "false":
        if not params.get("url"):
            return graph_error(400, 324, "Requires upload file")
        photo_id = str(10**14 + store.next_id())
        with store.lock:
            store.objects[photo_id] = {"kind": "fb_photo", "owner": node, "url": params["url"]}
        return Reply(200, {"id": photo_id}, usage(node))
    prepared = _content(store, node, edge, params)
    if isinstance(prepared, Reply):
        return prepared
    text, media = prepared

    def apply() -> Reply:
        number = store.next_id()
        post_id = f"{node}_{10**15 + number}"
        link = params.get("link") or None
        store.apply(Post(PLATFORM, node, post_id, text, time.time(), media, link, params.get("title")))
        if edge == "photos":
            return Reply(200, {"id": str(10**14 + number), "post_id": post_id}, usage(node))
        if edge == "videos":
            return Reply(200, {"id": str(10**14 + number)}, usage(node))
        return Reply(200, {"id": post_id}, usage(node))

    return publish(fake, PLATFORM, node, text, apply)


def _feed(fake: FakePlatformServer, req: Request, node: str, params: dict[str, str]) -> Reply:
    try:
        since = float(params.get("since") or 0)
    except ValueError:
        return graph_error(400, 100, "(#100) The parameter since must be a unix time")
    items = [
        {
            "id": p.post_id,
            "message": p.text,
            "created_time": graph_time(p.created),
            "permalink_url": f"https://www.facebook.com/{p.post_id}",
        }
        for p in fake.store.listed(PLATFORM, node)
        if p.created >= since
    ]
    reply = graph_page(items, req)
    reply.headers.update(usage(node))
    return reply


def _content(store: Store, node: str, edge: str, params: dict[str, str]) -> tuple[str, list[str]] | Reply:
    """The text and media a feed, photos or videos call publishes, or the Graph error it earns."""
    if edge == "photos":
        if not params.get("url"):
            return graph_error(400, 324, "Requires upload file")
        return params.get("caption", ""), [params["url"]]
    if edge == "videos":
        if not params.get("file_url"):
            return graph_error(400, 100, "(#100) file_url or source is required")
        return params.get("description", ""), [params["file_url"]]
    media: list[str] = []
    for key in sorted(k for k in params if k.startswith("attached_media[")):
        try:
            media_fbid = str(json.loads(params[key])["media_fbid"])
        except (json.JSONDecodeError, KeyError, TypeError):
            return graph_error(400, 100, f"Invalid parameter {key}")
        with store.lock:
            photo = store.objects.get(media_fbid)
        if not photo or photo.get("owner") != node:
            return graph_error(400, 100, f"Invalid media_fbid {media_fbid}")
        media.append(str(photo["url"]))
    text = params.get("message", "")
    if not text and not params.get("link") and not media:
        return graph_error(400, 100, "(#100) Missing message or attachment")
    return text, media
