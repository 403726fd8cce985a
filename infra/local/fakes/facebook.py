"""Facebook Pages on the fake platform server (Graph API), under /facebook/<version>/:

    GET  /{page-id}?fields=id,name              the Page (connection check)
    GET  /{page-id}/feed|posts|published_posts  read-back, newest first, `since` and cursor paging
    POST /{page-id}/feed                        message, link, attached_media[i]={"media_fbid"}
    POST /{page-id}/photos                      url, caption; published=false for an album's photo
    POST /{page-id}/videos                      file_url, description, title
    GET  /{post-id}?fields=                     a post (or video) node: reactions and comments with
                                                .summary(total_count), shares {count} (left out at 0);
                                                a video's post_id, its Page post
    GET  /{post-id}/insights?metric=            post_media_view, post_total_media_view_unique,
                                                post_clicks; a retired metric (post_impressions...)
                                                answers code 100
    GET  /{video-id}/video_insights?metric=     total_video_views, total_video_views_unique
    GET  /{post-id}/reactions?summary=          the reactions' summary (no reactor is modelled)
    GET  /{post-id}/comments, POST /{comment-id}[/comments]   comments: `infra.local.fakes.comments`

Sources are named in `tidings.publishing.clients.facebook`; the answers follow them ({"id":
"{page}_{post}"} for the feed, {"id", "post_id"} for a photo, {"id"} for a video). Post and video
reads are metric reads: the counts come from `infra.local.fakes.metrics`, the faults apply to them,
and a deleted, unknown or other Page's post answers code 100 / subcode 33.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from infra.local.fakes import comments, metrics
from infra.local.fakes.base import Outcome, Reply, Request
from infra.local.fakes.graph import (
    expanded_fields,
    graph_auth,
    graph_node,
    graph_page,
    graph_time,
    graph_token,
    insights_reply,
    missing_node,
    on_node,
    unsupported,
)
from infra.local.fakes.graph import usage_headers as usage
from infra.local.fakes.profiles import PROFILES, graph_error, metric_read, publish
from infra.local.fakes.state import Post, Store
from tidings.core.platforms import Platform

if TYPE_CHECKING:
    from infra.local.fakes.platforms import FakePlatformServer

PLATFORM = Platform.FACEBOOK
POST_INSIGHTS = {"post_media_view": "views", "post_total_media_view_unique": "reach", "post_clicks": "clicks"}
VIDEO_INSIGHTS = {"total_video_views": "views", "total_video_views_unique": "reach"}
_METRIC_EDGES = ("insights", "video_insights", "reactions")


@on_node
def route(fake: FakePlatformServer, req: Request, node: str, edge: str) -> Outcome:
    store, params = fake.store, req.params()
    on_comments = comments.graph_route(fake, PLATFORM, req, node, edge)
    if on_comments is not None:
        return on_comments
    if req.method == "GET":
        return _read(fake, req, node, edge, params)
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
        post = Post(PLATFORM, node, post_id, text, time.time(), media, link, params.get("title"))
        if edge == "videos":
            post.aliases = (str(10**14 + number),)  # Tidings keeps the video's id
        store.apply(post)
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


def _read(fake: FakePlatformServer, req: Request, node: str, edge: str, params: dict[str, str]) -> Outcome:
    if edge in _METRIC_EDGES or (not edge and fake.store.find(PLATFORM, node, include_deleted=True)):
        return _post_read(fake, req, node, edge, params)
    if not edge:
        fake.store.count("facebook.page.read")
        return graph_auth(fake, PLATFORM, req, node) or graph_node(
            params, {"id": node, "name": f"Page {node}"}, default=("id", "name")
        )
    if edge in ("feed", "posts", "published_posts"):
        fake.store.count("facebook.feed.read")
        return graph_auth(fake, PLATFORM, req, node) or _feed(fake, req, node, params)
    return unsupported(req)


def _post_read(
    fake: FakePlatformServer, req: Request, node: str, edge: str, params: dict[str, str]
) -> Outcome:
    """A post's (or video's) node, insights or reactions: a metric read."""
    fake.store.count(f"facebook.{edge or 'post'}.read")
    account = fake.store.account_for(PLATFORM, graph_token(req))
    if account is None:
        return PROFILES[PLATFORM].auth_error()
    post = fake.store.find(PLATFORM, node)
    if post is None or post.account != account:
        return missing_node(node)
    video = node in post.aliases
    with fake.store.lock:
        counts = metrics.counts(post)

    def apply() -> Reply:
        if edge == "insights" and not video:
            return insights_reply(node, edge, params, _named(POST_INSIGHTS, counts), _invalid_metric)
        if edge == "video_insights" and video:
            return insights_reply(node, edge, params, _named(VIDEO_INSIGHTS, counts), _invalid_metric)
        if edge == "reactions":
            return Reply(200, {"data": [], **_summary(params, counts["likes"], viewer_reaction="NONE")})
        if edge:
            kind = "Video" if video else "Post"
            return graph_error(
                400, 100, f"(#100) Tried accessing nonexisting field ({edge}) on node type ({kind})"
            )
        return _node(post, node, video, params, counts)

    reply = metric_read(fake, PLATFORM, account, [node, edge], apply)
    if isinstance(reply, Reply) and reply.status == 200:
        reply.headers.update(usage(account))
    return reply


def _node(post: Post, node: str, video: bool, params: dict[str, str], counts: dict[str, int]) -> Reply:
    values: dict[str, object] = {
        "id": node,
        "message": post.text,
        "created_time": graph_time(post.created),
        "permalink_url": f"https://www.facebook.com/{post.post_id}",
    }
    fields = expanded_fields(params) or {"id": "", "message": "", "created_time": ""}
    edge_totals = {"reactions": counts["likes"], "comments": counts["comments"]}
    for name, modifiers in fields.items():
        if name in edge_totals:
            asked = {"summary": "true"} if ".summary(" in modifiers else {}
            values[name] = {"data": [], **_summary(asked, edge_totals[name])}
        elif name == "shares" and not video:
            if counts["shares"]:
                values["shares"] = {"count": counts["shares"]}
        elif name == "post_id" and video:
            values["post_id"] = post.post_id  # the video's Page post, which Meta's webhooks name
        elif name not in values:
            kind = "Video" if video else "Post"
            return graph_error(
                400, 100, f"(#100) Tried accessing nonexisting field ({name}) on node type ({kind})"
            )
    return Reply(200, {k: v for k, v in values.items() if k == "id" or k in fields})


def _summary(params: dict[str, str], total: int, **extra: str) -> dict[str, object]:
    """An edge's summary, when the call asked for one (`summary=true` or `summary=total_count`)."""
    if params.get("summary", "").lower() in ("", "false", "0"):
        return {}
    return {"summary": {"total_count": total, **extra}}


def _named(names: dict[str, str], counts: dict[str, int]) -> dict[str, int]:
    return {metric: counts[field] for metric, field in names.items()}


def _invalid_metric(index: int, name: str) -> Reply:
    return graph_error(400, 100, "(#100) The value must be a valid insights metric")


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
